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

    /// The server's certificate or the TLS handshake was refused: not retried.
    #[error("cannot connect to the {side} server {url} over TLS: {message}")]
    Tls {
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

    /// The target refused or changed values of the rows sent (MySQL's warnings): under
    /// `--on-error skip-row` those rows are looked for and set aside.
    #[error("table {table}: {detail}")]
    Refused { table: String, detail: String },

    /// A transaction PostgreSQL aborted to break a deadlock (or a serialization conflict):
    /// nothing of it was applied, so it can be run again.
    #[error("table {table}: {detail}")]
    Conflict { table: String, detail: String },

    /// A partition's or a table's claim in the ledger was taken over (its lease ran out and
    /// another worker claimed it): this worker's work was rolled back, the other's counts.
    #[error("table {table}: {what} was claimed by another worker after this one's lease ran out; its work here was rolled back")]
    LeaseLost { table: String, what: String },

    /// The run is not in the target's ledger, where this process recorded or found it:
    /// another process completed it, or removed it (`--restart`, a cleanup).
    #[error("run {run} is no longer in the target's ledger (schema _barge): another process completed or removed it; rerun the command to see what is in")]
    LedgerGone { run: String },

    /// A mistake in what the user asked for: a job file, an option, an expression.
    #[error("{0}")]
    Config(String),

    /// Arrow refused an operation on a batch (building, filtering, casting).
    #[error("{context}: {source}")]
    Arrow {
        context: String,
        #[source]
        source: arrow_schema::ArrowError,
    },

    /// A transform could not apply to a batch: a column it names is missing, or a value
    /// it must map has no mapping.
    #[error("{0}")]
    Transform(String),

    /// `--consistent`: the readers could not be given one snapshot of the source.
    #[error("{0}")]
    Snapshot(String),

    /// A task of the run ended without an answer (it panicked or was cancelled).
    #[error("{what} failed: {source}")]
    Task {
        what: String,
        #[source]
        source: tokio::task::JoinError,
    },

    /// A program barge runs (a bench peer, a virtualenv's installer) could not be started.
    #[error("cannot run {what}: {source}")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },

    /// A benchmark's peer tool did not do what it was measured for.
    #[error("{0}")]
    Bench(String),

    /// A combination the planner should never produce: a bug in barge.
    #[error("internal error (a bug in barge; please report it): {0}")]
    Internal(String),

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
            Error::Connect { .. } | Error::Tls { .. } => exit::CONNECT,
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

impl Error {
    /// Whether running the same work again may succeed: a lost connection (a failover,
    /// `pg_terminate_backend`, `KILL CONNECTION`), a deadlock, a serialization failure, a lock
    /// timeout. Value errors and mistakes are not: they fail the same way every time.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Connect { .. } | Error::Conflict { .. } => true,
            Error::Postgres { source, .. } => pg_transient(source),
            Error::Mysql { source, .. } => mysql_transient(source),
            Error::Io(e) => matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            ),
            _ => false,
        }
    }
}

fn pg_transient(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(c) => [
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::LOCK_NOT_AVAILABLE,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::CONNECTION_EXCEPTION,
            SqlState::CONNECTION_FAILURE,
            SqlState::CONNECTION_DOES_NOT_EXIST,
            SqlState::QUERY_CANCELED,
        ]
        .contains(c),
        // No server error: the connection itself failed (I/O, a closed socket).
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

fn mysql_transient(e: &mysql_async::Error) -> bool {
    match e {
        mysql_async::Error::Io(_) => true,
        mysql_async::Error::Driver(d) => matches!(
            d,
            mysql_async::DriverError::ConnectionClosed | mysql_async::DriverError::PoolDisconnected
        ),
        // Deadlock, lock wait timeout, connection killed, server shutdown, query killed,
        // server gone away, lost connection.
        mysql_async::Error::Server(s) => {
            matches!(s.code, 1213 | 1205 | 1927 | 1053 | 1317 | 2006 | 2013)
        }
        _ => false,
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
