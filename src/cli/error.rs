//! Errors a command reports to the user before or instead of running.

/// A command could not do its job. Shown through miette, with a hint.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CliError {
    /// The arguments or configuration are wrong: exit 2.
    #[error("{message}")]
    Usage {
        message: String,
        #[help]
        hint: Option<String>,
    },
    /// An `-E` expression that does not parse, shown with the expression and its column.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Filter(Box<crate::scenario::FilterError>),
    /// A problem in `rogue-runner.toml`, shown at its line and column.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(Box<super::config_file::ConfigFileError>),
    #[error("cannot write output: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot encode output as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl CliError {
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        CliError::Usage { message: message.into(), hint: Some(hint.into()) }
    }
}
