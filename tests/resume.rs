//! A crash loses nothing and duplicates nothing: barge is killed at random instants (and at
//! the narrow windows a random kill rarely hits, by failpoint), its sessions are killed
//! by the servers mid-load, and several workers share one copy while one of them dies. Every
//! case ends with the target equal to the source and no `_barge` leftovers.
//!
//! The tests of this file run one at a time: they kill sessions by user and database.

mod common;

use barge::fixtures::FixtureSet;
use common::TestDb;
use mysql_async::prelude::Queryable;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A small generator, so a failing sequence of kills can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("BARGE_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        println!("crash seed {seed} (BARGE_CRASH_SEED={seed} replays it)");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

fn spawn(args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_barge"));
    c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c.spawn().expect("barge runs")
}

/// Wait for a run; (exit code, stdout, stderr).
fn finish(child: Child) -> (i32, String, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Start a run, and `kill -9` it after `ms` unless it ended first: true when killed.
async fn kill_after(args: &[&str], ms: u64) -> bool {
    let mut child = spawn(args, &[]);
    let deadline = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    killed
}

/// Partitions the ledger holds for runs into `schema`: (done, all).
async fn ledger_partitions(pg: &tokio_postgres::Client, schema: &str) -> (i64, i64) {
    let exists: bool = pg
        .query_one("SELECT to_regclass('_barge.partitions') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    if !exists {
        return (0, 0);
    }
    let r = pg
        .query_one(
            "SELECT count(*) FILTER (WHERE state = 'done'), count(*) FROM _barge.partitions \
             WHERE run LIKE '%?schema=' || $1",
            &[&schema],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

/// Every table equal to its source by `barge verify`, and nothing of barge left behind.
async fn assert_equal_and_clean(db: &TestDb, schema: &str) {
    let (code, out, err) = common::barge_exit(
        &[
            "verify",
            "--from",
            &db.source(),
            "--to",
            &db.target(),
            "--schema",
            schema,
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("counted only"), "{out}");
    let pg = db.pg().await;
    let left: Vec<String> = pg
        .query(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename LIKE '\\_barge%'",
            &[&schema],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(left.is_empty(), "leftovers: {left:?}");
    assert_eq!(ledger_partitions(&pg, schema).await, (0, 0), "ledger left");
}

async fn crash_source(tag: &str) -> TestDb {
    let db = TestDb::new(tag).await;
    db.load(&[FixtureSet::Legacy]).await;
    db.generate("characters", 160_000, 7).await;
    db.generate("posts", 60_000, 7).await;
    db
}

/// The progress events of a run: how many partitions it loaded.
fn partitions_loaded(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.contains("\"event\":\"partition_done\""))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_instants_then_reruns_load_each_row_once() {
    let _one = SERIAL.lock().await;
    let db = crash_source("crash").await;
    let mut rng = Rng::new();
    let schema = format!("{}_k", db.name);
    let source = db.source();
    let target = db.target();
    let args = [
        "copy", "--from", &source, "--to", &target, "--schema", &schema, "-j", "4",
    ];
    // How long a whole run takes here, so the kills fall inside one.
    let t = Instant::now();
    let (code, out, err) = common::barge_exit(&args, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let whole = t.elapsed().as_millis() as u64;
    let pg = db.pg().await;
    pg.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();

    // A chain of runs, each killed at a random instant and resumed by the next.
    let mut kills = 0;
    let mut rounds = 0;
    while kills < 14 && rounds < 40 {
        rounds += 1;
        if kill_after(&args, rng.below(whole + whole / 2)).await {
            kills += 1;
        } else {
            // That run completed: start the chain again from nothing.
            assert_equal_and_clean(&db, &schema).await;
            pg.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .await
                .unwrap();
        }
    }
    assert!(kills >= 14, "only {kills} of {rounds} runs were killed");
    // The last rerun loads only what is not in yet.
    let (done, all) = ledger_partitions(&pg, &schema).await;
    let mut json = args.to_vec();
    json.extend(["--progress", "json"]);
    let (code, out, err) = common::barge_exit(&json, &[]);
    assert_eq!(code, 0, "{out}{err}");
    if all > 0 {
        assert_eq!(
            partitions_loaded(&err) as i64,
            all - done,
            "the rerun loads the {} partitions not done, not the {done} done",
            all - done
        );
    }
    println!("{kills} kill -9 at random instants in {rounds} runs; the last rerun loaded {} of {all} partitions", all - done);
    assert_equal_and_clean(&db, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_inside_a_partition_commit_or_a_finish_resume_cleanly() {
    let _one = SERIAL.lock().await;
    let db = crash_source("crashpt").await;
    let source = db.source();
    let target = db.target();
    // The narrow windows: rows sent but not marked; marked but not committed; a finish
    // applied but not committed; the second time each is reached.
    for point in [
        "partition-written",
        "partition-marked",
        "finish-applied",
        "partition-written:3",
        "finish-applied:6",
    ] {
        let schema = format!("{}_{}", db.name, point.replace([':', '-'], "_"));
        let args = [
            "copy", "--from", &source, "--to", &target, "--schema", &schema, "-j", "3",
        ];
        let (code, out, err) = common::barge_exit(&args, &[("BARGE_FAILPOINT", point)]);
        assert_eq!(code, barge::failpoint::EXIT, "{point}: {out}{err}");
        let (code, out, err) = common::barge_exit(&args, &[]);
        assert_eq!(code, 0, "{point}: {out}{err}");
        assert_equal_and_clean(&db, &schema).await;
    }
}

/// Remapped keys: a crash inside the remapping finish, then a rerun, gives each child the
/// parent it had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_key_remapping_resumes_with_the_same_parents() {
    let _one = SERIAL.lock().await;
    let db = TestDb::new("crashmap").await;
    db.load(&[FixtureSet::Legacy]).await;
    let schema = format!("{}_m", db.name);
    let job = std::env::temp_dir().join(format!("{}.toml", db.name));
    std::fs::write(
        &job,
        format!(
            "[connections.old]\nurl = \"{}\"\n[connections.new]\nurl = \"{}\"\n\
             [[routes]]\ntables = [\"publishers\", \"characters\"]\nfrom = \"old\"\nto = \"new\"\nschema = \"{schema}\"\n\
             [tables.publishers]\nnew_keys = true\n[tables.characters]\norphans = {{ publisher_id = \"null\" }}\n",
            db.source(),
            db.target()
        ),
    )
    .unwrap();
    let job = job.to_str().unwrap();
    let (code, out, err) =
        common::barge_exit(&["run", job], &[("BARGE_FAILPOINT", "remap-applied")]);
    assert_eq!(code, barge::failpoint::EXIT, "{out}{err}");
    let (code, out, err) = common::barge_exit(&["run", job], &[]);
    assert!(code == 0, "{out}{err}");
    let mut my = db.mysql().await;
    let mut want: Vec<(i64, Option<String>)> = my
        .query(format!(
            "SELECT c.id, p.name FROM `{0}`.characters c LEFT JOIN `{0}`.publishers p ON p.id = c.publisher_id",
            db.name
        ))
        .await
        .unwrap();
    want.sort();
    let pg = db.pg().await;
    let mut got: Vec<(i64, Option<String>)> = pg
        .query(
            &format!("SELECT c.id::bigint, p.name FROM \"{schema}\".characters c LEFT JOIN \"{schema}\".publishers p ON p.id = c.publisher_id"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(ledger_partitions(&pg, &schema).await, (0, 0), "ledger left");
    let _ = std::fs::remove_file(job);
}

/// The servers drop barge's sessions mid-load (a failover, `pg_terminate_backend`, `KILL
/// CONNECTION`): the partitions are retried and the run still ends complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_killed_by_the_servers_are_retried() {
    let _one = SERIAL.lock().await;
    let db = crash_source("killsess").await;
    let mut rng = Rng::new();
    let source = db.source();
    let target = db.target();
    for side in ["postgres", "mysql", "postgres", "mysql"] {
        let schema = format!("{}_{side}_{}", db.name, rng.below(1000));
        let args = [
            "copy", "--from", &source, "--to", &target, "--schema", &schema, "-j", "4",
        ];
        let child = spawn(&args, &[]);
        let pg = db.pg().await;
        let mut my = db.mysql().await;
        let mut killed = 0;
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(150 + rng.below(300))).await;
            killed += match side {
                "postgres" => pg
                    .query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE application_name = 'barge' AND datname = current_database()",
                        &[],
                    )
                    .await
                    .unwrap()
                    .len(),
                _ => {
                    let ids: Vec<u64> = my
                        .exec(
                            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
                            (&db.name,),
                        )
                        .await
                        .unwrap();
                    for id in &ids {
                        let _ = my.query_drop(format!("KILL CONNECTION {id}")).await;
                    }
                    ids.len()
                }
            };
        }
        let (code, out, err) = finish(child);
        assert_eq!(code, 0, "{side}, {killed} sessions killed: {out}{err}");
        println!("{side}: {killed} sessions killed mid-load, the run completed");
        assert_equal_and_clean(&db, &schema).await;
    }
}

/// PostgreSQL into MySQL resumes too: kills at random instants and at the window between
/// a finish's DDL (which MySQL commits as it goes) and its mark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_into_mysql_resumes_after_kills() {
    let _one = SERIAL.lock().await;
    let db = TestDb::new("crashpg").await;
    let src = format!("{}_src", db.name);
    let pg = db.pg().await;
    pg.batch_execute(&format!(
        "CREATE SCHEMA \"{src}\";
         CREATE TABLE \"{src}\".big (id int PRIMARY KEY, n bigint, v text);
         INSERT INTO \"{src}\".big SELECT g, g * 7919 % 100003, md5(g::text) FROM generate_series(1, 200000) g;
         CREATE INDEX big_n ON \"{src}\".big (n);
         CREATE TABLE \"{src}\".child (id int PRIMARY KEY, big_id int REFERENCES \"{src}\".big, note text);
         INSERT INTO \"{src}\".child SELECT g, g * 3, 'c' || g FROM generate_series(1, 30000) g;"
    ))
    .await
    .unwrap();
    let from = format!("{}?schema={src}", db.pg_server);
    let to = format!("{}/{}_t", db.mysql_server.trim_end_matches('/'), db.name);
    let args = ["copy", "--from", &from, "--to", &to, "-j", "4"];
    let mut rng = Rng::new();
    let t = Instant::now();
    let (code, out, err) = common::barge_exit(&args, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let whole = t.elapsed().as_millis() as u64;
    let mut my = db.mysql().await;
    let dst = format!("{}_t", db.name);
    my.query_drop(format!("DROP DATABASE `{dst}`"))
        .await
        .unwrap();
    let mut kills = 0;
    for _ in 0..12 {
        let killed = kill_after(&args, rng.below(whole + whole / 2)).await;
        // A kill that lands after the run's last step (its ledger gone, the process not yet
        // exited) leaves a completed copy: a rerun rightly refuses to overwrite it.
        let ledger: Option<String> = my
            .exec_first(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? \
                 AND TABLE_NAME = '__barge_runs'",
                (&dst,),
            )
            .await
            .unwrap();
        if killed && ledger.is_some() {
            kills += 1;
        } else {
            my.query_drop(format!("DROP DATABASE IF EXISTS `{dst}`"))
                .await
                .unwrap();
        }
    }
    let (code, out, err) = common::barge_exit(&args, &[]);
    assert_eq!(code, 0, "{out}{err}");
    println!("PostgreSQL → MySQL: {kills} kill -9 at random instants, then a clean finish");
    same_in_mysql(&pg, &mut my, &src, &dst).await;
    for point in ["partition-marked", "finish-applied", "finish-applied:2"] {
        my.query_drop(format!("DROP DATABASE `{dst}`"))
            .await
            .unwrap();
        let (code, out, err) = common::barge_exit(&args, &[("BARGE_FAILPOINT", point)]);
        assert_eq!(code, barge::failpoint::EXIT, "{point}: {out}{err}");
        let (code, out, err) = common::barge_exit(&args, &[]);
        assert_eq!(code, 0, "{point}: {out}{err}");
        same_in_mysql(&pg, &mut my, &src, &dst).await;
    }
}

/// Three worker processes share one planned copy of a 1M-row table; one is killed
/// mid-partition, the others take its partitions over; the table arrives exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_a_copy_and_survive_one_killed() {
    let _one = SERIAL.lock().await;
    let db = TestDb::new("workers").await;
    db.load(&[FixtureSet::Legacy]).await;
    db.generate("posts", 1_000_000, 11).await;
    let source = db.source();
    let target = db.target();
    let mut walls = Vec::new();
    for workers in [1usize, 3] {
        let schema = format!("{}_w{workers}", db.name);
        let ledger = format!("{target}?schema={schema}");
        let (code, out, err) = common::barge_exit(
            &[
                "copy",
                "--from",
                &source,
                "--to",
                &target,
                "--schema",
                &schema,
                "-j",
                "12",
                "--tables",
                "posts",
                "--plan-only",
            ],
            &[],
        );
        assert_eq!(code, 0, "{out}{err}");
        let t = Instant::now();
        let children: Vec<Child> = (0..workers)
            .map(|_| {
                spawn(
                    &["work", "--ledger", &ledger, "--from", &source, "-j", "2"],
                    &[],
                )
            })
            .collect();
        let mut results = Vec::new();
        for (i, mut c) in children.into_iter().enumerate() {
            if workers == 3 && i == 0 {
                // Mid-partition: its claims go back the moment its session is gone.
                tokio::time::sleep(Duration::from_millis(1500)).await;
                let _ = c.kill();
                let _ = c.wait();
                continue;
            }
            results.push(finish(c));
        }
        walls.push(t.elapsed().as_secs_f64());
        for (code, out, err) in &results {
            assert_eq!(*code, 0, "{out}{err}");
        }
        let (code, out, err) = common::barge_exit(
            &[
                "verify", "--from", &source, "--to", &target, "--schema", &schema, "--tables",
                "posts",
            ],
            &[],
        );
        assert_eq!(code, 0, "{out}{err}");
        let pg = db.pg().await;
        assert_eq!(ledger_partitions(&pg, &schema).await, (0, 0), "ledger left");
    }
    println!(
        "1M posts: one worker {:.2}s, three workers (one killed after 1.5 s) {:.2}s",
        walls[0], walls[1]
    );
}

/// The PostgreSQL source tables and their MySQL copies hold the same rows (count and a sum of
/// row hashes both servers compute alike), and no staging or ledger table is left.
async fn same_in_mysql(
    pg: &tokio_postgres::Client,
    my: &mut mysql_async::Conn,
    src: &str,
    dst: &str,
) {
    for t in ["big", "child"] {
        let cols = if t == "big" {
            "id, n, v"
        } else {
            "id, big_id, note"
        };
        let r = pg
            .query_one(
                &format!("SELECT count(*), coalesce(sum(('x' || substr(md5(concat_ws('|', {cols})), 1, 8))::bit(32)::bigint), 0)::text FROM \"{src}\".{t}"),
                &[],
            )
            .await
            .unwrap();
        let want: (i64, String) = (r.get(0), r.get(1));
        let got: Option<(i64, String)> = my
            .query_first(format!(
                "SELECT COUNT(*), CAST(COALESCE(SUM(CONV(SUBSTR(MD5(CONCAT_WS('|', {cols})), 1, 8), 16, 10)), 0) AS CHAR) FROM `{dst}`.{t}"
            ))
            .await
            .unwrap();
        assert_eq!(got, Some(want), "{t}");
    }
    let left: Vec<String> = my
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE '%barge%'",
            (dst,),
        )
        .await
        .unwrap();
    assert!(left.is_empty(), "leftovers: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_of_a_consistent_run_read_the_snapshot_the_planner_holds() {
    let _one = SERIAL.lock().await;
    let db = TestDb::new("snapworkers").await;
    let pg = db.pg().await;
    let src = format!("{}_src", db.name);
    pg.batch_execute(&format!(
        "CREATE SCHEMA \"{src}\";
         CREATE TABLE \"{src}\".events (id bigint PRIMARY KEY, v text);
         INSERT INTO \"{src}\".events SELECT g, 'v' || g FROM generate_series(1, 300000) g;"
    ))
    .await
    .unwrap();
    let base = db.target();
    let from = format!("{base}?schema={src}");
    let into = format!("{}_dst", db.name);
    let ledger = format!("{base}?schema={into}");
    // Plan it: the planner exports a snapshot and holds it until the run ends.
    let planner = spawn(
        &[
            "copy",
            "--from",
            &from,
            "--to",
            &base,
            "--schema",
            &into,
            "-j",
            "6",
            "--consistent",
            "--plan-only",
        ],
        &[],
    );
    // Recorded (with its snapshot) once the run's tables are in the ledger.
    let mut recorded = false;
    for _ in 0..200 {
        let n = pg
            .query_one(
                "SELECT count(*) FROM _barge.runs r JOIN _barge.tables t ON t.run = r.run \
                 WHERE t.target = 'events' AND r.snapshot IS NOT NULL AND r.run LIKE $1",
                &[&format!("%{into}%")],
            )
            .await
            .map(|r| r.get::<_, i64>(0))
            .unwrap_or(0);
        if n > 0 {
            recorded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recorded, "the planner recorded a run with a snapshot");
    // The source moves on after the plan: rows deleted, added and changed.
    pg.batch_execute(&format!(
        "DELETE FROM \"{src}\".events WHERE id % 10 = 0;
         INSERT INTO \"{src}\".events SELECT g, 'late' FROM generate_series(300001, 310000) g;
         UPDATE \"{src}\".events SET v = 'changed' WHERE id < 1000;"
    ))
    .await
    .unwrap();
    let workers: Vec<Child> = (0..2)
        .map(|_| {
            spawn(
                &["work", "--ledger", &ledger, "--from", &from, "-j", "2"],
                &[],
            )
        })
        .collect();
    for w in workers {
        let (code, out, err) = finish(w);
        assert_eq!(code, 0, "{out}{err}");
    }
    // The planner lets go once the run is over.
    let (code, out, err) = finish(planner);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("holding source snapshot"), "{err}");
    let row = pg
        .query_one(
            &format!(
                "SELECT count(*), sum(id)::bigint, count(*) FILTER (WHERE v <> 'v' || id) \
                 FROM \"{into}\".events"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2)
        ),
        (300_000, 300_000 * 300_001 / 2, 0),
        "the workers read the source as it was when the run was planned"
    );
    for s in [&src, &into] {
        let _ = pg
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE"))
            .await;
    }
}

/// The cap on a table's running partitions holds in both targets' ledgers: a claim skips a
/// table with that many live claims, and takes it again once one is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_respect_the_cap_on_running_partitions_per_table() {
    use barge::ledger::{PartRecord, RunRecord, TableRecord};
    let _one = SERIAL.lock().await;
    let db = TestDb::new("claimcap").await;
    let table = |index: u32, name: &str, parts: u32| TableRecord {
        index,
        source: name.into(),
        target: name.into(),
        fingerprint: "f".into(),
        source_rows: 100 * parts as u64,
        wave: 0,
        partitions: (0..parts)
            .map(|id| PartRecord {
                id,
                range: None,
                est_rows: 100 + id as u64,
            })
            .collect(),
        error: None,
    };
    let pg_ledger = format!("{}?schema={}", db.target(), db.name);
    for url in [pg_ledger.as_str(), &db.source()] {
        let ledger = barge::engine::open_ledger(&barge::DbUrl::parse(url).unwrap())
            .await
            .unwrap();
        let run = format!("cap test {}", db.name);
        ledger
            .record(&RunRecord {
                run: run.clone(),
                fingerprint: "f".into(),
                spec: "{}".into(),
                source: "s".into(),
                now_micros: 0,
                snapshot: None,
                tables: vec![table(0, "big", 4), table(1, "small", 1)],
            })
            .await
            .unwrap();
        let mut got = Vec::new();
        for task in 0..4 {
            got.push(ledger.claim(&run, task, 0, 2).await.unwrap());
        }
        let tables: Vec<Option<u32>> = got.iter().map(|c| c.as_ref().map(|c| c.table)).collect();
        // The two biggest of `big`, then `small`, then nothing: `big` has two running.
        assert_eq!(tables, [Some(0), Some(0), Some(1), None], "{url}");
        ledger
            .release(&run, got[0].as_ref().unwrap(), None)
            .await
            .unwrap();
        let again = ledger.claim(&run, 5, 0, 2).await.unwrap();
        assert_eq!(
            again.map(|c| c.table),
            Some(0),
            "{url}: room again after a release"
        );
        // Without a cap everything left is taken.
        let more = ledger.claim(&run, 6, 0, 0).await.unwrap();
        assert_eq!(more.map(|c| c.table), Some(0), "{url}");
        ledger.remove(&run).await.unwrap();
    }
}

/// Each done mark holds a checksum of the rows its partition sent; a table's, summed over its
/// partitions, is the same however the table was split, and changes with one value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_checksums_sum_to_a_table_checksum_that_ignores_partitioning() {
    use mysql_async::prelude::Queryable;
    let _one = SERIAL.lock().await;
    let db = TestDb::new("markhash").await;
    db.load(&[FixtureSet::Legacy]).await;
    db.generate("posts", 250_000, 3).await;
    let (source, target) = (db.source(), db.target());
    let checksum = |schema: &str, jobs: &str| {
        let (code, out, err) = common::barge_exit(
            &[
                "copy",
                "--from",
                &source,
                "--to",
                &target,
                "--schema",
                schema,
                "--tables",
                "posts",
                "-j",
                jobs,
                "--keep-ledger",
            ],
            &[],
        );
        assert_eq!(code, 0, "{out}{err}");
        let ledger = format!("{target}?schema={schema}");
        let (code, out, err) = common::barge_exit(&["status", "--ledger", &ledger, "--json"], &[]);
        assert_eq!(code, 0, "{out}{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let t = &v[0]["tables"][0];
        assert_eq!(t["rows"], 250_000, "{out}");
        (
            t["partitions"].as_u64().unwrap(),
            t["checksum"].as_str().unwrap().to_string(),
        )
    };
    let (p1, one) = checksum(&format!("{}_a", db.name), "1");
    let (p4, four) = checksum(&format!("{}_b", db.name), "4");
    assert!(p1 == 1 && p4 > 1, "{p1} and {p4} partitions");
    assert_eq!(one, four, "the same rows, split otherwise");
    assert_ne!(one, "0000000000000000");
    let mut my = db.mysql().await;
    my.query_drop("UPDATE posts SET title = concat(title, '!') WHERE id = 777")
        .await
        .unwrap();
    let (_, changed) = checksum(&format!("{}_c", db.name), "4");
    assert_ne!(one, changed, "one value changed");
}

/// A run being recorded while another process removes its own finished run keeps its ledger:
/// the other process drops `_barge` only once it holds no run, and must see this one. (CI
/// once lost a run this way, in the window before its partitions were committed, and the
/// copy panicked.) The test holds that window open with a lock on the ledger's table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_being_recorded_survives_another_run_removing_the_last_ledger_entry() {
    let _serial = SERIAL.lock().await;
    let db = TestDb::new("ledgerrace").await;
    db.mysql()
        .await
        .query_drop(
            "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 1), (2, 2)",
        )
        .await
        .unwrap();
    // A database of its own: the test locks the ledger's tables, which other tests share.
    let dbname = format!("{}_ledger", db.name);
    let pg = db.pg().await;
    for sql in [
        format!("DROP DATABASE IF EXISTS \"{dbname}\" WITH (FORCE)"),
        format!("CREATE DATABASE \"{dbname}\""),
    ] {
        pg.batch_execute(&sql).await.unwrap();
    }
    let target = format!("{}/{dbname}", db.pg_server.rsplit_once('/').unwrap().0);
    let source = db.source();
    let copy = |schema: &'static str, extra: &'static [&'static str]| {
        let mut args = vec![
            "copy", "--from", &source, "--to", &target, "--schema", schema,
        ];
        args.extend_from_slice(extra);
        spawn(&args, &[])
    };
    // A ledger that exists and holds no run, as another process's finished run leaves it
    // the instant before it drops it.
    let (code, out, err) = finish(copy("first", &["--keep-ledger"]));
    assert_eq!(code, 0, "{out}{err}");
    let holder = common::connect_pg(&target).await.unwrap();
    holder
        .batch_execute("TRUNCATE _barge.runs, _barge.tables, _barge.partitions")
        .await
        .unwrap();
    holder
        .batch_execute("BEGIN; LOCK TABLE _barge.partitions IN SHARE MODE")
        .await
        .unwrap();
    // Asked outside the holder's transaction, which sees one snapshot of the statistics.
    let check = common::connect_pg(&target).await.unwrap();
    let waiting = || async {
        let n: i64 = check
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
                &[&dbname],
            )
            .await
            .unwrap()
            .get(0);
        n
    };
    let wait_for = |n: i64| async move {
        let deadline = Instant::now() + Duration::from_secs(20);
        while waiting().await < n {
            assert!(Instant::now() < deadline, "{n} session(s) never waited");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    // The run records its plan and waits on the lock, its transaction open.
    let run = copy("second", &[]);
    wait_for(1).await;
    // Another process removes its run and finds the ledger empty of committed runs.
    let url = barge::DbUrl::parse(&target).unwrap();
    let remover = tokio::spawn(async move {
        barge::engine::open_ledger(&url)
            .await
            .unwrap()
            .remove("another run")
            .await
    });
    wait_for(2).await;
    holder.batch_execute("COMMIT").await.unwrap();
    remover.await.unwrap().unwrap();
    let (code, out, err) = finish(run);
    assert_eq!(code, 0, "{out}{err}");
    let rows: i64 = check
        .query_one("SELECT count(*) FROM second.t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 2);
    let left: bool = check
        .query_one("SELECT to_regnamespace('_barge') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!left, "the last run removed the ledger");
    drop((holder, check));
    pg.batch_execute(&format!("DROP DATABASE \"{dbname}\" WITH (FORCE)"))
        .await
        .unwrap();
}

/// Two processes ending their runs at once each remove their run, and the last one out drops
/// the ledger: the other, which waited for the ledger's lock, must find it gone and succeed
/// (it used to fail the run, whose rows were all in, on `relation "_barge.runs" does not
/// exist`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_removed_at_once_by_two_processes_both_succeed() {
    let _serial = SERIAL.lock().await;
    let db = TestDb::new("ledger_race").await;
    for url in [common::pg_server_url(), db.source()] {
        let url = barge::url::DbUrl::parse(&url).unwrap();
        for round in 0..20 {
            let (a, b) = (
                barge::engine::open_ledger(&url).await.unwrap(),
                barge::engine::open_ledger(&url).await.unwrap(),
            );
            let record = |run: String| barge::ledger::RunRecord {
                run,
                fingerprint: "f".into(),
                spec: "s".into(),
                source: "src".into(),
                now_micros: 0,
                snapshot: None,
                tables: vec![],
            };
            let (ra, rb) = (
                format!("{}_a_{round}", db.name),
                format!("{}_b_{round}", db.name),
            );
            a.record(&record(ra.clone())).await.unwrap();
            b.record(&record(rb.clone())).await.unwrap();
            let (x, y) = tokio::join!(a.remove(&ra), b.remove(&rb));
            x.unwrap_or_else(|e| panic!("{url:?} round {round}: {e}"));
            y.unwrap_or_else(|e| panic!("{url:?} round {round}: {e}"));
        }
    }
}
