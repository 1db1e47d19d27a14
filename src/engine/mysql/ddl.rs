//! MySQL/MariaDB DDL for a planned table: column types, keys, indexes, foreign keys. Pure
//! functions of the plan, unit-tested without a server.
//!
//! A column copied unchanged from a MySQL source keeps its own declaration (`int(10)
//! unsigned`, `enum('a','b')`, `set(…)`, its default and ON UPDATE clause). Every other column
//! gets its type from the plan's type, as the README's table says. Tables are InnoDB in
//! `utf8mb4` with the binary collation, so text compares byte for byte as it did where it
//! came from, and keys that differ only in case stay distinct.

use crate::catalog::DefaultKind;
use crate::engine::mysql::load_format::LoadAs;
use crate::engine::mysql::read::quote_ident;
use crate::error::{Error, Result};
use crate::plan::{TablePlan, TargetColumn};
use crate::types::Logical;
use crate::url::Engine;

/// MySQL's identifier limit (tables, columns, indexes, constraints).
pub const MAX_IDENT: usize = 64;

/// What the target server can declare beyond what every MySQL and MariaDB can.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Server {
    /// The version is known (a connected sink): otherwise what follows is false.
    pub known: bool,
    /// MariaDB ≥ 10.7 has a native UUID type (16 bytes, its canonical text in and out).
    pub uuid: bool,
}

impl Server {
    /// From `SELECT VERSION()` (`10.11.14-MariaDB-0+deb12u2`, `8.0.36`).
    pub fn from_version(version: Option<&str>) -> Server {
        let Some(v) = version else {
            return Server::default();
        };
        let mut nums = v
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse::<u32>().ok());
        let major_minor = (nums.next().unwrap_or(0), nums.next().unwrap_or(0));
        let mariadb = v.to_ascii_lowercase().contains("mariadb");
        Server {
            known: true,
            uuid: mariadb && major_minor >= (10, 7),
        }
    }
}

/// What a staging table gets: every column, the primary key (InnoDB clusters rows on it, so
/// adding it later would rebuild the table), and nothing else.
pub fn create_table_sql(
    database: &str,
    name: &str,
    plan: &TablePlan,
    full: bool,
    server: Server,
) -> Result<String> {
    let mut parts = Vec::new();
    for c in &plan.target_columns {
        parts.push(column_ddl(plan, c, server)?);
    }
    if !plan.primary_key.is_empty() {
        parts.push(format!("PRIMARY KEY ({})", idents(&plan.primary_key)));
    }
    // FULLTEXT and SPATIAL keys come with the table: InnoDB adds one FULLTEXT index per
    // ALTER (and rebuilds the table for the first), which the finish's single ALTER cannot.
    parts.extend(index_clauses_of(plan, |i| full || i.kind.is_some()));
    // CHECKs are checked as the rows load (adding one later copies the table).
    parts.extend(check_clauses(plan).into_iter().filter_map(Result::ok));
    let mut sql = format!(
        "CREATE TABLE {}.{} (\n  {}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        quote_ident(database),
        quote_ident(name),
        parts.join(",\n  ")
    );
    if let Some(c) = &plan.comment {
        sql.push_str(&format!(" COMMENT={}", quote_literal(c)));
    }
    Ok(sql)
}

/// Every CHECK the table gets: a MySQL source's own, and a PostgreSQL source's domain and
/// table CHECKs, `Ok` as MySQL constraints, or `Err` saying which is left out and why.
pub fn check_clauses(plan: &TablePlan) -> Vec<Result<String, String>> {
    let own = plan
        .checks
        .iter()
        .map(|(name, def)| Ok(format!("CONSTRAINT {} {def}", quote_ident(name))));
    let domains = type_checks(plan).into_iter().map(|(column, c)| {
        c.map_err(|def| {
            format!("column {column}: the CHECK of its PostgreSQL domain is left out (no MySQL form): {def}")
        })
    });
    own.chain(domains).chain(foreign_checks(plan)).collect()
}

/// The CHECKs of a PostgreSQL domain, on each column of that type, as table constraints
/// named after the target table and column: `Ok` in MySQL's SQL, or `Err` with the
/// definition MySQL cannot say the same way.
pub fn type_checks(plan: &TablePlan) -> Vec<(&str, Result<String, String>)> {
    let mut out = Vec::new();
    // Unique in the table, also against its own CHECKs (PostgreSQL names a column's CHECK
    // `<table>_<column>_check` too), and within MySQL's 64 characters.
    let mut taken: std::collections::HashSet<String> = plan
        .checks
        .iter()
        .chain(&plan.foreign_checks)
        .map(|(n, _)| n.to_lowercase())
        .collect();
    for c in &plan.target_columns {
        for def in &c.type_checks {
            let base = format!("{}_{}", plan.target, c.name);
            let name = (1..)
                .map(|n: u32| {
                    let suffix = if n == 1 {
                        "_check".to_string()
                    } else {
                        format!("_check{n}")
                    };
                    let mut end = base.len().min(64 - suffix.len());
                    while !base.is_char_boundary(end) {
                        end -= 1;
                    }
                    format!("{}{suffix}", &base[..end])
                })
                .find(|n| taken.insert(n.to_lowercase()))
                .unwrap_or_default();
            let clause = super::pg_check::translate(def, &c.name)
                .map(|cond| format!("CONSTRAINT {} CHECK ({cond})", quote_ident(&name)))
                .ok_or_else(|| def.clone());
            out.push((c.name.as_str(), clause));
        }
    }
    out
}

/// A PostgreSQL source's table CHECKs: `Ok` as MySQL constraints of the same names, or
/// `Err` with the name, the definition and why MySQL does not get it.
pub fn foreign_checks(plan: &TablePlan) -> Vec<Result<String, String>> {
    let is_column = |n: &str| plan.target_columns.iter().any(|c| c.name == n);
    plan.foreign_checks
        .iter()
        .map(|(name, def)| match super::pg_check::translate_table(def, &is_column) {
            Some(cond) => Ok(format!("CONSTRAINT {} CHECK ({cond})", quote_ident(name))),
            None if def.trim_end().ends_with("NOT VALID") => Err(format!(
                "CHECK constraint {name} is not carried (it is NOT VALID in the source, which may hold rows that break it): {def}"
            )),
            None => Err(format!(
                "CHECK constraint {name} is not carried (no MySQL form): {def}"
            )),
        })
        .collect()
}

/// `UNIQUE KEY …`, `KEY …` for the secondary indexes built after the data (FULLTEXT and
/// SPATIAL ones are in the staging table from the start).
pub fn index_clauses(plan: &TablePlan) -> Vec<String> {
    index_clauses_of(plan, |i| i.kind.is_none())
}

fn index_clauses_of(
    plan: &TablePlan,
    which: impl Fn(&crate::plan::TargetIndex) -> bool,
) -> Vec<String> {
    plan.indexes
        .iter()
        .filter(|i| which(i))
        .map(|i| {
            let kind = match &i.kind {
                Some(k) => format!("{k} "),
                None if i.unique => "UNIQUE ".into(),
                None => String::new(),
            };
            format!("{kind}KEY {} {}", quote_ident(&i.name), index_keys(i))
        })
        .collect()
}

/// An index's key parts, with their prefix lengths: `(`title`(20), `id`)`.
pub fn index_keys(i: &crate::plan::TargetIndex) -> String {
    let cols: Vec<String> = i
        .columns
        .iter()
        // MariaDB reports a SPATIAL key's part as a prefix (32) it does not take back.
        .map(|(c, prefix)| match prefix.filter(|_| i.kind.is_none()) {
            Some(n) => format!("{}({n})", quote_ident(c)),
            None => quote_ident(c),
        })
        .collect();
    format!("({})", cols.join(", "))
}

pub fn foreign_key_sql(database: &str, plan: &TablePlan) -> Vec<String> {
    plan.foreign_keys
        .iter()
        .map(|fk| {
            format!(
                "ALTER TABLE {}.{} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {}.{} ({}) ON UPDATE {} ON DELETE {}",
                quote_ident(database),
                quote_ident(&plan.target),
                quote_ident(&fk.name),
                idents(&fk.columns),
                quote_ident(database),
                quote_ident(&fk.ref_table),
                idents(&fk.ref_columns),
                fk.on_update,
                fk.on_delete
            )
        })
        .collect()
}

/// The target columns, quoted and in order, as an INSERT names them.
pub fn column_list(plan: &TablePlan) -> String {
    plan.target_columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn idents(cols: &[String]) -> String {
    cols.iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A string literal for DDL (defaults, comments).
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// The column's MySQL declaration from a MySQL source, when it is copied as it is.
fn native(c: &TargetColumn) -> Option<&crate::plan::NativeColumn> {
    c.native.as_ref().filter(|n| n.engine == Engine::Mysql)
}

/// The column's type in MySQL.
pub fn column_type(plan: &TablePlan, c: &TargetColumn, server: Server) -> Result<String> {
    if let Some(n) = native(c) {
        return Ok(n.declaration.clone());
    }
    let keyed = plan.primary_key.contains(&c.name)
        || plan
            .indexes
            .iter()
            .any(|i| i.columns.iter().any(|(k, p)| *k == c.name && p.is_none()));
    let refuse = |why: &str| Error::UnsupportedType {
        table: plan.source.clone(),
        column: c.name.clone(),
        sql_type: format!("{} ({why})", c.ty.name()),
        from: "barge",
        to: "MySQL",
    };
    Ok(match &c.ty {
        Logical::Bool => "tinyint(1)".into(),
        Logical::Int16 => "smallint".into(),
        Logical::Int32 => "int".into(),
        Logical::Int64 => "bigint".into(),
        Logical::UInt64 => "bigint unsigned".into(),
        Logical::Decimal(Some((p, s))) if *p <= 65 && *s <= 30 && s <= p => {
            format!("decimal({p},{s})")
        }
        Logical::Decimal(Some(_)) => {
            return Err(refuse(
                "MySQL DECIMAL holds at most 65 digits, 30 after the point, and no more after \
                 it than in all",
            ))
        }
        Logical::Decimal(None) => "decimal(65,30)".into(),
        Logical::Float32 => "float".into(),
        Logical::Float64 => "double".into(),
        // utf8mb4 rows hold at most 16383 characters of VARCHAR.
        Logical::Text(Some(n)) if *n <= 16_383 => format!("varchar({n})"),
        // MySQL cannot index TEXT without a prefix: a key column stays a VARCHAR.
        Logical::Enum(labels) if !labels.is_empty() => {
            let list: Vec<String> = labels.iter().map(|l| quote_literal(l)).collect();
            format!("enum({})", list.join(","))
        }
        Logical::Text(_) | Logical::Enum(_) if keyed => "varchar(768)".into(),
        Logical::Text(_) | Logical::Enum(_) => "longtext".into(),
        Logical::Binary if keyed => "varbinary(3072)".into(),
        Logical::Binary => "longblob".into(),
        Logical::Date => "date".into(),
        Logical::Timestamp(p) | Logical::TimestampUtc(p) => format!("datetime({})", p.min(&6)),
        Logical::Duration(p) => format!("time({})", p.min(&6)),
        Logical::Json | Logical::TextList => "json".into(),
        Logical::Bits(n) if *n <= 64 => format!("bit({n})"),
        Logical::Bits(_) => return Err(refuse("MySQL BIT holds at most 64 bits")),
        Logical::Uuid if server.uuid => "uuid".into(),
        Logical::Uuid => "char(36)".into(),
        Logical::Inet => "varchar(45)".into(),
    })
}

/// What a column from `source` loses in MySQL, or which of its values MySQL refuses. A
/// column with a cast or an expression has the type its job file asked for: nothing to say.
pub fn caveat(
    plan: &TablePlan,
    source: Engine,
    col: &crate::catalog::Column,
    c: &TargetColumn,
    server: Server,
) -> crate::engine::Caveat {
    let mut out = crate::engine::Caveat::default();
    if source != Engine::Postgres || (c.native.is_none() && !col.user_type) {
        return out;
    }
    let decl = column_type(plan, c, server).unwrap_or_default();
    let t = col.data_type.as_str();
    // A domain loses the CHECKs MySQL cannot say, besides what its base type loses.
    let domain_loss = if col.user_type && col.labels.is_empty() && !t.starts_with('_') {
        let left_out: Vec<&String> = match &col.type_def {
            Some(crate::catalog::TypeDef {
                kind: crate::catalog::TypeKind::Domain { checks, .. },
                ..
            }) => checks
                .iter()
                .filter(|d| super::pg_check::translate(d, &c.name).is_none())
                .collect(),
            _ => Vec::new(),
        };
        match (&col.type_def, left_out.is_empty()) {
            (Some(_), true) => None,
            (Some(_), false) => Some(format!(
                "the domain {}: its base type, without {}",
                col.column_type,
                left_out
                    .iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            (None, _) => Some(format!(
                "the domain {}: its base type, without its CHECK",
                col.column_type
            )),
        }
    } else {
        None
    };
    out.lossy = domain_loss.or_else(|| match t {
        _ if t.starts_with('_') => Some("the array type: a JSON array".into()),
        "timestamptz" => Some("the time zone: the UTC time".into()),
        "bpchar" => Some("the padding: the text without trailing spaces".into()),
        "uuid" if decl == "uuid" => None,
        "uuid" if server.known => Some("the type: its text (the server has no UUID type)".into()),
        "uuid" => Some("the type: its text, unless the target is MariaDB ≥ 10.7 (UUID)".into()),
        "money" => Some("the currency: the amount as DECIMAL(19,2)".into()),
        "inet" | "cidr" | "macaddr" | "macaddr8" | "varbit" | "bit" | "xml" | "tsvector"
        | "tsquery" | "timetz"
            if !decl.starts_with("bit(") =>
        {
            Some("the type: its text".into())
        }
        _ => None,
    });
    out.refuses = match t {
        "date" | "timestamp" | "timestamptz" => {
            Some("infinity, and years before 1000 or after 9999".into())
        }
        "interval" => Some("intervals with months, or beyond ±838:59:59".into()),
        "numeric" if col.numeric_precision.is_none() => Some(
            "the table, when a value has more than 35 digits before the point or 30 after (checked before any data moves)"
                .into(),
        ),
        _ if decl == "varchar(768)" => {
            Some("values longer than 768 characters (a key column cannot be TEXT)".into())
        }
        _ if decl == "varbinary(3072)" => {
            Some("values longer than 3072 bytes (a key column cannot be a BLOB)".into())
        }
        _ => None,
    };
    out
}

/// How the column's values travel in LOAD DATA.
pub fn load_as(plan: &TablePlan, c: &TargetColumn, arrow: &arrow_schema::DataType) -> LoadAs {
    use arrow_schema::DataType as D;
    // Only the base types below decide it, and they are the same on every server.
    let decl = column_type(plan, c, Server::default())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let base = decl.split(['(', ' ']).next().unwrap_or("");
    match (arrow, base) {
        (_, "bit") => LoadAs::Bits,
        (_, "year") => LoadAs::Year,
        (
            D::Binary,
            "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
            | "multipolygon" | "geometrycollection" | "geomcollection",
        ) => LoadAs::Geometry,
        (D::Binary, _) => LoadAs::Hex,
        (D::Int16 | D::Int32 | D::Int64, _) if c.ty == Logical::UInt64 => LoadAs::Unsigned,
        (D::Timestamp(..) | D::Duration(_), _) => match c.ty {
            Logical::Timestamp(p) | Logical::TimestampUtc(p) | Logical::Duration(p) if p < 6 => {
                LoadAs::Rounded(p)
            }
            _ => LoadAs::Text,
        },
        _ => LoadAs::Text,
    }
}

fn column_ddl(plan: &TablePlan, c: &TargetColumn, server: Server) -> Result<String> {
    let mut s = format!("{} {}", quote_ident(&c.name), column_type(plan, c, server)?);
    if c.not_null || c.deferred_not_null {
        s.push_str(" NOT NULL");
    }
    if let Some(d) = default_clause(c) {
        s.push_str(" DEFAULT ");
        s.push_str(&d);
    }
    if c.identity && plan.primary_key.first() == Some(&c.name) {
        s.push_str(" AUTO_INCREMENT");
    }
    if plan.on_update_now.contains(&c.name) {
        let p = match &c.ty {
            Logical::Timestamp(p) | Logical::TimestampUtc(p) if *p > 0 => format!("({p})"),
            _ => String::new(),
        };
        s.push_str(&format!(" ON UPDATE CURRENT_TIMESTAMP{p}"));
    }
    if let Some(cm) = &c.comment {
        s.push_str(&format!(" COMMENT {}", quote_literal(cm)));
    }
    Ok(s)
}

/// The default a MySQL source declared, as MySQL says it (a literal quoted, an expression as
/// written). A column that changed type on the way gets no default.
fn default_clause(c: &TargetColumn) -> Option<String> {
    if let Some(n) = c
        .native
        .as_ref()
        .filter(|n| n.engine == Engine::Postgres && !c.identity)
    {
        return pg_default(c, n.default.as_ref()?).ok();
    }
    let (kind, value) = native(c)?.default.as_ref()?;
    match kind {
        DefaultKind::None => None,
        DefaultKind::Literal => Some(quote_literal(value)),
        DefaultKind::Expression => Some(format!("({value})")).map(|e| {
            // CURRENT_TIMESTAMP and friends are the one expression MySQL takes bare on every
            // version; others need the parentheses (MySQL ≥ 8.0.13, MariaDB ≥ 10.2).
            let v = value.to_ascii_lowercase();
            if v.starts_with("current_timestamp") || v.starts_with("now(") {
                value.clone()
            } else {
                e
            }
        }),
    }
}

/// A PostgreSQL default in MySQL: literals as values, the current time as MySQL says it.
/// `Err` gives back a default that has no MySQL form (left out, with a warning).
pub fn pg_default(c: &TargetColumn, (kind, raw): &(DefaultKind, String)) -> Result<String, String> {
    let lc = raw.to_ascii_lowercase();
    if *kind == DefaultKind::Literal {
        return Ok(match lc.as_str() {
            "true" => "1".into(),
            "false" => "0".into(),
            _ if raw.parse::<f64>().is_ok() => raw.clone(),
            _ => match raw
                .strip_prefix('\'')
                .and_then(|r| r.rfind("'::").map(|e| &r[..e]))
            {
                Some(inner) => quote_literal(&inner.replace("''", "'")),
                None => return Err(raw.clone()),
            },
        });
    }
    let now = [
        "now()",
        "current_timestamp",
        "localtimestamp",
        "statement_timestamp()",
    ]
    .iter()
    .any(|p| lc.starts_with(p));
    match (&c.ty, now) {
        (Logical::Timestamp(p) | Logical::TimestampUtc(p), true) if *p > 0 => {
            Ok(format!("CURRENT_TIMESTAMP({})", p.min(&6)))
        }
        (Logical::Timestamp(_) | Logical::TimestampUtc(_), true) => Ok("CURRENT_TIMESTAMP".into()),
        (Logical::Date, _) if lc == "current_date" => Ok("(CURRENT_DATE)".into()),
        _ => Err(raw.clone()),
    }
}

/// Refuse names MySQL cannot hold: longer than 64 characters, or equal to another name of
/// the same table but for case (MySQL column and index names are case-insensitive).
pub fn check_names(plan: &TablePlan) -> Result<()> {
    let table = &plan.target;
    let long = std::iter::once(table)
        .chain(plan.target_columns.iter().map(|c| &c.name))
        .chain(plan.indexes.iter().map(|i| &i.name))
        .chain(plan.foreign_keys.iter().map(|f| &f.name))
        .find(|n| n.chars().count() > MAX_IDENT);
    if let Some(n) = long {
        return Err(Error::Table {
            table: plan.source.clone(),
            detail: format!(
                "the name {n} is longer than MySQL's {MAX_IDENT} characters; rename it in a job file"
            ),
        });
    }
    let mut seen = std::collections::BTreeMap::new();
    for c in &plan.target_columns {
        if let Some(other) = seen.insert(c.name.to_lowercase(), &c.name) {
            return Err(Error::Table {
                table: plan.source.clone(),
                detail: format!(
                    "columns {other} and {} differ only in case, which MySQL does not tell apart; rename one in a job file",
                    c.name
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{NativeColumn, TargetIndex};

    use crate::plan::test_plan as plan;

    #[test]
    fn native_declarations_are_kept_and_others_mapped() {
        let mut id = TargetColumn::plain("id", Logical::Int64);
        id.native = Some(NativeColumn {
            engine: Engine::Mysql,
            declaration: "int(10) unsigned".into(),
            default: None,
            type_def: None,
        });
        id.identity = true;
        id.not_null = true;
        let mut state = TargetColumn::plain("state", Logical::Text(None));
        state.native = Some(NativeColumn {
            engine: Engine::Mysql,
            declaration: "enum('a','b''c')".into(),
            default: Some((DefaultKind::Literal, "a".into())),
            type_def: None,
        });
        let mut seen = TargetColumn::plain("seen", Logical::Timestamp(6));
        seen.native = Some(NativeColumn {
            engine: Engine::Mysql,
            declaration: "datetime(6)".into(),
            default: Some((DefaultKind::Expression, "current_timestamp(6)".into())),
            type_def: None,
        });
        let mut p = plan(vec![
            id,
            state,
            seen,
            TargetColumn::plain("name", Logical::Text(None)),
            TargetColumn::plain("amount", Logical::Decimal(None)),
        ]);
        p.indexes.push(TargetIndex {
            definition: None,
            kind: None,
            name: "by_name".into(),
            unique: true,
            columns: vec![("name".into(), None)],
        });
        let sql = create_table_sql("d", "_barge_t", &p, false, Server::default()).unwrap();
        assert!(
            sql.contains("`id` int(10) unsigned NOT NULL AUTO_INCREMENT"),
            "{sql}"
        );
        assert!(
            sql.contains("`state` enum('a','b''c') DEFAULT 'a'"),
            "{sql}"
        );
        assert!(
            sql.contains("`seen` datetime(6) DEFAULT current_timestamp(6)"),
            "{sql}"
        );
        // Indexed text must be a VARCHAR in MySQL.
        assert!(sql.contains("`name` varchar(768)"), "{sql}");
        assert!(sql.contains("`amount` decimal(65,30)"), "{sql}");
        assert!(sql.contains("PRIMARY KEY (`id`)"), "{sql}");
        assert!(
            !sql.contains("by_name"),
            "indexes come after the data: {sql}"
        );
        assert_eq!(index_clauses(&p), vec!["UNIQUE KEY `by_name` (`name`)"]);
    }

    #[test]
    fn names_mysql_cannot_hold_are_refused() {
        let p = plan(vec![
            TargetColumn::plain("Name", Logical::Text(None)),
            TargetColumn::plain("name", Logical::Text(None)),
        ]);
        let e = check_names(&p).unwrap_err().to_string();
        assert!(e.contains("Name and name differ only in case"), "{e}");
        let p = plan(vec![TargetColumn::plain(
            &"x".repeat(65),
            Logical::Text(None),
        )]);
        assert!(check_names(&p)
            .unwrap_err()
            .to_string()
            .contains("longer than MySQL's 64"));
        let p = plan(vec![TargetColumn::plain(
            "c",
            Logical::Decimal(Some((70, 2))),
        )]);
        assert!(column_type(&p, &p.target_columns[0], Server::default()).is_err());
    }

    #[test]
    fn a_postgres_uuid_is_native_on_mariadb_from_10_7() {
        let p = plan(vec![TargetColumn::plain("u", Logical::Uuid)]);
        let ty = |v: Option<&str>| column_type(&p, &p.target_columns[0], Server::from_version(v));
        assert_eq!(ty(Some("10.11.14-MariaDB-0+deb12u2")).unwrap(), "uuid");
        assert_eq!(ty(Some("10.7.1-MariaDB")).unwrap(), "uuid");
        assert_eq!(ty(Some("10.6.18-MariaDB-log")).unwrap(), "char(36)");
        assert_eq!(ty(Some("8.0.36")).unwrap(), "char(36)");
        assert_eq!(ty(None).unwrap(), "char(36)");
    }
}
