//! Resource patterns, scopes, principals, subjects, actions and effects:
//! never a panic; what parses prints back to itself; `covers` agrees with
//! `matches` on the names it is asked about.
#![no_main]
use libfuzzer_sys::fuzz_target;
use moat::policy::grant::{Effect, Subject};
use moat::policy::{Action, NamePattern, Principal, ResourcePattern, Scope};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let mut halves = s.splitn(2, '\n');
    let (a, b) = (halves.next().unwrap_or(""), halves.next().unwrap_or(""));
    if let Ok(p) = a.parse::<ResourcePattern>() {
        assert_eq!(p.to_string().parse::<ResourcePattern>().unwrap(), p);
        if let Ok(q) = b.parse::<ResourcePattern>() {
            // A pattern that covers another matches every name the other
            // matches: try the other's own prefix or name.
            if p.covers(&q) {
                let name = match &q.name {
                    NamePattern::Exact(n) | NamePattern::Prefix(n) => n.clone(),
                };
                let kind = q.kind.clone().unwrap_or_else(|| "k".into());
                assert!(!q.matches(&kind, &name) || p.matches(&kind, &name));
            }
        }
    }
    if let Ok(sc) = a.parse::<Scope>() {
        assert_eq!(sc.to_string().parse::<Scope>().unwrap(), sc);
        assert!(sc.covers(&sc));
    }
    if let Ok(p) = a.parse::<Principal>() {
        assert_eq!(p.to_string(), a);
    }
    let _ = a.parse::<Subject>();
    let _ = a.parse::<Action>();
    let _ = a.parse::<Effect>();
    let _ = NamePattern::parse(a, "pattern");
    let _ = moat::grant::parse_group(a);
    let _ = moat::policy::engine::parse_resource(a);
});
