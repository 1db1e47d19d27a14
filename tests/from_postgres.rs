//! PostgreSQL as the source: into MariaDB and into PostgreSQL, compared value by value with
//! the source through each server's own canonical text of each type (never barge's reader).

mod common;

use barge::{DbUrl, Status};
use common::TestDb;
use mysql_async::prelude::Queryable;
use mysql_async::Value;

const TABLES: &[&str] = &[
    "zoo_numbers",
    "zoo_text",
    "zoo_time",
    "zoo_arrays",
    "users",
    "articles",
    "comments",
    "Order Lines",
    "measurements",
    "cities",
    "capitals",
    "log_lines",
];

async fn with_fixtures(tag: &str) -> (TestDb, String) {
    let db = TestDb::new(tag).await;
    let src = format!("{}_src", db.name);
    barge::fixtures::load_pg(&DbUrl::parse(&db.pg_server).unwrap(), &src)
        .await
        .unwrap();
    (db, src)
}

fn pg_source(db: &TestDb, schema: &str) -> DbUrl {
    DbUrl::parse(&format!("{}?schema={schema}", db.pg_server)).unwrap()
}

/// (column, type name, format_type) of a source table, in order.
async fn pg_columns(
    pg: &tokio_postgres::Client,
    schema: &str,
    table: &str,
) -> Vec<(String, String, String)> {
    pg.query(
        "SELECT a.attname::text, \
                (SELECT bt.typname::text FROM pg_type bt WHERE bt.oid = \
                   CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END), \
                format_type(a.atttypid, a.atttypmod) \
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
         WHERE a.attrelid = format('%I.%I', $1::text, $2::text)::regclass \
           AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        &[&schema, &table],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

/// The canonical text of a column: (PostgreSQL expression, MySQL expression).
fn canonical(col: &str, typname: &str) -> (String, String) {
    let p = format!("\"{}\"", col.replace('"', "\"\""));
    let m = format!("`{}`", col.replace('`', "``"));
    match typname {
        "bool" => (format!("{p}::int::text"), format!("CAST({m} AS CHAR)")),
        // Floats are compared bit for bit through the drivers.
        "float4" | "float8" => (format!("{p}::float8"), m),
        // Compared without trailing zeros (MySQL's DECIMAL(65,30) pads to its scale).
        "numeric" => (format!("{p}::text"), format!("CAST({m} AS CHAR)")),
        "money" => (format!("{p}::numeric::text"), format!("CAST({m} AS CHAR)")),
        "bytea" => (format!("upper(encode({p}, 'hex'))"), format!("HEX({m})")),
        "date" => (
            format!("to_char({p}, 'YYYY-MM-DD')"),
            format!("DATE_FORMAT({m}, '%Y-%m-%d')"),
        ),
        "timestamp" => (
            format!("to_char({p}, 'YYYY-MM-DD HH24:MI:SS.US')"),
            format!("DATE_FORMAT({m}, '%Y-%m-%d %H:%i:%s.%f')"),
        ),
        "timestamptz" => (
            format!("to_char({p} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"),
            format!("DATE_FORMAT({m}, '%Y-%m-%d %H:%i:%s.%f')"),
        ),
        "time" | "interval" => (
            format!("extract(epoch from {p})::numeric(20,6)::text"),
            format!("CAST(CAST(TIME_TO_SEC({m}) AS DECIMAL(20,6)) AS CHAR)"),
        ),
        "bit" => (format!("{p}::text"), format!("LPAD(BIN({m}), 8, '0')")),
        "inet" | "cidr" => (format!("format('%s', {p})"), m),
        // JSON and arrays (JSON in MySQL): both sides canonicalised by jsonb.
        "json" | "jsonb" => (format!("{p}::jsonb::text"), m),
        t if t.starts_with('_') => (format!("array_to_json({p})::jsonb::text"), m),
        _ => (format!("{p}::text"), format!("CAST({m} AS CHAR)")),
    }
}

fn mysql_text(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8(b.clone()).unwrap()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(format!("{:?}", *f as f64)),
        Value::Double(d) => Some(format!("{d:?}")),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_into_mariadb_value_for_value() {
    let (db, src) = with_fixtures("pg2my").await;
    let target = format!("{}/{}", db.mysql_server.trim_end_matches('/'), db.name);
    let opts = barge::CopyOptions {
        min_partition_rows: 3_000,
        batch_rows: 1_000,
        ..db.options()
    };
    let report = barge::copy(
        &pg_source(&db, &src),
        &DbUrl::parse(&target).unwrap(),
        &opts,
    )
    .await
    .unwrap();
    assert!(report.ok(), "{}", report.to_text());
    assert!(
        report.table("articles").unwrap().partitions >= 3,
        "{}",
        report.to_text()
    );
    assert_eq!(
        report.table("cities").unwrap().rows_written,
        2,
        "ONLY the parent's own rows"
    );
    assert_eq!(report.table("measurements").unwrap().rows_written, 4000);
    let warned = report.table("articles").unwrap().warnings.join("\n");
    for skipped in [
        "CHECK constraint published_from_2020 is not carried (it is NOT VALID in the source",
        "index index_articles_on_lower_title is not created (on expressions or partial",
        "index index_articles_on_body_words is not created",
    ] {
        assert!(warned.contains(skipped), "{warned}");
    }
    assert!(
        report.table("log_lines").unwrap().partitions >= 2,
        "a table without a key is read by block ranges: {}",
        report.to_text()
    );

    let pg = db.pg().await;
    let mut my = db.mysql().await;
    // MariaDB ≥ 10.7 has a UUID type of its own.
    let uid: Option<String> = my
        .exec_first(
            "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? \
             AND TABLE_NAME = 'zoo_text' AND COLUMN_NAME = 'uid'",
            (&db.name,),
        )
        .await
        .unwrap();
    assert_eq!(uid.as_deref(), Some("uuid"));
    // A table's CHECK in MySQL's SQL.
    let refused = my
        .exec_drop(
            format!(
                "INSERT INTO `{}`.articles (title, state) VALUES ('', 'ok')",
                db.name
            ),
            (),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("title_not_blank"), "{refused}");
    // The domain `email` becomes its base type with its CHECK (VALUE LIKE '%@%').
    let refused = my
        .exec_drop(
            format!(
                "INSERT INTO `{}`.zoo_text (id, mail) VALUES (100, 'nope')",
                db.name
            ),
            (),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("zoo_text_mail_check"), "{refused}");
    my.exec_drop(
        format!(
            "INSERT INTO `{}`.zoo_text (id, mail) VALUES (100, 'a@b')",
            db.name
        ),
        (),
    )
    .await
    .unwrap();
    my.exec_drop(
        format!("DELETE FROM `{}`.zoo_text WHERE id = 100", db.name),
        (),
    )
    .await
    .unwrap();
    let mut values = 0;
    for t in TABLES {
        let cols = pg_columns(&pg, &src, t).await;
        let (pe, me): (Vec<String>, Vec<String>) =
            cols.iter().map(|(c, ty, _)| canonical(c, ty)).unzip();
        // Float columns come back as f64 from PostgreSQL; everything else as text.
        // The source column, not the text expression of the same name.
        let key = format!("x.\"{}\"", cols[0].0);
        let rows = pg
            .query(
                &format!(
                    "SELECT {} FROM {only}\"{src}\".\"{t}\" x ORDER BY {key}",
                    pe.join(", "),
                    // A partitioned table's rows are in its partitions; a parent's own are ONLY.
                    only = if *t == "measurements" { "" } else { "ONLY " }
                ),
                &[],
            )
            .await
            .unwrap();
        let source: Vec<Vec<Option<String>>> = rows
            .iter()
            .map(|r| {
                cols.iter()
                    .enumerate()
                    .map(|(i, (_, ty, _))| match ty.as_str() {
                        "float4" => r
                            .get::<_, Option<f64>>(i)
                            .map(|f| format!("{:?}", f as f32 as f64)),
                        "float8" => r.get::<_, Option<f64>>(i).map(|f| format!("{f:?}")),
                        "numeric" | "money" => {
                            r.get::<_, Option<String>>(i).map(|v| trim_zeros(&v))
                        }
                        _ => r.get::<_, Option<String>>(i),
                    })
                    .collect()
            })
            .collect();
        let mkey = format!("`{}`", cols[0].0);
        let mrows: Vec<mysql_async::Row> = my
            .exec(
                format!("SELECT {} FROM `{t}` ORDER BY {mkey}", me.join(", ")),
                (),
            )
            .await
            .unwrap_or_else(|e| panic!("{t}: {e}"));
        let mut target: Vec<Vec<Option<String>>> = Vec::new();
        for r in &mrows {
            let mut row = Vec::new();
            for (i, (_, ty, _)) in cols.iter().enumerate() {
                let v = mysql_text(r.as_ref(i).unwrap());
                let v = match (ty.as_str(), v) {
                    ("json" | "jsonb", Some(j)) => Some(json(&pg, &j).await),
                    ("numeric" | "money", Some(v)) => Some(trim_zeros(&v)),
                    (t, Some(j)) if t.starts_with('_') => Some(json(&pg, &j).await),
                    (_, v) => v,
                };
                row.push(v);
            }
            target.push(row);
        }
        assert_eq!(source.len(), target.len(), "{t}: rows");
        for (i, (s, d)) in source.iter().zip(&target).enumerate() {
            assert_eq!(
                s,
                d,
                "{t}: row {i} ({:?})",
                cols.iter().map(|c| &c.0).collect::<Vec<_>>()
            );
        }
        values += source.len() * cols.len();
    }
    assert!(values > 100_000, "compared {values} values");
    // Keys, indexes and the declared foreign key.
    let mut idx: Vec<String> = my
        .exec(
            "SELECT CONCAT(TABLE_NAME, '.', INDEX_NAME, ' ', NON_UNIQUE) FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN ('users', 'articles') GROUP BY 1 ORDER BY 1",
            (&db.name,),
        )
        .await
        .unwrap();
    idx.sort();
    assert_eq!(
        idx,
        vec![
            "articles.PRIMARY 0",
            "articles.index_articles_on_user_id 1",
            // DESC and INCLUDE are PostgreSQL's: MySQL gets a plain key on its columns.
            "articles.index_articles_recent 1",
            "users.PRIMARY 0",
            "users.index_users_on_email 0",
        ]
    );
    let fks: Vec<String> = my
        .exec(
            "SELECT CONCAT(TABLE_NAME, '→', REFERENCED_TABLE_NAME, ' ', DELETE_RULE) \
             FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?",
            (&db.name,),
        )
        .await
        .unwrap();
    assert_eq!(fks, vec!["comments→articles CASCADE"]);
    // Identity and serial keys go on from past the copied ones.
    my.query_drop("INSERT INTO users (email, updated_at) VALUES ('new@example.com', NOW())")
        .await
        .unwrap();
    let id: Option<u64> = my.query_first("SELECT LAST_INSERT_ID()").await.unwrap();
    assert_eq!(id, Some(3001));
}

/// `1.5000` → `1.5`, `2.000` → `2`.
fn trim_zeros(v: &str) -> String {
    if v.contains('.') {
        v.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        v.to_string()
    }
}

async fn json(pg: &tokio_postgres::Client, text: &str) -> String {
    pg.query_one("SELECT $1::text::jsonb::text", &[&text])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_into_postgres_keeps_every_type() {
    let (db, src) = with_fixtures("pg2pg").await;
    // ±infinity have no value in MySQL, but PostgreSQL keeps them.
    db.pg()
        .await
        .batch_execute(&format!(
            "CREATE TABLE \"{src}\".forever (id int PRIMARY KEY, d date, ts timestamp(3), tz timestamptz);
             INSERT INTO \"{src}\".forever VALUES
               (1, 'infinity', 'infinity', 'infinity'), (2, '-infinity', '-infinity', '-infinity'),
               (3, '2024-02-29', '2024-02-29 12:34:56.789', '1999-12-31 23:59:59.999999+00'),
               (4, NULL, NULL, NULL), (5, '4713-01-01 BC', '4713-01-01 00:00:00 BC', '294276-12-31 23:59:59+00')"
        ))
        .await
        .unwrap();
    let report = barge::copy(
        &pg_source(&db, &src),
        &DbUrl::parse(&db.pg_server).unwrap(),
        &barge::CopyOptions {
            min_partition_rows: 3_000,
            ..db.options()
        },
    )
    .await
    .unwrap();
    assert!(report.ok(), "{}", report.to_text());
    let pg = db.pg().await;
    for t in TABLES.iter().chain(&["forever"]) {
        // Whole rows through PostgreSQL's own text output.
        let q =
            |schema: &str| format!("SELECT x::text FROM ONLY \"{schema}\".\"{t}\" x ORDER BY 1");
        let a: Vec<String> = pg
            .query(
                &q(&src).replace(
                    "ONLY \"",
                    if *t == "measurements" {
                        "\""
                    } else {
                        "ONLY \""
                    },
                ),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let b: Vec<String> = pg
            .query(&q(&db.name), &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(a, b, "{t}");
        // The same column types; the source's own enum and domain are created in the
        // target schema.
        let sc = pg_columns(&pg, &src, t).await;
        let tc = pg_columns(&pg, &db.name, t).await;
        for (s, d) in sc.iter().zip(&tc) {
            let own = |ty: &str, schema: &str| {
                ty.ends_with(".mood") || ty.ends_with(".email") || ty.contains(schema)
            };
            if own(&s.2, &src) {
                assert_eq!(
                    d.2.rsplit('.').next(),
                    s.2.rsplit('.').next(),
                    "{t}.{}",
                    s.0
                );
                assert_ne!(d.2, "text", "{t}.{}", s.0);
                assert!(!d.2.contains(src.as_str()), "{t}.{}: {}", s.0, d.2);
            } else {
                assert_eq!(s.2, d.2, "{t}.{}", s.0);
            }
        }
    }
    let warned = report.table("articles").unwrap().warnings.join("\n");
    assert!(!warned.contains("is not created"), "{warned}");
    // Every index as the source defines it (expressions, partial, GIN, DESC, INCLUDE), and
    // every CHECK constraint (one NOT VALID, as it was).
    let indexes = "SELECT regexp_replace(pg_get_indexdef(x.indexrelid), ' ON \\S+ ', ' ON t ') \
         FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relname IN ('articles', 'zoo_text') ORDER BY 1";
    let checks = "SELECT conname || ' ' || pg_get_constraintdef(k.oid) || ' ' || convalidated \
         FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND k.contype = 'c' ORDER BY 1";
    for (sql, what) in [(indexes, "WHERE"), (checks, " NOT VALID false")] {
        let mut both = Vec::new();
        for schema in [&src, &db.name] {
            let rows = pg.query(sql, &[schema]).await.unwrap();
            both.push(rows.iter().map(|r| r.get(0)).collect::<Vec<String>>());
        }
        assert_eq!(both[0], both[1]);
        assert!(
            both[0].len() >= 2 && both[0].iter().any(|d| d.contains(what)),
            "{both:?}"
        );
    }
    // The enum keeps its labels in order, the domain its CHECK, the column its default.
    let labels: String = pg
        .query_one(
            "SELECT string_agg(e.enumlabel::text, ',' ORDER BY e.enumsortorder) FROM pg_enum e \
             JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE n.nspname = $1 AND t.typname = 'mood'",
            &[&db.name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(labels, "sad,ok,happy");
    let e = pg
        .batch_execute(&format!(
            "INSERT INTO \"{}\".zoo_text (id, mail) VALUES (-1, 'no at sign')",
            db.name
        ))
        .await
        .unwrap_err();
    assert!(
        barge::error::pg_message(&e).contains("violates check constraint"),
        "{e}"
    );
    for (table, column, literal) in [
        ("articles", "state", "'ok'::"),
        ("zoo_arrays", "moods", "'{ok}'::"),
    ] {
        let default: String = pg
            .query_one(
                "SELECT column_default::text FROM information_schema.columns \
                 WHERE table_schema = $1 AND table_name = $2 AND column_name = $3",
                &[&db.name, &table, &column],
            )
            .await
            .unwrap()
            .get(0);
        assert!(default.starts_with(literal), "{table}.{column}: {default}");
    }
    // A rerun that replaces the tables finds the types there and keeps them.
    let again = barge::copy(
        &pg_source(&db, &src),
        &DbUrl::parse(&db.pg_server).unwrap(),
        &barge::CopyOptions {
            drop: true,
            ..db.options()
        },
    )
    .await
    .unwrap();
    assert!(again.ok(), "{}", again.to_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn values_and_names_mysql_cannot_hold_are_refused_with_nothing_left() {
    let db = TestDb::new("pg2mybad").await;
    let src = format!("{}_src", db.name);
    let pg = db.pg().await;
    pg.batch_execute(&format!(
        "CREATE SCHEMA \"{src}\"; SET search_path TO \"{src}\";
         CREATE TABLE good (id int PRIMARY KEY, v text);
         INSERT INTO good VALUES (1, 'fine');
         CREATE TABLE nan (id int PRIMARY KEY, f float8);
         INSERT INTO nan SELECT g, CASE WHEN g = 700 THEN 'NaN'::float8 ELSE g END FROM generate_series(1, 1000) g;
         CREATE TABLE forever (id int PRIMARY KEY, d date);
         INSERT INTO forever VALUES (1, '2020-01-01'), (2, 'infinity');
         CREATE TABLE months (id int PRIMARY KEY, iv interval);
         INSERT INTO months VALUES (1, '1 month');
         CREATE TABLE too_wide (id int PRIMARY KEY, n numeric);
         INSERT INTO too_wide VALUES (1, 1e40);
         CREATE TABLE cases (id int PRIMARY KEY, \"Name\" text, name text);
         CREATE TABLE shapes (id int PRIMARY KEY, p point);
         INSERT INTO shapes VALUES (1, '(1,2)');"
    ))
    .await
    .unwrap();
    let target = format!("{}/{}", db.mysql_server.trim_end_matches('/'), db.name);
    let report = barge::copy(
        &pg_source(&db, &src),
        &DbUrl::parse(&target).unwrap(),
        &db.options(),
    )
    .await
    .unwrap();
    assert_eq!(report.exit_code(), barge::error::exit::FAILED);
    assert_eq!(report.table("good").unwrap().status, Status::Ok);
    let expect = [
        ("nan", "NaN does not fit a MySQL DOUBLE"),
        ("forever", "infinite date"),
        ("months", "1 month(s) has no fixed length"),
        ("too_wide", "does not fit MySQL's DECIMAL(65,30)"),
        ("cases", "differ only in case"),
        (
            "shapes",
            "column p: PostgreSQL type point has no MySQL mapping",
        ),
    ];
    for (t, why) in expect {
        let r = report
            .table(t)
            .unwrap_or_else(|| panic!("{t}: {}", report.to_text()));
        assert_eq!(r.status, Status::Failed, "{t}");
        let e = r.error.as_deref().unwrap();
        assert!(e.contains(why), "{t}: {e}");
    }
    let mut my = db.mysql().await;
    let left: Vec<String> = my
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1",
            (&db.name,),
        )
        .await
        .unwrap();
    // The ledger stays, so a rerun retries only the failed tables; no staging is left.
    let (ledger, tables): (Vec<String>, Vec<String>) =
        left.into_iter().partition(|t| t.starts_with("__barge_"));
    assert_eq!(
        tables,
        vec!["good".to_string()],
        "nothing else in the target"
    );
    assert_eq!(ledger.len(), 3, "{ledger:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consistent_reads_one_snapshot_of_a_live_postgres_source() {
    let db = TestDb::new("pgsnap").await;
    let src = format!("{}_src", db.name);
    let pg = db.pg().await;
    // Even keys now; a writer fills odd keys in between while the copy runs.
    pg.batch_execute(&format!(
        "CREATE SCHEMA \"{src}\"; CREATE TABLE \"{src}\".live (id int PRIMARY KEY, v text);
         INSERT INTO \"{src}\".live SELECT 2 * g, 'x' FROM generate_series(1, 40000) g;"
    ))
    .await
    .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let src = src.clone();
        let pg = common::connect_pg(&db.pg_server).await.unwrap();
        tokio::spawn(async move {
            let mut k = 1;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && k < 80_000 {
                pg.batch_execute(&format!(
                    "INSERT INTO \"{src}\".live SELECT g, 'y' FROM generate_series({k}, {}, 2) g",
                    k + 200
                ))
                .await
                .unwrap();
                k += 202;
            }
        })
    };
    let target = format!("{}/{}", db.mysql_server.trim_end_matches('/'), db.name);
    let report = barge::copy(
        &pg_source(&db, &src),
        &DbUrl::parse(&target).unwrap(),
        &barge::CopyOptions {
            consistent: true,
            min_partition_rows: 5_000,
            batch_rows: 500,
            ..db.options()
        },
    )
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();
    // Counted and read inside one snapshot: the counts agree however the writer went on.
    assert!(report.ok(), "{}", report.to_text());
    let t = report.table("live").unwrap();
    assert!(t.partitions >= 3, "{}", report.to_text());
    assert_eq!(t.rows_read, t.source_rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn skip_row_leaves_values_the_reader_cannot_convert_in_the_reject_file() {
    // Values the reader refuses. A value only the target refuses (a NaN float into MySQL)
    // still fails its table: target-side isolation is not built yet.
    let db = TestDb::new("pgskip").await;
    let src = format!("{}_src", db.name);
    let pg = db.pg().await;
    pg.batch_execute(&format!(
        "CREATE SCHEMA \"{src}\"; SET search_path TO \"{src}\";
         CREATE TABLE readings (id int PRIMARY KEY, iv interval, d date, n numeric(10,2));
         INSERT INTO readings SELECT g, g * interval '1 second', date '2020-01-01' + g, g FROM generate_series(1, 9000) g;
         UPDATE readings SET iv = '1 month' WHERE id = 1234;
         UPDATE readings SET d = 'infinity' WHERE id = 8765;
         UPDATE readings SET n = 'NaN' WHERE id = 4321;"
    ))
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("{}-rejects", db.name));
    let target = format!("{}/{}", db.mysql_server.trim_end_matches('/'), db.name);
    let report = barge::copy(
        &pg_source(&db, &src),
        &DbUrl::parse(&target).unwrap(),
        &barge::CopyOptions {
            on_error: barge::rejects::OnError::SkipRow,
            reject_dir: dir.clone(),
            min_partition_rows: 2_000,
            ..db.options()
        },
    )
    .await
    .unwrap();
    let t = report.table("readings").unwrap();
    assert_eq!(t.status, Status::Ok, "{}", report.to_text());
    assert!(t.partitions >= 3);
    assert_eq!(
        (t.rows_read, t.rows_rejected, t.rows_written),
        (9000, 3, 8997)
    );
    assert_eq!(report.exit_code(), barge::error::exit::REJECTS);
    let file = std::fs::read_to_string(dir.join("readings.jsonl")).unwrap();
    let mut lines: Vec<serde_json::Value> = file
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines.sort_by_key(|l| l["key"]["id"].as_str().unwrap().parse::<i32>().unwrap());
    let seen: Vec<(String, String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["key"]["id"].as_str().unwrap().to_string(),
                l["column"].as_str().unwrap().to_string(),
                l["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("1234".into(), "iv".into(), "1 months 0 days 0 µs".into()),
            ("4321".into(), "n".into(), "NaN".into()),
            ("8765".into(), "d".into(), "infinity".into()),
        ]
    );
    let mut my = db.mysql().await;
    let n: Option<u64> = my
        .query_first("SELECT COUNT(*) FROM readings WHERE id IN (1234, 4321, 8765)")
        .await
        .unwrap();
    assert_eq!(n, Some(0));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sample_of_a_postgres_app_keeps_its_relationships() {
    let (db, src) = with_fixtures("pgsample").await;
    let target = format!("{}/{}", db.mysql_server.trim_end_matches('/'), db.name);
    let report = barge::copy(
        &pg_source(&db, &src),
        &DbUrl::parse(&target).unwrap(),
        &barge::CopyOptions {
            selection: barge::Selection {
                tables: vec!["users".into(), "articles".into(), "comments".into()],
                ..Default::default()
            },
            sample: Some(barge::sample::Sample {
                size: barge::sample::SampleSize::Percent(5.0),
                roots: vec!["comments".into()],
                seed: 11,
            }),
            ..db.options()
        },
    )
    .await
    .unwrap();
    assert!(report.ok(), "{}", report.to_text());
    let mut my = db.mysql().await;
    let comments: Option<u64> = my
        .query_first("SELECT COUNT(*) FROM comments")
        .await
        .unwrap();
    let comments = comments.unwrap();
    assert!(
        (150..=450).contains(&comments),
        "about 5% of 6000 comments: {comments}"
    );
    // Every comment's article and every article's author came along (the first declared,
    // the second inferred from Rails' user_id), and nothing else did.
    for (child, col, parent) in [
        ("comments", "article_id", "articles"),
        ("articles", "user_id", "users"),
    ] {
        let orphans: Option<u64> = my
            .query_first(format!(
                "SELECT COUNT(*) FROM {child} c LEFT JOIN {parent} p ON p.id = c.{col} \
                 WHERE c.{col} IS NOT NULL AND p.id IS NULL"
            ))
            .await
            .unwrap();
        assert_eq!(orphans, Some(0), "{child}.{col}");
    }
    let articles: Option<u64> = my
        .query_first("SELECT COUNT(*) FROM articles")
        .await
        .unwrap();
    assert!(
        articles.unwrap() <= comments,
        "only the articles sampled comments refer to"
    );
    let pg = db.pg().await;
    let expected: i64 = pg
        .query_one(
            &format!(
                "SELECT count(DISTINCT article_id) FROM \"{src}\".comments \
                 WHERE ('x' || substr(md5(concat_ws(':', 11, id)), 1, 8))::bit(32)::int8 < 214748365"
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(articles, Some(expected as u64));
}

/// `barge verify` checks content in the directions the servers cannot checksum alike:
/// PostgreSQL → MySQL, PostgreSQL → PostgreSQL and MySQL → MySQL, through barge's readers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_checksums_content_in_every_direction() {
    let db = TestDb::new("verifyall").await;
    let pg = db.pg().await;
    let src = format!("{}_v", db.name);
    pg.batch_execute(&format!(
        "CREATE SCHEMA \"{src}\";
         CREATE TABLE \"{src}\".t (id int PRIMARY KEY, b boolean, n numeric(10,2), ts timestamptz,
           d date, j jsonb, bin bytea, txt text, f real, u uuid);
         INSERT INTO \"{src}\".t SELECT g, g % 2 = 0, g * 1.25,
           '2020-01-01'::timestamptz + g * interval '1 hour', '2020-01-01'::date + g,
           jsonb_build_object('a', g, 'b', 'x'), decode(md5(g::text), 'hex'), 'héllo ' || g,
           g / 3.0, md5(g::text)::uuid FROM generate_series(1, 2000) g;
         INSERT INTO \"{src}\".t (id) VALUES (0);"
    ))
    .await
    .unwrap();
    let from = format!("{}?schema={src}", db.target());
    let my_to = db.source();
    let pg_schema = format!("{}_pg", db.name);
    let my_copy = format!("{}_my", db.name);
    let my_copy_url = my_to.replace(&format!("/{}", db.name), &format!("/{my_copy}"));
    let verify = |from: &str, to: &str, extra: &[&str]| {
        let mut args = vec!["verify", "--from", from, "--to", to];
        args.extend_from_slice(extra);
        common::barge_exit(&args, &[])
    };
    let copy = |from: &str, to: &str, extra: &[&str]| {
        let mut args = vec!["copy", "--from", from, "--to", to];
        args.extend_from_slice(extra);
        let (code, out, err) = common::barge_exit(&args, &[]);
        assert_eq!(code, 0, "{out}{err}");
    };
    copy(&from, &my_to, &[]);
    // md5 hashes cast to uuid are not all uuids MariaDB's UUID type takes: text there.
    let u: Option<String> = db
        .mysql()
        .await
        .exec_first(
            "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? \
             AND TABLE_NAME = 't' AND COLUMN_NAME = 'u'",
            (&db.name,),
        )
        .await
        .unwrap();
    assert_eq!(u.as_deref(), Some("varchar(36)"));
    copy(&from, &db.target(), &["--schema", &pg_schema]);
    copy(&my_to, &my_copy_url, &[]);
    for (f, t, extra) in [
        (from.as_str(), my_to.as_str(), vec![]),
        (
            from.as_str(),
            db.target().as_str(),
            vec!["--schema", pg_schema.as_str()],
        ),
        (my_to.as_str(), my_copy_url.as_str(), vec![]),
    ] {
        let (code, out, err) = verify(f, t, &extra);
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains("equal") && !out.contains("counted only"),
            "{out}"
        );
    }
    // One changed value is found, whichever side it is on; JSON written with its keys in
    // another order is the same JSON.
    let mut my = db.mysql().await;
    my.query_drop("UPDATE t SET j = JSON_OBJECT('b', 'x', 'a', 5) WHERE id = 5")
        .await
        .unwrap();
    let (code, out, _) = verify(&from, &my_to, &[]);
    assert_eq!(code, 0, "{out}");
    my.query_drop("UPDATE t SET ts = ts + INTERVAL 1 SECOND WHERE id = 7")
        .await
        .unwrap();
    let (code, out, _) = verify(&from, &my_to, &[]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("DIFFERENT"), "{out}");
    let (code, out, _) = verify(&my_to, &my_copy_url, &[]);
    assert!(code != 0 && out.contains("DIFFERENT"), "{out}");
    pg.batch_execute(&format!(
        "UPDATE \"{pg_schema}\".t SET txt = 'changed' WHERE id = 9"
    ))
    .await
    .unwrap();
    let (code, out, _) = verify(&from, &db.target(), &["--schema", &pg_schema]);
    assert!(code != 0 && out.contains("DIFFERENT"), "{out}");
    my.query_drop(format!("DROP DATABASE `{my_copy}`"))
        .await
        .unwrap();
    for s in [&src, &pg_schema] {
        let _ = pg
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE"))
            .await;
    }
}

/// The line of `out` for column `col` (two-space indent), and the lines under it.
fn column_lines<'a>(out: &'a str, table: &str, col: &str) -> Vec<&'a str> {
    let mut lines = out
        .lines()
        .skip_while(|l| !l.starts_with(&format!("table {table} ")))
        .skip(1)
        .skip_while(|l| !l.starts_with(&format!("  {col} ")));
    let mut found: Vec<&str> = lines.next().into_iter().collect();
    found.extend(lines.take_while(|l| l.starts_with("      ")));
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_inspect_show_each_mapping_into_mysql_and_mark_lossy_and_refused_ones() {
    let (db, src) = with_fixtures("pg2myplan").await;
    db.pg()
        .await
        .batch_execute(&format!(
            "CREATE TABLE \"{src}\".shapes (id int PRIMARY KEY, p point)"
        ))
        .await
        .unwrap();
    let from = format!("{}?schema={src}", db.pg_server);
    let to = format!("{}/{}", db.mysql_server.trim_end_matches('/'), db.name);

    let (ok, out, err) = common::barge(&["inspect", &from, "--to", &to]);
    assert!(ok, "{err}");
    assert!(
        out.contains("types as MySQL/MariaDB declares them"),
        "{out}"
    );
    let tz = column_lines(&out, "zoo_time", "tz").join("\n");
    assert!(
        tz.contains("datetime(6)") && tz.contains("lossy: the time zone: the UTC time"),
        "{tz}\n{out}"
    );
    let iv = column_lines(&out, "zoo_time", "iv").join("\n");
    assert!(
        iv.contains("time(6)") && iv.contains("refuses: intervals with months"),
        "{iv}"
    );
    let tags = column_lines(&out, "zoo_arrays", "tags").join("\n");
    assert!(
        tags.contains("json") && tags.contains("lossy: the array type"),
        "{tags}"
    );
    // Exact mappings carry no mark. The target was asked its version: this MariaDB has a
    // UUID type, so a uuid is exact too.
    assert_eq!(column_lines(&out, "zoo_numbers", "i8").len(), 1, "{out}");
    let uid = column_lines(&out, "zoo_text", "uid");
    assert!(
        uid.len() == 1 && uid[0].trim_end().ends_with(" uuid"),
        "{uid:?}"
    );
    assert!(
        out.contains("refused in MySQL/MariaDB: table shapes, column p: PostgreSQL type point has no MySQL mapping"),
        "{out}"
    );
    assert!(
        out.contains("CONSTRAINT `title_not_blank` CHECK (")
            && out.contains(
                "left out in MySQL/MariaDB: CHECK constraint published_from_2020 is not carried"
            ),
        "{out}"
    );
    // A domain whose CHECK MySQL can say is its base type with that CHECK: nothing lost.
    assert_eq!(column_lines(&out, "zoo_text", "mail").len(), 1, "{out}");
    // Into PostgreSQL, the enum and the domain are created in the target schema.
    let (ok, out, _) = common::barge(&["inspect", &from, "--schema", "app"]);
    assert!(ok);
    let mail = column_lines(&out, "zoo_text", "mail");
    assert!(
        mail.len() == 1 && mail[0].contains("\"app\".\"email\""),
        "{mail:?}\n{out}"
    );

    // The plan shows the same, lists the refused table, exits 1 and writes nothing.
    let job = std::env::temp_dir().join(format!("{}.toml", db.name));
    std::fs::write(
        &job,
        format!(
            "[connections.pg]\nurl = \"{from}\"\n[connections.my]\nurl = \"{to}\"\n\n[[routes]]\ntables = \"*\"\nfrom = \"pg\"\nto = \"my\"\n"
        ),
    )
    .unwrap();
    let (code, out, err) = common::barge_exit(&["plan", job.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    let tz = column_lines(&out, "zoo_time", "tz").join("\n");
    assert!(
        tz.contains("→ tz") && tz.contains("datetime(6)") && tz.contains("lossy: the time zone"),
        "{tz}\n{out}"
    );
    assert!(out.contains("table shapes: refused: "), "{out}");
    // The CHECKs MySQL gets, and the one it does not, with why.
    assert!(
        out.contains("CONSTRAINT `title_not_blank` CHECK (")
            && out.contains(
                "warning: CHECK constraint published_from_2020 is not carried (it is NOT VALID"
            ),
        "{out}"
    );
    assert!(!out.contains("barge-test"), "password in plan output");
    // The same plan for a program: JSON, with the same exit status.
    let (code, out, err) = common::barge_exit(&["plan", "--json", job.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(!out.contains("barge-test"), "password in plan JSON");
    let routes: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let tables = routes[0]["tables"].as_array().unwrap();
    let articles = tables.iter().find(|t| t["source"] == "articles").unwrap();
    assert!(
        articles["checks"].to_string().contains("title_not_blank")
            && articles["checks_left_out"]
                .to_string()
                .contains("published_from_2020"),
        "{articles}"
    );
    let tz = tables.iter().find(|t| t["source"] == "zoo_time").unwrap()["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "tz")
        .unwrap()
        .clone();
    assert!(
        tz["declaration"] == "datetime(6)" && tz["lossy"].to_string().contains("the time zone"),
        "{tz}"
    );
    assert!(
        tables
            .iter()
            .any(|t| t["source"] == "shapes" && t["refused"].is_string()),
        "{out}"
    );
    let mut my = db.mysql().await;
    let tables: Vec<String> = my
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
            (&db.name,),
        )
        .await
        .unwrap();
    assert!(tables.is_empty(), "plan wrote {tables:?}");
    let _ = std::fs::remove_file(job);
}
