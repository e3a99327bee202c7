//! TLS setup shared by the server and the remote-mode client.

/// Pick rustls's crypto provider (aws-lc-rs) once per process. Several
/// crates enable more than one provider, so rustls cannot choose alone.
pub fn init() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
