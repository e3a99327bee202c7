//! Redemption (binding a machine to an enrol token), through the library
//! operation that `serve` uses, on a real state file.

use std::sync::Arc;
use std::sync::Barrier;

use moat::credential::CredentialKind;
use moat::store::Store;
use moat::token::{self, CreateRequest, Ctx, MaxUses};

fn ctx() -> Ctx {
    Ctx::new("test", moat::time::now_ms())
}

fn enrol(store: &mut Store, ctx: &Ctx, max_uses: MaxUses) -> String {
    let req = CreateRequest {
        kind: CredentialKind::Enrol,
        ttl: None,
        allow_long_ttl: false,
        max_uses: Some(max_uses),
        label: None,
        principal: None,
        scopes: vec![],
        public_key: None,
    };
    token::create(store, ctx, &req).unwrap().token.unwrap()
}

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    (dir, path)
}

#[test]
fn same_machine_twice_is_one_binding_and_a_second_machine_is_refused() {
    let (_d, path) = setup();
    let mut store = Store::open(&path).unwrap();
    let raw = enrol(&mut store, &ctx(), MaxUses::Limited(1));

    let first = token::redeem(&mut store, &ctx(), &raw, "machine-a").unwrap();
    assert!(first.new_binding);
    let again = token::redeem(&mut store, &ctx(), &raw, "machine-a").unwrap();
    assert!(!again.new_binding, "a reconnect adds no binding");

    let err = token::redeem(&mut store, &ctx(), &raw, "machine-b").unwrap_err();
    assert_eq!(err.code, "token_exhausted");
    assert_eq!(err.exit.code(), 4);

    let list = token::list(&mut store, moat::time::now_ms(), None, None).unwrap();
    assert_eq!(list[0].machines, vec!["machine-a".to_owned()]);
    assert_eq!(list[0].uses.as_deref(), Some("1/1"));
    assert_eq!(list[0].state, token::TokenState::Exhausted);
}

#[test]
fn expired_revoked_and_forged_tokens_are_refused_with_their_own_codes() {
    let (_d, path) = setup();
    let mut store = Store::open(&path).unwrap();

    // Created two hours ago with the default 1h TTL: expired now.
    let past = Ctx::new("test", moat::time::now_ms() - 2 * 3_600_000);
    let expired = enrol(&mut store, &past, MaxUses::Limited(1));
    let err = token::redeem(&mut store, &ctx(), &expired, "m1").unwrap_err();
    assert_eq!((err.code.as_str(), err.exit.code()), ("token_expired", 4));

    let revoked = enrol(&mut store, &ctx(), MaxUses::Unlimited);
    let id = moat::credential::RawCredential::parse(&revoked).unwrap().id;
    token::revoke(&mut store, &ctx(), &[id], Some("test")).unwrap();
    let err = token::redeem(&mut store, &ctx(), &revoked, "m1").unwrap_err();
    assert_eq!((err.code.as_str(), err.exit.code()), ("token_revoked", 4));

    // Right id, wrong secret (checksum recomputed by generating a sibling).
    let good = enrol(&mut store, &ctx(), MaxUses::Limited(1));
    let parsed = moat::credential::RawCredential::parse(&good).unwrap();
    // A forger knows the public id and can compute a valid checksum, but not the secret.
    let mut forged = moat::credential::RawCredential::generate(CredentialKind::Enrol);
    forged.id = parsed.id.clone();
    let forged = forged.expose();
    let err = token::redeem(&mut store, &ctx(), &forged, "m1").unwrap_err();
    assert_eq!((err.code.as_str(), err.exit.code()), ("invalid_token", 5));

    // Typo: checksum mismatch, caught before any lookup.
    let mut typo = good.clone().into_bytes();
    let last = typo.len() - 1;
    typo[last] = if typo[last] == b'0' { b'1' } else { b'0' };
    let err = token::redeem(
        &mut store,
        &ctx(),
        std::str::from_utf8(&typo).unwrap(),
        "m1",
    )
    .unwrap_err();
    assert_eq!(err.code, "checksum_mismatch");

    // An api token cannot enrol a machine.
    let err = token::redeem(&mut store, &ctx(), "mta_aaaaaaaaaaaa_x", "m1").unwrap_err();
    assert_eq!(err.code, "invalid_token");

    // Refusals of known tokens are audited with their reason, and the chain holds.
    let mut refused = Vec::new();
    store
        .read(|tx| {
            tx.audit_events(
                &moat::store::AuditQuery {
                    kind: Some("enrolment_refused".into()),
                    ..Default::default()
                },
                |e| {
                    refused.push(e.details["reason"].as_str().unwrap_or("").to_owned());
                    Ok(())
                },
            )
        })
        .unwrap();
    assert!(refused.contains(&"token_expired".to_owned()), "{refused:?}");
    assert!(refused.contains(&"token_revoked".to_owned()), "{refused:?}");
    let v = store.read(|tx| tx.verify_audit(None)).unwrap();
    assert!(v.intact, "{v:?}");
}

#[test]
fn bound_machines_stay_enrolled_after_expiry() {
    let (_d, path) = setup();
    let mut store = Store::open(&path).unwrap();
    let earlier = Ctx::new("test", moat::time::now_ms() - 3_500_000);
    let raw = enrol(&mut store, &earlier, MaxUses::Limited(2));
    token::redeem(&mut store, &earlier, &raw, "m1").unwrap();
    let later = Ctx::new("test", moat::time::now_ms() + 200_000);
    let r = token::redeem(&mut store, &later, &raw, "m1").unwrap();
    assert!(!r.new_binding);
    let err = token::redeem(&mut store, &later, &raw, "m2").unwrap_err();
    assert_eq!(err.code, "token_expired");
}

/// DESIGN §9.2: 16 racers on a `--max-uses 3` token get exactly 3 bindings.
#[test]
fn sixteen_racers_get_exactly_max_uses_bindings() {
    let (_d, path) = setup();
    let raw = {
        let mut store = Store::open(&path).unwrap();
        enrol(&mut store, &ctx(), MaxUses::Limited(3))
    };
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let (path, raw, barrier) = (path.clone(), raw.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut store = Store::open(&path).unwrap();
                barrier.wait();
                token::redeem(&mut store, &ctx(), &raw, &format!("machine-{i}"))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let exhausted = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.code == "token_exhausted"))
        .count();
    assert_eq!((ok, exhausted), (3, 13), "{results:?}");

    let mut store = Store::open(&path).unwrap();
    let list = token::list(&mut store, moat::time::now_ms(), None, None).unwrap();
    assert_eq!(list[0].machines.len(), 3);
    assert!(store.read(|tx| tx.verify_audit(None)).unwrap().intact);
}
