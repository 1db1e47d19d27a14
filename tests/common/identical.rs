//! Value-by-value comparison of a copied table with its source, through each server's own
//! canonical text of each type, never through barge's reader.

use super::TestDb;
use mysql_async::prelude::Queryable;
use mysql_async::Value;

struct SourceColumn {
    name: String,
    data_type: String,
    column_type: String,
    json: bool,
}

async fn source_columns(my: &mut mysql_async::Conn, db: &str, table: &str) -> Vec<SourceColumn> {
    let rows: Vec<(String, String, String)> = my
        .exec(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (db, table),
        )
        .await
        .unwrap();
    let json: Vec<String> = my
        .exec(
            "SELECT CONSTRAINT_NAME FROM information_schema.CHECK_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ? AND CHECK_CLAUSE LIKE 'json_valid(%'",
            (db, table),
        )
        .await
        .unwrap();
    rows.into_iter()
        .map(|(name, data_type, column_type)| SourceColumn {
            json: data_type == "json" || json.contains(&name),
            name,
            data_type,
            column_type,
        })
        .collect()
}

/// The canonical text of a column on each side, computed by each server itself (or, for
/// floats, the exact bits through each driver), never through barge's reader.
fn canonical(c: &SourceColumn) -> (String, String) {
    let m = format!("`{}`", c.name);
    let p = format!("\"{}\"", c.name);
    let invalid_date = format!("(YEAR({m}) = 0 OR MONTH({m}) = 0 OR DAYOFMONTH({m}) = 0)");
    match c.data_type.as_str() {
        "tinyint" if c.column_type.starts_with("tinyint(1)") => {
            (format!("CAST({m} AS CHAR)"), format!("{p}::int::text"))
        }
        "year" => (format!("CAST({m} + 0 AS CHAR)"), format!("{p}::text")),
        "float" | "double" => (m, p),
        "bit" if c.column_type == "bit(1)" => {
            (format!("CAST({m} + 0 AS CHAR)"), format!("{p}::int::text"))
        }
        "bit" => {
            let n: String = c.column_type.chars().filter(char::is_ascii_digit).collect();
            (format!("LPAD(BIN({m}), {n}, '0')"), format!("{p}::text"))
        }
        "set" => (m, format!("array_to_string({p}, ',')")),
        // inet's text cast would add the prefix length to every host address.
        "inet4" | "inet6" => (format!("CAST({m} AS CHAR)"), format!("host({p})")),
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
            (format!("HEX({m})"), format!("upper(encode({p}, 'hex'))"))
        }
        "geometry" | "point" | "linestring" | "polygon" | "geometrycollection" => (
            format!("HEX(ST_AsWKB({m}))"),
            format!("upper(encode({p}, 'hex'))"),
        ),
        "date" => (
            format!("IF({invalid_date}, NULL, DATE_FORMAT({m}, '%Y-%m-%d'))"),
            format!("to_char({p}, 'YYYY-MM-DD')"),
        ),
        "datetime" => (
            format!("IF({invalid_date}, NULL, DATE_FORMAT({m}, '%Y-%m-%d %H:%i:%s.%f'))"),
            format!("to_char({p}, 'YYYY-MM-DD HH24:MI:SS.US')"),
        ),
        "timestamp" => (
            format!("IF({invalid_date}, NULL, DATE_FORMAT({m}, '%Y-%m-%d %H:%i:%s.%f'))"),
            format!("to_char({p} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"),
        ),
        "time" => (
            format!("CAST(CAST(TIME_TO_SEC({m}) AS DECIMAL(20,6)) AS CHAR)"),
            format!("(extract(epoch from {p})::numeric(20,6))::text"),
        ),
        _ => (format!("CAST({m} AS CHAR)"), format!("{p}::text")),
    }
}

fn mysql_text(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8(b.clone()).expect("utf8 from MySQL")),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(format!("{f:?}")),
        Value::Double(d) => Some(format!("{d:?}")),
        other => panic!("unexpected canonical value {other:?}"),
    }
}

/// Compare every value of every column of `table` between source and target.
pub async fn assert_table_identical(db: &TestDb, table: &str) -> usize {
    let mut my = db.mysql().await;
    let pg = db.pg().await;
    let cols = source_columns(&mut my, &db.name, table).await;
    let (my_exprs, pg_exprs): (Vec<String>, Vec<String>) = cols.iter().map(canonical).unzip();
    let my_rows: Vec<mysql_async::Row> = my
        .exec(
            format!("SELECT {} FROM `{}`", my_exprs.join(", "), table),
            (),
        )
        .await
        .unwrap();
    let mut source: Vec<Vec<Option<String>>> = Vec::new();
    for r in &my_rows {
        let mut row = Vec::new();
        for (i, c) in cols.iter().enumerate() {
            let v = mysql_text(r.as_ref(i).unwrap());
            // JSON equality: let PostgreSQL's jsonb canonicalise the source text too.
            let v = match (c.json, v) {
                (true, Some(t)) => Some(
                    pg.query_one("SELECT $1::text::jsonb::text", &[&t])
                        .await
                        .unwrap()
                        .get(0),
                ),
                (_, v) => v,
            };
            row.push(v);
        }
        source.push(row);
    }
    let pg_rows = pg
        .query(
            &format!("SELECT {} FROM \"{}\"", pg_exprs.join(", "), table),
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{table}: {}", barge::error::pg_message(&e)));
    let mut target: Vec<Vec<Option<String>>> = pg_rows
        .iter()
        .map(|r| {
            cols.iter()
                .enumerate()
                .map(|(i, c)| match c.data_type.as_str() {
                    "float" => r.get::<_, Option<f32>>(i).map(|f| format!("{f:?}")),
                    "double" => r.get::<_, Option<f64>>(i).map(|f| format!("{f:?}")),
                    _ => r.get::<_, Option<String>>(i),
                })
                .collect()
        })
        .collect();
    source.sort();
    target.sort();
    assert_eq!(source.len(), target.len(), "{table}: row count");
    for (s, t) in source.iter().zip(&target) {
        for (i, c) in cols.iter().enumerate() {
            assert_eq!(s[i], t[i], "{table}.{} differs (source row {s:?})", c.name);
        }
    }
    source.len()
}
