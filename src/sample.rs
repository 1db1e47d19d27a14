//! Development subsets that keep their relationships (`--sample`): pick rows per table (or per
//! root table), then add every parent row that a picked row refers to, along declared and
//! inferred relationships, until nothing is missing. The result loads like any copy and has
//! no orphan the source did not have.
//!
//! Rows are picked by a hash of the seed and the row's key, so the same seed picks the same
//! rows. Everything is read-only on the source: the choice ends up as each table's WHERE
//! condition (the sample's own rows, or a key among the parent keys collected), which the
//! reader and the row count both apply. The parent keys collected are held in memory: this is
//! for subsets to develop on, not for copies of most of a table.

use crate::catalog::conventions::Relationship;
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::plan::TablePlan;
use std::collections::{BTreeMap, BTreeSet};

/// How much of each sampled table to pick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SampleSize {
    /// This share of the rows, in percent (0 < p ≤ 100).
    Percent(f64),
    /// At most this many rows.
    Rows(u64),
}

impl SampleSize {
    /// `1%`, `0.5%` or `10000`.
    pub fn parse(s: &str) -> Option<SampleSize> {
        match s.trim().strip_suffix('%') {
            Some(p) => p
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|p| *p > 0.0 && *p <= 100.0)
                .map(SampleSize::Percent),
            None => s
                .trim()
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .map(SampleSize::Rows),
        }
    }
}

impl std::fmt::Display for SampleSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SampleSize::Percent(p) => write!(f, "{p}%"),
            SampleSize::Rows(n) => write!(f, "{n} rows"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub size: SampleSize,
    /// Only these tables are sampled; the others get just the rows the sampled ones need.
    /// Empty: every table is sampled.
    pub roots: Vec<String>,
    pub seed: u64,
}

/// What sampling decided for one table.
#[derive(Debug, Clone, Default)]
pub struct TableSample {
    /// The WHERE condition that selects the table's rows in the subset.
    pub condition: String,
    /// Rows added because a sampled row refers to them (distinct key values).
    pub parents_added: u64,
}

/// What sampling needs of a source's SQL dialect.
#[async_trait::async_trait]
pub trait SampleSql: Send + Sync {
    fn quote(&self, ident: &str) -> String;
    /// The table as a FROM item.
    fn table(&self, table: &str) -> String;
    /// The condition that picks a table's own sample, by a seeded hash of `key` (the
    /// primary key, or every column of a table without one).
    fn pick(&self, table: &str, key: &[String], sample: &Sample) -> String;
    /// Run a one-column query; its values as SQL literals of the dialect.
    async fn literals(&self, query: &str, what: &str) -> Result<Vec<String>>;
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
    sql: &dyn SampleSql,
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
            sql.pick(&p.source, &key, sample)
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
    let quote = |c: &str| sql.quote(c);
    let condition_of = |t: &str, needed: &BTreeMap<(String, String), BTreeSet<String>>| {
        let mut parts = vec![format!("({})", own[t])];
        for ((table, column), keys) in needed.range((t.to_string(), String::new())..) {
            if table != t {
                break;
            }
            if !keys.is_empty() {
                let list: Vec<&str> = keys.iter().map(String::as_str).collect();
                parts.push(format!("{} IN ({})", quote(column), list.join(", ")));
            }
        }
        parts.join(" OR ")
    };
    loop {
        let mut grew = false;
        for r in &edges {
            let query = format!(
                "SELECT DISTINCT {c} FROM {} WHERE {c} IS NOT NULL AND ({})",
                sql.table(&r.table),
                and(
                    job_filter(&r.table).as_deref(),
                    &condition_of(&r.table, &needed)
                ),
                c = quote(&r.column),
            );
            let what = format!(
                "sampling: the {} rows that {}.{} refers to",
                r.ref_table, r.table, r.column
            );
            let values = sql.literals(&query, &what).await?;
            let keys = needed
                .entry((r.ref_table.clone(), r.ref_column.clone()))
                .or_default();
            for v in values {
                grew |= keys.insert(v);
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

    #[test]
    fn sizes_parse() {
        assert_eq!(SampleSize::parse("1%"), Some(SampleSize::Percent(1.0)));
        assert_eq!(SampleSize::parse("0.5 %"), Some(SampleSize::Percent(0.5)));
        assert_eq!(SampleSize::parse("10000"), Some(SampleSize::Rows(10_000)));
        for bad in ["0", "0%", "101%", "-3", "ten", "1.5"] {
            assert_eq!(SampleSize::parse(bad), None, "{bad}");
        }
    }
}
