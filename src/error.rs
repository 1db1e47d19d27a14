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

    #[error("table {table}, column {column}: MySQL type {sql_type} has no PostgreSQL mapping")]
    UnsupportedType {
        table: String,
        column: String,
        sql_type: String,
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

    #[error("{0}")]
    Invalid(String),

    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
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
