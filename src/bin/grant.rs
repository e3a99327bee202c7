#![forbid(unsafe_code)]
//! The `grant` binary: see `grant --help` and man/grant.1.

fn main() -> std::process::ExitCode {
    moat::cli::main::<moat::cli::grant::Cli>("grant")
}
