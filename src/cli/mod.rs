//! The command line: parse arguments, validate them once, dispatch to a command, and turn the
//! outcome into an exit code. Everything here is glue over the library modules.

mod args;
mod demo;
mod error;
mod estimate;
mod judge_args;
mod list;
mod merge;
mod output;
mod run;
mod store;
mod validate;

use std::io::Write;

use clap::Parser;

pub use args::{Cli, Command};
pub use error::CliError;
pub use judge_args::{EvaluatorChoice, JudgeArgs};
pub use output::sanitize;

use crate::model::ExitCode;
use crate::scenario::Selection;

/// Run the command line and return the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::Usage.code() } else { ExitCode::Success.code() };
        }
    };
    // Unlocked handles: reporters on other threads write progress to stderr too, and a lock
    // held here for the whole command would block them.
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    match dispatch(cli, &mut out, &mut err) {
        Ok(code) => code.code(),
        // The reader went away (`| head`): not an error worth a message.
        Err(CliError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::Success.code()
        }
        Err(e) => {
            let report = miette::Report::new(e);
            let _ = writeln!(err, "{report:?}");
            ExitCode::Usage.code()
        }
    }
}

fn dispatch(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<ExitCode, CliError> {
    match cli.command {
        Some(Command::Validate(args)) => validate::run(&args, out, err),
        Some(Command::List(args)) => list::run(&args, out, err),
        Some(Command::Schema) => {
            writeln!(out, "{}", crate::scenario::native::json_schema())?;
            Ok(ExitCode::Success)
        }
        Some(Command::Completions { shell }) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "rogue-runner", out);
            Ok(ExitCode::Success)
        }
        Some(Command::Run(args)) => run::run(&args, err),
        Some(Command::Estimate(args)) => estimate::run(&args, out, err),
        None => run::run(&cli.run, err),
        Some(Command::Demo(args)) => demo::demo(&args, out, err),
        Some(Command::MockAgent(args)) => demo::mock_agent(&args, out),
        Some(Command::Merge(args)) => merge::merge(&args, out, err),
        Some(Command::Cache(args)) => store::cache(&args, out, err),
        Some(Command::History(args)) => store::history(&args, out),
        Some(Command::Compare(args)) => store::compare(&args, out),
    }
}

/// A single-threaded runtime for the commands that make a few requests (`estimate`,
/// `cache why`), not a run's worth.
fn current_thread_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
        CliError::usage(format!("cannot start the async runtime: {e}"), "check the process limits")
    })
}

fn selection_from(filters: &args::FilterArgs) -> Result<Selection, CliError> {
    let partition = filters
        .partition
        .as_deref()
        .map(|text| {
            let index = std::env::var("JOB_COMPLETION_INDEX").ok();
            crate::scenario::Partition::parse(text, index.as_deref())
        })
        .transpose()
        .map_err(|e| CliError::usage(e.to_string(), "write --partition hash:2/4 (shard 2 of 4)"))?;
    let selection = Selection::new(
        filters.priority.clone(),
        filters.category.clone(),
        filters.tag.clone(),
        &filters.id,
    )
    .map_err(|e| {
        CliError::usage(e.to_string(), "use shell-style globs such as `qa_*` or `*_p0_*`")
    })?;
    Ok(selection.with_partition(partition))
}
