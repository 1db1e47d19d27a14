//! `barge inspect`: a database's catalog as barge sees it, like Django's `inspectdb`, and a
//! starting job file.

use crate::catalog::conventions::{load_order, relationships, Relationships};
use crate::catalog::Catalog;
use crate::types::map_column;
use crate::url::DbUrl;
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Serialize)]
pub struct Inspection {
    pub catalog: Catalog,
    /// Table names, parents before children.
    pub load_order: Vec<String>,
    pub relationships: Relationships,
}

pub fn inspect(catalog: Catalog) -> Inspection {
    let rels = relationships(&catalog);
    let names: Vec<String> = catalog.tables.iter().map(|t| t.name.clone()).collect();
    let (load_order, _) = load_order(&names, &rels.relationships);
    Inspection {
        catalog,
        load_order,
        relationships: rels,
    }
}

impl Inspection {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let c = &self.catalog;
        let _ = writeln!(
            out,
            "database {} ({}): {} tables, parents first",
            c.database,
            c.server_version,
            c.tables.len()
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
            for col in &t.columns {
                let pg = map_column(c, col)
                    .map(|m| m.pg.to_string())
                    .unwrap_or_else(|| "(no mapping: the table would be refused)".into());
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
                    pg,
                    notes.join(", ")
                );
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
