//! `rogue-runner watch PATH…`: run the selected scenarios, then rerun those of each scenario
//! file that changes until Ctrl-C. Each round is a `run` of its own (reports, recap, store);
//! with `--use-cache` the unchanged results of a round come back at once.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::args::RunArgs;
use super::select::{RerunCheck, Selected};
use super::{CliError, config, output};
use crate::engine::StopSignal;
use crate::model::ExitCode;
use crate::scenario::{Scenario, load_paths};
use crate::session::RunConfig;
use crate::session::watch::{WatchEvent, Watcher};

/// What one round runs.
#[derive(Debug)]
enum Round {
    /// Every selected scenario: at start, and when the config file changed.
    All,
    /// The selected scenarios of these files (canonical paths).
    Files(BTreeSet<PathBuf>),
}

pub(super) fn watch(args: &RunArgs, stderr: &mut dyn Write) -> Result<ExitCode, CliError> {
    let mut config = config::run_config(args)?;
    super::run::check_evaluator(&config)?;
    if args.serve {
        // `--serve` is a `run` flag (and so a `[run]` key) that watch shares but does not act on.
        writeln!(
            stderr,
            "warning: watch does not start the dashboard (--serve); run `rogue-runner serve` \
             beside it to follow each round live"
        )?;
    }
    // Created now, so that what a run writes there is known never to be a change (they may
    // sit under a watched directory), whatever their path looks like.
    let mut ignored = Vec::new();
    for dir in [&config.output_dir, &config.store.cache_dir] {
        fs_err::create_dir_all(dir).map_err(|e| {
            CliError::usage(e.to_string(), "choose another --output-dir or --cache-dir")
        })?;
        ignored.push(dir.clone());
    }
    let watcher = Watcher::start(&config.paths, &config_file(), &ignored).map_err(|e| {
        CliError::usage(e.to_string(), "check that the paths exist and can be read")
    })?;
    let mut round = Round::All;
    let mut first = true;
    loop {
        match run_round(&config, &round, &watcher, stderr) {
            Ok(Some(code)) if interrupted(code) => return Ok(code),
            Ok(_) => {}
            // At start, a problem with the flags is for the user to fix before watching.
            Err(e) if first => return Err(e),
            Err(e) => writeln!(stderr, "{:?}", miette::Report::new(e))?,
        }
        // A signal during the round that its run did not hear (sent while the files loaded,
        // or just before the run listened): a stop during a round all the same.
        if let Some(signal) = watcher.stop_requested() {
            writeln!(stderr, "stopped")?;
            return Ok(signal.exit_code());
        }
        first = false;
        writeln!(
            stderr,
            "\nwatching {} for changes (Ctrl-C to stop)",
            config.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        )?;
        round = loop {
            match watcher.next() {
                WatchEvent::Stop(StopSignal::Interrupt) => {
                    writeln!(stderr, "stopped")?;
                    return Ok(ExitCode::Success);
                }
                WatchEvent::Stop(signal) => return Ok(signal.exit_code()),
                WatchEvent::Error(message) => {
                    writeln!(stderr, "warning: the file watcher: {message}")?;
                }
                WatchEvent::Changed(paths) if paths.contains(watcher.config_file()) => {
                    writeln!(stderr, "\nchanged: {}", watcher.config_file().display())?;
                    // Read again as at start; a broken file is reported and the old
                    // settings stay until it is fixed.
                    match config::run_config(args) {
                        Ok(new) => {
                            config = new;
                            break Round::All;
                        }
                        Err(e) => {
                            writeln!(stderr, "{:?}", miette::Report::new(e))?;
                            writeln!(
                                stderr,
                                "the previous settings stay until the config file is fixed"
                            )?;
                        }
                    }
                }
                WatchEvent::Changed(paths) => break Round::Files(paths),
            }
        };
    }
}

/// Codes of a run stopped by a signal: watch stops too.
fn interrupted(code: ExitCode) -> bool {
    matches!(code, ExitCode::Interrupted | ExitCode::Terminated | ExitCode::HungUp)
}

/// The config file `run` reads: `$ROGUE_RUNNER_CONFIG`, else `./rogue-runner.toml`.
fn config_file() -> PathBuf {
    std::env::var_os("ROGUE_RUNNER_CONFIG")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(config::CONFIG_FILE), PathBuf::from)
}

/// Loads the scenarios, reports the problems of the files in this round, and runs the
/// selected scenarios of those files. `None` when nothing ran.
fn run_round(
    config: &RunConfig,
    round: &Round,
    watcher: &Watcher,
    stderr: &mut dyn Write,
) -> Result<Option<ExitCode>, CliError> {
    let report = load_paths(&config.paths, &config.load);
    let mut canonical = Canonical::default();
    let mut in_round = |file: &Path| match round {
        Round::All => true,
        Round::Files(files) => files.contains(canonical.of(file)),
    };
    if let Round::Files(files) = round {
        let names: Vec<String> = files.iter().map(|f| shown(f)).collect();
        writeln!(stderr, "\nchanged: {}", names.join(", "))?;
    }
    let errors: Vec<_> =
        report.diagnostics.iter().filter(|d| d.is_error() && in_round(&d.file)).collect();
    if !errors.is_empty() {
        output::render_diagnostics(stderr, &errors, config.color)?;
        writeln!(
            stderr,
            "error: {} problem(s) in scenario files; their scenarios run again once the files are fixed (`rogue-runner validate` shows every problem)",
            errors.len()
        )?;
    }
    if let Round::All = round {
        // On every loaded scenario, as a round runs only some: an --agent NAME no scenario
        // uses is a typo.
        super::select::check_overrides(config, &report.scenarios)?;
    }
    if let (Round::All, Some(rerun)) = (round, config.selection.rerun()) {
        let selected = config.selection.apply(report.scenarios.iter().collect::<Vec<_>>()).len();
        RerunCheck::of(rerun, &report.scenarios).write(rerun, selected, stderr)?;
    }
    let scenarios: Vec<Scenario> = config
        .selection
        .apply(report.scenarios)
        .into_iter()
        .filter(|s| in_round(&s.source.file))
        .collect();
    if scenarios.is_empty() {
        let what = match round {
            Round::All => "no valid scenario matches the filters",
            Round::Files(_) => "the changed files hold no valid scenario the filters select",
        };
        writeln!(stderr, "nothing to run: {what}")?;
        return Ok(None);
    }
    if watcher.stop_requested().is_some() {
        return Ok(None);
    }
    let selected = Selected { scenarios, partition: None };
    super::run::run_selected(config, selected, false, Some(watcher.stop()), stderr).map(Some)
}

/// Paths as the watcher reports them (canonical), computed once per file.
#[derive(Debug, Default)]
struct Canonical(HashMap<PathBuf, PathBuf>);

impl Canonical {
    fn of(&mut self, path: &Path) -> &Path {
        self.0
            .entry(path.to_path_buf())
            .or_insert_with(|| fs_err::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
    }
}

/// A changed path as a person reads it: relative to the working directory when under it.
fn shown(path: &Path) -> String {
    let cwd = std::env::current_dir().ok().and_then(|d| fs_err::canonicalize(d).ok());
    cwd.and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}
