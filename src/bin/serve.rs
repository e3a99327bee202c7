#![forbid(unsafe_code)]
//! The `serve` binary: see `serve --help` and man/serve.1.

fn main() -> std::process::ExitCode {
    moat::cli::main::<moat::cli::serve::Cli>("serve")
}
