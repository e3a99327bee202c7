//! An attacker's pass over the real binaries on loopback (issue: trust
//! boundaries, defects 6–16 and 18): forged tokens and frames from many
//! addresses, credentials pasted where ids belong, odd JWTs, broken
//! certificates, duplicate sockets, oversized headers.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::Message;

use crate::common::*;
use crate::workers::{Fleet, WorkerProc, wait_for_file};

/// A TCP connection to `url`'s port from the loopback address `127.0.0.<n>`.
fn connect_from(n: u8, url: &str) -> TcpStream {
    use rustix::net::{AddressFamily, SocketType, bind, connect, socket};
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    bind(&fd, &SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, n), 0)).unwrap();
    connect(&fd, &SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).unwrap();
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// One HTTP/1.1 request from `127.0.0.<n>`: (status, headers, body).
fn http_from(
    n: u8,
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut s = connect_from(n, url);
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// `GET /v1/whoami` from `127.0.0.<n>` with `token`.
fn whoami_from(n: u8, url: &str, token: &str) -> (u16, String, String) {
    http_from(
        n,
        url,
        "GET",
        "/v1/whoami",
        &[("Authorization", &bearer(token))],
        "",
    )
}

/// A token that carries `real`'s public id and checksum but another secret.
fn forged(real: &str, i: usize) -> String {
    const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut parts = real.splitn(3, '_');
    let (prefix, id) = (parts.next().unwrap(), parts.next().unwrap());
    let secret: String = (0..43)
        .map(|j| B62[(i * 7 + j * 13) % 62] as char)
        .collect();
    let body = format!("{prefix}_{id}_{secret}");
    let mut n = u64::from(crc32fast::hash(body.as_bytes()));
    let mut sum = [b'0'; 6];
    for slot in sum.iter_mut().rev() {
        *slot = B62[(n % 62) as usize];
        n /= 62;
    }
    let t = body + std::str::from_utf8(&sum).unwrap();
    assert!(moat::credential::RawCredential::parse(&t).is_ok());
    t
}

fn audit_count(env: &Env, kind: &str) -> usize {
    env.json("audit", &["log", "--type", kind])
        .as_array()
        .unwrap()
        .len()
}

/// Defect 8: forged tokens carrying a real token's id, from many addresses,
/// do not lock its holder out; a throttled address is slowed, not barred.
#[test]
fn forged_tokens_do_not_lock_out_the_real_holder() {
    let env = Env::new();
    let s = Server::with_jwt(&env, &["--auth-mode", "token,jwt"]);
    let real = env.create(&["--kind", "api", "--principal", "user:ops"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for n in 2..14 {
        let (status, _, _) = whoami_from(n, &s.url, &forged(&real, n as usize));
        assert_eq!(status, 401);
    }
    let (status, _, body) = whoami_from(1, &s.url, &real);
    assert_eq!(status, 200, "the real holder was locked out: {body}");

    // One address fails eleven times: it is throttled...
    for i in 0..11 {
        whoami_from(20, &s.url, &forged(&real, 100 + i));
    }
    let fresh = env.create(&["--kind", "api", "--principal", "user:dev"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, head, _) = whoami_from(20, &s.url, &fresh);
    assert_eq!(status, 429, "{head}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1"),
        "{head}"
    );
    // ...but a genuine, never-used token from it gets through after waiting.
    std::thread::sleep(Duration::from_millis(1100));
    let (status, _, body) = whoami_from(20, &s.url, &fresh);
    assert_eq!(status, 200, "{body}");
    env.assert_audit_intact();
}

/// Requests without any credential are failures too: counted, audited,
/// throttled; throttling is audited once per window, not per request.
#[test]
fn anonymous_requests_are_audited_and_throttled() {
    let env = Env::new();
    let s = Server::with_jwt(&env, &["--auth-mode", "jwt"]);
    let mut statuses = Vec::new();
    let start = Instant::now();
    for _ in 0..200 {
        statuses.push(http_from(30, &s.url, "GET", "/v1/tokens", &[], "").0);
    }
    let slow = start.elapsed().as_secs() as usize + 1;
    let refused = statuses.iter().filter(|&&c| c == 401).count();
    assert!((10..=10 + slow).contains(&refused), "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|&&c| c == 429).count(),
        200 - refused
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(audit_count(&env, "auth_failure"), refused);
    assert_eq!(audit_count(&env, "auth_throttled"), 1);
}

fn enrol_frame(token: &str, machine: &str, labels: Value) -> String {
    json!({"type": "enroll", "token": token, "machine_id": machine, "instance": "i", "protocol": moat::worker::PROTOCOL,
           "version": "test", "labels": labels, "capacity": 1})
    .to_string()
}

/// Send one first frame from `127.0.0.<n>`; the code of serve's answer.
fn first_frame(n: u8, url: &str, frame: &str) -> String {
    let stream = connect_from(n, url);
    let ws = format!("{}/v1/workers/connect", url.replacen("http", "ws", 1));
    let (mut sock, _) = tungstenite::client(ws.as_str(), stream).unwrap();
    sock.send(Message::text(frame)).unwrap();
    loop {
        match sock.read() {
            Ok(Message::Text(t)) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                return v["code"]
                    .as_str()
                    .unwrap_or(v["type"].as_str().unwrap_or("?"))
                    .to_owned();
            }
            Ok(_) => continue,
            Err(e) => return format!("closed: {e}"),
        }
    }
}

/// Defect 7: a flood of forged enrol frames for a known token id is
/// throttled before argon2, and the API keeps answering meanwhile.
#[test]
fn forged_enrolments_are_throttled_before_argon2() {
    let env = Env::new();
    let s = Server::with_jwt(&env, &["--auth-mode", "jwt"]);
    let token = env.create(&[])["token"].as_str().unwrap().to_owned();
    let start = Instant::now();
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..300 {
        let code = first_frame(
            40,
            &s.url,
            &enrol_frame(&forged(&token, i), &format!("m{i}"), json!({})),
        );
        *codes.entry(code).or_default() += 1;
    }
    let slow = start.elapsed().as_secs() as usize + 1;
    let checked = codes.get("invalid_token").copied().unwrap_or(0);
    assert!(
        checked <= 10 + slow,
        "{checked} forged tokens reached argon2 in {slow} s: {codes:?}"
    );
    assert!(
        codes.get("throttled").copied().unwrap_or(0) >= 300 - 10 - slow,
        "{codes:?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(audit_count(&env, "enrolment_refused"), checked);
    // The real token still enrols, from another address.
    assert_eq!(
        first_frame(
            41,
            &s.url,
            &enrol_frame(&token, "real-machine", json!({"name": "real"}))
        ),
        "welcome"
    );
}

/// Defect 11: a refused enrolment frame does not spend a use.
#[test]
fn a_refused_enrolment_spends_no_use() {
    let env = Env::new();
    let s = Server::with_jwt(&env, &["--auth-mode", "jwt"]);
    let rec = env.create(&["--max-uses", "1"]);
    let token = rec["token"].as_str().unwrap();
    let code = first_frame(
        1,
        &s.url,
        &enrol_frame(token, "m1", json!({"name": "bad name!"})),
    );
    assert_eq!(code, "invalid_input");
    let shown = env.json("token", &["show", rec["id"].as_str().unwrap()]);
    assert_eq!(shown["state"], "pending", "{shown}");
    assert_eq!(
        first_frame(
            1,
            &s.url,
            &enrol_frame(token, "m1", json!({"name": "good"}))
        ),
        "welcome"
    );
}

/// Defect 9: no error repeats a credential it was handed.
#[test]
fn errors_never_echo_a_credential() {
    let f = Fleet::new();
    let _w = f.start_worker("echo-1", &[]);
    let credential = wait_for_file(&f.cache("echo-1").join("credential"));
    let api = f.env.create(&["--kind", "api", "--principal", "user:x"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut said = Vec::new();
    for args in [
        vec!["worker", "show", credential.trim()],
        vec!["worker", "revoke", credential.trim()],
        vec!["token", "show", &api],
        vec!["token", "revoke", &api],
        // Pasted into the wrong flag.
        vec![
            "grant",
            "check",
            "--principal",
            &api,
            "--action",
            "run",
            "--resource",
            "x:y",
        ],
        vec![
            "grant",
            "check",
            "--principal",
            "user:a",
            "--action",
            "run",
            "--resource",
            &api,
        ],
        vec!["token", "create", "--ttl", &api],
        vec![
            "grant",
            "add",
            "--subject",
            &api,
            "--action",
            "run",
            "--resource",
            "x:y",
        ],
    ] {
        let out = f.remote(args[0], &args[1..]);
        assert_ne!(code(&out), 0);
        said.push(stderr(&out));
        let out = f.env.run(args[0], &args[1..], b"");
        said.push(stderr(&out));
    }
    let agent = http_agent();
    let mut r = agent
        .get(format!("{}/v1/workers/{}", f.server.url, credential.trim()))
        .header("authorization", bearer(&f.admin))
        .call()
        .unwrap();
    said.push(r.body_mut().read_to_string().unwrap());
    let mut r = agent
        .post(format!("{}/v1/tokens/revoke", f.server.url))
        .header("authorization", bearer(&f.admin))
        .send_json(json!({"ids": [api]}))
        .unwrap();
    said.push(r.body_mut().read_to_string().unwrap());
    let all = said.join("\n");
    assert!(
        all.contains("not a worker id") && all.contains("not a token id"),
        "{all}"
    );
    assert_no_secret(all.as_bytes(), secret_of(credential.trim()), "an error");
    assert_no_secret(all.as_bytes(), secret_of(&api), "an error");
}

/// Defect 10: an empty state file is refused, not silently initialized.
#[test]
fn an_empty_state_file_is_refused() {
    let env = Env::sqlite(); // the file itself is what is tested
    std::fs::create_dir_all(env.state().parent().unwrap()).unwrap();
    std::fs::write(env.state(), b"").unwrap();
    for (bin, args) in [
        ("audit", vec!["verify"]),
        ("token", vec!["create"]),
        ("token", vec!["list"]),
    ] {
        let out = env.run(bin, &args, b"");
        assert_eq!(code(&out), 6, "{bin} {args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("is empty"), "{}", stderr(&out));
    }
    assert!(
        !env.key().exists(),
        "a key file was made for an empty state"
    );
    assert_eq!(std::fs::metadata(env.state()).unwrap().len(), 0);
}

/// Defects 12 and 13: a JWT that never expires does not crash serve, and
/// one that is not valid yet is refused.
#[test]
fn odd_jwts_are_answered_not_crashed_on() {
    let env = Env::new();
    let s = Server::with_jwt(&env, &["--auth-mode", "jwt"]);
    let sign = |claims: Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
        )
        .unwrap()
    };
    let now = moat::time::now_ms() / 1000;
    let forever = sign(json!({"sub": "admin", "role": "admin", "exp": u64::MAX}));
    let (status, _, body) = whoami_from(1, &s.url, &forever);
    assert_eq!(status, 200, "{body}");
    let later =
        sign(json!({"sub": "admin", "role": "admin", "exp": now + 7200, "nbf": now + 3600}));
    let (status, _, body) = whoami_from(1, &s.url, &later);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("not valid yet"), "{body}");
    assert_eq!(http_from(1, &s.url, "GET", "/healthz", &[], "").0, 200);
}

/// Defect 14: a certificate the worker will never trust stops it at once.
#[test]
fn certificate_errors_stop_the_worker() {
    let env = Env::new();
    env.store();
    // Untrusted: a private CA the worker is not given.
    let (_, cert, key) = crate::serve::certificates(env.dir.path());
    let untrusted = Server::tls(&env, &cert, &key);
    // Wrong name: trusted CA, but the certificate names another host.
    let other = env.dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let (ca, cert, key) = crate::serve::certificates_for(&other, &["elsewhere.test"]);
    let misnamed = Server::tls(&env, &cert, &key);
    let ca = ca.to_str().unwrap().to_owned();
    for (server, extra) in [
        (&untrusted, vec![]),
        (&misnamed, vec!["--ca-file", ca.as_str()]),
    ] {
        let url = server.url.replace("127.0.0.1", "localhost");
        let token = env.create(&[])["token"].as_str().unwrap().to_owned();
        let cache = env.dir.path().join(format!("c{}", unique()));
        let mut w = WorkerProc::start(&env, &url, Some(&token), &cache, &extra);
        assert_eq!(
            w.wait_exit(Duration::from_secs(10)),
            Some(5),
            "{url}: {}",
            w.log()
        );
        assert!(w.log().contains("does not trust"), "{}", w.log());
    }
}

/// Defect 15: a refused duplicate connection writes nothing.
#[test]
fn a_duplicate_connection_writes_nothing() {
    let f = Fleet::new();
    let w = f.start_worker("dup-1", &[]);
    let credential = wait_for_file(&f.cache("dup-1").join("credential"));
    let machine = std::fs::read_to_string(f.cache("dup-1").join("machine-id")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let before = audit_count(&f.env, "worker_connected");
    let frame = json!({"type": "resume", "credential": credential.trim(), "machine_id": machine.trim(), "instance": "x", "protocol": moat::worker::PROTOCOL}).to_string();
    assert_eq!(first_frame(1, &f.server.url, &frame), "already_connected");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        audit_count(&f.env, "worker_connected"),
        before,
        "{}",
        w.log()
    );
    // The live worker is undisturbed.
    let (code, v) = f.dispatch("dup-1", &[], &["sh", "-c", "echo still-here"]);
    assert_eq!(
        (code, v["stdout"].as_str()),
        (0, Some("still-here\n")),
        "{v}"
    );
}

/// Defect 16: oversized headers get 431 in the error shape, and a log line.
#[test]
fn oversized_headers_get_431_in_the_error_shape() {
    let env = Env::new();
    let s = Server::with_jwt(&env, &["--auth-mode", "jwt"]);
    for size in [300 * 1024, 1024 * 1024] {
        let big = "a".repeat(size);
        let (status, _, body) = http_from(1, &s.url, "GET", "/v1/whoami", &[("X-Big", &big)], "");
        assert_eq!(status, 431, "{size}");
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert_eq!(v["error"]["code"], "invalid_input", "{body}");
        assert!(
            v["error"]["request_id"]
                .as_str()
                .unwrap()
                .starts_with("req_")
        );
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        s.stderr().matches("\"status\":431").count(),
        2,
        "{}",
        s.stderr()
    );
}

/// Defect 18: `--select` picks among the workers the caller may run on.
#[test]
fn select_considers_the_callers_grants() {
    let f = Fleet::new();
    let _a = f.start_worker("aa-pool", &["--label", "pool=p"]);
    let _b = f.start_worker("bb-pool", &["--label", "pool=p"]);
    let dev = jwt("dev", "viewer", 600);
    f.env.json(
        "grant",
        &[
            "add",
            "--subject",
            "user:dev",
            "--action",
            "run",
            "--resource",
            "worker:bb-pool",
        ],
    );
    f.env.json("reload", &[]);
    std::thread::sleep(Duration::from_millis(1200));
    let run = |who: &str, sel: &str| {
        f.env
            .cmd("worker")
            .args([
                "dispatch", "--select", sel, "--format", "json", "--", "sh", "-c", "echo ok",
            ])
            .env("MOAT_SERVER", &f.server.url)
            .env("MOAT_AUTH_TOKEN", who)
            .output()
            .unwrap()
    };
    let out = run(&dev, "pool=p");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bb = f
        .workers()
        .into_iter()
        .find(|w| w["name"] == "bb-pool")
        .unwrap();
    assert_eq!(v["worker"], bb["id"], "{v}");
    // Allowed on none: refused, naming a worker it may not use.
    let nobody = jwt("nobody", "viewer", 600);
    let out = run(&nobody, "pool=p");
    assert_eq!(code(&out), 5, "{}", stderr(&out));
}

/// Defect 6: a dispatch waits for its step, not the client's request timeout.
#[test]
fn a_dispatch_outlasts_the_request_timeout() {
    let f = Fleet::new();
    let _w = f.start_worker("slow-1", &[]);
    let out = f
        .env
        .cmd("worker")
        .args([
            "dispatch",
            "--to",
            "slow-1",
            "--timeout",
            "30s",
            "--format",
            "json",
            "--",
            "sh",
            "-c",
            "sleep 4; echo late",
        ])
        .env("MOAT_SERVER", &f.server.url)
        .env("MOAT_AUTH_TOKEN", &f.admin)
        .env("MOAT_REQUEST_TIMEOUT", "2s")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stdout"], "late\n");
}
