//! Sources: read a table (or a key range of it) as a stream of Arrow record batches.

/// An inclusive range of an integer key, the unit of parallel reading.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyRange {
    pub column: String,
    pub lo: i128,
    pub hi: i128,
}

/// Into how many partitions a table of `rows` rows is read: at most `jobs`, each of at least
/// `min_rows`; `None` (read whole) below twice `min_rows` or for fewer than two.
pub fn parts_for(rows: u64, jobs: usize, min_rows: u64) -> Option<usize> {
    let parts = (rows / min_rows.max(1)).min(jobs as u64) as usize;
    (rows >= 2 * min_rows && parts >= 2).then_some(parts)
}

/// Split `[min, max]` into at most `parts` contiguous inclusive ranges of equal key width.
pub fn split_range(column: &str, min: i128, max: i128, parts: usize) -> Vec<KeyRange> {
    let parts = parts.max(1) as i128;
    let width = max - min + 1;
    let step = (width + parts - 1) / parts;
    let mut out = Vec::new();
    let mut lo = min;
    while lo <= max {
        let hi = (lo + step - 1).min(max);
        out.push(KeyRange {
            column: column.to_string(),
            lo,
            hi,
        });
        lo = hi + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_tables_are_read_whole() {
        assert_eq!(parts_for(99_999, 4, 50_000), None);
        assert_eq!(parts_for(100_000, 4, 50_000), Some(2));
        assert_eq!(parts_for(10_000_000, 4, 50_000), Some(4));
        assert_eq!(parts_for(10_000_000, 1, 50_000), None);
    }

    #[test]
    fn ranges_cover_exactly() {
        for (min, max, parts) in [(1, 250_000, 4), (1, 1, 4), (-5, 5, 3), (0, 7, 8), (0, 2, 8)] {
            let r = split_range("id", min, max, parts);
            assert!(r.len() <= parts);
            assert_eq!(r[0].lo, min);
            assert_eq!(r.last().unwrap().hi, max);
            for w in r.windows(2) {
                assert_eq!(w[0].hi + 1, w[1].lo);
            }
        }
        let u = split_range("id", 0, u64::MAX as i128, 2);
        assert_eq!(u[1].hi, u64::MAX as i128);
    }
}
