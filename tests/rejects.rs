//! `--on-error skip-row`: rows the reader cannot convert go to a reject file with their key,
//! column, reason and original value; the rest of the table loads; `--max-rejects` bounds it.

mod common;

use common::{assert_table_identical, TestDb};
use mysql_async::prelude::Queryable;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_go_to_the_reject_file_and_the_rest_loads() {
    let db = TestDb::new("rejects").await;
    let mut my = db.mysql().await;
    // 120k rows in key ranges; three rows PostgreSQL cannot take, in different partitions
    // and columns: NULs in text, and a zero date refused by --zero-dates error.
    my.query_drop(
        "SET SESSION sql_mode = '';
         CREATE TABLE notes (id int PRIMARY KEY, body text, born date, note varchar(20));
         INSERT INTO notes SELECT seq, concat('note ', seq), '2000-01-01', 'ok' FROM seq_1_to_120000;
         UPDATE notes SET body = concat('a', char(0), 'b') WHERE id = 7;
         UPDATE notes SET born = '0000-00-00' WHERE id = 60001;
         UPDATE notes SET body = concat('x', char(0)), note = 'two' WHERE id = 119999;
         CREATE TABLE good (id int PRIMARY KEY, v int);
         INSERT INTO good VALUES (1, 1), (2, 2);",
    )
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("{}-rejects", db.name));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_s = dir.display().to_string();
    let (code, out, err) = db.copy_cli(
        &db.name,
        &[
            "--on-error",
            "skip-row",
            "--zero-dates",
            "error",
            "--reject-dir",
            &dir_s,
            "--batch-rows",
            "1000",
        ],
    );
    assert_eq!(code, 3, "done with rejects: {out}{err}");
    assert!(out.contains("notes: 3 row(s) rejected"), "{out}");
    let text = std::fs::read_to_string(dir.join("notes.jsonl")).unwrap();
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines.sort_by_key(|l| l["key"]["id"].as_str().unwrap().parse::<i64>().unwrap());
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0]["key"]["id"], "7");
    assert_eq!(lines[0]["column"], "body");
    assert!(
        lines[0]["reason"].as_str().unwrap().contains("NUL"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[0]["value_hex"], "610062");
    assert_eq!(lines[1]["key"]["id"], "60001");
    assert_eq!(lines[1]["column"], "born");
    assert!(
        lines[1]["reason"].as_str().unwrap().contains("zero date"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2]["key"]["id"], "119999");

    // Every other row arrived, value by value; the rejected ones did not.
    let pg = db.pg().await;
    let ids: Vec<i32> = pg
        .query(
            "SELECT id FROM notes WHERE id IN (6, 7, 8, 60001, 119999) ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, [6, 8]);
    let n: i64 = pg
        .query_one("SELECT count(*) FROM notes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 120_000 - 3);
    assert_table_identical(&db, "good").await;

    // Past --max-rejects the table fails and nothing of it is left.
    let schema = format!("{}_max", db.name);
    let (code, out, err) = db.copy_cli(
        &schema,
        &[
            "--on-error",
            "skip-row",
            "--max-rejects",
            "1",
            "--reject-dir",
            &dir_s,
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("more than 1 rows rejected (--max-rejects)"),
        "{out}"
    );
    assert_eq!(db.table_count(&schema).await, 1, "only `good`");

    // The default still stops the table at the first bad row.
    let schema = format!("{}_stop", db.name);
    let (code, out, _) = db.copy_cli(&schema, &["--tables", "notes"]);
    assert_eq!(code, 1, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The reject file's lines, sorted by their key `id`.
fn reject_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines.sort_by_key(|l| l["key"]["id"].as_str().unwrap().parse::<i64>().unwrap());
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_the_target_refuses_are_found_by_halving_and_set_aside() {
    let db = TestDb::new("refused").await;
    let mut my = db.mysql().await;
    // 120k rows in key ranges; PostgreSQL refuses five of them once their columns are cast
    // narrower: codes longer than varchar(5), prices past numeric(5,2). Two are neighbours,
    // in one batch; the others are in other partitions.
    my.query_drop(
        "CREATE TABLE items (id int PRIMARY KEY, code varchar(20), price decimal(10,2), note text);
         INSERT INTO items SELECT seq, concat('c', seq % 1000), seq % 900, 'ok' FROM seq_1_to_120000;
         UPDATE items SET code = 'much too long' WHERE id IN (10, 11, 119990);
         UPDATE items SET price = 123456.78 WHERE id IN (500, 65000);",
    )
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("{}-rejects", db.name));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_s = dir.display().to_string();
    // One --cast with two, split at the comma between them, not at numeric's.
    let casts = ["--cast", "items.code=varchar(5),items.price=numeric(5,2)"];
    let mut args = vec![
        "--on-error",
        "skip-row",
        "--reject-dir",
        &dir_s,
        "--batch-rows",
        "4096",
    ];
    args.extend(casts);
    let (code, out, err) = db.copy_cli(&db.name, &args);
    assert_eq!(code, 3, "done with rejects: {out}{err}");
    assert!(out.contains("items: 5 row(s) rejected"), "{out}");
    let lines = reject_lines(&dir.join("items.jsonl"));
    let keys: Vec<&str> = lines
        .iter()
        .map(|l| l["key"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["10", "11", "500", "65000", "119990"], "{lines:?}");
    for l in &lines {
        let reason = l["reason"].as_str().unwrap();
        assert!(reason.starts_with("the target refused the row"), "{l}");
        assert_eq!(l["row"]["note"], "ok", "the whole row is kept: {l}");
    }
    assert!(
        lines[0]["reason"].as_str().unwrap().contains("too long"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[0]["row"]["code"], "much too long");
    assert!(
        lines[2]["reason"].as_str().unwrap().contains("overflow"),
        "{}",
        lines[2]
    );
    assert_eq!(lines[2]["row"]["price"], "123456.78");

    // Every other row is in, once.
    let pg = db.pg().await;
    let row = pg
        .query_one(
            "SELECT count(*), count(DISTINCT id), sum(id)::bigint FROM items",
            &[],
        )
        .await
        .unwrap();
    let total: i64 = (1..=120_000).sum::<i64>() - (10 + 11 + 500 + 65000 + 119990);
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2)
        ),
        (120_000 - 5, 120_000 - 5, total)
    );

    // Without skip-row the same copy fails the table at the first refusal.
    let schema = format!("{}_stop", db.name);
    let mut args = vec!["--tables", "items"];
    args.extend(casts);
    let (code, out, _) = db.copy_cli(&schema, &args);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("too long") || out.contains("overflow"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_mysql_refuses_are_set_aside_too() {
    let db = TestDb::new("refused_my").await;
    let pg = db.pg().await;
    // Two kinds of refusal: an interval past MySQL's TIME (838:59:59), which barge's
    // encoder finds, and a unique text longer than the VARCHAR(768) MySQL can index, which
    // the server refuses (as a warning under LOAD DATA LOCAL, which barge does not accept).
    pg.batch_execute(&format!(
        "CREATE SCHEMA \"{0}\";
         CREATE TABLE \"{0}\".amounts (id int PRIMARY KEY, amount numeric(10,1), took interval,
                                      slug text UNIQUE, label text);
         INSERT INTO \"{0}\".amounts
           SELECT g, g * 1.5, '5 minutes', 'slug-' || g, 'row ' || g FROM generate_series(1, 3000) g;
         UPDATE \"{0}\".amounts SET took = '1000 hours' WHERE id IN (2, 2999);
         UPDATE \"{0}\".amounts SET slug = repeat('s', 800) WHERE id = 1500;",
        db.name
    ))
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("{}-rejects", db.name));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_s = dir.display().to_string();
    let from = format!("{}?schema={}", db.target(), db.name);
    let to = db.source();
    let (code, out, err) = common::barge_exit(
        &[
            "copy",
            "--from",
            &from,
            "--to",
            &to,
            "--on-error",
            "skip-row",
            "--reject-dir",
            &dir_s,
        ],
        &[],
    );
    assert_eq!(code, 3, "done with rejects: {out}{err}");
    let lines = reject_lines(&dir.join("amounts.jsonl"));
    let keys: Vec<&str> = lines
        .iter()
        .map(|l| l["key"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["2", "1500", "2999"], "{lines:?}");
    assert_eq!(lines[0]["column"], "took", "{}", lines[0]);
    assert!(
        lines[0]["reason"].as_str().unwrap().contains("TIME"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[0]["row"]["label"], "row 2");
    assert!(
        lines[1]["reason"].as_str().unwrap().contains("slug"),
        "{}",
        lines[1]
    );
    let mut my = db.mysql().await;
    let got: Option<(i64, String)> = my
        .query_first("SELECT count(*), CAST(sum(amount) AS CHAR) FROM amounts")
        .await
        .unwrap();
    let (n, sum) = got.unwrap();
    assert_eq!(n, 2997);
    // 1.5 × (1 + … + 3000) less rows 2, 1500 and 2999.
    let want = 1.5 * ((3000 * 3001 / 2 - 2 - 1500 - 2999) as f64);
    assert_eq!(sum.parse::<f64>().unwrap(), want);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_and_a_resume_leave_each_rejected_row_once() {
    let db = TestDb::new("rejects_resume").await;
    let mut my = db.mysql().await;
    // Three partitions, each with a row PostgreSQL cannot take (a NUL in text).
    my.query_drop(
        "CREATE TABLE notes (id int PRIMARY KEY, body text);
         INSERT INTO notes SELECT seq, concat('note ', seq) FROM seq_1_to_150000;
         UPDATE notes SET body = concat('a', char(0)) WHERE id IN (10, 70000, 140000);",
    )
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("{}-rejects", db.name));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_s = dir.display().to_string();
    let (from, to) = (db.source(), db.target());
    let args = [
        "copy",
        "--from",
        &from,
        "--to",
        &to,
        "--schema",
        &db.name,
        "-j",
        "3",
        "--on-error",
        "skip-row",
        "--reject-dir",
        &dir_s,
    ];
    // Killed after a second partition's rows are written, before it commits: its rejects
    // must not be in the file, and those of a partition committed before must stay. Then
    // killed right after the first commit: that partition's rejects must not be lost.
    for (i, point) in ["partition-written:2", "partition-committed:1"]
        .into_iter()
        .enumerate()
    {
        let schema = format!("{}_{i}", db.name);
        let mut run = args.to_vec();
        run[6] = &schema;
        let (code, out, err) = common::barge_exit(&run, &[("BARGE_FAILPOINT", point)]);
        assert_eq!(code, 86, "{point} ends the first run: {out}{err}");
        let (code, out, err) = common::barge_exit(&run, &[]);
        assert_eq!(
            code, 3,
            "resumed after {point}, done with rejects: {out}{err}"
        );
        let lines = reject_lines(&dir.join("notes.jsonl"));
        let keys: Vec<&str> = lines
            .iter()
            .map(|l| l["key"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            ["10", "70000", "140000"],
            "after {point}, each once: {lines:?}"
        );
        assert!(
            !dir.join("notes.pending").exists(),
            "the pending files go once the table is done"
        );
    }
    // A new run starts the file anew.
    let again = format!("{}_again", db.name);
    let mut fresh = args.to_vec();
    fresh[6] = &again;
    let (code, out, err) = common::barge_exit(&fresh, &[]);
    assert_eq!(code, 3, "{out}{err}");
    assert_eq!(reject_lines(&dir.join("notes.jsonl")).len(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}
