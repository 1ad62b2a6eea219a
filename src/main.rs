//! The `rogue-runner` binary: a thin shell over the library.
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(rogue_runner::cli::main());
}
