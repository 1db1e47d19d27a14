//! Crash points for the resume tests. `BARGE_FAILPOINT=NAME` (or `NAME:N`, the N-th time it
//! is reached) ends the process at that point at once, the way `kill -9` would: no
//! transaction is committed or rolled back by barge, no connection is closed politely. The
//! crash tests aim at the narrow windows a random kill rarely hits: after a partition's
//! rows are sent and before its mark, after the mark and before COMMIT, inside a finish.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static POINT: OnceLock<Option<(String, AtomicU64)>> = OnceLock::new();

/// The status a failpoint exits with (tests tell it from a crash of another kind).
pub const EXIT: i32 = 86;

/// End the process here when `BARGE_FAILPOINT` names this point.
pub fn hit(name: &str) {
    let point = POINT.get_or_init(|| {
        let v = std::env::var("BARGE_FAILPOINT").ok()?;
        let (n, count) = match v.split_once(':') {
            Some((n, c)) => (n.to_string(), c.parse().unwrap_or(1)),
            None => (v, 1),
        };
        Some((n, AtomicU64::new(count)))
    });
    if let Some((p, left)) = point {
        if p == name && left.fetch_sub(1, Ordering::SeqCst) == 1 {
            eprintln!("failpoint {name}: exiting as a crash would");
            std::process::exit(EXIT);
        }
    }
}
