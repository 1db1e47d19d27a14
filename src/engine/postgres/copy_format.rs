//! PostgreSQL binary COPY, encoded straight from Arrow arrays.
//!
//! Format (PostgreSQL docs, "COPY … Binary Format"): an 11-byte signature, an i32 flags
//! field and an i32 header-extension length; then per row an i16 field count and per field
//! an i32 byte length (-1 for NULL) followed by the type's binary "send" representation;
//! finally an i16 -1. All integers are big-endian (network order).

use crate::error::{Error, Result};
use crate::types::PgType;
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
    Bytea(&'a arrow_array::BinaryArray),
    Date(&'a arrow_array::Date32Array),
    Timestamp(&'a arrow_array::TimestampMicrosecondArray),
    Interval(&'a arrow_array::DurationMicrosecondArray),
    TextArray(&'a GenericListArray<i32>),
}

/// The integer width a target column has; narrower sources are widened.
#[derive(Clone, Copy)]
enum PgInt {
    I2,
    I4,
    I8,
}

impl PgInt {
    fn of(t: &PgType) -> Option<PgInt> {
        match t {
            PgType::SmallInt => Some(PgInt::I2),
            PgType::Integer => Some(PgInt::I4),
            PgType::BigInt => Some(PgInt::I8),
            _ => None,
        }
    }
}

fn unsupported(name: &str, arrow: &DataType, pg: &PgType) -> Error {
    Error::Invalid(format!(
        "column {name}: no binary COPY encoding from Arrow {arrow} to PostgreSQL {pg}"
    ))
}

impl<'a> Enc<'a> {
    fn new(name: &str, a: &'a ArrayRef, pg: &PgType) -> Result<Enc<'a>> {
        let dt = a.data_type();
        Ok(match (dt, pg) {
            (DataType::Boolean, PgType::Boolean) => Enc::Bool(a.as_boolean()),
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
            (DataType::UInt64, PgType::Numeric(_)) => {
                Enc::U64Numeric(a.as_primitive::<UInt64Type>())
            }
            (DataType::UInt64, PgType::Bit(n)) => Enc::U64Bits(a.as_primitive::<UInt64Type>(), *n),
            (DataType::Float32, PgType::Real) => Enc::F32(a.as_primitive::<Float32Type>()),
            (DataType::Float64, PgType::Double) => Enc::F64(a.as_primitive::<Float64Type>()),
            (DataType::Decimal128(_, s), PgType::Numeric(_)) if *s >= 0 => {
                Enc::D128(a.as_primitive::<Decimal128Type>(), *s as u16)
            }
            (DataType::Decimal256(_, s), PgType::Numeric(_)) if *s >= 0 => {
                Enc::D256(a.as_primitive::<Decimal256Type>(), *s as u16)
            }
            (DataType::Utf8, PgType::Text | PgType::Varchar(_)) => Enc::Text(a.as_string::<i32>()),
            (DataType::Utf8, PgType::Jsonb) => Enc::Jsonb(a.as_string::<i32>()),
            (DataType::Binary, PgType::Bytea) => Enc::Bytea(a.as_binary::<i32>()),
            (DataType::Date32, PgType::Date) => Enc::Date(a.as_primitive::<Date32Type>()),
            (
                DataType::Timestamp(TimeUnit::Microsecond, _),
                PgType::Timestamp(_) | PgType::Timestamptz(_),
            ) => Enc::Timestamp(a.as_primitive::<TimestampMicrosecondType>()),
            (DataType::Duration(TimeUnit::Microsecond), PgType::Interval(_)) => {
                Enc::Interval(a.as_primitive::<DurationMicrosecondType>())
            }
            (DataType::List(f), PgType::TextArray) if f.data_type() == &DataType::Utf8 => {
                Enc::TextArray(a.as_list::<i32>())
            }
            _ => return Err(unsupported(name, dt, pg)),
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
            Enc::Text(a) | Enc::Jsonb(a) => a.is_null(row),
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
            Enc::Bytea(a) => put_bytes(buf, a.value(row))?,
            Enc::Date(a) => {
                buf.put_i32(4);
                buf.put_i32(a.value(row) - PG_EPOCH_DAYS);
            }
            Enc::Timestamp(a) => {
                buf.put_i32(8);
                buf.put_i64(a.value(row) - PG_EPOCH_MICROS);
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
    types: Vec<PgType>,
}

impl CopyEncoder {
    pub fn new(names: Vec<String>, types: Vec<PgType>) -> CopyEncoder {
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
    fn bits_layout() {
        let mut b = BytesMut::new();
        put_bits(&mut b, 0b101, 3).unwrap();
        assert_eq!(b.to_vec(), [0, 0, 0, 5, 0, 0, 0, 3, 0b1010_0000]);
        assert!(put_bits(&mut BytesMut::new(), 8, 3).is_err());
    }
}
