//! `serve` as a real process on loopback (DESIGN §6): refusals before any
//! bind, TLS with a private CA, --admins reconciliation, JWT rules, throttling,
//! hot reload of snapshots, and secret hygiene of its logs.

use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

/// A port that was free a moment ago (for asserting nothing listens on it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_private(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A private CA and a certificate for localhost/127.0.0.1 signed by it:
/// (ca.pem, cert.pem, key.pem).
pub fn certificates(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    certificates_for(dir, &["localhost", "127.0.0.1"])
}

/// A private CA and a certificate for `names` signed by it.
pub fn certificates_for(dir: &std::path::Path, names: &[&str]) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let (ca, c, k) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca, ca_cert.pem()).unwrap();
    std::fs::write(&c, cert.pem()).unwrap();
    write_private(&k, &key.serialize_pem());
    (ca, c, k)
}

fn serve_refuses(env: &Env, args: &[&str], envs: &[(&str, &str)], needle: &str) {
    let port = free_port();
    let port_s = port.to_string();
    let mut full = vec!["--port", &port_s];
    full.extend_from_slice(args);
    let mut cmd = env.cmd("serve");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.args(&full).output().unwrap();
    assert_eq!(code(&out), 2, "serve {args:?}: {}", stderr(&out));
    assert!(
        stderr(&out).contains(needle),
        "serve {args:?}: {}",
        stderr(&out)
    );
    for host in ["127.0.0.1", "0.0.0.0"] {
        assert!(
            TcpStream::connect_timeout(
                &format!("{host}:{port}").parse().unwrap(),
                Duration::from_millis(200)
            )
            .is_err(),
            "something listens on {port} after a refused start"
        );
    }
}

#[test]
fn unsafe_binds_are_refused_before_the_port_opens() {
    let env = Env::new();
    let (_, cert, key) = certificates(env.dir.path());
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    serve_refuses(&env, &["--host", "0.0.0.0"], &[], "without TLS");
    serve_refuses(
        &env,
        &[
            "--host",
            "0.0.0.0",
            "--cert-file",
            cert,
            "--key-file",
            key,
            "--auth-mode",
            "none",
        ],
        &[],
        "--auth-mode none",
    );
    serve_refuses(
        &env,
        &["--auth-mode", "jwt"],
        &[("MOAT_JWT_SECRET", "too-short")],
        "at least 32",
    );
    std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o644)).unwrap();
    serve_refuses(
        &env,
        &["--cert-file", cert, "--key-file", key],
        &[],
        "chmod 600",
    );
    // --check-config validates and exits without serving.
    std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let v = env.json(
        "serve",
        &[
            "--host",
            "0.0.0.0",
            "--cert-file",
            cert,
            "--key-file",
            key,
            "--check-config",
        ],
    );
    assert_eq!(v["ok"], true);
    assert_eq!(v["heartbeat_every"], "5s", "{v}");
    for bad in ["0s", "90s", "2m"] {
        serve_refuses(
            &env,
            &["--heartbeat-every", bad],
            &[],
            "--heartbeat-every must be whole seconds between 1s and 60s",
        );
    }
}

#[test]
fn tls_with_a_private_ca_and_auth_mode_none_warns() {
    let env = Env::new();
    let (ca, cert, key) = certificates(env.dir.path());
    let server = Server::tls(&env, &cert, &key);
    assert!(server.url.starts_with("https://127.0.0.1:"));
    let url = server.url.replace("127.0.0.1", "localhost");
    let token = jwt("admin", "admin", 600);
    let ok = env
        .cmd("token")
        .args(["list", "--server", &url, "--ca-file", ca.to_str().unwrap()])
        .env("MOAT_AUTH_TOKEN", &token)
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", stderr(&ok));
    // Without the private CA the certificate is not trusted.
    let out = env
        .cmd("token")
        .args(["list", "--server", &url])
        .env("MOAT_AUTH_TOKEN", &token)
        .output()
        .unwrap();
    assert_eq!(code(&out), 6, "{}", stderr(&out));

    let other = Env::new();
    let none = Server::start(
        other.dir.path(),
        &other.state(),
        &["--auth-mode", "none"],
        &[],
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(none.stderr().contains("deprecated"), "{}", none.stderr());
}

fn admins_grants(env: &Env) -> Vec<Value> {
    env.json("grant", &["list", "--source", "admins"])
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn admins_are_reconciled_on_every_start() {
    let env = Env::new();
    let mut s = Server::start(
        env.dir.path(),
        &env.state(),
        &["--admins", "user:alice"],
        &[],
    );
    s.stop();
    let g = admins_grants(&env);
    assert_eq!(g.len(), 1);
    assert_eq!(
        (g[0]["subject"].as_str(), g[0]["state"].as_str()),
        (Some("user:alice"), Some("active"))
    );
    assert_eq!(g[0]["actions"], serde_json::json!(["admin"]));
    assert_eq!(g[0]["resource"], "access:*");

    let mut s = Server::start(env.dir.path(), &env.state(), &["--admins", "user:bob"], &[]);
    s.stop();
    let g = admins_grants(&env);
    let state_of = |who: &str| {
        g.iter()
            .find(|x| x["subject"] == who)
            .map(|x| x["state"].clone())
    };
    assert_eq!(state_of("user:alice"), Some(Value::from("revoked")));
    assert_eq!(state_of("user:bob"), Some(Value::from("active")));

    // A materialized grant revoked by hand comes back: config wins.
    let bob = g.iter().find(|x| x["subject"] == "user:bob").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.json("grant", &["revoke", &bob]);
    let mut s = Server::start(env.dir.path(), &env.state(), &["--admins", "user:bob"], &[]);
    // ... and is enforced at once, without a reload: bob's api token works.
    let t = env.create(&["--kind", "api", "--principal", "user:bob"]);
    let out = env
        .cmd("grant")
        .args(["list", "--server", &s.url])
        .env("MOAT_AUTH_TOKEN", t["token"].as_str().unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    s.stop();
    assert_eq!(
        admins_grants(&env)
            .iter()
            .find(|x| x["id"] == bob.as_str())
            .unwrap()["state"],
        "active"
    );
    env.assert_audit_intact();
}

fn call(url: &str, path: &str, bearer: &str) -> (u16, Value) {
    let agent = http_agent();
    let mut resp = agent
        .get(format!("{url}{path}"))
        .header("authorization", format!("Bearer {bearer}"))
        .call()
        .unwrap();
    let status = resp.status().as_u16();
    let v = resp.body_mut().read_json::<Value>().unwrap_or(Value::Null);
    (status, v)
}

#[test]
fn jwt_rules_are_enforced_and_audited() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let env = Env::new();
    let s = Server::with_jwt(
        &env,
        &["--auth-mode", "jwt", "--users", "alice:admin,bob:viewer"],
    );
    let exp = (moat::time::now_ms() / 1000 + 600) as u64;
    let claims = |sub: &str, role: &str| serde_json::json!({"sub": sub, "role": role, "exp": exp});
    let good = jwt("alice", "admin", 600);
    assert_eq!(call(&s.url, "/v1/tokens", &good).0, 200);

    let expired = jwt("alice", "admin", -120);
    let wrong_secret = encode(
        &Header::new(Algorithm::HS256),
        &claims("alice", "admin"),
        &EncodingKey::from_secret(b"another-secret-that-is-32-bytes-long!!"),
    )
    .unwrap();
    // alg=none: an unsigned token with the right claims.
    let b64 = |v: &Value| base64_url(v.to_string().as_bytes());
    let none = format!(
        "{}.{}.",
        b64(&serde_json::json!({"alg": "none", "typ": "JWT"})),
        b64(&claims("alice", "admin"))
    );
    let rs256_header = format!(
        "{}.{}.{}",
        b64(&serde_json::json!({"alg": "RS256", "typ": "JWT"})),
        b64(&claims("alice", "admin")),
        good.rsplit('.').next().unwrap()
    );
    let unknown = jwt("mallory", "admin", 600);
    for (what, bearer) in [
        ("expired", &expired),
        ("wrong secret", &wrong_secret),
        ("alg none", &none),
        ("RS256 header", &rs256_header),
        ("unknown sub", &unknown),
    ] {
        let (status, v) = call(&s.url, "/v1/tokens", bearer);
        assert_eq!(status, 401, "{what}: {v}");
        assert!(
            v["error"]["request_id"]
                .as_str()
                .unwrap()
                .starts_with("req_"),
            "{what}: {v}"
        );
    }
    // Role downgrade by config: bob's JWT claims admin, --users says viewer.
    let bob = jwt("bob", "admin", 600);
    assert_eq!(call(&s.url, "/v1/tokens", &bob).0, 200, "viewers may read");
    let out = env
        .cmd("token")
        .args(["create", "--server", &s.url])
        .env("MOAT_AUTH_TOKEN", &bob)
        .output()
        .unwrap();
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("may not write access:tokens"),
        "{}",
        stderr(&out)
    );

    std::thread::sleep(Duration::from_millis(300));
    let failures = env.json("audit", &["log", "--type", "auth_failure"]);
    let reasons: Vec<&str> = failures
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["details"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    assert!(reasons.contains(&"unknown_user"), "{reasons:?}");
    let denied = env.json("audit", &["log", "--type", "access_denied"]);
    assert_eq!(denied[0]["actor"], "user:bob");
    assert_eq!(denied[0]["source"], "serve");

    // Secret hygiene: no JWT in the log or the state.
    let log = s.stderr();
    let state = env.state_bytes();
    for t in [&good, &expired, &wrong_secret, &bob] {
        let sig = t.rsplit('.').next().unwrap();
        assert!(!log.contains(sig), "a JWT signature reached serve's log");
        assert!(
            !state.windows(sig.len()).any(|w| w == sig.as_bytes()),
            "a JWT reached the state"
        );
    }
    env.assert_audit_intact();
}

/// Minimal base64url without padding, for hand-made JWT headers.
fn base64_url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn a_brute_force_is_throttled_while_a_valid_client_is_served() {
    let env = Env::new();
    let s = Server::with_jwt(&env, &["--auth-mode", "token,jwt"]);
    let api = env.create(&["--kind", "api", "--principal", "user:ops"]);
    env.json(
        "grant",
        &[
            "add",
            "--subject",
            "user:ops",
            "--action",
            "read",
            "--resource",
            "access:tokens",
        ],
    );
    env.json("reload", &[]);
    std::thread::sleep(Duration::from_millis(600));
    let valid = api["token"].as_str().unwrap();
    assert_eq!(call(&s.url, "/v1/tokens", valid).0, 200);

    let (mut throttled, mut unauthorized, mut served) = (0, 0, 0);
    let start = std::time::Instant::now();
    for i in 0..1000 {
        let bad = moat::credential::RawCredential::generate(moat::credential::CredentialKind::Api)
            .expose();
        match call(&s.url, "/v1/tokens", &bad).0 {
            429 => throttled += 1,
            401 => unauthorized += 1,
            other => panic!("bad token got {other}"),
        }
        if i % 100 == 0 {
            assert_eq!(
                call(&s.url, "/v1/tokens", valid).0,
                200,
                "valid client refused at {i}"
            );
            served += 1;
        }
    }
    // Ten failures, then one slow attempt a second (throttling slows a
    // source down; it never locks a genuine credential out).
    let slow = start.elapsed().as_secs() as usize + 1;
    assert!(
        unauthorized <= 10 + slow,
        "{unauthorized} bad tokens were checked in {slow} s"
    );
    assert!(throttled >= 990 - slow, "{throttled}");
    assert_eq!(served, 10);
    std::thread::sleep(Duration::from_millis(300));
    // Audited once per window, not once per refusal.
    let throttles = env.json("audit", &["log", "--type", "auth_throttled"]);
    let n = throttles.as_array().unwrap().len();
    assert!((1..=2).contains(&n), "{n} throttling events for one source");
    // Secret hygiene: the valid token's secret is in neither log nor state.
    assert_no_secret(s.stderr().as_bytes(), secret_of(valid), "serve's log");
    assert_no_secret(&env.state_bytes(), secret_of(valid), "the state");
}

#[test]
fn a_local_reload_takes_effect_in_the_running_server_within_a_second() {
    let env = Env::new();
    let s = Server::with_jwt(&env, &["--auth-mode", "jwt"]);
    let carol = jwt("carol", "viewer", 600);
    assert_eq!(call(&s.url, "/v1/audit", &carol).0, 200, "viewer reads");
    let write = |env: &Env| {
        env.cmd("token")
            .args(["create", "--server", &s.url])
            .env("MOAT_AUTH_TOKEN", &carol)
            .output()
            .unwrap()
    };
    assert_eq!(code(&write(&env)), 5);
    env.json(
        "grant",
        &[
            "add",
            "--subject",
            "user:carol",
            "--action",
            "write",
            "--resource",
            "access:tokens",
        ],
    );
    assert_eq!(code(&write(&env)), 5, "staged grants are not enforced");
    env.json("reload", &[]);
    let reloaded = Instant::now();
    loop {
        if write(&env).status.success() {
            break;
        }
        assert!(
            reloaded.elapsed() < Duration::from_secs(1),
            "not in effect within 1 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, metrics) = {
        let agent = http_agent();
        let mut r = agent.get(format!("{}/metrics", s.url)).call().unwrap();
        (r.status(), r.body_mut().read_to_string().unwrap())
    };
    assert!(metrics.contains("moat_policy_snapshot 1"), "{metrics}");
    assert!(
        metrics.contains("moat_decisions_total{decision=\"deny\"}"),
        "{metrics}"
    );
}

#[test]
fn api_token_scopes_narrow_the_principal_and_auto_reload_applies_at_once() {
    let env = Env::new();
    let s = Server::start(
        env.dir.path(),
        &env.state(),
        &["--admins", "user:root", "--grant-reload", "auto"],
        &[],
    );
    // root is superuser, but this token of root's may only read the audit log.
    let scoped = env.create(&[
        "--kind",
        "api",
        "--principal",
        "user:root",
        "--scope",
        "read:access:audit",
    ]);
    let scoped = scoped["token"].as_str().unwrap();
    assert_eq!(call(&s.url, "/v1/audit", scoped).0, 200);
    let (status, v) = call(&s.url, "/v1/tokens", scoped);
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["error"]["code"], "forbidden");

    // With --grant-reload auto a grant added through the API is enforced
    // without `reload`.
    let root = env.create(&["--kind", "api", "--principal", "user:root"]);
    let dave = env.create(&["--kind", "api", "--principal", "user:dave"]);
    let dave = dave["token"].as_str().unwrap();
    assert_eq!(call(&s.url, "/v1/tokens", dave).0, 403);
    let out = env
        .cmd("grant")
        .args([
            "add",
            "--subject",
            "user:dave",
            "--action",
            "read",
            "--resource",
            "access:tokens",
            "--server",
            &s.url,
        ])
        .env("MOAT_AUTH_TOKEN", root["token"].as_str().unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(call(&s.url, "/v1/tokens", dave).0, 200);
    let snapshots = env.json("reload", &["history"]);
    assert_eq!(
        snapshots.as_array().unwrap().len(),
        1,
        "auto reload made a snapshot"
    );
}

#[test]
fn malformed_requests_get_the_json_error_shape_and_change_nothing() {
    let env = Env::new();
    let s = Server::with_jwt(&env, &["--auth-mode", "token,jwt"]);
    let admin = jwt("admin", "admin", 600);
    let json = "application/json";
    // (method, path, content type, body, status, words in the message)
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, &'a [u8], u16, &'a str);
    let cases: [Case; 9] = [
        ("POST", "/v1/grants", None, b"{}", 415, "Content-Type"),
        ("POST", "/v1/grants", Some(json), b"{bad", 400, "parse"),
        (
            "POST",
            "/v1/grants",
            Some(json),
            br#"{"subject":"user:a","efect":"deny","actions":["read"],"resource":"vault:x"}"#,
            400,
            "unknown field `efect`",
        ),
        (
            "GET",
            "/v1/tokens?stat=expired",
            None,
            b"",
            400,
            "unknown field `stat`",
        ),
        ("POST", "/v1/grants", Some(json), b"\xff\xfe", 400, "JSON"),
        (
            "POST",
            "/v1/snapshots/x/rollback",
            Some(json),
            b"{}",
            400,
            "`x`",
        ),
        ("GET", "/v1/workers?all=maybe", None, b"", 400, "all"),
        ("GET", "/v1/nope", None, b"", 404, "no route GET /v1/nope"),
        (
            "DELETE",
            "/v1/tokens",
            None,
            b"",
            405,
            "DELETE is not allowed",
        ),
    ];
    for (method, path, ctype, body, status, needle) in cases {
        // A connection each: serve closes one whose request body it refused
        // unread, and a pooled connection closed under the next request
        // fails it with "peer disconnected" (what made this test flaky).
        let agent = http_agent();
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", s.url))
            .header("authorization", format!("Bearer {admin}"));
        let req = match ctype {
            Some(t) => req.header("content-type", t),
            None => req,
        };
        let mut resp = agent.run(req.body(body.to_vec()).unwrap()).unwrap();
        assert_eq!(resp.status().as_u16(), status, "{method} {path}");
        let v: Value = resp.body_mut().read_json().unwrap();
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "{method} {path}: {v}");
        assert!(
            v["error"]["request_id"]
                .as_str()
                .is_some_and(|r| r.starts_with("req_"))
        );
        assert!(v["error"]["exit"].is_number(), "{method} {path}: {v}");
    }
    // A body one byte over the 16 MiB limit gets 413. serve may answer as
    // soon as it has read the headers (Content-Length is over the limit)
    // and close with the body unread, which resets the connection; so the
    // answer is read by a second thread while this one is still sending,
    // and a send cut short by that reset is expected.
    {
        use std::io::{Read, Write};
        let addr = s.url.trim_start_matches("http://");
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let mut reader = tcp.try_clone().unwrap();
        let answer = std::thread::spawn(move || {
            let mut resp = Vec::new();
            let mut buf = [0u8; 4096];
            // Up to the end of the answer, or the reset that follows it.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                resp.extend_from_slice(&buf[..n]);
            }
            String::from_utf8_lossy(&resp).into_owned()
        });
        let len = 16 * 1024 * 1024 + 1;
        write!(
            tcp,
            "POST /v1/grants HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {admin}\r\n\
             Content-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let _ = tcp.write_all(&vec![b' '; len]);
        let resp = answer.join().unwrap();
        assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
        let body = resp.split("\r\n\r\n").nth(1).unwrap_or_default();
        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("limit")),
            "{resp}"
        );
    }
    // Unauthenticated comes before anything is parsed.
    let agent = http_agent();
    let req = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{}/v1/snapshots/x/rollback", s.url))
        .body(b"{bad".to_vec())
        .unwrap();
    assert_eq!(agent.run(req).unwrap().status().as_u16(), 401);
    drop(s);
    // Nothing was added by any of them.
    let list = env.json("grant", &["list", "--source", "cli"]);
    assert_eq!(list, serde_json::json!([]));
    assert_eq!(env.json("reload", &["history"]), serde_json::json!([]));
    env.assert_audit_intact();
}

/// Local and remote `grant check` read one enforced policy: the active
/// snapshot plus the superuser grants `--admins` keeps. Before, the local
/// check saw an `--admins` principal only after the next `reload`.
#[test]
fn local_and_remote_checks_agree_for_admins() {
    let env = Env::new();
    // A snapshot that predates the --admins grant, so the tables no longer
    // match it once serve has materialized the grant.
    env.json(
        "grant",
        &[
            "add",
            "--subject",
            "user:dave",
            "--action",
            "read",
            "--resource",
            "token:*",
        ],
    );
    env.json("reload", &[]);
    let s = Server::start(
        env.dir.path(),
        &env.state(),
        &["--admins", "user:carol"],
        &[],
    );
    let t = env.create(&["--kind", "api", "--principal", "user:carol"]);
    for (principal, action, resource) in [
        ("user:carol", "admin", "access:tokens"),
        ("user:carol", "write", "access:workers"),
        ("user:dave", "read", "token:x"),
        ("user:dave", "write", "access:workers"),
        ("user:erin", "read", "token:x"),
    ] {
        let args = [
            "check",
            "--principal",
            principal,
            "--action",
            action,
            "--resource",
            resource,
            "--format",
            "json",
        ];
        let local = env.run("grant", &args, b"");
        let remote = env
            .cmd("grant")
            .args(args)
            .args(["--server", &s.url])
            .env("MOAT_AUTH_TOKEN", t["token"].as_str().unwrap())
            .output()
            .unwrap();
        let decision = |o: &std::process::Output| {
            let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
            (code(o), v["decision"].clone())
        };
        assert_eq!(
            decision(&local),
            decision(&remote),
            "{principal} {action} {resource}: local {} / remote {}",
            String::from_utf8_lossy(&local.stdout),
            String::from_utf8_lossy(&remote.stdout)
        );
        if principal == "user:carol" {
            assert_eq!(decision(&local).1, "allow", "{}", stderr(&local));
        }
    }
}

/// A server certificate made the usual way, `openssl req -x509` (self-signed
/// and CA:TRUE), given as --ca-file: every remote command and `worker
/// connect` accept it, as curl does; without it the refusal says why in words.
#[test]
fn a_self_signed_openssl_certificate_is_its_own_ca() {
    let env = Env::new();
    env.store();
    let (cert, key) = (
        env.dir.path().join("cert.pem"),
        env.dir.path().join("key.pem"),
    );
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian package openssl) must be installed");
    assert!(made.status.success(), "{}", stderr(&made));
    let ext = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-ext", "basicConstraints", "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&ext.stdout).contains("CA:TRUE"),
        "not the case under test"
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let server = Server::tls(&env, &cert, &key);
    let https = server.url.replace("127.0.0.1", "localhost");
    let admin = jwt("admin", "admin", 600);
    let ca = cert.to_str().unwrap();
    for (bin, args) in [
        ("token", &["list"][..]),
        ("grant", &["list"][..]),
        ("reload", &["history"][..]),
        ("audit", &["verify"][..]),
        ("worker", &["list"][..]),
    ] {
        let out = env
            .cmd(bin)
            .args(args)
            .args(["--server", &https, "--ca-file", ca])
            .env("MOAT_AUTH_TOKEN", &admin)
            .output()
            .unwrap();
        assert!(out.status.success(), "{bin} {args:?}: {}", stderr(&out));
    }
    // Without it: refused, in words, with what to do.
    let out = env
        .cmd("token")
        .args(["list", "--server", &https])
        .env("MOAT_AUTH_TOKEN", &admin)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(code(&out), 6, "{err}");
    assert!(
        err.contains("does not trust") && err.contains("--ca-file"),
        "{err}"
    );
    assert!(
        !err.contains("Other(") && !err.contains("OtherError"),
        "{err}"
    );

    // The worker, over wss with the same file.
    let token = env.create(&[])["token"].as_str().unwrap().to_owned();
    let wss = server.url.replace("https://127.0.0.1", "wss://localhost");
    let log = env.dir.path().join("w.log");
    let mut child = env
        .std_cmd("worker")
        .args([
            "connect",
            "--server",
            &wss,
            "--token",
            &token,
            "--ca-file",
            ca,
        ])
        .args(["--cache-dir", env.dir.path().join("wc").to_str().unwrap()])
        .args(["--label", "name=selfsigned"])
        .args(crate::workers::run_as(&[]))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let connected =
        crate::workers::wait_listed_connected(&env, &https, &cert, &admin, "selfsigned");
    if let Err(e) = connected {
        let _ = child.kill();
        panic!(
            "worker did not connect: {e}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Every row of the route table is served at its method and path: without
/// credentials each answers 401 (429 once throttled) in the error shape, not
/// 404 "no route" or 405, and the OpenAPI document serve publishes is the committed one.
#[test]
fn every_table_route_is_served() {
    let env = Env::new();
    let s = Server::with_jwt(&env, &["--auth-mode", "jwt"]);
    let agent = http_agent();
    for r in moat::ops::ROUTES {
        let path: String = r
            .path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let req = ureq::http::Request::builder()
            .method(r.method.as_str())
            .uri(format!("{}{path}", s.url))
            .header("content-type", "application/json")
            // A GET carries no body: an unread one would end the connection.
            .body(if r.method == moat::ops::Method::Get {
                vec![]
            } else {
                b"{}".to_vec()
            })
            .unwrap();
        // A fresh connection each: serve may close a pooled one it throttled.
        let mut resp = http_agent()
            .run(req)
            .unwrap_or_else(|e| panic!("{} {path}: {e}", r.method.as_str()));
        let v: Value = resp.body_mut().read_json().unwrap_or(Value::Null);
        // 429 once the failures from this address are throttled: still the
        // route's authentication answering, not "no route".
        let status = resp.status().as_u16();
        assert!(
            matches!(status, 401 | 429),
            "{} {path}: {status} {v}",
            r.method.as_str()
        );
        assert!(
            matches!(
                v["error"]["code"].as_str(),
                Some("unauthenticated" | "throttled")
            ),
            "{} {path}: {v}",
            r.method.as_str()
        );
    }
    let mut resp = agent
        .get(format!("{}/v1/openapi.json", s.url))
        .call()
        .unwrap();
    let served: Value = resp.body_mut().read_json().unwrap();
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(served, committed, "serve publishes the committed document");
}
