//! PostgreSQL's type names: how each column type is read as a source and which logical
//! type it carries (`map_pg`), and how a target declares a logical type (`pg_type`).
//!
//! The common types are decoded from binary COPY straight into Arrow (`PgWire`). The rest
//! depend on where they go:
//! - into PostgreSQL, they travel as their own text (`{}::text`) into a text staging column
//!   and are turned back into the native type after the load, so nothing is reinterpreted;
//! - into MySQL, each becomes what MySQL holds best: uuid → UUID or CHAR(36), arrays →
//!   JSON, interval and time → TIME, bit(n) → BIT(n), unconstrained numeric → DECIMAL(65,30)
//!   (checked per value by the server), and types MySQL has no counterpart for are refused.

use crate::catalog::Column;
use crate::types::{Decode, Logical, Mapping, PgWire};
use crate::url::Engine;
use arrow_schema::{DataType, TimeUnit};

fn wire(w: PgWire, arrow: DataType, ty: Logical) -> Option<Mapping> {
    Some(Mapping {
        decode: Decode::Pg(w),
        arrow,
        ty,
        read_as: None,
    })
}

/// Selected through an SQL expression (`{}` is the column) that yields text.
fn as_text(ty: Logical, expr: &str) -> Option<Mapping> {
    Some(Mapping {
        read_as: Some(expr.into()),
        ..wire(PgWire::Text, DataType::Utf8, ty)?
    })
}

/// A logical type as PostgreSQL declares it. An enum's labels become a CHECK
/// (`allowed_check`); an unsigned 64-bit integer needs numeric's 20 digits.
pub fn pg_type(t: &Logical) -> String {
    match t {
        Logical::Bool => "boolean".into(),
        Logical::Int16 => "smallint".into(),
        Logical::Int32 => "integer".into(),
        Logical::Int64 => "bigint".into(),
        Logical::UInt64 => "numeric(20,0)".into(),
        Logical::Float32 => "real".into(),
        Logical::Float64 => "double precision".into(),
        Logical::Decimal(None) => "numeric".into(),
        Logical::Decimal(Some((p, s))) => format!("numeric({p},{s})"),
        Logical::Text(None) | Logical::Enum(_) => "text".into(),
        Logical::Text(Some(n)) => format!("varchar({n})"),
        Logical::Binary => "bytea".into(),
        Logical::Date => "date".into(),
        Logical::Timestamp(p) => format!("timestamp({p})"),
        Logical::TimestampUtc(p) => format!("timestamptz({p})"),
        Logical::Duration(p) => format!("interval({p})"),
        Logical::Json => "jsonb".into(),
        Logical::TextList => "text[]".into(),
        Logical::Bits(n) => format!("bit({n})"),
        Logical::Uuid => "uuid".into(),
        Logical::Inet => "inet".into(),
    }
}

/// The mapping of a PostgreSQL column; `target` is the engine written to (None: not known,
/// as for PostgreSQL).
pub fn map_pg(col: &Column, target: Option<Engine>) -> Option<Mapping> {
    use DataType as A;
    let into_pg = target != Some(Engine::Mysql);
    let prec = col.datetime_precision.unwrap_or(6).min(6);
    let utc = || A::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let t = col.data_type.as_str();
    // Types this database defines (enums, domains) do not exist in the target: their text.
    if col.user_type && col.labels.is_empty() && into_pg {
        return as_text(Logical::Text(None), "{}::text");
    }
    // Array types are named after their element with a leading underscore.
    if t.starts_with('_') {
        return if into_pg {
            as_text(Logical::Text(None), "{}::text")
        } else {
            as_text(Logical::Json, "array_to_json({})::text")
        };
    }
    match t {
        "bool" => wire(PgWire::Bool, A::Boolean, Logical::Bool),
        "int2" => wire(PgWire::Int2, A::Int16, Logical::Int16),
        "int4" => wire(PgWire::Int4, A::Int32, Logical::Int32),
        "int8" => wire(PgWire::Int8, A::Int64, Logical::Int64),
        "float4" => wire(PgWire::Float4, A::Float32, Logical::Float32),
        "float8" => wire(PgWire::Float8, A::Float64, Logical::Float64),
        "numeric" => match (col.numeric_precision, col.numeric_scale) {
            (Some(p), Some(s)) if (1..=76).contains(&p) && s <= p => {
                let arrow = if p <= 38 {
                    A::Decimal128(p as u8, s as i8)
                } else {
                    A::Decimal256(p as u8, s as i8)
                };
                wire(PgWire::Numeric, arrow, Logical::Decimal(Some((p, s))))
            }
            // No fixed scale: exact as text (MySQL checks each value against DECIMAL(65,30)).
            _ if into_pg => as_text(Logical::Text(None), "{}::text"),
            _ => as_text(Logical::Decimal(None), "{}::text"),
        },
        // char(n) values keep their padding: bytes as they are, into a character(n).
        "bpchar" if into_pg => as_text(Logical::Text(None), "{}"),
        // MySQL compares CHAR without its padding, as PostgreSQL's text cast drops it.
        "bpchar" => Some(Mapping {
            read_as: Some("{}::text".into()),
            ..wire(
                PgWire::Text,
                A::Utf8,
                Logical::Text(col.char_max_length.and_then(|n| u32::try_from(n).ok())),
            )?
        }),
        "varchar" => {
            let n = col.char_max_length.and_then(|n| u32::try_from(n).ok());
            wire(PgWire::Text, A::Utf8, Logical::Text(n))
        }
        "text" | "name" | "citext" => wire(PgWire::Text, A::Utf8, Logical::Text(None)),
        "bytea" => wire(PgWire::Bytea, A::Binary, Logical::Binary),
        "date" => wire(PgWire::Date { infinity: into_pg }, A::Date32, Logical::Date),
        "timestamp" => wire(
            PgWire::Timestamp { infinity: into_pg },
            A::Timestamp(TimeUnit::Microsecond, None),
            Logical::Timestamp(prec),
        ),
        "timestamptz" => wire(
            PgWire::Timestamp { infinity: into_pg },
            utc(),
            Logical::TimestampUtc(prec),
        ),
        "jsonb" => wire(PgWire::Jsonb, A::Utf8, Logical::Json),
        // json keeps its text as written (spacing, key order, duplicates).
        "json" if into_pg => as_text(Logical::Text(None), "{}::text"),
        "json" => wire(PgWire::Text, A::Utf8, Logical::Json),
        "enum" => as_text(Logical::Enum(col.labels.clone()), "{}::text"),
        _ if into_pg => as_text(Logical::Text(None), "{}::text"),
        "uuid" => wire(PgWire::Uuid, A::Utf8, Logical::Uuid),
        "time" => wire(
            PgWire::Time,
            A::Duration(TimeUnit::Microsecond),
            Logical::Duration(prec),
        ),
        "interval" => wire(
            PgWire::Interval,
            A::Duration(TimeUnit::Microsecond),
            Logical::Duration(prec),
        ),
        // The type's own output (the text() cast would add /32 to every host address).
        "inet" | "cidr" => as_text(Logical::Text(Some(43)), "format('%s', {})"),
        "macaddr" | "macaddr8" => as_text(Logical::Text(Some(23)), "{}::text"),
        "money" => as_text(Logical::Decimal(Some((19, 2))), "{}::numeric::text"),
        "bit" if col.char_max_length.is_some_and(|n| n <= 64) => Some(Mapping {
            read_as: Some("{}::bigint".into()),
            ..wire(
                PgWire::Int8,
                A::Int64,
                Logical::Bits(col.char_max_length.unwrap_or(1) as u32),
            )?
        }),
        "varbit" | "bit" => as_text(Logical::Text(None), "{}::text"),
        "xml" | "tsvector" | "tsquery" | "timetz" => as_text(Logical::Text(None), "{}::text"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(t: &str) -> Column {
        Column {
            data_type: t.into(),
            column_type: t.into(),
            ..Column::default()
        }
    }

    #[test]
    fn common_types_decode_and_the_rest_travel_as_text() {
        let m = map_pg(&col("int8"), Some(Engine::Mysql)).unwrap();
        assert_eq!((m.decode, m.ty), (Decode::Pg(PgWire::Int8), Logical::Int64));
        // Into PostgreSQL, a uuid is its own text, turned back into a uuid after the load.
        let u = map_pg(&col("uuid"), Some(Engine::Postgres)).unwrap();
        assert_eq!(u.read_as.as_deref(), Some("{}::text"));
        // Into MySQL, arrays become JSON; a uuid stays one (MariaDB's UUID, or 36 characters).
        let a = map_pg(&col("_int4"), Some(Engine::Mysql)).unwrap();
        assert_eq!(
            (a.ty, a.read_as.as_deref()),
            (Logical::Json, Some("array_to_json({})::text"))
        );
        let u = map_pg(&col("uuid"), Some(Engine::Mysql)).unwrap();
        assert_eq!(u.ty, Logical::Uuid);
        let mut n = col("numeric");
        assert_eq!(
            map_pg(&n, Some(Engine::Mysql)).unwrap().ty,
            Logical::Decimal(None)
        );
        (n.numeric_precision, n.numeric_scale) = (Some(50), Some(10));
        assert_eq!(
            map_pg(&n, Some(Engine::Mysql)).unwrap().arrow,
            DataType::Decimal256(50, 10)
        );
        assert!(map_pg(&col("pg_lsn"), Some(Engine::Mysql)).is_none());
    }
}
