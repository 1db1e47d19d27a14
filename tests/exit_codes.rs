//! The exit status is part of the contract: 0 all done, 1 some table failed, 2 usage or
//! configuration mistake, 3 done with rejects, 4 could not connect. And every table is
//! attempted unless --fail-fast.

mod common;

use barge::fixtures::FixtureSet;
use common::{barge_exit, TestDb};
use mysql_async::prelude::Queryable;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_exit_status_means_what_it_says() {
    let db = TestDb::new("exits").await;
    db.load(&[FixtureSet::Legacy]).await;
    let (from, to) = (db.source(), db.target());
    let copy = |schema: &str, extra: &[&str]| db.copy_cli(schema, extra);
    let schema = |tag: &str| format!("{}_{tag}", db.name);

    let (code, out, err) = copy(&schema("ok"), &[]);
    assert_eq!(code, 0, "{out}{err}");

    // Usage and configuration mistakes: 2, with nothing written.
    for extra in [
        &["--tables", "nope"][..],
        &["--cast", "characters.name=nonsense"],
        &["--jobs", "0"],
        &["--zero-dates", "maybe"],
        &["--no-such-flag"],
    ] {
        let (code, _, err) = copy(&schema("usage"), extra);
        assert_eq!(code, 2, "{extra:?}: {err}");
    }
    let job = std::env::temp_dir().join(format!("{}.toml", db.name));
    std::fs::write(&job, "[connections.a]\nurl = \"mysql://h/x\"\nbogus = 1\n").unwrap();
    let (code, _, err) = barge_exit(&["run", job.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{err}");

    // A server that cannot be reached, or refuses the login: 4.
    let (code, _, err) = barge_exit(
        &[
            "copy",
            "--from",
            "mysql://barge:pw@127.0.0.1:1/x",
            "--to",
            &to,
        ],
        &[],
    );
    assert_eq!(code, 4, "{err}");
    let wrong = from.replacen("barge-test", "wrong-pw", 1);
    let (code, _, err) = barge_exit(&["copy", "--from", &wrong, "--to", &to], &[]);
    assert_eq!(code, 4, "{err}");

    // Rows left out on purpose (orphans skipped to a reject file): 3.
    let mut my = db.mysql().await;
    my.query_drop("INSERT INTO characters (id, name, publisher_id, active, created_at, updated_at) VALUES (11, 'Lost Soul', 999, 1, NOW(6), NOW(6))")
        .await
        .unwrap();
    let rejects = std::env::temp_dir().join(format!("{}-rejects", db.name));
    std::fs::write(
        &job,
        format!(
            "[connections.old]\nurl = \"{from}\"\n[connections.new]\nurl = \"{to}\"\n\
             [[routes]]\ntables = [\"publishers\", \"characters\"]\nfrom = \"old\"\nto = \"new\"\n\
             schema = \"{}\"\nreject_dir = \"{}\"\n\
             [tables.publishers]\nnew_keys = true\n\
             [tables.characters]\norphans = {{ publisher_id = \"skip\" }}\n",
            schema("rejects"),
            rejects.display()
        ),
    )
    .unwrap();
    let (code, out, err) = barge_exit(&["run", job.to_str().unwrap()], &[]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("1 orphan row(s)"), "{out}");

    // A failing table: 1, and every other table still attempted and loaded.
    my.query_drop(
        "CREATE TABLE notes (id int PRIMARY KEY, body text);
         INSERT INTO notes VALUES (1, concat('a', char(0))), (2, 'fine');
         CREATE TABLE zzz_last (id int PRIMARY KEY);
         INSERT INTO zzz_last VALUES (1);",
    )
    .await
    .unwrap();
    let (code, out, _) = copy(&schema("one_fails"), &["--jobs", "1"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("notes") && out.contains("failed"), "{out}");
    let loaded = |schema: String| {
        let db = &db;
        async move { db.table_count(&schema).await }
    };
    let all = loaded(schema("ok")).await;
    assert_eq!(
        loaded(schema("one_fails")).await,
        all + 1,
        "every table but notes"
    );

    // --fail-fast stops at the first failure: exit 1, later tables skipped, nothing of the
    // failed table left.
    let (code, out, _) = copy(&schema("fast"), &["--jobs", "1", "--fail-fast"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("skipped") && out.contains("--fail-fast"),
        "{out}"
    );
    assert!(loaded(schema("fast")).await < all + 1, "{out}");
    let _ = std::fs::remove_file(&job);
    let _ = std::fs::remove_dir_all(&rejects);
}
