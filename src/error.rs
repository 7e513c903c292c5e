//! The library's error type: a few variants that carry the context a user needs to
//! act (which file, which table or column, what to do), never one variant per call site.
//!
//! Invariant: library code returns these (or `anyhow` errors wrapping them); only
//! `main` prints an error and picks the exit code, through [`Error::exit_code`].

use std::path::PathBuf;

/// Everything that can go wrong in `trace`, grouped by what the user must fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input file is not something we can read (wrong format, truncated, corrupt).
    #[error("{path}: {reason}")]
    Input { path: PathBuf, reason: String },

    /// The input is an nsys export but lacks a table or column that the step needs.
    #[error("{path}: table {table}: {reason}")]
    Schema {
        path: PathBuf,
        table: String,
        reason: String,
    },

    /// A configuration file (rules, YAML) is invalid; `line` is 1-based when known.
    #[error("{path}{}: {reason}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Config {
        path: PathBuf,
        line: Option<usize>,
        reason: String,
    },

    /// The user asked for something that does not exist or does not fit (a query
    /// name, a parameter, a run id).
    #[error("{0}")]
    Usage(String),

    /// An external tool (nsys) is missing or failed.
    #[error("{0}")]
    Tool(String),

    /// Reading or writing a file failed.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },

    /// SQLite failed while reading `table` of `path`.
    #[error("{path}: reading {table}: {cause}")]
    Sqlite {
        path: PathBuf,
        table: String,
        cause: rusqlite::Error,
    },

    /// Arrow / Parquet encoding failed while writing `path`.
    #[error("{path}: writing Parquet: {reason}")]
    Parquet { path: PathBuf, reason: String },

    /// DataFusion failed to plan or run a query.
    #[error("{context}: {reason}")]
    Query { context: String, reason: String },
}

impl Error {
    /// Exit code for this error: 1 for problems with the user's input, files,
    /// configuration or tools; 2 for internal failures.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input { .. }
            | Error::Schema { .. }
            | Error::Config { .. }
            | Error::Usage(_)
            | Error::Tool(_)
            | Error::Io { .. }
            | Error::Query { .. } => 1,
            // A corrupt export, text that is not UTF-8, a value of the wrong type:
            // the input's fault. Anything else SQLite reports is ours.
            Error::Sqlite { cause, .. } if bad_sqlite_input(cause) => 1,
            Error::Sqlite { .. } | Error::Parquet { .. } => 2,
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause,
        }
    }

    /// Shorthand for [`Error::Input`].
    pub fn input(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Input {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// True when SQLite's error is about the file's content or the disk, not our SQL.
fn bad_sqlite_input(cause: &rusqlite::Error) -> bool {
    use rusqlite::ffi::ErrorCode;
    match cause {
        rusqlite::Error::Utf8Error(..)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..) => true,
        rusqlite::Error::SqliteFailure(e, _) => matches!(
            e.code,
            ErrorCode::DatabaseCorrupt
                | ErrorCode::NotADatabase
                | ErrorCode::DiskFull
                | ErrorCode::SystemIoFailure
                | ErrorCode::CannotOpen
                | ErrorCode::PermissionDenied
                | ErrorCode::ReadOnly
                | ErrorCode::TooBig
        ),
        _ => false,
    }
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
