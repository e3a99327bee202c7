//! Opening a PostgreSQL state: the URL, the connection, and the key file
//! every replica shares (checked against the database, never stored in it).

use std::path::Path;
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

/// A connection to the database at `url`.
fn connect(url: &str) -> Result<postgres::Client> {
    let name = redacted(url);
    let mut config = postgres::Config::from_str(url)
        .map_err(|e| Error::usage(format!("the state URL {name} is not a PostgreSQL URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_application_name().is_none() {
        config.application_name("moat");
    }
    if config.get_ssl_mode() == postgres::config::SslMode::Require {
        return Err(Error::new(
            Exit::Unavailable,
            Code::StateUnavailable,
            format!("{name} asks for TLS (sslmode=require), which this build does not speak to PostgreSQL yet"),
        )
        .with_hint("connect over loopback or a Unix socket without sslmode=require"));
    }
    let client = config.connect(postgres::NoTls).map_err(|e| {
        let inner = Error::from(e);
        Error::new(
            Exit::Unavailable,
            Code::StateUnavailable,
            format!("cannot connect to {name}: {}", inner.message),
        )
        .with_hint("check that PostgreSQL is running and the URL's host, port, user and database")
    })?;
    Ok(client)
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
}
