//! The state: opening it safely (an SQLite file with its permissions, WAL
//! and busy timeout, or a PostgreSQL database; the pepper key file either
//! way), migrations, and transactions. All SQL lives under this module.

mod audit;
mod copy;
mod keys;
mod migrations;
pub mod pg;
mod policy;
mod relays;
pub(crate) mod sql;
mod sql_error;
mod tokens;
mod watch;
mod workers;

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::RngExt;
use rusqlite::{Connection, OpenFlags};

pub use sql::Engine;
use sql::{Conn, Mode, Txn, args};

use crate::error::{Code, Error, Exit, Result};

pub use audit::AuditQuery;
pub use copy::{CopyReport, copy_state};
pub use keys::KeyRow;
pub use migrations::SCHEMA_VERSION;
pub use policy::{GrantFilter, SnapshotRow, SnapshotSet};
pub use relays::{RELAY_DONE, RELAY_QUEUED, RelayState};
pub use tokens::{TokenFilter, TokenRow};
pub use workers::{CredentialRow, WorkerRow};

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Length of the pepper in `state.key`.
pub const KEY_LEN: usize = 32;

/// An open state (file or database) with its pepper.
pub struct Store {
    conn: Conn,
    pepper: [u8; KEY_LEN],
    path: PathBuf,
    key: PathBuf,
    audit_source: &'static str,
    /// The serve replica this process is (PostgreSQL), recorded on the
    /// workers whose sockets it holds.
    replica: Option<String>,
}

/// A transaction on the state file. Reads and writes go through its methods.
pub struct Tx<'a> {
    tx: Txn<'a>,
    pepper: &'a [u8; KEY_LEN],
    /// Default `source` of audit events appended in this transaction.
    source: &'static str,
    /// The chain's head after this transaction's last append, so a batch of
    /// appends reads it from the database once.
    head: Option<crate::audit::Head>,
    /// Set by every write to grants or memberships; the commit then bumps
    /// the policy generation once.
    policy_changed: bool,
    /// See [`Store::set_replica`].
    replica: Option<&'a str>,
    /// A [`Store::write_unordered`] transaction, which may not append to
    /// the audit chain.
    unordered: bool,
}

/// The store as an operation that does slow work between its reads and its
/// writes reaches it: locally the one open `Store`; in serve the shared one,
/// locked for each read or write only, so slow work (argon2) never runs
/// while others wait for the lock.
pub trait Access {
    /// Run `f` on the store.
    fn with<T>(&mut self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T>;
}

impl Access for Store {
    fn with<T>(&mut self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        f(self)
    }
}

impl<A: Access + ?Sized> Access for &mut A {
    fn with<T>(&mut self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        (**self).with(f)
    }
}

impl Access for &std::sync::Mutex<Store> {
    fn with<T>(&mut self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        f(&mut self.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Store {
    /// Open (creating if needed) the state file at `path` and its key file.
    /// Refuses files that group or others can access.
    /// A `postgres://` URL in place of the path opens that database
    /// instead, with the key file `key_file` (see [`Store::open_at`]).
    pub fn open(path: &Path) -> Result<Store> {
        Self::open_at(path, None)
    }

    /// Open the state at `path`, with its pepper in `key_file` (default:
    /// beside an SQLite file; required for PostgreSQL, where every replica
    /// names the same key file).
    pub fn open_at(path: &Path, key_file: Option<&Path>) -> Result<Store> {
        Self::open_inner(path, key_file, true)
    }

    /// Open without refusing loose permissions. Only for `audit check`, which
    /// reports them as findings instead of stopping at them.
    pub fn open_ignoring_permissions(path: &Path, key_file: Option<&Path>) -> Result<Store> {
        Self::open_inner(path, key_file, false)
    }

    fn open_inner(path: &Path, key_file: Option<&Path>, strict: bool) -> Result<Store> {
        if let Some(url) = pg::url(path) {
            return pg::open(url, key_file, strict);
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)?;
        }
        let key_path = key_file.map_or_else(|| key_path(path), Path::to_owned);
        let is_new = match fs::metadata(path) {
            // A new state file appears whole (see `create_initialized`), so
            // an empty one is damage or a mistake, never a state to start.
            Ok(m) if m.len() == 0 => {
                return Err(Error::new(
                    Exit::Unavailable,
                    Code::StateEmpty,
                    format!("{} is empty: it is not a moat state file", path.display()),
                )
                .with_hint("restore it from backup, or remove it to start a new state"));
            }
            Ok(_) => false,
            Err(e) if e.kind() == ErrorKind::NotFound => true,
            Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
        };
        let pepper = load_or_create_key(&key_path, is_new, strict)?;
        if is_new {
            create_initialized(path)?;
        }
        if strict {
            check_private(path, "state file")?;
        }

        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::new(
                Exit::Unavailable,
                Code::StateUnavailable,
                format!("could not put {} in WAL mode (got {mode})", path.display()),
            ));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Up to 16 MiB of page cache (allocated as used): a long-running
        // serve otherwise re-reads its hot pages from the OS on every write.
        conn.pragma_update(None, "cache_size", -16384)?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        conn.set_prepared_statement_cache_capacity(64);
        let mut store = Store {
            conn: Conn::Lite(conn),
            pepper,
            path: path.to_owned(),
            key: key_path,
            audit_source: "cli",
            replica: None,
        };
        migrations::run(&mut store.conn, &path.display().to_string())?;
        Ok(store)
    }

    /// The key file holding the pepper.
    pub fn key_file(&self) -> &Path {
        &self.key
    }

    /// Which engine holds this state.
    pub fn engine(&self) -> Engine {
        self.conn.engine()
    }

    /// The state file's path (for PostgreSQL, the URL as given).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stop this connection's commits from checkpointing the WAL, and return
    /// a second connection that does it instead. A long-running serve calls
    /// this so no request waits behind a checkpoint's copy and fsync; the
    /// caller runs [`Checkpointer::run`] every so often.
    /// PostgreSQL checkpoints on its own: `None` there.
    pub fn separate_checkpoints(&self) -> Result<Option<Checkpointer>> {
        let Conn::Lite(own) = &self.conn else {
            return Ok(None);
        };
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        own.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(Some(Checkpointer { conn }))
    }

    /// Name the origin recorded on audit events that do not set their own
    /// (`cli` by default; serve uses `serve`).
    pub fn set_audit_source(&mut self, source: &'static str) {
        self.audit_source = source;
    }

    /// Name this process as serve replica `id`: workers it connects record
    /// it, and on PostgreSQL its sessions carry it (`moat-replica:<id>`),
    /// which is how other replicas tell that it is alive.
    pub fn set_replica(&mut self, id: &str) -> Result<()> {
        if let Conn::Pg(pg) = &mut self.conn {
            pg.client.batch_execute(&format!(
                "SET application_name = '{}'",
                pg::replica_app(id)?
            ))?;
        }
        self.replica = Some(id.to_owned());
        Ok(())
    }

    /// This process's replica id, once [`Store::set_replica`] named it.
    pub fn replica(&self) -> Option<&str> {
        self.replica.as_deref()
    }

    /// A second connection that waits for notifications on `channels`
    /// (PostgreSQL `LISTEN`), named as this replica. `None` on SQLite.
    pub fn listen(&self, channels: &[&str]) -> Result<Option<pg::Listener>> {
        match (&self.conn, &self.replica) {
            (Conn::Pg(_), Some(r)) => pg::Listener::open(&self.path, r, channels).map(Some),
            _ => Ok(None),
        }
    }

    /// The pepper. Only HMAC code should need it.
    pub fn pepper(&self) -> &[u8; KEY_LEN] {
        &self.pepper
    }

    /// Run `f` in a write transaction (`BEGIN IMMEDIATE`): other writers queue
    /// behind it, and nothing is written unless `f` returns `Ok`.
    pub fn write<T>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        self.write_in(Mode::Write, f)
    }

    /// Run `f` in a write transaction outside the writers' queue (see
    /// [`Mode::Unordered`]): for the relays between replicas, whose rows
    /// only their two replicas touch, so a relayed step does not wait
    /// behind every other writer three times. It cannot append audit events.
    pub fn write_unordered<T>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        self.write_in(Mode::Unordered, f)
    }

    fn write_in<T>(&mut self, mode: Mode, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let tx = self.conn.begin(mode)?;
        let mut tx = Tx {
            tx,
            pepper: &self.pepper,
            source: self.audit_source,
            head: None,
            policy_changed: false,
            replica: self.replica.as_deref(),
            unordered: mode == Mode::Unordered,
        };
        let out = f(&mut tx)?;
        if tx.policy_changed {
            tx.bump_policy_generation()?;
        }
        tx.tx.commit()?;
        Ok(out)
    }

    /// Run `f` in a read transaction: one consistent snapshot.
    pub fn read<T>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let tx = self.conn.begin(Mode::Read)?;
        let mut tx = Tx {
            tx,
            pepper: &self.pepper,
            source: self.audit_source,
            head: None,
            policy_changed: false,
            replica: self.replica.as_deref(),
            unordered: false,
        };
        f(&mut tx)
    }

    /// Rewrite the state file without its free pages (SQLite `VACUUM`), then
    /// checkpoint so the file itself shrinks. Needs the write lock for the
    /// whole rewrite (other writers wait, up to the busy timeout) and free
    /// disk for a temporary copy of the live data.
    pub fn vacuum(&mut self) -> Result<VacuumReport> {
        let (bytes_before, _) = self.read(|tx| tx.space())?;
        match &mut self.conn {
            Conn::Lite(conn) => {
                conn.execute_batch("VACUUM")?;
                // The rewrite went through the WAL, which now holds a copy of
                // the whole database: copy it back and truncate both files.
                // With another process reading (a running serve) part of that
                // may be left to its next checkpoint; the space is free inside
                // the file either way.
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            }
            // Plain VACUUM: it frees space for reuse without locking out
            // the other replicas (FULL would rewrite every table under an
            // exclusive lock).
            Conn::Pg(pg) => pg.client.batch_execute("VACUUM")?,
        }
        let (bytes_after, _) = self.read(|tx| tx.space())?;
        Ok(VacuumReport {
            bytes_before,
            bytes_after,
        })
    }
}

/// What [`Store::vacuum`] did to the state file's size.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct VacuumReport {
    /// Bytes the database used before (pages, free ones included).
    pub bytes_before: u64,
    /// Bytes it uses after.
    pub bytes_after: u64,
}

/// The size the write-ahead log is cut back to when it starts over. A
/// burst (an enrolment storm) grows it; without a limit the file keeps its
/// high-water size for good (12 MB after 500 enrolments, ~140 MB after
/// 10,000, in the fleet simulator).
const WAL_SIZE_LIMIT: i64 = 4 * 1024 * 1024;

/// Copies the WAL back into the state file from its own connection.
pub struct Checkpointer {
    conn: Connection,
}

impl Checkpointer {
    /// One passive checkpoint: copies what no reader still needs, never
    /// blocks writers, and lets the next writer restart the WAL from its start.
    /// Returns (frames in the WAL, frames copied back).
    pub fn run(&self) -> Result<(i64, i64)> {
        Ok(self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })?)
    }
}

impl Tx<'_> {
    /// The pepper, for HMACs computed inside a transaction.
    pub fn pepper(&self) -> &[u8; KEY_LEN] {
        self.pepper
    }

    /// A value in the meta table.
    pub(super) fn meta(&self, key: &str) -> Result<Option<String>> {
        self.tx
            .row("SELECT value FROM meta WHERE key = ?1", args![key], |r| {
                r.get(0)
            })
    }

    /// Set a value in the meta table.
    pub(super) fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.tx.exec(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            args![key, value],
        )?;
        Ok(())
    }

    /// The database's size and how much of it is free pages, in bytes.
    /// On PostgreSQL: the database's size, and no free pages (autovacuum
    /// reuses them; there is nothing for `--vacuum` to give back).
    pub fn space(&self) -> Result<(u64, u64)> {
        let one = |sql: &str| -> Result<u64> {
            let v: i64 = self.tx.row(sql, args![], |r| r.get(0))?.unwrap_or(0);
            Ok(u64::try_from(v).unwrap_or(0))
        };
        match self.tx.engine() {
            Engine::Sqlite => {
                let page = one("PRAGMA page_size")?;
                Ok((
                    one("PRAGMA page_count")? * page,
                    one("PRAGMA freelist_count")? * page,
                ))
            }
            Engine::Postgres => Ok((one("SELECT pg_database_size(current_database())")?, 0)),
        }
    }
}

/// The state as messages show it: a path, or a URL without its password.
pub fn shown(state: &Path) -> String {
    match pg::url(state) {
        Some(url) => pg::redacted(url),
        None => state.display().to_string(),
    }
}

/// Whether `--state` names a PostgreSQL database (a `postgres://` URL)
/// rather than an SQLite file.
pub fn is_database_url(state: &Path) -> bool {
    pg::url(state).is_some()
}

/// The key file that belongs to a state file: `state.db` → `state.key`.
pub fn key_path(state: &Path) -> PathBuf {
    state.with_extension("key")
}

fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(format!("cannot create directory {}", dir.display()), e))
}

/// Create a state file with its schema in place: built under a temporary
/// name and linked into place (a link never replaces a file, so when two
/// processes race, the first wins and the other opens its file).
fn create_initialized(path: &Path) -> Result<()> {
    let tmp = path.with_extension(format!("db.new{}", rand::rng().random::<u64>()));
    let build = || -> Result<()> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| Error::io(format!("cannot create {}", tmp.display()), e))?;
        let conn = Connection::open(&tmp)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let mut conn = Conn::Lite(conn);
        migrations::run(&mut conn, &path.display().to_string())?;
        if let Conn::Lite(conn) = conn {
            conn.close().map_err(|(_, e)| Error::from(e))?;
        }
        Ok(())
    };
    let built = build().and_then(|()| match fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io(format!("cannot create {}", path.display()), e)),
    });
    for leftover in ["", "-wal", "-shm"] {
        let mut p = tmp.clone().into_os_string();
        p.push(leftover);
        let _ = fs::remove_file(p);
    }
    built
}

/// Refuse a file that group or others can read or write.
pub fn check_private(path: &Path, what: &str) -> Result<()> {
    let meta =
        fs::metadata(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::new(
            Exit::Unavailable,
            Code::InsecurePermissions,
            format!(
                "{what} {} has mode {mode:o}: group or others can access it",
                path.display()
            ),
        )
        .with_hint(format!("run: chmod 600 {}", path.display())));
    }
    Ok(())
}

/// Read the pepper, creating it (atomically, 0600) when this is a new state.
fn load_or_create_key(path: &Path, may_create: bool, strict: bool) -> Result<[u8; KEY_LEN]> {
    if !path.exists() {
        if !may_create {
            return Err(Error::new(
                Exit::Unavailable,
                Code::KeyMissing,
                format!(
                    "the key file {} is missing but the state file already holds data",
                    path.display()
                ),
            )
            .with_hint("restore state.key from backup; without it no credential or audit hash can be checked"));
        }
        let mut key = [0u8; KEY_LEN];
        rand::rng().fill(&mut key[..]);
        let tmp = path.with_extension(format!("key.tmp{}", rand::rng().random::<u64>()));
        let write_tmp = || -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&key)?;
            f.sync_all()
        };
        write_tmp().map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
        // hard_link fails if another process created the key first; theirs wins.
        let linked = fs::hard_link(&tmp, path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(format!("cannot create {}", path.display()), e)),
        }
    }
    if strict {
        check_private(path, "key file")?;
    }
    let mut buf = Vec::with_capacity(KEY_LEN);
    fs::File::open(path)
        .and_then(|f| f.take(KEY_LEN as u64 + 1).read_to_end(&mut buf))
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    <[u8; KEY_LEN]>::try_from(buf.as_slice()).map_err(|_| {
        Error::new(
            Exit::Unavailable,
            Code::KeyInvalid,
            format!(
                "the key file {} must hold exactly {KEY_LEN} bytes",
                path.display()
            ),
        )
    })
}
