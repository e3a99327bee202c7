//! Client-side networking shared by remote mode and the worker: which hosts
//! may be reached without TLS, the rustls client configuration (`--ca-file`,
//! `--pin-sha256`, a self-signed server certificate trusted as itself), the
//! ureq connector that uses it, and certificate refusals in words.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::error::{Code, Error, Exit, Result};

/// `localhost` or a loopback address: the only hosts plain http/ws may reach.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where a client's trusted roots and host name come from, so that its
/// refusals name what the person can change.
#[derive(Debug, Clone, Copy)]
pub struct Names {
    pub roots: &'static str,
    pub host: &'static str,
}

/// A remote command or worker: `--ca-file` and `--server`.
pub const CA_FILE: Names = Names {
    roots: "--ca-file",
    host: "--server",
};

/// A PostgreSQL state: the URL's `sslrootcert` and host.
pub const SSLROOTCERT: Names = Names {
    roots: "sslrootcert",
    host: "the state URL",
};

/// The certificates in a PEM `--ca-file` (or `sslrootcert`).
pub fn read_ca_file(path: &Path, names: Names) -> Result<Vec<CertificateDer<'static>>> {
    let what = names.roots;
    let pem = std::fs::read(path).map_err(|e| {
        Error::new(
            Exit::Usage,
            Code::InvalidInput,
            format!("cannot read {what} {}: {e}", path.display()),
        )
    })?;
    let certs: Vec<CertificateDer<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(CertificateDer::from(c.der().to_vec())),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(Error::usage(format!(
            "{what} {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo (what `--pin-sha256` pins).
pub fn spki_sha256(cert_der: &[u8]) -> Option<[u8; 32]> {
    use sha2::Digest;
    let der = CertificateDer::from(cert_der);
    let ee = webpki::EndEntityCert::try_from(&der).ok()?;
    Some(sha2::Sha256::digest(ee.subject_public_key_info().as_ref()).into())
}

/// What a refused pin says (the worker tells it apart from other refusals).
pub const PIN_MISMATCH: &str = "server certificate does not match --pin-sha256";

/// The usual chain checks, with two additions: a server certificate that is
/// itself one of the `--ca-file` certificates is trusted as such (as curl
/// and OpenSSL do: `openssl req -x509` makes a self-signed CA:TRUE
/// certificate, which webpki will not accept as an end entity), after its
/// host name and validity period are checked; and an optional SPKI pin.
#[derive(Debug)]
struct Verifier {
    inner: Arc<WebPkiServerVerifier>,
    anchors: Vec<CertificateDer<'static>>,
    pin: Option<[u8; 32]>,
}

impl Verifier {
    /// A certificate trusted because it is one of the anchors: still valid
    /// now and for this name?
    fn check_self(
        cert: &CertificateDer<'_>,
        name: &ServerName<'_>,
        now: UnixTime,
    ) -> std::result::Result<(), rustls::Error> {
        let bad = |e: CertificateError| rustls::Error::InvalidCertificate(e);
        let (_, x) = x509_parser::parse_x509_certificate(cert.as_ref())
            .map_err(|_| bad(CertificateError::BadEncoding))?;
        let v = x.validity();
        let secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        if secs < v.not_before.timestamp() {
            return Err(bad(CertificateError::NotValidYet));
        }
        if secs > v.not_after.timestamp() {
            return Err(bad(CertificateError::Expired));
        }
        let ee = webpki::EndEntityCert::try_from(cert)
            .map_err(|_| bad(CertificateError::BadEncoding))?;
        ee.verify_is_valid_for_subject_name(name)
            .map_err(|_| bad(CertificateError::NotValidForName))
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if self
            .anchors
            .iter()
            .any(|a| a.as_ref() == end_entity.as_ref())
        {
            Self::check_self(end_entity, server_name, now)?;
        } else {
            self.inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)?;
        }
        if let Some(pin) = &self.pin {
            match spki_sha256(end_entity) {
                Some(h) if crate::credential::ct_eq(&h, pin) => {}
                _ => return Err(rustls::Error::General(PIN_MISMATCH.into())),
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The TLS client configuration for serve (or PostgreSQL): the `--ca-file`
/// certificates (or the public web roots without one), and an optional
/// SPKI pin.
pub fn client_config(
    ca_file: Option<&Path>,
    pin: Option<[u8; 32]>,
    names: Names,
) -> Result<Arc<ClientConfig>> {
    crate::tls::init();
    let mut roots = RootCertStore::empty();
    let anchors = match ca_file {
        Some(f) => {
            let certs = read_ca_file(f, names)?;
            for c in &certs {
                roots.add(c.clone()).map_err(|e| {
                    Error::usage(format!(
                        "{} {}: {}",
                        names.roots,
                        f.display(),
                        words(&e, names)
                    ))
                })?;
            }
            certs
        }
        None => {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            vec![]
        }
    };
    let inner = WebPkiServerVerifier::builder(Arc::new(roots))
        .build()
        .map_err(|e| Error::usage(format!("cannot set up certificate checks: {e}")))?;
    let cfg = ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier {
            inner,
            anchors,
            pin,
        }))
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

fn when(t: UnixTime) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.as_secs()),
    )
    .to_string()
}

/// Why a certificate was refused, in words a person can act on.
pub fn words(e: &rustls::Error, names: Names) -> String {
    let Names { roots, host } = names;
    use CertificateError as C;
    let c = match e {
        rustls::Error::InvalidCertificate(c) => c,
        rustls::Error::NoCertificatesPresented => return "it presented no certificate".into(),
        rustls::Error::General(m) => return m.clone(),
        other => return other.to_string(),
    };
    match c {
        C::BadEncoding => "it could not be parsed".into(),
        C::Expired => "it has expired".into(),
        C::ExpiredContext { not_after, .. } => format!("it expired at {}", when(*not_after)),
        C::NotValidYet => "it is not valid yet (check both clocks)".into(),
        C::NotValidYetContext { not_before, .. } => {
            format!(
                "it is not valid before {} (check both clocks)",
                when(*not_before)
            )
        }
        C::Revoked => "it was revoked".into(),
        C::UnknownIssuer => {
            format!("it was not issued by a CA in {roots} (or, without one, by a public CA)")
        }
        C::BadSignature => "its signature does not verify".into(),
        C::NotValidForName => format!("it is not valid for the host name in {host}"),
        C::NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "it is not valid for {} (it names {})",
            expected.to_str(),
            if presented.is_empty() {
                "no host".to_owned()
            } else {
                presented.join(", ")
            }
        ),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "it is not a certificate for TLS servers (extended key usage)".into()
        }
        C::Other(o) => match o.0.downcast_ref::<webpki::Error>() {
            Some(webpki::Error::CaUsedAsEndEntity) => format!(
                "it is a CA certificate (CA:TRUE) that is not itself in {roots}; give this \
                 certificate with {roots}, or a server certificate issued by your CA"
            ),
            Some(w) => format!("{w:?}"),
            None => o.to_string(),
        },
        other => other.to_string(),
    }
}

/// The refusal a client reports for a certificate it will not accept
/// (exit 6 for a remote command, which cannot reach a server it trusts;
/// 5 for a worker, which stops for a person to look).
pub fn refused(url: &str, why: &str, exit: Exit) -> Error {
    Error::new(
        exit,
        Code::CertificateInvalid,
        format!("{url} presented a certificate this client does not trust: {why}"),
    )
    .with_hint(
        "give the CA certificate that signed serve's certificate (or serve's own self-signed \
         certificate) with --ca-file, and check the host name in --server",
    )
}

/// A certificate refusal carried through ureq's I/O error, in words.
#[derive(Debug)]
pub struct CertRefused(pub String);

impl std::fmt::Display for CertRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CertRefused {}

/// The rustls error inside an I/O error from a handshake, if there is one.
pub fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

pub use https::agent;

/// A ureq connector that speaks TLS with [`client_config`]'s settings
/// (ureq's own builds its verifier from a root store only).
mod https {
    use std::io::{Read, Write};
    use std::sync::Arc;

    use rustls::{ClientConfig, ClientConnection, StreamOwned};
    use rustls_pki_types::ServerName;
    use ureq::unversioned::transport::{
        Buffers, ConnectProxyConnector, ConnectionDetails, Connector, Either, LazyBuffers,
        NextTimeout, TcpConnector, Transport, TransportAdapter,
    };

    /// An agent whose https connections use `tls`.
    pub fn agent(config: ureq::config::Config, tls: Arc<ClientConfig>) -> ureq::Agent {
        // As ureq's own chain: an HTTP CONNECT proxy when the config names
        // one (HTTPS_PROXY), else plain TCP; then TLS with our verifier.
        let connector = ConnectProxyConnector::default()
            .chain(TcpConnector::default())
            .chain(Tls { config: tls });
        ureq::Agent::with_parts(
            config,
            connector,
            ureq::unversioned::resolver::DefaultResolver::default(),
        )
    }

    #[derive(Debug)]
    struct Tls {
        config: Arc<ClientConfig>,
    }

    impl<In: Transport> Connector<In> for Tls {
        type Out = Either<In, TlsTransport>;

        fn connect(
            &self,
            details: &ConnectionDetails,
            chained: Option<In>,
        ) -> Result<Option<Self::Out>, ureq::Error> {
            let Some(transport) = chained else {
                return Ok(None);
            };
            if !details.needs_tls() || transport.is_tls() {
                return Ok(Some(Either::A(transport)));
            }
            let host = details
                .uri
                .host()
                .unwrap_or_default()
                .trim_start_matches('[')
                .trim_end_matches(']');
            let name = ServerName::try_from(host.to_owned())
                .map_err(|_| ureq::Error::Tls("invalid host name for TLS"))?;
            let mut conn = ClientConnection::new(self.config.clone(), name)?;
            let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
            sock.set_timeout(details.timeout);
            if let Err(e) = conn.complete_io(&mut sock) {
                return Err(match super::rustls_error(&e) {
                    Some(
                        r @ (rustls::Error::InvalidCertificate(_)
                        | rustls::Error::NoCertificatesPresented
                        | rustls::Error::General(_)),
                    ) => ureq::Error::Io(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        super::CertRefused(super::words(r, super::CA_FILE)),
                    )),
                    _ => ureq::Error::Io(e),
                });
            }
            let buffers = LazyBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            );
            Ok(Some(Either::B(TlsTransport {
                buffers,
                stream: StreamOwned { conn, sock },
            })))
        }
    }

    struct TlsTransport {
        buffers: LazyBuffers,
        stream: StreamOwned<ClientConnection, TransportAdapter>,
    }

    impl std::fmt::Debug for TlsTransport {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("TlsTransport").finish_non_exhaustive()
        }
    }

    impl Transport for TlsTransport {
        fn buffers(&mut self) -> &mut dyn Buffers {
            &mut self.buffers
        }

        fn transmit_output(
            &mut self,
            amount: usize,
            timeout: NextTimeout,
        ) -> Result<(), ureq::Error> {
            self.stream.get_mut().set_timeout(timeout);
            let out = &self.buffers.output()[..amount];
            self.stream.write_all(out)?;
            Ok(())
        }

        fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
            self.stream.get_mut().set_timeout(timeout);
            let buf = self.buffers.input_append_buf();
            let n = self.stream.read(buf)?;
            self.buffers.input_appended(n);
            Ok(n > 0)
        }

        fn is_open(&mut self) -> bool {
            self.stream.get_mut().get_mut().is_open()
        }

        fn is_tls(&self) -> bool {
            true
        }
    }
}
