//! Content checksums that a source and a target can agree on: for MySQL into PostgreSQL
//! computed by the servers, for the other directions from barge's own readers.
//!
//! Each value is turned into a canonical text per logical type on its own side (MySQL through
//! the driver's binary protocol, PostgreSQL through server-side text expressions), each row
//! is hashed, and the row hashes are summed: the checksum does not depend on row order, and
//! it streams without holding a table.

use crate::engine::mysql::read::quote_ident as my_ident;
use crate::engine::postgres::write::{qualified, quote_ident};
use crate::error::{Context, Result};
use crate::temporal;
use crate::types::{Decode, Logical, Mapping};
use mysql_async::prelude::Queryable;
use mysql_async::Value;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Checksum {
    pub rows: u64,
    pub hash: u64,
}

const NULL_MARK: &[u8] = b"\x00NULL\x00";

struct RowHasher(u64);

impl RowHasher {
    fn new() -> Self {
        RowHasher(0xcbf2_9ce4_8422_2325)
    }
    fn field(&mut self, v: Option<&[u8]>) {
        for b in v.unwrap_or(NULL_MARK).iter().chain(b"\x1f") {
            self.0 = (self.0 ^ *b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// JSON text with its whitespace, key order and number spelling normalised.
fn canonical_json(s: &str) -> String {
    serde_json::from_str::<serde_json::Value>(s)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| s.to_string())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The canonical text of one MySQL wire value for a column of logical type `m`.
fn mysql_canonical(v: &Value, m: &Mapping) -> Option<String> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Some(match (m.decode, v) {
        (_, Value::NULL) => return None,
        (Decode::Bool01 | Decode::BitBool | Decode::Bits, Value::Bytes(b)) => {
            let n = b.iter().fold(0u64, |a, x| (a << 8) | *x as u64);
            match &m.ty {
                Logical::Bits(bits) => format!("{n:0width$b}", width = *bits as usize),
                _ => n.to_string(),
            }
        }
        (_, Value::Int(i)) => i.to_string(),
        (_, Value::UInt(u)) => u.to_string(),
        (_, Value::Float(f)) => format!("{f:?}"),
        (_, Value::Double(d)) if m.decode == Decode::Float32 => format!("{:?}", *d as f32),
        (_, Value::Double(d)) => format!("{d:?}"),
        (Decode::Json, Value::Bytes(b)) => canonical_json(&text(b)),
        (Decode::Binary | Decode::Geometry, Value::Bytes(b)) => hex(b),
        (Decode::Date, Value::Date(y, mo, d, ..)) => {
            temporal::days_from_civil(*y as i32, *mo as u32, *d as u32)?;
            format!("{y:04}-{mo:02}-{d:02}")
        }
        (Decode::DateTime, Value::Date(y, mo, d, h, mi, s, us)) => {
            temporal::days_from_civil(*y as i32, *mo as u32, *d as u32)?;
            format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")
        }
        (Decode::Time, Value::Time(neg, days, h, mi, s, us)) => {
            let v = ((((*days as i64) * 24 + *h as i64) * 60 + *mi as i64) * 60 + *s as i64)
                * 1_000_000
                + *us as i64;
            (if *neg { -v } else { v }).to_string()
        }
        (_, Value::Bytes(b)) => text(b),
        (_, other) => format!("{other:?}"),
    })
}

/// Checksum of a MySQL table, read as barge reads it; with `first`, only the first rows
/// in the order of the given key.
pub async fn mysql_checksum(
    conn: &mut mysql_async::Conn,
    database: &str,
    table: &str,
    columns: &[(String, Mapping)],
    first: Option<(&str, u64)>,
) -> Result<Checksum> {
    let mut sql = crate::engine::mysql::read::select_columns_sql(database, table, columns);
    if let Some((key, n)) = first {
        sql.push_str(&format!(" ORDER BY {} LIMIT {n}", my_ident(key)));
    }
    let ctx = || format!("checksumming {table}");
    let mut result = conn.exec_iter(sql.as_str(), ()).await.ctx(ctx())?;
    let mut sum = Checksum { rows: 0, hash: 0 };
    while let Some(row) = result.next().await.ctx(ctx())? {
        let mut h = RowHasher::new();
        for (i, (_, m)) in columns.iter().enumerate() {
            let v = mysql_canonical(row.as_ref(i).unwrap_or(&Value::NULL), m);
            h.field(v.as_deref().map(str::as_bytes));
        }
        sum.rows += 1;
        sum.hash = sum.hash.wrapping_add(h.0);
    }
    Ok(sum)
}

/// The PostgreSQL expression giving a column's canonical text (floats are read as binary).
fn pg_expr(name: &str, m: &Mapping) -> String {
    let c = quote_ident(name);
    match (&m.decode, &m.ty) {
        (_, Logical::Bool) => format!("({c})::int::text"),
        (_, Logical::Float32 | Logical::Float64) => c,
        (_, Logical::Binary) => format!("encode({c}, 'hex')"),
        (_, Logical::Date) => format!("to_char({c}, 'YYYY-MM-DD')"),
        (_, Logical::Timestamp(_)) => format!("to_char({c}, 'YYYY-MM-DD HH24:MI:SS.US')"),
        (_, Logical::TimestampUtc(_)) => {
            format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")
        }
        (_, Logical::Duration(_)) => format!("(extract(epoch from {c}) * 1000000)::bigint::text"),
        (_, Logical::TextList) => format!("array_to_string({c}, ',')"),
        // inet's text cast would add the prefix length (/32, /128) to every host.
        (_, Logical::Inet) => format!("host({c})"),
        _ => format!("({c})::text"),
    }
}

/// Checksum of a PostgreSQL table loaded from a MySQL table with these column mappings.
pub async fn pg_checksum(
    client: &tokio_postgres::Client,
    schema: &str,
    table: &str,
    columns: &[(String, Mapping)],
) -> Result<Checksum> {
    use futures_util::StreamExt;
    let exprs: Vec<String> = columns.iter().map(|(n, m)| pg_expr(n, m)).collect();
    let sql = format!(
        "SELECT {} FROM {}",
        exprs.join(", "),
        qualified(schema, table)
    );
    let ctx = || format!("checksumming {schema}.{table}");
    let params: Vec<String> = vec![];
    let rows = client.query_raw(sql.as_str(), &params).await.ctx(ctx())?;
    futures_util::pin_mut!(rows);
    let mut sum = Checksum { rows: 0, hash: 0 };
    while let Some(row) = rows.next().await {
        let row = row.ctx(ctx())?;
        let mut h = RowHasher::new();
        for (i, (_, m)) in columns.iter().enumerate() {
            let v: Option<String> = match m.ty {
                Logical::Float32 => row.get::<_, Option<f32>>(i).map(|f| format!("{f:?}")),
                Logical::Float64 => row.get::<_, Option<f64>>(i).map(|f| format!("{f:?}")),
                Logical::Json => row.get::<_, Option<String>>(i).map(|s| canonical_json(&s)),
                _ => row.get(i),
            };
            h.field(v.as_deref().map(str::as_bytes));
        }
        sum.rows += 1;
        sum.hash = sum.hash.wrapping_add(h.0);
    }
    Ok(sum)
}

/// One table compared by `barge verify`.
#[derive(Debug, Clone, Serialize)]
pub struct TableCheck {
    pub source: String,
    pub target: String,
    pub source_rows: u64,
    /// `None`: the target has no such table.
    pub target_rows: Option<u64>,
    /// Content checksums; `None` where they could not be had (`note` says why), and the
    /// rows are counted only.
    pub source_hash: Option<u64>,
    pub target_hash: Option<u64>,
    pub equal: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub source: String,
    pub target: String,
    pub tables: Vec<TableCheck>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.tables.iter().all(|t| t.equal)
    }

    pub fn to_text(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .tables
            .iter()
            .map(|t| {
                vec![
                    t.source.clone(),
                    if t.equal { "equal" } else { "DIFFERENT" }.to_string(),
                    t.source_rows.to_string(),
                    t.target_rows.map_or("missing".into(), |n| n.to_string()),
                    match (t.source_hash, t.target_hash) {
                        (Some(a), Some(b)) if a == b => format!("{a:016x}"),
                        (Some(a), Some(b)) => format!("{a:016x} ≠ {b:016x}"),
                        _ => t.note.clone().unwrap_or_else(|| "counted only".into()),
                    },
                ]
            })
            .collect();
        format!(
            "verify {} → {}\n{}",
            self.source,
            self.target,
            crate::text_table::render(
                &[
                    "table",
                    "result",
                    "source rows",
                    "target rows",
                    "content checksum"
                ],
                &rows,
                &[false, false, true, true, false],
                false,
            )
        )
    }
}

/// Hashes rows as barge's readers give them: each value formatted by its Arrow type after a
/// cast to `types` (the source side's), rows hashed and summed, so row order is not part of
/// it. `pick`: the batch columns, in the source's column order.
pub struct RowsHasher {
    pick: Vec<usize>,
    types: Vec<arrow_schema::DataType>,
    json: Vec<bool>,
    pub sum: Checksum,
}

impl RowsHasher {
    /// For the batches a plan's source reads (all its read columns, in order).
    pub fn for_plan(p: &crate::plan::TablePlan) -> RowsHasher {
        let n = p.columns.len();
        RowsHasher {
            pick: (0..n).collect(),
            types: source_types(p),
            json: json_columns(p),
            sum: Checksum { rows: 0, hash: 0 },
        }
    }

    /// Add a batch's rows, or say why its values cannot be compared.
    pub fn add(&mut self, batch: &arrow_array::RecordBatch) -> std::result::Result<(), String> {
        use arrow_cast::display::{ArrayFormatter, FormatOptions};
        let options = FormatOptions::default().with_null("\0NULL\0");
        let mut arrays = Vec::with_capacity(self.pick.len());
        for (i, ty) in self.pick.iter().zip(&self.types) {
            let a = &naive(batch.column(*i).clone());
            let ty = &naive_type(ty);
            arrays.push(if a.data_type() == ty {
                a.clone()
            } else {
                arrow_cast::cast(a, ty).map_err(|e| {
                    format!(
                        "column {} is {} on one side and {ty} on the other ({e})",
                        batch.schema().field(*i).name(),
                        a.data_type()
                    )
                })?
            });
        }
        let formatters = arrays
            .iter()
            .map(|a| ArrayFormatter::try_new(a.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        for row in 0..batch.num_rows() {
            let mut h = RowHasher::new();
            for ((f, a), is_json) in formatters.iter().zip(&arrays).zip(&self.json) {
                if a.is_null(row) {
                    h.field(None);
                    continue;
                }
                let text = f.value(row).to_string();
                let text = if *is_json {
                    canonical_json(&text)
                } else {
                    text
                };
                h.field(Some(text.as_bytes()));
            }
            self.sum.rows += 1;
            self.sum.hash = self.sum.hash.wrapping_add(h.0);
        }
        Ok(())
    }
}

fn source_types(p: &crate::plan::TablePlan) -> Vec<arrow_schema::DataType> {
    p.reader_schema().fields()[..p.columns.len()]
        .iter()
        .map(|f| f.data_type().clone())
        .collect()
}

fn json_columns(p: &crate::plan::TablePlan) -> Vec<bool> {
    p.target_columns
        .iter()
        .map(|c| c.ty == crate::types::Logical::Json)
        .collect()
}

/// Every row of a table as barge's own reader streams it, hashed by `hasher`: the checksum
/// for directions other than MySQL → PostgreSQL, where each side is read as a source.
/// Err: why there is none.
async fn arrow_checksum(
    source: &std::sync::Arc<dyn crate::engine::Source>,
    plan: &crate::plan::TablePlan,
    mut hasher: RowsHasher,
) -> Result<std::result::Result<Checksum, String>> {
    let req = crate::engine::ReadRequest {
        plan: std::sync::Arc::new(plan.clone()),
        schema: plan.reader_schema(),
        range: None,
        limit: None,
        batch_rows: 4096,
        batch_bytes: 8 << 20,
        zero_dates: Default::default(),
        rejects: None,
        nul_in_text: true,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let read = source.read(req, tx);
    let hash = async {
        while let Some(batch) = rx.recv().await {
            hasher.add(&batch)?;
        }
        Ok::<_, String>(hasher.sum)
    };
    let (read, hash) = tokio::join!(read, hash);
    // A value that cannot be compared ends the hashing first, and the reader then only sees
    // its receiver gone: the hashing's reason is the one to give.
    match hash {
        Err(why) => Ok(Err(why)),
        Ok(sum) => read.map(|_| Ok(sum)),
    }
}

/// The hasher for target table `tp` read back, comparable with `RowsHasher::for_plan(p)`
/// over `p`'s source: the target's columns picked by name in `p`'s order. None: the
/// target's columns differ.
fn target_hasher(p: &crate::plan::TablePlan, tp: &crate::plan::TablePlan) -> Option<RowsHasher> {
    let tschema = tp.reader_schema();
    let pick = p
        .target_columns
        .iter()
        .map(|c| tschema.index_of(&c.name).ok())
        .collect::<Option<Vec<usize>>>()?;
    Some(RowsHasher {
        pick,
        types: source_types(p),
        json: json_columns(p),
        sum: Checksum { rows: 0, hash: 0 },
    })
}

/// The checksum of `p`'s source table as barge reads it from `from`, comparable with
/// `read_back_checksum`. The inner Err says why there is none.
pub async fn source_checksum(
    from: &crate::url::DbUrl,
    p: &crate::plan::TablePlan,
) -> Result<std::result::Result<Checksum, String>> {
    let source = crate::engine::open_source(from, 1).await?;
    let sum = arrow_checksum(&source, p, RowsHasher::for_plan(p)).await;
    source.close().await;
    sum
}

/// The checksum of `p`'s target table as barge reads it back from `target` (a URL naming
/// the schema or database it is in), comparable with `RowsHasher::for_plan(p)`. The inner
/// Err says why there is none.
pub async fn read_back_checksum(
    target: &crate::url::DbUrl,
    p: &crate::plan::TablePlan,
) -> Result<std::result::Result<Checksum, String>> {
    let source = crate::engine::open_source(target, 1).await?;
    let result = async {
        let catalog = source.catalog().await?;
        let tsel = crate::plan::Selection {
            tables: vec![p.target.clone()],
            ..Default::default()
        };
        let Some(tp) =
            crate::plan::plan_each(&catalog, crate::engine::source_types(catalog.engine), &tsel)?
                .0
                .into_iter()
                .next()
        else {
            return Ok(Err(format!("no table {} in the target", p.target)));
        };
        match target_hasher(p, &tp) {
            Some(h) => arrow_checksum(&source, &tp, h).await,
            None => Ok(Err("the target's columns differ".into())),
        }
    }
    .await;
    source.close().await;
    result
}

/// Both sides' checksums through barge's readers, the target's columns cast to the source's
/// Arrow types. The inner Err says why the content cannot be compared.
async fn compare_through_readers(
    source: &std::sync::Arc<dyn crate::engine::Source>,
    p: &crate::plan::TablePlan,
    target: &std::sync::Arc<dyn crate::engine::Source>,
    tp: &crate::plan::TablePlan,
) -> Result<std::result::Result<(Checksum, Checksum), String>> {
    let Some(th) = target_hasher(p, tp) else {
        return Ok(Err("the target's columns differ".into()));
    };
    let s = arrow_checksum(source, p, RowsHasher::for_plan(p)).await?;
    let t = arrow_checksum(target, tp, th).await?;
    Ok(s.and_then(|s| t.map(|t| (s, t))))
}

/// A timestamp with a zone as the same instant without one: both sides hold UTC, and a
/// cast would need the zone database barge is built without.
fn naive(a: arrow_array::ArrayRef) -> arrow_array::ArrayRef {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    use arrow_schema::{DataType as D, TimeUnit as U};
    match a.data_type() {
        D::Timestamp(U::Microsecond, Some(_)) => std::sync::Arc::new(
            a.as_primitive::<TimestampMicrosecondType>()
                .clone()
                .with_timezone_opt(None::<String>),
        ),
        D::Timestamp(U::Millisecond, Some(_)) => std::sync::Arc::new(
            a.as_primitive::<TimestampMillisecondType>()
                .clone()
                .with_timezone_opt(None::<String>),
        ),
        D::Timestamp(U::Second, Some(_)) => std::sync::Arc::new(
            a.as_primitive::<TimestampSecondType>()
                .clone()
                .with_timezone_opt(None::<String>),
        ),
        D::Timestamp(U::Nanosecond, Some(_)) => std::sync::Arc::new(
            a.as_primitive::<TimestampNanosecondType>()
                .clone()
                .with_timezone_opt(None::<String>),
        ),
        _ => a,
    }
}

fn naive_type(t: &arrow_schema::DataType) -> arrow_schema::DataType {
    match t {
        arrow_schema::DataType::Timestamp(u, Some(_)) => {
            arrow_schema::DataType::Timestamp(*u, None)
        }
        t => t.clone(),
    }
}

/// Compare every selected source table with the target table of the same name: row counts,
/// and content checksums (MySQL/MariaDB into PostgreSQL computed by the servers; other
/// directions through barge's readers). Reads both sides only; usable after any run,
/// barge's or another tool's.
pub async fn verify(
    from: &crate::url::DbUrl,
    to: &crate::url::DbUrl,
    schema: &str,
    selection: &crate::plan::Selection,
) -> Result<VerifyReport> {
    use crate::url::Engine;
    let opts = crate::run::CopyOptions {
        selection: selection.clone(),
        schema: schema.to_string(),
        ..Default::default()
    };
    let (_, plans) = crate::run::plan_only(from, to, &opts).await?;
    // The target, read as a source of its own: its tables and their counts.
    let target_src = match to.engine() {
        Engine::Postgres => to.with_schema(schema),
        Engine::Mysql => to.clone(),
    };
    let target = crate::engine::open_source(&target_src, 1).await?;
    let result = async {
        let catalog = target.catalog().await?;
        let mut tables = Vec::new();
        let source = crate::engine::open_source(from, 1).await?;
        let checksums = (from.engine(), to.engine()) == (Engine::Mysql, Engine::Postgres);
        let checks = async {
            // One connection to each side for every table's checksum.
            let mut conns = None;
            if checksums {
                let my = crate::engine::mysql::connect::mysql_pool(from, 1)
                    .await?
                    .get_conn()
                    .await
                    .ctx("connecting to the source")?;
                let pg =
                    crate::engine::postgres::connect::pg_connect(to, crate::error::Side::Target)
                        .await?;
                conns = Some((my, pg));
            }
            for p in &plans {
                let (source_rows, _) = source.count(p, 1, u64::MAX / 4).await?;
                let mut check = TableCheck {
                    source: p.source.clone(),
                    target: p.target.clone(),
                    source_rows,
                    target_rows: None,
                    source_hash: None,
                    target_hash: None,
                    equal: false,
                    note: None,
                };
                // The target table, planned once as a source of its own.
                let mut tp = None;
                if catalog.tables.iter().any(|t| t.name == p.target) {
                    let tsel = crate::plan::Selection {
                        tables: vec![p.target.clone()],
                        ..Default::default()
                    };
                    tp = crate::plan::plan_each(
                        &catalog,
                        crate::engine::source_types(catalog.engine),
                        &tsel,
                    )?
                    .0
                    .into_iter()
                    .next();
                }
                if let Some(tp) = &tp {
                    check.target_rows = Some(target.count(tp, 1, u64::MAX / 4).await?.0);
                    if conns.is_none() {
                        match compare_through_readers(&source, p, &target, tp).await? {
                            Ok((s, t)) => {
                                check.source_hash = Some(s.hash);
                                check.target_hash = Some(t.hash);
                            }
                            // Content that cannot be compared is not called equal.
                            Err(why) => check.note = Some(format!("content not compared: {why}")),
                        }
                    }
                }
                if let Some((my, pg)) = conns.as_mut().filter(|_| check.target_rows.is_some()) {
                    let db = from.database().unwrap_or_default();
                    let s = mysql_checksum(my, &db, &p.source, &p.columns, None).await?;
                    let cols: Vec<(String, Mapping)> = p
                        .target_columns
                        .iter()
                        .zip(&p.columns)
                        .map(|(t, (_, m))| (t.name.clone(), m.clone()))
                        .collect();
                    let t = pg_checksum(pg, schema, &p.target, &cols).await?;
                    check.source_hash = Some(s.hash);
                    check.target_hash = Some(t.hash);
                }
                check.equal = check.target_rows == Some(check.source_rows)
                    && check.source_hash == check.target_hash
                    && check.note.is_none();
                tables.push(check);
            }
            Ok::<_, crate::Error>(())
        }
        .await;
        source.close().await;
        checks.map(|()| tables)
    }
    .await;
    target.close().await;
    Ok(VerifyReport {
        source: from.redacted(),
        target: to.redacted(),
        tables: result?,
    })
}
