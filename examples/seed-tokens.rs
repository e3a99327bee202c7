//! Fills a state file with N enrol token records for benchmarks (one shared
//! argon2 hash, so seeding 10,000 takes a second, not three minutes).
//! Usage: cargo run --release --example seed-tokens -- STATE N

use moat::store::Store;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: seed-tokens STATE N")?;
    let n: usize = args.next().ok_or("usage: seed-tokens STATE N")?.parse()?;
    let mut store = Store::open_at(
        std::path::Path::new(&path),
        moat::env::key_file().as_deref(),
    )?;
    moat::token::seed_records(&mut store, n, moat::time::now_ms())?;
    eprintln!("seeded {n} tokens into {path}");
    Ok(())
}
