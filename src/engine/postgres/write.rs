//! The PostgreSQL target: DDL, loading through binary COPY, and the atomic finish of a table.
//!
//! Each table loads into a staging table (`_barge_<name>`) over as many connections as it
//! has partitions. Only when every partition is in and the row count matches does one
//! transaction put it in place (rename, or INSERT … SELECT for --data-only), add the primary
//! key, indexes and identity. A failed or killed run therefore never leaves a table that looks
//! complete: at worst a `_barge_*` staging table, which the next run drops.

use crate::engine::postgres::copy_format::{CopyEncoder, HEADER, TRAILER};
use crate::engine::postgres::types::pg_type;
use crate::engine::{RemapOutcome, Written};
use crate::error::{Context, Error, Result};
use crate::plan::{Mode, TablePlan, TargetColumn, TargetDefault};
use crate::types::Logical;
use arrow_array::RecordBatch;
use bytes::{Bytes, BytesMut};
use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio_postgres::Client;

pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub fn quote_literal(s: &str) -> String {
    if s.contains('\\') {
        format!("E'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

pub fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(table))
}

/// The staging table's name: derived from the target name so a rerun finds and drops
/// what a killed run left.
pub use crate::plan::staging_name;

/// The native PostgreSQL type of a column that travels as text (a PostgreSQL source's type
/// barge does not decode): the staging column is text, and becomes this type after the load.
fn retyped(c: &TargetColumn, schema: &str) -> Option<String> {
    c.native
        .as_ref()
        .filter(|n| c.as_text && n.engine == crate::url::Engine::Postgres)
        .map(|n| native_type(n, schema))
}

/// A PostgreSQL source's declaration; a type it defined itself is the one created in the
/// target schema (`prepare_run`).
fn native_type(n: &crate::plan::NativeColumn, schema: &str) -> String {
    match &n.type_def {
        // PostgreSQL writes any array as `[]`, whatever its dimensions.
        Some(t) if n.declaration.ends_with("[]") => format!("{}[]", qualified(schema, &t.name)),
        Some(t) => qualified(schema, &t.name),
        None => n.declaration.clone(),
    }
}

/// The column's declaration from a PostgreSQL source, when it is copied as it is.
fn pg_native(c: &TargetColumn) -> Option<&crate::plan::NativeColumn> {
    c.native
        .as_ref()
        .filter(|n| n.engine == crate::url::Engine::Postgres)
}

/// The column's type in the finished table. A PostgreSQL source's column keeps its
/// declaration: the decoded types have the same binary form as the type barge writes, the
/// others stage as text until the finish.
pub fn declaration(c: &TargetColumn, schema: &str) -> String {
    match pg_native(c) {
        Some(n) => native_type(n, schema),
        None => pg_type(&c.ty),
    }
}

/// `CREATE TYPE` / `CREATE DOMAIN` for each type the plans' columns need, once each and
/// only where the target schema has no type of that name yet (runs that share the schema,
/// reruns and `--drop` keep the one there).
pub fn create_types_sql(schema: &str, plans: &[TablePlan]) -> Vec<String> {
    use crate::catalog::TypeKind;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for n in plans
        .iter()
        .flat_map(|p| &p.target_columns)
        .filter_map(|c| c.native.as_ref())
    {
        let Some(t) = n.type_def.as_ref().filter(|t| seen.insert(t.name.clone())) else {
            continue;
        };
        let name = qualified(schema, &t.name);
        let create = match &t.kind {
            TypeKind::Enum { labels } => {
                let labels: Vec<String> = labels.iter().map(|l| quote_literal(l)).collect();
                format!("CREATE TYPE {name} AS ENUM ({})", labels.join(", "))
            }
            TypeKind::Domain {
                base,
                checks,
                not_null,
                default,
            } => {
                let mut s = format!("CREATE DOMAIN {name} AS {base}");
                if let Some(d) = default {
                    s.push_str(&format!(" DEFAULT {d}"));
                }
                if *not_null {
                    s.push_str(" NOT NULL");
                }
                for c in checks {
                    s.push(' ');
                    s.push_str(c);
                }
                s
            }
        };
        out.push(format!(
            "DO $barge$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n \
             ON n.oid = t.typnamespace WHERE n.nspname = {} AND t.typname = {}) THEN {create}; \
             END IF; END $barge$",
            quote_literal(schema),
            quote_literal(&t.name)
        ));
    }
    out
}

/// What a column from `source` loses in PostgreSQL, or which of its values PostgreSQL
/// refuses. A column with a cast or an expression has the type its job file asked for.
pub fn caveat(
    table: &str,
    source: crate::url::Engine,
    col: &crate::catalog::Column,
    m: &crate::types::Mapping,
    c: &TargetColumn,
) -> crate::engine::Caveat {
    use crate::types::Decode;
    let mut out = crate::engine::Caveat::default();
    let recreated = c.native.as_ref().is_some_and(|n| n.type_def.is_some());
    if col.user_type && source == crate::url::Engine::Postgres && !recreated {
        out.lossy = Some(format!(
            "the type {}: its text (composite types, and domains over them, are not recreated)",
            col.column_type
        ));
    }
    if c.native.is_none() || source != crate::url::Engine::Mysql {
        return out;
    }
    out.lossy = match m.decode {
        Decode::Date | Decode::DateTime => {
            Some("zero and partial dates: NULL, counted (--zero-dates error refuses them)".into())
        }
        Decode::Json => {
            Some("key order, spacing and duplicate keys (jsonb normalizes them)".into())
        }
        Decode::Geometry => Some("the SRID: the shape as WKB".into()),
        _ if col.data_type == "year" => Some("the YEAR type: the year as a number".into()),
        _ => None,
    };
    if m.decode == Decode::Bool01 {
        out.refuses = Some(format!(
            "values other than 0 and 1 (--cast {table}.{}=smallint keeps them)",
            col.name
        ));
    }
    out
}

/// A column's default as PostgreSQL says it: a value as a literal of the column's type.
/// None for SQL of another engine (a MySQL target declares those itself).
pub fn default_sql(c: &TargetColumn) -> Option<String> {
    let typed = |v: &str| format!("{}::{}", quote_literal(v), pg_type(&c.ty));
    Some(match c.default.as_ref()? {
        TargetDefault::Value(v) => match &c.ty {
            Logical::Bool if matches!(v.as_str(), "true" | "false") => v.clone(),
            // Bare only as a plain number: `NaN` or `inf` bare would name a column.
            t if t.is_number() && is_plain_number(v) => v.clone(),
            Logical::Text(_) | Logical::Enum(_) => quote_literal(v),
            _ => typed(v),
        },
        TargetDefault::Values(items) => format!(
            "ARRAY[{}]::text[]",
            items
                .iter()
                .map(|i| quote_literal(i))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TargetDefault::Now => "CURRENT_TIMESTAMP".into(),
        TargetDefault::LocalNow => "LOCALTIMESTAMP".into(),
        TargetDefault::Today => "CURRENT_DATE".into(),
        TargetDefault::Sql {
            engine: crate::url::Engine::Postgres,
            text,
        } => text.clone(),
        TargetDefault::Sql { .. } => return None,
    })
}

/// `-12`, `3.50`, `1e-5`: a numeric literal PostgreSQL reads as one without quotes.
fn is_plain_number(v: &str) -> bool {
    let v = v.strip_prefix(['-', '+']).unwrap_or(v);
    let (mantissa, exponent) = match v.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['-', '+']).unwrap_or(e))),
        None => (v, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => {
            (digits(a) || a.is_empty()) && (digits(b) || b.is_empty()) && mantissa != "."
        }
        None => digits(mantissa),
    };
    mantissa_ok && exponent.is_none_or(digits)
}

/// The CHECK that keeps a column to an enum's labels, named after
/// the target table: the staging table's name would stick otherwise.
fn allowed_check(target: &str, c: &TargetColumn) -> Option<String> {
    let list: Vec<String> = match &c.ty {
        // A type the target creates holds its own labels.
        Logical::Enum(labels) if !labels.is_empty() && pg_native(c).is_none() => {
            labels.iter().map(|v| quote_literal(v)).collect()
        }
        _ => return None,
    };
    Some(format!(
        "CONSTRAINT {} CHECK ({} IN ({}))",
        quote_ident(&crate::plan::truncate_ident(&format!(
            "{target}_{}_check",
            c.name
        ))),
        quote_ident(&c.name),
        list.join(", ")
    ))
}

/// An index's keys: its columns, and a prefix (MySQL's `KEY (title(20))`) as the expression
/// of that many characters, or bytes of a bytea.
pub fn index_keys(plan: &TablePlan, i: &crate::plan::TargetIndex) -> String {
    let keys: Vec<String> = i
        .columns
        .iter()
        .map(|(name, prefix)| {
            let q = quote_ident(name);
            let bytes = plan
                .target_columns
                .iter()
                .any(|c| &c.name == name && c.ty == crate::types::Logical::Binary);
            match prefix {
                Some(n) if bytes => format!("(substring({q} from 1 for {n}))"),
                Some(n) => format!("(left({q}, {n}))"),
                None => q,
            }
        })
        .collect();
    format!("({})", keys.join(", "))
}

/// `full`: the final table (schema-only), not a staging table.
fn column_ddl(target: &str, c: &TargetColumn, full: bool, schema: &str) -> String {
    let with_not_null = full;
    let ty = match retyped(c, schema) {
        Some(_) if !full => "text".to_string(),
        _ => declaration(c, schema),
    };
    let mut s = format!("{} {ty}", quote_ident(&c.name));
    // A text staging column cannot take its native type's default: it comes with the type.
    if let Some(d) = default_sql(c).filter(|_| full || retyped(c, schema).is_none()) {
        s.push_str(" DEFAULT ");
        s.push_str(&d);
    }
    if c.not_null || (with_not_null && c.deferred_not_null) {
        s.push_str(" NOT NULL");
    }
    if let Some(check) = allowed_check(target, c) {
        s.push(' ');
        s.push_str(&check);
    }
    s
}

/// CREATE TABLE for the staging table (or, with `full`, the final table for --schema-only).
pub fn create_table_sql(schema: &str, name: &str, plan: &TablePlan, full: bool) -> String {
    let mut cols: Vec<String> = plan
        .target_columns
        .iter()
        .map(|c| {
            let mut s = column_ddl(&plan.target, c, full, schema);
            if full && c.identity {
                s.push_str(" GENERATED BY DEFAULT AS IDENTITY");
            }
            s
        })
        .collect();
    if full && !plan.primary_key.is_empty() {
        cols.push(primary_key_clause(plan));
    }
    if full {
        cols.extend(check_clauses(plan));
    }
    format!(
        "CREATE TABLE {} (\n  {}\n)",
        qualified(schema, name),
        cols.join(",\n  ")
    )
}

/// A PostgreSQL source's CHECK constraints, as it defines them.
pub fn check_clauses(plan: &TablePlan) -> impl Iterator<Item = String> + '_ {
    plan.checks
        .iter()
        .map(|(name, def)| format!("CONSTRAINT {} {def}", quote_ident(name)))
}

fn primary_key_clause(plan: &TablePlan) -> String {
    format!(
        "CONSTRAINT {} PRIMARY KEY ({})",
        quote_ident(&plan.primary_key_name),
        plan.primary_key
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Statements that complete a table once its data is in: keys, indexes, comments.
/// NOT NULL checks and the primary key go into one ALTER TABLE: PostgreSQL verifies all of
/// its subcommands in a single scan, where separate statements would scan once each.
/// `nulls`: NULLs written per target column (a deferred NOT NULL column gets its constraint
/// only if none was: zero dates became NULL).
pub fn post_load_sql(schema: &str, plan: &TablePlan, nulls: &[u64]) -> Vec<String> {
    let t = qualified(schema, &plan.target);
    let mut out = Vec::new();
    let mut alter: Vec<String> = Vec::new();
    for c in &plan.target_columns {
        if let Some(native) = retyped(c, schema) {
            let q = quote_ident(&c.name);
            alter.push(format!(
                "ALTER COLUMN {q} TYPE {native} USING {q}::{native}"
            ));
            if let Some(d) = default_sql(c) {
                alter.push(format!("ALTER COLUMN {q} SET DEFAULT {d}"));
            }
        }
    }
    alter.extend(
        plan.target_columns
            .iter()
            .zip(nulls)
            .filter(|(c, n)| c.deferred_not_null && **n == 0)
            .map(|(c, _)| format!("ALTER COLUMN {} SET NOT NULL", quote_ident(&c.name))),
    );
    if !plan.primary_key.is_empty() {
        alter.push(format!("ADD {}", primary_key_clause(plan)));
    }
    // Verified in the same scan as the NOT NULLs and the key.
    alter.extend(check_clauses(plan).map(|c| format!("ADD {c}")));
    if !alter.is_empty() {
        out.push(format!("ALTER TABLE {t} {}", alter.join(", ")));
    }
    out.extend(index_sql(schema, plan));
    out.extend(comment_sql(schema, plan));
    out.extend(on_update_trigger_sql(schema, plan));
    out
}

/// The one trigger function behind every table's `ON UPDATE CURRENT_TIMESTAMP` columns, in
/// the target schema. Its arguments come in pairs: a column name, and `timestamp` or
/// `timestamptz`. As in MySQL, a column gets the current time when an UPDATE changes the
/// row and does not change that column itself.
pub const ON_UPDATE_FUNCTION: &str = "_barge_on_update_current_timestamp";

pub fn on_update_function_sql(schema: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $barge$
DECLARE
  new_row jsonb := to_jsonb(NEW);
  old_row jsonb := to_jsonb(OLD);
  changes jsonb := '{{}}';
  i int := 0;
BEGIN
  IF new_row = old_row THEN
    RETURN NEW;
  END IF;
  WHILE i < TG_NARGS LOOP
    IF new_row -> TG_ARGV[i] IS NOT DISTINCT FROM old_row -> TG_ARGV[i] THEN
      changes := changes || jsonb_build_object(TG_ARGV[i],
        CASE TG_ARGV[i + 1] WHEN 'timestamptz' THEN to_jsonb(CURRENT_TIMESTAMP)
                            ELSE to_jsonb(LOCALTIMESTAMP) END);
    END IF;
    i := i + 2;
  END LOOP;
  RETURN jsonb_populate_record(NEW, changes);
END
$barge$",
        qualified(schema, ON_UPDATE_FUNCTION)
    )
}

/// The table's `ON UPDATE CURRENT_TIMESTAMP` trigger, when it has such columns.
pub fn on_update_trigger_sql(schema: &str, plan: &TablePlan) -> Option<String> {
    if plan.on_update_now.is_empty() {
        return None;
    }
    let args: Vec<String> = plan
        .on_update_now
        .iter()
        .map(|name| {
            let tz = plan
                .target_columns
                .iter()
                .find(|c| &c.name == name)
                .is_some_and(|c| matches!(c.ty, crate::types::Logical::TimestampUtc(_)));
            format!(
                "{}, '{}'",
                quote_literal(name),
                if tz { "timestamptz" } else { "timestamp" }
            )
        })
        .collect();
    Some(format!(
        "CREATE TRIGGER on_update_current_timestamp BEFORE UPDATE ON {} FOR EACH ROW EXECUTE FUNCTION {}({})",
        qualified(schema, &plan.target),
        qualified(schema, ON_UPDATE_FUNCTION),
        args.join(", ")
    ))
}

fn index_sql(schema: &str, plan: &TablePlan) -> Vec<String> {
    let t = qualified(schema, &plan.target);
    plan.indexes
        .iter()
        .map(|i| {
            let how = match &i.definition {
                Some(d) => d.clone(),
                None => index_keys(plan, i),
            };
            format!(
                "CREATE {}INDEX {} ON {t} {how}",
                if i.unique { "UNIQUE " } else { "" },
                quote_ident(&i.name),
            )
        })
        .collect()
}

fn comment_sql(schema: &str, plan: &TablePlan) -> Vec<String> {
    let t = qualified(schema, &plan.target);
    let mut out = Vec::new();
    if let Some(c) = &plan.comment {
        out.push(format!("COMMENT ON TABLE {t} IS {}", quote_literal(c)));
    }
    for c in &plan.target_columns {
        if let Some(cm) = &c.comment {
            out.push(format!(
                "COMMENT ON COLUMN {t}.{} IS {}",
                quote_ident(&c.name),
                quote_literal(cm)
            ));
        }
    }
    out
}

/// Identity columns: added after the load so COPY writes the source ids, then started past
/// both max(id) and MySQL's AUTO_INCREMENT counter (ids of deleted rows are not reused).
pub fn identity_sql(schema: &str, plan: &TablePlan) -> Vec<String> {
    let t = qualified(schema, &plan.target);
    let floor = plan.sequence_floor.unwrap_or(0);
    plan.target_columns
        .iter()
        .filter(|c| c.identity)
        .flat_map(|c| {
            let col = quote_ident(&c.name);
            [
                format!("ALTER TABLE {t} ALTER COLUMN {col} ADD GENERATED BY DEFAULT AS IDENTITY"),
                format!(
                    "SELECT setval(pg_get_serial_sequence({}, {}), GREATEST(COALESCE(max({col}), 0), {floor}, 1), \
                     COALESCE(max({col}), 0) > 0 OR {floor} > 0) FROM {t}",
                    quote_literal(&t),
                    quote_literal(&c.name),
                )
            ]
        })
        .collect()
}

/// Schema-only: the final table with everything but foreign keys.
pub fn schema_only_sql(schema: &str, plan: &TablePlan) -> Vec<String> {
    let mut out = vec![create_table_sql(schema, &plan.target, plan, true)];
    out.extend(index_sql(schema, plan));
    out.extend(comment_sql(schema, plan));
    out.extend(on_update_trigger_sql(schema, plan));
    out
}

pub fn foreign_key_sql(schema: &str, plan: &TablePlan) -> Vec<String> {
    plan.foreign_keys
        .iter()
        .map(|fk| {
            let cols = |v: &[String]| v.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", ");
            format!(
                "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON UPDATE {} ON DELETE {}",
                qualified(schema, &plan.target),
                quote_ident(&fk.name),
                cols(&fk.columns),
                qualified(schema, &fk.ref_table),
                cols(&fk.ref_columns),
                fk.on_update,
                fk.on_delete
            )
        })
        .collect()
}

/// Prove, before any data moves, that the batches this plan's reader and transforms produce
/// can be encoded for its target columns: an empty batch goes through the whole chain.
pub fn check_encodable(plan: &TablePlan) -> Result<()> {
    let mut schema = plan.reader_schema();
    for t in &plan.transforms {
        schema = t.output_schema(&schema).map_err(|e| Error::Table {
            table: plan.source.clone(),
            detail: e.to_string(),
        })?;
    }
    if schema.fields().len() != plan.target_columns.len() {
        return Err(Error::Table {
            table: plan.source.clone(),
            detail: format!(
                "the transforms give {} columns for {} target columns",
                schema.fields().len(),
                plan.target_columns.len()
            ),
        });
    }
    let empty = RecordBatch::new_empty(schema);
    let encoder = CopyEncoder::new(
        plan.target_columns.iter().map(|c| c.name.clone()).collect(),
        plan.target_columns.iter().map(|c| c.ty.clone()).collect(),
    );
    encoder
        .encode(&empty, &mut BytesMut::new())
        .map_err(|e| Error::Table {
            table: plan.source.clone(),
            // Found before any data moves, it is the plan's (a cast), not a bug.
            detail: match e {
                Error::Internal(m) => format!(
                    "{m}: barge writes a cast only where it keeps every value (integers to \
                     integers or decimals, decimals to decimals, text to text); name another type"
                ),
                e => e.to_string(),
            },
        })
}

/// Which of `names` exist as tables in `schema`.
pub async fn existing_tables(
    client: &Client,
    schema: &str,
    names: &[String],
) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname = ANY($2)",
            &[&schema, &names],
        )
        .await
        .ctx("looking up target tables")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Foreign keys that tables outside `names` hold on tables in `names`: (name, child, parent).
pub async fn outside_foreign_keys(
    client: &Client,
    schema: &str,
    names: &[String],
) -> Result<Vec<(String, String, String)>> {
    let rows = client
        .query(
            "SELECT c.conname::text, ch.relname::text, p.relname::text FROM pg_constraint c \
             JOIN pg_class ch ON ch.oid = c.conrelid JOIN pg_class p ON p.oid = c.confrelid \
             JOIN pg_namespace pn ON pn.oid = p.relnamespace JOIN pg_namespace chn ON chn.oid = ch.relnamespace \
             WHERE c.contype = 'f' AND pn.nspname = $1 AND p.relname = ANY($2) \
               AND NOT (chn.nspname = $1 AND ch.relname = ANY($2))",
            &[&schema, &names],
        )
        .await
        .ctx("looking up foreign keys on replaced tables")?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Every relation in `schema`, with the table each belongs to: what names barge may not
/// give its indexes (see `plan::unique_relation_names`).
pub async fn existing_relations(
    client: &Client,
    schema: &str,
) -> Result<Vec<crate::plan::ExistingRelation>> {
    let rows = client
        .query(
            "SELECT c.relname::text, \
               CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'i' THEN 'index' \
                 WHEN 'I' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' \
                 WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' \
                 ELSE 'type' END, \
               CASE WHEN c.relkind IN ('i', 'I') THEN \
                      (SELECT t.relname::text FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid \
                       WHERE x.indexrelid = c.oid) \
                    WHEN c.relkind = 'S' THEN \
                      (SELECT t.relname::text FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid \
                       WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid \
                         AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') LIMIT 1) \
                    WHEN c.relkind IN ('r', 'p') THEN c.relname::text END \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1",
            &[&schema],
        )
        .await
        .ctx("looking up the relations in the target schema")?;
    Ok(rows
        .iter()
        .map(|r| crate::plan::ExistingRelation {
            name: r.get(0),
            kind: r.get(1),
            owner: r.get(2),
        })
        .collect())
}

/// For --data-only: the target table must take every source column, and every target column
/// the source does not fill must be nullable or have a default.
pub async fn check_data_only_target(client: &Client, schema: &str, plan: &TablePlan) -> Result<()> {
    let rows = client
        .query(
            "SELECT a.attname, a.attnotnull, a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
            &[&schema, &plan.target],
        )
        .await
        .ctx("reading target columns")?;
    let target: Vec<(String, bool, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let missing: Vec<&str> = plan
        .target_columns
        .iter()
        .map(|c| c.name.as_str())
        .filter(|n| !target.iter().any(|(t, _, _)| t == n))
        .collect();
    if !missing.is_empty() {
        return Err(Error::TargetMismatch {
            table: format!("{schema}.{}", plan.target),
            detail: format!(
                "it has no column(s) {} (it has {})",
                missing.join(", "),
                target
                    .iter()
                    .map(|t| t.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    let unfilled: Vec<&str> = target
        .iter()
        .filter(|(n, not_null, has_default)| {
            *not_null && !*has_default && !plan.target_columns.iter().any(|c| &c.name == n)
        })
        .map(|t| t.0.as_str())
        .collect();
    if !unfilled.is_empty() {
        return Err(Error::TargetMismatch {
            table: format!("{schema}.{}", plan.target),
            detail: format!(
                "NOT NULL column(s) {} have no default and no source column",
                unfilled.join(", ")
            ),
        });
    }
    Ok(())
}

/// The staging columns as the target takes them: text-carried ones cast to their type.
fn select_list(plan: &TablePlan, schema: &str) -> String {
    plan.target_columns
        .iter()
        .map(|c| {
            let q = quote_ident(&c.name);
            match retyped(c, schema) {
                Some(native) => format!("{q}::{native}"),
                None => q,
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn column_list(plan: &TablePlan) -> String {
    plan.target_columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Drop a leftover staging table and create a fresh one. For --data-only, also prove with
/// EXPLAIN that the final INSERT … SELECT will type-check, before any data moves.
pub async fn prepare_staging(
    client: &Client,
    schema: &str,
    plan: &TablePlan,
    mode: Mode,
) -> Result<()> {
    let staging = staging_name(&plan.target);
    // No autovacuum while loading: it would analyze a half-loaded table, and the finishing
    // ALTER TABLE would wait deadlock_timeout (1 s) for it to be cancelled.
    let sql = format!(
        "DROP TABLE IF EXISTS {}; {} WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false)",
        qualified(schema, &staging),
        create_table_sql(schema, &staging, plan, false)
    );
    client
        .batch_execute(&sql)
        .await
        .ctx(format!("creating staging table for {}", plan.target))?;
    if mode == Mode::DataOnly {
        let cols = column_list(plan);
        let select = select_list(plan, schema);
        let check = format!(
            "EXPLAIN INSERT INTO {} ({cols}) SELECT {select} FROM {}",
            qualified(schema, &plan.target),
            qualified(schema, &staging)
        );
        if let Err(e) = client.batch_execute(&check).await {
            drop_staging(client, schema, plan).await;
            return Err(Error::TargetMismatch {
                table: format!("{schema}.{}", plan.target),
                detail: crate::error::pg_message(&e),
            });
        }
    }
    Ok(())
}

pub async fn drop_staging(client: &Client, schema: &str, plan: &TablePlan) {
    let sql = format!(
        "DROP TABLE IF EXISTS {}",
        qualified(schema, &staging_name(&plan.target))
    );
    if let Err(e) = client.batch_execute(&sql).await {
        tracing::warn!("could not drop staging table for {}: {}", plan.target, e);
    }
}

/// The COPY statement into a table's staging, and the encoder of its rows.
fn copy_into_staging(schema: &str, plan: &TablePlan) -> (String, CopyEncoder) {
    let sql = format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        qualified(schema, &staging_name(&plan.target)),
        column_list(plan)
    );
    let encoder = CopyEncoder::new(
        plan.target_columns.iter().map(|c| c.name.clone()).collect(),
        plan.target_columns.iter().map(|c| c.ty.clone()).collect(),
    );
    (sql, encoder)
}

/// Stream the batches from `rx` into the staging table with one binary COPY.
/// Returns the number of rows PostgreSQL reports as copied.
pub async fn copy_partition(
    client: &Client,
    schema: &str,
    plan: &TablePlan,
    mut rx: mpsc::Receiver<RecordBatch>,
    on_rows: crate::engine::OnRows<'_>,
) -> Result<Written> {
    let (sql, encoder) = copy_into_staging(schema, plan);
    let ctx = || format!("copying into {}", plan.target);
    let sink = client.copy_in::<_, Bytes>(&sql).await.ctx(ctx())?;
    futures_util::pin_mut!(sink);
    let mut buf = BytesMut::with_capacity(1 << 20);
    buf.extend_from_slice(HEADER);
    let mut bytes = HEADER.len() as u64 + TRAILER.len() as u64;
    while let Some(batch) = rx.recv().await {
        encoder.encode(&batch, &mut buf).map_err(|e| match e {
            Error::Value { column, detail, .. } => Error::Value {
                table: plan.source.clone(),
                column,
                detail,
            },
            e => e,
        })?;
        let chunk = buf.split().freeze();
        let (rows, len) = (batch.num_rows() as u64, chunk.len() as u64);
        bytes += len;
        sink.send(chunk).await.ctx(ctx())?;
        on_rows(rows, len);
    }
    buf.extend_from_slice(TRAILER);
    sink.send(buf.split().freeze()).await.ctx(ctx())?;
    let rows = sink.as_mut().finish().await.ctx(ctx())?;
    Ok(Written {
        rows,
        bytes,
        refused: 0,
    })
}

/// COPY one batch on its own (`--on-error skip-row`, under a savepoint): what the target
/// refuses comes back as `Refused`, with its reason and column.
pub async fn copy_batch(
    client: &Client,
    schema: &str,
    plan: &TablePlan,
    batch: &RecordBatch,
) -> Result<(u64, u64), crate::engine::isolate::LoadError> {
    use crate::engine::isolate::LoadError;
    let (sql, encoder) = copy_into_staging(schema, plan);
    let mut buf = BytesMut::with_capacity(1 << 16);
    buf.extend_from_slice(HEADER);
    match encoder.encode(batch, &mut buf) {
        Ok(()) => {}
        // A value PostgreSQL's binary form cannot carry is refused like one the server refuses.
        Err(Error::Value { column, detail, .. }) => {
            return Err(LoadError::Refused {
                reason: detail,
                column: Some(column),
            })
        }
        Err(e) => return Err(e.into()),
    }
    buf.extend_from_slice(TRAILER);
    let bytes = buf.len() as u64;
    let refused = |e: tokio_postgres::Error| match e.as_db_error() {
        // Class 22 (data exception) and 23 (integrity constraint violation): the rows.
        Some(db) if matches!(&db.code().code()[..2], "22" | "23") => LoadError::Refused {
            reason: crate::error::pg_message(&e),
            column: db.column().map(str::to_string),
        },
        _ => LoadError::Failed(Error::Postgres {
            context: format!("copying into {}", plan.target),
            source: e,
        }),
    };
    let sink = client.copy_in::<_, Bytes>(&sql).await.map_err(refused)?;
    futures_util::pin_mut!(sink);
    sink.send(buf.freeze()).await.map_err(refused)?;
    let rows = sink.as_mut().finish().await.map_err(refused)?;
    Ok((rows, bytes))
}

/// `setval` statements that move the sequences behind a target's serial/identity columns past
/// the keys just loaded.
async fn sequence_fixups(
    tx: &tokio_postgres::Transaction<'_>,
    target: &str,
    plan: &TablePlan,
) -> Result<Vec<String>> {
    let owned = tx
        .query(
            "SELECT a.attname FROM pg_attribute a \
             WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped \
               AND pg_get_serial_sequence($1, a.attname) IS NOT NULL",
            &[&target],
        )
        .await
        .ctx(format!("finishing table {}", plan.target))?;
    Ok(owned
        .iter()
        .map(|r| r.get::<_, String>(0))
        .filter(|name| plan.target_columns.iter().any(|c| c.name == *name))
        .map(|name| {
            let col = quote_ident(&name);
            format!(
                "SELECT setval(pg_get_serial_sequence({}, {}), GREATEST((SELECT COALESCE(max({col}), 0) FROM {target}), 1))",
                quote_literal(target),
                quote_literal(&name),
            )
        })
        .collect())
}

/// The table holding a remapped table's old → new keys, for the run's duration.
pub fn keymap_name(target: &str) -> String {
    crate::plan::helper_tables(target)[1].clone()
}

/// Finish a table that takes part in key remapping (after its parents): give it new keys
/// (`new_keys`: after the target's current maximum, in old-key order, recorded in a
/// target-side map table), rewrite key columns that reference remapped parents, apply the
/// orphan policies, and insert everything in one statement, in one transaction.
pub async fn finish_remapped(
    client: &mut Client,
    schema: &str,
    plan: &TablePlan,
    finish: Finish<'_>,
    reject_dir: &std::path::Path,
) -> Result<RemapOutcome> {
    let Finish {
        mode,
        drop_existing,
        nulls,
        mark,
    } = finish;
    use crate::plan::OrphanPolicy;
    let staging = qualified(schema, &staging_name(&plan.target));
    let target = qualified(schema, &plan.target);
    let fail = |detail: String| Error::Table {
        table: plan.source.clone(),
        detail,
    };
    let pg_err = |s: &str, e: tokio_postgres::Error| statement_error(&plan.source, s, e);
    let tx = client
        .transaction()
        .await
        .ctx(format!("finishing table {}", plan.target))?;
    let exec = |sql: String| {
        let tx = &tx;
        async move { tx.batch_execute(&sql).await.map_err(|e| pg_err(&sql, e)) }
    };
    if mode != Mode::DataOnly {
        if drop_existing {
            exec(format!("DROP TABLE IF EXISTS {target} CASCADE")).await?;
        }
        exec(create_table_sql(schema, &plan.target, plan, false)).await?;
    }
    // Nobody else may add keys while new ones are handed out.
    exec(format!("LOCK TABLE {target} IN SHARE ROW EXCLUSIVE MODE")).await?;
    let mut select: Vec<String> = plan
        .target_columns
        .iter()
        .map(|c| format!("s.{}", quote_ident(&c.name)))
        .collect();
    let mut joins = Vec::new();
    if plan.new_keys {
        let pk = &plan.primary_key[0];
        let pk_type = pg_type(
            &plan
                .target_columns
                .iter()
                .find(|c| c.name == *pk)
                .expect("key column")
                .ty,
        );
        let km = qualified(schema, &keymap_name(&plan.target));
        let k = quote_ident(pk);
        exec(format!("DROP TABLE IF EXISTS {km}")).await?;
        exec(format!(
            "CREATE TABLE {km} (old {pk_type} PRIMARY KEY, new {pk_type} NOT NULL)"
        ))
        .await?;
        exec(format!(
            "INSERT INTO {km} SELECT s.{k}, row_number() OVER (ORDER BY s.{k}) +              (SELECT COALESCE(max({k}), 0) FROM {target}) FROM {staging} s"
        ))
        .await?;
        let i = plan
            .target_columns
            .iter()
            .position(|c| c.name == *pk)
            .unwrap();
        select[i] = "km0.new".into();
        joins.push(format!("JOIN {km} km0 ON km0.old = s.{k}"));
    }
    let mut orphan_conds = Vec::new();
    let mut out = RemapOutcome::default();
    let mut skip_conds = Vec::new();
    for (n, r) in plan.remaps.iter().enumerate() {
        let alias = format!("km{}", n + 1);
        let c = quote_ident(&r.column);
        joins.push(format!(
            "LEFT JOIN {} {alias} ON {alias}.old = s.{c}",
            qualified(schema, &keymap_name(&r.parent))
        ));
        let i = plan
            .target_columns
            .iter()
            .position(|tc| tc.name == r.column)
            .unwrap();
        select[i] = format!("{alias}.new");
        let cond = format!("(s.{c} IS NOT NULL AND {alias}.old IS NULL)");
        orphan_conds.push((r, cond.clone()));
        if r.policy == OrphanPolicy::Skip {
            skip_conds.push(cond);
        }
    }
    let from = format!("{staging} s {}", joins.join(" "));
    for (r, cond) in &orphan_conds {
        let n: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {from} WHERE {cond}"), &[])
            .await
            .map_err(|e| pg_err("counting orphans", e))?
            .get(0);
        if n == 0 {
            continue;
        }
        if r.policy == OrphanPolicy::Error {
            let c = quote_ident(&r.column);
            let examples: Vec<String> = tx
                .query(
                    &format!(
                        "SELECT DISTINCT s.{c}::text FROM {from} WHERE {cond} ORDER BY 1 LIMIT 5"
                    ),
                    &[],
                )
                .await
                .map_err(|e| pg_err("listing orphans", e))?
                .iter()
                .map(|row| row.get(0))
                .collect();
            return Err(fail(format!(
                "{n} row(s) have a {} with no row in {} (e.g. {}); set orphans.{} = \"null\" or \"skip\" to load them",
                r.column,
                r.parent,
                examples.join(", "),
                r.column
            )));
        }
        let counts = if r.policy == OrphanPolicy::Skip {
            &mut out.orphans_skipped
        } else {
            &mut out.orphans_nulled
        };
        counts.insert(r.column.clone(), n as u64);
    }
    if !skip_conds.is_empty() {
        let reason = orphan_conds
            .iter()
            .filter(|(r, _)| r.policy == OrphanPolicy::Skip)
            .map(|(r, cond)| {
                format!(
                    "CASE WHEN {cond} THEN {} END",
                    quote_literal(&format!("no {} row for {}", r.parent, r.column))
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "COPY (SELECT s.*, concat_ws('; ', {reason}) AS barge_reject_reason FROM {from} WHERE {}) TO STDOUT WITH (FORMAT csv, HEADER)",
            skip_conds.join(" OR ")
        );
        let stream = tx
            .copy_out(&sql)
            .await
            .map_err(|e| pg_err("writing rejects", e))?;
        use futures_util::StreamExt;
        futures_util::pin_mut!(stream);
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.map_err(|e| pg_err("writing rejects", e))?);
        }
        std::fs::create_dir_all(reject_dir)?;
        let file = reject_dir.join(format!("{}.csv", plan.target));
        std::fs::write(&file, bytes)?;
        out.rejects_file = Some(file);
    }
    let cols = column_list(plan);
    let where_clause = if skip_conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE NOT ({})", skip_conds.join(" OR "))
    };
    let inserted = tx
        .execute(
            &format!(
                "INSERT INTO {target} ({cols}) SELECT {} FROM {from}{where_clause}",
                select.join(", ")
            ),
            &[],
        )
        .await
        .map_err(|e| pg_err("inserting remapped rows", e))?;
    out.inserted = inserted;
    exec(format!("DROP TABLE {staging}")).await?;
    let mut stmts = Vec::new();
    if mode == Mode::DataOnly {
        stmts.extend(sequence_fixups(&tx, &target, plan).await?);
    } else {
        stmts.extend(post_load_sql(schema, plan, nulls));
        stmts.extend(identity_sql(schema, plan));
    }
    for s in stmts {
        exec(s).await?;
    }
    crate::failpoint::hit("remap-applied");
    record_finish(&tx, plan, mark).await?;
    tx.commit()
        .await
        .ctx(format!("finishing table {}", plan.target))?;
    Ok(out)
}

/// How a table is put in place, and the ledger mark its transaction records.
pub struct Finish<'a> {
    pub mode: Mode,
    pub drop_existing: bool,
    /// NULLs written per target column (whether a deferred NOT NULL can be set).
    pub nulls: &'a [u64],
    pub mark: Option<&'a crate::ledger::FinishMark>,
}

/// The table's `done` mark, last in its finishing transaction (the ledger row stays locked
/// only from here to COMMIT); refused when another worker took the finish over.
async fn record_finish(
    tx: &tokio_postgres::Transaction<'_>,
    plan: &TablePlan,
    mark: Option<&crate::ledger::FinishMark>,
) -> Result<()> {
    if let Some(m) = mark {
        if super::ledger::mark_finished(tx, m).await? != 1 {
            return Err(Error::LeaseLost {
                table: plan.source.clone(),
                what: "its finish".into(),
            });
        }
    }
    Ok(())
}

/// A statement's error, as `Conflict` when PostgreSQL aborted it for a deadlock or a
/// serialization failure (the caller may retry the whole transaction).
fn statement_error(table: &str, sql: &str, e: tokio_postgres::Error) -> Error {
    use tokio_postgres::error::SqlState;
    let detail = format!("{sql}: {}", crate::error::pg_message(&e));
    // A lost session stays what it is, so the finish is retried on a new one.
    let lost = e.is_closed()
        || e.code()
            .is_some_and(|c| *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::CRASH_SHUTDOWN);
    if lost {
        return Error::Postgres {
            context: format!("finishing table {table}"),
            source: e,
        };
    }
    match e.code() {
        Some(c)
            if *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE =>
        {
            Error::Conflict {
                table: table.to_string(),
                detail,
            }
        }
        _ => Error::Table {
            table: table.to_string(),
            detail,
        },
    }
}

/// Put a fully loaded staging table in place, in one transaction.
pub async fn finish_table(
    client: &mut Client,
    schema: &str,
    plan: &TablePlan,
    finish: Finish<'_>,
) -> Result<()> {
    let Finish {
        mode,
        drop_existing,
        nulls,
        mark,
    } = finish;
    let staging = qualified(schema, &staging_name(&plan.target));
    let target = qualified(schema, &plan.target);
    let ctx = || format!("finishing table {}", plan.target);
    // The row count was checked by the caller against PostgreSQL's own COPY counts, which
    // are exact; counting the staging table again would cost a full scan.
    let tx = client.transaction().await.ctx(ctx())?;
    let mut stmts = Vec::new();
    match mode {
        Mode::DataOnly => {
            let cols = column_list(plan);
            let select = select_list(plan, schema);
            stmts.push(format!(
                "INSERT INTO {target} ({cols}) SELECT {select} FROM {staging}"
            ));
            stmts.push(format!("DROP TABLE {staging}"));
            stmts.extend(sequence_fixups(&tx, &target, plan).await?);
        }
        _ => {
            if drop_existing {
                stmts.push(format!("DROP TABLE IF EXISTS {target} CASCADE"));
            }
            stmts.push(format!(
                "ALTER TABLE {staging} RENAME TO {}",
                quote_ident(&plan.target)
            ));
            stmts.push(format!(
                "ALTER TABLE {target} RESET (autovacuum_enabled, toast.autovacuum_enabled)"
            ));
            stmts.extend(post_load_sql(schema, plan, nulls));
            stmts.extend(identity_sql(schema, plan));
        }
    }
    for s in &stmts {
        let t = std::time::Instant::now();
        tx.batch_execute(s)
            .await
            .map_err(|e| statement_error(&plan.source, s, e))?;
        tracing::debug!("{:.3}s {s}", t.elapsed().as_secs_f64());
    }
    crate::failpoint::hit("finish-applied");
    record_finish(&tx, plan, mark).await?;
    tx.commit().await.ctx(ctx())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{TypeDef, TypeKind};
    use crate::plan::NativeColumn;
    use crate::types::Logical;

    fn typed(name: &str, t: TypeDef) -> TargetColumn {
        let mut c = TargetColumn::plain(name, Logical::Text(None));
        c.as_text = true;
        c.native = Some(NativeColumn {
            engine: crate::url::Engine::Postgres,
            declaration: format!("src.{}", t.name),
            default: None,
            type_def: Some(t),
        });
        c
    }

    #[test]
    fn a_source_enum_and_domain_are_created_once_in_the_target_schema() {
        let mood = TypeDef {
            name: "mood".into(),
            kind: TypeKind::Enum {
                labels: vec!["sad".into(), "it's ok".into()],
            },
        };
        let email = TypeDef {
            name: "email".into(),
            kind: TypeKind::Domain {
                base: "character varying(80)".into(),
                checks: vec!["CHECK ((VALUE)::text ~~ '%@%'::text)".into()],
                not_null: true,
                default: None,
            },
        };
        let p = crate::plan::test_plan(vec![
            typed("a", mood.clone()),
            typed("b", mood),
            typed("c", email),
        ]);
        let sql = create_types_sql("app", std::slice::from_ref(&p));
        assert_eq!(sql.len(), 2, "{sql:?}");
        assert!(
            sql[0].contains("CREATE TYPE \"app\".\"mood\" AS ENUM ('sad', 'it''s ok')")
                && sql[0].contains("n.nspname = 'app' AND t.typname = 'mood'"),
            "{}",
            sql[0]
        );
        assert!(
            sql[1].contains(
                "CREATE DOMAIN \"app\".\"email\" AS character varying(80) NOT NULL CHECK"
            ),
            "{}",
            sql[1]
        );
        // Staged as text, given the target's type at the finish.
        assert!(create_table_sql("app", "_s", &p, false).contains("\"a\" text"));
        let finish = post_load_sql("app", &p, &[0, 0, 0]).join(";");
        assert!(
            finish
                .contains("ALTER COLUMN \"a\" TYPE \"app\".\"mood\" USING \"a\"::\"app\".\"mood\""),
            "{finish}"
        );
    }

    #[test]
    fn logical_types_are_declared_in_postgresql() {
        let cases = [
            (Logical::UInt64, "numeric(20,0)"),
            (Logical::Enum(vec!["a".into()]), "text"),
            (Logical::TimestampUtc(3), "timestamptz(3)"),
            (Logical::Duration(6), "interval(6)"),
            (Logical::Text(Some(36)), "varchar(36)"),
            (Logical::Decimal(None), "numeric"),
            (Logical::Json, "jsonb"),
        ];
        for (t, want) in cases {
            assert_eq!(pg_type(&t), want, "{t:?}");
        }
    }

    #[test]
    fn defaults_allowed_values_and_prefix_keys_are_said_in_postgresql() {
        let with = |name: &str, ty: Logical, d: TargetDefault| {
            let mut c = TargetColumn::plain(name, ty);
            c.default = Some(d);
            c
        };
        let value = |v: &str| TargetDefault::Value(v.into());
        let state = TargetColumn::plain(
            "state",
            Logical::Enum(vec!["a".into(), "it's".into(), String::new()]),
        );
        let mut p = crate::plan::test_plan(vec![
            with("n", Logical::Decimal(Some((10, 2))), value("12.50")),
            with("flag", Logical::Bool, value("true")),
            with("born", Logical::Date, value("2020-01-31")),
            with("title", Logical::Text(Some(20)), value("it's")),
            with(
                "tags",
                Logical::TextList,
                TargetDefault::Values(vec!["a".into(), "b".into()]),
            ),
            with("at", Logical::TimestampUtc(6), TargetDefault::Now),
            with("on", Logical::Date, TargetDefault::Today),
            with(
                "blob",
                Logical::Binary,
                TargetDefault::Sql {
                    engine: crate::url::Engine::Postgres,
                    text: "'\\x00'::bytea".into(),
                },
            ),
            // MySQL's SQL is for a MySQL target: PostgreSQL leaves it out.
            with(
                "count",
                Logical::Int32,
                TargetDefault::Sql {
                    engine: crate::url::Engine::Mysql,
                    text: "(1 + 1)".into(),
                },
            ),
            // A number that is not one is a literal PostgreSQL rejects with its own message.
            with("odd", Logical::Int32, value("abc")),
            with("nan", Logical::Float64, value("NaN")),
            with("small", Logical::Float64, value("-1.5e-3")),
            state,
        ]);
        p.target = "orders".into();
        let sql = create_table_sql("app", "_barge_orders", &p, false);
        for want in [
            "\"n\" numeric(10,2) DEFAULT 12.50",
            "\"flag\" boolean DEFAULT true",
            "\"born\" date DEFAULT '2020-01-31'::date",
            "\"title\" varchar(20) DEFAULT 'it''s'",
            "\"tags\" text[] DEFAULT ARRAY['a', 'b']::text[]",
            "\"at\" timestamptz(6) DEFAULT CURRENT_TIMESTAMP",
            "\"on\" date DEFAULT CURRENT_DATE",
            "\"blob\" bytea DEFAULT '\\x00'::bytea",
            "\"count\" integer,",
            "\"odd\" integer DEFAULT 'abc'::integer",
            "\"nan\" double precision DEFAULT 'NaN'::double precision",
            "\"small\" double precision DEFAULT -1.5e-3",
            "CONSTRAINT \"orders_state_check\" CHECK (\"state\" IN ('a', 'it''s', ''))",
        ] {
            assert!(sql.contains(want), "{want} in {sql}");
        }
        let key = |columns: Vec<(&str, Option<u32>)>| crate::plan::TargetIndex {
            name: "k".into(),
            unique: false,
            columns: columns
                .into_iter()
                .map(|(c, n)| (c.to_string(), n))
                .collect(),
            definition: None,
            kind: None,
        };
        assert_eq!(
            index_keys(
                &p,
                &key(vec![("title", Some(5)), ("blob", Some(3)), ("n", None)])
            ),
            "((left(\"title\", 5)), (substring(\"blob\" from 1 for 3)), \"n\")"
        );
    }
}
