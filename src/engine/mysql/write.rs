//! MySQL/MariaDB as the target: each table loads into a staging table (`_barge_<name>`, with
//! its primary key) through `LOAD DATA LOCAL INFILE` streamed from the record batches (no
//! file on disk), or multi-row INSERTs where the server refuses local infile. When every
//! partition is in and the counts match, the secondary indexes are built in one ALTER TABLE
//! and one `RENAME TABLE` puts the table in place.
//!
//! MySQL DDL is not transactional. A run killed while loading leaves `_barge_*` staging
//! tables, never a half-loaded table under its own name; the next run drops them. A run
//! killed during `--drop`'s swap may leave `_barge_old_<name>`, the replaced table, which
//! the next run drops too.

use super::connect;
use super::ddl;
use super::load_format::{Dialect, TextEncoder};
use super::read::quote_ident;
use crate::engine::{RemapOutcome, Sink, SinkOptions, Writer, Written};
use crate::error::{Context, Error, Result, Side};
use crate::ledger::{FinishMark, Mark};
use crate::plan::{staging_name, Mode, TablePlan};
use crate::url::DbUrl;
use arrow_array::RecordBatch;
use bytes::BytesMut;
use mysql_async::prelude::Queryable;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, Mutex};

/// Session settings of every connection that writes: strict, so a value that does not fit
/// is an error rather than a warning and a changed value; a zero in an AUTO_INCREMENT
/// column stays zero; foreign keys added after the data without a table copy.
///
/// `unique_checks` stays on. A staging table has no secondary index to check while it
/// loads, and on MariaDB ≥ 10.6 `unique_checks = 0` with `foreign_key_checks = 0` puts an
/// insert into an empty table in bulk mode, which locks the table: the other writers'
/// partitions wait behind the first (measured on 1M posts, 4 writers: 10.4 s against
/// 9.2–9.8 s, and 11.3 against 8.6–9.3 mariadbd CPU seconds).
/// How a plan's batches of this schema are spelled for MySQL.
pub fn text_encoder(plan: &TablePlan, batch_schema: &arrow_schema::Schema) -> TextEncoder {
    TextEncoder {
        names: plan.target_columns.iter().map(|c| c.name.clone()).collect(),
        load_as: plan
            .target_columns
            .iter()
            .zip(batch_schema.fields())
            .map(|(c, f)| ddl::load_as(plan, c, f.data_type()))
            .collect(),
        set_lists: plan
            .target_columns
            .iter()
            .map(|c| {
                ddl::column_type(plan, c, ddl::Server::default())
                    .is_ok_and(|t| t.to_ascii_lowercase().starts_with("set("))
            })
            .collect(),
        table: plan.source.clone(),
    }
}

pub(super) const WRITER_SESSION: &[&str] = &[
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'",
    "SET SESSION foreign_key_checks = 0",
];

/// Where `--drop` sets the replaced table aside: `_barge_old_<target>`.
pub(super) fn old_name(target: &str) -> String {
    crate::plan::prefixed_name("_barge_old_", target)
}

pub struct MysqlSink {
    url: DbUrl,
    database: String,
    opts: SinkOptions,
    pool: mysql_async::Pool,
    control: Mutex<mysql_async::Conn>,
    /// The server has local_infile off: every partition goes by multi-row INSERT.
    insert_only: bool,
    server: ddl::Server,
    version: String,
}

/// Whether `database` holds `table`.
pub(super) async fn table_exists(
    conn: &mut mysql_async::Conn,
    database: &str,
    table: &str,
) -> Result<bool> {
    let n: Option<i64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (database, table),
        )
        .await
        .ctx("looking up a target table")?;
    Ok(n.unwrap_or(0) > 0)
}

/// `ALTER TABLE … DROP FOREIGN KEY` for each foreign key that another table holds on
/// `table`. A RENAME takes them along, so they would dangle once the renamed table is
/// dropped.
pub(super) async fn drop_foreign_keys_on(
    conn: &mut mysql_async::Conn,
    database: &str,
    table: &str,
) -> Result<Vec<String>> {
    let held: Vec<(String, String)> = conn
        .exec(
            "SELECT TABLE_NAME, CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = ? AND REFERENCED_TABLE_NAME = ?",
            (database, table),
        )
        .await
        .ctx(format!("looking up the foreign keys held on {table}"))?;
    Ok(held
        .into_iter()
        .map(|(child, fk)| {
            format!(
                "ALTER TABLE {}.{} DROP FOREIGN KEY {}",
                quote_ident(database),
                quote_ident(&child),
                quote_ident(&fk)
            )
        })
        .collect())
}

/// Drop the table a `--drop` set aside for `target` (`_barge_old_<target>`), if there is
/// one, with the foreign keys that followed it there. Stops before the drop when one of
/// them cannot go, so that none is left pointing at a table that is gone.
pub(super) async fn drop_set_aside(
    conn: &mut mysql_async::Conn,
    database: &str,
    target: &str,
) -> Result<()> {
    let old = old_name(target);
    let mut stmts = drop_foreign_keys_on(conn, database, &old).await?;
    stmts.push(format!(
        "DROP TABLE IF EXISTS {}.{}",
        quote_ident(database),
        quote_ident(&old)
    ));
    for s in stmts {
        conn.query_drop(&s)
            .await
            .ctx(format!("dropping the replaced table of {target}: {s}"))?;
    }
    Ok(())
}

/// The server's version and what follows from it, from a session that names no database
/// (the target's may not exist yet).
pub async fn probe(url: &DbUrl) -> Result<crate::engine::TargetServer> {
    let pool = connect::mysql_pool_in(url, 1, None).await?;
    let version = async {
        let mut conn = connect::mysql_conn(&pool, url, Side::Target).await?;
        connect::mysql_version(&mut conn).await
    }
    .await;
    let _ = pool.disconnect().await;
    Ok(server_of(&version?))
}

fn server_of(version: &str) -> crate::engine::TargetServer {
    crate::engine::TargetServer {
        version: Some(version.to_string()),
        strict_uuid: Some(ddl::Server::from_version(Some(version)).uuid),
    }
}

impl MysqlSink {
    pub async fn connect(url: &DbUrl, opts: SinkOptions, writers: usize) -> Result<MysqlSink> {
        let database = url.database().ok_or_else(|| Error::Url {
            url: url.redacted(),
            reason: "the target URL names no database (mysql://user:password@host:port/DATABASE)"
                .into(),
        })?;
        // The database is created when missing, from a session that names none.
        {
            let pool = connect::mysql_pool_in(url, 1, None).await?;
            let mut conn = connect::mysql_conn(&pool, url, Side::Target).await?;
            conn.query_drop(format!(
                "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4",
                quote_ident(&database)
            ))
            .await
            .ctx(format!("creating database {database}"))?;
            drop(conn);
            let _ = pool.disconnect().await;
        }
        // The writers, the control session, and one for a remapped table's finish (others
        // wait for it: the writers keep theirs).
        let pool = connect::mysql_pool(url, writers.max(1) + 2).await?;
        let mut control = connect::mysql_conn(&pool, url, Side::Target).await?;
        control
            .query_drop(WRITER_SESSION[0])
            .await
            .ctx("setting the session's sql_mode")?;
        let local_infile: Option<i64> = control
            .query_first("SELECT @@GLOBAL.local_infile")
            .await
            .ctx("reading local_infile")?;
        let insert_only =
            std::env::var_os("BARGE_MYSQL_INSERT").is_some() || local_infile == Some(0);
        let version = connect::mysql_version(&mut control).await?;
        Ok(MysqlSink {
            server: ddl::Server::from_version(Some(&version)),
            version,
            url: url.clone(),
            database,
            opts,
            pool,
            control: Mutex::new(control),
            insert_only,
        })
    }

    fn table(&self, name: &str) -> String {
        format!("{}.{}", quote_ident(&self.database), quote_ident(name))
    }

    async fn existing_tables(&self, conn: &mut mysql_async::Conn) -> Result<Vec<String>> {
        conn.exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
            (&self.database,),
        )
        .await
        .ctx("looking up target tables")
    }
}

#[async_trait::async_trait]
impl Sink for MysqlSink {
    fn server(&self) -> crate::engine::TargetServer {
        server_of(&self.version)
    }

    fn stores_nul_in_text(&self) -> bool {
        true
    }

    async fn prepare_run(&self, plans: &mut [TablePlan]) -> Result<()> {
        let mut control = self.control.lock().await;
        if self.insert_only {
            for p in plans.iter_mut() {
                p.notes.push(format!(
                    "{}: loaded with multi-row INSERT, not LOAD DATA LOCAL INFILE (the target has local_infile off)",
                    p.target
                ));
            }
        }
        for p in plans.iter_mut() {
            let left_out: Vec<String> = ddl::check_clauses(p)
                .into_iter()
                .filter_map(|c| Some(format!("{}: {}", p.target, c.err()?)))
                .collect();
            p.warnings.extend(left_out);
            let lost: Vec<String> = p
                .target_columns
                .iter()
                // An identity's nextval() is the AUTO_INCREMENT.
                .filter(|c| !c.identity)
                .filter_map(|c| {
                    let n = c.native.as_ref()?;
                    let d = n.default.as_ref()?;
                    (n.engine == crate::url::Engine::Postgres)
                        .then(|| ddl::pg_default(c, d).err())
                        .flatten()
                        .map(|raw| {
                            format!(
                                "{}.{}: default {raw} is left out (no MySQL form)",
                                p.target, c.name
                            )
                        })
                })
                .collect();
            p.warnings.extend(lost);
        }
        if self.opts.drop && self.opts.mode != Mode::DataOnly {
            // Replacing a table drops the foreign keys other tables hold on it (as CASCADE
            // does in PostgreSQL); say so for those outside this copy.
            let names: Vec<String> = plans.iter().map(|p| p.target.to_lowercase()).collect();
            let fks: Vec<(String, String, String)> = control
                .exec(
                    "SELECT CONSTRAINT_NAME, TABLE_NAME, REFERENCED_TABLE_NAME \
                     FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?",
                    (&self.database,),
                )
                .await
                .ctx("looking up foreign keys on replaced tables")?;
            for (fk, child, parent) in fks {
                if names.contains(&child.to_lowercase()) {
                    continue;
                }
                // A finish that crashed left the replaced table set aside, and the
                // foreign key with it.
                if let Some(p) = plans.iter_mut().find(|p| {
                    p.target.eq_ignore_ascii_case(&parent)
                        || old_name(&p.target).eq_ignore_ascii_case(&parent)
                }) {
                    p.warnings.push(format!(
                        "--drop replaces {}: the foreign key {fk} that {child} (not part of this copy) holds on it is dropped and not recreated",
                        p.target
                    ));
                }
            }
        }
        let all = self.existing_tables(&mut control).await?;
        // Table names are case-insensitive on many servers (lower_case_table_names).
        let existing: Vec<&TablePlan> = plans
            .iter()
            .filter(|p| all.iter().any(|t| t.eq_ignore_ascii_case(&p.target)))
            .collect();
        // A resumed table may be there already, swapped in by the interrupted run.
        let taken: Vec<&&TablePlan> = existing.iter().filter(|p| !p.resumed).collect();
        match self.opts.mode {
            Mode::Create | Mode::SchemaOnly if !self.opts.drop && !taken.is_empty() => {
                return Err(Error::TargetExists {
                    table: taken
                        .iter()
                        .map(|p| format!("{}.{}", self.database, p.target))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            Mode::DataOnly => {
                for p in plans.iter() {
                    if !existing.iter().any(|e| e.target == p.target) {
                        return Err(Error::TargetMismatch {
                            table: format!("{}.{}", self.database, p.target),
                            detail: "it does not exist (--data-only loads into existing tables)"
                                .into(),
                        });
                    }
                    let cols: Vec<String> = control
                        .exec(
                            "SELECT COLUMN_NAME FROM information_schema.COLUMNS \
                             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                            (&self.database, &p.target),
                        )
                        .await
                        .ctx("reading target columns")?;
                    let missing: Vec<&str> = p
                        .target_columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .filter(|n| !cols.iter().any(|t| t.eq_ignore_ascii_case(n)))
                        .collect();
                    if !missing.is_empty() {
                        return Err(Error::TargetMismatch {
                            table: format!("{}.{}", self.database, p.target),
                            detail: format!("it has no column(s) {}", missing.join(", ")),
                        });
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn create_schema(&self, plans: &[TablePlan]) -> Result<()> {
        let mut control = self.control.lock().await;
        // No transactional DDL: what was created is dropped again when a statement fails.
        let mut created = Vec::new();
        let mut run = async || -> Result<()> {
            for p in plans {
                if self.opts.drop {
                    control
                        .query_drop(format!("DROP TABLE IF EXISTS {}", self.table(&p.target)))
                        .await
                        .ctx(format!("dropping {}", p.target))?;
                }
                control
                    .query_drop(ddl::create_table_sql(
                        &self.database,
                        &p.target,
                        p,
                        true,
                        self.server,
                    )?)
                    .await
                    .ctx(format!("creating table {}", p.target))?;
                created.push(p.target.clone());
            }
            for p in plans {
                for sql in ddl::foreign_key_sql(&self.database, p) {
                    control
                        .query_drop(sql)
                        .await
                        .ctx(format!("foreign keys of {}", p.target))?;
                }
            }
            Ok(())
        };
        let result = run().await;
        if result.is_err() {
            let _ = control
                .query_drop("SET SESSION foreign_key_checks = 0")
                .await;
            for t in created {
                let _ = control
                    .query_drop(format!("DROP TABLE IF EXISTS {}", self.table(&t)))
                    .await;
            }
            let _ = control
                .query_drop("SET SESSION foreign_key_checks = 1")
                .await;
        }
        result
    }

    async fn prepare(&self, plan: &TablePlan) -> Result<()> {
        let mut control = self.control.lock().await;
        let staging = staging_name(&plan.target);
        drop_set_aside(&mut control, &self.database, &plan.target).await?;
        let sql = [
            format!("DROP TABLE IF EXISTS {}", self.table(&staging)),
            ddl::create_table_sql(&self.database, &staging, plan, false, self.server)?,
        ];
        for s in sql {
            control
                .query_drop(&s)
                .await
                .ctx(format!("creating the staging table for {}", plan.target))?;
        }
        Ok(())
    }

    async fn discard(&self, plan: &TablePlan) {
        let mut control = self.control.lock().await;
        let sql = format!(
            "DROP TABLE IF EXISTS {}",
            self.table(&staging_name(&plan.target))
        );
        if let Err(e) = control.query_drop(sql).await {
            tracing::warn!("could not drop staging table for {}: {}", plan.target, e);
        }
    }

    async fn writer(&self) -> Result<Box<dyn Writer>> {
        let mut conn = connect::mysql_conn(&self.pool, &self.url, Side::Target).await?;
        for s in WRITER_SESSION {
            conn.query_drop(*s)
                .await
                .ctx("setting up a writer session")?;
        }
        let max_packet: Option<u64> = conn
            .query_first("SELECT @@max_allowed_packet")
            .await
            .ctx("reading max_allowed_packet")?;
        Ok(Box::new(MysqlWriter {
            conn,
            database: self.database.clone(),
            opts: self.opts.clone(),
            insert_only: self.insert_only,
            max_packet: max_packet.unwrap_or(4 << 20) as usize,
        }))
    }

    async fn finish_remapped(
        &self,
        plan: &TablePlan,
        _nulls: &[u64],
        reject_dir: &std::path::Path,
        mark: Option<&crate::ledger::FinishMark>,
    ) -> Result<RemapOutcome> {
        let mut conn = connect::mysql_conn(&self.pool, &self.url, Side::Target).await?;
        for s in WRITER_SESSION {
            conn.query_drop(*s)
                .await
                .ctx("setting up a writer session")?;
        }
        let to = super::remap::Target {
            database: &self.database,
            mode: self.opts.mode,
            drop_existing: self.opts.drop,
            server: self.server,
        };
        super::remap::finish_remapped(&mut conn, &to, plan, reject_dir, mark).await
    }

    async fn ledger(&self) -> Result<Arc<dyn crate::ledger::Ledger>> {
        Ok(Arc::new(super::ledger::MysqlLedger::open(&self.url).await?))
    }

    async fn key_map(&self, plan: &TablePlan, max: u64) -> Option<HashMap<i64, i64>> {
        let mut control = self.control.lock().await;
        super::remap::key_map(&mut control, &self.database, plan, max).await
    }

    async fn drop_key_maps(&self, plans: &[&TablePlan]) {
        let mut control = self.control.lock().await;
        super::remap::drop_key_maps(&mut control, &self.database, plans).await
    }

    async fn foreign_keys(&self, plan: &TablePlan, parent_ok: &[bool]) -> Vec<Option<Result<()>>> {
        let mut control = self.control.lock().await;
        let mut out = Vec::new();
        for (item, fk) in crate::engine::foreign_keys_to_add(
            plan,
            ddl::foreign_key_sql(&self.database, plan),
            parent_ok,
        )
        .into_iter()
        .zip(&plan.foreign_keys)
        {
            let Some((sql, what)) = item else {
                out.push(None);
                continue;
            };
            // Already there: an earlier, interrupted end of the same run made it (MySQL
            // would refuse the name again with errno 121).
            let there: Result<Option<i64>> = control
                .exec_first(
                    "SELECT 1 FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? \
                     AND TABLE_NAME = ? AND CONSTRAINT_NAME = ? AND CONSTRAINT_TYPE = 'FOREIGN KEY'",
                    (&self.database, &plan.target, &fk.name),
                )
                .await
                .ctx(what.clone());
            out.push(Some(match there {
                Ok(Some(_)) => Ok(()),
                Ok(None) => control.query_drop(sql).await.ctx(what),
                Err(e) => Err(e),
            }));
        }
        out
    }
}

struct MysqlWriter {
    conn: mysql_async::Conn,
    database: String,
    opts: SinkOptions,
    /// The server has local_infile off: multi-row INSERT instead of LOAD DATA.
    insert_only: bool,
    max_packet: usize,
}

impl MysqlWriter {
    fn table(&self, name: &str) -> String {
        format!("{}.{}", quote_ident(&self.database), quote_ident(name))
    }

    fn encoder(&self, plan: &TablePlan, batch_schema: &arrow_schema::Schema) -> TextEncoder {
        text_encoder(plan, batch_schema)
    }

    /// Fail on any warning: LOAD DATA LOCAL turns value errors into warnings (the server
    /// cannot stop the client's stream), and a warning there means a value was changed.
    async fn check_warnings(&mut self, plan: &TablePlan) -> Result<()> {
        if self.conn.get_warnings() == 0 {
            return Ok(());
        }
        let rows: Vec<(String, u32, String)> = self
            .conn
            .query("SHOW WARNINGS LIMIT 3")
            .await
            .ctx("reading the load's warnings")?;
        let list: Vec<String> = rows
            .into_iter()
            .map(|(level, code, msg)| format!("{level} {code}: {msg}"))
            .collect();
        Err(Error::Refused {
            table: plan.source.clone(),
            detail: format!(
                "MySQL changed or refused values while loading: {}",
                list.join("; ")
            ),
        })
    }

    /// One LOAD DATA LOCAL for the partition, its "file" streamed from the batches as the
    /// server asks for it: the stream owns the receiver and encodes batch by batch.
    async fn load_data(
        &mut self,
        plan: &TablePlan,
        first: RecordBatch,
        rows: mpsc::Receiver<RecordBatch>,
        on_rows: crate::engine::OnRows<'_>,
    ) -> Result<Written> {
        let encoder = self.encoder(plan, &first.schema());
        let mut cols = Vec::new();
        let mut sets = Vec::new();
        for (i, (name, how)) in encoder.names.iter().zip(&encoder.load_as).enumerate() {
            let var = format!("@v{i}");
            match how.set_expr(&var) {
                None => cols.push(quote_ident(name)),
                Some(e) => {
                    cols.push(var);
                    sets.push(format!("{} = {e}", quote_ident(name)));
                }
            }
        }
        let sql = format!(
            "LOAD DATA LOCAL INFILE 'barge' INTO TABLE {} CHARACTER SET utf8mb4 \
             FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({}){}",
            self.table(&staging_name(&plan.target)),
            cols.join(", "),
            if sets.is_empty() {
                String::new()
            } else {
                format!(" SET {}", sets.join(", "))
            }
        );
        // What the stream saw: progress per batch, and an encoding error (the server only
        // sees a broken file).
        let (progress, mut seen) = mpsc::unbounded_channel::<(u64, u64)>();
        let failed: Arc<std::sync::Mutex<Option<Error>>> = Default::default();
        let state = Feed {
            first: Some(first),
            rows,
            encoder,
            progress,
            failed: failed.clone(),
        };
        let stream = futures_util::stream::unfold(state, |mut st| async move {
            let batch = match st.first.take() {
                Some(b) => b,
                None => st.rows.recv().await?,
            };
            let mut buf = BytesMut::with_capacity(1 << 20);
            match st.encoder.encode_load(&batch, &mut buf) {
                Ok(()) => {
                    let _ = st
                        .progress
                        .send((batch.num_rows() as u64, buf.len() as u64));
                    Some((Ok(buf.freeze()), st))
                }
                Err(e) => {
                    let msg = e.to_string();
                    *st.failed.lock().unwrap() = Some(e);
                    // End the stream after the error: the driver stops sending.
                    st.first = None;
                    st.rows.close();
                    Some((Err(std::io::Error::other(msg)), st))
                }
            }
        });
        self.conn
            .set_infile_handler(async move { Ok(Box::pin(stream) as mysql_async::InfileData) });
        let mut bytes = 0u64;
        let loaded = {
            let load = self.conn.query_drop(&sql);
            tokio::pin!(load);
            loop {
                tokio::select! {
                    r = &mut load => break r,
                    Some((n, b)) = seen.recv() => {
                        bytes += b;
                        on_rows(n, b);
                    }
                }
            }
        };
        while let Ok((n, b)) = seen.try_recv() {
            bytes += b;
            on_rows(n, b);
        }
        // A handler the server never asked for (the statement failed first) still holds
        // the receiver: replace it, so the reader sees the writer is gone.
        self.conn.set_infile_handler(async {
            Ok(Box::pin(futures_util::stream::empty()) as mysql_async::InfileData)
        });
        if let Some(e) = failed.lock().unwrap().take() {
            return Err(e);
        }
        loaded.ctx(format!("LOAD DATA into {}", plan.target))?;
        let affected = self.conn.affected_rows();
        self.check_warnings(plan).await?;
        Ok(Written {
            rows: affected,
            bytes,
            refused: 0,
        })
    }

    /// Multi-row INSERTs, each under max_allowed_packet, for servers without local infile.
    async fn insert(
        &mut self,
        plan: &TablePlan,
        first: Option<RecordBatch>,
        rows: &mut mpsc::Receiver<RecordBatch>,
        on_rows: crate::engine::OnRows<'_>,
    ) -> Result<Written> {
        let head = insert_head(&self.table(&staging_name(&plan.target)), plan);
        // Leave room for the packet header and one more row.
        let limit = (self.max_packet / 2).clamp(64 << 10, 16 << 20);
        let mut written = Written::default();
        let mut next = first;
        if next.is_none() {
            next = rows.recv().await;
        }
        let mut sql = BytesMut::with_capacity(limit + (1 << 16));
        let mut in_stmt = 0u64;
        // Every batch of a partition has the same schema: one encoder serves them all.
        let Some(encoder) = next.as_ref().map(|b| self.encoder(plan, &b.schema())) else {
            return Ok(written);
        };
        while let Some(batch) = next.take() {
            let b = encoder.for_batch(&batch)?;
            for row in 0..batch.num_rows() {
                if in_stmt == 0 {
                    sql.extend_from_slice(head.as_bytes());
                }
                push_row(&b, row, in_stmt == 0, &mut sql)?;
                in_stmt += 1;
                if sql.len() >= limit {
                    written.rows += self.run_insert(plan, &mut sql).await?;
                    in_stmt = 0;
                }
            }
            on_rows(batch.num_rows() as u64, 0);
            next = rows.recv().await;
        }
        if in_stmt > 0 {
            written.rows += self.run_insert(plan, &mut sql).await?;
        }
        Ok(written)
    }

    async fn run_insert(&mut self, plan: &TablePlan, sql: &mut BytesMut) -> Result<u64> {
        send_insert(&mut self.conn, plan, &sql.split()).await?;
        self.check_warnings(plan).await?;
        Ok(self.conn.affected_rows())
    }
}

/// `INSERT INTO db.t (columns) VALUES `: the head of a multi-row INSERT into `table_ref`.
pub(super) fn insert_head(table_ref: &str, plan: &TablePlan) -> String {
    format!(
        "INSERT INTO {table_ref} ({}) VALUES ",
        plan.target_columns
            .iter()
            .map(|c| quote_ident(&c.name))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// One row's values as SQL literals, `(v1,v2,…)`, after a comma unless it is the first of
/// its statement.
pub(super) fn push_row(
    b: &crate::engine::mysql::load_format::BatchText<'_>,
    row: usize,
    first: bool,
    sql: &mut BytesMut,
) -> Result<()> {
    sql.extend_from_slice(if first { b"(" } else { b",(" });
    for col in 0..b.columns() {
        if col > 0 {
            sql.extend_from_slice(b",");
        }
        b.write(col, row, Dialect::Sql, sql)?;
    }
    sql.extend_from_slice(b")");
    Ok(())
}

/// Send an INSERT that `push_row` spelled.
pub(super) async fn send_insert(
    conn: &mut mysql_async::Conn,
    plan: &TablePlan,
    sql: &[u8],
) -> Result<()> {
    let text = std::str::from_utf8(sql).map_err(|_| Error::Table {
        table: plan.source.clone(),
        detail: "an INSERT was not valid UTF-8".into(),
    })?;
    conn.query_drop(text)
        .await
        .ctx(format!("INSERT into {}", plan.target))
}

/// Server errors that refuse the rows sent, not the statement (strict mode, constraints).
const REFUSED_ROW_ERRORS: &[u16] = &[
    1048, // column cannot be null
    1062, // duplicate entry (--data-only into a table with unique keys)
    1264, // out of range value
    1265, // data truncated (an ENUM or SET value, strict)
    1292, // incorrect date/time value
    1366, // incorrect value for column
    1406, // data too long
    1411, // incorrect value for a function (the SET expressions)
    1451, 1452, // foreign keys
    1690, // value out of range in an expression
    3140, // invalid JSON text (MySQL)
    3819, // CHECK (MySQL)
    4025, // CHECK (MariaDB)
];

#[async_trait::async_trait]
impl crate::engine::isolate::BatchLoader for MysqlWriter {
    async fn savepoint(&mut self, step: crate::engine::isolate::Savepoint) -> Result<()> {
        self.conn.query_drop(step.sql()).await.ctx(step.sql())
    }

    async fn load(
        &mut self,
        plan: &TablePlan,
        rows: &RecordBatch,
    ) -> Result<(u64, u64), crate::engine::isolate::LoadError> {
        use crate::engine::isolate::LoadError;
        // A stream of this one batch: the sender is gone, so it ends after it.
        let (_, none) = mpsc::channel(1);
        let mut none: mpsc::Receiver<RecordBatch> = none;
        let quiet = |_: u64, _: u64| {};
        let loaded = if self.insert_only {
            self.insert(plan, Some(rows.clone()), &mut none, &quiet)
                .await
        } else {
            // A value the encoder refuses inside LOAD DATA's stream breaks the connection
            // (the protocol cannot take the file back): find it before sending.
            let mut trial = BytesMut::new();
            match self
                .encoder(plan, &rows.schema())
                .encode_load(rows, &mut trial)
            {
                Err(Error::Value { column, detail, .. }) => {
                    return Err(LoadError::Refused {
                        reason: detail,
                        column: Some(column),
                    })
                }
                Err(e) => return Err(LoadError::Failed(e)),
                Ok(()) => {}
            }
            self.load_data(plan, rows.clone(), none, &quiet).await
        };
        match loaded {
            Ok(w) => Ok((w.rows, w.bytes)),
            Err(Error::Refused { detail, .. }) => Err(LoadError::Refused {
                reason: detail,
                column: None,
            }),
            Err(Error::Value { column, detail, .. }) => Err(LoadError::Refused {
                reason: detail,
                column: Some(column),
            }),
            Err(Error::Mysql {
                source: mysql_async::Error::Server(e),
                ..
            }) if REFUSED_ROW_ERRORS.contains(&e.code) => Err(LoadError::Refused {
                reason: format!("ERROR {}: {}", e.code, e.message),
                column: None,
            }),
            Err(e) => Err(LoadError::Failed(e)),
        }
    }
}

/// The state of one LOAD DATA's stream.
struct Feed {
    first: Option<RecordBatch>,
    rows: mpsc::Receiver<RecordBatch>,
    encoder: TextEncoder,
    progress: mpsc::UnboundedSender<(u64, u64)>,
    failed: Arc<std::sync::Mutex<Option<Error>>>,
}

#[async_trait::async_trait]
impl Writer for MysqlWriter {
    async fn write(
        &mut self,
        plan: &TablePlan,
        mut rows: mpsc::Receiver<RecordBatch>,
        on_rows: crate::engine::OnRows<'_>,
        refusals: Option<&crate::rejects::Rejects>,
    ) -> Result<Written> {
        self.conn
            .query_drop("START TRANSACTION")
            .await
            .ctx(format!("loading {}", plan.target))?;
        if let Some(rejects) = refusals {
            return crate::engine::isolate::load_isolating(self, plan, rows, on_rows, rejects)
                .await;
        }
        let Some(first) = rows.recv().await else {
            return Ok(Written::default());
        };
        if self.insert_only {
            return self.insert(plan, Some(first), &mut rows, on_rows).await;
        }
        self.load_data(plan, first, rows, on_rows).await
    }

    async fn commit(&mut self, plan: &TablePlan, mark: Option<&Mark>) -> Result<()> {
        if let Some(m) = mark {
            if !super::ledger::mark(&mut self.conn, &self.database, m).await? {
                self.rollback().await;
                return Err(Error::LeaseLost {
                    table: plan.source.clone(),
                    what: format!("partition {}", m.part),
                });
            }
            crate::failpoint::hit("partition-marked");
        }
        self.conn
            .query_drop("COMMIT")
            .await
            .ctx(format!("committing a partition of {}", plan.target))
    }

    async fn rollback(&mut self) {
        let _ = self.conn.query_drop("ROLLBACK").await;
    }

    async fn finish(
        &mut self,
        plan: &TablePlan,
        _nulls: &[u64],
        mark: Option<&FinishMark>,
    ) -> Result<()> {
        let staging = self.table(&staging_name(&plan.target));
        let target = self.table(&plan.target);
        let old = self.table(&old_name(&plan.target));
        let ctx = || format!("finishing table {}", plan.target);
        // DDL commits as it goes: a finish interrupted by a crash is completed from where
        // it stopped, which the tables themselves show.
        let staged = self.exists(&staging_name(&plan.target)).await?;
        if mark.is_some() && !staged {
            if self.opts.mode != Mode::DataOnly && self.exists(&plan.target).await? {
                drop_set_aside(&mut self.conn, &self.database, &plan.target).await?;
                return self.record_finish(plan, mark).await;
            }
            return Err(Error::Table {
                table: plan.source.clone(),
                detail: format!(
                    "its staging table {staging} is gone: rerun with --restart to load it again"
                ),
            });
        }
        let mut stmts = Vec::new();
        match self.opts.mode {
            Mode::DataOnly => {
                let cols = ddl::column_list(plan);
                // The rows and the mark commit together; the staging table goes after.
                stmts.push("START TRANSACTION".into());
                stmts.push(format!(
                    "INSERT INTO {target} ({cols}) SELECT {cols} FROM {staging}"
                ));
                self.run_all(plan, &stmts).await?;
                if let Err(e) = self.record_finish(plan, mark).await {
                    self.rollback().await;
                    return Err(e);
                }
                self.conn.query_drop("COMMIT").await.ctx(ctx())?;
                return self.run_all(plan, &[format!("DROP TABLE {staging}")]).await;
            }
            _ => {
                let mut alter = ddl::index_clauses(plan)
                    .into_iter()
                    .map(|c| format!("ADD {c}"))
                    .collect::<Vec<_>>();
                if mark.is_some()
                    && !alter.is_empty()
                    && self.has_indexes(&staging_name(&plan.target)).await?
                {
                    // One ALTER adds them all, so an interrupted finish got past it.
                    alter.clear();
                }
                if let Some(floor) = plan
                    .sequence_floor
                    .filter(|_| plan.target_columns.iter().any(|c| c.identity))
                {
                    // InnoDB keeps max(id) + 1 itself; this keeps ids of deleted rows unused.
                    alter.push(format!("AUTO_INCREMENT = {}", floor + 1));
                }
                if !alter.is_empty() {
                    stmts.push(format!("ALTER TABLE {staging} {}", alter.join(", ")));
                }
                if self.opts.drop {
                    // See prepare_run's warning.
                    stmts.extend(
                        drop_foreign_keys_on(&mut self.conn, &self.database, &plan.target).await?,
                    );
                    // One RENAME swaps both names atomically, but needs the old one to exist.
                    stmts.push(format!(
                        "CREATE TABLE IF NOT EXISTS {target} (barge_placeholder int)"
                    ));
                    stmts.push(format!(
                        "RENAME TABLE {target} TO {old}, {staging} TO {target}"
                    ));
                    stmts.push(format!("DROP TABLE {old}"));
                } else {
                    stmts.push(format!("RENAME TABLE {staging} TO {target}"));
                }
            }
        }
        self.run_all(plan, &stmts).await?;
        // DDL committed as it went: a crash here leaves the table in place and not marked.
        crate::failpoint::hit("finish-applied");
        self.record_finish(plan, mark).await
    }
}

impl MysqlWriter {
    async fn run_all(&mut self, plan: &TablePlan, stmts: &[String]) -> Result<()> {
        for s in stmts {
            let t = std::time::Instant::now();
            let done = self.conn.query_drop(s).await;
            tracing::debug!("{:.3}s {s}", t.elapsed().as_secs_f64());
            if let Err(e) = done {
                let e = Error::Mysql {
                    context: format!("finishing table {}: {s}", plan.target),
                    source: e,
                };
                // A lost session stays what it is, so the finish is retried on a new one.
                if e.is_transient() {
                    return Err(e);
                }
                return Err(Error::Table {
                    table: plan.source.clone(),
                    detail: e.to_string(),
                });
            }
        }
        Ok(())
    }

    async fn exists(&mut self, table: &str) -> Result<bool> {
        table_exists(&mut self.conn, &self.database, table).await
    }

    /// Whether the table has an index besides its primary key.
    async fn has_indexes(&mut self, table: &str) -> Result<bool> {
        let n: Option<i64> = self
            .conn
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.STATISTICS                  WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME <> 'PRIMARY' \
                 AND INDEX_TYPE NOT IN ('FULLTEXT', 'SPATIAL')",
                (&self.database, table),
            )
            .await
            .ctx("looking up a staging table's indexes")?;
        Ok(n.unwrap_or(0) > 0)
    }

    async fn record_finish(&mut self, plan: &TablePlan, mark: Option<&FinishMark>) -> Result<()> {
        match mark {
            Some(m) if !super::ledger::mark_finished(&mut self.conn, &self.database, m).await? => {
                Err(Error::LeaseLost {
                    table: plan.source.clone(),
                    what: "its finish".into(),
                })
            }
            _ => Ok(()),
        }
    }
}
