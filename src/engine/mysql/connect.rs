//! Opening MySQL/MariaDB connections, with errors that name the server (redacted).

use crate::error::{Error, Result, Side};
use crate::url::tls::{Roots, TlsMode, TlsSettings};
use crate::url::{DbUrl, Engine};
use mysql_async::prelude::Queryable;

/// Session settings for every MySQL connection barge opens:
/// - utf8mb4 so the server converts every column's charset (latin1 is cp1252 there) for us;
/// - UTC so TIMESTAMP values arrive as stored, whatever the server's zone;
/// - a long net_write_timeout: a reader throttled by back-pressure must not be cut off.
const MYSQL_SESSION: &[&str] = &[
    "SET NAMES utf8mb4",
    "SET time_zone = '+00:00'",
    "SET SESSION net_write_timeout = 3600",
    "SET SESSION net_read_timeout = 3600",
];

pub async fn mysql_pool(url: &DbUrl, max_conns: usize) -> Result<mysql_async::Pool> {
    mysql_pool_in(url, max_conns, url.database().as_deref()).await
}

/// A pool whose sessions use `database` (none: no default database), whatever the URL says.
pub async fn mysql_pool_in(
    url: &DbUrl,
    max_conns: usize,
    database: Option<&str>,
) -> Result<mysql_async::Pool> {
    if url.engine() != Engine::Mysql {
        return Err(Error::Config(format!(
            "{url} is not a MySQL/MariaDB URL (mysql://user:password@host:port/database)"
        )));
    }
    let opts = mysql_async::Opts::from_url(&url.driver_url()).map_err(|e| Error::Url {
        url: url.redacted(),
        reason: e.to_string(),
    })?;
    let constraints = mysql_async::PoolConstraints::new(0, max_conns.max(1)).ok_or_else(|| {
        Error::Config(format!("a pool of {max_conns} connections is not possible"))
    })?;
    // The driver's own `require_ssl=…` parameters, when given, are left to it.
    let driver_tls = opts.ssl_opts().is_some();
    let mut builder = mysql_async::OptsBuilder::from_opts(opts)
        .db_name(database)
        .init(MYSQL_SESSION.iter().map(|s| s.to_string()).collect())
        .pool_opts(mysql_async::PoolOpts::default().with_constraints(constraints));
    if !driver_tls {
        if let Some(ssl) = ssl_opts(url.tls()) {
            // The driver's switch to a local server's Unix socket after logging in cannot
            // carry TLS and fails on each connection (the server logs it): TCP it stays,
            // unless the URL asks for the socket.
            let socket = !url.driver_url().contains("prefer_socket=");
            let probing = if socket {
                builder.clone().prefer_socket(false)
            } else {
                builder.clone()
            };
            match probe(url, &probing, &ssl).await {
                Probed::Plain => {}
                Probed::Tls => builder = probing.ssl_opts(ssl),
                Probed::TlsNamed(name) => {
                    builder = probing.ssl_opts(ssl.with_danger_tls_hostname_override(Some(name)))
                }
            }
        }
    }
    Ok(mysql_async::Pool::new(builder))
}

/// The driver's TLS options for the settings; None for plain TCP.
fn ssl_opts(tls: &TlsSettings) -> Option<mysql_async::SslOpts> {
    if tls.mode == TlsMode::Disable {
        return None;
    }
    let mut ssl = mysql_async::SslOpts::default()
        .with_danger_accept_invalid_certs(!tls.checks_chain())
        .with_danger_skip_domain_validation(!tls.checks_host());
    if let Some(Roots::File(f)) = &tls.roots {
        ssl = ssl
            .with_root_certs(vec![f.clone().into()])
            .with_disable_built_in_roots(true);
    }
    if let (Some(cert), Some(key)) = (&tls.client_cert, &tls.client_key) {
        ssl = ssl.with_client_identity(Some(mysql_async::ClientIdentity::new(
            cert.clone().into(),
            key.clone().into(),
        )));
    }
    Some(ssl)
}

/// What a first connection found out about a server.
#[derive(Clone)]
enum Probed {
    /// ssl-mode=PREFERRED, and the server offers no TLS.
    Plain,
    Tls,
    /// ssl-mode=VERIFY_CA: check the certificate against this name of its own.
    TlsNamed(String),
}

/// Two things mysql_async 0.37 cannot do, found out by one connection per server and process:
/// - PREFERRED: it refuses a server without TLS when asked for TLS, so ask first;
/// - VERIFY_CA: its "skip the host name" option is inert with rustls ≥ 0.23.2x (fixed
///   upstream in blackbeam/mysql_async#408, not released), so the chain is checked for a
///   name the certificate itself presents, which the refusal names. The chain and the
///   signatures are checked all the same.
async fn probe(
    url: &DbUrl,
    builder: &mysql_async::OptsBuilder,
    ssl: &mysql_async::SslOpts,
) -> Probed {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static KNOWN: Mutex<Option<HashMap<String, Probed>>> = Mutex::new(None);
    let mode = url.tls().mode;
    // The chain without the host: VERIFY_CA, or REQUIRED with an ssl-ca.
    let chain_only = url.tls().checks_chain() && !url.tls().checks_host();
    if mode != TlsMode::Prefer && !chain_only {
        return Probed::Tls;
    }
    let server = format!("{} {}", url.place(), url.tls().describe(Engine::Mysql));
    if let Some(known) = KNOWN
        .lock()
        .ok()
        .and_then(|k| k.as_ref()?.get(&server).cloned())
    {
        return known;
    }
    let found = match mysql_async::Conn::new(builder.clone().ssl_opts(ssl.clone())).await {
        Ok(conn) => {
            let _ = conn.disconnect().await;
            Probed::Tls
        }
        Err(mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer))
            if mode == TlsMode::Prefer =>
        {
            tracing::debug!(
                "{} offers no TLS: connecting without (ssl-mode=PREFERRED)",
                url.place()
            );
            Probed::Plain
        }
        Err(e) => match crate::url::tls::find_rustls(&e) {
            Some(r) if chain_only => match presented_name(r) {
                Some(name) => Probed::TlsNamed(name),
                None => return Probed::Tls,
            },
            // PREFERRED, as the MySQL client: no TLS when it cannot be set up.
            Some(r) if mode == TlsMode::Prefer => {
                tracing::warn!(
                    "{}: TLS could not be set up ({r}); connecting without (ssl-mode=PREFERRED)",
                    url.place()
                );
                Probed::Plain
            }
            // Anything else is for the real connection to report; nothing is learnt.
            _ => return Probed::Tls,
        },
    };
    if let Ok(mut known) = KNOWN.lock() {
        known
            .get_or_insert_with(HashMap::new)
            .insert(server, found.clone());
    }
    found
}

/// A name a certificate refused for another host presents: `DnsName("db.internal")` or
/// `IpAddress(10.0.0.5)` as webpki renders them; a wildcard's stands for one of its hosts.
fn presented_name(error: &rustls::Error) -> Option<String> {
    let rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext {
        presented,
        ..
    }) = error
    else {
        return None;
    };
    presented.iter().find_map(|p| {
        let name = p
            .strip_prefix("DnsName(\"")
            .and_then(|n| n.strip_suffix("\")"))
            .or_else(|| {
                p.strip_prefix("IpAddress(")
                    .and_then(|n| n.strip_suffix(')'))
            })?;
        Some(match name.strip_prefix("*.") {
            Some(domain) => format!("barge.{domain}"),
            None => name.to_string(),
        })
    })
}

/// Get a connection, turning a failure into an error that names the server.
pub async fn mysql_conn(
    pool: &mysql_async::Pool,
    url: &DbUrl,
    side: Side,
) -> Result<mysql_async::Conn> {
    pool.get_conn()
        .await
        .map_err(|e| connect_error(e, url, side))
}

/// A connection failure: a refused certificate or handshake apart, since it is not retried.
pub fn connect_error(e: mysql_async::Error, url: &DbUrl, side: Side) -> Error {
    use mysql_async::{DriverError, IoError};
    let tls = |message: String| Error::Tls {
        side,
        url: url.redacted(),
        message,
    };
    if let Some(r) = crate::url::tls::find_rustls(&e) {
        return tls(crate::url::tls::explain_rustls(
            r,
            url.tls(),
            Engine::Mysql,
            &url.host(),
        ));
    }
    match &e {
        mysql_async::Error::Io(IoError::Tls(t)) => {
            tls(format!("{t} [{}]", url.tls().describe(Engine::Mysql)))
        }
        mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer) => tls(format!(
            "the server does not offer TLS ({}: give ssl-mode=PREFERRED or DISABLED to connect without TLS)",
            url.tls().describe(Engine::Mysql)
        )),
        _ => Error::Connect {
            side,
            url: url.redacted(),
            message: crate::url::redact(&e.to_string()),
        },
    }
}

pub async fn mysql_version(conn: &mut mysql_async::Conn) -> Result<String> {
    use crate::error::Context;
    let v: Option<String> = conn
        .query_first("SELECT VERSION()")
        .await
        .ctx("SELECT VERSION()")?;
    Ok(v.unwrap_or_default())
}
