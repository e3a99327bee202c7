//! Who may mint what, through a real serve (DESIGN §4; issue: trust
//! boundaries, defect 1): an operator cannot mint for root, a scoped token
//! passes on at most its scopes and its lifetime, a superuser mints for
//! others and that is audited as such.

use serde_json::{Value, json};

use crate::common::*;

fn as_caller(env: &Env, bearer: &str, args: &[&str]) -> std::process::Output {
    env.cmd("token")
        .args(args)
        .env("MOAT_AUTH_TOKEN", bearer)
        .output()
        .unwrap()
}

/// `token create --kind api --principal P EXTRA...` as `bearer`.
fn api_as(env: &Env, bearer: &str, principal: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["create", "--kind", "api", "--principal", principal];
    args.extend_from_slice(extra);
    as_caller(env, bearer, &args)
}

fn minted(out: &std::process::Output) -> Value {
    assert_eq!(code(out), 0, "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn refused(out: &std::process::Output, needle: &str) {
    assert_eq!(code(out), 5, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr(out).contains(needle), "{}", stderr(out));
}

#[test]
fn nobody_mints_more_than_it_holds() {
    let env = Env::remote();
    let operator = jwt("op1", "operator", 3600);
    // The escalation: an operator (write on *:*) mints a token for root.
    refused(
        &api_as(&env, &operator, "user:root", &[]),
        "only for itself",
    );
    // For itself it may, and the token keeps the operator role it came from.
    let own = minted(&api_as(&env, &operator, "user:op1", &["--ttl", "30m"]));
    let own_token = own["token"].as_str().unwrap();
    let longer = api_as(&env, own_token, "user:op1", &["--ttl", "2h"]);
    refused(&longer, "outlive");

    // A superuser mints a narrowly scoped token for alice, who may write
    // tokens and read the audit log.
    for action in ["write:access:tokens", "read:access:audit"] {
        let (a, r) = action.split_once(':').unwrap();
        let grant = [
            "add",
            "--subject",
            "user:alice",
            "--action",
            a,
            "--resource",
            r,
        ];
        env.json("grant", &grant);
    }
    env.json("reload", &[]);
    let admin = jwt("admin", "admin", 3600);
    let scope = ["--scope", "write:access:tokens", "--ttl", "20m"];
    let scoped = minted(&api_as(&env, &admin, "user:alice", &scope));
    let alice = scoped["token"].as_str().unwrap();
    // That token cannot mint an unscoped one: what it makes carries its scopes.
    let child = minted(&api_as(&env, alice, "user:alice", &[]));
    assert_eq!(child["scopes"], json!(["write:access:tokens"]), "{child}");
    // Nor a wider one, nor one for root, nor one that outlives it.
    refused(
        &api_as(&env, alice, "user:alice", &["--scope", "admin:access:*"]),
        "wider",
    );
    refused(&api_as(&env, alice, "user:root", &[]), "only for itself");
    refused(
        &api_as(&env, alice, "user:alice", &["--ttl", "1d"]),
        "outlive",
    );
    // The default lifetime shrinks to the maker's instead.
    let exp = |v: &Value| v["expires_at"].as_str().unwrap().to_owned();
    assert!(exp(&child) <= exp(&scoped), "{child} outlives {scoped}");
    // Enrol tokens it may make.
    minted(&as_caller(&env, alice, &["create", "--ttl", "5m"]));
    // The child really is scoped: it cannot read the audit log.
    let out = env
        .cmd("audit")
        .args(["log", "--server", &env.remote.as_ref().unwrap().0.url])
        .env("MOAT_AUTH_TOKEN", child["token"].as_str().unwrap())
        .output()
        .unwrap();
    assert_eq!(code(&out), 5, "{}", stderr(&out));

    // Minting for another principal is audited as a superuser's act.
    let log = env.json("audit", &["log", "--type", "token_created"]);
    let for_alice = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["target"] == scoped["id"])
        .unwrap();
    assert_eq!(
        for_alice["details"]["for_other"], "superuser",
        "{for_alice}"
    );
    assert_eq!(for_alice["actor"], "user:admin");
    env.assert_audit_intact();
}
