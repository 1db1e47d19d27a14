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
    let (code, out, _) = db.copy_cli(
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
    assert_eq!(code, 1, "{out}");
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
