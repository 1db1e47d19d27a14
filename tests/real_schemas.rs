//! Failures found by copying public MySQL schemas that nobody on this project wrote, each
//! reproduced with a fixture of our own: names PostgreSQL shares per schema, one bad table
//! among good ones, TINYINT(1) used as a small integer, ON UPDATE CURRENT_TIMESTAMP, and
//! partial dates.

mod common;

use barge::fixtures::FixtureSet;
use barge::Status;
use common::{assert_table_identical, TestDb};
use mysql_async::prelude::Queryable;

/// (index name, table) in the test's PostgreSQL schema.
async fn pg_indexes(db: &TestDb) -> Vec<(String, String)> {
    db.pg()
        .await
        .query(
            "SELECT indexname::text, tablename::text FROM pg_indexes WHERE schemaname = $1 ORDER BY 1",
            &[&db.name],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_names_are_unique_in_the_target_schema() {
    let db = TestDb::new("names").await;
    let mut my = db.mysql().await;
    // As in real schemas: an index named like its table, one named like another table's
    // primary key, and one named like an index that already exists in the target schema.
    my.query_drop(
        "CREATE TABLE t (id int PRIMARY KEY, a int, KEY t (a));
         INSERT INTO t VALUES (1, 10), (2, 20);
         CREATE TABLE u (id int PRIMARY KEY, b int, c int, KEY t_pkey (b), KEY idx_other (c));
         INSERT INTO u VALUES (1, 1, 1);",
    )
    .await
    .unwrap();
    let pg = db.pg().await;
    pg.batch_execute(&format!(
        "CREATE SCHEMA \"{0}\"; CREATE TABLE \"{0}\".other (x int); \
         CREATE INDEX idx_other ON \"{0}\".other (x)",
        db.name
    ))
    .await
    .unwrap();

    let report = db.copy(&db.options()).await.unwrap();
    assert!(report.ok(), "{}", report.to_text());
    let names = pg_indexes(&db).await;
    let want = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        names,
        want(&[
            ("idx_other", "other"),
            ("t_pkey", "t"),
            ("t_t", "t"),
            ("u_idx_other", "u"),
            ("u_pkey", "u"),
            ("u_t_pkey", "u"),
        ])
    );
    let text = report.to_text();
    for n in [
        "index t is created as t_t",
        "index t_pkey is created as u_t_pkey",
        "index idx_other is created as u_idx_other",
    ] {
        assert!(text.contains(n), "the report says so: {n}\n{text}");
    }
    assert_table_identical(&db, "t").await;
    assert_table_identical(&db, "u").await;

    // A rerun that replaces the tables gives them the same names.
    let report = db
        .copy(&barge::CopyOptions {
            drop: true,
            ..db.options()
        })
        .await
        .unwrap();
    assert!(report.ok(), "{}", report.to_text());
    assert_eq!(pg_indexes(&db).await, names);

    // A target table whose name a view holds is refused before any data moves.
    my.query_drop("CREATE TABLE v (id int PRIMARY KEY); INSERT INTO v VALUES (1)")
        .await
        .unwrap();
    pg.batch_execute(&format!("CREATE VIEW \"{}\".v AS SELECT 1 AS one", db.name))
        .await
        .unwrap();
    let (code, _, err) = db.copy_cli(&db.name, &["--tables", "v"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("v") && err.contains("taken by the view v"),
        "{err}"
    );
    assert!(!db.pg_tables().await.iter().any(|t| t.starts_with("_barge")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_table_is_rolled_back_alone_and_the_others_load() {
    let db = TestDb::new("isolated").await;
    db.load(&[FixtureSet::Legacy]).await;
    let mut my = db.mysql().await;
    my.query_drop(
        "SET SESSION sql_mode = '';
         -- A zero date in a primary key: NULL in PostgreSQL, so the key cannot be added.
         CREATE TABLE daily (day date PRIMARY KEY, n int);
         INSERT INTO daily VALUES ('0000-00-00', 1), ('2024-01-01', 2);
         -- A default PostgreSQL refuses: the staging table cannot be created.
         CREATE TABLE settings (id int PRIMARY KEY, conf longtext DEFAULT 'not json' CHECK (json_valid(conf)));
         -- MariaDB's own types load beside the failures (uuid, inet6 → inet).
         CREATE TABLE devices (id int PRIMARY KEY, u uuid UNIQUE, a inet6);
         INSERT INTO devices VALUES (1, uuid(), '2001:db8::1'), (2, uuid(), '::ffff:10.0.0.1'), (3, NULL, NULL);
         -- A value PostgreSQL text cannot hold, in the middle of the rows.
         CREATE TABLE notes (id int PRIMARY KEY, body text);
         INSERT INTO notes SELECT seq, concat('note ', seq) FROM seq_1_to_5000;
         UPDATE notes SET body = concat('a', char(0), 'b') WHERE id = 2500;",
    )
    .await
    .unwrap();
    let report = db.copy(&db.options()).await.unwrap();
    assert!(!report.ok());
    let failed = [
        (
            "daily",
            "1 date(s) of the key column day have no PostgreSQL value",
        ),
        ("settings", "creating staging table for settings"),
        ("notes", "id = 2500"),
    ];
    for (t, why) in failed {
        let tr = report
            .table(t)
            .unwrap_or_else(|| panic!("{t} is in the report"));
        assert_eq!(tr.status, Status::Failed, "{t}");
        let e = tr.error.as_deref().unwrap();
        assert!(e.contains(why), "{t}: {e}");
    }
    let tables = db.pg_tables().await;
    for (t, _) in failed {
        assert!(
            !tables.contains(&t.to_string()),
            "{t} left behind: {tables:?}"
        );
    }
    assert!(
        !tables.iter().any(|t| t.starts_with("_barge")),
        "{tables:?}"
    );
    // Every other table loaded and is equal to its source, value by value.
    let others: Vec<_> = report
        .tables
        .iter()
        .filter(|t| !failed.iter().any(|(f, _)| *f == t.source))
        .collect();
    assert!(others.len() >= 10, "{}", report.to_text());
    for t in others {
        assert_eq!(t.status, Status::Ok, "{}", report.to_text());
        let rows = assert_table_identical(&db, &t.source).await;
        assert_eq!(t.rows_written, rows as u64, "{}", t.source);
    }

    // The CLI names every failed table and exits non-zero.
    let (code, out, _) = db.copy_cli(&format!("{}_cli", db.name), &[]);
    assert_eq!(code, 1);
    for (t, _) in failed {
        assert!(out.contains(&format!("error: {t}:")), "{out}");
    }
    assert!(out.contains("characters") && out.contains(" ok "), "{out}");
}

/// "table.column type" of the non-key columns of the TINYINT(1) test's tables.
async fn column_types(db: &TestDb) -> Vec<String> {
    db.pg()
        .await
        .query(
            "SELECT table_name::text || '.' || column_name::text, data_type::text \
             FROM information_schema.columns WHERE table_schema = $1 \
             AND table_name IN ('small_flags', 'big_indexed', 'big_plain') AND column_name <> 'id' ORDER BY 1",
            &[&db.name],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tinyint1_holding_other_values_becomes_smallint_or_names_the_cast() {
    let db = TestDb::new("tinyint").await;
    let mut my = db.mysql().await;
    my.query_drop(
        "CREATE TABLE small_flags (id int PRIMARY KEY, active tinyint(1), level tinyint(1));
         INSERT INTO small_flags VALUES (1, 1, 0), (2, 0, 2), (3, NULL, -1), (4, 1, 127);
         -- Too large to scan, but the column leads an index: checked through it.
         CREATE TABLE big_indexed (id int PRIMARY KEY, kind tinyint(1), KEY (kind));
         INSERT INTO big_indexed SELECT seq, seq % 2 FROM seq_1_to_250000;
         UPDATE big_indexed SET kind = 2 WHERE id = 123456;
         -- Too large to scan and not indexed: a stray value stays an error naming the fix.
         CREATE TABLE big_plain (id int PRIMARY KEY, flag tinyint(1));
         INSERT INTO big_plain SELECT seq, seq % 2 FROM seq_1_to_250000;
         UPDATE big_plain SET flag = 2 WHERE id = 200000;
         ANALYZE TABLE big_indexed, big_plain;",
    )
    .await
    .unwrap();
    let report = db.copy(&db.options()).await.unwrap();
    assert!(!report.ok());
    for t in ["small_flags", "big_indexed"] {
        assert_eq!(
            report.table(t).unwrap().status,
            Status::Ok,
            "{}",
            report.to_text()
        );
        assert_table_identical(&db, t).await;
    }
    assert_eq!(
        column_types(&db).await,
        [
            "big_indexed.kind smallint",
            "small_flags.active boolean",
            "small_flags.level smallint",
        ]
    );
    let text = report.to_text();
    assert!(
        text.contains("small_flags.level: TINYINT(1) holds values other than 0 and 1")
            && text.contains(
                "big_indexed.kind: TINYINT(1) holds values other than 0 and 1 (such as 2)"
            ),
        "{text}"
    );
    let e = report.table("big_plain").unwrap().error.clone().unwrap();
    assert!(
        e.contains("value 2 in a TINYINT(1) column")
            && e.contains("id = 200000")
            && e.contains("--cast big_plain.flag=smallint"),
        "{e}"
    );

    // The fix the error names works as it is written.
    let (code, out, err) = db.copy_cli(
        &db.name,
        &["--tables", "big_plain", "--cast", "big_plain.flag=smallint"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_table_identical(&db, "big_plain").await;
    assert!(column_types(&db)
        .await
        .contains(&"big_plain.flag smallint".to_string()));

    // A bad --cast is a clear error.
    let (code, _, err) = db.copy_cli(&db.name, &["--cast", "big_plain.flag=float"]);
    let ok = code == 0;
    assert!(
        !ok && err.contains("--cast big_plain.flag=float") && err.contains("say real or double"),
        "{err}"
    );
    let (code, _, err) = db.copy_cli(&db.name, &["--cast", "flag=smallint"]);
    assert!(code == 2 && err.contains("TABLE.COLUMN=TYPE"), "{err}");
}

/// Triggers on the tables of `schema`, not counting PostgreSQL's own (foreign keys).
async fn user_triggers(pg: &tokio_postgres::Client, schema: &str) -> i64 {
    pg.query_one(
        "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND NOT t.tgisinternal",
        &[&schema],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_update_current_timestamp_becomes_a_trigger() {
    let db = TestDb::new("onupdate").await;
    let mut my = db.mysql().await;
    my.query_drop(
        "CREATE TABLE items (id int PRIMARY KEY, name varchar(20),
           updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
           touched datetime(3) NULL ON UPDATE CURRENT_TIMESTAMP(3));
         INSERT INTO items VALUES (1, 'a', '2020-01-01 00:00:00', NULL),
                                  (2, 'b', '2020-01-01 00:00:00', NULL),
                                  (3, 'c', '2020-01-01 00:00:00', '2020-01-01 00:00:00');",
    )
    .await
    .unwrap();
    let report = db.copy(&db.options()).await.unwrap();
    assert!(report.ok(), "{}", report.to_text());
    assert!(
        report.to_text().contains(
            "items: ON UPDATE CURRENT_TIMESTAMP on updated_at, touched kept as trigger on_update_current_timestamp"
        ),
        "{}",
        report.to_text()
    );
    assert_table_identical(&db, "items").await;
    let pg = db.pg().await;
    // As MySQL does: a change to the row sets both columns to the current time, unless the
    // UPDATE sets them itself; an UPDATE that changes nothing leaves them.
    pg.batch_execute(
        "SET TIME ZONE 'UTC';
         UPDATE items SET name = 'a2' WHERE id = 1;
         UPDATE items SET name = 'b2', updated_at = '1999-01-01 00:00:00+00' WHERE id = 2;
         UPDATE items SET name = name WHERE id = 3;",
    )
    .await
    .unwrap();
    let rows = pg
        .query(
            "SELECT id, updated_at > now() - interval '1 minute', touched > localtimestamp - interval '1 minute', \
                    updated_at::text, touched::text FROM items ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(i32, Option<bool>, Option<bool>, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(got[0].0, 1);
    assert_eq!((got[0].1, got[0].2), (Some(true), Some(true)), "{got:?}");
    assert_eq!(got[1].3, "1999-01-01 00:00:00+00", "{got:?}");
    assert_eq!(got[1].2, Some(true), "{got:?}");
    assert_eq!(got[2].3, "2020-01-01 00:00:00+00", "{got:?}");
    assert_eq!(
        rows[2].get::<_, Option<String>>(4).as_deref(),
        Some("2020-01-01 00:00:00")
    );

    // Left out on request, and said so.
    let (code, out, err) = db.copy_cli(&db.name, &["--drop", "--no-on-update-triggers"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("is not carried over (--no-on-update-triggers)"),
        "{out}"
    );
    let triggers = user_triggers(&pg, &db.name).await;
    assert_eq!(triggers, 0);

    // --schema-only creates it too.
    let schema = format!("{}_schema", db.name);
    let (code, out, err) = db.copy_cli(&schema, &["--schema-only"]);
    assert_eq!(code, 0, "{out}{err}");
    let triggers = user_triggers(&pg, &schema).await;
    assert_eq!(triggers, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_dates_are_counted_apart_and_can_be_refused() {
    let db = TestDb::new("partial").await;
    let mut my = db.mysql().await;
    my.query_drop(
        "SET SESSION sql_mode = 'ALLOW_INVALID_DATES';
         CREATE TABLE people (id int PRIMARY KEY, born date, seen datetime);
         INSERT INTO people VALUES
           (1, '1978-00-00', '0000-00-00 00:00:00'),
           (2, '0000-00-00', '2024-02-00 10:00:00'),
           (3, '2024-02-30', '2024-02-30 10:00:00'),
           (4, '1999-12-31', '1999-12-31 23:59:59'),
           (5, '1980-05-00', NULL);",
    )
    .await
    .unwrap();
    let report = db.copy(&db.options()).await.unwrap();
    assert!(report.ok(), "{}", report.to_text());
    let t = report.table("people").unwrap();
    let one = |pairs: &[(&str, u64)]| {
        pairs
            .iter()
            .map(|(c, n)| (c.to_string(), *n))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(t.zero_dates_nulled, one(&[("born", 1), ("seen", 1)]));
    assert_eq!(t.partial_dates_nulled, one(&[("born", 2), ("seen", 1)]));
    assert_eq!(t.impossible_dates_nulled, one(&[("born", 1), ("seen", 1)]));
    let text = report.to_text();
    assert!(
        text.contains(
            "people.born: 2 partial date(s) (a zero month or day, like 1978-00-00) written as NULL"
        ) && text.contains("people.born: 1 zero date(s) (0000-00-00) written as NULL"),
        "{text}"
    );
    let pg = db.pg().await;
    let kept: Vec<(i32, Option<String>)> = pg
        .query("SELECT id, born::text FROM people ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        kept,
        [
            (1, None),
            (2, None),
            (3, None),
            (4, Some("1999-12-31".into())),
            (5, None)
        ]
    );

    // --zero-dates error refuses the loss: the table fails, naming row and value, and
    // nothing of it is left.
    let schema = format!("{}_strict", db.name);
    let (code, out, _) = db.copy_cli(&schema, &["--zero-dates", "error"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("people, column born: partial date (a zero month or day) '1978-00-00'")
            && out.contains("--zero-dates error")
            && out.contains("id = 1"),
        "{out}"
    );
    assert_eq!(db.table_count(&schema).await, 0);
    let (code, _, err) = db.copy_cli(&db.name, &["--zero-dates", "maybe"]);
    assert!(code == 2 && err.contains("--zero-dates"), "{err}");
}
