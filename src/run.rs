//! The copy executor: validate, plan partitions, run `jobs` workers that each own one
//! connection per side, finish each table when its last partition lands, then add the
//! foreign keys. Between a reader and its writer sits a bounded channel of record batches,
//! so memory stays at a few batches per worker however large the table.

use crate::engine::{ReadRequest, ReadStats, Sink, SinkOptions, Source, Writer};
use crate::error::{Error, Result};
use crate::partition::KeyRange;
use crate::plan::{plan_each, Mode, Selection, TablePlan};
use crate::report::{Report, Status, TableReport};
use crate::url::DbUrl;
use arrow_schema::Schema;
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
    source: Arc<dyn Source>,
    sink: Arc<dyn Sink>,
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
    /// Per table: in-memory key remaps applied in the writer (children of remapped parents
    /// whose maps fit in memory). Such a table finishes like any other: no second write.
    stream: Vec<Mutex<Option<StreamRemap>>>,
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
    target: crate::url::Engine,
    opts: &CopyOptions,
) -> Result<(
    crate::catalog::Catalog,
    Vec<TablePlan>,
    Vec<crate::plan::Refused>,
)> {
    let mut catalog = source.catalog().await?;
    catalog.target = Some(target);
    let (mut plans, mut refused) = plan_each(&catalog, &opts.selection)?;
    if source.refine(&mut catalog, &plans).await? {
        (plans, refused) = plan_each(&catalog, &opts.selection)?;
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
    let source = crate::engine::open_source(from, 1)?;
    let catalog = source.catalog().await;
    source.close().await;
    catalog
}

/// Read the source catalog and plan the copy into `to`, touching nothing: what `barge plan`
/// shows.
pub async fn plan_only(
    from: &DbUrl,
    to: &DbUrl,
    opts: &CopyOptions,
) -> Result<(crate::catalog::Catalog, Vec<TablePlan>)> {
    let source = crate::engine::open_source(from, 1)?;
    let result = async {
        let (catalog, plans, refused) = plan_source(&*source, to.engine(), opts).await?;
        match refused.into_iter().next() {
            Some(r) => Err(r.error),
            None => Ok((catalog, plans)),
        }
    }
    .await;
    source.close().await;
    result
}

/// Copy tables from one database into another (MySQL/MariaDB into PostgreSQL today).
///
/// Returns `Err` for problems found before any data moved (connection, selection, types,
/// existing targets). Problems during the load are in the report: check `Report::ok()`.
pub async fn copy(from: &DbUrl, to: &DbUrl, opts: &CopyOptions) -> Result<Report> {
    let started = Instant::now();
    let jobs = opts.jobs.max(1);
    let source = crate::engine::open_source(from, jobs)?;
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

async fn copy_inner(
    source: Arc<dyn Source>,
    sink: Arc<dyn Sink>,
    from: &DbUrl,
    to: &DbUrl,
    opts: &CopyOptions,
    jobs: usize,
    started: Instant,
) -> Result<Report> {
    let (_, mut plans, mut refused) = plan_source(&*source, to.engine(), opts).await?;
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

    // Everything that can be checked is checked before the first write to the target.
    sink.prepare_run(&mut plans).await?;

    if opts.mode == Mode::SchemaOnly {
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

    if opts.consistent {
        source.snapshot(&plans, jobs).await?;
    }

    // Per table: a failure before its load (counting, staging), which leaves it out alone.
    let mut early: Vec<Option<String>> = vec![None; plans.len()];
    // Count and split each table (inside the snapshot, when there is one).
    let mut source_rows = Vec::with_capacity(plans.len());
    let mut work = Vec::new();
    for (i, p) in plans.iter().enumerate() {
        let (count, ranges) = match source
            .count(p, p.jobs.unwrap_or(jobs), opts.min_partition_rows)
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
        if let Err(e) = sink.prepare(p).await {
            if opts.fail_fast {
                for q in &plans[..i] {
                    sink.discard(q).await;
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
        source: source.clone(),
        sink: sink.clone(),
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

    let mut clients: Vec<Box<dyn Writer>> = Vec::with_capacity(jobs);
    for _ in 0..jobs.min(parts.iter().sum::<usize>().max(1)) {
        match sink.writer().await {
            Ok(c) => clients.push(c),
            Err(e) => {
                for p in &shared.plans {
                    sink.discard(p).await;
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
        finish_deferred(&shared, &opts.reject_dir, |t| wave[t] == w).await;
        for (t, p) in shared.plans.iter().enumerate() {
            if wave[t] == w
                && p.new_keys
                && shared.progress[t].lock().unwrap().status == Some(Status::Ok)
            {
                if let Some(m) = sink.key_map(p, opts.max_memory_keymap).await {
                    maps.insert(p.target.clone(), Arc::new(m));
                }
            }
        }
        if clients.is_empty() {
            break;
        }
    }
    let remapped: Vec<&TablePlan> = shared
        .plans
        .iter()
        .filter(|p| p.new_keys)
        .map(|p| &**p)
        .collect();
    if !remapped.is_empty() {
        sink.drop_key_maps(&remapped).await;
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
            sink.discard(p).await;
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
        if p.foreign_keys.is_empty() {
            continue;
        }
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
        // Where the tables went: a PostgreSQL schema, or a MySQL database.
        schema: match to.engine() {
            crate::url::Engine::Postgres => opts.schema.clone(),
            crate::url::Engine::Mysql => to.database().unwrap_or_default(),
        },
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

async fn worker(shared: Arc<Shared>, mut writer: Box<dyn Writer>) -> Box<dyn Writer> {
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
        let result = run_partition(&shared, &mut *writer, &work).await;
        let finish = {
            let mut prog = shared.progress[t].lock().unwrap();
            match result {
                Ok((read, loaded)) => {
                    prog.read.rows += read.rows;
                    prog.read.rejected += read.rejected;
                    for (a, b) in prog.read.nulled_dates.iter_mut().zip(&read.nulled_dates) {
                        a.merge(b);
                    }
                    prog.written += loaded.rows;
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
                            rows: loaded.rows,
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
                    let r = writer.finish(plan, &nulls).await;
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
    writer
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
                let r = shared.sink.finish_remapped(plan, &nulls, reject_dir).await;
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

/// What one partition's write did, after the transforms.
#[derive(Default)]
struct Loaded {
    rows: u64,
    /// Rows the transforms left out (a filter barge evaluates).
    filtered: u64,
    /// Per target column: NULLs written (whether a deferred NOT NULL can be set).
    nulls: Vec<u64>,
    bytes: u64,
}

/// Read, transform and load one partition: the source's reader runs as its own task, and
/// the transforms run beside the writer, feeding it through a second bounded channel.
async fn run_partition(
    shared: &Arc<Shared>,
    writer: &mut dyn Writer,
    work: &Work,
) -> Result<(ReadStats, Loaded)> {
    let plan = shared.plans[work.table].clone();
    let (tx, mut rx) = mpsc::channel(CHANNEL_BATCHES);
    let req = ReadRequest {
        plan: plan.clone(),
        schema: shared.arrow[work.table].clone(),
        range: work.range.clone(),
        batch_rows: plan.batch_rows.unwrap_or(shared.batch_rows),
        batch_bytes: BATCH_BYTES,
        zero_dates: shared.zero_dates,
        rejects: shared.rejects[work.table].clone(),
        nul_in_text: shared.sink.stores_nul_in_text(),
    };
    let source = shared.source.clone();
    let reader = tokio::spawn(async move { source.read(req, tx).await });
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
    let mut loaded = Loaded {
        nulls: vec![0; plan.target_columns.len()],
        ..Loaded::default()
    };
    // One batch between transforms and writer: with the reader's channel, memory stays at
    // the few batches per partition it was before the transforms moved here.
    let (ttx, trx) = mpsc::channel(1);
    let transform = async {
        // Owned here, so the writer sees the end of the stream when the reader's ends.
        let ttx = ttx;
        let in_table = |e: Error| Error::Table {
            table: plan.source.clone(),
            detail: e.to_string(),
        };
        while let Some(batch) = rx.recv().await {
            let rows_in = batch.num_rows();
            let batch = crate::transform::apply_all(&plan.transforms, batch).map_err(in_table)?;
            let batch = crate::transform::apply_all(&extra, batch).map_err(in_table)?;
            loaded.filtered += rows_in.saturating_sub(batch.num_rows()) as u64;
            for (n, c) in loaded.nulls.iter_mut().zip(batch.columns()) {
                *n += c.null_count() as u64;
            }
            if ttx.send(batch).await.is_err() {
                break; // the writer failed and says why
            }
        }
        Ok::<_, Error>(())
    };
    let (transformed, written) = tokio::join!(transform, writer.write(&plan, trx, &on_rows));
    let read = match reader.await {
        Ok(read) => read,
        Err(e) => return Err(Error::Invalid(format!("reader task failed: {e}"))),
    };
    // A reader error is the root cause even when the writer then saw a short stream.
    let read = read?;
    transformed?;
    let written = written?;
    loaded.rows = written.rows;
    loaded.bytes = written.bytes;
    Ok((read, loaded))
}
