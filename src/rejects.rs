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

/// One table's reject file, shared by its partitions; created at the first reject.
pub struct Rejects {
    table: String,
    path: std::path::PathBuf,
    file: Mutex<Option<std::io::BufWriter<std::fs::File>>>,
    count: AtomicU64,
    max: Option<u64>,
}

impl Rejects {
    pub fn new(table: &str, dir: &std::path::Path, max: Option<u64>) -> Rejects {
        Rejects {
            table: table.to_string(),
            path: dir.join(format!("{table}.jsonl")),
            file: Mutex::new(None),
            count: AtomicU64::new(0),
            max,
        }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// The file, once a row was written to it.
    pub fn path(&self) -> Option<&std::path::Path> {
        (self.count() > 0).then_some(self.path.as_path())
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
            "table": self.table,
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
            "table": self.table,
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
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        {
            let mut file = self.file.lock().unwrap();
            if file.is_none() {
                if let Some(dir) = self.path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                *file = Some(std::io::BufWriter::new(std::fs::File::create(&self.path)?));
            }
            let f = file.as_mut().expect("opened");
            writeln!(f, "{line}")?;
            f.flush()?;
        }
        match self.max {
            Some(max) if n > max => Err(Error::Table {
                table: self.table.clone(),
                detail: format!(
                    "more than {max} rows rejected (--max-rejects); the last: column {column}: {reason}; see {}",
                    self.path.display()
                ),
            }),
            _ => Ok(()),
        }
    }
}
