//! Grant files for `grant apply` (JSON or NDJSON): never a panic, and every
//! entry that parses is a valid grant request that prints and parses back.
#![no_main]
use libfuzzer_sys::fuzz_target;
use moat::policy::ResourcePattern;
use moat::policy::grant::Subject;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(grants) = moat::grant::parse_file(s) {
        for g in grants {
            g.validate().expect("a parsed entry is valid");
            assert!(g.actions.0 != 0, "a grant with no action parsed");
            assert_eq!(g.subject.as_str().parse::<Subject>().unwrap(), g.subject);
            assert_eq!(
                g.resource.to_string().parse::<ResourcePattern>().unwrap(),
                g.resource
            );
        }
    }
    let _ = moat::grant::parse_source_name(s);
});
