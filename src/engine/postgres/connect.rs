//! Opening PostgreSQL connections, with errors that name the server (redacted).

use crate::error::{pg_message, Error, Result, Side};
use crate::url::{DbUrl, Engine};

pub async fn pg_connect(url: &DbUrl, side: Side) -> Result<tokio_postgres::Client> {
    if url.engine() != Engine::Postgres {
        return Err(Error::Config(format!(
            "{url} is not a PostgreSQL URL (postgres://user:password@host:port/database)"
        )));
    }
    let (client, connection) = tokio_postgres::connect(url.expose(), tokio_postgres::NoTls)
        .await
        .map_err(|e| Error::Connect {
            side,
            url: url.redacted(),
            message: crate::url::redact(&pg_message(&e)),
        })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("PostgreSQL connection closed: {e}");
        }
    });
    Ok(client)
}
