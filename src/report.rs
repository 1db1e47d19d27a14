//! The summary of a run: one row a table, totals, problems. Text for people, JSON for machines.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
    /// Not finished because the run stopped.
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub source: String,
    pub target: String,
    pub status: Status,
    /// `SELECT COUNT(*)` on the source before reading.
    pub source_rows: u64,
    pub rows_read: u64,
    pub rows_written: u64,
    /// Rows read but left out by a filter barge evaluated.
    pub rows_filtered: u64,
    /// Rows read but left out under `--on-error skip-row` (see `row_rejects_file`).
    pub rows_rejected: u64,
    pub row_rejects_file: Option<String>,
    /// Per column: zero dates (`0000-00-00`) written as NULL.
    pub zero_dates_nulled: BTreeMap<String, u64>,
    /// Per column: partial dates (a zero month or day, `1978-00-00`) written as NULL.
    pub partial_dates_nulled: BTreeMap<String, u64>,
    /// Per column: impossible dates (`2024-02-30`, year 0) written as NULL.
    pub impossible_dates_nulled: BTreeMap<String, u64>,
    pub partitions: usize,
    /// Bytes of COPY data sent to the target.
    pub bytes: u64,
    /// Seconds until every partition was in; the rest of `seconds` is the finish (keys,
    /// indexes, putting the table in place).
    pub load_seconds: f64,
    pub seconds: f64,
    pub rows_per_second: f64,
    pub error: Option<String>,
    pub warnings: Vec<String>,
    /// What barge changed or added on the way (renamed indexes, triggers), not problems.
    pub notes: Vec<String>,
    /// Per remapped key column: rows whose parent key did not exist, loaded with NULL.
    pub orphans_nulled: BTreeMap<String, u64>,
    /// Per remapped key column: such rows left out (written to `rejects_file`).
    pub orphans_skipped: BTreeMap<String, u64>,
    /// Where skipped orphans were written.
    pub rejects_file: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub source: String,
    pub target: String,
    /// The PostgreSQL schema or the MySQL database the tables went to.
    pub schema: String,
    /// The same, for people: `schema NAME` or `database NAME`.
    pub destination: String,
    pub mode: String,
    pub tables: Vec<TableReport>,
    /// Problems outside any single table (e.g. a foreign key that could not be created).
    pub errors: Vec<String>,
    pub rows_read: u64,
    pub rows_written: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    /// `--plan-only`: the run recorded in the target's ledger, for workers to load.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planned: Option<String>,
}

impl TableReport {
    /// The longer of the table's two phases: the load (reading and COPY, all partitions) or
    /// the finish (keys, indexes, putting it in place).
    pub fn slowest_phase(&self) -> String {
        if self.seconds <= 0.0 {
            return "-".into();
        }
        let finish = (self.seconds - self.load_seconds).max(0.0);
        if finish > self.load_seconds {
            format!("finish {finish:.2}s")
        } else {
            format!("load {:.2}s", self.load_seconds)
        }
    }

    /// A table that failed before any of its rows moved.
    pub fn failed(source: &str, error: String) -> TableReport {
        TableReport {
            error: Some(error),
            ..TableReport::empty(source, source, Status::Failed)
        }
    }

    /// A table's line before (or without) any rows moving.
    pub fn empty(source: &str, target: &str, status: Status) -> TableReport {
        TableReport {
            source: source.to_string(),
            target: target.to_string(),
            status,
            source_rows: 0,
            rows_read: 0,
            rows_written: 0,
            rows_filtered: 0,
            rows_rejected: 0,
            row_rejects_file: None,
            zero_dates_nulled: Default::default(),
            partial_dates_nulled: Default::default(),
            impossible_dates_nulled: Default::default(),
            partitions: 0,
            bytes: 0,
            load_seconds: 0.0,
            seconds: 0.0,
            rows_per_second: 0.0,
            error: None,
            warnings: vec![],
            notes: vec![],
            orphans_nulled: Default::default(),
            orphans_skipped: Default::default(),
            rejects_file: None,
        }
    }

    /// Dates of every kind written as NULL.
    pub fn dates_nulled(&self) -> u64 {
        [
            &self.zero_dates_nulled,
            &self.partial_dates_nulled,
            &self.impossible_dates_nulled,
        ]
        .iter()
        .flat_map(|m| m.values())
        .sum()
    }
}

impl Report {
    /// True when every table loaded and verified and nothing else failed.
    pub fn ok(&self) -> bool {
        // A plan only is fine when no table failed while planning.
        let fine = |t: &TableReport| {
            t.status == Status::Ok || (self.planned.is_some() && t.status == Status::Skipped)
        };
        self.errors.is_empty() && self.tables.iter().all(fine)
    }

    /// Rows left out on purpose and written to a reject file (skipped orphans, rows the
    /// reader could not convert under skip-row).
    pub fn rejects(&self) -> u64 {
        self.tables
            .iter()
            .map(|t| t.orphans_skipped.values().sum::<u64>() + t.rows_rejected)
            .sum()
    }

    /// The command line's exit status for this run (see `error::exit`).
    pub fn exit_code(&self) -> u8 {
        use crate::error::exit;
        match (self.ok(), self.rejects()) {
            (false, _) => exit::FAILED,
            (true, 0) => exit::OK,
            (true, _) => exit::REJECTS,
        }
    }

    pub fn table(&self, name: &str) -> Option<&TableReport> {
        self.tables.iter().find(|t| t.source == name)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let header = [
            "table",
            "status",
            "rows read",
            "rows written",
            "dates → NULL",
            "parts",
            "MB sent",
            "time s",
            "slowest phase",
            "rows/s",
        ];
        let mb = |b: u64| format!("{:.1}", b as f64 / 1e6);
        let mut rows: Vec<[String; 10]> = self
            .tables
            .iter()
            .map(|t| {
                [
                    if t.source == t.target {
                        t.source.clone()
                    } else {
                        format!("{} → {}", t.source, t.target)
                    },
                    format!("{:?}", t.status).to_lowercase(),
                    t.rows_read.to_string(),
                    t.rows_written.to_string(),
                    t.dates_nulled().to_string(),
                    t.partitions.to_string(),
                    mb(t.bytes),
                    format!("{:.2}", t.seconds),
                    t.slowest_phase(),
                    format!("{:.0}", t.rows_per_second),
                ]
            })
            .collect();
        rows.push([
            format!("total ({} tables)", self.tables.len()),
            if self.ok() {
                "ok".into()
            } else {
                "FAILED".into()
            },
            self.rows_read.to_string(),
            self.rows_written.to_string(),
            self.tables
                .iter()
                .map(TableReport::dates_nulled)
                .sum::<u64>()
                .to_string(),
            self.tables
                .iter()
                .map(|t| t.partitions)
                .sum::<usize>()
                .to_string(),
            mb(self.tables.iter().map(|t| t.bytes).sum()),
            format!("{:.2}", self.seconds),
            String::new(),
            format!("{:.0}", self.rows_per_second),
        ]);
        let _ = writeln!(
            out,
            "{} → {} ({}, {})",
            self.source, self.target, self.destination, self.mode
        );
        let rows: Vec<Vec<String>> = rows.into_iter().map(Vec::from).collect();
        let right = [
            false, false, true, true, true, true, true, true, false, true,
        ];
        out.push_str(&crate::text_table::render(&header, &rows, &right, true));
        for t in &self.tables {
            if t.rows_rejected > 0 {
                let _ = writeln!(
                    out,
                    "note: {}: {} row(s) rejected (--on-error skip-row), written to {}",
                    t.source,
                    t.rows_rejected,
                    t.row_rejects_file.as_deref().unwrap_or("the reject file")
                );
            }
            if t.rows_filtered > 0 {
                let _ = writeln!(
                    out,
                    "note: {}: {} row(s) left out by the filter (checked by barge)",
                    t.source, t.rows_filtered
                );
            }
            for (kind, counts) in [
                ("zero date(s) (0000-00-00)", &t.zero_dates_nulled),
                (
                    "partial date(s) (a zero month or day, like 1978-00-00)",
                    &t.partial_dates_nulled,
                ),
                (
                    "impossible date(s) (like 2024-02-30)",
                    &t.impossible_dates_nulled,
                ),
            ] {
                for (col, n) in counts {
                    let _ = writeln!(out, "note: {}.{col}: {n} {kind} written as NULL", t.source);
                }
            }
            for (col, n) in &t.orphans_nulled {
                let _ = writeln!(
                    out,
                    "note: {}.{col}: {n} orphan row(s) (no parent row) loaded with NULL",
                    t.source
                );
            }
            for (col, n) in &t.orphans_skipped {
                let _ = writeln!(
                    out,
                    "note: {}.{col}: {n} orphan row(s) (no parent row) skipped, written to {}",
                    t.source,
                    t.rejects_file.as_deref().unwrap_or("the reject file")
                );
            }
            for n in &t.notes {
                let _ = writeln!(out, "note: {n}");
            }
            for w in &t.warnings {
                let _ = writeln!(out, "warning: {w}");
            }
            if let Some(e) = &t.error {
                let _ = writeln!(out, "error: {}: {e}", t.source);
            }
        }
        if self.tables.iter().any(|t| t.dates_nulled() > 0) {
            let _ = writeln!(
                out,
                "note: --zero-dates error fails such a table instead of writing NULL"
            );
        }
        for e in &self.errors {
            let _ = writeln!(out, "error: {e}");
        }
        out
    }
}
