//! The library's typed errors. Every message names what it is about (server, table, column)
//! and, where there is one, what the user can do. Connection URLs only ever appear redacted.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which side of a transfer a server is on; used to say which server an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Target,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Source => "source",
            Side::Target => "target",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid connection URL {url}: {reason}")]
    Url { url: String, reason: String },

    #[error("cannot connect to the {side} server {url}: {message}")]
    Connect {
        side: Side,
        url: String,
        message: String,
    },

    #[error("MySQL {context}: {source}")]
    Mysql {
        context: String,
        #[source]
        source: mysql_async::Error,
    },

    #[error("PostgreSQL {context}: {}", pg_message(.source))]
    Postgres {
        context: String,
        #[source]
        source: tokio_postgres::Error,
    },

    #[error("table {table}, column {column}: {from} type {sql_type} has no {to} mapping")]
    UnsupportedType {
        table: String,
        column: String,
        sql_type: String,
        /// The engines: `MySQL`, `PostgreSQL`.
        from: &'static str,
        to: &'static str,
    },

    #[error("{0}")]
    Selection(String),

    #[error("target table {table} already exists; use --drop to replace it or --data-only to load into it")]
    TargetExists { table: String },

    #[error("target table {table} does not fit the source: {detail}")]
    TargetMismatch { table: String, detail: String },

    #[error("table {table}, column {column}: {detail}")]
    Value {
        table: String,
        column: String,
        detail: String,
    },

    #[error("table {table}: {detail}")]
    Table { table: String, detail: String },

    /// A transaction PostgreSQL aborted to break a deadlock (or a serialization conflict):
    /// nothing of it was applied, so it can be run again.
    #[error("table {table}: {detail}")]
    Conflict { table: String, detail: String },

    /// A mistake in what the user asked for: a job file, an option, an expression.
    #[error("{0}")]
    Config(String),

    #[error("{0}")]
    Invalid(String),

    /// An error of the library user's own code (a custom `Transform`, an `Observer`), kept
    /// whole as the source.
    #[error("{context}: {source}")]
    User {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// The command line's exit status (also in `barge --help` and the README).
pub mod exit {
    /// Every table loaded and verified.
    pub const OK: u8 = 0;
    /// Some table failed (or a foreign key could not be created): the report names it.
    pub const FAILED: u8 = 1;
    /// A usage or configuration mistake, found before any data moved.
    pub const USAGE: u8 = 2;
    /// Every table loaded, with rows left out on purpose and written to a reject file.
    pub const REJECTS: u8 = 3;
    /// A server could not be reached or refused the login.
    pub const CONNECT: u8 = 4;
}

impl Error {
    /// The exit status for a run that ended with this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Connect { .. } => exit::CONNECT,
            Error::Url { .. }
            | Error::Selection(_)
            | Error::TargetExists { .. }
            | Error::TargetMismatch { .. }
            | Error::UnsupportedType { .. }
            | Error::Config(_) => exit::USAGE,
            _ => exit::FAILED,
        }
    }
}

/// tokio-postgres prints server errors as a bare "db error"; the useful part (message,
/// detail, hint) is in the `DbError` source, so show that.
pub fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{}: {}", db.severity(), db.message());
            if let Some(d) = db.detail() {
                s.push_str(&format!(" (detail: {d})"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!(" (hint: {h})"));
            }
            s
        }
        None => e.to_string(),
    }
}

/// Attach context to driver errors with `.ctx("what we were doing")`.
pub trait Context<T> {
    fn ctx(self, context: impl Into<String>) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, mysql_async::Error> {
    fn ctx(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|source| Error::Mysql {
            context: context.into(),
            source,
        })
    }
}

impl<T> Context<T> for std::result::Result<T, tokio_postgres::Error> {
    fn ctx(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|source| Error::Postgres {
            context: context.into(),
            source,
        })
    }
}
