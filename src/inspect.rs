//! `barge inspect`: a database's catalog as barge sees it, like Django's `inspectdb`, and a
//! starting job file.

use crate::catalog::conventions::{load_order, relationships, Relationships};
use crate::catalog::Catalog;
use crate::engine::Declared;
use crate::url::{DbUrl, Engine};
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Serialize)]
pub struct Inspection {
    pub catalog: Catalog,
    /// Table names, parents before children.
    pub load_order: Vec<String>,
    pub relationships: Relationships,
    /// The engine the mappings are for.
    pub target: Engine,
    /// Per table, its columns as the target declares them.
    pub mappings: Vec<TableMapping>,
}

/// One table's columns in the target, or why the target cannot take the table as it is.
#[derive(Debug, Serialize)]
pub struct TableMapping {
    pub table: String,
    pub columns: Vec<Declared>,
    /// The table's CHECK constraints as the target declares them, or why one is left out.
    pub checks: Vec<Result<String, String>>,
    pub refused: Option<String>,
}

/// The catalog with its relationships, and each table mapped for `target` as a copy of it
/// with no job file would map it.
pub fn inspect(mut catalog: Catalog, target: Engine, schema: &str) -> Inspection {
    let rels = relationships(&catalog);
    let names: Vec<String> = catalog.tables.iter().map(|t| t.name.clone()).collect();
    let (load_order, _) = load_order(&names, &rels.relationships);
    catalog.target = Some(target);
    let mut mappings = Vec::new();
    match crate::plan::plan_each(
        &catalog,
        crate::engine::source_types(catalog.engine),
        &crate::plan::Selection::default(),
    ) {
        Ok((plans, refused)) => {
            for p in &plans {
                let (columns, refused) = match crate::engine::declare(
                    target,
                    &catalog,
                    p,
                    schema,
                    catalog.target_version.as_deref(),
                ) {
                    Ok(c) => (c, None),
                    Err(e) => (Vec::new(), Some(e.to_string())),
                };
                mappings.push(TableMapping {
                    table: p.source.clone(),
                    columns,
                    checks: crate::engine::check_clauses(target, p),
                    refused,
                });
            }
            mappings.extend(refused.into_iter().map(|r| TableMapping {
                table: r.source,
                columns: Vec::new(),
                checks: Vec::new(),
                refused: Some(r.error.to_string()),
            }));
        }
        // A whole-catalog problem (no tables): nothing to map.
        Err(e) => tracing::debug!("no mappings: {e}"),
    }
    Inspection {
        catalog,
        load_order,
        relationships: rels,
        target,
        mappings,
    }
}

impl Inspection {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let c = &self.catalog;
        let _ = writeln!(
            out,
            "database {} ({}): {} tables, parents first; types as {} declares them",
            c.database,
            c.server_version,
            c.tables.len(),
            self.target
        );
        for name in &self.load_order {
            let Some(t) = c.table(name) else { continue };
            let _ = writeln!(
                out,
                "\ntable {} (~{} rows){}",
                t.name,
                t.estimated_rows,
                t.comment
                    .as_ref()
                    .map(|c| format!(" -- {c}"))
                    .unwrap_or_default()
            );
            let mapping = self.mappings.iter().find(|m| m.table == t.name);
            if let Some(why) = mapping.and_then(|m| m.refused.as_ref()) {
                let _ = writeln!(out, "  refused in {}: {why}", self.target);
            }
            for col in &t.columns {
                let declared = mapping.and_then(|m| {
                    m.columns
                        .iter()
                        .find(|d| d.source.as_deref() == Some(col.name.as_str()))
                });
                let target_type = declared
                    .map(|d| d.declaration.clone())
                    .unwrap_or_else(|| "(not mapped)".into());
                let mut notes = Vec::new();
                if t.primary_key.contains(&col.name) {
                    notes.push("primary key".to_string());
                }
                if col.auto_increment {
                    notes.push("auto_increment".into());
                }
                if !col.nullable {
                    notes.push("not null".into());
                }
                for r in self
                    .relationships
                    .relationships
                    .iter()
                    .filter(|r| r.table == t.name && r.column == col.name)
                {
                    notes.push(format!(
                        "→ {}.{} ({})",
                        r.ref_table,
                        r.ref_column,
                        r.origin.label()
                    ));
                }
                let _ = writeln!(
                    out,
                    "  {:<24} {:<30} {:<22} {}",
                    col.name,
                    col.column_type,
                    target_type,
                    notes.join(", ")
                );
                if let Some(d) = declared {
                    crate::explain::caveats(&mut out, d);
                }
            }
            for i in &t.indexes {
                let cols: Vec<&str> = i.columns.iter().map(|c| c.name.as_str()).collect();
                let _ = writeln!(
                    out,
                    "  {}index {} ({})",
                    if i.unique { "unique " } else { "" },
                    i.name,
                    cols.join(", ")
                );
            }
            if t.primary_key.is_empty() {
                let _ = writeln!(out, "  (no primary key)");
            }
            for c in mapping.iter().flat_map(|m| &m.checks) {
                let _ = match c {
                    Ok(clause) => writeln!(out, "  {}", crate::explain::one_line(clause)),
                    Err(why) => writeln!(out, "  left out in {}: {why}", self.target),
                };
            }
        }
        for (t, stem) in &self.relationships.polymorphic {
            let _ = writeln!(
                out,
                "\npolymorphic: {t}.{stem}_type + {t}.{stem}_id point at several tables; reported, not enforced"
            );
        }
        for (t, c) in &self.relationships.unresolved {
            let _ = writeln!(
                out,
                "\nunresolved: {t}.{c} looks like a key but matches no table"
            );
        }
        out
    }

    /// A job file that `barge run` accepts as it is: one route moving every table, the
    /// relationships found as comments. Passwords are named by environment variables.
    pub fn to_job(&self, from: &DbUrl, to: &DbUrl, schema: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Written by `barge inspect` from {from}.");
        let _ = writeln!(out, "# Passwords are not stored here: set BARGE_OLD_PASSWORD and BARGE_NEW_PASSWORD before `barge run`.\n");
        let _ = writeln!(
            out,
            "[connections.old]\nurl = {:?}\npassword_env = \"BARGE_OLD_PASSWORD\"\n",
            from.without_password()
        );
        let _ = writeln!(
            out,
            "[connections.new]\nurl = {:?}\npassword_env = \"BARGE_NEW_PASSWORD\"\n",
            to.without_password()
        );
        let tables: Vec<String> = self.load_order.iter().map(|t| format!("{t:?}")).collect();
        let _ = writeln!(out, "[[routes]]\n# parents first");
        let _ = writeln!(out, "tables = [{}]", tables.join(", "));
        let _ = writeln!(out, "from = \"old\"\nto = \"new\"\nschema = {schema:?}\n");
        if !self.relationships.relationships.is_empty() {
            let _ = writeln!(out, "# Relationships found:");
            for r in &self.relationships.relationships {
                let _ = writeln!(
                    out,
                    "#   {}.{} → {}.{} ({})",
                    r.table,
                    r.column,
                    r.ref_table,
                    r.ref_column,
                    r.origin.label()
                );
            }
        }
        for (t, stem) in &self.relationships.polymorphic {
            let _ = writeln!(
                out,
                "#   {t}.{stem}_type + {t}.{stem}_id: polymorphic, not enforced"
            );
        }
        let _ = writeln!(out, "\n# Per table, for example:\n# [tables.characters]\n# target = \"characters\"\n# rename = {{ name = \"nickname\" }}\n# drop = [\"biography\"]\n# add = {{ secret_identity = \"Clark Kent\" }}\n# filter = \"active = 1\"");
        out
    }
}
