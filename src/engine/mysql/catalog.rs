//! Reading a MySQL/MariaDB catalog from `information_schema`.

use crate::catalog::{Catalog, Column, DefaultKind, ForeignKey, Index, IndexColumn, Table};
use crate::error::{Context, Result};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use std::collections::BTreeMap;

fn text(row: &Row, i: usize) -> Option<String> {
    match row.as_ref(i)? {
        mysql_async::Value::NULL => None,
        mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        v => Some(v.as_sql(true).trim_matches('\'').to_string()),
    }
}

fn num(row: &Row, i: usize) -> Option<u64> {
    match row.as_ref(i)? {
        mysql_async::Value::Int(v) => u64::try_from(*v).ok(),
        mysql_async::Value::UInt(v) => Some(*v),
        mysql_async::Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// Tables up to this many rows (the server's estimate) are scanned whole to learn whether a
/// TINYINT(1) is a boolean; larger ones only where the column leads an index.
pub const TINYINT_SCAN_ROWS: u64 = 200_000;

/// Find the TINYINT(1) columns (MySQL's boolean) of `columns` that hold another value than 0
/// and 1, where that is cheap to learn: the column leads an index (a range read), or the
/// table is small. Such a column is recorded as a small integer (`Column::non_boolean`).
/// Elsewhere a stray value stays an error at read time, whose message names the `--cast`.
/// Returns whether any column was found to hold such a value.
pub async fn probe_tinyint_booleans(
    conn: &mut Conn,
    db: &str,
    catalog: &mut Catalog,
    columns: &[(String, String)],
) -> Result<bool> {
    let mut any = false;
    for (table, column) in columns {
        let Some(t) = catalog.tables.iter_mut().find(|t| t.name == *table) else {
            continue;
        };
        let indexed = t.primary_key.first() == Some(column)
            || t.indexes.iter().any(|i| {
                i.columns
                    .first()
                    .is_some_and(|c| c.name == *column && c.prefix.is_none())
            });
        if !indexed && t.estimated_rows > TINYINT_SCAN_ROWS {
            continue;
        }
        let c = crate::engine::mysql::read::quote_ident(column);
        let found: Option<i64> = conn
            .query_first(format!(
                "SELECT {c} FROM {}.{} WHERE {c} < 0 OR {c} > 1 LIMIT 1",
                crate::engine::mysql::read::quote_ident(db),
                crate::engine::mysql::read::quote_ident(table)
            ))
            .await
            .ctx(format!(
                "checking whether {table}.{column} holds only 0 and 1"
            ))?;
        if let Some(col) = t.columns.iter_mut().find(|x| x.name == *column) {
            any |= found.is_some();
            col.non_boolean = found;
        }
    }
    Ok(any)
}

/// Read the catalog of database `db`. Only base tables (no views).
pub async fn introspect(conn: &mut Conn, db: &str) -> Result<Catalog> {
    let version = crate::engine::mysql::connect::mysql_version(conn).await?;
    let is_mariadb = version.to_ascii_lowercase().contains("mariadb");

    let exists: Option<String> = conn
        .exec_first(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (db,),
        )
        .await
        .ctx("reading information_schema.SCHEMATA")?;
    if exists.is_none() {
        return Err(crate::Error::Selection(format!(
            "source database `{db}` does not exist"
        )));
    }

    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    let rows: Vec<Row> = conn
        .exec(
            "SELECT TABLE_NAME, TABLE_COMMENT, TABLE_ROWS, AUTO_INCREMENT \
             FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
            (db,),
        )
        .await
        .ctx("reading information_schema.TABLES")?;
    for r in &rows {
        let name = text(r, 0).unwrap_or_default();
        tables.insert(
            name.clone(),
            Table {
                name,
                comment: text(r, 1).filter(|c| !c.is_empty()),
                estimated_rows: num(r, 2).unwrap_or(0),
                auto_increment: num(r, 3),
                ..Table::default()
            },
        );
    }

    // MariaDB's JSON is LONGTEXT plus a CHECK (json_valid(`col`)): find those columns.
    let mut json_checked: BTreeMap<(String, String), ()> = BTreeMap::new();
    let mut table_checks: Vec<(String, crate::catalog::Check)> = Vec::new();
    if is_mariadb {
        let rows: Vec<Row> = conn
            .exec(
                "SELECT TABLE_NAME, CHECK_CLAUSE, CONSTRAINT_NAME \
                 FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? \
                 ORDER BY TABLE_NAME, CONSTRAINT_NAME",
                (db,),
            )
            .await
            .ctx("reading information_schema.CHECK_CONSTRAINTS")?;
        for r in &rows {
            let (Some(t), Some(clause)) = (text(r, 0), text(r, 1)) else {
                continue;
            };
            let c = clause.trim();
            if let Some(rest) = c.strip_prefix("json_valid(`") {
                if let Some(col) = rest.strip_suffix("`)") {
                    json_checked.insert((t, col.replace("``", "`")), ());
                    continue;
                }
            }
            // A column's own CHECK becomes a table constraint of the same name.
            table_checks.push((
                t,
                crate::catalog::Check {
                    name: text(r, 2).unwrap_or_default(),
                    definition: format!("CHECK ({c})"),
                },
            ));
        }
    }

    let rows: Vec<Row> = conn
        .exec(
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, \
                    CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, \
                    CHARACTER_SET_NAME, EXTRA, COLUMN_COMMENT \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? \
             ORDER BY TABLE_NAME, ORDINAL_POSITION",
            (db,),
        )
        .await
        .ctx("reading information_schema.COLUMNS")?;
    for r in &rows {
        let tname = text(r, 0).unwrap_or_default();
        let Some(table) = tables.get_mut(&tname) else {
            continue; // a view
        };
        let name = text(r, 1).unwrap_or_default();
        let data_type = text(r, 2).unwrap_or_default().to_ascii_lowercase();
        let extra = text(r, 11).unwrap_or_default();
        let extra_lc = extra.to_ascii_lowercase();
        let raw_default = text(r, 5);
        let (default, default_kind) = classify_default(raw_default, &extra_lc, is_mariadb);
        let on_update = extra_lc
            .find("on update ")
            .map(|i| extra[i + "on update ".len()..].trim().to_string());
        table.columns.push(Column {
            json_checked: json_checked.contains_key(&(tname.clone(), name.clone())),
            name,
            data_type,
            column_type: text(r, 3).unwrap_or_default(),
            nullable: text(r, 4).as_deref() == Some("YES"),
            default,
            default_kind,
            char_max_length: num(r, 6),
            numeric_precision: num(r, 7).map(|v| v as u32),
            numeric_scale: num(r, 8).map(|v| v as u32),
            datetime_precision: num(r, 9).map(|v| v as u32),
            charset: text(r, 10),
            auto_increment: extra_lc.contains("auto_increment"),
            on_update,
            comment: text(r, 12).filter(|c| !c.is_empty()),
            non_boolean: None,
            labels: vec![],
            user_type: false,
            refused: None,
            as_text_because: None,
            type_def: None,
        });
    }

    let rows: Vec<Row> = conn
        .exec(
            "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, INDEX_TYPE \
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? \
             ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
            (db,),
        )
        .await
        .ctx("reading information_schema.STATISTICS")?;
    for r in &rows {
        let Some(table) = tables.get_mut(&text(r, 0).unwrap_or_default()) else {
            continue;
        };
        let index = text(r, 1).unwrap_or_default();
        let column = text(r, 3).unwrap_or_default();
        if index == "PRIMARY" {
            table.primary_key.push(column);
            continue;
        }
        let col = IndexColumn {
            name: column,
            prefix: num(r, 4).map(|v| v as u32),
        };
        match table.indexes.iter_mut().find(|i| i.name == index) {
            Some(i) => i.columns.push(col),
            None => table.indexes.push(Index {
                name: index,
                unique: num(r, 2) == Some(0),
                columns: vec![col],
                kind: text(r, 5).unwrap_or_default(),
                expression: false,
                definition: None,
            }),
        }
    }

    let rows: Vec<Row> = conn
        .exec(
            "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, \
                    k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE, r.DELETE_RULE \
             FROM information_schema.KEY_COLUMN_USAGE k \
             JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
               ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
              AND r.TABLE_NAME = k.TABLE_NAME \
             WHERE k.TABLE_SCHEMA = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL \
             ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
            (db,),
        )
        .await
        .ctx("reading information_schema.KEY_COLUMN_USAGE")?;
    for r in &rows {
        let Some(table) = tables.get_mut(&text(r, 0).unwrap_or_default()) else {
            continue;
        };
        let name = text(r, 1).unwrap_or_default();
        let (col, ref_col) = (
            text(r, 2).unwrap_or_default(),
            text(r, 4).unwrap_or_default(),
        );
        match table.foreign_keys.iter_mut().find(|f| f.name == name) {
            Some(fk) => {
                fk.columns.push(col);
                fk.ref_columns.push(ref_col);
            }
            None => table.foreign_keys.push(ForeignKey {
                name,
                columns: vec![col],
                ref_table: text(r, 3).unwrap_or_default(),
                ref_columns: vec![ref_col],
                on_update: text(r, 5).unwrap_or_else(|| "NO ACTION".into()),
                on_delete: text(r, 6).unwrap_or_else(|| "NO ACTION".into()),
            }),
        }
    }

    for (t, c) in table_checks {
        if let Some(table) = tables.get_mut(&t) {
            table.checks.push(c);
        }
    }
    Ok(Catalog {
        engine: crate::url::Engine::Mysql,
        target: None,
        target_version: None,
        target_strict_uuid: None,
        database: db.to_string(),
        server_version: version,
        tables: tables.into_values().collect(),
    })
}

/// MariaDB (10.2.7+) reports string literal defaults quoted, `NULL` for no default and
/// expressions bare; MySQL 8 reports literals bare and flags expressions in EXTRA.
fn classify_default(
    raw: Option<String>,
    extra_lc: &str,
    is_mariadb: bool,
) -> (Option<String>, DefaultKind) {
    let Some(raw) = raw else {
        return (None, DefaultKind::None);
    };
    if is_mariadb {
        if raw == "NULL" {
            return (None, DefaultKind::None);
        }
        if raw.len() >= 2 && raw.starts_with('\'') && raw.ends_with('\'') {
            let inner = &raw[1..raw.len() - 1];
            return (Some(unescape_mariadb(inner)), DefaultKind::Literal);
        }
        if raw.parse::<f64>().is_ok() {
            return (Some(raw), DefaultKind::Literal);
        }
        return (Some(raw), DefaultKind::Expression);
    }
    if extra_lc.contains("default_generated") {
        (Some(raw), DefaultKind::Expression)
    } else {
        (Some(raw), DefaultKind::Literal)
    }
}

fn unescape_mariadb(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if chars.peek() == Some(&'\'') => {
                chars.next();
                out.push('\'');
            }
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('0') => out.push('\0'),
                Some('Z') => out.push('\x1a'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_defaults() {
        assert_eq!(classify_default(None, "", true), (None, DefaultKind::None));
        assert_eq!(
            classify_default(Some("NULL".into()), "", true),
            (None, DefaultKind::None)
        );
        assert_eq!(
            classify_default(Some("'it''s'".into()), "", true),
            (Some("it's".into()), DefaultKind::Literal)
        );
        assert_eq!(
            classify_default(Some("current_timestamp(6)".into()), "", true).1,
            DefaultKind::Expression
        );
        assert_eq!(
            classify_default(Some("1".into()), "", true),
            (Some("1".into()), DefaultKind::Literal)
        );
    }
}
