//! What can go wrong in the store. Messages say what failed and what to do about it.

use std::path::PathBuf;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The cache directory could not be created.
    #[error("cannot create the cache directory {}: {error}; choose another --cache-dir", .path.display())]
    CreateDir { path: PathBuf, error: std::io::Error },

    /// SQLite refused (locked for longer than the busy timeout, disk full, corrupt file…).
    #[error("store {}: {error}", .path.display())]
    Sqlite { path: PathBuf, error: rusqlite::Error },

    /// The file (or database) was written by a newer rogue-runner with a schema this one
    /// does not know. `instead` is the option that picks another store.
    #[error(
        "store {} has schema version {found}, newer than the {supported} this rogue-runner \
         knows; upgrade rogue-runner, or use another {instead}",
        .path.display()
    )]
    NewerSchema { path: PathBuf, found: i64, supported: i64, instead: &'static str },

    /// PostgreSQL refused or could not be reached. `store` is the redacted URL.
    #[error("store {store}: {message}")]
    Postgres { store: String, message: String },

    /// `--store` is not a URL this rogue-runner can use.
    #[error("--store {store}: {message}")]
    BadUrl { store: String, message: String },

    /// A stored outcome could not be encoded (a bug) or decoded.
    #[error("store {}: cannot encode or decode a stored outcome: {error}", .path.display())]
    Json { path: PathBuf, error: serde_json::Error },

    /// `compare`, `--baseline`: no run has this id (or id prefix).
    #[error("no recorded run matches `{0}`; `rogue-runner history` lists the runs")]
    UnknownRun(String),

    /// An id prefix that matches more than one run.
    #[error("`{prefix}` matches {count} runs; give more characters of the id")]
    AmbiguousRun { prefix: String, count: usize },
}
