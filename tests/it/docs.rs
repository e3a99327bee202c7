//! The committed man pages and completions match the clap definitions.

#[test]
fn committed_docs_match_the_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = moat::docs::generate().unwrap();
    assert_eq!(
        files.len(),
        6 * 6 + 1,
        "six binaries, a man page and five completions each, and openapi.json"
    );
    let mut stale = Vec::new();
    for (rel, bytes) in files {
        match std::fs::read(root.join(&rel)) {
            Ok(on_disk) if on_disk == bytes => {}
            _ => stale.push(rel),
        }
    }
    assert!(
        stale.is_empty(),
        "generated docs are stale: {stale:?}\nrun scripts/gen-docs and commit the result"
    );
}

#[test]
fn man_pages_have_the_required_sections() {
    for cmd in moat::cli::commands() {
        let name = cmd.get_name().to_owned();
        let page = String::from_utf8(moat::docs::man_page(cmd).unwrap()).unwrap();
        for section in [
            "EXIT STATUS",
            "ENVIRONMENT",
            "EXAMPLES",
            "MOAT_STATE",
            "130",
        ] {
            assert!(page.contains(section), "{name}.1 lacks {section}");
        }
    }
}
