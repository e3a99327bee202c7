//! Writes man pages and shell completions under the directory given (the
//! repository root). Called by `scripts/gen-docs`.

fn main() -> std::process::ExitCode {
    let root = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| ".".into());
    match moat::docs::write_all(&root) {
        Ok(n) => {
            eprintln!("gen-docs: wrote {n} files under {}", root.display());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen-docs: error: {e}");
            std::process::ExitCode::from(e.exit.code())
        }
    }
}
