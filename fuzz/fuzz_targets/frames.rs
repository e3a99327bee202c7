//! Both directions of the worker protocol: any frame text parses or is
//! refused without a panic, and a parsed frame survives a round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use moat::worker::{ClientMsg, ServerMsg};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = serde_json::from_str::<ClientMsg>(s) {
        let text = serde_json::to_string(&m).unwrap();
        let back: ClientMsg = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
    }
    if let Ok(m) = serde_json::from_str::<ServerMsg>(s) {
        let text = serde_json::to_string(&m).unwrap();
        let back: ServerMsg = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
    }
});
