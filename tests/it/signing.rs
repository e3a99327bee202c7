//! Signer keys and RFC 9421 signed requests through a real `serve
//! --auth-mode signature`: a session with no api token at all, and each
//! refusal by its code, audited, with no key material in the logs.

use serde_json::Value;

use crate::common::*;
use moat::sign::http::{self as httpsig, Message, Params};

fn keygen(env: &Env, name: &str) -> std::path::PathBuf {
    let out = env.dir.path().join(name);
    let o = env.run("token", &["keygen", "--out", out.to_str().unwrap()], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

fn register(env: &Env, key: &std::path::Path, principal: &str) -> Value {
    let public = format!("{}.pub", key.display());
    env.json(
        "token",
        &[
            "create",
            "--kind",
            "key",
            "--principal",
            principal,
            "--public-key",
            &public,
        ],
    )
}

#[test]
fn keys_are_records_without_secrets_listed_shown_and_revoked_like_tokens() {
    let env = Env::new();
    let k = keygen(&env, "alice");
    let rec = register(&env, &k, "user:alice");
    let id = rec["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("key_"), "{rec}");
    assert_eq!(rec["kind"], "key");
    assert!(rec.get("token").is_none(), "a key has no secret: {rec}");
    let list = env.json("token", &["list", "--kind", "key"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        env.json("token", &["show", &id])["fingerprint"],
        rec["fingerprint"]
    );
    // The same public key twice is a conflict; the private key is refused.
    let public = format!("{}.pub", k.display());
    let again = env.run(
        "token",
        &[
            "create",
            "--kind",
            "key",
            "--principal",
            "user:bob",
            "--public-key",
            &public,
        ],
        b"",
    );
    assert_eq!(code(&again), 4, "{}", stderr(&again));
    let before = env.snapshot();
    let private = env.run(
        "token",
        &[
            "create",
            "--kind",
            "key",
            "--principal",
            "user:bob",
            "--public-key",
            k.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(code(&private), 2);
    assert!(stderr(&private).contains("private key"));
    assert_eq!(before, env.snapshot(), "bad input changed the state");
    let revoked = env.json("token", &["revoke", &id, "--reason", "laptop lost"]);
    assert_eq!(revoked[0]["state"], "revoked");
    let private_text = std::fs::read_to_string(&k).unwrap();
    let body = private_text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>();
    for (name, bytes) in env.snapshot() {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&body[..40]),
            "private key material in {name}"
        );
    }
    env.assert_audit_intact();
}

/// One signed request by hand, as an independent client would send it.
fn signed(
    url: &str,
    path: &str,
    body: &[u8],
    key: &ed25519_dalek::SigningKey,
    keyid: &str,
    p: (i64, i64, &str),
) -> (u16, Value) {
    let target = format!("{url}{path}");
    let digest = httpsig::content_digest(body);
    let lookup = |n: &str| (n == "content-digest").then(|| digest.clone());
    let msg = Message {
        method: "POST",
        target_uri: &target,
        header: &lookup,
    };
    let params = Params {
        created: p.0,
        expires: p.1,
        nonce: p.2.to_owned(),
        keyid: keyid.to_owned(),
    };
    let comps = ["@method", "@authority", "@target-uri", "content-digest"];
    let (input, sig) = httpsig::sign(key, &msg, &comps, &params).unwrap();
    send(&target, &input, &sig, &digest, body)
}

fn send(target: &str, input: &str, sig: &str, digest: &str, body: &[u8]) -> (u16, Value) {
    let mut r = http_agent()
        .post(target)
        .header("content-type", "application/json")
        .header("signature-input", input)
        .header("signature", sig)
        .header("content-digest", digest)
        .send(body)
        .unwrap();
    let status = r.status().as_u16();
    let v = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null);
    (status, v)
}

#[test]
fn a_key_alone_runs_commands_through_serve_and_each_refusal_has_its_code() {
    let env = Env::new();
    let k = keygen(&env, "alice");
    let rec = register(&env, &k, "user:alice");
    let keyid = rec["id"].as_str().unwrap().to_owned();
    let mut server = Server::with_jwt(
        &env,
        &["--auth-mode", "signature", "--admins", "user:alice"],
    );
    let remote = |args: &[&str], key: &std::path::Path| {
        let mut c = env.std_cmd(args[0]);
        c.args(&args[1..])
            .env("MOAT_SERVER", &server.url)
            .env("MOAT_SIGNING_KEY", key)
            .env_remove("MOAT_STATE");
        c.output().unwrap()
    };
    // No api token anywhere: token list and grant add, signed.
    let o = remote(&["token", "list", "--format", "json"], &k);
    assert!(o.status.success(), "{}", stderr(&o));
    let listed: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(listed[0]["id"], keyid.as_str());
    let o = remote(
        &[
            "grant",
            "add",
            "--subject",
            "user:bob",
            "--action",
            "read",
            "--resource",
            "access:audit",
        ],
        &k,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // A key nobody registered.
    let stranger = keygen(&env, "stranger");
    let o = remote(&["token", "list"], &stranger);
    assert_eq!(code(&o), 5);
    assert!(stderr(&o).contains("unknown_key"), "{}", stderr(&o));

    // Refusals of hand-made signatures, each by its code.
    let signer = moat::sign::keys::read_private(&k).unwrap();
    let now = moat::time::now_ms() / 1000;
    let body = br#"{"principal":"user:alice","action":"read","resource":"access:audit"}"#;
    let (s, v) = signed(
        &server.url,
        "/v1/check",
        body,
        &signer.key,
        &keyid,
        (now, now + 60, "n-1"),
    );
    assert_eq!(s, 200, "{v}");
    let again = signed(
        &server.url,
        "/v1/check",
        body,
        &signer.key,
        &keyid,
        (now, now + 60, "n-1"),
    );
    assert_eq!(
        (again.0, again.1["error"]["code"].as_str()),
        (401, Some("replayed_nonce"))
    );
    let stale = signed(
        &server.url,
        "/v1/check",
        body,
        &signer.key,
        &keyid,
        (now - 900, now - 840, "n-2"),
    );
    assert_eq!(stale.1["error"]["code"], "stale_signature");
    let future = signed(
        &server.url,
        "/v1/check",
        body,
        &signer.key,
        &keyid,
        (now + 600, now + 660, "n-3"),
    );
    assert_eq!(future.1["error"]["code"], "future_signature");
    let other = moat::sign::keys::read_private(&stranger).unwrap();
    let forged = signed(
        &server.url,
        "/v1/check",
        body,
        &other.key,
        &keyid,
        (now, now + 60, "n-4"),
    );
    assert_eq!(forged.1["error"]["code"], "bad_signature");
    let unknown = signed(
        &server.url,
        "/v1/check",
        body,
        &signer.key,
        "key_000000000000",
        (now, now + 60, "n-5"),
    );
    assert_eq!(unknown.1["error"]["code"], "unknown_key");
    // The body changed in transit, its digest and signature kept.
    let target = format!("{}/v1/check", server.url);
    let digest = httpsig::content_digest(body);
    let lookup = |n: &str| (n == "content-digest").then(|| digest.clone());
    let msg = Message {
        method: "POST",
        target_uri: &target,
        header: &lookup,
    };
    let params = Params {
        created: now,
        expires: now + 60,
        nonce: "n-6".into(),
        keyid: keyid.clone(),
    };
    let (input, sig) = httpsig::sign(
        &signer.key,
        &msg,
        &["@method", "@authority", "@target-uri", "content-digest"],
        &params,
    )
    .unwrap();
    let altered = br#"{"principal":"user:mallory","action":"read","resource":"access:audit"}"#;
    let (s, v) = send(&target, &input, &sig, &digest, altered);
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("digest_mismatch")),
        "{v}"
    );
    let (_, v) = send(&target, "sig1=(\"@method\")", "sig1=:AA==:", &digest, body);
    assert_eq!(v["error"]["code"], "malformed_signature");

    // Revoked through serve itself: refused at once.
    let o = remote(&["token", "revoke", &keyid], &k);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = remote(&["token", "list"], &k);
    assert!(stderr(&o).contains("key_revoked"), "{}", stderr(&o));

    server.stop();
    let log = server.stderr();
    assert!(!log.contains(&sig[6..30]), "signature bytes in serve's log");
    let events = env.json("audit", &["log", "--type", "auth_failure"]);
    let reasons: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["details"]["reason"].as_str())
        .collect();
    for code in [
        "unknown_key",
        "replayed_nonce",
        "stale_signature",
        "future_signature",
        "bad_signature",
        "digest_mismatch",
        "malformed_signature",
        "key_revoked",
    ] {
        assert!(reasons.contains(&code), "{code} not audited: {reasons:?}");
    }
    let audit = serde_json::to_string(&env.json("audit", &["log"])).unwrap();
    assert!(!audit.contains(&sig[6..30]), "signature bytes in the audit");
    env.assert_audit_intact();
}
