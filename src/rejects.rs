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

/// One table's reject file, shared by its partitions. A partition attempt's rejects are
/// written to a file of their own under `<table>.pending/` before its rows commit, and the
/// commit's mark names that file; the table's file is made from the files its done marks
/// name. So a partition that fails and is retried, a crash between a write and its commit,
/// or a run resumed or shared by other processes, leaves each rejected row once, in the
/// order of the partitions. A fresh run (not a resume) starts the file anew.
pub struct RejectFile {
    table: String,
    path: std::path::PathBuf,
    pending: std::path::PathBuf,
    /// Rows rejected by this process: committed, plus those of partitions in flight.
    count: AtomicU64,
    max: Option<u64>,
}

impl RejectFile {
    /// `fresh`: a new run, whose file replaces an older run's.
    pub fn new(table: &str, dir: &std::path::Path, max: Option<u64>, fresh: bool) -> RejectFile {
        let path = dir.join(format!("{table}.jsonl"));
        let pending = dir.join(format!("{table}.pending"));
        if fresh {
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_dir_all(&pending);
        }
        RejectFile {
            table: table.to_string(),
            path,
            pending,
            count: AtomicU64::new(0),
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

    /// Make the table's file from the committed attempts' files (`parts`, as the done marks
    /// name them), in partition order, replacing it whole. False when the pending files are
    /// gone: the file was made from them already and they were cleaned up. A part missing
    /// beside others (a worker on another machine, with a reject directory of its own) is
    /// left out with a warning naming it.
    pub fn publish(&self, parts: &[String]) -> Result<bool> {
        let mut parts: Vec<&String> = parts.iter().collect();
        parts.sort();
        if !parts.is_empty() && !self.pending.is_dir() {
            return Ok(false);
        }
        let mut text = Vec::new();
        let mut missing = Vec::new();
        for name in parts {
            match std::fs::read(self.pending.join(name)) {
                Ok(b) => text.extend_from_slice(&b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing.push(name.as_str()),
                Err(e) => return Err(e.into()),
            }
        }
        if !missing.is_empty() {
            tracing::warn!(
                "{}: the rejected rows of {} partition(s) are not in {} ({} missing: written by \
                 a worker with another reject directory?)",
                self.table,
                missing.len(),
                self.path.display(),
                missing.join(", ")
            );
        }
        if text.is_empty() {
            // None of the committed attempts left a row out: an older attempt's file (of a
            // failed table loaded again) must not stand for this one.
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                _ => Ok(true),
            };
        }
        let tmp = self
            .path
            .with_extension(format!("jsonl.{}.tmp", std::process::id()));
        write_synced(&tmp, &text)?;
        std::fs::rename(&tmp, &self.path)?;
        // The rename must be on disk before the pending files it replaces are removed.
        sync_dir(self.path.parent())?;
        Ok(true)
    }

    /// Remove the committed attempts' files, once the table's file is made and the table is
    /// done.
    pub fn clean_pending(&self) {
        let _ = std::fs::remove_dir_all(&self.pending);
    }
}

/// Flush a directory's entries (a file created or renamed in it) to disk.
fn sync_dir(dir: Option<&std::path::Path>) -> std::io::Result<()> {
    match dir {
        Some(d) if !d.as_os_str().is_empty() => std::fs::File::open(d)?.sync_all(),
        _ => std::fs::File::open(".")?.sync_all(),
    }
}

/// Write a file whole and flush it to disk, so a rename of it survives a crash with its bytes.
fn write_synced(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// One partition attempt's rejected rows, held until `stage`; dropped without `committed`
/// (the partition failed), they are forgotten.
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

    /// Write the attempt's rejects to a file of its own, on disk before its rows commit, and
    /// name it for the commit's mark. `None` when it has none.
    pub fn stage(&self, part: u32, epoch: i64) -> Result<Option<String>> {
        let lines = self.lines.lock().unwrap();
        if lines.is_empty() {
            return Ok(None);
        }
        let dir = &self.file.pending;
        if !dir.is_dir() {
            std::fs::create_dir_all(dir)?;
            sync_dir(dir.parent())?;
        }
        // Zero-padded: the names sort in partition order.
        let name = format!("{part:010}-{epoch}.jsonl");
        let mut text = lines.join("\n");
        text.push('\n');
        let tmp = dir.join(format!("{name}.tmp"));
        write_synced(&tmp, text.as_bytes())?;
        std::fs::rename(&tmp, dir.join(&name))?;
        // The new name must be on disk too before the mark that names it commits.
        sync_dir(Some(dir))?;
        Ok(Some(name))
    }

    /// The attempt committed: its rows stay counted.
    pub fn committed(&self) {
        self.lines.lock().unwrap().clear();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn reject(r: &Rejects, key: &str) {
        r.record_value(
            Some(("id", key.into())),
            "body",
            "NUL",
            Rejected::Text("x".into()),
        )
        .unwrap();
    }

    fn keys(path: &std::path::Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["key"]["id"].as_str().unwrap().to_string()
            })
            .collect()
    }

    #[test]
    fn the_file_holds_the_committed_attempts_once_in_partition_order() {
        let dir = std::env::temp_dir().join(format!("barge-rejects-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let file = Arc::new(RejectFile::new("notes", &dir, None, true));
        // Partition 1 commits; partition 0's first attempt is staged, then lost (a crash
        // before its commit), and its second attempt commits.
        let p1 = file.partition();
        reject(&p1, "900");
        let p1_name = p1.stage(1, 5).unwrap().unwrap();
        p1.committed();
        let lost = file.partition();
        reject(&lost, "10");
        reject(&lost, "11");
        lost.stage(0, 6).unwrap().unwrap();
        drop(lost);
        let p0 = file.partition();
        reject(&p0, "10");
        let p0_name = p0.stage(0, 7).unwrap().unwrap();
        p0.committed();
        assert_eq!(file.count(), 2, "the lost attempt's rows are not counted");
        assert!(
            file.path().is_none(),
            "nothing is published before the finish"
        );
        let parts = vec![p1_name, p0_name];
        assert!(file.publish(&parts).unwrap());
        assert_eq!(keys(&dir.join("notes.jsonl")), ["10", "900"]);
        // Published again (a finish retried, or the end of another worker's run): the same.
        assert!(file.publish(&parts).unwrap());
        assert_eq!(keys(&dir.join("notes.jsonl")), ["10", "900"]);
        // A part another machine wrote, not here: the others are published.
        let with_foreign = vec![parts[1].clone(), "0000000009-3.jsonl".to_string()];
        assert!(file.publish(&with_foreign).unwrap());
        assert_eq!(keys(&dir.join("notes.jsonl")), ["10"]);
        assert!(file.publish(&parts).unwrap());
        file.clean_pending();
        assert!(
            !file.publish(&parts).unwrap(),
            "made already and cleaned up"
        );
        assert_eq!(keys(&dir.join("notes.jsonl")), ["10", "900"]);
        // No committed attempt left a row out: an older file goes.
        assert!(file.publish(&[]).unwrap());
        assert!(file.path().is_none());
        // A resume keeps what is there; a fresh run starts anew.
        let p = file.partition();
        reject(&p, "1");
        let name = p.stage(0, 8).unwrap().unwrap();
        file.publish(&[name]).unwrap();
        assert!(RejectFile::new("notes", &dir, None, false).path().is_some());
        assert!(RejectFile::new("notes", &dir, None, true).path().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
