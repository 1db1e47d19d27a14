//! Credentials where each ecosystem keeps them, so none is on the command line: ~/.pgpass,
//! a PostgreSQL service file, ~/.my.cnf's [client] group and --defaults-file, and a job
//! file's password_env that is not set.

mod common;

use common::{barge_exit, TestDb};
use mysql_async::prelude::Queryable;

/// The environment of a user with nothing set up but the HOME given.
fn clean_env(home: &std::path::Path) -> Vec<(&'static str, String)> {
    let mut env = vec![("HOME", home.display().to_string())];
    for var in [
        "PGPASSWORD",
        "PGPASSFILE",
        "PGSERVICE",
        "PGSERVICEFILE",
        "PGSYSCONFDIR",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "MYSQL_PWD",
        "BARGE_MYSQL_DEFAULTS_FILE",
    ] {
        env.push((var, String::new()));
    }
    env
}

fn write_private(path: &std::path::Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_come_from_pgpass_service_files_and_my_cnf() {
    let db = TestDb::new("creds").await;
    let mut my = db.mysql().await;
    my.query_drop("CREATE TABLE t (id int PRIMARY KEY, v varchar(10)); INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        .await
        .unwrap();
    let home = std::env::temp_dir().join(format!("{}-home", db.name));
    std::fs::create_dir_all(&home).unwrap();
    let password = "barge-test";
    let bare = |url: &str| url.replacen(&format!(":{password}@"), "@", 1);
    let (from, to) = (bare(&db.source()), bare(&db.target()));
    assert!(!from.contains(password) && !to.contains(password));
    let pg = url::Url::parse(&to).unwrap();
    let (host, port) = (
        pg.host_str().unwrap().to_string(),
        pg.port().unwrap_or(5432),
    );
    let env = clean_env(&home);
    let run = |to: &str, schema: &str, extra: &[&str], env: &[(&str, String)]| {
        let mut args = vec!["copy", "--from", &from, "--to", to, "--schema", schema];
        args.extend_from_slice(extra);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        barge_exit(&args, &env)
    };
    let schema = |tag: &str| format!("{}_{tag}", db.name);

    // Nothing set up: the servers refuse the login (exit 4), and no password is printed.
    let (code, out, err) = run(&to, &schema("none"), &[], &env);
    assert_eq!(code, 4, "{out}{err}");

    // ~/.my.cnf and ~/.pgpass, private as their clients demand.
    write_private(
        &home.join(".my.cnf"),
        &format!("[mysql]\npassword = wrong\n[client]\nuser = barge\npassword = \"{password}\"\n"),
        0o600,
    );
    write_private(
        &home.join(".pgpass"),
        &format!("# barge test\nother:1:*:*:nope\n{host}:{port}:*:barge:{password}\n"),
        0o600,
    );
    let (code, out, err) = run(&to, &schema("files"), &[], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !out.contains(password) && !err.contains(password),
        "{out}{err}"
    );
    let n: i64 = db
        .pg()
        .await
        .query_one(
            &format!("SELECT count(*) FROM \"{}\".t", schema("files")),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);

    // A password file others may read is ignored, as libpq ignores it, and barge says why.
    std::fs::set_permissions(
        home.join(".pgpass"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let (code, _, err) = run(&to, &schema("open"), &[], &env);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains(".pgpass is ignored") && err.contains("chmod 600"),
        "{err}"
    );
    std::fs::set_permissions(
        home.join(".pgpass"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();

    // --defaults-file names another option file (and ~/.my.cnf is then not read).
    let other = home.join("barge.cnf");
    write_private(&other, &format!("[client]\npassword={password}\n"), 0o600);
    write_private(&home.join(".my.cnf"), "[client]\npassword=wrong\n", 0o600);
    let (code, out, err) = run(
        &to,
        &schema("defaults"),
        &["--defaults-file", other.to_str().unwrap()],
        &env,
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run(&to, &schema("wrong"), &[], &env);
    assert_eq!(code, 4, "{err}");

    // A PostgreSQL service: the URL names it, the service file holds the rest.
    std::fs::remove_file(home.join(".pgpass")).unwrap();
    write_private(
        &home.join(".pg_service.conf"),
        &format!(
            "[bargetest]\nhost={host}\nport={port}\nuser=barge\ndbname={}\npassword={password}\n",
            pg.path().trim_start_matches('/')
        ),
        0o600,
    );
    let defaults = ["--defaults-file", other.to_str().unwrap()];
    let (code, out, err) = run(
        "postgres://?service=bargetest",
        &schema("svc"),
        &defaults,
        &env,
    );
    assert_eq!(code, 0, "{out}{err}");
    // Or PGSERVICE, with PGHOST-style variables for what it leaves out.
    let mut with_service = env.clone();
    with_service.retain(|(k, _)| *k != "PGSERVICE");
    with_service.push(("PGSERVICE", "bargetest".into()));
    let (code, out, err) = run("postgres://", &schema("svc_env"), &defaults, &with_service);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run(
        "postgres://?service=nosuch",
        &schema("svc_bad"),
        &defaults,
        &env,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("service `nosuch`"), "{err}");

    // A job file whose password_env is not set falls back to those files.
    write_private(
        &home.join(".pgpass"),
        &format!("{host}:{port}:*:barge:{password}\n"),
        0o600,
    );
    let job = home.join("job.toml");
    std::fs::write(
        &job,
        format!(
            "[connections.old]\nurl = \"{from}\"\npassword_env = \"BARGE_TEST_UNSET_OLD\"\n\
             [connections.new]\nurl = \"{to}\"\npassword_env = \"BARGE_TEST_UNSET_NEW\"\n\
             [[routes]]\ntables = \"*\"\nfrom = \"old\"\nto = \"new\"\nschema = \"{}\"\n",
            schema("job")
        ),
    )
    .unwrap();
    let mut job_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    job_env.push(("BARGE_MYSQL_DEFAULTS_FILE", other.to_str().unwrap()));
    job_env.retain(|(k, v)| *k != "BARGE_MYSQL_DEFAULTS_FILE" || !v.is_empty());
    let (code, out, err) = barge_exit(&["run", job.to_str().unwrap()], &job_env);
    assert_eq!(code, 0, "{out}{err}");
    let _ = std::fs::remove_dir_all(&home);
}
