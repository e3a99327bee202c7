//! moat: the trust layer of a remote-execution control plane.
//!
//! One library behind six binaries (`token`, `grant`, `reload`, `worker`,
//! `audit`, `serve`). `../DESIGN.md` is the contract; modules are named after
//! the domain:
//!
//! - [`credential`]: token wire format, argon2id, HMAC, constant-time compare
//! - [`store`]: the SQLite state file, its key, migrations and all SQL
//! - [`token`]: token lifecycle and redemption
//! - [`audit`]: the hash-chained audit trail
//! - [`policy`]: principals, actions, resource patterns, scopes (pure)
//! - [`ops`]: every management operation once: request, response, route
//! - [`net`]: client TLS and URL rules shared by remote mode and the worker
//! - [`cli`], [`output`], [`input`]: the shared command-line layer
//! - [`docs`]: man pages and shell completions from the clap definitions

pub mod audit;
pub mod cli;
pub mod context;
pub mod credential;
pub mod docs;
pub mod env;
pub mod error;
pub mod grant;
pub mod input;
pub mod net;
pub mod ops;
pub mod output;
pub mod policy;
pub mod reload;
pub mod remote;
pub mod server;
pub mod sign;
pub mod store;
pub mod time;
pub mod tls;
pub mod token;
pub mod worker;

pub use error::{Error, Exit, Result};
