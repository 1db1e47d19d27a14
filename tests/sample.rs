//! Development subsets (`--sample`): a few rows per table, or per root table, plus every
//! parent row they refer to, so that every relationship, declared or inferred, still holds.

mod common;

use barge::fixtures::FixtureSet;
use common::TestDb;
use mysql_async::prelude::Queryable;

/// (table, column, parent table, parent column) of the legacy app, as `barge inspect` infers
/// and reads them.
const RELATIONSHIPS: &[(&str, &str, &str, &str)] = &[
    ("LineItems", "order_id", "order", "id"),
    ("characters", "publisher_id", "publishers", "id"),
    ("characters_teams", "character_id", "characters", "id"),
    ("characters_teams", "team_id", "teams", "id"),
    ("memberships", "team_id", "teams", "id"),
    ("memberships", "character_id", "characters", "id"),
    ("posts", "character_id", "characters", "id"),
    ("publisher_addresses", "publisher_id", "publishers", "id"),
    ("teams", "parent_id", "teams", "id"),
];

/// Every key value the copy holds that its parent table in the copy lacks, checked against
/// the source: such a row may only be an orphan the source already had.
async fn assert_no_new_orphans(db: &TestDb, schema: &str) {
    let pg = db.pg().await;
    let mut my = db.mysql().await;
    for (t, c, pt, pc) in RELATIONSHIPS {
        let missing: Vec<i64> = pg
            .query(
                &format!(
                    "SELECT DISTINCT c.\"{c}\"::bigint FROM \"{schema}\".\"{t}\" c \
                     WHERE c.\"{c}\" IS NOT NULL AND NOT EXISTS \
                     (SELECT 1 FROM \"{schema}\".\"{pt}\" p WHERE p.\"{pc}\" = c.\"{c}\")"
                ),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        for k in missing {
            let n: u64 = my
                .query_first(format!("SELECT COUNT(*) FROM `{pt}` WHERE `{pc}` = {k}"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                n, 0,
                "{t}.{c} = {k}: its {pt} row exists in the source but was not copied"
            );
        }
    }
}

async fn ids(db: &TestDb, schema: &str, table: &str) -> Vec<i64> {
    db.pg()
        .await
        .query(
            &format!("SELECT id::bigint FROM \"{schema}\".\"{table}\" ORDER BY 1"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_keep_every_relationship() {
    let db = TestDb::new("sample").await;
    db.load(&[FixtureSet::Legacy]).await;
    db.generate("characters", 3000, 11).await;
    db.generate("posts", 8000, 11).await;
    let mut my = db.mysql().await;
    // A tree in teams (parent_id) deeper than the sample, so parents of parents are needed.
    my.query_drop("UPDATE teams SET parent_id = id - 1 WHERE id > 1")
        .await
        .unwrap();
    let copy = |schema: &str, extra: &[&str]| db.copy_cli(schema, extra);
    let schema = |tag: &str| format!("{}_{tag}", db.name);

    // 20 rows per table, and their parents, and their parents' parents.
    let (code, out, err) = copy(&schema("a"), &["--sample", "20", "--seed", "3"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("a sample of up to 20 rows (seed 3)"), "{out}");
    assert_no_new_orphans(&db, &schema("a")).await;
    let posts = ids(&db, &schema("a"), "posts").await;
    assert_eq!(posts.len(), 20);
    let characters = ids(&db, &schema("a"), "characters").await;
    assert!(characters.len() > 20, "parents were added: {characters:?}");
    let teams = ids(&db, &schema("a"), "teams").await;
    let all_teams: Vec<i64> = my.query("SELECT id FROM teams ORDER BY id").await.unwrap();
    assert_eq!(teams, all_teams, "the whole tree above the sampled teams");

    // The same seed picks the same rows; another seed others.
    let (code, _, _) = copy(&schema("b"), &["--sample", "20", "--seed", "3"]);
    assert_eq!(code, 0);
    assert_eq!(ids(&db, &schema("b"), "posts").await, posts);
    let (code, _, _) = copy(&schema("c"), &["--sample", "20", "--seed", "4"]);
    assert_eq!(code, 0);
    assert_ne!(ids(&db, &schema("c"), "posts").await, posts);

    // A share of each table.
    let (code, out, err) = copy(&schema("pct"), &["--sample", "1%"]);
    assert_eq!(code, 0, "{out}{err}");
    let n = ids(&db, &schema("pct"), "posts").await.len();
    assert!((40..=120).contains(&n), "about 1% of 8000 posts: {n}");
    assert_no_new_orphans(&db, &schema("pct")).await;

    // Only posts sampled: the other tables hold just what those posts need.
    let (code, out, err) = copy(
        &schema("root"),
        &["--sample", "10", "--sample-root", "posts", "--seed", "9"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_no_new_orphans(&db, &schema("root")).await;
    let posts = ids(&db, &schema("root"), "posts").await;
    assert_eq!(posts.len(), 10);
    let list = posts
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let wanted: Vec<i64> = my
        .query(format!(
            "SELECT DISTINCT c.id FROM characters c JOIN posts p ON p.character_id = c.id \
             WHERE p.id IN ({list}) ORDER BY 1"
        ))
        .await
        .unwrap();
    assert_eq!(ids(&db, &schema("root"), "characters").await, wanted);
    let memberships: i64 = db
        .pg()
        .await
        .query_one(
            &format!("SELECT count(*) FROM \"{}\".memberships", schema("root")),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(memberships, 0, "nothing a sampled post needs");

    // Mistakes are usage errors.
    let (code, _, err) = copy(&schema("bad"), &["--sample", "0%"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = copy(&schema("bad"), &["--sample", "5", "--sample-root", "nope"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--sample-root nope"), "{err}");
}
