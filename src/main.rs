//! The `barge` command line: parse, call the library, print.

use anyhow::{bail, Context, Result};
use barge::error::exit;
use barge::fixtures::{self, FixtureSet};
use barge::{CopyOptions, DbUrl, Mode, Selection};
use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;

mod bars;

/// The exit statuses (`barge::error::exit`), shown by --help.
const EXIT_HELP: &str = "Exit status:\n  \
    0  every table loaded and verified\n  \
    1  some table failed (the report names each one)\n  \
    2  a usage or configuration mistake, found before any data moved\n  \
    3  every table loaded, with rows left out on purpose (written to a reject file)\n  \
    4  a server could not be reached or refused the login";

#[derive(Parser)]
#[command(
    name = "barge",
    version,
    about = "Bulk data transfer between MySQL/MariaDB and PostgreSQL through Arrow record batches",
    long_about = "Bulk data transfer between MySQL/MariaDB and PostgreSQL through Arrow record batches.\n\n\
        Connection URLs look like mysql://user:password@host:3306/database and \
        postgres://user:password@host:5432/database. What a URL leaves out is taken where each \
        ecosystem keeps it: MYSQL_PWD and ~/.my.cnf [client] (--defaults-file); PGPASSWORD, \
        ~/.pgpass (PGPASSFILE), a service (?service=NAME or PGSERVICE, in pg_service.conf), \
        PGHOST, PGPORT, PGUSER, PGDATABASE. Passwords are never printed.",
    after_help = EXIT_HELP
)]
struct Cli {
    /// More log output (-v: info, -vv: debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Progress while copying: bars on a terminal (auto: only when stderr is one), json (one
    /// event per line on stderr, for ETL jobs), or none.
    #[arg(long, global = true, value_name = "auto|bars|json|none", default_value = "auto",
          value_parser = ["auto", "bars", "json", "none"])]
    progress: String,
    /// MySQL option file whose [client] group gives the user and password a mysql:// URL
    /// leaves out (default ~/.my.cnf).
    #[arg(long, global = true, value_name = "FILE")]
    defaults_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Copy tables between MySQL/MariaDB and PostgreSQL, either way or within one engine:
    /// schema, data (binary COPY or LOAD DATA, in parallel), keys, indexes; verified by row
    /// counts.
    #[command(after_help = EXIT_HELP)]
    Copy(CopyArgs),
    /// Load barge's fixture data sets into a MySQL/MariaDB database (for demos, tests, benches).
    Fixtures(FixturesArgs),
    /// Show a MySQL/MariaDB database or a PostgreSQL schema as barge sees it, like Django's
    /// inspectdb: tables in load order, mapped types, declared and inferred relationships.
    /// --emit-job writes a job file.
    Inspect(InspectArgs),
    /// Run a job file: move tables between named connections along its routes, renaming,
    /// dropping, adding and filtering as it says.
    #[command(after_help = EXIT_HELP)]
    Run(JobArgs),
    /// Print what a job file would do (tables, columns, types, keys), touching no target.
    Plan(JobArgs),
    /// Join a run planned with `barge copy … --plan-only` (or one that another process is
    /// loading): claim its partitions from the target's ledger and load them. Start as many
    /// as you like, on any machines.
    #[command(after_help = EXIT_HELP)]
    Work(WorkArgs),
    /// Show the runs in a target's ledger: per table, partitions done, running (where),
    /// pending and failed, rows, and the rate and time to go. Reads the ledger only.
    Status(StatusArgs),
    /// Compare source and target tables: row counts, and content checksums (MySQL/MariaDB
    /// into PostgreSQL). Reads both sides only; works after any copy, barge's or not.
    /// Exit 0 when every table is equal, 1 otherwise.
    Verify(VerifyArgs),
    /// Move the same tables several ways (row-by-row ORM inserts, batched INSERTs, barge,
    /// pgloader), check each result against the source, and report them side by side.
    Bench(BenchArgs),
}

#[derive(Args)]
struct InspectArgs {
    /// mysql://user:password@host:port/database, or
    /// postgres://user:password@host:port/database?schema=NAME (default schema public)
    url: String,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
    /// Write a starting job file here (needs --to).
    #[arg(long, requires = "to")]
    emit_job: Option<std::path::PathBuf>,
    /// The target: its engine decides the types shown, and the emitted job copies into it
    /// (postgres://user@host:port/database, mysql://user@host:port/database). Default:
    /// types as PostgreSQL declares them.
    #[arg(long)]
    to: Option<String>,
    /// The target schema for the emitted job.
    #[arg(long, default_value = "public")]
    schema: String,
}

#[derive(Args)]
struct JobArgs {
    /// The job file (TOML).
    job: std::path::PathBuf,
    /// Print reports as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    ledger: LedgerArgs,
}

/// The run's ledger in the target: what makes a crash resumable and a copy shareable.
#[derive(Args, Clone, Default)]
struct LedgerArgs {
    /// Discard what an interrupted run of this copy left in the target (its ledger and the
    /// partitions it loaded) and start over.
    #[arg(long)]
    restart: bool,
    /// Keep the ledger after a successful run (`barge status` still shows it).
    #[arg(long)]
    keep_ledger: bool,
    /// Keep no ledger in the target: nothing to resume after a crash, and no `_barge`
    /// schema (PostgreSQL) or `__barge_*` tables (MySQL) at any time.
    #[arg(long, conflicts_with_all = ["restart", "keep_ledger", "plan_only"])]
    no_ledger: bool,
    /// Record the plan (partitions, staging tables) in the target's ledger and stop:
    /// `barge work --ledger TARGET_URL` processes, on any machines, load it.
    #[arg(long)]
    plan_only: bool,
    /// The run's name in the ledger (default: the source and target, without users).
    #[arg(long, value_name = "NAME")]
    run: Option<String>,
    /// Set by `barge work`: join the recorded run, never plan another.
    #[arg(skip)]
    join: bool,
    /// Set by `barge work`: the command recorded with the run.
    #[arg(skip)]
    spec: Option<String>,
}

#[derive(Args)]
struct WorkArgs {
    /// The target holding the run's ledger: postgres://user:password@host:port/database or
    /// mysql://user:password@host:port/database
    #[arg(long, env = "BARGE_LEDGER")]
    ledger: String,
    /// The source, when the recorded one (kept without its password) is not enough: the
    /// password then comes from PGPASSWORD, ~/.pgpass, MYSQL_PWD or ~/.my.cnf as usual.
    #[arg(long, env = "BARGE_FROM")]
    from: Option<String>,
    /// Which run, when the ledger holds several.
    #[arg(long, value_name = "NAME")]
    run: Option<String>,
    /// Connections on each side for this worker (default: the planning command's).
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct VerifyArgs {
    /// The source: mysql://… or postgres://…?schema=NAME
    #[arg(long, env = "BARGE_FROM")]
    from: String,
    /// The target: postgres://…[?schema=NAME] or mysql://…/database
    #[arg(long, env = "BARGE_TO")]
    to: String,
    /// The target schema of a PostgreSQL target (default: the URL's ?schema=NAME, or public).
    #[arg(long)]
    schema: Option<String>,
    /// Only these tables (comma-separated).
    #[arg(long, value_delimiter = ',')]
    tables: Vec<String>,
    /// Leave these tables out (comma-separated).
    #[arg(long, value_delimiter = ',')]
    exclude: Vec<String>,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct StatusArgs {
    /// The target holding the ledger.
    #[arg(long, env = "BARGE_LEDGER")]
    ledger: String,
    /// Only this run.
    #[arg(long, value_name = "NAME")]
    run: Option<String>,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct BenchArgs {
    /// Source: mysql://… or postgres://… (a PostgreSQL source may name ?schema=NAME)
    #[arg(long, env = "BARGE_FROM")]
    from: String,
    /// Target: postgres://… (schemas barge_bench_<strategy> are replaced) or mysql://… (databases
    /// barge_bench_<strategy> are replaced)
    #[arg(long, env = "BARGE_TO")]
    to: String,
    /// Tables to move (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "characters")]
    tables: Vec<String>,
    /// Strategies (comma-separated): orm-row, orm-row-tx, multi-insert, barge, pgloader,
    /// django-row, django-bulk. Default: all that move the source's engine into the
    /// target's (pgloader and django: MySQL into PostgreSQL only).
    #[arg(long, value_delimiter = ',')]
    strategies: Vec<String>,
    /// Runs of each strategy; the report gives the median and min–max.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Rows the row-by-row strategies insert before their time is extrapolated.
    #[arg(long, default_value_t = 20_000)]
    sample_limit: u64,
    /// barge's --jobs.
    #[arg(long, short = 'j', default_value_t = 4)]
    jobs: usize,
    /// Recreate the source database with barge's generated data first (legacy schema plus
    /// --rows rows in each of --tables, which must be characters and/or posts).
    #[arg(long)]
    generate: bool,
    /// Rows to generate per table (with --generate).
    #[arg(long, default_value_t = 250_000)]
    rows: u64,
    /// Generator seed.
    #[arg(long, default_value_t = fixtures::DEFAULT_SEED)]
    seed: u64,
    /// Scaling mode: run only barge at these sizes (comma-separated row counts, generated into
    /// the first of --tables) and at each of --scale-jobs.
    #[arg(long, value_delimiter = ',')]
    scale: Vec<u64>,
    /// --jobs values for the scaling mode.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    scale_jobs: Vec<usize>,
    /// Write report.txt, report.json, report.csv and chart.svg here.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CopyArgs {
    /// Source: mysql://user:password@host:port/database, or
    /// postgres://user:password@host:port/database?schema=NAME (default schema public)
    #[arg(long, env = "BARGE_FROM")]
    from: String,
    /// Target: postgres://user:password@host:port/database (the schema is --schema), or
    /// mysql://user:password@host:port/database (created if missing)
    #[arg(long, env = "BARGE_TO")]
    to: String,
    /// Only these tables (comma-separated).
    #[arg(long, value_delimiter = ',')]
    tables: Vec<String>,
    /// Leave these tables out (comma-separated).
    #[arg(long, value_delimiter = ',')]
    exclude: Vec<String>,
    /// Target schema of a PostgreSQL target; created if it does not exist (default: the
    /// URL's ?schema=NAME, or public). A MySQL target's database is the one in its URL.
    #[arg(long)]
    schema: Option<String>,
    /// Connections on each side (and partitions loaded at once).
    #[arg(long, short = 'j', default_value_t = 4)]
    jobs: usize,
    /// Rows per Arrow record batch.
    #[arg(long, default_value_t = 4096)]
    batch_rows: usize,
    /// At most N partitions of one table loading at once, across all workers of the run
    /// (`barge work` processes included); 0: no cap.
    #[arg(long, default_value_t = 0, value_name = "N")]
    max_per_table: u32,
    /// Replace target tables that already exist (each is swapped in only once fully loaded).
    #[arg(long, conflicts_with = "data_only")]
    drop: bool,
    /// Load into existing tables; create nothing.
    #[arg(long, conflicts_with = "schema_only")]
    data_only: bool,
    /// Create tables, keys and indexes; move no data.
    #[arg(long)]
    schema_only: bool,
    /// Read everything from one consistent snapshot of the source (for a live database):
    /// writers are held off for a moment while the readers start their transactions.
    #[arg(long)]
    consistent: bool,
    /// Another type for a column, as table.column=TYPE (repeatable, or
    /// comma-separated): `--cast flags.level=smallint` for a TINYINT(1) that is no boolean.
    #[arg(long, value_name = "TABLE.COLUMN=TYPE")]
    cast: Vec<String>,
    /// Dates PostgreSQL cannot hold (0000-00-00, partial dates like 1978-00-00, 2024-02-30):
    /// null writes NULL and counts each kind in the report; error fails the table instead.
    #[arg(long, value_name = "null|error", default_value = "null", value_parser = ["null", "error"])]
    zero_dates: String,
    /// Do not recreate MySQL's ON UPDATE CURRENT_TIMESTAMP as a BEFORE UPDATE trigger.
    #[arg(long)]
    no_on_update_triggers: bool,
    /// Stop at the first table that fails; by default every table is attempted.
    #[arg(long)]
    fail_fast: bool,
    /// A row the reader cannot convert: stop (fail its table) or skip-row (write it to
    /// <reject-dir>/<table>.jsonl with its key, column, reason and value; load the rest).
    #[arg(long, value_name = "stop|skip-row", default_value = "stop", value_parser = ["stop", "skip-row"])]
    on_error: String,
    /// Under skip-row, fail a table that has more rejected rows than this.
    #[arg(long, value_name = "N")]
    max_rejects: Option<u64>,
    /// Where reject files go (default barge-rejects).
    #[arg(long, value_name = "DIR")]
    reject_dir: Option<std::path::PathBuf>,
    /// Copy a subset to develop on: a share (1%) or a number of rows (10000) per table, plus
    /// every parent row the picked rows refer to (declared and inferred relationships), so
    /// no orphan is created.
    #[arg(long, value_name = "N|P%")]
    sample: Option<String>,
    /// Sample only these tables (comma-separated); the others get just the rows they need.
    #[arg(long, value_delimiter = ',', requires = "sample")]
    sample_root: Vec<String>,
    /// The sample's seed: the same seed picks the same rows.
    #[arg(long, default_value_t = 1, requires = "sample")]
    seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    ledger: LedgerArgs,
}

#[derive(Args)]
struct FixturesArgs {
    /// Server to load into: mysql://user:password@host:port/ (the database comes from --database)
    #[arg(long, env = "BARGE_MYSQL_URL")]
    to: String,
    /// Database to fill; it is dropped and created anew.
    #[arg(long, default_value = "barge_demo")]
    database: String,
    /// Which data: legacy (the Rails-style app), type_zoo (every MySQL type's edge values).
    #[arg(long, value_delimiter = ',', default_value = "legacy")]
    sets: Vec<String>,
    /// Fill `characters` with this many generated rows (needs the legacy set).
    #[arg(long)]
    characters: Option<u64>,
    /// Fill `posts` with this many generated rows (needs the legacy set).
    #[arg(long)]
    posts: Option<u64>,
    /// Seed of the generator: the same seed always gives the same rows.
    #[arg(long, default_value_t = fixtures::DEFAULT_SEED)]
    seed: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(f) = &cli.defaults_file {
        // Read where URLs are parsed (`credentials::fill_mysql`); set before any thread starts.
        std::env::set_var("BARGE_MYSQL_DEFAULTS_FILE", f);
    }
    let level = match cli.verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        2 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let observer = observer(&cli.progress);
    match rt.block_on(run(cli.command, observer)) {
        Ok(code) => code,
        Err(e) => {
            // Messages are redacted where they are made; redact again in case a driver
            // echoed a URL somewhere we did not expect.
            eprintln!("error: {}", barge::url::redact(&format!("{e:#}")));
            ExitCode::from(error_exit_code(&e))
        }
    }
}

/// The library's errors say what kind they are; the CLI's own (`bail!`) are usage mistakes,
/// and a failed file write is a failed run.
fn error_exit_code(e: &anyhow::Error) -> u8 {
    if let Some(b) = e.downcast_ref::<barge::Error>() {
        return b.exit_code();
    }
    if e.chain().any(|c| c.is::<std::io::Error>()) {
        return exit::FAILED;
    }
    exit::USAGE
}

/// The observer `--progress` asks for.
fn observer(progress: &str) -> Option<barge::progress::ObserverHandle> {
    use std::io::IsTerminal;
    match progress {
        "json" => Some(barge::progress::ObserverHandle::new(
            barge::progress::JsonLines::new(std::io::stderr()),
        )),
        "bars" => Some(barge::progress::ObserverHandle::new(bars::Bars::new())),
        "auto" if std::io::stderr().is_terminal() => {
            Some(barge::progress::ObserverHandle::new(bars::Bars::new()))
        }
        _ => None,
    }
}

async fn run(cmd: Command, observer: Option<barge::progress::ObserverHandle>) -> Result<ExitCode> {
    match cmd {
        Command::Copy(a) => copy(a, observer).await,
        Command::Fixtures(a) => load_fixtures(a).await,
        Command::Bench(a) => bench(a).await,
        Command::Run(a) => run_job(a, false, observer).await,
        Command::Inspect(a) => inspect(a).await,
        Command::Plan(a) => run_job(a, true, observer).await,
        Command::Work(a) => work(a, observer).await,
        Command::Status(a) => status(a).await,
        Command::Verify(a) => verify(a).await,
    }
}

async fn verify(a: VerifyArgs) -> Result<ExitCode> {
    let from = DbUrl::parse(&a.from).context("--from")?;
    let to = DbUrl::parse(&a.to).context("--to")?;
    let selection = Selection {
        tables: a.tables,
        exclude: a.exclude,
        ..Default::default()
    };
    let schema = target_schema(&to, a.schema)?;
    let report = barge::verify::verify(&from, &to, &schema, &selection).await?;
    let code = if report.ok() { exit::OK } else { exit::FAILED };
    Ok(print_report(
        a.json,
        serde_json::to_string_pretty(&report)?,
        report.to_text(),
        code,
    ))
}

/// The command a run was planned with, as `barge work` replays it: the arguments without
/// the source and target (kept apart, without passwords) and without the planning flags.
#[derive(serde::Serialize, serde::Deserialize)]
struct Spec {
    args: Vec<String>,
    from: Option<String>,
}

fn spec(from: Option<&DbUrl>) -> String {
    let mut args = Vec::new();
    let mut skip = false;
    for a in std::env::args().skip(1) {
        if std::mem::take(&mut skip) {
            continue;
        }
        let name = a.split('=').next().unwrap_or_default();
        match name {
            "--from" | "--to" if !a.contains('=') => skip = true,
            "--from" | "--to" | "--plan-only" | "--restart" => {}
            _ => args.push(a),
        }
    }
    serde_json::to_string(&Spec {
        args,
        from: from.map(DbUrl::without_password),
    })
    .unwrap_or_default()
}

fn ledger_options(a: &LedgerArgs, spec: String) -> barge::run::LedgerOptions {
    barge::run::LedgerOptions {
        enabled: !a.no_ledger,
        restart: a.restart,
        keep: a.keep_ledger,
        plan_only: a.plan_only,
        run: a.run.clone(),
        spec: a.spec.clone().unwrap_or(spec),
        join: a.join,
    }
}

async fn work(a: WorkArgs, observer: Option<barge::progress::ObserverHandle>) -> Result<ExitCode> {
    let url = DbUrl::parse(&a.ledger).context("--ledger")?;
    let ledger = barge::engine::open_ledger(&url).await?;
    let run = match a.run {
        Some(r) => r,
        None => {
            let runs = barge::status::runs_into(&*ledger, &url).await?;
            match runs.as_slice() {
                [one] => one.clone(),
                [] => bail!(
                    "the ledger in {url} holds no run: plan one with `barge copy … --plan-only`"
                ),
                _ => bail!(
                    "the ledger in {url} holds {} runs; name one with --run:\n  {}",
                    runs.len(),
                    runs.join("\n  ")
                ),
            }
        }
    };
    let Some(record) = ledger.load(&run).await? else {
        bail!("the ledger in {url} holds no run {run}");
    };
    let Ok(spec) = serde_json::from_str::<Spec>(&record.spec) else {
        bail!("run {run} was planned by a program through barge's library, not by the barge command: join it from that program");
    };
    let mut argv = vec!["barge".to_string()];
    argv.extend(spec.args.iter().cloned());
    if spec.args.iter().any(|a| a == "copy") {
        let Some(from) = a.from.clone().or(spec.from.clone()) else {
            bail!("run {run} recorded no source: give it with --from");
        };
        // The target with its password; the schema is the recorded command's --schema.
        argv.extend([
            "--from".into(),
            from,
            "--to".into(),
            url.expose().to_string(),
        ]);
    }
    let command = Cli::try_parse_from(&argv)
        .with_context(|| format!("replaying the command recorded with run {run}"))?
        .command;
    let join = |l: &mut LedgerArgs| {
        l.join = true;
        l.restart = false;
        l.plan_only = false;
        l.spec = Some(record.spec.clone());
    };
    match command {
        Command::Copy(mut c) => {
            if let Some(j) = a.jobs {
                c.jobs = j;
            }
            c.json = a.json;
            join(&mut c.ledger);
            c.ledger.run = Some(run.clone());
            copy(c, observer).await
        }
        Command::Run(mut j) => {
            j.json = a.json;
            join(&mut j.ledger);
            run_job(j, false, observer).await
        }
        _ => bail!("run {run} was not planned by `barge copy` or `barge run`"),
    }
}

async fn status(a: StatusArgs) -> Result<ExitCode> {
    let url = DbUrl::parse(&a.ledger).context("--ledger")?;
    let runs = barge::status::status(&url, a.run.as_deref()).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
    } else if runs.is_empty() {
        println!("no run is recorded in {url} (a run's ledger goes once it is complete)");
    } else {
        for r in &runs {
            println!("{}", r.to_text());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--cast a.x=numeric(5,2),b.y=text`: the commas between casts, not those of a type.
fn split_outside_parentheses(items: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for item in items {
        let (mut depth, mut start) = (0i32, 0);
        for (i, ch) in item.char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(item[start..i].trim().to_string());
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(item[start..].trim().to_string());
    }
    out.retain(|c| !c.is_empty());
    out
}

/// The target schema: `--schema`, else the PostgreSQL target URL's `?schema=NAME`, else
/// public. Both, naming different schemas, is an error.
fn target_schema(to: &DbUrl, flag: Option<String>) -> Result<String> {
    to.target_schema(flag.as_deref()).map_err(|b| {
        anyhow::anyhow!(
            "--schema {} and the target URL's ?schema={b} name different schemas: name one",
            flag.as_deref().unwrap_or_default()
        )
    })
}

async fn copy(a: CopyArgs, observer: Option<barge::progress::ObserverHandle>) -> Result<ExitCode> {
    let from = DbUrl::parse(&a.from).context("--from")?;
    let to = DbUrl::parse(&a.to).context("--to")?;
    if a.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let mut specs = std::collections::BTreeMap::<String, barge::plan::TableSpec>::new();
    for c in &split_outside_parentheses(&a.cast) {
        let (column, ty) = c
            .split_once('=')
            .with_context(|| format!("--cast {c}: expected TABLE.COLUMN=TYPE"))?;
        let (table, column) = column
            .split_once('.')
            .with_context(|| format!("--cast {c}: expected TABLE.COLUMN=TYPE"))?;
        let pg = barge::types::Logical::parse(ty).with_context(|| {
            format!("--cast {c}: {} (types barge writes: smallint, integer, bigint, bigint unsigned, numeric(p,s), varchar(n), text, timestamptz, …)", barge::types::Logical::unknown(ty))
        })?;
        specs
            .entry(table.to_string())
            .or_default()
            .cast
            .push((column.to_string(), pg));
    }
    let sample = match &a.sample {
        None => None,
        Some(s) => Some(barge::sample::Sample {
            size: barge::sample::SampleSize::parse(s).with_context(|| {
                format!("--sample {s}: expected a number of rows (10000) or a share (1%, 0.5%)")
            })?,
            roots: a.sample_root.clone(),
            seed: a.seed,
        }),
    };
    let opts = CopyOptions {
        sample,
        observer,
        selection: Selection {
            tables: a.tables,
            exclude: a.exclude,
            specs,
            ..Default::default()
        },
        zero_dates: barge::temporal::ZeroDates::parse(&a.zero_dates).unwrap_or_default(),
        on_update_triggers: !a.no_on_update_triggers,
        fail_fast: a.fail_fast,
        on_error: barge::rejects::OnError::parse(&a.on_error).unwrap_or_default(),
        max_rejects: a.max_rejects,
        reject_dir: a
            .reject_dir
            .unwrap_or_else(|| CopyOptions::default().reject_dir),
        schema: target_schema(&to, a.schema)?,
        jobs: a.jobs,
        batch_rows: a.batch_rows,
        max_per_table: a.max_per_table,
        mode: if a.data_only {
            Mode::DataOnly
        } else if a.schema_only {
            Mode::SchemaOnly
        } else {
            Mode::Create
        },
        drop: a.drop,
        consistent: a.consistent,
        ledger: ledger_options(&a.ledger, spec(Some(&from))),
        ..CopyOptions::default()
    };
    let report = barge::copy(&from, &to, &opts).await.with_context(|| {
        format!("copy {from} → {to} failed; nothing was written to the target tables")
    })?;
    Ok(print_report(
        a.json,
        report.to_json(),
        report.to_text(),
        report.exit_code(),
    ))
}

async fn load_fixtures(a: FixturesArgs) -> Result<ExitCode> {
    let url = DbUrl::parse(&a.to).context("--to")?;
    let sets = a
        .sets
        .iter()
        .map(|s| FixtureSet::parse(s))
        .collect::<barge::Result<Vec<_>>>()?;
    let started = std::time::Instant::now();
    let summary = fixtures::load(&url, &a.database, &sets).await?;
    eprintln!(
        "loaded {} into {} in {:.2}s",
        summary,
        a.database,
        started.elapsed().as_secs_f64()
    );
    for (table, rows) in [("characters", a.characters), ("posts", a.posts)] {
        if let Some(rows) = rows {
            let t = std::time::Instant::now();
            fixtures::generate(&url, &a.database, table, rows, a.seed).await?;
            eprintln!(
                "generated {rows} rows into {}.{table} (seed {}) in {:.2}s",
                a.database,
                a.seed,
                t.elapsed().as_secs_f64()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn bench(a: BenchArgs) -> Result<ExitCode> {
    use barge::bench::{self, BenchOptions, BenchReport, Strategy};
    let from = DbUrl::parse(&a.from).context("--from")?;
    let to = DbUrl::parse(&a.to).context("--to")?;
    let Some(database) = from.database() else {
        bail!("--from must name a database (mysql://user:password@host:port/DATABASE)");
    };
    if (a.generate || !a.scale.is_empty()) && from.engine() != barge::url::Engine::Mysql {
        bail!(
            "--generate and --scale write barge's generated tables into a MySQL source; this \
             one is PostgreSQL (load them there first, e.g. with barge copy from a generated MySQL database)"
        );
    }
    let mut strategies = if a.strategies.is_empty() {
        Strategy::all_for(from.engine(), to.engine())
    } else {
        a.strategies
            .iter()
            .map(|s| Strategy::parse(s))
            .collect::<barge::Result<Vec<_>>>()?
    };
    if strategies.contains(&Strategy::Pgloader) && !on_path("pgloader") {
        eprintln!(
            "note: pgloader is not installed (apt-get install pgloader); its strategy is left out"
        );
        strategies.retain(|s| *s != Strategy::Pgloader);
    }
    if !on_path("python3") {
        eprintln!("note: python3 is not installed; the django strategies are left out");
        strategies.retain(|s| !matches!(s, Strategy::DjangoRow | Strategy::DjangoBulk));
    }
    let opts = BenchOptions {
        from: from.clone(),
        to,
        tables: a.tables.clone(),
        strategies,
        repeat: a.repeat.max(1),
        sample_limit: a.sample_limit.max(1),
        jobs: a.jobs.max(1),
        barge_exe: std::env::current_exe().context("locating the barge executable")?,
        schema_prefix: "barge_bench".into(),
    };
    let server = from.with_database("");
    if a.generate || !a.scale.is_empty() {
        fixtures::load(&server, &database, &[FixtureSet::Legacy]).await?;
    }
    if a.generate {
        for t in &a.tables {
            let started = std::time::Instant::now();
            fixtures::generate(&server, &database, t, a.rows, a.seed).await?;
            eprintln!(
                "generated {} rows into {database}.{t} in {:.2}s",
                a.rows,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let report = if a.scale.is_empty() {
        bench::run(&opts).await?
    } else {
        let mut r = BenchReport::new(vec![]);
        r.scaling = bench::scale(&opts, &a.tables[0], &a.scale, &a.scale_jobs, a.seed).await?;
        r
    };
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join("report.txt"), report.to_text())?;
        std::fs::write(dir.join("report.json"), report.to_json())?;
        std::fs::write(dir.join("report.csv"), report.to_csv())?;
        if !report.results.is_empty() {
            std::fs::write(dir.join("chart.svg"), report.to_svg())?;
        }
        eprintln!(
            "wrote report.txt, report.json, report.csv and chart.svg to {}",
            dir.display()
        );
    }
    Ok(print_report(
        a.json,
        report.to_json(),
        report.to_text(),
        if report.ok() { exit::OK } else { exit::FAILED },
    ))
}

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false)
}

async fn run_job(
    a: JobArgs,
    plan_only: bool,
    observer: Option<barge::progress::ObserverHandle>,
) -> Result<ExitCode> {
    let job = barge::job::Job::load(&a.job)?;
    // The worst route decides: a failure, then rejects, then success.
    let mut code = exit::OK;
    let mut json = Vec::new();
    let mut plan_json = Vec::new();
    for (i, r) in job.routes.iter().enumerate() {
        let head = format!(
            "route {}: {} ({}) → {} ({}), {}",
            i + 1,
            r.from_name,
            r.from,
            r.to_name,
            r.to,
            r.to.destination(&r.options.schema)
        );
        if plan_only {
            let (catalog, plans, refused) = barge::run::plan_each_table(&r.from, &r.to, &r.options)
                .await
                .with_context(|| format!("planning route {}", i + 1))?;
            if a.json {
                let mut route = barge::explain::to_json(
                    r.to.engine(),
                    &catalog,
                    &plans,
                    &refused,
                    &r.options.schema,
                    catalog.target_version.as_deref(),
                );
                route["route"] = (i + 1).into();
                route["from"] = r.from.to_string().into();
                route["to"] = r.to.to_string().into();
                route["destination"] = r.to.destination(&r.options.schema).into();
                plan_json.push(route);
            } else {
                println!(
                    "{head}\n{}",
                    barge::explain::render(
                        r.to.engine(),
                        &catalog,
                        &plans,
                        &refused,
                        &r.options.schema,
                        catalog.target_version.as_deref()
                    )
                );
            }
            if !refused.is_empty() {
                code = exit::FAILED;
            }
            continue;
        }
        let mut ledger = ledger_options(&a.ledger, spec(None));
        if job.routes.len() > 1 {
            // One run per route.
            ledger.run = ledger.run.map(|n| format!("{n}#{}", i + 1));
        }
        let options = barge::CopyOptions {
            observer: observer.clone(),
            ledger,
            ..r.options.clone()
        };
        let report = barge::copy(&r.from, &r.to, &options)
            .await
            .with_context(|| {
                format!(
                    "route {} failed; nothing was written to its target tables",
                    i + 1
                )
            })?;
        code = match (code, report.exit_code()) {
            (exit::FAILED, _) | (_, exit::FAILED) => exit::FAILED,
            (exit::REJECTS, _) | (_, exit::REJECTS) => exit::REJECTS,
            _ => exit::OK,
        };
        if a.json {
            json.push(report);
        } else {
            println!("{head}\n{}", report.to_text());
        }
    }
    if a.json && !plan_only {
        println!("{}", serde_json::to_string_pretty(&json)?);
    }
    if a.json && plan_only {
        println!("{}", serde_json::to_string_pretty(&plan_json)?);
    }
    Ok(ExitCode::from(code))
}

async fn inspect(a: InspectArgs) -> Result<ExitCode> {
    let url = DbUrl::parse(&a.url).context("URL")?;
    if url.engine() == barge::url::Engine::Mysql && url.database().is_none() {
        bail!("the URL must name a database (mysql://user:password@host:port/DATABASE)");
    }
    let to =
        a.to.as_deref()
            .map(|t| DbUrl::parse(t).context("--to"))
            .transpose()?;
    let target = to
        .as_ref()
        .map(|t| t.engine())
        .unwrap_or(barge::url::Engine::Postgres);
    let mut catalog = barge::run::catalog(&url).await?;
    if let Some(to) = &to {
        catalog.target_version = barge::engine::probe_target(to).await.version;
    }
    let inspection = barge::inspect::inspect(catalog, target, &a.schema);
    if let Some(path) = &a.emit_job {
        let to = to.context("--emit-job needs --to")?;
        std::fs::write(path, inspection.to_job(&url, &to, &a.schema))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&inspection)?);
    } else {
        print!("{}", inspection.to_text());
    }
    Ok(ExitCode::SUCCESS)
}

/// Print a report as JSON or text, and return the exit status it stands for.
fn print_report(json: bool, as_json: String, as_text: String, code: u8) -> ExitCode {
    if json {
        println!("{as_json}");
    } else {
        print!("{as_text}");
    }
    ExitCode::from(code)
}
