//! The integration-test harness: real MariaDB and PostgreSQL servers (started by
//! `scripts/services`), one uniquely named MySQL database and PostgreSQL schema per test,
//! dropped afterwards. An unreachable server fails the test with a message that says which
//! server and how to start it; nothing is skipped.
#![allow(dead_code)]

mod identical;
#[allow(unused_imports)]
pub use identical::assert_table_identical;

use barge::fixtures::FixtureSet;
use barge::DbUrl;
use mysql_async::prelude::Queryable;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The URLs `scripts/services` prints; used when the environment does not name servers.
const DEFAULT_MYSQL: &str = "mysql://barge:barge-test@127.0.0.1:33306/";
const DEFAULT_PG: &str = "postgres://barge:barge-test@127.0.0.1:54329/barge";

pub fn mysql_server_url() -> String {
    std::env::var("BARGE_MYSQL_URL").unwrap_or_else(|_| DEFAULT_MYSQL.into())
}

pub fn pg_server_url() -> String {
    std::env::var("BARGE_PG_URL").unwrap_or_else(|_| DEFAULT_PG.into())
}

const HOW_TO_START: &str =
    "start the test servers with `scripts/services` (or run the whole suite with `scripts/test`), \
     or point BARGE_MYSQL_URL / BARGE_PG_URL at running servers";

/// Connect to the MySQL/MariaDB test server or explain why not.
pub async fn connect_mysql(url: &str) -> Result<mysql_async::Conn, String> {
    let shown = barge::url::redact(url);
    let opts =
        mysql_async::Opts::from_url(url).map_err(|e| format!("bad MySQL test URL {shown}: {e}"))?;
    match tokio::time::timeout(
        std::time::Duration::from_secs(10),
        mysql_async::Conn::new(opts),
    )
    .await
    {
        Ok(Ok(mut c)) => {
            c.query_drop("SET NAMES utf8mb4, time_zone = '+00:00'")
                .await
                .map_err(|e| format!("MariaDB test server {shown}: {e}"))?;
            Ok(c)
        }
        Ok(Err(e)) => Err(format!(
            "MariaDB test server at {shown} is not reachable ({}); {HOW_TO_START}",
            barge::url::redact(&e.to_string())
        )),
        Err(_) => Err(format!(
            "MariaDB test server at {shown} did not answer within 10 s; {HOW_TO_START}"
        )),
    }
}

/// Connect to the PostgreSQL test server or explain why not.
pub async fn connect_pg(url: &str) -> Result<tokio_postgres::Client, String> {
    let shown = barge::url::redact(url);
    match tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio_postgres::connect(url, tokio_postgres::NoTls),
    )
    .await
    {
        Ok(Ok((client, conn))) => {
            tokio::spawn(conn);
            Ok(client)
        }
        Ok(Err(e)) => Err(format!(
            "PostgreSQL test server at {shown} is not reachable ({}); {HOW_TO_START}",
            barge::url::redact(&barge::error::pg_message(&e))
        )),
        Err(_) => Err(format!(
            "PostgreSQL test server at {shown} did not answer within 10 s; {HOW_TO_START}"
        )),
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A MySQL database and a PostgreSQL schema of the same unique name, for one test.
pub struct TestDb {
    pub name: String,
    pub mysql_server: String,
    pub pg_server: String,
}

impl TestDb {
    pub async fn new(tag: &str) -> TestDb {
        Self::with_servers(tag, &mysql_server_url(), &pg_server_url()).await
    }

    /// Panics (fails the test) with a message naming the server when one is unreachable.
    pub async fn with_servers(tag: &str, mysql_server: &str, pg_server: &str) -> TestDb {
        let name = format!(
            "t_{}_{}_{}",
            tag.to_ascii_lowercase(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let db = TestDb {
            name,
            mysql_server: mysql_server.to_string(),
            pg_server: pg_server.to_string(),
        };
        let mut my = connect_mysql(&db.mysql_server)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        my.query_drop(format!(
            "CREATE DATABASE `{}` CHARACTER SET utf8mb4",
            db.name
        ))
        .await
        .unwrap();
        connect_pg(&db.pg_server)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        db
    }

    /// The source URL: the MySQL server with this test's database.
    pub fn source(&self) -> String {
        format!(
            "{}{}",
            self.mysql_server.trim_end_matches('/').to_string() + "/",
            self.name
        )
    }

    pub fn target(&self) -> String {
        self.pg_server.clone()
    }

    pub async fn load(&self, sets: &[FixtureSet]) {
        let url = DbUrl::parse(&self.mysql_server).unwrap();
        barge::fixtures::load(&url, &self.name, sets).await.unwrap();
    }

    pub async fn generate(&self, table: &str, rows: u64, seed: u64) {
        let url = DbUrl::parse(&self.mysql_server).unwrap();
        barge::fixtures::generate(&url, &self.name, table, rows, seed)
            .await
            .unwrap();
    }

    pub async fn mysql(&self) -> mysql_async::Conn {
        let mut c = connect_mysql(&self.mysql_server)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        c.query_drop(format!("USE `{}`", self.name)).await.unwrap();
        c
    }

    pub async fn pg(&self) -> tokio_postgres::Client {
        let c = connect_pg(&self.pg_server)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        c.batch_execute(&format!("SET search_path TO \"{}\"", self.name))
            .await
            .unwrap();
        c
    }

    pub fn options(&self) -> barge::CopyOptions {
        barge::CopyOptions {
            schema: self.name.clone(),
            jobs: 3,
            ..Default::default()
        }
    }

    pub async fn copy(&self, opts: &barge::CopyOptions) -> barge::Result<barge::Report> {
        barge::copy(
            &DbUrl::parse(&self.source()).unwrap(),
            &DbUrl::parse(&self.target()).unwrap(),
            opts,
        )
        .await
    }

    /// Run `barge copy` from this test's database into PostgreSQL schema `schema`, with
    /// `extra` arguments; returns (exit status, stdout, stderr).
    pub fn copy_cli(&self, schema: &str, extra: &[&str]) -> (i32, String, String) {
        let (from, to) = (self.source(), self.target());
        let mut args = vec!["copy", "--from", &from, "--to", &to, "--schema", schema];
        args.extend_from_slice(extra);
        barge_exit(&args, &[])
    }

    /// How many tables PostgreSQL schema `schema` holds.
    pub async fn table_count(&self, schema: &str) -> i64 {
        self.pg()
            .await
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = $1",
                &[&schema],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// Tables in this test's PostgreSQL schema.
    /// `column type` of a target table's columns, in order (information_schema's names).
    pub async fn pg_column_types(&self, table: &str) -> Vec<String> {
        self.pg()
            .await
            .query(
                "SELECT column_name::text || ' ' || data_type::text FROM information_schema.columns \
                 WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                &[&self.name, &table],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    pub async fn pg_tables(&self) -> Vec<String> {
        let c = self.pg().await;
        c.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1",
            &[&self.name],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs outside async context (and also after a panic): clean up on a thread
        // with its own runtime.
        let (name, my, pg) = (
            self.name.clone(),
            self.mysql_server.clone(),
            self.pg_server.clone(),
        );
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut c) = connect_mysql(&my).await {
                    let _ = c
                        .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                        .await;
                    // And the `<name>_*` databases it copied into.
                    let more: Vec<String> = c
                        .query(format!(
                            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA \
                             WHERE SCHEMA_NAME LIKE '{name}\\_%'"
                        ))
                        .await
                        .unwrap_or_default();
                    for d in more {
                        let _ = c.query_drop(format!("DROP DATABASE IF EXISTS `{d}`")).await;
                    }
                }
                // The test's schema and any `<name>_*` schemas it made (bench strategies).
                if let Ok(c) = connect_pg(&pg).await {
                    let _ = c
                        .batch_execute(&format!(
                            "DO $$ DECLARE s name; BEGIN \
                             FOR s IN SELECT nspname FROM pg_namespace \
                                      WHERE nspname = '{name}' OR nspname LIKE '{name}\\_%' LOOP \
                               EXECUTE format('DROP SCHEMA %I CASCADE', s); \
                             END LOOP; END $$"
                        ))
                        .await;
                    // Runs the test left in the shared ledger (tables that failed on purpose).
                    let _ = c
                        .batch_execute(&format!(
                            "DELETE FROM _barge.runs WHERE run LIKE '%{name}%'"
                        ))
                        .await;
                }
            })
        })
        .join();
    }
}

/// Run the barge binary; returns (exit success, stdout, stderr).
/// The first column of every row `sql` returns.
pub async fn first_column<T>(pg: &tokio_postgres::Client, sql: &str) -> Vec<T>
where
    T: for<'a> tokio_postgres::types::FromSql<'a>,
{
    pg.query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

pub fn barge(args: &[&str]) -> (bool, String, String) {
    barge_with_env(args, &[])
}

pub fn barge_with_env(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let (code, out, err) = barge_exit(args, env);
    (code == 0, out, err)
}

/// Run the barge binary; returns (exit status, stdout, stderr).
pub fn barge_exit(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_barge"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("BARGE_FROM")
        .env_remove("BARGE_TO")
        .output()
        .expect("run barge");
    (
        out.status.code().expect("barge exited, not killed"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
