//! The job's own row work, as one operator: keep the rows a filter accepts, compute the added
//! columns (constants and expressions), and leave out columns read only to compute them.

use super::{arrow_err, Transform};
use crate::error::{Error, Result};
use crate::expr::{Expr, ExprSource};
use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::{Field, Schema, SchemaRef};
use std::sync::Arc;

/// A typed expression and where it was written (for errors found while running it).
#[derive(Debug, Clone)]
pub struct Compiled {
    pub expr: Expr,
    pub label: String,
    pub source: Option<ExprSource>,
}

impl Compiled {
    fn error(&self, span: crate::expr::parse::Span, message: &str) -> Error {
        match &self.source {
            Some(s) => s.error(span, message),
            None => Error::Transform(format!("{}: {message}", self.label)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Compute {
    /// Rows where this is not true are left out (as in SQL's WHERE).
    pub filter: Option<Compiled>,
    /// Added columns, in order, after the kept ones.
    pub columns: Vec<(String, Compiled)>,
    /// The first `keep` input columns pass through; the rest were read for expressions only.
    pub keep: usize,
}

impl Transform for Compute {
    fn output_schema(&self, input: &SchemaRef) -> Result<SchemaRef> {
        if input.fields().len() < self.keep {
            return Err(Error::Transform(format!(
                "compute: {} input columns, expected at least {}",
                input.fields().len(),
                self.keep
            )));
        }
        let mut fields: Vec<Field> = input.fields()[..self.keep]
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for (name, c) in &self.columns {
            fields.push(Field::new(name, c.expr.ty.clone(), true));
        }
        Ok(Arc::new(Schema::new(fields)))
    }

    fn apply(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let schema = self.output_schema(&batch.schema())?;
        let batch = match &self.filter {
            None => batch,
            Some(f) => {
                let keep = f.expr.evaluate(&batch).map_err(|(s, m)| f.error(s, &m))?;
                let keep = crate::expr::eval::truth(arrow_array::cast::AsArray::as_boolean(&keep));
                if keep.true_count() == batch.num_rows() {
                    batch
                } else {
                    arrow_select::filter::filter_record_batch(&batch, &keep).map_err(arrow_err)?
                }
            }
        };
        let mut cols = batch.columns()[..self.keep].to_vec();
        for (_, c) in &self.columns {
            cols.push(c.expr.evaluate(&batch).map_err(|(s, m)| c.error(s, &m))?);
        }
        RecordBatch::try_new_with_options(
            schema,
            cols,
            &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
        )
        .map_err(arrow_err)
    }
}
