//! Opening MySQL/MariaDB connections, with errors that name the server (redacted).

use crate::error::{Error, Result, Side};
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

pub fn mysql_pool(url: &DbUrl, max_conns: usize) -> Result<mysql_async::Pool> {
    mysql_pool_in(url, max_conns, url.database().as_deref())
}

/// A pool whose sessions use `database` (none: no default database), whatever the URL says.
pub fn mysql_pool_in(
    url: &DbUrl,
    max_conns: usize,
    database: Option<&str>,
) -> Result<mysql_async::Pool> {
    if url.engine() != Engine::Mysql {
        return Err(Error::Config(format!(
            "{url} is not a MySQL/MariaDB URL (mysql://user:password@host:port/database)"
        )));
    }
    let opts = mysql_async::Opts::from_url(url.expose()).map_err(|e| Error::Url {
        url: url.redacted(),
        reason: e.to_string(),
    })?;
    let constraints = mysql_async::PoolConstraints::new(0, max_conns.max(1))
        .ok_or_else(|| Error::Invalid("bad connection pool size".into()))?;
    let builder = mysql_async::OptsBuilder::from_opts(opts)
        .db_name(database)
        .init(MYSQL_SESSION.iter().map(|s| s.to_string()).collect())
        .pool_opts(mysql_async::PoolOpts::default().with_constraints(constraints));
    Ok(mysql_async::Pool::new(builder))
}

/// Get a connection, turning a failure into an error that names the server.
pub async fn mysql_conn(
    pool: &mysql_async::Pool,
    url: &DbUrl,
    side: Side,
) -> Result<mysql_async::Conn> {
    pool.get_conn().await.map_err(|e| Error::Connect {
        side,
        url: url.redacted(),
        message: crate::url::redact(&e.to_string()),
    })
}

pub async fn mysql_version(conn: &mut mysql_async::Conn) -> Result<String> {
    use crate::error::Context;
    let v: Option<String> = conn
        .query_first("SELECT VERSION()")
        .await
        .ctx("SELECT VERSION()")?;
    Ok(v.unwrap_or_default())
}
