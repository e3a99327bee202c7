//! In-process costs of the token operations: listing 10,000 records and
//! creating one (argon2id plus one write transaction with its audit event).

use criterion::{Criterion, criterion_group, criterion_main};
use moat::credential::CredentialKind;
use moat::store::Store;
use moat::token::{self, CreateRequest, Ctx};

fn seeded(n: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("state.db")).unwrap();
    token::seed_records(&mut store, n, moat::time::now_ms()).unwrap();
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
        public_key: None,
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
