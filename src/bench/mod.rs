//! `barge bench`: the same transfer done several ways, each checked against the source and
//! reported side by side, as in the origin story (an ORM's row-by-row inserts against a bulk
//! load).
//!
//! Strategies (the SQL each sends is in the README):
//! - `orm-row`: one parameterized INSERT per row, autocommit: one round trip and one commit
//!   a row, what an ORM's `save()` sends;
//! - `orm-row-tx`: the same inside one transaction;
//! - `multi-insert`: multi-row INSERTs of up to 1000 rows in one transaction (`bulk_create`);
//! - `barge`: `barge copy` (binary COPY, parallel), run as a child process so its peak memory
//!   can be measured;
//! - `pgloader`: the same table through pgloader, when its binary is present;
//! - `django-row`, `django-bulk`: the origin story's baseline, a real Django ORM run
//!   (`save()` per row, `bulk_create`) in a virtualenv barge creates on first use.
//!
//! Slow strategies run on the first `sample_limit` rows (in key order) and their time is
//! extrapolated to the whole table; the report says so.

pub mod report;

use crate::engine::mysql::connect::{mysql_conn, mysql_pool};
use crate::engine::postgres::connect::pg_connect;
use crate::error::{Context, Error, Result, Side};
use crate::plan::{Selection, TablePlan};
use crate::url::{DbUrl, Engine};
use crate::verify::{
    mysql_checksum, pg_checksum, read_back_checksum, source_checksum, Checksum, RowsHasher,
};
pub use report::{BenchReport, ScalePoint, StrategyResult};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    OrmRow,
    OrmRowTx,
    MultiInsert,
    Barge,
    Pgloader,
    DjangoRow,
    DjangoBulk,
}

impl Strategy {
    pub const ALL: [Strategy; 7] = [
        Strategy::OrmRow,
        Strategy::OrmRowTx,
        Strategy::MultiInsert,
        Strategy::Barge,
        Strategy::Pgloader,
        Strategy::DjangoRow,
        Strategy::DjangoBulk,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::OrmRow => "orm-row",
            Strategy::OrmRowTx => "orm-row-tx",
            Strategy::MultiInsert => "multi-insert",
            Strategy::Barge => "barge",
            Strategy::Pgloader => "pgloader",
            Strategy::DjangoRow => "django-row",
            Strategy::DjangoBulk => "django-bulk",
        }
    }

    pub fn parse(s: &str) -> Result<Strategy> {
        Strategy::ALL
            .into_iter()
            .find(|x| x.name() == s)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown strategy `{s}` (there are: {})",
                    Strategy::ALL.map(Strategy::name).join(", ")
                ))
            })
    }

    /// Strategies that run on a sample and are extrapolated.
    pub fn sampled(self) -> bool {
        matches!(
            self,
            Strategy::OrmRow | Strategy::OrmRowTx | Strategy::DjangoRow
        )
    }

    /// Why this strategy cannot move `from` into `to`, if it cannot: pgloader and the Django
    /// script move MySQL into PostgreSQL only.
    pub fn unsupported(self, from: Engine, to: Engine) -> Option<String> {
        let mysql_to_pg = (from, to) == (Engine::Mysql, Engine::Postgres);
        match self {
            Strategy::Pgloader | Strategy::DjangoRow | Strategy::DjangoBulk if !mysql_to_pg => {
                Some(format!(
                    "{} moves MySQL into PostgreSQL only (this bench moves {} into {})",
                    self.name(),
                    from.short(),
                    to.short()
                ))
            }
            _ => None,
        }
    }

    /// The strategies that can move `from` into `to`, for a bench that names none.
    pub fn all_for(from: Engine, to: Engine) -> Vec<Strategy> {
        Strategy::ALL
            .into_iter()
            .filter(|s| s.unsupported(from, to).is_none())
            .collect()
    }

    /// Where this strategy's tables go: a schema of a PostgreSQL target, a database of a
    /// MySQL one.
    pub fn schema(self, prefix: &str) -> String {
        format!("{prefix}_{}", self.name().replace('-', "_"))
    }
}

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub from: DbUrl,
    pub to: DbUrl,
    pub tables: Vec<String>,
    pub strategies: Vec<Strategy>,
    pub repeat: usize,
    /// Rows the sampled strategies insert before their time is extrapolated.
    pub sample_limit: u64,
    pub jobs: usize,
    /// The barge executable for the `barge` strategy (normally the running one).
    pub barge_exe: PathBuf,
    /// Each strategy writes into schema `<prefix>_<strategy>`, replaced on every run.
    pub schema_prefix: String,
}

/// Run every strategy on every table; a failing strategy is reported, the others go on.
/// Each result is checked against the source: MySQL → PostgreSQL by checksums each server
/// computes itself; other directions through barge's readers on both sides.
pub async fn run(opts: &BenchOptions) -> Result<BenchReport> {
    let (from, to) = (opts.from.engine(), opts.to.engine());
    let copy_opts = crate::run::CopyOptions {
        selection: Selection {
            tables: opts.tables.clone(),
            ..Default::default()
        },
        ..Default::default()
    };
    let (_, plans) = crate::run::plan_only(&opts.from, &opts.to, &copy_opts).await?;
    let mut servers = if (from, to) == (Engine::Mysql, Engine::Postgres) {
        let database = opts.from.database().unwrap_or_default();
        let pool = mysql_pool(&opts.from, 1).await?;
        let conn = mysql_conn(&pool, &opts.from, Side::Source).await?;
        let client = pg_connect(&opts.to, Side::Target).await?;
        Some((database, pool, conn, client))
    } else {
        None
    };
    let mut results = Vec::new();
    for p in &plans {
        let full = match servers.as_mut() {
            Some((db, _, conn, _)) => mysql_checksum(conn, db, &p.source, &p.columns, None).await?,
            None => source_checksum(&opts.from, p).await?.map_err(|why| {
                Error::Bench(format!(
                    "{}: the source cannot be checksummed: {why}",
                    p.source
                ))
            })?,
        };
        let key = p.primary_key.first().cloned();
        let sample_n = opts.sample_limit.min(full.rows);
        let sample = match (&key, servers.as_mut()) {
            (Some(k), Some((db, _, conn, _))) if sample_n < full.rows => {
                Some(mysql_checksum(conn, db, &p.source, &p.columns, Some((k, sample_n))).await?)
            }
            _ => None,
        };
        for &s in &opts.strategies {
            let sampled = s.sampled() && key.is_some() && sample_n < full.rows;
            let rows = if sampled { sample_n } else { full.rows };
            let mut r = StrategyResult::new(s.name(), &p.source, full.rows, rows, sampled);
            if let Some(why) = s.unsupported(from, to) {
                r.error = Some(why);
                results.push(r);
                continue;
            }
            let mut sent = None;
            for i in 0..opts.repeat.max(1) {
                tracing::info!("bench {} {} run {}", p.source, s.name(), i + 1);
                match run_one(s, opts, p, rows, sampled).await {
                    Ok((wall, peak, hash)) => {
                        r.add_run(wall, peak);
                        sent = hash;
                    }
                    Err(e) => {
                        r.error = Some(crate::url::redact(&e.to_string()));
                        break;
                    }
                }
            }
            if r.error.is_none() {
                let place = s.schema(&opts.schema_prefix);
                let checked = match servers.as_mut() {
                    Some((_, _, _, client)) => pg_checksum(client, &place, &p.target, &p.columns)
                        .await
                        .map(|got| Ok((if sampled { sample } else { Some(full) }, got))),
                    None => read_back_checksum(&place_url(&opts.to, &place), p)
                        .await
                        .map(|got| got.map(|got| (if sampled { sent } else { Some(full) }, got))),
                };
                match checked {
                    Ok(Ok((Some(expect), got))) => r.set_check(expect, got),
                    Ok(Ok((None, _))) => r.error = Some("check failed: no rows to compare".into()),
                    Ok(Err(why)) => r.error = Some(format!("check failed: {why}")),
                    Err(e) => r.error = Some(format!("check failed: {e}")),
                }
            }
            results.push(r);
        }
    }
    if let Some((_, pool, conn, _)) = servers {
        drop(conn);
        let _ = pool.disconnect().await;
    }
    Ok(BenchReport::new(results))
}

/// The URL a strategy's tables are read back from: the target with the strategy's schema
/// (PostgreSQL) or database (MySQL).
fn place_url(to: &DbUrl, place: &str) -> DbUrl {
    match to.engine() {
        Engine::Postgres => to.with_schema(place),
        Engine::Mysql => to.with_database(place),
    }
}

/// One timed run of `rows` rows (the first of them in key order when `sampled`): (wall
/// seconds, peak RSS in KiB of a child process, and for the ORM-style strategies the
/// checksum of the rows they were given).
async fn run_one(
    s: Strategy,
    opts: &BenchOptions,
    p: &TablePlan,
    rows: u64,
    sampled: bool,
) -> Result<(f64, Option<u64>, Option<Checksum>)> {
    let limit = sampled.then_some(rows);
    let schema = s.schema(&opts.schema_prefix);
    let database = opts.from.database().unwrap_or_default();
    match s {
        Strategy::Barge => {
            let (wall, peak) = run_barge(opts, &schema, &p.source).await?;
            Ok((wall, peak, None))
        }
        Strategy::Pgloader => {
            let dir = std::env::temp_dir().join(format!("barge-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let file = dir.join("load.pgl");
            std::fs::write(&file, pgloader_command(opts, &database, p, &schema))?;
            restrict(&file)?;
            let mut cmd = tokio::process::Command::new("pgloader");
            cmd.arg("--no-ssl-cert-verification").arg(&file);
            let r = run_child(cmd, "pgloader").await;
            let _ = std::fs::remove_dir_all(&dir);
            let (wall, peak, _) = r?;
            // pgloader reports row errors without failing: count what arrived.
            let client = pg_connect(&opts.to, Side::Target).await?;
            let n: i64 = client
                .query_one(
                    &format!(
                        "SELECT count(*) FROM {}",
                        crate::engine::postgres::write::qualified(&schema, &p.target)
                    ),
                    &[],
                )
                .await
                .ctx("counting pgloader's rows")?
                .get(0);
            if n as u64 != rows {
                return Err(Error::Bench(format!("pgloader loaded {n} of {rows} rows")));
            }
            Ok((wall, peak, None))
        }
        Strategy::DjangoRow | Strategy::DjangoBulk => {
            if p.primary_key.is_empty() {
                return Err(Error::Bench(format!(
                    "the django strategies need a primary key on {} (a Django model has one)",
                    p.source
                )));
            }
            let mut inserter = crate::engine::row_inserter(&opts.to, &schema).await?;
            inserter.create_table(p).await?;
            drop(inserter);
            let python = django_python().await?;
            // One directory per run and strategy: runs in one process (tests) remove their own.
            let dir = std::env::temp_dir().join(format!(
                "barge-django-{}-{schema}-{}",
                std::process::id(),
                s.name()
            ));
            std::fs::create_dir_all(&dir)?;
            let script = dir.join("django_bench.py");
            std::fs::write(&script, DJANGO_SCRIPT)?;
            let mut cmd = tokio::process::Command::new(python);
            cmd.env("BARGE_FROM", opts.from.expose())
                .env("BARGE_TO", opts.to.expose())
                .arg(&script)
                .args(["--schema", &schema])
                .args(["--table", &p.source, "--target", &p.target])
                .args([
                    "--mode",
                    if s == Strategy::DjangoRow {
                        "row"
                    } else {
                        "bulk"
                    },
                ]);
            if let Some(n) = limit {
                cmd.args(["--limit", &n.to_string()]);
            }
            let r = run_child(cmd, s.name()).await;
            let _ = std::fs::remove_dir_all(&dir);
            let (_, peak, stdout) = r?;
            // The script times its copy loop alone: interpreter and Django start-up are not
            // the ORM's insert cost.
            let out: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
                .map_err(|e| {
                    Error::Bench(format!("{}: unreadable result {stdout:?}: {e}", s.name()))
                })?;
            let secs = out["seconds"]
                .as_f64()
                .ok_or_else(|| Error::Bench(format!("{}: no time in {stdout:?}", s.name())))?;
            Ok((secs, peak, None))
        }
        Strategy::OrmRow | Strategy::OrmRowTx | Strategy::MultiInsert => {
            let mut inserter = crate::engine::row_inserter(&opts.to, &schema).await?;
            inserter.create_table(p).await?;
            let started = Instant::now();
            let sent = orm_insert(s, opts, &mut *inserter, p, limit).await?;
            Ok((started.elapsed().as_secs_f64(), None, Some(sent)))
        }
    }
}

const DJANGO_SCRIPT: &str = include_str!("../../benches/django_bench.py");
const DJANGO_REQUIREMENTS: &[&str] = &[
    "django>=5.2,<5.3",
    "psycopg2-binary>=2.9,<3",
    "pymysql>=1.1,<2",
];

/// The virtualenv's python, created with Django, psycopg2 and PyMySQL on first use.
/// Location: BARGE_DJANGO_VENV, else ~/.cache/barge/django-venv.
async fn django_python() -> Result<PathBuf> {
    let venv = match std::env::var_os("BARGE_DJANGO_VENV") {
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into()))
            .join(".cache/barge/django-venv"),
    };
    let python = venv.join("bin/python");
    let ready = venv.join(".barge-ready");
    if ready.is_file() {
        return Ok(python);
    }
    // Strategies (and processes) that start at once would build the same virtualenv over
    // each other: one builds it under a lock file beside it, the others wait and use it.
    if let Some(parent) = venv.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let lock_path = venv.with_extension("lock");
    let lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        let f = std::fs::File::create(&lock_path)?;
        f.lock()?;
        Ok(f)
    })
    .await
    .map_err(|source| Error::Task {
        what: "waiting for the Django virtualenv lock".into(),
        source,
    })??;
    if ready.is_file() {
        return Ok(python);
    }
    let run = |mut c: tokio::process::Command, what: String| async move {
        let out = c.output().await.map_err(|source| Error::Spawn {
            what: what.clone(),
            source,
        })?;
        if !out.status.success() {
            return Err(Error::Bench(format!(
                "{what} failed: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            )));
        }
        Ok(())
    };
    let mut c = tokio::process::Command::new("python3");
    c.args(["-m", "venv"]).arg(&venv);
    run(
        c,
        format!("creating the Django virtualenv in {}", venv.display()),
    )
    .await?;
    let mut c = tokio::process::Command::new(venv.join("bin/pip"));
    c.args(["install", "-q", "--disable-pip-version-check"])
        .args(DJANGO_REQUIREMENTS);
    run(c, format!("pip install {}", DJANGO_REQUIREMENTS.join(" "))).await?;
    std::fs::write(&ready, DJANGO_REQUIREMENTS.join("\n"))?;
    drop(lock);
    Ok(python)
}

async fn run_barge(opts: &BenchOptions, schema: &str, table: &str) -> Result<(f64, Option<u64>)> {
    let mut cmd = tokio::process::Command::new(&opts.barge_exe);
    // URLs through the environment: arguments are visible to every user in `ps`.
    cmd.env("BARGE_FROM", opts.from.full())
        .env("BARGE_TO", place_url(&opts.to, schema).full())
        .args(["copy", "--drop", "--json", "--tables", table])
        .args(["--jobs", &opts.jobs.to_string()]);
    let (wall, peak, _) = run_child(cmd, "barge copy").await?;
    Ok((wall, peak))
}

#[cfg(unix)]
fn restrict(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_: &std::path::Path) -> Result<()> {
    Ok(())
}

fn pgloader_command(opts: &BenchOptions, database: &str, p: &TablePlan, schema: &str) -> String {
    // Rules that make pgloader load barge's generated tables at all: it quotes MariaDB's
    // current_timestamp(6) default as a string, maps TIME to time (negative and >24h values
    // fail) and keeps 0000-00-00 in nullable DATE columns. Smaller prefetch and batches keep
    // its heap from running out on wide tables.
    format!(
        "LOAD DATABASE\n  FROM {}\n  INTO {}\n\
         WITH include drop, create tables, create indexes, reset sequences,\n     \
         workers = 4, concurrency = 1, multiple readers per thread, rows per range = 50000,\n     \
         prefetch rows = 10000, batch rows = 10000\n\
         CAST type time to interval drop typemod,\n     \
         type date to date using zero-dates-to-null,\n     \
         type timestamp with extra on update current timestamp to timestamptz drop default\n\
         INCLUDING ONLY TABLE NAMES MATCHING '{}'\n\
         ALTER SCHEMA '{}' RENAME TO '{}';\n",
        opts.from.expose(),
        opts.to.expose(),
        p.source.replace('\'', "''"),
        database,
        schema
    )
}

/// Run a child to completion, sampling its peak resident memory (VmHWM) as it runs.
async fn run_child(
    mut cmd: tokio::process::Command,
    what: &str,
) -> Result<(f64, Option<u64>, String)> {
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let started = Instant::now();
    let child = cmd.spawn().map_err(|source| Error::Spawn {
        what: what.to_string(),
        source,
    })?;
    let pid = child.id();
    let waiting = tokio::spawn(child.wait_with_output());
    let mut peak = None;
    while !waiting.is_finished() {
        if let Some(kb) = pid.and_then(vm_hwm_kb) {
            peak = Some(kb);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let out = waiting.await.map_err(|source| Error::Task {
        what: what.to_string(),
        source,
    })??;
    let wall = started.elapsed().as_secs_f64();
    if !out.status.success() {
        let mut msg = String::from_utf8_lossy(&out.stderr).into_owned();
        msg.push_str(&String::from_utf8_lossy(&out.stdout));
        let tail: Vec<&str> = msg.lines().rev().take(8).collect();
        return Err(Error::Bench(format!(
            "{what} failed ({}): {}",
            out.status,
            crate::url::redact(&tail.into_iter().rev().collect::<Vec<_>>().join(" / "))
        )));
    }
    Ok((
        wall,
        peak,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The ORM-style strategies: rows from barge's reader (in key order, the first `limit` of
/// them when sampled), inserted as an ORM sends them. Returns the checksum of the rows
/// given to the inserter.
async fn orm_insert(
    s: Strategy,
    opts: &BenchOptions,
    inserter: &mut dyn crate::engine::RowInserter,
    p: &TablePlan,
    limit: Option<u64>,
) -> Result<Checksum> {
    let source = crate::engine::open_source(&opts.from, 1).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let req = crate::engine::ReadRequest {
        plan: std::sync::Arc::new(p.clone()),
        schema: p.reader_schema(),
        range: None,
        limit,
        batch_rows: 1000,
        batch_bytes: 8 << 20,
        zero_dates: Default::default(),
        rejects: None,
        nul_in_text: opts.to.engine() == Engine::Mysql,
    };
    let reader = {
        let source = source.clone();
        tokio::spawn(async move { source.read(req, tx).await })
    };
    let per_statement = if s == Strategy::MultiInsert { 1000 } else { 1 };
    let mut hasher = RowsHasher::for_plan(p);
    let inserted = async {
        if s != Strategy::OrmRow {
            inserter.begin().await?;
        }
        while let Some(batch) = rx.recv().await {
            hasher.add(&batch).map_err(Error::Bench)?;
            inserter.insert(p, &batch, per_statement).await?;
        }
        if s != Strategy::OrmRow {
            inserter.commit().await?;
        }
        Ok::<_, Error>(())
    }
    .await;
    drop(rx);
    let read = reader.await.map_err(|source| Error::Task {
        what: "the bench's reader".into(),
        source,
    });
    source.close().await;
    inserted?;
    read??;
    Ok(hasher.sum)
}

/// Scaling: barge alone at several sizes and job counts (the cost should grow linearly).
pub async fn scale(
    opts: &BenchOptions,
    table: &str,
    sizes: &[u64],
    jobs: &[usize],
    seed: u64,
) -> Result<Vec<ScalePoint>> {
    let database = opts.from.database().ok_or_else(|| Error::Url {
        url: opts.from.redacted(),
        reason: "the source URL names no database".into(),
    })?;
    let server = opts.from.with_database("");
    let mut points = Vec::new();
    for &n in sizes {
        crate::fixtures::generate(&server, &database, table, n, seed).await?;
        for &j in jobs {
            let o = BenchOptions {
                jobs: j,
                ..opts.clone()
            };
            let (wall, peak) =
                run_barge(&o, &Strategy::Barge.schema(&opts.schema_prefix), table).await?;
            points.push(ScalePoint::new(table, n, j, wall, peak));
        }
    }
    Ok(points)
}
