//! TLS settings of a connection, read from a URL in each engine's own spelling:
//! - PostgreSQL as libpq has them: `sslmode=disable|prefer|require|verify-ca|verify-full`,
//!   `sslrootcert` (a file, or `system`), `sslcert`, `sslkey`;
//! - MySQL/MariaDB as its clients have them:
//!   `ssl-mode=DISABLED|PREFERRED|REQUIRED|VERIFY_CA|VERIFY_IDENTITY`, `ssl-ca`, `ssl-cert`,
//!   `ssl-key` (dashes or underscores).
//!
//! Both come to one model, which each engine's connector turns into its driver's settings.
//! The parsing is pure; where the files are looked for is decided here too, so that a bad
//! setting is refused when the URL is read, before any connection is tried.

use std::path::PathBuf;

/// How much TLS a connection asks for, from none to a certificate checked for the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub enum TlsMode {
    /// Plain TCP only.
    Disable,
    /// TLS when the server offers it, plain otherwise; the certificate is not checked.
    #[default]
    Prefer,
    /// TLS or nothing; the certificate is checked only when a root certificate is given.
    Require,
    /// TLS, with a certificate signed by a trusted root; any host name.
    VerifyCa,
    /// TLS, with a certificate signed by a trusted root and made for the host connected to.
    VerifyFull,
}

/// The roots a server certificate is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// The certificates in this PEM (or DER) file.
    File(PathBuf),
    /// The Mozilla roots built into barge (`webpki-roots`): `sslrootcert=system`.
    Builtin,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: TlsMode,
    /// None: no root given, so the certificate is not checked (Prefer, Require) or the
    /// engine's default applies (MySQL's verify modes use the built-in roots).
    pub roots: Option<Roots>,
    /// A client certificate and its key, for servers that ask for one.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl TlsSettings {
    /// Whether the certificate's chain is checked against roots.
    pub fn checks_chain(&self) -> bool {
        match self.mode {
            TlsMode::Disable | TlsMode::Prefer => false,
            // libpq: "if a root CA file exists, sslmode=require behaves like verify-ca".
            TlsMode::Require => self.roots.is_some(),
            TlsMode::VerifyCa | TlsMode::VerifyFull => true,
        }
    }

    /// Whether the certificate must be made for the host name connected to.
    pub fn checks_host(&self) -> bool {
        self.mode == TlsMode::VerifyFull
    }

    /// The setting's name in `key=value` form, as a message about it should spell it.
    pub fn describe(&self, engine: super::Engine) -> String {
        let mut s = match engine {
            super::Engine::Postgres => format!(
                "sslmode={}",
                match self.mode {
                    TlsMode::Disable => "disable",
                    TlsMode::Prefer => "prefer",
                    TlsMode::Require => "require",
                    TlsMode::VerifyCa => "verify-ca",
                    TlsMode::VerifyFull => "verify-full",
                }
            ),
            super::Engine::Mysql => format!(
                "ssl-mode={}",
                match self.mode {
                    TlsMode::Disable => "DISABLED",
                    TlsMode::Prefer => "PREFERRED",
                    TlsMode::Require => "REQUIRED",
                    TlsMode::VerifyCa => "VERIFY_CA",
                    TlsMode::VerifyFull => "VERIFY_IDENTITY",
                }
            ),
        };
        if let Some(Roots::File(f)) = &self.roots {
            let key = match engine {
                super::Engine::Postgres => "sslrootcert",
                super::Engine::Mysql => "ssl-ca",
            };
            s.push_str(&format!(" {key}={}", f.display()));
        }
        s
    }
}

/// The query keys that are TLS settings for `engine`: taken out of the URL given to the driver.
pub fn is_tls_key(engine: super::Engine, key: &str) -> bool {
    match engine {
        super::Engine::Postgres => {
            matches!(key, "sslmode" | "sslrootcert" | "sslcert" | "sslkey")
        }
        super::Engine::Mysql => matches!(
            key.replace('-', "_").as_str(),
            "ssl_mode" | "ssl_ca" | "ssl_cert" | "ssl_key"
        ),
    }
}

fn value<'a>(query: &'a [(String, String)], keys: &[&str]) -> Option<&'a str> {
    // The last one wins, as libpq and the MySQL clients read repeated options.
    query
        .iter()
        .rev()
        .find(|(k, _)| keys.iter().any(|want| k.replace('-', "_") == *want))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// What libpq looks for in `~/.postgresql` when the URL names no file.
#[derive(Debug, Clone, Default)]
pub struct PgDefaults {
    pub root_cert: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl PgDefaults {
    /// The files of `~/.postgresql` that exist.
    pub fn from_home() -> PgDefaults {
        let Some(dir) = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".postgresql"))
        else {
            return PgDefaults::default();
        };
        let existing = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
        PgDefaults {
            root_cert: existing("root.crt"),
            client_cert: existing("postgresql.crt"),
            client_key: existing("postgresql.key"),
        }
    }
}

/// The TLS settings of a `postgres://` URL's query (already completed from the service
/// file and `PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`).
pub fn postgres(query: &[(String, String)], defaults: &PgDefaults) -> Result<TlsSettings, String> {
    let mode = match value(query, &["sslmode"]) {
        None => TlsMode::Prefer,
        Some("disable") => TlsMode::Disable,
        // `allow` tries plain first; barge treats it as prefer, which only adds encryption.
        Some("allow" | "prefer") => TlsMode::Prefer,
        Some("require") => TlsMode::Require,
        Some("verify-ca") => TlsMode::VerifyCa,
        Some("verify-full") => TlsMode::VerifyFull,
        Some(other) => {
            return Err(format!(
                "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
            ))
        }
    };
    let mut roots = match value(query, &["sslrootcert"]) {
        Some("system") => Some(Roots::Builtin),
        Some(file) => Some(Roots::File(PathBuf::from(file))),
        None => defaults.root_cert.clone().map(Roots::File),
    };
    // libpq: sslrootcert=system checks the host name whatever the mode says.
    let mode = if roots == Some(Roots::Builtin) && mode > TlsMode::Disable {
        TlsMode::VerifyFull
    } else {
        mode
    };
    if mode == TlsMode::Prefer {
        roots = None;
    }
    if matches!(mode, TlsMode::VerifyCa | TlsMode::VerifyFull) && roots.is_none() {
        return Err(format!(
            "sslmode={} needs a root certificate to check the server's against: give \
             sslrootcert=/path/to/ca.pem, or sslrootcert=system for the Mozilla roots \
             built into barge (~/.postgresql/root.crt does not exist)",
            if mode == TlsMode::VerifyCa {
                "verify-ca"
            } else {
                "verify-full"
            }
        ));
    }
    let client_cert = value(query, &["sslcert"])
        .map(PathBuf::from)
        .or_else(|| defaults.client_cert.clone());
    let client_key = value(query, &["sslkey"])
        .map(PathBuf::from)
        .or_else(|| defaults.client_key.clone());
    finish(mode, roots, client_cert, client_key, "sslcert", "sslkey")
}

/// The TLS settings of a `mysql://` URL's query (already completed from `[client]`).
pub fn mysql(query: &[(String, String)]) -> Result<TlsSettings, String> {
    let roots = value(query, &["ssl_ca"]).map(|f| Roots::File(PathBuf::from(f)));
    let mode = match value(query, &["ssl_mode"]).map(str::to_ascii_uppercase) {
        // The MySQL client: a CA given without a mode asks for it to be checked.
        None if roots.is_some() => TlsMode::VerifyCa,
        None => TlsMode::Prefer,
        Some(m) => match m.as_str() {
            "DISABLED" => TlsMode::Disable,
            "PREFERRED" => TlsMode::Prefer,
            "REQUIRED" => TlsMode::Require,
            "VERIFY_CA" => TlsMode::VerifyCa,
            "VERIFY_IDENTITY" => TlsMode::VerifyFull,
            _ => {
                return Err(format!(
                    "ssl-mode={m} is not one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY"
                ))
            }
        },
    };
    let roots = match (mode, roots) {
        (TlsMode::Prefer | TlsMode::Disable, _) => None,
        // Without ssl-ca, the verify modes check against the built-in Mozilla roots,
        // as managed servers with public certificates need.
        (TlsMode::VerifyCa | TlsMode::VerifyFull, None) => Some(Roots::Builtin),
        (_, roots) => roots,
    };
    let client_cert = value(query, &["ssl_cert"]).map(PathBuf::from);
    let client_key = value(query, &["ssl_key"]).map(PathBuf::from);
    finish(mode, roots, client_cert, client_key, "ssl-cert", "ssl-key")
}

fn finish(
    mode: TlsMode,
    roots: Option<Roots>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
    cert_key: &str,
    key_key: &str,
) -> Result<TlsSettings, String> {
    if mode == TlsMode::Disable {
        return Ok(TlsSettings {
            mode,
            ..Default::default()
        });
    }
    match (&client_cert, &client_key) {
        (Some(_), None) => return Err(format!("{cert_key} is given without {key_key}")),
        (None, Some(_)) => return Err(format!("{key_key} is given without {cert_key}")),
        _ => {}
    }
    for file in [client_cert.as_ref(), client_key.as_ref()]
        .into_iter()
        .flatten()
    {
        if !file.is_file() {
            return Err(format!("{} does not exist", file.display()));
        }
    }
    if let Some(Roots::File(f)) = &roots {
        if !f.is_file() {
            return Err(format!(
                "root certificate file {} does not exist",
                f.display()
            ));
        }
    }
    Ok(TlsSettings {
        mode,
        roots,
        client_cert,
        client_key,
    })
}

/// The rustls error somewhere under a driver's error: io::Error hides its inner error from
/// `source()`, so it is looked into too.
pub fn find_rustls<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur = Some(error);
    while let Some(e) = cur {
        let found = e.downcast_ref::<rustls::Error>().or_else(|| {
            e.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if found.is_some() {
            return found;
        }
        cur = e.source();
    }
    None
}

/// A rustls handshake failure in words a user can act on.
pub fn explain_rustls(
    error: &rustls::Error,
    settings: &TlsSettings,
    engine: super::Engine,
    host: &str,
) -> String {
    use rustls::CertificateError as C;
    let (root_key, verify_ca) = match engine {
        super::Engine::Postgres => ("sslrootcert", "sslmode=verify-ca"),
        super::Engine::Mysql => ("ssl-ca", "ssl-mode=VERIFY_CA"),
    };
    let roots = match &settings.roots {
        Some(Roots::File(f)) => format!("{root_key}={}", f.display()),
        Some(Roots::Builtin) => "the Mozilla roots built into barge".to_string(),
        None => "no root".to_string(),
    };
    let what = match error {
        rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => format!(
            "the server's certificate is not signed by a certificate authority in {roots}: \
             give the CA that signed it with {root_key}"
        ),
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => {
            format!(
                "the server's certificate is not made for the host name `{host}`: connect by \
                 the name the certificate names, or check the CA only with {verify_ca}"
            )
        }
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "the server's certificate has expired".to_string()
        }
        rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "the server's certificate is not valid yet (check this machine's clock)".to_string()
        }
        other => format!("the TLS handshake failed ({other})"),
    };
    format!("{what} [{}; {error}]", settings.describe(engine))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn ca() -> PathBuf {
        // Any file that exists stands in for a CA here; the connectors read it.
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")
    }

    #[test]
    fn postgres_modes_follow_libpq() {
        let none = PgDefaults::default();
        assert_eq!(postgres(&q(&[]), &none).unwrap().mode, TlsMode::Prefer);
        let off = postgres(&q(&[("sslmode", "disable")]), &none).unwrap();
        assert_eq!(off.mode, TlsMode::Disable);
        let req = postgres(&q(&[("sslmode", "require")]), &none).unwrap();
        assert!(!req.checks_chain());
        let ca = ca().display().to_string();
        let req_ca = postgres(&q(&[("sslmode", "require"), ("sslrootcert", &ca)]), &none).unwrap();
        assert!(req_ca.checks_chain() && !req_ca.checks_host());
        let full = postgres(
            &q(&[("sslmode", "verify-full"), ("sslrootcert", &ca)]),
            &none,
        )
        .unwrap();
        assert!(full.checks_chain() && full.checks_host());
        let system = postgres(&q(&[("sslrootcert", "system")]), &none).unwrap();
        assert_eq!(system.mode, TlsMode::VerifyFull);
        assert_eq!(system.roots, Some(Roots::Builtin));
        // The root file of ~/.postgresql makes require check the chain, not prefer.
        let home = PgDefaults {
            root_cert: Some(self::ca()),
            ..Default::default()
        };
        assert!(postgres(&q(&[("sslmode", "require")]), &home)
            .unwrap()
            .checks_chain());
        assert_eq!(postgres(&q(&[]), &home).unwrap().roots, None);
    }

    #[test]
    fn postgres_refuses_what_cannot_work() {
        let none = PgDefaults::default();
        let e = postgres(&q(&[("sslmode", "verify-full")]), &none).unwrap_err();
        assert!(e.contains("sslrootcert=system"), "{e}");
        let e = postgres(&q(&[("sslmode", "strict")]), &none).unwrap_err();
        assert!(e.contains("sslmode=strict"), "{e}");
        let e = postgres(
            &q(&[("sslmode", "require"), ("sslrootcert", "/no/such/ca.pem")]),
            &none,
        )
        .unwrap_err();
        assert!(e.contains("/no/such/ca.pem"), "{e}");
        let ca = ca().display().to_string();
        let e = postgres(&q(&[("sslcert", &ca)]), &none).unwrap_err();
        assert!(e.contains("without sslkey"), "{e}");
    }

    #[test]
    fn mysql_modes_follow_the_mysql_client() {
        assert_eq!(mysql(&q(&[])).unwrap().mode, TlsMode::Prefer);
        assert_eq!(
            mysql(&q(&[("ssl-mode", "disabled")])).unwrap().mode,
            TlsMode::Disable
        );
        let ca = ca().display().to_string();
        let implied = mysql(&q(&[("ssl_ca", &ca)])).unwrap();
        assert_eq!(implied.mode, TlsMode::VerifyCa);
        assert!(implied.checks_chain() && !implied.checks_host());
        let ident = mysql(&q(&[("ssl-mode", "VERIFY_IDENTITY")])).unwrap();
        assert_eq!(ident.roots, Some(Roots::Builtin));
        assert!(ident.checks_host());
        let e = mysql(&q(&[("ssl-mode", "ON")])).unwrap_err();
        assert!(e.contains("VERIFY_IDENTITY"), "{e}");
        assert!(is_tls_key(crate::url::Engine::Mysql, "ssl-ca"));
        assert!(!is_tls_key(crate::url::Engine::Mysql, "prefer_socket"));
    }
}
