//! The loopback HTTP(S) servers behind the fakes (`fake_*.rs`) and the [`CountingProxy`], and
//! what they share, so each fake holds only its service's logic:
//!
//! - [`TestCa`]: a certificate authority made for one test, for the TLS servers and for the
//!   plugin under test (`SSL_CERT_FILE`).
//! - `Loopback`: a hyper HTTP/1.1 server on `127.0.0.1` and a free port, plain or TLS, in its
//!   own thread and runtime, that answers each request with an async function; stops when
//!   dropped.
//! - [`HttpsServer`]: a `Loopback` that reads each request whole ([`HttpsRequest`]) and answers
//!   it with a plain closure ([`HttpsResponse`]).
//! - [`percent_decode`] and the form and query decoding the fakes check requests with.
//!
//! Why TLS: `azure_identity` refuses an authority host that is not `https`, and `azure_core`
//! refuses to send a bearer token over plain HTTP. The plugin under test trusts the test CA
//! through `SSL_CERT_FILE=<TestCa::pem_file>` (reqwest's rustls verifier reads the system roots
//! through rustls-native-certs, which takes that file *instead of* the system store).
//!
//! [`CountingProxy`]: crate::CountingProxy

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

/// A certificate authority made for one test, and the PEM file that holds its certificate (for
/// `SSL_CERT_FILE`). Server certificates it signs are for `localhost`, `127.0.0.1` and the names
/// a server asks for (wildcards such as `*.vault.azure.net` work).
pub struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

impl TestCa {
    /// A fresh CA (ECDSA P-256), its certificate written to a temp file.
    pub fn new() -> TestCa {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("CA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        let mut name = rcgen::DistinguishedName::new();
        // A name of its own: a client holding another test's CA then fails with
        // UnknownIssuer, as with any foreign certificate, not with a signature mismatch.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cn = format!("cm testkit CA {} {n}", std::process::id());
        name.push(rcgen::DnType::CommonName, cn);
        params.distinguished_name = name;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("self-sign the CA");
        let pem = cert.pem();
        let dir = tempfile::tempdir().expect("CA folder");
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, &pem).expect("write the CA file");
        TestCa {
            issuer: rcgen::Issuer::new(params, key),
            pem,
            file,
            _dir: dir,
        }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A file holding only the CA certificate: `SSL_CERT_FILE` for the plugin.
    pub fn pem_file(&self) -> &Path {
        &self.file
    }

    /// A rustls server configuration (HTTP/1.1) with a certificate this CA signs for
    /// `localhost`, `127.0.0.1` and `names`.
    pub fn server_config(&self, names: &[&str]) -> Arc<rustls::ServerConfig> {
        let mut sans = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        sans.extend(names.iter().map(|n| n.to_string()));
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params = rcgen::CertificateParams::new(sans).expect("server params");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .expect("server certificate");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// The body of the responses a [`Loopback`] sends: whole (the fakes) or streamed (the proxy).
pub(crate) type Body = BoxBody<Bytes, hyper::Error>;

/// An HTTP/1.1 server on `127.0.0.1` and a free port, plain or TLS, in its own thread and
/// runtime. Each request goes to an async service; a service error (a body that could not be
/// read) closes the connection. Stops when dropped.
pub(crate) struct Loopback {
    addr: SocketAddr,
    tls: bool,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Loopback {
    /// Starts serving; with `tls`, connections are TLS with that configuration.
    pub(crate) fn start<S, F>(tls: Option<Arc<rustls::ServerConfig>>, service: S) -> Loopback
    where
        S: Fn(hyper::Request<Incoming>) -> F + Send + Sync + 'static,
        F: Future<Output = Result<hyper::Response<Body>, hyper::Error>> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("address");
        let tls = tls.map(tokio_rustls::TlsAcceptor::from);
        let secure = tls.is_some();
        let service = Arc::new(service);
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread = std::thread::spawn(move || {
            // Two workers: a handler that sleeps (a fake's latency) or waits on an upstream (the
            // proxy) does not hold up the other connections.
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("server runtime");
            rt.block_on(accept(listener, tls, service, stopped));
        });
        Loopback {
            addr,
            tls: secure,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The socket address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT`, or `http://` without TLS; no trailing slash.
    pub(crate) fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept<S, F>(
    listener: std::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    service: Arc<S>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) where
    S: Fn(hyper::Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Result<hyper::Response<Body>, hyper::Error>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = &mut stopped => return,
        };
        let tls = tls.clone();
        let service = Arc::clone(&service);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| service(req));
            let http = hyper::server::conn::http1::Builder::new();
            match tls {
                // A client that rejects the certificate ends the handshake: nothing to serve.
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
                None => {
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                }
            }
        });
    }
}

/// One request an [`HttpsServer`] received, body read whole.
#[derive(Debug, Clone)]
pub struct HttpsRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, percent-encoded as sent.
    pub path: String,
    /// The query string without `?`, if any.
    pub query: Option<String>,
    /// Headers, names lower-case, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpsRequest {
    /// Reads `req` whole (the error of a body that could not be read ends the connection).
    pub(crate) async fn read(req: hyper::Request<Incoming>) -> Result<HttpsRequest, hyper::Error> {
        let (parts, body) = req.into_parts();
        let body = body.collect().await?.to_bytes().to_vec();
        Ok(HttpsRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_string),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body,
        })
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query's pairs, decoded.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        decode_form(self.query.as_deref().unwrap_or("").as_bytes())
    }

    /// The body's `application/x-www-form-urlencoded` pairs, decoded.
    pub fn form(&self) -> Vec<(String, String)> {
        decode_form(&self.body)
    }

    /// The path's segments after the leading `/`, percent-decoded.
    pub fn path_segments(&self) -> Vec<String> {
        self.path
            .trim_start_matches('/')
            .split('/')
            .map(|s| percent_decode(s.as_bytes()))
            .collect()
    }

    /// The path and the query (`path?query`) as sent: what request signatures cover.
    pub(crate) fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }
}

/// The answer to an [`HttpsRequest`].
#[derive(Debug, Clone)]
pub struct HttpsResponse {
    /// The status code.
    pub status: u16,
    /// Headers to send besides `content-length`.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpsResponse {
    /// A JSON response (`content-type: application/json; charset=utf-8`).
    pub fn json(status: u16, value: &serde_json::Value) -> HttpsResponse {
        HttpsResponse::json_as(status, "application/json; charset=utf-8", value)
    }

    /// A JSON response with the service's own `content-type` (e.g. `application/problem+json`).
    pub(crate) fn json_as(
        status: u16,
        content_type: &str,
        value: &serde_json::Value,
    ) -> HttpsResponse {
        HttpsResponse::empty(status)
            .with_header("content-type", content_type)
            .with_body(value.to_string().into_bytes())
    }

    /// A response without a body.
    pub fn empty(status: u16) -> HttpsResponse {
        HttpsResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The same response with one more header.
    pub fn with_header(mut self, name: &str, value: &str) -> HttpsResponse {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The same response with `body`.
    pub(crate) fn with_body(mut self, body: impl Into<Vec<u8>>) -> HttpsResponse {
        self.body = body.into();
        self
    }

    /// The hyper response; a status that is not one becomes 500, and headers hyper cannot send
    /// are left out.
    pub(crate) fn into_hyper(self) -> hyper::Response<Body> {
        let body = Full::new(Bytes::from(self.body))
            .map_err(|never| match never {})
            .boxed();
        let mut resp = hyper::Response::new(body);
        *resp.status_mut() = hyper::StatusCode::from_u16(self.status)
            .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in self.headers {
            if let (Ok(n), Ok(v)) = (
                hyper::header::HeaderName::from_bytes(name.as_bytes()),
                hyper::header::HeaderValue::from_str(&value),
            ) {
                resp.headers_mut().append(n, v);
            }
        }
        resp
    }
}

/// An HTTPS/1.1 server on `127.0.0.1` (its own thread and runtime) that answers each request with
/// a closure. Stops when dropped.
pub struct HttpsServer {
    server: Loopback,
}

impl HttpsServer {
    /// Starts serving with a certificate from `ca` for `names` (plus `localhost`, `127.0.0.1`).
    pub fn start(
        ca: &TestCa,
        names: &[&str],
        handler: impl Fn(&HttpsRequest) -> HttpsResponse + Send + Sync + 'static,
    ) -> HttpsServer {
        HttpsServer::launch(Some(ca.server_config(names)), handler)
    }

    /// The same server over plain HTTP (for fakes of services a plugin may reach without TLS).
    pub(crate) fn start_plain(
        handler: impl Fn(&HttpsRequest) -> HttpsResponse + Send + Sync + 'static,
    ) -> HttpsServer {
        HttpsServer::launch(None, handler)
    }

    fn launch(
        tls: Option<Arc<rustls::ServerConfig>>,
        handler: impl Fn(&HttpsRequest) -> HttpsResponse + Send + Sync + 'static,
    ) -> HttpsServer {
        let handler = Arc::new(handler);
        let server = Loopback::start(tls, move |req| {
            let handler = Arc::clone(&handler);
            async move {
                let request = HttpsRequest::read(req).await?;
                Ok(handler(&request).into_hyper())
            }
        });
        HttpsServer { server }
    }

    /// `https://127.0.0.1:PORT` (`http://` for a plain server), no trailing slash.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }
}

/// The pairs of an `application/x-www-form-urlencoded` text (a body or a query), `+` as space,
/// percent-decoded; a pair without `=` has an empty value.
pub(crate) fn decode_form(raw: &[u8]) -> Vec<(String, String)> {
    raw.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut it = pair.splitn(2, |b| *b == b'=');
            let name = it.next().unwrap_or_default();
            let value = it.next().unwrap_or_default();
            let plus = |s: &[u8]| -> Vec<u8> {
                s.iter()
                    .map(|b| if *b == b'+' { b' ' } else { *b })
                    .collect()
            };
            (percent_decode(&plus(name)), percent_decode(&plus(value)))
        })
        .collect()
}

/// Percent-decodes `raw` (invalid escapes are kept as they are).
pub fn percent_decode(raw: &[u8]) -> String {
    String::from_utf8_lossy(&unescape(raw).0).into_owned()
}

/// Percent-decodes `raw` for a service that refuses bad encodings: `None` when a `%` is not
/// followed by two hex digits or the bytes are not UTF-8.
pub(crate) fn percent_decode_strict(raw: &[u8]) -> Option<String> {
    match unescape(raw) {
        (bytes, true) => String::from_utf8(bytes).ok(),
        (_, false) => None,
    }
}

/// The bytes `raw` stands for (a bad escape kept as it is), and whether every escape was good.
fn unescape(raw: &[u8]) -> (Vec<u8>, bool) {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut clean = true;
    let mut i = 0;
    while i < raw.len() {
        match (
            raw[i],
            raw.get(i + 1).copied().and_then(hex),
            raw.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            (b, _, _) => {
                clean &= b != b'%';
                out.push(b);
                i += 1;
            }
        }
    }
    (out, clean)
}

/// Helpers for the fakes' unit tests: requests built by hand, and a client that sends one over
/// a real socket.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    impl HttpsRequest {
        /// A request for `path_and_query` (split at `?`), no headers, no body.
        pub(crate) fn to(method: &str, path_and_query: &str) -> HttpsRequest {
            let (path, query) = match path_and_query.split_once('?') {
                Some((p, q)) => (p.to_string(), Some(q.to_string())),
                None => (path_and_query.to_string(), None),
            };
            HttpsRequest {
                method: method.to_string(),
                path,
                query,
                headers: Vec::new(),
                body: Vec::new(),
            }
        }

        /// The same request with one more header (name lower-case, as the server records it).
        pub(crate) fn with_header(mut self, name: &str, value: &str) -> HttpsRequest {
            self.headers
                .push((name.to_ascii_lowercase(), value.to_string()));
            self
        }

        /// The same request with `body`.
        pub(crate) fn with_body(mut self, body: impl Into<Vec<u8>>) -> HttpsRequest {
            self.body = body.into();
            self
        }
    }

    /// Sends `request` to `addr` (over TLS trusting only `ca`, checking the name `127.0.0.1`,
    /// when given); the answer's status and body.
    pub(crate) async fn send(
        addr: SocketAddr,
        ca: Option<&TestCa>,
        request: &HttpsRequest,
    ) -> (u16, Vec<u8>) {
        let mut builder = hyper::Request::builder()
            .method(request.method.as_str())
            .uri(request.path_and_query());
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let req = builder
            .body(Full::new(Bytes::from(request.body.clone())))
            .expect("a request");
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let resp = match ca {
            Some(ca) => {
                let tls = tls_connect(ca, tcp).await;
                round_trip(TokioIo::new(tls), req).await
            }
            None => round_trip(TokioIo::new(tcp), req).await,
        };
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, body.to_vec())
    }

    async fn round_trip<T>(io: T, req: hyper::Request<Full<Bytes>>) -> hyper::Response<Incoming>
    where
        T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (mut send, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .expect("HTTP handshake");
        tokio::spawn(conn);
        send.send_request(req).await.expect("a response")
    }

    async fn tls_connect(
        ca: &TestCa,
        tcp: tokio::net::TcpStream,
    ) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let mut roots = rustls::RootCertStore::empty();
        let b64: String = ca
            .pem()
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        roots
            .add(rustls::pki_types::CertificateDer::from(decode_base64(&b64)))
            .expect("the CA certificate");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("a name");
        connector
            .connect(name, tcp)
            .await
            .expect("the CA is trusted")
    }

    /// Standard base64 (the PEM body), written out so the test client needs no other decoder.
    fn decode_base64(text: &str) -> Vec<u8> {
        let value = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        let bytes: Vec<u8> = text.bytes().filter(|c| *c != b'=').map(value).collect();
        let mut out = Vec::new();
        for chunk in bytes.chunks(4) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, v)| n | (u32::from(*v) << (18 - 6 * i)));
            out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::testing::send;
    use super::*;

    #[test]
    fn forms_and_paths_are_decoded() {
        assert_eq!(
            decode_form(b"a=1+2&b=%2F%3a&c&=x"),
            [
                ("a".to_string(), "1 2".to_string()),
                ("b".into(), "/:".into()),
                ("c".into(), "".into()),
                ("".into(), "x".into())
            ]
        );
        assert_eq!(percent_decode(b"%zz%41"), "%zzA");
        assert_eq!(percent_decode(b"%4"), "%4");
        assert_eq!(percent_decode_strict(b"a%2Fb%00"), Some("a/b\0".into()));
        for bad in [&b"%zz"[..], b"%4", b"%", b"%+1", b"%ff"] {
            assert_eq!(percent_decode_strict(bad), None, "{bad:?}");
        }
        let req = HttpsRequest::to("GET", "/a%2Fb/c?x=1");
        assert_eq!(req.path_segments(), ["a/b", "c"]);
        assert_eq!(req.path_and_query(), "/a%2Fb/c?x=1");
    }

    /// Over real sockets, plain and TLS: the handler sees the request as sent and its answer
    /// goes back whole; a header hyper cannot send is left out, not fatal.
    #[test]
    fn servers_hand_whole_requests_to_the_handler() {
        let echo = |req: &HttpsRequest| {
            let body = serde_json::json!({
                "method": req.method, "path": req.path, "query": req.query,
                "x": req.header("X-Test"), "body": String::from_utf8_lossy(&req.body),
            });
            HttpsResponse::json(201, &body)
                .with_header("x-ok", "1")
                .with_header("bad name", "dropped")
        };
        let ca = TestCa::new();
        let tls = HttpsServer::start(&ca, &[], echo);
        let plain = HttpsServer::start_plain(echo);
        assert!(tls.url().starts_with("https://127.0.0.1:"));
        assert_eq!(plain.url(), format!("http://{}", plain.addr()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let req = HttpsRequest::to("POST", "/p%20q?a=b")
            .with_header("host", "127.0.0.1")
            .with_header("x-test", "t")
            .with_body("hello");
        for (addr, ca) in [(tls.addr(), Some(&ca)), (plain.addr(), None)] {
            let (status, body) = rt.block_on(send(addr, ca, &req));
            assert_eq!(status, 201);
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                body,
                serde_json::json!({"method": "POST", "path": "/p%20q", "query": "a=b",
                    "x": "t", "body": "hello"})
            );
        }
    }
}
