//! Ids on stdin (`token revoke -`): a JSON array, NDJSON objects with an
//! `id`, or one bare id per line; any bytes: never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = moat::input::read_text(data, "stdin").and_then(|t| moat::input::parse_ids(&t));
    let _ = moat::input::expand_ids(&["-".to_owned()], data);
});
