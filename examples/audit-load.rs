//! Load for the audit benchmarks (see scripts/bench-audit):
//!   audit-load seed STATE N                 append N events in batches of 10,000
//!   audit-load append STATE THREADS EACH    THREADS writers, each appending EACH
//!                                           events, one transaction per event

use std::path::{Path, PathBuf};
use std::time::Instant;

use moat::audit::NewEvent;
use moat::store::Store;
use serde_json::json;

fn event(i: usize) -> NewEvent {
    NewEvent::new("token_created", "local:bench", Some(format!("tok_{i:012}")))
        .details(json!({"kind": "enrol", "label": format!("bench {i}"), "max_uses": 1}))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["seed", state, n] => {
            let n: usize = n.parse()?;
            let mut store = Store::open_at(Path::new(state), moat::env::key_file().as_deref())?;
            let now = moat::time::now_ms();
            for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
                store.write(|tx| {
                    for &i in chunk {
                        tx.append_audit(event(i), now)?;
                    }
                    Ok(())
                })?;
            }
            eprintln!("appended {n} events to {state}");
        }
        ["append", state, threads, each] => {
            let (threads, each): (usize, usize) = (threads.parse()?, each.parse()?);
            let path = PathBuf::from(state);
            Store::open(&path)?; // create before the race
            let start = Instant::now();
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let path = path.clone();
                    std::thread::spawn(move || -> Result<(), moat::Error> {
                        let mut store = Store::open(&path)?;
                        for i in 0..each {
                            store.write(|tx| {
                                tx.append_audit(event(t * each + i), moat::time::now_ms())
                                    .map(|_| ())
                            })?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for h in handles {
                h.join().map_err(|_| "writer panicked")??;
            }
            let secs = start.elapsed().as_secs_f64();
            let total = threads * each;
            println!(
                "{threads} concurrent writers appended {total} events (one transaction each) in {secs:.2} s = {:.0} events/s",
                total as f64 / secs
            );
        }
        _ => return Err("usage: audit-load seed STATE N | append STATE THREADS EACH".into()),
    }
    Ok(())
}
