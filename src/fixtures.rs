//! barge's fixture data: the `legacy` Rails-style schema and the `type_zoo` of MySQL edge
//! values (SQL files under `fixtures/`), and a seeded generator that fills `characters` and
//! `posts` with any number of rows.
//!
//! The generator is deterministic per row: every value of row `id` comes from a random
//! stream seeded by (seed, table, id) alone, so the same seed gives the same bytes however
//! the rows are batched or spread over connections.

use crate::engine::mysql::connect::{mysql_conn, mysql_pool};
use crate::error::{Context, Error, Result, Side};
use crate::url::DbUrl;
use mysql_async::prelude::Queryable;
use std::fmt::Write;

pub const DEFAULT_SEED: u64 = 20_100_607;
pub const LEGACY_SQL: &str = include_str!("../fixtures/legacy.sql");
pub const TYPE_ZOO_SQL: &str = include_str!("../fixtures/type_zoo.sql");
/// PostgreSQL fixtures: a type zoo, a Rails-style app, quoted names, a partitioned table.
pub const PG_APP_SQL: &str = include_str!("../fixtures/pg_app.sql");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixtureSet {
    Legacy,
    TypeZoo,
}

impl FixtureSet {
    pub fn parse(s: &str) -> Result<FixtureSet> {
        match s {
            "legacy" => Ok(FixtureSet::Legacy),
            "type_zoo" | "type-zoo" => Ok(FixtureSet::TypeZoo),
            other => Err(Error::Config(format!(
                "unknown fixture set `{other}` (there are: legacy, type_zoo)"
            ))),
        }
    }

    pub fn sql(self) -> &'static str {
        match self {
            FixtureSet::Legacy => LEGACY_SQL,
            FixtureSet::TypeZoo => TYPE_ZOO_SQL,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FixtureSet::Legacy => "legacy",
            FixtureSet::TypeZoo => "type_zoo",
        }
    }
}

fn ident(s: &str) -> String {
    crate::engine::mysql::read::quote_ident(s)
}

/// (Re)create `database` on the server `url` points at and load the fixture sets into it.
pub async fn load(url: &DbUrl, database: &str, sets: &[FixtureSet]) -> Result<String> {
    let pool = mysql_pool(url, 1).await?;
    let result = async {
        let mut conn = mysql_conn(&pool, url, Side::Target).await?;
        conn.query_drop(format!(
            "DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; USE {db}",
            db = ident(database)
        ))
        .await
        .ctx(format!("creating database {database}"))?;
        for set in sets {
            conn.query_drop(set.sql())
                .await
                .ctx(format!("loading fixture set {}", set.name()))?;
        }
        Ok(sets.iter().map(|s| s.name()).collect::<Vec<_>>().join(" + "))
    }
    .await;
    let _ = pool.disconnect().await;
    result
}

/// Load the PostgreSQL fixtures into `schema` (dropped and created anew) of the database
/// `url` names.
pub async fn load_pg(url: &DbUrl, schema: &str) -> Result<()> {
    let client = crate::engine::postgres::connect::pg_connect(url, Side::Target).await?;
    let q = crate::engine::postgres::write::quote_ident(schema);
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {q} CASCADE; CREATE SCHEMA {q}; SET search_path TO {q}"
        ))
        .await
        .ctx(format!("creating schema {schema}"))?;
    client
        .batch_execute(PG_APP_SQL)
        .await
        .ctx("loading the PostgreSQL fixtures")?;
    // Row estimates for the planner and for barge's partitioning, of this schema only.
    let tables = client
        .query(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = $1",
            &[&schema],
        )
        .await
        .ctx("listing the fixture tables")?;
    let names: Vec<String> = tables.iter().map(|r| r.get(0)).collect();
    client
        .batch_execute(&format!("ANALYZE {}", names.join(", ")))
        .await
        .ctx("analyzing the fixture tables")?;
    Ok(())
}

/// Replace the rows of `table` (characters or posts, created by the legacy set) with
/// `rows` generated rows, ids 1..=rows.
pub async fn generate(
    url: &DbUrl,
    database: &str,
    table: &str,
    rows: u64,
    seed: u64,
) -> Result<()> {
    let gen = Generated::of(table)?;
    // Parsing INSERTs is the server's bottleneck: a few connections keep both cores busy.
    const CONNS: u64 = 3;
    const ROWS_PER_INSERT: u64 = 1000;
    let pool = mysql_pool(url, CONNS as usize).await?;
    let result = async {
        let mut conn = mysql_conn(&pool, url, Side::Target).await?;
        conn.query_drop(format!(
            "TRUNCATE TABLE {}.{}",
            ident(database),
            ident(table)
        ))
        .await
        .ctx(format!("emptying {table}"))?;
        drop(conn);
        let per_conn = rows.div_ceil(CONNS);
        let mut tasks = Vec::new();
        for c in 0..CONNS {
            let (first, last) = (1 + c * per_conn, ((c + 1) * per_conn).min(rows));
            if first > last {
                continue;
            }
            let pool = pool.clone();
            let url = url.clone();
            let target = format!("{}.{}", ident(database), ident(table));
            tasks.push(tokio::spawn(async move {
                let mut conn = mysql_conn(&pool, &url, Side::Target).await?;
                conn.query_drop(
                    "SET SESSION sql_mode = '', unique_checks = 0, foreign_key_checks = 0",
                )
                .await
                .ctx("preparing the generator session")?;
                let mut sql = String::with_capacity(1 << 20);
                let mut id = first;
                while id <= last {
                    let end = (id + ROWS_PER_INSERT - 1).min(last);
                    sql.clear();
                    let _ = write!(sql, "INSERT INTO {target} ({}) VALUES ", gen.columns());
                    render_rows(gen, seed, id..=end, &mut sql);
                    // Three sessions insert into one table: InnoDB may pick one as a
                    // deadlock victim (1213) or time out its lock (1205). The statement was
                    // rolled back whole, so send it again.
                    let mut tries = 0;
                    loop {
                        match conn.query_drop(sql.as_str()).await {
                            Err(mysql_async::Error::Server(e))
                                if matches!(e.code, 1205 | 1213) && tries < 5 =>
                            {
                                tries += 1;
                                tokio::time::sleep(std::time::Duration::from_millis(50 * tries))
                                    .await;
                            }
                            r => break r,
                        }
                    }
                    .ctx(format!("inserting generated rows {id}..{end}"))?;
                    id = end + 1;
                }
                Ok::<_, Error>(())
            }));
        }
        for t in tasks {
            t.await.map_err(|source| Error::Task {
                what: "a fixture generator".into(),
                source,
            })??;
        }
        Ok(())
    }
    .await;
    let _ = pool.disconnect().await;
    result
}

#[derive(Debug, Clone, Copy)]
pub enum Generated {
    Characters,
    Posts,
}

impl Generated {
    pub fn of(table: &str) -> Result<Generated> {
        match table {
            "characters" => Ok(Generated::Characters),
            "posts" => Ok(Generated::Posts),
            other => Err(Error::Config(format!(
                "no generator for table `{other}` (there are: characters, posts)"
            ))),
        }
    }

    fn columns(self) -> &'static str {
        match self {
            Generated::Characters => "id, name, publisher_id, alignment, first_appearance, power_level, biography, active, created_at, updated_at",
            Generated::Posts => "id, character_id, title, body, score, views, likes, rating, price, ratio, weight, published, flags, status, tags, published_on, published_at, duration, metadata, avatar, created_at, updated_at",
        }
    }

    fn tag(self) -> u64 {
        match self {
            Generated::Characters => 0x6368_6172,
            Generated::Posts => 0x706f_7374,
        }
    }
}

/// SplitMix64: tiny, fast, and fully determined by its seed.
pub struct Rng(u64);

impl Rng {
    pub fn for_row(seed: u64, table: u64, id: u64) -> Rng {
        let mut r = Rng(seed ^ table.rotate_left(32) ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in lo..=hi.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo) as u64 + 1)) as i64
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next_u64() % items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "the",
    "hero",
    "city",
    "night",
    "power",
    "shadow",
    "héroe",
    "Ñandú",
    "naïve",
    "Zoë",
    "東京",
    "日本語",
    "Ωmega",
    "storm",
    "🦸",
    "🦀",
    "café",
    "über",
    "mask",
    "cape",
    "villain",
    "Привет",
    "mighty",
    "ﬁre",
    "e\u{301}clair",
    "λ",
    "quantum",
    "secret",
    "lair",
    "ünïcode",
];
const FIRST: &[&str] = &[
    "Captain", "Doctor", "Mister", "Lady", "Iron", "Silver", "Night", "Señor", "Madame", "Black",
];
const LAST: &[&str] = &[
    "Marvel",
    "Strange",
    "Fantástico",
    "Hawk",
    "Storm",
    "Widow",
    "Lantern",
    "Wasp",
    "Falcon",
    "Ōkami",
];

fn words(r: &mut Rng, out: &mut String, n: i64) {
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(r.pick(WORDS));
    }
}

fn date(r: &mut Rng, out: &mut String, y0: i64, y1: i64) {
    let _ = write!(
        out,
        "'{:04}-{:02}-{:02}'",
        r.range(y0, y1),
        r.range(1, 12),
        r.range(1, 28)
    );
}

fn datetime(r: &mut Rng, out: &mut String, y0: i64, y1: i64) {
    let _ = write!(
        out,
        "'{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}'",
        r.range(y0, y1),
        r.range(1, 12),
        r.range(1, 28),
        r.range(0, 23),
        r.range(0, 59),
        r.range(0, 59),
        r.range(0, 999_999)
    );
}

/// `v` as a NULL 10% of the time (the generated tables' nullable columns).
fn nullable(r: &mut Rng, out: &mut String, f: impl FnOnce(&mut Rng, &mut String)) {
    if r.chance(10) {
        out.push_str("NULL");
    } else {
        f(r, out);
    }
}

/// Append `(…),(…)` for the rows `ids` of `table`: the VALUES list of an INSERT.
pub fn render_rows(
    table: Generated,
    seed: u64,
    ids: std::ops::RangeInclusive<u64>,
    out: &mut String,
) {
    for id in ids.clone() {
        if id != *ids.start() {
            out.push(',');
        }
        let r = &mut Rng::for_row(seed, table.tag(), id);
        let _ = write!(out, "({id},");
        match table {
            Generated::Characters => render_character(r, id, out),
            Generated::Posts => render_post(r, out),
        }
        out.push(')');
    }
}

fn render_character(r: &mut Rng, id: u64, out: &mut String) {
    let _ = write!(out, "'{} {} {id}',", r.pick(FIRST), r.pick(LAST));
    if r.chance(5) {
        out.push_str("NULL");
    } else {
        let _ = write!(out, "{}", r.range(1, 3));
    }
    out.push(',');
    nullable(r, out, |r, o| {
        let _ = write!(o, "'{}'", r.pick(&["good", "evil", "neutral"]));
    });
    out.push(',');
    nullable(r, out, |r, o| date(r, o, 1938, 2024));
    out.push(',');
    nullable(r, out, |r, o| {
        let _ = write!(o, "{}", r.range(-1000, 100_000));
    });
    out.push(',');
    nullable(r, out, |r, o| {
        o.push('\'');
        let n = r.range(0, 30);
        words(r, o, n);
        o.push('\'');
    });
    let _ = write!(out, ",{},", r.range(0, 1));
    datetime(r, out, 2010, 2017);
    out.push(',');
    datetime(r, out, 2018, 2024);
}

fn render_post(r: &mut Rng, out: &mut String) {
    nullable(r, out, |r, o| {
        let _ = write!(o, "{}", r.range(1, 250_000));
    });
    out.push_str(",'");
    let n = r.range(1, 8);
    words(r, out, n);
    out.push_str("',");
    nullable(r, out, |r, o| {
        o.push('\'');
        let n = r.range(0, 40);
        words(r, o, n);
        o.push('\'');
    });
    out.push(',');
    // score: now and then the int extremes
    nullable(r, out, |r, o| {
        let v = match r.next_u64() % 100 {
            0 => i32::MIN as i64,
            1 => i32::MAX as i64,
            _ => r.range(-100_000, 100_000),
        };
        let _ = write!(o, "{v}");
    });
    out.push(',');
    nullable(r, out, |r, o| {
        let _ = write!(o, "{}", r.range(0, u32::MAX as i64));
    });
    out.push(',');
    nullable(r, out, |r, o| {
        let v = if r.chance(1) {
            u64::MAX - r.range(0, 9) as u64
        } else {
            r.next_u64() >> r.range(0, 63)
        };
        let _ = write!(o, "{v}");
    });
    out.push(',');
    nullable(r, out, |r, o| {
        let v = r.range(-999_999, 999_999);
        let _ = write!(
            o,
            "{}{}.{:03}",
            if v < 0 { "-" } else { "" },
            v.abs() / 1000,
            v.abs() % 1000
        );
    });
    out.push(',');
    nullable(r, out, |r, o| {
        let v = r.range(0, 999_999_999_999);
        let _ = write!(o, "{}.{:02}", v / 100, v % 100);
    });
    out.push(',');
    nullable(r, out, |r, o| {
        let mantissa = (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let v = (mantissa - 0.5) * 10f64.powi(r.range(-300, 300) as i32);
        let _ = write!(o, "{v:e}");
    });
    out.push(',');
    nullable(r, out, |r, o| {
        let v = ((r.next_u64() >> 40) as f32 / (1u32 << 24) as f32 - 0.5)
            * 10f32.powi(r.range(-30, 30) as i32);
        let _ = write!(o, "{v:e}");
    });
    out.push(',');
    nullable(r, out, |r, o| {
        let _ = write!(o, "{}", r.range(0, 1));
    });
    out.push(',');
    nullable(r, out, |r, o| {
        let _ = write!(o, "{}", r.range(0, 255));
    });
    out.push(',');
    nullable(r, out, |r, o| {
        let _ = write!(o, "'{}'", r.pick(&["draft", "published", "archived"]));
    });
    out.push(',');
    nullable(r, out, |r, o| {
        let mask = r.range(0, 15);
        let tags: Vec<&str> = ["news", "tech", "sport", "art"]
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, t)| *t)
            .collect();
        let _ = write!(o, "'{}'", tags.join(","));
    });
    out.push(',');
    // published_on: about 1 in 200 is MySQL's zero date, as legacy data has them.
    nullable(r, out, |r, o| {
        if r.chance(1) && r.chance(50) {
            o.push_str("'0000-00-00'");
        } else {
            date(r, o, 1990, 2024)
        }
    });
    out.push(',');
    nullable(r, out, |r, o| datetime(r, o, 1990, 2024));
    out.push(',');
    nullable(r, out, |r, o| {
        let us = r.range(
            -838 * 3_600_000_000 - 3_599_000_000,
            838 * 3_600_000_000 + 3_599_000_000,
        );
        let a = us.unsigned_abs();
        let _ = write!(
            o,
            "'{}{}:{:02}:{:02}'",
            if us < 0 { "-" } else { "" },
            a / 3_600_000_000,
            a / 60_000_000 % 60,
            a / 1_000_000 % 60
        );
    });
    out.push(',');
    nullable(r, out, |r, o| {
        let _ = write!(
            o,
            "'{{\"v\": {}, \"big\": {}, \"name\": \"{}\", \"tags\": [{}, {}], \"ok\": {}}}'",
            r.range(-1000, 1000),
            r.next_u64(),
            r.pick(WORDS),
            r.range(0, 9),
            r.range(0, 9),
            if r.chance(50) { "true" } else { "null" }
        );
    });
    out.push(',');
    nullable(r, out, |r, o| {
        o.push_str("X'");
        for _ in 0..r.range(0, 64) {
            let _ = write!(o, "{:02x}", r.next_u64() as u8);
        }
        o.push('\'');
    });
    out.push(',');
    datetime(r, out, 2005, 2024);
    out.push(',');
    datetime(r, out, 1971, 2037);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fnv(s: &str) -> u64 {
        s.bytes().fold(0xcbf29ce484222325, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        })
    }

    /// The generated bytes are part of the contract (benchmarks compare runs across
    /// versions): a change here must be deliberate, with the new hashes recorded.
    #[test]
    fn generated_bytes_are_pinned() {
        let mut c = String::new();
        render_rows(Generated::Characters, DEFAULT_SEED, 1..=1000, &mut c);
        let mut p = String::new();
        render_rows(Generated::Posts, DEFAULT_SEED, 1..=1000, &mut p);
        assert_eq!(
            (fnv(&c), fnv(&p)),
            (7835774140729178405, 3237126232243834841)
        );
    }

    #[test]
    fn same_seed_same_bytes_regardless_of_batching() {
        for g in [Generated::Characters, Generated::Posts] {
            let mut whole = String::new();
            render_rows(g, 7, 1..=500, &mut whole);
            let mut parts = String::new();
            render_rows(g, 7, 1..=200, &mut parts);
            parts.push(',');
            render_rows(g, 7, 201..=500, &mut parts);
            assert_eq!(whole, parts);
            let mut other = String::new();
            render_rows(g, 8, 1..=500, &mut other);
            assert_ne!(whole, other);
        }
    }
}
