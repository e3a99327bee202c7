//! `grant check --batch` input, any bytes: never a panic, and exactly one
//! answer line per request line, in order.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

use moat::policy::engine::{Compiled, Membership};
use moat::policy::grant::builtin_grants;

fn policy() -> &'static Compiled {
    static P: OnceLock<Compiled> = OnceLock::new();
    P.get_or_init(|| {
        let members = [Membership {
            group: "ops".into(),
            principal: "user:a".into(),
        }];
        Compiled::new(1, builtin_grants(), &members)
    })
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let sum =
        moat::grant::batch::check_batch(policy(), data, &mut out, data.first() == Some(&b'x'))
            .expect("writing into memory cannot fail");
    let answers = out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count() as u64;
    assert_eq!(answers, sum.requests);
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        serde_json::from_slice::<serde_json::Value>(line).expect("every answer is JSON");
    }
});
