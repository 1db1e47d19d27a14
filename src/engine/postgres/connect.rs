//! Opening PostgreSQL connections, with errors that name the server (redacted).

use super::tls::PgTls;
use crate::error::{pg_message, Error, Result, Side};
use crate::url::tls::TlsMode;
use crate::url::{DbUrl, Engine};
use tokio_postgres::config::SslMode;

pub async fn pg_connect(url: &DbUrl, side: Side) -> Result<tokio_postgres::Client> {
    if url.engine() != Engine::Postgres {
        return Err(Error::Config(format!(
            "{url} is not a PostgreSQL URL (postgres://user:password@host:port/database)"
        )));
    }
    let mut config: tokio_postgres::Config = url.driver_url().parse().map_err(|e| Error::Url {
        url: url.redacted(),
        reason: crate::url::redact(&pg_message(&e)),
    })?;
    // So barge's sessions are told apart in pg_stat_activity.
    if config.get_application_name().is_none() {
        config.application_name("barge");
    }
    let settings = url.tls();
    let refused = |message: String| Error::Tls {
        side,
        url: url.redacted(),
        message,
    };
    // The two connections' types differ by their stream: each is driven where it is made.
    let connected = match settings.mode {
        TlsMode::Disable => {
            config.ssl_mode(SslMode::Disable);
            config.connect(tokio_postgres::NoTls).await.map(drive)
        }
        mode => {
            config.ssl_mode(if mode == TlsMode::Prefer {
                SslMode::Prefer
            } else {
                SslMode::Require
            });
            let tls = PgTls::new(settings).map_err(refused)?;
            match config.connect(tls).await {
                // prefer, as libpq: no TLS when it cannot be set up.
                Err(e) if mode == TlsMode::Prefer && crate::url::tls::find_rustls(&e).is_some() => {
                    tracing::warn!(
                        "{}: TLS could not be set up ({}); connecting without (sslmode=prefer)",
                        url.place(),
                        pg_message(&e)
                    );
                    config.ssl_mode(SslMode::Disable);
                    config.connect(tokio_postgres::NoTls).await.map(drive)
                }
                r => r.map(drive),
            }
        }
    };
    connected.map_err(|e| match crate::url::tls::find_rustls(&e) {
        Some(r) => refused(crate::url::tls::explain_rustls(
            r,
            settings,
            Engine::Postgres,
            &url.host(),
        )),
        None => {
            let message = crate::url::redact(&pg_message(&e));
            // The driver's reason sits under "error performing TLS handshake".
            let mut chain: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            let mut no_tls = false;
            while let Some(cur) = chain {
                no_tls |= cur.to_string().contains("does not support TLS");
                chain = cur.source();
            }
            if no_tls {
                refused(format!(
                    "the server does not offer TLS ({}: give sslmode=prefer or disable to connect without TLS)",
                    settings.describe(Engine::Postgres)
                ))
            } else {
                Error::Connect {
                    side,
                    url: url.redacted(),
                    message,
                }
            }
        }
    })
}

fn drive<S, T>(
    (client, connection): (tokio_postgres::Client, tokio_postgres::Connection<S, T>),
) -> tokio_postgres::Client
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("PostgreSQL connection closed: {e}");
        }
    });
    client
}
