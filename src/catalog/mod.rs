//! The catalog: what a database holds (tables, columns, keys, indexes, relationships),
//! independent of the engine it was read from. Later stages (plan, transforms, inspect)
//! work on these types only.

pub mod conventions;

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Catalog {
    /// The engine it was read from.
    pub engine: crate::url::Engine,
    /// The engine the copy writes to, when known: a source with several ways to read a
    /// type picks the one that target keeps exactly.
    pub target: Option<crate::url::Engine>,
    /// What the target server says it is (`SELECT VERSION()`), when it could be asked.
    pub target_version: Option<String>,
    /// Whether the target's uuid type refuses uuids PostgreSQL accepts (MariaDB's refuses
    /// version ≥ 8 with variant < 8); None: not known, so a source looks.
    pub target_strict_uuid: Option<bool>,
    pub database: String,
    pub server_version: String,
    pub tables: Vec<Table>,
}

impl Catalog {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Table {
    pub name: String,
    pub comment: Option<String>,
    pub columns: Vec<Column>,
    /// Primary key columns in key order; empty when the table has none.
    pub primary_key: Vec<String>,
    /// Unique and secondary indexes (not the primary key).
    pub indexes: Vec<Index>,
    pub foreign_keys: Vec<ForeignKey>,
    /// The server's estimate (information_schema.TABLES.TABLE_ROWS), for planning only.
    pub estimated_rows: u64,
    /// The next AUTO_INCREMENT value, so sequences do not reuse ids of deleted rows.
    pub auto_increment: Option<u64>,
    /// Table CHECK constraints, in the source engine's own SQL: a target of the same engine
    /// adds them as they are.
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Check {
    pub name: String,
    /// `CHECK (…)`, as the source engine writes it (PostgreSQL: with `NOT VALID` if so).
    pub definition: String,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Column {
    pub name: String,
    /// `information_schema.COLUMNS.DATA_TYPE`, lower case (`int`, `varchar`, `enum`…).
    pub data_type: String,
    /// The full declaration (`int(10) unsigned`, `enum('a','b')`, `tinyint(1)`).
    pub column_type: String,
    pub nullable: bool,
    /// The default as the server reports it: a literal or an expression (see `default_kind`).
    pub default: Option<String>,
    pub default_kind: DefaultKind,
    pub char_max_length: Option<u64>,
    pub numeric_precision: Option<u32>,
    pub numeric_scale: Option<u32>,
    pub datetime_precision: Option<u32>,
    pub charset: Option<String>,
    pub auto_increment: bool,
    /// `ON UPDATE CURRENT_TIMESTAMP…` and similar, which PostgreSQL has no column clause for.
    pub on_update: Option<String>,
    pub comment: Option<String>,
    /// MariaDB stores JSON as LONGTEXT with a `json_valid()` CHECK; this marks such columns.
    pub json_checked: bool,
    /// A TINYINT(1) (MySQL's boolean) found to hold another value than 0 and 1: one such
    /// value. It is then a small integer, not a boolean. See `mysql::probe_tinyint_booleans`.
    pub non_boolean: Option<i64>,
    /// A PostgreSQL enum's labels, in order.
    pub labels: Vec<String>,
    /// A type the database defines itself (a PostgreSQL enum, domain or composite), which
    /// another database does not have.
    pub user_type: bool,
    /// Why the target cannot take this column's values, found by the source before any data
    /// moved (a PostgreSQL numeric wider than MySQL's DECIMAL(65,30)): the table is refused.
    pub refused: Option<String>,
    /// Why the target's own type for this column cannot take every value it holds (a
    /// PostgreSQL uuid that MariaDB's UUID refuses): the column is declared as text there.
    pub as_text_because: Option<String>,
    /// The definition of the type the database defines for this column, where a database of
    /// the same engine can create it too (a PostgreSQL enum, a domain over a built-in type).
    pub type_def: Option<TypeDef>,
}

/// A type a database defines itself, as another database of its engine can create it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeDef {
    /// Its name, without its schema.
    pub name: String,
    pub kind: TypeKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TypeKind {
    Enum {
        labels: Vec<String>,
    },
    /// A domain over a built-in type: its declaration, CHECK constraints, NOT NULL, default.
    Domain {
        base: String,
        checks: Vec<String>,
        not_null: bool,
        default: Option<String>,
    },
}

/// Whether a reported default is a literal value or an SQL expression. The two servers
/// report them differently (MariaDB quotes string literals, MySQL flags expressions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum DefaultKind {
    #[default]
    None,
    Literal,
    Expression,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Index {
    pub name: String,
    pub unique: bool,
    pub columns: Vec<IndexColumn>,
    /// BTREE, HASH, FULLTEXT, SPATIAL.
    pub kind: String,
    /// On expressions, or partial (PostgreSQL): `columns` then holds only the plain ones.
    pub expression: bool,
    /// PostgreSQL: the index after its table, `USING method (keys) [INCLUDE …] [WHERE …]`,
    /// which a PostgreSQL target creates as it is. `None` where it names the source's own
    /// schema (a function or type of its own).
    pub definition: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IndexColumn {
    pub name: String,
    /// A prefix length (`KEY (title(20))`).
    pub prefix: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    pub on_update: String,
    pub on_delete: String,
}
