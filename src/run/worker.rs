//! A worker: one target connection that claims partitions from the ledger, reads each from
//! the source, transforms it and writes it with its `done` mark in one transaction, and
//! finishes the tables whose partitions are all in. Any number of workers, in any number
//! of processes, share one run this way.

use super::Shared;
use crate::engine::{ReadRequest, Writer};
use crate::error::{Error, Result};
use crate::ledger::{Claim, FinishMark, Mark, PartitionStats};
use crate::plan::TablePlan;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Batches in flight between one reader and its writer.
const CHANNEL_BATCHES: usize = 2;
const BATCH_BYTES: usize = 8 << 20;
/// Tries of a partition (or a finish) that keeps failing on transient errors.
pub const MAX_ATTEMPTS: u32 = 5;

enum Step {
    Finish(FinishMark),
    Load(Claim),
    /// Others hold what is left of the wave.
    Wait,
    Over,
}

/// Work on `wave` until nothing of it is left to load or finish. Returns the writer, or
/// `None` when no connection to the target could be had again.
pub(super) async fn worker(
    shared: Arc<Shared>,
    writer: Box<dyn Writer>,
    task: usize,
    wave: u32,
) -> Option<Box<dyn Writer>> {
    let mut writer = Some(writer);
    let mut ledger_errors = 0u32;
    let (run, ledger) = (&shared.run, &shared.ledger);
    while !shared.is_stopped() {
        let Some(w) = writer.as_mut() else { break };
        let step = async {
            if let Some(f) = ledger.claim_finish(run, task, wave).await? {
                return Ok(Step::Finish(f));
            }
            if let Some(c) = ledger.claim(run, task, wave, shared.max_per_table).await? {
                return Ok(Step::Load(c));
            }
            Ok::<_, Error>(if ledger.wave_open(run, wave).await? {
                Step::Wait
            } else {
                Step::Over
            })
        }
        .await;
        tracing::trace!(
            "task {task}, wave {wave}: {}",
            match &step {
                Ok(Step::Finish(f)) => format!("finish table {}", f.table),
                Ok(Step::Load(c)) => format!("load {}/{}", c.table, c.part),
                Ok(Step::Wait) => "wait".into(),
                Ok(Step::Over) => "over".into(),
                Err(e) => format!("ledger error {e}"),
            }
        );
        let worked = matches!(step, Ok(Step::Finish(_) | Step::Load(_)));
        let again = match step {
            Ok(Step::Finish(f)) => finish(&shared, w, f).await,
            Ok(Step::Load(c)) => load(&shared, w, c).await,
            Ok(Step::Wait) => {
                tokio::select! {
                    _ = tokio::time::sleep(poll(&shared)) => {}
                    _ = shared.wake.notified() => {}
                }
                false
            }
            Ok(Step::Over) => break,
            Err(e) => {
                ledger_errors += 1;
                tracing::warn!("ledger: {e}");
                if ledger_errors > MAX_ATTEMPTS {
                    shared.fatal(format!("the ledger could not be reached: {e}"));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200 << ledger_errors)).await;
                false
            }
        };
        if worked {
            shared.wake.notify_waiters();
        }
        if again {
            // Let the old connection go first: a pooled target has no spare one.
            drop(writer.take());
            writer = reopen(&shared).await;
        }
    }
    writer
}

fn poll(shared: &Shared) -> Duration {
    Duration::from_millis(if shared.ledger.durable() { 250 } else { 20 })
}

/// A new writer after a transient error (the old connection may be dead), tried a few
/// times while the server comes back.
async fn reopen(shared: &Shared) -> Option<Box<dyn Writer>> {
    for attempt in 0..MAX_ATTEMPTS {
        match shared.sink.writer().await {
            Ok(w) => return Some(w),
            Err(e) => {
                tracing::warn!("reconnecting a writer: {e}");
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
            }
        }
    }
    shared.fatal("the target could not be reached again after a lost connection".into());
    None
}

/// Load one claimed partition. True when the writer must be replaced.
async fn load(shared: &Arc<Shared>, writer: &mut Box<dyn Writer>, claim: Claim) -> bool {
    let t = claim.table as usize;
    let plan = shared.plans[t].clone();
    shared.started(t);
    let key = (claim.table, claim.part, claim.epoch);
    shared.held.lock().unwrap().0.push(key);
    let result = run_partition(shared, &mut **writer, &claim).await;
    shared.held.lock().unwrap().0.retain(|k| *k != key);
    match result {
        Ok(_) => {
            let mut local = shared.local[t].lock().unwrap();
            local.remaining = local.remaining.saturating_sub(1);
            if local.remaining == 0 {
                local.load_seconds = local.started.map(|s| s.elapsed().as_secs_f64());
            }
            false
        }
        Err(e) => {
            writer.rollback().await;
            if matches!(e, Error::LeaseLost { .. }) {
                tracing::warn!("{e}");
                return false;
            }
            if e.is_transient() && claim.attempts + 1 < MAX_ATTEMPTS {
                tracing::warn!(
                    "{}: partition {} failed on a transient error, retrying: {e}",
                    plan.source,
                    claim.part
                );
                if let Err(le) = shared.ledger.release(&shared.run, &claim, None).await {
                    tracing::warn!("ledger: giving partition {} back: {le}", claim.part);
                }
                tokio::time::sleep(Duration::from_millis(200 << claim.attempts)).await;
                return true;
            }
            let msg = crate::url::redact(&e.to_string());
            if let Err(le) = shared.ledger.release(&shared.run, &claim, Some(&msg)).await {
                tracing::warn!("ledger: {le}");
            }
            shared.failed(t, msg);
            e.is_transient()
        }
    }
}

/// Finish a table whose partitions are all in. True when the writer must be replaced.
async fn finish(shared: &Arc<Shared>, writer: &mut Box<dyn Writer>, mark: FinishMark) -> bool {
    let t = mark.table as usize;
    let plan = shared.plans[t].clone();
    shared.started(t);
    let stats = match shared.ledger.totals(&shared.run).await {
        Ok(mut all) if t < all.len() => all.swap_remove(t).stats,
        Ok(_) => return false,
        Err(e) => {
            tracing::warn!("ledger: {e}");
            if let Err(le) = shared.ledger.release_finish(&mark).await {
                tracing::warn!("ledger: giving a finish back: {le}");
            }
            return false;
        }
    };
    tracing::info!("{}: all partitions loaded", plan.source);
    let key = (mark.table, mark.epoch);
    shared.held.lock().unwrap().1.push(key);
    let result = finish_table(shared, writer, &plan, &mark, &stats).await;
    shared.held.lock().unwrap().1.retain(|k| *k != key);
    // The rows left out are facts of what was read, whether or not the table went in.
    let published = publish_rejects(shared, t, &stats.reject_parts);
    match result {
        Ok(outcome) => {
            if let Err(e) = shared.ledger.finished(&mark).await {
                tracing::warn!("ledger: {e}");
            } else if published {
                if let Some(f) = &shared.rejects[t] {
                    f.clean_pending();
                }
            }
            shared.finished_ok(t, &stats, outcome);
            false
        }
        Err(e) => {
            writer.rollback().await;
            if matches!(e, Error::LeaseLost { .. }) {
                tracing::warn!("{e}");
                return false;
            }
            let tries = {
                let mut local = shared.local[t].lock().unwrap();
                local.finish_tries += 1;
                local.finish_tries
            };
            if e.is_transient() && tries < MAX_ATTEMPTS {
                tracing::warn!(
                    "{}: finish failed on a transient error, retrying: {e}",
                    plan.source
                );
                if let Err(le) = shared.ledger.release_finish(&mark).await {
                    tracing::warn!("ledger: giving a finish back: {le}");
                }
                tokio::time::sleep(Duration::from_millis(200 << tries)).await;
                return true;
            }
            let e = key_date_hint(&plan, &stats.dates, e);
            let msg = crate::url::redact(&e.to_string());
            if let Err(le) = shared
                .ledger
                .table_failed(&shared.run, mark.table, &msg)
                .await
            {
                tracing::warn!("ledger: {le}");
            }
            shared.failed(t, msg);
            e.is_transient()
        }
    }
}

/// Make table `t`'s reject file from the committed partitions' files; false when it was
/// made already, or could not be (said in the log: the rows are in, only the file of the
/// rows left out is missing).
pub(super) fn publish_rejects(shared: &Shared, t: usize, parts: &[String]) -> bool {
    let Some(file) = &shared.rejects[t] else {
        return true;
    };
    match file.publish(parts) {
        Ok(done) => done,
        Err(e) => {
            tracing::error!(
                "{}: the reject file could not be written: {e}",
                shared.plans[t].source
            );
            false
        }
    }
}

/// Put a table in place: by the writer, or by SQL in the target for remapped keys.
async fn finish_table(
    shared: &Arc<Shared>,
    writer: &mut Box<dyn Writer>,
    plan: &TablePlan,
    mark: &FinishMark,
    stats: &PartitionStats,
) -> Result<Option<crate::engine::RemapOutcome>> {
    let t = mark.table as usize;
    let m = shared.ledger.durable().then_some(mark);
    if let Some(e) = count_mismatch(plan, shared.source_rows[t], stats) {
        Err(e)
    } else if shared.deferred(t) {
        match shared.parent_failed(t) {
            Some(e) => Err(e),
            None => {
                let mut tries = 0;
                loop {
                    let r = shared
                        .sink
                        .finish_remapped(plan, &stats.nulls, &shared.reject_dir, m)
                        .await;
                    if !retry_conflict(&r, &mut tries).await {
                        break r.map(Some);
                    }
                }
            }
        }
    } else {
        let mut tries = 0;
        loop {
            let r = writer.finish(plan, &stats.nulls, m).await;
            if !retry_conflict(&r, &mut tries).await {
                break r.map(|()| None);
            }
        }
    }
}

/// Whether to run a table's finishing transaction again: PostgreSQL aborts one of two when
/// tables linked by foreign keys are replaced (`--drop`) at the same time, each needing a lock
/// the other holds. The aborted transaction left nothing behind. Sleeps before saying yes.
async fn retry_conflict<T>(result: &Result<T>, tries: &mut u32) -> bool {
    match result {
        Err(Error::Conflict { table, detail }) if *tries < 8 => {
            *tries += 1;
            tracing::info!("{table}: retrying after a conflict ({detail})");
            tokio::time::sleep(Duration::from_millis(20 << (*tries).min(5))).await;
            true
        }
        _ => false,
    }
}

/// The counts must add up: every row the source counted was read, and every row read was
/// written, filtered out, or rejected (skip-row).
pub(super) fn count_mismatch(
    plan: &TablePlan,
    source_rows: u64,
    s: &PartitionStats,
) -> Option<Error> {
    (s.read != source_rows || s.written + s.filtered + s.rejected != s.read).then(|| {
        Error::Table {
            table: plan.source.clone(),
            detail: format!(
                "row count mismatch: the source had {source_rows} rows, {} were read, {} filtered out, {} rejected and {} written; the table was not put in place",
                s.read, s.filtered, s.rejected, s.written
            ),
        }
    })
}

/// A primary key PostgreSQL refused because dates it cannot hold became NULL in a key
/// column: say so, since "contains null values" names no cause the source shows.
fn key_date_hint(plan: &TablePlan, nulled: &[[u64; 3]], e: Error) -> Error {
    let culprit = plan
        .columns
        .iter()
        .zip(&plan.target_columns)
        .zip(nulled)
        .find(|((_, tc), n)| n.iter().sum::<u64>() > 0 && plan.primary_key.contains(&tc.name));
    match (e, culprit) {
        (Error::Table { table, detail }, Some((((source, _), _), n))) => Error::Table {
            table,
            detail: format!(
                "{detail}; {} date(s) of the key column {source} have no PostgreSQL value and \
                 became NULL, which a primary key cannot hold: fix them in the source, or list \
                 them with --zero-dates error",
                n.iter().sum::<u64>()
            ),
        },
        (e, _) => e,
    }
}

/// Read, transform and load one partition, and commit it with its mark: the source's
/// reader runs as its own task, and the transforms run beside the writer, feeding it through
/// a second bounded channel.
async fn run_partition(
    shared: &Arc<Shared>,
    writer: &mut dyn Writer,
    claim: &Claim,
) -> Result<PartitionStats> {
    let t = claim.table as usize;
    let plan = shared.plans[t].clone();
    let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
    // This attempt's rejects: in the file once the partition has committed.
    let rejects = shared.rejects[t].as_ref().map(|f| Arc::new(f.partition()));
    let req = ReadRequest {
        plan: plan.clone(),
        schema: shared.arrow[t].clone(),
        range: claim.range.clone(),
        limit: None,
        batch_rows: plan.batch_rows.unwrap_or(shared.batch_rows),
        batch_bytes: BATCH_BYTES,
        zero_dates: shared.zero_dates,
        rejects: rejects.clone(),
        nul_in_text: shared.sink.stores_nul_in_text(),
    };
    let source = shared.source.clone();
    let reader = tokio::spawn(async move { source.read(req, tx).await });
    let extra: Vec<Arc<dyn crate::transform::Transform>> = shared.stream[t]
        .lock()
        .unwrap()
        .as_ref()
        .map(|s| s.transforms.clone())
        .unwrap_or_default();
    let on_rows = |rows: u64, bytes: u64| {
        crate::progress::emit(
            &shared.observer,
            crate::progress::Event::Rows {
                table: &plan.source,
                rows,
                bytes,
            },
        )
    };
    let mut stats = PartitionStats {
        nulls: vec![0; plan.target_columns.len()],
        ..Default::default()
    };
    // One batch between transforms and writer: with the reader's channel, memory stays at
    // the few batches per partition it was before the transforms moved here.
    let (ttx, trx) = mpsc::channel(1);
    // The checksum of what goes to the writer; rows the target refuses are in it too (the
    // reject file holds them), as the mark records what was sent.
    let mut sent = 0u64;
    let transform = async {
        // Owned here: the writer sees the end of the stream when the reader's ends, and the
        // reader sees the writer is gone when it fails (it would wait on a full channel).
        let ttx = ttx;
        let mut rx = rx;
        let in_table = |e: Error| Error::Table {
            table: plan.source.clone(),
            detail: e.to_string(),
        };
        while let Some(batch) = rx.recv().await {
            let rows_in = batch.num_rows();
            let batch = crate::transform::apply_all(&plan.transforms, batch).map_err(in_table)?;
            let batch = crate::transform::apply_all(&extra, batch).map_err(in_table)?;
            stats.filtered += rows_in.saturating_sub(batch.num_rows()) as u64;
            for (n, c) in stats.nulls.iter_mut().zip(batch.columns()) {
                *n += c.null_count() as u64;
            }
            sent = sent.wrapping_add(crate::content_hash::batch(&batch));
            if ttx.send(batch).await.is_err() {
                break; // the writer failed and says why
            }
        }
        Ok::<_, Error>(())
    };
    let started = Instant::now();
    let (transformed, written) = tokio::join!(
        transform,
        writer.write(&plan, trx, &on_rows, rejects.as_deref(),)
    );
    let read = match reader.await {
        Ok(read) => read,
        Err(source) => {
            return Err(Error::Task {
                what: format!("the reader of {} partition {}", plan.source, claim.part),
                source,
            })
        }
    };
    // A reader error is the root cause even when the writer then saw a short stream.
    let read = read?;
    transformed?;
    let written = written?;
    stats.read = read.rows;
    stats.rejected = read.rejected + written.refused;
    stats.checksum = sent;
    stats.written = written.rows;
    stats.bytes = written.bytes;
    stats.dates = read
        .nulled_dates
        .iter()
        .map(|n| [n.zero, n.partial, n.impossible])
        .collect();
    crate::failpoint::hit("partition-written");
    if let Some(r) = &rejects {
        let staged = r.stage(claim.part, claim.epoch).map_err(|e| Error::Table {
            table: plan.source.clone(),
            detail: format!(
                "the rejected rows of partition {} could not be written to the reject file: {e}",
                claim.part
            ),
        })?;
        stats.reject_parts.extend(staged);
    }
    let mark = Mark {
        run: shared.run.clone(),
        table: claim.table,
        part: claim.part,
        epoch: claim.epoch,
        stats: serde_json::to_string(&stats).unwrap_or_default(),
    };
    writer
        .commit(&plan, shared.ledger.durable().then_some(&mark))
        .await?;
    crate::failpoint::hit("partition-committed");
    if let Some(r) = &rejects {
        r.committed();
    }
    shared.ledger.done(&mark).await?;
    tracing::debug!(
        "{}: partition {} ({} rows) in {:.2}s",
        plan.source,
        claim.part,
        stats.written,
        started.elapsed().as_secs_f64()
    );
    crate::progress::emit(
        &shared.observer,
        crate::progress::Event::PartitionDone {
            table: &plan.source,
            rows: stats.written,
            remaining: shared.local[t].lock().unwrap().remaining.saturating_sub(1),
        },
    );
    Ok(stats)
}
