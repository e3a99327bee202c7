//! Fills a state file with the synthetic benchmark policy (N grants, 1,000
//! groups, 10,000 users in 1–5 groups each) and writes M check requests as
//! NDJSON. Usage: cargo run --release --example seed-grants -- STATE N REQUESTS_FILE M

use std::io::Write;

use moat::store::Store;

#[path = "../benches/support/dataset.rs"]
mod dataset;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [state, n, out, m] = args.as_slice() else {
        return Err("usage: seed-grants STATE N REQUESTS_FILE M".into());
    };
    let (n, m): (usize, usize) = (n.parse()?, m.parse()?);
    let mut store = Store::open_at(
        std::path::Path::new(state),
        moat::env::key_file().as_deref(),
    )?;
    let grants = dataset::grants(n, 3);
    let members = dataset::members(1);
    let now = moat::time::now_ms();
    store.write(|tx| {
        for mut g in grants {
            g.created_at = now;
            tx.insert_grant(&g)?;
        }
        for mem in &members {
            tx.add_member(mem, now, "local:bench")?;
        }
        Ok(())
    })?;
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    for (p, a, k, name) in dataset::requests(m, 2) {
        writeln!(
            w,
            r#"{{"principal":"{p}","action":"{}","resource":"{k}:{name}"}}"#,
            a.as_str()
        )?;
    }
    w.flush()?;
    eprintln!(
        "seeded {n} grants and {} memberships into {state}; wrote {m} requests to {out}",
        members.len()
    );
    Ok(())
}
