//! Reading a PostgreSQL schema's catalog from `pg_catalog`: tables (a partitioned table once,
//! through its parent; its partitions are not listed), columns with their base types
//! (domains resolved, enum labels), primary keys, unique and plain indexes on columns,
//! foreign keys, comments and the planner's row estimate.

use crate::catalog::{Catalog, Column, DefaultKind, ForeignKey, Index, IndexColumn, Table};
use crate::error::{Context, Result};
use std::collections::BTreeMap;
use tokio_postgres::Client;

/// Whether a default is a plain literal (`'abc'::text`, `42`, `true`) rather than an
/// expression; literals are kept as their value.
fn classify_default(raw: Option<String>) -> (Option<String>, DefaultKind) {
    let Some(raw) = raw else {
        return (None, DefaultKind::None);
    };
    if raw.parse::<f64>().is_ok() || raw == "true" || raw == "false" {
        return (Some(raw), DefaultKind::Literal);
    }
    // 'text'::type, with '' for a quote inside.
    if let Some(rest) = raw.strip_prefix('\'') {
        if let Some(end) = rest.rfind("'::") {
            let inner = &rest[..end];
            if !inner.replace("''", "").contains('\'') {
                return (Some(inner.replace("''", "'")), DefaultKind::Literal);
            }
        }
    }
    (Some(raw), DefaultKind::Expression)
}

pub async fn introspect(client: &Client, schema: &str) -> Result<Catalog> {
    let version: String = client
        .query_one("SHOW server_version", &[])
        .await
        .ctx("SHOW server_version")?
        .get(0);
    let database: String = client
        .query_one("SELECT current_database()::text", &[])
        .await
        .ctx("current_database()")?
        .get(0);
    let rows = client
        .query(
            "SELECT c.oid, c.relname::text, obj_description(c.oid, 'pg_class'), \
                    GREATEST(c.reltuples, 0)::float8 \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
             ORDER BY c.relname",
            &[&schema],
        )
        .await
        .ctx("reading tables")?;
    let mut tables: BTreeMap<u32, Table> = BTreeMap::new();
    for r in &rows {
        let oid: u32 = r.get(0);
        tables.insert(
            oid,
            Table {
                name: r.get(1),
                comment: r.get(2),
                estimated_rows: r.get::<_, f64>(3) as u64,
                ..Table::default()
            },
        );
    }
    // A partitioned table's estimate is the sum of its partitions'.
    for r in client
        .query(
            "SELECT i.inhparent, SUM(GREATEST(c.reltuples, 0))::float8 FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid GROUP BY i.inhparent",
            &[],
        )
        .await
        .ctx("reading partition sizes")?
    {
        if let Some(t) = tables.get_mut(&r.get::<_, u32>(0)) {
            if t.estimated_rows == 0 {
                t.estimated_rows = r.get::<_, f64>(1) as u64;
            }
        }
    }
    let oids: Vec<u32> = tables.keys().copied().collect();
    let cols = client
        .query(
            "SELECT a.attrelid, a.attname::text, \
                    format_type(a.atttypid, a.atttypmod), \
                    bt.typname::text, t.typtype::text, \
                    CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END, \
                    NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid), \
                    a.attidentity::text, a.attgenerated::text, \
                    col_description(a.attrelid, a.attnum), \
                    (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e \
                     WHERE e.enumtypid = bt.oid), \
                    bt.typtype::text, u.typname::text, \
                    CASE WHEN u.typtype = 'd' THEN format_type(u.typbasetype, u.typtypmod) END, \
                    u.typnotnull, u.typdefault, \
                    ARRAY(SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k \
                          WHERE k.contypid = u.oid AND k.contype = 'c' ORDER BY k.conname), \
                    ub.typnamespace = 'pg_catalog'::regnamespace, \
                    u.typtype::text, ub.typtype::text, \
                    (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e \
                     WHERE e.enumtypid = ub.oid) \
             FROM pg_attribute a \
             JOIN pg_type t ON t.oid = a.atttypid \
             JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END \
             JOIN pg_type u ON u.oid = CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 \
                                            THEN t.typelem ELSE t.oid END \
             JOIN pg_type ub ON ub.oid = CASE WHEN u.typtype = 'd' THEN u.typbasetype ELSE u.oid END \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attrelid, a.attnum",
            &[&oids],
        )
        .await
        .ctx("reading columns")?;
    for r in &cols {
        let Some(t) = tables.get_mut(&r.get::<_, u32>(0)) else {
            continue;
        };
        let name: String = r.get(1);
        let declared: String = r.get(2);
        let base: String = r.get(3);
        let typtype: String = r.get(4);
        let typmod: i32 = r.get(5);
        let identity: String = r.get(8);
        let generated: String = r.get(9);
        let labels: Option<Vec<String>> = r.get(11);
        let base_kind: String = r.get(12);
        if !generated.is_empty() {
            // Computed from the other columns: there is nothing to copy.
            continue;
        }
        let raw_default: Option<String> = r.get(7);
        let serial = raw_default
            .as_deref()
            .is_some_and(|d| d.starts_with("nextval("));
        // Kept as PostgreSQL wrote it: a PostgreSQL target uses it as it is.
        let default_kind = classify_default(raw_default.clone()).1;
        let default = raw_default;
        let (mut precision, mut scale, mut length, mut dt_prec) = (None, None, None, None);
        match base.as_str() {
            "numeric" if typmod >= 4 => {
                let m = typmod - 4;
                precision = Some(((m >> 16) & 0xffff) as u32);
                scale = Some((m & 0xffff) as u32);
            }
            "varchar" | "bpchar" if typmod >= 4 => length = Some((typmod - 4) as u64),
            "bit" | "varbit" if typmod >= 0 => length = Some(typmod as u64),
            "timestamp" | "timestamptz" | "time" | "timetz" | "interval" if typmod >= 0 => {
                dt_prec = Some((typmod & 0xffff) as u32)
            }
            _ => {}
        }
        // The type to create in a PostgreSQL target: the column's own, or its elements'
        // when it is an array of an enum or domain (`mood[]`).
        let (type_name, u_type, u_base): (String, String, String) =
            (r.get(13), r.get(19), r.get(20));
        let u_labels: Option<Vec<String>> = r.get(21);
        let type_def = match (u_type.as_str(), u_base.as_str()) {
            ("e", _) => Some(crate::catalog::TypeKind::Enum {
                labels: u_labels.unwrap_or_default(),
            }),
            // Over a built-in type only: a domain over another user type stays text.
            ("d", "b") if r.get::<_, bool>(18) => Some(crate::catalog::TypeKind::Domain {
                base: r.get(14),
                checks: r.get(17),
                not_null: r.get(15),
                default: r.get(16),
            }),
            _ => None,
        }
        .map(|kind| crate::catalog::TypeDef {
            name: type_name,
            kind,
        });
        let data_type = if base_kind == "e" {
            "enum".to_string()
        } else {
            base
        };
        t.columns.push(Column {
            name,
            data_type,
            column_type: declared,
            nullable: r.get(6),
            default,
            default_kind,
            char_max_length: length,
            numeric_precision: precision,
            numeric_scale: scale,
            datetime_precision: dt_prec,
            charset: None,
            auto_increment: !identity.is_empty() || serial,
            on_update: None,
            comment: r.get(10),
            json_checked: false,
            non_boolean: None,
            labels: labels.unwrap_or_default(),
            // An array of such a type names it too (`mood[]`).
            user_type: matches!(typtype.as_str(), "d" | "e" | "c")
                || base_kind == "c"
                || matches!(u_type.as_str(), "d" | "e" | "c")
                || u_base == "c",
            refused: None,
            as_text_because: None,
            type_def,
        });
    }
    let idx = client
        .query(
            "SELECT x.indrelid, ic.relname::text, x.indisunique, x.indisprimary, \
                    ARRAY(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY k(n, i) \
                          JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n \
                          ORDER BY k.i), \
                    x.indexprs IS NULL AND x.indpred IS NULL AND 0 <> ALL (x.indkey), \
                    am.amname::text, pg_get_indexdef(x.indexrelid) \
             FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid \
             JOIN pg_am am ON am.oid = ic.relam \
             WHERE x.indrelid = ANY($1) ORDER BY ic.relname",
            &[&oids],
        )
        .await
        .ctx("reading indexes")?;
    for r in &idx {
        let Some(t) = tables.get_mut(&r.get::<_, u32>(0)) else {
            continue;
        };
        let columns: Vec<String> = r.get(4);
        let plain: bool = r.get(5);
        if r.get::<_, bool>(3) {
            t.primary_key = columns;
            continue;
        }
        let kind: String = r.get(6);
        let def: String = r.get(7);
        t.indexes.push(Index {
            expression: !plain,
            definition: index_tail(&def, &kind, schema),
            name: r.get(1),
            unique: r.get(2),
            columns: columns
                .into_iter()
                .map(|name| IndexColumn { name, prefix: None })
                .collect(),
            kind: if kind == "btree" {
                "BTREE".into()
            } else {
                kind.to_uppercase()
            },
        });
    }
    for r in &client
        .query(
            "SELECT conrelid, conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE contype = 'c' AND conrelid = ANY($1) ORDER BY conrelid, conname",
            &[&oids],
        )
        .await
        .ctx("reading check constraints")?
    {
        if let Some(t) = tables.get_mut(&r.get::<_, u32>(0)) {
            t.checks.push(crate::catalog::Check {
                name: r.get(1),
                definition: r.get(2),
            });
        }
    }
    let fks = client
        .query(
            "SELECT c.conrelid, c.conname::text, \
                    ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i) \
                          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i), \
                    p.relname::text, \
                    ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i) \
                          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i), \
                    c.confupdtype::text, c.confdeltype::text \
             FROM pg_constraint c JOIN pg_class p ON p.oid = c.confrelid \
             WHERE c.contype = 'f' AND c.conrelid = ANY($1) AND c.confrelid = ANY($1) \
             ORDER BY c.conname",
            &[&oids],
        )
        .await
        .ctx("reading foreign keys")?;
    let action = |c: &str| {
        match c {
            "c" => "CASCADE",
            "n" => "SET NULL",
            "d" => "SET DEFAULT",
            "r" => "RESTRICT",
            _ => "NO ACTION",
        }
        .to_string()
    };
    for r in &fks {
        let Some(t) = tables.get_mut(&r.get::<_, u32>(0)) else {
            continue;
        };
        t.foreign_keys.push(ForeignKey {
            name: r.get(1),
            columns: r.get(2),
            ref_table: r.get(3),
            ref_columns: r.get(4),
            on_update: action(&r.get::<_, String>(5)),
            on_delete: action(&r.get::<_, String>(6)),
        });
    }
    Ok(Catalog {
        engine: crate::url::Engine::Postgres,
        target: None,
        target_version: None,
        target_strict_uuid: None,
        database: format!("{database}.{schema}"),
        server_version: version,
        tables: tables.into_values().collect(),
    })
}

/// `CREATE INDEX i ON s.t USING btree (lower(a)) WHERE b` → `USING btree (lower(a)) WHERE b`;
/// `None` when the rest names the source schema (it would not exist in another database).
fn index_tail(def: &str, method: &str, schema: &str) -> Option<String> {
    use crate::engine::postgres::write::quote_ident;
    let on = def.find(" ON ")?;
    let at = def[on..].find(&format!(" USING {method} "))? + on + 1;
    let tail = &def[at..];
    let own = [format!("{}.", quote_ident(schema)), format!("{schema}.")];
    (!own.iter().any(|o| tail.contains(o.as_str()))).then(|| tail.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_is_kept_after_its_table_unless_it_names_the_source_schema() {
        let def = "CREATE UNIQUE INDEX ix ON app.users USING btree (lower((email)::text)) WHERE (deleted_at IS NULL)";
        assert_eq!(
            index_tail(def, "btree", "app").as_deref(),
            Some("USING btree (lower((email)::text)) WHERE (deleted_at IS NULL)")
        );
        let gin = "CREATE INDEX \"a USING gin b\" ON ONLY \"My Schema\".docs USING gin (body jsonb_path_ops)";
        assert_eq!(
            index_tail(gin, "gin", "My Schema").as_deref(),
            Some("USING gin (body jsonb_path_ops)")
        );
        let own = "CREATE INDEX ix ON app.t USING btree (app.normalize(name))";
        assert_eq!(index_tail(own, "btree", "app"), None);
    }

    #[test]
    fn literal_defaults_are_values_and_the_rest_expressions() {
        assert_eq!(
            classify_default(Some("'it''s'::text".into())),
            (Some("it's".into()), DefaultKind::Literal)
        );
        assert_eq!(
            classify_default(Some("42".into())),
            (Some("42".into()), DefaultKind::Literal)
        );
        assert_eq!(
            classify_default(Some("now()".into())).1,
            DefaultKind::Expression
        );
        assert_eq!(
            classify_default(Some("nextval('t_id_seq'::regclass)".into())).1,
            DefaultKind::Expression
        );
    }
}
