//! Opening a PostgreSQL state: the URL, the connection, and the key file
//! every replica shares (checked against the database, never stored in it).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use super::sql::{Conn, PgConn};
use super::{KEY_LEN, Store, create_private_dir, load_or_create_key, migrations};
use crate::credential::{ct_eq, hex, hmac_sha256};
use crate::error::{Code, Error, Exit, Result};

/// The URL when `--state` names a PostgreSQL database rather than a file.
pub fn url(state: &Path) -> Option<&str> {
    let s = state.to_str()?;
    (s.starts_with("postgres://") || s.starts_with("postgresql://")).then_some(s)
}

/// The URL with any password replaced, for messages.
pub fn redacted(url: &str) -> String {
    // A password in the user-info part: scheme://user:password@host/...
    let url = match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((auth, host)) if auth.contains(':') => {
                let user = auth.split_once(':').map_or(auth, |(u, _)| u);
                format!("{scheme}://{user}:***@{host}")
            }
            _ => url.to_owned(),
        },
        None => url.to_owned(),
    };
    // A password given as a query parameter goes too.
    match url.split_once("password=") {
        Some((before, after)) => {
            let rest = after.find('&').map_or("", |i| &after[i..]);
            format!("{before}password=***{rest}")
        }
        None => url,
    }
}

/// What the meta table holds instead of the key: an HMAC under it, so a
/// replica started with another key file is refused before it writes.
const KEY_CHECK: &str = "key_check";

fn key_check(pepper: &[u8; KEY_LEN]) -> String {
    hex(&hmac_sha256(pepper, &[b"moat key check\0"]))
}

/// How a state URL asks for TLS, taken out of the URL before the driver
/// parses it (it knows `sslmode` only as disable/prefer/require and
/// refuses `sslrootcert`).
#[derive(Debug, PartialEq, Eq)]
pub enum Tls {
    /// No `sslmode` stronger than `prefer`: a plain connection (loopback,
    /// a Unix socket, or a network the operator already trusts).
    Plain,
    /// `sslmode=require`, `verify-ca` or `verify-full`, or a `sslrootcert`:
    /// TLS whose certificate is always checked, against `sslrootcert` when
    /// given (a self-signed server certificate may be its own root), else
    /// the public web roots. An unchecked certificate protects from nobody
    /// on the path, so `require` checks it too, unlike libpq's.
    Verified { root: Option<PathBuf> },
}

/// The URL as the driver should see it, and what it asks of TLS.
pub fn split_tls(url: &str) -> Result<(String, Tls)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), Tls::Plain));
    };
    let (mut mode, mut root) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let value = || {
            percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .map(|v| v.into_owned())
                .map_err(|_| Error::usage(format!("the state URL's {k} is not UTF-8")))
        };
        match k {
            "sslmode" => mode = Some(value()?),
            "sslrootcert" => root = Some(PathBuf::from(value()?)),
            _ => kept.push(pair),
        }
    }
    let tls = match (mode.as_deref(), root) {
        (None | Some("disable" | "allow" | "prefer"), None) => Tls::Plain,
        (Some("disable"), Some(_)) => {
            return Err(Error::usage(
                "the state URL names a sslrootcert but turns TLS off (sslmode=disable)",
            ));
        }
        (None | Some("allow" | "prefer" | "require" | "verify-ca" | "verify-full"), root) => {
            Tls::Verified { root }
        }
        (Some(other), _) => {
            return Err(Error::usage(format!(
                "the state URL's sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
            )));
        }
    };
    if tls != Tls::Plain {
        kept.push("sslmode=require");
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, tls))
}

/// A connection to the database at `url`, over TLS when the URL asks.
fn connect(url: &str) -> Result<postgres::Client> {
    let name = redacted(url);
    let (plain, tls) = split_tls(url)?;
    let mut config = postgres::Config::from_str(&plain)
        .map_err(|e| Error::usage(format!("the state URL {name} is not a PostgreSQL URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_application_name().is_none() {
        config.application_name("moat");
    }
    let connected = match &tls {
        Tls::Plain => config.connect(postgres::NoTls),
        Tls::Verified { root } => {
            let client = crate::net::client_config(root.as_deref(), None, crate::net::SSLROOTCERT)?;
            config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(
                (*client).clone(),
            ))
        }
    };
    connected.map_err(|e| {
        if let Some(why) = tls_refusal(&e) {
            return Error::new(
                Exit::Unavailable,
                Code::StateUnavailable,
                format!("cannot connect to {name}: its TLS certificate was refused: {why}"),
            )
            .with_hint(
                "name the CA that signed it (or the server's own certificate) with sslrootcert=FILE in the URL",
            );
        }
        let hint = match tls {
            Tls::Plain => {
                "check that PostgreSQL is running and the URL's host, port, user and database (add sslmode=require if it takes only TLS)"
            }
            Tls::Verified { .. } => {
                "check that PostgreSQL is running with ssl=on and the URL's host, port, user and database"
            }
        };
        let inner = Error::from(e);
        Error::new(
            Exit::Unavailable,
            Code::StateUnavailable,
            format!("cannot connect to {name}: {}", inner.message),
        )
        .with_hint(hint)
    })
}

/// The certificate refusal inside a connection error, in words.
fn tls_refusal(e: &postgres::Error) -> Option<String> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && let Some(r) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(crate::net::words(r, crate::net::SSLROOTCERT));
        }
        if let Some(r) = s.downcast_ref::<rustls::Error>() {
            return Some(crate::net::words(r, crate::net::SSLROOTCERT));
        }
        source = s.source();
    }
    None
}

/// The `application_name` a replica's sessions carry.
pub fn replica_app(id: &str) -> Result<String> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(Error::internal(format!("bad replica id {id:?}")));
    }
    Ok(format!("moat-replica:{id}"))
}

/// Notifications sent with `pg_notify` reach a replica here: its own
/// connection, `LISTEN`ing on a few channels.
pub struct Listener {
    client: postgres::Client,
}

impl Listener {
    pub(super) fn open(url: &Path, replica: &str, channels: &[&str]) -> Result<Listener> {
        let url = url
            .to_str()
            .ok_or_else(|| Error::internal("state URL is not UTF-8"))?;
        let mut client = connect(url)?;
        let mut sql = format!("SET application_name = '{}';", replica_app(replica)?);
        for c in channels {
            if !c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                return Err(Error::internal(format!("bad channel name {c:?}")));
            }
            sql.push_str(&format!(" LISTEN {c};"));
        }
        client.batch_execute(&sql)?;
        Ok(Listener { client })
    }

    /// The next notification, `(channel, payload)`, waiting up to `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Result<Option<(String, String)>> {
        use postgres::fallible_iterator::FallibleIterator;
        let mut n = self.client.notifications();
        let mut it = n.timeout_iter(timeout);
        Ok(it
            .next()?
            .map(|m| (m.channel().to_owned(), m.payload().to_owned())))
    }
}

pub fn open(url: &str, key_file: Option<&Path>, strict: bool) -> Result<Store> {
    let name = redacted(url);
    let key_file = key_file.ok_or_else(|| {
        Error::usage(format!(
            "the state {name} is a PostgreSQL database, which never holds the key: name the key file"
        ))
        .with_hint("pass --state-key-file FILE or set MOAT_KEY_FILE (every replica uses the same one)")
    })?;
    let client = connect(url)?;
    let mut conn = Conn::Pg(Box::new(PgConn::new(client)));
    migrations::run(&mut conn, &name)?;
    let mut store = Store {
        conn,
        pepper: [0; KEY_LEN],
        path: url.into(),
        key: key_file.to_owned(),
        audit_source: "cli",
        replica: None,
    };
    // The first opener of an empty database makes the key file (if it is
    // missing) and records its check; later ones must bring the same key.
    let recorded = store.read(|tx| tx.meta(KEY_CHECK))?;
    if let Some(dir) = key_file.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let pepper = load_or_create_key(key_file, recorded.is_none(), strict)?;
    let check = key_check(&pepper);
    let recorded = match recorded {
        Some(r) => r,
        None => store.write(|tx| match tx.meta(KEY_CHECK)? {
            Some(other) => Ok(other),
            None => {
                tx.set_meta(KEY_CHECK, &check)?;
                Ok(check.clone())
            }
        })?,
    };
    if !ct_eq(recorded.as_bytes(), check.as_bytes()) {
        return Err(Error::new(
            Exit::Unavailable,
            Code::KeyInvalid,
            format!(
                "the key file {} does not belong to {name}",
                key_file.display()
            ),
        )
        .with_hint("every replica must use the key file the database was started with"));
    }
    store.pepper = pepper;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redacted("postgres://moat:s3cret@db.example:5432/moat"),
            "postgres://moat:***@db.example:5432/moat"
        );
        assert_eq!(
            redacted("postgres://moat@/moat?host=/run"),
            "postgres://moat@/moat?host=/run"
        );
        assert_eq!(
            redacted("postgres:///moat?password=hunter2&host=/run"),
            "postgres:///moat?password=***&host=/run"
        );
        assert_eq!(url(Path::new("/var/lib/moat/state.db")), None);
        assert!(url(Path::new("postgresql://h/db")).is_some());
    }

    #[test]
    fn tls_options_leave_the_url_before_the_driver_sees_it() {
        let plain = |u: &str| split_tls(u).unwrap();
        assert_eq!(
            plain("postgres://h/db"),
            ("postgres://h/db".into(), Tls::Plain)
        );
        assert_eq!(
            plain("postgres://h/db?sslmode=prefer&connect_timeout=3"),
            ("postgres://h/db?connect_timeout=3".into(), Tls::Plain)
        );
        assert_eq!(
            plain("postgres://h/db?sslmode=require"),
            (
                "postgres://h/db?sslmode=require".into(),
                Tls::Verified { root: None }
            )
        );
        assert_eq!(
            plain("postgres://h/db?sslrootcert=%2Fetc%2Fmoat%2Fca.pem&sslmode=verify-full"),
            (
                "postgres://h/db?sslmode=require".into(),
                Tls::Verified {
                    root: Some("/etc/moat/ca.pem".into())
                }
            )
        );
        // A root certificate alone means the operator wants it checked.
        assert_eq!(
            plain("postgres://h/db?sslrootcert=ca.pem").1,
            Tls::Verified {
                root: Some("ca.pem".into())
            }
        );
        for bad in [
            "postgres://h/db?sslmode=sometimes",
            "postgres://h/db?sslmode=disable&sslrootcert=x",
        ] {
            let e = split_tls(bad).unwrap_err();
            assert_eq!(e.exit, Exit::Usage, "{bad}");
        }
    }
}
