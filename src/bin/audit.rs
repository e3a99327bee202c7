#![forbid(unsafe_code)]
//! The `audit` binary: see `audit --help` and man/audit.1.

fn main() -> std::process::ExitCode {
    moat::cli::main::<moat::cli::audit::Cli>("audit")
}
