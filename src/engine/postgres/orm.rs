//! Row-by-row inserts into PostgreSQL as an ORM sends them (`barge bench`'s baselines):
//! parameterized INSERTs, one row or up to 1000 a statement, values bound in binary.

use crate::engine::postgres::copy_format::{BatchEncoder, CopyEncoder};
use crate::engine::postgres::write::{declaration, qualified, quote_ident, schema_only_sql};
use crate::engine::RowInserter;
use crate::error::{Context, Result};
use crate::plan::TablePlan;
use arrow_array::RecordBatch;
use bytes::BytesMut;
use std::collections::HashMap;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{Client, Statement};

/// Inserts into one schema.
pub struct PgRows {
    client: Client,
    schema: String,
    /// Prepared INSERTs by rows per statement.
    prepared: HashMap<usize, Statement>,
}

impl PgRows {
    pub fn new(client: Client, schema: &str) -> PgRows {
        PgRows {
            client,
            schema: schema.to_string(),
            prepared: HashMap::new(),
        }
    }

    async fn statement(&mut self, plan: &TablePlan, rows: usize) -> Result<Statement> {
        if let Some(s) = self.prepared.get(&rows) {
            return Ok(s.clone());
        }
        let s = self
            .client
            .prepare(&insert_sql(&self.schema, plan, rows))
            .await
            .ctx(format!("preparing an INSERT into {}", plan.target))?;
        self.prepared.insert(rows, s.clone());
        Ok(s)
    }
}

/// `INSERT … VALUES ($1, $2), ($3, $4)…`. A column whose values travel as text (a type barge
/// does not decode) is cast to its type, as the finish of a COPY casts its staging column.
fn insert_sql(schema: &str, p: &TablePlan, rows: usize) -> String {
    let n = p.target_columns.len();
    let cols: Vec<String> = p
        .target_columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect();
    let tuples: Vec<String> = (0..rows)
        .map(|r| {
            let ps: Vec<String> = p
                .target_columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let param = format!("${}", r * n + i + 1);
                    if c.as_text {
                        format!("{param}::text::{}", declaration(c, schema))
                    } else {
                        param
                    }
                })
                .collect();
            format!("({})", ps.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        qualified(schema, &p.target),
        cols.join(", "),
        tuples.join(", ")
    )
}

/// One value of a batch, bound in the binary form the COPY encoder writes.
struct Cell<'a> {
    batch: &'a BatchEncoder<'a>,
    col: usize,
    row: usize,
}

impl std::fmt::Debug for Cell<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cell(col {}, row {})", self.col, self.row)
    }
}

impl ToSql for Cell<'_> {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if self.batch.is_null(self.col, self.row) {
            return Ok(IsNull::Yes);
        }
        self.batch.write_value(self.col, self.row, out)?;
        Ok(IsNull::No)
    }

    // The table was created from the same plan that encodes the values.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[async_trait::async_trait]
impl RowInserter for PgRows {
    async fn create_table(&mut self, plan: &TablePlan) -> Result<()> {
        let mut ddl = vec![
            format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                quote_ident(&self.schema)
            ),
            format!("CREATE SCHEMA {}", quote_ident(&self.schema)),
        ];
        ddl.extend(crate::engine::postgres::write::create_types_sql(
            &self.schema,
            std::slice::from_ref(plan),
        ));
        ddl.extend(schema_only_sql(&self.schema, plan));
        self.prepared.clear();
        self.client
            .batch_execute(&ddl.join(";\n"))
            .await
            .ctx("creating the bench table")
    }

    async fn begin(&mut self) -> Result<()> {
        self.client.batch_execute("BEGIN").await.ctx("BEGIN")
    }

    async fn insert(
        &mut self,
        plan: &TablePlan,
        batch: &RecordBatch,
        per_statement: usize,
    ) -> Result<()> {
        let encoder = CopyEncoder::new(
            plan.target_columns.iter().map(|c| c.name.clone()).collect(),
            plan.target_columns.iter().map(|c| c.ty.clone()).collect(),
        );
        let be = encoder.for_batch(batch)?;
        let ncols = plan.target_columns.len().max(1);
        // PostgreSQL takes at most 65535 parameters a statement.
        let per_statement = per_statement.clamp(1, 65_535 / ncols);
        let cells: Vec<Cell<'_>> = (0..batch.num_rows())
            .flat_map(|row| (0..ncols).map(move |col| (row, col)))
            .map(|(row, col)| Cell {
                batch: &be,
                col,
                row,
            })
            .collect();
        let params: Vec<&(dyn ToSql + Sync)> =
            cells.iter().map(|c| c as &(dyn ToSql + Sync)).collect();
        for chunk in params.chunks(per_statement * ncols) {
            let stmt = self.statement(plan, chunk.len() / ncols).await?;
            self.client
                .execute(&stmt, chunk)
                .await
                .ctx(format!("inserting into {}", plan.target))?;
        }
        Ok(())
    }

    async fn commit(&mut self) -> Result<()> {
        self.client.batch_execute("COMMIT").await.ctx("COMMIT")
    }
}
