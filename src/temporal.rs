//! Calendar arithmetic for dates and times, in days and microseconds since 1970-01-01
//! (Arrow's epoch). MySQL can store dates that do not exist (0000-00-00, 2024-02-00,
//! 2024-02-30); those give `None` so the reader can turn them into NULL (or refuse them) and
//! count them by kind (`DateFault`).

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// 2000-01-01 00:00 in Unix microseconds: PostgreSQL's epoch.
pub const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Microseconds rounded to `digits` fractional digits of a second, half away from zero
/// from `origin`, as PostgreSQL rounds a `timestamp(p)` (from its epoch, `PG_EPOCH_MICROS`)
/// or an `interval(p)` (from 0). ±infinity (i64::MIN / MAX) stay as they are.
pub fn round_micros(v: i64, digits: u32, origin: i64) -> i64 {
    if digits >= 6 || v == i64::MIN || v == i64::MAX {
        return v;
    }
    let unit = 10i64.pow(6 - digits);
    let d = v.saturating_sub(origin);
    let m = (d.unsigned_abs() as i64).saturating_add(unit / 2) / unit * unit;
    origin.saturating_add(if d < 0 { -m } else { m })
}

/// Why a MySQL date has no PostgreSQL value. The report counts each kind apart: a zero date
/// usually means "unknown", a partial one (`1978-00-00`) still carries a year a user may
/// want to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFault {
    /// `0000-00-00` (with any time of day).
    Zero,
    /// A zero month or day in an otherwise given date: `1978-00-00`, `2024-02-00`.
    Partial,
    /// Every part given, but no such date or time: `2024-02-30` (ALLOW_INVALID_DATES),
    /// year 0, a time past 23:59:59.
    Impossible,
}

impl DateFault {
    /// Classify a date that `days_from_civil`/`micros_from_civil` refused.
    pub fn of(y: i32, m: u32, d: u32) -> DateFault {
        match (y, m, d) {
            (0, 0, 0) => DateFault::Zero,
            (_, 0, _) | (_, _, 0) => DateFault::Partial,
            _ => DateFault::Impossible,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            DateFault::Zero => "zero date",
            DateFault::Partial => "partial date (a zero month or day)",
            DateFault::Impossible => "impossible date",
        }
    }
}

/// What the reader does with a date PostgreSQL cannot hold (`--zero-dates`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ZeroDates {
    /// Write NULL and count it by kind in the report (the default).
    #[default]
    Null,
    /// Fail the table, naming the row: for users who cannot accept the loss.
    Error,
}

impl ZeroDates {
    pub fn parse(s: &str) -> Option<ZeroDates> {
        match s {
            "null" => Some(ZeroDates::Null),
            "error" => Some(ZeroDates::Error),
            _ => None,
        }
    }
}

/// Per column: dates written as NULL, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NulledDates {
    pub zero: u64,
    pub partial: u64,
    pub impossible: u64,
}

impl NulledDates {
    pub fn add(&mut self, f: DateFault) {
        match f {
            DateFault::Zero => self.zero += 1,
            DateFault::Partial => self.partial += 1,
            DateFault::Impossible => self.impossible += 1,
        }
    }

    pub fn merge(&mut self, o: &NulledDates) {
        self.zero += o.zero;
        self.partial += o.partial;
        self.impossible += o.impossible;
    }

    pub fn total(&self) -> u64 {
        self.zero + self.partial + self.impossible
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date; `None` for a date that does not
/// exist. Year 0 is refused too: MySQL has no year 0 in its supported range and PostgreSQL
/// would show it as 1 BC.
pub fn days_from_civil(y: i32, m: u32, d: u32) -> Option<i32> {
    if y <= 0 || y > 9999 || m == 0 || m > 12 || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y } as i64;
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) as i32)
}

pub fn micros_from_civil(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> Option<i64> {
    if h > 23 || mi > 59 || s > 59 || us > 999_999 {
        return None;
    }
    let days = days_from_civil(y, mo, d)? as i64;
    Some(
        days * MICROS_PER_DAY
            + ((h as i64 * 60 + mi as i64) * 60 + s as i64) * 1_000_000
            + us as i64,
    )
}

fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |a, c| a * 10 + (c - b'0') as u32))
}

fn fraction_micros(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 6 {
        return None;
    }
    Some(num(b)? * 10u32.pow(6 - b.len() as u32))
}

/// `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` (the text protocol's form) into its parts.
pub fn parse_mysql_datetime(b: &[u8]) -> Option<(i32, u32, u32, u32, u32, u32, u32)> {
    let s = std::str::from_utf8(b).ok()?;
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let y = num(dp.next()?.as_bytes())? as i32;
    let mo = num(dp.next()?.as_bytes())?;
    let d = num(dp.next()?.as_bytes())?;
    let (mut h, mut mi, mut sec, mut us) = (0, 0, 0, 0);
    if let Some(t) = time {
        let (hms, frac) = match t.split_once('.') {
            Some((a, f)) => (a, Some(f)),
            None => (t, None),
        };
        let mut tp = hms.split(':');
        h = num(tp.next()?.as_bytes())?;
        mi = num(tp.next()?.as_bytes())?;
        sec = num(tp.next()?.as_bytes())?;
        if let Some(f) = frac {
            us = fraction_micros(f.as_bytes())?;
        }
    }
    Some((y, mo, d, h, mi, sec, us))
}

/// `[-]HHH:MM:SS[.ffffff]` into signed microseconds.
pub fn parse_mysql_time(b: &[u8]) -> Option<i64> {
    let (neg, rest) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    let s = std::str::from_utf8(rest).ok()?;
    let (hms, frac) = match s.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (s, None),
    };
    let mut p = hms.split(':');
    let h = num(p.next()?.as_bytes())? as i64;
    let m = num(p.next()?.as_bytes())? as i64;
    let sec = num(p.next()?.as_bytes())? as i64;
    let us = match frac {
        Some(f) => fraction_micros(f.as_bytes())? as i64,
        None => 0,
    };
    let v = ((h * 60 + m) * 60 + sec) * 1_000_000 + us;
    Some(if neg { -v } else { v })
}

/// The proleptic Gregorian date of a day number (days since 1970-01-01).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {

    #[test]
    fn rounding_is_half_away_from_zero_from_the_origin() {
        // 1999-12-31 23:59:59.9995 is 500 µs before PostgreSQL's epoch: rounded down.
        assert_eq!(
            round_micros(PG_EPOCH_MICROS - 500, 3, PG_EPOCH_MICROS),
            PG_EPOCH_MICROS - 1000
        );
        assert_eq!(
            round_micros(PG_EPOCH_MICROS + 500, 3, PG_EPOCH_MICROS),
            PG_EPOCH_MICROS + 1000
        );
        assert_eq!(round_micros(-1_500_000, 0, 0), -2_000_000);
        assert_eq!(round_micros(1_499_999, 0, 0), 1_000_000);
        assert_eq!(round_micros(123_456, 6, 0), 123_456);
        for inf in [i64::MIN, i64::MAX] {
            assert_eq!(round_micros(inf, 0, PG_EPOCH_MICROS), inf);
        }
    }

    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 1, 1), Some(10_957));
        assert_eq!(days_from_civil(2024, 2, 29), Some(19_782));
        assert_eq!(days_from_civil(1000, 1, 1), Some(-354_285));
        assert_eq!(days_from_civil(9999, 12, 31), Some(2_932_896));
        assert_eq!(days_from_civil(0, 0, 0), None);
        assert_eq!(days_from_civil(2024, 2, 0), None);
        assert_eq!(days_from_civil(2023, 2, 29), None);
    }

    #[test]
    fn date_faults_by_kind() {
        assert_eq!(DateFault::of(0, 0, 0), DateFault::Zero);
        assert_eq!(DateFault::of(1978, 0, 0), DateFault::Partial);
        assert_eq!(DateFault::of(2024, 2, 0), DateFault::Partial);
        assert_eq!(DateFault::of(2024, 0, 15), DateFault::Partial);
        assert_eq!(DateFault::of(2024, 2, 30), DateFault::Impossible);
        assert_eq!(DateFault::of(0, 1, 1), DateFault::Impossible);
    }

    #[test]
    fn parses_text_forms() {
        assert_eq!(
            parse_mysql_datetime(b"2024-02-29 23:59:59.5"),
            Some((2024, 2, 29, 23, 59, 59, 500_000))
        );
        assert_eq!(parse_mysql_time(b"-838:59:59"), Some(-3_020_399_000_000));
        assert_eq!(parse_mysql_time(b"-00:00:01.000001"), Some(-1_000_001));
    }

    #[test]
    fn civil_from_days_inverts_days_from_civil() {
        for (y, m, d) in [
            (1970, 1, 1),
            (2000, 2, 29),
            (1, 1, 1),
            (9999, 12, 31),
            (1969, 12, 31),
        ] {
            let days = days_from_civil(y, m, d).unwrap() as i64;
            assert_eq!(civil_from_days(days), (y as i64, m, d));
        }
    }
}
