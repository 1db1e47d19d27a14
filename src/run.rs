//! The copy executor: validate, plan partitions, run `jobs` workers that each own one
//! connection per side, finish each table when its last partition lands, then add the
//! foreign keys. Between a reader and its writer sits a bounded channel of record batches,
//! so memory stays at a few batches per worker however large the table.

use crate::catalog::mysql::introspect;
use crate::connect::{mysql_conn, mysql_pool, pg_connect};
use crate::error::{Context, Error, Result, Side};
use crate::plan::{plan_each, Mode, Selection, TablePlan};
use crate::report::{Report, Status, TableReport};
use crate::sink::postgres::{self as pg, qualified, quote_ident};
use crate::source::mysql::{int_of, quote_ident as my_ident, read_partition, ReadSpec, ReadStats};
use crate::source::{split_range, KeyRange};
use crate::url::DbUrl;
use arrow_schema::Schema;
use mysql_async::prelude::Queryable;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub selection: Selection,
    /// Target schema (created if missing).
    pub schema: String,
    /// Connections on each side, and partitions read at once.
    pub jobs: usize,
    pub batch_rows: usize,
    pub mode: Mode,
    /// Replace existing target tables (atomically, after the new one is loaded).
    pub drop: bool,
    /// Tables with fewer rows than twice this are read whole.
    pub min_partition_rows: u64,
    /// Where rows skipped by an orphan policy are written (one CSV per table).
    pub reject_dir: std::path::PathBuf,
    /// Key maps of remapped parents up to this many entries are held in memory and applied as
    /// the children stream; larger ones stay in the target and the children are remapped
    /// there (a second write of those tables).
    pub max_memory_keymap: u64,
    /// Read every table and partition from one consistent snapshot of the source, taken while
    /// writers are held off for a moment (FLUSH TABLES WITH READ LOCK, or LOCK TABLES … READ
    /// on the tables read when the user lacks RELOAD). For copying from a live database.
    pub consistent: bool,
    /// Dates PostgreSQL cannot hold (`0000-00-00`, `1978-00-00`, `2024-02-30`): written as
    /// NULL and counted by kind, or refused.
    pub zero_dates: crate::temporal::ZeroDates,
    /// Keep MySQL's `ON UPDATE CURRENT_TIMESTAMP` as a BEFORE UPDATE trigger on the table.
    pub on_update_triggers: bool,
    /// Stop at the first table that fails (the others are skipped), instead of attempting
    /// every table.
    pub fail_fast: bool,
    /// Copy a development subset: sampled rows plus every parent row they refer to.
    pub sample: Option<crate::sample::Sample>,
    /// Told what happens while the run goes (progress bars, JSON events, an ETL's own).
    pub observer: Option<crate::progress::ObserverHandle>,
    /// A row the reader cannot convert: fail its table, or leave it out and write it to
    /// `reject_dir/<table>.jsonl`.
    pub on_error: crate::rejects::OnError,
    /// Under skip-row, a table with more rejected rows than this fails.
    pub max_rejects: Option<u64>,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            selection: Selection::default(),
            schema: "public".into(),
            jobs: 4,
            batch_rows: 4096,
            mode: Mode::Create,
            drop: false,
            min_partition_rows: 50_000,
            reject_dir: "barge-rejects".into(),
            max_memory_keymap: 20_000_000,
            consistent: false,
            zero_dates: Default::default(),
            on_update_triggers: true,
            fail_fast: false,
            sample: None,
            observer: None,
            on_error: Default::default(),
            max_rejects: None,
        }
    }
}

/// How long `--consistent` may wait for its read lock (writers queue behind it meanwhile).
const SNAPSHOT_LOCK_WAIT_S: u32 = 10;

/// Batches in flight between one reader and its writer.
const CHANNEL_BATCHES: usize = 2;
const BATCH_BYTES: usize = 8 << 20;

struct Work {
    table: usize,
    range: Option<KeyRange>,
}

struct Progress {
    remaining: usize,
    read: ReadStats,
    written: u64,
    /// Rows the transforms left out (a filter barge evaluates).
    filtered: u64,
    /// NULLs written per target column.
    nulls: Vec<u64>,
    started: Option<Instant>,
    seconds: f64,
    /// Seconds from the start until the last partition was in (the rest is the finish).
    load_seconds: Option<f64>,
    /// COPY data sent.
    bytes: u64,
    status: Option<Status>,
    error: Option<String>,
    /// All partitions are in; the finish waits for the remapping phase.
    loaded: bool,
    orphans_nulled: std::collections::BTreeMap<String, u64>,
    orphans_skipped: std::collections::BTreeMap<String, u64>,
    rejects_file: Option<String>,
}

impl Progress {
    fn stop_clock(&mut self) {
        self.seconds = self
            .started
            .map(|s| s.elapsed().as_secs_f64())
            .unwrap_or(0.0);
    }
}

struct Shared {
    database: String,
    schema: String,
    mode: Mode,
    drop: bool,
    batch_rows: usize,
    zero_dates: crate::temporal::ZeroDates,
    fail_fast: bool,
    observer: Option<crate::progress::ObserverHandle>,
    /// Per table, under skip-row: its reject file.
    rejects: Vec<Option<Arc<crate::rejects::Rejects>>>,
    /// Set by the first failure under `fail_fast`: no more partitions start.
    stopped: std::sync::atomic::AtomicBool,
    plans: Vec<Arc<TablePlan>>,
    arrow: Vec<Arc<Schema>>,
    source_rows: Vec<u64>,
    queue: Mutex<VecDeque<Work>>,
    progress: Vec<Mutex<Progress>>,
    source_url: DbUrl,
    pool: mysql_async::Pool,
    /// With `consistent`: one connection per worker, each inside a transaction that started
    /// at the same moment; a partition borrows one, and gives it back.
    snapshots: Option<Snapshots>,
    /// Per table: in-memory key remaps applied in the writer (children of remapped parents
    /// whose maps fit in memory). Such a table finishes like any other: no second write.
    stream: Vec<Mutex<Option<StreamRemap>>>,
}

/// The snapshot connections (see `CopyOptions::consistent`). One that failed is not given
/// back: a new one would see another moment. Partitions wait for a free one while any is left.
struct Snapshots {
    free: Mutex<Vec<mysql_async::Conn>>,
    live: std::sync::atomic::AtomicUsize,
}

impl Snapshots {
    async fn take(&self) -> Result<mysql_async::Conn> {
        use std::sync::atomic::Ordering;
        loop {
            if let Some(c) = self.free.lock().unwrap().pop() {
                return Ok(c);
            }
            if self.live.load(Ordering::SeqCst) == 0 {
                return Err(Error::Invalid(
                    "--consistent: every snapshot connection was lost to earlier failures, so \
                     no later read can see the same moment"
                        .into(),
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    fn give_back(&self, conn: mysql_async::Conn, healthy: bool) {
        if healthy {
            self.free.lock().unwrap().push(conn);
        } else {
            self.lost();
        }
    }

    fn lost(&self) {
        self.live.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

struct StreamRemap {
    transforms: Vec<Arc<dyn crate::transform::Transform>>,
    nulled: Vec<(String, Arc<std::sync::atomic::AtomicU64>)>,
}

impl Shared {
    /// Table `t` got its status: say so, and after a failure under `fail_fast` start nothing
    /// more.
    fn finished(&self, t: usize, prog: &Progress) {
        crate::progress::emit(
            &self.observer,
            crate::progress::Event::TableFinished {
                table: &self.plans[t].source,
                status: prog.status.unwrap_or(Status::Skipped),
                rows: prog.written,
                seconds: prog.seconds,
                error: prog.error.as_deref(),
            },
        );
        if prog.status == Some(Status::Failed) && self.fail_fast {
            self.stopped
                .store(true, std::sync::atomic::Ordering::SeqCst);
            self.queue.lock().unwrap().clear();
        }
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Finished after the loads by SQL: new-key tables, and remapped children not streamed.
    fn deferred(&self, t: usize) -> bool {
        let p = &self.plans[t];
        p.new_keys || (!p.remaps.is_empty() && self.stream[t].lock().unwrap().is_none())
    }
}

/// Whether each table's `ON UPDATE CURRENT_TIMESTAMP` columns get their trigger, and say so.
fn settle_on_update(plans: &mut [TablePlan], opts: &CopyOptions) {
    for p in plans.iter_mut().filter(|p| !p.on_update_now.is_empty()) {
        let cols = p.on_update_now.join(", ");
        let why = if !opts.on_update_triggers {
            "--no-on-update-triggers"
        } else if opts.mode == Mode::DataOnly {
            "--data-only creates nothing in the target"
        } else {
            p.notes.push(format!(
                "{}: ON UPDATE CURRENT_TIMESTAMP on {cols} kept as trigger \
                 on_update_current_timestamp",
                p.target
            ));
            continue;
        };
        p.warnings.push(format!(
            "{}: ON UPDATE CURRENT_TIMESTAMP on {cols} is not carried over ({why}): updates \
             will no longer change these columns",
            p.target
        ));
        p.on_update_now.clear();
    }
}

/// Read the catalog and plan the copy. The TINYINT(1) columns read as booleans are checked
/// first where that is cheap; one holding other values is planned as the integer it is.
async fn plan_source(
    conn: &mut mysql_async::Conn,
    database: &str,
    opts: &CopyOptions,
) -> Result<(
    crate::catalog::Catalog,
    Vec<TablePlan>,
    Vec<crate::plan::Refused>,
)> {
    let mut catalog = introspect(conn, database).await?;
    let (mut plans, mut refused) = plan_each(&catalog, &opts.selection)?;
    let booleans: Vec<(String, String)> = plans
        .iter()
        .flat_map(|p| {
            p.read_columns()
                .into_iter()
                .filter(|(_, m)| m.decode == crate::types::Decode::Bool01)
                .map(|(c, _)| (p.source.clone(), c))
        })
        .collect();
    // Planned again only when a column turned out not to be a boolean.
    if !booleans.is_empty()
        && crate::catalog::mysql::probe_tinyint_booleans(conn, database, &mut catalog, &booleans)
            .await?
    {
        (plans, refused) = plan_each(&catalog, &opts.selection)?;
    }
    for p in &plans {
        pg::check_encodable(p)?;
    }
    settle_on_update(&mut plans, opts);
    if let Some(sample) = &opts.sample {
        let rels = crate::plan::apply_rules(&catalog, &opts.selection.relationships)?;
        let chosen =
            crate::sample::plan_sample(conn, database, &catalog, &plans, &rels, sample).await?;
        for p in plans.iter_mut() {
            let s = &chosen[&p.source];
            p.filter = Some(match &p.filter {
                Some(f) => format!("({f}) AND ({})", s.condition),
                None => s.condition.clone(),
            });
            let own = match sample.size {
                _ if !sample.roots.is_empty() && !sample.roots.contains(&p.source) => {
                    "no sample of its own (not a --sample-root)".to_string()
                }
                crate::sample::SampleSize::Rows(n) => format!("a sample of up to {n} rows"),
                crate::sample::SampleSize::Percent(x) => format!("a {x}% sample"),
            };
            p.notes.push(format!(
                "{}: {own} (seed {}), and the rows with the {} key(s) that copied rows refer to",
                p.source, sample.seed, s.parents_added
            ));
        }
    }
    Ok((catalog, plans, refused))
}

/// Read the source catalog and plan the copy, touching nothing: what `barge plan` shows.
pub async fn plan_only(
    from: &DbUrl,
    opts: &CopyOptions,
) -> Result<(crate::catalog::Catalog, Vec<TablePlan>)> {
    let database = from.database().ok_or_else(|| Error::Url {
        url: from.redacted(),
        reason: "the source URL names no database (mysql://user:password@host:port/DATABASE)"
            .into(),
    })?;
    let pool = mysql_pool(from, 1)?;
    let result = async {
        let mut conn = mysql_conn(&pool, from, Side::Source).await?;
        let (catalog, plans, refused) = plan_source(&mut conn, &database, opts).await?;
        match refused.into_iter().next() {
            Some(r) => Err(r.error),
            None => Ok((catalog, plans)),
        }
    }
    .await;
    let _ = pool.disconnect().await;
    result
}

/// Copy tables from a MySQL/MariaDB database into PostgreSQL.
///
/// Returns `Err` for problems found before any data moved (connection, selection, types,
/// existing targets). Problems during the load are in the report: check `Report::ok()`.
pub async fn copy(from: &DbUrl, to: &DbUrl, opts: &CopyOptions) -> Result<Report> {
    let started = Instant::now();
    let database = from.database().ok_or_else(|| Error::Url {
        url: from.redacted(),
        reason: "the source URL names no database (mysql://user:password@host:port/DATABASE)"
            .into(),
    })?;
    let jobs = opts.jobs.max(1);
    let pool = mysql_pool(from, jobs + 1)?;
    let result = copy_inner(from, to, opts, &database, jobs, pool.clone(), started).await;
    let _ = pool.disconnect().await;
    result
}

async fn copy_inner(
    from: &DbUrl,
    to: &DbUrl,
    opts: &CopyOptions,
    database: &str,
    jobs: usize,
    pool: mysql_async::Pool,
    started: Instant,
) -> Result<Report> {
    let mut conn = mysql_conn(&pool, from, Side::Source).await?;
    let mut control = pg_connect(to, Side::Target).await?;
    let (_, mut plans, mut refused) = plan_source(&mut conn, database, opts).await?;
    if opts.fail_fast && !refused.is_empty() {
        return Err(refused.swap_remove(0).error);
    }
    // Tables that cannot be copied are reported failed; the others still load.
    let refused: Vec<TableReport> = refused
        .into_iter()
        .map(|r| TableReport::failed(&r.source, crate::url::redact(&r.error.to_string())))
        .collect();
    if plans.is_empty() {
        return Ok(finish_report(from, to, opts, refused, vec![], started));
    }
    tracing::info!(
        "planned {} tables in {:.3}s",
        plans.len(),
        started.elapsed().as_secs_f64()
    );
    let schema = opts.schema.clone();

    // Everything that can be checked is checked before the first write to the target.
    let names: Vec<String> = plans.iter().map(|p| p.target.clone()).collect();
    let existing = pg::existing_tables(&control, &schema, &names).await?;
    match opts.mode {
        Mode::Create | Mode::SchemaOnly if !opts.drop && !existing.is_empty() => {
            return Err(Error::TargetExists {
                table: existing
                    .iter()
                    .map(|t| format!("{schema}.{t}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Mode::DataOnly => {
            for p in &plans {
                if !existing.contains(&p.target) {
                    return Err(Error::TargetMismatch {
                        table: format!("{schema}.{}", p.target),
                        detail: "it does not exist (--data-only loads into existing tables)".into(),
                    });
                }
                pg::check_data_only_target(&control, &schema, p).await?;
            }
        }
        _ => {}
    }

    // Index names must not collide with what the target schema already holds
    // (--data-only creates no index).
    if opts.mode != Mode::DataOnly {
        let relations = pg::existing_relations(&control, &schema).await?;
        crate::plan::unique_relation_names(&mut plans, &relations, opts.drop)?;
    }

    if opts.drop && !existing.is_empty() {
        // Replacing a table drops the foreign keys other tables hold on it (CASCADE); say so
        // for those outside this copy, which barge will not recreate.
        let rows = control
            .query(
                "SELECT c.conname, ch.relname, p.relname FROM pg_constraint c \
                 JOIN pg_class ch ON ch.oid = c.conrelid JOIN pg_class p ON p.oid = c.confrelid \
                 JOIN pg_namespace pn ON pn.oid = p.relnamespace JOIN pg_namespace chn ON chn.oid = ch.relnamespace \
                 WHERE c.contype = 'f' AND pn.nspname = $1 AND p.relname = ANY($2) \
                   AND NOT (chn.nspname = $1 AND ch.relname = ANY($2))",
                &[&schema, &names],
            )
            .await
            .ctx("looking up foreign keys on replaced tables")?;
        for r in rows {
            let (fk, child, parent): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            if let Some(p) = plans.iter_mut().find(|p| p.target == parent) {
                p.warnings.push(format!(
                    "--drop replaces {parent}: the foreign key {fk} that {child} (not part of this copy) holds on it is dropped and not recreated"
                ));
            }
        }
    }
    control
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {}",
            quote_ident(&schema)
        ))
        .await
        .ctx(format!("creating schema {schema}"))?;
    if plans.iter().any(|p| !p.on_update_now.is_empty()) {
        control
            .batch_execute(&pg::on_update_function_sql(&schema))
            .await
            .ctx("creating the ON UPDATE CURRENT_TIMESTAMP trigger function")?;
    }

    if opts.mode == Mode::SchemaOnly {
        let mut report = schema_only(&control, &schema, &plans, opts, from, to, started).await?;
        report.tables.extend(refused);
        return Ok(report);
    }

    let mut snapshots = if opts.consistent {
        let tables: Vec<&str> = plans.iter().map(|p| p.source.as_str()).collect();
        Some(snapshot_connections(&mut conn, &pool, from, database, &tables, jobs).await?)
    } else {
        None
    };

    // Per table: a failure before its load (counting, staging), which leaves it out alone.
    let mut early: Vec<Option<String>> = vec![None; plans.len()];
    // Count and split each table (inside the snapshot, when there is one).
    let mut source_rows = Vec::with_capacity(plans.len());
    let mut work = Vec::new();
    for (i, p) in plans.iter().enumerate() {
        let counter = match snapshots.as_mut() {
            Some(s) => &mut s[0],
            None => &mut conn,
        };
        let (count, ranges) = match partition(
            counter,
            database,
            p,
            p.jobs.unwrap_or(jobs),
            opts.min_partition_rows,
        )
        .await
        {
            Ok(counted) => counted,
            Err(e) if opts.fail_fast => return Err(e),
            Err(e) => {
                early[i] = Some(e.to_string());
                source_rows.push(0);
                continue;
            }
        };
        source_rows.push(count);
        match ranges {
            Some(rs) => work.extend(rs.into_iter().map(|r| {
                (
                    count,
                    Work {
                        table: i,
                        range: Some(r),
                    },
                )
            })),
            None => work.push((
                count,
                Work {
                    table: i,
                    range: None,
                },
            )),
        }
    }
    drop(conn);
    // Largest tables first, so the long poles start early.
    work.sort_by_key(|(count, w)| (std::cmp::Reverse(*count), w.table));
    let mut parts = vec![0usize; plans.len()];
    for (_, w) in &work {
        parts[w.table] += 1;
    }

    tracing::info!(
        "counted and partitioned at {:.3}s",
        started.elapsed().as_secs_f64()
    );
    for (i, p) in plans.iter().enumerate() {
        if early[i].is_some() {
            continue;
        }
        if let Err(e) = pg::prepare_staging(&control, &schema, p, opts.mode).await {
            if opts.fail_fast {
                for q in &plans[..i] {
                    pg::drop_staging(&control, &schema, q).await;
                }
                return Err(e);
            }
            // This table alone is left out; what it made is dropped at the end.
            early[i] = Some(e.to_string());
            work.retain(|(_, w)| w.table != i);
            parts[i] = 0;
        }
    }
    tracing::info!(
        "staging tables ready at {:.3}s",
        started.elapsed().as_secs_f64()
    );

    let widths: Vec<(usize, usize)> = plans
        .iter()
        .map(|p| (p.read_columns().len(), p.target_columns.len()))
        .collect();
    let shared = Arc::new(Shared {
        database: database.to_string(),
        schema: schema.clone(),
        mode: opts.mode,
        drop: opts.drop,
        batch_rows: opts.batch_rows.max(1),
        zero_dates: opts.zero_dates,
        fail_fast: opts.fail_fast,
        observer: opts.observer.clone(),
        rejects: plans
            .iter()
            .map(|p| {
                (opts.on_error == crate::rejects::OnError::SkipRow).then(|| {
                    Arc::new(crate::rejects::Rejects::new(
                        &p.target,
                        &opts.reject_dir,
                        opts.max_rejects,
                    ))
                })
            })
            .collect(),
        stopped: Default::default(),
        arrow: plans.iter().map(|p| p.reader_schema()).collect(),
        plans: plans.into_iter().map(Arc::new).collect(),
        source_rows,
        queue: Mutex::new(VecDeque::new()),
        progress: parts
            .iter()
            .zip(&widths)
            .zip(&early)
            .map(|((&n, &(ncols, ntarget)), early)| {
                Mutex::new(Progress {
                    remaining: n,
                    read: ReadStats {
                        rows: 0,
                        nulled_dates: vec![Default::default(); ncols],
                        rejected: 0,
                    },
                    written: 0,
                    filtered: 0,
                    nulls: vec![0; ntarget],
                    started: None,
                    seconds: 0.0,
                    load_seconds: None,
                    bytes: 0,
                    status: early.as_ref().map(|_| Status::Failed),
                    error: early.as_ref().map(|e| crate::url::redact(e)),
                    loaded: false,
                    orphans_nulled: Default::default(),
                    orphans_skipped: Default::default(),
                    rejects_file: None,
                })
            })
            .collect(),
        source_url: from.clone(),
        pool,
        snapshots: snapshots.map(|conns| Snapshots {
            live: std::sync::atomic::AtomicUsize::new(conns.len()),
            free: Mutex::new(conns),
        }),
        stream: (0..parts.len()).map(|_| Mutex::new(None)).collect(),
    });
    {
        use crate::progress::{emit, Event};
        emit(
            &shared.observer,
            Event::RunStarted {
                tables: shared.plans.len() + refused.len(),
                rows: shared.source_rows.iter().sum(),
            },
        );
        for p in &shared.plans {
            for w in &p.warnings {
                emit(
                    &shared.observer,
                    Event::Warning {
                        table: &p.source,
                        message: w,
                    },
                );
            }
        }
        for (t, prog) in shared.progress.iter().enumerate() {
            let prog = prog.lock().unwrap();
            if prog.status.is_some() {
                shared.finished(t, &prog);
            }
        }
        for r in &refused {
            emit(
                &shared.observer,
                Event::TableFinished {
                    table: &r.source,
                    status: r.status,
                    rows: 0,
                    seconds: 0.0,
                    error: r.error.as_deref(),
                },
            );
        }
    }

    let mut clients: Vec<tokio_postgres::Client> = Vec::with_capacity(jobs);
    for _ in 0..jobs.min(parts.iter().sum::<usize>().max(1)) {
        match pg_connect(to, Side::Target).await {
            Ok(c) => clients.push(c),
            Err(e) => {
                for p in &shared.plans {
                    pg::drop_staging(&control, &schema, p).await;
                }
                return Err(e);
            }
        }
    }
    // Waves: a table whose keys follow a remapped parent loads after that parent finished
    // and its key map is known. Without remapping there is one wave.
    // Iterated to a fixpoint: a parent need not come before its child in the plan order (a
    // broken cycle). Remap cycles are refused by the plan; the cap is only a safeguard.
    let mut wave = vec![0usize; shared.plans.len()];
    for _ in 0..shared.plans.len() {
        let mut changed = false;
        for (t, p) in shared.plans.iter().enumerate() {
            for r in &p.remaps {
                // A self-reference is remapped inside the table's own finish.
                if let Some(j) = shared.plans.iter().position(|q| q.target == r.parent) {
                    if j != t && wave[t] <= wave[j] {
                        wave[t] = wave[j] + 1;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut work: Vec<Work> = work.into_iter().map(|(_, w)| w).collect();
    let mut maps: std::collections::HashMap<String, Arc<std::collections::HashMap<i64, i64>>> =
        Default::default();
    for w in 0..=wave.iter().copied().max().unwrap_or(0) {
        for (t, p) in shared.plans.iter().enumerate() {
            if wave[t] == w && !p.remaps.is_empty() && !p.new_keys {
                *shared.stream[t].lock().unwrap() = stream_remap(p, &maps);
            }
        }
        let (now, later): (Vec<Work>, Vec<Work>) =
            work.into_iter().partition(|x| wave[x.table] == w);
        work = later;
        if shared.is_stopped() {
            break;
        }
        shared.queue.lock().unwrap().extend(now);
        let handles: Vec<_> = clients
            .into_iter()
            .map(|c| tokio::spawn(worker(shared.clone(), c)))
            .collect();
        clients = Vec::new();
        for h in handles {
            match h.await {
                Ok(c) => clients.push(c),
                Err(e) => tracing::error!("worker panicked: {e}"),
            }
        }
        finish_deferred(&shared, &mut control, &opts.reject_dir, |t| wave[t] == w).await;
        for (t, p) in shared.plans.iter().enumerate() {
            if wave[t] == w
                && p.new_keys
                && shared.progress[t].lock().unwrap().status == Some(Status::Ok)
            {
                if let Some(m) = load_keymap(&control, &schema, p, opts.max_memory_keymap).await {
                    maps.insert(p.target.clone(), Arc::new(m));
                }
            }
        }
        if clients.is_empty() {
            break;
        }
    }
    for p in shared.plans.iter().filter(|p| p.new_keys) {
        let km = qualified(&schema, &pg::keymap_name(&p.target));
        if let Err(e) = control
            .batch_execute(&format!("DROP TABLE IF EXISTS {km}"))
            .await
        {
            tracing::warn!("could not drop key map {km}: {e}");
        }
    }

    // Whatever did not finish: drop its staging table, mark it.
    let mut errors = Vec::new();
    if shared.is_stopped() {
        errors.push(
            "stopped after the first table that failed (--fail-fast); the tables marked skipped were not loaded"
                .to_string(),
        );
    }
    for (i, p) in shared.plans.iter().enumerate() {
        let unfinished = {
            let mut prog = shared.progress[i].lock().unwrap();
            if prog.status.is_none() {
                prog.status = Some(Status::Skipped);
            }
            prog.status != Some(Status::Ok)
        };
        if unfinished {
            pg::drop_staging(&control, &schema, p).await;
        }
    }

    // Foreign keys between tables that both loaded.
    let ok: Vec<bool> = shared
        .progress
        .iter()
        .map(|p| p.lock().unwrap().status == Some(Status::Ok))
        .collect();
    for (i, p) in shared.plans.iter().enumerate() {
        if !ok[i] {
            continue;
        }
        for (fk, sql) in p.foreign_keys.iter().zip(pg::foreign_key_sql(&schema, p)) {
            let parent_ok = shared
                .plans
                .iter()
                .position(|q| q.target == fk.ref_table)
                .is_some_and(|j| ok[j]);
            if !parent_ok {
                errors.push(format!(
                    "foreign key {} on {} not created: table {} did not load",
                    fk.name, p.target, fk.ref_table
                ));
                continue;
            }
            if let Err(e) = control.batch_execute(&sql).await {
                errors.push(format!(
                    "foreign key {} on {}: {}",
                    fk.name,
                    p.target,
                    crate::error::pg_message(&e)
                ));
            }
        }
    }

    let tables = shared
        .plans
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let prog = shared.progress[i].lock().unwrap();
            let mut r = table_report(p, shared.source_rows[i], parts[i], &prog);
            r.row_rejects_file = shared.rejects[i]
                .as_ref()
                .and_then(|x| x.path())
                .map(|f| f.display().to_string());
            r
        })
        .chain(refused)
        .collect();
    let report = finish_report(from, to, opts, tables, errors, started);
    crate::progress::emit(
        &opts.observer,
        crate::progress::Event::RunFinished {
            ok: report.ok(),
            rows: report.rows_written,
            seconds: report.seconds,
        },
    );
    Ok(report)
}

fn table_report(
    p: &TablePlan,
    source_rows: u64,
    partitions: usize,
    prog: &Progress,
) -> TableReport {
    // Kept columns only (not those read just for expressions).
    let nulled = |kind: fn(&crate::temporal::NulledDates) -> u64| {
        p.columns
            .iter()
            .zip(&prog.read.nulled_dates)
            .filter(|(_, n)| kind(n) > 0)
            .map(|((name, _), n)| (name.clone(), kind(n)))
            .collect()
    };
    TableReport {
        source: p.source.clone(),
        target: p.target.clone(),
        status: prog.status.unwrap_or(Status::Skipped),
        source_rows,
        rows_read: prog.read.rows,
        rows_written: prog.written,
        rows_filtered: prog.filtered,
        rows_rejected: prog.read.rejected,
        row_rejects_file: None,
        zero_dates_nulled: nulled(|n| n.zero),
        partial_dates_nulled: nulled(|n| n.partial),
        impossible_dates_nulled: nulled(|n| n.impossible),
        partitions,
        bytes: prog.bytes,
        load_seconds: prog.load_seconds.unwrap_or(prog.seconds).min(prog.seconds),
        seconds: prog.seconds,
        rows_per_second: if prog.seconds > 0.0 {
            prog.read.rows as f64 / prog.seconds
        } else {
            0.0
        },
        error: prog.error.clone(),
        warnings: p.warnings.clone(),
        notes: p.notes.clone(),
        orphans_nulled: prog.orphans_nulled.clone(),
        orphans_skipped: prog.orphans_skipped.clone(),
        rejects_file: prog.rejects_file.clone(),
    }
}

fn finish_report(
    from: &DbUrl,
    to: &DbUrl,
    opts: &CopyOptions,
    tables: Vec<TableReport>,
    errors: Vec<String>,
    started: Instant,
) -> Report {
    let seconds = started.elapsed().as_secs_f64();
    let rows_read = tables.iter().map(|t| t.rows_read).sum();
    Report {
        source: from.redacted(),
        target: to.redacted(),
        schema: opts.schema.clone(),
        mode: match (opts.mode, opts.drop) {
            (Mode::Create, false) => "create",
            (Mode::Create, true) => "create, replacing existing tables",
            (Mode::DataOnly, _) => "data only",
            (Mode::SchemaOnly, false) => "schema only",
            (Mode::SchemaOnly, true) => "schema only, replacing existing tables",
        }
        .into(),
        rows_written: tables.iter().map(|t| t.rows_written).sum(),
        tables,
        errors,
        rows_read,
        seconds,
        rows_per_second: if seconds > 0.0 {
            rows_read as f64 / seconds
        } else {
            0.0
        },
    }
}

async fn schema_only(
    control: &tokio_postgres::Client,
    schema: &str,
    plans: &[TablePlan],
    opts: &CopyOptions,
    from: &DbUrl,
    to: &DbUrl,
    started: Instant,
) -> Result<Report> {
    let mut stmts = Vec::new();
    for p in plans {
        if opts.drop {
            stmts.push(format!(
                "DROP TABLE IF EXISTS {} CASCADE",
                qualified(schema, &p.target)
            ));
        }
        stmts.extend(pg::schema_only_sql(schema, p));
    }
    for p in plans {
        stmts.extend(pg::foreign_key_sql(schema, p));
    }
    // One transaction: the schema appears whole or not at all.
    let sql = format!("BEGIN;\n{};\nCOMMIT;", stmts.join(";\n"));
    if let Err(e) = control.batch_execute(&sql).await {
        let _ = control.batch_execute("ROLLBACK").await;
        return Err(Error::Invalid(format!(
            "creating the schema failed, nothing was created: {}",
            crate::error::pg_message(&e)
        )));
    }
    let tables = plans
        .iter()
        .map(|p| TableReport {
            warnings: p.warnings.clone(),
            notes: p.notes.clone(),
            ..TableReport::empty(&p.source, &p.target, Status::Ok)
        })
        .collect();
    Ok(finish_report(from, to, opts, tables, vec![], started))
}

/// `jobs` connections inside transactions that all see the same moment of the source: writers
/// are held off (a global read lock, or a read lock on the tables read) while each starts its
/// snapshot, then released. `lock` holds the lock.
async fn snapshot_connections(
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
        Error::Invalid(format!(
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
                        Error::Invalid(format!(
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

/// Count the rows, and split tables with a single integer key into key ranges.
async fn partition(
    conn: &mut mysql_async::Conn,
    database: &str,
    p: &TablePlan,
    jobs: usize,
    min_rows: u64,
) -> Result<(u64, Option<Vec<KeyRange>>)> {
    let table = format!("{}.{}", my_ident(database), my_ident(&p.source));
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
    let k = my_ident(key);
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
    let parts = (count / min_rows.max(1)).min(jobs as u64) as usize;
    if count < 2 * min_rows || parts < 2 {
        return Ok((count, None));
    }
    Ok((count, Some(split_range(key, min, max, parts))))
}

async fn worker(shared: Arc<Shared>, mut client: tokio_postgres::Client) -> tokio_postgres::Client {
    loop {
        let next = shared.queue.lock().unwrap().pop_front();
        let Some(work) = next else { break };
        let t = work.table;
        {
            let mut prog = shared.progress[t].lock().unwrap();
            if prog.status.is_some() {
                continue; // the table already failed
            }
            if prog.started.is_none() {
                prog.started = Some(Instant::now());
                crate::progress::emit(
                    &shared.observer,
                    crate::progress::Event::TableStarted {
                        table: &shared.plans[t].source,
                        rows: shared.source_rows[t],
                        partitions: prog.remaining,
                    },
                );
            }
        }
        let result = run_partition(&shared, &client, &work).await;
        let finish = {
            let mut prog = shared.progress[t].lock().unwrap();
            match result {
                Ok((read, loaded)) => {
                    prog.read.rows += read.rows;
                    prog.read.rejected += read.rejected;
                    for (a, b) in prog.read.nulled_dates.iter_mut().zip(&read.nulled_dates) {
                        a.merge(b);
                    }
                    prog.written += loaded.written;
                    prog.filtered += loaded.filtered;
                    prog.bytes += loaded.bytes;
                    for (a, b) in prog.nulls.iter_mut().zip(&loaded.nulls) {
                        *a += b;
                    }
                    prog.remaining -= 1;
                    crate::progress::emit(
                        &shared.observer,
                        crate::progress::Event::PartitionDone {
                            table: &shared.plans[t].source,
                            rows: loaded.written,
                            remaining: prog.remaining,
                        },
                    );
                    if prog.remaining == 0 {
                        prog.load_seconds = prog.started.map(|s| s.elapsed().as_secs_f64());
                    }
                    prog.remaining == 0 && prog.status.is_none()
                }
                Err(e) => {
                    fail(&mut prog, e);
                    shared.finished(t, &prog);
                    false
                }
            }
        };
        if finish {
            tracing::info!("{}: all partitions loaded", shared.plans[t].source);
            if shared.deferred(t) {
                shared.progress[t].lock().unwrap().loaded = true;
                continue;
            }
            let plan = &shared.plans[t];
            let (rows, nulls, mismatch) = {
                let prog = shared.progress[t].lock().unwrap();
                (
                    prog.read.rows,
                    prog.nulls.clone(),
                    count_mismatch(plan, shared.source_rows[t], &prog),
                )
            };
            let result = if let Some(e) = mismatch {
                Err(e)
            } else {
                let mut tries = 0;
                loop {
                    let r = pg::finish_table(
                        &mut client,
                        &shared.schema,
                        plan,
                        shared.mode,
                        shared.drop,
                        &nulls,
                    )
                    .await;
                    if !retry_conflict(&r, &mut tries).await {
                        break r;
                    }
                }
            };
            let mut prog = shared.progress[t].lock().unwrap();
            match result {
                Ok(()) => {
                    if let Some(sr) = shared.stream[t].lock().unwrap().as_ref() {
                        for (col, n) in &sr.nulled {
                            let n = n.load(std::sync::atomic::Ordering::Relaxed);
                            if n > 0 {
                                prog.orphans_nulled.insert(col.clone(), n);
                            }
                        }
                    }
                    prog.status = Some(Status::Ok);
                    prog.stop_clock();
                    shared.finished(t, &prog);
                    tracing::info!("{}: {} rows in {:.2}s", plan.source, rows, prog.seconds);
                }
                Err(e) => {
                    let e = key_date_hint(plan, &prog.read.nulled_dates, e);
                    fail(&mut prog, e);
                    shared.finished(t, &prog);
                }
            }
        }
    }
    client
}

/// In-memory remaps for a child whose remapped parents' maps are all in memory and whose
/// policies are error or null (skip needs the reject file, written by the SQL path).
fn stream_remap(
    plan: &TablePlan,
    maps: &std::collections::HashMap<String, Arc<std::collections::HashMap<i64, i64>>>,
) -> Option<StreamRemap> {
    use crate::plan::OrphanPolicy;
    let mut sr = StreamRemap {
        transforms: vec![],
        nulled: vec![],
    };
    for r in &plan.remaps {
        let map = maps.get(&r.parent)?;
        if r.policy == OrphanPolicy::Skip {
            return None;
        }
        let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
        sr.transforms.push(Arc::new(crate::transform::KeyRemap {
            column: r.column.clone(),
            parent: r.parent.clone(),
            map: map.clone(),
            null_orphans: r.policy == OrphanPolicy::Null,
            orphans: counter.clone(),
        }));
        sr.nulled.push((r.column.clone(), counter));
    }
    Some(sr)
}

/// A remapped table's old → new keys, when they are integers and fit the memory bound.
async fn load_keymap(
    client: &tokio_postgres::Client,
    schema: &str,
    plan: &TablePlan,
    max: u64,
) -> Option<std::collections::HashMap<i64, i64>> {
    let km = qualified(schema, &pg::keymap_name(&plan.target));
    let n: i64 = client
        .query_one(&format!("SELECT count(*) FROM {km}"), &[])
        .await
        .ok()?
        .get(0);
    if n as u64 > max {
        return None;
    }
    let rows = client
        .query(&format!("SELECT old::bigint, new::bigint FROM {km}"), &[])
        .await
        .ok()?;
    Some(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Whether to run a table's finishing transaction again: PostgreSQL aborts one of two when
/// tables linked by foreign keys are replaced (`--drop`) at the same time, each needing a lock
/// the other holds. The aborted transaction left nothing behind. Sleeps before saying yes.
async fn retry_conflict<T>(result: &Result<T>, tries: &mut u32) -> bool {
    match result {
        Err(Error::Conflict { table, detail }) if *tries < 8 => {
            *tries += 1;
            tracing::info!("{table}: retrying after a conflict ({detail})");
            tokio::time::sleep(std::time::Duration::from_millis(20 << (*tries).min(5))).await;
            true
        }
        _ => false,
    }
}

/// The counts must add up: every row the source counted was read, and every row read was
/// written, filtered out, or rejected (skip-row).
fn count_mismatch(plan: &TablePlan, source_rows: u64, prog: &Progress) -> Option<Error> {
    let (rows, filtered, rejected, written) = (
        prog.read.rows,
        prog.filtered,
        prog.read.rejected,
        prog.written,
    );
    (rows != source_rows || written + filtered + rejected != rows).then(|| Error::Table {
        table: plan.source.clone(),
        detail: format!(
            "row count mismatch: the source had {source_rows} rows, {rows} were read, {filtered} filtered out, {rejected} rejected and {written} written; the table was not put in place"
        ),
    })
}

/// Tables finished by SQL after their wave's loads (new-key tables and remapped children not
/// streamed), parents first (the plans are in load order), on one connection.
async fn finish_deferred(
    shared: &Shared,
    client: &mut tokio_postgres::Client,
    reject_dir: &std::path::Path,
    in_wave: impl Fn(usize) -> bool,
) {
    for (t, plan) in shared.plans.iter().enumerate() {
        if !in_wave(t) || !shared.deferred(t) {
            continue;
        }
        let (loaded, nulls, mismatch) = {
            let prog = shared.progress[t].lock().unwrap();
            (
                prog.loaded && prog.status.is_none(),
                prog.nulls.clone(),
                count_mismatch(plan, shared.source_rows[t], &prog),
            )
        };
        if !loaded {
            continue;
        }
        // A self-reference is remapped within this finish, through the table's own new map.
        let parent_failed = plan.remaps.iter().find(|r| {
            shared
                .plans
                .iter()
                .position(|p| p.target == r.parent)
                .is_some_and(|j| {
                    j != t && shared.progress[j].lock().unwrap().status != Some(Status::Ok)
                })
        });
        let result = if let Some(r) = parent_failed {
            Err(Error::Table {
                table: plan.source.clone(),
                detail: format!(
                    "its parent {} did not load, so {} cannot be remapped",
                    r.parent, r.column
                ),
            })
        } else if let Some(e) = mismatch {
            Err(e)
        } else {
            let mut tries = 0;
            loop {
                let r = pg::finish_remapped(
                    client,
                    &shared.schema,
                    plan,
                    shared.mode,
                    shared.drop,
                    &nulls,
                    reject_dir,
                )
                .await;
                if !retry_conflict(&r, &mut tries).await {
                    break r;
                }
            }
        };
        let mut prog = shared.progress[t].lock().unwrap();
        match result {
            Ok(outcome) => {
                prog.status = Some(Status::Ok);
                prog.written = outcome.inserted;
                prog.orphans_nulled = outcome.orphans_nulled;
                prog.orphans_skipped = outcome.orphans_skipped;
                prog.rejects_file = outcome.rejects_file.map(|f| f.display().to_string());
                prog.stop_clock();
                shared.finished(t, &prog);
            }
            Err(e) => {
                fail(&mut prog, e);
                shared.finished(t, &prog);
            }
        }
    }
}

/// A primary key PostgreSQL refused because dates it cannot hold became NULL in a key
/// column: say so, since "contains null values" names no cause the source shows.
fn key_date_hint(plan: &TablePlan, nulled: &[crate::temporal::NulledDates], e: Error) -> Error {
    let culprit = plan
        .columns
        .iter()
        .zip(&plan.target_columns)
        .zip(nulled)
        .find(|((_, tc), n)| n.total() > 0 && plan.primary_key.contains(&tc.name));
    match (e, culprit) {
        (Error::Table { table, detail }, Some((((source, _), _), n))) => Error::Table {
            table,
            detail: format!(
                "{detail}; {} date(s) of the key column {source} have no PostgreSQL value and \
                 became NULL, which a primary key cannot hold: fix them in the source, or list \
                 them with --zero-dates error",
                n.total()
            ),
        },
        (e, _) => e,
    }
}

fn fail(prog: &mut Progress, e: Error) {
    if prog.status.is_none() {
        prog.status = Some(Status::Failed);
        prog.error = Some(crate::url::redact(&e.to_string()));
        prog.stop_clock();
    }
}

/// Read, transform and load one partition.
async fn run_partition(
    shared: &Arc<Shared>,
    client: &tokio_postgres::Client,
    work: &Work,
) -> Result<(ReadStats, pg::Loaded)> {
    let plan = shared.plans[work.table].clone();
    let snapshot = match &shared.snapshots {
        Some(s) => Some(s.take().await?),
        None => None,
    };
    let mut conn = match snapshot {
        Some(c) => c,
        None => mysql_conn(&shared.pool, &shared.source_url, Side::Source).await?,
    };
    let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
    let spec = ReadSpec {
        database: shared.database.clone(),
        table: plan.source.clone(),
        columns: Arc::new(plan.read_columns()),
        schema: shared.arrow[work.table].clone(),
        range: work.range.clone(),
        key_column: plan.primary_key.first().cloned(),
        limit: None,
        filter: plan.filter.clone(),
        batch_rows: plan.batch_rows.unwrap_or(shared.batch_rows),
        batch_bytes: BATCH_BYTES,
        zero_dates: shared.zero_dates,
        rejects: shared.rejects[work.table].clone(),
    };
    let reader = tokio::spawn(async move {
        let r = read_partition(&mut conn, &spec, tx).await;
        (conn, r)
    });
    let extra: Vec<Arc<dyn crate::transform::Transform>> = shared.stream[work.table]
        .lock()
        .unwrap()
        .as_ref()
        .map(|s| s.transforms.clone())
        .unwrap_or_default();
    let on_rows = |rows: u64, bytes: u64| {
        crate::progress::emit(
            &shared.observer,
            crate::progress::Event::Rows {
                table: &plan.source,
                rows,
                bytes,
            },
        )
    };
    let written = pg::copy_partition(client, &shared.schema, &plan, &extra, rx, &on_rows).await;
    let (conn, read) = match reader.await {
        Ok(done) => done,
        Err(e) => {
            if let Some(s) = &shared.snapshots {
                s.lost();
            }
            return Err(Error::Invalid(format!("reader task failed: {e}")));
        }
    };
    if let Some(s) = &shared.snapshots {
        // A connection with a failed read (or unread rows after a failed write) is not
        // reused: the next partition would first have to drain it, or find it broken.
        s.give_back(conn, read.is_ok() && written.is_ok());
    }
    // A reader error is the root cause even when the writer then saw a short stream.
    let read = read?;
    Ok((read, written?))
}
