//! TLS against the test servers, which `scripts/services` starts with a CA of its own: the
//! users `barge_tls` (TLS only) and `barge_cert` (client certificate only) cannot connect any
//! other way, so a load that works proves the session was encrypted and checked as asked.

mod common;

use common::{barge_exit, TestDb};
use mysql_async::prelude::Queryable;
use std::path::PathBuf;

/// The CA and client certificate `scripts/services` made; None (test skipped) only when the
/// tests run against servers named from outside, which have no such material.
fn tls_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BARGE_TLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/barge-services/tls"));
    if dir.join("ca.pem").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").is_err(),
        "no TLS material in {}: start the servers with scripts/services",
        dir.display()
    );
    eprintln!(
        "skipped: no TLS material in {} (servers not started by scripts/services)",
        dir.display()
    );
    None
}

fn port(url: &str, default: u16) -> u16 {
    url::Url::parse(url).unwrap().port().unwrap_or(default)
}

struct Urls {
    dir: PathBuf,
    my_port: u16,
    pg_port: u16,
    db: String,
}

impl Urls {
    fn file(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// A MySQL URL for `user` at `host` with these query settings.
    fn mysql(&self, user: &str, host: &str, query: &str) -> String {
        let pw = if user == "barge_cert" {
            ""
        } else {
            ":barge-test"
        };
        format!(
            "mysql://{user}{pw}@{host}:{}/{}?{query}",
            self.my_port, self.db
        )
    }

    fn pg(&self, user: &str, host: &str, query: &str) -> String {
        let pw = if user == "barge_cert" {
            ""
        } else {
            ":barge-test"
        };
        format!(
            "postgres://{user}{pw}@{host}:{}/barge?{query}",
            self.pg_port
        )
    }
}

async fn setup(tag: &str) -> Option<(TestDb, Urls)> {
    let dir = tls_dir()?;
    let db = TestDb::new(tag).await;
    let mut my = db.mysql().await;
    my.query_drop(
        "CREATE TABLE t (id int PRIMARY KEY, v varchar(20), b blob);
         INSERT INTO t SELECT seq, concat('row ', seq), unhex(md5(seq)) FROM seq_1_to_500",
    )
    .await
    .unwrap();
    // The schema belongs to barge, so the test's cleanup can drop it.
    db.pg()
        .await
        .batch_execute(&format!("CREATE SCHEMA \"{}\"", db.name))
        .await
        .unwrap();
    let urls = Urls {
        dir,
        my_port: port(&db.mysql_server, 3306),
        pg_port: port(&db.pg_server, 5432),
        db: db.name.clone(),
    };
    Some((db, urls))
}

/// A HOME with nothing in it, so no ~/.postgresql or ~/.my.cnf decides anything.
fn bare_home(db: &TestDb) -> Vec<(&'static str, String)> {
    let home = std::env::temp_dir().join(format!("{}-home", db.name));
    std::fs::create_dir_all(&home).unwrap();
    let mut env = vec![("HOME", home.display().to_string())];
    for var in [
        "PGSSLMODE",
        "PGSSLROOTCERT",
        "PGSSLCERT",
        "PGSSLKEY",
        "PGPASSWORD",
        "MYSQL_PWD",
    ] {
        env.push((var, String::new()));
    }
    env
}

fn run(args: &[&str], env: &[(&'static str, String)]) -> (i32, String, String) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    barge_exit(args, &env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_tls_and_client_certificates_on_both_servers() {
    let Some((db, u)) = setup("tls_ok").await else {
        return;
    };
    let env = bare_home(&db);
    let ca = u.file("ca.pem");
    // MySQL → PostgreSQL as the TLS-only users, every certificate checked for its host.
    let from = u.mysql(
        "barge_tls",
        "localhost",
        &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
    );
    let to = u.pg(
        "barge_tls",
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let (code, out, err) = run(
        &["copy", "--from", &from, "--to", &to, "--schema", &db.name],
        &env,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let pg = db.pg().await;
    let row = pg
        .query_one("SELECT count(*), sum(id), count(DISTINCT b) FROM t", &[])
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2)
        ),
        (500, 125_250, 500)
    );

    // And back, PostgreSQL → MySQL, as the users that log in by client certificate only;
    // verify-ca and VERIFY_CA at 127.0.0.1, a name the certificate does not have.
    let (cert, key) = (u.file("client.pem"), u.file("client.key"));
    let from = format!(
        "{}&schema={}",
        u.pg(
            "barge_cert",
            "127.0.0.1",
            &format!("sslmode=verify-ca&sslrootcert={ca}&sslcert={cert}&sslkey={key}"),
        ),
        db.name
    );
    let back = format!("{}_back", db.name);
    db.mysql()
        .await
        .query_drop(format!("CREATE DATABASE `{back}`"))
        .await
        .unwrap();
    let to = u
        .mysql(
            "barge_cert",
            "127.0.0.1",
            &format!("ssl-mode=VERIFY_CA&ssl-ca={ca}&ssl-cert={cert}&ssl-key={key}"),
        )
        .replace(&format!("/{}?", db.name), &format!("/{back}?"));
    let (code, out, err) = run(&["copy", "--from", &from, "--to", &to], &env);
    let mut my = db.mysql().await;
    let back_rows: Option<(i64, i64)> = my
        .query_first(format!("SELECT count(*), sum(id) FROM `{back}`.t"))
        .await
        .unwrap();
    my.query_drop(format!("DROP DATABASE `{back}`"))
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(back_rows, Some((500, 125_250)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_a_wrong_host_or_no_tls_is_refused_with_a_clear_error() {
    let Some((db, u)) = setup("tls_bad").await else {
        return;
    };
    let env = bare_home(&db);
    let (ca, other) = (u.file("ca.pem"), u.file("other-ca.pem"));
    let good_from = u.mysql(
        "barge_tls",
        "localhost",
        &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
    );
    let good_to = u.pg(
        "barge_tls",
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let copy = |from: &str, to: &str| {
        run(
            &["copy", "--from", from, "--to", to, "--schema", &db.name],
            &env,
        )
    };
    let refused = |(code, out, err): (i32, String, String), side: &str, words: &[&str]| {
        assert_eq!(
            code, 4,
            "exit 4 (could not connect) expected:\n{out}\n{err}"
        );
        assert!(err.contains(&format!("{side} server")), "{err}");
        for w in words {
            assert!(err.contains(w), "`{w}` not in:\n{err}");
        }
        assert!(
            !err.contains("barge-test"),
            "a password was printed:\n{err}"
        );
    };

    // PostgreSQL: a CA that did not sign the server's certificate.
    let to = u.pg(
        "barge_tls",
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={other}"),
    );
    refused(
        copy(&good_from, &to),
        "target",
        &[
            "not signed by a certificate authority",
            &format!("sslrootcert={other}"),
        ],
    );
    // PostgreSQL: a host name the certificate is not for; verify-ca is offered.
    let to = u.pg(
        "barge_tls",
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    refused(
        copy(&good_from, &to),
        "target",
        &[
            "not made for the host name `127.0.0.1`",
            "sslmode=verify-ca",
        ],
    );
    // PostgreSQL: the TLS-only user without TLS.
    let to = u.pg("barge_tls", "localhost", "sslmode=disable");
    refused(copy(&good_from, &to), "target", &["no encryption"]);

    // MySQL: the same three.
    let from = u.mysql(
        "barge_tls",
        "localhost",
        &format!("ssl-mode=VERIFY_CA&ssl-ca={other}"),
    );
    refused(
        copy(&from, &good_to),
        "source",
        &[
            "not signed by a certificate authority",
            &format!("ssl-ca={other}"),
        ],
    );
    let from = u.mysql(
        "barge_tls",
        "127.0.0.1",
        &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
    );
    refused(
        copy(&from, &good_to),
        "source",
        &[
            "not made for the host name `127.0.0.1`",
            "ssl-mode=VERIFY_CA",
        ],
    );
    let from = u.mysql("barge_tls", "localhost", "ssl-mode=DISABLED");
    refused(copy(&from, &good_to), "source", &["Access denied"]);

    // Settings that cannot work are refused before any connection: exit 2.
    for (from, to, words) in [
        (
            good_from.clone(),
            u.pg("barge_tls", "localhost", "sslmode=strict"),
            "sslmode=strict is not one of",
        ),
        (
            good_from.clone(),
            u.pg("barge_tls", "localhost", "sslmode=verify-full"),
            "sslrootcert=system",
        ),
        (
            u.mysql(
                "barge_tls",
                "localhost",
                "ssl-mode=VERIFY_CA&ssl-ca=/no/such/ca.pem",
            ),
            good_to.clone(),
            "/no/such/ca.pem does not exist",
        ),
    ] {
        let (code, out, err) = copy(&from, &to);
        assert_eq!(code, 2, "{out}\n{err}");
        assert!(err.contains(words), "`{words}` not in:\n{err}");
    }
    assert_eq!(db.table_count(&db.name).await, 0, "nothing was loaded");

    // The same copy with the right settings works, so the refusals above were the settings'.
    let (code, out, err) = copy(&good_from, &good_to);
    assert_eq!(code, 0, "{out}\n{err}");
    // REQUIRED with a CA checks the chain only, as VERIFY_CA: 127.0.0.1 is fine.
    let from = u.mysql(
        "barge_tls",
        "127.0.0.1",
        &format!("ssl-mode=REQUIRED&ssl-ca={ca}"),
    );
    let (code, out, err) = run(
        &[
            "verify", "--from", &from, "--to", &good_to, "--schema", &db.name,
        ],
        &env,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("equal"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_that_says_nothing_prefers_tls() {
    let Some((db, _)) = setup("tls_prefer").await else {
        return;
    };
    // barge's own connection, as the library opens it, to a server that offers TLS.
    let url = barge::url::DbUrl::parse(&db.target()).unwrap();
    assert_eq!(url.tls().mode, barge::url::tls::TlsMode::Prefer);
    let client = barge::engine::postgres::connect::pg_connect(&url, barge::error::Side::Target)
        .await
        .unwrap();
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        ssl,
        "a URL without sslmode connects with TLS when the server offers it"
    );
    // And the TLS-only MySQL user works without any ssl-mode.
    let u = url::Url::parse(&db.source()).unwrap();
    let from = format!(
        "mysql://barge_tls:barge-test@{}:{}/{}",
        u.host_str().unwrap(),
        u.port().unwrap_or(3306),
        db.name
    );
    let (code, out, err) = run(
        &[
            "copy",
            "--from",
            &from,
            "--to",
            &db.target(),
            "--schema",
            &db.name,
        ],
        &bare_home(&db),
    );
    assert_eq!(code, 0, "{out}\n{err}");
}
