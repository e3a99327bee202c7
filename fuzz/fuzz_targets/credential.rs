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
    let echoed = shown(s);
    assert!(echoed.chars().count() <= 25 || echoed.ends_with("_…"));
    let _ = moat::token::parse_id(s);
    let _ = moat::worker::parse_id(s);
    let _ = moat::grant::parse_id(s);
    let _ = s.parse::<moat::token::MaxUses>();
    let _ = moat::token::is_valid_machine_id(s);
});
