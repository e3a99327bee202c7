//! Signing without shared secrets: principals' Ed25519 keys in OpenSSH
//! format, and HTTP Message Signatures (RFC 9421) over requests to serve.

pub mod http;
pub mod keys;
