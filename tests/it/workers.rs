//! End to end: a real serve and real `worker connect` processes on loopback
//! (DESIGN §7, issue: workers).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::Message;

use crate::common::*;

const SECRET_VALUE: &str = "s3cr3t-greeting-value-9f1c";

/// A `worker connect` process; killed on drop.
pub(crate) struct WorkerProc {
    pub(crate) child: Child,
    log: PathBuf,
}

impl WorkerProc {
    pub(crate) fn start(
        env: &Env,
        url: &str,
        token: Option<&str>,
        cache: &Path,
        extra: &[&str],
    ) -> WorkerProc {
        let log = env
            .dir
            .path()
            .join(format!("worker-{}.log", crate::common::unique()));
        let ws = url.replace("http", "ws"); // every replica of a --server list
        let mut c = env.std_cmd("worker");
        c.args([
            "connect",
            "--server",
            &ws,
            "--cache-dir",
            cache.to_str().unwrap(),
        ])
        .args(extra)
        .args(run_as(extra))
        .env("WORKER_OWN_SECRET", "do-not-leak-me")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
        if let Some(t) = token {
            c.args(["--token", t]);
        }
        WorkerProc {
            child: c.spawn().unwrap(),
            log,
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait for the process to exit by itself; its exit code.
    pub(crate) fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < within {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// Tests run as root in CI, where a worker refuses to run steps as root:
/// steps run as `nobody` unless the test chose.
pub(crate) fn run_as(extra: &[&str]) -> Vec<&'static str> {
    let chosen = extra
        .iter()
        .any(|a| *a == "--run-as" || *a == "--allow-root");
    if chosen || !rustix::process::geteuid().is_root() {
        vec![]
    } else {
        vec!["--run-as", "nobody"]
    }
}

impl Drop for WorkerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) struct Fleet {
    pub(crate) env: Env,
    pub(crate) server: Server,
    pub(crate) admin: String,
}

impl Fleet {
    /// A serve that rotates credentials every 2 s and audits each rotation,
    /// so tests see rotations within a few heartbeats.
    pub(crate) fn new() -> Fleet {
        Fleet::with(&["--rotate-every", "2s", "--audit-rotations"])
    }

    /// A serve with the test secrets file and `extra` flags; heartbeats
    /// every 2 s unless `extra` says otherwise.
    pub(crate) fn with(extra: &[&str]) -> Fleet {
        Fleet::on(Env::new(), extra)
    }

    /// [`Fleet::with`] on `env`'s state (a PostgreSQL one, say).
    pub(crate) fn on(env: Env, extra: &[&str]) -> Fleet {
        let beat: &[&str] = if extra.contains(&"--heartbeat-every") {
            &[]
        } else {
            &["--heartbeat-every", "2s"]
        };
        let secrets = env.dir.path().join("secrets.json");
        std::fs::write(
            &secrets,
            json!({"GREETING": SECRET_VALUE, "OTHER": "unreferenced-value-77"}).to_string(),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
        env.store();
        let server = Server::with_jwt(
            &env,
            &[
                &[
                    "--auth-mode",
                    "jwt",
                    "--secrets-file",
                    secrets.to_str().unwrap(),
                ],
                beat,
                extra,
            ]
            .concat(),
        );
        Fleet {
            env,
            server,
            admin: jwt("admin", "admin", 3600),
        }
    }

    /// Stop serve (or kill it, with no goodbye to anyone) and start it again
    /// on the same port and state, with the default flags.
    pub(crate) fn restart(&mut self, kill: bool) {
        let port = self.server.url.rsplit(':').next().unwrap().to_owned();
        if kill {
            let _ = self.server.child.kill();
            let _ = self.server.child.wait();
        } else {
            self.server.stop();
        }
        let secrets = self.env.dir.path().join("secrets.json");
        let args = [
            "--auth-mode",
            "jwt",
            "--port",
            &port,
            "--secrets-file",
            secrets.to_str().unwrap(),
            "--heartbeat-every",
            "2s",
        ];
        self.server = Server::with_jwt(&self.env, &args);
    }

    pub(crate) fn remote(&self, bin: &str, args: &[&str]) -> std::process::Output {
        self.env
            .cmd(bin)
            .args(args)
            .env("MOAT_SERVER", &self.server.url)
            .env("MOAT_AUTH_TOKEN", &self.admin)
            .output()
            .unwrap()
    }

    pub(crate) fn enrol_token(&self, args: &[&str]) -> String {
        self.env.create(args)["token"].as_str().unwrap().to_owned()
    }

    pub(crate) fn cache(&self, name: &str) -> PathBuf {
        self.env.dir.path().join(name)
    }

    pub(crate) fn workers(&self) -> Vec<Value> {
        let out = self.remote("worker", &["list", "--all", "--format", "json"]);
        serde_json::from_slice::<Vec<Value>>(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", stderr(&out)))
    }

    pub(crate) fn wait_connected(&self, name: &str, within: Duration) {
        let start = Instant::now();
        while start.elapsed() < within {
            if self
                .workers()
                .iter()
                .any(|w| w["name"] == name && w["status"] == "connected")
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "worker {name} did not connect within {within:?}: {:?}",
            self.workers()
        );
    }

    /// Enrol a worker named `name` with a fresh default enrol token, cache
    /// directory `name`, and `extra` flags; wait until it is connected.
    pub(crate) fn start_worker(&self, name: &str, extra: &[&str]) -> WorkerProc {
        let token = self.enrol_token(&[]);
        let label = format!("name={name}");
        let mut args = vec!["--label", label.as_str()];
        args.extend_from_slice(extra);
        let w = WorkerProc::start(
            &self.env,
            &self.server.url,
            Some(&token),
            &self.cache(name),
            &args,
        );
        self.wait_connected(name, Duration::from_secs(10));
        w
    }

    pub(crate) fn dispatch(&self, to: &str, extra: &[&str], argv: &[&str]) -> (i32, Value) {
        let mut args = vec!["dispatch", "--to", to, "--format", "json"];
        args.extend_from_slice(extra);
        args.push("--");
        args.extend_from_slice(argv);
        let out = self.remote("worker", &args);
        // Not JSON (a failure): keep what the client said, for the assertion message.
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| Value::String(stderr(&out)));
        (code(&out), v)
    }
}

#[test]
fn a_dispatch_gets_its_secret_and_the_record_does_not() {
    let f = Fleet::new();
    let _w = f.start_worker("build-1", &[]);

    let (code, v) = f.dispatch(
        "build-1",
        &["--secret", "GREETING"],
        &["sh", "-c", "echo $GREETING; env"],
    );
    assert_eq!(
        code,
        0,
        "{v}\nworker: {}\nserve: {}",
        _w.log(),
        f.server.stderr()
    );
    let out = v["stdout"].as_str().unwrap();
    assert!(out.starts_with(SECRET_VALUE), "{out}");
    // The step sees only its own secrets: not the worker's env, not other secrets.
    assert!(
        !out.contains("do-not-leak-me") && !out.contains("WORKER_OWN_SECRET"),
        "{out}"
    );
    assert!(!out.contains("unreferenced-value-77"), "{out}");
    assert!(
        !out.contains(&format!("HOME={}", f.env.dir.path().display())),
        "{out}"
    );

    // The exit code mirrors the step's, like ssh.
    assert_eq!(f.dispatch("build-1", &[], &["sh", "-c", "exit 7"]).0, 7);
    let metrics = ureq::get(format!("{}/metrics", f.server.url))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(metrics.contains("moat_dispatches_total 2"), "{metrics}");
    assert!(metrics.contains("moat_connected_workers 1"), "{metrics}");

    // Let at least one heartbeat rotate the credential.
    std::thread::sleep(Duration::from_millis(2_500));
    let stored = f
        .env
        .query_text("SELECT stdout FROM dispatches ORDER BY created_at LIMIT 1")
        .remove(0);
    assert!(stored.starts_with("[REDACTED]"), "{stored}");
    let state = f.env.state_bytes();
    assert!(
        !state
            .windows(SECRET_VALUE.len())
            .any(|w| w == SECRET_VALUE.as_bytes()),
        "the secret value is in the state"
    );
    assert!(
        !f.server.stderr().contains(SECRET_VALUE),
        "the secret value is in serve's log"
    );
    let log = f.env.json("audit", &["log"]);
    assert!(!log.to_string().contains(SECRET_VALUE));
    for t in [
        "worker_connected",
        "credential_rotated",
        "dispatch_sent",
        "secret_resolved",
        "dispatch_finished",
    ] {
        assert!(
            log.as_array().unwrap().iter().any(|e| e["type"] == t),
            "no {t} event"
        );
    }
    f.env.assert_audit_intact();
}

#[test]
fn one_use_tokens_refuse_a_second_machine_and_the_first_resumes() {
    let f = Fleet::new();
    let token = f.enrol_token(&["--max-uses", "1"]);
    let mut first = WorkerProc::start(
        &f.env,
        &f.server.url,
        Some(&token),
        &f.cache("a"),
        &["--label", "name=a"],
    );
    f.wait_connected("a", Duration::from_secs(10));
    let mut second = WorkerProc::start(
        &f.env,
        &f.server.url,
        Some(&token),
        &f.cache("b"),
        &["--label", "name=b"],
    );
    assert_eq!(
        second.wait_exit(Duration::from_secs(10)),
        Some(4),
        "{}",
        second.log()
    );
    assert!(
        second.log().contains("token_exhausted") || second.log().contains("no uses left"),
        "{}",
        second.log()
    );

    // Restart the first machine: it resumes with its saved credential, no token needed.
    let _ = first.child.kill();
    let _ = first.child.wait();
    std::thread::sleep(Duration::from_millis(500));
    let _again = WorkerProc::start(&f.env, &f.server.url, None, &f.cache("a"), &[]);
    f.wait_connected("a", Duration::from_secs(10));
    let resumes = f.env.json("audit", &["log", "--type", "worker_connected"]);
    assert!(
        resumes
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["details"]["via"] == "resume"),
        "{resumes}"
    );
    assert_eq!(f.workers().len(), 1);
}

fn revoke_cuts_within_a_second(by_token: bool) {
    let f = Fleet::new();
    let mut w = f.start_worker("victim", &[]);
    let id = f.workers()[0]["id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    let out = if by_token {
        let tok = f.workers()[0]["token"].as_str().unwrap().to_owned();
        f.env.run("token", &["revoke", &tok], b"")
    } else {
        f.remote("worker", &["revoke", &id])
    };
    assert!(out.status.success(), "{}", stderr(&out));
    let code = w.wait_exit(Duration::from_secs(3));
    let took = start.elapsed();
    assert_eq!(code, Some(4), "{}", w.log());
    assert!(
        took < Duration::from_millis(1500),
        "socket cut after {took:?}"
    );
    assert!(w.log().contains("revoked"), "{}", w.log());
    assert_eq!(f.workers()[0]["status"], "revoked");
}

#[test]
fn token_revocation_cuts_the_live_socket() {
    revoke_cuts_within_a_second(true);
}

#[test]
fn worker_revocation_cuts_the_live_socket() {
    revoke_cuts_within_a_second(false);
}

/// Present a (captured) credential as a resuming worker would; serve's reply.
/// Resume with `credential` on a raw socket; serve's first answer.
pub(crate) fn resume_with(url: &str, credential: &str, machine_id: &str) -> Value {
    let mut s = raw_socket(url);
    let hello = json!({"type": "resume", "credential": credential.trim(), "machine_id": machine_id.trim(), "instance": "x", "protocol": moat::worker::PROTOCOL});
    s.send(Message::text(hello.to_string())).unwrap();
    next_text(&mut s)
}

/// The contents of a file the worker writes, once it exists.
/// Poll `worker list` through serve at `https` (trusting `ca`) until
/// `name` is connected; after 10 s, the last command's stderr.
pub(crate) fn wait_listed_connected(
    env: &Env,
    https: &str,
    ca: &Path,
    admin: &str,
    name: &str,
) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let out = env
            .cmd("worker")
            .args(["list", "--server", https, "--ca-file", ca.to_str().unwrap()])
            .env("MOAT_AUTH_TOKEN", admin)
            .output()
            .unwrap();
        let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if list
            .iter()
            .any(|w| w["name"] == name && w["status"] == "connected")
        {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err(stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn wait_for_file(p: &Path) -> String {
    let start = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(p) {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{} never appeared",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A raw protocol client, for frames a real worker would never send.
pub(crate) fn raw_socket(
    url: &str,
) -> tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>> {
    let ws = format!("{}/v1/workers/connect", url.replacen("http", "ws", 1));
    let (s, _) = tungstenite::connect(ws.as_str()).unwrap();
    s
}

pub(crate) fn next_text(
    s: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
) -> Value {
    loop {
        match s.read() {
            Ok(Message::Text(t)) => return serde_json::from_str(&t).unwrap(),
            Ok(Message::Close(_)) | Err(_) => return Value::Null,
            Ok(_) => {}
        }
    }
}

#[test]
fn a_captured_old_credential_revokes_the_worker() {
    let f = Fleet::new();
    let token = f.enrol_token(&[]);
    let cache = f.cache("c");
    let mut w = WorkerProc::start(
        &f.env,
        &f.server.url,
        Some(&token),
        &cache,
        &["--label", "name=stolen"],
    );
    f.wait_connected("stolen", Duration::from_secs(10));
    let captured = wait_for_file(&cache.join("credential"));
    let machine = std::fs::read_to_string(cache.join("machine-id")).unwrap();
    // Two heartbeats later the captured credential has been rotated out.
    let start = Instant::now();
    while std::fs::read_to_string(cache.join("credential")).unwrap() == captured
        || start.elapsed() < Duration::from_secs(5)
    {
        assert!(start.elapsed() < Duration::from_secs(15), "no rotation");
        std::thread::sleep(Duration::from_millis(200));
    }
    let reply = resume_with(&f.server.url, &captured, &machine);
    assert_eq!(reply["code"], "credential_reuse", "{reply}");
    assert_eq!(w.wait_exit(Duration::from_secs(3)), Some(4), "{}", w.log());
    assert_eq!(f.workers()[0]["status"], "revoked");
    assert_eq!(
        f.env
            .json("audit", &["log", "--type", "credential_reuse"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A credential serve never issued (or has forgotten) is refused as
    // unknown and audited as an authentication failure, without its secret.
    let unknown =
        moat::credential::RawCredential::generate(moat::credential::CredentialKind::Worker)
            .expose();
    let reply = resume_with(&f.server.url, &unknown, &machine);
    assert_eq!(reply["code"], "invalid_credential", "{reply}");
    let failures = f.env.json("audit", &["log", "--type", "auth_failure"]);
    let failures = failures.as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["details"]["via"], "resume");
    assert_eq!(failures[0]["details"]["reason"], reply["code"]);
    assert_no_secret(
        failures[0].to_string().as_bytes(),
        secret_of(&unknown),
        "audit",
    );
}

#[test]
fn steps_time_out_with_their_children_and_the_allow_list_holds() {
    let f = Fleet::new();
    let token = f.enrol_token(&[]);
    let _w = WorkerProc::start(
        &f.env,
        &f.server.url,
        Some(&token),
        &f.cache("c"),
        &[
            "--label",
            "name=locked",
            "--allow-command",
            "/usr/bin/sh",
            "--allow-command",
            "/usr/bin/t*",
        ],
    );
    f.wait_connected("locked", Duration::from_secs(10));
    let marker = f.env.dir.path().join("orphan");
    let script = format!("(sleep 3; touch {}) & sleep 30", marker.display());
    let start = Instant::now();
    let (status, v) = f.dispatch("locked", &["--timeout", "1s"], &["sh", "-c", &script]);
    assert_eq!(
        status,
        124,
        "{v}\nserve: {}\nworker: {}",
        f.server.stderr(),
        _w.log()
    );
    assert!(start.elapsed() < Duration::from_secs(8));
    std::thread::sleep(Duration::from_secs(3));
    assert!(!marker.exists(), "the step's child outlived its timeout");

    let (status, v) = f.dispatch("locked", &[], &["env"]);
    assert_eq!(status, 126, "{v}");
    assert!(
        v["stderr"].as_str().unwrap().contains("--allow-command"),
        "{v}"
    );
    let (status, v) = f.dispatch("locked", &[], &["/usr/bin/true"]);
    assert_eq!(status, 0, "{v}\nserve: {}", f.server.stderr());

    // --select picks a worker by label instead of by name.
    let _other = f.start_worker("pooled", &["--label", "pool=build"]);
    let out = f.remote(
        "worker",
        &[
            "dispatch",
            "--select",
            "pool=build",
            "--format",
            "json",
            "--",
            "sh",
            "-c",
            "echo picked",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stdout"], "picked\n");
    let out = f.remote(
        "worker",
        &["dispatch", "--select", "pool=none", "--", "true"],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
}

#[test]
fn workers_reconnect_after_a_server_restart() {
    let mut f = Fleet::new();
    let _w = f.start_worker("steady", &[]);
    f.restart(false);
    // Backoff is capped at 5 s; allow one full cap plus the handshake.
    let restarted = Instant::now();
    while f.dispatch("steady", &[], &["true"]).0 != 0 {
        assert!(
            restarted.elapsed() < Duration::from_secs(9),
            "no reconnect within the backoff bound"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn bad_frames_close_that_socket_and_serving_goes_on() {
    let f = Fleet::new();
    let _w = f.start_worker("good", &[]);

    let mut s = raw_socket(&f.server.url);
    s.send(Message::text("{not json")).unwrap();
    assert_eq!(next_text(&mut s)["code"], "malformed_frame");

    let mut s = raw_socket(&f.server.url);
    s.send(Message::text(
        json!({"type": "heartbeat", "ack": null}).to_string(),
    ))
    .unwrap();
    assert_eq!(next_text(&mut s)["code"], "out_of_order");

    let mut s = raw_socket(&f.server.url);
    let _ = s.send(Message::text("x".repeat(8 * 1024 * 1024)));
    assert_eq!(
        next_text(&mut s),
        Value::Null,
        "an oversized frame closes the socket"
    );

    let mut s = raw_socket(&f.server.url);
    s.send(Message::text(json!({"type": "enroll", "token": "mte_x", "machine_id": "m", "instance": "i", "protocol": 99, "version": "0"}).to_string())).unwrap();
    assert_eq!(next_text(&mut s)["code"], "protocol_mismatch");

    // The real worker is still served.
    assert_eq!(f.dispatch("good", &[], &["true"]).0, 0);
}

/// Drive every worker-side event type once (for the audit coverage test):
/// returns the event types found in that state's audit log.
pub fn worker_event_types() -> std::collections::BTreeSet<String> {
    let f = Fleet::new();
    let token = f.enrol_token(&[]);
    let cache = f.cache("c");
    let mut w = WorkerProc::start(
        &f.env,
        &f.server.url,
        Some(&token),
        &cache,
        &["--label", "name=cov"],
    );
    f.wait_connected("cov", Duration::from_secs(10));
    assert_eq!(f.dispatch("cov", &["--secret", "GREETING"], &["true"]).0, 0);
    let id = f.workers()[0]["id"].as_str().unwrap().to_owned();
    assert!(f.remote("worker", &["drain", &id]).status.success());
    let captured = wait_for_file(&cache.join("credential"));
    let machine = std::fs::read_to_string(cache.join("machine-id")).unwrap();
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        resume_with(&f.server.url, &captured, &machine)["code"],
        "credential_reuse"
    );
    assert_eq!(w.wait_exit(Duration::from_secs(3)), Some(4));
    std::thread::sleep(Duration::from_millis(300));
    f.env.assert_ocsf_valid();
    let log = f.env.json("audit", &["log"]);
    log.as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn wss_with_a_private_ca_and_a_pinned_key() {
    use base64::Engine;
    let env = Env::new();
    let (ca, cert, key) = crate::serve::certificates(env.dir.path());
    env.store();
    let server = Server::tls(&env, &cert, &key);
    let pem = std::fs::read(&cert).unwrap();
    let der = ureq::tls::parse_pem(&pem)
        .find_map(|i| match i {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c.der().to_vec()),
            _ => None,
        })
        .unwrap();
    let pin = base64::engine::general_purpose::STANDARD
        .encode(moat::worker::client::spki_sha256(&der).unwrap());
    let wrong = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let url = server.url.replace("https://127.0.0.1", "wss://localhost");
    let connect = |pin: &str, cache: &str| {
        let token = env.create(&[])["token"].as_str().unwrap().to_owned();
        let log = env.dir.path().join(format!("{cache}.log"));
        let child = env
            .std_cmd("worker")
            .args([
                "connect",
                "--server",
                &url,
                "--cache-dir",
                env.dir.path().join(cache).to_str().unwrap(),
            ])
            .args([
                "--token",
                &token,
                "--ca-file",
                ca.to_str().unwrap(),
                "--pin-sha256",
                pin,
                "--label",
                &format!("name={cache}"),
            ])
            .args(run_as(&[]))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        WorkerProc { child, log }
    };
    let mut bad = connect(&wrong, "mitm");
    assert_eq!(
        bad.wait_exit(Duration::from_secs(10)),
        Some(5),
        "{}",
        bad.log()
    );
    assert!(bad.log().contains("--pin-sha256"), "{}", bad.log());

    let _good = connect(&pin, "pinned");
    let admin = jwt("admin", "admin", 600);
    let https = server.url.replace("127.0.0.1", "localhost");
    if let Err(e) = wait_listed_connected(&env, &https, &ca, &admin, "pinned") {
        panic!("pinned worker did not connect: {e}");
    }
}

#[test]
fn capacity_limits_concurrent_steps() {
    let f = Fleet::new();
    let _w = f.start_worker("single", &["--capacity", "1"]);
    let slow = {
        let (url, admin) = (f.server.url.clone(), f.admin.clone());
        let mut c = f.env.std_cmd("worker");
        c.args([
            "dispatch", "--to", "single", "--format", "json", "--", "sleep", "2",
        ])
        .env("MOAT_SERVER", url)
        .env("MOAT_AUTH_TOKEN", admin)
        .stdout(Stdio::piped());
        c.spawn().unwrap()
    };
    std::thread::sleep(Duration::from_millis(700));
    let out = f.remote("worker", &["dispatch", "--to", "single", "--", "true"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("capacity"), "{}", stderr(&out));
    let done = slow.wait_with_output().unwrap();
    assert!(done.status.success());
    assert_eq!(
        f.dispatch("single", &[], &["true"]).0,
        0,
        "room again once the step ends"
    );
}

#[test]
fn an_abandoned_dispatch_is_cancelled_on_the_worker() {
    let f = Fleet::new();
    let _w = f.start_worker("cancel-me", &[]);
    let marker = f.env.dir.path().join("finished");
    let script = format!("sleep 3; touch {}", marker.display());
    let mut client = f
        .env
        .std_cmd("worker")
        .args(["dispatch", "--to", "cancel-me", "--", "sh", "-c", &script])
        .env("MOAT_SERVER", &f.server.url)
        .env("MOAT_AUTH_TOKEN", &f.admin)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    client.kill().unwrap();
    let _ = client.wait();
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        !marker.exists(),
        "the step ran to completion after its caller left"
    );
    // The worker is still there and serving; the late result did not break its socket.
    assert_eq!(f.dispatch("cancel-me", &[], &["true"]).0, 0);
}
