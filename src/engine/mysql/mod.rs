//! MySQL/MariaDB: the catalog from information_schema, reads over the binary protocol
//! decoded into Arrow builders, consistent snapshots; and as a target, LOAD DATA streamed
//! from Arrow batches into staging tables swapped in by RENAME TABLE.

pub mod catalog;
pub mod connect;
pub mod ddl;
pub mod ledger;
pub mod load_format;
pub mod orm;
mod pg_check;
pub mod read;
mod remap;
pub mod sample;
mod snapshot;
pub mod write;

use crate::catalog::Catalog;
use crate::engine::{ReadRequest, ReadStats, Source};
use crate::error::{Context, Error, Result, Side};
use crate::partition::{parts_for, split_range, KeyRange};
use crate::plan::TablePlan;
use crate::url::DbUrl;
use arrow_array::RecordBatch;
use mysql_async::prelude::Queryable;
use read::{int_of, quote_ident};
use snapshot::Snapshots;
use std::collections::BTreeMap;
use tokio::sync::mpsc;

/// A MySQL/MariaDB database read by up to `readers` connections at once.
pub struct MysqlSource {
    url: DbUrl,
    database: String,
    pool: mysql_async::Pool,
    /// With `--consistent`: the connections inside the snapshot, and the one holding it.
    snapshots: std::sync::OnceLock<Snapshots>,
}

impl MysqlSource {
    pub async fn new(url: &DbUrl, readers: usize) -> Result<MysqlSource> {
        let database = url.database().ok_or_else(|| Error::Url {
            url: url.redacted(),
            reason: "the source URL names no database (mysql://user:password@host:port/DATABASE)"
                .into(),
        })?;
        Ok(MysqlSource {
            url: url.clone(),
            database,
            pool: connect::mysql_pool(url, readers.max(1) + 1).await?,
            snapshots: Default::default(),
        })
    }

    async fn conn(&self) -> Result<mysql_async::Conn> {
        connect::mysql_conn(&self.pool, &self.url, Side::Source).await
    }

    /// A connection for one count or read: a snapshot's when there is one.
    async fn take(&self) -> Result<Lease<'_>> {
        Ok(match self.snapshots.get() {
            Some(s) => Lease {
                conn: Some(s.take().await?),
                snapshots: Some(s),
            },
            None => Lease {
                conn: Some(self.conn().await?),
                snapshots: None,
            },
        })
    }
}

/// A borrowed connection; a snapshot's goes back only when it is known to be clean (a new
/// one would see another moment).
struct Lease<'a> {
    conn: Option<mysql_async::Conn>,
    snapshots: Option<&'a Snapshots>,
}

impl Lease<'_> {
    fn conn(&mut self) -> &mut mysql_async::Conn {
        self.conn.as_mut().expect("taken")
    }

    fn give_back(mut self, healthy: bool) {
        if let (Some(s), Some(c)) = (self.snapshots, self.conn.take()) {
            s.give_back(c, healthy);
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        // Dropped without give_back (an error path, a cancelled task): lost.
        if let (Some(s), Some(_)) = (self.snapshots, self.conn.take()) {
            s.lost();
        }
    }
}

#[async_trait::async_trait]
impl Source for MysqlSource {
    async fn catalog(&self) -> Result<Catalog> {
        catalog::introspect(&mut self.conn().await?, &self.database).await
    }

    async fn refine(&self, catalog: &mut Catalog, plans: &[TablePlan]) -> Result<bool> {
        let booleans: Vec<(String, String)> = plans
            .iter()
            .flat_map(|p| {
                p.read_columns()
                    .into_iter()
                    .filter(|(_, m)| m.decode == crate::types::Decode::Bool01)
                    .map(|(c, _)| (p.source.clone(), c))
            })
            .collect();
        if booleans.is_empty() {
            return Ok(false);
        }
        let mut conn = self.conn().await?;
        catalog::probe_tinyint_booleans(&mut conn, &self.database, catalog, &booleans).await
    }

    async fn sample(
        &self,
        catalog: &Catalog,
        plans: &[TablePlan],
        relationships: &[crate::catalog::conventions::Relationship],
        sample: &crate::sample::Sample,
    ) -> Result<BTreeMap<String, crate::sample::TableSample>> {
        let mut conn = self.conn().await?;
        let sql = sample::MysqlSample {
            conn: tokio::sync::Mutex::new(&mut conn),
            database: &self.database,
        };
        crate::sample::plan_sample(&sql, catalog, plans, relationships, sample).await
    }

    async fn snapshot(&self, plans: &[TablePlan], readers: usize) -> Result<Option<String>> {
        let tables: Vec<&str> = plans.iter().map(|p| p.source.as_str()).collect();
        let mut lock = self.conn().await?;
        let conns = snapshot::snapshot_connections(
            &mut lock,
            &self.pool,
            &self.url,
            &self.database,
            &tables,
            readers,
        )
        .await?;
        let _ = self.snapshots.set(Snapshots::new(conns));
        // MySQL cannot hand a snapshot to another process.
        Ok(None)
    }

    async fn count(
        &self,
        plan: &TablePlan,
        parts: usize,
        min_rows: u64,
    ) -> Result<(u64, Option<Vec<KeyRange>>)> {
        let mut lease = self.take().await?;
        let counted = count_and_split(lease.conn(), &self.database, plan, parts, min_rows).await;
        lease.give_back(counted.is_ok());
        counted
    }

    async fn read(&self, req: ReadRequest, out: mpsc::Sender<RecordBatch>) -> Result<ReadStats> {
        let plan = &req.plan;
        let spec = read::ReadSpec {
            database: self.database.clone(),
            table: plan.source.clone(),
            columns: std::sync::Arc::new(plan.read_columns()),
            schema: req.schema.clone(),
            range: req.range.clone(),
            key_column: plan.primary_key.first().cloned(),
            limit: req.limit,
            filter: plan.filter.clone(),
            batch_rows: req.batch_rows,
            batch_bytes: req.batch_bytes,
            zero_dates: req.zero_dates,
            rejects: req.rejects.clone(),
            nul_in_text: req.nul_in_text,
        };
        let mut lease = self.take().await?;
        let stopped = out.clone();
        let read = read::read_partition(lease.conn(), &spec, out).await;
        // A connection with a failed read, or unread rows after the writer stopped, is not
        // reused: the next partition would first have to drain it, or find it broken.
        lease.give_back(read.is_ok() && !stopped.is_closed());
        read
    }

    async fn close(&self) {
        if let Some(s) = self.snapshots.get() {
            s.close().await;
        }
        let _ = self.pool.clone().disconnect().await;
    }
}

/// Count the rows, and split tables with a single integer key into key ranges.
async fn count_and_split(
    conn: &mut mysql_async::Conn,
    database: &str,
    p: &TablePlan,
    jobs: usize,
    min_rows: u64,
) -> Result<(u64, Option<Vec<KeyRange>>)> {
    let table = format!("{}.{}", quote_ident(database), quote_ident(&p.source));
    let filter = p
        .filter
        .as_ref()
        .map(|f| format!(" WHERE ({f})"))
        .unwrap_or_default();
    let ctx = || format!("counting rows of {}", p.source);
    let Some(key) = &p.split_key else {
        let n: Option<u64> = conn
            .query_first(format!("SELECT COUNT(*) FROM {table}{filter}"))
            .await
            .ctx(ctx())?;
        return Ok((n.unwrap_or(0), None));
    };
    let k = quote_ident(key);
    let row: Option<mysql_async::Row> = conn
        .query_first(format!(
            "SELECT COUNT(*), MIN({k}), MAX({k}) FROM {table}{filter}"
        ))
        .await
        .ctx(ctx())?;
    let row = row.ok_or_else(|| Error::Table {
        table: p.source.clone(),
        detail: "COUNT(*) returned no row".into(),
    })?;
    let int = |i: usize| row.as_ref(i).and_then(|v| int_of(v).ok());
    let count = int(0).unwrap_or(0) as u64;
    let (Some(min), Some(max)) = (int(1), int(2)) else {
        return Ok((count, None));
    };
    Ok((
        count,
        parts_for(count, jobs, min_rows).map(|parts| split_range(key, min, max, parts)),
    ))
}
