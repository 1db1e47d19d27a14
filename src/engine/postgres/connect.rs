//! Opening PostgreSQL connections, with errors that name the server (redacted).

use crate::error::{pg_message, Error, Result, Side};
use crate::url::{DbUrl, Engine};

pub async fn pg_connect(url: &DbUrl, side: Side) -> Result<tokio_postgres::Client> {
    if url.engine() != Engine::Postgres {
        return Err(Error::Config(format!(
            "{url} is not a PostgreSQL URL (postgres://user:password@host:port/database)"
        )));
    }
    let mut config: tokio_postgres::Config = url.expose().parse().map_err(|e| Error::Url {
        url: url.redacted(),
        reason: crate::url::redact(&pg_message(&e)),
    })?;
    // So barge's sessions are told apart in pg_stat_activity.
    if config.get_application_name().is_none() {
        config.application_name("barge");
    }
    let (client, connection) =
        config
            .connect(tokio_postgres::NoTls)
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
