//! Picking a development subset on MySQL/MariaDB (see `crate::sample`): a seeded CRC32 of
//! each row's key chooses its own rows, then the parent keys they refer to are collected to a
//! fixpoint. Read-only on the source.

use crate::catalog::conventions::Relationship;
use crate::catalog::Catalog;
use crate::engine::mysql::read::quote_ident;
use crate::error::{Context, Error, Result};
use crate::plan::TablePlan;
use crate::sample::{Sample, SampleSize, TableSample};
use mysql_async::prelude::Queryable;
use std::collections::{BTreeMap, BTreeSet};

/// The SQL that picks a table's own sample rows, given its key columns (or all columns for a
/// table without a key). Pure, so the exact SQL is unit-tested.
pub fn pick_sql(database: &str, table: &str, key: &[String], sample: &Sample) -> String {
    let cols: Vec<String> = key.iter().map(|c| quote_ident(c)).collect();
    let hash = format!(
        "CRC32(CONCAT_WS(':', {}, {}))",
        sample.seed,
        cols.join(", ")
    );
    let from = format!("{}.{}", quote_ident(database), quote_ident(table));
    match sample.size {
        // CRC32 spreads over 2^32 values: keep those below the share.
        SampleSize::Percent(p) => {
            let below = ((p / 100.0) * 4_294_967_296.0).round() as u64;
            format!("{hash} < {below}")
        }
        // The first n rows in hash order (the key breaks ties). A derived table, since
        // MySQL takes no LIMIT directly inside IN (…).
        SampleSize::Rows(n) => {
            let list = if cols.len() == 1 {
                cols[0].clone()
            } else {
                format!("({})", cols.join(", "))
            };
            let aliases: Vec<String> = (0..cols.len()).map(|i| format!("k{i}")).collect();
            let select: Vec<String> = cols
                .iter()
                .zip(&aliases)
                .map(|(c, a)| format!("{c} AS {a}"))
                .collect();
            format!(
                "{list} IN (SELECT {} FROM (SELECT {} FROM {from} ORDER BY {hash}, {} LIMIT {n}) AS barge_sample)",
                aliases.join(", "),
                select.join(", "),
                cols.join(", ")
            )
        }
    }
}

/// Combine a job's own source filter with the sample's condition.
fn and(a: Option<&str>, b: &str) -> String {
    match a {
        Some(a) => format!("({a}) AND ({b})"),
        None => b.to_string(),
    }
}

/// Pick the sample of every planned table and close it over `relationships`: returns each
/// table's condition. Reads the source only.
pub async fn plan_sample(
    conn: &mut mysql_async::Conn,
    database: &str,
    catalog: &Catalog,
    plans: &[TablePlan],
    relationships: &[Relationship],
    sample: &Sample,
) -> Result<BTreeMap<String, TableSample>> {
    let planned: BTreeSet<&str> = plans.iter().map(|p| p.source.as_str()).collect();
    if let Some(r) = sample.roots.iter().find(|r| !planned.contains(r.as_str())) {
        return Err(Error::Selection(format!(
            "--sample-root {r}: no such table among those copied ({})",
            planned.iter().copied().collect::<Vec<_>>().join(", ")
        )));
    }
    // Each table's own rows.
    let mut own: BTreeMap<&str, String> = BTreeMap::new();
    for p in plans {
        let sampled = sample.roots.is_empty() || sample.roots.contains(&p.source);
        let condition = if !sampled {
            "FALSE".to_string()
        } else {
            let t = catalog.table(&p.source).expect("planned from the catalog");
            let key: Vec<String> = if t.primary_key.is_empty() {
                t.columns.iter().map(|c| c.name.clone()).collect()
            } else {
                t.primary_key.clone()
            };
            pick_sql(database, &p.source, &key, sample)
        };
        own.insert(p.source.as_str(), condition);
    }
    // Parent keys needed, per (table, column): literal SQL values, collected to a fixpoint
    // (a self-reference or a cycle of relationships stops once no new key appears).
    let edges: Vec<&Relationship> = relationships
        .iter()
        .filter(|r| planned.contains(r.table.as_str()) && planned.contains(r.ref_table.as_str()))
        .collect();
    let mut needed: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let job_filter = |t: &str| {
        plans
            .iter()
            .find(|p| p.source == t)
            .and_then(|p| p.filter.clone())
    };
    let condition_of = |t: &str, needed: &BTreeMap<(String, String), BTreeSet<String>>| {
        let mut parts = vec![format!("({})", own[t])];
        for ((table, column), keys) in needed.range((t.to_string(), String::new())..) {
            if table != t {
                break;
            }
            if !keys.is_empty() {
                let list: Vec<&str> = keys.iter().map(String::as_str).collect();
                parts.push(format!("{} IN ({})", quote_ident(column), list.join(", ")));
            }
        }
        parts.join(" OR ")
    };
    loop {
        let mut grew = false;
        for r in &edges {
            let sql = format!(
                "SELECT DISTINCT {c} FROM {}.{} WHERE {c} IS NOT NULL AND ({})",
                quote_ident(database),
                quote_ident(&r.table),
                and(
                    job_filter(&r.table).as_deref(),
                    &condition_of(&r.table, &needed)
                ),
                c = quote_ident(&r.column),
            );
            let values: Vec<mysql_async::Value> = conn.query(sql).await.ctx(format!(
                "sampling: the {} rows that {}.{} refers to",
                r.ref_table, r.table, r.column
            ))?;
            let keys = needed
                .entry((r.ref_table.clone(), r.ref_column.clone()))
                .or_default();
            for v in values {
                grew |= keys.insert(v.as_sql(true));
            }
        }
        if !grew {
            break;
        }
    }
    Ok(plans
        .iter()
        .map(|p| {
            let t = p.source.as_str();
            let parents_added = needed
                .iter()
                .filter(|((table, _), _)| table == t)
                .map(|(_, keys)| keys.len() as u64)
                .sum();
            (
                p.source.clone(),
                TableSample {
                    condition: condition_of(t, &needed),
                    parents_added,
                },
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::SampleSize;

    fn sample(size: SampleSize) -> Sample {
        Sample {
            size,
            roots: vec![],
            seed: 7,
        }
    }

    #[test]
    fn picks_by_a_seeded_hash_of_the_key() {
        let k = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            pick_sql("d", "t", &k(&["id"]), &sample(SampleSize::Percent(1.0))),
            "CRC32(CONCAT_WS(':', 7, `id`)) < 42949673"
        );
        assert_eq!(
            pick_sql("d", "t", &k(&["id"]), &sample(SampleSize::Rows(5))),
            "`id` IN (SELECT k0 FROM (SELECT `id` AS k0 FROM `d`.`t` ORDER BY CRC32(CONCAT_WS(':', 7, `id`)), `id` LIMIT 5) AS barge_sample)"
        );
        assert!(
            pick_sql("d", "t", &k(&["a", "b"]), &sample(SampleSize::Rows(5)))
                .starts_with("(`a`, `b`) IN (SELECT k0, k1 FROM (SELECT `a` AS k0, `b` AS k1 FROM")
        );
    }
}
