//! `barge status`: where each run recorded in a target's ledger stands, read from the ledger
//! alone (no source is touched), for any number of workers on any machines.

use crate::error::Result;
use crate::ledger::TableState;
use crate::url::DbUrl;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct RunStatus {
    pub run: String,
    pub source: String,
    /// Seconds since the plan was recorded.
    pub seconds: f64,
    pub tables: Vec<TableStatus>,
    /// Rows in so far, over all tables.
    pub rows: u64,
    /// Estimated rows still to load.
    pub rows_left: u64,
    /// Rows in per second since the plan was recorded.
    pub rows_per_second: f64,
    /// Seconds to go at that rate, when there is one.
    pub eta_seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableStatus {
    pub source: String,
    pub target: String,
    pub state: TableState,
    pub partitions: u32,
    pub done: u32,
    /// The workers (host/pid#task) loading its partitions now.
    pub running: Vec<String>,
    pub pending: u32,
    pub failed: u32,
    pub rows: u64,
    pub rows_left: u64,
    /// The content checksum of the rows loaded so far (`content_hash`), as hex.
    pub checksum: String,
    pub error: Option<String>,
}

/// The runs in the ledger of the database `url` names: all of them, or the one named.
pub async fn status(url: &DbUrl, run: Option<&str>) -> Result<Vec<RunStatus>> {
    let ledger = crate::engine::open_ledger(url).await?;
    let runs = match run {
        Some(r) => vec![r.to_string()],
        None => runs_into(&*ledger, url).await?,
    };
    let mut out = Vec::new();
    for run in runs {
        let Some(record) = ledger.load(&run).await? else {
            return Err(crate::Error::Config(format!(
                "the ledger in {} holds no run {run}",
                url.redacted()
            )));
        };
        let totals = ledger.totals(&run).await?;
        let seconds = ledger.elapsed(&run).await?;
        let tables: Vec<TableStatus> = record
            .tables
            .iter()
            .zip(&totals)
            .map(|(r, t)| TableStatus {
                source: r.source.clone(),
                target: r.target.clone(),
                state: t.state,
                partitions: t.partitions,
                done: t.done,
                pending: t
                    .partitions
                    .saturating_sub(t.done + t.failed + t.running.len() as u32),
                running: t.running.clone(),
                failed: t.failed,
                rows: t.stats.written,
                rows_left: t.rows_left,
                checksum: format!("{:016x}", t.stats.checksum),
                error: t.error.clone(),
            })
            .collect();
        let rows: u64 = tables.iter().map(|t| t.rows).sum();
        let rows_left: u64 = tables.iter().map(|t| t.rows_left).sum();
        let rate = if seconds > 0.0 {
            rows as f64 / seconds
        } else {
            0.0
        };
        out.push(RunStatus {
            run,
            source: record.source,
            seconds,
            rows,
            rows_left,
            rows_per_second: rate,
            eta_seconds: (rate > 0.0).then(|| rows_left as f64 / rate),
            tables,
        });
    }
    Ok(out)
}

/// The runs of a ledger, only those into the schema a PostgreSQL URL names
/// (`?schema=NAME`) when it names one: one database's ledger holds the runs into all its
/// schemas.
pub async fn runs_into(ledger: &dyn crate::ledger::Ledger, url: &DbUrl) -> Result<Vec<String>> {
    let mut runs = ledger.runs().await?;
    if let Some(schema) = url.schema() {
        let tail = format!("?schema={schema}");
        runs.retain(|r| r.ends_with(&tail));
    }
    Ok(runs)
}

impl RunStatus {
    pub fn to_text(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .tables
            .iter()
            .map(|t| {
                vec![
                    t.source.clone(),
                    t.state.as_str().to_string(),
                    format!("{}/{}", t.done, t.partitions),
                    t.running.len().to_string(),
                    t.pending.to_string(),
                    t.failed.to_string(),
                    t.rows.to_string(),
                    t.rows_left.to_string(),
                    t.running.join(", "),
                ]
            })
            .collect();
        let mut s = format!(
            "run {} (from {}), planned {:.0}s ago\n",
            self.run, self.source, self.seconds
        );
        s.push_str(&crate::text_table::render(
            &[
                "table",
                "state",
                "done",
                "running",
                "pending",
                "failed",
                "rows",
                "rows left",
                "where",
            ],
            &rows,
            &[false, false, true, true, true, true, true, true, false],
            false,
        ));
        s.push_str(&format!(
            "{} rows in, about {} to go, {:.0} rows/s{}\n",
            self.rows,
            self.rows_left,
            self.rows_per_second,
            match self.eta_seconds {
                Some(e) if self.rows_left > 0 => format!(", done in about {e:.0}s"),
                _ => String::new(),
            }
        ));
        for t in &self.tables {
            if let Some(e) = &t.error {
                s.push_str(&format!("error: {}: {e}\n", t.source));
            }
        }
        s
    }
}
