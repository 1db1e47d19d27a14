//! The ledger in a PostgreSQL target: schema `_barge`, one row per run, table and partition.
//! Claims take rows with `FOR UPDATE SKIP LOCKED`; a process holds a session advisory lock
//! for as long as it lives, so its claims are free again the moment its connection is gone
//! (`kill -9`, a lost network), not only when the lease runs out.

use crate::error::{Error, Result, Side};
use crate::ledger::{
    Claim, FinishMark, Ledger, Mark, RunRecord, TableState, TableTotals, LEASE_SECONDS,
};
use crate::partition::KeyRange;
use crate::url::DbUrl;
use tokio::sync::Mutex;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row};

pub const SCHEMA: &str = "_barge";

const CREATE: &str = "
CREATE SCHEMA IF NOT EXISTS _barge;
CREATE TABLE IF NOT EXISTS _barge.runs (
    run text PRIMARY KEY,
    fingerprint text NOT NULL,
    spec text NOT NULL,
    source text NOT NULL,
    now_micros bigint NOT NULL,
    snapshot text,
    state text NOT NULL DEFAULT 'loading',
    created timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS _barge.tables (
    run text NOT NULL REFERENCES _barge.runs ON DELETE CASCADE,
    tab integer NOT NULL,
    source text NOT NULL,
    target text NOT NULL,
    fingerprint text NOT NULL,
    source_rows bigint NOT NULL,
    wave integer NOT NULL,
    state text NOT NULL,
    error text,
    worker text,
    worker_key bigint,
    lease_until timestamptz,
    epoch bigint NOT NULL DEFAULT 0,
    finished timestamptz,
    PRIMARY KEY (run, tab)
);
CREATE TABLE IF NOT EXISTS _barge.partitions (
    run text NOT NULL,
    tab integer NOT NULL,
    part integer NOT NULL,
    key_column text,
    lo text,
    hi text,
    est_rows bigint NOT NULL,
    wave integer NOT NULL,
    state text NOT NULL,
    worker text,
    worker_key bigint,
    lease_until timestamptz,
    epoch bigint NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    stats text,
    error text,
    started timestamptz,
    finished timestamptz,
    PRIMARY KEY (run, tab, part),
    FOREIGN KEY (run, tab) REFERENCES _barge.tables ON DELETE CASCADE
)";

/// A holder (row alias `x`) is gone: its lease ran out, or its process's lock is free.
fn gone(x: &str) -> String {
    format!(
        "({x}.lease_until < now() OR NOT EXISTS (SELECT 1 FROM pg_locks l \
          WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
            AND ((l.classid::bigint << 32) | l.objid::bigint) = {x}.worker_key))"
    )
}

fn lease() -> String {
    format!("now() + interval '{LEASE_SECONDS} seconds'")
}

/// The statement a writer runs in its partition's transaction, before COMMIT; one row
/// changed, or the lease was lost.
pub const MARK_SQL: &str = "UPDATE _barge.partitions SET state = 'done', stats = $5, \
    finished = now(), lease_until = NULL, error = NULL \
    WHERE run = $1 AND tab = $2 AND part = $3 AND epoch = $4 AND state = 'claimed'";

/// The statement a table's finishing transaction runs last.
pub const FINISH_SQL: &str = "UPDATE _barge.tables SET state = 'done', finished = now(), \
    lease_until = NULL, error = NULL \
    WHERE run = $1 AND tab = $2 AND epoch = $3 AND state = 'finishing'";

/// Run a partition's mark inside the writer's open transaction.
pub async fn mark(client: &Client, m: &Mark) -> Result<u64> {
    client
        .execute(
            MARK_SQL,
            &[
                &m.run,
                &(m.table as i32),
                &(m.part as i32),
                &m.epoch,
                &m.stats,
            ],
        )
        .await
        .map_err(|source| Error::Postgres {
            context: "recording a partition as done in the ledger".into(),
            source,
        })
}

/// Run a table's finish mark inside its finishing transaction.
pub async fn mark_finished(tx: &tokio_postgres::Transaction<'_>, m: &FinishMark) -> Result<u64> {
    tx.execute(FINISH_SQL, &[&m.run, &(m.table as i32), &m.epoch])
        .await
        .map_err(|source| Error::Postgres {
            context: "recording a table as done in the ledger".into(),
            source,
        })
}

pub struct PgLedger {
    url: DbUrl,
    process: String,
    key: i64,
    client: Mutex<Option<Client>>,
}

impl PgLedger {
    pub async fn open(url: &DbUrl) -> Result<PgLedger> {
        let process = crate::ledger::process_name();
        let ledger = PgLedger {
            url: url.clone(),
            key: crate::ledger::process_key(&process),
            process,
            client: Mutex::new(None),
        };
        ledger.query("SELECT 1", &[]).await?;
        Ok(ledger)
    }

    /// A statement on the ledger's connection, reconnecting (and taking the process's lock
    /// again) when the connection was lost. Statements that may run twice only.
    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let mut tries = 0;
        loop {
            let mut g = self.client.lock().await;
            if g.as_ref().is_none_or(|c| c.is_closed()) {
                let c = super::connect::pg_connect(&self.url, Side::Target).await?;
                c.execute("SELECT pg_advisory_lock($1)", &[&self.key])
                    .await
                    .map_err(|source| Error::Postgres {
                        context: "taking the ledger's process lock".into(),
                        source,
                    })?;
                *g = Some(c);
            }
            let c = g.as_ref().expect("connected above");
            match c.query(sql, params).await {
                Ok(rows) => return Ok(rows),
                // The ledger is gone: the run was completed (and removed) by another process.
                Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
                    return Ok(vec![])
                }
                Err(e) if tries < 3 && (e.is_closed() || is_retryable(&e)) => {
                    tries += 1;
                    if e.is_closed() {
                        *g = None;
                    }
                    drop(g);
                    tokio::time::sleep(std::time::Duration::from_millis(100 << tries)).await;
                }
                Err(source) => {
                    return Err(Error::Postgres {
                        context: "ledger".into(),
                        source,
                    })
                }
            }
        }
    }

    async fn batch(&self, sql: &str) -> Result<()> {
        let mut g = self.client.lock().await;
        if g.as_ref().is_none_or(|c| c.is_closed()) {
            drop(g);
            self.query("SELECT 1", &[]).await?;
            g = self.client.lock().await;
        }
        let c = g.as_ref().expect("connected above");
        match c.batch_execute(sql).await {
            Ok(()) => Ok(()),
            Err(source) => {
                // A failed statement leaves its transaction open and aborted.
                let _ = c.batch_execute("ROLLBACK").await;
                Err(Error::Postgres {
                    context: "ledger".into(),
                    source,
                })
            }
        }
    }

    async fn exists(&self) -> Result<bool> {
        let rows = self
            .query("SELECT to_regclass('_barge.partitions') IS NOT NULL", &[])
            .await?;
        Ok(rows.first().is_some_and(|r| r.get(0)))
    }
}

/// Errors a ledger statement may be run again after: a deadlock or serialization failure,
/// the server shutting a session down.
fn is_retryable(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::ADMIN_SHUTDOWN
    })
}

fn range_of(row: &Row, col: usize) -> Option<KeyRange> {
    let column: Option<String> = row.get(col);
    let lo: Option<String> = row.get(col + 1);
    let hi: Option<String> = row.get(col + 2);
    Some(KeyRange {
        column: column?,
        lo: lo?.parse().ok()?,
        hi: hi?.parse().ok()?,
    })
}

#[async_trait::async_trait]
impl Ledger for PgLedger {
    fn durable(&self) -> bool {
        true
    }

    fn process(&self) -> &str {
        &self.process
    }

    async fn load(&self, run: &str) -> Result<Option<RunRecord>> {
        if !self.exists().await? {
            return Ok(None);
        }
        let runs = self
            .query(
                "SELECT fingerprint, spec, source, now_micros, snapshot FROM _barge.runs WHERE run = $1",
                &[&run],
            )
            .await?;
        let Some(r) = runs.first() else {
            return Ok(None);
        };
        let mut record = RunRecord {
            run: run.to_string(),
            fingerprint: r.get(0),
            spec: r.get(1),
            source: r.get(2),
            now_micros: r.get(3),
            snapshot: r.get(4),
            tables: vec![],
        };
        for t in self
            .query(
                "SELECT tab, source, target, fingerprint, source_rows, wave, error \
                 FROM _barge.tables WHERE run = $1 ORDER BY tab",
                &[&run],
            )
            .await?
        {
            record.tables.push(crate::ledger::TableRecord {
                index: t.get::<_, i32>(0) as u32,
                source: t.get(1),
                target: t.get(2),
                fingerprint: t.get(3),
                source_rows: t.get::<_, i64>(4) as u64,
                wave: t.get::<_, i32>(5) as u32,
                partitions: vec![],
                error: t.get(6),
            });
        }
        for p in self
            .query(
                "SELECT tab, part, est_rows, key_column, lo, hi FROM _barge.partitions \
                 WHERE run = $1 ORDER BY tab, part",
                &[&run],
            )
            .await?
        {
            let tab = p.get::<_, i32>(0) as usize;
            if let Some(t) = record.tables.get_mut(tab) {
                t.partitions.push(crate::ledger::PartRecord {
                    id: p.get::<_, i32>(1) as u32,
                    est_rows: p.get::<_, i64>(2) as u64,
                    range: range_of(&p, 3),
                });
            }
        }
        Ok(Some(record))
    }

    async fn record(&self, run: &RunRecord) -> Result<()> {
        // One transaction, built as text: a plan of many partitions in one round trip. The
        // lock makes processes that create the ledger at once take turns, and it is held
        // until the run is in: `remove` of another run, which drops the ledger once it
        // holds no run, takes it too, so it sees this run (READ COMMITTED would not).
        let lit = crate::engine::postgres::write::quote_literal;
        let opt = |s: &Option<String>| s.as_deref().map_or("NULL".into(), lit);
        let mut sql = format!(
            "BEGIN; SELECT pg_advisory_xact_lock(hashtext('barge ledger')); {CREATE}; \
             DELETE FROM _barge.runs WHERE run = {run}; \
             INSERT INTO _barge.runs (run, fingerprint, spec, source, now_micros, snapshot) \
             VALUES ({run}, {}, {}, {}, {}, {});",
            lit(&run.fingerprint),
            lit(&run.spec),
            lit(&run.source),
            run.now_micros,
            opt(&run.snapshot),
            run = lit(&run.run),
        );
        for t in &run.tables {
            sql.push_str(&format!(
                "INSERT INTO _barge.tables (run, tab, source, target, fingerprint, source_rows, wave, state, error) \
                 VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {});",
                lit(&run.run),
                t.index,
                lit(&t.source),
                lit(&t.target),
                lit(&t.fingerprint),
                t.source_rows,
                t.wave,
                lit(if t.error.is_some() { "failed" } else { "loading" }),
                opt(&t.error),
            ));
            for p in &t.partitions {
                let (col, lo, hi) = match &p.range {
                    Some(r) => (
                        lit(&r.column),
                        lit(&r.lo.to_string()),
                        lit(&r.hi.to_string()),
                    ),
                    None => ("NULL".into(), "NULL".into(), "NULL".into()),
                };
                sql.push_str(&format!(
                    "INSERT INTO _barge.partitions (run, tab, part, key_column, lo, hi, est_rows, wave, state) \
                     VALUES ({}, {}, {}, {col}, {lo}, {hi}, {}, {}, 'pending');",
                    lit(&run.run),
                    t.index,
                    p.id,
                    p.est_rows,
                    t.wave
                ));
            }
        }
        sql.push_str("COMMIT");
        self.batch(&sql).await.map_err(|e| match e {
            Error::Postgres { source, .. } => Error::Postgres {
                context: "recording the run in the ledger (schema _barge) in the target".into(),
                source,
            },
            e => e,
        })
    }

    async fn remove(&self, run: &str) -> Result<()> {
        if !self.exists().await? {
            return Ok(());
        }
        self.query("DELETE FROM _barge.runs WHERE run = $1", &[&run])
            .await?;
        // The last run gone: leave nothing of barge behind. Another process may have dropped
        // the ledger while this one waited for the lock (and this session's catalog cache may
        // not know yet): then there is nothing left to drop.
        self.batch(
            "BEGIN; SELECT pg_advisory_xact_lock(hashtext('barge ledger')); \
             DO $$ BEGIN \
               IF NOT EXISTS (SELECT 1 FROM _barge.runs) THEN DROP SCHEMA _barge CASCADE; END IF; \
             EXCEPTION WHEN undefined_table OR invalid_schema_name THEN NULL; \
             END $$; \
             COMMIT",
        )
        .await
    }

    async fn set_snapshot(&self, run: &str, snapshot: Option<&str>) -> Result<()> {
        self.query(
            "UPDATE _barge.runs SET snapshot = $2 WHERE run = $1",
            &[&run, &snapshot],
        )
        .await?;
        Ok(())
    }

    async fn reopen(&self, run: &str) -> Result<()> {
        // A failed table's staging was dropped (it is rolled back alone): all of it loads
        // again.
        self.query(
            "UPDATE _barge.partitions p SET state = 'pending', error = NULL, stats = NULL \
             FROM _barge.tables t WHERE t.run = p.run AND t.tab = p.tab AND p.run = $1 \
               AND (t.state = 'failed' OR p.state = 'failed')",
            &[&run],
        )
        .await?;
        // A table that failed before it had partitions stays failed: it needs a new plan.
        self.query(
            "UPDATE _barge.tables t SET state = 'loading', error = NULL \
             WHERE run = $1 AND state = 'failed' \
               AND EXISTS (SELECT 1 FROM _barge.partitions p WHERE p.run = t.run AND p.tab = t.tab)",
            &[&run],
        )
        .await?;
        self.query(
            "UPDATE _barge.runs SET state = 'loading' WHERE run = $1",
            &[&run],
        )
        .await?;
        Ok(())
    }

    async fn claim(&self, run: &str, task: usize, wave: u32, cap: u32) -> Result<Option<Claim>> {
        // The pick is a materialized CTE: as a joined subquery it may be scanned again per
        // row, and SKIP LOCKED then picks another partition each time.
        let sql = format!(
            "WITH c AS MATERIALIZED (SELECT q.tab, q.part FROM _barge.partitions q \
                   JOIN _barge.tables t ON t.run = q.run AND t.tab = q.tab \
                   WHERE q.run = $1 AND q.wave = $4 AND t.state = 'loading' \
                     AND (q.state = 'pending' OR (q.state = 'claimed' AND ({gone} OR q.worker = $2))) \
                     AND ($5::int = 0 OR (SELECT count(*) FROM _barge.partitions r \
                          WHERE r.run = q.run AND r.tab = q.tab AND r.state = 'claimed' \
                            AND r.worker IS DISTINCT FROM $2 AND NOT {gone_r}) < $5) \
                   ORDER BY coalesce(q.worker = $2, false) DESC, q.est_rows DESC, q.tab, q.part LIMIT 1 \
                   FOR UPDATE OF q SKIP LOCKED) \
             UPDATE _barge.partitions p SET state = 'claimed', worker = $2, worker_key = $3, \
                 lease_until = {lease}, epoch = p.epoch + 1, started = now() \
             FROM c WHERE p.run = $1 AND p.tab = c.tab AND p.part = c.part \
             RETURNING p.tab, p.part, p.epoch, p.attempts, p.key_column, p.lo, p.hi",
            lease = lease(),
            gone = gone("q"),
            gone_r = gone("r"),
        );
        let worker = format!("{}#{task}", self.process);
        let rows = self
            .query(
                &sql,
                &[&run, &worker, &self.key, &(wave as i32), &(cap as i32)],
            )
            .await?;
        Ok(rows.first().map(|r| Claim {
            table: r.get::<_, i32>(0) as u32,
            part: r.get::<_, i32>(1) as u32,
            epoch: r.get(2),
            attempts: r.get::<_, i32>(3) as u32,
            range: range_of(r, 4),
        }))
    }

    async fn done(&self, _mark: &Mark) -> Result<()> {
        Ok(())
    }

    async fn release(&self, run: &str, claim: &Claim, error: Option<&str>) -> Result<()> {
        let (tab, part) = (claim.table as i32, claim.part as i32);
        match error {
            None => {
                self.query(
                    "UPDATE _barge.partitions SET state = 'pending', attempts = attempts + 1, \
                     lease_until = NULL WHERE run = $1 AND tab = $2 AND part = $3 AND epoch = $4 \
                     AND state = 'claimed'",
                    &[&run, &tab, &part, &claim.epoch],
                )
                .await?;
            }
            Some(e) => {
                self.query(
                    "UPDATE _barge.partitions SET state = 'failed', error = $5, lease_until = NULL \
                     WHERE run = $1 AND tab = $2 AND part = $3 AND epoch = $4 AND state = 'claimed'",
                    &[&run, &tab, &part, &claim.epoch, &e],
                )
                .await?;
                self.table_failed(run, claim.table, e).await?;
            }
        }
        Ok(())
    }

    async fn claim_finish(&self, run: &str, task: usize, wave: u32) -> Result<Option<FinishMark>> {
        let sql = format!(
            "WITH c AS MATERIALIZED (SELECT x.tab FROM _barge.tables x \
                   WHERE x.run = $1 AND x.wave = $4 \
                     AND (x.state = 'loading' OR (x.state = 'finishing' AND ({gone} OR x.worker = $2))) \
                     AND EXISTS (SELECT 1 FROM _barge.partitions p WHERE p.run = x.run AND p.tab = x.tab) \
                     AND NOT EXISTS (SELECT 1 FROM _barge.partitions p \
                                     WHERE p.run = x.run AND p.tab = x.tab AND p.state <> 'done') \
                   ORDER BY x.tab LIMIT 1 FOR UPDATE OF x SKIP LOCKED) \
             UPDATE _barge.tables t SET state = 'finishing', worker = $2, worker_key = $3, \
                 lease_until = {lease}, epoch = t.epoch + 1 \
             FROM c WHERE t.run = $1 AND t.tab = c.tab RETURNING t.tab, t.epoch",
            lease = lease(),
            gone = gone("x"),
        );
        let worker = format!("{}#{task}", self.process);
        let rows = self
            .query(&sql, &[&run, &worker, &self.key, &(wave as i32)])
            .await?;
        Ok(rows.first().map(|r| FinishMark {
            run: run.to_string(),
            table: r.get::<_, i32>(0) as u32,
            epoch: r.get(1),
        }))
    }

    async fn finished(&self, _mark: &FinishMark) -> Result<()> {
        Ok(())
    }

    async fn release_finish(&self, mark: &FinishMark) -> Result<()> {
        self.query(
            "UPDATE _barge.tables SET state = 'loading', lease_until = NULL \
             WHERE run = $1 AND tab = $2 AND epoch = $3 AND state = 'finishing'",
            &[&mark.run, &(mark.table as i32), &mark.epoch],
        )
        .await?;
        Ok(())
    }

    async fn table_failed(&self, run: &str, table: u32, error: &str) -> Result<()> {
        self.query(
            "UPDATE _barge.tables SET state = 'failed', error = $3, lease_until = NULL \
             WHERE run = $1 AND tab = $2 AND state <> 'done'",
            &[&run, &(table as i32), &error],
        )
        .await?;
        Ok(())
    }

    async fn wave_open(&self, run: &str, wave: u32) -> Result<bool> {
        let rows = self
            .query(
                "SELECT EXISTS (SELECT 1 FROM _barge.tables WHERE run = $1 AND wave = $2 \
                 AND state IN ('loading', 'finishing'))",
                &[&run, &(wave as i32)],
            )
            .await?;
        Ok(rows.first().is_some_and(|r| r.get(0)))
    }

    async fn totals(&self, run: &str) -> Result<Vec<TableTotals>> {
        let mut out: Vec<TableTotals> = self
            .query(
                "SELECT state, error FROM _barge.tables WHERE run = $1 ORDER BY tab",
                &[&run],
            )
            .await?
            .iter()
            .map(|r| TableTotals::new(TableState::parse(r.get(0)), r.get(1)))
            .collect();
        let sql = format!(
            "SELECT x.tab, x.state, x.stats, x.worker, x.state = 'claimed' AND NOT {}, x.est_rows \
             FROM _barge.partitions x WHERE x.run = $1",
            gone("x")
        );
        for r in self.query(&sql, &[&run]).await? {
            let Some(t) = out.get_mut(r.get::<_, i32>(0) as usize) else {
                continue;
            };
            let running = r.get::<_, bool>(4).then(|| r.get(3));
            t.count(r.get(1), r.get(2), r.get::<_, i64>(5) as u64, running);
        }
        Ok(out)
    }

    async fn renew(
        &self,
        run: &str,
        parts: &[(u32, u32, i64)],
        tables: &[(u32, i64)],
    ) -> Result<()> {
        let l = lease();
        if !parts.is_empty() {
            self.query(
                &format!(
                    "UPDATE _barge.partitions SET lease_until = {l} \
                     WHERE run = $1 AND worker_key = $2 AND state = 'claimed' \
                       AND (tab, part, epoch) IN ({})",
                    crate::ledger::held_list(parts)
                ),
                &[&run, &self.key],
            )
            .await?;
        }
        if !tables.is_empty() {
            self.query(
                &format!(
                    "UPDATE _barge.tables SET lease_until = {l} \
                     WHERE run = $1 AND worker_key = $2 AND state = 'finishing' \
                       AND (tab, epoch) IN ({})",
                    crate::ledger::held_list(tables)
                ),
                &[&run, &self.key],
            )
            .await?;
        }
        Ok(())
    }

    async fn runs(&self) -> Result<Vec<String>> {
        if !self.exists().await? {
            return Ok(vec![]);
        }
        let rows = self
            .query("SELECT run FROM _barge.runs ORDER BY created", &[])
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn elapsed(&self, run: &str) -> Result<f64> {
        let rows = self
            .query(
                "SELECT extract(epoch FROM now() - created)::float8 FROM _barge.runs WHERE run = $1",
                &[&run],
            )
            .await?;
        Ok(rows.first().map_or(0.0, |r| r.get(0)))
    }

    async fn claim_end(&self, run: &str) -> Result<bool> {
        let rows = self
            .query(
                "UPDATE _barge.runs r SET state = 'ending' WHERE run = $1 AND state = 'loading' \
                 AND NOT EXISTS (SELECT 1 FROM _barge.tables t WHERE t.run = r.run \
                                 AND t.state IN ('loading', 'finishing')) RETURNING run",
                &[&run],
            )
            .await?;
        Ok(!rows.is_empty())
    }
}
