//! PostgreSQL as a source: how each column type is read and which logical type it carries.
//!
//! The common types are decoded from binary COPY straight into Arrow (`PgWire`). The rest
//! depend on where they go:
//! - into PostgreSQL, they travel as their own text (`{}::text`) into a text staging column
//!   and are turned back into the native type after the load, so nothing is reinterpreted;
//! - into MySQL, each becomes what MySQL holds best: uuid → CHAR(36)-like text, arrays →
//!   JSON, interval and time → TIME, bit(n) → BIT(n), unconstrained numeric → DECIMAL(65,30)
//!   (checked per value by the server), and types MySQL has no counterpart for are refused.

use crate::catalog::Column;
use crate::types::{Decode, Mapping, PgType, PgWire};
use crate::url::Engine;
use arrow_schema::{DataType, TimeUnit};

fn wire(w: PgWire, arrow: DataType, pg: PgType) -> Option<Mapping> {
    Some(Mapping {
        decode: Decode::Pg(w),
        arrow,
        pg,
        enum_values: None,
        read_as: None,
    })
}

/// Selected through an SQL expression (`{}` is the column) that yields text.
fn as_text(pg: PgType, expr: &str) -> Option<Mapping> {
    Some(Mapping {
        read_as: Some(expr.into()),
        ..wire(PgWire::Text, DataType::Utf8, pg)?
    })
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
        return as_text(PgType::Text, "{}::text");
    }
    // Array types are named after their element with a leading underscore.
    if t.starts_with('_') {
        return if into_pg {
            as_text(PgType::Text, "{}::text")
        } else {
            as_text(PgType::Jsonb, "array_to_json({})::text")
        };
    }
    match t {
        "bool" => wire(PgWire::Bool, A::Boolean, PgType::Boolean),
        "int2" => wire(PgWire::Int2, A::Int16, PgType::SmallInt),
        "int4" => wire(PgWire::Int4, A::Int32, PgType::Integer),
        "int8" => wire(PgWire::Int8, A::Int64, PgType::BigInt),
        "float4" => wire(PgWire::Float4, A::Float32, PgType::Real),
        "float8" => wire(PgWire::Float8, A::Float64, PgType::Double),
        "numeric" => match (col.numeric_precision, col.numeric_scale) {
            (Some(p), Some(s)) if (1..=76).contains(&p) && s <= p => {
                let arrow = if p <= 38 {
                    A::Decimal128(p as u8, s as i8)
                } else {
                    A::Decimal256(p as u8, s as i8)
                };
                wire(PgWire::Numeric, arrow, PgType::Numeric(Some((p, s))))
            }
            // No fixed scale: exact as text (MySQL checks each value against DECIMAL(65,30)).
            _ if into_pg => as_text(PgType::Text, "{}::text"),
            _ => as_text(PgType::Numeric(None), "{}::text"),
        },
        // char(n) values keep their padding: bytes as they are, into a character(n).
        "bpchar" if into_pg => as_text(PgType::Text, "{}"),
        // MySQL compares CHAR without its padding, as PostgreSQL's text cast drops it.
        "bpchar" => Some(Mapping {
            read_as: Some("{}::text".into()),
            ..wire(
                PgWire::Text,
                A::Utf8,
                PgType::Varchar(col.char_max_length.and_then(|n| u32::try_from(n).ok())),
            )?
        }),
        "varchar" => {
            let n = col.char_max_length.and_then(|n| u32::try_from(n).ok());
            wire(PgWire::Text, A::Utf8, PgType::Varchar(n))
        }
        "text" | "name" | "citext" => wire(PgWire::Text, A::Utf8, PgType::Text),
        "bytea" => wire(PgWire::Bytea, A::Binary, PgType::Bytea),
        "date" => wire(PgWire::Date { infinity: into_pg }, A::Date32, PgType::Date),
        "timestamp" => wire(
            PgWire::Timestamp { infinity: into_pg },
            A::Timestamp(TimeUnit::Microsecond, None),
            PgType::Timestamp(prec),
        ),
        "timestamptz" => wire(
            PgWire::Timestamp { infinity: into_pg },
            utc(),
            PgType::Timestamptz(prec),
        ),
        "jsonb" => wire(PgWire::Jsonb, A::Utf8, PgType::Jsonb),
        // json keeps its text as written (spacing, key order, duplicates).
        "json" if into_pg => as_text(PgType::Text, "{}::text"),
        "json" => wire(PgWire::Text, A::Utf8, PgType::Jsonb),
        "enum" => Some(Mapping {
            enum_values: Some(col.labels.clone()),
            ..as_text(PgType::Text, "{}::text")?
        }),
        _ if into_pg => as_text(PgType::Text, "{}::text"),
        "uuid" => wire(PgWire::Uuid, A::Utf8, PgType::Varchar(Some(36))),
        "time" => wire(
            PgWire::Time,
            A::Duration(TimeUnit::Microsecond),
            PgType::Interval(prec),
        ),
        "interval" => wire(
            PgWire::Interval,
            A::Duration(TimeUnit::Microsecond),
            PgType::Interval(prec),
        ),
        // The type's own output (the text() cast would add /32 to every host address).
        "inet" | "cidr" => as_text(PgType::Varchar(Some(43)), "format('%s', {})"),
        "macaddr" | "macaddr8" => as_text(PgType::Varchar(Some(23)), "{}::text"),
        "money" => as_text(PgType::Numeric(Some((19, 2))), "{}::numeric::text"),
        "bit" if col.char_max_length.is_some_and(|n| n <= 64) => Some(Mapping {
            read_as: Some("{}::bigint".into()),
            ..wire(
                PgWire::Int8,
                A::Int64,
                PgType::Bit(col.char_max_length.unwrap_or(1) as u32),
            )?
        }),
        "varbit" | "bit" => as_text(PgType::Varchar(None), "{}::text"),
        "xml" | "tsvector" | "tsquery" | "timetz" => as_text(PgType::Text, "{}::text"),
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
        assert_eq!((m.decode, m.pg), (Decode::Pg(PgWire::Int8), PgType::BigInt));
        // Into PostgreSQL, a uuid is its own text, turned back into a uuid after the load.
        let u = map_pg(&col("uuid"), Some(Engine::Postgres)).unwrap();
        assert_eq!(u.read_as.as_deref(), Some("{}::text"));
        // Into MySQL, arrays become JSON and uuids 36 characters.
        let a = map_pg(&col("_int4"), Some(Engine::Mysql)).unwrap();
        assert_eq!(
            (a.pg, a.read_as.as_deref()),
            (PgType::Jsonb, Some("array_to_json({})::text"))
        );
        let u = map_pg(&col("uuid"), Some(Engine::Mysql)).unwrap();
        assert_eq!(u.pg, PgType::Varchar(Some(36)));
        let mut n = col("numeric");
        assert_eq!(
            map_pg(&n, Some(Engine::Mysql)).unwrap().pg,
            PgType::Numeric(None)
        );
        (n.numeric_precision, n.numeric_scale) = (Some(50), Some(10));
        assert_eq!(
            map_pg(&n, Some(Engine::Mysql)).unwrap().arrow,
            DataType::Decimal256(50, 10)
        );
        assert!(map_pg(&col("pg_lsn"), Some(Engine::Mysql)).is_none());
    }
}
