//! The command line: parse arguments, validate them once, dispatch to a command, and turn the
//! outcome into an exit code. Everything here is glue over the library modules.

mod args;
mod config;
mod config_file;
mod config_show;
mod demo;
mod error;
mod estimate;
mod judge_args;
mod list;
mod logging;
mod merge;
mod output;
mod run;
mod select;
mod serve;
mod store;
mod validate;
mod watch;

use std::ffi::OsString;
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
    // Unlocked handles: reporters on other threads write progress to stderr too, and a lock
    // held here for the whole command would block them.
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let cli = match parse() {
        Ok(cli) => cli,
        Err(ParseError::Clap(e)) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::Usage.code() } else { ExitCode::Success.code() };
        }
        Err(ParseError::Config(e)) => {
            let _ = writeln!(err, "{:?}", miette::Report::new(e));
            return ExitCode::Usage.code();
        }
    };
    let result = logging::init(&cli.log).and_then(|()| dispatch(cli, &mut out, &mut err));
    match result {
        Ok(code) => code.code(),
        // The reader went away (`| head`): not an error worth a message.
        Err(CliError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::Success.code()
        }
        Err(CliError::Json(e)) if e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe) => {
            ExitCode::Success.code()
        }
        Err(e) => {
            let report = miette::Report::new(e);
            let _ = writeln!(err, "{report:?}");
            ExitCode::Usage.code()
        }
    }
}

/// Why a command line did not parse: clap's error (usage, or the help and version it
/// prints), or one in the config file.
#[derive(Debug)]
enum ParseError {
    Clap(clap::Error),
    Config(CliError),
}

/// Parses the command line (flags and, through clap, the environment) with the config file
/// under it, and notes where each value of a run's arguments came from, for
/// [`config::run_config`].
fn parse() -> Result<Cli, ParseError> {
    parse_from(std::env::args_os())
}

fn parse_from<I, T>(argv: I) -> Result<Cli, ParseError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv = argv.into_iter().map(Into::into).collect();
    parse_layered(argv, &config::process_env, false).map(|(cli, _, _)| cli)
}

/// The `run` matches of a run-like command line (bare, `run`, `estimate`, `cache why`).
fn run_matches(matches: &clap::ArgMatches) -> Option<&clap::ArgMatches> {
    match matches.subcommand() {
        None => Some(matches),
        Some(("run" | "estimate" | "watch", sub)) => Some(sub),
        Some(("cache", sub)) => match sub.subcommand() {
            Some(("why", why)) => Some(why),
            _ => None,
        },
        Some(_) => None,
    }
}

/// `argv` parsed with the config file's layer (`[run]`, the profile, `[agents]`) added for a
/// run-like command, as arguments clap then parses and checks as its own. `lenient` lets
/// required arguments be missing (for `config`, which shows what a run would have).
fn parse_layered(
    argv: Vec<std::ffi::OsString>,
    env: &dyn Fn(&str) -> Option<String>,
    lenient: bool,
) -> Result<(Cli, clap::ArgMatches, config_file::FileLayer), ParseError> {
    let command = config::without_blank_env(Cli::command());
    let argv = hoist_global_flags(&command, argv);
    // Help, version, and the bare command that prints its help, stay as they are.
    let asks_help = argv.len() <= 1
        || argv.get(1).is_some_and(|a| a == "help")
        || argv
            .iter()
            .skip(1)
            .any(|a| matches!(a.to_str(), Some("-h" | "--help" | "-V" | "--version")));
    let layer = if asks_help {
        config_file::FileLayer::default()
    } else {
        // A first, lenient look: which command, and what the command line and the
        // environment already set.
        match command.clone().ignore_errors(true).try_get_matches_from(&argv) {
            Ok(first) => match run_matches(&first) {
                Some(m) => config_file::file_layer(m, env).map_err(ParseError::Config)?,
                None => config_file::FileLayer::default(),
            },
            Err(_) => config_file::FileLayer::default(),
        }
    };
    let mut argv = argv;
    // Before a `--`, after which everything is a value.
    let at = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
    argv.splice(at..at, layer.extra.iter().cloned());
    let matches = command.clone().ignore_errors(lenient).try_get_matches_from(&argv).map_err(
        |e| match layer.place(e) {
            Ok(e) => ParseError::Clap(name_the_flags_owner(e, &command)),
            Err(e) => ParseError::Config(e),
        },
    )?;
    let mut cli = Cli::from_arg_matches(&matches).map_err(ParseError::Clap)?;
    let run_args = match &mut cli.command {
        None => Some(&mut cli.run),
        Some(Command::Run(args)) => Some(args),
        Some(Command::Estimate(args) | Command::Watch(args)) => Some(&mut **args),
        Some(Command::Cache(args)) => match &mut args.action {
            args::CacheAction::Why(why) => Some(&mut why.run),
            _ => None,
        },
        _ => None,
    };
    if let (Some(args), Some(m)) = (run_args, run_matches(&matches)) {
        args.sources = config::ArgSources::of(m).with_file(layer.sources.clone());
    }
    share_verbosity(&mut cli);
    Ok((cli, matches, layer))
}

/// `-v`, `-q` and `--log-file` given before the subcommand, moved after its name: they are
/// global and clap reads them there, but the top level's `args_conflicts_with_subcommands`
/// (which keeps `rogue-runner --scenarios-dir X list` an error) would refuse them before it.
/// Only when nothing else comes before the subcommand; otherwise clap's error stands.
fn hoist_global_flags(command: &clap::Command, argv: Vec<OsString>) -> Vec<OsString> {
    let is_subcommand = |arg: &OsString| {
        arg.to_str().is_some_and(|name| {
            command.get_subcommands().any(|sub| {
                sub.get_name() == name || sub.get_all_aliases().any(|alias| alias == name)
            })
        })
    };
    let mut index = 1;
    while let Some(arg) = argv.get(index) {
        let Some(text) = arg.to_str() else { return argv };
        if text == "--log-file" {
            index += 2;
        } else if text.starts_with("--log-file=")
            || text == "--verbose"
            || text == "--quiet"
            || (text.len() > 1
                && text.starts_with('-')
                && text[1..].chars().all(|c| c == 'v' || c == 'q'))
        {
            index += 1;
        } else if index > 1 && is_subcommand(arg) {
            let mut moved = argv;
            moved[1..=index].rotate_right(1);
            return moved;
        } else {
            return argv;
        }
    }
    argv
}

/// Hands the global `-v`/`-q` (given before or after the subcommand) to the commands that
/// print according to them.
fn share_verbosity(cli: &mut Cli) {
    let (verbose, quiet) = (cli.log.verbose, cli.log.quiet);
    let run = match &mut cli.command {
        None => Some(&mut cli.run),
        Some(Command::Run(args)) => Some(args),
        Some(Command::Estimate(args) | Command::Watch(args)) => Some(&mut **args),
        Some(Command::Cache(args)) => match &mut args.action {
            args::CacheAction::Why(why) => Some(&mut why.run),
            _ => None,
        },
        Some(Command::Validate(args)) => {
            args.quiet = quiet;
            None
        }
        Some(Command::Demo(args)) => {
            (args.verbose, args.quiet) = (verbose, quiet);
            None
        }
        Some(_) => None,
    };
    if let Some(run) = run {
        run.verbose = verbose;
        run.quiet = quiet;
    }
}

fn dispatch(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<ExitCode, CliError> {
    match cli.command {
        Some(Command::Validate(args)) => validate::run(&args, out, err),
        Some(Command::Config(args)) => config_show::show(&args, out),
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
        Some(Command::Watch(args)) => watch::watch(&args, err),
        None => {
            mistyped_subcommand(&cli.run.scenarios.paths)?;
            run::run(&cli.run, err)
        }
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

/// An unknown flag that another subcommand takes (`list --output-dir`): say which commands
/// take it and that the one run does not, instead of clap's tip to pass it as a value
/// (`-- --output-dir`), which is never what was meant.
fn name_the_flags_owner(mut error: clap::Error, command: &clap::Command) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if error.kind() != ErrorKind::UnknownArgument || error.get(ContextKind::SuggestedArg).is_some()
    {
        return error;
    }
    let Some(ContextValue::String(given)) = error.get(ContextKind::InvalidArg) else {
        return error;
    };
    let Some(long) = given.strip_prefix("--").map(|f| f.split('=').next().unwrap_or(f)) else {
        return error;
    };
    // The command clap was parsing, as its usage line names it (`rogue-runner list`).
    let used = match error.get(ContextKind::Usage) {
        Some(ContextValue::StyledStr(usage)) => usage
            .to_string()
            .trim_start()
            .trim_start_matches("Usage:")
            .split_whitespace()
            .take_while(|w| !w.starts_with(['[', '<', '-']))
            .collect::<Vec<_>>()
            .join(" "),
        _ => return error,
    };
    // The bare command's options are `run`'s: the root itself is not listed.
    let mut owners = Vec::new();
    for sub in command.get_subcommands() {
        commands_taking(sub, long, &format!("rogue-runner {}", sub.get_name()), &mut owners);
    }
    owners.retain(|owner| *owner != used);
    if owners.is_empty() {
        return error;
    }
    let owners: Vec<String> = owners.iter().map(|o| format!("`{o}`")).collect();
    let tip =
        format!("`--{long}` is an option of {}; `{used}` does not take it", owners.join(", "));
    error.insert(ContextKind::Suggested, ContextValue::StyledStrs(vec![tip.into()]));
    error
}

/// The commands (as `rogue-runner list`, `rogue-runner cache why`) that take `--long`.
fn commands_taking(command: &clap::Command, long: &str, name: &str, found: &mut Vec<String>) {
    if command.get_arguments().any(|a| a.get_long() == Some(long) && !a.is_hide_set()) {
        found.push(name.to_owned());
    }
    for sub in command.get_subcommands() {
        commands_taking(sub, long, &format!("{name} {}", sub.get_name()), found);
    }
}

/// The bare command takes PATH… as `run` does, so a mistyped subcommand (`rogue-runner lsit
/// x`) would be read as a missing path; name the subcommand that was probably meant instead.
fn mistyped_subcommand(paths: &[std::path::PathBuf]) -> Result<(), CliError> {
    let Some(first) = paths.first() else { return Ok(()) };
    let Some(word) = first
        .to_str()
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    else {
        return Ok(());
    };
    if first.exists() {
        return Ok(());
    }
    let command = Cli::command();
    let meant = command
        .get_subcommands()
        .map(clap::Command::get_name)
        .map(|name| (crate::scenario::filter::edit_distance(word, name), name))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance);
    match meant {
        Some((_, name)) => Err(CliError::usage(
            format!("`{word}` is neither a subcommand nor a scenario file or directory"),
            format!("did you mean `rogue-runner {name}`? (`rogue-runner --help` lists them)"),
        )),
        None => Ok(()),
    }
}

/// A single-threaded runtime for the commands that make a few requests (`estimate`,
/// `cache why`), not a run's worth.
fn current_thread_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
        CliError::usage(format!("cannot start the async runtime: {e}"), "check the process limits")
    })
}

/// The validated selection: filters, `-E` expressions (their `status()` answered from the
/// latest run in the store `store` gives), `--rerun-failed` (read from there too), `--limit`/
/// `--sample` when the command takes them, and the shard. `store` is asked only when a filter
/// needs it, so that a command that reads no recorded run never trips over the store's
/// settings (an unusable `ROGUE_STORE_URL`, a config file it would not otherwise read).
fn selection_from(
    filters: &args::FilterArgs,
    sample: Option<&args::SampleArgs>,
    store: &dyn Fn() -> Result<crate::store::Location, CliError>,
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
    let statuses = if set.needs_status() { Some(select::status_lookup(&store()?)?) } else { None };
    let filter = set.resolve(statuses).map_err(|e| {
        CliError::usage(e.to_string(), "run once first: every run records its results")
    })?;
    let rerun = filters
        .rerun_failed
        .as_deref()
        .map(|run| select::rerun_failed(&store()?, run))
        .transpose()?;
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
    Ok(selection
        .with_filter(filter)
        .with_rerun(rerun)
        .with_sampling(sampling)
        .with_partition(partition))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Source;

    /// The settings of a run parsed from `argv`, by flag.
    fn settings(argv: &[&str]) -> Vec<crate::session::Setting> {
        let Ok(cli) = parse_from(argv.iter().copied()) else { panic!("{argv:?} does not parse") };
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

    #[test]
    fn global_flags_work_before_and_after_the_subcommand() {
        for argv in [
            &["rogue-runner", "-vv", "run", "--scenarios-dir", "x"][..],
            &["rogue-runner", "run", "-vv", "--scenarios-dir", "x"],
            &["rogue-runner", "-v", "run", "--scenarios-dir", "x", "-v"],
            &[
                "rogue-runner",
                "--verbose",
                "--log-file",
                "run",
                "run",
                "--scenarios-dir",
                "x",
                "-v",
            ],
            &["rogue-runner", "--scenarios-dir", "x", "-vv"],
        ] {
            let cli = parse_from(argv.iter().copied()).unwrap();
            assert_eq!(cli.log.verbose, 2, "{argv:?}");
            let run = cli.command.map_or(cli.run, |c| match c {
                Command::Run(args) => args,
                other => panic!("{other:?}"),
            });
            assert_eq!(run.verbose, 2, "{argv:?}");
        }
        let cli = parse_from(["rogue-runner", "-q", "--log-file=l", "validate", "d"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Validate(ref v)) if v.quiet), "{cli:?}");
        assert_eq!(cli.log.log_file.as_deref(), Some(std::path::Path::new("l")));
        // Only flags are moved: after a run's flag, `list` is no subcommand but the bare run's
        // first PATH (which `mistyped_subcommand` refuses when no such file exists).
        let cli = parse_from(["rogue-runner", "-v", "--scenarios-dir", "x", "list", "d"]).unwrap();
        assert!(cli.command.is_none(), "{cli:?}");
        assert_eq!(cli.run.scenarios.paths, [std::path::PathBuf::from("list"), "d".into()]);
    }
}
