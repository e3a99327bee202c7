#![forbid(unsafe_code)]
//! The `worker` binary: see `worker --help` and man/worker.1.

fn main() -> std::process::ExitCode {
    moat::cli::main::<moat::cli::worker::Cli>("worker")
}
