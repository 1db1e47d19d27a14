//! Rails/Django conventions: relationships that the schema does not declare.
//!
//! Rails keeps foreign keys as plain integers named `<singular>_id` pointing at `<plural>.id`;
//! Django names them `<model>_id`. This module infers those relationships with a real
//! inflector (person/people, category/categories, status/statuses…), reports polymorphic
//! pairs (`<name>_type` + `<name>_id`) without forcing them, and orders tables so parents come
//! before children, breaking cycles.

use super::{Catalog, Table};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

const IRREGULAR: &[(&str, &str)] = &[
    ("person", "people"),
    ("man", "men"),
    ("woman", "women"),
    ("child", "children"),
    ("mouse", "mice"),
    ("goose", "geese"),
    ("tooth", "teeth"),
    ("foot", "feet"),
    ("ox", "oxen"),
    ("datum", "data"),
    ("medium", "media"),
    ("criterion", "criteria"),
    ("index", "indices"),
    ("matrix", "matrices"),
    ("vertex", "vertices"),
    ("analysis", "analyses"),
    ("crisis", "crises"),
    ("thesis", "theses"),
    ("movie", "movies"),
    ("cookie", "cookies"),
    ("leaf", "leaves"),
    ("knife", "knives"),
    ("wife", "wives"),
    ("life", "lives"),
    ("wolf", "wolves"),
    ("half", "halves"),
    ("shelf", "shelves"),
    ("hero", "heroes"),
    ("potato", "potatoes"),
    ("quiz", "quizzes"),
];

const UNCOUNTABLE: &[&str] = &[
    "equipment",
    "information",
    "rice",
    "money",
    "species",
    "series",
    "fish",
    "sheep",
    "news",
    "metadata",
    "police",
    "deer",
];

/// The singular of an English (table) noun, Rails-style. Works on the last word of
/// `snake_case` names (`line_items` → `line_item`).
pub fn singularize(word: &str) -> String {
    let (head, last) = match word.rfind('_') {
        Some(i) => (&word[..=i], &word[i + 1..]),
        None => ("", word),
    };
    let lower = last.to_ascii_lowercase();
    let single = if UNCOUNTABLE.contains(&lower.as_str()) {
        lower.clone()
    } else if let Some((s, _)) = IRREGULAR.iter().find(|(_, p)| *p == lower) {
        s.to_string()
    } else if let Some(stem) = lower.strip_suffix("ies").filter(|s| !s.is_empty()) {
        format!("{stem}y")
    } else if let Some(stem) = ["sses", "shes", "ches", "xes", "zes", "uses", "oes"]
        .iter()
        .find_map(|suf| lower.strip_suffix(suf).map(|s| (s, suf)))
        .map(|(s, suf)| format!("{s}{}", &suf[..suf.len() - 2]))
    {
        stem
    } else if lower.ends_with("ss") || lower.ends_with("us") || lower.ends_with("is") {
        lower.clone() // already singular: address, status, analysis
    } else if let Some(stem) = lower.strip_suffix('s') {
        stem.to_string()
    } else {
        lower.clone()
    };
    format!("{head}{single}")
}

/// How a relationship became known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Declared,
    Inferred,
}

impl Origin {
    pub fn label(self) -> &'static str {
        match self {
            Origin::Declared => "declared",
            Origin::Inferred => "inferred",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Relationship {
    pub table: String,
    pub column: String,
    pub ref_table: String,
    pub ref_column: String,
    pub origin: Origin,
}

/// What the conventions found in a catalog.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Relationships {
    pub relationships: Vec<Relationship>,
    /// `<name>_type` + `<name>_id` pairs: a reference to one of several tables; reported only.
    pub polymorphic: Vec<(String, String)>,
    /// `*_id` columns that look like keys but match no table: (table, column).
    pub unresolved: Vec<(String, String)>,
}

fn is_integer(t: &Table, column: &str) -> bool {
    t.column(column).is_some_and(|c| {
        matches!(
            c.data_type.as_str(),
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
                // PostgreSQL's names.
                | "int2" | "int4" | "int8"
        )
    })
}

/// Declared foreign keys plus the ones the naming conventions imply.
pub fn relationships(catalog: &Catalog) -> Relationships {
    let mut out = Relationships::default();
    let by_singular: BTreeMap<String, &Table> = catalog
        .tables
        .iter()
        .map(|t| (singularize(&t.name.to_ascii_lowercase()), t))
        .collect();
    for t in &catalog.tables {
        let declared: BTreeSet<&str> = t
            .foreign_keys
            .iter()
            .filter(|fk| fk.columns.len() == 1)
            .map(|fk| fk.columns[0].as_str())
            .collect();
        for fk in t.foreign_keys.iter().filter(|fk| fk.columns.len() == 1) {
            out.relationships.push(Relationship {
                table: t.name.clone(),
                column: fk.columns[0].clone(),
                ref_table: fk.ref_table.clone(),
                ref_column: fk.ref_columns[0].clone(),
                origin: Origin::Declared,
            });
        }
        for c in &t.columns {
            let Some(stem) = c.name.strip_suffix("_id") else {
                continue;
            };
            if stem.is_empty() || declared.contains(c.name.as_str()) || !is_integer(t, &c.name) {
                continue;
            }
            if t.column(&format!("{stem}_type")).is_some() {
                out.polymorphic.push((t.name.clone(), stem.to_string()));
                continue;
            }
            // parent_id is Rails' tree convention (acts_as_tree): the table itself, unless a
            // `parents` table exists.
            let target = by_singular
                .get(&stem.to_ascii_lowercase())
                .copied()
                .or_else(|| (stem == "parent").then_some(t))
                // Django: `<app>_<model>` tables, referenced as `<model>_id`.
                .or_else(|| {
                    let suffix = format!("_{}", stem.to_ascii_lowercase());
                    let mut hits = by_singular.iter().filter(|(s, _)| s.ends_with(&suffix));
                    match (hits.next(), hits.next()) {
                        (Some((_, t)), None) => Some(*t),
                        _ => None,
                    }
                });
            match target {
                Some(p) if p.primary_key.len() == 1 && is_integer(p, &p.primary_key[0]) => {
                    out.relationships.push(Relationship {
                        table: t.name.clone(),
                        column: c.name.clone(),
                        ref_table: p.name.clone(),
                        ref_column: p.primary_key[0].clone(),
                        origin: Origin::Inferred,
                    })
                }
                _ => out.unresolved.push((t.name.clone(), c.name.clone())),
            }
        }
    }
    out
}

/// Tables ordered parents before children. Self-references are ignored; each cycle among
/// several tables is broken at the table named first, and those edges are returned: their
/// foreign keys must be created after all the data is in (barge always does that anyway).
pub fn load_order(tables: &[String], rels: &[Relationship]) -> (Vec<String>, Vec<Relationship>) {
    let set: BTreeSet<&str> = tables.iter().map(String::as_str).collect();
    let mut parents: BTreeMap<&str, BTreeSet<&str>> = tables
        .iter()
        .map(|t| (t.as_str(), BTreeSet::new()))
        .collect();
    for r in rels {
        if r.table != r.ref_table
            && set.contains(r.table.as_str())
            && set.contains(r.ref_table.as_str())
        {
            parents
                .get_mut(r.table.as_str())
                .unwrap()
                .insert(r.ref_table.as_str());
        }
    }
    let mut order = Vec::new();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut broken = Vec::new();
    while done.len() < tables.len() {
        let ready: Vec<&str> = parents
            .iter()
            .filter(|(t, ps)| !done.contains(*t) && ps.iter().all(|p| done.contains(p)))
            .map(|(t, _)| *t)
            .collect();
        if ready.is_empty() {
            // A cycle: load its first table now, its unmet parents' keys later.
            let t = *parents.keys().find(|t| !done.contains(*t)).unwrap();
            for r in rels.iter().filter(|r| {
                r.table == t && !done.contains(r.ref_table.as_str()) && r.ref_table != t
            }) {
                broken.push(r.clone());
            }
            done.insert(t);
            order.push(t.to_string());
            continue;
        }
        for t in ready {
            done.insert(t);
            order.push(t.to_string());
        }
    }
    (order, broken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflector() {
        for (plural, single) in [
            ("people", "person"),
            ("categories", "category"),
            ("statuses", "status"),
            ("addresses", "address"),
            ("boxes", "box"),
            ("heroes", "hero"),
            ("wolves", "wolf"),
            ("movies", "movie"),
            ("children", "child"),
            ("line_items", "line_item"),
            ("publisher_addresses", "publisher_address"),
            ("news", "news"),
            ("status", "status"),
            ("characters", "character"),
            ("buses", "bus"),
            ("analyses", "analysis"),
            ("quizzes", "quiz"),
            ("matches", "match"),
            ("wishes", "wish"),
        ] {
            assert_eq!(singularize(plural), single, "{plural}");
        }
    }

    #[test]
    fn order_breaks_cycles() {
        let rel = |t: &str, p: &str| Relationship {
            table: t.into(),
            column: format!("{p}_id"),
            ref_table: p.into(),
            ref_column: "id".into(),
            origin: Origin::Inferred,
        };
        let tables: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        // d → c → b → a, plus a ↔ b cycle… and a self-reference on c.
        let rels = vec![
            rel("d", "c"),
            rel("c", "b"),
            rel("b", "a"),
            rel("a", "b"),
            rel("c", "c"),
        ];
        let (order, broken) = load_order(&tables, &rels);
        assert_eq!(order, ["a", "b", "c", "d"]);
        assert_eq!(broken, vec![rel("a", "b")]);
    }
}
