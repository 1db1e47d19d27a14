//! Values as text the way PostgreSQL prints them, so `x::text` and `concat(…)` give what the
//! same expression gives in PostgreSQL: shortest round-trip floats with its exponent rule,
//! timestamps with trailing zeros of the fraction dropped, `\x` hex for bytes, `t`/`f` for
//! booleans in concatenation.

use crate::temporal::{civil_from_days, MICROS_PER_DAY};
use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, DurationMicrosecondType, Float32Type, Float64Type, TimestampMicrosecondType,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType as D, TimeUnit};
use std::fmt::Write;
use std::sync::Arc;

/// Whether barge writes this type's text itself (else Arrow's cast does).
pub fn handles(t: &D) -> bool {
    matches!(
        t,
        D::Boolean
            | D::Float32
            | D::Float64
            | D::Binary
            | D::Date32
            | D::Timestamp(TimeUnit::Microsecond, _)
            | D::Duration(TimeUnit::Microsecond)
    )
}

/// `output`: as PostgreSQL's output function (what `concat` and `||` use: `t`/`f`), else as
/// a cast to text (`true`/`false`).
pub fn to_text(a: &ArrayRef, output: bool) -> ArrayRef {
    let mut b = StringBuilder::with_capacity(a.len(), a.len() * 12);
    let mut put = |valid: bool, f: &mut dyn FnMut(&mut StringBuilder)| {
        if valid {
            f(&mut b);
            b.append_value("");
        } else {
            b.append_null();
        }
    };
    let w = |b: &mut StringBuilder, s: &str| b.write_str(s).expect("infallible");
    match a.data_type() {
        D::Boolean => {
            let x = a.as_boolean();
            for i in 0..a.len() {
                put(x.is_valid(i), &mut |b| {
                    w(
                        b,
                        match (x.value(i), output) {
                            (true, true) => "t",
                            (false, true) => "f",
                            (true, false) => "true",
                            (false, false) => "false",
                        },
                    )
                });
            }
        }
        D::Float64 => {
            let x = a.as_primitive::<Float64Type>();
            for i in 0..a.len() {
                put(x.is_valid(i), &mut |b| float(b, x.value(i), 15));
            }
        }
        D::Float32 => {
            let x = a.as_primitive::<Float32Type>();
            for i in 0..a.len() {
                put(x.is_valid(i), &mut |b| float(b, x.value(i) as f64, 6));
            }
        }
        D::Binary => {
            let x = a.as_binary::<i32>();
            for i in 0..a.len() {
                put(x.is_valid(i), &mut |b| {
                    w(b, "\\x");
                    for byte in x.value(i) {
                        write!(b, "{byte:02x}").expect("infallible");
                    }
                });
            }
        }
        D::Date32 => {
            let x = a.as_primitive::<Date32Type>();
            for i in 0..a.len() {
                put(x.is_valid(i), &mut |b| date(b, x.value(i) as i64));
            }
        }
        D::Timestamp(_, zone) => {
            let x = a.as_primitive::<TimestampMicrosecondType>();
            for i in 0..a.len() {
                put(x.is_valid(i), &mut |b| {
                    let v = x.value(i);
                    date(b, v.div_euclid(MICROS_PER_DAY));
                    w(b, " ");
                    hms(b, v.rem_euclid(MICROS_PER_DAY));
                    if zone.is_some() {
                        w(b, "+00");
                    }
                });
            }
        }
        D::Duration(_) => {
            let x = a.as_primitive::<DurationMicrosecondType>();
            for i in 0..a.len() {
                put(x.is_valid(i), &mut |b| {
                    let v = x.value(i);
                    if v < 0 {
                        w(b, "-");
                    }
                    hms(b, v.unsigned_abs() as i64);
                });
            }
        }
        _ => unreachable!("handles() said no"),
    }
    Arc::new(b.finish())
}

fn date(b: &mut StringBuilder, days: i64) {
    let (y, m, d) = civil_from_days(days);
    write!(b, "{y:04}-{m:02}-{d:02}").expect("infallible");
}

/// `HH:MM:SS[.ffffff]`, hours past 24 for durations, trailing zeros of the fraction dropped.
fn hms(b: &mut StringBuilder, micros: i64) {
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    write!(
        b,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
    .expect("infallible");
    if frac > 0 {
        let f = format!("{frac:06}");
        write!(b, ".{}", f.trim_end_matches('0')).expect("infallible");
    }
}

/// Shortest round-trip digits; exponent form when the decimal exponent is below -4 or at
/// least `max_exp` (15 for double precision, 6 for real), as PostgreSQL prints them.
fn float(b: &mut StringBuilder, v: f64, max_exp: i32) {
    let w = |b: &mut StringBuilder, s: &str| b.write_str(s).expect("infallible");
    if v.is_nan() {
        return w(b, "NaN");
    }
    if v.is_infinite() {
        return w(b, if v > 0.0 { "Infinity" } else { "-Infinity" });
    }
    let sci = if max_exp == 6 {
        format!("{:e}", v as f32)
    } else {
        format!("{v:e}")
    };
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent");
    if v != 0.0 && (exp < -4 || exp >= max_exp) {
        write!(
            b,
            "{mantissa}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
        .expect("infallible");
    } else if max_exp == 6 {
        write!(b, "{}", v as f32).expect("infallible");
    } else {
        write!(b, "{v}").expect("infallible");
    }
}
