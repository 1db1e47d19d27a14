//! Progress bars on a terminal, drawn from the run's events (`barge::progress`): one bar per
//! running table and one for the whole run, with rows, rows/s, bytes and an ETA from the
//! exact row counts taken before the load.

use barge::progress::{Event, Observer};
use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

pub struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    tables: Mutex<HashMap<String, (ProgressBar, u64)>>,
    bytes: AtomicU64,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("a valid template")
        .with_key(
            "rate",
            |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0} rows/s", s.per_sec());
            },
        )
        .progress_chars("=> ")
}

impl Bars {
    pub fn new() -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8));
        let total = multi.add(ProgressBar::new(0));
        total.set_style(style(
            "{prefix:>24.bold} [{bar:30}] {human_pos}/{human_len} rows {rate:>14} {msg:>10} ETA {eta}",
        ));
        total.set_prefix("all tables");
        Bars {
            multi,
            total,
            tables: Mutex::new(HashMap::new()),
            bytes: AtomicU64::new(0),
        }
    }
}

impl Observer for Bars {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::RunStarted { tables, rows } => {
                self.total.set_length(*rows);
                self.total.set_message(format!("{tables} tables"));
            }
            Event::TableStarted { table, rows, .. } => {
                let bar = self
                    .multi
                    .insert_before(&self.total, ProgressBar::new(*rows));
                bar.set_style(style(
                    "{prefix:>24} [{bar:30}] {human_pos}/{human_len} rows {rate:>14} {msg:>10} ETA {eta}",
                ));
                bar.set_prefix(table.to_string());
                self.tables
                    .lock()
                    .unwrap()
                    .insert(table.to_string(), (bar, 0));
            }
            Event::Rows { table, rows, bytes } => {
                if let Some((bar, sent)) = self.tables.lock().unwrap().get_mut(*table) {
                    *sent += bytes;
                    bar.inc(*rows);
                    bar.set_message(HumanBytes(*sent).to_string());
                }
                let all = self.bytes.fetch_add(*bytes, Ordering::Relaxed) + bytes;
                self.total.inc(*rows);
                self.total.set_message(HumanBytes(all).to_string());
            }
            Event::TableFinished {
                table,
                status,
                rows,
                seconds,
                ..
            } => {
                if let Some((bar, _)) = self.tables.lock().unwrap().remove(*table) {
                    bar.finish_and_clear();
                }
                let status = format!("{status:?}").to_lowercase();
                let _ = self
                    .multi
                    .println(format!("{table}: {status}, {rows} rows in {seconds:.2}s"));
            }
            Event::RunFinished { .. } => self.total.finish_and_clear(),
            Event::PartitionDone { .. } | Event::Warning { .. } => {}
        }
    }
}
