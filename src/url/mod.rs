//! Connection URLs: which engine, which database, and a redacted form for every message.
//!
//! Passwords may come from the URL or, when the URL has none, from where the engine's own
//! clients keep them (`credentials`), so they need not be on a command line.

pub mod tls;

use crate::error::{Error, Result};
use std::fmt;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub enum Engine {
    #[default]
    Mysql,
    Postgres,
}

impl Engine {
    /// The engine's short name, for messages about its types.
    pub fn short(self) -> &'static str {
        match self {
            Engine::Mysql => "MySQL",
            Engine::Postgres => "PostgreSQL",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Engine::Mysql => "MySQL/MariaDB",
            Engine::Postgres => "PostgreSQL",
        })
    }
}

/// A parsed connection URL. `Display` and `Debug` print the redacted form only.
#[derive(Clone)]
pub struct DbUrl {
    engine: Engine,
    url: url::Url,
    /// PostgreSQL: the schema named by `?schema=NAME` (not passed to the driver).
    schema: Option<String>,
    /// TLS as the URL (or the files and variables it was completed from) asks for it.
    tls: tls::TlsSettings,
}

impl DbUrl {
    pub fn parse(s: &str) -> Result<DbUrl> {
        let bad = |reason: &str| Error::Url {
            url: redact(s),
            reason: reason.to_string(),
        };
        let mut url = url::Url::parse(s).map_err(|e| bad(&e.to_string()))?;
        let engine = match url.scheme() {
            "mysql" | "mariadb" => Engine::Mysql,
            "postgres" | "postgresql" => Engine::Postgres,
            other => {
                return Err(bad(&format!(
                    "unknown scheme `{other}` (expected mysql://, mariadb://, postgres:// or postgresql://)"
                )))
            }
        };
        // What the URL leaves out comes from where each ecosystem keeps it.
        match engine {
            Engine::Mysql => crate::credentials::fill_mysql(&mut url),
            Engine::Postgres => crate::credentials::fill_postgres(&mut url).map_err(|m| bad(&m))?,
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        if engine == Engine::Mysql && url.scheme() != "mysql" {
            // mysql_async only accepts the mysql scheme.
            let rest = &url.as_str()[url.scheme().len()..];
            url = url::Url::parse(&format!("mysql{rest}")).map_err(|e| bad(&e.to_string()))?;
        }
        let mut schema = None;
        if engine == Engine::Postgres {
            let (named, rest): (Vec<_>, Vec<_>) = url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .partition(|(k, _)| k == "schema");
            if let Some((_, v)) = named.into_iter().last() {
                schema = Some(v);
                if rest.is_empty() {
                    url.set_query(None);
                } else {
                    url.query_pairs_mut().clear().extend_pairs(rest);
                }
            }
        }
        let query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let tls = match engine {
            Engine::Postgres => tls::postgres(&query, &tls::PgDefaults::from_home()),
            Engine::Mysql => tls::mysql(&query),
        }
        .map_err(|m| bad(&m))?;
        Ok(DbUrl {
            engine,
            url,
            schema,
            tls,
        })
    }

    /// The TLS the connection asks for.
    pub fn tls(&self) -> &tls::TlsSettings {
        &self.tls
    }

    /// The host name connected to, for checking a server certificate.
    pub fn host(&self) -> String {
        self.url.host_str().unwrap_or_default().to_string()
    }

    /// The URL for the driver: with the password, without the settings barge applies itself
    /// (TLS). Never for output.
    pub fn driver_url(&self) -> String {
        let engine = self.engine;
        let kept: Vec<(String, String)> = self
            .url
            .query_pairs()
            .filter(|(k, _)| !tls::is_tls_key(engine, k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut url = self.url.clone();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
        url.to_string()
    }

    /// The schema a PostgreSQL URL names with `?schema=NAME`.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The schema a PostgreSQL target writes to: `named` (by an option), else the one this
    /// URL names with `?schema=NAME`, else `public`. `Err` holds the URL's when the two
    /// differ: the caller says where `named` came from.
    pub fn target_schema(&self, named: Option<&str>) -> std::result::Result<String, String> {
        let in_url = self.schema().filter(|_| self.engine == Engine::Postgres);
        match (named, in_url) {
            (Some(a), Some(b)) if a != b => Err(b.to_string()),
            (a, b) => Ok(a.or(b).unwrap_or("public").to_string()),
        }
    }

    /// The database named in the path, if any (`mysql://h/db` → `db`).
    pub fn database(&self) -> Option<String> {
        let path = self.url.path().trim_start_matches('/');
        if path.is_empty() {
            None
        } else {
            Some(
                percent_decode(path.split('/').next().unwrap_or(path))
                    .unwrap_or_else(|| path.to_string()),
            )
        }
    }

    /// Where tables copied into this URL go, for reports: a PostgreSQL target puts them in
    /// `schema` (from `--schema` or `?schema=`), a MySQL one in the database of its path.
    pub fn destination(&self, schema: &str) -> String {
        match self.engine {
            Engine::Postgres => format!("schema {schema}"),
            Engine::Mysql => format!("database {}", self.database().unwrap_or_default()),
        }
    }

    /// The same server with another database in the path.
    pub fn with_database(&self, db: &str) -> DbUrl {
        let mut url = self.url.clone();
        url.set_path(&format!("/{db}"));
        DbUrl {
            engine: self.engine,
            url,
            schema: self.schema.clone(),
            tls: self.tls.clone(),
        }
    }

    /// The same PostgreSQL server and database, naming `schema` (`?schema=`).
    pub fn with_schema(&self, schema: &str) -> DbUrl {
        DbUrl {
            schema: Some(schema.to_string()),
            ..self.clone()
        }
    }

    /// The URL as barge reads it, password and `?schema=` included: for a child barge
    /// process (through its environment), never for output.
    pub fn full(&self) -> String {
        let Some(schema) = &self.schema else {
            return self.url.to_string();
        };
        let mut url = self.url.clone();
        url.query_pairs_mut().append_pair("schema", schema);
        url.to_string()
    }

    /// The URL without its password, for files that must not hold one.
    pub fn without_password(&self) -> String {
        let mut url = self.url.clone();
        let _ = url.set_password(None);
        url.to_string()
    }

    /// The same URL with this password.
    pub fn with_password(&self, password: &str) -> Result<DbUrl> {
        let mut url = self.url.clone();
        url.set_password(Some(password)).map_err(|_| Error::Url {
            url: self.redacted(),
            reason: "cannot set a password on this URL".into(),
        })?;
        Ok(DbUrl {
            engine: self.engine,
            url,
            schema: self.schema.clone(),
            tls: self.tls.clone(),
        })
    }

    /// Where the URL points, with no user or password: `mysql://host:port/db`, plus
    /// `?schema=NAME` when it names one.
    pub fn place(&self) -> String {
        let mut s = format!(
            "{}://{}",
            match self.engine {
                Engine::Mysql => "mysql",
                Engine::Postgres => "postgres",
            },
            self.url.host_str().unwrap_or_default()
        );
        if let Some(port) = self.url.port() {
            s.push_str(&format!(":{port}"));
        }
        s.push_str(self.url.path());
        if let Some(schema) = &self.schema {
            s.push_str(&format!("?schema={schema}"));
        }
        s
    }

    /// The full URL including the password: for drivers only, never for output.
    pub fn expose(&self) -> &str {
        self.url.as_str()
    }

    pub fn redacted(&self) -> String {
        redact(self.url.as_str())
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({})", self.redacted())
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Replace the password of every `scheme://user:password@` in `text` with `***`.
/// Works on any text (error messages, logs), not only on a lone URL.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        // The authority ends at the first '/', '?', '#' or whitespace; the password sits
        // between the first ':' and the last '@' inside it.
        let end = tail
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon]);
                out.push_str(":***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_anywhere() {
        assert_eq!(
            redact("mysql://u:secret@h:3306/db"),
            "mysql://u:***@h:3306/db"
        );
        assert_eq!(
            redact("failed: postgres://a:p%40ss@h/db and mysql://x@h"),
            "failed: postgres://a:***@h/db and mysql://x@h"
        );
        assert_eq!(redact("no url here"), "no url here");
        assert_eq!(redact("mysql://u:p@ss:w@h/"), "mysql://u:***@h/");
    }

    #[test]
    fn parses_engines_and_databases() {
        let u = DbUrl::parse("mariadb://u:pw@127.0.0.1:3306/legacy").unwrap();
        assert_eq!(u.engine(), Engine::Mysql);
        assert_eq!(u.database().as_deref(), Some("legacy"));
        assert!(u.expose().starts_with("mysql://"));
        assert_eq!(u.to_string(), "mysql://u:***@127.0.0.1:3306/legacy");
        let p = DbUrl::parse("postgresql://u@h/x").unwrap();
        assert_eq!(p.engine(), Engine::Postgres);
        assert!(DbUrl::parse("oracle://h/x").is_err());
        let err = DbUrl::parse("ftp://u:topsecret@h/x")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("topsecret"), "{err}");
    }

    #[test]
    fn names_where_tables_go_by_engine() {
        let my = DbUrl::parse("mysql://u@h/shop").unwrap();
        assert_eq!(my.destination("public"), "database shop");
        let pg = DbUrl::parse("postgres://u@h/db?schema=app").unwrap();
        assert_eq!(pg.destination("app"), "schema app");
        let again = DbUrl::parse(&pg.full()).unwrap();
        assert_eq!((again.schema(), again.expose()), (Some("app"), pg.expose()));
        let tls = DbUrl::parse("postgres://u@h/db?sslmode=require&schema=a b").unwrap();
        assert_eq!(DbUrl::parse(&tls.full()).unwrap().schema(), Some("a b"));
        assert_eq!(tls.with_schema("c").schema(), Some("c"));
    }
}
