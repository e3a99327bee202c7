//! JWT headers and claims as serve sees them: any bearer string, and any
//! claims JSON correctly signed (so the claims themselves are reached),
//! is accepted or refused without a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

use moat::server::auth::Authenticator;
use moat::server::config::AuthModes;

const SECRET: &[u8] = b"fuzz-secret-of-at-least-thirty-two-bytes";

fn auth() -> &'static Authenticator {
    static A: OnceLock<Authenticator> = OnceLock::new();
    A.get_or_init(|| {
        let modes = AuthModes {
            jwt: true,
            ..AuthModes::default()
        };
        Authenticator::new(modes, &[7u8; 32], Some(SECRET), None)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = auth().check_jwt(s);
    let _ = Authenticator::claimed_token_id(s);
    if let Ok(claims) = serde_json::from_str::<serde_json::Value>(s) {
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        let key = jsonwebtoken::EncodingKey::from_secret(SECRET);
        if let Ok(token) = jsonwebtoken::encode(&header, &claims, &key) {
            let _ = auth().check_jwt(&token);
        }
    }
});
