//! In-process costs of the token operations: listing 10,000 records and
//! creating one (argon2id plus one write transaction with its audit event).

use criterion::{Criterion, criterion_group, criterion_main};
use moat::credential::CredentialKind;
use moat::store::{Store, TokenRow};
use moat::token::{self, CreateRequest, Ctx};

fn seeded(n: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("state.db")).unwrap();
    let hash = moat::credential::hash_secret("bench").unwrap();
    let now = moat::time::now_ms();
    store
        .write(|tx| {
            for i in 0..n {
                tx.insert_token(&TokenRow {
                    id: format!("{i:012}"),
                    kind: CredentialKind::Enrol,
                    secret_hash: hash.clone(),
                    label: Some(format!("bench {i}")),
                    principal: None,
                    scopes: vec![],
                    max_uses: Some(1),
                    created_at: now,
                    created_by: "local:bench".into(),
                    expires_at: now + 3_600_000,
                    revoked_at: None,
                    reason: None,
                    last_used_at: None,
                    machines: vec![],
                })?;
            }
            Ok(())
        })
        .unwrap();
    (dir, store)
}

fn bench(c: &mut Criterion) {
    let (_dir, mut store) = seeded(10_000);
    c.bench_function("token_list_10k_to_json", |b| {
        b.iter(|| {
            let list = token::list(&mut store, moat::time::now_ms(), None, None).unwrap();
            serde_json::to_vec(&list).unwrap()
        })
    });

    let (_dir2, mut store) = seeded(0);
    let req = CreateRequest {
        kind: CredentialKind::Enrol,
        ttl: None,
        allow_long_ttl: false,
        max_uses: None,
        label: None,
        principal: None,
        scopes: vec![],
    };
    let mut g = c.benchmark_group("token_create");
    g.sample_size(20);
    g.bench_function("create_enrol", |b| {
        b.iter(|| token::create(&mut store, &Ctx::local(), &req).unwrap())
    });
    g.bench_function("argon2id_hash_only", |b| {
        b.iter(|| moat::credential::hash_secret("a-secret-of-some-length").unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
