//! barge: bulk data transfer between MySQL/MariaDB and PostgreSQL through Arrow record batches.
//!
//! Embedding: build a [`CopyOptions`], call [`copy`] with two [`DbUrl`]s, and read the
//! [`Report`]. Errors found before any data moves come back as [`Error`]; problems during the
//! load are in the report (`Report::ok()`).
//!
//! ```no_run
//! # async fn demo() -> barge::Result<()> {
//! let from = barge::DbUrl::parse("mysql://app:secret@db1/legacy")?;
//! let to = barge::DbUrl::parse("postgres://app:secret@db2/app")?;
//! let report = barge::copy(&from, &to, &barge::CopyOptions::default()).await?;
//! assert!(report.ok(), "{}", report.to_text());
//! # Ok(()) }
//! ```

pub mod bench;
pub mod catalog;
pub mod content_hash;
pub mod credentials;
pub mod decimal;
pub mod engine;
pub mod error;
pub mod explain;
pub mod expr;
pub mod failpoint;
pub mod fixtures;
pub mod inspect;
pub mod job;
pub mod ledger;
pub mod partition;
pub mod plan;
pub mod progress;
pub mod rejects;
pub mod report;
pub mod run;
pub mod sample;
pub mod status;
pub mod temporal;
pub mod text_table;
pub mod transform;
pub mod types;
pub mod url;
pub mod verify;

pub use error::{Error, Result};
pub use plan::{Mode, Selection};
pub use report::{Report, Status, TableReport};
pub use run::{copy, CopyOptions};
pub use url::DbUrl;
