//! Decisions of the compiled moat snapshot side by side with cedar-policy on
//! the same synthetic policy and requests, at 100, 10,000 and 1,000,000
//! grants. First a latency pass (per-decision median and p99, and
//! throughput), then criterion's measurement of the same.
//!
//! Then a second latency pass separates the size of the index from the work
//! a decision has to do: the same requests against the same 100 grants,
//! with the rest of each larger policy given to another population (other
//! users, other groups) that the requests never reach.
//!
//! A third pass keeps the caches out of it: the first `HOT` requests only,
//! cycled, so at every size all the index a decision reads stays in the
//! core's caches. What is left is the work a decision does.
//!
//! A fourth pass splits a million-grant decision's time between waiting on
//! memory and the rest: with more requests cycled, less of what they read
//! stays cached; and a request decided again right after its first
//! decision finds everything cached, so the second costs only its
//! instructions (and branch mispredictions).
//!
//! A fifth pass asks whether the 100-grant figure is low only because its
//! requests reach nothing: half of its requests are made from the policy's
//! own grants (a principal that holds one, one of its actions, a name it
//! matches), so at every size about half the decisions find a grant.
//!
//! `MOAT_BENCH_CEDAR_MAX` (default 1000000) caps the sizes Cedar is run at.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use moat::policy::engine::{Compiled, Request};

#[path = "../tests/it/cedar_model.rs"]
mod cedar_model;
#[path = "support/dataset.rs"]
mod dataset;

const SIZES: [usize; 3] = [100, 10_000, 1_000_000];
/// Requests cycled in the hot pass: few enough that what they read stays cached.
const HOT: usize = 50;

struct Stats {
    per_sec: f64,
    median_ns: f64,
    p99_ns: f64,
    decisions: usize,
}

/// Time `f` once per request for up to `budget`, then a tight loop for
/// throughput. A short warm-up first: the first pass of a run otherwise
/// measures page faults and a cold predictor (once 88 ns instead of 60 ns
/// median at 100 grants).
fn measure(n_reqs: usize, budget: Duration, mut f: impl FnMut(usize) -> bool) -> Stats {
    let mut i = 0;
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(200) {
        black_box(f(i % n_reqs));
        i += 1;
    }
    let mut lat = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget && lat.len() < 2_000_000 {
        let t = Instant::now();
        black_box(f(i % n_reqs));
        lat.push(t.elapsed().as_nanos() as f64);
        i += 1;
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let tight = Instant::now();
    let mut done = 0;
    while tight.elapsed() < budget {
        for _ in 0..64 {
            black_box(f(done % n_reqs));
            done += 1;
        }
    }
    Stats {
        per_sec: done as f64 / tight.elapsed().as_secs_f64(),
        median_ns: lat[lat.len() / 2],
        p99_ns: lat[lat.len() * 99 / 100],
        decisions: lat.len() + done,
    }
}

/// The engine's view of the dataset's requests.
fn as_requests(reqs: &[dataset::Req]) -> Vec<Request<'_>> {
    reqs.iter()
        .map(|(p, a, k, name)| Request {
            principal: p,
            action: *a,
            kind: k,
            name,
        })
        .collect()
}

fn main() {
    let cedar_max: usize = std::env::var("MOAT_BENCH_CEDAR_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let members = dataset::members(1);
    let reqs = dataset::requests(10_000, 2);
    let moat_req = as_requests(&reqs);
    let mut criterion = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut hot = Vec::new();
    let mut split = Vec::new();
    let mut reachable = Vec::new();
    println!("| grants | engine | decisions/s | median | p99 | allow rate |");
    println!("|---|---|---|---|---|---|");
    for n in SIZES {
        let grants = dataset::grants(n, 3);
        let t = Instant::now();
        let compiled = Compiled::new(1, grants.clone(), &members);
        let compile_time = t.elapsed();
        let allows = moat_req
            .iter()
            .filter(|r| compiled.decide(r, &[]).allow)
            .count();
        let s = measure(moat_req.len(), Duration::from_secs(2), |i| {
            compiled.decide(&moat_req[i], &[]).allow
        });
        println!(
            "| {n} | moat | {:.0} | {:.0} ns | {:.0} ns | {:.1}% |",
            s.per_sec,
            s.median_ns,
            s.p99_ns,
            100.0 * allows as f64 / reqs.len() as f64
        );
        eprintln!(
            "moat compile of {n} grants: {compile_time:?}; {} decisions timed",
            s.decisions
        );
        let s = measure(HOT, Duration::from_secs(1), |i| {
            compiled.decide(&moat_req[i], &[]).allow
        });
        let allows = moat_req[..HOT]
            .iter()
            .filter(|r| compiled.decide(r, &[]).allow)
            .count();
        hot.push((n, s, allows));
        let near = dataset::reachable_requests(&grants, &members, 10_000, 4);
        let near = as_requests(&near);
        let allows = near
            .iter()
            .filter(|r| compiled.decide(r, &[]).allow)
            .count();
        let s = measure(near.len(), Duration::from_secs(2), |i| {
            compiled.decide(&near[i], &[]).allow
        });
        reachable.push((n, s, allows));
        if n == SIZES[SIZES.len() - 1] {
            for cycled in [HOT, 1_000, moat_req.len()] {
                let once = measure(cycled, Duration::from_secs(1), |i| {
                    compiled.decide(&moat_req[i], &[]).allow
                });
                let twice = measure(cycled, Duration::from_secs(1), |i| {
                    let first = compiled.decide(&moat_req[i], &[]).allow;
                    first & compiled.decide(black_box(&moat_req[i]), &[]).allow
                });
                let (once, twice) = (1e9 / once.per_sec, 1e9 / twice.per_sec);
                split.push((cycled, once, twice - once));
            }
        }

        let mut group = criterion.benchmark_group("decide");
        group.bench_with_input(BenchmarkId::new("moat", n), &n, |b, _| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % moat_req.len();
                compiled.decide(&moat_req[i], &[]).allow
            })
        });

        if n <= cedar_max {
            let t = Instant::now();
            let cedar = cedar_model::CedarModel::new(&grants, &members);
            eprintln!("cedar build of {n} policies: {:?}", t.elapsed());
            let cedar_req: Vec<_> = reqs
                .iter()
                .map(|(p, a, k, name)| cedar.request(p, *a, k, name))
                .collect();
            let agree = cedar_req
                .iter()
                .zip(&moat_req)
                .take(if n >= 1_000_000 { 20 } else { 2_000 })
                .all(|(c, m)| cedar.is_allowed(c) == compiled.decide(m, &[]).allow);
            assert!(agree, "moat and Cedar disagree at {n} grants");
            let s = measure(cedar_req.len(), Duration::from_secs(3), |i| {
                cedar.is_allowed(&cedar_req[i])
            });
            println!(
                "| {n} | cedar | {:.0} | {:.0} ns | {:.0} ns | same |",
                s.per_sec, s.median_ns, s.p99_ns
            );
            if n < 1_000_000 {
                group.bench_with_input(BenchmarkId::new("cedar", n), &n, |b, _| {
                    let mut i = 0;
                    b.iter(|| {
                        i = (i + 1) % cedar_req.len();
                        cedar.is_allowed(&cedar_req[i])
                    })
                });
            }
        }
        group.finish();
    }
    criterion.final_summary();

    println!();
    println!("| grants | requests cycled (all cached) | decisions/s | median | p99 | allowed |");
    println!("|---|---|---|---|---|---|");
    for (n, s, allows) in hot {
        println!(
            "| {n} | {HOT} | {:.0} | {:.0} ns | {:.0} ns | {allows} of {HOT} |",
            s.per_sec, s.median_ns, s.p99_ns
        );
    }

    println!();
    println!(
        "| grants | requests cycled | ns per decision | the same decision again right after |"
    );
    println!("|---|---|---|---|");
    for (cycled, once, again) in split {
        println!(
            "| {} | {cycled} | {once:.0} ns | {again:.0} ns |",
            SIZES[SIZES.len() - 1]
        );
    }

    println!();
    println!(
        "| grants | requests (half made to reach a grant) | decisions/s | ns each | median | p99 | allowed |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (n, s, allows) in reachable {
        println!(
            "| {n} | 10000 | {:.0} | {:.1} ns | {:.0} ns | {:.0} ns | {:.1}% |",
            s.per_sec,
            1e9 / s.per_sec,
            s.median_ns,
            s.p99_ns,
            allows as f64 / 100.0
        );
    }

    let mut all_members = members.clone();
    all_members.extend(dataset::members_in("x", 7));
    let mut base = None;
    println!();
    println!(
        "| grants in the index | reachable by the requests | decisions/s | median | p99 | allows as with 100 |"
    );
    println!("|---|---|---|---|---|---|");
    for n in SIZES {
        let mut grants = dataset::grants(100, 3);
        grants.extend(dataset::grants_in("x", n - 100, 5));
        let compiled = Compiled::new(1, grants, &all_members);
        let allows: Vec<bool> = moat_req
            .iter()
            .map(|r| compiled.decide(r, &[]).allow)
            .collect();
        let same = base.get_or_insert_with(|| allows.clone()) == &allows;
        assert!(
            same,
            "the other population changed a decision at {n} grants"
        );
        let s = measure(moat_req.len(), Duration::from_secs(2), |i| {
            compiled.decide(&moat_req[i], &[]).allow
        });
        println!(
            "| {n} | 100 | {:.0} | {:.0} ns | {:.0} ns | {same} |",
            s.per_sec, s.median_ns, s.p99_ns
        );
    }
}
