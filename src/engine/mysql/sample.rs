//! Picking a development subset on MySQL/MariaDB (the algorithm is `crate::sample`'s): a
//! seeded CRC32 of each row's key chooses its own rows. Read-only on the source.

use crate::engine::mysql::read::quote_ident;
use crate::error::{Context, Result};
use crate::sample::{Sample, SampleSize, SampleSql};
use mysql_async::prelude::Queryable;

/// The SQL that picks a table's own sample rows, given its key columns (or all columns for a
/// table without a key). Pure, so the exact SQL is unit-tested.
pub fn pick_sql(database: &str, table: &str, key: &[String], sample: &Sample) -> String {
    let cols: Vec<String> = key.iter().map(|c| quote_ident(c)).collect();
    let hash = format!(
        "CRC32(CONCAT_WS(':', {}, {}))",
        sample.seed,
        cols.join(", ")
    );
    let from = format!("{}.{}", quote_ident(database), quote_ident(table));
    match sample.size {
        // CRC32 spreads over 2^32 values: keep those below the share.
        SampleSize::Percent(p) => {
            let below = ((p / 100.0) * 4_294_967_296.0).round() as u64;
            format!("{hash} < {below}")
        }
        // The first n rows in hash order (the key breaks ties). A derived table, since
        // MySQL takes no LIMIT directly inside IN (…).
        SampleSize::Rows(n) => {
            let list = if cols.len() == 1 {
                cols[0].clone()
            } else {
                format!("({})", cols.join(", "))
            };
            let aliases: Vec<String> = (0..cols.len()).map(|i| format!("k{i}")).collect();
            let select: Vec<String> = cols
                .iter()
                .zip(&aliases)
                .map(|(c, a)| format!("{c} AS {a}"))
                .collect();
            format!(
                "{list} IN (SELECT {} FROM (SELECT {} FROM {from} ORDER BY {hash}, {} LIMIT {n}) AS barge_sample)",
                aliases.join(", "),
                select.join(", "),
                cols.join(", ")
            )
        }
    }
}

/// MySQL's side of sampling: one connection on one database.
pub struct MysqlSample<'a> {
    pub conn: tokio::sync::Mutex<&'a mut mysql_async::Conn>,
    pub database: &'a str,
}

#[async_trait::async_trait]
impl SampleSql for MysqlSample<'_> {
    fn quote(&self, ident: &str) -> String {
        quote_ident(ident)
    }

    fn table(&self, table: &str) -> String {
        format!("{}.{}", quote_ident(self.database), quote_ident(table))
    }

    fn pick(&self, table: &str, key: &[String], sample: &Sample) -> String {
        pick_sql(self.database, table, key, sample)
    }

    async fn literals(&self, query: &str, what: &str) -> Result<Vec<String>> {
        let values: Vec<mysql_async::Value> =
            self.conn.lock().await.query(query).await.ctx(what)?;
        Ok(values.into_iter().map(|v| v.as_sql(true)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::SampleSize;

    fn sample(size: SampleSize) -> Sample {
        Sample {
            size,
            roots: vec![],
            seed: 7,
        }
    }

    #[test]
    fn picks_by_a_seeded_hash_of_the_key() {
        let k = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            pick_sql("d", "t", &k(&["id"]), &sample(SampleSize::Percent(1.0))),
            "CRC32(CONCAT_WS(':', 7, `id`)) < 42949673"
        );
        assert_eq!(
            pick_sql("d", "t", &k(&["id"]), &sample(SampleSize::Rows(5))),
            "`id` IN (SELECT k0 FROM (SELECT `id` AS k0 FROM `d`.`t` ORDER BY CRC32(CONCAT_WS(':', 7, `id`)), `id` LIMIT 5) AS barge_sample)"
        );
        assert!(
            pick_sql("d", "t", &k(&["a", "b"]), &sample(SampleSize::Rows(5)))
                .starts_with("(`a`, `b`) IN (SELECT k0, k1 FROM (SELECT `a` AS k0, `b` AS k1 FROM")
        );
    }
}
