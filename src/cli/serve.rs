//! `serve`: start the dashboard, say where it is, serve until Ctrl-C.

use std::io::{IsTerminal, Write};
use std::path::Path;

use super::CliError;
use super::args::ServeArgs;
use crate::model::ExitCode;
use crate::serve::{Running, ServeError, ServeOptions, running_dashboard};
use crate::store::Location;

pub(super) fn serve(
    args: &ServeArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let location = super::store::location(&args.dir)?;
    let running = crate::serve::start(ServeOptions {
        cache_dir: args.dir.cache_dir.clone(),
        store: location.clone(),
        bind: args.bind,
        token: args.token.clone(),
    })
    .map_err(|e| serve_error(&e))?;
    // The one line a script needs: the URL to open (with the token for a first visit).
    writeln!(out, "{}", running.url_with_token("/"))?;
    out.flush()?;
    writeln!(
        err,
        "dashboard of {} at {} (read-only); Ctrl-C stops it",
        location.display(),
        running.url
    )?;
    if running.token_generated {
        writeln!(
            err,
            "note: {} is not a loopback address, so every request needs the token in the URL \
             above (generated now, printed only here); pass --token to choose one",
            args.bind
        )?;
    }
    if args.open {
        if let Err(error) = crate::serve::open_browser(&running.url_with_token("/")) {
            writeln!(err, "warning: cannot open a browser ({error}); open the URL above")?;
        }
    }
    running.wait_for_signal().map_err(|e| serve_error(&e))?;
    Ok(ExitCode::Success)
}

fn serve_error(error: &ServeError) -> CliError {
    let hint = match error {
        ServeError::Bind { .. } => "pass --bind 127.0.0.1:PORT with a free port",
        ServeError::Store(error) => return super::store::store_error(error),
        ServeError::WeakToken => "generate one, e.g. `openssl rand -hex 16`",
        ServeError::Runtime(_) => "check the process limits",
    };
    CliError::usage(error.to_string(), hint)
}

/// Before a run: with `--serve`, a dashboard for the run's store (unless one is running
/// already); either way, when there is one, where to watch the run live.
pub(super) fn before_run(
    serve: bool,
    cache_dir: &Path,
    store: &Location,
    err: &mut dyn Write,
) -> Result<Option<Running>, CliError> {
    if let Some(state) = running_dashboard(cache_dir) {
        writeln!(err, "live: {}/live", state.url)?;
        return Ok(None);
    }
    if !serve {
        return Ok(None);
    }
    let options = |bind: &str| ServeOptions {
        cache_dir: cache_dir.to_path_buf(),
        store: store.clone(),
        bind: bind.parse().unwrap_or(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        token: None,
    };
    // The usual port when it is free, any port when it is not.
    let running = crate::serve::start(options(crate::serve::DEFAULT_BIND))
        .or_else(|_| crate::serve::start(options("127.0.0.1:0")))
        .map_err(|e| serve_error(&e))?;
    writeln!(err, "live: {}/live", running.url)?;
    Ok(Some(running))
}

/// After a run: where its page is, when a dashboard is running; a dashboard this run started
/// goes on serving until Ctrl-C when a person is at the terminal.
pub(super) fn after_run(
    dashboard: Option<Running>,
    cache_dir: &Path,
    run_id: &str,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let url = match &dashboard {
        Some(running) => running.url.clone(),
        None => match running_dashboard(cache_dir) {
            Some(state) => state.url,
            None => return Ok(()),
        },
    };
    writeln!(err, "dashboard: {url}/runs/{run_id}")?;
    if let Some(running) = dashboard {
        if std::io::stdin().is_terminal() {
            writeln!(err, "serving the dashboard until Ctrl-C")?;
            running.wait_for_signal().map_err(|e| serve_error(&e))?;
        }
    }
    Ok(())
}

/// For `history` and `compare`: the dashboard's page of the same thing, when one is running.
pub(super) fn hint(cache_dir: &Path, path: &str, err: &mut dyn Write) -> std::io::Result<()> {
    if let Some(state) = running_dashboard(cache_dir) {
        writeln!(err, "dashboard: {}{path}", state.url)?;
    }
    Ok(())
}
