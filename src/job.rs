//! Job files: a migration described in TOML, like Django's DATABASES plus a router, and what
//! happens to each table on the way.
//!
//! ```toml
//! [connections.old]                       # passwords: in the URL's environment variable,
//! url = "mysql://reader@db1:3306/legacy"  # MYSQL_PWD / PGPASSWORD, or password_env
//! password_env = "OLD_PASSWORD"
//! [connections.new]
//! url = "postgres://app@db2/app"
//!
//! [[routes]]               # the blog's router: every table read from old, written to new
//! tables = "*"
//! from = "old"
//! to = "new"
//!
//! [tables.characters]
//! rename = { name = "nickname" }
//! add = { secret_identity = "Clark Kent", slug = { expr = "lower(replace(name, ' ', '-'))" } }
//! filter = "active AND created_at >= '2010-01-01'"
//! ```

use crate::error::{Error, Result};
use crate::expr::{ExprSource, Locator};
use crate::plan::{AddedColumn, AddedValue, Mode, Selection, TableSpec};
use crate::transform::Literal;
use crate::types::Logical;
use crate::url::DbUrl;
use crate::CopyOptions;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobFile {
    connections: BTreeMap<String, ConnectionCfg>,
    #[serde(default)]
    defaults: OptionsCfg,
    routes: Vec<RouteCfg>,
    #[serde(default)]
    tables: BTreeMap<String, TableCfg>,
    #[serde(default)]
    relationships: RelationshipsCfg,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RelationshipsCfg {
    /// Inferred relationships to create as foreign keys: "table.column".
    #[serde(default)]
    confirm: Vec<String>,
    /// "table.column -> parent.column"
    #[serde(default)]
    add: Vec<String>,
    /// Inferred relationships that are not: "table.column".
    #[serde(default)]
    reject: Vec<String>,
    #[serde(default)]
    create_inferred: bool,
}

fn table_column(s: &str, what: &str) -> Result<(String, String)> {
    s.trim()
        .split_once('.')
        .map(|(t, c)| (t.trim().to_string(), c.trim().to_string()))
        .filter(|(t, c)| !t.is_empty() && !c.is_empty())
        .ok_or_else(|| Error::Config(format!("relationships.{what}: `{s}` is not `table.column`")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionCfg {
    url: String,
    /// An environment variable holding the password (never the password itself).
    password_env: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionsCfg {
    schema: Option<String>,
    jobs: Option<usize>,
    batch_rows: Option<usize>,
    /// create (default), drop (replace existing tables), data-only, schema-only
    mode: Option<String>,
    /// Where rows skipped by an orphan policy are written.
    reject_dir: Option<String>,
    /// Read from one consistent snapshot of the source.
    consistent: Option<bool>,
    /// null (default): dates PostgreSQL cannot hold become NULL, counted; error: refuse them.
    zero_dates: Option<String>,
    /// Keep MySQL's `ON UPDATE CURRENT_TIMESTAMP` as a PostgreSQL trigger (default true).
    on_update_triggers: Option<bool>,
    /// Stop at the first table that fails (default false: every table is attempted).
    fail_fast: Option<bool>,
    /// A development subset: "1%" or a number of rows per table (see `sample`).
    sample: Option<toml::Value>,
    /// Only these tables are sampled; the others get the rows these need.
    sample_root: Option<Vec<String>>,
    /// The sample's seed.
    seed: Option<u64>,
    /// stop (default) or skip-row: a row the reader cannot convert goes to the reject file.
    on_error: Option<String>,
    /// Under skip-row, a table with more rejected rows fails.
    max_rejects: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteCfg {
    /// Table names or glob patterns read `from` and written `to`.
    tables: OneOrMany,
    #[serde(default)]
    exclude: Vec<String>,
    from: String,
    to: String,
    #[serde(flatten)]
    options: OptionsCfg,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableCfg {
    target: Option<String>,
    #[serde(default)]
    rename: BTreeMap<String, String>,
    #[serde(default)]
    drop: Vec<String>,
    #[serde(default)]
    add: BTreeMap<String, AddCfg>,
    /// An expression over the source columns.
    filter: Option<toml::Spanned<String>>,
    /// Raw SQL for the source's WHERE.
    source_where: Option<String>,
    /// column = "postgres type"
    #[serde(default)]
    cast: BTreeMap<String, String>,
    #[serde(default)]
    new_keys: bool,
    /// column = "error" | "null" | "skip"
    #[serde(default)]
    orphans: BTreeMap<String, String>,
    /// This table's own parallel readers (key ranges) and batch size.
    jobs: Option<usize>,
    batch_rows: Option<usize>,
}

/// An added column: a bare constant, or `{ value = …, type = "…" }`, or
/// `{ expr = "…", type = "…" }`.
#[derive(Debug)]
struct AddCfg {
    value: Option<toml::Value>,
    expr: Option<toml::Spanned<String>>,
    pg_type: Option<String>,
}

impl<'de> Deserialize<'de> for AddCfg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = AddCfg;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a constant, or a table with `value` or `expr` and optionally `type`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AddCfg, E> {
                Ok(AddCfg::constant(toml::Value::String(v.into())))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<AddCfg, E> {
                Ok(AddCfg::constant(toml::Value::Integer(v)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<AddCfg, E> {
                Ok(AddCfg::constant(toml::Value::Float(v)))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<AddCfg, E> {
                Ok(AddCfg::constant(toml::Value::Boolean(v)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<AddCfg, A::Error> {
                use serde::de::Error;
                let mut out = AddCfg {
                    value: None,
                    expr: None,
                    pg_type: None,
                };
                while let Some(k) = m.next_key::<String>()? {
                    match k.as_str() {
                        "value" => out.value = Some(m.next_value()?),
                        // Spanned, so errors in the expression point into the file.
                        "expr" => out.expr = Some(m.next_value()?),
                        "type" => out.pg_type = Some(m.next_value()?),
                        // How toml hands over a bare datetime (`d = 2024-01-01`).
                        k if k.starts_with("$__toml_private") => {
                            return Err(A::Error::custom(
                                "a TOML date/time is not taken as a constant; write it as a \
                                 string with a type, e.g. { value = \"2024-01-01\", type = \"date\" }",
                            ))
                        }
                        other => {
                            return Err(A::Error::unknown_field(other, &["value", "expr", "type"]))
                        }
                    }
                }
                match (&out.value, &out.expr) {
                    (Some(_), None) | (None, Some(_)) => Ok(out),
                    _ => Err(A::Error::custom("give exactly one of `value` and `expr`")),
                }
            }
        }
        d.deserialize_any(Visit)
    }
}

impl AddCfg {
    fn constant(v: toml::Value) -> AddCfg {
        AddCfg {
            value: Some(v),
            expr: None,
            pg_type: None,
        }
    }
}

/// (line, column) of a byte offset, both from 1; columns count characters.
fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line as u32, col as u32)
}

/// Where each byte of a TOML string's value sits in the file. `span` covers the string with
/// its quotes; escapes are followed, so positions stay right after `\"` or `\u00e9`.
fn string_positions(
    doc: &str,
    span: std::ops::Range<usize>,
    value: &str,
) -> Option<Vec<(u32, u32)>> {
    let raw = doc.get(span.clone())?;
    let (delim, basic) = if raw.starts_with("\"\"\"") {
        (3, true)
    } else if raw.starts_with("'''") {
        (3, false)
    } else if raw.starts_with('"') {
        (1, true)
    } else if raw.starts_with('\'') {
        (1, false)
    } else {
        return None;
    };
    let end = span.end.checked_sub(delim)?;
    let mut i = span.start + delim;
    if delim == 3 {
        if doc[i..].starts_with("\r\n") {
            i += 2;
        } else if doc[i..].starts_with('\n') {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(value.len() + 1);
    while i < end {
        let c = doc[i..].chars().next()?;
        let (len, produced) = if basic && c == '\\' {
            let e = doc[i + 1..].chars().next()?;
            let hex = |n: usize| {
                doc.get(i + 2..i + 2 + n)
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32)
            };
            match e {
                'b' | 't' | 'n' | 'f' | 'r' | '"' | '\\' | 'e' => (2, Some('x')),
                'x' => (4, Some(hex(2)?)),
                'u' => (6, Some(hex(4)?)),
                'U' => (10, Some(hex(8)?)),
                w if w.is_whitespace() => {
                    let rest = &doc[i + 1..end];
                    (1 + rest.len() - rest.trim_start().len(), None)
                }
                _ => return None,
            }
        } else {
            (c.len_utf8(), Some(c))
        };
        if let Some(ch) = produced {
            let at = line_col(doc, i);
            out.extend(std::iter::repeat_n(at, ch.len_utf8()));
        }
        i += len;
    }
    out.push(line_col(doc, end));
    (out.len() == value.len() + 1).then_some(out)
}

/// One route of a job: a copy from one connection to another.
#[derive(Debug, Clone)]
pub struct Route {
    pub from_name: String,
    pub to_name: String,
    pub from: DbUrl,
    pub to: DbUrl,
    pub options: CopyOptions,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub routes: Vec<Route>,
}

fn literal(v: &toml::Value, table: &str, column: &str) -> Result<Literal> {
    Ok(match v {
        toml::Value::String(s) => Literal::Text(s.clone()),
        toml::Value::Integer(i) => Literal::Int(*i),
        toml::Value::Float(f) => Literal::Float(*f),
        toml::Value::Boolean(b) => Literal::Bool(*b),
        other => {
            return Err(Error::Config(format!(
                "tables.{table}.add.{column}: {} is not a string, number or boolean",
                other.type_str()
            )))
        }
    })
}

impl Job {
    /// Parse a job file's text. `path` is only used in messages.
    pub fn parse(text: &str, path: &str) -> Result<Job> {
        let file: JobFile = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let (line, col) = line_col(text, s.start);
                    format!("{path}:{line}:{col}: ")
                })
                .unwrap_or_else(|| format!("{path}: "));
            Error::Config(format!("{at}{}", e.message()))
        })?;
        let mut urls = BTreeMap::new();
        for (name, c) in &file.connections {
            let mut url = DbUrl::parse(&c.url)?;
            // An unset variable means no password from the environment: the URL's other
            // sources (~/.pgpass, ~/.my.cnf, …) or none, for a server that needs none. A
            // server that does need one says so when barge connects.
            match c.password_env.as_ref().map(|v| (v, std::env::var(v))) {
                Some((_, Ok(pw))) => url = url.with_password(&pw)?,
                Some((var, Err(_))) => tracing::info!(
                    "connection {name}: {var} (password_env) is not set; no password from the environment"
                ),
                None => {}
            }
            urls.insert(name.clone(), url);
        }
        let expression = |s: &toml::Spanned<String>, label: String| {
            let locator = string_positions(text, s.span(), s.get_ref()).map(|positions| Locator {
                file: path.to_string(),
                positions,
            });
            ExprSource::parse_located(s.get_ref(), &label, locator)
        };
        let mut specs = BTreeMap::new();
        for (table, t) in &file.tables {
            let mut add = Vec::new();
            for (column, a) in &t.add {
                let ty = match &a.pg_type {
                    Some(ty) => Some(Logical::parse(ty).ok_or_else(|| {
                        Error::Config(format!(
                            "tables.{table}.add.{column}: {}",
                            Logical::unknown(ty)
                        ))
                    })?),
                    None => None,
                };
                let value = match (&a.value, &a.expr) {
                    (_, Some(e)) => {
                        AddedValue::Expr(expression(e, format!("tables.{table}.add.{column}"))?)
                    }
                    (Some(v), None) => AddedValue::Literal(literal(v, table, column)?),
                    (None, None) => unreachable!("checked when read"),
                };
                add.push(AddedColumn {
                    name: column.clone(),
                    value,
                    ty,
                });
            }
            specs.insert(
                table.clone(),
                TableSpec {
                    target: t.target.clone(),
                    rename: t
                        .rename
                        .iter()
                        .map(|(a, b)| (a.clone(), b.clone()))
                        .collect(),
                    drop: t.drop.clone(),
                    add,
                    filter: t
                        .filter
                        .as_ref()
                        .map(|f| expression(f, format!("tables.{table}.filter")))
                        .transpose()?,
                    source_where: t.source_where.clone(),
                    cast: t
                        .cast
                        .iter()
                        .map(|(c, ty)| {
                            Logical::parse(ty).map(|p| (c.clone(), p)).ok_or_else(|| {
                                Error::Config(format!(
                                    "tables.{table}.cast.{c}: {}",
                                    Logical::unknown(ty)
                                ))
                            })
                        })
                        .collect::<Result<_>>()?,
                    transforms: vec![],
                    new_keys: t.new_keys,
                    jobs: t.jobs,
                    batch_rows: t.batch_rows,
                    orphans: t
                        .orphans
                        .iter()
                        .map(|(c, pol)| {
                            crate::plan::OrphanPolicy::parse(pol).map(|p| (c.clone(), p)).ok_or_else(|| {
                                Error::Config(format!(
                                    "tables.{table}.orphans.{c}: `{pol}` (expected error, null or skip)"
                                ))
                            })
                        })
                        .collect::<Result<_>>()?,
                },
            );
        }
        let rel = &file.relationships;
        let rules = crate::plan::RelationshipRules {
            confirm: rel
                .confirm
                .iter()
                .map(|s| table_column(s, "confirm"))
                .collect::<Result<_>>()?,
            reject: rel
                .reject
                .iter()
                .map(|s| table_column(s, "reject"))
                .collect::<Result<_>>()?,
            add: rel
                .add
                .iter()
                .map(|s| {
                    let (child, parent) = s.split_once("->").ok_or_else(|| {
                        Error::Config(format!(
                            "relationships.add: `{s}` is not `table.column -> parent.column`"
                        ))
                    })?;
                    let (t, c) = table_column(child, "add")?;
                    let (pt, pc) = table_column(parent, "add")?;
                    Ok((t, c, pt, pc))
                })
                .collect::<Result<_>>()?,
            create_inferred: rel.create_inferred,
        };
        if file.routes.is_empty() {
            return Err(Error::Config(format!(
                "{path}: no [[routes]]: nothing to move"
            )));
        }
        let mut routes = Vec::new();
        for (i, r) in file.routes.into_iter().enumerate() {
            let url = |name: &str, what: &str| {
                urls.get(name).cloned().ok_or_else(|| {
                    Error::Config(format!(
                        "routes[{i}].{what}: no connection named `{name}` (there are: {})",
                        urls.keys().cloned().collect::<Vec<_>>().join(", ")
                    ))
                })
            };
            let (from, to) = (url(&r.from, "from")?, url(&r.to, "to")?);
            let o = OptionsCfg {
                schema: r.options.schema.or(file.defaults.schema.clone()),
                jobs: r.options.jobs.or(file.defaults.jobs),
                batch_rows: r.options.batch_rows.or(file.defaults.batch_rows),
                mode: r.options.mode.or(file.defaults.mode.clone()),
                reject_dir: r.options.reject_dir.or(file.defaults.reject_dir.clone()),
                consistent: r.options.consistent.or(file.defaults.consistent),
                zero_dates: r.options.zero_dates.or(file.defaults.zero_dates.clone()),
                on_update_triggers: r
                    .options
                    .on_update_triggers
                    .or(file.defaults.on_update_triggers),
                fail_fast: r.options.fail_fast.or(file.defaults.fail_fast),
                sample: r.options.sample.or(file.defaults.sample.clone()),
                sample_root: r.options.sample_root.or(file.defaults.sample_root.clone()),
                seed: r.options.seed.or(file.defaults.seed),
                on_error: r.options.on_error.or(file.defaults.on_error.clone()),
                max_rejects: r.options.max_rejects.or(file.defaults.max_rejects),
            };
            let on_error = match o.on_error.as_deref() {
                None => Default::default(),
                Some(e) => crate::rejects::OnError::parse(e).ok_or_else(|| {
                    Error::Config(format!(
                        "routes[{i}].on_error: `{e}` (expected stop or skip-row)"
                    ))
                })?,
            };
            let sample = match &o.sample {
                None => None,
                Some(v) => {
                    let text = match v {
                        toml::Value::String(s) => s.clone(),
                        toml::Value::Integer(n) => n.to_string(),
                        other => format!("{other:?}"),
                    };
                    let size = crate::sample::SampleSize::parse(&text).ok_or_else(|| {
                        Error::Config(format!(
                            "routes[{i}].sample: `{text}` (expected a number of rows, 10000, or a share, \"1%\")"
                        ))
                    })?;
                    Some(crate::sample::Sample {
                        size,
                        roots: o.sample_root.clone().unwrap_or_default(),
                        seed: o.seed.unwrap_or(1),
                    })
                }
            };
            let zero_dates = match o.zero_dates.as_deref() {
                None => Default::default(),
                Some(z) => crate::temporal::ZeroDates::parse(z).ok_or_else(|| {
                    Error::Config(format!(
                        "routes[{i}].zero_dates: `{z}` (expected null or error)"
                    ))
                })?,
            };
            let (mode, drop) = match o.mode.as_deref().unwrap_or("create") {
                "create" => (Mode::Create, false),
                "drop" => (Mode::Create, true),
                "data-only" => (Mode::DataOnly, false),
                "schema-only" => (Mode::SchemaOnly, false),
                other => {
                    return Err(Error::Config(format!(
                    "routes[{i}].mode: `{other}` (expected create, drop, data-only or schema-only)"
                )))
                }
            };
            let defaults = CopyOptions::default();
            // A PostgreSQL target's connection may name the schema, as a source's does.
            let schema = to.target_schema(o.schema.as_deref()).map_err(|b| {
                Error::Config(format!(
                    "routes[{i}]: the connection `{}` names schema {b}, and the route's schema is {}: name one",
                    r.to,
                    o.schema.as_deref().unwrap_or_default()
                ))
            })?;
            routes.push(Route {
                from_name: r.from.clone(),
                to_name: r.to.clone(),
                from,
                to,
                options: CopyOptions {
                    selection: Selection {
                        tables: r.tables.into_vec(),
                        exclude: r.exclude,
                        specs: specs.clone(),
                        relationships: rules.clone(),
                        now_micros: None,
                    },
                    schema,
                    jobs: o.jobs.unwrap_or(defaults.jobs).max(1),
                    batch_rows: o.batch_rows.unwrap_or(defaults.batch_rows).max(1),
                    mode,
                    drop,
                    reject_dir: o
                        .reject_dir
                        .map(Into::into)
                        .unwrap_or(defaults.reject_dir.clone()),
                    consistent: o.consistent.unwrap_or(false),
                    zero_dates,
                    on_update_triggers: o.on_update_triggers.unwrap_or(true),
                    fail_fast: o.fail_fast.unwrap_or(false),
                    sample,
                    on_error,
                    max_rejects: o.max_rejects,
                    ..defaults
                },
            });
        }
        Ok(Job { routes })
    }

    pub fn load(path: &std::path::Path) -> Result<Job> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read job file {}: {e}", path.display())))?;
        Job::parse(&text, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_blog_job() {
        let job = Job::parse(
            r#"
[connections.old]
url = "mysql://reader:pw@h/legacy"
[connections.new]
url = "postgres://app:pw@h/app"

[[routes]]
tables = "*"
from = "old"
to = "new"
schema = "v2"

[tables.characters]
rename = { name = "nickname" }
add = { secret_identity = "Clark Kent", rank = { value = 1, type = "smallint" } }
drop = ["biography"]
filter = "active = 1"
"#,
            "job.toml",
        )
        .unwrap();
        let r = &job.routes[0];
        assert_eq!(r.options.schema, "v2");
        let spec = &r.options.selection.specs["characters"];
        assert_eq!(
            spec.rename,
            vec![("name".to_string(), "nickname".to_string())]
        );
        assert_eq!(spec.add.len(), 2);
        assert_eq!(spec.add[0].ty, Some(Logical::Int16));
        assert!(
            matches!(&spec.add[1].value, AddedValue::Literal(Literal::Text(t)) if t == "Clark Kent")
        );
        assert_eq!(
            spec.filter.as_ref().map(|f| f.text.as_str()),
            Some("active = 1")
        );
    }

    #[test]
    fn a_postgres_target_connection_may_name_the_schema() {
        let job = |route_schema: &str| {
            format!(
                "[connections.a]\nurl = \"mysql://h/x\"\n[connections.b]\nurl = \"postgres://h/app?schema=v3\"\n\
                 [[routes]]\ntables = \"*\"\nfrom = \"a\"\nto = \"b\"\n{route_schema}"
            )
        };
        let parsed = Job::parse(&job(""), "j.toml").unwrap();
        assert_eq!(parsed.routes[0].options.schema, "v3");
        let same = Job::parse(&job("schema = \"v3\"\n"), "j.toml").unwrap();
        assert_eq!(same.routes[0].options.schema, "v3");
        let e = Job::parse(&job("schema = \"v2\"\n"), "j.toml")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("the connection `b` names schema v3, and the route's schema is v2"),
            "{e}"
        );
    }

    #[test]
    fn a_toml_datetime_constant_says_how_to_write_it() {
        let job = "[connections.a]\nurl = \"mysql://h/x\"\n[[routes]]\ntables = \"*\"\nfrom = \"a\"\nto = \"a\"\n[tables.t]\nadd = { d = 2024-01-01 }\n";
        let e = Job::parse(job, "j.toml").unwrap_err().to_string();
        assert!(
            e.contains("a TOML date/time is not taken as a constant"),
            "{e}"
        );
        let ok = job.replace("2024-01-01", "{ value = \"2024-01-01\", type = \"date\" }");
        assert!(Job::parse(&ok, "j.toml").is_ok());
    }

    #[test]
    fn zero_dates_and_on_update_triggers_per_route() {
        let job = "[connections.a]\nurl = \"mysql://h/x\"\n[defaults]\nzero_dates = \"error\"\n\
                   [[routes]]\ntables = \"*\"\nfrom = \"a\"\nto = \"a\"\n\
                   [[routes]]\ntables = \"*\"\nfrom = \"a\"\nto = \"a\"\nzero_dates = \"null\"\non_update_triggers = false\n";
        let j = Job::parse(job, "j.toml").unwrap();
        let o: Vec<_> = j.routes.iter().map(|r| &r.options).collect();
        assert_eq!(o[0].zero_dates, crate::temporal::ZeroDates::Error);
        assert!(o[0].on_update_triggers);
        assert_eq!(o[1].zero_dates, crate::temporal::ZeroDates::Null);
        assert!(!o[1].on_update_triggers);
        let e = Job::parse(&job.replace("\"error\"", "\"drop\""), "j.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("zero_dates: `drop` (expected null or error)"),
            "{e}"
        );
    }

    #[test]
    fn samples_per_route() {
        let job = "[connections.a]\nurl = \"mysql://h/x\"\n[defaults]\nsample = 500\nseed = 5\n\
                   [[routes]]\ntables = \"*\"\nfrom = \"a\"\nto = \"a\"\n\
                   [[routes]]\ntables = \"*\"\nfrom = \"a\"\nto = \"a\"\nsample = \"1%\"\nsample_root = [\"posts\"]\n";
        let j = Job::parse(job, "j.toml").unwrap();
        use crate::sample::{Sample, SampleSize};
        assert_eq!(
            j.routes[0].options.sample,
            Some(Sample {
                size: SampleSize::Rows(500),
                roots: vec![],
                seed: 5
            })
        );
        assert_eq!(
            j.routes[1].options.sample,
            Some(Sample {
                size: SampleSize::Percent(1.0),
                roots: vec!["posts".into()],
                seed: 5
            })
        );
        let e = Job::parse(&job.replace("500", "\"lots\""), "j.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("routes[0].sample: `lots`"), "{e}");
    }

    #[test]
    fn errors_point_at_the_file_and_line() {
        let e = Job::parse(
            "[connections.old]\nurl = \"mysql://h/x\"\nbogus = 1\n",
            "j.toml",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("j.toml:3:1: "), "{e}");
        let e = Job::parse(
            "[connections.a]\nurl = \"mysql://h/x\"\n[[routes]]\ntables = \"*\"\nfrom = \"a\"\nto = \"b\"\n",
            "j.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("no connection named `b`"), "{e}");
    }
}

#[cfg(test)]
mod position_tests {
    use super::*;

    #[test]
    fn expression_errors_point_into_the_file_past_escapes() {
        let text = "[connections.a]\nurl = \"mysql://h/x\"\n[[routes]]\ntables = \"*\"\nfrom = \"a\"\nto = \"a\"\n[tables.t]\nfilter = \"name = 'caf\\u00e9 \\\"x\\\"' AND ?\"\n";
        let e = Job::parse(text, "j.toml").unwrap_err().to_string();
        let line = text.lines().nth(7).unwrap();
        let col = line.find('?').unwrap() + 1;
        assert!(
            e.starts_with(&format!(
                "j.toml:8:{col}: tables.t.filter: unexpected character `?`"
            )),
            "{e}"
        );
        // Multi-line literal strings map too.
        let text = text.replace(
            "filter = \"name = 'caf\\u00e9 \\\"x\\\"' AND ?\"",
            "filter = '''\nname = 'x'\n  AND )'''",
        );
        let e = Job::parse(&text, "j.toml").unwrap_err().to_string();
        assert!(
            e.starts_with("j.toml:10:7: tables.t.filter: expected a value, found `)`"),
            "{e}"
        );
        assert!(e.ends_with("  AND )\n          ^"), "{e:?}");
    }
}
