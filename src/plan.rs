//! The copy plan: which tables, how each column maps, and the PostgreSQL objects to create.
//! Planning reads only the catalog; every error it finds (unknown table, unmappable type)
//! stops the run before any data moves.

use crate::catalog::{Catalog, Column, DefaultKind, Table};
use crate::error::{Error, Result};
use crate::types::{Decode, Logical, Mapping, SourceTypes};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What happens to the target tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Mode {
    /// Create the tables and load them; an existing table is an error unless `--drop`
    /// (then it is replaced atomically, once the new one is loaded).
    Create,
    /// Load into tables that already exist.
    DataOnly,
    /// Create tables, keys and indexes; move no data.
    SchemaOnly,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetColumn {
    pub name: String,
    pub ty: Logical,
    pub not_null: bool,
    pub default: Option<TargetDefault>,
    /// MySQL AUTO_INCREMENT: becomes an identity column after the load.
    pub identity: bool,
    pub comment: Option<String>,
    /// A NOT NULL temporal column: created nullable, made NOT NULL after the load unless
    /// zero dates had to become NULL.
    pub deferred_not_null: bool,
    /// The source's own declaration (`int(10) unsigned`, `enum('a','b')`), when the column
    /// is copied as it is (no cast, not computed): a target of the same engine keeps it.
    pub native: Option<NativeColumn>,
    /// The values travel as their text (a type barge does not decode); a target of the
    /// source's engine turns them back into the native type after the load.
    pub as_text: bool,
    /// The CHECKs of the source's own type (a PostgreSQL domain's, in its SQL, `VALUE` for
    /// the value), when the column is copied as it is and the target does not create that
    /// type: a target of another engine holds those it can say in its own SQL.
    pub type_checks: Vec<String>,
}

/// A column's default in the target, as a value or as one engine's SQL: each target says
/// it in its own.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetDefault {
    /// A constant, as text the column's type reads (`true`, `12.50`, `2020-01-01`, `a`).
    Value(String),
    /// An array of text (a MySQL SET's members).
    Values(Vec<String>),
    /// The current time, with the time zone (`timestamptz`).
    Now,
    /// The current time without a time zone (`timestamp`).
    LocalNow,
    /// The current date.
    Today,
    /// SQL of the source's engine, which a target of that engine takes as it is.
    Sql {
        engine: crate::url::Engine,
        text: String,
    },
}

/// A column as the source engine declared it.
#[derive(Debug, Clone, Serialize)]
pub struct NativeColumn {
    pub engine: crate::url::Engine,
    pub declaration: String,
    /// The default as the source reports it, and whether it is a literal or an expression.
    pub default: Option<(DefaultKind, String)>,
    /// The type the source database defines for the column, which a target of its engine
    /// creates in its own schema (the column then gets that type there).
    pub type_def: Option<crate::catalog::TypeDef>,
}

impl TargetColumn {
    /// A nullable column with no default, key role or constraint (added or computed columns).
    pub fn plain(name: &str, ty: Logical) -> TargetColumn {
        TargetColumn {
            name: name.to_string(),
            ty,
            not_null: false,
            default: None,
            identity: false,
            comment: None,
            deferred_not_null: false,
            native: None,
            as_text: false,
            type_checks: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetIndex {
    pub name: String,
    pub unique: bool,
    /// The target columns, with a key prefix length where the source index had one.
    pub columns: Vec<(String, Option<u32>)>,
    /// PostgreSQL → PostgreSQL: the source's own definition after the table name (`USING
    /// gin (…) WHERE …`), used in place of `keys`.
    pub definition: Option<String>,
    /// MySQL → MySQL: `FULLTEXT` or `SPATIAL`.
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    pub on_update: String,
    pub on_delete: String,
}

/// One table's plan.
#[derive(Debug, Clone, Serialize)]
pub struct TablePlan {
    pub source: String,
    pub target: String,
    /// Source columns read, in order, with their mappings.
    pub columns: Vec<(String, Mapping)>,
    /// Target columns, in the order of the batches the writer receives (after transforms).
    pub target_columns: Vec<TargetColumn>,
    /// Operators applied to each batch between reader and writer.
    #[serde(skip)]
    pub transforms: Vec<std::sync::Arc<dyn crate::transform::Transform>>,
    /// A WHERE condition the source server applies (SQL).
    pub filter: Option<String>,
    /// The job's row filter as written.
    pub filter_text: Option<String>,
    /// The part of the row filter barge evaluates (what MySQL cannot run the same way).
    pub barge_filter: Option<String>,
    /// Source columns read only for expressions (not written): after `columns` in a batch.
    pub extra_reads: Vec<(String, Mapping)>,
    /// Computed columns: target name and expression text.
    pub computed: Vec<(String, String)>,
    /// The table's own `jobs` and `batch_rows`, when the job sets them.
    pub jobs: Option<usize>,
    pub batch_rows: Option<usize>,
    /// The target assigns new keys to this table.
    pub new_keys: bool,
    /// Key columns rewritten through remapped parents.
    pub remaps: Vec<Remap>,
    /// Target primary key columns (target names).
    pub primary_key: Vec<String>,
    /// The primary key constraint's name (and its index's: a relation name in PostgreSQL).
    pub primary_key_name: String,
    pub indexes: Vec<TargetIndex>,
    pub foreign_keys: Vec<TargetForeignKey>,
    pub comment: Option<String>,
    /// Sequences restart above this (MySQL's AUTO_INCREMENT − 1), even past max(id).
    pub sequence_floor: Option<u64>,
    /// A single integer primary key column the table can be split on.
    pub split_key: Option<String>,
    pub estimated_rows: u64,
    /// Target columns MySQL set to the current time on every UPDATE that changes the row
    /// (`ON UPDATE CURRENT_TIMESTAMP`): a BEFORE UPDATE trigger keeps doing it.
    pub on_update_now: Vec<String>,
    /// Same engine: the source's CHECK constraints, `(name, CHECK (…))` in its own SQL.
    pub checks: Vec<(String, String)>,
    /// PostgreSQL into MySQL: the source's CHECK constraints in PostgreSQL's SQL, which the
    /// target holds where it can say them the same way in its own.
    pub foreign_checks: Vec<(String, String)>,
    pub warnings: Vec<String>,
    /// What barge changed or added on the way that the user should know (not a problem).
    pub notes: Vec<String>,
    /// Some of it was loaded by an earlier, interrupted run of the same copy (the ledger
    /// says so): its target may already exist, made by that run's finish.
    #[serde(skip)]
    pub resumed: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only these tables: exact names or glob patterns (`*`, `?`); empty means all.
    pub tables: Vec<String>,
    /// Leave these out: exact names or glob patterns.
    pub exclude: Vec<String>,
    /// Per source table: how it changes on the way (job files).
    pub specs: BTreeMap<String, TableSpec>,
    /// Which undeclared relationships to trust.
    pub relationships: RelationshipRules,
    /// The instant `now()` stands for (microseconds since the epoch): a resumed run keeps
    /// the first one's. `None`: the clock when planning.
    pub now_micros: Option<i64>,
}

/// What to do with relationships the schema does not declare (Rails keeps foreign keys as
/// plain integers). Confirmed and added ones become foreign keys in the target; rejected ones
/// no longer order the load.
#[derive(Debug, Clone, Default)]
pub struct RelationshipRules {
    /// Inferred relationships to create as foreign keys: (table, column).
    pub confirm: Vec<(String, String)>,
    /// Relationships the conventions cannot see: (table, column, parent table, parent column).
    pub add: Vec<(String, String, String, String)>,
    /// Inferred relationships that are not relationships: (table, column).
    pub reject: Vec<(String, String)>,
    /// Create every inferred (and not rejected) relationship as a foreign key.
    pub create_inferred: bool,
}

/// How one table changes between source and target.
#[derive(Debug, Clone, Default)]
pub struct TableSpec {
    /// Operators of the library user's own, run after the job's: their output schema decides
    /// the target columns (new columns get a type from their Arrow type).
    pub transforms: Vec<std::sync::Arc<dyn crate::transform::Transform>>,
    /// The target table's name (default: the source's).
    pub target: Option<String>,
    /// Source column → target column.
    pub rename: Vec<(String, String)>,
    /// Source columns not copied (not even read).
    pub drop: Vec<String>,
    /// Columns added with a constant or an expression, optionally with a type.
    pub add: Vec<AddedColumn>,
    /// A condition on the source rows (an expression over source column names): pushed to
    /// the source as a WHERE where MySQL means the same, evaluated by barge otherwise.
    pub filter: Option<crate::expr::ExprSource>,
    /// Raw SQL the source server adds to its WHERE, as is (MySQL-specific conditions).
    pub source_where: Option<String>,
    /// Source column → the type it gets instead of the default mapping.
    pub cast: Vec<(String, Logical)>,
    /// The target assigns new keys (after its current maximum); children referencing this
    /// table get their key columns rewritten through the old → new map.
    pub new_keys: bool,
    /// Per referencing source column: what to do with rows whose parent key does not exist.
    pub orphans: Vec<(String, OrphanPolicy)>,
    /// Into how many key ranges this table is split at most (read in parallel over the
    /// route's connections), instead of the route's `jobs`.
    pub jobs: Option<usize>,
    /// Rows per record batch for this table, instead of the route's `batch_rows`.
    pub batch_rows: Option<usize>,
}

/// Rows whose parent key does not exist in a remapped parent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrphanPolicy {
    /// Stop: the table is not loaded (the default).
    #[default]
    Error,
    /// Load the row with the key column set to NULL.
    Null,
    /// Leave the row out and write it to the reject file with the reason.
    Skip,
}

impl OrphanPolicy {
    pub fn parse(s: &str) -> Option<OrphanPolicy> {
        match s {
            "error" => Some(OrphanPolicy::Error),
            "null" => Some(OrphanPolicy::Null),
            "skip" => Some(OrphanPolicy::Skip),
            _ => None,
        }
    }
}

/// A key column rewritten through a parent's old → new key map.
#[derive(Debug, Clone, Serialize)]
pub struct Remap {
    /// The target column.
    pub column: String,
    /// The parent's target table.
    pub parent: String,
    pub policy: OrphanPolicy,
}

#[derive(Debug, Clone)]
pub struct AddedColumn {
    pub name: String,
    pub value: AddedValue,
    pub ty: Option<Logical>,
}

#[derive(Debug, Clone)]
pub enum AddedValue {
    Literal(crate::transform::Literal),
    /// Computed per row from the source row (source column names).
    Expr(crate::expr::ExprSource),
}

/// `*` matches any run of characters, `?` any one character.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(
        &pattern.chars().collect::<Vec<_>>(),
        &name.chars().collect::<Vec<_>>(),
    )
}

fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?'])
}

impl TablePlan {
    /// The schema of the batches the reader produces: source columns under their target names,
    /// so every transform sees the names the target will have, then the columns read only for
    /// expressions.
    pub fn reader_schema(&self) -> arrow_schema::SchemaRef {
        reader_schema_of(&self.columns, &self.target_columns, &self.extra_reads)
    }

    /// Every source column the reader selects, in batch order.
    pub fn read_columns(&self) -> Vec<(String, Mapping)> {
        self.columns
            .iter()
            .chain(&self.extra_reads)
            .cloned()
            .collect()
    }
}

/// The reader's batch schema: the read columns under their target names, then the columns
/// read only for expressions.
fn reader_schema_of(
    columns: &[(String, Mapping)],
    target_columns: &[TargetColumn],
    extra_reads: &[(String, Mapping)],
) -> arrow_schema::SchemaRef {
    std::sync::Arc::new(arrow_schema::Schema::new(
        columns
            .iter()
            .zip(target_columns)
            .map(|((_, m), c)| m.field(&c.name))
            .chain(
                extra_reads
                    .iter()
                    .map(|(n, m)| m.field(&format!("_barge_read_{n}"))),
            )
            .collect::<Vec<_>>(),
    ))
}

/// How the source reads a column (`types`, its engine's table), unless the catalog refused it.
fn map_column(types: SourceTypes, catalog: &Catalog, col: &Column) -> Option<Mapping> {
    col.refused
        .is_none()
        .then(|| types(col, catalog.target))
        .flatten()
}

/// Choose the tables and plan each one.
pub fn plan(
    catalog: &Catalog,
    types: SourceTypes,
    selection: &Selection,
) -> Result<Vec<TablePlan>> {
    let (plans, refused) = plan_each(catalog, types, selection)?;
    match refused.into_iter().next() {
        Some(r) => Err(r.error),
        None => Ok(plans),
    }
}

/// A selected table that cannot be copied as it is (a column type without a mapping). The
/// others are planned without it, so one such table does not hide every other problem.
#[derive(Debug)]
pub struct Refused {
    pub source: String,
    pub error: Error,
}

/// Choose the tables and plan each one; tables whose columns cannot be mapped are refused
/// one by one. A mistake in the selection or the job is still an error for the whole plan.
pub fn plan_each(
    catalog: &Catalog,
    types: SourceTypes,
    selection: &Selection,
) -> Result<(Vec<TablePlan>, Vec<Refused>)> {
    let names: BTreeSet<&str> = catalog.tables.iter().map(|t| t.name.as_str()).collect();
    let unknown: Vec<&str> = selection
        .tables
        .iter()
        .chain(&selection.exclude)
        .chain(selection.specs.keys())
        .map(String::as_str)
        .filter(|t| {
            if is_pattern(t) {
                !names.iter().any(|n| glob_match(t, n))
            } else {
                !names.contains(t)
            }
        })
        .collect();
    if !unknown.is_empty() {
        return Err(Error::Selection(format!(
            "no such table in source database `{}`: {} (it has: {})",
            catalog.database,
            unknown.join(", "),
            names.iter().copied().collect::<Vec<_>>().join(", ")
        )));
    }
    let matches = |list: &[String], name: &str| list.iter().any(|p| glob_match(p, name));
    let chosen: Vec<&Table> = catalog
        .tables
        .iter()
        .filter(|t| selection.tables.is_empty() || matches(&selection.tables, &t.name))
        .filter(|t| !matches(&selection.exclude, &t.name))
        .collect();
    if chosen.is_empty() {
        return Err(Error::Selection(format!(
            "no tables to copy from source database `{}`",
            catalog.database
        )));
    }
    let chosen_names: BTreeSet<&str> = chosen.iter().map(|t| t.name.as_str()).collect();

    // Index names are per table in MySQL but per schema in PostgreSQL.
    let mut index_name_uses: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &chosen {
        for i in &t.indexes {
            *index_name_uses.entry(i.name.as_str()).or_default() += 1;
        }
    }

    let empty = TableSpec::default();
    let now_micros = selection.now_micros.unwrap_or_else(now_micros);
    let mut plans: Vec<TablePlan> = Vec::with_capacity(chosen.len());
    let mut refused = Vec::new();
    for t in chosen {
        let spec = selection.specs.get(&t.name).unwrap_or(&empty);
        match plan_table(
            Read { catalog, types },
            t,
            spec,
            &selection.specs,
            &chosen_names,
            &index_name_uses,
            now_micros,
        ) {
            Ok(p) => plans.push(p),
            Err(error @ Error::UnsupportedType { .. }) => refused.push(Refused {
                source: t.name.clone(),
                error,
            }),
            Err(e) => return Err(e),
        }
    }
    let rels = apply_rules(catalog, &selection.relationships)?;
    add_relationship_keys(
        &mut plans,
        &rels,
        &selection.relationships,
        &selection.specs,
    );
    plan_remaps(catalog, &mut plans, &rels, &selection.specs)?;
    // Parents before children (declared, inferred, added relationships), cycles broken.
    let names: Vec<String> = plans.iter().map(|p| p.source.clone()).collect();
    let (order, _) = crate::catalog::conventions::load_order(&names, &rels);
    plans.sort_by_key(|p| order.iter().position(|o| *o == p.source));
    let mut targets = BTreeSet::new();
    for p in &plans {
        if !targets.insert(p.target.as_str()) {
            return Err(Error::Selection(format!(
                "two source tables would both load into target table `{}`",
                p.target
            )));
        }
    }
    unique_relation_names(&mut plans, &[], false)?;
    Ok((plans, refused))
}

/// A relation that already exists in the target schema.
#[derive(Debug, Clone)]
pub struct ExistingRelation {
    pub name: String,
    /// What it is, as a person says it: table, index, sequence, view…
    pub kind: String,
    /// The table it belongs to (an index's table, a sequence's owner; a table itself).
    pub owner: Option<String>,
}

/// The staging and key-map tables barge creates for a target table (see `sink::postgres`).
pub fn helper_tables(target: &str) -> [String; 2] {
    [
        staging_name(target),
        staging_name(&format!("keymap_{target}")),
    ]
}

/// The clock, as `now()` sees it: microseconds since the epoch.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// FNV-1a: a stable 64-bit hash of names and plans (the same in every process and build).
pub fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

/// `_barge_<target>`, cut to PostgreSQL's 63 bytes with a hash of the whole name.
pub fn staging_name(target: &str) -> String {
    prefixed_name("_barge_", target)
}

/// `<prefix><target>`, within 63 bytes (PostgreSQL's limit, and within MySQL's 64
/// characters): a longer one is cut on a character boundary and ends in a hash of the whole
/// target name, so two long names that share a beginning stay apart.
pub fn prefixed_name(prefix: &str, target: &str) -> String {
    let name = format!("{prefix}{target}");
    if name.len() <= 63 {
        return name;
    }
    let hash = fnv64(target.as_bytes());
    format!("{}_{:08x}", truncate_to(&name, 50), hash as u32)
}

/// MySQL index names are per table; PostgreSQL's share one namespace per schema with
/// tables, sequences and views. Give every index (and primary key) barge creates a name no
/// other relation has: not the plan's own tables, keys and indexes, nor what `existing`
/// holds in the target schema (except what belongs to a table `replace` drops first).
/// A changed name is noted in the table's report. A target table whose name another kind
/// of relation holds is an error, before any data moves.
pub fn unique_relation_names(
    plans: &mut [TablePlan],
    existing: &[ExistingRelation],
    replace: bool,
) -> Result<()> {
    let targets: BTreeSet<String> = plans.iter().map(|p| p.target.clone()).collect();
    let helpers: BTreeSet<String> = targets.iter().flat_map(|t| helper_tables(t)).collect();
    // Free for table `t`: absent, or belonging to `t` itself when `t` is replaced (dropped
    // in the same transaction that creates the new names), or to a staging table.
    let holder = |name: &str, t: &str| -> Option<&ExistingRelation> {
        existing.iter().find(|e| {
            e.name == name
                && !e.owner.as_deref().is_some_and(|o| helpers.contains(o))
                && !(replace && e.owner.as_deref() == Some(t))
        })
    };
    for p in plans.iter() {
        if let Some(e) = holder(&p.target, &p.target).filter(|e| e.kind != "table") {
            return Err(Error::TargetMismatch {
                table: p.target.clone(),
                detail: format!(
                    "the name is taken by the {} {}{} in the target schema",
                    e.kind,
                    e.name,
                    e.owner
                        .as_ref()
                        .map(|o| format!(" (of table {o})"))
                        .unwrap_or_default()
                ),
            });
        }
    }
    // Names the plan itself uses; tables first, since they cannot be renamed.
    let mut used: BTreeMap<String, String> = BTreeMap::new();
    for t in &targets {
        used.insert(t.clone(), format!("table {t}"));
    }
    for h in &helpers {
        used.insert(h.clone(), "a barge staging table".into());
    }
    for p in plans.iter_mut() {
        let target = p.target.clone();
        let mut names: Vec<(&'static str, &mut String)> = Vec::new();
        if !p.primary_key.is_empty() {
            names.push(("primary key", &mut p.primary_key_name));
        }
        for i in p.indexes.iter_mut() {
            names.push(("index", &mut i.name));
        }
        let mut notes = Vec::new();
        for (what, name) in names {
            let taken_by = |n: &str, used: &BTreeMap<String, String>| -> Option<String> {
                used.get(n).cloned().or_else(|| {
                    holder(n, &target).map(|e| {
                        format!(
                            "the {} {}{} in the target schema",
                            e.kind,
                            e.name,
                            e.owner
                                .as_ref()
                                .filter(|o| **o != e.name)
                                .map(|o| format!(" of table {o}"))
                                .unwrap_or_default()
                        )
                    })
                })
            };
            let Some(by) = taken_by(name, &used) else {
                used.insert(name.clone(), format!("{what} {name} of table {target}"));
                continue;
            };
            let prefixed = format!("{target}_{name}");
            let mut candidate = truncate_ident(&prefixed);
            let mut n = 2;
            while candidate == *name || taken_by(&candidate, &used).is_some() {
                let suffix = format!("_{n}");
                candidate = format!("{}{suffix}", truncate_to(&prefixed, 63 - suffix.len()));
                n += 1;
            }
            notes.push(format!(
                "{what} {name} is created as {candidate}: PostgreSQL index names are per schema, and {name} is {by}"
            ));
            used.insert(
                candidate.clone(),
                format!("{what} {candidate} of table {target}"),
            );
            *name = candidate;
        }
        p.notes.extend(notes);
    }
    Ok(())
}

fn truncate_to(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The relationships after the job's rules: inferred minus rejected, plus added.
pub fn apply_rules(
    catalog: &Catalog,
    rules: &RelationshipRules,
) -> Result<Vec<crate::catalog::conventions::Relationship>> {
    use crate::catalog::conventions::{relationships, Origin, Relationship};
    let mut rels = relationships(catalog).relationships;
    let inferred = |t: &str, c: &str, rels: &[Relationship]| {
        rels.iter()
            .any(|r| r.table == t && r.column == c && r.origin == Origin::Inferred)
    };
    for (t, c) in rules.confirm.iter().chain(&rules.reject) {
        if !inferred(t, c, &rels) {
            return Err(Error::Selection(format!(
                "relationships: {t}.{c} is not an inferred relationship (see `barge inspect`)"
            )));
        }
    }
    rels.retain(|r| {
        !rules
            .reject
            .iter()
            .any(|(t, c)| *t == r.table && *c == r.column)
    });
    for (t, c, pt, pc) in &rules.add {
        for (table, column) in [(t, c), (pt, pc)] {
            if catalog
                .table(table)
                .and_then(|x| x.column(column))
                .is_none()
            {
                return Err(Error::Selection(format!(
                    "relationships: add {t}.{c} -> {pt}.{pc}: no column {table}.{column} in the source"
                )));
            }
        }
        rels.push(Relationship {
            table: t.clone(),
            column: c.clone(),
            ref_table: pt.clone(),
            ref_column: pc.clone(),
            origin: Origin::Inferred,
        });
    }
    Ok(rels)
}

/// Confirmed, added (and with `create_inferred`, all inferred) relationships become foreign
/// keys in the target, when both tables are part of the copy.
fn add_relationship_keys(
    plans: &mut [TablePlan],
    rels: &[crate::catalog::conventions::Relationship],
    rules: &RelationshipRules,
    specs: &BTreeMap<String, TableSpec>,
) {
    use crate::catalog::conventions::Origin;
    let wanted = |t: &str, c: &str| {
        rules.create_inferred
            || rules.confirm.iter().any(|(a, b)| a == t && b == c)
            || rules.add.iter().any(|(a, b, _, _)| a == t && b == c)
    };
    let targets: BTreeMap<String, String> = plans
        .iter()
        .map(|p| (p.source.clone(), p.target.clone()))
        .collect();
    for r in rels
        .iter()
        .filter(|r| r.origin == Origin::Inferred && wanted(&r.table, &r.column))
    {
        let Some(p) = plans.iter_mut().find(|p| p.source == r.table) else {
            continue;
        };
        let Some(parent) = targets.get(&r.ref_table) else {
            p.warnings.push(format!(
                "{}.{} → {}: foreign key not created: {} is not part of this copy",
                r.table, r.column, r.ref_table, r.ref_table
            ));
            continue;
        };
        if !p.columns.iter().any(|(n, _)| *n == r.column) {
            continue; // dropped
        }
        p.foreign_keys.push(TargetForeignKey {
            name: truncate_ident(&format!(
                "fk_{}_{}",
                p.target,
                renamed(specs, &r.table, &r.column)
            )),
            columns: vec![renamed(specs, &r.table, &r.column).to_string()],
            ref_table: parent.clone(),
            ref_columns: vec![renamed(specs, &r.ref_table, &r.ref_column).to_string()],
            on_update: "NO ACTION".into(),
            on_delete: "NO ACTION".into(),
        });
    }
}

/// Children of tables with `new_keys` get their key columns remapped.
fn plan_remaps(
    catalog: &Catalog,
    plans: &mut [TablePlan],
    rels: &[crate::catalog::conventions::Relationship],
    specs: &BTreeMap<String, TableSpec>,
) -> Result<()> {
    let remapped: BTreeMap<String, (String, String)> = plans
        .iter()
        .filter(|p| p.new_keys)
        .map(|p| {
            let t = catalog.table(&p.source).expect("planned from the catalog");
            match t.primary_key.as_slice() {
                [k] => Ok((p.source.clone(), (k.clone(), p.target.clone()))),
                _ => Err(Error::Selection(format!(
                    "table {}: new_keys needs a single-column primary key",
                    p.source
                ))),
            }
        })
        .collect::<Result<_>>()?;
    for p in plans.iter_mut() {
        let spec = specs.get(&p.source);
        for r in rels.iter().filter(|r| r.table == p.source) {
            let Some((key, parent)) = remapped.get(&r.ref_table) else {
                continue;
            };
            if *key != r.ref_column || !p.columns.iter().any(|(n, _)| *n == r.column) {
                continue;
            }
            let policy = spec
                .and_then(|s| s.orphans.iter().find(|(c, _)| *c == r.column))
                .map(|(_, pol)| *pol)
                .unwrap_or_default();
            p.remaps.push(Remap {
                column: renamed(specs, &p.source, &r.column).to_string(),
                parent: parent.clone(),
                policy,
            });
        }
        if let Some(spec) = spec {
            for (c, _) in &spec.orphans {
                let source_col = |r: &Remap| renamed(specs, &p.source, c) == r.column;
                if !p.remaps.iter().any(source_col) {
                    return Err(Error::Selection(format!(
                        "table {}: orphans.{c}: {c} does not reference a table with new_keys",
                        p.source
                    )));
                }
            }
        }
    }
    remap_cycle(plans)
}

/// Tables with new keys that reference each other (directly or around a loop) cannot be
/// ordered: each needs the other's old → new map before it can be written. Say so at plan time.
fn remap_cycle(plans: &[TablePlan]) -> Result<()> {
    let index = |target: &str| plans.iter().position(|p| p.target == target);
    // Edges child → remapped parent, self-references left out (they are remapped in place).
    let edges: Vec<Vec<(usize, &str)>> = plans
        .iter()
        .enumerate()
        .map(|(i, p)| {
            p.remaps
                .iter()
                .filter_map(|r| {
                    index(&r.parent)
                        .filter(|j| *j != i)
                        .map(|j| (j, r.column.as_str()))
                })
                .collect()
        })
        .collect();
    // 0 = unvisited, 1 = on the current path, 2 = done.
    fn visit(
        i: usize,
        edges: &[Vec<(usize, &str)>],
        state: &mut [u8],
        path: &mut Vec<(usize, String)>,
    ) -> Option<Vec<(usize, String)>> {
        state[i] = 1;
        for (j, col) in &edges[i] {
            path.push((i, col.to_string()));
            if state[*j] == 1 {
                let start = path.iter().position(|(k, _)| k == j).unwrap_or(0);
                return Some(path[start..].to_vec());
            }
            if state[*j] == 0 {
                if let Some(c) = visit(*j, edges, state, path) {
                    return Some(c);
                }
            }
            path.pop();
        }
        state[i] = 2;
        None
    }
    let mut state = vec![0u8; plans.len()];
    for i in 0..plans.len() {
        if state[i] != 0 {
            continue;
        }
        if let Some(cycle) = visit(i, &edges, &mut state, &mut Vec::new()) {
            let links: Vec<String> = cycle
                .iter()
                .map(|(k, col)| {
                    let parent = edges[*k]
                        .iter()
                        .find(|(_, c)| c == col)
                        .map(|(j, _)| plans[*j].target.as_str())
                        .unwrap_or("?");
                    format!("{}.{col} → {parent}", plans[*k].target)
                })
                .collect();
            return Err(Error::Selection(format!(
                "key remapping cycle: {}. Each of these tables has new_keys and needs the other's \
                 new keys before it can be written; give new keys to only one of them, or reject \
                 one link in [relationships] if it is an inferred one",
                links.join(", ")
            )));
        }
    }
    Ok(())
}

/// The target name of a source column of `table`, after that table's renames.
fn renamed<'a>(specs: &'a BTreeMap<String, TableSpec>, table: &str, column: &'a str) -> &'a str {
    specs
        .get(table)
        .and_then(|s| s.rename.iter().find(|(from, _)| from == column))
        .map(|(_, to)| to.as_str())
        .unwrap_or(column)
}

/// What a table is read from: the catalog, and its engine's type table.
#[derive(Clone, Copy)]
struct Read<'a> {
    catalog: &'a Catalog,
    types: SourceTypes,
}

fn plan_table(
    read: Read<'_>,
    t: &Table,
    spec: &TableSpec,
    specs: &BTreeMap<String, TableSpec>,
    chosen: &BTreeSet<&str>,
    index_name_uses: &BTreeMap<&str, usize>,
    now_micros: i64,
) -> Result<TablePlan> {
    let Read { catalog, types } = read;
    let mut warnings = Vec::new();
    let mut columns = Vec::new();
    let mut target_columns = Vec::new();
    let mut on_update_now = Vec::new();
    let bad = |what: &str, col: &str| {
        Error::Selection(format!(
            "table {}: {what} names no column `{col}` of the source table",
            t.name
        ))
    };
    for c in &spec.drop {
        t.column(c).ok_or_else(|| bad("drop", c))?;
    }
    for (from, _) in &spec.rename {
        t.column(from).ok_or_else(|| bad("rename", from))?;
    }
    for (c, _) in &spec.cast {
        t.column(c).ok_or_else(|| bad("cast", c))?;
    }
    let dropped = |c: &str| spec.drop.iter().any(|d| d == c);
    let tname = |c: &str| renamed(specs, &t.name, c).to_string();
    let target = spec.target.clone().unwrap_or_else(|| t.name.clone());
    // What only a target of the source's own engine takes as the source has it.
    let same_engine = catalog.target == Some(catalog.engine);
    let pg_to_pg = same_engine && catalog.engine == crate::url::Engine::Postgres;
    let my_to_my = same_engine && catalog.engine == crate::url::Engine::Mysql;
    // Index definitions and CHECKs name the source's columns, and assume their types.
    let same_columns = spec.cast.is_empty()
        && t.columns
            .iter()
            .all(|c| !dropped(&c.name) && tname(&c.name) == c.name);
    for c in t.columns.iter().filter(|c| !dropped(&c.name)) {
        let cast = spec
            .cast
            .iter()
            .find(|(col, _)| *col == c.name)
            .map(|(_, ty)| ty);
        let mut m = map_column(types, catalog, c).ok_or_else(|| Error::UnsupportedType {
            table: t.name.clone(),
            column: c.name.clone(),
            sql_type: match &c.refused {
                Some(why) => format!("{} ({why})", c.column_type),
                None => c.column_type.clone(),
            },
            from: catalog.engine.short(),
            to: catalog
                .target
                .unwrap_or(crate::url::Engine::Postgres)
                .short(),
        })?;
        // A TINYINT(1) cast to a number is read as the integer it is, not as a boolean.
        let numeric_cast = cast.is_some_and(|t| t.is_integer() || matches!(t, Logical::Decimal(_)));
        if m.decode == Decode::Bool01 && numeric_cast {
            m = crate::types::tinyint_integer();
        }
        // A key read as the bigint it holds, cast back to bigint unsigned: read as it is.
        if cast == Some(&Logical::UInt64)
            && catalog.engine == crate::url::Engine::Mysql
            && c.data_type == "bigint"
            && c.auto_increment
        {
            m = crate::types::map_mysql(c).unwrap_or(m);
        }
        // A PostgreSQL enum or domain is created in a PostgreSQL target; other types the
        // source defines itself (composites, domains over them) become text.
        let recreated = c.type_def.is_some() && pg_to_pg;
        if c.user_type && !recreated && catalog.target == Some(crate::url::Engine::Postgres) {
            warnings.push(format!(
                "{}.{}: the type {} is not created in the target; the column is text",
                t.name, c.name, c.column_type
            ));
        }
        if let (Some(why), None) = (&c.as_text_because, cast) {
            warnings.push(format!("{}.{}: {why}", t.name, c.name));
        }
        if let (Some(v), None) = (c.non_boolean, cast) {
            warnings.push(format!(
                "{}.{}: TINYINT(1) holds values other than 0 and 1 (such as {v}), so it becomes \
                 smallint, not boolean",
                t.name, c.name
            ));
        }
        let pg_sql = |text: String| TargetDefault::Sql {
            engine: crate::url::Engine::Postgres,
            text,
        };
        let default = match catalog.engine {
            crate::url::Engine::Mysql => translate_default(c, &m, &mut warnings, &t.name),
            // Already PostgreSQL SQL; a serial's nextval() names a sequence the target does
            // not have (the column becomes an identity instead).
            crate::url::Engine::Postgres if c.auto_increment => None,
            // `'ok'::src.mood` names the source's type: the literal alone takes the column's.
            crate::url::Engine::Postgres if recreated => c.default.as_deref().and_then(|d| {
                let literal = literal_of_cast(d);
                if literal.is_none() {
                    warnings.push(format!(
                        "{}.{}: the default {d} is not carried over (it names the source's type)",
                        t.name, c.name
                    ));
                }
                literal.map(pg_sql)
            }),
            crate::url::Engine::Postgres => c.default.clone().map(pg_sql),
        };
        if let Some(on_update) = &c.on_update {
            let now = ["current_timestamp", "now(", "localtimestamp", "localtime"]
                .iter()
                .any(|p| on_update.to_ascii_lowercase().starts_with(p));
            if now && matches!(m.ty, Logical::Timestamp(_) | Logical::TimestampUtc(_)) {
                on_update_now.push(tname(&c.name));
            } else {
                warnings.push(format!(
                    "{}.{}: `ON UPDATE {on_update}` is not carried over (barge keeps only ON UPDATE CURRENT_TIMESTAMP, as a trigger)",
                    t.name, c.name
                ));
            }
        }
        let temporal = matches!(m.decode, Decode::Date | Decode::DateTime);
        target_columns.push(TargetColumn {
            name: tname(&c.name),
            ty: match (cast, &c.as_text_because) {
                (Some(t), _) => t.clone(),
                // The target's own type refuses some of the values: their text.
                (None, Some(_)) => m.ty.text_form(),
                (None, None) => m.ty.clone(),
            },
            not_null: !c.nullable && !temporal,
            deferred_not_null: !c.nullable && temporal,
            default,
            // PostgreSQL's identities are signed: a BIGINT UNSIGNED key is read as bigint
            // into PostgreSQL (`map_mysql_into`), and stays unsigned, with its
            // AUTO_INCREMENT, only into MySQL (cast back to numeric, it has none).
            identity: c.auto_increment
                && (matches!(m.ty, Logical::Int16 | Logical::Int32 | Logical::Int64)
                    || (m.ty == Logical::UInt64
                        && catalog.target == Some(crate::url::Engine::Mysql))),
            comment: c.comment.clone(),
            as_text: m.read_as.is_some() && cast.is_none() && (!c.user_type || recreated),
            type_checks: match &c.type_def {
                Some(crate::catalog::TypeDef {
                    kind: crate::catalog::TypeKind::Domain { checks, .. },
                    ..
                // An array of the domain (`email[]`) holds its values in one JSON value.
                }) if cast.is_none() && !recreated && !c.data_type.starts_with('_') => {
                    checks.clone()
                }
                _ => Vec::new(),
            },
            // A type the source database defines itself exists in the target only if created.
            native: (cast.is_none() && (!c.user_type || recreated) && c.as_text_because.is_none())
                .then(|| NativeColumn {
                    type_def: c.type_def.clone().filter(|_| recreated),
                    engine: catalog.engine,
                    declaration: if m.decode == Decode::Json {
                        "json".into()
                    } else {
                        c.column_type.clone()
                    },
                    default: c.default.clone().map(|d| (c.default_kind, d)),
                }),
        });
        columns.push((c.name.clone(), m));
    }

    let mut indexes = Vec::new();
    for i in &t.indexes {
        let definition = i.definition.clone().filter(|_| pg_to_pg && same_columns);
        if i.expression && definition.is_none() {
            let why = if !pg_to_pg {
                "on expressions or partial: only a PostgreSQL target takes it as it is"
            } else if !same_columns {
                "on expressions or partial, over columns this copy renames, drops or casts"
            } else {
                "on expressions or partial, naming the source schema's own functions or types"
            };
            warnings.push(format!(
                "{}: index {} is not created ({why})",
                t.name, i.name
            ));
            continue;
        }
        if catalog.engine == crate::url::Engine::Postgres
            && !pg_to_pg
            && matches!(i.kind.as_str(), "GIN" | "GIST" | "BRIN" | "SPGIST")
        {
            warnings.push(format!(
                "{}: {} index {} is not created (MySQL has no such index)",
                t.name, i.kind, i.name
            ));
            continue;
        }
        if let Some(c) = i.columns.iter().find(|c| dropped(&c.name)) {
            warnings.push(format!(
                "{}: index {} is not created: its column {} is dropped",
                t.name, i.name, c.name
            ));
            continue;
        }
        let kind = matches!(i.kind.as_str(), "FULLTEXT" | "SPATIAL").then(|| i.kind.clone());
        if kind.is_some() && !my_to_my {
            warnings.push(format!(
                "{}: {} index {} is not created (no PostgreSQL equivalent for that index type on these column types)",
                t.name, i.kind, i.name
            ));
            continue;
        }
        let name = if index_name_uses.get(i.name.as_str()).copied().unwrap_or(0) > 1 {
            format!("{}_{}", target, i.name)
        } else {
            i.name.clone()
        };
        indexes.push(TargetIndex {
            definition,
            kind,
            name: truncate_ident(&name),
            unique: i.unique,
            columns: i
                .columns
                .iter()
                .map(|ic| (tname(&ic.name), ic.prefix))
                .collect(),
        });
    }

    let mut checks = Vec::new();
    let mut foreign_checks = Vec::new();
    let pg_to_my = catalog.engine == crate::url::Engine::Postgres
        && catalog.target == Some(crate::url::Engine::Mysql);
    for c in &t.checks {
        if same_engine && same_columns {
            checks.push((c.name.clone(), c.definition.clone()));
        } else if pg_to_my && same_columns {
            foreign_checks.push((c.name.clone(), c.definition.clone()));
        } else {
            let why = if same_engine {
                "over columns this copy renames, drops or casts"
            } else {
                "it is the source engine's SQL"
            };
            warnings.push(format!(
                "{}: CHECK constraint {} is not carried ({why}): {}",
                t.name, c.name, c.definition
            ));
        }
    }

    let mut foreign_keys = Vec::new();
    for fk in &t.foreign_keys {
        if let Some(c) = fk.columns.iter().find(|c| dropped(c)) {
            warnings.push(format!(
                "{}: foreign key {} is not created: its column {c} is dropped",
                t.name, fk.name
            ));
            continue;
        }
        if !chosen.contains(fk.ref_table.as_str()) {
            warnings.push(format!(
                "{}: foreign key {} to {} is not created: {} is not part of this copy",
                t.name, fk.name, fk.ref_table, fk.ref_table
            ));
            continue;
        }
        foreign_keys.push(TargetForeignKey {
            name: truncate_ident(&fk.name),
            columns: fk.columns.iter().map(|c| tname(c)).collect(),
            ref_table: specs
                .get(&fk.ref_table)
                .and_then(|s| s.target.clone())
                .unwrap_or_else(|| fk.ref_table.clone()),
            ref_columns: fk
                .ref_columns
                .iter()
                .map(|c| renamed(specs, &fk.ref_table, c).to_string())
                .collect(),
            on_update: fk.on_update.clone(),
            on_delete: fk.on_delete.clone(),
        });
    }

    let primary_key: Vec<String> = if t.primary_key.iter().any(|c| dropped(c)) {
        warnings.push(format!(
            "{}: no primary key in the target: a key column is dropped",
            t.name
        ));
        vec![]
    } else {
        t.primary_key.iter().map(|c| tname(c)).collect()
    };
    let mut transforms: Vec<std::sync::Arc<dyn crate::transform::Transform>> = Vec::new();
    let computed = plan_expressions(
        catalog,
        types,
        t,
        spec,
        &columns,
        &mut target_columns,
        now_micros,
    )?;
    let mut schema = reader_schema_of(&columns, &target_columns, &computed.extra_reads);
    if let Some(op) = &computed.op {
        schema = crate::transform::Transform::output_schema(op, &schema)?;
        transforms.push(std::sync::Arc::new(op.clone()));
    }
    if !spec.transforms.is_empty() {
        target_columns = apply_custom(t, spec, schema, target_columns, &primary_key)?;
        transforms.extend(spec.transforms.iter().cloned());
    }
    let split_key = match t.primary_key.as_slice() {
        [k] if dropped(k) => None,
        [k] => t
            .column(k)
            .filter(|c| {
                matches!(
                    c.data_type.as_str(),
                    "tinyint"
                        | "smallint"
                        | "mediumint"
                        | "int"
                        | "integer"
                        | "bigint"
                        | "int2"
                        | "int4"
                        | "int8"
                )
            })
            .map(|c| c.name.clone()),
        _ => None,
    };

    let primary_key_name = truncate_ident(&format!("{target}_pkey"));
    Ok(TablePlan {
        source: t.name.clone(),
        target,
        columns,
        target_columns,
        transforms,
        filter: computed.source_sql,
        filter_text: spec.filter.as_ref().map(|f| f.text.clone()),
        barge_filter: computed.barge_filter,
        extra_reads: computed.extra_reads,
        computed: computed.texts,
        jobs: spec.jobs.map(|j| j.max(1)),
        batch_rows: spec.batch_rows.map(|b| b.max(1)),
        new_keys: spec.new_keys,
        remaps: vec![],
        primary_key_name,
        primary_key,
        indexes,
        foreign_keys,
        comment: t.comment.clone(),
        sequence_floor: t.auto_increment.map(|a| a.saturating_sub(1)),
        split_key,
        estimated_rows: t.estimated_rows,
        on_update_now,
        checks,
        foreign_checks,
        warnings,
        notes: vec![],
        resumed: false,
    })
}

/// Run a user's transforms over the planned batch schema: the output decides the target
/// columns. Kept columns keep their definitions; new ones get a type from their Arrow type.
fn apply_custom(
    t: &Table,
    spec: &TableSpec,
    mut schema: arrow_schema::SchemaRef,
    target_columns: Vec<TargetColumn>,
    primary_key: &[String],
) -> Result<Vec<TargetColumn>> {
    let err = |detail: String| Error::Table {
        table: t.name.clone(),
        detail,
    };
    for tr in &spec.transforms {
        schema = tr.output_schema(&schema).map_err(|e| err(e.to_string()))?;
    }
    let mut out = Vec::new();
    for f in schema.fields() {
        match target_columns.iter().find(|c| &c.name == f.name()) {
            Some(c) => out.push(c.clone()),
            None => out.push(TargetColumn::plain(
                f.name(),
                Logical::for_arrow(f.data_type()).ok_or_else(|| {
                    err(format!(
                        "column {} of Arrow type {} has no column type barge writes",
                        f.name(),
                        f.data_type()
                    ))
                })?,
            )),
        }
    }
    if let Some(k) = primary_key
        .iter()
        .find(|k| !out.iter().any(|c| &c.name == *k))
    {
        return Err(err(format!("a transform removed the key column {k}")));
    }
    Ok(out)
}

/// PostgreSQL identifiers are at most 63 bytes; cut on a character boundary.
pub fn truncate_ident(s: &str) -> String {
    truncate_to(s, 63).to_string()
}

/// Translate a MySQL column default into PostgreSQL SQL, or leave it out with a warning.
/// Expressions are never quoted as strings.
fn translate_default(
    c: &Column,
    m: &Mapping,
    warnings: &mut Vec<String>,
    table: &str,
) -> Option<TargetDefault> {
    let raw = c.default.as_deref()?;
    let mut skip = |why: &str| {
        warnings.push(format!(
            "{table}.{}: default {raw} is left out ({why})",
            c.name
        ));
        None
    };
    let lc = raw.to_ascii_lowercase();
    if c.default_kind == DefaultKind::Expression {
        let is_now = ["current_timestamp", "now(", "localtimestamp", "localtime"]
            .iter()
            .any(|p| lc.starts_with(p));
        return match (&m.ty, is_now) {
            (Logical::TimestampUtc(_), true) => Some(TargetDefault::Now),
            (Logical::Timestamp(_), true) => Some(TargetDefault::LocalNow),
            (Logical::Date, _) if lc.starts_with("curdate") || lc.starts_with("current_date") => {
                Some(TargetDefault::Today)
            }
            _ => skip("an expression barge does not translate"),
        };
    }
    match &m.ty {
        Logical::Bool => match (m.decode, lc.as_str()) {
            (_, "0" | "b'0'") => Some(TargetDefault::Value("false".into())),
            (_, "1" | "b'1'") => Some(TargetDefault::Value("true".into())),
            _ => skip("not a boolean literal"),
        },
        Logical::Int16
        | Logical::Int32
        | Logical::Int64
        | Logical::UInt64
        | Logical::Decimal(_)
        | Logical::Float32
        | Logical::Float64 => {
            if raw.parse::<f64>().is_ok() {
                Some(TargetDefault::Value(raw.to_string()))
            } else {
                skip("not a number")
            }
        }
        Logical::Date | Logical::Timestamp(_) | Logical::TimestampUtc(_) => {
            if raw.starts_with("0000") || raw.contains("-00") {
                skip("a zero date, which PostgreSQL cannot store")
            } else {
                Some(TargetDefault::Value(raw.to_string()))
            }
        }
        // A SET's default lists its members.
        Logical::TextList => Some(TargetDefault::Values(if raw.is_empty() {
            vec![]
        } else {
            raw.split(',').map(str::to_string).collect()
        })),
        Logical::Text(_)
        | Logical::Enum(_)
        | Logical::Duration(_)
        | Logical::Uuid
        | Logical::Inet
        | Logical::Json => Some(TargetDefault::Value(raw.to_string())),
        Logical::Bits(_) => skip("bit defaults are not translated"),
        Logical::Binary => skip("binary defaults are not translated"),
    }
}

/// `'ok'::src.mood` → `'ok'`: a literal with a cast, without the cast.
fn literal_of_cast(d: &str) -> Option<String> {
    let inner = d.strip_prefix('\'')?;
    // The literal ends at the first quote that is not doubled.
    let b = inner.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1)) {
            (b'\'', Some(b'\'')) => i += 2,
            (b'\'', _) => break,
            _ => i += 1,
        }
    }
    let type_name = inner.get(i + 1..)?.strip_prefix("::")?;
    let plain = |c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | '"' | ' ' | '[' | ']');
    (!type_name.is_empty() && type_name.chars().all(plain)).then(|| format!("'{}'", &inner[..i]))
}

/// What a table's expressions add to its plan.
struct Computed {
    op: Option<crate::transform::Compute>,
    extra_reads: Vec<(String, Mapping)>,
    source_sql: Option<String>,
    barge_filter: Option<String>,
    texts: Vec<(String, String)>,
}

/// How MySQL's comparisons of a column relate to barge's (see `expr::pushdown`).
fn column_class(m: &Mapping) -> crate::expr::pushdown::ColumnClass {
    use crate::expr::pushdown::ColumnClass;
    match m.decode {
        Decode::Bool01
        | Decode::BitBool
        | Decode::Int16
        | Decode::Int32
        | Decode::Int64
        | Decode::UInt64
        | Decode::Float32
        | Decode::Float64
        | Decode::Decimal
        | Decode::Binary => ColumnClass::Exact,
        Decode::Text => ColumnClass::Text,
        Decode::Date | Decode::DateTime => ColumnClass::Temporal,
        Decode::Json
        | Decode::Time
        | Decode::Bits
        | Decode::Set
        | Decode::Geometry
        | Decode::Pg(_) => ColumnClass::Opaque,
    }
}

/// Type the job's expressions against the source row (source column names, dropped columns
/// included), decide which part of the filter the source runs, and build the operator that
/// does the rest.
fn plan_expressions(
    catalog: &Catalog,
    types: SourceTypes,
    t: &Table,
    spec: &TableSpec,
    columns: &[(String, Mapping)],
    target_columns: &mut Vec<TargetColumn>,
    now_micros: i64,
) -> Result<Computed> {
    use crate::expr::compile::{arrow_type_for, cast_expr};
    use crate::expr::parse::AstKind;
    use crate::expr::pushdown::{self, Push};
    use crate::expr::type_name;
    use crate::expr::{compile, Expr, ExprSource, Kind, Scope};
    use crate::transform::{Compiled, Compute};
    use arrow_schema::DataType;

    let dropped: Vec<(String, Mapping)> = t
        .columns
        .iter()
        .filter(|c| !columns.iter().any(|(n, _)| *n == c.name))
        .filter_map(|c| map_column(types, catalog, c).map(|m| (c.name.clone(), m)))
        .collect();
    let scope_of = |extra: &[(String, Mapping)]| -> Vec<(String, DataType)> {
        columns
            .iter()
            .chain(extra)
            .map(|(n, m)| (n.clone(), m.arrow.clone()))
            .collect()
    };
    let sources: Vec<&ExprSource> = spec
        .filter
        .iter()
        .chain(spec.add.iter().filter_map(|a| match &a.value {
            AddedValue::Expr(e) => Some(e),
            AddedValue::Literal(_) => None,
        }))
        .collect();
    // First against every column, to learn which dropped ones must still be read.
    let all = scope_of(&dropped);
    let mut used = Vec::new();
    for e in &sources {
        compile(
            e,
            &Scope {
                columns: &all,
                now_micros,
            },
        )?
        .columns(&mut used);
    }
    let extra_reads: Vec<(String, Mapping)> = dropped
        .iter()
        .enumerate()
        .filter(|(j, _)| used.contains(&(columns.len() + j)))
        .map(|(_, c)| c.clone())
        .collect();
    let scope_columns = scope_of(&extra_reads);
    let scope = Scope {
        columns: &scope_columns,
        now_micros,
    };
    let classes: Vec<_> = columns
        .iter()
        .chain(&extra_reads)
        .map(|(n, m)| match t.column(n) {
            // The pushdown speaks MySQL: a PostgreSQL source's filters run in barge.
            _ if catalog.engine != crate::url::Engine::Mysql => {
                crate::expr::pushdown::ColumnClass::Opaque
            }
            // MySQL reads 1..99 compared with a YEAR as 2001..2099 (or 19xx).
            Some(c) if c.data_type == "year" => crate::expr::pushdown::ColumnClass::Opaque,
            _ => column_class(m),
        })
        .collect();

    let mut source_sql: Vec<String> = spec.source_where.iter().map(|w| format!("({w})")).collect();
    let mut barge_filter = None;
    let mut filter_op = None;
    if let Some(f) = &spec.filter {
        let e = compile(f, &scope)?;
        if !matches!(e.ty, DataType::Boolean | DataType::Null) {
            return Err(f.error(
                f.ast.span,
                &format!("a filter is a condition, not a {} value", type_name(&e.ty)),
            ));
        }
        let mut rest: Vec<Expr> = Vec::new();
        for c in pushdown::conjuncts(&e) {
            match pushdown::to_mysql(c, &|i| classes[i]) {
                Push::Exact(sql) => source_sql.push(sql),
                Push::Superset(sql) => {
                    source_sql.push(sql);
                    rest.push(c.clone());
                }
                Push::No => rest.push(c.clone()),
            }
        }
        if !rest.is_empty() {
            barge_filter = Some(
                rest.iter()
                    .map(|c| f.snippet(c.span))
                    .collect::<Vec<_>>()
                    .join(" AND "),
            );
            let all = rest
                .into_iter()
                .reduce(|a, b| Expr {
                    span: (a.span.0.min(b.span.0), a.span.1.max(b.span.1)),
                    kind: Kind::And(Box::new(a), Box::new(b)),
                    ty: DataType::Boolean,
                })
                .expect("not empty");
            filter_op = Some(Compiled {
                expr: cast_expr(all, &DataType::Boolean).map_err(|m| f.error(f.ast.span, &m))?,
                label: f.label.clone(),
                source: Some(f.clone()),
            });
        }
    }

    let mut added = Vec::new();
    let mut texts = Vec::new();
    for a in &spec.add {
        if target_columns.iter().any(|c| c.name == a.name) {
            return Err(Error::Selection(format!(
                "table {}: added column `{}` already exists in the target",
                t.name, a.name
            )));
        }
        let label = format!("tables.{}.add.{}", t.name, a.name);
        let bad = |m: String| Error::Selection(format!("{label}: {m}"));
        let (expr, source, ty) = match &a.value {
            AddedValue::Literal(l) => (
                crate::expr::compile::constant_expr(l.array(1)),
                None,
                a.ty.clone().unwrap_or_else(|| l.logical_type()),
            ),
            AddedValue::Expr(src) => {
                let e = compile(src, &scope)?;
                // An outer cast names the column's type (`price::numeric(12,2)`).
                let declared = a.ty.clone().or_else(|| match &src.ast.kind {
                    AstKind::Cast { to, .. } => Some(to.clone()),
                    _ => None,
                });
                let ty = match declared {
                    Some(p) => p,
                    None if e.ty == DataType::Null => Logical::Text(None),
                    None => Logical::for_arrow(&e.ty).ok_or_else(|| {
                        src.error(
                            src.ast.span,
                            &format!(
                                "its {} values have no column type; cast them",
                                type_name(&e.ty)
                            ),
                        )
                    })?,
                };
                texts.push((a.name.clone(), src.text.clone()));
                (e, Some(src.clone()), ty)
            }
        };
        // The values must be what the COPY encoder writes for the column's type.
        let want = arrow_type_for(&ty, &expr.ty).ok_or_else(|| {
            bad(format!(
                "cannot give {} values the type {}",
                type_name(&expr.ty),
                ty.name()
            ))
        })?;
        let expr = cast_expr(expr, &want).map_err(|m| match &a.value {
            AddedValue::Expr(src) => src.error(src.ast.span, &m),
            AddedValue::Literal(_) => bad(m),
        })?;
        target_columns.push(TargetColumn::plain(&a.name, ty));
        added.push((
            a.name.clone(),
            Compiled {
                expr,
                label,
                source,
            },
        ));
    }
    let op =
        (filter_op.is_some() || !added.is_empty() || !extra_reads.is_empty()).then(|| Compute {
            filter: filter_op,
            columns: added,
            keep: columns.len(),
        });
    Ok(Computed {
        op,
        extra_reads,
        source_sql: (!source_sql.is_empty()).then(|| source_sql.join(" AND ")),
        barge_filter,
        texts,
    })
}

/// A plan of a one-column table `t` (`id int`, its primary key) with these target columns:
/// for the engines' DDL tests.
#[cfg(test)]
pub fn test_plan(cols: Vec<TargetColumn>) -> TablePlan {
    let catalog = Catalog {
        tables: vec![Table {
            name: "t".into(),
            columns: vec![crate::catalog::Column {
                name: "id".into(),
                data_type: "int".into(),
                column_type: "int(11)".into(),
                ..Default::default()
            }],
            primary_key: vec!["id".into()],
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut p = plan(
        &catalog,
        crate::engine::source_types(catalog.engine),
        &Selection::default(),
    )
    .unwrap()
    .remove(0);
    p.target_columns = cols;
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Index, IndexColumn};

    #[test]
    fn long_prefixed_names_stay_apart_and_cut_on_a_character() {
        let a = format!("{}_a", "x".repeat(60));
        let b = format!("{}_b", "x".repeat(60));
        let (na, nb) = (
            prefixed_name("_barge_old_", &a),
            prefixed_name("_barge_old_", &b),
        );
        assert_ne!(na, nb);
        assert!(na.len() <= 63 && na.starts_with("_barge_old_xxx"), "{na}");
        assert_eq!(prefixed_name("_barge_", "posts"), "_barge_posts");
        // Two-byte characters: byte 50 falls inside one.
        let cyrillic = "д".repeat(40);
        let n = prefixed_name("_barge_old_", &cyrillic);
        assert!(n.len() <= 63 && n.chars().count() <= 64, "{n}");
        assert_eq!(staging_name(&cyrillic), prefixed_name("_barge_", &cyrillic));
    }

    fn table(name: &str, indexes: &[&str]) -> Table {
        let col = |n: &str| Column {
            name: n.into(),
            data_type: "int".into(),
            column_type: "int(11)".into(),
            ..Column::default()
        };
        Table {
            name: name.into(),
            columns: vec![col("id"), col("a")],
            primary_key: vec!["id".into()],
            indexes: indexes
                .iter()
                .map(|i| Index {
                    name: i.to_string(),
                    columns: vec![IndexColumn {
                        name: "a".into(),
                        prefix: None,
                    }],
                    kind: "BTREE".into(),
                    ..Index::default()
                })
                .collect(),
            ..Table::default()
        }
    }

    fn names(plans: &[TablePlan]) -> Vec<String> {
        plans
            .iter()
            .flat_map(|p| {
                std::iter::once(p.primary_key_name.clone())
                    .chain(p.indexes.iter().map(|i| i.name.clone()))
            })
            .collect()
    }

    #[test]
    fn index_names_never_collide_with_other_relations() {
        let catalog = Catalog {
            database: "d".into(),
            tables: vec![
                table("t", &["t"]),
                table("t_t", &[]),
                table("u", &["t_pkey", "idx"]),
            ],
            ..Catalog::default()
        };
        let mut plans = plan(
            &catalog,
            crate::engine::source_types(catalog.engine),
            &Selection::default(),
        )
        .unwrap();
        // `t` is a table, `t_t` too, so the index `t` of t becomes t_t_2.
        assert_eq!(
            names(&plans),
            ["t_pkey", "t_t_2", "t_t_pkey", "u_pkey", "u_t_pkey", "idx"]
        );
        assert!(plans[0].notes[0].contains("index t is created as t_t_2"));

        let existing = |name: &str, kind: &str, owner: &str| ExistingRelation {
            name: name.into(),
            kind: kind.into(),
            owner: Some(owner.into()),
        };
        // An index of a table outside the copy holds `idx`; one of `u` itself holds
        // `u_pkey`: free when u is replaced, taken otherwise.
        let target = [
            existing("idx", "index", "other"),
            existing("u_pkey", "index", "u"),
        ];
        let mut replaced = plans.clone();
        unique_relation_names(&mut replaced, &target, true).unwrap();
        assert_eq!(names(&replaced)[3..], ["u_pkey", "u_t_pkey", "u_idx"]);
        unique_relation_names(&mut plans, &target, false).unwrap();
        assert_eq!(names(&plans)[3..], ["u_u_pkey", "u_t_pkey", "u_idx"]);

        // A target name held by a view is refused.
        let view = ExistingRelation {
            owner: None,
            ..existing("t", "view", "")
        };
        let e = unique_relation_names(&mut plans, &[view], true).unwrap_err();
        assert!(e.to_string().contains("taken by the view t"), "{e}");
        // Long names stay within 63 bytes.
        let long = "x".repeat(70);
        let catalog = Catalog {
            tables: vec![table(&long, &[&long])],
            ..Catalog::default()
        };
        let plans = plan(
            &catalog,
            crate::engine::source_types(catalog.engine),
            &Selection::default(),
        )
        .unwrap();
        assert!(
            names(&plans).iter().all(|n| n.len() <= 63),
            "{:?}",
            names(&plans)
        );
    }

    #[test]
    fn a_cast_literal_loses_its_cast_and_nothing_else() {
        assert_eq!(literal_of_cast("'ok'::src.mood").as_deref(), Some("'ok'"));
        assert_eq!(
            literal_of_cast("'it''s'::\"my schema\".mood").as_deref(),
            Some("'it''s'")
        );
        assert_eq!(literal_of_cast("now()"), None);
        assert_eq!(literal_of_cast("'a'::text || f('b'::text)"), None);
    }
}
