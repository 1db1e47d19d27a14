//! PostgreSQL as a source: the catalog of one schema (`?schema=NAME` in the URL, default
//! `public`), partitions by ranges of an integer key, and each partition read by
//! `COPY (SELECT …) TO STDOUT (FORMAT binary)` decoded straight into Arrow builders.
//! `--consistent` exports one snapshot from a transaction held open for the whole run, and
//! every count and read imports it.

use super::connect::pg_connect;
use super::copy_format::CopyDecoder;
use super::write::quote_ident;
use crate::catalog::Catalog;
use crate::engine::{ReadRequest, ReadStats, Source};
use crate::error::{Context, Error, Result, Side};
use crate::partition::{parts_for, split_range, KeyRange};
use crate::plan::TablePlan;
use crate::url::DbUrl;
use arrow_array::RecordBatch;
use futures_util::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use tokio::sync::{mpsc, Mutex};
use tokio_postgres::Client;

/// The pseudo-column of block ranges (no user column can be called ctid).
const CTID: &str = "ctid";

pub struct PgSource {
    url: DbUrl,
    schema: String,
    /// Connections between reads.
    idle: std::sync::Mutex<Vec<Client>>,
    /// Partitioned tables, read through the parent (without ONLY).
    partitioned: std::sync::Mutex<BTreeSet<String>>,
    /// With `--consistent`: the exporting transaction, kept open (None: another process
    /// holds it), and its snapshot's id.
    snapshot: Mutex<Option<(Option<Client>, String)>>,
}

impl PgSource {
    pub fn new(url: &DbUrl) -> PgSource {
        PgSource {
            url: url.clone(),
            schema: url.schema().unwrap_or("public").to_string(),
            idle: Default::default(),
            partitioned: Default::default(),
            snapshot: Mutex::new(None),
        }
    }

    /// A connection for one count or read, inside the snapshot when there is one.
    async fn take(&self) -> Result<Client> {
        let idle = self.idle.lock().unwrap().pop();
        let client = match idle {
            Some(c) if !c.is_closed() => c,
            _ => pg_connect(&self.url, Side::Source).await?,
        };
        if let Some((holder, id)) = self.snapshot.lock().await.as_ref() {
            let imported = client
                .batch_execute(&format!(
                    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{id}'"
                ))
                .await;
            match imported {
                Ok(()) => {}
                // Only the process that exported it can end it, and then nothing can read it.
                Err(e)
                    if holder.is_none()
                        && e.code()
                            == Some(&tokio_postgres::error::SqlState::INVALID_PARAMETER_VALUE) =>
                {
                    return Err(Error::Config(format!(
                        "the run's source snapshot {id} is no longer held: the process that \
                         planned it with --consistent has ended ({}). Plan the run again \
                         (--restart), and keep the planning process running until the workers \
                         are done",
                        crate::error::pg_message(&e)
                    )))
                }
                Err(e) => return Err(e).ctx("importing the snapshot"),
            }
        }
        Ok(client)
    }

    async fn give_back(&self, client: Client, healthy: bool) {
        if !healthy {
            return;
        }
        if self.snapshot.lock().await.is_some() && client.batch_execute("COMMIT").await.is_err() {
            return;
        }
        self.idle.lock().unwrap().push(client);
    }

    /// Into MySQL, a uuid becomes MariaDB's UUID where the server has it, which refuses
    /// values with a version nibble of 8 or more and a variant nibble below 8 (MariaDB
    /// 10.11 keeps such bytes apart from the ones it reorders). A column holding one is
    /// declared as text instead. True when the catalog changed.
    async fn check_uuids(
        &self,
        client: &Client,
        catalog: &mut Catalog,
        p: &TablePlan,
        name: &str,
    ) -> Result<bool> {
        let q = quote_ident(name);
        let row = client
            .query_opt(
                &format!(
                    "SELECT {q}::text FROM {} WHERE substr({q}::text, 15, 1) >= '8' \
                     AND substr({q}::text, 20, 1) < '8' LIMIT 1",
                    self.table_ref(&p.source)
                ),
                &[],
            )
            .await
            .ctx(format!("checking the uuids of {}.{name}", p.source))?;
        let (Some(r), Some(c)) = (
            row,
            catalog
                .tables
                .iter_mut()
                .find(|t| t.name == p.source)
                .and_then(|t| t.columns.iter_mut().find(|c| c.name == name)),
        ) else {
            return Ok(false);
        };
        if c.as_text_because.is_some() {
            return Ok(false);
        }
        let v: String = r.get(0);
        c.as_text_because = Some(format!(
            "holds uuids MariaDB's UUID type refuses (such as {v}), so it is text in MySQL"
        ));
        Ok(true)
    }

    fn table_ref(&self, table: &str) -> String {
        let only = if self.partitioned.lock().unwrap().contains(table) {
            ""
        } else {
            // Rows of inheritance children belong to the children, copied on their own.
            "ONLY "
        };
        format!("{only}{}.{}", quote_ident(&self.schema), quote_ident(table))
    }

    /// The SELECT of one partition: each column as barge reads it.
    fn select_sql(&self, plan: &TablePlan, range: Option<&KeyRange>, limit: Option<u64>) -> String {
        let cols: Vec<String> = plan
            .read_columns()
            .iter()
            .map(|(name, m)| {
                let q = quote_ident(name);
                match &m.read_as {
                    Some(expr) => expr.replace("{}", &q),
                    None => q,
                }
            })
            .collect();
        let mut conditions = Vec::new();
        match range {
            // Block ranges of a table without an integer key; the last is open-ended, so
            // rows past the size measured when counting are read too.
            Some(r) if r.column == CTID && r.hi == i128::MAX => {
                conditions.push(format!("ctid >= '({},0)'::tid", r.lo))
            }
            Some(r) if r.column == CTID => conditions.push(format!(
                "ctid >= '({},0)'::tid AND ctid < '({},0)'::tid",
                r.lo,
                r.hi + 1
            )),
            Some(r) => conditions.push(format!(
                "{} BETWEEN {} AND {}",
                quote_ident(&r.column),
                r.lo,
                r.hi
            )),
            None => {}
        }
        if let Some(f) = &plan.filter {
            conditions.push(format!("({f})"));
        }
        let mut sql = format!(
            "SELECT {} FROM {}",
            cols.join(", "),
            self.table_ref(&plan.source)
        );
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        if let Some(n) = limit {
            if !plan.primary_key.is_empty() {
                let keys: Vec<String> = plan.primary_key.iter().map(|k| quote_ident(k)).collect();
                sql.push_str(&format!(" ORDER BY {}", keys.join(", ")));
            }
            sql.push_str(&format!(" LIMIT {n}"));
        }
        sql
    }
}

/// PostgreSQL's side of sampling (`crate::sample`).
struct PgSample<'a> {
    source: &'a PgSource,
    client: &'a Client,
}

/// The condition that picks a table's own sample rows: the first 32 bits of an md5 of the
/// seed and the key, below the share, or the first n rows in that order.
pub fn pick_sql(from: &str, key: &[String], sample: &crate::sample::Sample) -> String {
    use crate::sample::SampleSize;
    let cols: Vec<String> = key.iter().map(|c| quote_ident(c)).collect();
    let hash = format!(
        "('x' || substr(md5(concat_ws(':', {}, {})), 1, 8))::bit(32)::int8",
        sample.seed,
        cols.join(", ")
    );
    let list = if cols.len() == 1 {
        cols[0].clone()
    } else {
        format!("({})", cols.join(", "))
    };
    match sample.size {
        SampleSize::Percent(p) => {
            let below = ((p / 100.0) * 4_294_967_296.0).round() as u64;
            format!("{hash} < {below}")
        }
        SampleSize::Rows(n) => format!(
            "{list} IN (SELECT {} FROM {from} ORDER BY {hash}, {} LIMIT {n})",
            cols.join(", "),
            cols.join(", ")
        ),
    }
}

#[async_trait::async_trait]
impl crate::sample::SampleSql for PgSample<'_> {
    fn quote(&self, ident: &str) -> String {
        quote_ident(ident)
    }

    fn table(&self, table: &str) -> String {
        self.source.table_ref(table)
    }

    fn pick(&self, table: &str, key: &[String], sample: &crate::sample::Sample) -> String {
        pick_sql(&self.source.table_ref(table), key, sample)
    }

    async fn literals(&self, query: &str, what: &str) -> Result<Vec<String>> {
        // Each value as its text in a quoted literal: PostgreSQL gives an untyped literal the
        // type of the column it is compared with.
        let rows = self
            .client
            .query(&format!("SELECT v::text FROM ({query}) AS s(v)"), &[])
            .await
            .ctx(what)?;
        Ok(rows
            .iter()
            .map(|r| super::write::quote_literal(&r.get::<_, String>(0)))
            .collect())
    }
}

#[async_trait::async_trait]
impl Source for PgSource {
    async fn catalog(&self) -> Result<Catalog> {
        let client = self.take().await?;
        let encoding: String = client
            .query_one("SHOW server_encoding", &[])
            .await
            .ctx("SHOW server_encoding")?
            .get(0);
        if encoding != "UTF8" {
            return Err(Error::Config(format!(
                "{}: the database's encoding is {encoding}; barge reads PostgreSQL databases in UTF8 only",
                self.url.redacted()
            )));
        }
        let exists: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
                &[&self.schema],
            )
            .await
            .ctx("looking up the schema")?
            .get(0);
        if !exists {
            return Err(Error::Selection(format!(
                "the source has no schema `{}` (name another with ?schema=NAME in the URL)",
                self.schema
            )));
        }
        let catalog = super::catalog::introspect(&client, &self.schema).await?;
        let parts: Vec<String> = client
            .query(
                "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relkind = 'p'",
                &[&self.schema],
            )
            .await
            .ctx("reading partitioned tables")?
            .iter()
            .map(|r| r.get(0))
            .collect();
        *self.partitioned.lock().unwrap() = parts.into_iter().collect();
        self.give_back(client, true).await;
        Ok(catalog)
    }

    /// Into MySQL, an unconstrained numeric becomes DECIMAL(65,30): find, before any data
    /// moves, a value that does not fit (35 integer digits, 30 after the point); its table
    /// is then refused, naming the column and a cast.
    async fn refine(&self, catalog: &mut Catalog, plans: &[TablePlan]) -> Result<bool> {
        if catalog.target != Some(crate::url::Engine::Mysql) {
            return Ok(false);
        }
        let client = self.take().await?;
        let mut changed = false;
        for p in plans {
            for (name, m) in p.read_columns() {
                let is_uuid = m.decode == crate::types::Decode::Pg(crate::types::PgWire::Uuid);
                if is_uuid {
                    // A target whose uuid takes every uuid needs no look.
                    if catalog.target_strict_uuid != Some(false) {
                        changed |= self.check_uuids(&client, catalog, p, &name).await?;
                    }
                    continue;
                }
                // Only an unconstrained numeric maps to Numeric(None) (as text) into MySQL.
                if m.ty != crate::types::Logical::Decimal(None) {
                    continue;
                }
                let q = quote_ident(&name);
                let row = client
                    .query_opt(
                        &format!(
                            "SELECT {q}::text FROM {} WHERE abs({q}) >= 1e35 OR {q} <> round({q}, 30) LIMIT 1",
                            self.table_ref(&p.source)
                        ),
                        &[],
                    )
                    .await
                    .ctx(format!("checking that {}.{name} fits DECIMAL(65,30)", p.source))?;
                if let Some(r) = row {
                    let v: String = r.get(0);
                    if let Some(c) = catalog
                        .tables
                        .iter_mut()
                        .find(|t| t.name == p.source)
                        .and_then(|t| t.columns.iter_mut().find(|c| c.name == name))
                    {
                        c.refused = Some(format!(
                            "the value {v} does not fit MySQL's DECIMAL(65,30); give the column a precision and scale that fit, or --cast {}.{name}=text",
                            p.source
                        ));
                        changed = true;
                    }
                }
            }
        }
        self.give_back(client, true).await;
        Ok(changed)
    }

    async fn sample(
        &self,
        catalog: &Catalog,
        plans: &[TablePlan],
        relationships: &[crate::catalog::conventions::Relationship],
        sample: &crate::sample::Sample,
    ) -> Result<BTreeMap<String, crate::sample::TableSample>> {
        let client = self.take().await?;
        let sql = PgSample {
            source: self,
            client: &client,
        };
        let chosen = crate::sample::plan_sample(&sql, catalog, plans, relationships, sample).await;
        self.give_back(client, chosen.is_ok()).await;
        chosen
    }

    async fn import_snapshot(&self, id: &str) -> Result<()> {
        // An id is pasted into SQL: only what pg_export_snapshot() makes (hex and dashes).
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(Error::Config(format!(
                "`{id}` is not a PostgreSQL snapshot id"
            )));
        }
        self.idle.lock().unwrap().clear();
        *self.snapshot.lock().await = Some((None, id.to_string()));
        Ok(())
    }

    async fn snapshot(&self, _plans: &[TablePlan], _readers: usize) -> Result<Option<String>> {
        let holder = pg_connect(&self.url, Side::Source).await?;
        holder
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .ctx("starting the snapshot")?;
        let id: String = holder
            .query_one("SELECT pg_export_snapshot()", &[])
            .await
            .ctx("pg_export_snapshot()")?
            .get(0);
        // Connections opened before the snapshot read outside it: drop them.
        self.idle.lock().unwrap().clear();
        *self.snapshot.lock().await = Some((Some(holder), id.clone()));
        Ok(Some(id))
    }

    async fn count(
        &self,
        plan: &TablePlan,
        parts: usize,
        min_rows: u64,
    ) -> Result<(u64, Option<Vec<KeyRange>>)> {
        let client = self.take().await?;
        let filter = plan
            .filter
            .as_ref()
            .map(|f| format!(" WHERE ({f})"))
            .unwrap_or_default();
        let from = self.table_ref(&plan.source);
        let ctx = || format!("counting rows of {}", plan.source);
        let result = async {
            let Some(key) = &plan.split_key else {
                let n: i64 = client
                    .query_one(&format!("SELECT count(*) FROM {from}{filter}"), &[])
                    .await
                    .ctx(ctx())?
                    .get(0);
                let n = n as u64;
                let partitioned = self.partitioned.lock().unwrap().contains(&plan.source);
                // Small, or partitioned (no ctid of its own): one read.
                let Some(parts) = parts_for(n, parts, min_rows).filter(|_| !partitioned) else {
                    return Ok((n, None));
                };
                let blocks: i64 = client
                    .query_one(
                        &format!(
                            "SELECT pg_relation_size('{}'::regclass) / current_setting('block_size')::int8",
                            from.trim_start_matches("ONLY ").replace('\'', "''")
                        ),
                        &[],
                    )
                    .await
                    .ctx(ctx())?
                    .get(0);
                if blocks < parts as i64 {
                    return Ok((n, None));
                }
                let mut ranges = split_range(CTID, 0, blocks as i128 - 1, parts);
                if let Some(last) = ranges.last_mut() {
                    last.hi = i128::MAX;
                }
                return Ok((n, Some(ranges)));
            };
            let k = quote_ident(key);
            let row = client
                .query_one(
                    &format!("SELECT count(*), min({k})::int8, max({k})::int8 FROM {from}{filter}"),
                    &[],
                )
                .await
                .ctx(ctx())?;
            let count = row.get::<_, i64>(0) as u64;
            let (Some(min), Some(max)) =
                (row.get::<_, Option<i64>>(1), row.get::<_, Option<i64>>(2))
            else {
                return Ok((count, None));
            };
            Ok((
                count,
                parts_for(count, parts, min_rows)
                    .map(|n| split_range(key, min as i128, max as i128, n)),
            ))
        }
        .await;
        self.give_back(client, result.is_ok()).await;
        result
    }

    async fn read(&self, req: ReadRequest, out: mpsc::Sender<RecordBatch>) -> Result<ReadStats> {
        let plan = &req.plan;
        let columns = plan.read_columns();
        let key = plan
            .primary_key
            .first()
            .and_then(|k| plan.target_columns.iter().position(|c| c.name == *k));
        let mut decoder =
            CopyDecoder::new(&columns, req.schema.clone(), key, req.batch_rows.max(1))?;
        if req.rejects.is_some() {
            decoder = decoder.skip_rows();
        }
        let sql = format!(
            "COPY ({}) TO STDOUT (FORMAT binary)",
            self.select_sql(plan, req.range.as_ref(), req.limit)
        );
        let client = self.take().await?;
        let mut stats = ReadStats {
            nulled_dates: vec![Default::default(); columns.len()],
            ..Default::default()
        };
        let ctx = || format!("reading {}", plan.source);
        let result = async {
            let stream = client.copy_out(&sql).await.ctx(ctx())?;
            futures_util::pin_mut!(stream);
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.ctx(ctx())?;
                decoder.push(&chunk).map_err(|e| Error::Value {
                    table: plan.source.clone(),
                    column: e.column.clone(),
                    detail: match (&e.key, plan.primary_key.first()) {
                        (Some(v), Some(k)) => format!("{} (row with {k} = {v})", e.detail),
                        _ => e.detail.clone(),
                    },
                })?;
                if let Some(rejects) = &req.rejects {
                    for e in decoder.take_rejected() {
                        stats.rejected += 1;
                        rejects.record_value(
                            plan.primary_key.first().map(String::as_str).zip(e.key),
                            &e.column,
                            &e.detail,
                            crate::rejects::Rejected::Bytes(&e.value),
                        )?;
                    }
                }
                if decoder.rows() >= req.batch_rows || decoder.bytes() >= req.batch_bytes {
                    let n = decoder.rows() as u64;
                    if out.send(decoder.take_batch()?).await.is_err() {
                        return Ok(false); // the writer failed and says why
                    }
                    stats.rows += n;
                }
            }
            if decoder.rows() > 0 {
                let n = decoder.rows() as u64;
                if out.send(decoder.take_batch()?).await.is_err() {
                    return Ok(false);
                }
                stats.rows += n;
            }
            Ok(true)
        }
        .await;
        // A COPY stopped halfway leaves the connection mid-protocol: not reused.
        let healthy = matches!(result, Ok(true));
        self.give_back(client, healthy).await;
        result.map(|_| stats)
    }

    async fn close(&self) {
        if let Some((Some(holder), _)) = self.snapshot.lock().await.take() {
            let _ = holder.batch_execute("COMMIT").await;
        }
        self.idle.lock().unwrap().clear();
    }
}
