//! `barge bench` on a small table against the real servers.

mod common;

use barge::bench::{self, BenchOptions, Strategy};
use barge::fixtures::FixtureSet;
use barge::DbUrl;
use common::TestDb;
use mysql_async::prelude::Queryable;

fn options(db: &TestDb, strategies: &[Strategy], sample_limit: u64) -> BenchOptions {
    BenchOptions {
        from: DbUrl::parse(&db.source()).unwrap(),
        to: DbUrl::parse(&db.target()).unwrap(),
        tables: vec!["characters".into()],
        strategies: strategies.to_vec(),
        repeat: 2,
        sample_limit,
        jobs: 2,
        barge_exe: env!("CARGO_BIN_EXE_barge").into(),
        schema_prefix: db.name.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_strategy_produces_the_same_content_and_the_report_says_so() {
    let db = TestDb::new("bench").await;
    db.load(&[FixtureSet::Legacy]).await;
    db.generate("characters", 3_000, 5).await;

    // Everything but pgloader, which the test machine need not have.
    let all: Vec<Strategy> = Strategy::ALL
        .into_iter()
        .filter(|s| *s != Strategy::Pgloader)
        .collect();
    let report = bench::run(&options(&db, &all, 1_000_000)).await.unwrap();
    assert!(report.ok(), "{}", report.to_text());
    assert_eq!(report.results.len(), all.len());
    let checks: Vec<&str> = report.results.iter().map(|r| r.check.as_str()).collect();
    assert!(
        checks
            .iter()
            .all(|c| *c == checks[0] && c.starts_with("ok (3000 rows")),
        "{checks:?}"
    );
    for r in &report.results {
        assert_eq!(r.runs.len(), 2, "{}: --repeat 2", r.strategy);
        assert!(r.min_s <= r.median_s && r.median_s <= r.max_s);
        assert!(!r.extrapolated);
    }
    assert_eq!(report.results[0].speedup_vs_orm_row, Some(1.0));
    let barge = report
        .results
        .iter()
        .find(|r| r.strategy == "barge")
        .unwrap();
    assert!(
        barge.peak_rss_mb.unwrap() > 1.0,
        "barge's peak memory is measured"
    );
    let text = report.to_text();
    for s in &all {
        assert!(text.contains(s.name()), "{text}");
    }
    let csv = report.to_csv();
    assert_eq!(csv.lines().count(), all.len() + 1, "{csv}");
    let svg = report.to_svg();
    assert!(
        svg.starts_with("<svg") && svg.matches("<rect").count() == all.len() + 1,
        "one background + a bar per strategy"
    );

    // Sampled strategies say they were extrapolated, and are checked on their sample.
    let report = bench::run(&options(&db, &[Strategy::OrmRow, Strategy::Barge], 500))
        .await
        .unwrap();
    assert!(report.ok(), "{}", report.to_text());
    let orm = &report.results[0];
    assert!(orm.extrapolated && orm.rows_run == 500 && orm.rows == 3000);
    assert!(orm.check.starts_with("ok (500 rows"), "{}", orm.check);
    assert!((orm.full_table_s - orm.median_s * 6.0).abs() < 1e-9);
    assert!(report.to_text().contains("500 of 3000") && report.to_text().contains("extrapolated"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_strategy_is_reported_without_hiding_the_others() {
    let db = TestDb::new("benchfail").await;
    db.load(&[FixtureSet::Legacy]).await;
    let mut opts = options(&db, &[Strategy::Barge, Strategy::MultiInsert], 1_000);
    opts.barge_exe = "/nonexistent/barge".into();
    let report = bench::run(&opts).await.unwrap();
    assert!(!report.ok());
    let barge = &report.results[0];
    assert!(
        barge
            .error
            .as_deref()
            .unwrap()
            .contains("cannot run barge copy"),
        "{barge:?}"
    );
    let multi = &report.results[1];
    assert!(multi.ok(), "{multi:?}");
    let text = report.to_text();
    assert!(
        text.contains("FAILED: cannot run barge copy") && text.contains("ok (10 rows"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_django_strategies_model_any_table_with_inspectdb() {
    use mysql_async::prelude::Queryable;
    let db = TestDb::new("benchdj").await;
    let mut my = db.mysql().await;
    // Not one of barge's fixtures: a keyword for a column name, one with a space, a
    // TINYINT(1) that becomes a boolean, money, bytes, times, and a declared foreign key.
    my.query_drop(
        "CREATE TABLE customers (id int PRIMARY KEY, name varchar(40));
         INSERT INTO customers SELECT seq, concat('customer ', seq) FROM seq_1_to_20;
         CREATE TABLE invoices (
           invoice_no bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
           customer_id int NULL,
           `class` varchar(10) NOT NULL,
           `due date` date NULL,
           paid tinyint(1) NOT NULL DEFAULT 0,
           amount decimal(12,2) NOT NULL,
           scan blob NULL,
           noted_at datetime(3) NULL,
           CONSTRAINT invoices_customer FOREIGN KEY (customer_id) REFERENCES customers (id));
         INSERT INTO invoices (customer_id, `class`, `due date`, paid, amount, scan, noted_at)
           SELECT IF(seq % 7 = 0, NULL, seq % 20 + 1), ELT(seq % 3 + 1, 'a', 'b', 'c'),
                  '2020-01-01' + INTERVAL seq DAY, seq % 2, seq * 1.25, unhex(md5(seq)),
                  '2021-06-01 10:00:00.125' + INTERVAL seq MINUTE
           FROM seq_1_to_700;",
    )
    .await
    .unwrap();
    let mut opts = options(&db, &[Strategy::DjangoRow, Strategy::DjangoBulk], 500);
    opts.tables = vec!["invoices".into()];
    opts.repeat = 1;
    let report = bench::run(&opts).await.unwrap();
    eprintln!("{}", report.to_text());
    assert!(report.ok(), "{}", report.to_text());
    let row = &report.results[0];
    assert!(
        row.extrapolated && row.rows_run == 500 && row.rows == 700,
        "{row:?}"
    );
    assert!(row.check.starts_with("ok (500 rows"), "{}", row.check);
    assert!(
        report.results[1].check.starts_with("ok (700 rows"),
        "{}",
        report.results[1].check
    );
}

/// `barge bench` moves every direction: a PostgreSQL source (loaded by barge from the
/// generated MySQL table) into MariaDB, and MariaDB into MariaDB, each result checked; the
/// strategies that move MySQL into PostgreSQL only say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_direction_is_benched_and_checked() {
    let db = TestDb::new("benchdirs").await;
    db.load(&[FixtureSet::Legacy]).await;
    db.generate("characters", 2_000, 9).await;
    let (code, out, err) = db.copy_cli(&db.name, &["--tables", "characters"]);
    assert_eq!(code, 0, "{out}{err}");
    let pg_source = format!("{}?schema={}", db.target(), db.name);
    let strategies = [
        Strategy::OrmRow,
        Strategy::OrmRowTx,
        Strategy::MultiInsert,
        Strategy::Barge,
        Strategy::Pgloader,
    ];
    for (from, tag) in [(pg_source.as_str(), "pg"), (db.source().as_str(), "my")] {
        let opts = BenchOptions {
            from: DbUrl::parse(from).unwrap(),
            to: DbUrl::parse(&db.mysql_server).unwrap(),
            repeat: 1,
            schema_prefix: format!("{}_{tag}", db.name),
            ..options(&db, &strategies, 700)
        };
        let report = bench::run(&opts).await.unwrap();
        let text = report.to_text();
        let by = |s: Strategy| {
            report
                .results
                .iter()
                .find(|r| r.strategy == s.name())
                .unwrap()
        };
        for s in &strategies[..4] {
            let r = by(*s);
            assert!(r.ok(), "{tag} {}: {text}", s.name());
        }
        assert!(
            by(Strategy::OrmRow).check.starts_with("ok (700 rows"),
            "{text}"
        );
        assert!(
            by(Strategy::Barge).check.starts_with("ok (2000 rows"),
            "{text}"
        );
        let pgl = by(Strategy::Pgloader).error.clone().unwrap_or_default();
        assert!(pgl.contains("moves MySQL into PostgreSQL only"), "{pgl}");
        assert_eq!(
            barge::bench::Strategy::all_for(opts.from.engine(), opts.to.engine()).len(),
            4
        );
        let mut my = db.mysql().await;
        for s in &strategies[..4] {
            let place = s.schema(&opts.schema_prefix);
            let n: Option<u64> = my
                .exec_first(format!("SELECT count(*) FROM `{place}`.characters"), ())
                .await
                .unwrap();
            let want = if s.sampled() { 700 } else { 2000 };
            assert_eq!(n, Some(want), "{tag} {}", s.name());
            my.query_drop(format!("DROP DATABASE `{place}`"))
                .await
                .unwrap();
        }
    }
}

/// PostgreSQL → PostgreSQL: the ORM strategies bind the types barge does not decode as their
/// text, cast to the column's type (uuid, inet, cidr, an enum, a domain, json), and every
/// value arrives as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_postgres_binds_text_typed_values_and_checks_them() {
    let db = TestDb::new("benchpg").await;
    let src = format!("{}_src", db.name);
    barge::fixtures::load_pg(&DbUrl::parse(&db.pg_server).unwrap(), &src)
        .await
        .unwrap();
    let strategies = [Strategy::OrmRow, Strategy::MultiInsert, Strategy::Barge];
    let opts = BenchOptions {
        from: DbUrl::parse(&format!("{}?schema={src}", db.pg_server)).unwrap(),
        tables: vec!["zoo_text".into()],
        repeat: 1,
        ..options(&db, &strategies, 1000)
    };
    let report = bench::run(&opts).await.unwrap();
    assert!(report.ok(), "{}", report.to_text());
    let checks: Vec<&str> = report.results.iter().map(|r| r.check.as_str()).collect();
    assert!(
        checks
            .iter()
            .all(|c| *c == checks[0] && c.starts_with("ok (4 rows")),
        "{checks:?}"
    );
    // The values themselves, as PostgreSQL prints them, in the ORM's copy and the source.
    let pg = db.pg().await;
    let rows = |schema: &str| {
        format!(
            "SELECT string_agg(concat_ws('|', id, v, c, uid, ip, net, feeling, mail, doc, raw), \
             ';' ORDER BY id) FROM \"{schema}\".zoo_text"
        )
    };
    let want: String = pg.query_one(&rows(&src), &[]).await.unwrap().get(0);
    let orm = Strategy::OrmRow.schema(&opts.schema_prefix);
    let got: String = pg.query_one(&rows(&orm), &[]).await.unwrap().get(0);
    assert_eq!(got, want);
}
