//! Evaluation over a record batch with Arrow compute kernels. Literals stay one-element
//! "scalars" until an operator needs a full column, so `price * 1.1` never materialises the
//! constant. String functions Arrow has no kernel for are written column-wise into one
//! builder: no allocation per row.

use super::parse::{BinOp, Span};
use super::{Expr, Func, Kind};
use arrow_array::builder::{Int32Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::{
    new_empty_array, new_null_array, Array, ArrayRef, BooleanArray, Datum, RecordBatch,
    StringArray, UInt32Array,
};
use arrow_buffer::Buffer;
use arrow_schema::{ArrowError, DataType as D, Field, Schema, TimeUnit};
use std::fmt::Write;
use std::sync::Arc;

/// A column of values, or one value standing for every row.
#[derive(Debug, Clone)]
pub enum Value {
    Array(ArrayRef),
    Scalar(ArrayRef),
}

impl Datum for Value {
    fn get(&self) -> (&dyn Array, bool) {
        match self {
            Value::Array(a) => (a.as_ref(), false),
            Value::Scalar(a) => (a.as_ref(), true),
        }
    }
}

impl Value {
    fn array(&self) -> &ArrayRef {
        match self {
            Value::Array(a) | Value::Scalar(a) => a,
        }
    }

    fn is_scalar(&self) -> bool {
        matches!(self, Value::Scalar(_))
    }

    /// As a column of `n` rows.
    pub fn into_array(self, n: usize) -> Result<ArrayRef, String> {
        match self {
            Value::Array(a) => Ok(a),
            Value::Scalar(a) => repeat(&a, n),
        }
    }
}

/// A one-element array repeated `n` times.
fn repeat(a: &ArrayRef, n: usize) -> Result<ArrayRef, String> {
    if n == 1 {
        return Ok(a.clone());
    }
    if a.is_null(0) {
        return Ok(new_null_array(a.data_type(), n));
    }
    if let Some(s) = a.as_string_opt::<i32>() {
        return Ok(Arc::new(StringArray::from_iter_values(
            std::iter::repeat_n(s.value(0), n),
        )));
    }
    if let Some(b) = a.as_boolean_opt() {
        return Ok(Arc::new(BooleanArray::from(vec![b.value(0); n])));
    }
    arrow_select::take::take(a.as_ref(), &UInt32Array::from(vec![0u32; n]), None)
        .map_err(|e| e.to_string())
}

fn wrap(a: ArrayRef, scalar: bool) -> Value {
    if scalar {
        Value::Scalar(a)
    } else {
        Value::Array(a)
    }
}

fn message(e: ArrowError) -> String {
    match e {
        ArrowError::DivideByZero => "division by zero".into(),
        ArrowError::ArithmeticOverflow(m) => format!("out of range: {m}"),
        ArrowError::CastError(m)
        | ArrowError::ComputeError(m)
        | ArrowError::InvalidArgumentError(m) => m,
        e => e.to_string(),
    }
}

const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f";
const TIMESTAMPTZ_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f%:::z";

/// Cast with errors (never a silent NULL), texts formatted as PostgreSQL prints them, and
/// numbers rounded to integers as PostgreSQL rounds them.
pub fn cast_to(a: &ArrayRef, to: &D) -> Result<ArrayRef, String> {
    // Arrow resolves named time zones only with chrono-tz (a large build); barge's only zone
    // is UTC, which it can spell as an offset.
    let utc =
        |t: &D| matches!(t, D::Timestamp(TimeUnit::Microsecond, Some(z)) if z.as_ref() == "UTC");
    if utc(a.data_type()) || utc(to) {
        let a = if utc(a.data_type()) {
            relabel(a, "+00:00")
        } else {
            a.clone()
        };
        let to2 = if utc(to) {
            D::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
        } else {
            to.clone()
        };
        let out = cast_plain(&a, &to2)?;
        return Ok(if utc(to) { relabel(&out, "UTC") } else { out });
    }
    cast_plain(a, to)
}

fn relabel(a: &ArrayRef, zone: &str) -> ArrayRef {
    Arc::new(
        a.as_primitive::<arrow_array::types::TimestampMicrosecondType>()
            .clone()
            .with_timezone(zone),
    )
}

fn cast_plain(a: &ArrayRef, to: &D) -> Result<ArrayRef, String> {
    if a.data_type() == to {
        return Ok(a.clone());
    }
    if *to == D::Utf8 && super::text::handles(a.data_type()) {
        return Ok(super::text::to_text(a, false));
    }
    let opts = arrow_cast::CastOptions {
        safe: false,
        format_options: arrow_cast::display::FormatOptions::new()
            .with_timestamp_format(Some(TIMESTAMP_FORMAT))
            .with_timestamp_tz_format(Some(TIMESTAMPTZ_FORMAT)),
    };
    let rounded;
    let from: &ArrayRef = match (a.data_type(), to) {
        // float → integer: PostgreSQL rounds half to even; Arrow would truncate.
        (D::Float32 | D::Float64, t) if t.is_integer() => {
            let f = arrow_cast::cast(a, &D::Float64).map_err(message)?;
            rounded = Arc::new(
                f.as_primitive::<arrow_array::types::Float64Type>()
                    .unary::<_, arrow_array::types::Float64Type>(f64::round_ties_even),
            ) as ArrayRef;
            &rounded
        }
        // numeric → integer: PostgreSQL rounds half away from zero; first to scale 0.
        (D::Decimal128(p, s) | D::Decimal256(p, s), t) if t.is_integer() && *s > 0 => {
            let whole = match a.data_type() {
                D::Decimal128(..) => D::Decimal128(*p, 0),
                _ => D::Decimal256(*p, 0),
            };
            rounded = arrow_cast::cast_with_options(a, &whole, &opts).map_err(message)?;
            &rounded
        }
        _ => a,
    };
    arrow_cast::cast_with_options(from, to, &opts).map_err(message)
}

/// The result type of an arithmetic operator on values of these types.
pub fn arith_type(op: BinOp, l: &D, r: &D) -> Result<D, String> {
    let (a, b) = (new_empty_array(l), new_empty_array(r));
    arith(op, &Value::Array(a), &Value::Array(b))
        .map(|a| a.data_type().clone())
        .map_err(|m| {
            format!(
                "`{}` is not defined for {} and {}: {m}",
                op.symbol(),
                super::type_name(l),
                super::type_name(r)
            )
        })
}

/// Whether values of type `t` can be compared (and so be CASE/IN operands).
pub fn check_comparable(t: &D) -> Result<(), String> {
    let e = new_empty_array(t);
    arrow_ord::cmp::eq(&e, &e)
        .map(|_| ())
        .map_err(|_| format!("values of type {} cannot be compared", super::type_name(t)))
}

fn arith(op: BinOp, l: &Value, r: &Value) -> Result<ArrayRef, String> {
    use arrow_arith::numeric;
    let f = match op {
        BinOp::Add => numeric::add,
        BinOp::Sub => numeric::sub,
        BinOp::Mul => numeric::mul,
        BinOp::Div => numeric::div,
        BinOp::Rem => numeric::rem,
        _ => unreachable!("not arithmetic: {op:?}"),
    };
    f(l, r).map_err(message)
}

fn cmp(op: BinOp, l: &Value, r: &Value) -> Result<BooleanArray, String> {
    use arrow_ord::cmp;
    let f = match op {
        BinOp::Eq => cmp::eq,
        BinOp::Ne => cmp::neq,
        BinOp::Lt => cmp::lt,
        BinOp::Le => cmp::lt_eq,
        BinOp::Gt => cmp::gt,
        BinOp::Ge => cmp::gt_eq,
        _ => unreachable!("not a comparison: {op:?}"),
    };
    f(l, r).map_err(message)
}

/// PostgreSQL raises "division by zero" for floats too, where IEEE (and Arrow) give
/// infinity; a NULL dividend gives NULL without an error.
fn float_zero_divisor(l: &Value, r: &Value) -> Result<(), String> {
    let zero = arrow_array::Float64Array::new_scalar(0.0);
    let r64 = cast_plain(r.array(), &D::Float64)?;
    let r64 = wrap(r64, r.is_scalar());
    let zeros = arrow_ord::cmp::eq(&r64, &zero).map_err(message)?;
    let live = arrow_arith::boolean::is_not_null(l.array().as_ref()).map_err(message)?;
    let hit = if zeros.len() == live.len() {
        arrow_arith::boolean::and(&truth(&zeros), &live).map_err(message)?
    } else if zeros.len() == 1 && truth(&zeros).value(0) {
        live
    } else {
        return Ok(());
    };
    if hit.true_count() > 0 {
        return Err("division by zero".into());
    }
    Ok(())
}

/// -0.0 as 0.0: PostgreSQL (and MySQL) compare them equal; Arrow's total order does not.
fn signed_zero(v: Value) -> Value {
    use arrow_array::types::{Float32Type, Float64Type};
    let a = v.array();
    let out: ArrayRef = match a.data_type() {
        D::Float64 => Arc::new(
            a.as_primitive::<Float64Type>()
                .unary::<_, Float64Type>(|x| x + 0.0),
        ),
        D::Float32 => Arc::new(
            a.as_primitive::<Float32Type>()
                .unary::<_, Float32Type>(|x| x + 0.0),
        ),
        _ => return v,
    };
    wrap(out, v.is_scalar())
}

/// A type modifier of an explicit cast: `varchar(n)` keeps n characters, `timestamp(p)` and
/// `interval(p)` round to p fractional digits (half away from zero, as PostgreSQL does).
fn modifier(a: ArrayRef, ty: &crate::types::Logical) -> ArrayRef {
    use crate::types::Logical;
    match ty {
        Logical::Text(Some(n)) => {
            let s = a.as_string::<i32>();
            let n = *n as usize;
            if s.iter().flatten().all(|x| x.len() <= n) {
                return a;
            }
            let mut b = StringBuilder::with_capacity(s.len(), s.values().len());
            for x in s.iter() {
                b.append_option(x.map(|x| match x.char_indices().nth(n) {
                    Some((i, _)) => &x[..i],
                    None => x,
                }));
            }
            Arc::new(b.finish())
        }
        Logical::Timestamp(p) | Logical::TimestampUtc(p) if *p < 6 => {
            use crate::temporal::{round_micros, PG_EPOCH_MICROS};
            use arrow_array::types::TimestampMicrosecondType as T;
            let t = a.as_primitive::<T>();
            let zone = t.timezone().map(str::to_string);
            let rounded = t.unary::<_, T>(|v| round_micros(v, *p, PG_EPOCH_MICROS));
            Arc::new(match zone {
                Some(z) => rounded.with_timezone(z),
                None => rounded,
            })
        }
        Logical::Duration(p) if *p < 6 => {
            use arrow_array::types::DurationMicrosecondType as T;
            let rounded = a
                .as_primitive::<T>()
                .unary::<_, T>(|v| crate::temporal::round_micros(v, *p, 0));
            Arc::new(rounded)
        }
        _ => a,
    }
}

/// NULL counts as false (WHERE and WHEN semantics).
pub fn truth(b: &BooleanArray) -> BooleanArray {
    if b.null_count() == 0 {
        b.clone()
    } else {
        arrow_select::filter::prep_null_mask_filter(b)
    }
}

/// Text arguments, each a column or one value for all rows.
struct Texts<'a> {
    args: Vec<(&'a StringArray, bool)>,
}

impl<'a> Texts<'a> {
    fn new(values: &'a [Value]) -> Self {
        Texts {
            args: values
                .iter()
                .map(|v| (v.array().as_string::<i32>(), v.is_scalar()))
                .collect(),
        }
    }

    fn get(&self, arg: usize, row: usize) -> Option<&'a str> {
        let (a, scalar) = self.args[arg];
        let i = if scalar { 0 } else { row };
        a.is_valid(i).then(|| a.value(i))
    }
}

fn rows_of(values: &[Value]) -> (usize, bool) {
    match values.iter().find(|v| !v.is_scalar()) {
        Some(v) => (v.array().len(), false),
        None => (1, true),
    }
}

/// Lower- or upper-case. An all-ASCII column is mapped byte for byte in one pass over its
/// value buffer (offsets and nulls are kept as they are).
fn change_case(v: &Value, upper: bool) -> Value {
    let s = v.array().as_string::<i32>();
    let data = s.values().as_slice();
    let out: ArrayRef = if data.is_ascii() {
        let bytes: Vec<u8> = if upper {
            data.to_ascii_uppercase()
        } else {
            data.to_ascii_lowercase()
        };
        Arc::new(StringArray::new(
            s.offsets().clone(),
            Buffer::from_vec(bytes),
            s.nulls().cloned(),
        ))
    } else {
        let mut b = StringBuilder::with_capacity(s.len(), data.len());
        // One buffer reused for every row: no allocation per value.
        let mut buf = String::new();
        for x in s.iter() {
            match x {
                None => b.append_null(),
                Some(x) => {
                    buf.clear();
                    // ASCII runs byte by byte; only other characters go through Unicode's
                    // case tables (the slow part).
                    for c in x.chars() {
                        if c.is_ascii() {
                            buf.push(if upper {
                                c.to_ascii_uppercase()
                            } else {
                                c.to_ascii_lowercase()
                            });
                        } else if upper {
                            buf.extend(c.to_uppercase());
                        } else {
                            buf.extend(c.to_lowercase());
                        }
                    }
                    b.append_value(&buf);
                }
            }
        }
        Arc::new(b.finish())
    };
    wrap(out, v.is_scalar())
}

/// PostgreSQL's substring by characters: the window [start, start + count) clipped to the text.
fn substring(s: &str, start: i64, count: Option<i64>) -> Result<&str, String> {
    let end = match count {
        Some(c) if c < 0 => return Err("negative substring length not allowed".into()),
        Some(c) => Some(start.saturating_add(c)),
        None => None,
    };
    let from = start.max(1) - 1;
    let to = end.map(|e| (e.max(1) - 1).max(from));
    let at = |k: i64| -> usize {
        if s.is_ascii() {
            (k as usize).min(s.len())
        } else {
            s.char_indices().nth(k as usize).map_or(s.len(), |(i, _)| i)
        }
    };
    let a = at(from);
    let b = to.map_or(s.len(), at);
    Ok(&s[a..b.max(a)])
}

fn strings(f: Func, values: &[Value]) -> Result<Value, String> {
    let (n, scalar) = rows_of(values);
    if f == Func::Lower || f == Func::Upper {
        return Ok(change_case(&values[0], f == Func::Upper));
    }
    if f == Func::Length || f == Func::OctetLength {
        let a = values[0].array();
        let mut b = Int32Builder::with_capacity(a.len());
        if let Some(bin) = a.as_binary_opt::<i32>() {
            bin.iter()
                .for_each(|x| b.append_option(x.map(|x| x.len() as i32)));
        } else if f == Func::OctetLength {
            for x in a.as_string::<i32>().iter() {
                b.append_option(x.map(|x| x.len() as i32));
            }
        } else {
            for x in a.as_string::<i32>().iter() {
                b.append_option(x.map(|x| x.chars().count() as i32));
            }
        }
        return Ok(wrap(Arc::new(b.finish()), values[0].is_scalar()));
    }
    let ints: Vec<Option<&arrow_array::Int64Array>> = values
        .iter()
        .map(|v| {
            v.array()
                .as_primitive_opt::<arrow_array::types::Int64Type>()
        })
        .collect();
    let int = |arg: usize, row: usize| -> Option<i64> {
        let a = ints[arg]?;
        let i = if values[arg].is_scalar() { 0 } else { row };
        a.is_valid(i).then(|| a.value(i))
    };
    let t = if f == Func::Substring {
        Texts::new(&values[..1])
    } else {
        Texts::new(values)
    };
    let mut b = StringBuilder::with_capacity(n, n * 16);
    for row in 0..n {
        match f {
            Func::Concat => {
                for arg in 0..values.len() {
                    if let Some(s) = t.get(arg, row) {
                        b.write_str(s).expect("infallible");
                    }
                }
                b.append_value("");
            }
            Func::ConcatOp => match (t.get(0, row), t.get(1, row)) {
                (Some(x), Some(y)) => {
                    b.write_str(x).expect("infallible");
                    b.append_value(y);
                }
                _ => b.append_null(),
            },
            Func::Trim | Func::Ltrim | Func::Rtrim => match t.get(0, row) {
                None => b.append_null(),
                Some(s) => b.append_value(match f {
                    Func::Ltrim => s.trim_start_matches(' '),
                    Func::Rtrim => s.trim_end_matches(' '),
                    _ => s.trim_matches(' '),
                }),
            },
            Func::Substring => {
                let count = if values.len() > 2 {
                    match int(2, row) {
                        None => {
                            b.append_null();
                            continue;
                        }
                        c => c,
                    }
                } else {
                    None
                };
                match (t.get(0, row), int(1, row)) {
                    (Some(s), Some(start)) => b.append_value(substring(s, start, count)?),
                    _ => b.append_null(),
                }
            }
            Func::Replace => match (t.get(0, row), t.get(1, row), t.get(2, row)) {
                (Some(s), Some(from), Some(to)) => {
                    if from.is_empty() {
                        b.append_value(s);
                        continue;
                    }
                    let mut last = 0;
                    for (i, m) in s.match_indices(from) {
                        b.write_str(&s[last..i]).expect("infallible");
                        b.write_str(to).expect("infallible");
                        last = i + m.len();
                    }
                    b.append_value(&s[last..]);
                }
                _ => b.append_null(),
            },
            Func::Lower | Func::Upper | Func::Length | Func::OctetLength => {
                unreachable!("handled above")
            }
        }
    }
    Ok(wrap(Arc::new(b.finish()), scalar))
}

fn boolean(v: &Value) -> &BooleanArray {
    v.array().as_boolean()
}

/// Both sides as columns of `n` rows, for kernels without scalar support.
fn both(l: Value, r: Value) -> Result<(ArrayRef, ArrayRef, bool), String> {
    let scalar = l.is_scalar() && r.is_scalar();
    let n = if scalar {
        1
    } else if l.is_scalar() {
        r.array().len()
    } else {
        l.array().len()
    };
    Ok((l.into_array(n)?, r.into_array(n)?, scalar))
}

/// A batch whose columns the expression does not read are replaced by NullArrays, so
/// filtering it for CASE branches copies only what is used.
fn narrow(batch: &RecordBatch, used: &[usize]) -> Result<RecordBatch, String> {
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut cols = Vec::with_capacity(fields.capacity());
    for (i, f) in schema.fields().iter().enumerate() {
        if used.contains(&i) {
            fields.push(f.as_ref().clone());
            cols.push(batch.column(i).clone());
        } else {
            fields.push(Field::new(f.name(), D::Null, true));
            cols.push(new_null_array(&D::Null, batch.num_rows()));
        }
    }
    RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        cols,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )
    .map_err(|e| e.to_string())
}

fn filter_batch(batch: &RecordBatch, mask: &BooleanArray) -> Result<RecordBatch, String> {
    arrow_select::filter::filter_record_batch(batch, mask).map_err(|e| e.to_string())
}

impl Expr {
    /// The values for every row of the batch, as a column.
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<ArrayRef, (Span, String)> {
        self.eval(batch)?
            .into_array(batch.num_rows())
            .map_err(|m| (self.span, m))
    }

    pub fn eval(&self, batch: &RecordBatch) -> Result<Value, (Span, String)> {
        self.eval_inner(batch).map_err(|e| match e {
            Located::At(span, m) => (span, m),
            Located::Here(m) => (self.span, m),
        })
    }

    fn eval_inner(&self, batch: &RecordBatch) -> Result<Value, Located> {
        let sub = |e: &Expr| e.eval(batch).map_err(|(s, m)| Located::At(s, m));
        Ok(match &self.kind {
            Kind::Column { index, .. } => Value::Array(batch.column(*index).clone()),
            Kind::Literal(a) => Value::Scalar(a.clone()),
            Kind::Cast { expr, ty, .. } => {
                let v = sub(expr)?;
                let mut out = cast_to(v.array(), &self.ty)?;
                if let Some(ty) = ty {
                    out = modifier(out, ty);
                }
                wrap(out, v.is_scalar())
            }
            Kind::Text(expr) => {
                let v = sub(expr)?;
                let a = v.array();
                let out = if super::text::handles(a.data_type()) {
                    super::text::to_text(a, true)
                } else {
                    cast_to(a, &D::Utf8)?
                };
                wrap(out, v.is_scalar())
            }
            Kind::Neg(e) => {
                let v = sub(e)?;
                let out = arrow_arith::numeric::neg(v.array().as_ref()).map_err(message)?;
                wrap(out, v.is_scalar())
            }
            Kind::Not(e) => {
                let v = sub(e)?;
                let out = arrow_arith::boolean::not(boolean(&v)).map_err(message)?;
                wrap(Arc::new(out), v.is_scalar())
            }
            Kind::Arith(op, l, r) => {
                let (l, r) = (sub(l)?, sub(r)?);
                let scalar = l.is_scalar() && r.is_scalar();
                if matches!(op, BinOp::Div | BinOp::Rem) && l.array().data_type().is_floating() {
                    float_zero_divisor(&l, &r)?;
                }
                wrap(arith(*op, &l, &r)?, scalar)
            }
            Kind::Cmp(op, l, r) => {
                let (l, r) = (signed_zero(sub(l)?), signed_zero(sub(r)?));
                let scalar = l.is_scalar() && r.is_scalar();
                wrap(Arc::new(cmp(*op, &l, &r)?), scalar)
            }
            Kind::And(l, r) | Kind::Or(l, r) => {
                let (l, r, scalar) = both(sub(l)?, sub(r)?)?;
                let (l, r) = (l.as_boolean(), r.as_boolean());
                let out = if matches!(self.kind, Kind::And(..)) {
                    arrow_arith::boolean::and_kleene(l, r)
                } else {
                    arrow_arith::boolean::or_kleene(l, r)
                }
                .map_err(message)?;
                wrap(Arc::new(out), scalar)
            }
            Kind::IsNull { expr, negated } => {
                let v = sub(expr)?;
                let a = v.array().as_ref();
                let out = if *negated {
                    arrow_arith::boolean::is_not_null(a)
                } else {
                    arrow_arith::boolean::is_null(a)
                }
                .map_err(message)?;
                wrap(Arc::new(out), v.is_scalar())
            }
            Kind::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => {
                let (l, r) = (sub(expr)?, sub(pattern)?);
                let scalar = l.is_scalar() && r.is_scalar();
                use arrow_string::like;
                let f = match (negated, case_insensitive) {
                    (false, false) => like::like,
                    (true, false) => like::nlike,
                    (false, true) => like::ilike,
                    (true, true) => like::nilike,
                };
                wrap(Arc::new(f(&l, &r).map_err(message)?), scalar)
            }
            Kind::Func(f, args) => {
                let values = args.iter().map(sub).collect::<Result<Vec<_>, _>>()?;
                strings(*f, &values)?
            }
            Kind::Coalesce(args) => self.coalesce(batch, args)?,
            Kind::NullIf(a, b) => {
                let (a, b) = (sub(a)?, sub(b)?);
                let same = truth(&arrow_ord::cmp::eq(&a, &b).map_err(message)?);
                let (a, _, scalar) = both(a, b)?;
                let same = if same.len() == a.len() {
                    same
                } else {
                    BooleanArray::from(vec![same.value(0); a.len()])
                };
                wrap(
                    arrow_select::nullif::nullif(a.as_ref(), &same).map_err(message)?,
                    scalar,
                )
            }
            Kind::Case { whens, otherwise } => self.case(batch, whens, otherwise)?,
        })
    }

    /// CASE: each row takes the first WHEN that is true; a branch is evaluated only on its
    /// rows, so `CASE WHEN n <> 0 THEN 10 / n END` never divides by zero.
    fn case(
        &self,
        batch: &RecordBatch,
        whens: &[(Expr, Expr)],
        otherwise: &Expr,
    ) -> Result<Value, Located> {
        let located = |(s, m): (Span, String)| Located::At(s, m);
        let mut used = Vec::new();
        self.columns(&mut used);
        let n = batch.num_rows();
        let mut rest = narrow(batch, &used)?;
        let mut rows = UInt32Array::from_iter_values(0..n as u32);
        let mut pieces: Vec<(ArrayRef, UInt32Array)> = Vec::new();
        for (cond, value) in whens {
            if rest.num_rows() == 0 {
                break;
            }
            let c = cond.eval(&rest).map_err(located)?;
            let c = c.into_array(rest.num_rows()).map_err(Located::Here)?;
            let take = truth(c.as_boolean());
            if take.true_count() == 0 {
                continue;
            }
            let chosen = filter_batch(&rest, &take)?;
            let v = value.evaluate(&chosen).map_err(located)?;
            let idx = arrow_select::filter::filter(&rows, &take).map_err(message)?;
            pieces.push((v, idx.as_primitive().clone()));
            let keep = arrow_arith::boolean::not(&take).map_err(message)?;
            rest = filter_batch(&rest, &keep)?;
            rows = arrow_select::filter::filter(&rows, &keep)
                .map_err(message)?
                .as_primitive()
                .clone();
        }
        if rest.num_rows() > 0 {
            pieces.push((otherwise.evaluate(&rest).map_err(located)?, rows));
        }
        Ok(assemble(n, pieces, &self.ty)?)
    }

    /// coalesce: like SQL, an argument is evaluated only on the rows still NULL after the
    /// ones before it (`coalesce(discount, price / qty)` never divides where a discount is).
    fn coalesce(&self, batch: &RecordBatch, args: &[Expr]) -> Result<Value, Located> {
        let located = |(s, m): (Span, String)| Located::At(s, m);
        let first = args[0].eval(batch).map_err(located)?;
        if args.len() == 1 || first.array().null_count() == 0 {
            return Ok(first);
        }
        if let Value::Scalar(_) = first {
            // One NULL for every row: the rest decides.
            return coalesce_rest(batch, &args[1..], &self.ty);
        }
        let mut used = Vec::new();
        self.columns(&mut used);
        let n = batch.num_rows();
        let mut rest = narrow(batch, &used)?;
        let mut rows = UInt32Array::from_iter_values(0..n as u32);
        let mut pieces: Vec<(ArrayRef, UInt32Array)> = Vec::new();
        let mut value = Some(first);
        for (k, arg) in args.iter().enumerate() {
            if rest.num_rows() == 0 {
                break;
            }
            let v = match value.take() {
                Some(v) => v,
                None => arg.eval(&rest).map_err(located)?,
            };
            let v = v.into_array(rest.num_rows()).map_err(Located::Here)?;
            if k == args.len() - 1 {
                pieces.push((v, rows));
                break;
            }
            let found = arrow_arith::boolean::is_not_null(v.as_ref()).map_err(message)?;
            let missing = arrow_arith::boolean::not(&found).map_err(message)?;
            let kept = arrow_select::filter::filter(v.as_ref(), &found).map_err(message)?;
            let at = arrow_select::filter::filter(&rows, &found).map_err(message)?;
            pieces.push((kept, at.as_primitive().clone()));
            rest = filter_batch(&rest, &missing)?;
            rows = arrow_select::filter::filter(&rows, &missing)
                .map_err(message)?
                .as_primitive()
                .clone();
        }
        Ok(assemble(n, pieces, &self.ty)?)
    }
}

/// coalesce over the remaining arguments (the first was NULL for every row).
fn coalesce_rest(batch: &RecordBatch, rest: &[Expr], ty: &D) -> Result<Value, Located> {
    let located = |(s, m): (Span, String)| Located::At(s, m);
    match rest {
        [only] => only.eval(batch).map_err(located),
        _ => Expr {
            kind: Kind::Coalesce(rest.to_vec()),
            ty: ty.clone(),
            span: rest[0].span,
        }
        .eval(batch)
        .map_err(located),
    }
}

/// Put pieces evaluated on subsets of a batch's rows back in row order: each piece holds
/// its values and the batch rows they belong to; together they cover every row once.
fn assemble(n: usize, pieces: Vec<(ArrayRef, UInt32Array)>, ty: &D) -> Result<Value, String> {
    if pieces.is_empty() {
        return Ok(Value::Array(new_empty_array(ty)));
    }
    if let [(only, _)] = pieces.as_slice() {
        return Ok(Value::Array(only.clone()));
    }
    let mut at = vec![(0usize, 0usize); n];
    for (p, (_, idx)) in pieces.iter().enumerate() {
        for (k, i) in idx.values().iter().enumerate() {
            at[*i as usize] = (p, k);
        }
    }
    let arrays: Vec<&dyn Array> = pieces.iter().map(|(a, _)| a.as_ref()).collect();
    Ok(Value::Array(
        arrow_select::interleave::interleave(&arrays, &at).map_err(message)?,
    ))
}

enum Located {
    At(Span, String),
    Here(String),
}

impl From<String> for Located {
    fn from(m: String) -> Self {
        Located::Here(m)
    }
}
