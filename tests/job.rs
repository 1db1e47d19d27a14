//! Job files against the real servers: the origin story's migration, routing, operators.

mod common;

use barge::fixtures::FixtureSet;
use common::{barge, TestDb};
use mysql_async::prelude::Queryable;

fn job_file(db: &TestDb, routes_and_tables: &str) -> tempfile_path::Path {
    let text = format!(
        "[connections.old]\nurl = \"{}\"\n[connections.new]\nurl = \"{}\"\n\n{routes_and_tables}",
        db.source(),
        db.target()
    );
    tempfile_path::Path::new(&db.name, &text)
}

/// A job file in the temp directory, removed when dropped.
mod tempfile_path {
    pub struct Path(pub std::path::PathBuf);
    impl Path {
        pub fn new(name: &str, text: &str) -> Path {
            let p = std::env::temp_dir().join(format!("{name}.toml"));
            std::fs::write(&p, text).unwrap();
            Path(p)
        }
        pub fn as_str(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }
    impl Drop for Path {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blog_migration_renames_adds_and_keeps_relationships() {
    let db = TestDb::new("blog").await;
    db.load(&[FixtureSet::Legacy]).await;
    let job = job_file(
        &db,
        &format!(
            r#"
# The blog's router: read the old models from MySQL, write the new ones to PostgreSQL.
[[routes]]
tables = ["publishers", "characters"]
from = "old"
to = "new"
schema = "{}"

[tables.characters]
rename = {{ name = "nickname" }}
add = {{ secret_identity = "Clark Kent" }}
"#,
            db.name
        ),
    );
    let (ok, out, err) = barge(&["run", job.as_str()]);
    assert!(ok, "{out}\n{err}");

    // Every character, value by value: id, name → nickname, publisher_id, the new column.
    let mut my = db.mysql().await;
    let mut source: Vec<(i64, String, Option<i64>, String)> = my
        .query_map(
            "SELECT id, name, publisher_id FROM characters",
            |(id, name, p): (i64, String, Option<i64>)| (id, name, p, "Clark Kent".to_string()),
        )
        .await
        .unwrap();
    let pg = db.pg().await;
    let mut target: Vec<(i64, String, Option<i64>, String)> = pg
        .query(
            "SELECT id, nickname, publisher_id, secret_identity FROM characters",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    source.sort();
    target.sort();
    assert_eq!(source.len(), 10);
    assert_eq!(source, target);

    // The relationship survives: each character reaches the same publisher by name.
    let mut src_rel: Vec<(i64, String)> = my
        .query("SELECT c.id, p.name FROM characters c JOIN publishers p ON p.id = c.publisher_id")
        .await
        .unwrap();
    let mut tgt_rel: Vec<(i64, String)> = pg
        .query(
            "SELECT c.id, p.name FROM characters c JOIN publishers p ON p.id = c.publisher_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    src_rel.sort();
    tgt_rel.sort();
    assert!(!src_rel.is_empty());
    assert_eq!(src_rel, tgt_rel);
    let no_name: i64 = pg
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'characters' AND column_name = 'name'",
            &[&db.name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(no_name, 0, "name became nickname");
}

/// Computed columns and an expression filter, checked row by row against MySQL computing the
/// same values in SQL. The filter is partly pushed down (the plan says which part), partly
/// checked by barge; one expression reads a column the job drops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expressions_compute_columns_and_filter_rows() {
    let db = TestDb::new("exprs").await;
    db.load(&[FixtureSet::Legacy]).await;
    db.generate("characters", 120_000, 11).await;
    let job = job_file(
        &db,
        &format!(
            r#"
[[routes]]
tables = "characters"
from = "old"
to = "new"
schema = "{}"
jobs = 3

[tables.characters]
target = "heroes"
drop = ["biography", "updated_at"]
filter = """
alignment IN ('good', 'neutral')
  AND power_level BETWEEN 10 AND 90000
  AND created_at >= '2012-01-01'
  AND upper(substring(name, 1, 1)) <> 'L'"""

[tables.characters.add]
slug = {{ expr = "lower(replace(name, ' ', '-'))" }}
label = {{ expr = "concat(upper(name), ' #', coalesce(publisher_id, 0))" }}
tier = {{ expr = "CASE WHEN power_level >= 50000 THEN 'S' WHEN power_level >= 1000 THEN 'A' ELSE 'B' END" }}
power_x = {{ expr = "power_level * 1.5", type = "numeric(12,1)" }}
bio_len = {{ expr = "coalesce(length(biography), -1)" }}
per_k = {{ expr = "CASE WHEN publisher_id = 1 THEN NULL ELSE 1000 / (publisher_id - 1) END" }}
era = {{ expr = "CASE WHEN first_appearance < '1970-01-01' THEN 'golden' WHEN first_appearance IS NULL THEN 'unknown' ELSE 'modern' END" }}
loaded_at = {{ expr = "now()" }}
"#,
            db.name
        ),
    );

    let (ok, out, err) = barge(&["plan", job.as_str()]);
    assert!(ok, "{out}\n{err}");
    for want in [
        "slug                     text  (= lower(replace(name, ' ', '-')))",
        "power_x                  numeric(12,1)  (= power_level * 1.5)",
        "loaded_at                timestamptz(6)  (= now())",
        "biography                read for the expressions, not copied",
        "the source runs: WHERE ((`alignment` = 'good') OR (`alignment` = 'neutral')) AND (`power_level` >= 10) AND (`power_level` <= 90000) AND (`created_at` >= '2012-01-01 00:00:00.000000')",
        "barge checks: alignment IN ('good', 'neutral') AND created_at >= '2012-01-01' AND upper(substring(name, 1, 1)) <> 'L'",
    ] {
        assert!(out.contains(want), "plan lacks {want:?}:\n{out}");
    }

    let (ok, out, err) = barge(&["run", "--json", job.as_str()]);
    assert!(ok, "{out}\n{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let t = &report[0]["tables"][0];
    let (read, filtered, written) = (
        t["rows_read"].as_u64().unwrap(),
        t["rows_filtered"].as_u64().unwrap(),
        t["rows_written"].as_u64().unwrap(),
    );
    assert!(
        filtered > 1000,
        "barge's part of the filter removed rows: {t}"
    );
    assert_eq!(read, filtered + written);

    let mut my = db.mysql().await;
    let want: Vec<String> = my
        .query_map(
            "SELECT CONCAT_WS('|', id, LOWER(REPLACE(name, ' ', '-')), \
                 CONCAT(UPPER(name), ' #', COALESCE(publisher_id, 0)), \
                 CASE WHEN power_level >= 50000 THEN 'S' WHEN power_level >= 1000 THEN 'A' ELSE 'B' END, \
                 CAST(power_level * 1.5 AS DECIMAL(12,1)), \
                 COALESCE(CHAR_LENGTH(biography), -1), \
                 COALESCE(CASE WHEN publisher_id = 1 THEN NULL ELSE 1000 DIV (publisher_id - 1) END, 'null'), \
                 CASE WHEN first_appearance < '1970-01-01' THEN 'golden' WHEN first_appearance IS NULL THEN 'unknown' ELSE 'modern' END) \
             FROM characters \
             WHERE alignment IN ('good', 'neutral') AND power_level BETWEEN 10 AND 90000 \
               AND created_at >= '2012-01-01' AND BINARY UPPER(LEFT(name, 1)) <> 'L' ORDER BY id",
            |s: String| s,
        )
        .await
        .unwrap();
    let pg = db.pg().await;
    let rows = pg
        .query(
            &format!(
                "SELECT concat_ws('|', id, slug, label, tier, power_x, bio_len, coalesce(per_k::text, 'null'), era), \
                        loaded_at, \
                        (SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'heroes' AND column_name IN ('biography', 'updated_at')) \
                 FROM \"{}\".heroes ORDER BY id",
                db.name
            ),
            &[&db.name],
        )
        .await
        .unwrap();
    let got: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(got.len(), want.len());
    assert!(want.len() > 10_000, "a real share is kept: {}", want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
    assert_eq!(written as usize, want.len());
    // now() is one instant for the whole run.
    let first: std::time::SystemTime = rows[0].get(1);
    assert!(rows
        .iter()
        .all(|r| r.get::<_, std::time::SystemTime>(1) == first));
    let age = std::time::SystemTime::now().duration_since(first).unwrap();
    assert!(age.as_secs() < 600, "{age:?}");
    assert_eq!(
        rows[0].get::<_, i64>(2),
        0,
        "dropped columns are not created"
    );
}

/// A table's own `jobs` and `batch_rows` override the route's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_table_jobs_and_batch_rows() {
    let db = TestDb::new("perjobs").await;
    db.load(&[FixtureSet::Legacy]).await;
    db.generate("characters", 120_000, 5).await;
    let run = |table: &str| {
        let job = job_file(
            &db,
            &format!(
                "[[routes]]\ntables = \"characters\"\nfrom = \"old\"\nto = \"new\"\nschema = \"{}\"\nmode = \"drop\"\njobs = 4\n{table}",
                db.name
            ),
        );
        let (ok, out, err) = barge(&["run", "--json", job.as_str()]);
        assert!(ok, "{out}\n{err}");
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        let t = report[0]["tables"][0].clone();
        assert_eq!(t["rows_written"].as_u64(), Some(120_000), "{t}");
        let (ok, plan, _) = barge(&["plan", job.as_str()]);
        assert!(ok);
        (t["partitions"].as_u64().unwrap(), plan)
    };
    let (parts, _) = run("");
    assert!(parts >= 2, "the route's jobs split the table: {parts}");
    let (parts, plan) = run("[tables.characters]\njobs = 1\nbatch_rows = 777\n");
    assert_eq!(parts, 1);
    assert!(
        plan.contains("read in at most 1 key range(s) in parallel")
            && plan.contains("777 rows per batch"),
        "{plan}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_by_pattern_filters_drops_typed_constants_and_plan() {
    let db = TestDb::new("route").await;
    db.load(&[FixtureSet::Legacy]).await;
    db.generate("characters", 120_000, 3).await;
    let job = job_file(
        &db,
        &format!(
            r#"
[defaults]
schema = "{}"
jobs = 3

[[routes]]
tables = "character*"
exclude = ["characters_teams"]
from = "old"
to = "new"

[[routes]]
tables = "team?"
from = "old"
to = "new"

[tables.characters]
target = "heroes"
cast = {{ power_level = "bigint", name = "text", id = "integer" }}
filter = "active = 1 AND publisher_id IS NOT NULL"
drop = ["biography"]
add = {{ universe = {{ value = 616, type = "integer" }}, canon = true }}
"#,
            db.name
        ),
    );

    // plan prints every decision and writes nothing.
    let (ok, out, err) = barge(&["plan", job.as_str()]);
    assert!(ok, "{out}\n{err}");
    for want in [
        "table characters → ",
        ".heroes",
        "biography",
        "(dropped)",
        "universe                 integer  (added)",
        "canon                    boolean  (added)",
        "rows where active = 1 AND publisher_id IS NOT NULL",
        "table teams → ",
    ] {
        assert!(out.contains(want), "plan lacks {want:?}:\n{out}");
    }
    assert!(
        db.pg_tables().await.is_empty(),
        "plan must not touch the target"
    );
    assert!(!out.contains("barge-test"), "password in plan output");

    let (ok, out, err) = barge(&["run", job.as_str()]);
    assert!(ok, "{out}\n{err}");
    assert_eq!(db.pg_tables().await, vec!["heroes", "teams"]);
    let mut my = db.mysql().await;
    let want: u64 = my
        .query_first(
            "SELECT COUNT(*) FROM characters WHERE active = 1 AND publisher_id IS NOT NULL",
        )
        .await
        .unwrap()
        .unwrap();
    let pg = db.pg().await;
    let row = pg
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE universe = 616 AND canon), count(*) FILTER (WHERE NOT active) FROM heroes",
            &[],
        )
        .await
        .unwrap();
    let (n, constant, inactive): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert!(want > 30_000, "the filter keeps a real share: {want}");
    assert_eq!((n as u64, constant as u64, inactive), (want, want, 0));
    let biography: i64 = pg
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'heroes' AND column_name = 'biography'",
            &[&db.name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(biography, 0);
    let mut types = db.pg_column_types("heroes").await;
    types.retain(|t| {
        ["id ", "name ", "power_level "]
            .iter()
            .any(|c| t.starts_with(c))
    });
    types.sort();
    assert_eq!(types, ["id integer", "name text", "power_level bigint"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_mistakes_are_caught_before_any_data_moves() {
    let db = TestDb::new("jobbad").await;
    db.load(&[FixtureSet::Legacy]).await;
    let route = format!(
        "[[routes]]\ntables = \"characters\"\nfrom = \"old\"\nto = \"new\"\nschema = \"{}\"\n",
        db.name
    );
    let cases = [
        (
            "[tables.characters]\nrename = { nmae = \"nickname\" }\n",
            "rename names no column `nmae`",
        ),
        (
            "[tables.characters]\nadd = { n = { value = \"x\", type = \"integer\" } }\n",
            "tables.characters.add.n: cannot read this text as integer: Cannot cast string 'x' to value of Int32 type",
        ),
        (
            "[tables.characters]\nadd = { n = { expr = \"concat(name, nam)\" } }\n",
            ": tables.characters.add.n: no column `nam` in the source table (it has: id, name,",
        ),
        (
            "[tables.characters]\nfilter = \"active = = 1\"\n",
            ":13:20: tables.characters.filter: expected a value, found `=`",
        ),
        (
            "[tables.characters]\nfilter = \"name\"\n",
            "tables.characters.filter: a filter is a condition, not a text value",
        ),
        (
            "[tables.characters]\nadd = { n = { expr = \"upper(power_level)\" } }\n",
            "upper() needs text, not integer",
        ),
        (
            "[tables.characters]\nadd = { n = { expr = \"power_level\", type = \"date\" } }\n",
            "cannot convert integer values to date",
        ),
        (
            // Found only while running: the table fails and nothing is left behind.
            "[tables.characters]\nadd = { n = { expr = \"1000 / (power_level - power_level)\" } }\n",
            ":13:23: tables.characters.add.n: division by zero",
        ),
        (
            "[tables.characters]\nadd = { n = { value = 1, type = \"integr\" } }\n",
            "unknown type `integr`",
        ),
        (
            "[tables.characters]\nadd = { name = 1 }\n",
            "added column `name` already exists",
        ),
        (
            "[tables.nope]\ntarget = \"x\"\n",
            "no such table in source database",
        ),
        (
            "[tables.characters]\nfilter = \"no_such_column = 1\"\n",
            "no_such_column",
        ),
        (
            "[tables.characters]\ncolour = \"blue\"\n",
            "unknown field `colour`",
        ),
        (
            "[tables.characters]\ncast = { name = \"integer\" }\n",
            "no binary COPY encoding from Arrow Utf8 to PostgreSQL integer",
        ),
        (
            "[tables.characters]\ncast = { nope = \"integer\" }\n",
            "cast names no column `nope`",
        ),
    ];
    for (tables, want) in cases {
        let job = job_file(&db, &format!("{route}\n{tables}"));
        let (ok, out, err) = barge(&["run", job.as_str()]);
        assert!(!ok, "{tables}: should fail\n{out}");
        // Errors found before the load are on stderr; a table failing during it, in the report.
        let said = format!("{out}{err}");
        assert!(said.contains(want), "{tables}: wanted {want:?} in\n{said}");
        assert!(
            db.pg_tables().await.is_empty(),
            "{tables}: wrote to the target"
        );
    }
    let job = job_file(
        &db,
        &format!("{route}\n[tables.characters]\nrename = {{ name = \"nickname\" \n"),
    );
    let (ok, _, err) = barge(&["plan", job.as_str()]);
    assert!(
        !ok && err.contains(".toml:13:29: unclosed inline table"),
        "{err}"
    );
}

/// A library user's own operator: doubles `power_level` into a new column.
#[derive(Debug)]
struct Double;

impl barge::transform::Transform for Double {
    fn output_schema(
        &self,
        input: &arrow_schema::SchemaRef,
    ) -> barge::Result<arrow_schema::SchemaRef> {
        let mut fields: Vec<arrow_schema::Field> =
            input.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(arrow_schema::Field::new(
            "double_power",
            arrow_schema::DataType::Int64,
            true,
        ));
        Ok(std::sync::Arc::new(arrow_schema::Schema::new(fields)))
    }

    fn apply(&self, batch: arrow_array::RecordBatch) -> barge::Result<arrow_array::RecordBatch> {
        use arrow_array::cast::AsArray;
        let i = batch.schema().index_of("power_level").unwrap();
        let p = batch
            .column(i)
            .as_primitive::<arrow_array::types::Int32Type>();
        let doubled: arrow_array::Int64Array = p.iter().map(|v| v.map(|v| v as i64 * 2)).collect();
        let mut cols = batch.columns().to_vec();
        cols.push(std::sync::Arc::new(doubled));
        arrow_array::RecordBatch::try_new(self.output_schema(&batch.schema())?, cols).map_err(|e| {
            barge::Error::User {
                context: "doubling power_level".into(),
                source: Box::new(e),
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transform_of_the_users_own_runs_in_the_pipeline() {
    let db = TestDb::new("custom").await;
    db.load(&[FixtureSet::Legacy]).await;
    db.generate("characters", 20_000, 9).await;
    let spec = barge::plan::TableSpec {
        rename: vec![("name".into(), "nickname".into())],
        transforms: vec![std::sync::Arc::new(Double)],
        ..Default::default()
    };
    let opts = barge::CopyOptions {
        selection: barge::Selection {
            tables: vec!["characters".into()],
            specs: std::collections::BTreeMap::from([("characters".to_string(), spec)]),
            ..Default::default()
        },
        min_partition_rows: 5_000,
        ..db.options()
    };
    let report = db.copy(&opts).await.unwrap();
    assert!(report.ok(), "{}", report.to_text());
    let pg = db.pg().await;
    let row = pg
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE double_power IS NOT DISTINCT FROM power_level::bigint * 2), \
             count(nickname), format_type(atttypid, atttypmod) \
             FROM characters, pg_attribute WHERE attrelid = 'characters'::regclass AND attname = 'double_power' \
             GROUP BY 4",
            &[],
        )
        .await
        .unwrap();
    let (n, ok, named, ty): (i64, i64, i64, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(
        (n, ok, named, ty.as_str()),
        (20_000, 20_000, 20_000, "bigint")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_infers_relationships_and_emits_a_job_that_runs_unchanged() {
    let db = TestDb::new("inspect").await;
    db.load(&[FixtureSet::Legacy]).await;
    let mut my = db.mysql().await;
    my.query_drop(
        "CREATE TABLE people (id int PRIMARY KEY);
         CREATE TABLE categories (id int PRIMARY KEY);
         CREATE TABLE statuses (id int PRIMARY KEY);
         CREATE TABLE articles (id int PRIMARY KEY, person_id int, category_id int, status_id int,
                                legacy_ref_id int, owner_type varchar(20), owner_id int);
         CREATE TABLE eggs (id int PRIMARY KEY, chicken_id int);
         CREATE TABLE chickens (id int PRIMARY KEY, egg_id int);
         INSERT INTO people VALUES (1); INSERT INTO articles VALUES (1, 1, NULL, NULL, 5, 'people', 1);",
    )
    .await
    .unwrap();
    let (ok, out, err) = common::barge(&["inspect", &db.source(), "--json"]);
    assert!(ok, "{err}");
    assert!(!out.contains("barge-test"), "password in inspect output");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rels: Vec<(String, String, String, String)> = v["relationships"]["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("table"), s("column"), s("ref_table"), s("origin"))
        })
        .collect();
    for want in [
        ("articles", "person_id", "people", "inferred"),
        ("articles", "category_id", "categories", "inferred"),
        ("articles", "status_id", "statuses", "inferred"),
        ("characters", "publisher_id", "publishers", "inferred"),
        ("teams", "parent_id", "teams", "inferred"),
        (
            "publisher_addresses",
            "publisher_id",
            "publishers",
            "declared",
        ),
        ("eggs", "chicken_id", "chickens", "inferred"),
        ("chickens", "egg_id", "eggs", "inferred"),
    ] {
        let want = (
            want.0.to_string(),
            want.1.to_string(),
            want.2.to_string(),
            want.3.to_string(),
        );
        assert!(rels.contains(&want), "missing {want:?} in {rels:?}");
    }
    let unresolved = v["relationships"]["unresolved"].to_string();
    assert!(unresolved.contains("legacy_ref_id"), "{unresolved}");
    let polymorphic = v["relationships"]["polymorphic"].to_string();
    assert!(
        polymorphic.contains("owner") && polymorphic.contains("auditable"),
        "{polymorphic}"
    );
    assert!(
        !rels.iter().any(|r| r.1 == "owner_id"),
        "polymorphic keys are not forced"
    );
    let order: Vec<&str> = v["load_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let pos = |t: &str| order.iter().position(|o| *o == t).unwrap();
    assert!(
        pos("people") < pos("articles")
            && pos("publishers") < pos("characters")
            && pos("characters") < pos("posts")
    );
    assert!(
        order.contains(&"eggs") && order.contains(&"chickens"),
        "the cycle is broken, not dropped"
    );

    // The emitted job runs as written (passwords from the environment it names).
    let path = std::env::temp_dir().join(format!("{}-emitted.toml", db.name));
    let (ok, _, err) = common::barge(&[
        "inspect",
        &db.source(),
        "--emit-job",
        path.to_str().unwrap(),
        "--to",
        &db.target(),
        "--schema",
        &db.name,
    ]);
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("barge-test"),
        "the job file must not hold a password:\n{text}"
    );
    let (ok, out, err) = common::barge_with_env(
        &["run", path.to_str().unwrap()],
        &[
            ("BARGE_OLD_PASSWORD", "barge-test"),
            ("BARGE_NEW_PASSWORD", "barge-test"),
        ],
    );
    let _ = std::fs::remove_file(&path);
    assert!(ok, "{out}\n{err}");
    assert_eq!(db.pg_tables().await.len(), 18);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relationships_can_be_confirmed_added_and_rejected() {
    let db = TestDb::new("rels").await;
    db.load(&[FixtureSet::Legacy]).await;
    let mut my = db.mysql().await;
    my.query_drop("CREATE TABLE sidekicks (id int PRIMARY KEY, hero bigint); INSERT INTO sidekicks VALUES (1, 1), (2, 3);")
        .await
        .unwrap();
    let route = format!(
        "[[routes]]\ntables = [\"publishers\", \"characters\", \"teams\", \"order\", \"LineItems\", \"sidekicks\"]\nfrom = \"old\"\nto = \"new\"\nschema = \"{}\"\nmode = \"drop\"\n",
        db.name
    );
    let rules = r#"
[relationships]
confirm = ["characters.publisher_id", "LineItems.order_id"]
add = ["sidekicks.hero -> characters.id"]
reject = ["teams.parent_id"]
"#;
    let job = job_file(&db, &format!("{route}{rules}"));
    let (ok, out, err) = barge(&["run", job.as_str()]);
    assert!(ok, "{out}\n{err}");
    let pg = db.pg().await;
    let mut fks: Vec<String> = pg
        .query(
            "SELECT conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' AND connamespace = $1::text::regnamespace",
            &[&db.name],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    fks.sort();
    assert_eq!(
        fks,
        vec![
            "fk_LineItems_order_id: FOREIGN KEY (order_id) REFERENCES \"order\"(id)",
            "fk_characters_publisher_id: FOREIGN KEY (publisher_id) REFERENCES publishers(id)",
            "fk_sidekicks_hero: FOREIGN KEY (hero) REFERENCES characters(id)",
        ]
    );

    // An orphan: the relationship cannot be enforced, and the run says so.
    my.query_drop("INSERT INTO sidekicks VALUES (3, 999)")
        .await
        .unwrap();
    let (ok, out, _) = barge(&["run", job.as_str()]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("fk_sidekicks_hero") && out.contains("violates foreign key constraint"),
        "{out}"
    );

    // Only inferred relationships can be confirmed or rejected.
    let job = job_file(
        &db,
        &format!("{route}\n[relationships]\nconfirm = [\"characters.name\"]\n"),
    );
    let (ok, _, err) = barge(&["run", job.as_str()]);
    assert!(
        !ok && err.contains("characters.name is not an inferred relationship"),
        "{err}"
    );
}

/// New keys along a chain (publishers → characters → posts, characters itself getting new
/// keys too), a self-reference on a table with new keys (teams.parent_id), a child of two
/// remapped parents (memberships), and a remap cycle refused at plan time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_keys_chain_through_children_and_self_references() {
    let db = TestDb::new("rechain").await;
    db.load(&[FixtureSet::Legacy]).await;
    let job = |mode: &str| {
        job_file(
            &db,
            &format!(
                r#"
[[routes]]
tables = ["publishers", "characters", "posts", "teams", "memberships"]
from = "old"
to = "new"
schema = "{}"
mode = "{mode}"

[tables.publishers]
new_keys = true
[tables.characters]
new_keys = true
[tables.teams]
new_keys = true
"#,
                db.name
            ),
        )
    };
    let (ok, out, err) = barge(&["run", job("schema-only").as_str()]);
    assert!(ok, "{out}\n{err}");
    // The target already holds rows, so every old row gets a new key.
    let pg = db.pg().await;
    let s = &db.name;
    pg.batch_execute(&format!(
        "INSERT INTO \"{s}\".publishers (name, created_at, updated_at) VALUES ('Image', now(), now()), ('Valiant', now(), now());
         INSERT INTO \"{s}\".characters (name, active, created_at, updated_at) SELECT 'Existing ' || g, true, now(), now() FROM generate_series(1, 25) g;
         INSERT INTO \"{s}\".teams (name, created_at, updated_at) VALUES ('X-Force', now(), now()), ('Defenders', now(), now()), ('Titans', now(), now());"
    ))
    .await
    .unwrap();
    let (ok, out, err) = barge(&["run", job("data-only").as_str()]);
    assert!(ok, "{out}\n{err}");

    // Every relationship, by names, as in the source.
    let pairs = [
        (
            "SELECT c.name, p.name FROM characters c JOIN publishers p ON p.id = c.publisher_id",
            "SELECT c.name, p.name FROM \"{s}\".characters c JOIN \"{s}\".publishers p ON p.id = c.publisher_id",
        ),
        (
            "SELECT p.title, c.name FROM posts p JOIN characters c ON c.id = p.character_id",
            "SELECT p.title, c.name FROM \"{s}\".posts p JOIN \"{s}\".characters c ON c.id = p.character_id",
        ),
        (
            "SELECT t.name, p.name FROM teams t JOIN teams p ON p.id = t.parent_id",
            "SELECT t.name, p.name FROM \"{s}\".teams t JOIN \"{s}\".teams p ON p.id = t.parent_id",
        ),
        (
            "SELECT t.name, concat(c.name, '/', coalesce(m.role, '-')) FROM memberships m JOIN teams t ON t.id = m.team_id JOIN characters c ON c.id = m.character_id",
            "SELECT t.name, concat(c.name, '/', coalesce(m.role, '-')) FROM \"{s}\".memberships m JOIN \"{s}\".teams t ON t.id = m.team_id JOIN \"{s}\".characters c ON c.id = m.character_id",
        ),
    ];
    let mut my = db.mysql().await;
    for (mysql, postgres) in pairs {
        let mut want: Vec<(String, String)> = my.query(mysql).await.unwrap();
        want.sort();
        let mut got: Vec<(String, String)> = pg
            .query(&postgres.replace("{s}", s), &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        got.sort();
        assert!(!want.is_empty(), "{mysql}");
        assert_eq!(got, want, "{postgres}");
    }
    // New keys come after what the target held, in old-key order.
    let ids: Vec<(i64, String)> = pg
        .query(
            &format!("SELECT id, name FROM \"{s}\".characters WHERE id > 25 ORDER BY id"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut old: Vec<(i64, String)> = my
        .query("SELECT id, name FROM characters ORDER BY id")
        .await
        .unwrap();
    for (k, (_, name)) in old.iter_mut().enumerate() {
        assert_eq!(ids[k], (26 + k as i64, name.clone()));
    }
    assert_eq!(ids.len(), old.len());

    // Two tables with new keys that reference each other cannot be ordered: said before
    // anything moves.
    my.query_drop(
        "CREATE TABLE left_sides (id bigint PRIMARY KEY, right_side_id bigint);
         CREATE TABLE right_sides (id bigint PRIMARY KEY, left_side_id bigint);",
    )
    .await
    .unwrap();
    let cycle = job_file(
        &db,
        &format!(
            "[[routes]]\ntables = \"*_sides\"\nfrom = \"old\"\nto = \"new\"\nschema = \"{s}_cycle\"\n\n[tables.left_sides]\nnew_keys = true\n[tables.right_sides]\nnew_keys = true\n"
        ),
    );
    for cmd in ["plan", "run"] {
        let (ok, out, err) = barge(&[cmd, cycle.as_str()]);
        assert!(!ok, "{out}");
        assert!(
            err.contains("key remapping cycle: left_sides.right_side_id → right_sides, right_sides.left_side_id → left_sides"),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_keys_remap_children_with_orphan_policies() {
    let db = TestDb::new("remap").await;
    db.load(&[FixtureSet::Legacy]).await;
    let mut my = db.mysql().await;
    // An orphan, as Rails data without constraints has them.
    my.query_drop("INSERT INTO characters (id, name, publisher_id, active, created_at, updated_at) VALUES (11, 'Lost Soul', 999, 1, NOW(6), NOW(6))")
        .await
        .unwrap();
    let rejects = std::env::temp_dir().join(format!("{}-rejects", db.name));
    let job = |schema: &str, mode: &str, policy: &str| {
        job_file(
            &db,
            &format!(
                r#"
[[routes]]
tables = ["publishers", "characters"]
from = "old"
to = "new"
schema = "{schema}"
mode = "{mode}"
reject_dir = "{}"

[tables.publishers]
new_keys = true

[tables.characters]
orphans = {{ publisher_id = "{policy}" }}
"#,
                rejects.display()
            ),
        )
    };
    let pg = db.pg().await;
    let source_pairs = {
        let mut v: Vec<(i64, String)> = my
            .query(
                "SELECT c.id, p.name FROM characters c JOIN publishers p ON p.id = c.publisher_id",
            )
            .await
            .unwrap();
        v.sort();
        v
    };
    let target_pairs = |schema: String| {
        let pg = &pg;
        async move {
            let mut v: Vec<(i64, String)> = pg
                .query(
                    &format!("SELECT c.id, p.name FROM \"{schema}\".characters c JOIN \"{schema}\".publishers p ON p.id = c.publisher_id"),
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            v.sort();
            v
        }
    };

    // The new publishers table already holds rows: the old ones get new ids after them.
    let a = format!("{}_a", db.name);
    let schema_only = job(&a, "schema-only", "skip");
    let (ok, out, err) = barge(&["run", schema_only.as_str()]);
    assert!(ok, "{out}\n{err}");
    pg.batch_execute(&format!(
        "INSERT INTO \"{a}\".publishers (name, created_at, updated_at) VALUES ('Image', now(), now()), ('Valiant', now(), now()), ('Boom', now(), now())"
    ))
    .await
    .unwrap();
    let merge = job(&a, "data-only", "skip");
    // Done, with rows left out on purpose: exit status 3.
    let (code, out, err) = common::barge_exit(&["run", merge.as_str()], &[]);
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(
        out.contains("characters.publisher_id: 1 orphan row(s)"),
        "{out}"
    );
    let ids: Vec<(i32, String)> = pg
        .query(
            &format!("SELECT id, name FROM \"{a}\".publishers ORDER BY id"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        ids.iter()
            .map(|(i, n)| format!("{i}:{n}"))
            .collect::<Vec<_>>(),
        [
            "1:Image",
            "2:Valiant",
            "3:Boom",
            "4:Marvel",
            "5:DC Comics",
            "6:Dark Horse"
        ]
    );
    assert_eq!(
        target_pairs(a.clone()).await,
        source_pairs,
        "every relationship follows the new keys"
    );
    let n: i64 = pg
        .query_one(&format!("SELECT count(*) FROM \"{a}\".characters"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 10, "the orphan was skipped");
    let reject = std::fs::read_to_string(rejects.join("characters.csv")).unwrap();
    assert!(
        reject.contains("Lost Soul") && reject.contains("no publishers row for publisher_id"),
        "{reject}"
    );
    let next: i32 = pg
        .query_one(&format!("INSERT INTO \"{a}\".publishers (name, created_at, updated_at) VALUES ('Next', now(), now()) RETURNING id"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(next, 7, "the sequence moved past the new keys");

    // null: the orphan loads with no publisher; create mode renumbers from 1.
    let b = format!("{}_b", db.name);
    let (ok, out, err) = barge(&["run", job(&b, "create", "null").as_str()]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("characters.publisher_id: 1 orphan row(s) (no parent row) loaded with NULL"),
        "{out}"
    );
    let orphan: Option<i64> = pg
        .query_one(
            &format!("SELECT publisher_id FROM \"{b}\".characters WHERE id = 11"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(orphan, None);
    assert_eq!(target_pairs(b).await, source_pairs);

    // error (the default): the child does not load, and says why.
    let c = format!("{}_c", db.name);
    let (ok, out, _) = barge(&["run", job(&c, "create", "error").as_str()]);
    assert!(!ok);
    assert!(
        out.contains("publisher_id 999 has no row in publishers; set orphans.publisher_id"),
        "{out}"
    );
    let tables: Vec<String> = pg
        .query(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1",
            &[&c],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // The key map stays with the run's ledger, so a rerun remaps characters the same way.
    assert_eq!(
        tables,
        ["_barge_keymap_publishers", "publishers"],
        "no characters table, no staging left"
    );
    let _ = std::fs::remove_dir_all(&rejects);
}
