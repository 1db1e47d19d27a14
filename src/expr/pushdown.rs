//! Filter pushdown: the parts of a filter MySQL can run with the same meaning become the
//! source query's WHERE, so rows that would be dropped are never sent.
//!
//! The meaning must match barge's exactly, and MySQL differs in places: text comparisons
//! follow the column's collation (usually case- and accent-insensitive, trailing spaces
//! ignored), and zero dates, which barge reads as NULL, compare as dates there. So each
//! condition is either
//! - **exact**: MySQL keeps the same rows (numbers, booleans, NULL tests on them), and barge
//!   need not check it again, or
//! - **superset**: MySQL keeps at least those rows (text `=`, `IN` and `LIKE`; date
//!   comparisons), so it is pushed to cut the traffic and barge checks it again, or
//! - not pushed (functions, explicit casts, everything else): barge alone evaluates it.

use super::parse::BinOp;
use super::{Expr, Kind};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, TimestampMicrosecondType};
use arrow_array::Array;
use arrow_schema::DataType as D;

/// How MySQL's view of a source column's values relates to barge's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnClass {
    /// Numbers, booleans, bytes: the same values, compared the same way.
    Exact,
    /// Text under a collation.
    Text,
    /// DATE/DATETIME/TIMESTAMP, where zero dates are NULL in barge only.
    Temporal,
    /// Everything else (JSON, SET, TIME, bits): never pushed.
    Opaque,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    Exact(String),
    Superset(String),
    No,
}

/// The conditions of a top-level AND chain.
pub fn conjuncts(e: &Expr) -> Vec<&Expr> {
    match &e.kind {
        Kind::And(a, b) => {
            let mut v = conjuncts(a);
            v.extend(conjuncts(b));
            v
        }
        _ => vec![e],
    }
}

/// Translate a condition for MySQL. `class` gives each batch column's class.
pub fn to_mysql(e: &Expr, class: &dyn Fn(usize) -> ColumnClass) -> Push {
    Translator { class }.predicate(e)
}

struct Translator<'a> {
    class: &'a dyn Fn(usize) -> ColumnClass,
}

fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A MySQL string literal that means the same with or without NO_BACKSLASH_ESCAPES.
fn quote_text(s: &str) -> Option<String> {
    if s.contains('\\') {
        return None;
    }
    Some(format!("'{}'", s.replace('\'', "''")))
}

impl Translator<'_> {
    /// A value, with the class that says how it compares.
    fn value(&self, e: &Expr) -> Option<(String, ColumnClass)> {
        match &e.kind {
            Kind::Column { index, name } => {
                let c = (self.class)(*index);
                (c != ColumnClass::Opaque).then(|| (quote_ident(name), c))
            }
            Kind::Literal(a) => literal(a.as_ref()).map(|s| {
                let class = if matches!(a.data_type(), D::Utf8) {
                    ColumnClass::Text
                } else if matches!(a.data_type(), D::Date32 | D::Timestamp(..)) {
                    ColumnClass::Temporal
                } else {
                    ColumnClass::Exact
                };
                (s, class)
            }),
            // The checker's widenings (int → bigint/numeric/double, date → timestamp) compare
            // the same in MySQL.
            Kind::Cast {
                expr,
                implicit: true,
                ..
            } if widening(&expr.ty, &e.ty) => self.value(expr),
            // No arithmetic: MySQL's unsigned columns raise errors where barge's do not.
            _ => None,
        }
    }

    fn predicate(&self, e: &Expr) -> Push {
        use ColumnClass::*;
        match &e.kind {
            Kind::Literal(a) if a.is_valid(0) && a.data_type() == &D::Boolean => Push::Exact(
                if a.as_boolean().value(0) {
                    "TRUE"
                } else {
                    "FALSE"
                }
                .into(),
            ),
            Kind::Column { .. } if e.ty == D::Boolean => match self.value(e) {
                Some((s, Exact)) => Push::Exact(format!("({s} <> 0)")),
                _ => Push::No,
            },
            Kind::Cmp(op, l, r) => {
                let (Some((a, ca)), Some((b, cb))) = (self.value(l), self.value(r)) else {
                    return Push::No;
                };
                // Parenthesised: with HIGH_NOT_PRECEDENCE, `NOT a > 5` means `(NOT a) > 5`.
                let sql = format!("({a} {} {b})", op.symbol());
                match (ca, cb) {
                    (Exact, Exact) => Push::Exact(sql),
                    (Text, Text) if *op == BinOp::Eq => Push::Superset(sql),
                    (Temporal, Temporal) => Push::Superset(sql),
                    _ => Push::No,
                }
            }
            Kind::IsNull { expr, negated } => match (self.value(expr), negated) {
                (Some((s, Exact | Text)), _) => Push::Exact(format!(
                    "({s} IS {}NULL)",
                    if *negated { "NOT " } else { "" }
                )),
                // MySQL also matches zero dates with IS NULL on NOT NULL columns, but a zero
                // date is never NULL to IS NOT NULL there: more rows, never fewer.
                (Some((s, Temporal)), true) => Push::Superset(format!("({s} IS NOT NULL)")),
                _ => Push::No,
            },
            Kind::Like {
                expr,
                pattern,
                negated: false,
                case_insensitive: false,
            } => match (self.value(expr), &pattern.kind) {
                // Only a literal pattern: its backslashes were refused, so escapes mean the
                // same whatever NO_BACKSLASH_ESCAPES says.
                (Some((a, Text)), Kind::Literal(_)) => match self.value(pattern) {
                    Some((b, Text)) => Push::Superset(format!("({a} LIKE {b})")),
                    _ => Push::No,
                },
                _ => Push::No,
            },
            Kind::And(a, b) => match (self.predicate(a), self.predicate(b)) {
                (Push::Exact(x), Push::Exact(y)) => Push::Exact(format!("({x} AND {y})")),
                (Push::No, Push::No) => Push::No,
                (Push::Exact(x) | Push::Superset(x), Push::No)
                | (Push::No, Push::Exact(x) | Push::Superset(x)) => Push::Superset(x),
                (Push::Exact(x) | Push::Superset(x), Push::Exact(y) | Push::Superset(y)) => {
                    Push::Superset(format!("({x} AND {y})"))
                }
            },
            Kind::Or(a, b) => match (self.predicate(a), self.predicate(b)) {
                (Push::Exact(x), Push::Exact(y)) => Push::Exact(format!("({x} OR {y})")),
                (Push::Exact(x) | Push::Superset(x), Push::Exact(y) | Push::Superset(y)) => {
                    Push::Superset(format!("({x} OR {y})"))
                }
                _ => Push::No,
            },
            Kind::Not(x) => match self.predicate(x) {
                Push::Exact(s) => Push::Exact(format!("(NOT {s})")),
                _ => Push::No,
            },
            _ => Push::No,
        }
    }
}

fn widening(from: &D, to: &D) -> bool {
    let numeric = |t: &D| t.is_numeric();
    (numeric(from) && numeric(to))
        || matches!(
            (from, to),
            (D::Date32, D::Timestamp(..)) | (D::Timestamp(..), D::Timestamp(..))
        )
}

/// A literal in MySQL syntax, or None when there is no faithful spelling.
fn literal(a: &dyn Array) -> Option<String> {
    if a.is_null(0) {
        return Some("NULL".into());
    }
    let t = a.data_type();
    Some(match t {
        D::Utf8 => quote_text(a.as_string::<i32>().value(0))?,
        D::Boolean => if a.as_boolean().value(0) {
            "TRUE"
        } else {
            "FALSE"
        }
        .into(),
        D::Date32 => {
            let d = arrow_array::temporal_conversions::as_date::<Date32Type>(
                a.as_primitive::<Date32Type>().value(0) as i64,
            )?;
            format!("'{}'", d.format("%Y-%m-%d"))
        }
        D::Timestamp(arrow_schema::TimeUnit::Microsecond, _) => {
            let ts = arrow_array::temporal_conversions::as_datetime::<TimestampMicrosecondType>(
                a.as_primitive::<TimestampMicrosecondType>().value(0),
            )?;
            format!("'{}'", ts.format("%Y-%m-%d %H:%M:%S%.6f"))
        }
        D::Float32 | D::Float64 => {
            let v = match t {
                D::Float32 => a.as_primitive::<arrow_array::types::Float32Type>().value(0) as f64,
                _ => a.as_primitive::<arrow_array::types::Float64Type>().value(0),
            };
            if !v.is_finite() {
                return None;
            }
            format!("{v:e}")
        }
        // MySQL reads a literal of more than 65 digits as a double.
        D::Decimal256(p, _) if *p > 65 => return None,
        t if t.is_integer() || matches!(t, D::Decimal128(..) | D::Decimal256(..)) => {
            arrow_cast::display::ArrayFormatter::try_new(a, &Default::default())
                .ok()?
                .value(0)
                .to_string()
        }
        _ => return None,
    })
}
