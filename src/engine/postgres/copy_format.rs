//! PostgreSQL binary COPY, encoded straight from Arrow arrays.
//!
//! Format (PostgreSQL docs, "COPY … Binary Format"): an 11-byte signature, an i32 flags
//! field and an i32 header-extension length; then per row an i16 field count and per field
//! an i32 byte length (-1 for NULL) followed by the type's binary "send" representation;
//! finally an i16 -1. All integers are big-endian (network order).

use crate::error::{Error, Result};
use crate::types::Logical;
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, GenericListArray, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use bytes::{BufMut, BytesMut};

pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
pub const TRAILER: &[u8] = &[0xff, 0xff];

/// PostgreSQL's epoch is 2000-01-01; Arrow's is 1970-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
const TEXT_OID: i32 = 25;

/// One column's encoder: the typed Arrow array and how to write it for its target type.
enum Enc<'a> {
    Bool(&'a arrow_array::BooleanArray),
    I16(&'a arrow_array::Int16Array, PgInt),
    I32(&'a arrow_array::Int32Array, PgInt),
    I64(&'a arrow_array::Int64Array, PgInt),
    U64Numeric(&'a arrow_array::UInt64Array),
    U64Bits(&'a arrow_array::UInt64Array, u32),
    F32(&'a arrow_array::Float32Array),
    F64(&'a arrow_array::Float64Array),
    D128(&'a arrow_array::Decimal128Array, u16),
    D256(&'a arrow_array::Decimal256Array, u16),
    Text(&'a arrow_array::StringArray),
    Jsonb(&'a arrow_array::StringArray),
    /// Canonical text into uuid's 16 bytes.
    Uuid(&'a arrow_array::StringArray),
    /// A host address's text into inet's binary form.
    Inet(&'a arrow_array::StringArray),
    Bytea(&'a arrow_array::BinaryArray),
    Date(&'a arrow_array::Date32Array),
    Timestamp(&'a arrow_array::TimestampMicrosecondArray),
    Interval(&'a arrow_array::DurationMicrosecondArray),
    TextArray(&'a GenericListArray<i32>),
}

/// The integer width a target column has; narrower sources are widened. `Numeric`: an
/// integer into numeric (a cast to a decimal), whose precision PostgreSQL applies as it
/// receives the value; `Unsigned`, the same for bigint unsigned, refusing negatives.
#[derive(Clone, Copy)]
enum PgInt {
    I2,
    I4,
    I8,
    Numeric,
    Unsigned,
}

impl PgInt {
    fn of(t: &Logical) -> Option<PgInt> {
        match t {
            Logical::Int16 => Some(PgInt::I2),
            Logical::Int32 => Some(PgInt::I4),
            Logical::Int64 => Some(PgInt::I8),
            Logical::Decimal(_) => Some(PgInt::Numeric),
            Logical::UInt64 => Some(PgInt::Unsigned),
            _ => None,
        }
    }
}

fn unsupported(name: &str, arrow: &DataType, ty: &Logical) -> Error {
    Error::Internal(format!(
        "column {name}: no binary COPY encoding from Arrow {arrow} to PostgreSQL {}",
        super::types::pg_type(ty)
    ))
}

impl<'a> Enc<'a> {
    fn new(name: &str, a: &'a ArrayRef, ty: &Logical) -> Result<Enc<'a>> {
        let dt = a.data_type();
        Ok(match (dt, ty) {
            (DataType::Boolean, Logical::Bool) => Enc::Bool(a.as_boolean()),
            // Any integer width into any integer column: put_int checks the range per value.
            (DataType::Int16, t) if PgInt::of(t).is_some() => {
                Enc::I16(a.as_primitive::<Int16Type>(), PgInt::of(t).unwrap())
            }
            (DataType::Int32, t) if PgInt::of(t).is_some() => {
                Enc::I32(a.as_primitive::<Int32Type>(), PgInt::of(t).unwrap())
            }
            (DataType::Int64, t) if PgInt::of(t).is_some() => {
                Enc::I64(a.as_primitive::<Int64Type>(), PgInt::of(t).unwrap())
            }
            (DataType::UInt64, Logical::UInt64 | Logical::Decimal(_)) => {
                Enc::U64Numeric(a.as_primitive::<UInt64Type>())
            }
            (DataType::UInt64, Logical::Bits(n)) => {
                Enc::U64Bits(a.as_primitive::<UInt64Type>(), *n)
            }
            (DataType::Float32, Logical::Float32) => Enc::F32(a.as_primitive::<Float32Type>()),
            (DataType::Float64, Logical::Float64) => Enc::F64(a.as_primitive::<Float64Type>()),
            (DataType::Decimal128(_, s), Logical::Decimal(_)) if *s >= 0 => {
                Enc::D128(a.as_primitive::<Decimal128Type>(), *s as u16)
            }
            (DataType::Decimal256(_, s), Logical::Decimal(_)) if *s >= 0 => {
                Enc::D256(a.as_primitive::<Decimal256Type>(), *s as u16)
            }
            (DataType::Utf8, Logical::Text(_) | Logical::Enum(_)) => {
                Enc::Text(a.as_string::<i32>())
            }
            (DataType::Utf8, Logical::Json) => Enc::Jsonb(a.as_string::<i32>()),
            (DataType::Utf8, Logical::Uuid) => Enc::Uuid(a.as_string::<i32>()),
            (DataType::Utf8, Logical::Inet) => Enc::Inet(a.as_string::<i32>()),
            (DataType::Binary, Logical::Binary) => Enc::Bytea(a.as_binary::<i32>()),
            (DataType::Date32, Logical::Date) => Enc::Date(a.as_primitive::<Date32Type>()),
            (
                DataType::Timestamp(TimeUnit::Microsecond, _),
                Logical::Timestamp(_) | Logical::TimestampUtc(_),
            ) => Enc::Timestamp(a.as_primitive::<TimestampMicrosecondType>()),
            (DataType::Duration(TimeUnit::Microsecond), Logical::Duration(_)) => {
                Enc::Interval(a.as_primitive::<DurationMicrosecondType>())
            }
            (DataType::List(f), Logical::TextList) if f.data_type() == &DataType::Utf8 => {
                Enc::TextArray(a.as_list::<i32>())
            }
            _ => return Err(unsupported(name, dt, ty)),
        })
    }

    fn is_null(&self, row: usize) -> bool {
        match self {
            Enc::Bool(a) => a.is_null(row),
            Enc::I16(a, _) => a.is_null(row),
            Enc::I32(a, _) => a.is_null(row),
            Enc::I64(a, _) => a.is_null(row),
            Enc::U64Numeric(a) | Enc::U64Bits(a, _) => a.is_null(row),
            Enc::F32(a) => a.is_null(row),
            Enc::F64(a) => a.is_null(row),
            Enc::D128(a, _) => a.is_null(row),
            Enc::D256(a, _) => a.is_null(row),
            Enc::Text(a) | Enc::Jsonb(a) | Enc::Uuid(a) | Enc::Inet(a) => a.is_null(row),
            Enc::Bytea(a) => a.is_null(row),
            Enc::Date(a) => a.is_null(row),
            Enc::Timestamp(a) => a.is_null(row),
            Enc::Interval(a) => a.is_null(row),
            Enc::TextArray(a) => a.is_null(row),
        }
    }

    /// Write field `row` (length prefix included). The caller has handled NULL.
    #[inline]
    fn write(&self, row: usize, buf: &mut BytesMut) -> Result<(), String> {
        match self {
            Enc::Bool(a) => {
                buf.put_i32(1);
                buf.put_u8(a.value(row) as u8);
            }
            Enc::I16(a, w) => put_int(buf, a.value(row) as i64, *w)?,
            Enc::I32(a, w) => put_int(buf, a.value(row) as i64, *w)?,
            Enc::I64(a, w) => put_int(buf, a.value(row), *w)?,
            Enc::U64Numeric(a) => put_numeric(buf, false, [a.value(row), 0, 0, 0, 0], 0),
            Enc::U64Bits(a, n) => put_bits(buf, a.value(row), *n)?,
            Enc::F32(a) => {
                buf.put_i32(4);
                buf.put_f32(a.value(row));
            }
            Enc::F64(a) => {
                buf.put_i32(8);
                buf.put_f64(a.value(row));
            }
            Enc::D128(a, scale) => {
                let v = a.value(row);
                let m = v.unsigned_abs();
                put_numeric(buf, v < 0, [m as u64, (m >> 64) as u64, 0, 0, 0], *scale)
            }
            Enc::D256(a, scale) => {
                let v = a.value(row);
                let neg = v.is_negative();
                let m = if neg { v.wrapping_neg() } else { v }.to_le_bytes();
                let mut limbs = [0u64; 5];
                for (i, l) in limbs.iter_mut().take(4).enumerate() {
                    *l = u64::from_le_bytes(m[i * 8..i * 8 + 8].try_into().unwrap());
                }
                put_numeric(buf, neg, limbs, *scale)
            }
            Enc::Text(a) => put_bytes(buf, a.value(row).as_bytes())?,
            Enc::Jsonb(a) => {
                // jsonb's binary form is a version byte (1) followed by the JSON text.
                let s = a.value(row).as_bytes();
                buf.put_i32(len_i32(s.len() + 1)?);
                buf.put_u8(1);
                buf.put_slice(s);
            }
            Enc::Uuid(a) => put_uuid(buf, a.value(row))?,
            Enc::Inet(a) => put_inet(buf, a.value(row))?,
            Enc::Bytea(a) => put_bytes(buf, a.value(row))?,
            Enc::Date(a) => {
                buf.put_i32(4);
                // ±infinity, as a PostgreSQL source's decoder keeps them.
                buf.put_i32(match a.value(row) {
                    d @ (i32::MAX | i32::MIN) => d,
                    d => d - PG_EPOCH_DAYS,
                });
            }
            Enc::Timestamp(a) => {
                buf.put_i32(8);
                buf.put_i64(match a.value(row) {
                    t @ (i64::MAX | i64::MIN) => t,
                    t => t - PG_EPOCH_MICROS,
                });
            }
            Enc::Interval(a) => {
                // interval: i64 microseconds, i32 days, i32 months. Keeping everything in
                // microseconds preserves MySQL's TIME beyond 24h (838:59:59 stays 838:59:59).
                buf.put_i32(16);
                buf.put_i64(a.value(row));
                buf.put_i32(0);
                buf.put_i32(0);
            }
            Enc::TextArray(a) => put_text_array(buf, a, row)?,
        }
        Ok(())
    }
}

fn len_i32(n: usize) -> Result<i32, String> {
    i32::try_from(n)
        .map_err(|_| format!("value of {n} bytes is larger than PostgreSQL's 1 GB field limit"))
}

#[inline]
/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (either case) as 16 bytes.
fn put_uuid(buf: &mut BytesMut, s: &str) -> Result<(), String> {
    let bad = || format!("{s:?} is not a UUID");
    let b = s.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return Err(bad());
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    buf.put_i32(16);
    let mut digits = b.iter().filter(|&&c| c != b'-');
    for _ in 0..16 {
        let (Some(hi), Some(lo)) = (
            digits.next().copied().and_then(nibble),
            digits.next().copied().and_then(nibble),
        ) else {
            return Err(bad());
        };
        buf.put_u8(hi << 4 | lo);
    }
    Ok(())
}

/// A host address as inet's binary form: family, prefix bits, is_cidr, length, address.
fn put_inet(buf: &mut BytesMut, s: &str) -> Result<(), String> {
    // PostgreSQL's own family codes (PGSQL_AF_INET = 2, PGSQL_AF_INET6 = 3).
    match s.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => {
            buf.put_i32(8);
            buf.put_slice(&[2, 32, 0, 4]);
            buf.put_slice(&a.octets());
        }
        Ok(std::net::IpAddr::V6(a)) => {
            buf.put_i32(20);
            buf.put_slice(&[3, 128, 0, 16]);
            buf.put_slice(&a.octets());
        }
        Err(_) => return Err(format!("{s:?} is not an IP address")),
    }
    Ok(())
}

fn put_bytes(buf: &mut BytesMut, b: &[u8]) -> Result<(), String> {
    buf.put_i32(len_i32(b.len())?);
    buf.put_slice(b);
    Ok(())
}

#[inline]
fn put_int(buf: &mut BytesMut, v: i64, w: PgInt) -> Result<(), String> {
    match w {
        PgInt::I2 => {
            let v = i16::try_from(v).map_err(|_| format!("{v} does not fit smallint"))?;
            buf.put_i32(2);
            buf.put_i16(v);
        }
        PgInt::I4 => {
            let v = i32::try_from(v).map_err(|_| format!("{v} does not fit integer"))?;
            buf.put_i32(4);
            buf.put_i32(v);
        }
        PgInt::I8 => {
            buf.put_i32(8);
            buf.put_i64(v);
        }
        PgInt::Numeric => put_numeric(buf, v < 0, [v.unsigned_abs(), 0, 0, 0, 0], 0),
        PgInt::Unsigned if v < 0 => return Err(format!("{v} does not fit bigint unsigned")),
        PgInt::Unsigned => put_numeric(buf, false, [v as u64, 0, 0, 0, 0], 0),
    }
    Ok(())
}

/// bit(n): i32 bit count, then the bits MSB first, padded with zeros at the end.
fn put_bits(buf: &mut BytesMut, v: u64, n: u32) -> Result<(), String> {
    if n < 64 && v >> n != 0 {
        return Err(format!("value {v:#x} has more than {n} bits"));
    }
    let nbytes = n.div_ceil(8) as usize;
    let shifted = (v as u128) << (nbytes as u32 * 8 - n);
    buf.put_i32(4 + nbytes as i32);
    buf.put_i32(n as i32);
    buf.put_slice(&shifted.to_be_bytes()[16 - nbytes..]);
    Ok(())
}

/// text[]: i32 ndim, i32 has-nulls flag, i32 element type OID; per dimension an i32 size
/// and an i32 lower bound (1); then each element as a length-prefixed field.
fn put_text_array(buf: &mut BytesMut, a: &GenericListArray<i32>, row: usize) -> Result<(), String> {
    let offsets = a.value_offsets();
    let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
    let values = a.values().as_string::<i32>();
    let n = end - start;
    let mut len = 12 + if n > 0 { 8 } else { 0 };
    for i in start..end {
        len += 4 + values.value(i).len();
    }
    buf.put_i32(len_i32(len)?);
    buf.put_i32(if n > 0 { 1 } else { 0 });
    buf.put_i32(0);
    buf.put_i32(TEXT_OID);
    if n > 0 {
        buf.put_i32(n as i32);
        buf.put_i32(1);
    }
    for i in start..end {
        put_bytes(buf, values.value(i).as_bytes())?;
    }
    Ok(())
}

/// numeric: i16 ndigits, i16 weight, i16 sign (0x0000 +, 0x4000 −), i16 display scale, then
/// ndigits base-10000 digits, most significant first; the value is
/// Σ digit[i] · 10000^(weight − i). `magnitude` is the unscaled absolute value as
/// little-endian 64-bit limbs; the value is magnitude / 10^scale.
fn put_numeric(buf: &mut BytesMut, negative: bool, mut magnitude: [u64; 5], scale: u16) {
    // Align the fraction to whole base-10000 digits: scale up to a multiple of 4.
    let pad = (4 - scale % 4) % 4;
    mul_small(&mut magnitude, 10u64.pow(pad as u32));
    let frac_groups = ((scale + pad) / 4) as usize;
    // Base-10000 groups, least significant first. 320 bits < 10^97, so 25 groups suffice.
    let mut groups = [0u16; 25];
    let mut n = 0;
    while !magnitude.iter().all(|&l| l == 0) {
        groups[n] = divmod_small(&mut magnitude, 10_000) as u16;
        n += 1;
    }
    let mut n = n.max(frac_groups);
    let mut weight = n as i32 - 1 - frac_groups as i32;
    while n > 0 && groups[n - 1] == 0 {
        n -= 1;
        weight -= 1;
    }
    let lo = groups[..n].iter().position(|&g| g != 0).unwrap_or(n);
    let ndigits = n - lo;
    buf.put_i32(8 + 2 * ndigits as i32);
    buf.put_i16(ndigits as i16);
    buf.put_i16(if ndigits == 0 { 0 } else { weight as i16 });
    buf.put_u16(if negative && ndigits > 0 { 0x4000 } else { 0 });
    buf.put_u16(scale);
    for g in groups[lo..n].iter().rev() {
        buf.put_u16(*g);
    }
}

fn mul_small(limbs: &mut [u64; 5], m: u64) {
    let mut carry = 0u128;
    for l in limbs.iter_mut() {
        let v = *l as u128 * m as u128 + carry;
        *l = v as u64;
        carry = v >> 64;
    }
}

/// Divide by `d` in place and return the remainder. `d` fits 32 bits, so each limb is
/// divided as two 32-bit halves whose partial dividends (below d · 2^32) fit 64 bits: native
/// divisions instead of a 128-bit division routine per limb. Zero limbs at the top are skipped.
fn divmod_small(limbs: &mut [u64; 5], d: u32) -> u64 {
    let d = d as u64;
    let mut rem = 0u64;
    let top = limbs.iter().rposition(|&l| l != 0).map_or(0, |i| i + 1);
    for l in limbs[..top].iter_mut().rev() {
        let hi = (rem << 32) | (*l >> 32);
        let (qh, r) = (hi / d, hi % d);
        let lo = (r << 32) | (*l & 0xffff_ffff);
        *l = (qh << 32) | (lo / d);
        rem = lo % d;
    }
    rem
}

/// One batch's columns, ready to encode value by value: used for query parameters, whose
/// binary format is the same per-type "send" format as binary COPY's fields.
pub struct BatchEncoder<'a> {
    names: &'a [String],
    encs: Vec<Enc<'a>>,
}

impl<'a> BatchEncoder<'a> {
    pub fn is_null(&self, col: usize, row: usize) -> bool {
        self.encs[col].is_null(row)
    }

    /// Append the value without its length prefix.
    pub fn write_value(&self, col: usize, row: usize, out: &mut BytesMut) -> Result<()> {
        let start = out.len();
        self.encs[col]
            .write(row, out)
            .map_err(|detail| Error::Value {
                table: String::new(),
                column: self.names[col].clone(),
                detail,
            })?;
        out.copy_within(start + 4.., start);
        out.truncate(out.len() - 4);
        Ok(())
    }
}

/// Encodes record batches for one target table: the column order of the batch is the
/// column order of the COPY statement.
pub struct CopyEncoder {
    names: Vec<String>,
    types: Vec<Logical>,
}

impl CopyEncoder {
    pub fn new(names: Vec<String>, types: Vec<Logical>) -> CopyEncoder {
        CopyEncoder { names, types }
    }

    pub fn for_batch<'a>(&'a self, batch: &'a RecordBatch) -> Result<BatchEncoder<'a>> {
        Ok(BatchEncoder {
            names: &self.names,
            encs: batch
                .columns()
                .iter()
                .zip(&self.types)
                .zip(&self.names)
                .map(|((a, t), n)| Enc::new(n, a, t))
                .collect::<Result<_>>()?,
        })
    }

    /// Append every row of `batch` to `buf`. On a value PostgreSQL cannot take, the error
    /// names the column and the row's position in the batch.
    pub fn encode(&self, batch: &RecordBatch, buf: &mut BytesMut) -> Result<()> {
        let encs = self.for_batch(batch)?.encs;
        let ncols = encs.len() as i16;
        buf.reserve(batch.get_array_memory_size() + batch.num_rows() * (2 + 4 * encs.len()));
        for row in 0..batch.num_rows() {
            buf.put_i16(ncols);
            for (c, e) in encs.iter().enumerate() {
                if e.is_null(row) {
                    buf.put_i32(-1);
                } else if let Err(detail) = e.write(row, buf) {
                    return Err(Error::Value {
                        table: String::new(),
                        column: self.names[c].clone(),
                        detail,
                    });
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Decoding: `COPY (SELECT …) TO STDOUT (FORMAT binary)` into Arrow builders.
// ---------------------------------------------------------------------------------------

/// One column's builder and how its field is read.
enum Dec {
    Bool(arrow_array::builder::BooleanBuilder),
    I16(arrow_array::builder::Int16Builder),
    I32(arrow_array::builder::Int32Builder),
    I64(arrow_array::builder::Int64Builder),
    F32(arrow_array::builder::Float32Builder),
    F64(arrow_array::builder::Float64Builder),
    D128(arrow_array::builder::Decimal128Builder, u8),
    D256(arrow_array::builder::Decimal256Builder, u8),
    Text(arrow_array::builder::StringBuilder, bool),
    Uuid(arrow_array::builder::StringBuilder),
    Bytes(arrow_array::builder::BinaryBuilder),
    /// With whether ±infinity are kept (into PostgreSQL).
    Date(arrow_array::builder::Date32Builder, bool),
    Timestamp(arrow_array::builder::TimestampMicrosecondBuilder, bool),
    Duration(arrow_array::builder::DurationMicrosecondBuilder, bool),
}

fn be<const N: usize>(b: &[u8]) -> Result<[u8; N], String> {
    b.try_into()
        .map_err(|_| format!("a field of {} bytes where {N} were expected", b.len()))
}

/// PostgreSQL numeric (base-10000 digits, a weight and a display scale) as decimal text.
fn numeric_text(b: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    if b.len() < 8 {
        return Err("a numeric field shorter than its header".into());
    }
    let ndigits = i16::from_be_bytes([b[0], b[1]]) as usize;
    let weight = i16::from_be_bytes([b[2], b[3]]) as i32;
    let sign = u16::from_be_bytes([b[4], b[5]]);
    let dscale = u16::from_be_bytes([b[6], b[7]]) as i32;
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Err("NaN does not fit a decimal".into()),
        _ => return Err("an infinite numeric does not fit a decimal".into()),
    }
    if b.len() < 8 + 2 * ndigits {
        return Err("a numeric field shorter than its digits".into());
    }
    let digit = |i: i32| -> u16 {
        if i < 0 || i as usize >= ndigits {
            0
        } else {
            let k = 8 + 2 * i as usize;
            u16::from_be_bytes([b[k], b[k + 1]])
        }
    };
    out.clear();
    if sign == 0x4000 {
        out.push(b'-');
    }
    // Integer part: digit groups 0..=weight; then dscale fraction digits.
    if weight < 0 {
        out.push(b'0');
    } else {
        for i in 0..=weight {
            let d = digit(i);
            if i == 0 {
                out.extend_from_slice(d.to_string().as_bytes());
            } else {
                out.extend_from_slice(format!("{d:04}").as_bytes());
            }
        }
    }
    if dscale > 0 {
        out.push(b'.');
        let mut written = 0;
        let mut i = weight + 1;
        while written < dscale {
            let group = format!("{:04}", digit(i));
            for c in group.bytes() {
                if written < dscale {
                    out.push(c);
                    written += 1;
                }
            }
            i += 1;
        }
    }
    Ok(())
}

fn uuid_text(b: &[u8; 16], out: &mut [u8; 36]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut k = 0;
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out[k] = b'-';
            k += 1;
        }
        out[k] = HEX[(x >> 4) as usize];
        out[k + 1] = HEX[(x & 15) as usize];
        k += 2;
    }
}

impl Dec {
    fn new(m: &crate::types::Mapping, cap: usize) -> Result<Dec> {
        use crate::types::{Decode, PgWire as W};
        use arrow_array::builder::*;
        let Decode::Pg(w) = m.decode else {
            return Err(Error::Internal(format!(
                "not a PostgreSQL field: {:?}",
                m.decode
            )));
        };
        Ok(match (w, &m.arrow) {
            (W::Bool, _) => Dec::Bool(BooleanBuilder::with_capacity(cap)),
            (W::Int2, _) => Dec::I16(Int16Builder::with_capacity(cap)),
            (W::Int4, _) => Dec::I32(Int32Builder::with_capacity(cap)),
            (W::Int8, _) => Dec::I64(Int64Builder::with_capacity(cap)),
            (W::Float4, _) => Dec::F32(Float32Builder::with_capacity(cap)),
            (W::Float8, _) => Dec::F64(Float64Builder::with_capacity(cap)),
            (W::Numeric, DataType::Decimal128(p, s)) => Dec::D128(
                Decimal128Builder::with_capacity(cap)
                    .with_precision_and_scale(*p, *s)
                    .map_err(|source| Error::Arrow {
                        context: "a decimal builder".into(),
                        source,
                    })?,
                *s as u8,
            ),
            (W::Numeric, DataType::Decimal256(p, s)) => Dec::D256(
                Decimal256Builder::with_capacity(cap)
                    .with_precision_and_scale(*p, *s)
                    .map_err(|source| Error::Arrow {
                        context: "a decimal builder".into(),
                        source,
                    })?,
                *s as u8,
            ),
            (W::Text, _) => Dec::Text(StringBuilder::with_capacity(cap, cap * 16), false),
            (W::Jsonb, _) => Dec::Text(StringBuilder::with_capacity(cap, cap * 16), true),
            (W::Uuid, _) => Dec::Uuid(StringBuilder::with_capacity(cap, cap * 36)),
            (W::Bytea, _) => Dec::Bytes(BinaryBuilder::with_capacity(cap, cap * 16)),
            (W::Date { infinity }, _) => Dec::Date(Date32Builder::with_capacity(cap), infinity),
            (W::Timestamp { infinity }, DataType::Timestamp(_, tz)) => Dec::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(cap).with_timezone_opt(tz.clone()),
                infinity,
            ),
            (W::Time, _) => Dec::Duration(DurationMicrosecondBuilder::with_capacity(cap), false),
            (W::Interval, _) => Dec::Duration(DurationMicrosecondBuilder::with_capacity(cap), true),
            (w, a) => {
                return Err(Error::Internal(format!(
                    "no decoder for {w:?} into Arrow {a}"
                )))
            }
        })
    }

    fn append_null(&mut self) {
        match self {
            Dec::Bool(b) => b.append_null(),
            Dec::I16(b) => b.append_null(),
            Dec::I32(b) => b.append_null(),
            Dec::I64(b) => b.append_null(),
            Dec::F32(b) => b.append_null(),
            Dec::F64(b) => b.append_null(),
            Dec::D128(b, _) => b.append_null(),
            Dec::D256(b, _) => b.append_null(),
            Dec::Text(b, _) | Dec::Uuid(b) => b.append_null(),
            Dec::Bytes(b) => b.append_null(),
            Dec::Date(b, _) => b.append_null(),
            Dec::Timestamp(b, _) => b.append_null(),
            Dec::Duration(b, _) => b.append_null(),
        }
    }

    /// Decode one field. `scratch` is reused between values (numeric text).
    fn append(&mut self, f: &[u8], scratch: &mut Vec<u8>) -> Result<(), String> {
        match self {
            Dec::Bool(b) => b.append_value(be::<1>(f)?[0] != 0),
            Dec::I16(b) => b.append_value(i16::from_be_bytes(be(f)?)),
            Dec::I32(b) => b.append_value(i32::from_be_bytes(be(f)?)),
            Dec::I64(b) => b.append_value(i64::from_be_bytes(be(f)?)),
            Dec::F32(b) => b.append_value(f32::from_be_bytes(be(f)?)),
            Dec::F64(b) => b.append_value(f64::from_be_bytes(be(f)?)),
            Dec::D128(b, scale) => {
                numeric_text(f, scratch)?;
                let v = crate::decimal::parse_decimal::<i128>(scratch, *scale)
                    .ok_or_else(|| format!("{} does not fit", String::from_utf8_lossy(scratch)))?;
                b.append_value(v)
            }
            Dec::D256(b, scale) => {
                numeric_text(f, scratch)?;
                let v = crate::decimal::parse_decimal::<arrow_buffer::i256>(scratch, *scale)
                    .ok_or_else(|| format!("{} does not fit", String::from_utf8_lossy(scratch)))?;
                b.append_value(v)
            }
            Dec::Text(b, jsonb) => {
                let f = if *jsonb {
                    match f.split_first() {
                        Some((1, rest)) => rest,
                        _ => return Err("an unknown jsonb version".into()),
                    }
                } else {
                    f
                };
                let s = simdutf8::basic::from_utf8(f)
                    .map_err(|_| "text that is not valid UTF-8".to_string())?;
                b.append_value(s)
            }
            Dec::Uuid(b) => {
                let mut t = [0u8; 36];
                uuid_text(&be::<16>(f)?, &mut t);
                b.append_value(std::str::from_utf8(&t).expect("hex is ASCII"))
            }
            Dec::Bytes(b) => b.append_value(f),
            Dec::Date(b, infinity) => {
                let d = i32::from_be_bytes(be(f)?);
                if d == i32::MAX || d == i32::MIN {
                    if !*infinity {
                        return Err("an infinite date has no value in the target".into());
                    }
                    b.append_value(d)
                } else {
                    b.append_value(d + PG_EPOCH_DAYS)
                }
            }
            Dec::Timestamp(b, infinity) => {
                let t = i64::from_be_bytes(be(f)?);
                if t == i64::MAX || t == i64::MIN {
                    if !*infinity {
                        return Err("an infinite timestamp has no value in the target".into());
                    }
                    b.append_value(t)
                } else {
                    b.append_value(t + PG_EPOCH_MICROS)
                }
            }
            Dec::Duration(b, interval) => {
                if !*interval {
                    b.append_value(i64::from_be_bytes(be(f)?));
                    return Ok(());
                }
                let f = be::<16>(f)?;
                let us = i64::from_be_bytes(f[0..8].try_into().unwrap());
                let days = i32::from_be_bytes(f[8..12].try_into().unwrap()) as i64;
                let months = i32::from_be_bytes(f[12..16].try_into().unwrap());
                if months != 0 {
                    return Err(format!(
                        "an interval of {months} month(s) has no fixed length, so it fits no TIME"
                    ));
                }
                b.append_value(us + days * crate::temporal::MICROS_PER_DAY)
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        use std::sync::Arc;
        match self {
            Dec::Bool(b) => Arc::new(b.finish()),
            Dec::I16(b) => Arc::new(b.finish()),
            Dec::I32(b) => Arc::new(b.finish()),
            Dec::I64(b) => Arc::new(b.finish()),
            Dec::F32(b) => Arc::new(b.finish()),
            Dec::F64(b) => Arc::new(b.finish()),
            Dec::D128(b, _) => Arc::new(b.finish()),
            Dec::D256(b, _) => Arc::new(b.finish()),
            Dec::Text(b, _) | Dec::Uuid(b) => Arc::new(b.finish()),
            Dec::Bytes(b) => Arc::new(b.finish()),
            Dec::Date(b, _) => Arc::new(b.finish()),
            Dec::Timestamp(b, _) => Arc::new(b.finish()),
            Dec::Duration(b, _) => Arc::new(b.finish()),
        }
    }
}

/// A binary COPY stream decoded into record batches: feed it the stream's chunks, take a
/// batch whenever enough rows are in. A row split across chunks waits for the rest.
pub struct CopyDecoder {
    buf: BytesMut,
    header_done: bool,
    ended: bool,
    decs: Vec<Dec>,
    names: Vec<String>,
    schema: arrow_schema::SchemaRef,
    /// The key column, to name a row in errors.
    key: Option<usize>,
    rows: usize,
    bytes: usize,
    scratch: Vec<u8>,
    /// Under skip-row: refused rows are left out of their batch and kept here for the
    /// reject file, instead of failing the read.
    skip_rows: bool,
    dropped: Vec<usize>,
    rejected: Vec<DecodeError>,
}

/// A value that could not be decoded: which column, why, the row's key if known, and the
/// value as the source's text where barge can say it (else its wire bytes).
#[derive(Debug)]
pub struct DecodeError {
    pub column: String,
    pub detail: String,
    pub key: Option<String>,
    pub value: Vec<u8>,
}

/// The text of a field barge refused: the number or date it stands for, where it can say.
fn refused_text(d: &Dec, f: &[u8]) -> Option<String> {
    Some(match d {
        Dec::F32(_) => f32::from_be_bytes(f.try_into().ok()?).to_string(),
        Dec::F64(_) => f64::from_be_bytes(f.try_into().ok()?).to_string(),
        Dec::Date(..) => match i32::from_be_bytes(f.try_into().ok()?) {
            i32::MAX => "infinity".into(),
            i32::MIN => "-infinity".into(),
            _ => return None,
        },
        Dec::Timestamp(..) => match i64::from_be_bytes(f.try_into().ok()?) {
            i64::MAX => "infinity".into(),
            i64::MIN => "-infinity".into(),
            _ => return None,
        },
        Dec::D128(..) | Dec::D256(..) if f.len() >= 8 => match u16::from_be_bytes([f[4], f[5]]) {
            0xC000 => "NaN".into(),
            0xD000 => "Infinity".into(),
            0xF000 => "-Infinity".into(),
            _ => return None,
        },
        Dec::Duration(_, true) if f.len() == 16 => format!(
            "{} months {} days {} µs",
            i32::from_be_bytes(f[12..16].try_into().ok()?),
            i32::from_be_bytes(f[8..12].try_into().ok()?),
            i64::from_be_bytes(f[0..8].try_into().ok()?)
        ),
        _ => return None,
    })
}

impl CopyDecoder {
    pub fn new(
        columns: &[(String, crate::types::Mapping)],
        schema: arrow_schema::SchemaRef,
        key: Option<usize>,
        cap: usize,
    ) -> Result<CopyDecoder> {
        Ok(CopyDecoder {
            buf: BytesMut::new(),
            header_done: false,
            ended: false,
            decs: columns
                .iter()
                .map(|(_, m)| Dec::new(m, cap))
                .collect::<Result<_>>()?,
            names: columns.iter().map(|(n, _)| n.clone()).collect(),
            schema,
            key,
            rows: 0,
            bytes: 0,
            scratch: Vec::new(),
            skip_rows: false,
            dropped: Vec::new(),
            rejected: Vec::new(),
        })
    }

    /// Leave rows with a value that cannot be decoded out, instead of failing.
    pub fn skip_rows(mut self) -> CopyDecoder {
        self.skip_rows = true;
        self
    }

    /// The rows left out since the last call (under `skip_rows`).
    pub fn take_rejected(&mut self) -> Vec<DecodeError> {
        std::mem::take(&mut self.rejected)
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Bytes of values decoded into the current batch.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Decode every complete row in `chunk` (and what was left of the last one).
    pub fn push(&mut self, chunk: &[u8]) -> std::result::Result<(), DecodeError> {
        self.buf.extend_from_slice(chunk);
        let stream_err = |detail: String| DecodeError {
            column: String::new(),
            detail,
            key: None,
            value: Vec::new(),
        };
        if !self.header_done {
            if self.buf.len() < HEADER.len() + 8 {
                return Ok(());
            }
            if self.buf[..HEADER.len() - 8] != HEADER[..HEADER.len() - 8] {
                return Err(stream_err("not a binary COPY stream".into()));
            }
            let ext = u32::from_be_bytes(self.buf[15..19].try_into().unwrap()) as usize;
            if self.buf.len() < 19 + ext {
                return Ok(());
            }
            let _ = self.buf.split_to(19 + ext);
            self.header_done = true;
        }
        let ncols = self.decs.len();
        let mut offsets: Vec<(usize, i32)> = Vec::with_capacity(ncols);
        loop {
            if self.ended || self.buf.len() < 2 {
                return Ok(());
            }
            let count = i16::from_be_bytes([self.buf[0], self.buf[1]]);
            if count == -1 {
                self.ended = true;
                return Ok(());
            }
            if count as usize != ncols {
                return Err(stream_err(format!(
                    "a row of {count} fields where {ncols} were selected"
                )));
            }
            // Find the fields; stop when the row is not complete yet.
            offsets.clear();
            let mut at = 2;
            let mut complete = true;
            for _ in 0..ncols {
                if self.buf.len() < at + 4 {
                    complete = false;
                    break;
                }
                let len = i32::from_be_bytes(self.buf[at..at + 4].try_into().unwrap());
                at += 4;
                offsets.push((at, len));
                if len > 0 {
                    at += len as usize;
                }
                if self.buf.len() < at {
                    complete = false;
                    break;
                }
            }
            if !complete {
                return Ok(());
            }
            let row = self.buf.split_to(at);
            for (i, &(start, len)) in offsets.iter().enumerate() {
                if len < 0 {
                    self.decs[i].append_null();
                    continue;
                }
                let f = &row[start..start + len as usize];
                self.bytes += f.len();
                if let Err(detail) = self.decs[i].append(f, &mut self.scratch) {
                    let key = self.key.and_then(|k| {
                        let (s, l) = offsets[k];
                        (l >= 0).then(|| key_text(&row[s..s + l as usize]))
                    });
                    let value = refused_text(&self.decs[i], f)
                        .map(String::into_bytes)
                        .unwrap_or_else(|| f.to_vec());
                    let e = DecodeError {
                        column: self.names[i].clone(),
                        detail,
                        key,
                        value,
                    };
                    if !self.skip_rows {
                        return Err(e);
                    }
                    // The row's other columns get a NULL so the builders stay aligned; the
                    // row is taken out of its batch.
                    for d in &mut self.decs[i..] {
                        d.append_null();
                    }
                    self.dropped.push(self.rows);
                    self.rejected.push(e);
                    break;
                }
            }
            self.rows += 1;
        }
    }

    /// The rows decoded so far as one batch; the builders start over.
    pub fn take_batch(&mut self) -> Result<RecordBatch> {
        let cols: Vec<ArrayRef> = self.decs.iter_mut().map(Dec::finish).collect();
        let mut keep = vec![true; self.rows];
        for &r in &self.dropped {
            keep[r] = false;
        }
        self.rows = 0;
        self.bytes = 0;
        let batch =
            RecordBatch::try_new(self.schema.clone(), cols).map_err(|source| Error::Arrow {
                context: "building a record batch".into(),
                source,
            })?;
        if self.dropped.is_empty() {
            return Ok(batch);
        }
        self.dropped.clear();
        arrow_select::filter::filter_record_batch(&batch, &arrow_array::BooleanArray::from(keep))
            .map_err(|source| Error::Arrow {
                context: "leaving rejected rows out of a batch".into(),
                source,
            })
    }
}

/// A key field as text for an error message: an integer when it looks like one.
fn key_text(f: &[u8]) -> String {
    match f.len() {
        2 => i16::from_be_bytes(f.try_into().unwrap()).to_string(),
        4 => i32::from_be_bytes(f.try_into().unwrap()).to_string(),
        8 => i64::from_be_bytes(f.try_into().unwrap()).to_string(),
        _ => String::from_utf8_lossy(f).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(neg: bool, v: u128, scale: u16) -> Vec<u8> {
        let mut b = BytesMut::new();
        put_numeric(&mut b, neg, [v as u64, (v >> 64) as u64, 0, 0, 0], scale);
        b.to_vec()
    }

    fn words(v: &[i16]) -> Vec<u8> {
        v.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    #[test]
    fn numeric_layout() {
        // 123.45 → digits [123, 4500], weight 0, dscale 2
        let mut want = (12i32).to_be_bytes().to_vec();
        want.extend(words(&[2, 0, 0, 2, 123, 4500]));
        assert_eq!(numeric(false, 12345, 2), want);
        // 0.001 → digits [10], weight -1, dscale 3
        let mut want = (10i32).to_be_bytes().to_vec();
        want.extend(words(&[1, -1, 0, 3, 10]));
        assert_eq!(numeric(false, 1, 3), want);
        // -100000000 → digits [1], weight 2, negative
        let mut want = (10i32).to_be_bytes().to_vec();
        want.extend(words(&[1, 2, 0x4000, 0, 1]));
        assert_eq!(numeric(true, 100_000_000, 0), want);
        // zero keeps its display scale and is never negative
        let mut want = (8i32).to_be_bytes().to_vec();
        want.extend(words(&[0, 0, 0, 5]));
        assert_eq!(numeric(true, 0, 5), want);
    }

    #[test]
    fn integers_into_numeric_columns() {
        let mut b = BytesMut::new();
        put_int(&mut b, -100_000_000, PgInt::Numeric).unwrap();
        assert_eq!(b.to_vec(), numeric(true, 100_000_000, 0));
        let mut b = BytesMut::new();
        put_int(&mut b, i64::MAX, PgInt::Unsigned).unwrap();
        assert_eq!(b.to_vec(), numeric(false, i64::MAX as u128, 0));
        let e = put_int(&mut BytesMut::new(), -1, PgInt::Unsigned).unwrap_err();
        assert_eq!(e, "-1 does not fit bigint unsigned");
    }

    #[test]
    fn bits_layout() {
        let mut b = BytesMut::new();
        put_bits(&mut b, 0b101, 3).unwrap();
        assert_eq!(b.to_vec(), [0, 0, 0, 5, 0, 0, 0, 3, 0b1010_0000]);
        assert!(put_bits(&mut BytesMut::new(), 8, 3).is_err());
    }

    #[test]
    fn uuid_and_inet_layouts() {
        let mut b = BytesMut::new();
        put_uuid(&mut b, "A0EEBC99-9c0b-4ef8-bb6d-6bb9bd380a11").unwrap();
        let mut want = vec![0, 0, 0, 16, 0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8];
        want.extend([0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11]);
        assert_eq!(b.to_vec(), want);
        for bad in [
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
            "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        ] {
            assert!(put_uuid(&mut BytesMut::new(), bad).is_err(), "{bad}");
        }
        let mut b = BytesMut::new();
        put_inet(&mut b, "10.0.0.1").unwrap();
        assert_eq!(b.to_vec(), [0, 0, 0, 8, 2, 32, 0, 4, 10, 0, 0, 1]);
        let mut b = BytesMut::new();
        put_inet(&mut b, "::ffff:1.2.3.4").unwrap();
        let mut want = vec![0, 0, 0, 20, 3, 128, 0, 16];
        want.extend([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]);
        assert_eq!(b.to_vec(), want);
        assert!(put_inet(&mut BytesMut::new(), "10.0.0.0/8").is_err());
    }
}
