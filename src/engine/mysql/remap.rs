//! Key remapping into MySQL/MariaDB: a table with new keys gets them after what the target
//! holds, in old-key order, through a key map table (`old → new`) that its children join;
//! a child's keys are rewritten by that join, with the orphan policy of each column.
//!
//! The rows and the finish mark commit in one InnoDB transaction. The DDL before it (the
//! target table, the key map) commits as it goes and is made again by a retried finish, so
//! a crash leaves either nothing loaded or the whole table with its mark.

use super::ddl;
use super::read::quote_ident;
use crate::engine::RemapOutcome;
use crate::error::{Context, Error, Result};
use crate::ledger::FinishMark;
use crate::plan::{staging_name, Mode, OrphanPolicy, TablePlan};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};
use std::collections::HashMap;

pub fn keymap_name(target: &str) -> String {
    crate::plan::helper_tables(target)[1].clone()
}

/// How the finish reaches the target.
pub(super) struct Target<'a> {
    pub database: &'a str,
    pub mode: Mode,
    pub drop_existing: bool,
    pub server: ddl::Server,
}

impl Target<'_> {
    fn table(&self, name: &str) -> String {
        format!("{}.{}", quote_ident(self.database), quote_ident(name))
    }
}

/// Put a remapped table in place (see the module's comment).
pub(super) async fn finish_remapped(
    conn: &mut Conn,
    to: &Target<'_>,
    plan: &TablePlan,
    reject_dir: &std::path::Path,
    mark: Option<&FinishMark>,
) -> Result<RemapOutcome> {
    let staging = to.table(&staging_name(&plan.target));
    let target = to.table(&plan.target);
    let fail = |detail: String| Error::Table {
        table: plan.source.clone(),
        detail,
    };
    if !super::write::table_exists(conn, to.database, &staging_name(&plan.target)).await? {
        return Err(fail(format!(
            "its staging table {staging} is gone: rerun with --restart to load it again"
        )));
    }
    // MySQL's DDL commits as it goes: the table this finish makes is its own until the rows
    // commit, and a failure takes it away again. With --drop the table it replaces waits
    // under another name, and comes back on a failure.
    let old_name = super::write::old_name(&plan.target);
    let old = to.table(&old_name);
    let mut ddl_stmts = Vec::new();
    let owns_target = to.mode != Mode::DataOnly;
    let mut set_aside = false;
    if owns_target {
        if to.drop_existing {
            if super::write::table_exists(conn, to.database, &old_name).await? {
                // An interrupted finish set the table aside; what is at the name is its own.
                ddl_stmts.push(format!("DROP TABLE IF EXISTS {target}"));
                set_aside = true;
            } else if super::write::table_exists(conn, to.database, &plan.target).await? {
                ddl_stmts.push(format!("RENAME TABLE {target} TO {old}"));
                set_aside = true;
            }
        }
        // With every index: the rows go in by one INSERT … SELECT, in key order.
        let create = ddl::create_table_sql(to.database, &plan.target, plan, true, to.server)?;
        ddl_stmts.push(create.replacen("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1));
    }
    let undo = Undo {
        owns_target,
        set_aside,
        target: &target,
        old: &old,
        plan,
    };
    let mut select: Vec<String> = plan
        .target_columns
        .iter()
        .map(|c| format!("s.{}", quote_ident(&c.name)))
        .collect();
    let mut joins = Vec::new();
    let mut fill_map = None;
    if plan.new_keys {
        let pk = &plan.primary_key[0];
        let (i, col) = plan
            .target_columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == *pk)
            .ok_or_else(|| Error::Internal(format!("{}: no key column {pk}", plan.target)))?;
        let key_type = ddl::column_type(plan, col, to.server)?;
        let km = to.table(&keymap_name(&plan.target));
        let k = quote_ident(pk);
        ddl_stmts.push(format!("DROP TABLE IF EXISTS {km}"));
        ddl_stmts.push(format!(
            "CREATE TABLE {km} (old {key_type} NOT NULL PRIMARY KEY, new {key_type} NOT NULL) \
             ENGINE=InnoDB"
        ));
        // In the transaction: the largest key is locked (with the gap past it), so nobody
        // adds keys while new ones are handed out.
        fill_map = Some((
            format!("SELECT CAST(COALESCE(MAX({k}), 0) AS SIGNED) FROM {target} FOR UPDATE"),
            format!(
                "INSERT INTO {km} (old, new) SELECT s.{k}, ROW_NUMBER() OVER (ORDER BY s.{k}) + ? \
                 FROM {staging} s"
            ),
        ));
        select[i] = "km0.new".into();
        joins.push(format!("JOIN {km} km0 ON km0.old = s.{k}"));
    }
    for s in &ddl_stmts {
        if let Err(e) = run(conn, plan, s).await {
            if !e.is_transient() {
                undo.run(conn).await;
            }
            return Err(e);
        }
    }
    let mut orphan_conds = Vec::new();
    for (n, r) in plan.remaps.iter().enumerate() {
        let alias = format!("km{}", n + 1);
        let c = quote_ident(&r.column);
        joins.push(format!(
            "LEFT JOIN {} {alias} ON {alias}.old = s.{c}",
            to.table(&keymap_name(&r.parent))
        ));
        let i = plan
            .target_columns
            .iter()
            .position(|tc| tc.name == r.column)
            .ok_or_else(|| Error::Internal(format!("{}: no column {}", plan.target, r.column)))?;
        select[i] = format!("{alias}.new");
        orphan_conds.push((r, format!("(s.{c} IS NOT NULL AND {alias}.old IS NULL)")));
    }
    let from = format!("{staging} s {}", joins.join(" "));
    run(conn, plan, "START TRANSACTION").await?;
    let result = async {
        if let Some((highest, fill)) = &fill_map {
            let past: Option<i64> = conn
                .query_first(highest)
                .await
                .ctx(format!("locking the keys of {}", plan.target))?;
            conn.exec_drop(fill, (past.unwrap_or(0),))
                .await
                .ctx(format!("handing out the new keys of {}", plan.target))?;
        }
        let mut out = RemapOutcome::default();
        for (r, cond) in &orphan_conds {
            let n: Option<i64> = conn
                .query_first(format!("SELECT COUNT(*) FROM {from} WHERE {cond}"))
                .await
                .ctx(format!("counting the orphans of {}.{}", plan.target, r.column))?;
            let n = n.unwrap_or(0);
            if n == 0 {
                continue;
            }
            let counts = match r.policy {
                OrphanPolicy::Error => {
                    let examples: Vec<String> = conn
                        .query(format!(
                            "SELECT DISTINCT CAST(s.{} AS CHAR) AS v FROM {from} WHERE {cond} \
                             ORDER BY v LIMIT 5",
                            quote_ident(&r.column)
                        ))
                        .await
                        .ctx(format!("listing the orphans of {}.{}", plan.target, r.column))?;
                    return Err(fail(format!(
                        "{n} row(s) have a {} with no row in {} (e.g. {}); set orphans.{} = \"null\" or \"skip\" to load them",
                        r.column,
                        r.parent,
                        examples.join(", "),
                        r.column
                    )));
                }
                OrphanPolicy::Skip => &mut out.orphans_skipped,
                OrphanPolicy::Null => &mut out.orphans_nulled,
            };
            counts.insert(r.column.clone(), n as u64);
        }
        // Only columns that have orphans: no reject file when nothing is left out.
        let skipped: Vec<_> = orphan_conds
            .iter()
            .filter(|(r, _)| {
                r.policy == OrphanPolicy::Skip && out.orphans_skipped.contains_key(&r.column)
            })
            .collect();
        let mut where_clause = String::new();
        if !skipped.is_empty() {
            let any = skipped
                .iter()
                .map(|(_, c)| c.as_str())
                .collect::<Vec<_>>()
                .join(" OR ");
            let reason = skipped
                .iter()
                .map(|(r, cond)| {
                    format!(
                        "CASE WHEN {cond} THEN {} END",
                        ddl::quote_literal(&format!("no {} row for {}", r.parent, r.column))
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT s.*, CONCAT_WS('; ', {reason}) AS barge_reject_reason FROM {from} WHERE {any}"
            );
            let file = reject_dir.join(format!("{}.csv", plan.target));
            write_csv(conn, &sql, reject_dir, &file).await?;
            out.rejects_file = Some(file);
            where_clause = format!(" WHERE NOT ({any})");
        }
        let cols = ddl::column_list(plan);
        let insert = format!(
            "INSERT INTO {target} ({cols}) SELECT {} FROM {from}{where_clause}",
            select.join(", ")
        );
        conn.query_drop(&insert)
            .await
            .ctx(format!("inserting the remapped rows of {}", plan.target))?;
        out.inserted = conn.affected_rows();
        crate::failpoint::hit("remap-applied");
        if let Some(m) = mark {
            if !super::ledger::mark_finished(conn, to.database, m).await? {
                return Err(Error::LeaseLost {
                    table: plan.source.clone(),
                    what: "its finish".into(),
                });
            }
        }
        Ok(out)
    }
    .await;
    let result = match result {
        Ok(out) => run(conn, plan, "COMMIT").await.map(|()| out),
        Err(e) => {
            let _ = conn.query_drop("ROLLBACK").await;
            Err(e)
        }
    };
    let out = match result {
        Ok(out) => out,
        Err(e) => {
            // A lost session is retried by a new finish, which finds what this one made.
            if !e.is_transient() {
                undo.run(conn).await;
            }
            return Err(e);
        }
    };
    // The rows are in with their mark: what is left is cleanup, and a key counter that
    // keeps ids of rows the source deleted unused (as a table that is not remapped).
    // Other tables' foreign keys followed the replaced table to its set-aside name (and go
    // back with it when a finish fails): they go with it now.
    if let Err(e) = super::write::drop_set_aside(conn, to.database, &plan.target).await {
        tracing::warn!("{}: after the finish: {e}", plan.target);
    }
    let mut after = vec![format!("DROP TABLE IF EXISTS {staging}")];
    if let Some(floor) = plan
        .sequence_floor
        .filter(|_| !plan.new_keys && plan.target_columns.iter().any(|c| c.identity))
    {
        after.push(format!(
            "ALTER TABLE {target} AUTO_INCREMENT = {}",
            floor + 1
        ));
    }
    for s in after {
        if let Err(e) = run(conn, plan, &s).await {
            tracing::warn!("{}: after the finish: {e}", plan.target);
        }
    }
    Ok(out)
}

/// A parent's key map, when it holds at most `max` keys: its children are remapped as
/// they stream instead of by a join at their finish.
pub(super) async fn key_map(
    conn: &mut Conn,
    database: &str,
    plan: &TablePlan,
    max: u64,
) -> Option<HashMap<i64, i64>> {
    let km = format!(
        "{}.{}",
        quote_ident(database),
        quote_ident(&keymap_name(&plan.target))
    );
    let n: Option<i64> = conn
        .query_first(format!("SELECT COUNT(*) FROM {km}"))
        .await
        .ok()?;
    if n.unwrap_or(0) as u64 > max {
        return None;
    }
    conn.query(format!(
        "SELECT CAST(old AS SIGNED), CAST(new AS SIGNED) FROM {km}"
    ))
    .await
    .ok()
    .map(|rows: Vec<(i64, i64)>| rows.into_iter().collect())
}

pub(super) async fn drop_key_maps(conn: &mut Conn, database: &str, plans: &[&TablePlan]) {
    for p in plans {
        let km = format!(
            "{}.{}",
            quote_ident(database),
            quote_ident(&keymap_name(&p.target))
        );
        if let Err(e) = conn.query_drop(format!("DROP TABLE IF EXISTS {km}")).await {
            tracing::warn!("could not drop key map {km}: {e}");
        }
    }
}

/// What a failed finish takes back: the table it made, and the one it set aside.
struct Undo<'a> {
    owns_target: bool,
    set_aside: bool,
    target: &'a str,
    old: &'a str,
    plan: &'a TablePlan,
}

impl Undo<'_> {
    async fn run(&self, conn: &mut Conn) {
        if !self.owns_target {
            return;
        }
        let mut stmts = vec![format!("DROP TABLE IF EXISTS {}", self.target)];
        if self.set_aside {
            stmts.push(format!("RENAME TABLE {} TO {}", self.old, self.target));
        }
        for s in stmts {
            if let Err(e) = conn.query_drop(&s).await {
                tracing::warn!("{}: undoing a failed finish: {s}: {e}", self.plan.target);
            }
        }
    }
}

async fn run(conn: &mut Conn, plan: &TablePlan, sql: &str) -> Result<()> {
    let t = std::time::Instant::now();
    let done = conn.query_drop(sql).await;
    tracing::debug!("{:.3}s {sql}", t.elapsed().as_secs_f64());
    done.map_err(|source| {
        let e = Error::Mysql {
            context: format!("finishing table {}: {sql}", plan.target),
            source,
        };
        // A lost session stays what it is, so the finish is retried on a new one.
        if e.is_transient() {
            e
        } else {
            Error::Table {
                table: plan.source.clone(),
                detail: e.to_string(),
            }
        }
    })
}

/// The rows of `sql` as CSV with a header, as PostgreSQL's `COPY … CSV HEADER` writes them
/// (the same reject file in either target).
async fn write_csv(
    conn: &mut Conn,
    sql: &str,
    dir: &std::path::Path,
    file: &std::path::Path,
) -> Result<()> {
    let rows: Vec<mysql_async::Row> = conn.query(sql).await.ctx("writing rejects")?;
    let mut out = String::new();
    if let Some(first) = rows.first() {
        let names: Vec<String> = first
            .columns_ref()
            .iter()
            .map(|c| csv_field(c.name_str().as_bytes()))
            .collect();
        out.push_str(&names.join(","));
        out.push('\n');
    }
    for r in &rows {
        let fields: Vec<String> = (0..r.len())
            .map(|i| match r.as_ref(i) {
                None | Some(Value::NULL) => String::new(),
                Some(Value::Bytes(b)) => csv_field(b),
                Some(v) => csv_field(v.as_sql(true).trim_matches('\'').as_bytes()),
            })
            .collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(file, out)?;
    Ok(())
}

/// One CSV field: quoted when it holds a separator, a quote, a line break, or nothing
/// (an empty string is `""`, NULL is empty).
fn csv_field(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.is_empty() || s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_as_postgres_quotes_them() {
        assert_eq!(csv_field(b"plain"), "plain");
        assert_eq!(csv_field(b""), "\"\"");
        assert_eq!(csv_field(b"a,b"), "\"a,b\"");
        assert_eq!(csv_field(b"say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field(b"two\nlines"), "\"two\nlines\"");
    }
}
