//! `--consistent` on MySQL/MariaDB: one connection per reader, each inside a transaction
//! started while writers were held off, so all of them see the same moment.

use crate::engine::mysql::connect::mysql_conn;
use crate::engine::mysql::read::quote_ident as my_ident;
use crate::error::{Context, Error, Result, Side};
use crate::url::DbUrl;
use mysql_async::prelude::Queryable;
use std::sync::Mutex;
use std::time::Instant;

/// How long `--consistent` may wait for its read lock (writers queue behind it meanwhile).
const SNAPSHOT_LOCK_WAIT_S: u32 = 10;

/// The snapshot connections (see `CopyOptions::consistent`). One that failed is not given
/// back: a new one would see another moment. Partitions wait for a free one while any is left.
pub(super) struct Snapshots {
    free: Mutex<Vec<mysql_async::Conn>>,
    live: std::sync::atomic::AtomicUsize,
}

impl Snapshots {
    pub(super) fn new(conns: Vec<mysql_async::Conn>) -> Snapshots {
        Snapshots {
            live: std::sync::atomic::AtomicUsize::new(conns.len()),
            free: Mutex::new(conns),
        }
    }

    /// End the snapshot transactions, so the pool can shut down.
    pub(super) async fn close(&self) {
        let conns: Vec<_> = std::mem::take(&mut *self.free.lock().unwrap());
        for c in conns {
            let _ = c.disconnect().await;
        }
    }

    pub(super) async fn take(&self) -> Result<mysql_async::Conn> {
        use std::sync::atomic::Ordering;
        loop {
            if let Some(c) = self.free.lock().unwrap().pop() {
                return Ok(c);
            }
            if self.live.load(Ordering::SeqCst) == 0 {
                return Err(Error::Snapshot(
                    "--consistent: every snapshot connection was lost to earlier failures, so \
                     no later read can see the same moment"
                        .into(),
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    pub(super) fn give_back(&self, conn: mysql_async::Conn, healthy: bool) {
        if healthy {
            self.free.lock().unwrap().push(conn);
        } else {
            self.lost();
        }
    }

    pub(super) fn lost(&self) {
        self.live.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// `jobs` connections inside transactions that all see the same moment of the source: writers
/// are held off (a global read lock, or a read lock on the tables read) while each starts its
/// snapshot, then released. `lock` holds the lock.
pub(super) async fn snapshot_connections(
    lock: &mut mysql_async::Conn,
    pool: &mysql_async::Pool,
    from: &DbUrl,
    database: &str,
    tables: &[&str],
    jobs: usize,
) -> Result<Vec<mysql_async::Conn>> {
    let t = Instant::now();
    // Never queue writers behind a long-running query for long: give up instead.
    lock.query_drop(format!(
        "SET SESSION lock_wait_timeout = {SNAPSHOT_LOCK_WAIT_S}"
    ))
    .await
    .ctx("setting lock_wait_timeout")?;
    let denied = |e: &mysql_async::Error| matches!(e, mysql_async::Error::Server(s) if matches!(s.code, 1044 | 1045 | 1142 | 1227));
    let timed_out = |what: &str, e: &mysql_async::Error| {
        Error::Snapshot(format!(
            "--consistent: {what} did not get its lock within {SNAPSHOT_LOCK_WAIT_S} s (a long \
             query or transaction holds the tables); writers were not held up longer. {e}"
        ))
    };
    match lock.query_drop("FLUSH TABLES WITH READ LOCK").await {
        Ok(()) => {}
        Err(global) if denied(&global) => {
            let list = tables
                .iter()
                .map(|t| format!("{}.{} READ", my_ident(database), my_ident(t)))
                .collect::<Vec<_>>()
                .join(", ");
            lock.query_drop(format!("LOCK TABLES {list}"))
                .await
                .map_err(|e| {
                    if denied(&e) {
                        Error::Snapshot(format!(
                            "--consistent needs the RELOAD privilege (FLUSH TABLES WITH READ \
                             LOCK: {global}) or LOCK TABLES on the tables read ({e})"
                        ))
                    } else {
                        timed_out("LOCK TABLES … READ", &e)
                    }
                })?;
        }
        Err(e) => return Err(timed_out("FLUSH TABLES WITH READ LOCK", &e)),
    }
    let mut conns = Vec::with_capacity(jobs);
    let started = async {
        for _ in 0..jobs {
            let mut c = mysql_conn(pool, from, Side::Source).await?;
            // Idle between waves (index builds, remapping) must not end the session.
            for sql in [
                "SET SESSION wait_timeout = 86400",
                "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
            ] {
                c.query_drop(sql).await.ctx("starting a snapshot")?;
            }
            c.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                .await
                .ctx("starting a snapshot")?;
            conns.push(c);
        }
        Ok::<_, Error>(())
    }
    .await;
    // Released whatever happened: writers must not stay blocked.
    let unlocked = lock.query_drop("UNLOCK TABLES").await.ctx("UNLOCK TABLES");
    let _ = lock
        .query_drop("SET SESSION lock_wait_timeout = DEFAULT")
        .await;
    started?;
    unlocked?;
    tracing::info!(
        "{jobs} snapshot connections, writers held for {:.3}s",
        t.elapsed().as_secs_f64()
    );
    Ok(conns)
}
