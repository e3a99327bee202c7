//! All integration tests in one binary (one link step, shared helpers).
//! CLI tests drive the real binaries with a cleared environment and a
//! private temp directory per test.

mod audit_cli;
mod cedar_model;
#[macro_use]
mod common;
mod deploy;
mod docs;
mod drain;
mod grant_cli;
mod hostile;
mod idle;
mod isolation;
mod mint_props;
mod minting;
mod policy_props;
mod postgres;
mod redeem;
mod replicas;
mod rotation;
mod serve;
mod signing;
mod state;
mod token_cli;
mod worker_cli;
mod workers;
