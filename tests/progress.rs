//! `--progress json`: one event per line, in an order an ETL job can rely on.

mod common;

use barge::fixtures::FixtureSet;
use common::{barge_exit, TestDb};
use mysql_async::prelude::Queryable;
use std::collections::BTreeMap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_events_come_in_order_and_add_up() {
    let db = TestDb::new("progress").await;
    db.load(&[FixtureSet::Legacy]).await;
    db.generate("characters", 120_000, 5).await;
    let mut my = db.mysql().await;
    my.query_drop("CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, concat('a', char(0)))")
        .await
        .unwrap();
    let (from, to) = (db.source(), db.target());
    let (code, out, err) = barge_exit(
        &[
            "copy",
            "--from",
            &from,
            "--to",
            &to,
            "--schema",
            &db.name,
            "--progress",
            "json",
            "--batch-rows",
            "5000",
        ],
        &[],
    );
    assert_eq!(code, 1, "notes fails: {out}");
    let events: Vec<serde_json::Value> = err
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let kind = |e: &serde_json::Value| e["event"].as_str().unwrap().to_string();
    assert_eq!(kind(&events[0]), "run_started");
    assert_eq!(kind(events.last().unwrap()), "run_finished");
    assert_eq!(events.last().unwrap()["ok"], false);
    let total = events[0]["rows"].as_u64().unwrap();
    // Per table: started, then rows and partitions, then finished; the rows add up.
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut rows: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_t = 0.0;
    for e in &events[1..events.len() - 1] {
        let t = e["t"].as_f64().unwrap();
        assert!(t >= last_t, "times only grow: {e}");
        last_t = t;
        let table = e["table"].as_str().unwrap().to_string();
        if kind(e) == "rows" {
            *rows.entry(table.clone()).or_default() += e["rows"].as_u64().unwrap();
        }
        seen.entry(table).or_default().push(kind(e));
    }
    let mut written = 0;
    for (table, kinds) in &seen {
        if kinds == &["warning"] || kinds.iter().all(|k| k == "warning") {
            continue;
        }
        let kinds: Vec<&str> = kinds
            .iter()
            .map(String::as_str)
            .filter(|k| *k != "warning")
            .collect();
        assert_eq!(kinds[0], "table_started", "{table}: {kinds:?}");
        assert_eq!(
            *kinds.last().unwrap(),
            "table_finished",
            "{table}: {kinds:?}"
        );
        assert_eq!(
            kinds.iter().filter(|k| **k == "table_finished").count(),
            1,
            "{table}"
        );
        let finished = events
            .iter()
            .find(|e| kind(e) == "table_finished" && e["table"] == table.as_str())
            .unwrap();
        if table == "notes" {
            assert_eq!(finished["status"], "failed");
            assert!(
                finished["error"].as_str().unwrap().contains("NUL"),
                "{finished}"
            );
            continue;
        }
        assert_eq!(finished["status"], "ok", "{finished}");
        assert_eq!(
            finished["rows"].as_u64(),
            Some(rows.get(table).copied().unwrap_or(0)),
            "{table}"
        );
        written += finished["rows"].as_u64().unwrap();
    }
    // characters was split into key ranges: one partition_done each.
    let parts = seen["characters"]
        .iter()
        .filter(|k| *k == "partition_done")
        .count();
    assert!(parts >= 2, "{:?}", seen["characters"]);
    assert_eq!(written + 1, total, "every row counted but the one of notes");
}
