//! The copy plan: which tables, how each column maps, and the PostgreSQL objects to create.
//! Planning reads only the catalog; every error it finds (unknown table, unmappable type)
//! stops the run before any data moves.

use crate::catalog::{Catalog, Column, DefaultKind, Table};
use crate::error::{Error, Result};
use crate::sink::postgres::{quote_ident, quote_literal};
use crate::types::{map_mysql, Decode, Mapping, PgType};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What happens to the target tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Mode {
    /// Create the tables and load them; an existing table is an error unless `--drop`
    /// (then it is replaced atomically, once the new one is loaded).
    Create,
    /// Load into tables that already exist.
    DataOnly,
    /// Create tables, keys and indexes; move no data.
    SchemaOnly,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetColumn {
    pub name: String,
    pub pg: PgType,
    pub not_null: bool,
    pub default_sql: Option<String>,
    /// MySQL AUTO_INCREMENT: becomes an identity column after the load.
    pub identity: bool,
    pub check: Option<String>,
    pub comment: Option<String>,
    /// A NOT NULL temporal column: created nullable, made NOT NULL after the load unless
    /// zero dates had to become NULL.
    pub deferred_not_null: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetIndex {
    pub name: String,
    pub unique: bool,
    /// Quoted column names or expressions (prefix indexes become `left(col, n)`).
    pub keys: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    pub on_update: String,
    pub on_delete: String,
}

/// One table's plan.
#[derive(Debug, Clone, Serialize)]
pub struct TablePlan {
    pub source: String,
    pub target: String,
    pub columns: Vec<(String, Mapping)>,
    pub target_columns: Vec<TargetColumn>,
    pub primary_key: Vec<String>,
    pub indexes: Vec<TargetIndex>,
    pub foreign_keys: Vec<TargetForeignKey>,
    pub comment: Option<String>,
    /// Sequences restart above this (MySQL's AUTO_INCREMENT − 1), even past max(id).
    pub sequence_floor: Option<u64>,
    /// A single integer primary key column the table can be split on.
    pub split_key: Option<String>,
    pub estimated_rows: u64,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only these tables (exact names); empty means all.
    pub tables: Vec<String>,
    pub exclude: Vec<String>,
}

/// Choose the tables and plan each one.
pub fn plan(catalog: &Catalog, selection: &Selection) -> Result<Vec<TablePlan>> {
    let names: BTreeSet<&str> = catalog.tables.iter().map(|t| t.name.as_str()).collect();
    let unknown: Vec<&str> = selection
        .tables
        .iter()
        .chain(&selection.exclude)
        .map(String::as_str)
        .filter(|t| !names.contains(t))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::Selection(format!(
            "no such table in source database `{}`: {} (it has: {})",
            catalog.database,
            unknown.join(", "),
            names.iter().copied().collect::<Vec<_>>().join(", ")
        )));
    }
    let chosen: Vec<&Table> = catalog
        .tables
        .iter()
        .filter(|t| selection.tables.is_empty() || selection.tables.contains(&t.name))
        .filter(|t| !selection.exclude.contains(&t.name))
        .collect();
    if chosen.is_empty() {
        return Err(Error::Selection(format!(
            "no tables to copy from source database `{}`",
            catalog.database
        )));
    }
    let chosen_names: BTreeSet<&str> = chosen.iter().map(|t| t.name.as_str()).collect();

    // Index names are per table in MySQL but per schema in PostgreSQL.
    let mut index_name_uses: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &chosen {
        for i in &t.indexes {
            *index_name_uses.entry(i.name.as_str()).or_default() += 1;
        }
    }

    let mut plans = Vec::with_capacity(chosen.len());
    for t in chosen {
        plans.push(plan_table(t, &chosen_names, &index_name_uses)?);
    }
    Ok(plans)
}

fn plan_table(
    t: &Table,
    chosen: &BTreeSet<&str>,
    index_name_uses: &BTreeMap<&str, usize>,
) -> Result<TablePlan> {
    let mut warnings = Vec::new();
    let mut columns = Vec::new();
    let mut target_columns = Vec::new();
    for c in &t.columns {
        let m = map_mysql(c).ok_or_else(|| Error::UnsupportedType {
            table: t.name.clone(),
            column: c.name.clone(),
            sql_type: c.column_type.clone(),
        })?;
        let default_sql = translate_default(c, &m, &mut warnings, &t.name);
        if let Some(on_update) = &c.on_update {
            warnings.push(format!(
                "{}.{}: `ON UPDATE {on_update}` is not carried over (PostgreSQL needs a trigger for it)",
                t.name, c.name
            ));
        }
        let check = m.enum_values.as_ref().map(|vals| {
            // MySQL stores '' for an invalid ENUM value in non-strict mode, so allow it.
            let mut list: Vec<String> = vals.iter().map(|v| quote_literal(v)).collect();
            if !vals.iter().any(String::is_empty) {
                list.push("''".into());
            }
            // Named after the target table: the staging table's name would stick otherwise.
            format!(
                "CONSTRAINT {} CHECK ({} IN ({}))",
                quote_ident(&truncate_ident(&format!("{}_{}_check", t.name, c.name))),
                quote_ident(&c.name),
                list.join(", ")
            )
        });
        let temporal = matches!(m.decode, Decode::Date | Decode::DateTime);
        target_columns.push(TargetColumn {
            name: c.name.clone(),
            pg: m.pg.clone(),
            not_null: !c.nullable && !temporal,
            deferred_not_null: !c.nullable && temporal,
            default_sql,
            identity: c.auto_increment
                && matches!(m.pg, PgType::SmallInt | PgType::Integer | PgType::BigInt),
            check,
            comment: c.comment.clone(),
        });
        columns.push((c.name.clone(), m));
    }

    let mut indexes = Vec::new();
    for i in &t.indexes {
        if matches!(i.kind.as_str(), "FULLTEXT" | "SPATIAL") {
            warnings.push(format!(
                "{}: {} index {} is not created (no PostgreSQL equivalent for that index type on these column types)",
                t.name, i.kind, i.name
            ));
            continue;
        }
        let keys = i
            .columns
            .iter()
            .map(|ic| {
                let q = quote_ident(&ic.name);
                match (ic.prefix, t.column(&ic.name).map(|c| c.data_type.as_str())) {
                    (
                        Some(n),
                        Some(
                            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob"
                            | "longblob",
                        ),
                    ) => {
                        format!("(substring({q} from 1 for {n}))")
                    }
                    (Some(n), _) => format!("(left({q}, {n}))"),
                    (None, _) => q,
                }
            })
            .collect();
        let name = if index_name_uses.get(i.name.as_str()).copied().unwrap_or(0) > 1 {
            format!("{}_{}", t.name, i.name)
        } else {
            i.name.clone()
        };
        indexes.push(TargetIndex {
            name: truncate_ident(&name),
            unique: i.unique,
            keys,
        });
    }

    let mut foreign_keys = Vec::new();
    for fk in &t.foreign_keys {
        if !chosen.contains(fk.ref_table.as_str()) {
            warnings.push(format!(
                "{}: foreign key {} to {} is not created: {} is not part of this copy",
                t.name, fk.name, fk.ref_table, fk.ref_table
            ));
            continue;
        }
        foreign_keys.push(TargetForeignKey {
            name: truncate_ident(&fk.name),
            columns: fk.columns.clone(),
            ref_table: fk.ref_table.clone(),
            ref_columns: fk.ref_columns.clone(),
            on_update: fk.on_update.clone(),
            on_delete: fk.on_delete.clone(),
        });
    }

    let split_key = match t.primary_key.as_slice() {
        [k] => t
            .column(k)
            .filter(|c| {
                matches!(
                    c.data_type.as_str(),
                    "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
                )
            })
            .map(|c| c.name.clone()),
        _ => None,
    };

    Ok(TablePlan {
        source: t.name.clone(),
        target: t.name.clone(),
        columns,
        target_columns,
        primary_key: t.primary_key.clone(),
        indexes,
        foreign_keys,
        comment: t.comment.clone(),
        sequence_floor: t.auto_increment.map(|a| a.saturating_sub(1)),
        split_key,
        estimated_rows: t.estimated_rows,
        warnings,
    })
}

/// PostgreSQL identifiers are at most 63 bytes; cut on a character boundary.
pub fn truncate_ident(s: &str) -> String {
    if s.len() <= 63 {
        return s.to_string();
    }
    let mut end = 63;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Translate a MySQL column default into PostgreSQL SQL, or leave it out with a warning.
/// Expressions are never quoted as strings.
fn translate_default(
    c: &Column,
    m: &Mapping,
    warnings: &mut Vec<String>,
    table: &str,
) -> Option<String> {
    let raw = c.default.as_deref()?;
    let mut skip = |why: &str| {
        warnings.push(format!(
            "{table}.{}: default {raw} is left out ({why})",
            c.name
        ));
        None
    };
    let lc = raw.to_ascii_lowercase();
    if c.default_kind == DefaultKind::Expression {
        let is_now = ["current_timestamp", "now(", "localtimestamp", "localtime"]
            .iter()
            .any(|p| lc.starts_with(p));
        return match (&m.pg, is_now) {
            (PgType::Timestamptz(_), true) => Some("CURRENT_TIMESTAMP".into()),
            (PgType::Timestamp(_), true) => Some("LOCALTIMESTAMP".into()),
            (PgType::Date, _) if lc.starts_with("curdate") || lc.starts_with("current_date") => {
                Some("CURRENT_DATE".into())
            }
            _ => skip("an expression barge does not translate"),
        };
    }
    match &m.pg {
        PgType::Boolean => match (m.decode, lc.as_str()) {
            (_, "0" | "b'0'") => Some("false".into()),
            (_, "1" | "b'1'") => Some("true".into()),
            _ => skip("not a boolean literal"),
        },
        PgType::SmallInt
        | PgType::Integer
        | PgType::BigInt
        | PgType::Numeric(_)
        | PgType::Real
        | PgType::Double => {
            if raw.parse::<f64>().is_ok() {
                Some(raw.to_string())
            } else {
                skip("not a number")
            }
        }
        PgType::Date | PgType::Timestamp(_) | PgType::Timestamptz(_) => {
            if raw.starts_with("0000") || raw.contains("-00") {
                skip("a zero date, which PostgreSQL cannot store")
            } else {
                Some(format!("{}::{}", quote_literal(raw), m.pg))
            }
        }
        PgType::Varchar(_) | PgType::Text => Some(quote_literal(raw)),
        PgType::TextArray => {
            let items: Vec<String> = if raw.is_empty() {
                vec![]
            } else {
                raw.split(',').map(quote_literal).collect()
            };
            Some(format!("ARRAY[{}]::text[]", items.join(", ")))
        }
        PgType::Interval(_) => Some(format!("{}::interval", quote_literal(raw))),
        PgType::Jsonb => Some(format!("{}::jsonb", quote_literal(raw))),
        PgType::Bit(_) => skip("bit defaults are not translated"),
        PgType::Bytea => skip("binary defaults are not translated"),
    }
}
