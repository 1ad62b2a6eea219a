//! The command line: parse arguments, validate them once, dispatch to a command, and turn the
//! outcome into an exit code. Everything here is glue over the library modules.

mod args;
mod config;
mod demo;
mod error;
mod estimate;
mod judge_args;
mod list;
mod merge;
mod output;
mod run;
mod select;
mod serve;
mod store;
mod validate;

use std::io::Write;

use clap::{CommandFactory, FromArgMatches};

pub use args::{Cli, Command};
pub use error::CliError;
pub use judge_args::{EvaluatorChoice, JudgeArgs};
pub use output::sanitize;

use crate::model::ExitCode;
use crate::scenario::{Sampling, Selection};

/// Run the command line and return the process exit code.
pub fn main() -> i32 {
    let cli = match parse() {
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

/// Parses the command line (flags and, through clap, the environment) and notes where each
/// value of a run's arguments came from, for [`config::run_config`].
fn parse() -> Result<Cli, clap::Error> {
    parse_from(std::env::args_os())
}

fn parse_from<I, T>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = config::without_blank_env(Cli::command()).try_get_matches_from(argv)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    let run_matches = match (&mut cli.command, matches.subcommand()) {
        (None, _) => Some((&mut cli.run, &matches)),
        (Some(Command::Run(args)), Some((_, sub))) => Some((args, sub)),
        (Some(Command::Estimate(args)), Some((_, sub))) => Some((&mut **args, sub)),
        (Some(Command::Cache(args)), Some((_, sub))) => {
            match (&mut args.action, sub.subcommand()) {
                (args::CacheAction::Why(why), Some((_, why_matches))) => {
                    Some((&mut why.run, why_matches))
                }
                _ => None,
            }
        }
        _ => None,
    };
    if let Some((args, matches)) = run_matches {
        args.sources = config::ArgSources::of(matches);
    }
    Ok(cli)
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
        Some(Command::Man { subcommand }) => {
            man_page(subcommand.as_deref(), out)?;
            Ok(ExitCode::Success)
        }
        Some(Command::Run(args)) => run::run(&args, err),
        Some(Command::Estimate(args)) => estimate::run(&args, out, err),
        None => run::run(&cli.run, err),
        Some(Command::Demo(args)) => demo::demo(&args, out, err),
        Some(Command::MockAgent(args)) => demo::mock_agent(&args, out),
        Some(Command::Merge(args)) => merge::merge(&args, out, err),
        Some(Command::Cache(args)) => store::cache(&args, out, err),
        Some(Command::History(args)) => {
            let code = store::history(&args, out)?;
            serve::hint(&args.dir.cache_dir, "/", err)?;
            Ok(code)
        }
        Some(Command::Compare(args)) => store::compare(&args, out, err),
        Some(Command::Serve(args)) => serve::serve(&args, out, err),
    }
}

/// `rogue-runner man [SUBCOMMAND]`: the roff page of the whole command, or of one subcommand
/// titled `rogue-runner-NAME` as `git help` and cargo name theirs (the main page's SUBCOMMANDS
/// section refers to them by that name).
fn man_page(subcommand: Option<&str>, out: &mut dyn Write) -> Result<(), CliError> {
    let mut command = <Cli as clap::CommandFactory>::command().disable_help_subcommand(true);
    // Built, so that the version and the generated --help/--version flags reach subcommands.
    command.build();
    let page = match subcommand {
        None => command,
        Some(name) => {
            let Some(sub) = command.find_subcommand(name) else {
                let known: Vec<&str> =
                    command.get_subcommands().map(clap::Command::get_name).collect();
                return Err(CliError::usage(
                    format!("`man {name}`: there is no subcommand `{name}`"),
                    format!("give one of: {}", known.join(", ")),
                ));
            };
            // After build(), clap names it `rogue-runner-NAME` (display) and `rogue-runner NAME`
            // (the synopsis).
            sub.clone()
        }
    };
    // man(7): the title in capitals; every page says which release it documents.
    let title = page.get_display_name().unwrap_or_else(|| page.get_name()).to_uppercase();
    clap_mangen::Man::new(page)
        .title(title)
        .source(format!("rogue-runner {}", env!("CARGO_PKG_VERSION")))
        .render(out)?;
    Ok(())
}

/// A single-threaded runtime for the commands that make a few requests (`estimate`,
/// `cache why`), not a run's worth.
fn current_thread_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
        CliError::usage(format!("cannot start the async runtime: {e}"), "check the process limits")
    })
}

/// The validated selection: filters, `-E` expressions (their `status()` answered from the
/// latest run in `cache_dir`), `--limit`/`--sample` when the command takes them, and the
/// shard.
fn selection_from(
    filters: &args::FilterArgs,
    sample: Option<&args::SampleArgs>,
    cache_dir: &std::path::Path,
) -> Result<Selection, CliError> {
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
    let set = crate::scenario::FilterSet::parse(&filters.filter_expr).map_err(CliError::Filter)?;
    let statuses = if set.needs_status() { Some(select::status_lookup(cache_dir)?) } else { None };
    let filter = set.resolve(statuses).map_err(|e| {
        CliError::usage(e.to_string(), "run once first: every run records its results")
    })?;
    let sampling = match sample {
        None | Some(args::SampleArgs { limit: None, sample: None, .. }) => Sampling::All,
        Some(args::SampleArgs { limit: Some(n), .. }) => Sampling::Limit(*n),
        Some(args::SampleArgs { sample: Some(n), seed, .. }) => {
            if partition.is_some() && seed.is_none() {
                return Err(CliError::usage(
                    "--sample with --partition needs --seed: every shard must draw the same sample",
                    "pass the same --seed S to every shard",
                ));
            }
            Sampling::Sample { n: *n, seed: seed.unwrap_or_else(|| fastrand::u64(..)) }
        }
    };
    Ok(selection.with_filter(filter).with_sampling(sampling).with_partition(partition))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Source;

    /// The settings of a run parsed from `argv`, by flag.
    fn settings(argv: &[&str]) -> Vec<crate::session::Setting> {
        let cli = parse_from(argv.iter().copied()).unwrap();
        let args = match cli.command {
            None => cli.run,
            Some(Command::Run(args)) => args,
            Some(Command::Estimate(args)) => *args,
            Some(Command::Cache(args)) => match args.action {
                args::CacheAction::Why(why) => why.run,
                other => panic!("not a run's arguments: {other:?}"),
            },
            Some(other) => panic!("not a run's arguments: {other:?}"),
        };
        config::run_config(&args).unwrap().settings
    }

    fn source(settings: &[crate::session::Setting], flag: &str) -> Option<Source> {
        settings.iter().find(|s| s.flag == flag).map(|s| s.source.clone())
    }

    #[test]
    fn every_form_of_a_run_records_where_its_settings_came_from() {
        let flags = ["--scenarios-dir", "x", "--judge-model", "m", "--max-cost", "2.5"];
        let forms: [&[&str]; 4] = [&[], &["run"], &["estimate"], &["cache", "why", "some_id"]];
        for form in forms {
            let argv: Vec<&str> =
                std::iter::once("rogue-runner").chain(form.iter().copied()).chain(flags).collect();
            let settings = settings(&argv);
            assert_eq!(source(&settings, "--judge-model"), Some(Source::Flag), "{argv:?}");
            assert_eq!(source(&settings, "--max-cost"), Some(Source::Flag), "{argv:?}");
            let judge = settings.iter().find(|s| s.flag == "--judge-model").unwrap();
            assert_eq!(judge.value, "\"m\"");
        }
    }
}
