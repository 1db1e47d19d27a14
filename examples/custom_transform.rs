//! Embedding barge in an ETL job: copy a table with a transform of your own.
//!
//! The transform works on whole Arrow record batches (columnar, no per-row structs): it adds
//! `slug` (the name in lower case, words joined by '-') and `name_length` to `characters`.
//! barge derives the two new target columns (text, integer) from the Arrow types.
//!
//! ```sh
//! eval "$(scripts/services)"
//! cargo run --release --example custom_transform -- "${BARGE_MYSQL_URL}barge_demo" "$BARGE_PG_URL"
//! ```

use arrow_array::builder::{Int32Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use barge::plan::TableSpec;
use barge::transform::Transform;
use barge::{CopyOptions, DbUrl, Selection};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug)]
struct Slug {
    column: String,
}

impl Transform for Slug {
    fn output_schema(&self, input: &SchemaRef) -> barge::Result<SchemaRef> {
        match input.field_with_name(&self.column) {
            Ok(f) if f.data_type() == &DataType::Utf8 => {}
            _ => {
                return Err(barge::Error::Transform(format!(
                    "slug: no text column `{}`",
                    self.column
                )))
            }
        }
        let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("slug", DataType::Utf8, true));
        fields.push(Field::new("name_length", DataType::Int32, true));
        Ok(Arc::new(Schema::new(fields)))
    }

    fn apply(&self, batch: RecordBatch) -> barge::Result<RecordBatch> {
        let schema = self.output_schema(&batch.schema())?;
        let names = batch
            .column(
                batch
                    .schema()
                    .index_of(&self.column)
                    .expect("checked above"),
            )
            .as_string::<i32>();
        let mut slugs = StringBuilder::with_capacity(names.len(), names.value_data().len());
        let mut lengths = Int32Builder::with_capacity(names.len());
        let mut buf = String::new();
        for name in names.iter() {
            match name {
                Some(n) => {
                    buf.clear();
                    for (i, word) in n.split_whitespace().enumerate() {
                        if i > 0 {
                            buf.push('-');
                        }
                        buf.extend(word.chars().flat_map(char::to_lowercase));
                    }
                    slugs.append_value(&buf);
                    lengths.append_value(n.chars().count() as i32);
                }
                None => {
                    slugs.append_null();
                    lengths.append_null();
                }
            }
        }
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(slugs.finish()));
        columns.push(Arc::new(lengths.finish()));
        RecordBatch::try_new(schema, columns).map_err(|e| barge::Error::User {
            context: "slug".into(),
            source: Box::new(e),
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(from), Some(to)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: custom_transform MYSQL_URL/DATABASE POSTGRES_URL");
    };
    let spec = TableSpec {
        target: Some("characters_with_slugs".into()),
        transforms: vec![Arc::new(Slug {
            column: "name".into(),
        })],
        ..TableSpec::default()
    };
    let opts = CopyOptions {
        selection: Selection {
            tables: vec!["characters".into()],
            specs: BTreeMap::from([("characters".to_string(), spec)]),
            ..Selection::default()
        },
        drop: true,
        ..CopyOptions::default()
    };
    let report = barge::copy(&DbUrl::parse(from)?, &DbUrl::parse(to)?, &opts).await?;
    print!("{}", report.to_text());
    anyhow::ensure!(report.ok(), "the copy failed");
    Ok(())
}
