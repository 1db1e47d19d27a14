//! PostgreSQL. As a target: staging tables loaded by binary COPY over several connections,
//! then one transaction per table that puts it in place. As a source: the catalog from
//! pg_catalog and partitions read by binary COPY (`source`).

pub mod catalog;
pub mod connect;
pub mod copy_format;
pub mod ledger;
pub mod orm;
pub mod source;
pub mod tls;
pub mod types;
pub mod write;

use crate::engine::{RemapOutcome, Sink, SinkOptions, Writer, Written};
use crate::error::{Context, Error, Result, Side};
use crate::ledger::{FinishMark, Mark};
use crate::plan::{Mode, TablePlan};
use crate::url::DbUrl;
use arrow_array::RecordBatch;
use std::collections::HashMap;
use tokio::sync::{mpsc, Mutex};
use tokio_postgres::Client;
use write::{qualified, quote_ident};

/// A PostgreSQL schema as the target of a run.
pub struct PgSink {
    url: DbUrl,
    opts: SinkOptions,
    /// For everything but the partitions' COPY: checks, staging, remapped finishes, keys.
    control: Mutex<Client>,
}

impl PgSink {
    pub async fn connect(url: &DbUrl, opts: SinkOptions) -> Result<PgSink> {
        Ok(PgSink {
            control: Mutex::new(connect::pg_connect(url, Side::Target).await?),
            url: url.clone(),
            opts,
        })
    }
}

impl PgSink {
    /// The control connection, opened again when the server closed it.
    async fn control(&self) -> Result<tokio::sync::MutexGuard<'_, Client>> {
        let mut control = self.control.lock().await;
        if control.is_closed() {
            *control = connect::pg_connect(&self.url, Side::Target).await?;
        }
        Ok(control)
    }
}

#[async_trait::async_trait]
impl Sink for PgSink {
    async fn prepare_run(&self, plans: &mut [TablePlan]) -> Result<()> {
        let control = self.control().await?;
        let schema = &self.opts.schema;
        let names: Vec<String> = plans.iter().map(|p| p.target.clone()).collect();
        let existing = write::existing_tables(&control, schema, &names).await?;
        // A resumed table may be there already, renamed into place by the interrupted run.
        let taken: Vec<&String> = existing
            .iter()
            .filter(|t| !plans.iter().any(|p| p.resumed && p.target == **t))
            .collect();
        match self.opts.mode {
            Mode::Create | Mode::SchemaOnly if !self.opts.drop && !taken.is_empty() => {
                return Err(Error::TargetExists {
                    table: taken
                        .iter()
                        .map(|t| format!("{schema}.{t}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            Mode::DataOnly => {
                for p in plans.iter() {
                    if !existing.contains(&p.target) {
                        return Err(Error::TargetMismatch {
                            table: format!("{schema}.{}", p.target),
                            detail: "it does not exist (--data-only loads into existing tables)"
                                .into(),
                        });
                    }
                    write::check_data_only_target(&control, schema, p).await?;
                }
            }
            _ => {}
        }
        // Index names must not collide with what the target schema already holds
        // (--data-only creates no index).
        if self.opts.mode != Mode::DataOnly {
            let relations = write::existing_relations(&control, schema).await?;
            crate::plan::unique_relation_names(plans, &relations, self.opts.drop)?;
        }
        if self.opts.drop && !existing.is_empty() {
            // Replacing a table drops the foreign keys other tables hold on it (CASCADE); say
            // so for those outside this copy, which barge will not recreate.
            for (fk, child, parent) in write::outside_foreign_keys(&control, schema, &names).await?
            {
                if let Some(p) = plans.iter_mut().find(|p| p.target == parent) {
                    p.warnings.push(format!(
                        "--drop replaces {parent}: the foreign key {fk} that {child} (not part of this copy) holds on it is dropped and not recreated"
                    ));
                }
            }
        }
        // Workers joining one run do this at once: one at a time (concurrent CREATE … IF
        // NOT EXISTS and CREATE OR REPLACE FUNCTION fail on each other).
        let mut sql = format!(
            "BEGIN; SELECT pg_advisory_xact_lock(hashtext('barge prepare')); \
             CREATE SCHEMA IF NOT EXISTS {};",
            quote_ident(schema)
        );
        if plans.iter().any(|p| !p.on_update_now.is_empty()) {
            sql.push_str(&write::on_update_function_sql(schema));
            sql.push(';');
        }
        // The enums and domains of a PostgreSQL source (--data-only finds them there).
        if self.opts.mode != Mode::DataOnly {
            for s in write::create_types_sql(schema, plans) {
                sql.push_str(&s);
                sql.push(';');
            }
        }
        sql.push_str("COMMIT");
        if let Err(e) = control.batch_execute(&sql).await {
            let _ = control.batch_execute("ROLLBACK").await;
            return Err(Error::Postgres {
                context: format!(
                    "creating schema {schema} (its enums and domains, and the ON UPDATE CURRENT_TIMESTAMP trigger function)"
                ),
                source: e,
            });
        }
        Ok(())
    }

    async fn create_schema(&self, plans: &[TablePlan]) -> Result<()> {
        let schema = &self.opts.schema;
        let mut stmts = Vec::new();
        for p in plans {
            if self.opts.drop {
                stmts.push(format!(
                    "DROP TABLE IF EXISTS {} CASCADE",
                    qualified(schema, &p.target)
                ));
            }
            stmts.extend(write::schema_only_sql(schema, p));
        }
        for p in plans {
            stmts.extend(write::foreign_key_sql(schema, p));
        }
        // One transaction: the schema appears whole or not at all.
        let sql = format!("BEGIN;\n{};\nCOMMIT;", stmts.join(";\n"));
        let control = self.control().await?;
        if let Err(e) = control.batch_execute(&sql).await {
            let _ = control.batch_execute("ROLLBACK").await;
            return Err(Error::Postgres {
                context: "creating the schema failed, nothing was created".into(),
                source: e,
            });
        }
        Ok(())
    }

    async fn prepare(&self, plan: &TablePlan) -> Result<()> {
        let control = self.control().await?;
        write::prepare_staging(&control, &self.opts.schema, plan, self.opts.mode).await
    }

    async fn discard(&self, plan: &TablePlan) {
        let Ok(control) = self.control().await else {
            return;
        };
        write::drop_staging(&control, &self.opts.schema, plan).await
    }

    async fn writer(&self) -> Result<Box<dyn Writer>> {
        Ok(Box::new(PgWriter {
            client: connect::pg_connect(&self.url, Side::Target).await?,
            opts: self.opts.clone(),
        }))
    }

    async fn finish_remapped(
        &self,
        plan: &TablePlan,
        nulls: &[u64],
        reject_dir: &std::path::Path,
        mark: Option<&FinishMark>,
    ) -> Result<RemapOutcome> {
        let mut control = self.control().await?;
        write::finish_remapped(
            &mut control,
            &self.opts.schema,
            plan,
            write::Finish {
                mode: self.opts.mode,
                drop_existing: self.opts.drop,
                nulls,
                mark,
            },
            reject_dir,
        )
        .await
    }

    async fn ledger(&self) -> Result<std::sync::Arc<dyn crate::ledger::Ledger>> {
        Ok(std::sync::Arc::new(
            ledger::PgLedger::open(&self.url).await?,
        ))
    }

    async fn key_map(&self, plan: &TablePlan, max: u64) -> Option<HashMap<i64, i64>> {
        let control = self.control().await.ok()?;
        let km = qualified(&self.opts.schema, &write::keymap_name(&plan.target));
        let n: i64 = control
            .query_one(&format!("SELECT count(*) FROM {km}"), &[])
            .await
            .ok()?
            .get(0);
        if n as u64 > max {
            return None;
        }
        let rows = control
            .query(&format!("SELECT old::bigint, new::bigint FROM {km}"), &[])
            .await
            .ok()?;
        Some(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn drop_key_maps(&self, plans: &[&TablePlan]) {
        let Ok(control) = self.control().await else {
            return;
        };
        for p in plans {
            let km = qualified(&self.opts.schema, &write::keymap_name(&p.target));
            if let Err(e) = control
                .batch_execute(&format!("DROP TABLE IF EXISTS {km}"))
                .await
            {
                tracing::warn!("could not drop key map {km}: {e}");
            }
        }
    }

    async fn foreign_keys(&self, plan: &TablePlan, parent_ok: &[bool]) -> Vec<Option<Result<()>>> {
        let control = match self.control().await {
            Ok(c) => c,
            Err(e) => {
                let e = e.to_string();
                return plan
                    .foreign_keys
                    .iter()
                    .map(|fk| {
                        Some(Err(Error::Table {
                            table: plan.source.clone(),
                            detail: format!("foreign key {} not created: {e}", fk.name),
                        }))
                    })
                    .collect();
            }
        };
        let mut out = Vec::new();
        for item in crate::engine::foreign_keys_to_add(
            plan,
            write::foreign_key_sql(&self.opts.schema, plan),
            parent_ok,
        ) {
            out.push(match item {
                None => None,
                // Already there: an earlier, interrupted end of the same run made it.
                Some((sql, what)) => Some(match control.batch_execute(&sql).await {
                    Err(e)
                        if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_OBJECT) =>
                    {
                        Ok(())
                    }
                    r => r.ctx(what),
                }),
            });
        }
        out
    }
}

#[async_trait::async_trait]
impl crate::engine::isolate::BatchLoader for PgWriter {
    async fn savepoint(&mut self, step: crate::engine::isolate::Savepoint) -> Result<()> {
        self.client.batch_execute(step.sql()).await.ctx(step.sql())
    }

    async fn load(
        &mut self,
        plan: &TablePlan,
        rows: &RecordBatch,
    ) -> Result<(u64, u64), crate::engine::isolate::LoadError> {
        write::copy_batch(&self.client, &self.opts.schema, plan, rows).await
    }
}

/// One connection that COPYs partitions and finishes tables.
struct PgWriter {
    client: Client,
    opts: SinkOptions,
}

#[async_trait::async_trait]
impl Writer for PgWriter {
    async fn write(
        &mut self,
        plan: &TablePlan,
        rows: mpsc::Receiver<RecordBatch>,
        on_rows: crate::engine::OnRows<'_>,
        refusals: Option<&crate::rejects::Rejects>,
    ) -> Result<Written> {
        self.client
            .batch_execute("BEGIN")
            .await
            .ctx(format!("copying into {}", plan.target))?;
        match refusals {
            Some(rejects) => {
                crate::engine::isolate::load_isolating(self, plan, rows, on_rows, rejects).await
            }
            None => {
                write::copy_partition(&self.client, &self.opts.schema, plan, rows, on_rows).await
            }
        }
    }

    async fn commit(&mut self, plan: &TablePlan, mark: Option<&Mark>) -> Result<()> {
        if let Some(m) = mark {
            if ledger::mark(&self.client, m).await? != 1 {
                self.rollback().await;
                return Err(Error::LeaseLost {
                    table: plan.source.clone(),
                    what: format!("partition {}", m.part),
                });
            }
            crate::failpoint::hit("partition-marked");
        }
        self.client
            .batch_execute("COMMIT")
            .await
            .ctx(format!("committing a partition of {}", plan.target))
    }

    async fn rollback(&mut self) {
        let _ = self.client.batch_execute("ROLLBACK").await;
    }

    async fn finish(
        &mut self,
        plan: &TablePlan,
        nulls: &[u64],
        mark: Option<&FinishMark>,
    ) -> Result<()> {
        write::finish_table(
            &mut self.client,
            &self.opts.schema,
            plan,
            write::Finish {
                mode: self.opts.mode,
                drop_existing: self.opts.drop,
                nulls,
                mark,
            },
        )
        .await
    }
}
