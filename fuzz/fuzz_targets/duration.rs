//! Durations (`30s 15m 4h 7d 2w`) and `--since`/`--until` times: never a
//! panic; what parses prints back to something that parses to the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use moat::time::{format_duration, parse_duration, parse_since};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = parse_duration(s) {
        let again = parse_duration(&format_duration(d)).expect("a printed duration parses");
        assert_eq!(again, d);
    }
    let _ = parse_since(s, 1_700_000_000_000);
    let _ = parse_since(s, 0);
});
