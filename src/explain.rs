//! `barge plan`: what a copy would do, as text. Per table, each source column beside the
//! type the target engine declares for it, what the mapping loses and which values the
//! target refuses; then keys, indexes, filters, and the tables refused whole.

use crate::catalog::Catalog;
use crate::engine::{declare, Declared};
use crate::plan::{Refused, TablePlan};
use crate::url::Engine;
use std::fmt::Write;

/// Expression text on one line (`barge inspect` too).
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An index's keys as the target declares them: the source's own definition (PostgreSQL
/// into PostgreSQL), or its columns and prefixes in the target's SQL.
fn index_how(target: Engine, p: &TablePlan, i: &crate::plan::TargetIndex) -> String {
    match &i.definition {
        Some(d) => d.clone(),
        None => crate::engine::index_keys(target, p, i),
    }
}

/// The lines under a column that say what it loses or refuses (`barge inspect` too).
pub fn caveats(out: &mut String, d: &Declared) {
    if let Some(l) = &d.lossy {
        let _ = writeln!(out, "      lossy: {l}");
    }
    if let Some(r) = &d.refuses {
        let _ = writeln!(out, "      refuses: {r}");
    }
}

/// The plan as text. `server_version`: the target's, when known (MySQL types depend on it).
pub fn render(
    target: Engine,
    catalog: &Catalog,
    plans: &[TablePlan],
    refused: &[Refused],
    schema: &str,
    server_version: Option<&str>,
) -> String {
    let mut out = String::new();
    for p in plans {
        let _ = writeln!(out, "table {} → {schema}.{}", p.source, p.target);
        let declared = match declare(target, catalog, p, schema, server_version) {
            Ok(d) => d,
            Err(e) => {
                let _ = writeln!(out, "  refused: {e}");
                continue;
            }
        };
        let Some(t) = catalog.table(&p.source) else {
            continue;
        };
        for c in &t.columns {
            match declared
                .iter()
                .find(|d| d.source.as_deref() == Some(c.name.as_str()))
            {
                Some(d) => {
                    let renamed = if d.column != c.name {
                        "  (renamed)"
                    } else {
                        ""
                    };
                    let _ = writeln!(
                        out,
                        "  {:<24} {:<28} → {:<24} {}{renamed}",
                        c.name, c.column_type, d.column, d.declaration
                    );
                    caveats(&mut out, d);
                }
                None => {
                    let _ = writeln!(out, "  {:<24} {:<28} → (dropped)", c.name, c.column_type);
                }
            }
        }
        for d in declared.iter().filter(|d| d.source.is_none()) {
            let how = match p.computed.iter().find(|(n, _)| *n == d.column) {
                Some((_, text)) => format!("  (= {})", one_line(text)),
                None => "  (added)".into(),
            };
            let _ = writeln!(
                out,
                "  {:<24} {:<28} → {:<24} {}{how}",
                "", "", d.column, d.declaration
            );
        }
        for (c, _) in &p.extra_reads {
            let _ = writeln!(out, "  {c:<24} read for the expressions, not copied");
        }
        if !p.primary_key.is_empty() {
            let _ = writeln!(out, "  primary key ({})", p.primary_key.join(", "));
        }
        for i in &p.indexes {
            let how = index_how(target, p, i);
            let unique = if i.unique { "unique " } else { "" };
            let _ = writeln!(out, "  {unique}index {} {how}", i.name);
        }
        for fk in &p.foreign_keys {
            let _ = writeln!(
                out,
                "  foreign key {} ({}) → {} ({})",
                fk.name,
                fk.columns.join(", "),
                fk.ref_table,
                fk.ref_columns.join(", ")
            );
        }
        for c in crate::engine::check_clauses(target, p) {
            match c {
                Ok(clause) => {
                    let _ = writeln!(out, "  {}", one_line(&clause));
                }
                Err(why) => {
                    let _ = writeln!(out, "  warning: {}", one_line(&why));
                }
            }
        }
        if let Some(f) = &p.filter_text {
            let _ = writeln!(out, "  rows where {}", one_line(f));
        }
        if let Some(j) = p.jobs {
            let _ = writeln!(out, "  read in at most {j} key range(s) in parallel");
        }
        if let Some(b) = p.batch_rows {
            let _ = writeln!(out, "  {b} rows per batch");
        }
        if let Some(f) = &p.filter {
            // A sample's key lists can be long: show their start.
            const SHOWN: usize = 400;
            let cut = if f.len() > SHOWN {
                let end = (0..=SHOWN)
                    .rev()
                    .find(|i| f.is_char_boundary(*i))
                    .unwrap_or(0);
                format!("{} … ({} more bytes)", &f[..end], f.len() - end)
            } else {
                f.clone()
            };
            let _ = writeln!(out, "    the source runs: WHERE {cut}");
        }
        if let Some(f) = &p.barge_filter {
            let _ = writeln!(out, "    barge checks: {}", one_line(f));
        }
        for n in &p.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        for w in &p.warnings {
            let _ = writeln!(out, "  warning: {w}");
        }
    }
    for r in refused {
        let _ = writeln!(out, "table {}: refused: {}", r.source, r.error);
    }
    out
}

/// The plan as JSON (`barge plan --json`): what `render` says, for a program to read.
pub fn to_json(
    target: Engine,
    catalog: &Catalog,
    plans: &[TablePlan],
    refused: &[Refused],
    schema: &str,
    server_version: Option<&str>,
) -> serde_json::Value {
    use serde_json::json;
    let tables: Vec<serde_json::Value> = plans
        .iter()
        .map(|p| {
            let (columns, refusal) = match declare(target, catalog, p, schema, server_version) {
                Ok(d) => (d, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            };
            let indexes: Vec<serde_json::Value> = p
                .indexes
                .iter()
                .map(|i| {
                    json!({
                        "name": i.name,
                        "unique": i.unique,
                        "keys": index_how(target, p, i),
                    })
                })
                .collect();
            let (checks, left_out): (Vec<_>, Vec<_>) =
                crate::engine::check_clauses(target, p).into_iter().partition(Result::is_ok);
            json!({
                "source": p.source,
                "target": p.target,
                "refused": refusal,
                "columns": columns,
                "primary_key": p.primary_key,
                "indexes": indexes,
                "foreign_keys": p.foreign_keys,
                "checks": checks.into_iter().filter_map(Result::ok).map(|c| one_line(&c)).collect::<Vec<_>>(),
                "checks_left_out": left_out.into_iter().filter_map(Result::err).collect::<Vec<_>>(),
                "filter": p.filter_text,
                "source_filter": p.filter,
                "barge_filter": p.barge_filter,
                "notes": p.notes,
                "warnings": p.warnings,
            })
        })
        .chain(refused.iter().map(|r| {
            json!({ "source": r.source, "refused": r.error.to_string() })
        }))
        .collect();
    json!({ "tables": tables })
}
