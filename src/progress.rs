//! What a run tells while it runs: tables starting, rows and bytes moving, partitions and
//! tables finishing, warnings. The executor emits `Event`s to an `Observer` given in
//! `CopyOptions`; the command line draws bars from them or prints them as JSON lines, and an
//! embedding program can do what it likes with them.

use crate::report::Status;
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event<'a> {
    /// Everything is planned and counted: `rows` is the exact total the run will read.
    RunStarted { tables: usize, rows: u64 },
    /// A warning about a table, known before its data moves.
    Warning { table: &'a str, message: &'a str },
    /// A table's first partition starts.
    TableStarted {
        table: &'a str,
        rows: u64,
        partitions: usize,
    },
    /// Rows written to the target (after transforms), and the bytes sent for them.
    Rows {
        table: &'a str,
        rows: u64,
        bytes: u64,
    },
    /// One partition (key range) of a table is in.
    PartitionDone {
        table: &'a str,
        rows: u64,
        remaining: usize,
    },
    /// A table is in place, or failed (then with its error).
    TableFinished {
        table: &'a str,
        status: Status,
        rows: u64,
        seconds: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a str>,
    },
    /// The run is over.
    RunFinished { ok: bool, rows: u64, seconds: f64 },
}

/// Receives a run's events, from several worker tasks at once: keep `event` quick.
pub trait Observer: Send + Sync {
    fn event(&self, event: &Event<'_>);
}

/// An observer in `CopyOptions` (which is `Debug` and `Clone`).
#[derive(Clone)]
pub struct ObserverHandle(pub Arc<dyn Observer>);

impl std::fmt::Debug for ObserverHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

impl ObserverHandle {
    pub fn new(o: impl Observer + 'static) -> ObserverHandle {
        ObserverHandle(Arc::new(o))
    }
}

/// Emit to an optional observer.
pub(crate) fn emit(o: &Option<ObserverHandle>, e: Event<'_>) {
    if let Some(o) = o {
        o.0.event(&e);
    }
}

/// Events as JSON, one object per line, with the seconds since the run began (`t`).
pub struct JsonLines<W: std::io::Write + Send> {
    out: std::sync::Mutex<W>,
    started: std::time::Instant,
}

impl<W: std::io::Write + Send> JsonLines<W> {
    pub fn new(out: W) -> Self {
        JsonLines {
            out: std::sync::Mutex::new(out),
            started: std::time::Instant::now(),
        }
    }
}

impl<W: std::io::Write + Send> Observer for JsonLines<W> {
    fn event(&self, event: &Event<'_>) {
        let mut v = serde_json::to_value(event).unwrap_or_default();
        // The clock is read under the lock, so that lines from several workers come out in
        // the order of their times.
        let mut out = self.out.lock().unwrap();
        if let Some(m) = v.as_object_mut() {
            let t = (self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
            m.insert("t".into(), t.into());
        }
        let _ = writeln!(out, "{v}");
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_as_json_lines() {
        let buf: Vec<u8> = Vec::new();
        let j = JsonLines::new(buf);
        j.event(&Event::TableStarted {
            table: "posts",
            rows: 10,
            partitions: 2,
        });
        j.event(&Event::TableFinished {
            table: "posts",
            status: Status::Ok,
            rows: 10,
            seconds: 0.5,
            error: None,
        });
        let text = String::from_utf8(j.out.into_inner().unwrap()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["event"], "table_started");
        assert_eq!(lines[0]["partitions"], 2);
        assert_eq!(lines[1]["status"], "ok");
        assert!(lines[1].get("error").is_none());
        assert!(lines[1]["t"].is_number());
    }
}
