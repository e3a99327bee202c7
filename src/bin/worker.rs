#![forbid(unsafe_code)]
//! The `worker` binary: see `worker --help` and man/worker.1.

fn main() -> std::process::ExitCode {
    // The worker runs each step under a copy of itself (see
    // moat::worker::supervise); that copy reads no flags and no environment.
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.first().map(|a| a.as_os_str()) == Some(moat::worker::supervise::SUBCOMMAND.as_ref()) {
        let code = moat::worker::supervise::main(&args);
        return std::process::ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX));
    }
    moat::cli::main::<moat::cli::worker::Cli>("worker")
}
