//! `worker connect`: keep one machine connected to serve over a WebSocket,
//! enrolling once with a token and then resuming with a session credential
//! that rotates at every heartbeat; run dispatched steps; reconnect with
//! capped, jittered exponential backoff; stop at once on permanent refusals.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::RngExt;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::{ClientMsg, HEARTBEAT_RANGE_S, PROTOCOL, QUIET_BEATS, ServerMsg, exec};
use crate::error::{Code, Error, Exit, Result};

/// What `worker connect` runs with.
#[derive(Debug, Clone)]
pub struct Options {
    /// The replica being dialled: one of `urls`.
    pub url: String,
    /// Every serve replica to try, in order (`--server A,B,...`).
    pub urls: Vec<String>,
    pub token: Option<String>,
    pub cache_dir: PathBuf,
    pub labels: BTreeMap<String, String>,
    pub capacity: u32,
    /// How steps are isolated (allow-list, user, Landlock).
    pub isolation: exec::Isolation,
    pub ca_file: Option<PathBuf>,
    /// SHA-256 of the server certificate's SubjectPublicKeyInfo, if pinned.
    pub pin_sha256: Option<[u8; 32]>,
}

/// Parse `--pin-sha256`: base64 (standard or URL-safe, padded or not) of 32 bytes.
pub fn parse_pin(b64: &str) -> Result<[u8; 32]> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let t = b64.trim();
    let bytes = STANDARD
        .decode(t)
        .or_else(|_| STANDARD_NO_PAD.decode(t))
        .or_else(|_| URL_SAFE.decode(t))
        .or_else(|_| URL_SAFE_NO_PAD.decode(t))
        .ok();
    bytes.and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok()).ok_or_else(|| {
        Error::usage("--pin-sha256 must be the base64 SHA-256 of the server's public key (SPKI)")
            .with_hint("openssl x509 -in cert.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64")
    })
}

pub use crate::net::spki_sha256;

/// Longest wait between reconnection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

fn permanent(code: Code, message: &str) -> Option<Error> {
    // Refusals that another attempt cannot change; anything else is retried.
    let permanent = matches!(
        code,
        Code::TokenExpired
            | Code::TokenRevoked
            | Code::TokenExhausted
            | Code::WorkerRevoked
            | Code::CredentialReuse
            | Code::InvalidToken
            | Code::ChecksumMismatch
            | Code::UnknownUser
            | Code::ProtocolMismatch
            | Code::InvalidInput
            | Code::MalformedFrame
    );
    permanent.then(|| {
        Error::new(
            code.exit(),
            code,
            format!("serve refused this worker: {message}"),
        )
    })
}

/// The cache directory (0700, refused when looser), its machine id (random,
/// created once, 0600) and the current credential file.
struct Cache {
    dir: PathBuf,
}

impl Cache {
    fn open(dir: &Path) -> Result<Self> {
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        }
        let mode = fs::metadata(dir)
            .map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::new(
                Exit::Unavailable,
                Code::InsecurePermissions,
                format!("cache dir {} has mode {mode:o}", dir.display()),
            )
            .with_hint(format!("run: chmod 700 {}", dir.display())));
        }
        Ok(Cache {
            dir: dir.to_owned(),
        })
    }

    fn read_private(&self, name: &str) -> Result<Option<String>> {
        let p = self.dir.join(name);
        match fs::metadata(&p) {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("cannot read {}", p.display()), e)),
            Ok(m) if m.mode() & 0o077 != 0 => {
                return Err(Error::new(
                    Exit::Unavailable,
                    Code::InsecurePermissions,
                    format!("{} is readable by others", p.display()),
                )
                .with_hint(format!("run: chmod 600 {}", p.display())));
            }
            Ok(_) => {}
        }
        fs::read_to_string(&p)
            .map(|s| Some(s.trim().to_owned()))
            .map_err(|e| Error::io(format!("cannot read {}", p.display()), e))
    }

    /// Write a 0600 file atomically (temp file + rename).
    fn write_private(&self, name: &str, text: &str) -> Result<()> {
        let tmp = self
            .dir
            .join(format!(".{name}.tmp{}", rand::rng().random::<u32>()));
        let p = self.dir.join(name);
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &p)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io(format!("cannot write {}", p.display()), e)
        })
    }

    fn machine_id(&self) -> Result<String> {
        if let Some(id) = self.read_private("machine-id")? {
            return Ok(id);
        }
        let id = crate::credential::random_id() + &crate::credential::random_id();
        self.write_private("machine-id", &id)?;
        Ok(id)
    }

    fn credential(&self) -> Result<Option<String>> {
        self.read_private("credential")
    }

    fn save_credential(&self, c: &str) -> Result<()> {
        self.write_private("credential", c)
    }

    fn forget_credential(&self) {
        let _ = fs::remove_file(self.dir.join("credential"));
    }
}

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// Split `--server` into the replicas it names (comma-separated), each
/// checked as [`checked_url`] checks it.
pub fn server_urls(arg: &str) -> Result<Vec<String>> {
    let urls: Vec<String> = arg
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
    if urls.is_empty() {
        return Err(Error::usage(
            "worker connect needs --server wss://HOST:PORT",
        ));
    }
    for u in &urls {
        checked_url(u)?;
    }
    Ok(urls)
}

/// The socket URL for `server` and its `HOST:PORT`; refuses anything but
/// wss://, and ws:// beyond loopback.
fn checked_url(server: &str) -> Result<(String, String)> {
    let url = format!("{}/v1/workers/connect", server.trim_end_matches('/'));
    let rest = url
        .strip_prefix("wss://")
        .or_else(|| url.strip_prefix("ws://"))
        .ok_or_else(|| Error::usage(format!("invalid --server '{server}': use wss://HOST:PORT")))?;
    let hostport = rest.split('/').next().unwrap_or_default().to_owned();
    let host = hostport
        .rsplit_once(':')
        .map_or(hostport.as_str(), |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    if url.starts_with("ws://") && !crate::net::is_loopback(host) {
        return Err(Error::usage(format!(
            "refusing ws:// to {host}: dispatches and secrets would cross the network in clear"
        ))
        .with_hint("use wss://"));
    }
    Ok((url, hostport))
}

fn dial(opts: &Options) -> Result<Socket> {
    let (url, hostport) = checked_url(&opts.url)?;
    let hostport = hostport.as_str();
    let addr = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:443")
    };
    let stream = TcpStream::connect(addr.trim_start_matches('[').replace("]:", ":").as_str())
        .or_else(|_| TcpStream::connect(hostport))
        .map_err(|e| Error::io(format!("cannot reach {}", opts.url), e))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| Error::io("socket", e))?;
    let _ = stream.set_nodelay(true);
    let connector = if url.starts_with("wss://") {
        let cfg = crate::net::client_config(
            opts.ca_file.as_deref(),
            opts.pin_sha256,
            crate::net::CA_FILE,
        )?;
        Some(tungstenite::Connector::Rustls(cfg))
    } else {
        Some(tungstenite::Connector::Plain)
    };
    let (ws, _) = tungstenite::client_tls_with_config(url.as_str(), stream, None, connector)
        .map_err(|e| {
            let text = e.to_string();
            let failure = match &e {
                tungstenite::HandshakeError::Failure(f) => Some(f),
                tungstenite::HandshakeError::Interrupted(_) => None,
            };
            if let Some(why) = failure
                .and_then(certificate_problem)
                .filter(|_| !text.contains(crate::net::PIN_MISMATCH))
            {
                // A certificate this worker will never accept: retrying
                // cannot help, and a person must look.
                crate::net::refused(&opts.url, &why, Exit::Auth)
            } else if text.contains(crate::net::PIN_MISMATCH) {
                // Not the pinned key: possibly a man in the middle. Never retried.
                Error::new(
                    Exit::Auth,
                    Code::PinMismatch,
                    format!(
                        "{} presented a certificate that does not match --pin-sha256",
                        opts.url
                    ),
                )
            } else {
                Error::new(
                    Exit::Unavailable,
                    Code::ServerUnreachable,
                    format!("cannot open the worker socket at {}: {text}", opts.url),
                )
            }
        })?;
    Ok(ws)
}

/// The certificate error inside a failed TLS handshake, if that is what it was.
fn certificate_problem(e: &tungstenite::Error) -> Option<String> {
    let rustls_error = match e {
        tungstenite::Error::Tls(tungstenite::error::TlsError::Rustls(r)) => Some(&**r),
        tungstenite::Error::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        _ => None,
    }?;
    match rustls_error {
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
            Some(crate::net::words(rustls_error, crate::net::CA_FILE))
        }
        _ => None,
    }
}

fn set_timeout(ws: &mut Socket, d: Duration) {
    let _ = match ws.get_mut() {
        MaybeTlsStream::Plain(s) => s.set_read_timeout(Some(d)),
        MaybeTlsStream::Rustls(s) => s.sock.set_read_timeout(Some(d)),
        _ => Ok(()),
    };
}

fn send(ws: &mut Socket, m: &ClientMsg) -> Result<()> {
    let text = serde_json::to_string(m).map_err(|e| Error::internal(e.to_string()))?;
    let lost = |e: tungstenite::Error| {
        Error::new(
            Exit::Unavailable,
            Code::ConnectionLost,
            format!("connection lost: {e}"),
        )
    };
    // A signal (EINTR) or the read timeout (EAGAIN) can interrupt a write;
    // the frame is already queued, so finish flushing it.
    let transient = |e: &tungstenite::Error| matches!(e, tungstenite::Error::Io(io) if matches!(io.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut));
    match ws.send(Message::text(text)) {
        Ok(()) => Ok(()),
        Err(e) if transient(&e) => {
            for _ in 0..100 {
                match ws.flush() {
                    Ok(()) => return Ok(()),
                    Err(e) if transient(&e) => std::thread::sleep(Duration::from_millis(5)),
                    Err(e) => return Err(lost(e)),
                }
            }
            Err(Error::new(
                Exit::Unavailable,
                Code::ConnectionLost,
                "could not finish sending a frame",
            ))
        }
        Err(e) => Err(lost(e)),
    }
}

/// Read one server frame, or `None` on a read timeout.
fn recv(ws: &mut Socket) -> Result<Option<ServerMsg>> {
    match ws.read() {
        Ok(Message::Text(t)) => serde_json::from_str(&t).map(Some).map_err(|e| {
            Error::new(
                Exit::Unavailable,
                Code::BadFrame,
                format!("unreadable frame from serve: {e}"),
            )
        }),
        Ok(Message::Close(_)) => Err(Error::new(
            Exit::Unavailable,
            Code::ConnectionLost,
            "serve closed the connection",
        )),
        Ok(_) => Ok(None),
        Err(tungstenite::Error::Io(e))
            if matches!(
                e.kind(),
                ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::new(
            Exit::Unavailable,
            Code::ConnectionLost,
            format!("connection lost: {e}"),
        )),
    }
}

/// One connection, from hello to loss. `Err` is either permanent (stop)
/// or transient (the caller reconnects).
fn session(opts: &Options, cache: &Cache, machine_id: &str, instance: &str) -> Result<()> {
    let mut ws = dial(opts)?;
    let hello = match cache.credential()? {
        Some(c) => ClientMsg::Resume {
            credential: c,
            machine_id: machine_id.to_owned(),
            instance: instance.to_owned(),
            protocol: PROTOCOL,
        },
        None => ClientMsg::Enroll {
            token: opts.token.clone().ok_or_else(|| {
                Error::usage("no saved credential and no --token: this machine has not enrolled")
                    .with_hint("pass --token mte_...")
            })?,
            machine_id: machine_id.to_owned(),
            instance: instance.to_owned(),
            protocol: PROTOCOL,
            version: env!("CARGO_PKG_VERSION").into(),
            labels: opts.labels.clone(),
            capacity: opts.capacity,
        },
    };
    let resuming = matches!(hello, ClientMsg::Resume { .. });
    send(&mut ws, &hello)?;
    let Some(welcome) = recv(&mut ws)? else {
        return Err(Error::new(
            Exit::Unavailable,
            Code::NoWelcome,
            "serve did not answer",
        ));
    };
    // The period serve asks for, kept within what the protocol allows.
    let heartbeat = match welcome {
        ServerMsg::Welcome {
            worker_id,
            name,
            credential,
            heartbeat_s,
            ..
        } => {
            cache.save_credential(&credential)?;
            eprintln!("worker: connected as {name} ({worker_id})");
            Duration::from_secs(
                heartbeat_s.clamp(*HEARTBEAT_RANGE_S.start(), *HEARTBEAT_RANGE_S.end()),
            )
        }
        ServerMsg::Error { code, message } => {
            if let Some(e) = permanent(code, &message) {
                return Err(e);
            }
            if resuming && opts.token.is_some() {
                // The session credential is no longer good; enrol again.
                cache.forget_credential();
            }
            return Err(Error::new(
                Exit::Unavailable,
                Code::Refused,
                format!("serve refused: {message}"),
            ));
        }
        other => {
            return Err(Error::new(
                Exit::Unavailable,
                Code::BadFrame,
                format!("unexpected first frame: {other:?}"),
            ));
        }
    };

    // The socket is read with a timeout, and finished steps are sent
    // between reads: idle, a wake-up every 100 ms; with a step running,
    // every 2 ms, so its result waits no longer than that to be sent.
    let (idle, busy) = (Duration::from_millis(100), Duration::from_millis(2));
    let mut timeout = idle;
    set_timeout(&mut ws, timeout);
    let (done_tx, done_rx) = mpsc::channel::<ClientMsg>();
    let mut ack: Option<String> = None;
    // Steps in flight, by dispatch id: set the flag to cancel one.
    let mut running: std::collections::HashMap<String, Arc<AtomicBool>> =
        std::collections::HashMap::new();
    let mut next_beat = Instant::now() + heartbeat;
    let mut last_heard = Instant::now();
    loop {
        while let Ok(result) = done_rx.try_recv() {
            if let ClientMsg::Result { id, .. } = &result {
                running.remove(id);
            }
            send(&mut ws, &result)?;
        }
        if Instant::now() >= next_beat {
            send(&mut ws, &ClientMsg::Heartbeat { ack: ack.take() })?;
            next_beat = Instant::now() + heartbeat;
        }
        if last_heard.elapsed() > heartbeat * QUIET_BEATS {
            return Err(Error::new(
                Exit::Unavailable,
                Code::Timeout,
                "serve went quiet",
            ));
        }
        let want = if running.is_empty() { idle } else { busy };
        if want != timeout {
            timeout = want;
            set_timeout(&mut ws, timeout);
        }
        let Some(msg) = recv(&mut ws)? else { continue };
        last_heard = Instant::now();
        match msg {
            // A credential only when a rotation fell due; save it, then
            // acknowledge it with the next heartbeat.
            ServerMsg::HeartbeatAck {
                credential: Some(credential),
                ..
            } => {
                cache.save_credential(&credential)?;
                ack = credential.split('_').nth(1).map(str::to_owned);
            }
            ServerMsg::HeartbeatAck {
                credential: None, ..
            } => {}
            ServerMsg::Dispatch {
                id,
                argv,
                env,
                stdin,
                timeout_s,
            } => {
                let (tx, iso) = (done_tx.clone(), opts.isolation.clone());
                let cancel = Arc::new(AtomicBool::new(false));
                running.insert(id.clone(), cancel.clone());
                std::thread::spawn(move || {
                    let r = exec::run_cancellable(
                        &argv,
                        &env,
                        &stdin,
                        Duration::from_secs(timeout_s.max(1)),
                        &iso,
                        &cancel,
                    );
                    let _ = tx.send(ClientMsg::Result {
                        id,
                        exit_code: r.exit_code,
                        stdout: r.stdout,
                        stderr: r.stderr,
                        duration_ms: r.duration_ms,
                    });
                });
            }
            ServerMsg::Revoked { reason } => {
                cache.forget_credential();
                return Err(Error::new(
                    Exit::Conflict,
                    Code::WorkerRevoked,
                    format!("this worker was revoked ({reason})"),
                ));
            }
            ServerMsg::Error { code, message } => {
                return Err(permanent(code, &message).unwrap_or_else(|| {
                    Error::new(
                        Exit::Unavailable,
                        Code::Refused,
                        format!("serve: {message}"),
                    )
                }));
            }
            ServerMsg::Drain => eprintln!("worker: draining: no new steps will arrive"),
            ServerMsg::Cancel { id } => {
                if let Some(flag) = running.get(&id) {
                    flag.store(true, Ordering::Relaxed);
                }
            }
            ServerMsg::Welcome { .. } => {}
        }
    }
}

/// Run until a permanent refusal (returned as the error) or a signal.
pub fn run(mut opts: Options) -> Result<Exit> {
    // Steps (and anything else running as this user) must not read our
    // memory or environment through /proc or ptrace.
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| Error::io("making the worker non-dumpable", e.into()))?;
    let cache = Cache::open(&opts.cache_dir)?;
    let machine_id = cache.machine_id()?;
    let instance = crate::credential::random_id();
    let who = match opts.isolation.run_as {
        Some(u) => format!("as uid {}", u.uid),
        None => "as this user".to_owned(),
    };
    if opts.urls.is_empty() {
        opts.urls = vec![opts.url.clone()];
    }
    eprintln!(
        "worker: warning: the orchestrator at {} can run code on this machine {who}",
        opts.urls.join(", ")
    );
    warn_isolation(&opts.isolation, &opts.cache_dir);
    let mut failures: u32 = 0;
    let mut next = 0;
    loop {
        // Replicas in turn: a session that ends (its serve went away)
        // or cannot start moves on to the next one.
        opts.url = opts.urls[next % opts.urls.len()].clone();
        next += 1;
        let started = Instant::now();
        match session(&opts, &cache, &machine_id, &instance) {
            Ok(()) => {}
            Err(e) if e.exit != Exit::Unavailable => return Err(e),
            Err(e) => eprintln!("worker: {}", e.message),
        }
        if started.elapsed() > Duration::from_secs(30) {
            failures = 0;
        }
        failures = failures.saturating_add(1);
        // With another replica to go to, the first retry does not wait
        // for the one that just went away.
        let delay = if opts.urls.len() > 1 && failures == 1 {
            Duration::from_millis(100)
        } else {
            reconnect_delay(failures)
        };
        std::thread::sleep(delay);
    }
}

/// How long to wait before reconnect attempt `failures` (1 for the first):
/// exponential from 250 ms, capped at [`MAX_BACKOFF`], and spread over its
/// upper half at random so a fleet that lost its `serve` at one moment does
/// not come back at one moment.
pub fn reconnect_delay(failures: u32) -> Duration {
    let base = Duration::from_millis(250)
        .saturating_mul(1u32 << failures.min(6))
        .min(MAX_BACKOFF);
    let jitter = Duration::from_millis(rand::rng().random_range(0..=base.as_millis() as u64 / 2));
    base / 2 + jitter
}

/// Say at start what does not isolate steps as well as it could.
fn warn_isolation(iso: &exec::Isolation, cache_dir: &Path) {
    if !iso.landlock {
        eprintln!(
            "worker: warning: this kernel has no Landlock: steps are not confined to their own directory"
        );
        return;
    }
    let cache = fs::canonicalize(cache_dir).unwrap_or_else(|_| cache_dir.to_owned());
    if let Some(root) = super::supervise::READ_ONLY
        .iter()
        .find(|r| cache.starts_with(r))
    {
        eprintln!(
            "worker: warning: steps may read {root}, which holds --cache-dir {}; move it (e.g. to /var/lib/moat-worker)",
            cache.display()
        );
    }
}
