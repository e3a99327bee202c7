//! `/v1` request bodies and paths through serve's real router, on a real
//! state file, authenticated as an admin: whatever arrives, the answer is
//! an HTTP response in the error shape or a success, never a panic or a 500.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use tower::ServiceExt;

const SECRET: &str = "fuzz-secret-of-at-least-thirty-two-bytes";

const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/tokens"),
    ("POST", "/v1/tokens/revoke"),
    ("POST", "/v1/tokens/prune"),
    ("POST", "/v1/tokens/verify"),
    ("POST", "/v1/grants"),
    ("POST", "/v1/grants/revoke"),
    ("POST", "/v1/grants/apply"),
    ("POST", "/v1/groups/ops/add"),
    ("POST", "/v1/check"),
    ("POST", "/v1/check/batch"),
    ("POST", "/v1/reload"),
    ("POST", "/v1/snapshots/prune"),
    ("POST", "/v1/audit/verify"),
    ("POST", "/v1/workers/revoke"),
    ("POST", "/v1/dispatches"),
    ("GET", "/v1/tokens?"),
    ("GET", "/v1/grants?"),
    ("GET", "/v1/audit?"),
    ("GET", "/v1/workers/"),
    ("GET", "/v1/tokens/"),
];

struct World {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    jwt: String,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        // serve's defaults for the rest, so a new flag does not break this target.
        let flags = moat::server::ServeFlags {
            state: dir.path().join("state.db"),
            port: 0,
            auth_mode: "jwt".into(),
            jwt_secret_env: Some(SECRET.into()),
            max_workers: 100,
            ..Default::default()
        };
        let cfg = moat::server::ServeConfig::from_flags(flags).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let app = rt.block_on(async { moat::server::router(moat::server::prepare(cfg).unwrap()) });
        let exp = moat::time::now_ms() / 1000 + 365 * 86_400;
        let jwt = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &serde_json::json!({"sub": "fuzz", "role": "admin", "exp": exp}),
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        World {
            rt,
            app,
            jwt,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (method, path) = ROUTES[pick as usize % ROUTES.len()];
    let w = world();
    // GET routes take the input as their query or last path segment.
    let (uri, body) = if method == "GET" {
        let tail: String = String::from_utf8_lossy(rest)
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .collect();
        (format!("{path}{tail}"), Vec::new())
    } else {
        (path.to_owned(), rest.to_vec())
    };
    let Ok(mut req) = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(uri)
        .header("authorization", format!("Bearer {}", w.jwt))
        .header("content-type", "application/json")
        .body(Body::from(body))
    else {
        return;
    };
    req.extensions_mut()
        .insert(ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 9))));
    let resp = w.rt.block_on(w.app.clone().oneshot(req)).unwrap();
    assert_ne!(
        resp.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "{method} {path}"
    );
});
