//! The ledger in a MySQL/MariaDB target: tables `__barge_runs`, `__barge_tables` and
//! `__barge_partitions` in the target database (no staging name, `_barge_<t>`, can take
//! these). Claims take rows with `FOR UPDATE SKIP LOCKED` (MySQL 8, MariaDB 10.6); a process
//! holds a named lock (`GET_LOCK`) for as long as it lives, so its claims are free again the
//! moment its connection is gone, not only when the lease runs out.

use crate::error::{Context, Error, Result, Side};
use crate::ledger::{
    Claim, FinishMark, Ledger, Mark, PartRecord, RunRecord, TableRecord, TableState, TableTotals,
    LEASE_SECONDS,
};
use crate::partition::KeyRange;
use crate::url::DbUrl;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};
use tokio::sync::Mutex;

pub const RUNS: &str = "__barge_runs";
pub const TABLES: &str = "__barge_tables";
pub const PARTITIONS: &str = "__barge_partitions";

const CREATE: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS __barge_runs (
        run varchar(255) NOT NULL PRIMARY KEY,
        fingerprint mediumtext NOT NULL,
        spec mediumtext NOT NULL,
        source text NOT NULL,
        now_micros bigint NOT NULL,
        snapshot text,
        state varchar(16) NOT NULL DEFAULT 'loading',
        created datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
    ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
    "CREATE TABLE IF NOT EXISTS __barge_tables (
        run varchar(255) NOT NULL,
        tab int NOT NULL,
        source text NOT NULL,
        target text NOT NULL,
        fingerprint varchar(64) NOT NULL,
        source_rows bigint NOT NULL,
        wave int NOT NULL,
        state varchar(16) NOT NULL,
        error mediumtext,
        worker varchar(255),
        worker_key bigint,
        lease_until datetime(6),
        epoch bigint NOT NULL DEFAULT 0,
        finished datetime(6),
        PRIMARY KEY (run, tab),
        FOREIGN KEY (run) REFERENCES __barge_runs (run) ON DELETE CASCADE
    ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
    "CREATE TABLE IF NOT EXISTS __barge_partitions (
        run varchar(255) NOT NULL,
        tab int NOT NULL,
        part int NOT NULL,
        key_column text,
        lo varchar(48),
        hi varchar(48),
        est_rows bigint NOT NULL,
        wave int NOT NULL,
        state varchar(16) NOT NULL,
        worker varchar(255),
        worker_key bigint,
        lease_until datetime(6),
        epoch bigint NOT NULL DEFAULT 0,
        attempts int NOT NULL DEFAULT 0,
        stats mediumtext,
        error mediumtext,
        started datetime(6),
        finished datetime(6),
        PRIMARY KEY (run, tab, part),
        FOREIGN KEY (run, tab) REFERENCES __barge_tables (run, tab) ON DELETE CASCADE
    ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
];

/// A holder (row alias `x`) is gone: its lease ran out, or its process's lock is free.
fn gone(x: &str) -> String {
    format!(
        "({x}.lease_until < UTC_TIMESTAMP(6) OR IS_USED_LOCK(CONCAT('barge-', {x}.worker_key)) IS NULL)"
    )
}

fn lease() -> String {
    format!("UTC_TIMESTAMP(6) + INTERVAL {LEASE_SECONDS} SECOND")
}

/// Record a partition as done inside the writer's open transaction: true when the mark
/// took (the lease was still ours).
pub async fn mark(conn: &mut Conn, database: &str, m: &Mark) -> Result<bool> {
    conn.exec_drop(
        format!(
            "UPDATE {}.{PARTITIONS} SET state = 'done', stats = ?, finished = UTC_TIMESTAMP(6), \
             lease_until = NULL, error = NULL \
             WHERE run = ? AND tab = ? AND part = ? AND epoch = ? AND state = 'claimed'",
            super::read::quote_ident(database)
        ),
        (&m.stats, &m.run, m.table, m.part, m.epoch),
    )
    .await
    .ctx("recording a partition as done in the ledger")?;
    Ok(conn.affected_rows() == 1)
}

/// Record a table as done after its finish: true when the mark took.
pub async fn mark_finished(conn: &mut Conn, database: &str, m: &FinishMark) -> Result<bool> {
    conn.exec_drop(
        format!(
            "UPDATE {}.{TABLES} SET state = 'done', finished = UTC_TIMESTAMP(6), \
             lease_until = NULL, error = NULL \
             WHERE run = ? AND tab = ? AND epoch = ? AND state = 'finishing'",
            super::read::quote_ident(database)
        ),
        (&m.run, m.table, m.epoch),
    )
    .await
    .ctx("recording a table as done in the ledger")?;
    Ok(conn.affected_rows() == 1)
}

pub struct MysqlLedger {
    url: DbUrl,
    process: String,
    key: i64,
    conn: Mutex<Option<Conn>>,
}

/// A lost connection or a statement worth running again (deadlock, lock wait).
fn retryable(e: &mysql_async::Error) -> bool {
    match e {
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => true,
        mysql_async::Error::Server(s) => matches!(s.code, 1205 | 1213 | 1927 | 1053 | 2006 | 2013),
        _ => false,
    }
}

impl MysqlLedger {
    pub async fn open(url: &DbUrl) -> Result<MysqlLedger> {
        let process = crate::ledger::process_name();
        let ledger = MysqlLedger {
            url: url.clone(),
            key: crate::ledger::process_key(&process),
            process,
            conn: Mutex::new(None),
        };
        ledger.rows("SELECT 1", ()).await?;
        Ok(ledger)
    }

    async fn connect(&self) -> Result<Conn> {
        let pool = super::connect::mysql_pool(&self.url, 1).await?;
        let mut c = super::connect::mysql_conn(&pool, &self.url, Side::Target).await?;
        c.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            .await
            .ctx("setting up the ledger session")?;
        let got: Option<i64> = c
            .exec_first("SELECT GET_LOCK(CONCAT('barge-', ?), 10)", (self.key,))
            .await
            .ctx("taking the ledger's process lock")?;
        if got != Some(1) {
            return Err(Error::Table {
                table: "ledger".into(),
                detail: "could not take the process lock".into(),
            });
        }
        Ok(c)
    }

    /// Run `f` on the ledger's connection, reconnecting (and taking the process's lock
    /// again) when it was lost. For work that may run twice only.
    async fn with<T, F>(&self, what: &str, f: F) -> Result<T>
    where
        F: for<'c> Fn(
                &'c mut Conn,
            ) -> std::pin::Pin<
                Box<dyn std::future::Future<Output = mysql_async::Result<T>> + Send + 'c>,
            > + Send
            + Sync,
        T: Send + Default,
    {
        let mut tries = 0;
        loop {
            let mut g = self.conn.lock().await;
            if g.is_none() {
                *g = Some(self.connect().await?);
            }
            let c = g.as_mut().expect("connected above");
            match f(c).await {
                Ok(v) => return Ok(v),
                // The ledger is gone: the run was completed (and removed) by another process.
                Err(mysql_async::Error::Server(s)) if s.code == 1146 => {
                    let _ = c.query_drop("ROLLBACK").await;
                    let _ = c.query_drop("DO RELEASE_LOCK('barge-ledger')").await;
                    return Ok(T::default());
                }
                Err(e) if tries < 3 && retryable(&e) => {
                    tries += 1;
                    // Whatever state the session is in, start again on a new one.
                    *g = None;
                    drop(g);
                    tokio::time::sleep(std::time::Duration::from_millis(100 << tries)).await;
                }
                Err(source) => {
                    return Err(Error::Mysql {
                        context: format!("ledger: {what}"),
                        source,
                    })
                }
            }
        }
    }

    async fn rows(
        &self,
        sql: &str,
        params: impl Into<mysql_async::Params>,
    ) -> Result<Vec<mysql_async::Row>> {
        let (sql, params) = (sql.to_string(), params.into());
        self.with(&sql.clone(), move |c| {
            let (sql, params) = (sql.clone(), params.clone());
            Box::pin(async move { c.exec(sql, params).await })
        })
        .await
    }

    async fn exec(&self, sql: &str, params: impl Into<mysql_async::Params>) -> Result<u64> {
        let (sql, params) = (sql.to_string(), params.into());
        self.with(&sql.clone(), move |c| {
            let (sql, params) = (sql.clone(), params.clone());
            Box::pin(async move {
                c.exec_drop(sql, params).await?;
                Ok(c.affected_rows())
            })
        })
        .await
    }

    async fn exists(&self) -> Result<bool> {
        let n = self
            .rows(
                "SELECT COUNT(*) FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                (PARTITIONS,),
            )
            .await?;
        Ok(n.first().and_then(|r| r.get::<i64, _>(0)).unwrap_or(0) > 0)
    }
}

/// The lock under which the ledger is created, recorded into and dropped; an error when
/// another process held it for 30 s (GET_LOCK says 0) rather than going on without it.
async fn take_lock(c: &mut Conn) -> std::result::Result<(), mysql_async::Error> {
    let got: Option<Option<i64>> = c.query_first("SELECT GET_LOCK('barge-ledger', 30)").await?;
    match got.flatten() {
        Some(1) => Ok(()),
        _ => Err(mysql_async::Error::Other(
            "the ledger's lock (GET_LOCK('barge-ledger')) was not granted within 30 s".into(),
        )),
    }
}

fn range_of(column: Option<String>, lo: Option<String>, hi: Option<String>) -> Option<KeyRange> {
    Some(KeyRange {
        column: column?,
        lo: lo?.parse().ok()?,
        hi: hi?.parse().ok()?,
    })
}

fn lit(s: &str) -> String {
    Value::from(s).as_sql(false)
}

fn opt(s: &Option<String>) -> String {
    s.as_deref().map_or("NULL".into(), lit)
}

#[async_trait::async_trait]
impl Ledger for MysqlLedger {
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
            .rows(
                &format!(
                    "SELECT fingerprint, spec, source, now_micros, snapshot FROM {RUNS} WHERE run = ?"
                ),
                (run,),
            )
            .await?;
        let Some(r) = runs.into_iter().next() else {
            return Ok(None);
        };
        let (fingerprint, spec, source, now_micros, snapshot): (
            String,
            String,
            String,
            i64,
            Option<String>,
        ) = mysql_async::from_row(r);
        let mut record = RunRecord {
            run: run.to_string(),
            fingerprint,
            spec,
            source,
            now_micros,
            snapshot,
            tables: vec![],
        };
        for t in self
            .rows(
                &format!(
                    "SELECT tab, source, target, fingerprint, source_rows, wave, error \
                     FROM {TABLES} WHERE run = ? ORDER BY tab"
                ),
                (run,),
            )
            .await?
        {
            let (index, source, target, fingerprint, source_rows, wave, error): (
                u32,
                String,
                String,
                String,
                u64,
                u32,
                Option<String>,
            ) = mysql_async::from_row(t);
            record.tables.push(TableRecord {
                index,
                source,
                target,
                fingerprint,
                source_rows,
                wave,
                partitions: vec![],
                error,
            });
        }
        for p in self
            .rows(
                &format!(
                    "SELECT tab, part, est_rows, key_column, lo, hi FROM {PARTITIONS} \
                     WHERE run = ? ORDER BY tab, part"
                ),
                (run,),
            )
            .await?
        {
            let (tab, id, est_rows, col, lo, hi): (
                usize,
                u32,
                u64,
                Option<String>,
                Option<String>,
                Option<String>,
            ) = mysql_async::from_row(p);
            if let Some(t) = record.tables.get_mut(tab) {
                t.partitions.push(PartRecord {
                    id,
                    est_rows,
                    range: range_of(col, lo, hi),
                });
            }
        }
        Ok(Some(record))
    }

    async fn record(&self, run: &RunRecord) -> Result<()> {
        // The lock is held until the run is committed: `remove` of another run, which drops
        // the ledger once it holds no run, must see this one.
        let mut stmts: Vec<String> = vec![
            CREATE[0].into(),
            CREATE[1].into(),
            CREATE[2].into(),
            "START TRANSACTION".into(),
            format!("DELETE FROM {RUNS} WHERE run = {}", lit(&run.run)),
            format!(
                "INSERT INTO {RUNS} (run, fingerprint, spec, source, now_micros, snapshot) \
                 VALUES ({}, {}, {}, {}, {}, {})",
                lit(&run.run),
                lit(&run.fingerprint),
                lit(&run.spec),
                lit(&run.source),
                run.now_micros,
                opt(&run.snapshot)
            ),
        ];
        let mut parts = Vec::new();
        for t in &run.tables {
            stmts.push(format!(
                "INSERT INTO {TABLES} (run, tab, source, target, fingerprint, source_rows, wave, state, error) \
                 VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})",
                lit(&run.run),
                t.index,
                lit(&t.source),
                lit(&t.target),
                lit(&t.fingerprint),
                t.source_rows,
                t.wave,
                lit(if t.error.is_some() { "failed" } else { "loading" }),
                opt(&t.error)
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
                parts.push(format!(
                    "({}, {}, {}, {col}, {lo}, {hi}, {}, {}, 'pending')",
                    lit(&run.run),
                    t.index,
                    p.id,
                    p.est_rows,
                    t.wave
                ));
            }
        }
        for chunk in parts.chunks(500) {
            stmts.push(format!(
                "INSERT INTO {PARTITIONS} (run, tab, part, key_column, lo, hi, est_rows, wave, state) VALUES {}",
                chunk.join(", ")
            ));
        }
        stmts.push("COMMIT".into());
        stmts.push("DO RELEASE_LOCK('barge-ledger')".into());
        self.with("recording the run's plan", move |c| {
            let stmts = stmts.clone();
            Box::pin(async move {
                take_lock(c).await?;
                for s in &stmts {
                    if let Err(e) = c.query_drop(s).await {
                        let _ = c.query_drop("ROLLBACK").await;
                        let _ = c.query_drop("DO RELEASE_LOCK('barge-ledger')").await;
                        return Err(e);
                    }
                }
                Ok(())
            })
        })
        .await
    }

    async fn remove(&self, run: &str) -> Result<()> {
        if !self.exists().await? {
            return Ok(());
        }
        self.exec(&format!("DELETE FROM {RUNS} WHERE run = ?"), (run,))
            .await?;
        self.with("removing the ledger", |c| {
            Box::pin(async move {
                take_lock(c).await?;
                let left: Option<i64> = c
                    .query_first(format!("SELECT COUNT(*) FROM {RUNS}"))
                    .await?;
                if left == Some(0) {
                    c.query_drop(format!(
                        "DROP TABLE IF EXISTS {PARTITIONS}, {TABLES}, {RUNS}"
                    ))
                    .await?;
                }
                c.query_drop("DO RELEASE_LOCK('barge-ledger')").await
            })
        })
        .await
    }

    async fn set_snapshot(&self, run: &str, snapshot: Option<&str>) -> Result<()> {
        self.exec(
            &format!("UPDATE {RUNS} SET snapshot = ? WHERE run = ?"),
            (snapshot, run),
        )
        .await?;
        Ok(())
    }

    async fn reopen(&self, run: &str) -> Result<()> {
        // A failed table's staging was dropped (it is rolled back alone): all of it loads
        // again.
        self.exec(
            &format!(
                "UPDATE {PARTITIONS} p JOIN {TABLES} t ON t.run = p.run AND t.tab = p.tab \
                 SET p.state = 'pending', p.error = NULL, p.stats = NULL \
                 WHERE p.run = ? AND (t.state = 'failed' OR p.state = 'failed')"
            ),
            (run,),
        )
        .await?;
        self.exec(
            &format!(
                "UPDATE {TABLES} t SET state = 'loading', error = NULL \
                 WHERE run = ? AND state = 'failed' \
                   AND EXISTS (SELECT 1 FROM {PARTITIONS} p WHERE p.run = t.run AND p.tab = t.tab)"
            ),
            (run,),
        )
        .await?;
        self.exec(
            &format!("UPDATE {RUNS} SET state = 'loading' WHERE run = ?"),
            (run,),
        )
        .await?;
        Ok(())
    }

    async fn claim(&self, run: &str, task: usize, wave: u32, cap: u32) -> Result<Option<Claim>> {
        let select = format!(
            "SELECT q.tab, q.part FROM {PARTITIONS} q \
             WHERE q.run = ? AND q.wave = ? \
               AND q.tab IN (SELECT t.tab FROM {TABLES} t WHERE t.run = ? AND t.state = 'loading') \
               AND (q.state = 'pending' OR (q.state = 'claimed' AND ({gone} OR q.worker = ?))) \
               AND (? = 0 OR (SELECT count(*) FROM {PARTITIONS} r \
                    WHERE r.run = q.run AND r.tab = q.tab AND r.state = 'claimed' \
                      AND NOT (r.worker <=> ?) AND NOT {gone_r}) < ?) \
             ORDER BY q.worker <=> ? DESC, q.est_rows DESC, q.tab, q.part LIMIT 1 FOR UPDATE SKIP LOCKED",
            gone = gone("q"),
            gone_r = gone("r")
        );
        let update = format!(
            "UPDATE {PARTITIONS} SET state = 'claimed', worker = ?, worker_key = ?, \
             lease_until = {lease}, epoch = epoch + 1, started = UTC_TIMESTAMP(6) \
             WHERE run = ? AND tab = ? AND part = ?",
            lease = lease()
        );
        let read = format!(
            "SELECT epoch, attempts, key_column, lo, hi FROM {PARTITIONS} \
             WHERE run = ? AND tab = ? AND part = ?"
        );
        let worker = format!("{}#{task}", self.process);
        let (run, key) = (run.to_string(), self.key);
        self.with("claiming a partition", move |c| {
            let (select, update, read, worker, run) = (
                select.clone(),
                update.clone(),
                read.clone(),
                worker.clone(),
                run.clone(),
            );
            Box::pin(async move {
                c.query_drop("START TRANSACTION").await?;
                let picked: Option<(u32, u32)> = c
                    .exec_first(
                        select,
                        (&run, wave, &run, &worker, cap, &worker, cap, &worker),
                    )
                    .await?;
                let Some((tab, part)) = picked else {
                    c.query_drop("COMMIT").await?;
                    return Ok(None);
                };
                c.exec_drop(update, (&worker, key, &run, tab, part)).await?;
                let row: Option<(i64, u32, Option<String>, Option<String>, Option<String>)> =
                    c.exec_first(read, (&run, tab, part)).await?;
                c.query_drop("COMMIT").await?;
                Ok(row.map(|(epoch, attempts, col, lo, hi)| Claim {
                    table: tab,
                    part,
                    epoch,
                    attempts,
                    range: range_of(col, lo, hi),
                }))
            })
        })
        .await
    }

    async fn done(&self, _mark: &Mark) -> Result<()> {
        Ok(())
    }

    async fn release(&self, run: &str, claim: &Claim, error: Option<&str>) -> Result<()> {
        match error {
            None => {
                self.exec(
                    &format!(
                        "UPDATE {PARTITIONS} SET state = 'pending', attempts = attempts + 1, \
                         lease_until = NULL WHERE run = ? AND tab = ? AND part = ? AND epoch = ? \
                         AND state = 'claimed'"
                    ),
                    (run, claim.table, claim.part, claim.epoch),
                )
                .await?;
            }
            Some(e) => {
                self.exec(
                    &format!(
                        "UPDATE {PARTITIONS} SET state = 'failed', error = ?, lease_until = NULL \
                         WHERE run = ? AND tab = ? AND part = ? AND epoch = ? AND state = 'claimed'"
                    ),
                    (e, run, claim.table, claim.part, claim.epoch),
                )
                .await?;
                self.table_failed(run, claim.table, e).await?;
            }
        }
        Ok(())
    }

    async fn claim_finish(&self, run: &str, task: usize, wave: u32) -> Result<Option<FinishMark>> {
        let select = format!(
            "SELECT x.tab, x.epoch FROM {TABLES} x \
             WHERE x.run = ? AND x.wave = ? \
               AND (x.state = 'loading' OR (x.state = 'finishing' AND ({gone} OR x.worker = ?))) \
               AND EXISTS (SELECT 1 FROM {PARTITIONS} p WHERE p.run = x.run AND p.tab = x.tab) \
               AND NOT EXISTS (SELECT 1 FROM {PARTITIONS} p \
                               WHERE p.run = x.run AND p.tab = x.tab AND p.state <> 'done') \
             ORDER BY x.tab LIMIT 1 FOR UPDATE SKIP LOCKED",
            gone = gone("x")
        );
        let update = format!(
            "UPDATE {TABLES} SET state = 'finishing', worker = ?, worker_key = ?, \
             lease_until = {lease}, epoch = epoch + 1 WHERE run = ? AND tab = ?",
            lease = lease()
        );
        let worker = format!("{}#{task}", self.process);
        let (run, key) = (run.to_string(), self.key);
        self.with("claiming a table's finish", move |c| {
            let (select, update, worker, run) =
                (select.clone(), update.clone(), worker.clone(), run.clone());
            Box::pin(async move {
                c.query_drop("START TRANSACTION").await?;
                let picked: Option<(u32, i64)> =
                    c.exec_first(select, (&run, wave, &worker)).await?;
                let Some((tab, epoch)) = picked else {
                    c.query_drop("COMMIT").await?;
                    return Ok(None);
                };
                c.exec_drop(update, (&worker, key, &run, tab)).await?;
                c.query_drop("COMMIT").await?;
                Ok(Some(FinishMark {
                    run: run.clone(),
                    table: tab,
                    epoch: epoch + 1,
                }))
            })
        })
        .await
    }

    async fn finished(&self, _mark: &FinishMark) -> Result<()> {
        Ok(())
    }

    async fn release_finish(&self, mark: &FinishMark) -> Result<()> {
        self.exec(
            &format!(
                "UPDATE {TABLES} SET state = 'loading', lease_until = NULL \
                 WHERE run = ? AND tab = ? AND epoch = ? AND state = 'finishing'"
            ),
            (&mark.run, mark.table, mark.epoch),
        )
        .await?;
        Ok(())
    }

    async fn table_failed(&self, run: &str, table: u32, error: &str) -> Result<()> {
        self.exec(
            &format!(
                "UPDATE {TABLES} SET state = 'failed', error = ?, lease_until = NULL \
                 WHERE run = ? AND tab = ? AND state <> 'done'"
            ),
            (error, run, table),
        )
        .await?;
        Ok(())
    }

    async fn wave_open(&self, run: &str, wave: u32) -> Result<bool> {
        let r = self
            .rows(
                &format!(
                    "SELECT COUNT(*) FROM {TABLES} WHERE run = ? AND wave = ? \
                     AND state IN ('loading', 'finishing')"
                ),
                (run, wave),
            )
            .await?;
        Ok(r.first().and_then(|r| r.get::<i64, _>(0)).unwrap_or(0) > 0)
    }

    async fn totals(&self, run: &str) -> Result<Vec<TableTotals>> {
        let mut out: Vec<TableTotals> = self
            .rows(
                &format!("SELECT state, error FROM {TABLES} WHERE run = ? ORDER BY tab"),
                (run,),
            )
            .await?
            .into_iter()
            .map(|r| {
                let (state, error): (String, Option<String>) = mysql_async::from_row(r);
                TableTotals::new(TableState::parse(&state), error)
            })
            .collect();
        let sql = format!(
            "SELECT x.tab, x.state, x.stats, x.worker, x.state = 'claimed' AND NOT {}, x.est_rows \
             FROM {PARTITIONS} x WHERE x.run = ?",
            gone("x")
        );
        for r in self.rows(&sql, (run,)).await? {
            let (tab, state, stats, worker, running, est): (
                usize,
                String,
                Option<String>,
                Option<String>,
                Option<i64>,
                u64,
            ) = mysql_async::from_row(r);
            let Some(t) = out.get_mut(tab) else { continue };
            t.count(
                &state,
                stats.as_deref(),
                est,
                worker.filter(|_| running == Some(1)),
            );
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
            self.exec(
                &format!(
                    "UPDATE {PARTITIONS} SET lease_until = {l} \
                     WHERE run = ? AND worker_key = ? AND state = 'claimed' \
                       AND (tab, part, epoch) IN ({})",
                    crate::ledger::held_list(parts)
                ),
                (run, self.key),
            )
            .await?;
        }
        if !tables.is_empty() {
            self.exec(
                &format!(
                    "UPDATE {TABLES} SET lease_until = {l} \
                     WHERE run = ? AND worker_key = ? AND state = 'finishing' \
                       AND (tab, epoch) IN ({})",
                    crate::ledger::held_list(tables)
                ),
                (run, self.key),
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
            .rows(&format!("SELECT run FROM {RUNS} ORDER BY created"), ())
            .await?;
        Ok(rows.into_iter().map(mysql_async::from_row).collect())
    }

    async fn elapsed(&self, run: &str) -> Result<f64> {
        let rows = self
            .rows(
                &format!(
                    "SELECT TIMESTAMPDIFF(MICROSECOND, created, UTC_TIMESTAMP(6)) FROM {RUNS} WHERE run = ?"
                ),
                (run,),
            )
            .await?;
        Ok(rows
            .first()
            .and_then(|r| r.get::<i64, _>(0))
            .map_or(0.0, |us| us as f64 / 1e6))
    }

    async fn claim_end(&self, run: &str) -> Result<bool> {
        let n = self
            .exec(
                &format!(
                    "UPDATE {RUNS} r SET state = 'ending' WHERE run = ? AND state = 'loading' \
                     AND NOT EXISTS (SELECT 1 FROM {TABLES} t WHERE t.run = r.run \
                                     AND t.state IN ('loading', 'finishing'))"
                ),
                (run,),
            )
            .await?;
        Ok(n == 1)
    }
}
