//! The bench report: a table for people, JSON and CSV for machines, an SVG bar chart.

use crate::verify::Checksum;
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Clone, Serialize)]
pub struct StrategyResult {
    pub strategy: String,
    pub table: String,
    /// Rows in the source table.
    pub rows: u64,
    /// Rows this strategy actually moved (fewer when sampled).
    pub rows_run: u64,
    /// The time is extrapolated from `rows_run` rows to `rows`.
    pub extrapolated: bool,
    /// Measured wall seconds of each run.
    pub runs: Vec<f64>,
    pub median_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    /// Median time for the whole table (extrapolated when sampled).
    pub full_table_s: f64,
    pub rows_per_second: f64,
    pub speedup_vs_orm_row: Option<f64>,
    /// Peak resident memory of the child process (barge, pgloader).
    pub peak_rss_mb: Option<f64>,
    pub check_ok: bool,
    pub check: String,
    pub error: Option<String>,
}

impl StrategyResult {
    pub fn new(strategy: &str, table: &str, rows: u64, rows_run: u64, extrapolated: bool) -> Self {
        StrategyResult {
            strategy: strategy.into(),
            table: table.into(),
            rows,
            rows_run,
            extrapolated,
            runs: vec![],
            median_s: 0.0,
            min_s: 0.0,
            max_s: 0.0,
            full_table_s: 0.0,
            rows_per_second: 0.0,
            speedup_vs_orm_row: None,
            peak_rss_mb: None,
            check_ok: false,
            check: "not checked".into(),
            error: None,
        }
    }

    pub fn add_run(&mut self, wall: f64, peak_kb: Option<u64>) {
        self.runs.push(wall);
        let mut sorted = self.runs.clone();
        sorted.sort_by(f64::total_cmp);
        self.median_s = sorted[sorted.len() / 2];
        self.min_s = sorted[0];
        self.max_s = sorted[sorted.len() - 1];
        self.rows_per_second = if self.median_s > 0.0 {
            self.rows_run as f64 / self.median_s
        } else {
            0.0
        };
        self.full_table_s = if self.rows_run > 0 {
            self.median_s * self.rows as f64 / self.rows_run as f64
        } else {
            self.median_s
        };
        if let Some(kb) = peak_kb {
            let mb = kb as f64 / 1024.0;
            self.peak_rss_mb = Some(self.peak_rss_mb.map_or(mb, |p: f64| p.max(mb)));
        }
    }

    pub fn set_check(&mut self, expected: Checksum, got: Checksum) {
        self.check_ok = expected == got;
        self.check = if self.check_ok {
            format!("ok ({} rows, checksum {:016x})", got.rows, got.hash)
        } else if expected.rows != got.rows {
            format!("FAILED: {} rows, expected {}", got.rows, expected.rows)
        } else {
            format!(
                "FAILED: checksum {:016x}, expected {:016x}",
                got.hash, expected.hash
            )
        };
    }

    pub fn ok(&self) -> bool {
        self.error.is_none() && self.check_ok
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScalePoint {
    pub table: String,
    pub rows: u64,
    pub jobs: usize,
    pub seconds: f64,
    pub rows_per_second: f64,
    pub micros_per_row: f64,
    pub peak_rss_mb: Option<f64>,
}

impl ScalePoint {
    pub fn new(table: &str, rows: u64, jobs: usize, seconds: f64, peak_kb: Option<u64>) -> Self {
        ScalePoint {
            table: table.into(),
            rows,
            jobs,
            seconds,
            rows_per_second: rows as f64 / seconds.max(1e-9),
            micros_per_row: seconds * 1e6 / rows.max(1) as f64,
            peak_rss_mb: peak_kb.map(|k| k as f64 / 1024.0),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub results: Vec<StrategyResult>,
    pub scaling: Vec<ScalePoint>,
}

fn fmt_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2}M", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1}k", r / 1e3)
    } else {
        format!("{r:.0}")
    }
}

fn fmt_factor(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn fmt_secs(s: f64) -> String {
    if s >= 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 60.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.2} s")
    }
}

impl BenchReport {
    pub fn new(mut results: Vec<StrategyResult>) -> Self {
        let baselines: Vec<(String, f64)> = results
            .iter()
            .filter(|r| r.strategy == "orm-row" && r.error.is_none() && r.rows_per_second > 0.0)
            .map(|r| (r.table.clone(), r.rows_per_second))
            .collect();
        for r in &mut results {
            if r.error.is_none() {
                r.speedup_vs_orm_row = baselines
                    .iter()
                    .find(|(t, _)| *t == r.table)
                    .map(|(_, base)| r.rows_per_second / base);
            }
        }
        BenchReport {
            results,
            scaling: vec![],
        }
    }

    pub fn ok(&self) -> bool {
        self.results.iter().all(StrategyResult::ok)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "table,strategy,rows,rows_run,extrapolated,median_s,min_s,max_s,full_table_s,rows_per_second,speedup_vs_orm_row,peak_rss_mb,check_ok,error\n",
        );
        for r in &self.results {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{:.4},{:.4},{:.4},{:.4},{:.1},{},{},{},\"{}\"",
                r.table,
                r.strategy,
                r.rows,
                r.rows_run,
                r.extrapolated,
                r.median_s,
                r.min_s,
                r.max_s,
                r.full_table_s,
                r.rows_per_second,
                r.speedup_vs_orm_row
                    .map(|s| format!("{s:.2}"))
                    .unwrap_or_default(),
                r.peak_rss_mb.map(|m| format!("{m:.1}")).unwrap_or_default(),
                r.check_ok,
                r.error.as_deref().unwrap_or("").replace('"', "'")
            );
        }
        out
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let header = [
            "table",
            "strategy",
            "rows",
            "time (median, min–max)",
            "whole table",
            "rows/s",
            "speed-up",
            "peak RSS",
            "check",
        ];
        let mut rows: Vec<Vec<String>> = Vec::new();
        for r in &self.results {
            let check = match &r.error {
                Some(e) => format!("FAILED: {e}"),
                None => r.check.clone(),
            };
            rows.push(vec![
                r.table.clone(),
                r.strategy.clone(),
                if r.extrapolated {
                    format!("{} of {}", r.rows_run, r.rows)
                } else {
                    r.rows.to_string()
                },
                if r.runs.is_empty() {
                    "-".into()
                } else {
                    format!("{:.3} s ({:.3}–{:.3})", r.median_s, r.min_s, r.max_s)
                },
                if r.runs.is_empty() {
                    "-".into()
                } else if r.extrapolated {
                    format!("~{} (extrapolated)", fmt_secs(r.full_table_s))
                } else {
                    fmt_secs(r.full_table_s)
                },
                if r.runs.is_empty() {
                    "-".into()
                } else {
                    fmt_rate(r.rows_per_second)
                },
                r.speedup_vs_orm_row
                    .map(|s| format!("{}×", fmt_factor(s)))
                    .unwrap_or_else(|| "-".into()),
                r.peak_rss_mb
                    .map(|m| format!("{m:.0} MB"))
                    .unwrap_or_else(|| "-".into()),
                check,
            ]);
        }
        out.push_str(&crate::text_table::render(&header, &rows, &[], false));
        if !self.scaling.is_empty() {
            let _ = writeln!(
                out,
                "\nscaling (barge):\n{:<12} {:>10} {:>5} {:>9} {:>11} {:>8} {:>9}",
                "table", "rows", "jobs", "time s", "rows/s", "µs/row", "peak RSS"
            );
            for p in &self.scaling {
                let _ = writeln!(
                    out,
                    "{:<12} {:>10} {:>5} {:>9.3} {:>11.0} {:>8.2} {:>9}",
                    p.table,
                    p.rows,
                    p.jobs,
                    p.seconds,
                    p.rows_per_second,
                    p.micros_per_row,
                    p.peak_rss_mb
                        .map(|m| format!("{m:.0} MB"))
                        .unwrap_or_else(|| "-".into())
                );
            }
        }
        out
    }

    /// A horizontal bar chart of rows/s per strategy, on a log scale (the strategies differ
    /// by orders of magnitude), with each bar labelled with its rate and speed-up.
    pub fn to_svg(&self) -> String {
        let bars: Vec<&StrategyResult> = self
            .results
            .iter()
            .filter(|r| !r.runs.is_empty() && r.error.is_none())
            .collect();
        let (left, right, top, bar_h, gap) = (230.0, 190.0, 70.0, 28.0, 12.0);
        let plot_w = 560.0;
        let width = left + plot_w + right;
        let height = top + bars.len() as f64 * (bar_h + gap) + 60.0;
        let max = bars
            .iter()
            .map(|r| r.rows_per_second)
            .fold(10.0f64, f64::max);
        let lo_exp = 1.0f64; // 10 rows/s
        let hi_exp = max.log10().ceil().max(lo_exp + 1.0);
        let x = |v: f64| left + (v.max(10.0).log10() - lo_exp) / (hi_exp - lo_exp) * plot_w;
        let mut s = String::new();
        let _ = write!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="30" font-size="20" font-weight="bold" text-anchor="middle">Rows per second into PostgreSQL (log scale, higher is better)</text>
<text x="{}" y="52" font-size="13" fill="#555" text-anchor="middle">median of runs; sampled strategies extrapolated; every result checked against the source</text>
"##,
            width / 2.0,
            width / 2.0
        );
        let mut e = lo_exp as i32;
        while e as f64 <= hi_exp {
            let xv = x(10f64.powi(e));
            let _ = writeln!(
                s,
                r##"<line x1="{xv:.1}" y1="{}" x2="{xv:.1}" y2="{:.1}" stroke="#ddd"/><text x="{xv:.1}" y="{:.1}" font-size="12" fill="#555" text-anchor="middle">{}</text>"##,
                top - 8.0,
                height - 45.0,
                height - 28.0,
                fmt_rate(10f64.powi(e))
            );
            e += 1;
        }
        for (i, r) in bars.iter().enumerate() {
            let y = top + i as f64 * (bar_h + gap);
            let color = match r.strategy.as_str() {
                "barge" => "#1f77b4",
                "pgloader" => "#9467bd",
                "multi-insert" => "#2ca02c",
                "django-row" | "django-bulk" => "#ff7f0e",
                _ => "#d62728",
            };
            let label = format!("{} · {}", r.table, r.strategy);
            let value = format!(
                "{} rows/s{}{}",
                fmt_rate(r.rows_per_second),
                r.speedup_vs_orm_row
                    .map(|v| format!(" · {}×", fmt_factor(v)))
                    .unwrap_or_default(),
                if r.check_ok { "" } else { " · CHECK FAILED" }
            );
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{:.1}" font-size="14" text-anchor="end">{}</text>
<rect x="{left}" y="{y:.1}" width="{:.1}" height="{bar_h}" fill="{color}"/>
<text x="{:.1}" y="{:.1}" font-size="13">{}</text>
"##,
                left - 10.0,
                y + bar_h * 0.68,
                xml_escape(&label),
                (x(r.rows_per_second) - left).max(1.0),
                x(r.rows_per_second) + 6.0,
                y + bar_h * 0.68,
                xml_escape(&value)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
