//! The MySQL/MariaDB reader: one streaming, binary-protocol query per partition, decoded
//! value by value straight into Arrow builders. Nothing holds more than one batch.

use crate::decimal::parse_decimal;
use crate::engine::ReadStats;
use crate::error::{Context, Error, Result};
use crate::partition::KeyRange;
use crate::temporal;
use crate::types::{Decode, Mapping};
use arrow_array::builder::*;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_buffer::i256;
use arrow_schema::{DataType, SchemaRef};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};
use std::sync::Arc;
use tokio::sync::mpsc;

/// What one partition read should fetch.
pub struct ReadSpec {
    pub database: String,
    pub table: String,
    pub columns: Arc<Vec<(String, Mapping)>>,
    pub schema: SchemaRef,
    pub range: Option<KeyRange>,
    /// A key column, to name the row in errors (the primary key's first column).
    pub key_column: Option<String>,
    /// Read only the first rows in key order (benchmark samples).
    pub limit: Option<u64>,
    /// An SQL condition the source applies (a job's row filter).
    pub filter: Option<String>,
    pub batch_rows: usize,
    /// Flush a batch early once its values exceed this many bytes (wide text/blob rows).
    pub batch_bytes: usize,
    /// Dates PostgreSQL cannot hold: NULL (counted) or an error.
    pub zero_dates: temporal::ZeroDates,
    /// With `--on-error skip-row`: where a row that cannot be converted goes, instead of
    /// failing the table.
    pub rejects: Option<Arc<crate::rejects::Rejects>>,
    /// The target stores NUL characters in text (PostgreSQL does not).
    pub nul_in_text: bool,
}

pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `SELECT <columns as barge reads them> FROM db.table`: the one place that decides how
/// each column is fetched (spatial columns as standard WKB), for the reader and checksums.
pub fn select_columns_sql(database: &str, table: &str, columns: &[(String, Mapping)]) -> String {
    let cols: Vec<String> = columns
        .iter()
        .map(|(name, m)| match m.decode {
            Decode::Geometry => format!("ST_AsWKB({})", quote_ident(name)),
            _ => quote_ident(name),
        })
        .collect();
    format!(
        "SELECT {} FROM {}.{}",
        cols.join(", "),
        quote_ident(database),
        quote_ident(table)
    )
}

/// The SELECT for a partition. Bounds are integers, so they are written inline.
pub fn select_sql(spec: &ReadSpec) -> String {
    let mut sql = select_columns_sql(&spec.database, &spec.table, &spec.columns);
    let mut conditions = Vec::new();
    if let Some(r) = &spec.range {
        conditions.push(format!(
            "{} BETWEEN {} AND {}",
            quote_ident(&r.column),
            r.lo,
            r.hi
        ));
    }
    if let Some(f) = &spec.filter {
        conditions.push(format!("({f})"));
    }
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    if let Some(n) = spec.limit {
        if let Some(k) = &spec.key_column {
            sql.push_str(&format!(" ORDER BY {}", quote_ident(k)));
        }
        sql.push_str(&format!(" LIMIT {n}"));
    }
    sql
}

/// Stream one partition into `tx`. Returns early (Ok) if the receiver is gone: the writer
/// failed and reports its own error.
pub async fn read_partition(
    conn: &mut Conn,
    spec: &ReadSpec,
    tx: mpsc::Sender<RecordBatch>,
) -> Result<ReadStats> {
    let sql = select_sql(spec);
    let mut builders: Vec<ColumnBuilder> = spec
        .columns
        .iter()
        .map(|(_, m)| {
            ColumnBuilder::new(m, spec.batch_rows).map(|mut b| {
                if spec.nul_in_text {
                    b.allow_nul();
                }
                b
            })
        })
        .collect::<Result<_>>()?;
    let mut stats = ReadStats {
        rows: 0,
        nulled_dates: vec![Default::default(); builders.len()],
        rejected: 0,
    };
    // Rows of the current batch left out (skip-row): removed before it is sent.
    let mut dropped: Vec<usize> = Vec::new();
    let key_index = spec
        .key_column
        .as_ref()
        .and_then(|k| spec.columns.iter().position(|(n, _)| n == k));

    let mut result = conn
        .exec_iter(sql.as_str(), ())
        .await
        .ctx(format!("reading table {}", spec.table))?;
    let mut rows_in_batch = 0usize;
    let mut bytes_in_batch = 0usize;
    while let Some(row) = result
        .next()
        .await
        .ctx(format!("reading table {}", spec.table))?
    {
        // A refused value: the column, whether its builder already holds this row's NULL,
        // and the message.
        let mut refused_at: Option<(usize, bool, String)> = None;
        for (i, b) in builders.iter_mut().enumerate() {
            let v = row.as_ref(i).unwrap_or(&Value::NULL);
            if let Value::Bytes(bytes) = v {
                bytes_in_batch += bytes.len();
            }
            let (appended, refused) = match b.append(v) {
                Ok(Appended::Value) => continue,
                Ok(Appended::NulledDate(fault)) if spec.zero_dates == temporal::ZeroDates::Null => {
                    stats.nulled_dates[i].add(fault);
                    continue;
                }
                Ok(Appended::NulledDate(fault)) => (
                    true,
                    format!(
                        "{} {} has no PostgreSQL value, and --zero-dates error refuses to write \
                         it as NULL",
                        fault.describe(),
                        v.as_sql(true)
                    ),
                ),
                Err(detail) => (false, detail),
            };
            if spec.rejects.is_some() {
                refused_at = Some((i, appended, refused));
                break;
            }
            let at = key_index
                .and_then(|k| row.as_ref(k))
                .map(|k| {
                    format!(
                        " (row with {} = {})",
                        spec.columns[key_index.unwrap()].0,
                        k.as_sql(true)
                    )
                })
                .unwrap_or_default();
            let (column, m) = &spec.columns[i];
            let hint = if m.decode == Decode::Bool01 {
                format!(
                    "; copy it as a small integer with --cast {}.{column}=smallint (job files: \
                     cast = {{ {column} = \"smallint\" }})",
                    spec.table
                )
            } else {
                String::new()
            };
            return Err(Error::Value {
                table: spec.table.to_string(),
                column: column.clone(),
                detail: format!("{refused}{at}{hint}"),
            });
        }
        if let (Some((i, appended, reason)), Some(rejects)) = (refused_at, &spec.rejects) {
            let key = key_index.and_then(|k| Some((spec.columns[k].0.as_str(), row.as_ref(k)?)));
            let v = row.as_ref(i).unwrap_or(&Value::NULL);
            rejects.record(key, &spec.columns[i].0, &reason, v)?;
            // The row's other columns get a NULL so the builders stay aligned; the row is
            // taken out of the batch before it is sent.
            let from = if appended { i + 1 } else { i };
            for b in &mut builders[from..] {
                b.append_null();
            }
            dropped.push(rows_in_batch);
            stats.rejected += 1;
        }
        rows_in_batch += 1;
        if rows_in_batch >= spec.batch_rows || bytes_in_batch >= spec.batch_bytes {
            stats.rows += rows_in_batch as u64;
            if !send(&mut builders, &spec.schema, &tx, &mut dropped).await? {
                return Ok(stats);
            }
            rows_in_batch = 0;
            bytes_in_batch = 0;
        }
    }
    drop(result);
    if rows_in_batch > 0 {
        stats.rows += rows_in_batch as u64;
        send(&mut builders, &spec.schema, &tx, &mut dropped).await?;
    }
    Ok(stats)
}

async fn send(
    builders: &mut [ColumnBuilder],
    schema: &SchemaRef,
    tx: &mpsc::Sender<RecordBatch>,
    dropped: &mut Vec<usize>,
) -> Result<bool> {
    let arrays: Vec<ArrayRef> = builders.iter_mut().map(ColumnBuilder::finish).collect();
    let mut batch =
        RecordBatch::try_new(schema.clone(), arrays).map_err(|source| Error::Arrow {
            context: "building a record batch".into(),
            source,
        })?;
    if !dropped.is_empty() {
        let mut keep = vec![true; batch.num_rows()];
        for &r in dropped.iter() {
            keep[r] = false;
        }
        batch = arrow_select::filter::filter_record_batch(
            &batch,
            &arrow_array::BooleanArray::from(keep),
        )
        .map_err(|source| Error::Arrow {
            context: "leaving rejected rows out of a batch".into(),
            source,
        })?;
        dropped.clear();
    }
    Ok(tx.send(batch).await.is_ok())
}

#[derive(Debug, PartialEq, Eq)]
pub enum Appended {
    Value,
    /// A date PostgreSQL cannot hold: NULL was appended.
    NulledDate(temporal::DateFault),
}

/// A typed Arrow builder per column; `append` decodes one wire value into it.
pub enum ColumnBuilder {
    Bool01(BooleanBuilder),
    BitBool(BooleanBuilder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    U64(UInt64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    D128(Decimal128Builder, u8),
    D256(Decimal256Builder, u8),
    /// Text; the flag: NUL characters allowed (the target can store them).
    Utf8(StringBuilder, bool),
    Binary(BinaryBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Time(DurationMicrosecondBuilder),
    Bits(UInt64Builder),
    Set(ListBuilder<StringBuilder>),
}

impl ColumnBuilder {
    pub fn new(m: &Mapping, cap: usize) -> Result<ColumnBuilder> {
        Ok(match (m.decode, &m.arrow) {
            (Decode::Bool01, _) => Self::Bool01(BooleanBuilder::with_capacity(cap)),
            (Decode::BitBool, _) => Self::BitBool(BooleanBuilder::with_capacity(cap)),
            (Decode::Int16, _) => Self::I16(Int16Builder::with_capacity(cap)),
            (Decode::Int32, _) => Self::I32(Int32Builder::with_capacity(cap)),
            (Decode::Int64, _) => Self::I64(Int64Builder::with_capacity(cap)),
            (Decode::UInt64, _) => Self::U64(UInt64Builder::with_capacity(cap)),
            (Decode::Float32, _) => Self::F32(Float32Builder::with_capacity(cap)),
            (Decode::Float64, _) => Self::F64(Float64Builder::with_capacity(cap)),
            (Decode::Decimal, DataType::Decimal128(p, s)) => Self::D128(
                Decimal128Builder::with_capacity(cap)
                    .with_precision_and_scale(*p, *s)
                    .map_err(|source| Error::Arrow {
                        context: "a decimal builder".into(),
                        source,
                    })?,
                *s as u8,
            ),
            (Decode::Decimal, DataType::Decimal256(p, s)) => Self::D256(
                Decimal256Builder::with_capacity(cap)
                    .with_precision_and_scale(*p, *s)
                    .map_err(|source| Error::Arrow {
                        context: "a decimal builder".into(),
                        source,
                    })?,
                *s as u8,
            ),
            (Decode::Text | Decode::Json, _) => {
                Self::Utf8(StringBuilder::with_capacity(cap, cap * 16), false)
            }
            (Decode::Binary | Decode::Geometry, _) => {
                Self::Binary(BinaryBuilder::with_capacity(cap, cap * 16))
            }
            (Decode::Date, _) => Self::Date(Date32Builder::with_capacity(cap)),
            (Decode::DateTime, DataType::Timestamp(_, tz)) => Self::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(cap).with_timezone_opt(tz.clone()),
            ),
            (Decode::Time, _) => Self::Time(DurationMicrosecondBuilder::with_capacity(cap)),
            (Decode::Bits, _) => Self::Bits(UInt64Builder::with_capacity(cap)),
            (Decode::Set, _) => Self::Set(ListBuilder::new(StringBuilder::new())),
            (d, a) => {
                return Err(Error::Internal(format!(
                    "no reader for {d:?} into Arrow {a}"
                )))
            }
        })
    }

    /// Let text columns hold NUL characters (a target that stores them, such as MySQL).
    pub fn allow_nul(&mut self) {
        if let Self::Utf8(_, nul) = self {
            *nul = true;
        }
    }

    pub fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Bool01(b) | Self::BitBool(b) => Arc::new(b.finish()),
            Self::I16(b) => Arc::new(b.finish()),
            Self::I32(b) => Arc::new(b.finish()),
            Self::I64(b) => Arc::new(b.finish()),
            Self::U64(b) | Self::Bits(b) => Arc::new(b.finish()),
            Self::F32(b) => Arc::new(b.finish()),
            Self::F64(b) => Arc::new(b.finish()),
            Self::D128(b, _) => Arc::new(b.finish()),
            Self::D256(b, _) => Arc::new(b.finish()),
            Self::Utf8(b, _) => Arc::new(b.finish()),
            Self::Binary(b) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Timestamp(b) => Arc::new(b.finish()),
            Self::Time(b) => Arc::new(b.finish()),
            Self::Set(b) => Arc::new(b.finish()),
        }
    }

    pub fn append_null(&mut self) {
        match self {
            Self::Bool01(b) | Self::BitBool(b) => b.append_null(),
            Self::I16(b) => b.append_null(),
            Self::I32(b) => b.append_null(),
            Self::I64(b) => b.append_null(),
            Self::U64(b) | Self::Bits(b) => b.append_null(),
            Self::F32(b) => b.append_null(),
            Self::F64(b) => b.append_null(),
            Self::D128(b, _) => b.append_null(),
            Self::D256(b, _) => b.append_null(),
            Self::Utf8(b, _) => b.append_null(),
            Self::Binary(b) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Timestamp(b) => b.append_null(),
            Self::Time(b) => b.append_null(),
            Self::Set(b) => b.append_null(),
        }
    }

    /// Decode one value. The error string says what is wrong with the value; the caller
    /// adds table, column and row.
    pub fn append(&mut self, v: &Value) -> Result<Appended, String> {
        if let Value::NULL = v {
            self.append_null();
            return Ok(Appended::Value);
        }
        match self {
            Self::Bool01(b) => match int_of(v)? {
                0 => b.append_value(false),
                1 => b.append_value(true),
                x => {
                    return Err(format!(
                        "value {x} in a TINYINT(1) column is not 0 or 1, so it cannot become a \
                         PostgreSQL boolean without loss"
                    ))
                }
            },
            Self::BitBool(b) => b.append_value(bits_of(v)? != 0),
            Self::I16(b) => b.append_value(narrow(int_of(v)?)?),
            Self::I32(b) => b.append_value(narrow(int_of(v)?)?),
            Self::I64(b) => b.append_value(narrow(int_of(v)?)?),
            Self::U64(b) => b.append_value(narrow(int_of(v)?)?),
            Self::Bits(b) => b.append_value(bits_of(v)?),
            Self::F32(b) => b.append_value(match v {
                Value::Float(f) => *f,
                Value::Double(d) if (*d as f32) as f64 == *d => *d as f32,
                _ => parse_text(v)?,
            }),
            Self::F64(b) => b.append_value(match v {
                Value::Double(d) => *d,
                Value::Float(f) => *f as f64,
                _ => parse_text(v)?,
            }),
            Self::D128(b, scale) => {
                let s = bytes_of(v)?;
                b.append_value(parse_decimal::<i128>(s, *scale).ok_or_else(|| bad_decimal(s))?)
            }
            Self::D256(b, scale) => {
                let s = bytes_of(v)?;
                b.append_value(parse_decimal::<i256>(s, *scale).ok_or_else(|| bad_decimal(s))?)
            }
            Self::Utf8(b, nul) => b.append_value(utf8_of(v, *nul)?),
            Self::Binary(b) => b.append_value(bytes_of(v)?),
            Self::Date(b) => match date_parts(v)? {
                Some((y, m, d, ..)) => match temporal::days_from_civil(y, m, d) {
                    Some(days) => b.append_value(days),
                    None => {
                        b.append_null();
                        return Ok(Appended::NulledDate(temporal::DateFault::of(y, m, d)));
                    }
                },
                None => return Err(format!("unexpected value {v:?} for a DATE")),
            },
            Self::Timestamp(b) => match date_parts(v)? {
                Some((y, mo, d, h, mi, s, us)) => {
                    match temporal::micros_from_civil(y, mo, d, h, mi, s, us) {
                        Some(t) => b.append_value(t),
                        None => {
                            b.append_null();
                            let fault = match temporal::days_from_civil(y, mo, d) {
                                None => temporal::DateFault::of(y, mo, d),
                                Some(_) => temporal::DateFault::Impossible,
                            };
                            return Ok(Appended::NulledDate(fault));
                        }
                    }
                }
                None => return Err(format!("unexpected value {v:?} for a DATETIME")),
            },
            Self::Time(b) => b.append_value(match v {
                Value::Time(neg, days, h, m, s, us) => {
                    let micros = ((((*days as i64) * 24 + *h as i64) * 60 + *m as i64) * 60
                        + *s as i64)
                        * 1_000_000
                        + *us as i64;
                    if *neg {
                        -micros
                    } else {
                        micros
                    }
                }
                Value::Bytes(t) => temporal::parse_mysql_time(t)
                    .ok_or_else(|| format!("cannot parse TIME {:?}", String::from_utf8_lossy(t)))?,
                _ => return Err(format!("unexpected value {v:?} for a TIME")),
            }),
            Self::Set(b) => {
                let s = utf8_of(v, false)?;
                if !s.is_empty() {
                    for member in s.split(',') {
                        b.values().append_value(member);
                    }
                }
                b.append(true);
            }
        }
        Ok(Appended::Value)
    }
}

/// An integer from any wire form (binary protocol ints, or text).
pub fn int_of(v: &Value) -> Result<i128, String> {
    match v {
        Value::Int(i) => Ok(*i as i128),
        Value::UInt(u) => Ok(*u as i128),
        _ => parse_text(v),
    }
}

fn narrow<T: TryFrom<i128>>(x: i128) -> Result<T, String> {
    T::try_from(x).map_err(|_| format!("integer {x} out of range for its column type"))
}

fn parse_text<T: std::str::FromStr>(v: &Value) -> Result<T, String> {
    let b = bytes_of(v)?;
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| format!("cannot parse {:?} as a number", String::from_utf8_lossy(b)))
}

fn bytes_of(v: &Value) -> Result<&[u8], String> {
    match v {
        Value::Bytes(b) => Ok(b),
        other => Err(format!(
            "unexpected value {other:?} where bytes were expected"
        )),
    }
}

fn utf8_of(v: &Value, nul_allowed: bool) -> Result<&str, String> {
    let b = bytes_of(v)?;
    // The fast check first; std's only to say where a bad value goes wrong.
    let s = simdutf8::basic::from_utf8(b).map_err(|_| {
        let e = std::str::from_utf8(b).expect_err("simdutf8 refused it");
        format!(
            "not valid UTF-8 after the server's conversion to utf8mb4 ({e}); bytes: {}",
            hex_prefix(b)
        )
    })?;
    // PostgreSQL text cannot hold NUL; MySQL strings can.
    if !nul_allowed && b.contains(&0) {
        return Err(format!(
            "contains a NUL character, which PostgreSQL text cannot store: {}",
            hex_prefix(b)
        ));
    }
    Ok(s)
}

fn hex_prefix(b: &[u8]) -> String {
    let mut s: String = b.iter().take(32).map(|x| format!("{x:02x}")).collect();
    if b.len() > 32 {
        s.push('…');
    }
    s
}

/// BIT(n) arrives as up to 8 big-endian bytes.
fn bits_of(v: &Value) -> Result<u64, String> {
    match v {
        Value::Bytes(b) if b.len() <= 8 => Ok(b.iter().fold(0u64, |acc, x| (acc << 8) | *x as u64)),
        Value::Int(i) => Ok(*i as u64),
        Value::UInt(u) => Ok(*u),
        other => Err(format!("unexpected value {other:?} for a BIT column")),
    }
}

type DateParts = (i32, u32, u32, u32, u32, u32, u32);

fn date_parts(v: &Value) -> Result<Option<DateParts>, String> {
    Ok(match v {
        Value::Date(y, mo, d, h, mi, s, us) => Some((
            *y as i32, *mo as u32, *d as u32, *h as u32, *mi as u32, *s as u32, *us,
        )),
        Value::Bytes(b) => Some(
            temporal::parse_mysql_datetime(b)
                .ok_or_else(|| format!("cannot parse date {:?}", String::from_utf8_lossy(b)))?,
        ),
        _ => None,
    })
}

fn bad_decimal(s: &[u8]) -> String {
    format!(
        "decimal {:?} does not fit its declared precision/scale",
        String::from_utf8_lossy(s)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tinyint1_rejects_non_boolean() {
        let m = crate::types::map_mysql(&crate::catalog::Column {
            data_type: "tinyint".into(),
            column_type: "tinyint(1)".into(),
            ..Default::default()
        })
        .unwrap();
        let mut b = ColumnBuilder::new(&m, 4).unwrap();
        assert!(b.append(&Value::Int(1)).is_ok());
        assert!(b.append(&Value::Int(2)).unwrap_err().contains("not 0 or 1"));
    }
}
