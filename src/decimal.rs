//! Exact decimal text → scaled integers, never through a float: the text MySQL sends for
//! DECIMAL, and PostgreSQL's binary numeric once written out as digits, both become Arrow
//! decimals this way.

use arrow_buffer::i256;

/// Exact decimal text → scaled integer, never through a float.
pub trait DecimalAcc: Copy {
    const ZERO: Self;
    fn mul_add(self, d: u8) -> Option<Self>;
    fn neg(self) -> Self;
}

impl DecimalAcc for i128 {
    const ZERO: Self = 0;
    fn mul_add(self, d: u8) -> Option<Self> {
        self.checked_mul(10)?.checked_add(d as i128)
    }
    fn neg(self) -> Self {
        -self
    }
}

impl DecimalAcc for i256 {
    const ZERO: Self = i256::ZERO;
    fn mul_add(self, d: u8) -> Option<Self> {
        self.checked_mul(i256::from_i128(10))?
            .checked_add(i256::from_i128(d as i128))
    }
    fn neg(self) -> Self {
        self.wrapping_neg()
    }
}

pub fn parse_decimal<T: DecimalAcc>(s: &[u8], scale: u8) -> Option<T> {
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v = T::ZERO;
    let mut frac: u8 = 0;
    let mut seen_dot = false;
    let mut any = false;
    for &c in digits {
        if c == b'.' {
            if seen_dot {
                return None;
            }
            seen_dot = true;
            continue;
        }
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        any = true;
        if seen_dot {
            if frac == scale {
                // More fraction digits than the scale: only zeros may be dropped.
                if d != 0 {
                    return None;
                }
                continue;
            }
            frac += 1;
        }
        v = v.mul_add(d)?;
    }
    if !any {
        return None;
    }
    while frac < scale {
        v = v.mul_add(0)?;
        frac += 1;
    }
    Some(if neg { v.neg() } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(parse_decimal::<i128>(b"-123.45", 2), Some(-12345));
        assert_eq!(parse_decimal::<i128>(b"1.5", 3), Some(1500));
        assert_eq!(parse_decimal::<i128>(b"7", 0), Some(7));
        assert_eq!(parse_decimal::<i128>(b"1.25", 1), None);
        assert_eq!(parse_decimal::<i128>(b"abc", 0), None);
        let big = b"99999999999999999999999999999999999.999999999999999999999999999999";
        let v = parse_decimal::<i256>(big, 30).unwrap();
        assert_eq!(v.to_string(), "9".repeat(65));
    }
}
