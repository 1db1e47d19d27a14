//! Rows left out under `--on-error skip-row`: each goes to `<reject_dir>/<table>.jsonl` with
//! its key, the column, the reason and the original value (hex for bytes that are not text),
//! and the rest of the table loads. Rows the target refuses go there too, with the target's
//! reason and the whole row (`engine::isolate`). Past `--max-rejects` the table fails instead.

use crate::error::{Error, Result};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What to do with a row the reader cannot convert.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// Fail the table (it is rolled back alone; the default).
    #[default]
    Stop,
    /// Write the row to the reject file and load the others.
    SkipRow,
}

impl OnError {
    pub fn parse(s: &str) -> Option<OnError> {
        match s {
            "stop" => Some(OnError::Stop),
            "skip-row" => Some(OnError::SkipRow),
            _ => None,
        }
    }
}

/// A rejected value: bytes as the source sent them, or the source's text of it.
pub enum Rejected<'a> {
    Bytes(&'a [u8]),
    Text(String),
}

/// One table's reject file, shared by its partitions. A partition's rejects are held in
/// its `Rejects` and appended only once the partition has committed, so a partition that
/// fails and is retried, or a run resumed or shared by other processes, writes each
/// rejected row once. A fresh run (not a resume) starts the file anew.
pub struct RejectFile {
    table: String,
    path: std::path::PathBuf,
    /// Rows rejected by this process: committed, plus those of partitions in flight.
    count: AtomicU64,
    /// Appends, one partition at a time.
    append: Mutex<()>,
    max: Option<u64>,
}

impl RejectFile {
    /// `fresh`: a new run, whose file replaces an older run's.
    pub fn new(table: &str, dir: &std::path::Path, max: Option<u64>, fresh: bool) -> RejectFile {
        let path = dir.join(format!("{table}.jsonl"));
        if fresh {
            let _ = std::fs::remove_file(&path);
        }
        RejectFile {
            table: table.to_string(),
            path,
            count: AtomicU64::new(0),
            append: Mutex::new(()),
            max,
        }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// The file, once it holds a row (of this process or another's).
    pub fn path(&self) -> Option<&std::path::Path> {
        std::fs::metadata(&self.path)
            .is_ok_and(|m| m.len() > 0)
            .then_some(self.path.as_path())
    }

    /// The rejects of one partition attempt.
    pub fn partition(self: &std::sync::Arc<Self>) -> Rejects {
        Rejects {
            file: self.clone(),
            lines: Mutex::new(Vec::new()),
        }
    }
}

/// One partition attempt's rejected rows, held until `commit`; dropped without it (the
/// partition failed), they are forgotten.
pub struct Rejects {
    file: std::sync::Arc<RejectFile>,
    lines: Mutex<Vec<String>>,
}

impl Drop for Rejects {
    fn drop(&mut self) {
        let n = self.lines.lock().map(|l| l.len()).unwrap_or(0) as u64;
        self.file.count.fetch_sub(n, Ordering::SeqCst);
    }
}

impl Rejects {
    pub fn count(&self) -> u64 {
        self.lines.lock().map(|l| l.len()).unwrap_or(0) as u64
    }

    /// Append the partition's rejects to the table's file: after its commit.
    pub fn commit(&self) -> Result<()> {
        let lines = std::mem::take(&mut *self.lines.lock().unwrap());
        if lines.is_empty() {
            return Ok(());
        }
        let _one = self.file.append.lock().unwrap();
        if let Some(dir) = self.file.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut text = lines.join("\n");
        text.push('\n');
        // One write of whole lines: other processes may append to the same file.
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file.path)?;
        f.write_all(text.as_bytes())?;
        f.flush()?;
        Ok(())
    }

    /// Write one rejected row read from MySQL (see `record_value`).
    pub fn record(
        &self,
        key: Option<(&str, &mysql_async::Value)>,
        column: &str,
        reason: &str,
        value: &mysql_async::Value,
    ) -> Result<()> {
        let value = match value {
            mysql_async::Value::Bytes(b) => Rejected::Bytes(b),
            v => Rejected::Text(v.as_sql(false)),
        };
        self.record_value(key.map(|(n, k)| (n, k.as_sql(true))), column, reason, value)
    }

    /// Write one rejected row: its key (column and value as text), the column, why, and
    /// the value (bytes that are not text as hex). An error once the table has more rejects
    /// than allowed.
    pub fn record_value(
        &self,
        key: Option<(&str, String)>,
        column: &str,
        reason: &str,
        value: Rejected<'_>,
    ) -> Result<()> {
        let mut line = serde_json::json!({
            "table": self.file.table,
            "column": column,
            "reason": reason,
        });
        if let Some((name, k)) = key {
            line["key"] = serde_json::json!({ name: k });
        }
        match value {
            Rejected::Bytes(b) => match std::str::from_utf8(b) {
                Ok(s) if !s.contains('\0') => line["value"] = s.into(),
                _ => {
                    line["value_hex"] = b
                        .iter()
                        .map(|x| format!("{x:02x}"))
                        .collect::<String>()
                        .into()
                }
            },
            Rejected::Text(t) => line["value"] = t.into(),
        }
        self.write_line(line, column, reason)
    }

    /// Write one row the target refused: its key, the column the target named (or ""), the
    /// target's reason, that column's value, and the whole row as sent (`row`).
    pub fn record_refused(
        &self,
        key: Option<(&str, String)>,
        column: &str,
        reason: &str,
        value: Option<String>,
        row: serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        let mut line = serde_json::json!({
            "table": self.file.table,
            "column": column,
            "reason": reason,
            "row": row,
        });
        if let Some((name, k)) = key {
            line["key"] = serde_json::json!({ name: k });
        }
        if let Some(v) = value {
            line["value"] = v.into();
        }
        self.write_line(line, column, reason)
    }

    fn write_line(&self, line: serde_json::Value, column: &str, reason: &str) -> Result<()> {
        self.lines.lock().unwrap().push(line.to_string());
        let n = self.file.count.fetch_add(1, Ordering::SeqCst) + 1;
        match self.file.max {
            Some(max) if n > max => Err(Error::Table {
                table: self.file.table.clone(),
                detail: format!(
                    "more than {max} rows rejected (--max-rejects); the last: column {column}: {reason}; see {}",
                    self.file.path.display()
                ),
            }),
            _ => Ok(()),
        }
    }
}
