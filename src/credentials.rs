//! Where each ecosystem keeps connection settings and passwords, so that none has to be on a
//! command line or in a job file:
//! - PostgreSQL, as libpq reads them: `PGPASSWORD`, the password file (`PGPASSFILE`, or
//!   `~/.pgpass`), the connection service file (`service=` in the URL or `PGSERVICE`, looked up
//!   in `PGSERVICEFILE` or `~/.pg_service.conf`, then `PGSYSCONFDIR/pg_service.conf`), and
//!   `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE` for what the URL leaves out.
//! - MySQL/MariaDB, as its clients read them: `MYSQL_PWD`, then the `[client]` group of
//!   `~/.my.cnf` (or of the file `BARGE_MYSQL_DEFAULTS_FILE` names: `barge --defaults-file`).
//!
//! TLS settings come the same way (`sslmode` and its kin from the service file or
//! `PGSSLMODE`…; `ssl-mode`, `ssl-ca`… from `[client]`): see `tls`.
//!
//! What the URL says always wins. The parsers are pure; `fill` applies them to a URL.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The settings of one connection, as far as the URL gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
}

/// One `hostname:port:database:username:password` line of a PostgreSQL password file.
/// `*` matches anything in the first four fields; `\` escapes `:` and `\`.
fn pgpass_fields(line: &str) -> Option<[String; 5]> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut()?.push(chars.next().unwrap_or('\\')),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut()?.push(c),
        }
    }
    fields.try_into().ok()
}

/// The password for `t` in the text of a PostgreSQL password file: the first matching line.
pub fn pgpass_password(text: &str, t: &Target) -> Option<String> {
    let port = t.port.to_string();
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(pgpass_fields)
        .find(|[h, p, d, u, _]| {
            let is = |pattern: &str, value: &str| pattern == "*" || pattern == value;
            is(h, &t.host) && is(p, &port) && is(d, &t.database) && is(u, &t.user)
        })
        .map(|[.., pw]| pw)
}

/// The groups of an INI-style file (`[name]`, then `key=value` lines), as libpq's service
/// file and MySQL's option files are written. Quotes around a value are removed; `#` and
/// `;` start comments. Later keys win.
pub fn ini_groups(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut group = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            group = Some(name.trim().to_string());
            continue;
        }
        let Some(g) = &group else { continue };
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        let value = value.trim();
        let value = ['"', '\'']
            .iter()
            .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
            .unwrap_or(value);
        // MySQL spells options with dashes or underscores alike.
        out.entry(g.clone())
            .or_default()
            .insert(key.trim().replace('-', "_"), value.to_string());
    }
    out
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A credentials file's text, unless others may read it: libpq and the MySQL clients ignore
/// such files, and so does barge, saying why.
fn read_private(path: &Path, what: &str, strict: bool) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        // libpq wants no group/other bits on the password file; MySQL only refuses files
        // that everyone may write.
        let open = if strict {
            mode & 0o077 != 0
        } else {
            mode & 0o002 != 0
        };
        if open {
            tracing::warn!(
                "{what} {} is ignored: its permissions ({:o}) let others read or change it; chmod 600 it",
                path.display(),
                mode & 0o777
            );
            return None;
        }
    }
    #[cfg(not(unix))]
    let _ = (meta, strict);
    std::fs::read_to_string(path).ok()
}

/// Settings of the PostgreSQL service `name`, from the first service file that has it.
fn pg_service(name: &str) -> Option<BTreeMap<String, String>> {
    let files = [
        env("PGSERVICEFILE")
            .map(PathBuf::from)
            .or_else(|| home().map(|h| h.join(".pg_service.conf"))),
        env("PGSYSCONFDIR").map(|d| Path::new(&d).join("pg_service.conf")),
        Some(PathBuf::from("/etc/postgresql-common/pg_service.conf")),
    ];
    files
        .into_iter()
        .flatten()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .find_map(|text| ini_groups(&text).remove(name))
}

fn os_user() -> String {
    env("USER").or_else(|| env("LOGNAME")).unwrap_or_default()
}

/// Complete a `postgres://` URL from the service file, the environment and the password
/// file, as libpq would. Returns an error message for a service that does not exist.
pub fn fill_postgres(url: &mut url::Url) -> Result<(), String> {
    let mut query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let service = query
        .iter()
        .position(|(k, _)| k == "service")
        .map(|i| query.remove(i).1)
        .or_else(|| env("PGSERVICE"));
    let settings = match &service {
        Some(name) => pg_service(name).ok_or_else(|| {
            format!("PostgreSQL service `{name}` is not in any service file (PGSERVICEFILE, ~/.pg_service.conf, PGSYSCONFDIR/pg_service.conf)")
        })?,
        None => BTreeMap::new(),
    };
    // The URL first, then the service, then the environment.
    let pick = |from_url: Option<String>, key: &str, var: &str| {
        from_url
            .filter(|v| !v.is_empty())
            .or_else(|| settings.get(key).cloned())
            .or_else(|| env(var))
    };
    let host = pick(url.host_str().map(str::to_string), "host", "PGHOST");
    let port = pick(url.port().map(|p| p.to_string()), "port", "PGPORT");
    let user = pick(Some(url.username().to_string()), "user", "PGUSER");
    let path_db = url.path().trim_start_matches('/').to_string();
    let database = pick(Some(path_db), "dbname", "PGDATABASE");
    if let Some(h) = &host {
        if url.host_str() != Some(h.as_str()) {
            url.set_host(Some(h))
                .map_err(|e| format!("host {h}: {e}"))?;
        }
    }
    if let Some(p) = &port {
        let p: u16 = p
            .parse()
            .map_err(|_| format!("port `{p}` is not a number"))?;
        let _ = url.set_port(Some(p));
    }
    if let Some(u) = &user {
        let _ = url.set_username(u);
    }
    if let Some(d) = &database {
        url.set_path(&format!("/{d}"));
    }
    if url.password().is_none() {
        let password = settings
            .get("password")
            .cloned()
            .or_else(|| env("PGPASSWORD"))
            .or_else(|| {
                let file = env("PGPASSFILE")
                    .map(PathBuf::from)
                    .or_else(|| home().map(|h| h.join(".pgpass")))?;
                let text = read_private(&file, "password file", true)?;
                let user = user.clone().unwrap_or_else(os_user);
                pgpass_password(
                    &text,
                    &Target {
                        host: host.clone().unwrap_or_else(|| "localhost".into()),
                        port: port.as_deref().and_then(|p| p.parse().ok()).unwrap_or(5432),
                        database: database.clone().unwrap_or_else(|| user.clone()),
                        user,
                    },
                )
            });
        if let Some(pw) = password {
            let _ = url.set_password(Some(&pw));
        }
    }
    // TLS settings the URL leaves out, from the service, then the environment.
    let mut added = false;
    for (key, var) in [
        ("sslmode", "PGSSLMODE"),
        ("sslrootcert", "PGSSLROOTCERT"),
        ("sslcert", "PGSSLCERT"),
        ("sslkey", "PGSSLKEY"),
    ] {
        if query.iter().any(|(k, _)| k == key) {
            continue;
        }
        if let Some(v) = settings.get(key).cloned().or_else(|| env(var)) {
            query.push((key.to_string(), v));
            added = true;
        }
    }
    if service.is_some() || added {
        // tokio-postgres does not know `service`: give it the rest of the query only.
        if query.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(query);
        }
    }
    Ok(())
}

/// Complete a `mysql://` URL from `MYSQL_PWD` and the `[client]` group of the option file.
pub fn fill_mysql(url: &mut url::Url) {
    let client = env("BARGE_MYSQL_DEFAULTS_FILE")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".my.cnf")))
        .and_then(|f| read_private(&f, "MySQL option file", false))
        .and_then(|text| ini_groups(&text).remove("client"))
        .unwrap_or_default();
    if url.host_str().is_none_or(str::is_empty) {
        if let Some(h) = client.get("host") {
            let _ = url.set_host(Some(h));
        }
        if let Some(p) = client.get("port").and_then(|p| p.parse().ok()) {
            let _ = url.set_port(Some(p));
        }
    }
    if url.username().is_empty() {
        if let Some(u) = client.get("user") {
            let _ = url.set_username(u);
        }
    }
    if url.password().is_none() {
        if let Some(pw) = env("MYSQL_PWD").or_else(|| client.get("password").cloned()) {
            let _ = url.set_password(Some(&pw));
        }
    }
    // TLS settings the URL leaves out (the option file spells them with dashes or underscores).
    let given: Vec<String> = url
        .query_pairs()
        .map(|(k, _)| k.replace('-', "_"))
        .collect();
    let missing: Vec<(String, String)> = ["ssl_mode", "ssl_ca", "ssl_cert", "ssl_key"]
        .into_iter()
        .filter(|key| !given.iter().any(|g| g == key))
        .filter_map(|key| Some((key.replace('_', "-"), client.get(key)?.clone())))
        .collect();
    if !missing.is_empty() {
        url.query_pairs_mut().extend_pairs(missing);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, port: u16, database: &str, user: &str) -> Target {
        Target {
            host: host.into(),
            port,
            database: database.into(),
            user: user.into(),
        }
    }

    #[test]
    fn pgpass_lines_match_with_wildcards_and_escapes() {
        let file = "# comment\n\
                    db1:5432:app:alice:first\n\
                    *:*:app:alice:second\n\
                    h\\:x:5433:*:bob:pa\\:ss\\\\w\n\
                    *:*:*:*:fallback\n";
        assert_eq!(
            pgpass_password(file, &target("db1", 5432, "app", "alice")).as_deref(),
            Some("first")
        );
        assert_eq!(
            pgpass_password(file, &target("db2", 5432, "app", "alice")).as_deref(),
            Some("second")
        );
        assert_eq!(
            pgpass_password(file, &target("h:x", 5433, "x", "bob")).as_deref(),
            Some("pa:ss\\w")
        );
        assert_eq!(
            pgpass_password(file, &target("z", 1, "z", "z")).as_deref(),
            Some("fallback")
        );
        assert_eq!(pgpass_password("a:b:c\n", &target("a", 1, "c", "d")), None);
    }

    #[test]
    fn ini_groups_read_service_and_option_files() {
        let g = ini_groups(
            "[client]\nuser = app\npassword=\"s3 cret\"\n# no\n[mydb]\nhost=db2\nport=5433\nskip-ssl\n",
        );
        assert_eq!(g["client"]["user"], "app");
        assert_eq!(g["client"]["password"], "s3 cret");
        assert_eq!(g["mydb"]["port"], "5433");
        assert_eq!(g["mydb"]["skip_ssl"], "");
    }
}
