//! Shared helpers: a hermetic environment per test, running binaries,
//! snapshots of the state directory, and secret scanning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

/// A private directory with its own state file path.
pub struct Env {
    /// In remote mode: the running serve and the JWT to call it with.
    /// (Declared first so the server stops before its directory goes.)
    pub remote: Option<(Server, String)>,
    pub dir: tempfile::TempDir,
    /// On PostgreSQL: the state URL of this test's own database.
    pub pg: Option<String>,
}

/// A 32+ byte HS256 secret for test servers.
pub const JWT_SECRET: &str = "test-secret-of-at-least-thirty-two-bytes!";

/// An HS256 JWT for `sub` with `role`, valid for `secs` (negative: expired).
pub fn jwt(sub: &str, role: &str, secs: i64) -> String {
    let exp = (moat::time::now_ms() / 1000 + secs) as u64;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &serde_json::json!({"sub": sub, "role": role, "exp": exp}),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("encode jwt")
}

/// A running `serve` process on a loopback port chosen by the OS. Stopped
/// (SIGTERM, then kill) on drop; its stderr is kept in `log`.
pub struct Server {
    pub child: std::process::Child,
    pub url: String,
    pub log: PathBuf,
}

impl Server {
    /// Start serve on `state` with extra flags and env; waits until it listens.
    pub fn start(dir: &Path, state: &Path, args: &[&str], envs: &[(&str, &str)]) -> Server {
        use std::io::BufRead;
        let log = dir.join(format!("serve-{}.log", rand_suffix()));
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("serve"));
        c.env_clear()
            .env("HOME", dir)
            .env("MOAT_STATE", state)
            .args(if args.contains(&"--port") {
                &[][..]
            } else {
                &["--port", "0"][..]
            })
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"));
        if moat::store::is_database_url(state) {
            // The key file where Env keeps it (unless the caller names one).
            c.env("MOAT_KEY_FILE", dir.join("state/state.key"));
        }
        for (k, v) in envs {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("spawn serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read serve stdout");
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|_| {
            panic!(
                "serve did not start: {line:?}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        let url = v["listening"].as_str().expect("listening url").to_owned();
        Server { child, url, log }
    }

    /// Start serve on `env`'s state with extra flags and the test JWT secret.
    pub fn with_jwt(env: &Env, args: &[&str]) -> Server {
        let key = env.key();
        let mut envs = vec![("MOAT_JWT_SECRET", JWT_SECRET)];
        if env.pg.is_some() {
            envs.push(("MOAT_KEY_FILE", key.to_str().unwrap()));
        }
        Server::start(env.dir.path(), &env.state(), args, &envs)
    }

    /// Start serve over TLS with this certificate and key, JWT-authenticated.
    pub fn tls(env: &Env, cert: &Path, key: &Path) -> Server {
        let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
        Server::with_jwt(
            env,
            &["--cert-file", cert, "--key-file", key, "--auth-mode", "jwt"],
        )
    }

    /// Everything serve wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM and wait (graceful shutdown).
    pub fn stop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A process-wide counter for unique file names.
pub fn unique() -> u64 {
    rand_suffix()
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Define a test three times: against the local state file, against a
/// PostgreSQL state, and through a real serve (remote mode). The body gets
/// `env: &Env`.
#[macro_export]
macro_rules! both_modes {
    ($(#[$meta:meta])* fn $name:ident($env:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn body($env: &$crate::common::Env) $body
            $(#[$meta])*
            #[test]
            fn local() {
                body(&$crate::common::Env::new());
            }
            $(#[$meta])*
            #[test]
            fn postgres() {
                let env = $crate::common::Env::postgres();
                body(&env);
            }
            $(#[$meta])*
            #[test]
            fn remote() {
                let mut env = $crate::common::Env::remote();
                body(&env);
                // Stopped first: serve writes its access log in batches and
                // flushes it on shutdown, so the whole log is read.
                let log = env
                    .remote
                    .as_mut()
                    .map(|r| {
                        r.0.stop();
                        r.0.stderr()
                    })
                    .unwrap_or_default();
                assert!(log.contains("\"route\""), "serve logged no requests: {log}");
                // Secret hygiene: no token, secret or JWT reached serve's log.
                for marker in ["mte_", "mta_", "mtw_", "eyJ", "Bearer"] {
                    assert!(!log.contains(marker), "serve's log contains {marker}");
                }
            }
        }
    };
}

impl Env {
    /// A new environment on the engine the suite runs on: SQLite, or
    /// PostgreSQL when `MOAT_TEST_ENGINE=postgres` (scripts/test runs the
    /// suite both ways).
    pub fn new() -> Self {
        if std::env::var("MOAT_TEST_ENGINE").as_deref() == Ok("postgres") {
            return Env::postgres();
        }
        Env::sqlite()
    }

    /// A new environment on an SQLite state file, whatever the suite's
    /// engine (for what only a file has: its bytes, its mode, its WAL).
    pub fn sqlite() -> Self {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
            remote: None,
            pg: None,
        }
    }

    /// An environment whose state is a new, empty PostgreSQL database on
    /// the test run's cluster (its key file in the private directory).
    pub fn postgres() -> Self {
        let mut env = Env::sqlite();
        env.pg = Some(pg_database());
        env
    }

    /// Change the state behind moat's back (SQL run straight on either
    /// engine), as an attacker with the database would.
    pub fn tamper(&self, sql: &str) {
        match &self.pg {
            Some(url) => postgres::Client::connect(url, postgres::NoTls)
                .and_then(|mut c| c.batch_execute(sql))
                .expect("tamper with the database"),
            None => rusqlite::Connection::open(self.state())
                .and_then(|c| c.execute_batch(sql))
                .expect("tamper with the state file"),
        }
    }

    /// The first column of every row `sql` returns, as text (either engine).
    pub fn query_text(&self, sql: &str) -> Vec<String> {
        match &self.pg {
            Some(url) => postgres::Client::connect(url, postgres::NoTls)
                .and_then(|mut c| c.query(sql, &[]))
                .expect("query the database")
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect(),
            None => {
                let conn = rusqlite::Connection::open(self.state()).expect("open the state file");
                let mut stmt = conn.prepare(sql).expect("prepare");
                stmt.query_map([], |r| r.get::<_, String>(0))
                    .expect("query")
                    .map(|r| r.expect("row"))
                    .collect()
            }
        }
    }

    /// Open the state as the library sees it (either engine).
    pub fn store(&self) -> moat::store::Store {
        moat::store::Store::open_at(&self.state(), Some(&self.key())).expect("open the state")
    }

    /// An environment whose token/grant/reload/audit commands go through a
    /// real serve (JWT-authenticated admin) instead of the state file.
    pub fn remote() -> Self {
        let mut env = Env::new();
        // Create the state the way an operator would before starting serve.
        env.store();
        let server = Server::with_jwt(&env, &["--auth-mode", "token,jwt"]);
        env.remote = Some((server, jwt("admin", "admin", 3600)));
        env
    }

    /// The state: a file path, or on PostgreSQL the database's URL.
    pub fn state(&self) -> PathBuf {
        match &self.pg {
            Some(url) => PathBuf::from(url),
            None => self.dir.path().join("state/state.db"),
        }
    }

    pub fn key(&self) -> PathBuf {
        self.dir.path().join("state/state.key")
    }

    /// A command for one of the six binaries, with a cleared environment.
    pub fn cmd(&self, bin: &str) -> Command {
        let mut c = Command::cargo_bin(bin).expect("binary built");
        c.env_clear()
            .env("HOME", self.dir.path())
            .env("USER", "tester")
            .env("MOAT_STATE", self.state())
            .timeout(std::time::Duration::from_secs(60));
        if self.pg.is_some() {
            c.env("MOAT_KEY_FILE", self.key());
        }
        let remote = self
            .remote
            .as_ref()
            .filter(|_| matches!(bin, "token" | "grant" | "reload" | "audit" | "worker"));
        if let Some((server, token)) = remote {
            c.env("MOAT_SERVER", &server.url)
                .env("MOAT_AUTH_TOKEN", token);
        }
        c
    }

    /// A std `Command` for a binary (for spawning long-running processes).
    pub fn std_cmd(&self, bin: &str) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin(bin));
        c.env_clear()
            .env("HOME", self.dir.path())
            .env("USER", "tester")
            .env("MOAT_STATE", self.state());
        if self.pg.is_some() {
            c.env("MOAT_KEY_FILE", self.key());
        }
        c
    }

    /// Run `bin args...` with `stdin`, returning the raw output.
    pub fn run(&self, bin: &str, args: &[&str], stdin: &[u8]) -> Output {
        self.cmd(bin)
            .args(args)
            .write_stdin(stdin.to_vec())
            .output()
            .expect("run")
    }

    /// Run and require exit 0; parse stdout as JSON.
    pub fn json(&self, bin: &str, args: &[&str]) -> Value {
        self.json_in(bin, args, b"")
    }

    pub fn json_in(&self, bin: &str, args: &[&str], stdin: &[u8]) -> Value {
        let out = self.run(bin, args, stdin);
        assert!(
            out.status.success(),
            "{bin} {args:?} failed: {:?}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{bin} {args:?}: stdout is not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Create a token through the binary and return the parsed record.
    pub fn create(&self, args: &[&str]) -> Value {
        let mut full = vec!["create"];
        full.extend_from_slice(args);
        self.json("token", &full)
    }

    /// Every file in the state directory, by name. With a serve running,
    /// first let its WAL checkpoint (every 500 ms) land, so that a change
    /// copied from the WAL into the database is not mistaken for a write.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        if self.remote.is_some() {
            std::thread::sleep(std::time::Duration::from_millis(1100));
        }
        match &self.pg {
            Some(url) => {
                let mut m = pg_tables(url);
                m.extend(snapshot_dir(self.dir.path().join("state").as_path()));
                m
            }
            None => snapshot_dir(self.state().parent().expect("state dir")),
        }
    }

    /// All bytes of the state directory concatenated (for secret scanning).
    pub fn state_bytes(&self) -> Vec<u8> {
        self.snapshot().into_values().flatten().collect()
    }

    /// `audit verify` must report an intact chain.
    pub fn assert_audit_intact(&self) {
        let v = self.json("audit", &["verify"]);
        assert_eq!(v["intact"], true, "audit chain broken: {v}");
    }

    /// `audit export --schema ocsf` must validate against the official OCSF
    /// schema of the version each event names (tests/peers/ocsf_validate.py).
    /// Returns how many events were checked.
    pub fn assert_ocsf_valid(&self) -> usize {
        let out = self.run("audit", &["export", "--schema", "ocsf"], b"");
        assert!(out.status.success(), "{}", stderr(&out));
        let events = out.stdout.iter().filter(|b| **b == b'\n').count();
        let mut child = std::process::Command::new(peer("ocsf"))
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/ocsf_validate.py"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run the OCSF validator");
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&out.stdout).unwrap();
        let report = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&report.stdout);
        assert!(report.status.success(), "OCSF violations:\n{text}");
        assert!(
            text.contains(&format!("{events} events, 0 violations")),
            "{text}"
        );
        events
    }
}

/// The socket directory of this test run's PostgreSQL cluster
/// (`scripts/peers postgres`), started when a test first needs it and
/// stopped by the script once this process ends. Without PostgreSQL
/// installed the tests that need it fail; they never skip.
pub fn pg_cluster() -> &'static PgCluster {
    static CLUSTER: std::sync::OnceLock<PgCluster> = std::sync::OnceLock::new();
    CLUSTER.get_or_init(|| {
        use std::io::BufRead;
        let mut child =
            std::process::Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/peers"))
                .args(["postgres", &std::process::id().to_string()])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("run scripts/peers postgres");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the cluster's socket directory and port");
        let (dir, port) = line.trim().split_once(' ').unwrap_or_else(|| {
            panic!("scripts/peers postgres started no cluster (is Debian's postgresql installed? scripts/test installs it): {line:?}")
        });
        // It keeps running to stop the cluster when this process exits.
        std::mem::forget(child);
        PgCluster {
            dir: dir.to_owned(),
            port: port.parse().expect("the cluster's port"),
        }
    })
}

/// The test cluster: its socket directory (also holding `server.crt`, its
/// self-signed TLS certificate) and its TLS-only loopback port.
pub struct PgCluster {
    pub dir: String,
    pub port: u16,
}

/// A new, empty database on the cluster, by name.
pub fn pg_new_database() -> String {
    let PgCluster { dir, port } = pg_cluster();
    let name = format!("moat_{}_{}", std::process::id(), unique());
    let mut admin = postgres::Client::connect(
        &format!("host={dir} port={port} user=moat dbname=postgres"),
        postgres::NoTls,
    )
    .expect("connect to the test cluster");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create a test database");
    name
}

/// A new, empty database on the cluster, as a `postgres://` state URL
/// through its Unix socket.
pub fn pg_database() -> String {
    let PgCluster { dir, port } = pg_cluster();
    format!(
        "postgres://moat@/{}?host={dir}&port={port}",
        pg_new_database()
    )
}

/// Every row of every table of a PostgreSQL state, as text, by table.
pub fn pg_tables(url: &str) -> BTreeMap<String, Vec<u8>> {
    let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    let tables: Vec<String> = c
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .expect("list tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    tables
        .into_iter()
        .map(|t| {
            let rows = c
                .query(&format!("SELECT t::text FROM {t} t ORDER BY 1"), &[])
                .expect("read a table");
            let text: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            (format!("pg:{t}"), text.join("\n").into_bytes())
        })
        .collect()
}

/// The path `scripts/peers NAME` prints, setting the peer up the first time
/// (a venv from PyPI). A missing peer fails the test: it never skips.
pub fn peer(name: &str) -> PathBuf {
    let out =
        std::process::Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/peers"))
            .arg(name)
            .output()
            .expect("run scripts/peers");
    assert!(
        out.status.success(),
        "scripts/peers {name} failed; the test needs this peer:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

pub fn snapshot_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // SQLite's shared-memory index changes on reads; it holds no data.
            if name.ends_with("-shm") || name.starts_with("serve-") {
                continue;
            }
            out.insert(name, std::fs::read(e.path()).unwrap_or_default());
        }
    }
    out
}

/// The secret part of a raw token (between the id and the checksum).
pub fn secret_of(raw: &str) -> &str {
    let after_id = raw.splitn(3, '_').nth(2).expect("token has three parts");
    &after_id[..after_id.len() - 6]
}

/// Panics if any 8-character window of `secret` occurs in `haystack`.
pub fn assert_no_secret(haystack: &[u8], secret: &str, what: &str) {
    assert!(secret.len() >= 8);
    for i in 0..=secret.len() - 8 {
        let needle = &secret.as_bytes()[i..i + 8];
        assert!(
            !haystack.windows(8).any(|w| w == needle),
            "{what} contains part of a secret ({})",
            String::from_utf8_lossy(needle)
        );
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

/// An HTTP client that returns error statuses as responses.
pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}
