//! Fills a state file with N enrol token records for benchmarks (one shared
//! argon2 hash, so seeding 10,000 takes a second, not three minutes).
//! Usage: cargo run --release --example seed-tokens -- STATE N

use moat::credential::CredentialKind;
use moat::store::{Store, TokenRow};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: seed-tokens STATE N")?;
    let n: usize = args.next().ok_or("usage: seed-tokens STATE N")?.parse()?;
    let mut store = Store::open(std::path::Path::new(&path))?;
    let hash = moat::credential::hash_secret("benchmark seed")?;
    let now = moat::time::now_ms();
    store.write(|tx| {
        for i in 0..n {
            let raw = moat::credential::RawCredential::generate(CredentialKind::Enrol);
            tx.insert_token(&TokenRow {
                id: raw.id,
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
    })?;
    eprintln!("seeded {n} tokens into {path}");
    Ok(())
}
