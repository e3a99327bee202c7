//! Load test of `serve`: `POST /v1/check` over TLS with a cached api token,
//! next to a bare axum + rustls endpoint measured in the same run with the
//! same client, plus the first request of a new api token (argon2id) against
//! cached ones. Everything on loopback; ports chosen by the OS.
//!
//! Usage: cargo run --release --example bench-serve -- [SECONDS] [THREADS]
//! (expects `target/release/serve`; scripts/bench-serve builds it)

use std::io::BufRead;
use std::time::{Duration, Instant};

use moat::credential::CredentialKind;
use moat::store::Store;
use moat::token::{self, CreateRequest, Ctx};

fn certs(dir: &std::path::Path) -> (Vec<u8>, std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use std::os::unix::fs::PermissionsExt;
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o600)).unwrap();
    (ca.pem().into_bytes(), c, k)
}

fn agent(ca_pem: &[u8]) -> ureq::Agent {
    let certs: Vec<_> = ureq::tls::parse_pem(ca_pem)
        .filter_map(|i| match i {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
        .build();
    ureq::Agent::config_builder().tls_config(tls).build().into()
}

const BODY: &str = r#"{"principal":"user:bench","action":"read","resource":"worker:build-1"}"#;

fn post(agent: &ureq::Agent, url: &str, bearer: &str) -> Duration {
    let t = Instant::now();
    let mut r = agent
        .post(url)
        .header("authorization", format!("Bearer {bearer}"))
        .content_type("application/json")
        .send(BODY)
        .expect("request");
    let _ = r.body_mut().read_to_string().expect("body");
    assert_eq!(r.status(), 200);
    t.elapsed()
}

/// `threads` clients, each with its own keep-alive connection, for `secs`.
fn load(
    ca: &[u8],
    url: &str,
    bearer: &str,
    threads: usize,
    secs: u64,
) -> (f64, Duration, Duration) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (ca, url, bearer) = (ca.to_vec(), url.to_owned(), bearer.to_owned());
            std::thread::spawn(move || {
                let a = agent(&ca);
                let mut lat = Vec::new();
                while Instant::now() < deadline {
                    lat.push(post(&a, &url, &bearer));
                }
                lat
            })
        })
        .collect();
    let start = Instant::now();
    let mut all: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    (
        all.len() as f64 / elapsed,
        all[all.len() / 2],
        all[all.len() * 99 / 100],
    )
}

fn main() {
    moat::tls::init();
    let mut args = std::env::args().skip(1);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    let (ca, cert, key) = certs(dir.path());

    // An api token for user:bench, allowed to ask for decisions.
    let ctx = Ctx::new("bench", moat::time::now_ms());
    let mut store = Store::open(&state).unwrap();
    let mk = |store: &mut Store| {
        let req = CreateRequest {
            kind: CredentialKind::Api,
            ttl: None,
            allow_long_ttl: false,
            max_uses: None,
            label: None,
            principal: Some("user:bench".parse().unwrap()),
            scopes: vec![],
            public_key: None,
        };
        token::create(store, &ctx, &req).unwrap().token.unwrap()
    };
    let bearer = mk(&mut store);
    let fresh = mk(&mut store);
    let add = moat::grant::AddRequest {
        subject: "user:bench".parse().unwrap(),
        effect: moat::policy::grant::Effect::Allow,
        actions: moat::policy::grant::Actions::parse_list(&["read"]).unwrap(),
        resource: "access:grants".parse().unwrap(),
        note: None,
    };
    moat::grant::add(&mut store, &ctx, &add).unwrap();
    moat::reload::reload(&mut store, &ctx, false).unwrap();
    drop(store);

    let serve_bin = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("serve");
    let mut child = std::process::Command::new(&serve_bin)
        .env_clear()
        .env("MOAT_STATE", &state)
        .args([
            "--port",
            "0",
            "--cert-file",
            cert.to_str().unwrap(),
            "--key-file",
            key.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", serve_bin.display()));
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let moat_url = format!(
        "{}/v1/check",
        v["listening"]
            .as_str()
            .unwrap()
            .replace("127.0.0.1", "localhost")
    );

    // The bare endpoint: axum + rustls, same certificate, a fixed JSON answer.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bare_addr = rt.block_on(async {
        let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
            .await
            .unwrap();
        let app = axum::Router::new().route(
            "/bare",
            axum::routing::post(|body: String| async move {
                axum::Json(serde_json::json!({"decision": "allow", "len": body.len()}))
            }),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum_server::from_tcp_rustls(listener, config)
                .unwrap()
                .serve(app.into_make_service())
                .await
                .unwrap();
        });
        addr
    });
    let bare_url = format!("https://localhost:{}/bare", bare_addr.port());

    let a = agent(&ca);
    let first = post(&a, &moat_url, &fresh);
    let mut cached: Vec<Duration> = (0..200).map(|_| post(&a, &moat_url, &fresh)).collect();
    cached.sort();
    println!(
        "first request with a new api token (argon2id verify): {:.2} ms",
        first.as_secs_f64() * 1e3
    );
    println!(
        "same token, cached (median of 200 sequential): {:.3} ms",
        cached[100].as_secs_f64() * 1e3
    );

    let (b_rps, b_p50, b_p99) = load(&ca, &bare_url, &bearer, threads, secs);
    let (m_rps, m_p50, m_p99) = load(&ca, &moat_url, &bearer, threads, secs);
    println!("| endpoint | requests/s | p50 | p99 |");
    println!("|---|---|---|---|");
    println!(
        "| bare axum + rustls | {b_rps:.0} | {:.3} ms | {:.3} ms |",
        b_p50.as_secs_f64() * 1e3,
        b_p99.as_secs_f64() * 1e3
    );
    println!(
        "| moat POST /v1/check | {m_rps:.0} | {:.3} ms | {:.3} ms |",
        m_p50.as_secs_f64() * 1e3,
        m_p99.as_secs_f64() * 1e3
    );
    println!(
        "moat / bare throughput: {:.0}% ({threads} client threads, {secs} s each, keep-alive, TLS 1.3)",
        100.0 * m_rps / b_rps
    );
    let _ = child.kill();
    let _ = child.wait();
}
