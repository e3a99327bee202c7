#![forbid(unsafe_code)]
//! The `token` binary: see `token --help` and man/token.1.

fn main() -> std::process::ExitCode {
    moat::cli::main::<moat::cli::token::Cli>("token")
}
