//! The token and credential wire format: parsing never panics, a parsed
//! credential re-encodes to itself, and what an error may echo of any input
//! holds no secret.
#![no_main]
use libfuzzer_sys::fuzz_target;
use moat::credential::{RawCredential, shown};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(raw) = RawCredential::parse(s) {
        assert_eq!(raw.expose(), s.trim());
        assert!(!shown(s).contains(raw.secret()));
    }
    // What an error may quote: short, and no run of 32 letters and digits
    // (no secret) survives in it.
    let echoed = shown(s);
    assert!(echoed.chars().count() <= 81, "{echoed}");
    let mut run = 0;
    for c in echoed.chars() {
        run = if c.is_ascii_alphanumeric() {
            run + 1
        } else {
            0
        };
        assert!(run < 32, "{echoed}");
    }
    let _ = moat::token::parse_id(s);
    let _ = moat::worker::parse_id(s);
    let _ = moat::grant::parse_id(s);
    let _ = s.parse::<moat::token::MaxUses>();
    let _ = moat::token::is_valid_machine_id(s);
});
