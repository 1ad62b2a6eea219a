//! Seeded generator of a run history for the dashboard's benchmark and screenshots:
//! `cargo run --release --example dashboard_store -- DIR [RUNS] [SCENARIOS_PER_RUN] [SEED]`
//! (defaults: 100 runs of 1,000 scenarios, seed 7: 100,000 outcomes). The newest run is left
//! unfinished, as if it were still going. Then `rogue-runner serve --cache-dir DIR`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use rogue_runner::serve::sample::{SampleSpec, generate};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!("usage: dashboard_store DIR [RUNS] [SCENARIOS_PER_RUN] [SEED]");
        return ExitCode::from(2);
    };
    let number =
        |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let spec = SampleSpec {
        runs: usize::try_from(number(1, 100)).unwrap_or(100),
        scenarios_per_run: usize::try_from(number(2, 1000)).unwrap_or(1000),
        seed: number(3, 7),
        last_unfinished: true,
    };
    let started = Instant::now();
    if let Err(error) = generate(&dir, spec) {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    println!(
        "{} runs × {} scenarios written to {} in {:.1}s",
        spec.runs,
        spec.scenarios_per_run,
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
