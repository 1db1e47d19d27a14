//! Arrow arrays as MySQL/MariaDB reads them: the text of `LOAD DATA` (tab-separated fields,
//! backslash escapes, `\N` for NULL), or SQL literals for a multi-row `INSERT`.
//!
//! Rules (MySQL manual, "LOAD DATA", FIELDS ESCAPED BY '\\'): inside a field `\\`, a tab, a
//! newline and NUL must be escaped (`\\`, `\t`, `\n`, `\0`); `\N` alone is NULL. Bytes that are
//! not text (BLOB, BIT, geometry) travel as hex and are decoded by the server (`UNHEX`), so
//! no character-set conversion can touch them. A value the target cannot hold (NaN, a year
//! past 9999, a TIME beyond ±838:59:59) is an error naming the column, never a silent change.

use crate::error::{Error, Result};
use crate::temporal::{civil_from_days, MICROS_PER_DAY, PG_EPOCH_MICROS};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use bytes::{BufMut, BytesMut};

/// How the server turns a field into the column's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadAs {
    /// The text is the value.
    Text,
    /// Hex of the bytes: `UNHEX(@v)`.
    Hex,
    /// An unsigned number into a BIT column: `CAST(@v AS UNSIGNED)` (BIT takes text as bytes).
    Bits,
    /// Standard WKB as hex: `ST_GeomFromWKB(UNHEX(@v))`.
    Geometry,
    /// A YEAR: four digits, since the text `0` means 2000 and only `0000` means 0000.
    Year,
    /// Text of a time rounded to this many fractional digits, half away from zero as
    /// PostgreSQL rounds: MariaDB would cut the digits a DATETIME(p) or TIME(p) has no room
    /// for, and MySQL rounds a half up where PostgreSQL rounds one before 2000 down.
    Rounded(u32),
    /// A signed integer into BIGINT UNSIGNED (a cast): a negative one is refused here,
    /// naming its value and row, where MySQL would name only the column.
    Unsigned,
}

impl LoadAs {
    /// The SET expression for a field read into `@var`, or `None` when it loads directly.
    pub fn set_expr(self, var: &str) -> Option<String> {
        match self {
            LoadAs::Text | LoadAs::Year | LoadAs::Rounded(_) | LoadAs::Unsigned => None,
            LoadAs::Hex => Some(format!("UNHEX({var})")),
            LoadAs::Bits => Some(format!("CAST({var} AS UNSIGNED)")),
            LoadAs::Geometry => Some(format!("ST_GeomFromWKB(UNHEX({var}))")),
        }
    }
}

/// Microseconds rounded to the digits `Rounded` keeps (`temporal::round_micros`).
fn rounded(v: i64, load_as: LoadAs, origin: i64) -> i64 {
    match load_as {
        LoadAs::Rounded(p) => crate::temporal::round_micros(v, p, origin),
        _ => v,
    }
}

/// The integer as it is written, refused when negative into an unsigned column.
fn unsigned(v: i64, load_as: LoadAs) -> Result<i128, String> {
    if load_as == LoadAs::Unsigned && v < 0 {
        return Err(format!("{v} does not fit bigint unsigned"));
    }
    Ok(v as i128)
}

/// Which text form a value is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// A LOAD DATA field.
    Load,
    /// An SQL literal inside `INSERT … VALUES`.
    Sql,
}

/// One column: its typed array and how its values are spelled.
enum Enc<'a> {
    Bool(&'a arrow_array::BooleanArray),
    I16(&'a arrow_array::Int16Array),
    I32(&'a arrow_array::Int32Array),
    I64(&'a arrow_array::Int64Array),
    U64(&'a arrow_array::UInt64Array),
    F32(&'a arrow_array::Float32Array),
    F64(&'a arrow_array::Float64Array),
    D128(&'a arrow_array::Decimal128Array, u32),
    D256(&'a arrow_array::Decimal256Array, u32),
    Text(&'a arrow_array::StringArray),
    Bytes(&'a arrow_array::BinaryArray),
    Date(&'a arrow_array::Date32Array),
    Timestamp(&'a arrow_array::TimestampMicrosecondArray),
    Time(&'a arrow_array::DurationMicrosecondArray),
    /// A list of strings: a SET's members joined by commas, or else a JSON array.
    List(&'a arrow_array::ListArray, bool),
}

/// A batch ready to be written row by row.
pub struct BatchText<'a> {
    encs: Vec<Enc<'a>>,
    names: &'a [String],
    load_as: &'a [LoadAs],
    table: &'a str,
}

/// The encoding of one target table's batches.
pub struct TextEncoder {
    pub names: Vec<String>,
    pub load_as: Vec<LoadAs>,
    /// Per column: whether a list becomes a SET (`a,b`) rather than a JSON array.
    pub set_lists: Vec<bool>,
    pub table: String,
}

impl TextEncoder {
    pub fn for_batch<'a>(&'a self, batch: &'a RecordBatch) -> Result<BatchText<'a>> {
        let encs = batch
            .columns()
            .iter()
            .zip(&self.names)
            .zip(&self.set_lists)
            .map(|((a, n), set)| enc(&self.table, n, a, *set))
            .collect::<Result<Vec<_>>>()?;
        Ok(BatchText {
            encs,
            names: &self.names,
            load_as: &self.load_as,
            table: &self.table,
        })
    }

    /// Every row of `batch` as LOAD DATA lines.
    pub fn encode_load(&self, batch: &RecordBatch, out: &mut BytesMut) -> Result<()> {
        let b = self.for_batch(batch)?;
        for row in 0..batch.num_rows() {
            for col in 0..b.encs.len() {
                if col > 0 {
                    out.put_u8(b'\t');
                }
                b.write(col, row, Dialect::Load, out)?;
            }
            out.put_u8(b'\n');
        }
        Ok(())
    }
}

fn enc<'a>(table: &str, name: &str, a: &'a ArrayRef, set: bool) -> Result<Enc<'a>> {
    Ok(match a.data_type() {
        DataType::Boolean => Enc::Bool(a.as_boolean()),
        DataType::Int16 => Enc::I16(a.as_primitive::<Int16Type>()),
        DataType::Int32 => Enc::I32(a.as_primitive::<Int32Type>()),
        DataType::Int64 => Enc::I64(a.as_primitive::<Int64Type>()),
        DataType::UInt64 => Enc::U64(a.as_primitive::<UInt64Type>()),
        DataType::Float32 => Enc::F32(a.as_primitive::<Float32Type>()),
        DataType::Float64 => Enc::F64(a.as_primitive::<Float64Type>()),
        DataType::Decimal128(_, s) if *s >= 0 => {
            Enc::D128(a.as_primitive::<Decimal128Type>(), *s as u32)
        }
        DataType::Decimal256(_, s) if *s >= 0 => {
            Enc::D256(a.as_primitive::<Decimal256Type>(), *s as u32)
        }
        DataType::Utf8 => Enc::Text(a.as_string::<i32>()),
        DataType::Binary => Enc::Bytes(a.as_binary::<i32>()),
        DataType::Date32 => Enc::Date(a.as_primitive::<Date32Type>()),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            Enc::Timestamp(a.as_primitive::<TimestampMicrosecondType>())
        }
        DataType::Duration(TimeUnit::Microsecond) => {
            Enc::Time(a.as_primitive::<DurationMicrosecondType>())
        }
        DataType::List(f) if f.data_type() == &DataType::Utf8 => Enc::List(a.as_list::<i32>(), set),
        other => {
            return Err(Error::Value {
                table: table.into(),
                column: name.into(),
                detail: format!("no MySQL text form for Arrow {other}"),
            })
        }
    })
}

impl BatchText<'_> {
    pub fn rows(&self) -> usize {
        self.encs.first().map_or(0, |e| e.len())
    }

    pub fn columns(&self) -> usize {
        self.encs.len()
    }

    /// Write one value in `dialect` (NULL included).
    pub fn write(
        &self,
        col: usize,
        row: usize,
        dialect: Dialect,
        out: &mut BytesMut,
    ) -> Result<()> {
        let e = &self.encs[col];
        if e.is_null(row) {
            out.put_slice(match dialect {
                Dialect::Load => b"\\N",
                Dialect::Sql => b"NULL",
            });
            return Ok(());
        }
        let bad = |detail: String| Error::Value {
            table: self.table.to_string(),
            column: self.names[col].clone(),
            detail,
        };
        let load_as = self.load_as[col];
        // SQL literals carry what LOAD DATA leaves to a SET expression.
        let (open, close): (&[u8], &[u8]) = match (dialect, load_as) {
            (Dialect::Load, _)
            | (Dialect::Sql, LoadAs::Text | LoadAs::Year | LoadAs::Rounded(_) | LoadAs::Unsigned) => {
                (b"", b"")
            }
            (Dialect::Sql, LoadAs::Hex) => (b"X'", b"'"),
            (Dialect::Sql, LoadAs::Bits) => (b"", b""),
            (Dialect::Sql, LoadAs::Geometry) => (b"ST_GeomFromWKB(X'", b"')"),
        };
        let quoted = dialect == Dialect::Sql
            && matches!(
                e,
                Enc::Text(_) | Enc::Date(_) | Enc::Timestamp(_) | Enc::Time(_) | Enc::List(..)
            );
        out.put_slice(open);
        if quoted {
            out.put_u8(b'\'');
        }
        match e {
            Enc::Bool(a) => out.put_u8(if a.value(row) { b'1' } else { b'0' }),
            Enc::I16(a) if load_as == LoadAs::Year && dialect == Dialect::Load => {
                put_padded(out, a.value(row).max(0) as u64, 4)
            }
            Enc::I16(a) => put_int(out, unsigned(a.value(row) as i64, load_as).map_err(bad)?),
            Enc::I32(a) => put_int(out, unsigned(a.value(row) as i64, load_as).map_err(bad)?),
            Enc::I64(a) => put_int(out, unsigned(a.value(row), load_as).map_err(bad)?),
            Enc::U64(a) => put_int(out, a.value(row) as i128),
            Enc::F32(a) => {
                let v = a.value(row);
                if !v.is_finite() {
                    return Err(bad(format!("{v} does not fit a MySQL FLOAT")));
                }
                // The float's exact value as a double: the server parses a double and rounds
                // it to a float, and f32's shortest text can round past FLT_MAX.
                put_display(out, format_args!("{:e}", v as f64));
            }
            Enc::F64(a) => {
                let v = a.value(row);
                if !v.is_finite() {
                    return Err(bad(format!("{v} does not fit a MySQL DOUBLE")));
                }
                put_display(out, format_args!("{v:e}"));
            }
            Enc::D128(a, s) => put_decimal(out, a.value(row), *s),
            Enc::D256(a, s) => {
                let digits = a.value(row).to_string();
                put_scaled_digits(out, &digits, *s);
            }
            Enc::Text(a) => put_text(out, a.value(row).as_bytes(), dialect),
            Enc::Bytes(a) => put_hex(out, a.value(row)),
            Enc::Date(a) => {
                let (y, m, d) = civil_from_days(a.value(row) as i64);
                if !(1..=9999).contains(&y) {
                    return Err(bad(format!("year {y} does not fit a MySQL DATE")));
                }
                put_date(out, y, m, d);
            }
            Enc::Timestamp(a) => {
                let v = rounded(a.value(row), load_as, PG_EPOCH_MICROS);
                let days = v.div_euclid(MICROS_PER_DAY);
                let (y, m, d) = civil_from_days(days);
                if !(1..=9999).contains(&y) {
                    return Err(bad(format!("year {y} does not fit a MySQL DATETIME")));
                }
                put_date(out, y, m, d);
                out.put_u8(b' ');
                put_clock(out, v.rem_euclid(MICROS_PER_DAY) as u64);
            }
            Enc::Time(a) => {
                let v = rounded(a.value(row), load_as, 0);
                // MySQL TIME spans -838:59:59.000000 … 838:59:59.000000.
                const MAX: i64 = ((838 * 60 + 59) * 60 + 59) * 1_000_000;
                if v.abs() > MAX {
                    return Err(bad(format!(
                        "a duration of {} s does not fit a MySQL TIME (±838:59:59)",
                        v / 1_000_000
                    )));
                }
                if v < 0 {
                    out.put_u8(b'-');
                }
                put_clock(out, v.unsigned_abs());
            }
            Enc::List(a, set) => {
                let items = a.value(row);
                let items = items.as_string::<i32>();
                if *set {
                    for i in 0..items.len() {
                        if i > 0 {
                            out.put_u8(b',');
                        }
                        put_text(out, items.value(i).as_bytes(), dialect);
                    }
                } else {
                    let list: Vec<Option<&str>> = (0..items.len())
                        .map(|i| (!items.is_null(i)).then(|| items.value(i)))
                        .collect();
                    let json = serde_json::to_string(&list).expect("strings serialize");
                    put_text(out, json.as_bytes(), dialect);
                }
            }
        }
        if quoted {
            out.put_u8(b'\'');
        }
        out.put_slice(close);
        Ok(())
    }
}

impl Enc<'_> {
    fn len(&self) -> usize {
        self.array().len()
    }

    fn is_null(&self, row: usize) -> bool {
        self.array().is_null(row)
    }

    fn array(&self) -> &dyn Array {
        match self {
            Enc::Bool(a) => *a,
            Enc::I16(a) => *a,
            Enc::I32(a) => *a,
            Enc::I64(a) => *a,
            Enc::U64(a) => *a,
            Enc::F32(a) => *a,
            Enc::F64(a) => *a,
            Enc::D128(a, _) => *a,
            Enc::D256(a, _) => *a,
            Enc::Text(a) => *a,
            Enc::Bytes(a) => *a,
            Enc::Date(a) => *a,
            Enc::Timestamp(a) => *a,
            Enc::Time(a) => *a,
            Enc::List(a, _) => *a,
        }
    }
}

fn put_display(out: &mut BytesMut, args: std::fmt::Arguments<'_>) {
    use std::fmt::Write;
    struct W<'a>(&'a mut BytesMut);
    impl Write for W<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.put_slice(s.as_bytes());
            Ok(())
        }
    }
    let _ = W(out).write_fmt(args);
}

fn put_int(out: &mut BytesMut, v: i128) {
    if v < 0 {
        out.put_u8(b'-');
    }
    put_uint(out, v.unsigned_abs());
}

fn put_uint(out: &mut BytesMut, mut v: u128) {
    let mut buf = [0u8; 40];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.put_slice(&buf[i..]);
}

fn put_padded(out: &mut BytesMut, v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut v = v;
    let mut i = buf.len();
    while v > 0 {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let start = (buf.len() - width).min(i);
    out.put_slice(&buf[start..]);
}

fn put_decimal(out: &mut BytesMut, v: i128, scale: u32) {
    if v < 0 {
        out.put_u8(b'-');
    }
    let v = v.unsigned_abs();
    if scale == 0 {
        return put_uint(out, v);
    }
    let p = 10u128.pow(scale);
    put_uint(out, v / p);
    out.put_u8(b'.');
    put_padded(out, (v % p) as u64, scale as usize);
}

/// `digits` is an integer's text (maybe with a sign); write it with `scale` fraction digits.
fn put_scaled_digits(out: &mut BytesMut, digits: &str, scale: u32) {
    let (neg, d) = match digits.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, digits),
    };
    if neg {
        out.put_u8(b'-');
    }
    let s = scale as usize;
    if s == 0 {
        return out.put_slice(d.as_bytes());
    }
    if d.len() <= s {
        out.put_slice(b"0.");
        out.put_bytes(b'0', s - d.len());
        out.put_slice(d.as_bytes());
    } else {
        out.put_slice(&d.as_bytes()[..d.len() - s]);
        out.put_u8(b'.');
        out.put_slice(&d.as_bytes()[d.len() - s..]);
    }
}

fn put_date(out: &mut BytesMut, y: i64, m: u32, d: u32) {
    put_padded(out, y as u64, 4);
    out.put_u8(b'-');
    put_padded(out, m as u64, 2);
    out.put_u8(b'-');
    put_padded(out, d as u64, 2);
}

/// `H:MM:SS.ffffff` of microseconds (hours may exceed 23: TIME is a duration).
fn put_clock(out: &mut BytesMut, us: u64) {
    let secs = us / 1_000_000;
    put_padded(out, secs / 3600, 2);
    out.put_u8(b':');
    put_padded(out, secs / 60 % 60, 2);
    out.put_u8(b':');
    put_padded(out, secs % 60, 2);
    out.put_u8(b'.');
    put_padded(out, us % 1_000_000, 6);
}

fn put_hex(out: &mut BytesMut, b: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(b.len() * 2);
    for &x in b {
        out.put_u8(HEX[(x >> 4) as usize]);
        out.put_u8(HEX[(x & 15) as usize]);
    }
}

/// Text with the escapes of `dialect`: LOAD DATA's backslash rules, or a quoted literal's.
fn put_text(out: &mut BytesMut, b: &[u8], dialect: Dialect) {
    let special = |c: u8| match dialect {
        Dialect::Load => matches!(c, b'\\' | b'\t' | b'\n' | b'\r' | 0),
        Dialect::Sql => matches!(c, b'\\' | b'\'' | b'\n' | b'\r' | 0 | 0x1a),
    };
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if !special(c) {
            continue;
        }
        out.put_slice(&b[start..i]);
        out.put_u8(b'\\');
        out.put_u8(match c {
            b'\t' => b't',
            b'\n' => b'n',
            b'\r' => b'r',
            0 => b'0',
            0x1a => b'Z',
            c => c,
        });
        start = i + 1;
    }
    out.put_slice(&b[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::*;
    use std::sync::Arc;

    fn one(a: ArrayRef, load_as: LoadAs, dialect: Dialect) -> Result<String> {
        let batch = RecordBatch::try_from_iter([("c", a)]).unwrap();
        let e = TextEncoder {
            names: vec!["c".into()],
            load_as: vec![load_as],
            set_lists: vec![false],
            table: "t".into(),
        };
        let b = e.for_batch(&batch)?;
        let mut out = BytesMut::new();
        for row in 0..b.rows() {
            if row > 0 {
                out.put_u8(b'|');
            }
            b.write(0, row, dialect, &mut out)?;
        }
        Ok(String::from_utf8(out.to_vec()).unwrap())
    }

    #[test]
    fn text_escapes_per_dialect() {
        let a: ArrayRef = Arc::new(StringArray::from(vec![
            Some("a\tb\nc\\d\0e"),
            None,
            Some("it's \\N"),
        ]));
        assert_eq!(
            one(a.clone(), LoadAs::Text, Dialect::Load).unwrap(),
            "a\\tb\\nc\\\\d\\0e|\\N|it's \\\\N"
        );
        assert_eq!(
            one(a, LoadAs::Text, Dialect::Sql).unwrap(),
            "'a\tb\\nc\\\\d\\0e'|NULL|'it\\'s \\\\N'"
        );
    }

    #[test]
    fn numbers_and_times_are_exact() {
        let d: ArrayRef = Arc::new(
            Decimal128Array::from(vec![-5, 12345, 7])
                .with_precision_and_scale(10, 3)
                .unwrap(),
        );
        assert_eq!(
            one(d, LoadAs::Text, Dialect::Load).unwrap(),
            "-0.005|12.345|0.007"
        );
        let f: ArrayRef = Arc::new(Float64Array::from(vec![0.1, -1e300]));
        let text = one(f, LoadAs::Text, Dialect::Load).unwrap();
        let back: Vec<f64> = text.split('|').map(|x| x.parse().unwrap()).collect();
        assert_eq!(back, vec![0.1, -1e300]);
        let nan: ArrayRef = Arc::new(Float64Array::from(vec![f64::NAN]));
        assert!(one(nan, LoadAs::Text, Dialect::Load)
            .unwrap_err()
            .to_string()
            .contains("NaN does not fit"));
        let ts: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
            -1,
            1_700_000_000_123_456,
        ]));
        assert_eq!(
            one(ts, LoadAs::Text, Dialect::Load).unwrap(),
            "1969-12-31 23:59:59.999999|2023-11-14 22:13:20.123456"
        );
        let t: ArrayRef = Arc::new(DurationMicrosecondArray::from(vec![
            -(3_020_399_000_000),
            90_000_000_001,
        ]));
        assert_eq!(
            one(t, LoadAs::Text, Dialect::Sql).unwrap(),
            "'-838:59:59.000000'|'25:00:00.000001'"
        );
        // Into DATETIME(3) and TIME(0), rounded as PostgreSQL rounds (MariaDB would cut).
        let ts: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
            1_577_934_245_678_901,
            946_684_799_999_500,
            946_684_800_000_500,
        ]));
        assert_eq!(
            one(ts, LoadAs::Rounded(3), Dialect::Load).unwrap(),
            "2020-01-02 03:04:05.679000|1999-12-31 23:59:59.999000|2000-01-01 00:00:00.001000"
        );
        let t: ArrayRef = Arc::new(DurationMicrosecondArray::from(vec![-1_500_000, 2_499_999]));
        assert_eq!(
            one(t, LoadAs::Rounded(0), Dialect::Load).unwrap(),
            "-00:00:02.000000|00:00:02.000000"
        );
        let too_long: ArrayRef = Arc::new(DurationMicrosecondArray::from(vec![3_020_400_000_000]));
        assert!(one(too_long, LoadAs::Text, Dialect::Load).is_err());
        let far: ArrayRef = Arc::new(Date32Array::from(vec![3_000_000]));
        assert!(one(far, LoadAs::Text, Dialect::Load)
            .unwrap_err()
            .to_string()
            .contains("does not fit a MySQL DATE"));
    }

    #[test]
    fn bytes_travel_as_hex() {
        let b: ArrayRef = Arc::new(BinaryArray::from(vec![&b"\x00\xff\t"[..]]));
        assert_eq!(
            one(b.clone(), LoadAs::Hex, Dialect::Load).unwrap(),
            "00FF09"
        );
        assert_eq!(
            one(b.clone(), LoadAs::Hex, Dialect::Sql).unwrap(),
            "X'00FF09'"
        );
        assert_eq!(
            one(b, LoadAs::Geometry, Dialect::Sql).unwrap(),
            "ST_GeomFromWKB(X'00FF09')"
        );
    }
}
