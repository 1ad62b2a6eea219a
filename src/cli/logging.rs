//! The log (`tracing`): what `-v`/`-vv`/`-q`, `RUST_LOG` and `--log-file` choose. It is kept
//! apart from the reporter, which owns the user-facing output (progress, recap, reports): the
//! log says what the program did (each request, each scenario's timings), for debugging an
//! agent or a run, and is the only thing `--log-file` receives.
//!
//! Nothing secret reaches it: the events are written where the requests are made
//! (`http::send`) and where scenarios finish (`engine`), from redacted URLs and sizes only.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use super::CliError;
use super::args::LogArgs;

/// What the terminal's log shows at each verbosity when `RUST_LOG` is not set. The reporter
/// prints the `-v` lines itself (above its progress bar); the log adds the requests at `-vv`
/// and everything at `-vvv`.
fn terminal_filter(args: &LogArgs) -> &'static str {
    match (args.quiet, args.verbose) {
        (true, _) => "error",
        (false, 0 | 1) => "warn",
        (false, 2) => "warn,rogue_runner::http=debug",
        (false, _) => "debug,rogue_runner=trace",
    }
}

/// What `--log-file` receives when `RUST_LOG` is not set: every request and answer (as at
/// `-vv`) and every scenario's line with its timings, whatever the terminal shows.
const FILE_FILTER: &str = "warn,rogue_runner::http=debug,rogue_runner::scenario=info";

/// Sets up the log for the whole process. `RUST_LOG`, when set, replaces both filters.
pub(super) fn init(args: &LogArgs) -> Result<(), CliError> {
    let rust_log = std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty());
    let filter = |default: &str| -> Result<EnvFilter, CliError> {
        match &rust_log {
            None => Ok(EnvFilter::new(default)),
            Some(directives) => EnvFilter::builder().parse(directives).map_err(|e| {
                CliError::usage(
                    format!("RUST_LOG={directives} is not a valid log filter: {e}"),
                    "write e.g. RUST_LOG=rogue_runner::http=debug, or unset RUST_LOG",
                )
            }),
        }
    };
    let color = crate::report::use_color(clap::ColorChoice::Auto, std::io::stderr().is_terminal());
    let terminal = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .without_time()
        .with_target(false)
        .with_filter(filter(terminal_filter(args))?);
    let file = match &args.log_file {
        None => None,
        Some(path) => Some(
            tracing_subscriber::fmt::layer()
                .with_writer(Mutex::new(open(path)?))
                .with_ansi(false)
                .with_filter(filter(FILE_FILTER)?),
        ),
    };
    // Only fails when a subscriber is already set (a test calling `main` twice): then the
    // first one keeps logging, which is no reason to stop the command.
    let _ = tracing_subscriber::registry().with(terminal).with(file).try_init();
    Ok(())
}

/// The log file, appended to (a rerun adds to the log of the last one, as `tee -a` would).
fn open(path: &Path) -> Result<fs_err::File, CliError> {
    fs_err::OpenOptions::new().create(true).append(true).open(path).map_err(|e| {
        CliError::usage(
            format!("--log-file {}: {e}", path.display()),
            "choose a --log-file in a directory that exists and is writable",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_verbosity_has_its_filter() {
        let args = |verbose, quiet| LogArgs { verbose, quiet, log_file: None };
        assert_eq!(terminal_filter(&args(0, true)), "error");
        assert_eq!(terminal_filter(&args(0, false)), "warn");
        assert_eq!(terminal_filter(&args(1, false)), "warn");
        assert!(terminal_filter(&args(2, false)).contains("rogue_runner::http=debug"));
        for filter in [terminal_filter(&args(3, false)), FILE_FILTER] {
            assert!(EnvFilter::builder().parse(filter).is_ok(), "{filter}");
        }
    }
}
