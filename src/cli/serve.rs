//! `serve`: start the dashboard, say where it is, serve until Ctrl-C.

use std::io::Write;

use super::CliError;
use super::args::ServeArgs;
use crate::model::ExitCode;
use crate::serve::{ServeError, ServeOptions};

pub(super) fn serve(
    args: &ServeArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, CliError> {
    let running = crate::serve::start(ServeOptions {
        cache_dir: args.dir.cache_dir.clone(),
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
        args.dir.cache_dir.display(),
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
        ServeError::Store(_) => "check --cache-dir",
        ServeError::WeakToken => "generate one, e.g. `openssl rand -hex 16`",
        ServeError::Runtime(_) => "check the process limits",
    };
    CliError::usage(error.to_string(), hint)
}
