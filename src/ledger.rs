//! The ledger: a run's plan and the state of each of its partitions, kept in the target
//! database. A partition's rows and its `done` mark commit in one target transaction, so a
//! crash leaves each partition either fully in with its mark or not in at all; a rerun
//! continues where the last one stopped, and processes on several machines share one copy by
//! claiming partitions from it. The SQL of each engine's ledger lives in its folder; this is
//! what they share: the records, the states, and the fingerprints that tell whether a rerun
//! is the same copy.

use crate::error::Result;
use crate::partition::KeyRange;
use crate::plan::TablePlan;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// How long a claim holds without being renewed. A worker renews every third of it; one whose
/// process died is noticed sooner, by its session lock (see the engines' ledgers).
pub const LEASE_SECONDS: u32 = 30;

/// A run as recorded before any data moves.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub run: String,
    /// Of the options that change what lands in the target (mode, dates, errors, schema).
    pub fingerprint: String,
    /// The command that planned the run (URLs without passwords): what `barge work` replays.
    pub spec: String,
    /// The source, redacted.
    pub source: String,
    /// The instant `now()` stands for in every partition of the run.
    pub now_micros: i64,
    /// The source snapshot readers import (`--consistent` from PostgreSQL).
    pub snapshot: Option<String>,
    pub tables: Vec<TableRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableRecord {
    /// The table's place in the plan (load order).
    pub index: u32,
    pub source: String,
    pub target: String,
    /// Of the table's plan: columns, types, keys, filter, expressions.
    pub fingerprint: String,
    /// Rows counted when the run was planned.
    pub source_rows: u64,
    /// Tables of wave n+1 load once those of wave n are finished (their keys remapped).
    pub wave: u32,
    pub partitions: Vec<PartRecord>,
    /// Why the table failed before it could be partitioned (it has no partitions then).
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PartRecord {
    pub id: u32,
    /// `None`: the whole table.
    pub range: Option<KeyRange>,
    pub est_rows: u64,
}

/// A table's state in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableState {
    /// Partitions are being loaded into its staging table.
    Loading,
    /// Someone is putting it in place (keys, indexes, swap).
    Finishing,
    Done,
    Failed,
}

impl TableState {
    pub fn as_str(self) -> &'static str {
        match self {
            TableState::Loading => "loading",
            TableState::Finishing => "finishing",
            TableState::Done => "done",
            TableState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> TableState {
        match s {
            "finishing" => TableState::Finishing,
            "done" => TableState::Done,
            "failed" => TableState::Failed,
            _ => TableState::Loading,
        }
    }
}

/// A partition a worker holds, until its lease runs out.
#[derive(Debug, Clone)]
pub struct Claim {
    pub table: u32,
    pub part: u32,
    /// Bumped by every claim: a mark with an older epoch is refused (the lease was lost).
    pub epoch: i64,
    pub range: Option<KeyRange>,
    /// Earlier attempts that ended in a transient error.
    pub attempts: u32,
}

/// What a writer records in the transaction that commits a partition's rows.
#[derive(Debug, Clone)]
pub struct Mark {
    pub run: String,
    pub table: u32,
    pub part: u32,
    pub epoch: i64,
    /// `PartitionStats` as JSON.
    pub stats: String,
}

/// What the finish of a table records in its transaction (or right after its DDL).
#[derive(Debug, Clone)]
pub struct FinishMark {
    pub run: String,
    pub table: u32,
    pub epoch: i64,
}

/// What loading one partition did: kept with its `done` mark, so whoever finishes the table
/// (another process, or a rerun) knows the whole table's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PartitionStats {
    pub read: u64,
    pub rejected: u64,
    pub filtered: u64,
    pub written: u64,
    pub bytes: u64,
    /// NULLs written per target column (whether a deferred NOT NULL can be set).
    pub nulls: Vec<u64>,
    /// Dates turned into NULL per read column: zero, partial, impossible.
    pub dates: Vec<[u64; 3]>,
    /// The rows written, as `content_hash` sums them: a table's is its partitions' sum.
    pub checksum: u64,
    /// The files holding the rows left out (`rejects::Rejects::stage`), written before the
    /// rows commit: the mark names the attempt's own, so a crash between the two leaves no
    /// line of an attempt that did not commit.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reject_parts: Vec<String>,
}

impl PartitionStats {
    pub fn add(&mut self, o: &PartitionStats) {
        self.read += o.read;
        self.rejected += o.rejected;
        self.filtered += o.filtered;
        self.written += o.written;
        self.bytes += o.bytes;
        self.checksum = self.checksum.wrapping_add(o.checksum);
        self.reject_parts.extend(o.reject_parts.iter().cloned());
        add_each(&mut self.nulls, &o.nulls, |a, b| *a += b);
        add_each(&mut self.dates, &o.dates, |a, b| {
            for i in 0..3 {
                a[i] += b[i];
            }
        });
    }
}

fn add_each<T: Default + Clone>(into: &mut Vec<T>, from: &[T], f: impl Fn(&mut T, &T)) {
    if into.len() < from.len() {
        into.resize(from.len(), T::default());
    }
    for (a, b) in into.iter_mut().zip(from) {
        f(a, b);
    }
}

/// One table as the ledger sees it now.
#[derive(Debug, Clone)]
pub struct TableTotals {
    pub state: TableState,
    pub error: Option<String>,
    pub partitions: u32,
    pub done: u32,
    pub failed: u32,
    /// Claimed and not expired, with who holds them.
    pub running: Vec<String>,
    /// Estimated rows of the partitions not yet in.
    pub rows_left: u64,
    /// Summed over the done partitions.
    pub stats: PartitionStats,
}

impl TableTotals {
    pub fn new(state: TableState, error: Option<String>) -> TableTotals {
        TableTotals {
            state,
            error,
            partitions: 0,
            done: 0,
            failed: 0,
            running: vec![],
            rows_left: 0,
            stats: PartitionStats::default(),
        }
    }

    /// Count one partition row of the ledger: its state, its stats (JSON) when done, its
    /// estimated rows, and who runs it when it is claimed by a live worker.
    pub fn count(
        &mut self,
        state: &str,
        stats: Option<&str>,
        est_rows: u64,
        running: Option<String>,
    ) {
        self.partitions += 1;
        match state {
            "done" => {
                self.done += 1;
                if let Some(s) = stats.and_then(|s| serde_json::from_str(s).ok()) {
                    self.stats.add(&s);
                }
            }
            "failed" => self.failed += 1,
            _ => self.rows_left += est_rows,
        }
        self.running.extend(running);
    }
}

/// `(1, 2, 3), (4, 5, 6)`: what a process holds, as an SQL row list for `IN (…)`.
pub fn held_list<T: std::fmt::Debug>(held: &[T]) -> String {
    held.iter()
        .map(|h| format!("{h:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a run's plan and partition states are kept. One instance per process: it holds the
/// process's identity and the session lock that tells other processes it is alive.
#[async_trait::async_trait]
pub trait Ledger: Send + Sync {
    /// Whether writers record `done` marks in their own transactions (a ledger in the
    /// target); otherwise `done` records them.
    fn durable(&self) -> bool;

    /// This process, as claims name it (host and pid).
    fn process(&self) -> &str;

    /// The run recorded under this name, with its tables and partitions.
    async fn load(&self, run: &str) -> Result<Option<RunRecord>>;

    /// Record a new run, replacing what an earlier one left under its name.
    async fn record(&self, run: &RunRecord) -> Result<()>;

    /// Forget the run; the ledger itself goes once it holds no run.
    async fn remove(&self, run: &str) -> Result<()>;

    /// A rerun: failed partitions go back to pending, failed tables to loading (or to
    /// finishing when every partition is in).
    async fn reopen(&self, run: &str) -> Result<()>;

    /// The source snapshot the run's readers import from now on (a resumed `--consistent`
    /// run takes a new one).
    async fn set_snapshot(&self, run: &str, snapshot: Option<&str>) -> Result<()>;

    /// Claim the biggest pending (or abandoned) partition of `wave`, for `task` of this
    /// process.
    /// `cap`: skip tables with that many partitions claimed by live workers (0: no cap).
    /// Two workers claiming at one instant may both pass it: a cap, not a semaphore.
    async fn claim(&self, run: &str, task: usize, wave: u32, cap: u32) -> Result<Option<Claim>>;

    /// Record a partition as done, where writers do not (`durable` false).
    async fn done(&self, mark: &Mark) -> Result<()>;

    /// Give a claimed partition up: back to pending after a transient error, or failed
    /// (and its table with it) with `error`.
    async fn release(&self, run: &str, claim: &Claim, error: Option<&str>) -> Result<()>;

    /// Claim the finish of a table of `wave` whose partitions are all in and that nobody
    /// (alive) is finishing.
    async fn claim_finish(&self, run: &str, task: usize, wave: u32) -> Result<Option<FinishMark>>;

    /// Record a table as done, where its finish does not (`durable` false).
    async fn finished(&self, mark: &FinishMark) -> Result<()>;

    /// Give a claimed finish up after a transient error: someone may claim it again.
    async fn release_finish(&self, mark: &FinishMark) -> Result<()>;

    /// Record a table as failed.
    async fn table_failed(&self, run: &str, table: u32, error: &str) -> Result<()>;

    /// Whether anything of `wave` is still to load or finish (here or elsewhere).
    async fn wave_open(&self, run: &str, wave: u32) -> Result<bool>;

    /// Every table of the run, in plan order.
    async fn totals(&self, run: &str) -> Result<Vec<TableTotals>>;

    /// Extend the leases of the partitions (table, partition, epoch) and finishes (table,
    /// epoch) this process is working on; nothing else, so a claim it lost track of (its
    /// answer lost with a connection) runs out.
    async fn renew(
        &self,
        run: &str,
        parts: &[(u32, u32, i64)],
        tables: &[(u32, i64)],
    ) -> Result<()>;

    /// The runs recorded.
    async fn runs(&self) -> Result<Vec<String>>;

    /// Seconds since the run was recorded, by the ledger's clock.
    async fn elapsed(&self, run: &str) -> Result<f64>;

    /// Claim the run's last step (foreign keys, cleanup) once every table is done or
    /// failed: true for exactly one process.
    async fn claim_end(&self, run: &str) -> Result<bool>;
}

/// This process's name in claims: host and pid, unique across machines.
pub fn process_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}/{}", std::process::id())
}

/// A 62-bit key for `process` (session locks take an integer on PostgreSQL); salted with
/// the time, so a pid reused after a crash is another worker.
pub fn process_key(process: &str) -> i64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let h = crate::plan::fnv64(process.as_bytes()) ^ nanos.rotate_left(17);
    (h >> 2) as i64
}

/// The fingerprint of a table's plan: what it reads and how it writes it, without what may
/// change between two runs of the same copy (row estimates, warnings, notes).
pub fn table_fingerprint(plan: &TablePlan) -> String {
    let mut v = serde_json::to_value(plan).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        for volatile in ["estimated_rows", "warnings", "notes"] {
            o.remove(volatile);
        }
    }
    format!("{:016x}", crate::plan::fnv64(v.to_string().as_bytes()))
}

/// The fingerprint of run-wide options, as name → value text, so a mismatch can say which.
pub fn options_fingerprint(options: &BTreeMap<&str, String>) -> String {
    serde_json::to_string(options).unwrap_or_default()
}

/// What differs between a recorded run and the one asked for now; empty when they match.
pub fn differences(recorded: &RunRecord, now: &RunRecord) -> Vec<String> {
    let mut out = Vec::new();
    let old: BTreeMap<String, String> =
        serde_json::from_str(&recorded.fingerprint).unwrap_or_default();
    let new: BTreeMap<String, String> = serde_json::from_str(&now.fingerprint).unwrap_or_default();
    for (k, v) in &new {
        match old.get(k) {
            Some(o) if o != v => out.push(format!("{k} was {o}, now {v}")),
            None => out.push(format!("{k} is new ({v})")),
            _ => {}
        }
    }
    let by_name = |r: &RunRecord| -> BTreeMap<String, String> {
        r.tables
            .iter()
            .map(|t| (t.source.clone(), t.fingerprint.clone()))
            .collect()
    };
    let (old_t, new_t) = (by_name(recorded), by_name(now));
    let added: Vec<&str> = new_t
        .keys()
        .filter(|t| !old_t.contains_key(*t))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = old_t
        .keys()
        .filter(|t| !new_t.contains_key(*t))
        .map(String::as_str)
        .collect();
    let changed: Vec<&str> = new_t
        .iter()
        .filter(|(t, f)| old_t.get(*t).is_some_and(|o| o != *f))
        .map(|(t, _)| t.as_str())
        .collect();
    if !added.is_empty() {
        out.push(format!("tables added: {}", added.join(", ")));
    }
    if !removed.is_empty() {
        out.push(format!("tables no longer copied: {}", removed.join(", ")));
    }
    if !changed.is_empty() {
        out.push(format!(
            "tables whose source schema or job changed (columns, types, keys, filter or \
             expressions): {}",
            changed.join(", ")
        ));
    }
    out
}

/// A ledger in memory, for runs that keep none in the target (`--no-ledger`): the same
/// claims, within one process, and nothing survives it.
pub struct MemoryLedger {
    process: String,
    state: Mutex<Option<MemRun>>,
}

struct MemRun {
    record: RunRecord,
    tables: Vec<MemTable>,
}

struct MemTable {
    state: TableState,
    error: Option<String>,
    parts: Vec<MemPart>,
}

#[derive(Clone)]
struct MemPart {
    state: &'static str,
    epoch: i64,
    attempts: u32,
    holder: Option<String>,
    stats: PartitionStats,
}

impl Default for MemoryLedger {
    fn default() -> Self {
        MemoryLedger {
            process: process_name(),
            state: Mutex::new(None),
        }
    }
}

impl MemoryLedger {
    fn with<T>(&self, f: impl FnOnce(&mut MemRun) -> T) -> Result<T> {
        let mut g = self.state.lock().unwrap();
        match g.as_mut() {
            Some(r) => Ok(f(r)),
            None => Err(crate::error::Error::Config("no run is recorded".into())),
        }
    }
}

#[async_trait::async_trait]
impl Ledger for MemoryLedger {
    fn durable(&self) -> bool {
        false
    }

    fn process(&self) -> &str {
        &self.process
    }

    async fn load(&self, _run: &str) -> Result<Option<RunRecord>> {
        Ok(None)
    }

    async fn record(&self, run: &RunRecord) -> Result<()> {
        let tables = run
            .tables
            .iter()
            .map(|t| MemTable {
                state: if t.error.is_some() {
                    TableState::Failed
                } else {
                    TableState::Loading
                },
                error: t.error.clone(),
                parts: vec![
                    MemPart {
                        state: "pending",
                        epoch: 0,
                        attempts: 0,
                        holder: None,
                        stats: Default::default(),
                    };
                    t.partitions.len()
                ],
            })
            .collect();
        *self.state.lock().unwrap() = Some(MemRun {
            record: run.clone(),
            tables,
        });
        Ok(())
    }

    async fn remove(&self, _run: &str) -> Result<()> {
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    async fn reopen(&self, _run: &str) -> Result<()> {
        Ok(())
    }

    async fn set_snapshot(&self, _run: &str, _snapshot: Option<&str>) -> Result<()> {
        Ok(())
    }

    async fn claim(&self, _run: &str, task: usize, wave: u32, cap: u32) -> Result<Option<Claim>> {
        let process = self.process.clone();
        self.with(|r| {
            let mut best: Option<(u64, usize, usize)> = None;
            for (t, (rec, mt)) in r.record.tables.iter().zip(&r.tables).enumerate() {
                if rec.wave != wave || mt.state != TableState::Loading {
                    continue;
                }
                let running = mt.parts.iter().filter(|p| p.state == "claimed").count();
                if cap > 0 && running >= cap as usize {
                    continue;
                }
                for (p, mp) in mt.parts.iter().enumerate() {
                    let est = rec.partitions[p].est_rows;
                    if mp.state == "pending" && best.is_none_or(|(b, _, _)| est > b) {
                        best = Some((est, t, p));
                    }
                }
            }
            best.map(|(_, t, p)| {
                let mp = &mut r.tables[t].parts[p];
                mp.state = "claimed";
                mp.epoch += 1;
                mp.holder = Some(format!("{process}#{task}"));
                Claim {
                    table: t as u32,
                    part: p as u32,
                    epoch: mp.epoch,
                    range: r.record.tables[t].partitions[p].range.clone(),
                    attempts: mp.attempts,
                }
            })
        })
    }

    async fn done(&self, mark: &Mark) -> Result<()> {
        let stats: PartitionStats = serde_json::from_str(&mark.stats).unwrap_or_default();
        self.with(|r| {
            let mp = &mut r.tables[mark.table as usize].parts[mark.part as usize];
            if mp.epoch == mark.epoch && mp.state == "claimed" {
                mp.state = "done";
                mp.holder = None;
                mp.stats = stats;
            }
        })
    }

    async fn release(&self, _run: &str, claim: &Claim, error: Option<&str>) -> Result<()> {
        self.with(|r| {
            let mt = &mut r.tables[claim.table as usize];
            let mp = &mut mt.parts[claim.part as usize];
            if mp.epoch != claim.epoch {
                return;
            }
            mp.holder = None;
            match error {
                None => {
                    mp.state = "pending";
                    mp.attempts += 1;
                }
                Some(e) => {
                    mp.state = "failed";
                    if mt.state != TableState::Failed {
                        mt.state = TableState::Failed;
                        mt.error = Some(e.to_string());
                    }
                }
            }
        })
    }

    async fn claim_finish(&self, run: &str, _task: usize, wave: u32) -> Result<Option<FinishMark>> {
        self.with(|r| {
            for (t, (rec, mt)) in r.record.tables.iter().zip(r.tables.iter_mut()).enumerate() {
                if rec.wave == wave
                    && mt.state == TableState::Loading
                    && mt.parts.iter().all(|p| p.state == "done")
                {
                    mt.state = TableState::Finishing;
                    return Some(FinishMark {
                        run: run.to_string(),
                        table: t as u32,
                        epoch: 1,
                    });
                }
            }
            None
        })
    }

    async fn finished(&self, mark: &FinishMark) -> Result<()> {
        self.with(|r| {
            let mt = &mut r.tables[mark.table as usize];
            if mt.state == TableState::Finishing {
                mt.state = TableState::Done;
            }
        })
    }

    async fn release_finish(&self, mark: &FinishMark) -> Result<()> {
        self.with(|r| {
            let mt = &mut r.tables[mark.table as usize];
            if mt.state == TableState::Finishing {
                mt.state = TableState::Loading;
            }
        })
    }

    async fn table_failed(&self, _run: &str, table: u32, error: &str) -> Result<()> {
        self.with(|r| {
            let mt = &mut r.tables[table as usize];
            if mt.state != TableState::Failed {
                mt.state = TableState::Failed;
                mt.error = Some(error.to_string());
            }
        })
    }

    async fn wave_open(&self, _run: &str, wave: u32) -> Result<bool> {
        self.with(|r| {
            r.record.tables.iter().zip(&r.tables).any(|(rec, mt)| {
                rec.wave == wave && matches!(mt.state, TableState::Loading | TableState::Finishing)
            })
        })
    }

    async fn totals(&self, _run: &str) -> Result<Vec<TableTotals>> {
        self.with(|r| {
            r.tables
                .iter()
                .map(|mt| {
                    let mut stats = PartitionStats::default();
                    for p in mt.parts.iter().filter(|p| p.state == "done") {
                        stats.add(&p.stats);
                    }
                    TableTotals {
                        partitions: mt.parts.len() as u32,
                        done: mt.parts.iter().filter(|p| p.state == "done").count() as u32,
                        failed: mt.parts.iter().filter(|p| p.state == "failed").count() as u32,
                        running: mt.parts.iter().filter_map(|p| p.holder.clone()).collect(),
                        stats,
                        ..TableTotals::new(mt.state, mt.error.clone())
                    }
                })
                .collect()
        })
    }

    async fn renew(&self, _run: &str, _: &[(u32, u32, i64)], _: &[(u32, i64)]) -> Result<()> {
        Ok(())
    }

    async fn claim_end(&self, _run: &str) -> Result<bool> {
        Ok(true)
    }

    async fn runs(&self) -> Result<Vec<String>> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.record.run.clone())
            .collect())
    }

    async fn elapsed(&self, _run: &str) -> Result<f64> {
        Ok(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(parts: &[u64]) -> RunRecord {
        RunRecord {
            run: "r".into(),
            fingerprint: "{}".into(),
            spec: String::new(),
            source: String::new(),
            now_micros: 0,
            snapshot: None,
            tables: vec![TableRecord {
                index: 0,
                source: "t".into(),
                target: "t".into(),
                fingerprint: "f".into(),
                source_rows: parts.iter().sum(),
                wave: 0,
                partitions: parts
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| PartRecord {
                        id: i as u32,
                        range: None,
                        est_rows: n,
                    })
                    .collect(),
                error: None,
            }],
        }
    }

    #[tokio::test]
    async fn memory_ledger_claims_biggest_first_and_finishes_once() {
        let l = MemoryLedger::default();
        l.record(&record(&[10, 30, 20])).await.unwrap();
        let order: Vec<u32> = {
            let mut v = vec![];
            while let Some(c) = l.claim("r", 0, 0, 0).await.unwrap() {
                v.push(c.part);
                if c.part == 0 {
                    // A transient failure puts it back, with its attempt counted.
                    l.release("r", &c, None).await.unwrap();
                    let again = l.claim("r", 0, 0, 0).await.unwrap().unwrap();
                    assert_eq!((again.part, again.attempts), (0, 1));
                    assert!(again.epoch > c.epoch);
                    let stale = Mark {
                        run: "r".into(),
                        table: 0,
                        part: 0,
                        epoch: c.epoch,
                        stats: "{\"read\":1}".into(),
                    };
                    l.done(&stale).await.unwrap();
                    assert_eq!(l.totals("r").await.unwrap()[0].done, 2);
                    l.done(&Mark {
                        epoch: again.epoch,
                        ..stale
                    })
                    .await
                    .unwrap();
                    continue;
                }
                l.done(&Mark {
                    run: "r".into(),
                    table: 0,
                    part: c.part,
                    epoch: c.epoch,
                    stats: "{\"read\":5,\"nulls\":[1,2]}".into(),
                })
                .await
                .unwrap();
            }
            v
        };
        assert_eq!(order, vec![1, 2, 0]);
        let t = &l.totals("r").await.unwrap()[0];
        assert_eq!(
            (t.done, t.stats.read, t.stats.nulls.clone()),
            (3, 11, vec![2, 4])
        );
        assert!(l.wave_open("r", 0).await.unwrap());
        let f = l.claim_finish("r", 0, 0).await.unwrap().unwrap();
        assert!(l.claim_finish("r", 0, 0).await.unwrap().is_none());
        l.finished(&f).await.unwrap();
        assert!(!l.wave_open("r", 0).await.unwrap());
    }

    #[test]
    fn differences_name_what_changed() {
        let mut a = record(&[1]);
        a.fingerprint = r#"{"mode":"create"}"#.into();
        let mut b = a.clone();
        assert!(differences(&a, &b).is_empty());
        b.fingerprint = r#"{"mode":"data only"}"#.into();
        b.tables[0].fingerprint = "g".into();
        b.tables.push(TableRecord {
            source: "u".into(),
            ..b.tables[0].clone()
        });
        let d = differences(&a, &b).join("; ");
        assert!(d.contains("mode was create, now data only"), "{d}");
        assert!(d.contains("tables added: u"), "{d}");
        assert!(
            d.contains("changed (columns, types, keys, filter or expressions): t"),
            "{d}"
        );
    }
}
