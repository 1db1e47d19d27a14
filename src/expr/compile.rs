//! Typing: resolve column names, check every operand's type, insert the casts that make
//! operands agree, and fold what does not depend on a row. All errors point at a span.

use super::eval::{self, cast_to};
use super::parse::{Ast, AstKind, BinOp, Span};
use super::type_name;
use super::{Expr, ExprSource, Func, Kind};
use crate::error::Error;
use crate::types::Logical;
use arrow_array::{
    new_null_array, Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, Decimal256Array,
    Float64Array, Int64Array, RecordBatch, RecordBatchOptions, StringArray,
    TimestampMicrosecondArray,
};
use arrow_buffer::i256;
use arrow_schema::{DataType as D, Field, Schema, TimeUnit};
use std::sync::Arc;

/// What an expression can refer to.
pub struct Scope<'a> {
    /// The batch's columns in order: the name expressions use, and the Arrow type.
    pub columns: &'a [(String, D)],
    /// What now() gives: microseconds since the epoch, fixed for a whole run.
    pub now_micros: i64,
}

type R<T> = Result<T, (Span, String)>;

/// Type an expression against the columns of a batch.
pub fn compile(src: &ExprSource, scope: &Scope) -> Result<Expr, Error> {
    Compiler { scope }
        .expr(&src.ast)
        .map_err(|(span, m)| src.error(span, &m))
}

/// The Arrow type a cast to a type produces (what the target's encoder takes for that
/// column type). `numeric` without precision keeps a decimal's own, or fits an integer.
pub fn arrow_type_for(ty: &Logical, from: &D) -> Option<D> {
    Some(match ty {
        Logical::Bool => D::Boolean,
        Logical::Int16 => D::Int16,
        Logical::Int32 => D::Int32,
        Logical::Int64 => D::Int64,
        Logical::UInt64 => D::UInt64,
        Logical::Float32 => D::Float32,
        Logical::Float64 => D::Float64,
        // Arrow's decimals hold up to 76 digits (PostgreSQL's up to 1000).
        Logical::Decimal(Some((p, s))) if *p > 76 || s > p => return None,
        Logical::Decimal(Some((p, s))) if *p <= 38 => D::Decimal128(*p as u8, *s as i8),
        Logical::Decimal(Some((p, s))) => D::Decimal256(*p as u8, *s as i8),
        Logical::Decimal(None) => match from {
            D::Decimal128(..) | D::Decimal256(..) => from.clone(),
            D::UInt64 => D::Decimal128(20, 0),
            t if is_int(t) => D::Decimal128(19, 0),
            _ => return None,
        },
        Logical::Text(_) | Logical::Enum(_) | Logical::Json | Logical::Uuid | Logical::Inet => {
            D::Utf8
        }
        Logical::Binary => D::Binary,
        Logical::Date => D::Date32,
        Logical::Timestamp(_) => D::Timestamp(TimeUnit::Microsecond, None),
        Logical::TimestampUtc(_) => D::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Logical::Duration(_) => D::Duration(TimeUnit::Microsecond),
        Logical::TextList => D::List(Arc::new(Field::new_list_field(D::Utf8, true))),
        Logical::Bits(_) => D::UInt64,
    })
}

/// Casts PostgreSQL has too: Arrow would also turn numbers into dates and back.
pub fn castable(from: &D, to: &D) -> bool {
    let temporal = |t: &D| matches!(t, D::Date32 | D::Timestamp(..) | D::Duration(_));
    if (from.is_numeric() && temporal(to)) || (temporal(from) && to.is_numeric()) {
        return false;
    }
    arrow_cast::can_cast_types(from, to)
}

fn is_int(t: &D) -> bool {
    matches!(
        t,
        D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32
    )
}

fn is_numeric(t: &D) -> bool {
    is_int(t)
        || matches!(
            t,
            D::UInt64 | D::Float32 | D::Float64 | D::Decimal128(..) | D::Decimal256(..)
        )
}

fn decimal_shape(t: &D) -> (u8, i8) {
    match t {
        D::Decimal128(p, s) | D::Decimal256(p, s) => (*p, *s),
        D::UInt64 => (20, 0),
        _ => (19, 0),
    }
}

/// The type two numbers meet in: floats win, then exact decimals wide enough for both, then
/// bigint.
fn numeric_common(a: &D, b: &D) -> Option<D> {
    if matches!(a, D::Float32 | D::Float64) || matches!(b, D::Float32 | D::Float64) {
        return Some(D::Float64);
    }
    if is_int(a) && is_int(b) {
        return Some(D::Int64);
    }
    let ((p1, s1), (p2, s2)) = (decimal_shape(a), decimal_shape(b));
    let scale = s1.max(s2).max(0);
    let digits = (p1 as i16 - s1 as i16).max(p2 as i16 - s2 as i16) + scale as i16;
    match digits {
        ..=38 => Some(D::Decimal128(digits.max(1) as u8, scale)),
        39..=76 => Some(D::Decimal256(digits as u8, scale)),
        _ => None,
    }
}

/// What a side of an operator is, for choosing a common type.
#[derive(Clone)]
struct Shape {
    ty: D,
    /// A string literal: it takes the type of the other side ('2010-01-01' vs a date).
    str_lit: bool,
    /// The integer literal 0 or 1: comparable with booleans (MySQL's TINYINT(1) habit).
    bit_lit: bool,
}

fn shape(e: &Expr) -> Shape {
    let lit = match &e.kind {
        Kind::Literal(a) if a.is_valid(0) => Some(a),
        _ => None,
    };
    Shape {
        ty: e.ty.clone(),
        str_lit: lit.is_some() && e.ty == D::Utf8,
        bit_lit: lit.is_some_and(|a| {
            a.as_any()
                .downcast_ref::<Int64Array>()
                .is_some_and(|i| matches!(i.value(0), 0 | 1))
        }),
    }
}

fn common(a: &Shape, b: &Shape) -> Option<D> {
    let (x, y) = (&a.ty, &b.ty);
    if x == y {
        return Some(x.clone());
    }
    if *x == D::Null {
        return Some(y.clone());
    }
    if *y == D::Null {
        return Some(x.clone());
    }
    if is_numeric(x) && is_numeric(y) {
        return numeric_common(x, y);
    }
    let from_str = |t: &D| castable(&D::Utf8, t);
    if a.str_lit && from_str(y) {
        return Some(y.clone());
    }
    if b.str_lit && from_str(x) {
        return Some(x.clone());
    }
    if (*x == D::Boolean && b.bit_lit) || (*y == D::Boolean && a.bit_lit) {
        return Some(D::Boolean);
    }
    match (x, y) {
        (D::Date32, D::Timestamp(..)) => Some(y.clone()),
        (D::Timestamp(..), D::Date32) => Some(x.clone()),
        (D::Timestamp(_, t1), D::Timestamp(_, t2)) => Some(D::Timestamp(
            TimeUnit::Microsecond,
            t1.clone().or_else(|| t2.clone()),
        )),
        _ => None,
    }
}

/// The types arithmetic operands are brought to.
fn operand_types(a: &D, b: &D) -> (D, D) {
    let a = if *a == D::Null { b } else { a };
    let b = if *b == D::Null { a } else { b };
    let float = |t: &D| matches!(t, D::Float32 | D::Float64);
    if float(a) || float(b) {
        return (D::Float64, D::Float64);
    }
    let decimal = |t: &D| matches!(t, D::Decimal128(..) | D::Decimal256(..));
    if !decimal(a) && !decimal(b) && *a != D::UInt64 && *b != D::UInt64 {
        return (D::Int64, D::Int64);
    }
    let wide = matches!(a, D::Decimal256(..)) || matches!(b, D::Decimal256(..));
    let shape = |t: &D| {
        let (p, s) = decimal_shape(t);
        if wide {
            D::Decimal256(p, s)
        } else {
            D::Decimal128(p, s)
        }
    };
    (shape(a), shape(b))
}

fn literal(a: ArrayRef, span: Span) -> Expr {
    Expr {
        ty: a.data_type().clone(),
        kind: Kind::Literal(a),
        span,
    }
}

fn decimal_literal(text: &str) -> Result<ArrayRef, String> {
    let negative = text.starts_with('-');
    let body = text.trim_start_matches('-');
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = format!("{int}{frac}");
    let significant = digits.trim_start_matches('0').len();
    let scale = frac.len();
    let precision = significant.max(scale).max(1);
    let signed = format!("{}{}", if negative { "-" } else { "" }, digits);
    if precision <= 38 {
        let v: i128 = signed.parse().map_err(|_| format!("bad number {text}"))?;
        Decimal128Array::from(vec![v])
            .with_precision_and_scale(precision as u8, scale as i8)
            .map(|a| Arc::new(a) as ArrayRef)
            .map_err(|e| e.to_string())
    } else if precision <= 76 {
        let v = i256::from_string(&signed).ok_or_else(|| format!("bad number {text}"))?;
        Decimal256Array::from(vec![v])
            .with_precision_and_scale(precision as u8, scale as i8)
            .map(|a| Arc::new(a) as ArrayRef)
            .map_err(|e| e.to_string())
    } else {
        Err(format!("number {text} has more than 76 digits"))
    }
}

struct Compiler<'a> {
    scope: &'a Scope<'a>,
}

const FUNCTIONS: &str = "concat, lower, upper, trim, ltrim, rtrim, substring, replace, length, \
                         coalesce, nullif, now, current_date";

impl Compiler<'_> {
    fn expr(&self, ast: &Ast) -> R<Expr> {
        let e = self.node(ast)?;
        self.fold(e)
    }

    /// Evaluate what reads no column once, at compile time (a bad literal cast or a division
    /// by zero in constants is an error here, before any data moves).
    fn fold(&self, e: Expr) -> R<Expr> {
        if matches!(e.kind, Kind::Literal(_) | Kind::Case { .. }) {
            return Ok(e);
        }
        let mut cols = Vec::new();
        e.columns(&mut cols);
        if !cols.is_empty() {
            return Ok(e);
        }
        let batch = RecordBatch::try_new_with_options(
            Arc::new(Schema::empty()),
            vec![],
            &RecordBatchOptions::new().with_row_count(Some(1)),
        )
        .map_err(|x| (e.span, x.to_string()))?;
        let a = e.evaluate(&batch)?;
        Ok(literal(a, e.span))
    }

    fn coerce(&self, e: Expr, to: &D) -> R<Expr> {
        let span = e.span;
        convert(e, to, true).map_err(|m| (span, m))
    }

    /// Bring several expressions to one type (CASE branches, coalesce, IN lists).
    fn unify(&self, exprs: Vec<Expr>, what: &str) -> R<Vec<Expr>> {
        let mut acc: Option<Shape> = None;
        for e in &exprs {
            let s = shape(e);
            acc = Some(match acc {
                None => s,
                Some(a) => {
                    let ty = common(&a, &s).ok_or_else(|| {
                        (
                            e.span,
                            format!("{what} mix {} and {}", type_name(&a.ty), type_name(&s.ty)),
                        )
                    })?;
                    Shape {
                        ty,
                        str_lit: a.str_lit && s.str_lit,
                        bit_lit: a.bit_lit && s.bit_lit,
                    }
                }
            });
        }
        let mut ty = acc.map(|a| a.ty).unwrap_or(D::Null);
        if ty == D::Null {
            ty = D::Utf8; // all NULL: text, as PostgreSQL resolves unknown
        }
        exprs.into_iter().map(|e| self.coerce(e, &ty)).collect()
    }

    fn boolean(&self, e: Expr, what: &str) -> R<Expr> {
        match e.ty {
            D::Boolean => Ok(e),
            D::Null => self.coerce(e, &D::Boolean),
            _ => Err((
                e.span,
                format!("{what} must be a boolean, not {}", type_name(&e.ty)),
            )),
        }
    }

    fn text(&self, e: Expr, what: &str) -> R<Expr> {
        match e.ty {
            D::Utf8 => Ok(e),
            D::Null => self.coerce(e, &D::Utf8),
            _ => Err((
                e.span,
                format!(
                    "{what} needs text, not {}; cast it with ::text",
                    type_name(&e.ty)
                ),
            )),
        }
    }

    /// Any value as text (concat, ||), as PostgreSQL does for non-array values.
    fn as_text(&self, e: Expr) -> R<Expr> {
        match e.ty {
            D::Utf8 => Ok(e),
            D::Null => self.coerce(e, &D::Utf8),
            D::List(_) => Err((e.span, "cannot concatenate an array".into())),
            _ if !super::text::handles(&e.ty) && !castable(&e.ty, &D::Utf8) => Err((
                e.span,
                format!("{} values have no text form", type_name(&e.ty)),
            )),
            _ => Ok(Expr {
                span: e.span,
                kind: Kind::Text(Box::new(e)),
                ty: D::Utf8,
            }),
        }
    }

    fn integer(&self, e: Expr, what: &str) -> R<Expr> {
        if is_int(&e.ty) || e.ty == D::Null {
            self.coerce(e, &D::Int64)
        } else {
            Err((
                e.span,
                format!("{what} must be an integer, not {}", type_name(&e.ty)),
            ))
        }
    }

    fn column(&self, name: &str, span: Span) -> R<Expr> {
        let cols = self.scope.columns;
        let found = cols.iter().position(|(n, _)| n == name).or_else(|| {
            let mut m = cols
                .iter()
                .enumerate()
                .filter(|(_, (n, _))| n.eq_ignore_ascii_case(name));
            match (m.next(), m.next()) {
                (Some((i, _)), None) => Some(i),
                _ => None,
            }
        });
        if let Some(i) = found {
            return Ok(Expr {
                kind: Kind::Column {
                    index: i,
                    name: cols[i].0.clone(),
                },
                ty: cols[i].1.clone(),
                span,
            });
        }
        match name.to_ascii_lowercase().as_str() {
            "current_timestamp" => return Ok(self.now(span)),
            "current_date" => return self.today(span),
            _ => {}
        }
        Err((
            span,
            format!(
                "no column `{name}` in the source table (it has: {})",
                cols.iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }

    fn now(&self, span: Span) -> Expr {
        literal(
            Arc::new(
                TimestampMicrosecondArray::from(vec![self.scope.now_micros]).with_timezone("UTC"),
            ),
            span,
        )
    }

    fn today(&self, span: Span) -> R<Expr> {
        let days = self.scope.now_micros.div_euclid(86_400_000_000);
        Ok(literal(
            Arc::new(Date32Array::from(vec![days as i32])),
            span,
        ))
    }

    fn cmp(&self, op: BinOp, l: Expr, r: Expr, span: Span) -> R<Expr> {
        let ty = common(&shape(&l), &shape(&r)).ok_or_else(|| {
            (
                span,
                format!(
                    "cannot compare {} with {}; cast one side",
                    type_name(&l.ty),
                    type_name(&r.ty)
                ),
            )
        })?;
        let ty = if ty == D::Null { D::Utf8 } else { ty };
        if let Err(m) = eval::check_comparable(&ty) {
            return Err((span, m));
        }
        let (l, r) = (self.coerce(l, &ty)?, self.coerce(r, &ty)?);
        Ok(Expr {
            kind: Kind::Cmp(op, Box::new(l), Box::new(r)),
            ty: D::Boolean,
            span,
        })
    }

    fn arith(&self, op: BinOp, l: Expr, r: Expr, span: Span) -> R<Expr> {
        for side in [&l, &r] {
            if !is_numeric(&side.ty) && side.ty != D::Null {
                return Err((
                    side.span,
                    format!(
                        "`{}` needs numbers, not {}",
                        op.symbol(),
                        type_name(&side.ty)
                    ),
                ));
            }
        }
        // Decimals keep their own scales (Arrow aligns them, and a product's scale is the sum,
        // as in PostgreSQL); integers join them as scale 0.
        let (lt, rt) = operand_types(&l.ty, &r.ty);
        if op == BinOp::Div && matches!(lt, D::Decimal128(..) | D::Decimal256(..)) {
            return self.decimal_div(l, r, lt, rt, span);
        }
        let out = eval::arith_type(op, &lt, &rt).map_err(|m| (span, m))?;
        let (l, r) = (self.coerce(l, &lt)?, self.coerce(r, &rt)?);
        Ok(Expr {
            kind: Kind::Arith(op, Box::new(l), Box::new(r)),
            ty: out,
            span,
        })
    }

    /// Decimal division with at least 16 decimal places (more if an operand has more),
    /// rounded like PostgreSQL rounds, where Arrow alone would keep 4 more than the dividend's
    /// and truncate.
    fn decimal_div(&self, l: Expr, r: Expr, lt: D, rt: D, span: Span) -> R<Expr> {
        let ((p1, s1), (p2, s2)) = (decimal_shape(&lt), decimal_shape(&rt));
        let (p1, s1, s2) = (p1 as i16, s1.max(0) as i16, s2.max(0) as i16);
        let whole = p1 - s1;
        let mut scale = 16.max(s1).max(s2);
        // Arrow's quotient has the dividend's scale + 4: ask for one digit more than wanted.
        let mut dividend_scale = (scale + 1 - 4).max(s1);
        let mut width = whole + dividend_scale + 4 + s2;
        if width > 76 {
            dividend_scale = (76 - whole - 4 - s2).max(s1);
            scale = scale.min(dividend_scale + 3);
            width = whole + dividend_scale + 4 + s2;
        }
        if width > 76 || scale < 0 {
            return Err((span, "numbers too wide to divide exactly".into()));
        }
        let wide = width > 38;
        let dec = |p: i16, s: i16| {
            if wide {
                D::Decimal256(p as u8, s as i8)
            } else {
                D::Decimal128(p as u8, s as i8)
            }
        };
        let lt = dec((whole + dividend_scale).max(1), dividend_scale);
        let rt = dec(p2 as i16, s2);
        let raw = eval::arith_type(BinOp::Div, &lt, &rt).map_err(|m| (span, m))?;
        let (l, r) = (self.coerce(l, &lt)?, self.coerce(r, &rt)?);
        let quotient = Expr {
            kind: Kind::Arith(BinOp::Div, Box::new(l), Box::new(r)),
            ty: raw.clone(),
            span,
        };
        let (rp, _) = decimal_shape(&raw);
        Ok(Expr {
            kind: Kind::Cast {
                expr: Box::new(quotient),
                implicit: true,
                ty: None,
            },
            ty: dec(rp as i16, scale),
            span,
        })
    }

    fn node(&self, ast: &Ast) -> R<Expr> {
        let span = ast.span;
        let arr = |a: ArrayRef| Ok(literal(a, span));
        match &ast.kind {
            AstKind::Column(name) => self.column(name, span),
            AstKind::Null => arr(new_null_array(&D::Null, 1)),
            AstKind::Bool(b) => arr(Arc::new(BooleanArray::from(vec![*b]))),
            AstKind::Int(i) => arr(Arc::new(Int64Array::from(vec![*i]))),
            AstKind::Float(f) => arr(Arc::new(Float64Array::from(vec![*f]))),
            AstKind::Decimal(d) => decimal_literal(d)
                .map_err(|m| (span, m))
                .map(|a| literal(a, span)),
            AstKind::Str(s) => arr(Arc::new(StringArray::from(vec![s.as_str()]))),
            AstKind::Neg(e) => {
                let e = self.expr(e)?;
                let zero = literal(Arc::new(Int64Array::from(vec![0])), span);
                if !is_numeric(&e.ty) && e.ty != D::Null {
                    return Err((
                        e.span,
                        format!("`-` needs a number, not {}", type_name(&e.ty)),
                    ));
                }
                // -x as 0 - x: one code path, and the same overflow check.
                self.arith(BinOp::Sub, zero, e, span)
            }
            AstKind::Not(e) => {
                let e = self.boolean(self.expr(e)?, "NOT's operand")?;
                Ok(Expr {
                    kind: Kind::Not(Box::new(e)),
                    ty: D::Boolean,
                    span,
                })
            }
            AstKind::Binary(op, l, r) => {
                let (l, r) = (self.expr(l)?, self.expr(r)?);
                match op {
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
                        self.arith(*op, l, r, span)
                    }
                    BinOp::Concat => Ok(Expr {
                        kind: Kind::Func(Func::ConcatOp, vec![self.as_text(l)?, self.as_text(r)?]),
                        ty: D::Utf8,
                        span,
                    }),
                    BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                        self.cmp(*op, l, r, span)
                    }
                    BinOp::And | BinOp::Or => {
                        let l = self.boolean(l, &format!("{}'s left side", op.symbol()))?;
                        let r = self.boolean(r, &format!("{}'s right side", op.symbol()))?;
                        let (l, r) = (Box::new(l), Box::new(r));
                        Ok(Expr {
                            kind: if *op == BinOp::And {
                                Kind::And(l, r)
                            } else {
                                Kind::Or(l, r)
                            },
                            ty: D::Boolean,
                            span,
                        })
                    }
                }
            }
            AstKind::IsNull { expr, negated } => Ok(Expr {
                kind: Kind::IsNull {
                    expr: Box::new(self.expr(expr)?),
                    negated: *negated,
                },
                ty: D::Boolean,
                span,
            }),
            AstKind::In {
                expr,
                list,
                negated,
            } => {
                let x = self.expr(expr)?;
                let mut any: Option<Expr> = None;
                for item in list {
                    let item = self.expr(item)?;
                    // Errors point at the item that does not fit.
                    let s = item.span;
                    let eq = self.cmp(BinOp::Eq, x.clone(), item, s)?;
                    any = Some(match any {
                        None => eq,
                        Some(a) => Expr {
                            kind: Kind::Or(Box::new(a), Box::new(eq)),
                            ty: D::Boolean,
                            span: s,
                        },
                    });
                }
                let mut any = any.expect("the parser requires one item");
                any.span = span;
                Ok(self.negate(any, *negated, span))
            }
            AstKind::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let x = self.expr(expr)?;
                let lo = self.cmp(BinOp::Ge, x.clone(), self.expr(low)?, low.span)?;
                let hi = self.cmp(BinOp::Le, x, self.expr(high)?, high.span)?;
                let both = Expr {
                    kind: Kind::And(Box::new(lo), Box::new(hi)),
                    ty: D::Boolean,
                    span,
                };
                Ok(self.negate(both, *negated, span))
            }
            AstKind::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => Ok(Expr {
                kind: Kind::Like {
                    expr: Box::new(self.text(self.expr(expr)?, "LIKE")?),
                    pattern: Box::new(self.text(self.expr(pattern)?, "a LIKE pattern")?),
                    negated: *negated,
                    case_insensitive: *case_insensitive,
                },
                ty: D::Boolean,
                span,
            }),
            AstKind::Call { name, args } => self.call(name, args, span),
            AstKind::Case {
                operand,
                whens,
                otherwise,
            } => {
                let operand = operand.as_ref().map(|o| self.expr(o)).transpose()?;
                let mut conds = Vec::new();
                let mut values = Vec::new();
                for (w, v) in whens {
                    let w = self.expr(w)?;
                    conds.push(match &operand {
                        Some(x) => {
                            let at = w.span;
                            self.cmp(BinOp::Eq, x.clone(), w, at)?
                        }
                        None => self.boolean(w, "a WHEN condition")?,
                    });
                    values.push(self.expr(v)?);
                }
                values.push(match otherwise {
                    Some(e) => self.expr(e)?,
                    None => literal(new_null_array(&D::Null, 1), (span.1, span.1)),
                });
                let mut values = self.unify(values, "CASE branches")?;
                let otherwise = values.pop().expect("pushed above");
                let ty = otherwise.ty.clone();
                Ok(Expr {
                    kind: Kind::Case {
                        whens: conds.into_iter().zip(values).collect(),
                        otherwise: Box::new(otherwise),
                    },
                    ty,
                    span,
                })
            }
            AstKind::Cast { expr, to } => {
                let e = self.expr(expr)?;
                let target = arrow_type_for(to, &e.ty).ok_or_else(|| {
                    let why = match to {
                        Logical::Decimal(Some(_)) => {
                            "barge's numerics hold at most 76 digits, and the scale cannot exceed the precision"
                        }
                        _ => "it needs a precision and scale here, e.g. numeric(20,6)",
                    };
                    (
                        span,
                        format!("cannot cast {} to {}: {why}", type_name(&e.ty), to.name()),
                    )
                })?;
                let modifier = matches!(
                    to,
                    Logical::Text(Some(_))
                        | Logical::Timestamp(0..=5)
                        | Logical::TimestampUtc(0..=5)
                        | Logical::Duration(0..=5)
                );
                if e.ty == target && !modifier {
                    return Ok(e);
                }
                if e.ty != D::Null
                    && !castable(&e.ty, &target)
                    && !(target == D::Utf8 && super::text::handles(&e.ty))
                {
                    return Err((
                        span,
                        format!("cannot cast {} to {}", type_name(&e.ty), to.name()),
                    ));
                }
                // A literal is cast once, when folded.
                Ok(Expr {
                    kind: Kind::Cast {
                        expr: Box::new(e),
                        implicit: false,
                        ty: Some(to.clone()),
                    },
                    ty: target,
                    span,
                })
            }
        }
    }

    fn negate(&self, e: Expr, negated: bool, span: Span) -> Expr {
        if !negated {
            return e;
        }
        Expr {
            kind: Kind::Not(Box::new(e)),
            ty: D::Boolean,
            span,
        }
    }

    fn call(&self, name: &str, args: &[Ast], span: Span) -> R<Expr> {
        let arity = |lo: usize, hi: usize| -> R<()> {
            if args.len() < lo || args.len() > hi {
                let want = match (lo, hi) {
                    (l, h) if l == h => format!("{l} argument{}", if l == 1 { "" } else { "s" }),
                    (l, usize::MAX) => {
                        format!("at least {l} argument{}", if l == 1 { "" } else { "s" })
                    }
                    (l, h) => format!("{l} to {h} arguments"),
                };
                return Err((span, format!("{name}() takes {want}, got {}", args.len())));
            }
            Ok(())
        };
        let args_of = || args.iter().map(|a| self.expr(a)).collect::<R<Vec<_>>>();
        let func = |f: Func, args: Vec<Expr>, ty: D| {
            Ok(Expr {
                kind: Kind::Func(f, args),
                ty,
                span,
            })
        };
        match name {
            "concat" => {
                arity(1, usize::MAX)?;
                let a = args_of()?
                    .into_iter()
                    .map(|e| self.as_text(e))
                    .collect::<R<_>>()?;
                func(Func::Concat, a, D::Utf8)
            }
            "lower" | "upper" | "trim" | "btrim" | "ltrim" | "rtrim" => {
                arity(1, 1)?;
                let f = match name {
                    "lower" => Func::Lower,
                    "upper" => Func::Upper,
                    "ltrim" => Func::Ltrim,
                    "rtrim" => Func::Rtrim,
                    _ => Func::Trim,
                };
                let a = self.text(self.expr(&args[0])?, &format!("{name}()"))?;
                func(f, vec![a], D::Utf8)
            }
            "substring" | "substr" => {
                arity(2, 3)?;
                let mut a = args_of()?.into_iter();
                let mut v = vec![self.text(a.next().expect("arity"), "substring()")?];
                for (e, what) in a.zip(["substring()'s start", "substring()'s length"]) {
                    v.push(self.integer(e, what)?);
                }
                func(Func::Substring, v, D::Utf8)
            }
            "replace" => {
                arity(3, 3)?;
                let a = args_of()?
                    .into_iter()
                    .map(|e| self.text(e, "replace()"))
                    .collect::<R<_>>()?;
                func(Func::Replace, a, D::Utf8)
            }
            "length" | "char_length" | "character_length" | "octet_length" => {
                arity(1, 1)?;
                let a = self.expr(&args[0])?;
                let a = match a.ty {
                    D::Binary => a,
                    _ => self.text(a, &format!("{name}()"))?,
                };
                let f = if name == "octet_length" {
                    Func::OctetLength
                } else {
                    Func::Length
                };
                func(f, vec![a], D::Int32)
            }
            "coalesce" => {
                arity(1, usize::MAX)?;
                let a = self.unify(args_of()?, "coalesce() arguments")?;
                let ty = a[0].ty.clone();
                Ok(Expr {
                    kind: Kind::Coalesce(a),
                    ty,
                    span,
                })
            }
            "nullif" => {
                arity(2, 2)?;
                let mut a = self.unify(args_of()?, "nullif() arguments")?;
                if let Err(m) = eval::check_comparable(&a[0].ty) {
                    return Err((span, m));
                }
                let b = a.pop().expect("two");
                let a = a.pop().expect("two");
                let ty = a.ty.clone();
                Ok(Expr {
                    kind: Kind::NullIf(Box::new(a), Box::new(b)),
                    ty,
                    span,
                })
            }
            "now" | "current_timestamp" => {
                arity(0, 0)?;
                Ok(self.now(span))
            }
            "current_date" => {
                arity(0, 0)?;
                self.today(span)
            }
            _ => Err((
                span,
                format!("unknown function `{name}` (barge has: {FUNCTIONS})"),
            )),
        }
    }
}

/// A constant: the one value of `a` (a job file's constant, `Literal::array(1)`).
pub fn constant_expr(a: ArrayRef) -> Expr {
    literal(a, (0, 0))
}

/// Give an expression's values type `to` (an explicit conversion, e.g. an added column's
/// declared type): literals now, columns per batch.
pub fn cast_expr(e: Expr, to: &D) -> Result<Expr, String> {
    convert(e, to, false)
}

/// A literal is converted at once (a value that does not convert is an error here); any
/// other expression gets a cast node, if such a cast exists.
fn convert(e: Expr, to: &D, implicit: bool) -> Result<Expr, String> {
    if &e.ty == to {
        return Ok(e);
    }
    if let Kind::Literal(a) = &e.kind {
        let a = if a.is_null(0) {
            new_null_array(to, 1)
        } else {
            cast_to(a, to).map_err(|m| {
                format!(
                    "cannot read this {} as {}: {m}",
                    type_name(&e.ty),
                    type_name(to)
                )
            })?
        };
        return Ok(literal(a, e.span));
    }
    if !castable(&e.ty, to) {
        return Err(format!(
            "cannot convert {} values to {}",
            type_name(&e.ty),
            type_name(to)
        ));
    }
    Ok(Expr {
        span: e.span,
        kind: Kind::Cast {
            expr: Box::new(e),
            implicit,
            ty: None,
        },
        ty: to.clone(),
    })
}
