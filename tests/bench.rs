//! `barge bench` on a small table against the real servers.

mod common;

use barge::bench::{self, BenchOptions, Strategy};
use barge::fixtures::FixtureSet;
use barge::DbUrl;
use common::TestDb;

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
