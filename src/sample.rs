//! Development subsets that keep their relationships (`--sample`): pick rows per table (or per
//! root table), then add every parent row that a picked row refers to, along declared and
//! inferred relationships, until nothing is missing. The result loads like any copy and has
//! no orphan the source did not have.
//!
//! Rows are picked by a hash of the seed and the row's key, so the same seed picks the same
//! rows. Everything is read-only on the source: the choice ends up as each table's WHERE
//! condition (the sample's own rows, or a key among the parent keys collected), which the
//! reader and the row count both apply. The parent keys collected are held in memory: this is
//! for subsets to develop on, not for copies of most of a table.

/// How much of each sampled table to pick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SampleSize {
    /// This share of the rows, in percent (0 < p ≤ 100).
    Percent(f64),
    /// At most this many rows.
    Rows(u64),
}

impl SampleSize {
    /// `1%`, `0.5%` or `10000`.
    pub fn parse(s: &str) -> Option<SampleSize> {
        match s.trim().strip_suffix('%') {
            Some(p) => p
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|p| *p > 0.0 && *p <= 100.0)
                .map(SampleSize::Percent),
            None => s
                .trim()
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .map(SampleSize::Rows),
        }
    }
}

impl std::fmt::Display for SampleSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SampleSize::Percent(p) => write!(f, "{p}%"),
            SampleSize::Rows(n) => write!(f, "{n} rows"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub size: SampleSize,
    /// Only these tables are sampled; the others get just the rows the sampled ones need.
    /// Empty: every table is sampled.
    pub roots: Vec<String>,
    pub seed: u64,
}

/// What sampling decided for one table.
#[derive(Debug, Clone, Default)]
pub struct TableSample {
    /// The WHERE condition that selects the table's rows in the subset.
    pub condition: String,
    /// Rows added because a sampled row refers to them (distinct key values).
    pub parents_added: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(SampleSize::parse("1%"), Some(SampleSize::Percent(1.0)));
        assert_eq!(SampleSize::parse("0.5 %"), Some(SampleSize::Percent(0.5)));
        assert_eq!(SampleSize::parse("10000"), Some(SampleSize::Rows(10_000)));
        for bad in ["0", "0%", "101%", "-3", "ten", "1.5"] {
            assert_eq!(SampleSize::parse(bad), None, "{bad}");
        }
    }
}
