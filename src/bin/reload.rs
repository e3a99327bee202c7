#![forbid(unsafe_code)]
//! The `reload` binary: see `reload --help` and man/reload.1.

fn main() -> std::process::ExitCode {
    moat::cli::main::<moat::cli::reload::Cli>("reload")
}
