//! Micro-benchmarks of the hot paths, with throughput in rows/s and bytes/s:
//! - decode: MySQL wire values → Arrow builders → RecordBatch (the reader's inner loop);
//! - encode: RecordBatch → PostgreSQL binary COPY bytes (the writer's inner loop);
//! - transform: each record-batch operator.
//!
//! `cargo bench --bench hot_paths`

use arrow_array::RecordBatch;
use arrow_schema::Schema;
use barge::catalog::Column;
use barge::engine::mysql::read::ColumnBuilder;
use barge::engine::postgres::copy_format::CopyEncoder;
use barge::types::{map_mysql, Mapping};
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mysql_async::Value;
use std::hint::black_box;
use std::sync::Arc;

const ROWS: usize = 4096;

fn col(name: &str, data_type: &str, column_type: &str) -> (String, Mapping) {
    let c = Column {
        name: name.into(),
        data_type: data_type.into(),
        column_type: column_type.into(),
        numeric_precision: column_type
            .split(['(', ',', ')'])
            .nth(1)
            .and_then(|p| p.trim().parse().ok()),
        numeric_scale: column_type
            .split([',', ')'])
            .nth(1)
            .and_then(|s| s.trim().parse().ok()),
        datetime_precision: Some(6),
        char_max_length: Some(255),
        ..Column::default()
    };
    (name.into(), map_mysql(&c).expect("mapped"))
}

/// The `characters` table's columns and a batch of wire values shaped like the generator's.
fn characters() -> (Vec<(String, Mapping)>, Vec<Vec<Value>>) {
    let cols = vec![
        col("id", "bigint", "bigint(20)"),
        col("name", "varchar", "varchar(255)"),
        col("publisher_id", "bigint", "bigint(20)"),
        col("alignment", "varchar", "varchar(20)"),
        col("first_appearance", "date", "date"),
        col("power_level", "int", "int(11)"),
        col("biography", "text", "text"),
        col("active", "tinyint", "tinyint(1)"),
        col("created_at", "datetime", "datetime(6)"),
        col("updated_at", "datetime", "datetime(6)"),
    ];
    let rows = (0..ROWS as i64)
        .map(|i| {
            vec![
                Value::Int(i + 1),
                Value::Bytes(format!("Captain Ōkami {i}").into_bytes()),
                if i % 20 == 0 {
                    Value::NULL
                } else {
                    Value::Int(i % 3 + 1)
                },
                Value::Bytes(b"neutral".to_vec()),
                Value::Date(
                    1938 + (i % 80) as u16,
                    1 + (i % 12) as u8,
                    1 + (i % 28) as u8,
                    0,
                    0,
                    0,
                    0,
                ),
                Value::Int(i * 7 - 1000),
                Value::Bytes(
                    "the hero of the night café 🦸 über mask "
                        .repeat(3)
                        .into_bytes(),
                ),
                Value::Int(i % 2),
                Value::Date(2015, 5, 1 + (i % 28) as u8, 12, 30, 45, 123_456),
                Value::Date(2021, 6, 1 + (i % 28) as u8, 1, 2, 3, 999_999),
            ]
        })
        .collect();
    (cols, rows)
}

/// Decimal-heavy rows: numeric is the most involved binary encoding.
fn decimals() -> (Vec<(String, Mapping)>, Vec<Vec<Value>>) {
    let cols = vec![
        col("price", "decimal", "decimal(12,2)"),
        col("rate", "decimal", "decimal(38,10)"),
        col("big", "decimal", "decimal(65,30)"),
        col("likes", "bigint", "bigint(20) unsigned"),
    ];
    let rows = (0..ROWS as u64)
        .map(|i| {
            vec![
                Value::Bytes(
                    format!("{}.{:02}", i * 1_234_567 % 10_000_000_000, i % 100).into_bytes(),
                ),
                Value::Bytes(format!("-{}.{:010}", i * 97, i * 31 % 10_000_000_000).into_bytes()),
                Value::Bytes(format!("{}{}.{:030}", i, "9".repeat(20), i).into_bytes()),
                Value::UInt(u64::MAX - i),
            ]
        })
        .collect();
    (cols, rows)
}

fn decode(cols: &[(String, Mapping)], rows: &[Vec<Value>], schema: &Arc<Schema>) -> RecordBatch {
    let mut builders: Vec<ColumnBuilder> = cols
        .iter()
        .map(|(_, m)| ColumnBuilder::new(m, ROWS).unwrap())
        .collect();
    for row in rows {
        for (b, v) in builders.iter_mut().zip(row) {
            b.append(v).unwrap();
        }
    }
    RecordBatch::try_new(
        schema.clone(),
        builders.iter_mut().map(ColumnBuilder::finish).collect(),
    )
    .unwrap()
}

fn wire_bytes(rows: &[Vec<Value>]) -> u64 {
    rows.iter()
        .flatten()
        .map(|v| match v {
            Value::Bytes(b) => b.len() as u64,
            Value::NULL => 0,
            _ => 8,
        })
        .sum()
}

fn bench_table(
    c: &mut Criterion,
    name: &str,
    (cols, rows): (Vec<(String, Mapping)>, Vec<Vec<Value>>),
) {
    let schema = Arc::new(Schema::new(
        cols.iter().map(|(n, m)| m.field(n)).collect::<Vec<_>>(),
    ));
    let encoder = CopyEncoder::new(
        cols.iter().map(|(n, _)| n.clone()).collect(),
        cols.iter().map(|(_, m)| m.ty.clone()).collect(),
    );
    let batch = decode(&cols, &rows, &schema);
    let mut probe = BytesMut::new();
    encoder.encode(&batch, &mut probe).unwrap();

    let mut g = c.benchmark_group(format!("decode/{name}"));
    g.throughput(Throughput::Elements(ROWS as u64));
    g.bench_function("rows", |b| {
        b.iter(|| decode(black_box(&cols), black_box(&rows), &schema))
    });
    g.throughput(Throughput::Bytes(wire_bytes(&rows)));
    g.bench_function("bytes", |b| {
        b.iter(|| decode(black_box(&cols), black_box(&rows), &schema))
    });
    g.finish();

    let mut g = c.benchmark_group(format!("encode/{name}"));
    let mut buf = BytesMut::with_capacity(probe.len() * 2);
    g.throughput(Throughput::Elements(ROWS as u64));
    g.bench_function("rows", |b| {
        b.iter(|| {
            buf.clear();
            encoder.encode(black_box(&batch), &mut buf).unwrap();
        })
    });
    g.throughput(Throughput::Bytes(probe.len() as u64));
    g.bench_function("bytes", |b| {
        b.iter(|| {
            buf.clear();
            encoder.encode(black_box(&batch), &mut buf).unwrap();
        })
    });
    g.finish();
}

/// Each transform operator over a `characters` batch.
fn bench_transforms(c: &mut Criterion) {
    use barge::transform::{Constant, Literal, Project, Rename, Transform};
    let (cols, rows) = characters();
    let schema = Arc::new(Schema::new(
        cols.iter().map(|(n, m)| m.field(n)).collect::<Vec<_>>(),
    ));
    let batch = decode(&cols, &rows, &schema);
    let ops: Vec<(&str, Box<dyn Transform>)> = vec![
        (
            "rename",
            Box::new(Rename {
                pairs: vec![("name".into(), "nickname".into())],
            }),
        ),
        (
            "project",
            Box::new(Project {
                columns: vec!["id".into(), "name".into(), "publisher_id".into()],
            }),
        ),
        (
            "constant",
            Box::new(Constant {
                name: "secret_identity".into(),
                value: Literal::Text("Clark Kent".into()),
            }),
        ),
    ];
    let mut g = c.benchmark_group("transform");
    g.throughput(Throughput::Elements(ROWS as u64));
    for (name, op) in &ops {
        g.bench_function(*name, |b| {
            b.iter(|| op.apply(black_box(batch.clone())).unwrap())
        });
    }
    g.finish();

    // Expressions, each as a computed column (and one as a filter) over the same batch.
    let scope_columns: Vec<(String, arrow_schema::DataType)> = cols
        .iter()
        .map(|(n, m)| (n.clone(), m.arrow.clone()))
        .collect();
    let compiled = |text: &str| {
        let src = barge::expr::ExprSource::parse(text, "bench").unwrap();
        let expr = barge::expr::compile(
            &src,
            &barge::expr::Scope {
                columns: &scope_columns,
                now_micros: 0,
            },
        )
        .unwrap();
        barge::transform::Compiled {
            expr,
            label: "bench".into(),
            source: Some(src),
        }
    };
    let exprs = [
        ("lower", "lower(name)"),
        ("concat", "concat(name, ' #', publisher_id)"),
        ("substring_replace", "replace(substring(name, 1, 12), ' ', '-')"),
        ("arithmetic", "power_level * 1.5 + 1"),
        (
            "case",
            "CASE WHEN power_level >= 50000 THEN 'S' WHEN power_level >= 1000 THEN 'A' ELSE 'B' END",
        ),
        ("coalesce", "coalesce(alignment, 'unknown')"),
        ("cast_text", "created_at::text"),
    ];
    let mut g = c.benchmark_group("expr");
    g.throughput(Throughput::Elements(ROWS as u64));
    for (name, text) in exprs {
        let op = barge::transform::Compute {
            filter: None,
            columns: vec![("out".into(), compiled(text))],
            keep: cols.len(),
        };
        g.bench_function(name, |b| {
            b.iter(|| op.apply(black_box(batch.clone())).unwrap())
        });
    }
    let op = barge::transform::Compute {
        filter: Some(compiled(
            "alignment IN ('good', 'neutral') AND upper(substring(name, 1, 1)) <> 'L'",
        )),
        columns: vec![],
        keep: cols.len(),
    };
    g.bench_function("filter", |b| {
        b.iter(|| op.apply(black_box(batch.clone())).unwrap())
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_table(c, "characters", characters());
    bench_table(c, "decimals", decimals());
    bench_transforms(c);
}

criterion_group!(hot_paths, benches);
criterion_main!(hot_paths);
