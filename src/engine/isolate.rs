//! Rows the target refuses, set aside instead of failing the table (`--on-error skip-row`),
//! found the way pgloader finds them: each batch loads under a savepoint; when the target
//! refuses it, the batch is rolled back to the savepoint and loaded again in halves, down to
//! the single rows that are refused. Those go to the reject file, with the target's reason;
//! every other row is loaded. Engine-neutral: each writer says how to load a batch and
//! which of its errors are a refused row.

use crate::error::{Error, Result};
use crate::plan::TablePlan;
use crate::rejects::Rejects;
use arrow_array::RecordBatch;
use tokio::sync::mpsc;

/// Why a load did not happen.
pub enum LoadError {
    /// The target refused a value of these rows (a constraint, a type's range or length).
    Refused {
        reason: String,
        /// The column the target named, when it did.
        column: Option<String>,
    },
    /// Anything else (a lost connection, a bug): the partition fails as it would without
    /// skip-row, and is retried when transient.
    Failed(Error),
}

impl From<Error> for LoadError {
    fn from(e: Error) -> LoadError {
        LoadError::Failed(e)
    }
}

/// The savepoint steps around each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Savepoint {
    Set,
    Release,
    RollBackTo,
}

impl Savepoint {
    /// The statement, as both engines spell it (standard SQL).
    pub fn sql(self) -> &'static str {
        match self {
            Savepoint::Set => "SAVEPOINT barge_rows",
            Savepoint::Release => "RELEASE SAVEPOINT barge_rows",
            Savepoint::RollBackTo => "ROLLBACK TO SAVEPOINT barge_rows",
        }
    }
}

/// A writer that can load one batch at a time inside its open transaction.
#[async_trait::async_trait]
pub trait BatchLoader: Send {
    /// Run `step.sql()` in the open transaction.
    async fn savepoint(&mut self, step: Savepoint) -> Result<()>;
    /// Load these rows into the staging table: rows stored and bytes sent.
    async fn load(&mut self, plan: &TablePlan, rows: &RecordBatch)
        -> Result<(u64, u64), LoadError>;
}

/// Load a partition batch by batch, setting aside the rows the target refuses. Returns the
/// rows stored, bytes sent and rows refused.
pub async fn load_isolating(
    loader: &mut dyn BatchLoader,
    plan: &TablePlan,
    mut rx: mpsc::Receiver<RecordBatch>,
    on_rows: crate::engine::OnRows<'_>,
    rejects: &Rejects,
) -> Result<crate::engine::Written> {
    let mut written = crate::engine::Written::default();
    while let Some(batch) = rx.recv().await {
        let mut pending = vec![batch];
        while let Some(part) = pending.pop() {
            if part.num_rows() == 0 {
                continue;
            }
            loader.savepoint(Savepoint::Set).await?;
            match loader.load(plan, &part).await {
                Ok((rows, bytes)) => {
                    loader.savepoint(Savepoint::Release).await?;
                    written.rows += rows;
                    written.bytes += bytes;
                    on_rows(rows, bytes);
                }
                Err(LoadError::Failed(e)) => return Err(e),
                Err(LoadError::Refused { reason, column }) => {
                    loader.savepoint(Savepoint::RollBackTo).await?;
                    loader.savepoint(Savepoint::Release).await?;
                    let n = part.num_rows();
                    if n == 1 {
                        record(rejects, plan, &part, &reason, column.as_deref())?;
                        written.refused += 1;
                        continue;
                    }
                    // The first half is loaded first: rows keep their order.
                    pending.push(part.slice(n / 2, n - n / 2));
                    pending.push(part.slice(0, n / 2));
                }
            }
        }
    }
    Ok(written)
}

/// One value as text, or None for NULL.
fn text(array: &dyn arrow_array::Array, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    let options = arrow_cast::display::FormatOptions::default();
    arrow_cast::display::ArrayFormatter::try_new(array, &options)
        .map(|f| f.value(row).to_string())
        .ok()
}

/// The refused row in the reject file: its key, the column the target named, the target's
/// reason, and every value of the row as the target was sent it.
fn record(
    rejects: &Rejects,
    plan: &TablePlan,
    row: &RecordBatch,
    reason: &str,
    column: Option<&str>,
) -> Result<()> {
    let schema = row.schema();
    let value_of = |name: &str| {
        schema
            .index_of(name)
            .ok()
            .and_then(|i| text(row.column(i).as_ref(), 0))
    };
    let key = plan
        .primary_key
        .first()
        .and_then(|k| Some((k.as_str(), value_of(k)?)));
    let mut values = serde_json::Map::new();
    for (field, array) in schema.fields().iter().zip(row.columns()) {
        values.insert(
            field.name().clone(),
            text(array.as_ref(), 0).map_or(serde_json::Value::Null, Into::into),
        );
    }
    let value = column.and_then(value_of);
    rejects.record_refused(
        key,
        column.unwrap_or(""),
        &format!("the target refused the row: {reason}"),
        value,
        values,
    )
}
