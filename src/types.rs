//! The type model: how a source column is decoded (`Decode`), which Arrow type carries it
//! between stages, and which logical type (`Logical`) it is: the one pivot between engines,
//! which each target declares in its own SQL. `map_mysql` is MySQL's table (PostgreSQL's is
//! `engine::postgres::types`); the README shows both.

use crate::catalog::Column;
use arrow_schema::{DataType, Field, TimeUnit};
use serde::Serialize;

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
    /// BIGINT UNSIGNED: does not fit i64, so carried as UInt64 (`Logical::UInt64`).
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

/// A column's type between engines: what its values are, whatever either engine calls them.
/// Arrow carries the values (`Mapping::arrow`); this carries what Arrow does not (lengths,
/// precision and scale, signedness, labels, time zone). It is the one pivot: each target
/// says it in its own SQL (`engine::postgres::types::pg_type`, `engine::mysql::ddl`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Logical {
    Bool,
    Int16,
    Int32,
    Int64,
    /// An unsigned 64-bit integer (MySQL's BIGINT UNSIGNED), past every signed type.
    UInt64,
    Float32,
    Float64,
    /// An exact decimal of this precision and scale; None: of any (PostgreSQL's `numeric`).
    Decimal(Option<(u32, u32)>),
    /// Text of at most n characters; None: of any length.
    Text(Option<u32>),
    /// Text that is one of these labels (an ENUM). A MySQL source's include the '' MySQL
    /// stores for an invalid value.
    Enum(Vec<String>),
    Binary,
    Date,
    /// A date and time of day with p fractional digits, in no time zone.
    Timestamp(u32),
    /// An instant with p fractional digits, kept in UTC.
    TimestampUtc(u32),
    /// A signed span of time with p fractional digits (MySQL's TIME, PostgreSQL's interval).
    Duration(u32),
    Json,
    /// A list of text values (a MySQL SET, a PostgreSQL `text[]`).
    TextList,
    /// n bits, carried as an unsigned integer.
    Bits(u32),
    /// Carried as its canonical text.
    Uuid,
    /// An IPv4 or IPv6 host address, carried as its text.
    Inet,
}

impl Logical {
    /// How messages name the type: the SQL standard's name where there is one.
    pub fn name(&self) -> String {
        match self {
            Logical::Bool => "boolean".into(),
            Logical::Int16 => "smallint".into(),
            Logical::Int32 => "integer".into(),
            Logical::Int64 => "bigint".into(),
            Logical::UInt64 => "bigint unsigned".into(),
            Logical::Float32 => "real".into(),
            Logical::Float64 => "double precision".into(),
            Logical::Decimal(None) => "decimal".into(),
            Logical::Decimal(Some((p, s))) => format!("decimal({p},{s})"),
            Logical::Text(None) => "text".into(),
            Logical::Text(Some(n)) => format!("varchar({n})"),
            Logical::Enum(labels) => format!("enum of {} labels", labels.len()),
            Logical::Binary => "binary".into(),
            Logical::Date => "date".into(),
            Logical::Timestamp(p) => format!("timestamp({p})"),
            Logical::TimestampUtc(p) => format!("timestamp({p}) with time zone"),
            Logical::Duration(p) => format!("interval({p})"),
            Logical::Json => "json".into(),
            Logical::TextList => "text[]".into(),
            Logical::Bits(n) => format!("bit({n})"),
            Logical::Uuid => "uuid".into(),
            Logical::Inet => "inet".into(),
        }
    }

    /// Why `name` is not a type `parse` reads: "unknown type `x`", and for the names each
    /// engine means another type by, which to say instead.
    pub fn unknown(name: &str) -> String {
        let base = name.trim().to_ascii_lowercase();
        let base = base.split(['(', ' ']).next().unwrap_or("");
        let hint = match base {
            "float" => ": MySQL's FLOAT has 4 bytes and PostgreSQL's 8; say real or double",
            "time" => {
                ": MySQL's TIME is a span and PostgreSQL's a time of day; say interval for a span"
            }
            _ => "",
        };
        format!("unknown type `{}`{hint}", name.trim())
    }

    /// The text type that holds this type's values as their text, bounded where that text
    /// is (a uuid's 36 characters, an address's at most 45).
    pub fn text_form(&self) -> Logical {
        match self {
            Logical::Uuid => Logical::Text(Some(36)),
            Logical::Inet => Logical::Text(Some(45)),
            Logical::Text(n) => Logical::Text(*n),
            _ => Logical::Text(None),
        }
    }

    /// A whole number of at most 64 bits (signed or not).
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            Logical::Int16 | Logical::Int32 | Logical::Int64 | Logical::UInt64
        )
    }

    /// Any number: integer, decimal or floating point.
    pub fn is_number(&self) -> bool {
        self.is_integer()
            || matches!(
                self,
                Logical::Decimal(_) | Logical::Float32 | Logical::Float64
            )
    }

    /// The type for a column a user's transform creates, from its Arrow type.
    pub fn for_arrow(t: &DataType) -> Option<Logical> {
        use DataType as D;
        Some(match t {
            D::Boolean => Logical::Bool,
            D::Int16 => Logical::Int16,
            D::Int32 => Logical::Int32,
            D::Int64 => Logical::Int64,
            D::UInt64 => Logical::UInt64,
            D::Float32 => Logical::Float32,
            D::Float64 => Logical::Float64,
            D::Utf8 => Logical::Text(None),
            D::Binary => Logical::Binary,
            D::Date32 => Logical::Date,
            D::Timestamp(TimeUnit::Microsecond, None) => Logical::Timestamp(6),
            D::Timestamp(TimeUnit::Microsecond, Some(_)) => Logical::TimestampUtc(6),
            D::Duration(TimeUnit::Microsecond) => Logical::Duration(6),
            D::Decimal128(p, s) | D::Decimal256(p, s) if *s >= 0 => {
                Logical::Decimal(Some((*p as u32, *s as u32)))
            }
            D::List(f) if f.data_type() == &D::Utf8 => Logical::TextList,
            _ => return None,
        })
    }

    /// Parse a type name as written in a job file or a cast (`varchar(255)`, `numeric(10,2)`,
    /// `bigint unsigned`). Job files are engine-neutral, so both engines' names are read:
    /// PostgreSQL's (the SQL standard's), and MySQL's where they mean one thing. `float` and
    /// `time` mean different types in the two engines and are not read; `timestamp` is the
    /// standard's (no time zone; `timestamptz` for an instant).
    pub fn parse(s: &str) -> Option<Logical> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
        // The arguments' place is kept as `()`: `int(10) unsigned` is `int() unsigned`.
        let (base, args) = match s.split_once('(') {
            Some((before, rest)) => {
                let (args, after) = rest.split_once(')')?;
                let base = format!("{}() {}", before.trim(), after.trim());
                (base.trim().to_string(), Some(args.to_string()))
            }
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
        let fraction = |p: u32| (p <= 6).then_some(p);
        Some(match (base.as_str(), nums.as_slice()) {
            ("boolean" | "bool", []) => Logical::Bool,
            ("smallint" | "int2" | "tinyint" | "tinyint unsigned", []) => Logical::Int16,
            ("integer" | "int" | "int4" | "mediumint", []) => Logical::Int32,
            ("smallint unsigned" | "mediumint unsigned", []) => Logical::Int32,
            ("bigint" | "int8" | "int unsigned" | "integer unsigned", []) => Logical::Int64,
            ("bigint unsigned", []) => Logical::UInt64,
            // MySQL's display widths (`int(11)`) say nothing about the values.
            ("tinyint()" | "tinyint() unsigned" | "smallint()", [_]) => Logical::Int16,
            (
                "int()"
                | "integer()"
                | "mediumint()"
                | "smallint() unsigned"
                | "mediumint() unsigned",
                [_],
            ) => Logical::Int32,
            ("bigint()" | "int() unsigned" | "integer() unsigned", [_]) => Logical::Int64,
            ("bigint() unsigned", [_]) => Logical::UInt64,
            ("real" | "float4", []) => Logical::Float32,
            ("double precision" | "float8" | "double", []) => Logical::Float64,
            ("numeric" | "decimal", []) => Logical::Decimal(None),
            ("numeric()" | "decimal()", [p]) if *p >= 1 => Logical::Decimal(Some((*p, 0))),
            // A scale past the precision is PostgreSQL's (15+); MySQL refuses it.
            ("numeric()" | "decimal()", [p, s]) if *p >= 1 => Logical::Decimal(Some((*p, *s))),
            ("varchar" | "character varying", []) => Logical::Text(None),
            ("varchar()" | "character varying()" | "char()" | "character()", [n]) if *n >= 1 => {
                Logical::Text(Some(*n))
            }
            ("text" | "tinytext" | "mediumtext" | "longtext", []) => Logical::Text(None),
            ("bytea" | "blob" | "tinyblob" | "mediumblob" | "longblob", []) => Logical::Binary,
            ("varbinary()", [_]) => Logical::Binary,
            ("date", []) => Logical::Date,
            ("timestamp" | "datetime" | "timestamp without time zone", []) => Logical::Timestamp(6),
            ("timestamp()" | "datetime()" | "timestamp() without time zone", [p]) => {
                Logical::Timestamp(fraction(*p)?)
            }
            ("timestamptz" | "timestamp with time zone", []) => Logical::TimestampUtc(6),
            ("timestamptz()" | "timestamp() with time zone", [p]) => {
                Logical::TimestampUtc(fraction(*p)?)
            }
            ("interval", []) => Logical::Duration(6),
            ("interval()", [p]) => Logical::Duration(fraction(*p)?),
            ("jsonb" | "json", []) => Logical::Json,
            ("text[]", []) => Logical::TextList,
            ("bit", []) => Logical::Bits(1),
            ("bit()", [n]) if *n >= 1 => Logical::Bits(*n),
            ("uuid", []) => Logical::Uuid,
            ("inet", []) => Logical::Inet,
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
    pub ty: Logical,
    /// How the source selects the column when not as it is: an SQL expression in which `{}`
    /// stands for the quoted column (`{}::text`).
    pub read_as: Option<String>,
}

impl Mapping {
    pub fn field(&self, name: &str) -> Field {
        Field::new(name, self.arrow.clone(), true)
    }
}

fn m(decode: Decode, arrow: DataType, ty: Logical) -> Option<Mapping> {
    Some(Mapping {
        decode,
        arrow,
        ty,
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
        ty: Logical::Int16,
        read_as: None,
    }
}

/// The mapping table. `None` means barge cannot map the type; the caller turns that into an
/// error naming table, column and type before any data moves.
pub fn map_mysql(col: &Column) -> Option<Mapping> {
    map_mysql_into(col, None)
}

/// `map_mysql`, knowing the engine written to. Into PostgreSQL, a BIGINT UNSIGNED
/// AUTO_INCREMENT key (Laravel's `id()`) is read as the bigint it holds, so that it can
/// be an identity there (numeric cannot); a key past 9223372036854775807 fails its table,
/// naming it, and `--cast t.id=bigint unsigned` keeps numeric(20,0).
pub fn map_mysql_into(col: &Column, target: Option<crate::url::Engine>) -> Option<Mapping> {
    use DataType as A;
    let ct = col.column_type.to_ascii_lowercase();
    let unsigned = ct.contains("unsigned");
    let dt_prec = col.datetime_precision.unwrap_or(0).min(6);
    match col.data_type.as_str() {
        // TINYINT(1) is how MySQL spells boolean (BOOL is an alias for it).
        // Unless it was found to hold other values (then it is a small integer).
        "tinyint" if ct.starts_with("tinyint(1)") && col.non_boolean.is_none() => {
            m(Decode::Bool01, A::Boolean, Logical::Bool)
        }
        "tinyint" | "year" => Some(tinyint_integer()),
        "smallint" if !unsigned => m(Decode::Int16, A::Int16, Logical::Int16),
        "smallint" | "mediumint" => m(Decode::Int32, A::Int32, Logical::Int32),
        "int" | "integer" if !unsigned => m(Decode::Int32, A::Int32, Logical::Int32),
        "int" | "integer" => m(Decode::Int64, A::Int64, Logical::Int64),
        "bigint" if !unsigned => m(Decode::Int64, A::Int64, Logical::Int64),
        "bigint" if col.auto_increment && target == Some(crate::url::Engine::Postgres) => {
            m(Decode::Int64, A::Int64, Logical::Int64)
        }
        "bigint" => m(Decode::UInt64, A::UInt64, Logical::UInt64),
        "decimal" | "numeric" | "fixed" => {
            let p = col.numeric_precision.unwrap_or(10).clamp(1, 76);
            let s = col.numeric_scale.unwrap_or(0).min(p);
            let arrow = if p <= 38 {
                A::Decimal128(p as u8, s as i8)
            } else {
                A::Decimal256(p as u8, s as i8)
            };
            m(Decode::Decimal, arrow, Logical::Decimal(Some((p, s))))
        }
        "float" => m(Decode::Float32, A::Float32, Logical::Float32),
        "double" | "real" | "double precision" => m(Decode::Float64, A::Float64, Logical::Float64),
        "bit" => match col.numeric_precision.unwrap_or(1) {
            1 => m(Decode::BitBool, A::Boolean, Logical::Bool),
            n => m(Decode::Bits, A::UInt64, Logical::Bits(n)),
        },
        "char" | "varchar" => {
            let n = col.char_max_length.and_then(|n| u32::try_from(n).ok());
            m(Decode::Text, A::Utf8, Logical::Text(n))
        }
        "tinytext" | "text" | "mediumtext" | "longtext" if col.json_checked => {
            m(Decode::Json, A::Utf8, Logical::Json)
        }
        "tinytext" | "text" | "mediumtext" | "longtext" => {
            m(Decode::Text, A::Utf8, Logical::Text(None))
        }
        "json" => m(Decode::Json, A::Utf8, Logical::Json),
        "enum" => {
            let mut labels = parse_enum_values(&col.column_type);
            // MySQL stores '' for an invalid value when not in strict mode.
            if !labels.iter().any(String::is_empty) {
                labels.push(String::new());
            }
            m(Decode::Text, A::Utf8, Logical::Enum(labels))
        }
        "set" => m(
            Decode::Set,
            A::List(Field::new_list_field(A::Utf8, true).into()),
            Logical::TextList,
        ),
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
            m(Decode::Binary, A::Binary, Logical::Binary)
        }
        "date" => m(Decode::Date, A::Date32, Logical::Date),
        "datetime" => m(
            Decode::DateTime,
            A::Timestamp(TimeUnit::Microsecond, None),
            Logical::Timestamp(dt_prec),
        ),
        "timestamp" => m(
            Decode::DateTime,
            A::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Logical::TimestampUtc(dt_prec),
        ),
        "time" => m(
            Decode::Time,
            A::Duration(TimeUnit::Microsecond),
            Logical::Duration(dt_prec),
        ),
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" | "geomcollection" => {
            m(Decode::Geometry, A::Binary, Logical::Binary)
        }
        // MariaDB's own types: the server sends their text (`uuid`, `::ffff:1.2.3.4`).
        "uuid" => m(Decode::Text, A::Utf8, Logical::Uuid),
        "inet4" | "inet6" => m(Decode::Text, A::Utf8, Logical::Inet),
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
            map_mysql(&col("tinyint", "tinyint(1)")).unwrap().ty,
            Logical::Bool
        );
        assert_eq!(
            map_mysql(&col("tinyint", "tinyint(4)")).unwrap().ty,
            Logical::Int16
        );
        let mut holds_two = col("tinyint", "tinyint(1)");
        holds_two.non_boolean = Some(2);
        assert_eq!(map_mysql(&holds_two).unwrap().decode, Decode::Int16);
        assert_eq!(
            map_mysql(&col("smallint", "smallint(5) unsigned"))
                .unwrap()
                .ty,
            Logical::Int32
        );
        assert_eq!(
            map_mysql(&col("int", "int(10) unsigned")).unwrap().ty,
            Logical::Int64
        );
        assert_eq!(
            map_mysql(&col("bigint", "bigint(20) unsigned")).unwrap().ty,
            Logical::UInt64
        );
        assert!(map_mysql(&col("vector", "vector(3)")).is_none());
    }

    #[test]
    fn type_names_of_either_engine_parse_to_one_logical_type() {
        let p = |s: &str| Logical::parse(s);
        assert_eq!(p("varchar(255)"), Some(Logical::Text(Some(255))));
        assert_eq!(p("character  varying (20)"), Some(Logical::Text(Some(20))));
        assert_eq!(p("longtext"), Some(Logical::Text(None)));
        assert_eq!(p("numeric(10, 2)"), Some(Logical::Decimal(Some((10, 2)))));
        assert_eq!(p("numeric(10, 2.5)"), None);
        assert_eq!(p("DECIMAL"), Some(Logical::Decimal(None)));
        assert_eq!(p("int(10) unsigned"), Some(Logical::Int64));
        assert_eq!(p("bigint unsigned"), Some(Logical::UInt64));
        assert_eq!(p("bigint(20) unsigned"), Some(Logical::UInt64));
        assert_eq!(p("tinyint"), Some(Logical::Int16));
        assert_eq!(p("double"), Some(Logical::Float64));
        assert_eq!(p("datetime(3)"), Some(Logical::Timestamp(3)));
        assert_eq!(p("timestamp"), Some(Logical::Timestamp(6)));
        assert_eq!(
            p("timestamp(3) with time zone"),
            Some(Logical::TimestampUtc(3))
        );
        assert_eq!(p("timestamptz"), Some(Logical::TimestampUtc(6)));
        assert_eq!(p("json"), Some(Logical::Json));
        assert_eq!(p("longblob"), Some(Logical::Binary));
        assert_eq!(p("text[]"), Some(Logical::TextList));
        // Each engine means another type by these: neither is guessed.
        assert_eq!(p("float"), None);
        assert!(Logical::unknown("float(24)").contains("say real or double"));
        assert_eq!(Logical::unknown("nosuch"), "unknown type `nosuch`");
        assert_eq!(p("time"), None);
        assert_eq!(p("int) unsigned("), None);
        assert_eq!(p("varchar(10"), None);
        assert_eq!(p("char(3)"), Some(Logical::Text(Some(3))));
        assert_eq!(p("bit"), Some(Logical::Bits(1)));
        // What neither engine takes is no type.
        for bad in [
            "varchar(0)",
            "numeric(0)",
            "timestamp(9)",
            "timestamp with time zone(3)",
            "int unsigned(10)",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_bigint_unsigned_auto_increment_key_is_a_bigint_into_postgresql() {
        let mut id = col("bigint", "bigint(20) unsigned");
        id.auto_increment = true;
        let into = |t| map_mysql_into(&id, Some(t)).unwrap().ty;
        assert_eq!(into(crate::url::Engine::Postgres), Logical::Int64);
        assert_eq!(into(crate::url::Engine::Mysql), Logical::UInt64);
        assert_eq!(map_mysql(&id).unwrap().ty, Logical::UInt64);
    }

    #[test]
    fn bigint_unsigned_is_its_own_logical_type() {
        let m = map_mysql(&col("bigint", "bigint(20) unsigned")).unwrap();
        assert_eq!((m.ty, m.arrow), (Logical::UInt64, DataType::UInt64));
        assert_eq!(Logical::for_arrow(&DataType::UInt64), Some(Logical::UInt64));
        assert!(Logical::UInt64.is_integer());
    }

    #[test]
    fn a_mysql_enum_may_hold_the_empty_label_mysql_stores_for_an_invalid_value() {
        let m = map_mysql(&col("enum", "enum('a','b')")).unwrap();
        assert_eq!(
            m.ty,
            Logical::Enum(vec!["a".into(), "b".into(), String::new()])
        );
        let m = map_mysql(&col("enum", "enum('','a')")).unwrap();
        assert_eq!(m.ty, Logical::Enum(vec![String::new(), "a".into()]));
    }

    #[test]
    fn enum_values_parse_quotes() {
        assert_eq!(
            parse_enum_values("enum('a','b''c','d,e','')"),
            vec!["a", "b'c", "d,e", ""]
        );
    }
}
