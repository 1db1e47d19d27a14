//! The harness itself and the fixture data: what the tests stand on.

mod common;

use barge::fixtures::FixtureSet;
use common::TestDb;
use mysql_async::prelude::Queryable;

#[tokio::test]
async fn unreachable_server_is_a_clear_error_not_a_skip() {
    let my = common::connect_mysql("mysql://barge:hunter2@127.0.0.1:1/")
        .await
        .unwrap_err();
    assert!(my.contains("MariaDB test server"), "{my}");
    assert!(
        my.contains("127.0.0.1:1") && my.contains("not reachable"),
        "{my}"
    );
    assert!(my.contains("scripts/services"), "{my}");
    assert!(!my.contains("hunter2"), "password leaked: {my}");
    let pg = common::connect_pg("postgres://barge:hunter2@127.0.0.1:1/barge")
        .await
        .unwrap_err();
    assert!(
        pg.contains("PostgreSQL test server") && pg.contains("not reachable"),
        "{pg}"
    );
    assert!(pg.contains("scripts/services"), "{pg}");
    assert!(!pg.contains("hunter2"), "password leaked: {pg}");

    // A test built on the harness fails (panics) with that message.
    let joined = tokio::spawn(async {
        TestDb::with_servers(
            "closed",
            "mysql://barge:hunter2@127.0.0.1:1/",
            &common::pg_server_url(),
        )
        .await
    })
    .await;
    let panic = joined
        .err()
        .expect("TestDb must fail on a closed port")
        .into_panic();
    let msg = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        msg.contains("MariaDB test server") && msg.contains("scripts/services"),
        "{msg}"
    );
}

async fn count(c: &mut mysql_async::Conn, table: &str) -> u64 {
    c.query_first(format!("SELECT COUNT(*) FROM `{table}`"))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_and_type_zoo_load_as_intended() {
    let db = TestDb::new("fixtures").await;
    db.load(&[FixtureSet::Legacy, FixtureSet::TypeZoo]).await;
    let mut c = db.mysql().await;
    let expected = [
        ("publishers", 3),
        ("publisher_addresses", 3),
        ("characters", 10),
        ("posts", 5),
        ("teams", 6),
        ("memberships", 6),
        ("characters_teams", 6),
        ("schema_migrations", 4),
        ("ar_internal_metadata", 1),
        ("audits", 0),
        ("order", 3),
        ("LineItems", 3),
        ("zoo_integers", 6),
        ("zoo_decimals", 7),
        ("zoo_floats", 10),
        ("zoo_bits", 5),
        ("zoo_strings", 7),
        ("zoo_binary", 5),
        ("zoo_temporal", 7),
        ("zoo_enum_set", 6),
        ("zoo_json", 10),
        ("zoo_spatial", 6),
    ];
    for (table, rows) in expected {
        assert_eq!(count(&mut c, table).await, rows, "rows in {table}");
    }

    // Rails conventions: no declared constraint on publisher_id, one declared FK elsewhere.
    let fks: Vec<(String, String)> = c
        .query(format!(
            "SELECT TABLE_NAME, REFERENCED_TABLE_NAME FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = '{}' AND REFERENCED_TABLE_NAME IS NOT NULL",
            db.name
        ))
        .await
        .unwrap();
    assert_eq!(
        fks,
        vec![("publisher_addresses".to_string(), "publishers".to_string())]
    );
    let no_pk: u64 = c
        .query_first(format!(
            "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '{}' \
             AND TABLE_NAME = 'characters_teams' AND INDEX_NAME = 'PRIMARY'",
            db.name
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(no_pk, 0, "characters_teams has no primary key");

    // Edge values are in the source as intended.
    let bi_u: String = c
        .query_first("SELECT CAST(bi_u AS CHAR) FROM zoo_integers WHERE id = 2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bi_u, "18446744073709551615");
    let d65: String = c
        .query_first("SELECT CAST(d65_30 AS CHAR) FROM zoo_decimals WHERE id = 1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d65, format!("{}.{}", "9".repeat(35), "9".repeat(30)));
    let all_bytes: String = (0..=255u8).map(|b| format!("{b:02X}")).collect();
    let (vb, bl, len): (String, String, u64) = c
        .query_first("SELECT HEX(vb), HEX(bl), LENGTH(lb) FROM zoo_binary WHERE id = 1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (vb.as_str(), bl.as_str(), len),
        (all_bytes.as_str(), all_bytes.as_str(), 256)
    );
    let zero_dates: u64 = c
        .query_first("SELECT COUNT(*) FROM zoo_temporal WHERE CAST(d AS CHAR) = '0000-00-00'")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(zero_dates, 1, "one 0000-00-00");
    let zero_day: u64 = c
        .query_first("SELECT COUNT(*) FROM zoo_temporal WHERE CAST(d AS CHAR) = '2024-02-00'")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(zero_day, 1, "one 2024-02-00");
    let neg_time: String = c
        .query_first("SELECT CAST(MIN(t) AS CHAR) FROM zoo_temporal")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(neg_time, "-838:59:59.000000");
    let emoji: u64 = c
        .query_first("SELECT COUNT(*) FROM zoo_strings WHERE vc LIKE '%🦀%'")
        .await
        .unwrap()
        .unwrap();
    assert!(emoji >= 1, "an emoji row");
    let euro: String = c
        .query_first("SELECT HEX(l1) FROM zoo_strings WHERE l1 LIKE '%€%'")
        .await
        .unwrap()
        .unwrap();
    assert!(
        euro.contains("80"),
        "€ is 0x80 in MySQL's latin1 (cp1252): {euro}"
    );
    let json_checked: u64 = c
        .query_first(format!(
            "SELECT COUNT(*) FROM information_schema.CHECK_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = '{}' AND CHECK_CLAUSE LIKE 'json_valid(%'",
            db.name
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(
        json_checked >= 2,
        "JSON columns carry json_valid checks (zoo_json.j, posts.metadata)"
    );
    let null_rows: u64 = c
        .query_first(
            "SELECT COUNT(*) FROM zoo_integers WHERE ti IS NULL AND bi_u IS NULL AND flag IS NULL",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(null_rows, 1, "the all-NULL row");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generator_fills_exact_counts_and_same_seed_gives_same_data() {
    let a = TestDb::new("gen_a").await;
    let b = TestDb::new("gen_b").await;
    for db in [&a, &b] {
        db.load(&[FixtureSet::Legacy]).await;
    }
    let t = std::time::Instant::now();
    a.generate("characters", 250_000, 42).await;
    let characters_s = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    a.generate("posts", 1_000_000, 42).await;
    let posts_s = t.elapsed().as_secs_f64();
    eprintln!("generator: 250k characters in {characters_s:.2}s, 1M posts in {posts_s:.2}s");
    let mut ca = a.mysql().await;
    assert_eq!(count(&mut ca, "characters").await, 250_000);
    assert_eq!(count(&mut ca, "posts").await, 1_000_000);
    let (min, max): (u64, u64) = ca
        .query_first("SELECT MIN(id), MAX(id) FROM posts")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((min, max), (1, 1_000_000));

    // Roughly 10% NULLs in nullable columns, and multibyte text.
    let nulls: u64 = ca
        .query_first("SELECT COUNT(*) FROM posts WHERE body IS NULL")
        .await
        .unwrap()
        .unwrap();
    assert!((80_000..120_000).contains(&nulls), "body NULLs: {nulls}");
    let multibyte: u64 = ca
        .query_first("SELECT COUNT(*) FROM posts WHERE LENGTH(title) > CHAR_LENGTH(title)")
        .await
        .unwrap()
        .unwrap();
    assert!(multibyte > 100_000, "multibyte titles: {multibyte}");
    let zero_dates: u64 = ca
        .query_first("SELECT COUNT(*) FROM posts WHERE CAST(published_on AS CHAR) = '0000-00-00'")
        .await
        .unwrap()
        .unwrap();
    assert!(zero_dates > 0, "posts carry some zero dates");

    // Same seed, same bytes; another seed, other bytes.
    a.generate("posts", 20_000, 42).await;
    b.generate("posts", 20_000, 42).await;
    let checksum = |db: &TestDb| {
        let name = db.name.clone();
        let url = common::mysql_server_url();
        async move {
            let mut c = common::connect_mysql(&url).await.unwrap();
            let row: (String, u64) = c
                .query_first(format!("CHECKSUM TABLE `{name}`.posts"))
                .await
                .unwrap()
                .unwrap();
            row.1
        }
    };
    assert_eq!(checksum(&a).await, checksum(&b).await);
    b.generate("posts", 20_000, 43).await;
    assert_ne!(checksum(&a).await, checksum(&b).await);
}
