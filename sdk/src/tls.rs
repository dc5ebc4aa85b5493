//! go-plugin AutoMTLS: one-time certificates and the rustls configurations of both sides. When
//! to ask a plugin for it is the host's policy, not decided here.
//!
//! # The protocol
//!
//! The host generates a throw-away key and self-signed certificate and hands the certificate to
//! the plugin as PEM in `PLUGIN_CLIENT_CERT`. The plugin generates its own, serves TLS requiring
//! exactly that client certificate, and prints its certificate in field 6 of the handshake line
//! (DER, standard base64 without padding). The host then dials with TLS, trusting exactly that
//! certificate and presenting its own. Nobody else can talk to the plugin, and the host talks to
//! nobody but the plugin it started.
//!
//! The host side is [`client_config`] + [`connect`] (cm's plugin host uses them); the plugin side,
//! [`server_config`], is used by [`serve_with`](crate::serve_with) whenever `PLUGIN_CLIENT_CERT`
//! is set. The plugin's certificate reaches the handshake line through
//! [`handshake::format`](crate::handshake::format).
//!
//! # Choices forced by Go's side
//!
//! - **aws-lc-rs, not ring.** Go plugins and hosts sign with ECDSA P-521, which ring cannot
//!   verify: a ring client fails the handshake, and a ring server is silently sent *no* client
//!   certificate by a Go host.
//! - **Pinning verifiers, not WebPKI.** Go's certificates are CA:TRUE yet used as end-entity
//!   certificates, which rustls-webpki refuses by design. Our verifiers compare the peer's
//!   certificate byte for byte with the pinned one and delegate only the handshake-signature
//!   checks to the provider's algorithms. Names and validity dates are not checked: the pin
//!   already says everything (the certificates live for one run and never leave memory).
//! - ALPN `h2` on both sides, server name `localhost`, TLS 1.3 and 1.2 (Go 1.12 plugins only
//!   speak 1.2 by default).
//! - Our own certificates are P-256 (every Go version accepts them), `DNS:localhost`, EKU
//!   clientAuth + serverAuth, valid from 30 s in the past (clock skew) for 30 years, as Go's.
//!

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, ServerConfig,
    SignatureScheme, SupportedProtocolVersion,
};
use tokio::io::{AsyncRead, AsyncWrite};

/// The name both sides use for SNI and put in their certificates, as go-plugin does.
pub const SERVER_NAME: &str = "localhost";

pub use crate::protocol::CLIENT_CERT_ENV;

/// How long Go's AutoMTLS certificates are valid (262 980 hours, about 30 years).
const VALIDITY: Duration = Duration::from_secs(262_980 * 3600);

/// A TLS setup failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(String);

impl TlsError {
    fn new(what: &str, e: impl fmt::Display) -> TlsError {
        TlsError(format!("{what}: {e}"))
    }
}

/// A one-time key and self-signed certificate (never written anywhere).
pub struct Identity {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    pem: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("cert_der_len", &self.cert.len())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// A fresh ECDSA P-256 key and certificate for `localhost`, usable by either side.
    pub fn generate() -> Result<Identity, TlsError> {
        Self::generate_with(&rcgen::PKCS_ECDSA_P256_SHA256, false)
    }

    pub(crate) fn generate_with(
        alg: &'static rcgen::SignatureAlgorithm,
        ca: bool,
    ) -> Result<Identity, TlsError> {
        let key = rcgen::KeyPair::generate_for(alg)
            .map_err(|e| TlsError::new("cannot generate a TLS key", e))?;
        let mut params = rcgen::CertificateParams::new(vec![SERVER_NAME.to_string()])
            .map_err(|e| TlsError::new("cannot build a TLS certificate", e))?;
        let mut name = rcgen::DistinguishedName::new();
        name.push(rcgen::DnType::OrganizationName, "cm");
        name.push(rcgen::DnType::CommonName, SERVER_NAME);
        params.distinguished_name = name;
        let now = SystemTime::now();
        params.not_before = (now - Duration::from_secs(30)).into();
        params.not_after = (now + VALIDITY).into();
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        if ca {
            // The shape of Go's certificates, for tests.
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params.key_usages.push(rcgen::KeyUsagePurpose::KeyCertSign);
        }
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        ];
        let cert = params
            .self_signed(&key)
            .map_err(|e| TlsError::new("cannot sign a TLS certificate", e))?;
        Ok(Identity {
            pem: cert.pem(),
            cert: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        })
    }

    /// The certificate as PEM, for `PLUGIN_CLIENT_CERT`.
    pub fn cert_pem(&self) -> &str {
        &self.pem
    }

    /// The certificate as DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }
}

/// Every certificate in a PEM text (`PLUGIN_CLIENT_CERT`); at least one.
pub fn parse_pem_certs(pem: &str) -> Result<Vec<Vec<u8>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::new("not a PEM certificate", e))?;
    if certs.is_empty() {
        return Err(TlsError("no PEM certificate found".into()));
    }
    Ok(certs)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

const VERSIONS: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The host's configuration: present `ours`, accept only the plugin certificate `pinned` (DER,
/// from handshake field 6).
pub fn client_config(ours: &Identity, pinned: &[u8]) -> Result<Arc<ClientConfig>, TlsError> {
    client_config_with(ours, pinned, VERSIONS)
}

fn client_config_with(
    ours: &Identity,
    pinned: &[u8],
    versions: &[&'static SupportedProtocolVersion],
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = provider();
    let verifier = Arc::new(Pinned::new(vec![pinned.to_vec()], &provider));
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| TlsError::new("TLS client setup", e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![ours.cert.clone()], ours.key())
        .map_err(|e| TlsError::new("TLS client certificate", e))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// The plugin's configuration: present `ours`, require a client certificate and accept only one
/// of `pinned` (DER, from `PLUGIN_CLIENT_CERT`).
pub fn server_config(ours: &Identity, pinned: Vec<Vec<u8>>) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let verifier = Arc::new(Pinned::new(pinned, &provider));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(VERSIONS)
        .map_err(|e| TlsError::new("TLS server setup", e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![ours.cert.clone()], ours.key())
        .map_err(|e| TlsError::new("TLS server certificate", e))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Dials TLS over `stream` as the host (server name `localhost`), logging what was negotiated.
pub async fn connect<S>(
    config: Arc<ClientConfig>,
    stream: S,
) -> io::Result<tokio_rustls::client::TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = ServerName::try_from(SERVER_NAME).expect("a valid DNS name");
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await?;
    let (_, session) = tls.get_ref();
    tracing::debug!(
        version = ?session.protocol_version(),
        cipher = ?session.negotiated_cipher_suite().map(|s| s.suite()),
        alpn = ?session.alpn_protocol().map(String::from_utf8_lossy),
        "plugin connection uses mTLS"
    );
    Ok(tls)
}

/// A verifier for either side that accepts exactly the pinned certificates.
#[derive(Debug)]
struct Pinned {
    certs: Vec<Vec<u8>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl Pinned {
    fn new(certs: Vec<Vec<u8>>, provider: &CryptoProvider) -> Pinned {
        Pinned {
            certs,
            algorithms: provider.signature_verification_algorithms,
        }
    }

    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        peer: &'static str,
    ) -> Result<(), rustls::Error> {
        if self.certs.iter().any(|c| c[..] == end_entity[..]) {
            Ok(())
        } else {
            tracing::debug!("TLS peer refused: not the {peer} certificate pinned by AutoMTLS");
            // The pinned certificate is the only trust anchor, so this one has an unknown
            // issuer (the peer gets an `unknown_ca` alert; Go would say "bad certificate").
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            ))
        }
    }
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity, "plugin")
            .map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ClientCertVerifier for Pinned {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: a Go host then sends its one certificate whatever its issuer.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity, "host")
            .map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Runs one handshake over an in-memory pipe and a ping-pong; returns each side's result.
    async fn exchange(
        client: Arc<ClientConfig>,
        server: Arc<ServerConfig>,
    ) -> (io::Result<Vec<u8>>, io::Result<Option<Vec<u8>>>) {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(async move {
            let mut tls = tokio_rustls::TlsAcceptor::from(server).accept(b).await?;
            let mut buf = [0u8; 4];
            tls.read_exact(&mut buf).await?;
            tls.write_all(b"pong").await?;
            tls.flush().await?;
            let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
            Ok::<_, io::Error>(alpn)
        });
        let client = async move {
            let mut tls = connect(client, a).await?;
            tls.write_all(b"ping").await?;
            tls.flush().await?;
            let mut buf = [0u8; 4];
            tls.read_exact(&mut buf).await?;
            Ok(buf.to_vec())
        };
        let c = client.await;
        let s = server.await.unwrap();
        (c, s)
    }

    fn pair() -> (Identity, Identity) {
        (Identity::generate().unwrap(), Identity::generate().unwrap())
    }

    #[tokio::test]
    async fn pinned_certificates_connect_with_h2() {
        let (host, plugin) = pair();
        let client = client_config(&host, plugin.cert_der()).unwrap();
        let server = server_config(&plugin, parse_pem_certs(host.cert_pem()).unwrap()).unwrap();
        let (c, s) = exchange(client, server).await;
        assert_eq!(c.unwrap(), b"pong");
        assert_eq!(s.unwrap().as_deref(), Some(&b"h2"[..]));
    }

    #[tokio::test]
    async fn tls12_works_too() {
        let (host, plugin) = pair();
        let client =
            client_config_with(&host, plugin.cert_der(), &[&rustls::version::TLS12]).unwrap();
        let server = server_config(&plugin, vec![host.cert_der().to_vec()]).unwrap();
        let (c, s) = exchange(client, server).await;
        assert_eq!(c.unwrap(), b"pong");
        assert!(s.is_ok());
    }

    #[tokio::test]
    async fn go_shaped_certificates_are_accepted() {
        // Go's AutoMTLS certificates: P-521, ECDSA-SHA512, CA:TRUE, used as end-entity
        // certificates (WebPKI would say CaUsedAsEndEntity).
        let go = || Identity::generate_with(&rcgen::PKCS_ECDSA_P521_SHA512, true).unwrap();
        for versions in [VERSIONS, &[&rustls::version::TLS12]] {
            let (go_host, plugin) = (go(), Identity::generate().unwrap());
            let client = client_config_with(&go_host, plugin.cert_der(), versions).unwrap();
            let server = server_config(&plugin, vec![go_host.cert_der().to_vec()]).unwrap();
            assert_eq!(exchange(client, server).await.0.unwrap(), b"pong");

            let (host, go_plugin) = (Identity::generate().unwrap(), go());
            let client = client_config_with(&host, go_plugin.cert_der(), versions).unwrap();
            let server = server_config(&go_plugin, vec![host.cert_der().to_vec()]).unwrap();
            assert_eq!(exchange(client, server).await.0.unwrap(), b"pong");
        }
    }

    #[tokio::test]
    async fn a_client_with_another_certificate_is_refused() {
        let (host, plugin) = pair();
        let intruder = Identity::generate().unwrap();
        // The intruder knows the plugin's certificate (it is printed on stdout) but presents
        // its own.
        let client = client_config(&intruder, plugin.cert_der()).unwrap();
        let server = server_config(&plugin, vec![host.cert_der().to_vec()]).unwrap();
        let (c, s) = exchange(client, server).await;
        let e = s.unwrap_err().to_string();
        assert_eq!(e, "invalid peer certificate: UnknownIssuer");
        assert!(c.is_err(), "the client must not get an answer");
    }

    #[tokio::test]
    async fn a_client_without_a_certificate_is_refused() {
        let (host, plugin) = pair();
        let provider = provider();
        let mut config = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(VERSIONS)
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned::new(
                vec![plugin.cert_der().to_vec()],
                &provider,
            )))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let server = server_config(&plugin, vec![host.cert_der().to_vec()]).unwrap();
        let (c, s) = exchange(Arc::new(config), server).await;
        let e = s.unwrap_err().to_string();
        assert!(e.contains("certificate"), "{e}");
        assert!(c.is_err());
    }

    #[tokio::test]
    async fn the_host_refuses_a_server_it_did_not_pin() {
        let (host, plugin) = pair();
        let impostor = Identity::generate().unwrap();
        let client = client_config(&host, plugin.cert_der()).unwrap();
        let server = server_config(&impostor, vec![host.cert_der().to_vec()]).unwrap();
        let (c, s) = exchange(client, server).await;
        let e = c.unwrap_err().to_string();
        assert_eq!(e, "invalid peer certificate: UnknownIssuer");
        assert!(s.is_err());
    }

    #[test]
    fn certificate_encodings() {
        let id = Identity::generate().unwrap();
        assert!(id.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(
            parse_pem_certs(id.cert_pem()).unwrap(),
            vec![id.cert_der().to_vec()]
        );
        let hs = crate::handshake::Handshake {
            app_version: 1,
            address: crate::handshake::Address::Unix("/tmp/p".into()),
            server_cert: Some(id.cert_der().to_vec()),
            multiplex: None,
        };
        let line = crate::handshake::format(&hs).unwrap();
        assert!(!line.contains('='), "{line}");
        assert_eq!(crate::handshake::parse(&line, &[1]).unwrap(), hs);
        assert!(parse_pem_certs("").is_err());
        assert!(
            parse_pem_certs("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n")
                .is_err()
        );
        // Two certificates: both are pinned, as Go's pool would trust both.
        let other = Identity::generate().unwrap();
        let both = format!("{}{}", id.cert_pem(), other.cert_pem());
        assert_eq!(parse_pem_certs(&both).unwrap().len(), 2);
    }
}
