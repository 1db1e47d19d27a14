//! Transforms: operators from one Arrow record batch to another, between reader and writer.
//!
//! Renames and dropped columns in a job are compiled into the plan (columns are simply named
//! differently or not read at all), so they cost nothing per batch; the operators here are
//! for what must touch the data, and for library users who plug in their own.

mod compute;

pub use compute::{Compiled, Compute};

use crate::error::{Error, Result};
use crate::types::Logical;
use arrow_array::{
    new_null_array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use std::sync::Arc;

/// A record-batch operator. `output_schema` lets a plan check a chain before any data moves.
pub trait Transform: Send + Sync + std::fmt::Debug {
    fn output_schema(&self, input: &SchemaRef) -> Result<SchemaRef>;
    fn apply(&self, batch: RecordBatch) -> Result<RecordBatch>;
}

fn arrow_err(source: arrow_schema::ArrowError) -> Error {
    Error::Arrow {
        context: "transform".into(),
        source,
    }
}

/// Rename columns (`old → new`); other columns pass through.
#[derive(Debug, Clone)]
pub struct Rename {
    pub pairs: Vec<(String, String)>,
}

impl Transform for Rename {
    fn output_schema(&self, input: &SchemaRef) -> Result<SchemaRef> {
        for (old, _) in &self.pairs {
            if input.field_with_name(old).is_err() {
                return Err(Error::Transform(format!("rename: no column `{old}`")));
            }
        }
        let fields: Vec<Field> = input
            .fields()
            .iter()
            .map(|f| match self.pairs.iter().find(|(o, _)| o == f.name()) {
                Some((_, new)) => f.as_ref().clone().with_name(new),
                None => f.as_ref().clone(),
            })
            .collect();
        Ok(Arc::new(Schema::new(fields)))
    }

    fn apply(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let schema = self.output_schema(&batch.schema())?;
        RecordBatch::try_new(schema, batch.columns().to_vec()).map_err(arrow_err)
    }
}

/// Keep only these columns, in this order.
#[derive(Debug, Clone)]
pub struct Project {
    pub columns: Vec<String>,
}

impl Project {
    fn indices(&self, input: &Schema) -> Result<Vec<usize>> {
        self.columns
            .iter()
            .map(|c| {
                input
                    .index_of(c)
                    .map_err(|_| Error::Transform(format!("project: no column `{c}`")))
            })
            .collect()
    }
}

impl Transform for Project {
    fn output_schema(&self, input: &SchemaRef) -> Result<SchemaRef> {
        Ok(Arc::new(
            input.project(&self.indices(input)?).map_err(arrow_err)?,
        ))
    }

    fn apply(&self, batch: RecordBatch) -> Result<RecordBatch> {
        batch
            .project(&self.indices(&batch.schema())?)
            .map_err(arrow_err)
    }
}

/// A literal value for an added column.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl Literal {
    pub fn arrow_type(&self) -> DataType {
        match self {
            Literal::Null | Literal::Text(_) => DataType::Utf8,
            Literal::Bool(_) => DataType::Boolean,
            Literal::Int(_) => DataType::Int64,
            Literal::Float(_) => DataType::Float64,
        }
    }

    /// The type the column gets when the job does not name one.
    pub fn logical_type(&self) -> Logical {
        match self {
            Literal::Null | Literal::Text(_) => Logical::Text(None),
            Literal::Bool(_) => Logical::Bool,
            Literal::Int(_) => Logical::Int64,
            Literal::Float(_) => Logical::Float64,
        }
    }

    pub(crate) fn array(&self, n: usize) -> ArrayRef {
        match self {
            Literal::Null => new_null_array(&DataType::Utf8, n),
            Literal::Bool(b) => Arc::new(BooleanArray::from(vec![*b; n])),
            Literal::Int(i) => Arc::new(Int64Array::from_value(*i, n)),
            Literal::Float(f) => Arc::new(Float64Array::from_value(*f, n)),
            Literal::Text(s) => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                s.as_str(),
                n,
            ))),
        }
    }
}

/// Append a column holding the same value in every row.
#[derive(Debug, Clone)]
pub struct Constant {
    pub name: String,
    pub value: Literal,
}

impl Transform for Constant {
    fn output_schema(&self, input: &SchemaRef) -> Result<SchemaRef> {
        if input.field_with_name(&self.name).is_ok() {
            return Err(Error::Transform(format!(
                "add: column `{}` already exists",
                self.name
            )));
        }
        let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new(&self.name, self.value.arrow_type(), true));
        Ok(Arc::new(Schema::new(fields)))
    }

    fn apply(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let schema = self.output_schema(&batch.schema())?;
        let mut cols = batch.columns().to_vec();
        cols.push(self.value.array(batch.num_rows()));
        RecordBatch::try_new(schema, cols).map_err(arrow_err)
    }
}

/// Run a chain of transforms over a batch.
pub fn apply_all(transforms: &[Arc<dyn Transform>], mut batch: RecordBatch) -> Result<RecordBatch> {
    for t in transforms {
        batch = t.apply(batch)?;
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec![Some("Clark"), None, Some("Bruce")])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn rename_project_constant() {
        let chain: Vec<Arc<dyn Transform>> = vec![
            Arc::new(Rename {
                pairs: vec![("name".into(), "nickname".into())],
            }),
            Arc::new(Constant {
                name: "secret_identity".into(),
                value: Literal::Text("Clark Kent".into()),
            }),
            Arc::new(Project {
                columns: vec!["secret_identity".into(), "id".into(), "nickname".into()],
            }),
        ];
        let out = apply_all(&chain, batch()).unwrap();
        let schema = out.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["secret_identity", "id", "nickname"]);
        assert_eq!(out.column(0).as_string::<i32>().value(2), "Clark Kent");
        assert_eq!(out.column(1).as_primitive::<Int64Type>().value(1), 2);
        assert!(out.column(2).is_null(1));
    }

    #[test]
    fn schema_errors_name_the_column() {
        let s = batch().schema();
        let e = Rename {
            pairs: vec![("nope".into(), "x".into())],
        }
        .output_schema(&s)
        .unwrap_err();
        assert!(e.to_string().contains("`nope`"));
        let e = Constant {
            name: "id".into(),
            value: Literal::Int(1),
        }
        .output_schema(&s)
        .unwrap_err();
        assert!(e.to_string().contains("already exists"));
        let e = Project {
            columns: vec!["gone".into()],
        }
        .output_schema(&s)
        .unwrap_err();
        assert!(e.to_string().contains("`gone`"));
    }
}

/// Rewrite a key column through a parent's old → new key map (in memory). A key with no
/// parent row (an orphan) is an error, or, with `null_orphans`, becomes NULL and is counted.
#[derive(Debug)]
pub struct KeyRemap {
    pub column: String,
    pub parent: String,
    pub map: Arc<std::collections::HashMap<i64, i64>>,
    pub null_orphans: bool,
    pub orphans: Arc<std::sync::atomic::AtomicU64>,
}

impl KeyRemap {
    fn remap<T>(&self, a: &arrow_array::PrimitiveArray<T>) -> Result<ArrayRef>
    where
        T: arrow_array::ArrowPrimitiveType,
        T::Native: TryFrom<i64> + Into<i64>,
    {
        let mut out = arrow_array::builder::PrimitiveBuilder::<T>::with_capacity(a.len());
        let mut orphans = 0u64;
        for v in a.iter() {
            match v {
                None => out.append_null(),
                Some(old) => match self.map.get(&old.into()) {
                    Some(&new) => out.append_value(T::Native::try_from(new).map_err(|_| {
                        Error::Transform(format!("{}: new key {new} does not fit the column type", self.column))
                    })?),
                    None if self.null_orphans => {
                        orphans += 1;
                        out.append_null();
                    }
                    None => {
                        return Err(Error::Transform(format!(
                            "{} {} has no row in {}; set orphans.{} = \"null\" or \"skip\" to load such rows",
                            self.column,
                            old.into(),
                            self.parent,
                            self.column
                        )))
                    }
                },
            }
        }
        self.orphans
            .fetch_add(orphans, std::sync::atomic::Ordering::Relaxed);
        Ok(Arc::new(out.finish()))
    }
}

impl Transform for KeyRemap {
    fn output_schema(&self, input: &SchemaRef) -> Result<SchemaRef> {
        match input.field_with_name(&self.column).map(|f| f.data_type()) {
            Ok(DataType::Int16 | DataType::Int32 | DataType::Int64) => Ok(input.clone()),
            _ => Err(Error::Transform(format!(
                "remap: `{}` is not an integer key column",
                self.column
            ))),
        }
    }

    fn apply(&self, batch: RecordBatch) -> Result<RecordBatch> {
        use arrow_array::cast::AsArray;
        use arrow_array::types::{Int16Type, Int32Type, Int64Type};
        let i = batch.schema().index_of(&self.column).map_err(arrow_err)?;
        let col = batch.column(i);
        let new = match col.data_type() {
            DataType::Int16 => self.remap(col.as_primitive::<Int16Type>())?,
            DataType::Int32 => self.remap(col.as_primitive::<Int32Type>())?,
            DataType::Int64 => self.remap(col.as_primitive::<Int64Type>())?,
            t => {
                return Err(Error::Transform(format!(
                    "remap: `{}` is {t}, not an integer",
                    self.column
                )))
            }
        };
        let mut cols = batch.columns().to_vec();
        cols[i] = new;
        RecordBatch::try_new(batch.schema(), cols).map_err(arrow_err)
    }
}
