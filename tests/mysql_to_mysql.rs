//! MySQL/MariaDB → MySQL/MariaDB: every fixture table arrives value for value, with its own
//! column declarations, keys, indexes and foreign keys. Compared through the server's own
//! values (binary protocol: floats bit for bit), never through barge's reader.

mod common;

use barge::fixtures::FixtureSet;
use barge::{DbUrl, Status};
use common::TestDb;
use mysql_async::prelude::Queryable;
use mysql_async::Value;

fn target_url(db: &TestDb, database: &str) -> String {
    format!("{}/{database}", db.mysql_server.trim_end_matches('/'))
}

async fn columns(my: &mut mysql_async::Conn, db: &str, table: &str) -> Vec<(String, String)> {
    my.exec(
        "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
        (db, table),
    )
    .await
    .unwrap()
}

/// Every row of `db.table` through the binary protocol, in one order. Geometry as its WKB;
/// on the source side (`zero_is_null`), a date MySQL keeps but no calendar has is NULL, as
/// barge writes it (counted in the report).
async fn rows(
    my: &mut mysql_async::Conn,
    db: &str,
    table: &str,
    cols: &[(String, String)],
    zero_is_null: bool,
) -> Vec<Vec<Value>> {
    let exprs: Vec<String> = cols
        .iter()
        .map(|(c, t)| {
            let q = format!("`{c}`");
            match t.as_str() {
                "geometry" | "point" | "linestring" | "polygon" | "multipoint"
                | "multilinestring" | "multipolygon" | "geometrycollection" => {
                    format!("ST_AsWKB({q})")
                }
                "date" | "datetime" | "timestamp" if zero_is_null => {
                    format!("IF(YEAR({q}) = 0 OR MONTH({q}) = 0 OR DAYOFMONTH({q}) = 0, NULL, {q})")
                }
                _ => q,
            }
        })
        .collect();
    let order: Vec<String> = (1..=cols.len()).map(|i| i.to_string()).collect();
    let sql = format!(
        "SELECT {} FROM `{db}`.`{table}` ORDER BY {}",
        exprs.join(", "),
        order.join(", ")
    );
    let rows: Vec<mysql_async::Row> = my.exec(sql, ()).await.unwrap();
    rows.into_iter().map(|r| r.unwrap()).collect()
}

async fn declarations(my: &mut mysql_async::Conn, db: &str, table: &str) -> Vec<String> {
    my.exec(
        "SELECT CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE, ' ', IS_NULLABLE, ' ', \
                IFNULL(COLUMN_DEFAULT, '-'), ' ', EXTRA) \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
         ORDER BY ORDINAL_POSITION",
        (db, table),
    )
    .await
    .unwrap()
}

async fn indexes(my: &mut mysql_async::Conn, db: &str, table: &str) -> Vec<String> {
    my.exec(
        "SELECT CONCAT(INDEX_NAME, ' ', INDEX_TYPE, ' ', NON_UNIQUE, ' ', \
                GROUP_CONCAT(COLUMN_NAME, IFNULL(CONCAT('(', SUB_PART, ')'), '') ORDER BY SEQ_IN_INDEX)) \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
         GROUP BY INDEX_NAME, INDEX_TYPE, NON_UNIQUE ORDER BY INDEX_NAME",
        (db, table),
    )
    .await
    .unwrap()
}

async fn foreign_keys(my: &mut mysql_async::Conn, db: &str) -> Vec<String> {
    my.exec(
        "SELECT CONCAT(TABLE_NAME, '.', CONSTRAINT_NAME, ' → ', REFERENCED_TABLE_NAME) \
         FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? ORDER BY 1",
        (db,),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fixture_table_arrives_value_for_value() {
    let db = TestDb::new("m2m").await;
    db.load(&[FixtureSet::Legacy, FixtureSet::TypeZoo]).await;
    db.generate("characters", 30_000, 7).await;
    // FULLTEXT and SPATIAL keys, two FULLTEXT ones (InnoDB adds one per ALTER).
    db.mysql()
        .await
        .query_drop(
            "CREATE TABLE docs (id int PRIMARY KEY, title varchar(200) CHECK (title <> ''), body text,
               place point NOT NULL, KEY by_title (title), CONSTRAINT id_positive CHECK (id > 0),
               FULLTEXT KEY ft_title (title), FULLTEXT KEY ft_both (title, body),
               SPATIAL KEY sp_place (place));
             INSERT INTO docs SELECT seq, concat('title ', seq), repeat('word ', seq % 50),
               Point(seq, -seq) FROM seq_1_to_3000;",
        )
        .await
        .unwrap();
    let copy = format!("{}_copy", db.name);

    let opts = barge::CopyOptions {
        min_partition_rows: 4_000,
        batch_rows: 1_000,
        ..db.options()
    };
    let report = barge::copy(
        &DbUrl::parse(&db.source()).unwrap(),
        &DbUrl::parse(&target_url(&db, &copy)).unwrap(),
        &opts,
    )
    .await
    .unwrap();
    assert!(report.ok(), "{}", report.to_text());
    // CHECK constraints, the column's own and the table's, as the source has them.
    let mut my = db.mysql().await;
    let mut checks = Vec::new();
    for database in [&db.name, &copy] {
        let c: Vec<String> = my
            .exec(
                "SELECT CONCAT(TABLE_NAME, ' ', CONSTRAINT_NAME, ' ', CHECK_CLAUSE) \
                 FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? ORDER BY 1",
                (database,),
            )
            .await
            .unwrap();
        checks.push(c);
    }
    assert_eq!(checks[0], checks[1]);
    assert!(
        checks[0].iter().any(|c| c.starts_with("docs id_positive")),
        "{checks:?}"
    );
    drop(my);
    assert!(
        report.table("characters").unwrap().partitions >= 3,
        "characters loads over several connections: {}",
        report.to_text()
    );

    let mut my = db.mysql().await;
    let tables: Vec<String> = my
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? \
             AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1",
            (&db.name,),
        )
        .await
        .unwrap();
    let copied: Vec<String> = my
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1",
            (&copy,),
        )
        .await
        .unwrap();
    assert_eq!(tables, copied, "the same tables, and no _barge_ leftovers");

    let mut values = 0;
    for t in &tables {
        let cols = columns(&mut my, &db.name, t).await;
        let source = rows(&mut my, &db.name, t, &cols, true).await;
        let target = rows(&mut my, &copy, t, &cols, false).await;
        assert_eq!(source.len(), target.len(), "{t}: row count");
        for (i, (s, d)) in source.iter().zip(&target).enumerate() {
            assert_eq!(s, d, "{t}: row {i} differs");
        }
        values += source.len() * cols.len();
        // Each column keeps its own declaration; the keys and indexes are the source's.
        assert_eq!(
            declarations(&mut my, &db.name, t).await,
            declarations(&mut my, &copy, t).await,
            "{t}: column declarations"
        );
        assert_eq!(
            indexes(&mut my, &db.name, t).await,
            indexes(&mut my, &copy, t).await,
            "{t}: keys and indexes"
        );
        // Dates MySQL keeps but no calendar has became NULL, and the report counts each.
        let r = report.table(t).unwrap();
        let nulled: u64 = r.zero_dates_nulled.values().sum::<u64>()
            + r.partial_dates_nulled.values().sum::<u64>()
            + r.impossible_dates_nulled.values().sum::<u64>();
        let expected: u64 = {
            let mut n = 0;
            for (c, ty) in cols
                .iter()
                .filter(|(_, ty)| matches!(ty.as_str(), "date" | "datetime" | "timestamp"))
            {
                let _ = ty;
                let k: Option<u64> = my
                    .query_first(format!(
                        "SELECT COUNT(*) FROM `{}`.`{t}` WHERE YEAR(`{c}`) = 0 OR MONTH(`{c}`) = 0 OR DAYOFMONTH(`{c}`) = 0",
                        db.name
                    ))
                    .await
                    .unwrap();
                n += k.unwrap_or(0);
            }
            n
        };
        assert_eq!(nulled, expected, "{t}: dates written as NULL are counted");
    }
    assert!(values > 100_000, "compared {values} values");
    let mut fks = foreign_keys(&mut my, &db.name).await;
    let mut copied_fks = foreign_keys(&mut my, &copy).await;
    fks.sort();
    copied_fks.sort();
    assert_eq!(fks, copied_fks, "foreign keys");
    // 4-byte UTF-8 arrives intact, in utf8mb4 tables.
    let collations: Vec<String> = my
        .exec(
            "SELECT DISTINCT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
            (&copy,),
        )
        .await
        .unwrap();
    assert_eq!(collations, vec!["utf8mb4_bin".to_string()]);

    // Again with --drop: each table is swapped in whole, and nothing is left over. A table
    // outside the copy that refers to a replaced one loses that foreign key, with a warning.
    my.query_drop(format!(
        "CREATE TABLE `{copy}`.fans (id int PRIMARY KEY, team_id bigint, \
         CONSTRAINT fk_fan_team FOREIGN KEY (team_id) REFERENCES `{copy}`.teams (id))"
    ))
    .await
    .unwrap();
    let report = barge::copy(
        &DbUrl::parse(&db.source()).unwrap(),
        &DbUrl::parse(&target_url(&db, &copy)).unwrap(),
        &barge::CopyOptions {
            drop: true,
            ..opts.clone()
        },
    )
    .await
    .unwrap();
    assert!(report.ok(), "{}", report.to_text());
    let again: Vec<String> = my
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1",
            (&copy,),
        )
        .await
        .unwrap();
    let again: std::collections::BTreeSet<String> = again.into_iter().collect();
    assert_eq!(
        again,
        tables
            .iter()
            .cloned()
            .chain(["fans".to_string()])
            .collect::<std::collections::BTreeSet<_>>()
    );
    assert!(
        report.to_text().contains(
            "the foreign key fk_fan_team that fans (not part of this copy) holds on it is dropped"
        ),
        "{}",
        report.to_text()
    );
    let dangling: Vec<String> = my
        .exec(
            "SELECT CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = 'fans'",
            (&copy,),
        )
        .await
        .unwrap();
    assert!(dangling.is_empty(), "{dangling:?}");
    // Without --drop, existing tables are an error before anything is written.
    let e = barge::copy(
        &DbUrl::parse(&db.source()).unwrap(),
        &DbUrl::parse(&target_url(&db, &copy)).unwrap(),
        &opts,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn multi_row_insert_when_the_server_has_no_local_infile() {
    let db = TestDb::new("m2mins").await;
    db.load(&[FixtureSet::TypeZoo]).await;
    let copy = format!("{}_copy", db.name);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_barge"))
        .args([
            "copy",
            "--from",
            &db.source(),
            "--to",
            &target_url(&db, &copy),
        ])
        .env("BARGE_MYSQL_INSERT", "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("loaded with multi-row INSERT"), "{text}");
    let mut my = db.mysql().await;
    let tables: Vec<String> = my
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1",
            (&db.name,),
        )
        .await
        .unwrap();
    for t in &tables {
        let cols = columns(&mut my, &db.name, t).await;
        let source = rows(&mut my, &db.name, t, &cols, true).await;
        let target = rows(&mut my, &copy, t, &cols, false).await;
        assert_eq!(source, target, "{t}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_value_the_target_refuses_fails_its_table_alone_and_leaves_nothing() {
    let db = TestDb::new("m2mbad").await;
    db.load(&[FixtureSet::Legacy]).await;
    let mut my = db.mysql().await;
    // A zero date in a NOT NULL column: barge writes NULL, which the column refuses.
    my.query_drop(
        "SET SESSION sql_mode = '';
         CREATE TABLE zd (id int PRIMARY KEY, d date NOT NULL);
         INSERT INTO zd SELECT seq, IF(seq = 1500, '0000-00-00', '2020-01-01') FROM seq_1_to_3000;",
    )
    .await
    .unwrap();
    let copy = format!("{}_copy", db.name);
    let report = barge::copy(
        &DbUrl::parse(&db.source()).unwrap(),
        &DbUrl::parse(&target_url(&db, &copy)).unwrap(),
        &db.options(),
    )
    .await
    .unwrap();
    let zd = report.table("zd").unwrap();
    assert_eq!(zd.status, Status::Failed, "{}", report.to_text());
    let e = zd.error.as_deref().unwrap();
    assert!(e.contains("NOT NULL column 'd'"), "{e}");
    assert_eq!(report.exit_code(), barge::error::exit::FAILED);
    let left: Vec<String> = my
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? \
             AND (TABLE_NAME = 'zd' OR TABLE_NAME LIKE '\\_barge%')",
            (&copy,),
        )
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(
        report.table("characters").unwrap().status,
        Status::Ok,
        "the other tables still load"
    );
}

/// A job file routing this test's database into `target`, removed when dropped.
struct JobFile(std::path::PathBuf);

impl JobFile {
    fn new(db: &TestDb, tag: &str, target: &str, routes: &str) -> JobFile {
        let p = std::env::temp_dir().join(format!("{}-{tag}.toml", db.name));
        std::fs::write(
            &p,
            format!(
                "[connections.old]\nurl = \"{}\"\n[connections.new]\nurl = \"{target}\"\n\n{routes}",
                db.source()
            ),
        )
        .unwrap();
        JobFile(p)
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for JobFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn sorted_pairs(my: &mut mysql_async::Conn, sql: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = my.query(sql).await.unwrap();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_keys_into_mariadb_chain_through_children_and_keep_the_orphan_policies() {
    let db = TestDb::new("my2myremap").await;
    db.load(&[FixtureSet::Legacy]).await;
    let t = format!("{}_t", db.name);
    let job = |mode: &str| {
        JobFile::new(
            &db,
            mode,
            &target_url(&db, &t),
            &format!(
                "[[routes]]\ntables = [\"publishers\", \"characters\", \"posts\", \"teams\", \"memberships\"]\n\
                 from = \"old\"\nto = \"new\"\nmode = \"{mode}\"\n\n\
                 [tables.publishers]\nnew_keys = true\n[tables.characters]\nnew_keys = true\n\
                 [tables.teams]\nnew_keys = true\n"
            ),
        )
    };
    let (code, out, err) = common::barge_exit(&["run", job("schema-only").path()], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    // The target already holds rows, so every old row gets a new key after them.
    let mut my = db.mysql().await;
    my.query_drop(format!(
        "INSERT INTO `{t}`.publishers (name, created_at, updated_at) VALUES ('Image', NOW(), NOW()), ('Valiant', NOW(), NOW());
         INSERT INTO `{t}`.characters (name, active, created_at, updated_at) SELECT concat('Existing ', seq), 1, NOW(), NOW() FROM seq_1_to_25;
         INSERT INTO `{t}`.teams (name, created_at, updated_at) VALUES ('X-Force', NOW(), NOW()), ('Defenders', NOW(), NOW()), ('Titans', NOW(), NOW());"
    ))
    .await
    .unwrap();
    let (code, out, err) = common::barge_exit(&["run", job("data-only").path()], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    // Every relationship, by names, as in the source: children, grandchildren, a table
    // that refers to itself, and a join table between two remapped parents.
    for sql in [
        "SELECT c.name, p.name FROM {d}.characters c JOIN {d}.publishers p ON p.id = c.publisher_id",
        "SELECT p.title, c.name FROM {d}.posts p JOIN {d}.characters c ON c.id = p.character_id",
        "SELECT t.name, p.name FROM {d}.teams t JOIN {d}.teams p ON p.id = t.parent_id",
        "SELECT t.name, concat(c.name, '/', coalesce(m.role, '-')) FROM {d}.memberships m \
         JOIN {d}.teams t ON t.id = m.team_id JOIN {d}.characters c ON c.id = m.character_id",
    ] {
        let want = sorted_pairs(&mut my, &sql.replace("{d}", &format!("`{}`", db.name))).await;
        let got = sorted_pairs(&mut my, &sql.replace("{d}", &format!("`{t}`"))).await;
        assert!(!want.is_empty(), "{sql}");
        assert_eq!(got, want, "{sql}");
    }
    // New keys come after what the target held, in old-key order.
    let new: Vec<(i64, String)> = my
        .query(format!(
            "SELECT id, name FROM `{t}`.characters WHERE id > 25 ORDER BY id"
        ))
        .await
        .unwrap();
    let old: Vec<(i64, String)> = my
        .query(format!(
            "SELECT id, name FROM `{}`.characters ORDER BY id",
            db.name
        ))
        .await
        .unwrap();
    assert_eq!(new.len(), old.len());
    for (k, ((id, name), (_, was))) in new.iter().zip(&old).enumerate() {
        assert_eq!((*id, name), (26 + k as i64, was), "row {k}");
    }
    let maps: Option<i64> = my
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE '\\_barge%'",
            (&t,),
        )
        .await
        .unwrap();
    assert_eq!(maps, Some(0), "key maps and staging tables are gone");

    // An orphan, as Rails data without constraints has them: left out into the reject
    // file, or loaded with a NULL key, as the job says. The child is remapped as it streams
    // (its parent's key map is small), or by a join at its finish when it gets new keys
    // of its own.
    my.query_drop(format!(
        "INSERT INTO `{}`.characters (id, name, publisher_id, active, created_at, updated_at) \
         VALUES (9999, 'Lost Soul', 999, 1, NOW(6), NOW(6))",
        db.name
    ))
    .await
    .unwrap();
    let rejects = std::env::temp_dir().join(format!("{}-rejects", db.name));
    let _ = std::fs::remove_dir_all(&rejects);
    for (policy, own_keys) in ["skip", "null", "error"]
        .into_iter()
        .flat_map(|p| [(p, false), (p, true)])
    {
        let target = format!("{}_{policy}_{own_keys}", db.name);
        let _ = std::fs::remove_dir_all(&rejects);
        let job = JobFile::new(
            &db,
            policy,
            &target_url(&db, &target),
            &format!(
                "[[routes]]\ntables = [\"publishers\", \"characters\"]\nfrom = \"old\"\nto = \"new\"\n\
                 reject_dir = \"{}\"\n\n[tables.publishers]\nnew_keys = true\n\
                 [tables.characters]\nnew_keys = {own_keys}\norphans = {{ publisher_id = \"{policy}\" }}\n",
                rejects.display()
            ),
        );
        let (code, out, err) = common::barge_exit(&["run", job.path()], &[]);
        let lost: Vec<Option<i64>> = my
            .query(format!(
                "SELECT publisher_id FROM `{target}`.characters WHERE name = 'Lost Soul'"
            ))
            .await
            .unwrap_or_default();
        if policy != "error" {
            assert_eq!(code == 3, policy == "skip", "{out}\n{err}");
            let n: Option<i64> = my
                .query_first(format!("SELECT COUNT(*) FROM `{target}`.characters"))
                .await
                .unwrap();
            assert!(n.unwrap_or(0) > 1, "{target}");
        }
        match policy {
            "skip" => {
                assert_eq!(code, 3, "{out}\n{err}");
                assert!(
                    out.contains("characters.publisher_id: 1 orphan row(s)"),
                    "{out}"
                );
                assert!(lost.is_empty());
                let csv = std::fs::read_to_string(rejects.join("characters.csv")).unwrap();
                let lines: Vec<&str> = csv.lines().collect();
                assert_eq!(lines.len(), 2, "{csv}");
                assert!(lines[0].starts_with("id,") && lines[0].ends_with(",barge_reject_reason"));
                assert!(
                    lines[1].starts_with("9999,Lost Soul,")
                        && lines[1].ends_with(",no publishers row for publisher_id"),
                    "{csv}"
                );
            }
            "null" => {
                assert_eq!(code, 0, "{out}\n{err}");
                assert_eq!(lost, [None], "{own_keys}");
            }
            _ => {
                assert_eq!(code, 1, "{out}\n{err}");
                // As it streams, the first orphan met; at the finish, how many and which.
                let why = if own_keys {
                    "1 row(s) have a publisher_id with no row in publishers (e.g. 999)"
                } else {
                    "publisher_id 999 has no row in publishers"
                };
                assert!(out.contains(why), "{out}");
                // Nothing of the table is left, staging or not; its key map stays with the
                // run's ledger, so a rerun gives the same keys.
                let left: Vec<String> = my
                    .exec(
                        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? \
                         AND TABLE_NAME LIKE '%characters' ORDER BY 1",
                        (&target,),
                    )
                    .await
                    .unwrap();
                let map = ["_barge_keymap_characters".to_string()];
                assert_eq!(left, if own_keys { &map[..] } else { &[] });
            }
        }
    }
    let _ = std::fs::remove_dir_all(&rejects);
}

/// `--drop` replaces remapped tables that a table outside the copy refers to, through a
/// crash inside the remapping finish and a rerun. The outside table's foreign key is
/// dropped, as the report says, rather than left pointing at the set-aside table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_remapped_tables_survives_a_crash_and_leaves_no_dangling_foreign_key() {
    let db = TestDb::new("my2mydropmap").await;
    db.load(&[FixtureSet::Legacy]).await;
    let t = format!("{}_t", db.name);
    let job = |mode: &str| {
        JobFile::new(
            &db,
            mode,
            &target_url(&db, &t),
            &format!(
                "[[routes]]\ntables = [\"publishers\", \"characters\"]\nfrom = \"old\"\nto = \"new\"\n\
                 mode = \"{mode}\"\n\n[tables.publishers]\nnew_keys = true\n\
                 [tables.characters]\nnew_keys = true\n"
            ),
        )
    };
    let first = job("create");
    let (code, out, err) = common::barge_exit(&["run", first.path()], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let mut my = db.mysql().await;
    my.query_drop(format!(
        "CREATE TABLE `{t}`.fans (id INT PRIMARY KEY, character_id BIGINT, \
         CONSTRAINT fans_character FOREIGN KEY (character_id) REFERENCES `{t}`.characters (id));
         INSERT INTO `{t}`.fans VALUES (1, 1)"
    ))
    .await
    .unwrap();
    let replace = job("drop");
    let (code, out, err) = common::barge_exit(
        &["run", replace.path()],
        &[("BARGE_FAILPOINT", "remap-applied:2")],
    );
    assert_eq!(code, barge::failpoint::EXIT, "{out}\n{err}");
    let (code, out, err) = common::barge_exit(&["run", replace.path()], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    // A MySQL target names its database, where a PostgreSQL one names a schema.
    assert!(out.contains(&format!("/{t}), database {t}\n")), "{out}");
    assert!(
        out.contains(&format!(
            "(database {t}, create, replacing existing tables)"
        )),
        "{out}"
    );
    assert!(
        out.contains("the foreign key fans_character that fans (not part of this copy) holds on it is dropped"),
        "{out}"
    );
    let sql = "SELECT c.name, p.name FROM {d}.characters c JOIN {d}.publishers p ON p.id = c.publisher_id";
    let want = sorted_pairs(&mut my, &sql.replace("{d}", &format!("`{}`", db.name))).await;
    let got = sorted_pairs(&mut my, &sql.replace("{d}", &format!("`{t}`"))).await;
    assert!(!want.is_empty());
    assert_eq!(got, want);
    let left: Vec<(String, String)> = my
        .exec(
            "SELECT TABLE_NAME, CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = ? AND (TABLE_NAME = 'fans' OR REFERENCED_TABLE_NAME LIKE '\\_barge%')",
            (&t,),
        )
        .await
        .unwrap();
    assert_eq!(left, [], "no foreign key on a set-aside table");
    let barge_tables: Vec<String> = my
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE '\\_barge%'",
            (&t,),
        )
        .await
        .unwrap();
    assert_eq!(barge_tables, Vec::<String>::new());
    let fans: Option<i64> = my
        .query_first(format!("SELECT COUNT(*) FROM `{t}`.fans"))
        .await
        .unwrap();
    assert_eq!(fans, Some(1), "the outside table keeps its rows");
}

/// A cast names its type in either engine's words, and each target declares it in its own:
/// `bigint unsigned` is BIGINT UNSIGNED in MariaDB and numeric(20,0) in PostgreSQL, an
/// integer goes into it exactly, and a negative one is refused naming the value.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cast_in_either_engines_words_is_declared_by_each_target_in_its_own() {
    let db = TestDb::new("m2mcast").await;
    let mut my = db.mysql().await;
    my.query_drop(
        "CREATE TABLE casts (id int PRIMARY KEY, n int, d datetime(6), flag tinyint(1));
         INSERT INTO casts VALUES (1, 2147483647, '2020-01-02 03:04:05.678901', 1),
                                  (2, 0, '1999-12-31 23:59:59.5', 0), (3, NULL, NULL, NULL);",
    )
    .await
    .unwrap();
    let cast = "casts.n=bigint unsigned,casts.d=datetime(3),casts.flag=int(11)";
    let copy = format!("{}_copy", db.name);
    let (from, my_to, pg_to) = (db.source(), target_url(&db, &copy), db.target());
    let run = |to: &str, extra: &[&str]| {
        let mut args = vec!["copy", "--from", &from, "--to", to, "--cast", cast];
        args.extend_from_slice(extra);
        common::barge_exit(&args, &[])
    };
    let (code, out, err) = run(&my_to, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let declared = declarations(&mut my, &copy, "casts").await;
    assert_eq!(
        declared,
        [
            "id int(11) NO - ",
            "n bigint(20) unsigned YES NULL ",
            "d datetime(3) YES NULL ",
            "flag int(11) YES NULL "
        ],
    );
    let values: Vec<String> = my
        .exec(
            format!(
                "SELECT CONCAT_WS('|', id, IFNULL(n, '-'), IFNULL(CAST(d AS char), '-'), \
                 IFNULL(flag, '-')) FROM `{copy}`.casts ORDER BY id"
            ),
            (),
        )
        .await
        .unwrap();
    let want = [
        "1|2147483647|2020-01-02 03:04:05.679|1",
        "2|0|1999-12-31 23:59:59.500|0",
        "3|-|-|-",
    ];
    assert_eq!(values, want);

    let (code, out, err) = run(&pg_to, &["--schema", &db.name]);
    assert_eq!(code, 0, "{out}{err}");
    let pg = db.pg().await;
    let declared: Vec<String> = common::first_column(
        &pg,
        "SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
         WHERE a.attrelid = 'casts'::regclass AND a.attnum > 0 ORDER BY a.attnum",
    )
    .await;
    assert_eq!(
        declared,
        [
            "id integer",
            "n numeric(20,0)",
            "d timestamp(3) without time zone",
            "flag integer"
        ]
    );
    let values: Vec<String> = common::first_column(
        &pg,
        "SELECT concat_ws('|', id, coalesce(n::text, '-'), \
         coalesce(to_char(d, 'YYYY-MM-DD HH24:MI:SS.MS'), '-'), coalesce(flag::text, '-')) \
         FROM casts ORDER BY id",
    )
    .await;
    assert_eq!(values, want);

    // A negative value does not fit bigint unsigned: its table fails, naming it, in both.
    my.query_drop("INSERT INTO casts VALUES (4, -7, NULL, NULL)")
        .await
        .unwrap();
    for (to, extra) in [
        (my_to.as_str(), vec!["--drop"]),
        (pg_to.as_str(), vec!["--schema", db.name.as_str(), "--drop"]),
    ] {
        let (code, out, err) = run(to, &extra);
        assert_ne!(code, 0, "{out}{err}");
        assert!(format!("{out}{err}").contains("-7"), "{out}{err}");
    }
    let n: Option<u64> = my
        .exec_first(format!("SELECT count(*) FROM `{copy}`.casts"), ())
        .await
        .unwrap();
    assert_eq!(n, Some(3), "the table loaded before stays as it was");
    my.query_drop(format!("DROP DATABASE `{copy}`"))
        .await
        .unwrap();
}

/// Laravel's `$table->id()` is a BIGINT UNSIGNED AUTO_INCREMENT key: into MySQL it stays
/// one, and the next row gets the id after the copied ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bigint_unsigned_auto_increment_key_stays_one() {
    let db = TestDb::new("m2mlaravel").await;
    let mut my = db.mysql().await;
    my.query_drop(
        "CREATE TABLE users (id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, \
                             name varchar(20) NOT NULL);
         INSERT INTO users (name) VALUES ('a'), ('b'), ('c');
         INSERT INTO users VALUES (18446744073709551000, 'big');",
    )
    .await
    .unwrap();
    let copy = format!("{}_copy", db.name);
    let (code, out, err) = common::barge_exit(
        &[
            "copy",
            "--from",
            &db.source(),
            "--to",
            &target_url(&db, &copy),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        declarations(&mut my, &copy, "users").await,
        [
            "id bigint(20) unsigned NO - auto_increment",
            "name varchar(20) NO - "
        ]
    );
    my.query_drop(format!("INSERT INTO `{copy}`.users (name) VALUES ('next')"))
        .await
        .unwrap();
    let next: Option<u64> = my
        .exec_first(
            format!("SELECT id FROM `{copy}`.users WHERE name = 'next'"),
            (),
        )
        .await
        .unwrap();
    assert_eq!(next, Some(18446744073709551001));
    my.query_drop(format!("DROP DATABASE `{copy}`"))
        .await
        .unwrap();
}
