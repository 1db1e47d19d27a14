//! The seams between the executor and the databases. The executor (`run`) is written against
//! `Source` and `Sink` only; everything an engine says in its own SQL lives in its folder.
//! Between the two ends travel Arrow record batches.

pub mod isolate;
pub mod mysql;
pub mod postgres;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::ledger::{FinishMark, Mark};
use crate::partition::KeyRange;
use crate::plan::{Mode, TablePlan};
use crate::url::{DbUrl, Engine};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::mpsc;

/// One partition of one planned table, as the executor asks a source to read it.
pub struct ReadRequest {
    pub plan: Arc<TablePlan>,
    /// The batches' schema (`TablePlan::reader_schema`).
    pub schema: SchemaRef,
    /// `None`: the whole table.
    pub range: Option<KeyRange>,
    /// Only the first this many rows in primary key order (`barge bench`'s sampled runs).
    pub limit: Option<u64>,
    pub batch_rows: usize,
    /// Flush a batch early once its values exceed this many bytes (wide rows).
    pub batch_bytes: usize,
    pub zero_dates: crate::temporal::ZeroDates,
    /// Under `--on-error skip-row`: where a row that cannot be converted goes.
    pub rejects: Option<Arc<crate::rejects::Rejects>>,
    /// The target stores NUL characters in text (`Sink::stores_nul_in_text`).
    pub nul_in_text: bool,
}

/// What a source read of one partition saw.
#[derive(Debug, Default, Clone)]
pub struct ReadStats {
    pub rows: u64,
    /// Per read column: dates the target cannot hold, turned into NULL.
    pub nulled_dates: Vec<crate::temporal::NulledDates>,
    /// Rows read but left out under `--on-error skip-row` (in the reject file).
    pub rejected: u64,
}

/// What a sink's write of one partition did.
#[derive(Debug, Default, Clone)]
pub struct Written {
    /// Rows the target reports as stored.
    pub rows: u64,
    /// Bytes sent to the server.
    pub bytes: u64,
    /// Rows the target refused, written to the reject file (`--on-error skip-row`).
    pub refused: u64,
}

/// What a remapped finish did with orphans: per column, rows nulled or skipped.
#[derive(Debug, Default, Clone)]
pub struct RemapOutcome {
    /// Orphans loaded with a NULL key, per column.
    pub orphans_nulled: BTreeMap<String, u64>,
    /// Orphans left out and written to the reject file, per column.
    pub orphans_skipped: BTreeMap<String, u64>,
    pub rejects_file: Option<std::path::PathBuf>,
    pub inserted: u64,
}

/// Told how many rows and bytes a write has sent so far (progress).
pub type OnRows<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// Where rows come from.
#[async_trait::async_trait]
pub trait Source: Send + Sync {
    /// The database's tables, columns, keys and relationships.
    async fn catalog(&self) -> Result<Catalog>;

    /// Check facts the catalog cannot tell on the planned columns, where that is cheap
    /// (MySQL: whether a TINYINT(1) holds only 0 and 1). True when `catalog` changed and the
    /// tables must be planned again.
    async fn refine(&self, catalog: &mut Catalog, plans: &[TablePlan]) -> Result<bool>;

    /// Choose a development subset: per table, the condition that selects its rows.
    async fn sample(
        &self,
        catalog: &Catalog,
        plans: &[TablePlan],
        relationships: &[crate::catalog::conventions::Relationship],
        sample: &crate::sample::Sample,
    ) -> Result<BTreeMap<String, crate::sample::TableSample>>;

    /// Make every later count and read see one moment of the source (`--consistent`),
    /// with up to `readers` reads at once. Returns the snapshot's id when other processes
    /// can import it (PostgreSQL's exported snapshots), held until `close`.
    async fn snapshot(&self, plans: &[TablePlan], readers: usize) -> Result<Option<String>>;

    /// Read inside a snapshot another process exported and holds (a worker of a
    /// `--consistent` run).
    async fn import_snapshot(&self, id: &str) -> Result<()> {
        Err(Error::Config(format!(
            "this source cannot read inside another process's snapshot ({id})"
        )))
    }

    /// Count a table's rows (under its filter), and split it into at most `parts` ranges
    /// when it has at least twice `min_rows` rows and a key to split on.
    async fn count(
        &self,
        plan: &TablePlan,
        parts: usize,
        min_rows: u64,
    ) -> Result<(u64, Option<Vec<KeyRange>>)>;

    /// Stream one partition into `out`. Returns early (Ok) when the receiver is gone: the
    /// writer failed and reports its own error.
    async fn read(&self, req: ReadRequest, out: mpsc::Sender<RecordBatch>) -> Result<ReadStats>;

    /// Release connections (and a snapshot's locks).
    async fn close(&self);
}

/// How a sink treats the target tables; fixed for a run.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// The target schema (PostgreSQL); MySQL's is the database of the URL.
    pub schema: String,
    pub mode: Mode,
    /// Replace existing tables, once the new ones are loaded.
    pub drop: bool,
}

/// What a target server is, as far as a plan depends on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetServer {
    /// `SELECT VERSION()`, when the server was asked.
    pub version: Option<String>,
    /// Whether its uuid type refuses uuids PostgreSQL accepts; None: not known.
    pub strict_uuid: Option<bool>,
}

/// Ask a target what it is, touching nothing (`barge plan`). A server that cannot be
/// reached is not known: the plan then says what depends on it.
pub async fn probe_target(url: &DbUrl) -> TargetServer {
    match url.engine() {
        Engine::Postgres => TargetServer::default(),
        Engine::Mysql => match mysql::write::probe(url).await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!("the target's version is not known: {e}");
                TargetServer::default()
            }
        },
    }
}

/// Where rows go.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    /// What the connected server is.
    fn server(&self) -> TargetServer {
        TargetServer::default()
    }

    /// Whether text may hold NUL characters (PostgreSQL's cannot): otherwise a source
    /// refuses such a value, naming its row.
    fn stores_nul_in_text(&self) -> bool {
        false
    }

    /// Before anything is done to the target: compare the plans with what it holds
    /// (existing tables, --data-only columns, names already taken), adjust names and add
    /// warnings, and create what the whole run needs (the schema, shared functions).
    async fn prepare_run(&self, plans: &mut [TablePlan]) -> Result<()>;

    /// `--schema-only`: create every table, key, index and foreign key, all or nothing.
    async fn create_schema(&self, plans: &[TablePlan]) -> Result<()>;

    /// Make a table ready to take partitions (a fresh staging table).
    async fn prepare(&self, plan: &TablePlan) -> Result<()>;

    /// Remove what `prepare` and the writes left of a table that will not finish.
    async fn discard(&self, plan: &TablePlan);

    /// One more connection that writes partitions.
    async fn writer(&self) -> Result<Box<dyn Writer>>;

    /// Finish a table whose keys are rewritten in the target (new keys, remapped parents),
    /// recording `mark` in the ledger in the same transaction.
    async fn finish_remapped(
        &self,
        plan: &TablePlan,
        nulls: &[u64],
        reject_dir: &std::path::Path,
        mark: Option<&FinishMark>,
    ) -> Result<RemapOutcome>;

    /// The ledger of runs kept in this target, on a connection of its own.
    async fn ledger(&self) -> Result<Arc<dyn crate::ledger::Ledger>>;

    /// A finished remapped table's old → new keys, when there are at most `max`.
    async fn key_map(&self, plan: &TablePlan, max: u64) -> Option<HashMap<i64, i64>>;

    /// Drop the key maps of these tables (the run no longer needs them).
    async fn drop_key_maps(&self, plans: &[&TablePlan]);

    /// Create the table's foreign keys whose parents loaded: one result per foreign key
    /// in `plan.foreign_keys` order, `None` where the parent did not load.
    async fn foreign_keys(&self, plan: &TablePlan, parent_ok: &[bool]) -> Vec<Option<Result<()>>>;
}

/// One connection into the target, writing partitions and finishing tables.
#[async_trait::async_trait]
pub trait Writer: Send {
    /// Write the batches of one partition (already transformed) into the table's staging,
    /// in a transaction that `commit` or `rollback` ends.
    /// With `refusals` (`--on-error skip-row`), rows the target refuses go there and the
    /// others load (`isolate`); without, the first refusal fails the partition.
    async fn write(
        &mut self,
        plan: &TablePlan,
        rows: mpsc::Receiver<RecordBatch>,
        on_rows: OnRows<'_>,
        refusals: Option<&crate::rejects::Rejects>,
    ) -> Result<Written>;

    /// Commit the partition written, with its `done` mark in the ledger in the same
    /// transaction: `Error::LeaseLost` (and nothing committed) when the mark is refused.
    async fn commit(&mut self, plan: &TablePlan, mark: Option<&Mark>) -> Result<()>;

    /// Undo what the partition wrote (after an error); harmless when nothing is open.
    async fn rollback(&mut self);

    /// Put a fully loaded table in place (keys, indexes, swap), with `nulls` written per
    /// target column, and record `mark` in the ledger as part of it. Run again after a
    /// crash during an earlier finish of the same table, it completes that one.
    async fn finish(
        &mut self,
        plan: &TablePlan,
        nulls: &[u64],
        mark: Option<&FinishMark>,
    ) -> Result<()>;
}

/// A table's foreign-key statements paired with what each is (for its error), `None` where
/// the parent did not load: what every sink's `foreign_keys` runs.
pub fn foreign_keys_to_add(
    plan: &TablePlan,
    statements: Vec<String>,
    parent_ok: &[bool],
) -> Vec<Option<(String, String)>> {
    statements
        .into_iter()
        .zip(parent_ok)
        .zip(&plan.foreign_keys)
        .map(|((sql, ok), fk)| {
            ok.then(|| (sql, format!("foreign key {} on {}", fk.name, plan.target)))
        })
        .collect()
}

/// Open the source a URL names.
pub async fn open_source(url: &DbUrl, readers: usize) -> Result<Arc<dyn Source>> {
    match url.engine() {
        Engine::Mysql => Ok(Arc::new(mysql::MysqlSource::new(url, readers).await?)),
        Engine::Postgres => Ok(Arc::new(postgres::source::PgSource::new(url))),
    }
}

/// Connect to the target a URL names, for up to `writers` writers.
pub async fn open_sink(url: &DbUrl, opts: SinkOptions, writers: usize) -> Result<Arc<dyn Sink>> {
    match url.engine() {
        Engine::Postgres => Ok(Arc::new(postgres::PgSink::connect(url, opts).await?)),
        Engine::Mysql => Ok(Arc::new(
            mysql::write::MysqlSink::connect(url, opts, writers).await?,
        )),
    }
}

/// An index's keys as the target declares them.
pub fn index_keys(target: Engine, plan: &TablePlan, i: &crate::plan::TargetIndex) -> String {
    match target {
        Engine::Postgres => postgres::write::index_keys(plan, i),
        Engine::Mysql => mysql::ddl::index_keys(i),
    }
}

/// The CHECK constraints a table gets in the target, as it declares them, and (`Err`) those
/// it leaves out, with why.
pub fn check_clauses(target: Engine, plan: &TablePlan) -> Vec<std::result::Result<String, String>> {
    match target {
        Engine::Postgres => postgres::write::check_clauses(plan).map(Ok).collect(),
        Engine::Mysql => mysql::ddl::check_clauses(plan),
    }
}

/// The type table of the engine a catalog was read from: what the plan maps columns with.
pub fn source_types(engine: Engine) -> crate::types::SourceTypes {
    match engine {
        Engine::Mysql => crate::types::map_mysql_into,
        Engine::Postgres => postgres::types::map_pg,
    }
}

/// Row-by-row inserts as an ORM sends them: the baselines `barge bench` measures barge
/// against. Each engine spells them in its own SQL.
#[async_trait::async_trait]
pub trait RowInserter: Send {
    /// Replace the inserter's place (a PostgreSQL schema, a MySQL database) with one holding
    /// the plan's table, keys and indexes included, and no rows (an ORM's migrations ran).
    async fn create_table(&mut self, plan: &TablePlan) -> Result<()>;
    async fn begin(&mut self) -> Result<()>;
    /// Insert the batch's rows, `per_statement` at a time (1: an INSERT a row).
    async fn insert(
        &mut self,
        plan: &TablePlan,
        batch: &RecordBatch,
        per_statement: usize,
    ) -> Result<()>;
    async fn commit(&mut self) -> Result<()>;
}

/// An inserter into `place` of the target server `to`: a PostgreSQL schema of its database,
/// or a MySQL database (created by `create_table`).
pub async fn row_inserter(to: &DbUrl, place: &str) -> Result<Box<dyn RowInserter>> {
    Ok(match to.engine() {
        Engine::Postgres => Box::new(postgres::orm::PgRows::new(
            postgres::connect::pg_connect(to, crate::error::Side::Target).await?,
            place,
        )),
        Engine::Mysql => {
            let pool = mysql::connect::mysql_pool_in(to, 1, None).await?;
            let conn = mysql::connect::mysql_conn(&pool, to, crate::error::Side::Target).await?;
            Box::new(mysql::orm::MysqlRows::new(conn, place))
        }
    })
}

/// The ledger of runs kept in the database a URL names (`barge work`, `barge status`).
pub async fn open_ledger(url: &DbUrl) -> Result<Arc<dyn crate::ledger::Ledger>> {
    Ok(match url.engine() {
        Engine::Postgres => Arc::new(postgres::ledger::PgLedger::open(url).await?),
        Engine::Mysql => Arc::new(mysql::ledger::MysqlLedger::open(url).await?),
    })
}

/// Refuse a plan the target engine cannot hold, before connecting (`barge plan`, too).
pub fn check_plan(target: Engine, plan: &TablePlan) -> Result<()> {
    match target {
        Engine::Postgres => postgres::write::check_encodable(plan),
        Engine::Mysql => {
            mysql::ddl::check_names(plan)?;
            for c in &plan.target_columns {
                mysql::ddl::column_type(plan, c, mysql::ddl::Server::default())?;
            }
            Ok(())
        }
    }
}

/// One planned column as the target engine declares it, and what does not arrive exactly
/// (`barge plan`, `barge inspect`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Declared {
    pub column: String,
    /// The source column it comes from (`None`: added or computed).
    pub source: Option<String>,
    pub source_type: Option<String>,
    /// The target's type for it.
    pub declaration: String,
    /// What the mapping loses on the way (the values arrive, but not all of what they were).
    pub lossy: Option<String>,
    /// Values the target refuses, each an error naming its row.
    pub refuses: Option<String>,
}

/// What a target engine says about one mapping, beside its declaration.
#[derive(Debug, Default)]
pub struct Caveat {
    pub lossy: Option<String>,
    pub refuses: Option<String>,
}

/// Every target column of a plan as the target engine declares it. `Err` is the reason the
/// target refuses the table.
pub fn declare(
    target: Engine,
    catalog: &Catalog,
    plan: &TablePlan,
    schema: &str,
    server_version: Option<&str>,
) -> Result<Vec<Declared>> {
    check_plan(target, plan)?;
    let table = catalog.table(&plan.source);
    let mut out = Vec::with_capacity(plan.target_columns.len());
    for (i, c) in plan.target_columns.iter().enumerate() {
        let from = plan.columns.get(i).and_then(|(name, m)| {
            table
                .and_then(|t| t.columns.iter().find(|col| col.name == *name))
                .map(|col| (col, m))
        });
        let (declaration, caveat) = match target {
            Engine::Postgres => (
                postgres::write::declaration(c, schema),
                from.map(|(col, m)| {
                    postgres::write::caveat(&plan.source, catalog.engine, col, m, c)
                })
                .unwrap_or_default(),
            ),
            Engine::Mysql => {
                let server = mysql::ddl::Server::from_version(server_version);
                (
                    mysql::ddl::column_type(plan, c, server)?,
                    from.map(|(col, _)| mysql::ddl::caveat(plan, catalog.engine, col, c, server))
                        .unwrap_or_default(),
                )
            }
        };
        out.push(Declared {
            column: c.name.clone(),
            source: from.map(|(col, _)| col.name.clone()),
            source_type: from.map(|(col, _)| col.column_type.clone()),
            declaration,
            lossy: caveat.lossy,
            refuses: caveat.refuses,
        });
    }
    Ok(out)
}
