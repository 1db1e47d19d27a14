//! `barge copy` against real servers: every value, the schema it creates, its modes, and
//! what it does with bad input.

mod common;

use barge::fixtures::FixtureSet;
use barge::{Mode, Selection, Status};
use common::{assert_table_identical, barge, TestDb};
use mysql_async::prelude::Queryable;

async fn mysql_tables(db: &TestDb) -> Vec<String> {
    let mut my = db.mysql().await;
    my.exec(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1",
        (&db.name,),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_value_of_every_column_arrives() {
    let db = TestDb::new("values").await;
    db.load(&[FixtureSet::Legacy, FixtureSet::TypeZoo]).await;
    let report = db.copy(&db.options()).await.unwrap();
    assert!(report.ok(), "{}", report.to_text());
    let tables = mysql_tables(&db).await;
    assert_eq!(tables.len(), 22);
    assert_eq!(db.pg_tables().await, {
        let mut t = tables.clone();
        t.sort();
        t
    });
    for t in &tables {
        let rows = assert_table_identical(&db, t).await;
        let tr = report.table(t).unwrap();
        assert_eq!(
            (tr.rows_read, tr.rows_written, tr.source_rows),
            (rows as u64, rows as u64, rows as u64),
            "{t}"
        );
    }

    // Zero and impossible dates became NULL and are counted per column.
    let mut my = db.mysql().await;
    let zt = report.table("zoo_temporal").unwrap();
    for col in ["d", "dt", "ts", "dt0"] {
        let n: u64 = my
            .query_first(format!(
                "SELECT COUNT(*) FROM zoo_temporal WHERE `{col}` IS NOT NULL AND \
                 (YEAR(`{col}`) = 0 OR MONTH(`{col}`) = 0 OR DAYOFMONTH(`{col}`) = 0)"
            ))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the fixture has zero dates in {col}");
        let count = |m: &std::collections::BTreeMap<String, u64>| m.get(col).copied().unwrap_or(0);
        assert_eq!(
            count(&zt.zero_dates_nulled)
                + count(&zt.partial_dates_nulled)
                + count(&zt.impossible_dates_nulled),
            n,
            "zero and partial dates in {col}"
        );
        let zero: u64 = my
            .query_first(format!(
                "SELECT COUNT(*) FROM zoo_temporal WHERE YEAR(`{col}`) = 0 AND MONTH(`{col}`) = 0 \
                 AND DAYOFMONTH(`{col}`) = 0"
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(count(&zt.zero_dates_nulled), zero, "zero dates in {col}");
    }
    let text = report.to_text();
    assert!(
        text.contains("zoo_temporal.d: 1 zero date(s) (0000-00-00) written as NULL")
            && text.contains(
                "zoo_temporal.d: 1 partial date(s) (a zero month or day, like 1978-00-00) written as NULL"
            ),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_keys_indexes_and_sequences() {
    let db = TestDb::new("schema").await;
    db.load(&[FixtureSet::Legacy]).await;
    let report = db.copy(&db.options()).await.unwrap();
    assert!(report.ok(), "{}", report.to_text());
    let pg = db.pg().await;
    let q = |sql: &'static str| {
        let pg = &pg;
        let schema = db.name.clone();
        async move {
            pg.query(sql, &[&schema])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
        }
    };
    // Staging tables load with autovacuum off; the final tables keep no such setting.
    let options = q(
        "SELECT c.relname || ':' || array_to_string(coalesce(c.reloptions, t.reloptions), ',') \
         FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid \
         WHERE c.relnamespace = $1::text::regnamespace AND c.relkind = 'r' \
           AND (c.reloptions IS NOT NULL OR t.reloptions IS NOT NULL)",
    )
    .await;
    assert!(options.is_empty(), "{options:?}");
    let pks = q(
        "SELECT conrelid::regclass::text || ':' || pg_get_constraintdef(oid) FROM pg_constraint \
                 WHERE contype = 'p' AND connamespace = $1::text::regnamespace ORDER BY 1",
    )
    .await;
    assert!(
        pks.contains(&"memberships:PRIMARY KEY (team_id, character_id)".to_string()),
        "{pks:?}"
    );
    assert!(
        pks.contains(&"\"order\":PRIMARY KEY (id)".to_string()),
        "{pks:?}"
    );
    assert!(
        !pks.iter().any(|p| p.contains("characters_teams")),
        "no PK for the HABTM table: {pks:?}"
    );
    let idx =
        q("SELECT indexname || ':' || indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY 1")
            .await;
    assert!(
        idx.iter()
            .any(|i| i.starts_with("index_publishers_on_name:CREATE UNIQUE INDEX")),
        "{idx:?}"
    );
    assert!(
        idx.iter()
            .any(|i| i.starts_with("index_characters_on_publisher_id:")),
        "{idx:?}"
    );
    assert!(
        idx.iter()
            .any(|i| i.starts_with("index_order_on_user:") && i.contains("(\"user\")")),
        "{idx:?}"
    );
    let fks = q(
        "SELECT conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint \
                 WHERE contype = 'f' AND connamespace = $1::text::regnamespace",
    )
    .await;
    assert_eq!(fks.len(), 1, "{fks:?}");
    assert!(
        fks[0]
            .starts_with("fk_publisher_addresses_publishers:FOREIGN KEY (publisher_id) REFERENCES"),
        "{fks:?}"
    );
    let comments =
        q("SELECT obj_description(('\"' || $1 || '\".publishers')::regclass, 'pg_class')").await;
    assert!(!comments[0].is_empty());

    // Identity columns continue after the copied ids; quoted names work as names.
    let row = pg
        .query_one("INSERT INTO publishers (name, created_at, updated_at) VALUES ('Image', now(), now()) RETURNING id", &[])
        .await
        .unwrap();
    let id: i32 = row.get(0);
    assert!(id >= 4, "new publisher id {id} must follow the copied ones");
    let row = pg
        .query_one(
            "SELECT \"CustomerName\", \"unit price\"::text, \"user\" FROM \"order\" WHERE id = 1",
            &[],
        )
        .await
        .unwrap();
    let got: (String, String, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(got, ("Peter Parker".into(), "19.99".into(), "peter".into()));
    let n: i64 = pg
        .query_one("SELECT count(*) FROM \"LineItems\"", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
    // Self-reference kept; the empty and one-row tables are there.
    let n: i64 = pg
        .query_one(
            "SELECT count(*) FROM teams c JOIN teams p ON p.id = c.parent_id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
    let n: i64 = pg
        .query_one("SELECT count(*) FROM audits", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    let n: i64 = pg
        .query_one("SELECT count(*) FROM ar_internal_metadata", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    // NOT NULL temporal columns without zero dates get NOT NULL back after the load.
    let nn: bool = pg
        .query_one(
            "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'characters'::regclass AND attname = 'created_at'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(nn);
    // No staging tables left behind.
    assert!(!db.pg_tables().await.iter().any(|t| t.starts_with("_barge")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_tables_read_in_parallel_arrive_whole() {
    let db = TestDb::new("parts").await;
    db.load(&[FixtureSet::Legacy]).await;
    db.generate("characters", 60_000, 7).await;
    db.generate("posts", 30_000, 7).await;
    // Punch holes in the key space: ranges must not lose or duplicate rows around them.
    let mut my = db.mysql().await;
    my.query_drop("DELETE FROM characters WHERE id BETWEEN 10000 AND 25000 OR id % 7 = 0")
        .await
        .unwrap();
    let opts = barge::CopyOptions {
        min_partition_rows: 5_000,
        jobs: 4,
        batch_rows: 1000,
        ..db.options()
    };
    let report = db.copy(&opts).await.unwrap();
    assert!(report.ok(), "{}", report.to_text());
    assert!(report.table("characters").unwrap().partitions > 1);
    assert!(report.table("posts").unwrap().partitions > 1);
    assert_table_identical(&db, "characters").await;
    assert_table_identical(&db, "posts").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selection_modes_and_reruns() {
    let db = TestDb::new("modes").await;
    db.load(&[FixtureSet::Legacy]).await;

    let only = barge::CopyOptions {
        selection: Selection {
            tables: vec!["publishers".into(), "characters".into()],
            exclude: vec![],
            ..Default::default()
        },
        ..db.options()
    };
    assert!(db.copy(&only).await.unwrap().ok());
    assert_eq!(db.pg_tables().await, vec!["characters", "publishers"]);

    // A rerun without --drop refuses and changes nothing; with --drop it replaces.
    let pg = db.pg().await;
    pg.batch_execute("DELETE FROM characters WHERE id > 5")
        .await
        .unwrap();
    let err = db.copy(&only).await.unwrap_err().to_string();
    assert!(
        err.contains("already exists") && err.contains("--drop"),
        "{err}"
    );
    let n: i64 = pg
        .query_one("SELECT count(*) FROM characters", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 5, "refused rerun must not touch the table");
    // A table outside the copy holds a foreign key on a table --drop replaces: said, not hidden.
    pg.batch_execute("CREATE TABLE fan_clubs (id int PRIMARY KEY, character_id bigint CONSTRAINT fk_fan_hero REFERENCES characters (id))")
        .await
        .unwrap();
    let report = db
        .copy(&barge::CopyOptions {
            drop: true,
            ..only.clone()
        })
        .await
        .unwrap();
    assert!(report.ok(), "{}", report.to_text());
    assert!(
        report.to_text().contains("the foreign key fk_fan_hero that fan_clubs (not part of this copy) holds on it is dropped"),
        "{}",
        report.to_text()
    );
    pg.batch_execute("DROP TABLE fan_clubs").await.unwrap();
    assert_table_identical(&db, "characters").await;

    // --exclude
    let rest = barge::CopyOptions {
        selection: Selection {
            tables: vec![],
            exclude: vec!["publishers".into(), "characters".into(), "posts".into()],
            ..Default::default()
        },
        ..db.options()
    };
    let report = db.copy(&rest).await.unwrap();
    assert!(report.ok(), "{}", report.to_text());
    let tables = db.pg_tables().await;
    assert_eq!(tables.len(), 11, "{tables:?}");
    assert!(!tables.contains(&"posts".to_string()));

    // --schema-only creates empty tables; --data-only then fills them.
    let posts = barge::CopyOptions {
        selection: Selection {
            tables: vec!["posts".into()],
            exclude: vec![],
            ..Default::default()
        },
        mode: Mode::SchemaOnly,
        ..db.options()
    };
    assert!(db.copy(&posts).await.unwrap().ok());
    let n: i64 = pg
        .query_one("SELECT count(*) FROM posts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    let report = db
        .copy(&barge::CopyOptions {
            mode: Mode::DataOnly,
            ..posts.clone()
        })
        .await
        .unwrap();
    assert!(report.ok(), "{}", report.to_text());
    assert_table_identical(&db, "posts").await;
    let next: i64 = pg
        .query_one("INSERT INTO posts (title, created_at, updated_at) VALUES ('x', now(), now()) RETURNING id", &[])
        .await
        .unwrap()
        .get(0);
    assert!(next > 5, "sequence moved past loaded ids: {next}");

    // --data-only into a hand-made table with other column order and an extra column.
    pg.batch_execute(
        "DROP TABLE schema_migrations; CREATE TABLE schema_migrations (note text, version varchar(255) PRIMARY KEY)",
    )
    .await
    .unwrap();
    let mig = barge::CopyOptions {
        selection: Selection {
            tables: vec!["schema_migrations".into()],
            exclude: vec![],
            ..Default::default()
        },
        mode: Mode::DataOnly,
        ..db.options()
    };
    let report = db.copy(&mig).await.unwrap();
    assert!(report.ok(), "{}", report.to_text());
    let n: i64 = pg
        .query_one(
            "SELECT count(*) FROM schema_migrations WHERE note IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_that_fails_midway_is_not_left_behind() {
    let db = TestDb::new("atomic").await;
    db.load(&[FixtureSet::Legacy]).await;
    let mut my = db.mysql().await;
    // 20k good rows, then a text PostgreSQL cannot store (a TINYINT(1) holding 7 would
    // not do any more: a table this small is checked first and copied as smallint).
    my.query_drop(
        "CREATE TABLE flags (id int PRIMARY KEY, ok tinyint(1), note text);
         INSERT INTO flags SELECT seq, seq % 2, 'fine' FROM seq_1_to_20000;
         UPDATE flags SET note = concat('a', char(0), 'b') WHERE id = 15000;",
    )
    .await
    .unwrap();
    let opts = barge::CopyOptions {
        batch_rows: 1000,
        ..db.options()
    };
    let report = db.copy(&opts).await.unwrap();
    assert!(!report.ok());
    let f = report.table("flags").unwrap();
    assert_eq!(f.status, Status::Failed);
    let e = f.error.as_deref().unwrap();
    assert!(
        e.contains("flags")
            && e.contains("note")
            && e.contains("NUL character")
            && e.contains("id = 15000"),
        "{e}"
    );
    let tables = db.pg_tables().await;
    assert!(!tables.contains(&"flags".to_string()), "{tables:?}");
    assert!(
        !tables.iter().any(|t| t.starts_with("_barge")),
        "{tables:?}"
    );
    assert!(
        tables.contains(&"characters".to_string()),
        "the other tables still load: {tables:?}"
    );

    // The CLI exits non-zero and names the table.
    let (ok, out, _) = barge(&[
        "copy",
        "--from",
        &db.source(),
        "--to",
        &db.target(),
        "--schema",
        &format!("{}_cli", db.name),
        "--tables",
        "flags",
    ]);
    assert!(!ok);
    assert!(out.contains("flags") && out.contains("failed"), "{out}");
    let pg = db.pg().await;
    pg.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS \"{}_cli\" CASCADE",
        db.name
    ))
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_error_and_writes_nothing() {
    let db = TestDb::new("bad").await;
    db.load(&[FixtureSet::Legacy]).await;
    let to = db.target();
    let schema = db.name.clone();
    let run = |from: String, extra: &[&str]| {
        let mut args = vec![
            "copy".to_string(),
            "--from".into(),
            from,
            "--to".into(),
            to.clone(),
            "--schema".into(),
            schema.clone(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        barge(&a)
    };
    let src = db.source();
    let with_password = |pw: &str| src.replacen("barge-test", pw, 1);

    let (ok, _, err) = run("mysql://barge:s3cret-pw@127.0.0.1:1/x".into(), &[]);
    assert!(!ok);
    assert!(
        err.contains("cannot connect to the source server") && err.contains("127.0.0.1:1"),
        "{err}"
    );
    assert!(!err.contains("s3cret-pw"), "password leaked: {err}");

    let (ok, _, err) = run(with_password("wrong-pw"), &[]);
    assert!(!ok);
    assert!(
        err.contains("Access denied") && err.contains("source"),
        "{err}"
    );
    assert!(!err.contains("wrong-pw"), "password leaked: {err}");

    let (ok, _, err) = run(
        format!(
            "{}no_such_db_{}",
            common::mysql_server_url(),
            std::process::id()
        ),
        &[],
    );
    assert!(!ok);
    assert!(err.contains("no_such_db"), "{err}");

    let (ok, _, err) = run(src.clone(), &["--tables", "publishers,nope"]);
    assert!(!ok);
    assert!(
        err.contains("no such table") && err.contains("nope"),
        "{err}"
    );

    let (ok, _, err) = run(src.clone(), &["--to-nowhere"]);
    assert!(!ok && err.contains("--to-nowhere"), "{err}");

    let (ok, _, err) = barge(&[
        "copy",
        "--from",
        &src,
        "--to",
        "postgres://barge:pg-s3cret@127.0.0.1:1/barge",
    ]);
    assert!(!ok);
    assert!(
        err.contains("cannot connect to the target server") && !err.contains("pg-s3cret"),
        "{err}"
    );

    // Nothing was written by any of those.
    assert!(db.pg_tables().await.is_empty());

    // A target table with other columns and no --drop: refused, left as it was.
    let pg = db.pg().await;
    pg.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\"; CREATE TABLE publishers (code int)"
    ))
    .await
    .unwrap();
    let (ok, _, err) = run(src.clone(), &["--tables", "publishers,characters"]);
    assert!(!ok);
    assert!(
        err.contains("publishers") && err.contains("already exists"),
        "{err}"
    );
    let (ok, _, err) = run(src.clone(), &["--tables", "publishers", "--data-only"]);
    assert!(!ok);
    assert!(
        err.contains("does not fit") && err.contains("no column"),
        "{err}"
    );
    assert_eq!(db.pg_tables().await, vec!["publishers"]);
    let cols: i64 = pg
        .query_one("SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'publishers'", &[&schema])
        .await
        .unwrap()
        .get(0);
    assert_eq!(cols, 1);

    assert_eq!(db.pg_tables().await, vec!["publishers"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_uuid_and_inet_arrive_as_postgres_uuid_and_inet() {
    let db = TestDb::new("mariatypes").await;
    let mut my = db.mysql().await;
    my.query_drop(
        "CREATE TABLE devices (id int PRIMARY KEY, u uuid, a6 inet6, a4 inet4, UNIQUE KEY u (u));
         INSERT INTO devices VALUES
           (1, uuid(), '2001:db8::1', '10.0.0.1'),
           (2, '00000000-0000-0000-0000-000000000000', '::ffff:1.2.3.4', '255.255.255.255'),
           (3, NULL, NULL, NULL),
           (4, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '::', '0.0.0.0'),
           (5, 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '127.0.0.1');",
    )
    .await
    .unwrap();
    let report = db.copy(&db.options()).await.unwrap();
    assert!(report.ok(), "{}", report.to_text());
    assert_eq!(common::assert_table_identical(&db, "devices").await, 5);
    assert_eq!(
        db.pg_column_types("devices").await,
        ["id integer", "u uuid", "a6 inet", "a4 inet"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_checksums_agree_across_servers_and_catch_a_changed_value() {
    let db = TestDb::new("checksum").await;
    db.load(&[FixtureSet::Legacy, FixtureSet::TypeZoo]).await;
    assert!(db.copy(&db.options()).await.unwrap().ok());
    let mut my = db.mysql().await;
    let pg = db.pg().await;
    let catalog = barge::engine::mysql::catalog::introspect(&mut my, &db.name)
        .await
        .unwrap();
    let plans = barge::plan::plan(
        &catalog,
        barge::engine::source_types(catalog.engine),
        &Selection::default(),
    )
    .unwrap();
    for p in &plans {
        let s = barge::verify::mysql_checksum(&mut my, &db.name, &p.source, &p.columns, None)
            .await
            .unwrap();
        let t = barge::verify::pg_checksum(&pg, &db.name, &p.target, &p.columns)
            .await
            .unwrap();
        assert_eq!(s, t, "checksum of {}", p.source);
    }
    let zoo = plans.iter().find(|p| p.source == "zoo_floats").unwrap();
    let before = barge::verify::pg_checksum(&pg, &db.name, "zoo_floats", &zoo.columns)
        .await
        .unwrap();
    // The smallest possible change: the next float after the largest value's predecessor.
    pg.batch_execute(
        "UPDATE zoo_floats SET d = d * (1 - 2.220446049250313e-16) \
         WHERE id = (SELECT min(id) FROM zoo_floats WHERE d > 1)",
    )
    .await
    .unwrap();
    let after = barge::verify::pg_checksum(&pg, &db.name, "zoo_floats", &zoo.columns)
        .await
        .unwrap();
    assert_eq!(before.rows, after.rows);
    assert_ne!(
        before.hash, after.hash,
        "a one-ulp change in one double must change the checksum"
    );
}

/// `consistent`: every partition reads the same moment of a source that changes meanwhile.
/// A writer keeps moving two rows that sit in the first and the last partition together, one
/// transaction at a time; without one snapshot the partitions would see different moments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_reads_one_moment_of_a_live_source() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let db = TestDb::new("snap").await;
    db.load(&[FixtureSet::Legacy]).await;
    db.generate("characters", 150_000, 9).await;
    let mut my = db.mysql().await;
    my.query_drop("UPDATE characters SET power_level = 0 WHERE id IN (1, 150000)")
        .await
        .unwrap();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut updates = 0u64;
            while !stop.load(Ordering::Relaxed) {
                my.query_drop(
                    "UPDATE characters SET power_level = power_level + 1 WHERE id IN (1, 150000)",
                )
                .await
                .unwrap();
                updates += 1;
            }
            updates
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut opts = db.options();
    opts.selection.tables = vec!["characters".into()];
    opts.min_partition_rows = 10_000;
    opts.consistent = true;
    let report = db.copy(&opts).await.unwrap();
    assert!(report.ok(), "{}", report.to_text());
    assert!(report.tables[0].partitions >= 3, "{}", report.to_text());

    // A user without RELOAD: barge falls back to LOCK TABLES … READ on the tables it reads.
    let user = format!("ro_{}", db.name);
    let mut admin = db.mysql().await;
    admin
        .query_drop(format!(
            "CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY 'ro-pass'; \
             GRANT SELECT, LOCK TABLES ON `{}`.* TO '{user}'@'%'",
            db.name
        ))
        .await
        .unwrap();
    let source = db.source();
    let at = source.find('@').unwrap();
    let restricted = format!("mysql://{user}:ro-pass{}", &source[at..]);
    let mut ro_opts = opts.clone();
    ro_opts.schema = format!("{}_ro", db.name);
    let ro_report = barge::copy(
        &barge::DbUrl::parse(&restricted).unwrap(),
        &barge::DbUrl::parse(&db.target()).unwrap(),
        &ro_opts,
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let updates = writer.await.unwrap();
    admin
        .query_drop(format!("DROP USER '{user}'@'%'"))
        .await
        .unwrap();
    let ro_report = ro_report.unwrap();
    assert!(ro_report.ok(), "{}", ro_report.to_text());

    let pg = db.pg().await;
    assert!(
        updates > 10,
        "the source changed during the copy: {updates} updates"
    );
    for schema in [&db.name, &ro_opts.schema] {
        let levels: Vec<i32> = pg
            .query(
                &format!(
                    "SELECT power_level FROM \"{schema}\".characters WHERE id IN (1, 150000) ORDER BY id"
                ),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            levels[0], levels[1],
            "{schema}: both rows as of one moment, while {updates} updates ran"
        );
    }
}

/// A PostgreSQL target URL may name its schema (`?schema=NAME`), as a source's does; the
/// same schema in `--schema` too is fine, two different ones are a usage error before
/// anything is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_url_names_its_schema() {
    let db = TestDb::new("url_schema").await;
    db.load(&[FixtureSet::Legacy]).await;
    let from = db.source();
    let to = format!("{}?schema={}", db.target(), db.name);
    let (code, out, err) = common::barge_exit(
        &[
            "copy",
            "--from",
            &from,
            "--to",
            &to,
            "--tables",
            "publishers",
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("schema {}", db.name)), "{out}");
    assert_eq!(db.table_count(&db.name).await, 1);
    let other = format!("{}_other", db.name);
    let (code, out, err) = common::barge_exit(
        &["copy", "--from", &from, "--to", &to, "--schema", &other],
        &[],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(&format!(
            "--schema {other} and the target URL's ?schema={}",
            db.name
        )),
        "{err}"
    );
    assert_eq!(db.table_count(&other).await, 0);
}

/// The library reads a target URL's schema as the CLI does: options naming none take the
/// URL's, and options naming another (`public` too) are an error before anything is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_library_takes_the_url_schema_unless_the_options_name_another() {
    let db = TestDb::new("lib_url_schema").await;
    db.load(&[FixtureSet::Legacy]).await;
    let from = barge::DbUrl::parse(&db.source()).unwrap();
    let to = barge::DbUrl::parse(&format!("{}?schema={}", db.target(), db.name)).unwrap();
    let opts = barge::CopyOptions {
        selection: Selection {
            tables: vec!["publishers".into()],
            ..Default::default()
        },
        jobs: 2,
        ..Default::default()
    };
    assert_eq!(opts.schema, "", "the default names no schema");
    let report = barge::copy(&from, &to, &opts).await.unwrap();
    assert!(report.ok(), "{}", report.to_text());
    assert_eq!(db.table_count(&db.name).await, 1);
    let public = barge::CopyOptions {
        schema: "public".into(),
        drop: true,
        ..opts.clone()
    };
    let e = barge::copy(&from, &to, &public).await.unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("it names schema {}", db.name))
            && e.to_string().contains("name public"),
        "{e}"
    );
    let in_public: i64 = db
        .pg()
        .await
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'publishers'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(in_public, 0);
}

/// Laravel's `$table->id()` (BIGINT UNSIGNED AUTO_INCREMENT) becomes a bigint identity in
/// PostgreSQL, so that the app can insert there; a key past bigint fails its table naming
/// it, and the cast the error's reader can give keeps numeric(20,0).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bigint_unsigned_auto_increment_key_becomes_a_bigint_identity() {
    let db = TestDb::new("laravel_pg").await;
    let mut my = db.mysql().await;
    my.query_drop(
        "CREATE TABLE users (id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, \
                             name varchar(20) NOT NULL);
         INSERT INTO users (name) VALUES ('a'), ('b'), ('c');
         CREATE TABLE big (id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY);
         INSERT INTO big VALUES (1), (18446744073709551000);",
    )
    .await
    .unwrap();
    let (code, out, err) = db.copy_cli(&db.name, &["--tables", "users"]);
    assert_eq!(code, 0, "{out}{err}");
    let pg = db.pg().await;
    let identity: String = pg
        .query_one(
            "SELECT format_type(atttypid, atttypmod) || ' ' || attidentity::text FROM pg_attribute \
             WHERE attrelid = 'users'::regclass AND attname = 'id'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(identity, "bigint d");
    let next: i64 = pg
        .query_one("INSERT INTO users (name) VALUES ('next') RETURNING id", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(next, 4);

    let (code, out, err) = db.copy_cli(&db.name, &["--tables", "big"]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        format!("{out}{err}").contains("18446744073709551000"),
        "{out}{err}"
    );
    let (code, out, err) = db.copy_cli(
        &db.name,
        &["--tables", "big", "--cast", "big.id=bigint unsigned"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let got: Vec<String> = common::first_column(
        &pg,
        "SELECT id::text || ' ' || pg_typeof(id)::text FROM big ORDER BY id",
    )
    .await;
    assert_eq!(got, ["1 numeric", "18446744073709551000 numeric"]);
}
