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

use crate::engine::mysql::catalog::introspect;
use crate::engine::mysql::connect::{mysql_conn, mysql_pool};
use crate::engine::mysql::read::{read_partition, ReadSpec};
use crate::engine::postgres::connect::pg_connect;
use crate::engine::postgres::copy_format::{BatchEncoder, CopyEncoder};
use crate::engine::postgres::write::{qualified, quote_ident, schema_only_sql};
use crate::error::{Context, Error, Result, Side};
use crate::plan::{plan, Selection, TablePlan};
use crate::url::DbUrl;
use crate::verify::{mysql_checksum, pg_checksum};
use bytes::BytesMut;
pub use report::{BenchReport, ScalePoint, StrategyResult};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

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

    /// The target schema of this strategy's tables.
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
pub async fn run(opts: &BenchOptions) -> Result<BenchReport> {
    let database = opts.from.database().ok_or_else(|| Error::Url {
        url: opts.from.redacted(),
        reason: "the source URL names no database".into(),
    })?;
    let pool = mysql_pool(&opts.from, 2).await?;
    let mut conn = mysql_conn(&pool, &opts.from, Side::Source).await?;
    let catalog = introspect(&mut conn, &database).await?;
    let plans = plan(
        &catalog,
        crate::engine::source_types(catalog.engine),
        &Selection {
            tables: opts.tables.clone(),
            exclude: vec![],
            ..Default::default()
        },
    )?;
    let client = pg_connect(&opts.to, Side::Target).await?;
    let mut results = Vec::new();
    for p in &plans {
        let full = mysql_checksum(&mut conn, &database, &p.source, &p.columns, None).await?;
        let key = p.primary_key.first().cloned();
        let sample_n = opts.sample_limit.min(full.rows);
        let sample = match &key {
            Some(k) if sample_n < full.rows => {
                mysql_checksum(
                    &mut conn,
                    &database,
                    &p.source,
                    &p.columns,
                    Some((k, sample_n)),
                )
                .await?
            }
            _ => full,
        };
        for &s in &opts.strategies {
            let expect = if s.sampled() { sample } else { full };
            let mut r = StrategyResult::new(
                s.name(),
                &p.source,
                full.rows,
                expect.rows,
                s.sampled() && expect.rows < full.rows,
            );
            for i in 0..opts.repeat.max(1) {
                tracing::info!("bench {} {} run {}", p.source, s.name(), i + 1);
                match run_one(s, opts, &database, p, &pool, &client, expect.rows).await {
                    Ok((wall, peak)) => r.add_run(wall, peak),
                    Err(e) => {
                        r.error = Some(crate::url::redact(&e.to_string()));
                        break;
                    }
                }
            }
            if r.error.is_none() {
                match pg_checksum(
                    &client,
                    &s.schema(&opts.schema_prefix),
                    &p.target,
                    &p.columns,
                )
                .await
                {
                    Ok(got) => r.set_check(expect, got),
                    Err(e) => r.error = Some(format!("check failed: {e}")),
                }
            }
            results.push(r);
        }
    }
    drop(conn);
    let _ = pool.disconnect().await;
    Ok(BenchReport::new(results))
}

/// One timed run; returns (wall seconds, peak RSS in KiB of a child process).
async fn run_one(
    s: Strategy,
    opts: &BenchOptions,
    database: &str,
    p: &TablePlan,
    pool: &mysql_async::Pool,
    client: &tokio_postgres::Client,
    rows: u64,
) -> Result<(f64, Option<u64>)> {
    let schema = s.schema(&opts.schema_prefix);
    match s {
        Strategy::Barge => run_barge(opts, &schema, &p.source).await,
        Strategy::Pgloader => {
            let dir = std::env::temp_dir().join(format!("barge-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let file = dir.join("load.pgl");
            std::fs::write(&file, pgloader_command(opts, database, p, &schema))?;
            restrict(&file)?;
            let mut cmd = tokio::process::Command::new("pgloader");
            cmd.arg("--no-ssl-cert-verification").arg(&file);
            let r = run_child(cmd, "pgloader").await;
            let _ = std::fs::remove_dir_all(&dir);
            let (wall, peak, _) = r?;
            // pgloader reports row errors without failing: count what arrived.
            let n: i64 = client
                .query_one(
                    &format!("SELECT count(*) FROM {}", qualified(&schema, &p.target)),
                    &[],
                )
                .await
                .ctx("counting pgloader's rows")?
                .get(0);
            if n as u64 != rows {
                return Err(Error::Bench(format!("pgloader loaded {n} of {rows} rows")));
            }
            Ok((wall, peak))
        }
        Strategy::DjangoRow | Strategy::DjangoBulk => {
            if p.primary_key.is_empty() {
                return Err(Error::Bench(format!(
                    "the django strategies need a primary key on {} (a Django model has one)",
                    p.source
                )));
            }
            create_orm_table(client, &schema, p).await?;
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
            if s.sampled() {
                cmd.args(["--limit", &rows.to_string()]);
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
            Ok((secs, peak))
        }
        Strategy::OrmRow | Strategy::OrmRowTx | Strategy::MultiInsert => {
            create_orm_table(client, &schema, p).await?;
            let started = Instant::now();
            let limit = if s.sampled() { Some(rows) } else { None };
            orm_insert(s, pool, &opts.from, database, client, &schema, p, limit).await?;
            Ok((started.elapsed().as_secs_f64(), None))
        }
    }
}

/// The ORM's tables exist before it inserts (its migrations ran): made here, not timed.
async fn create_orm_table(
    client: &tokio_postgres::Client,
    schema: &str,
    p: &TablePlan,
) -> Result<()> {
    let mut ddl = vec![
        format!("DROP SCHEMA IF EXISTS {} CASCADE", quote_ident(schema)),
        format!("CREATE SCHEMA {}", quote_ident(schema)),
    ];
    ddl.extend(schema_only_sql(schema, p));
    client
        .batch_execute(&ddl.join(";\n"))
        .await
        .ctx("creating the bench table")
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
    cmd.env("BARGE_FROM", opts.from.expose())
        .env("BARGE_TO", opts.to.expose())
        .args([
            "copy", "--drop", "--json", "--schema", schema, "--tables", table,
        ])
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

/// A value of a record batch as a query parameter, in its binary send format.
struct Cell<'a> {
    batch: &'a BatchEncoder<'a>,
    col: usize,
    row: usize,
}

impl std::fmt::Debug for Cell<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cell(col {}, row {})", self.col, self.row)
    }
}

impl ToSql for Cell<'_> {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if self.batch.is_null(self.col, self.row) {
            return Ok(IsNull::Yes);
        }
        self.batch.write_value(self.col, self.row, out)?;
        Ok(IsNull::No)
    }

    // The table was created from the same mapping that encodes the values.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn insert_sql(schema: &str, p: &TablePlan, rows: usize) -> String {
    let n = p.target_columns.len();
    let cols: Vec<String> = p
        .target_columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect();
    let tuples: Vec<String> = (0..rows)
        .map(|r| {
            let ps: Vec<String> = (1..=n).map(|i| format!("${}", r * n + i)).collect();
            format!("({})", ps.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        qualified(schema, &p.target),
        cols.join(", "),
        tuples.join(", ")
    )
}

/// The ORM-style strategies: rows from barge's reader, inserted with parameterized INSERTs.
#[allow(clippy::too_many_arguments)]
async fn orm_insert(
    s: Strategy,
    pool: &mysql_async::Pool,
    from: &DbUrl,
    database: &str,
    client: &tokio_postgres::Client,
    schema: &str,
    p: &TablePlan,
    limit: Option<u64>,
) -> Result<u64> {
    let mut conn = mysql_conn(pool, from, Side::Source).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let spec = ReadSpec {
        database: database.to_string(),
        table: p.source.clone(),
        columns: Arc::new(p.read_columns()),
        schema: p.reader_schema(),
        range: None,
        key_column: p.primary_key.first().cloned(),
        limit,
        filter: p.filter.clone(),
        batch_rows: 1000,
        batch_bytes: 8 << 20,
        zero_dates: Default::default(),
        rejects: None,
        nul_in_text: false,
    };
    let reader = tokio::spawn(async move { read_partition(&mut conn, &spec, tx).await });
    let encoder = CopyEncoder::new(
        p.target_columns.iter().map(|c| c.name.clone()).collect(),
        p.target_columns.iter().map(|c| c.ty.clone()).collect(),
    );
    let ncols = p.target_columns.len();
    let ctx = || format!("{} into {}", s.name(), p.target);
    if s != Strategy::OrmRow {
        client.batch_execute("BEGIN").await.ctx(ctx())?;
    }
    let one = client.prepare(&insert_sql(schema, p, 1)).await.ctx(ctx())?;
    // PostgreSQL takes at most 65535 parameters a statement.
    let per_stmt = (65_535 / ncols.max(1)).clamp(1, 1000);
    let mut multi: HashMap<usize, tokio_postgres::Statement> = HashMap::new();
    let mut written = 0u64;
    while let Some(batch) = rx.recv().await {
        let be = encoder.for_batch(&batch)?;
        let cells: Vec<Cell<'_>> = (0..batch.num_rows())
            .flat_map(|row| (0..ncols).map(move |col| (row, col)))
            .map(|(row, col)| Cell {
                batch: &be,
                col,
                row,
            })
            .collect();
        let params: Vec<&(dyn ToSql + Sync)> =
            cells.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
        match s {
            Strategy::MultiInsert => {
                for chunk in params.chunks(per_stmt * ncols) {
                    let k = chunk.len() / ncols;
                    let stmt = match multi.get(&k) {
                        Some(st) => st.clone(),
                        None => {
                            let st = client.prepare(&insert_sql(schema, p, k)).await.ctx(ctx())?;
                            multi.insert(k, st.clone());
                            st
                        }
                    };
                    client.execute(&stmt, chunk).await.ctx(ctx())?;
                }
            }
            _ => {
                for row in params.chunks(ncols) {
                    client.execute(&one, row).await.ctx(ctx())?;
                }
            }
        }
        written += batch.num_rows() as u64;
    }
    if s != Strategy::OrmRow {
        client.batch_execute("COMMIT").await.ctx(ctx())?;
    }
    reader.await.map_err(|source| Error::Task {
        what: "the bench's reader".into(),
        source,
    })??;
    Ok(written)
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
