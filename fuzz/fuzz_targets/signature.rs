//! Signed-request headers and signer keys as serve and `token create`
//! read them: any Signature-Input, Signature and Content-Digest values,
//! and any public or private key text, are read or refused without a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

use moat::sign::http::{Message, digest_matches, presented};
use moat::sign::keys::{parse_private, parse_public};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = s.splitn(3, '\n');
    let (input, sig, rest) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let lookup = |name: &str| (name == "content-digest").then(|| rest.to_owned());
    let msg = Message {
        method: "POST",
        target_uri: "https://127.0.0.1:8443/v1/check?x=1",
        header: &lookup,
    };
    let _ = presented(&msg, input, sig);
    let _ = digest_matches(rest, data);
    let _ = parse_public(s);
    let _ = parse_private(s);
});
