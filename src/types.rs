//! The type model: how each MySQL column type is decoded, which Arrow type carries it between
//! stages, and which PostgreSQL type it becomes. `map_mysql` is the one mapping table; the
//! README shows the same table.

use crate::catalog::Column;
use arrow_schema::{DataType, Field, TimeUnit};
use serde::Serialize;
use std::fmt;

/// How the reader turns a MySQL wire value into an Arrow value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Decode {
    /// TINYINT(1): 0/1 → boolean; any other value is an error (it would not round-trip).
    Bool01,
    /// BIT(1) → boolean.
    BitBool,
    Int16,
    Int32,
    Int64,
    /// BIGINT UNSIGNED: does not fit i64, so carried as UInt64 and written as numeric(20).
    UInt64,
    Float32,
    Float64,
    /// DECIMAL via its exact text form into Decimal128 (p ≤ 38) or Decimal256, never a float.
    Decimal,
    Text,
    Json,
    Binary,
    /// DATE; zero and impossible dates (0000-00-00, 2024-02-00) become NULL and are counted.
    Date,
    /// DATETIME / TIMESTAMP as microseconds; TIMESTAMP is read in a UTC session.
    DateTime,
    /// TIME as a signed duration in microseconds (it spans −838:59:59 … 838:59:59).
    Time,
    /// BIT(n), n > 1: the bits as an unsigned integer.
    Bits,
    /// SET: the comma-separated members as a list of strings.
    Set,
    /// Spatial types, read as standard WKB (`ST_AsWKB`), without MySQL's SRID prefix.
    Geometry,
    /// A PostgreSQL binary COPY field (the PostgreSQL reader).
    Pg(PgWire),
}

/// The binary COPY representations the PostgreSQL reader decodes. Every other type is
/// selected as text (`Mapping::read_as`) and arrives as `Text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PgWire {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// Base-10000 digits, into Decimal128/256 of the column's scale.
    Numeric,
    /// UTF-8 bytes as they are (text, varchar, char, json, enum labels, `::text` casts).
    Text,
    /// jsonb: a version byte, then text.
    Jsonb,
    Bytea,
    /// Days since 2000-01-01. With `infinity` (into PostgreSQL), ±infinity travel as
    /// Arrow's i32::MAX / i32::MIN, which the COPY encoder writes back as they were;
    /// otherwise they are refused.
    Date {
        infinity: bool,
    },
    /// Microseconds since 2000-01-01 (timestamp and timestamptz); ±infinity as for dates,
    /// as i64::MAX / i64::MIN.
    Timestamp {
        infinity: bool,
    },
    /// Microseconds since midnight.
    Time,
    /// Microseconds, days, months; refused when months are not zero (no fixed length).
    Interval,
    /// 16 bytes, written as the canonical text form.
    Uuid,
}

/// A PostgreSQL column type barge creates or writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PgType {
    Boolean,
    SmallInt,
    Integer,
    BigInt,
    Numeric(Option<(u32, u32)>),
    Real,
    Double,
    Varchar(Option<u32>),
    Text,
    Bytea,
    Date,
    Timestamp(u32),
    Timestamptz(u32),
    Interval(u32),
    Jsonb,
    TextArray,
    Bit(u32),
    /// Carried as its canonical text (MariaDB's UUID).
    Uuid,
    /// An IPv4 or IPv6 host address, carried as its text (MariaDB's INET4 and INET6).
    Inet,
}

impl fmt::Display for PgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgType::Boolean => f.write_str("boolean"),
            PgType::SmallInt => f.write_str("smallint"),
            PgType::Integer => f.write_str("integer"),
            PgType::BigInt => f.write_str("bigint"),
            PgType::Numeric(None) => f.write_str("numeric"),
            PgType::Numeric(Some((p, s))) => write!(f, "numeric({p},{s})"),
            PgType::Real => f.write_str("real"),
            PgType::Double => f.write_str("double precision"),
            PgType::Varchar(None) => f.write_str("varchar"),
            PgType::Varchar(Some(n)) => write!(f, "varchar({n})"),
            PgType::Text => f.write_str("text"),
            PgType::Bytea => f.write_str("bytea"),
            PgType::Date => f.write_str("date"),
            PgType::Timestamp(p) => write!(f, "timestamp({p})"),
            PgType::Timestamptz(p) => write!(f, "timestamptz({p})"),
            PgType::Interval(p) => write!(f, "interval({p})"),
            PgType::Jsonb => f.write_str("jsonb"),
            PgType::TextArray => f.write_str("text[]"),
            PgType::Uuid => f.write_str("uuid"),
            PgType::Inet => f.write_str("inet"),
            PgType::Bit(n) => write!(f, "bit({n})"),
        }
    }
}

impl PgType {
    /// The type for a column a user's transform creates, from its Arrow type.
    pub fn for_arrow(t: &DataType) -> Option<PgType> {
        use DataType as D;
        Some(match t {
            D::Boolean => PgType::Boolean,
            D::Int16 => PgType::SmallInt,
            D::Int32 => PgType::Integer,
            D::Int64 => PgType::BigInt,
            D::UInt64 => PgType::Numeric(Some((20, 0))),
            D::Float32 => PgType::Real,
            D::Float64 => PgType::Double,
            D::Utf8 => PgType::Text,
            D::Binary => PgType::Bytea,
            D::Date32 => PgType::Date,
            D::Timestamp(TimeUnit::Microsecond, None) => PgType::Timestamp(6),
            D::Timestamp(TimeUnit::Microsecond, Some(_)) => PgType::Timestamptz(6),
            D::Duration(TimeUnit::Microsecond) => PgType::Interval(6),
            D::Decimal128(p, s) | D::Decimal256(p, s) if *s >= 0 => {
                PgType::Numeric(Some((*p as u32, *s as u32)))
            }
            D::List(f) if f.data_type() == &D::Utf8 => PgType::TextArray,
            _ => return None,
        })
    }

    /// Parse a type name as written in a job file (`varchar(255)`, `numeric(10,2)`, `bigint`…).
    pub fn parse(s: &str) -> Option<PgType> {
        let s = s.trim().to_ascii_lowercase();
        let (base, args) = match s.split_once('(') {
            Some((b, rest)) => (
                b.trim().to_string(),
                Some(rest.trim_end_matches(')').to_string()),
            ),
            None => (s.clone(), None),
        };
        // Every argument must be a number: `numeric(10, 2.5)` is not numeric(10).
        let nums: Vec<u32> = match args.as_deref() {
            Some(a) => a
                .split(',')
                .map(|x| x.trim().parse().ok())
                .collect::<Option<_>>()?,
            None => Vec::new(),
        };
        Some(match (base.as_str(), nums.as_slice()) {
            ("boolean" | "bool", []) => PgType::Boolean,
            ("smallint" | "int2", []) => PgType::SmallInt,
            ("integer" | "int" | "int4", []) => PgType::Integer,
            ("bigint" | "int8", []) => PgType::BigInt,
            ("real" | "float4", []) => PgType::Real,
            ("double precision" | "float8", []) => PgType::Double,
            ("numeric" | "decimal", []) => PgType::Numeric(None),
            ("numeric" | "decimal", [p]) => PgType::Numeric(Some((*p, 0))),
            ("numeric" | "decimal", [p, s]) => PgType::Numeric(Some((*p, *s))),
            ("varchar" | "character varying", []) => PgType::Varchar(None),
            ("varchar" | "character varying", [n]) => PgType::Varchar(Some(*n)),
            ("text", []) => PgType::Text,
            ("bytea", []) => PgType::Bytea,
            ("date", []) => PgType::Date,
            ("timestamp", []) => PgType::Timestamp(6),
            ("timestamp", [p]) => PgType::Timestamp(*p),
            ("timestamptz", []) => PgType::Timestamptz(6),
            ("timestamptz", [p]) => PgType::Timestamptz(*p),
            ("interval", []) => PgType::Interval(6),
            ("jsonb", []) => PgType::Jsonb,
            ("text[]", []) => PgType::TextArray,
            ("bit", [n]) => PgType::Bit(*n),
            ("uuid", []) => PgType::Uuid,
            ("inet", []) => PgType::Inet,
            _ => return None,
        })
    }
}

/// One column's full mapping.
#[derive(Debug, Clone, Serialize)]
pub struct Mapping {
    pub decode: Decode,
    #[serde(skip)]
    pub arrow: DataType,
    pub pg: PgType,
    /// Allowed values of an ENUM, enforced with a CHECK constraint in PostgreSQL.
    pub enum_values: Option<Vec<String>>,
    /// How the source selects the column when not as it is: an SQL expression in which `{}`
    /// stands for the quoted column (`{}::text`).
    pub read_as: Option<String>,
}

impl Mapping {
    pub fn field(&self, name: &str) -> Field {
        Field::new(name, self.arrow.clone(), true)
    }
}

fn m(decode: Decode, arrow: DataType, pg: PgType) -> Option<Mapping> {
    Some(Mapping {
        decode,
        arrow,
        pg,
        enum_values: None,
        read_as: None,
    })
}

/// A source engine's type table: how it reads a column, given the engine written to (when
/// known). Each engine has its own (`engine::source_types`).
pub type SourceTypes = fn(&Column, Option<crate::url::Engine>) -> Option<Mapping>;

/// A TINYINT read as the small integer it is (also a TINYINT(1) that is no boolean).
pub fn tinyint_integer() -> Mapping {
    Mapping {
        decode: Decode::Int16,
        arrow: DataType::Int16,
        pg: PgType::SmallInt,
        enum_values: None,
        read_as: None,
    }
}

/// The mapping table. `None` means barge cannot map the type; the caller turns that into an
/// error naming table, column and type before any data moves.
pub fn map_mysql(col: &Column) -> Option<Mapping> {
    use DataType as A;
    let ct = col.column_type.to_ascii_lowercase();
    let unsigned = ct.contains("unsigned");
    let dt_prec = col.datetime_precision.unwrap_or(0).min(6);
    match col.data_type.as_str() {
        // TINYINT(1) is how MySQL spells boolean (BOOL is an alias for it).
        // Unless it was found to hold other values (then it is a small integer).
        "tinyint" if ct.starts_with("tinyint(1)") && col.non_boolean.is_none() => {
            m(Decode::Bool01, A::Boolean, PgType::Boolean)
        }
        "tinyint" | "year" => Some(tinyint_integer()),
        "smallint" if !unsigned => m(Decode::Int16, A::Int16, PgType::SmallInt),
        "smallint" | "mediumint" => m(Decode::Int32, A::Int32, PgType::Integer),
        "int" | "integer" if !unsigned => m(Decode::Int32, A::Int32, PgType::Integer),
        "int" | "integer" => m(Decode::Int64, A::Int64, PgType::BigInt),
        "bigint" if !unsigned => m(Decode::Int64, A::Int64, PgType::BigInt),
        "bigint" => m(Decode::UInt64, A::UInt64, PgType::Numeric(Some((20, 0)))),
        "decimal" | "numeric" | "fixed" => {
            let p = col.numeric_precision.unwrap_or(10).clamp(1, 76);
            let s = col.numeric_scale.unwrap_or(0).min(p);
            let arrow = if p <= 38 {
                A::Decimal128(p as u8, s as i8)
            } else {
                A::Decimal256(p as u8, s as i8)
            };
            m(Decode::Decimal, arrow, PgType::Numeric(Some((p, s))))
        }
        "float" => m(Decode::Float32, A::Float32, PgType::Real),
        "double" | "real" | "double precision" => m(Decode::Float64, A::Float64, PgType::Double),
        "bit" => match col.numeric_precision.unwrap_or(1) {
            1 => m(Decode::BitBool, A::Boolean, PgType::Boolean),
            n => m(Decode::Bits, A::UInt64, PgType::Bit(n)),
        },
        "char" | "varchar" => {
            let n = col.char_max_length.and_then(|n| u32::try_from(n).ok());
            m(Decode::Text, A::Utf8, PgType::Varchar(n))
        }
        "tinytext" | "text" | "mediumtext" | "longtext" if col.json_checked => {
            m(Decode::Json, A::Utf8, PgType::Jsonb)
        }
        "tinytext" | "text" | "mediumtext" | "longtext" => m(Decode::Text, A::Utf8, PgType::Text),
        "json" => m(Decode::Json, A::Utf8, PgType::Jsonb),
        "enum" => Some(Mapping {
            enum_values: Some(parse_enum_values(&col.column_type)),
            ..m(Decode::Text, A::Utf8, PgType::Text)?
        }),
        "set" => m(
            Decode::Set,
            A::List(Field::new_list_field(A::Utf8, true).into()),
            PgType::TextArray,
        ),
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
            m(Decode::Binary, A::Binary, PgType::Bytea)
        }
        "date" => m(Decode::Date, A::Date32, PgType::Date),
        "datetime" => m(
            Decode::DateTime,
            A::Timestamp(TimeUnit::Microsecond, None),
            PgType::Timestamp(dt_prec),
        ),
        "timestamp" => m(
            Decode::DateTime,
            A::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            PgType::Timestamptz(dt_prec),
        ),
        "time" => m(
            Decode::Time,
            A::Duration(TimeUnit::Microsecond),
            PgType::Interval(dt_prec),
        ),
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" | "geomcollection" => {
            m(Decode::Geometry, A::Binary, PgType::Bytea)
        }
        // MariaDB's own types: the server sends their text (`uuid`, `::ffff:1.2.3.4`).
        "uuid" => m(Decode::Text, A::Utf8, PgType::Uuid),
        "inet4" | "inet6" => m(Decode::Text, A::Utf8, PgType::Inet),
        _ => None,
    }
}

/// `enum('a','b''c')` → ["a", "b'c"]. Also used for SET definitions.
pub fn parse_enum_values(column_type: &str) -> Vec<String> {
    let inner = match (column_type.find('('), column_type.rfind(')')) {
        (Some(a), Some(b)) if a < b => &column_type[a + 1..b],
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut v = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    v.push('\'');
                }
                '\'' => break,
                '\\' => {
                    if let Some(n) = chars.next() {
                        v.push(n);
                    }
                }
                c => v.push(c),
            }
        }
        out.push(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(data_type: &str, column_type: &str) -> Column {
        Column {
            data_type: data_type.into(),
            column_type: column_type.into(),
            ..Column::default()
        }
    }

    #[test]
    fn integer_widths_and_unsigned() {
        assert_eq!(
            map_mysql(&col("tinyint", "tinyint(1)")).unwrap().pg,
            PgType::Boolean
        );
        assert_eq!(
            map_mysql(&col("tinyint", "tinyint(4)")).unwrap().pg,
            PgType::SmallInt
        );
        let mut holds_two = col("tinyint", "tinyint(1)");
        holds_two.non_boolean = Some(2);
        assert_eq!(map_mysql(&holds_two).unwrap().decode, Decode::Int16);
        assert_eq!(
            map_mysql(&col("smallint", "smallint(5) unsigned"))
                .unwrap()
                .pg,
            PgType::Integer
        );
        assert_eq!(
            map_mysql(&col("int", "int(10) unsigned")).unwrap().pg,
            PgType::BigInt
        );
        assert_eq!(
            map_mysql(&col("bigint", "bigint(20) unsigned")).unwrap().pg,
            PgType::Numeric(Some((20, 0)))
        );
        assert!(map_mysql(&col("vector", "vector(3)")).is_none());
    }

    #[test]
    fn enum_values_parse_quotes() {
        assert_eq!(
            parse_enum_values("enum('a','b''c','d,e','')"),
            vec!["a", "b'c", "d,e", ""]
        );
    }
}
