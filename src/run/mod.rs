//! The copy executor: validate, plan partitions, run `jobs` workers that each own one
//! connection per side, finish each table when its last partition lands, then add the
//! foreign keys. Between a reader and its writer sits a bounded channel of record batches,
//! so memory stays at a few batches per worker however large the table.

mod worker;

use crate::engine::{Sink, SinkOptions, Source, Writer};
use crate::error::{Error, Result};
use crate::ledger::{Ledger, MemoryLedger, PartRecord, RunRecord, TableRecord, TableState};
use crate::partition::KeyRange;
use crate::plan::{plan_each, Mode, Selection, TablePlan};
use crate::report::{Report, Status, TableReport};
use crate::url::DbUrl;
use arrow_schema::Schema;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub selection: Selection,
    /// The PostgreSQL target schema (created if missing). Empty (the default): the one the
    /// target URL names (`?schema=`), else `public`. Naming one the URL contradicts is an
    /// error. A MySQL target is the database of its URL.
    pub schema: String,
    /// Connections on each side, and partitions read at once.
    pub jobs: usize,
    /// At most this many partitions of one table loading at once, across every worker of
    /// the run (0: no cap). Spreads workers over tables; a MySQL target's InnoDB takes many
    /// loads into one table badly.
    pub max_per_table: u32,
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
    /// The run's ledger: resume, restart, and sharing one copy between processes.
    pub ledger: LedgerOptions,
}

/// How a run keeps its plan and progress (`crate::ledger`).
#[derive(Debug, Clone)]
pub struct LedgerOptions {
    /// Keep the ledger in the target, so a rerun resumes and other processes can join;
    /// otherwise in memory only (nothing survives the process).
    pub enabled: bool,
    /// Discard what an earlier run of this copy left, and start over.
    pub restart: bool,
    /// Keep the ledger after a successful run (for `barge status`).
    pub keep: bool,
    /// Record the plan (and make the staging tables) and stop: workers load it.
    pub plan_only: bool,
    /// The run's name in the ledger (default: source and target places).
    pub run: Option<String>,
    /// The command that planned the run, without passwords, for workers to replay.
    pub spec: String,
    /// Only join the run recorded under this name (`barge work`): never plan a new one.
    pub join: bool,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            enabled: true,
            restart: false,
            keep: false,
            plan_only: false,
            run: None,
            spec: String::new(),
            join: false,
        }
    }
}

/// A run's default name: where it reads and where it writes (no user, no password).
pub fn run_name(from: &DbUrl, to: &DbUrl, schema: &str) -> String {
    match to.engine() {
        crate::url::Engine::Postgres => {
            format!("{} -> {}?schema={schema}", from.place(), to.place())
        }
        crate::url::Engine::Mysql => format!("{} -> {}", from.place(), to.place()),
    }
}

/// What of the options decides the rows and tables a run leaves in the target: a resumed
/// run must agree with the one it continues.
fn options_fingerprint(opts: &CopyOptions, to: &DbUrl) -> String {
    let mut o = std::collections::BTreeMap::new();
    o.insert("target", to.place());
    o.insert("schema", opts.schema.clone());
    o.insert("mode", format!("{:?}", opts.mode));
    o.insert("--drop", opts.drop.to_string());
    o.insert("--zero-dates", format!("{:?}", opts.zero_dates));
    o.insert("--on-error", format!("{:?}", opts.on_error));
    o.insert("--max-rejects", format!("{:?}", opts.max_rejects));
    o.insert("--max-memory-keymap", opts.max_memory_keymap.to_string());
    crate::ledger::options_fingerprint(&o)
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            selection: Selection::default(),
            schema: String::new(),
            jobs: 4,
            batch_rows: 4096,
            max_per_table: 0,
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
            ledger: LedgerOptions::default(),
        }
    }
}

/// This process's view of one table while the run goes.
#[derive(Default)]
struct Local {
    /// Its partitions not yet in.
    remaining: usize,
    started: Option<Instant>,
    seconds: f64,
    /// Seconds from the start until the last partition was in (the rest is the finish).
    load_seconds: Option<f64>,
    /// Set when this process finished or failed the table.
    status: Option<Status>,
    error: Option<String>,
    finish_tries: u32,
    orphans_nulled: BTreeMap<String, u64>,
    orphans_skipped: BTreeMap<String, u64>,
    rejects_file: Option<String>,
    /// Rows a remapped finish inserted (skipped orphans are not).
    inserted: Option<u64>,
}

impl Local {
    fn stop_clock(&mut self) {
        self.seconds = self
            .started
            .map(|s| s.elapsed().as_secs_f64())
            .unwrap_or(0.0);
    }
}

/// What the workers of one process share.
struct Shared {
    source: Arc<dyn Source>,
    sink: Arc<dyn Sink>,
    ledger: Arc<dyn Ledger>,
    run: String,
    batch_rows: usize,
    max_per_table: u32,
    zero_dates: crate::temporal::ZeroDates,
    fail_fast: bool,
    observer: Option<crate::progress::ObserverHandle>,
    reject_dir: std::path::PathBuf,
    /// Per table, under skip-row: its reject file.
    rejects: Vec<Option<Arc<crate::rejects::RejectFile>>>,
    /// Set by the first failure under `fail_fast`, or a lost ledger: nothing more starts.
    stopped: AtomicBool,
    fatal: Mutex<Option<String>>,
    plans: Vec<Arc<TablePlan>>,
    arrow: Vec<Arc<Schema>>,
    source_rows: Vec<u64>,
    local: Vec<Mutex<Local>>,
    /// Per table: in-memory key remaps applied in the writer (children of remapped parents
    /// whose maps fit in memory). Such a table finishes like any other: no second write.
    stream: Vec<Mutex<Option<StreamRemap>>>,
    /// Per table: done, as the ledger said when its wave began.
    done: Vec<AtomicBool>,
    /// What this process works on now, whose leases it renews: partitions (table,
    /// partition, epoch) and finishes (table, epoch).
    held: Mutex<Held>,
    /// Told when a task of this process ends a partition or a finish: the others, waiting on
    /// what is left, look again at once instead of at their next poll.
    wake: tokio::sync::Notify,
}

/// Partitions (table, partition, epoch) and finishes (table, epoch) being worked on.
type Held = (Vec<(u32, u32, i64)>, Vec<(u32, i64)>);

struct StreamRemap {
    transforms: Vec<Arc<dyn crate::transform::Transform>>,
    nulled: Vec<(String, Arc<std::sync::atomic::AtomicU64>)>,
}

impl Shared {
    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Stop this process's part of the run: what it leaves stays in the ledger.
    fn fatal(&self, why: String) {
        tracing::error!("{why}");
        self.fatal.lock().unwrap().get_or_insert(why);
        self.stopped.store(true, Ordering::SeqCst);
    }

    /// The table's first partition (or its finish) starts here.
    fn started(&self, t: usize) {
        let mut local = self.local[t].lock().unwrap();
        if local.started.is_none() {
            local.started = Some(Instant::now());
            crate::progress::emit(
                &self.observer,
                crate::progress::Event::TableStarted {
                    table: &self.plans[t].source,
                    rows: self.source_rows[t],
                    partitions: local.remaining,
                },
            );
        }
    }

    fn emit_finished(&self, t: usize, local: &Local, rows: u64) {
        crate::progress::emit(
            &self.observer,
            crate::progress::Event::TableFinished {
                table: &self.plans[t].source,
                status: local.status.unwrap_or(Status::Skipped),
                rows,
                seconds: local.seconds,
                error: local.error.as_deref(),
            },
        );
    }

    /// Table `t` failed here; under `fail_fast` nothing more starts.
    fn failed(&self, t: usize, error: String) {
        let mut local = self.local[t].lock().unwrap();
        if local.status.is_some() {
            return;
        }
        local.status = Some(Status::Failed);
        local.error = Some(error);
        local.stop_clock();
        self.emit_finished(t, &local, 0);
        if self.fail_fast {
            self.stopped.store(true, Ordering::SeqCst);
        }
    }

    /// Table `t` is in place, finished here.
    fn finished_ok(
        &self,
        t: usize,
        stats: &crate::ledger::PartitionStats,
        outcome: Option<crate::engine::RemapOutcome>,
    ) {
        let mut local = self.local[t].lock().unwrap();
        if let Some(sr) = self.stream[t].lock().unwrap().as_ref() {
            for (col, n) in &sr.nulled {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    local.orphans_nulled.insert(col.clone(), n);
                }
            }
        }
        if let Some(o) = outcome {
            local.inserted = Some(o.inserted);
            local.orphans_nulled = o.orphans_nulled;
            local.orphans_skipped = o.orphans_skipped;
            local.rejects_file = o.rejects_file.map(|f| f.display().to_string());
        }
        local.status = Some(Status::Ok);
        local.stop_clock();
        let rows = local.inserted.unwrap_or(stats.written);
        tracing::info!(
            "{}: {rows} rows in {:.2}s",
            self.plans[t].source,
            local.seconds
        );
        self.emit_finished(t, &local, rows);
    }

    /// Finished after the loads by SQL: new-key tables, and remapped children not streamed.
    fn deferred(&self, t: usize) -> bool {
        let p = &self.plans[t];
        p.new_keys || (!p.remaps.is_empty() && self.stream[t].lock().unwrap().is_none())
    }

    /// A remapped parent of table `t` (other than itself) that did not load.
    fn parent_failed(&self, t: usize) -> Option<Error> {
        let plan = &self.plans[t];
        plan.remaps.iter().find_map(|r| {
            let j = self.plans.iter().position(|p| p.target == r.parent)?;
            (j != t && !self.done[j].load(Ordering::SeqCst)).then(|| Error::Table {
                table: plan.source.clone(),
                detail: format!(
                    "its parent {} did not load, so {} cannot be remapped",
                    r.parent, r.column
                ),
            })
        })
    }
}

/// Whether each table's `ON UPDATE CURRENT_TIMESTAMP` columns get their trigger, and say so.
fn settle_on_update(plans: &mut [TablePlan], opts: &CopyOptions, target: crate::url::Engine) {
    for p in plans.iter_mut().filter(|p| !p.on_update_now.is_empty()) {
        let cols = p.on_update_now.join(", ");
        let why = if !opts.on_update_triggers {
            "--no-on-update-triggers"
        } else if opts.mode == Mode::DataOnly {
            "--data-only creates nothing in the target"
        } else {
            let how = match target {
                crate::url::Engine::Postgres => "as trigger on_update_current_timestamp",
                crate::url::Engine::Mysql => "as the columns' ON UPDATE clause",
            };
            p.notes.push(format!(
                "{}: ON UPDATE CURRENT_TIMESTAMP on {cols} kept {how}",
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

/// Read the catalog and plan the copy. Facts the catalog cannot tell are checked first where
/// that is cheap (a MySQL TINYINT(1) holding other values is planned as the integer it is).
async fn plan_source(
    source: &dyn Source,
    server: &crate::engine::TargetServer,
    target: crate::url::Engine,
    opts: &CopyOptions,
    now_micros: i64,
) -> Result<(
    crate::catalog::Catalog,
    Vec<TablePlan>,
    Vec<crate::plan::Refused>,
)> {
    let selection = Selection {
        now_micros: Some(now_micros),
        ..opts.selection.clone()
    };
    let mut catalog = source.catalog().await?;
    catalog.target = Some(target);
    catalog.target_version = server.version.clone();
    catalog.target_strict_uuid = server.strict_uuid;
    let types = crate::engine::source_types(catalog.engine);
    let (mut plans, mut refused) = plan_each(&catalog, types, &selection)?;
    if source.refine(&mut catalog, &plans).await? {
        (plans, refused) = plan_each(&catalog, types, &selection)?;
    }
    // A table the target cannot hold (a name too long, a type it has not) is refused alone.
    let mut kept = Vec::with_capacity(plans.len());
    for p in plans {
        match crate::engine::check_plan(target, &p) {
            Ok(()) => kept.push(p),
            Err(error) => refused.push(crate::plan::Refused {
                source: p.source.clone(),
                error,
            }),
        }
    }
    let mut plans = kept;
    settle_on_update(&mut plans, opts, target);
    if let Some(sample) = &opts.sample {
        let rels = crate::plan::apply_rules(&catalog, &opts.selection.relationships)?;
        let chosen = source.sample(&catalog, &plans, &rels, sample).await?;
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

/// A database's catalog as barge sees it (`barge inspect`): MySQL/MariaDB, or the schema a
/// PostgreSQL URL names (`?schema=NAME`, default public).
pub async fn catalog(from: &DbUrl) -> Result<crate::catalog::Catalog> {
    let source = crate::engine::open_source(from, 1).await?;
    let catalog = source.catalog().await;
    source.close().await;
    catalog
}

/// Read the source catalog and plan the copy into `to`, touching nothing: what `barge plan`
/// shows.
/// `--plan-only --consistent` from PostgreSQL: the workers read inside the snapshot this
/// process exported, which lives as long as its transaction. So it stays until the run has
/// ended (every table done or failed, or the ledger removed by the last worker).
async fn hold_snapshot(ledger: &dyn Ledger, run: &str, id: &str) -> Result<()> {
    tracing::warn!(
        "holding source snapshot {id} for the workers of {run}: keep this process running until they are done"
    );
    loop {
        let totals = ledger.totals(run).await?;
        if totals
            .iter()
            .all(|t| matches!(t.state, TableState::Done | TableState::Failed))
        {
            tracing::info!("{run} has ended: the snapshot is released");
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

pub async fn plan_only(
    from: &DbUrl,
    to: &DbUrl,
    opts: &CopyOptions,
) -> Result<(crate::catalog::Catalog, Vec<TablePlan>)> {
    let (catalog, plans, refused) = plan_each_table(from, to, opts).await?;
    match refused.into_iter().next() {
        Some(r) => Err(r.error),
        None => Ok((catalog, plans)),
    }
}

/// Plan a copy without touching the target: the tables planned, and those the source or
/// the target engine refuses, each with its reason (`barge plan`).
pub async fn plan_each_table(
    from: &DbUrl,
    to: &DbUrl,
    opts: &CopyOptions,
) -> Result<(
    crate::catalog::Catalog,
    Vec<TablePlan>,
    Vec<crate::plan::Refused>,
)> {
    let source = crate::engine::open_source(from, 1).await?;
    let server = crate::engine::probe_target(to).await;
    let result = plan_source(
        &*source,
        &server,
        to.engine(),
        opts,
        crate::plan::now_micros(),
    )
    .await;
    source.close().await;
    result
}

/// Copy tables from one database into another, MySQL/MariaDB or PostgreSQL at either end.
///
/// Returns `Err` for problems found before any data moved (connection, selection, types,
/// existing targets). Problems during the load are in the report: check `Report::ok()`.
pub async fn copy(from: &DbUrl, to: &DbUrl, opts: &CopyOptions) -> Result<Report> {
    let started = Instant::now();
    let opts = &with_target_schema(to, opts)?;
    let jobs = opts.jobs.max(1);
    let source = crate::engine::open_source(from, jobs).await?;
    let result = async {
        let sink = crate::engine::open_sink(
            to,
            SinkOptions {
                schema: opts.schema.clone(),
                mode: opts.mode,
                drop: opts.drop,
            },
            jobs,
        )
        .await?;
        copy_inner(source.clone(), sink, from, to, opts, jobs, started).await
    }
    .await;
    source.close().await;
    result
}

/// A PostgreSQL target may name its schema in its URL (`?schema=NAME`), as a source does:
/// it is the schema when the options name none; two different names are an error rather
/// than a guess.
fn with_target_schema(to: &DbUrl, opts: &CopyOptions) -> Result<CopyOptions> {
    let mut opts = opts.clone();
    let named = Some(opts.schema.as_str()).filter(|s| !s.is_empty());
    opts.schema = to.target_schema(named).map_err(|s| Error::Url {
        url: to.redacted(),
        reason: format!(
            "it names schema {s}, and the options (--schema, or the job's schema) name {}: name one",
            opts.schema
        ),
    })?;
    Ok(opts)
}

async fn copy_inner(
    source: Arc<dyn Source>,
    sink: Arc<dyn Sink>,
    from: &DbUrl,
    to: &DbUrl,
    opts: &CopyOptions,
    jobs: usize,
    started: Instant,
) -> Result<Report> {
    // The ledger: in the target (resumable, shareable), or in this process only.
    let durable = opts.ledger.enabled && opts.mode != Mode::SchemaOnly;
    let ledger: Arc<dyn Ledger> = if durable {
        sink.ledger().await?
    } else {
        Arc::new(MemoryLedger::default())
    };
    let run = opts
        .ledger
        .run
        .clone()
        .unwrap_or_else(|| run_name(from, to, &opts.schema));
    let mut recorded = ledger.load(&run).await?;
    if recorded.is_some() && opts.ledger.restart {
        tracing::info!("--restart: discarding the recorded run {run}");
        ledger.remove(&run).await?;
        recorded = None;
    }
    let now = recorded
        .as_ref()
        .map_or_else(crate::plan::now_micros, |r| r.now_micros);
    let (_, mut plans, mut refused) =
        plan_source(&*source, &sink.server(), to.engine(), opts, now).await?;
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

    if opts.mode == Mode::SchemaOnly {
        sink.prepare_run(&mut plans).await?;
        sink.create_schema(&plans).await?;
        let mut tables: Vec<TableReport> = plans
            .iter()
            .map(|p| TableReport {
                warnings: p.warnings.clone(),
                notes: p.notes.clone(),
                ..TableReport::empty(&p.source, &p.target, Status::Ok)
            })
            .collect();
        tables.extend(refused);
        return Ok(finish_report(from, to, opts, tables, vec![], started));
    }

    let mut record = RunRecord {
        run: run.clone(),
        fingerprint: options_fingerprint(opts, to),
        spec: opts.ledger.spec.clone(),
        source: from.redacted(),
        now_micros: now,
        snapshot: None,
        tables: plans
            .iter()
            .enumerate()
            .map(|(i, p)| TableRecord {
                index: i as u32,
                source: p.source.clone(),
                target: p.target.clone(),
                fingerprint: crate::ledger::table_fingerprint(p),
                source_rows: 0,
                wave: 0,
                partitions: vec![],
                error: None,
            })
            .collect(),
    };
    // A recorded run planned differently is only in the way when it holds loaded
    // partitions a new plan would lose; one that ended (its tables done or rolled back) is
    // replaced, as a copy with another selection or a --cast after a failure is a new run.
    if opts.ledger.join && recorded.is_none() {
        return Err(Error::Config(format!(
            "the target's ledger holds no run {run} to work on: plan it with `barge copy … \
             --plan-only`, or it is already complete"
        )));
    }
    if let Some(old) = recorded.as_ref().filter(|_| !opts.ledger.join) {
        if !crate::ledger::differences(old, &record).is_empty() {
            let in_progress = ledger.totals(&run).await?.iter().any(|t| {
                matches!(t.state, TableState::Loading | TableState::Finishing)
                    && (t.done > 0 || !t.running.is_empty())
            });
            if !in_progress {
                recorded = None;
            }
        }
    }
    let resumed = match recorded {
        Some(old) => {
            let diff = crate::ledger::differences(&old, &record);
            if !diff.is_empty() {
                return Err(Error::Config(format!(
                    "the target's ledger holds an unfinished run of this copy ({run}) that was \
                     planned differently: {}. Rerun with --restart to discard it (what it loaded \
                     is dropped) and start over",
                    diff.join("; ")
                )));
            }
            // The recorded order: table numbers in the ledger are places in it.
            let mut by_name: BTreeMap<String, TablePlan> =
                plans.into_iter().map(|p| (p.source.clone(), p)).collect();
            plans = old
                .tables
                .iter()
                .filter_map(|t| by_name.remove(&t.source))
                .collect();
            record = old;
            true
        }
        None => false,
    };
    let waves = waves_of(&plans);

    // Everything that can be checked is checked before the first write to the target.
    let mut early: Vec<Option<String>> = vec![None; plans.len()];
    // A worker joining a run others are loading touches nothing they may be using: no
    // failed table is reset, no staging table made afresh (a rerun of the command does that).
    let join = opts.ledger.join;
    if resumed {
        if !join {
            ledger.reopen(&run).await?;
        }
        let totals = ledger.totals(&run).await?;
        if totals.len() != plans.len() {
            return Err(Error::LedgerGone { run: run.clone() });
        }
        for (p, t) in plans.iter_mut().zip(&totals) {
            p.resumed = t.done > 0 || t.state != TableState::Loading;
        }
        sink.prepare_run(&mut plans).await?;
        let todo: Vec<TablePlan> = plans
            .iter()
            .zip(&totals)
            .filter(|(_, t)| t.state != TableState::Done)
            .map(|(p, _)| p.clone())
            .collect();
        if opts.consistent && !todo.is_empty() {
            match record.snapshot.clone().filter(|_| join) {
                // A worker reads inside the snapshot the planning process holds.
                Some(id) => source.import_snapshot(&id).await?,
                None => {
                    let id = source.snapshot(&todo, jobs).await?;
                    if !join {
                        ledger.set_snapshot(&run, id.as_deref()).await?;
                        record.snapshot = id;
                    }
                }
            }
            if !join && totals.iter().any(|t| t.done > 0) {
                tracing::warn!(
                    "resumed with --consistent: the partitions loaded before the interruption \
                     were read from an earlier snapshot of the source"
                );
            }
        }
        for (i, (p, t)) in plans.iter().zip(&totals).enumerate() {
            // Nothing of it is in: a fresh staging table (an interrupted run's is dropped).
            if !join && t.state == TableState::Loading && t.done == 0 && t.partitions > 0 {
                if let Err(e) = sink.prepare(p).await {
                    if opts.fail_fast {
                        return Err(e);
                    }
                    let msg = crate::url::redact(&e.to_string());
                    ledger.table_failed(&run, i as u32, &msg).await?;
                    early[i] = Some(msg);
                }
            }
        }
        tracing::info!(
            "resuming {run}: {} of {} tables done, {} of {} partitions in",
            totals
                .iter()
                .filter(|t| t.state == TableState::Done)
                .count(),
            totals.len(),
            totals.iter().map(|t| t.done).sum::<u32>(),
            totals.iter().map(|t| t.partitions).sum::<u32>()
        );
    } else {
        sink.prepare_run(&mut plans).await?;
        if opts.consistent {
            record.snapshot = source.snapshot(&plans, jobs).await?;
        }
        // Count and split each table (inside the snapshot, when there is one).
        for (i, p) in plans.iter().enumerate() {
            let t = &mut record.tables[i];
            t.wave = waves[i];
            match source
                .count(p, p.jobs.unwrap_or(jobs), opts.min_partition_rows)
                .await
            {
                Ok((count, ranges)) => {
                    t.source_rows = count;
                    let ranges: Vec<Option<KeyRange>> = match ranges {
                        Some(rs) => rs.into_iter().map(Some).collect(),
                        None => vec![None],
                    };
                    let each = count / ranges.len() as u64;
                    t.partitions = ranges
                        .into_iter()
                        .enumerate()
                        .map(|(id, range)| PartRecord {
                            id: id as u32,
                            range,
                            est_rows: each,
                        })
                        .collect();
                }
                Err(e) if opts.fail_fast => return Err(e),
                Err(e) => t.error = Some(crate::url::redact(&e.to_string())),
            }
        }
        tracing::info!(
            "counted and partitioned at {:.3}s",
            started.elapsed().as_secs_f64()
        );
        for (i, p) in plans.iter().enumerate() {
            if record.tables[i].error.is_some() {
                continue;
            }
            if let Err(e) = sink.prepare(p).await {
                if opts.fail_fast {
                    for q in &plans[..i] {
                        sink.discard(q).await;
                    }
                    return Err(e);
                }
                // This table alone is left out; what it made is dropped at the end.
                record.tables[i].error = Some(crate::url::redact(&e.to_string()));
                record.tables[i].partitions.clear();
            }
        }
        ledger.record(&record).await?;
        tracing::info!(
            "staging tables ready and plan recorded at {:.3}s",
            started.elapsed().as_secs_f64()
        );
    }
    for (i, t) in record.tables.iter().enumerate() {
        if early[i].is_none() {
            early[i] = t.error.clone();
        }
    }

    let totals = ledger.totals(&run).await?;
    if totals.len() != plans.len() {
        return Err(Error::LedgerGone { run: run.clone() });
    }
    if opts.ledger.plan_only {
        let tables = plans
            .iter()
            .zip(&totals)
            .map(|(p, t)| TableReport {
                partitions: t.partitions as usize,
                source_rows: record
                    .tables
                    .iter()
                    .find(|r| r.source == p.source)
                    .map_or(0, |r| r.source_rows),
                error: t.error.clone(),
                warnings: p.warnings.clone(),
                notes: vec![format!(
                    "{}: planned in {} partition(s), {} in; workers load it with `barge work`",
                    p.source, t.partitions, t.done
                )],
                ..TableReport::empty(
                    &p.source,
                    &p.target,
                    match t.state {
                        TableState::Done => Status::Ok,
                        TableState::Failed => Status::Failed,
                        _ => Status::Skipped,
                    },
                )
            })
            .chain(refused)
            .collect();
        if let Some(id) = record.snapshot.as_deref() {
            hold_snapshot(ledger.as_ref(), &run, id).await?;
        }
        let mut report = finish_report(from, to, opts, tables, vec![], started);
        report.planned = Some(run.clone());
        return Ok(report);
    }

    let shared = Arc::new(Shared {
        source: source.clone(),
        sink: sink.clone(),
        ledger: ledger.clone(),
        run: run.clone(),
        batch_rows: opts.batch_rows.max(1),
        max_per_table: opts.max_per_table,
        zero_dates: opts.zero_dates,
        fail_fast: opts.fail_fast,
        observer: opts.observer.clone(),
        reject_dir: opts.reject_dir.clone(),
        rejects: plans
            .iter()
            .map(|p| {
                (opts.on_error == crate::rejects::OnError::SkipRow).then(|| {
                    Arc::new(crate::rejects::RejectFile::new(
                        &p.target,
                        &opts.reject_dir,
                        opts.max_rejects,
                        !resumed,
                    ))
                })
            })
            .collect(),
        stopped: Default::default(),
        fatal: Default::default(),
        arrow: plans.iter().map(|p| p.reader_schema()).collect(),
        source_rows: record.tables.iter().map(|t| t.source_rows).collect(),
        local: totals
            .iter()
            .zip(&early)
            .map(|(t, early)| {
                Mutex::new(Local {
                    remaining: (t.partitions - t.done) as usize,
                    status: early.as_ref().map(|_| Status::Failed),
                    error: early.clone(),
                    ..Default::default()
                })
            })
            .collect(),
        stream: plans.iter().map(|_| Mutex::new(None)).collect(),
        done: totals
            .iter()
            .map(|t| AtomicBool::new(t.state == TableState::Done))
            .collect(),
        plans: plans.into_iter().map(Arc::new).collect(),
        held: Default::default(),
        wake: Default::default(),
    });
    {
        use crate::progress::{emit, Event};
        emit(
            &shared.observer,
            Event::RunStarted {
                tables: shared.plans.len() + refused.len(),
                rows: shared
                    .source_rows
                    .iter()
                    .zip(&totals)
                    .filter(|(_, t)| t.state != TableState::Done)
                    .map(|(n, _)| n)
                    .sum(),
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
        for (t, local) in shared.local.iter().enumerate() {
            let local = local.lock().unwrap();
            if local.status.is_some() {
                shared.emit_finished(t, &local, 0);
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

    // Leases held by this process are renewed while it works.
    let renew = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let every = std::time::Duration::from_secs(crate::ledger::LEASE_SECONDS as u64 / 3);
            loop {
                tokio::time::sleep(every).await;
                let (parts, tables) = shared.held.lock().unwrap().clone();
                if let Err(e) = shared.ledger.renew(&shared.run, &parts, &tables).await {
                    tracing::warn!("renewing leases: {e}");
                }
            }
        })
    };
    let open: usize = totals
        .iter()
        .map(|t| (t.partitions - t.done) as usize + usize::from(t.state != TableState::Done))
        .sum();
    let mut clients: Vec<Box<dyn Writer>> = Vec::with_capacity(jobs);
    for _ in 0..jobs.min(open.max(1)) {
        match sink.writer().await {
            Ok(c) => clients.push(c),
            Err(e) => {
                renew.abort();
                return Err(e);
            }
        }
    }
    // Waves: a table whose keys follow a remapped parent loads after that parent finished
    // and its key map is known. Without remapping there is one wave.
    let mut maps: HashMap<String, Arc<HashMap<i64, i64>>> = Default::default();
    for w in 0..=waves.iter().copied().max().unwrap_or(0) {
        if shared.is_stopped() || clients.is_empty() {
            break;
        }
        if w > 0 {
            let totals = ledger.totals(&run).await?;
            if totals.len() != shared.plans.len() {
                // Another worker completed the run and removed it: the report says so.
                break;
            }
            for (t, p) in shared.plans.iter().enumerate() {
                let done = totals[t].state == TableState::Done;
                shared.done[t].store(done, Ordering::SeqCst);
                if waves[t] < w && done && p.new_keys && !maps.contains_key(&p.target) {
                    if let Some(m) = sink.key_map(p, opts.max_memory_keymap).await {
                        maps.insert(p.target.clone(), Arc::new(m));
                    }
                }
            }
        }
        for (t, p) in shared.plans.iter().enumerate() {
            if waves[t] == w && !p.remaps.is_empty() && !p.new_keys {
                *shared.stream[t].lock().unwrap() = stream_remap(p, &maps);
            }
        }
        let handles: Vec<_> = clients
            .into_iter()
            .enumerate()
            .map(|(task, c)| tokio::spawn(worker::worker(shared.clone(), c, task, w)))
            .collect();
        clients = Vec::new();
        for h in handles {
            match h.await {
                Ok(Some(c)) => clients.push(c),
                Ok(None) => {}
                Err(e) => tracing::error!("worker panicked: {e}"),
            }
        }
    }
    renew.abort();
    drop(clients);
    end_run(&shared, from, to, opts, &record, refused, started).await
}

/// After the loads: roll failed tables back, and once every table is done or failed, the
/// run's last step (foreign keys, key maps, the ledger) by exactly one process; then the
/// report, from the ledger.
async fn end_run(
    shared: &Shared,
    from: &DbUrl,
    to: &DbUrl,
    opts: &CopyOptions,
    record: &RunRecord,
    refused: Vec<TableReport>,
    started: Instant,
) -> Result<Report> {
    let (sink, ledger, run) = (&shared.sink, &shared.ledger, &shared.run);
    let mut totals = ledger.totals(run).await?;
    if totals.len() < shared.plans.len() {
        // Another worker completed the run and removed its ledger: every table is done.
        totals = shared
            .plans
            .iter()
            .map(|_| crate::ledger::TableTotals::new(TableState::Done, None))
            .collect();
    }
    let mut errors = Vec::new();
    if let Some(why) = shared.fatal.lock().unwrap().clone() {
        errors.push(why);
    } else if shared.is_stopped() {
        errors.push(
            "stopped after the first table that failed (--fail-fast); the tables marked skipped were not loaded"
                .to_string(),
        );
    }
    // A failed table still shows the rows its committed partitions left out (its pending
    // files stay until it loads again), and no older attempt's. A table still loading gets
    // its file at its finish (by another worker, or a rerun): made now from what has
    // committed so far, it could replace the whole one that finish makes.
    for (i, t) in totals.iter().enumerate() {
        if t.state == TableState::Failed {
            worker::publish_rejects(shared, i, &t.stats.reject_parts);
        }
    }
    // A failed table is rolled back alone: its staging goes (a rerun loads it whole). So
    // does the empty staging of a table nobody started; a rerun makes it again.
    for (p, t) in shared.plans.iter().zip(&totals) {
        let untouched = shared.is_stopped()
            && !opts.ledger.join
            && t.state == TableState::Loading
            && t.done == 0
            && t.running.is_empty();
        if t.state == TableState::Failed || untouched {
            sink.discard(p).await;
        }
    }
    let over = totals
        .iter()
        .all(|t| matches!(t.state, TableState::Done | TableState::Failed));
    let ok: Vec<bool> = totals.iter().map(|t| t.state == TableState::Done).collect();
    if !over {
        if ledger.durable() {
            let left = totals
                .iter()
                .filter(|t| !matches!(t.state, TableState::Done | TableState::Failed))
                .count();
            let running: usize = totals.iter().map(|t| t.running.len()).sum();
            errors.push(if running > 0 {
                format!("{left} table(s) are still being loaded by other workers ({running} partitions running); `barge status` shows them")
            } else {
                format!("{left} table(s) were not finished; the target's ledger keeps what is in: rerun the same command to resume")
            });
        } else {
            for (p, t) in shared.plans.iter().zip(&totals) {
                if t.state != TableState::Done {
                    sink.discard(p).await;
                }
            }
        }
    } else if ledger.claim_end(run).await? {
        // Foreign keys between tables that both loaded.
        for (i, p) in shared.plans.iter().enumerate() {
            if !ok[i] || p.foreign_keys.is_empty() {
                continue;
            }
            let parent_ok: Vec<bool> = p
                .foreign_keys
                .iter()
                .map(|fk| {
                    shared
                        .plans
                        .iter()
                        .position(|q| q.target == fk.ref_table)
                        .is_some_and(|j| ok[j])
                })
                .collect();
            for (fk, done) in p
                .foreign_keys
                .iter()
                .zip(sink.foreign_keys(p, &parent_ok).await)
            {
                match done {
                    None => errors.push(format!(
                        "foreign key {} on {} not created: table {} did not load",
                        fk.name, p.target, fk.ref_table
                    )),
                    Some(Err(e)) => errors.push(crate::url::redact(&e.to_string())),
                    Some(Ok(())) => {}
                }
            }
        }
        if !ok.iter().all(|&o| o) && ledger.durable() {
            errors.push(format!(
                "the target's ledger keeps this run: rerun the same command to load the failed \
                 table(s) again ({} done table(s) are not loaded again), or add --restart",
                ok.iter().filter(|&&o| o).count()
            ));
        }
        if ok.iter().all(|&o| o) {
            let remapped: Vec<&TablePlan> = shared
                .plans
                .iter()
                .filter(|p| p.new_keys)
                .map(|p| &**p)
                .collect();
            if !remapped.is_empty() {
                sink.drop_key_maps(&remapped).await;
            }
            if !opts.ledger.keep {
                // The rows are in: a ledger left behind only keeps a done run.
                if let Err(e) = ledger.remove(run).await {
                    tracing::warn!("the run is done, but its ledger could not be removed: {e}");
                }
            }
        }
    }

    let tables = shared
        .plans
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let local = shared.local[i].lock().unwrap();
            let mut r = table_report(p, record.tables[i].source_rows, &totals[i], &local);
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

/// Each table's wave: one after that of every remapped parent (its keys need the parent's
/// map). Iterated to a fixpoint: a parent need not come before its child in the plan order
/// (a broken cycle). Remap cycles are refused by the plan; the cap is only a safeguard.
fn waves_of(plans: &[TablePlan]) -> Vec<u32> {
    let mut wave = vec![0u32; plans.len()];
    for _ in 0..plans.len() {
        let mut changed = false;
        for (t, p) in plans.iter().enumerate() {
            for r in &p.remaps {
                // A self-reference is remapped inside the table's own finish.
                if let Some(j) = plans.iter().position(|q| q.target == r.parent) {
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
    wave
}

fn table_report(
    p: &TablePlan,
    source_rows: u64,
    totals: &crate::ledger::TableTotals,
    local: &Local,
) -> TableReport {
    let s = &totals.stats;
    // Kept columns only (not those read just for expressions).
    let nulled = |kind: usize| {
        p.columns
            .iter()
            .zip(&s.dates)
            .filter(|(_, n)| n[kind] > 0)
            .map(|((name, _), n)| (name.clone(), n[kind]))
            .collect()
    };
    let status = match totals.state {
        TableState::Done => Status::Ok,
        TableState::Failed => Status::Failed,
        _ => Status::Skipped,
    };
    let mut notes = p.notes.clone();
    if status == Status::Ok && local.status.is_none() {
        notes.push(format!(
            "{}: loaded by an earlier run of this copy or another worker (resumed from the ledger)",
            p.source
        ));
    }
    TableReport {
        source: p.source.clone(),
        target: p.target.clone(),
        status,
        source_rows,
        rows_read: s.read,
        rows_written: local.inserted.unwrap_or(s.written),
        rows_filtered: s.filtered,
        rows_rejected: s.rejected,
        row_rejects_file: None,
        zero_dates_nulled: nulled(0),
        partial_dates_nulled: nulled(1),
        impossible_dates_nulled: nulled(2),
        partitions: totals.partitions as usize,
        bytes: s.bytes,
        load_seconds: local
            .load_seconds
            .unwrap_or(local.seconds)
            .min(local.seconds),
        seconds: local.seconds,
        rows_per_second: if local.seconds > 0.0 {
            s.read as f64 / local.seconds
        } else {
            0.0
        },
        error: local.error.clone().or_else(|| totals.error.clone()),
        warnings: p.warnings.clone(),
        notes,
        orphans_nulled: local.orphans_nulled.clone(),
        orphans_skipped: local.orphans_skipped.clone(),
        rejects_file: local.rejects_file.clone(),
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
        // Where the tables went: a PostgreSQL schema, or a MySQL database.
        schema: match to.engine() {
            crate::url::Engine::Postgres => opts.schema.clone(),
            crate::url::Engine::Mysql => to.database().unwrap_or_default(),
        },
        destination: to.destination(&opts.schema),
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
        planned: None,
    }
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
