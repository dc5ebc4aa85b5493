//! The plugin SDK: write a configmanager provider plugin in Rust.
//!
//! Implement [`TokenStore`] and call [`serve`] from `main`. `serve` does the whole go-plugin
//! plugin side, so the binary loads in `cm` and in configmanager (Go) alike: magic-cookie check,
//! version negotiation, a Unix socket in the host's private folder (a loopback TCP port on
//! Windows, as go-plugin does), AutoMTLS when the host asks for it (`PLUGIN_CLIENT_CERT`, see
//! [`super::tls`]), the gRPC services a Go host expects (health `plugin` SERVING,
//! `GRPCController.Shutdown`, `GRPCStdio`, `GRPCBroker`), the handshake line on stdout,
//! hclog-shaped JSON logs on stderr, SIGINT ignored (the host owns the plugin's lifetime) and exit
//! when the host goes away.
//!
//! `CM_PLUGIN_TRANSPORT=tcp` (or `unix`) overrides the platform's choice of listener; tests use it
//! to serve on TCP where go-plugin would use a Unix socket.
//!
//! ```no_run
//! use cm::plugin::{StoreError, TokenStore};
//!
//! struct Upper;
//!
//! impl TokenStore for Upper {
//!     async fn value(&self, token: &str, _metadata: &[u8]) -> Result<String, StoreError> {
//!         if token.is_empty() {
//!             return Err(StoreError::empty_response(token));
//!         }
//!         Ok(token.to_uppercase())
//!     }
//! }
//!
//! fn main() {
//!     cm::plugin::serve(Upper)
//! }
//! ```

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, watch};
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status};

use super::client::Io;
use super::host::APP_PROTOCOL_VERSIONS;
use super::process::{COOKIE_KEY, COOKIE_VALUE, COOKIE_VALUE_ALT};
use super::tls::{self, CLIENT_CERT_ENV, Identity};
use super::wire::{self, go_plugin, proto};

/// The variable that overrides the listener kind (`tcp` or `unix`).
pub const TRANSPORT_ENV: &str = "CM_PLUGIN_TRANSPORT";

/// How long a connecting host may take to finish its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Calls served at once on one connection (cm's `--concurrency` cannot exceed it).
pub const MAX_CONCURRENT_CALLS: u32 = 1024;

/// A plugin's store: look up one item.
pub trait TokenStore: Send + Sync + 'static {
    /// Returns the value stored at `token` (the token's path). `metadata` is the raw text
    /// between the token's brackets (`version=2,label=dev`), empty when there is none.
    fn value(
        &self,
        token: &str,
        metadata: &[u8],
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
}

/// An error from a store, sent to the host as the gRPC status message (code `Unknown`, as a Go
/// plugin's plain `error` arrives). The constructors give configmanager's documented wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(String);

impl StoreError {
    /// Any message.
    pub fn new(message: impl Into<String>) -> Self {
        StoreError(message.into())
    }

    /// `failed to retrieve config item: <reason>`.
    pub fn retrieve_failed(reason: impl std::fmt::Display) -> Self {
        StoreError(format!("failed to retrieve config item: {reason}"))
    }

    /// `failed to initialize the client: <reason>`.
    pub fn client_initialization(reason: impl std::fmt::Display) -> Self {
        StoreError(format!("failed to initialize the client: {reason}"))
    }

    /// `value retrieved but empty for token: <token>`.
    pub fn empty_response(token: &str) -> Self {
        StoreError(format!("value retrieved but empty for token: {token}"))
    }

    /// `failed to complete the service call: <reason>`.
    pub fn service_call_failed(reason: impl std::fmt::Display) -> Self {
        StoreError(format!("failed to complete the service call: {reason}"))
    }

    /// configmanager's `implementation %s error: %v for token: %s`.
    pub fn implementation(
        implementation: &str,
        error: impl std::fmt::Display,
        token: &str,
    ) -> Self {
        StoreError(format!(
            "implementation {implementation} error: {error} for token: {token}"
        ))
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Started by hand, or by a host with another cookie.
    #[error(
        "This binary is a plugin. These are not meant to be executed directly.\nPlease execute the program that consumes these plugins, which will\nload any plugins automatically"
    )]
    NotAPlugin,
    /// The socket could not be opened.
    #[error("couldn't open the plugin listener: {0}")]
    Listen(std::io::Error),
    /// AutoMTLS was asked for but cannot be set up (e.g. `PLUGIN_CLIENT_CERT` is no certificate).
    #[error("cannot set up AutoMTLS: {0}")]
    Tls(String),
    /// The gRPC server failed.
    #[error("plugin server failed: {0}")]
    Server(#[from] tonic::transport::Error),
}

/// What `serve_with` needs from the environment, read once so tests can supply their own.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The cookie value the host sent (`None`: not set).
    pub cookie: Option<String>,
    /// `PLUGIN_PROTOCOL_VERSIONS`.
    pub host_versions: Option<String>,
    /// `PLUGIN_UNIX_SOCKET_DIR`, else the temp folder.
    pub socket_dir: PathBuf,
    /// Whether `PLUGIN_MULTIPLEX_GRPC` was set (we answer that we do not multiplex).
    pub multiplex_requested: bool,
    /// `PLUGIN_CLIENT_CERT`: the host's certificate (PEM) when it wants AutoMTLS.
    pub client_cert_pem: Option<String>,
    /// Unix socket or loopback TCP port.
    pub transport: Transport,
    /// `PLUGIN_MIN_PORT` and `PLUGIN_MAX_PORT`, the TCP port range (missing counts as 0).
    pub port_range: (Option<String>, Option<String>),
}

/// What the plugin listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A Unix socket in `PLUGIN_UNIX_SOCKET_DIR` (go-plugin's choice except on Windows).
    Unix,
    /// `127.0.0.1`, the first free port in `PLUGIN_MIN_PORT..=PLUGIN_MAX_PORT` (Windows).
    Tcp,
}

impl Default for Transport {
    fn default() -> Self {
        if cfg!(windows) {
            Transport::Tcp
        } else {
            Transport::Unix
        }
    }
}

impl ServeOptions {
    /// Reads go-plugin's variables from the process environment.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok();
        ServeOptions {
            cookie: var(COOKIE_KEY),
            host_versions: var("PLUGIN_PROTOCOL_VERSIONS"),
            socket_dir: var("PLUGIN_UNIX_SOCKET_DIR")
                .filter(|d| !d.is_empty())
                .map_or_else(std::env::temp_dir, PathBuf::from),
            multiplex_requested: var("PLUGIN_MULTIPLEX_GRPC").is_some_and(|v| !v.is_empty()),
            client_cert_pem: var(CLIENT_CERT_ENV).filter(|v| !v.is_empty()),
            transport: match var(TRANSPORT_ENV).as_deref().map(str::trim) {
                Some("tcp") => Transport::Tcp,
                Some("unix") => Transport::Unix,
                None | Some("") => Transport::default(),
                Some(other) => {
                    tracing::warn!("ignoring {TRANSPORT_ENV}={other:?} (expected tcp or unix)");
                    Transport::default()
                }
            },
            port_range: (var("PLUGIN_MIN_PORT"), var("PLUGIN_MAX_PORT")),
        }
    }
}

/// Serves `store` as a go-plugin plugin until the host shuts it down, then exits the process.
/// Call it from `main`; it never returns.
pub fn serve<S: TokenStore>(store: S) -> ! {
    init_hclog_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(async move {
        ignore_interrupts();
        exit_when_parent_dies();
        let stdout = std::io::stdout();
        match serve_with(store, ServeOptions::from_env(), stdout).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("{e}");
                1
            }
        }
    });
    // Streams the host never closed (stdio, broker) must not keep us alive.
    runtime.shutdown_timeout(Duration::from_millis(100));
    std::process::exit(code)
}

/// Serves `store` with explicit options, printing the handshake line to `handshake_out`.
/// Returns when the host calls `GRPCController.Shutdown`.
pub async fn serve_with<S: TokenStore>(
    store: S,
    options: ServeOptions,
    mut handshake_out: impl std::io::Write,
) -> Result<(), ServeError> {
    if !matches!(
        options.cookie.as_deref(),
        Some(COOKIE_VALUE | COOKIE_VALUE_ALT)
    ) {
        return Err(ServeError::NotAPlugin);
    }
    let version = negotiate(options.host_versions.as_deref(), APP_PROTOCOL_VERSIONS);
    // AutoMTLS: trust exactly the host's certificate, present a fresh one of ours.
    let tls = match options.client_cert_pem.as_deref() {
        None => None,
        Some(pem) => {
            let pinned = tls::parse_pem_certs(pem)
                .map_err(|e| ServeError::Tls(format!("{CLIENT_CERT_ENV}: {e}")))?;
            let identity = Identity::generate().map_err(|e| ServeError::Tls(e.to_string()))?;
            let config = tls::server_config(&identity, pinned)
                .map_err(|e| ServeError::Tls(e.to_string()))?;
            Some((identity.handshake_field(), config))
        }
    };
    let (listener, _cleanup) = Listener::bind(&options).await.map_err(ServeError::Listen)?;
    let (network, address) = listener.describe()?;

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;
    let (stop_tx, mut stop_rx) = watch::channel(false);
    // Bound concurrent calls per connection: h2 rejects a burst of thousands of tiny streams
    // that arrive faster than they are accepted, while a client that sees this limit queues.
    let router = tonic::transport::Server::builder()
        .max_concurrent_streams(MAX_CONCURRENT_CALLS)
        .add_service(health)
        .add_service(
            go_plugin::grpc_controller_server::GrpcControllerServer::new(Controller {
                stop: stop_tx,
            }),
        )
        .add_service(go_plugin::grpc_stdio_server::GrpcStdioServer::new(Stdio))
        .add_service(go_plugin::grpc_broker_server::GrpcBrokerServer::new(Broker))
        .add_service(
            proto::token_store_server::TokenStoreServer::new(Adapter(Arc::new(store)))
                .max_decoding_message_size(wire::MAX_MESSAGE_BYTES)
                .max_encoding_message_size(wire::MAX_MESSAGE_BYTES),
        );

    // The listener is bound, so the host can connect as soon as it reads this line. A v1.0.1 Go
    // host glues a 7th field onto the certificate, so that one only comes when asked for.
    let cert = tls.as_ref().map_or("", |(cert, _)| cert.as_str());
    let mut line = format!("1|{version}|{network}|{address}|grpc|{cert}");
    if options.multiplex_requested {
        line.push_str("|false");
    }
    writeln!(handshake_out, "{line}")
        .and_then(|()| handshake_out.flush())
        .map_err(ServeError::Listen)?;
    tracing::debug!(network, address, tls = tls.is_some(), "plugin address");

    let (incoming, accept_task) = accept_loop(listener, tls.map(|(_, config)| config));
    let mut stopped = stop_rx.clone();
    let shutdown = async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    };
    let mut server = tokio::spawn(router.serve_with_incoming_shutdown(incoming, shutdown));
    tokio::select! {
        r = &mut server => return r.map_err(|e| ServeError::Listen(std::io::Error::other(e)))?.map_err(Into::into),
        _ = stopped.wait_for(|stop| *stop) => {}
    }
    // Stop listening now, as Go plugins do.
    drop(accept_task);
    // Graceful shutdown waits for open streams (stdio, broker) the host may never close; like
    // go-plugin's hard Stop, give in-flight calls a moment and then go.
    let _ = tokio::time::timeout(Duration::from_millis(500), &mut server).await;
    drop(health_reporter);
    Ok(())
}

/// Highest common version; else our lowest, and the host refuses it (go-plugin's rule).
fn negotiate(host_versions: Option<&str>, ours: &[u32]) -> u32 {
    let host: Vec<u32> = host_versions
        .unwrap_or("")
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let mut ours = ours.to_vec();
    ours.sort_unstable_by(|a, b| b.cmp(a));
    ours.iter()
        .copied()
        .find(|v| host.contains(v))
        .unwrap_or_else(|| *ours.last().expect("at least one version"))
}

/// The bound listener.
enum Listener {
    #[cfg(unix)]
    Unix(tokio::net::UnixListener, PathBuf),
    Tcp(tokio::net::TcpListener),
}

impl Listener {
    /// Binds what `options` ask for; the guard removes a Unix socket file when dropped.
    async fn bind(options: &ServeOptions) -> std::io::Result<(Listener, Option<RemoveOnDrop>)> {
        match options.transport {
            #[cfg(unix)]
            Transport::Unix => {
                let (listener, path) = bind_socket(&options.socket_dir)?;
                Ok((
                    Listener::Unix(listener, path.clone()),
                    Some(RemoveOnDrop(path)),
                ))
            }
            #[cfg(not(unix))]
            Transport::Unix => Err(std::io::Error::other(
                "unix sockets are not supported on this platform",
            )),
            Transport::Tcp => {
                let (min, max) = &options.port_range;
                let listener = bind_tcp(min.as_deref(), max.as_deref()).await?;
                Ok((Listener::Tcp(listener), None))
            }
        }
    }

    /// Handshake fields 3 and 4.
    fn describe(&self) -> Result<(&'static str, String), ServeError> {
        match self {
            #[cfg(unix)]
            Listener::Unix(_, path) => Ok(("unix", path.display().to_string())),
            Listener::Tcp(l) => Ok((
                "tcp",
                l.local_addr().map_err(ServeError::Listen)?.to_string(),
            )),
        }
    }

    async fn accept(&self) -> std::io::Result<Box<dyn Io>> {
        match self {
            #[cfg(unix)]
            Listener::Unix(l, _) => Ok(Box::new(l.accept().await?.0)),
            Listener::Tcp(l) => {
                let stream = l.accept().await?.0;
                stream.set_nodelay(true)?;
                Ok(Box::new(stream))
            }
        }
    }
}

#[cfg(unix)]
fn bind_socket(dir: &std::path::Path) -> std::io::Result<(tokio::net::UnixListener, PathBuf)> {
    use std::hash::{BuildHasher, Hasher};
    for _ in 0..16 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let path = dir.join(format!("plugin{}", h.finish() % 10_000_000_000));
        match tokio::net::UnixListener::bind(&path) {
            Ok(l) => return Ok((l, path)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        "no free socket name",
    ))
}

/// go-plugin's TCP listener: `127.0.0.1`, the first port of `min..=max` that binds (both
/// missing: any free port).
async fn bind_tcp(
    min: Option<&str>,
    max: Option<&str>,
) -> std::io::Result<tokio::net::TcpListener> {
    let port = |name: &str, v: Option<&str>| match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(0u16),
        Some(v) => v.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{name} is not a port number: {v:?}"),
            )
        }),
    };
    let (min, max) = (port("PLUGIN_MIN_PORT", min)?, port("PLUGIN_MAX_PORT", max)?);
    if min > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("PLUGIN_MIN_PORT ({min}) is above PLUGIN_MAX_PORT ({max})"),
        ));
    }
    for port in min..=max {
        if let Ok(l) = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port)).await {
            return Ok(l);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        "couldn't bind plugin TCP listener",
    ))
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Accepts connections for tonic: plain, or after a TLS handshake of their own (so a slow or
/// refused client never holds up the others). Dropping the guard closes the listener.
fn accept_loop(
    listener: Listener,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> (
    tokio_stream::wrappers::ReceiverStream<std::io::Result<Conn>>,
    AbortOnDrop,
) {
    let (tx, rx) = mpsc::channel(16);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let task = tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match &acceptor {
                None => {
                    if tx.send(Ok(Conn(stream))).await.is_err() {
                        return;
                    }
                }
                Some(acceptor) => {
                    let (acceptor, tx) = (acceptor.clone(), tx.clone());
                    tokio::spawn(async move {
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(tls)) => {
                                let _ = tx.send(Ok(Conn(Box::new(tls)))).await;
                            }
                            Ok(Err(e)) => {
                                tracing::warn!(error = %e, "refused a connection: TLS handshake failed")
                            }
                            Err(_) => {
                                tracing::warn!("refused a connection: TLS handshake timed out")
                            }
                        }
                    });
                }
            }
        }
    });
    (
        tokio_stream::wrappers::ReceiverStream::new(rx),
        AbortOnDrop(task),
    )
}

/// One accepted connection, plain or TLS, as tonic wants it.
struct Conn(Box<dyn Io>);

impl Connected for Conn {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

struct Adapter<S>(Arc<S>);

#[tonic::async_trait]
impl<S: TokenStore> proto::token_store_server::TokenStore for Adapter<S> {
    async fn value(
        &self,
        request: Request<proto::TokenValueRequest>,
    ) -> Result<Response<proto::TokenValueResponse>, Status> {
        let req = request.into_inner();
        match self.0.value(&req.token, &req.metadata).await {
            Ok(value) => Ok(Response::new(proto::TokenValueResponse { value })),
            Err(e) => Err(Status::unknown(e.0)),
        }
    }
}

struct Controller {
    stop: watch::Sender<bool>,
}

#[tonic::async_trait]
impl go_plugin::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(
        &self,
        _: Request<go_plugin::Empty>,
    ) -> Result<Response<go_plugin::Empty>, Status> {
        tracing::debug!("shutdown requested by the host");
        let _ = self.stop.send(true);
        Ok(Response::new(go_plugin::Empty {}))
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Nothing is captured (writes after the handshake go to the real stderr), but the stream is held
/// open until the host cancels it: older Go hosts log errors in a loop when it is missing.
struct Stdio;

#[tonic::async_trait]
impl go_plugin::grpc_stdio_server::GrpcStdio for Stdio {
    type StreamStdioStream = BoxStream<go_plugin::StdioData>;

    async fn stream_stdio(
        &self,
        _: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(Box::pin(futures_util::stream::pending())))
    }
}

/// Offers no callbacks; holds the stream the host opens, as go-plugin expects.
struct Broker;

#[tonic::async_trait]
impl go_plugin::grpc_broker_server::GrpcBroker for Broker {
    type StartStreamStream = BoxStream<go_plugin::ConnInfo>;

    async fn start_stream(
        &self,
        request: Request<tonic::Streaming<go_plugin::ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        let mut inbound = request.into_inner();
        tokio::spawn(async move { while let Ok(Some(_)) = inbound.message().await {} });
        Ok(Response::new(Box::pin(futures_util::stream::pending())))
    }
}

fn ignore_interrupts() {
    #[cfg(unix)]
    tokio::spawn(async {
        let Ok(mut sigint) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        else {
            return;
        };
        while sigint.recv().await.is_some() {
            tracing::trace!("ignoring SIGINT; the host decides when this plugin stops");
        }
    });
}

/// A host that dies without shutting us down (SIGKILL) must not leave us running. Parent-death
/// signals are tied to the thread that forked us, which a Go host does not guarantee, so poll.
fn exit_when_parent_dies() {
    #[cfg(unix)]
    tokio::spawn(async {
        // SAFETY: getppid has no preconditions.
        let parent = unsafe { libc::getppid() };
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            // SAFETY: as above.
            if unsafe { libc::getppid() } != parent {
                tracing::warn!("host process is gone, exiting");
                std::process::exit(0);
            }
        }
    });
}

/// Logs as hclog JSON lines on stderr, which Go hosts and cm re-log at the right level. The level
/// comes from `RUST_LOG` (default `info`).
pub fn init_hclog_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(hclog::Hclog)
        .try_init();
}

mod hclog {
    //! hclog's JSON line: `@level`, `@message`, `@timestamp` (6 fractional digits, UTC),
    //! `@module`, then the event's fields. Go hosts panic on a non-string `@level`/`@message` and
    //! treat any other timestamp layout as plain text, so the shape is exact.

    use std::fmt;
    use std::time::{SystemTime, UNIX_EPOCH};

    use serde_json::{Map, Value};
    use tracing::field::{Field, Visit};
    use tracing::{Event, Subscriber};
    use tracing_subscriber::fmt::format::Writer;
    use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
    use tracing_subscriber::registry::LookupSpan;

    pub(crate) struct Hclog;

    struct Fields(Map<String, Value>);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            self.0.insert(
                field.name().to_string(),
                Value::String(format!("{value:?}")),
            );
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0
                .insert(field.name().to_string(), Value::String(value.to_string()));
        }
        fn record_i64(&mut self, field: &Field, value: i64) {
            self.0.insert(field.name().to_string(), Value::from(value));
        }
        fn record_u64(&mut self, field: &Field, value: u64) {
            self.0.insert(field.name().to_string(), Value::from(value));
        }
        fn record_bool(&mut self, field: &Field, value: bool) {
            self.0.insert(field.name().to_string(), Value::from(value));
        }
    }

    impl<S, N> FormatEvent<S, N> for Hclog
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        fn format_event(
            &self,
            _ctx: &FmtContext<'_, S, N>,
            mut writer: Writer<'_>,
            event: &Event<'_>,
        ) -> fmt::Result {
            let mut fields = Fields(Map::new());
            event.record(&mut fields);
            let message = fields
                .0
                .remove("message")
                .unwrap_or(Value::String(String::new()));
            let message = match message {
                Value::String(s) => s,
                other => other.to_string(),
            };
            let mut line = fields.0;
            line.insert(
                "@level".into(),
                Value::String(event.metadata().level().as_str().to_ascii_lowercase()),
            );
            line.insert("@message".into(), Value::String(message));
            line.insert(
                "@timestamp".into(),
                Value::String(timestamp(SystemTime::now())),
            );
            line.insert(
                "@module".into(),
                Value::String(event.metadata().target().to_string()),
            );
            writeln!(writer, "{}", Value::Object(line))
        }
    }

    /// `2006-01-02T15:04:05.000000Z` in UTC.
    pub(crate) fn timestamp(t: SystemTime) -> String {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = d.as_secs();
        let (days, rem) = (secs / 86_400, secs % 86_400);
        let (y, m, day) = civil_from_days(days as i64);
        format!(
            "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60,
            d.subsec_micros()
        )
    }

    /// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
    fn civil_from_days(z: i64) -> (i64, u32, u32) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        (yoe + era * 400 + i64::from(m <= 2), m, d)
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::time::Duration;

        #[test]
        fn timestamps_have_go_hclog_layout() {
            assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
            let t = UNIX_EPOCH + Duration::from_micros(1_795_615_560_099_757);
            assert_eq!(timestamp(t), "2026-11-25T14:06:00.099757Z");
            // A leap day.
            let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
            assert_eq!(timestamp(t), "2000-02-29T00:00:00.000000Z");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_negotiation_follows_go_plugin() {
        assert_eq!(negotiate(Some("1"), &[1]), 1);
        assert_eq!(negotiate(Some("2,1"), &[1, 2]), 2);
        assert_eq!(negotiate(Some("1, x"), &[1, 2]), 1);
        // Nothing in common: our lowest, which the host then refuses.
        assert_eq!(negotiate(Some("5"), &[2, 3]), 2);
        assert_eq!(negotiate(None, &[2, 3]), 2);
    }

    #[test]
    fn store_errors_use_configmanager_wording() {
        assert_eq!(
            StoreError::empty_response("/a").message(),
            "value retrieved but empty for token: /a"
        );
        assert_eq!(
            StoreError::implementation("AWSPARAMSTR", "boom", "/a").message(),
            "implementation AWSPARAMSTR error: boom for token: /a"
        );
        assert_eq!(
            StoreError::retrieve_failed("x").message(),
            "failed to retrieve config item: x"
        );
        assert_eq!(
            StoreError::client_initialization("x").message(),
            "failed to initialize the client: x"
        );
    }

    struct Echo;
    impl TokenStore for Echo {
        async fn value(&self, token: &str, metadata: &[u8]) -> Result<String, StoreError> {
            if token == "err" {
                return Err(StoreError::new("no such item"));
            }
            Ok(format!("{token}->{}", String::from_utf8_lossy(metadata)))
        }
    }

    #[tokio::test]
    async fn wrong_cookie_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let opts = ServeOptions {
            cookie: Some("nope".into()),
            host_versions: Some("1".into()),
            socket_dir: dir.path().into(),
            multiplex_requested: false,
            client_cert_pem: None,
            transport: Transport::Unix,
            port_range: (None, None),
        };
        let mut out = Vec::new();
        let err = serve_with(Echo, opts, &mut out).await.unwrap_err();
        assert!(err.to_string().starts_with("This binary is a plugin"));
        assert!(out.is_empty(), "nothing may reach stdout");
    }

    /// Starts `serve_with` in this process; returns its task and its handshake line.
    async fn start_sdk(
        opts: ServeOptions,
    ) -> (tokio::task::JoinHandle<Result<(), ServeError>>, String) {
        let (line_tx, line_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        struct Out(std::sync::mpsc::Sender<Vec<u8>>, Vec<u8>);
        impl std::io::Write for Out {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.1.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                let _ = self.0.send(std::mem::take(&mut self.1));
                Ok(())
            }
        }
        let server = tokio::spawn(serve_with(Echo, opts, Out(line_tx, Vec::new())));
        let line = tokio::task::spawn_blocking(move || line_rx.recv().unwrap())
            .await
            .unwrap();
        (server, String::from_utf8(line).unwrap())
    }

    fn options(
        dir: &std::path::Path,
        transport: Transport,
        cert: Option<&Identity>,
    ) -> ServeOptions {
        ServeOptions {
            cookie: Some(COOKIE_VALUE_ALT.into()),
            host_versions: Some("1".into()),
            socket_dir: dir.into(),
            multiplex_requested: false,
            client_cert_pem: cert.map(|c| c.cert_pem().to_string()),
            transport,
            port_range: (None, None),
        }
    }

    /// The SDK and the host's client against each other in one process, over a real socket,
    /// on every transport, with and without AutoMTLS.
    #[tokio::test]
    async fn host_client_talks_to_sdk_server() {
        use super::super::client::{CallLimits, PluginClient, connect};
        use super::super::handshake::{self, Address};

        for transport in [Transport::Unix, Transport::Tcp] {
            for mtls in [false, true] {
                let dir = tempfile::tempdir().unwrap();
                let host = Identity::generate().unwrap();
                let mut opts = options(dir.path(), transport, mtls.then_some(&host));
                opts.multiplex_requested = !mtls;
                let (server, line) = start_sdk(opts).await;
                let hs = handshake::parse(&line, &[1]).unwrap();
                match (&hs.address, transport) {
                    (Address::Unix(_), Transport::Unix) => {}
                    (Address::Tcp(a), Transport::Tcp) => assert!(a.ip().is_loopback()),
                    other => panic!("{other:?}"),
                }
                let tls = if mtls {
                    assert!(line.starts_with("1|1|") && !line.contains('='), "{line}");
                    let cert = hs.server_cert.as_deref().expect("a certificate in field 6");
                    Some(tls::client_config(&host, cert).unwrap())
                } else {
                    assert!(line.ends_with("|grpc||false\n"), "{line}");
                    assert_eq!(hs.multiplex, Some(false));
                    None
                };
                let channel = connect(&hs.address, Duration::from_secs(5), tls)
                    .await
                    .unwrap();
                let client = PluginClient::new(
                    "ECHO",
                    channel,
                    CallLimits {
                        concurrency: 4,
                        timeout: Duration::from_secs(5),
                    },
                );
                assert_eq!(
                    client.value("/a", b"v=1").await.unwrap().expose(),
                    b"/a->v=1"
                );
                assert_eq!(
                    client.value("err", b"").await.unwrap_err().to_string(),
                    "no such item"
                );
                client.shutdown(Duration::from_secs(2)).await;
                tokio::time::timeout(Duration::from_secs(5), server)
                    .await
                    .expect("server stops on Shutdown")
                    .unwrap()
                    .unwrap();
                if let Address::Unix(path) = &hs.address {
                    assert!(!path.exists(), "socket removed on exit");
                }
            }
        }
    }

    /// A client presenting another certificate than `PLUGIN_CLIENT_CERT`, or none, gets nothing.
    #[tokio::test]
    async fn sdk_refuses_a_client_with_the_wrong_certificate() {
        use super::super::client::connect;
        use super::super::handshake;

        let dir = tempfile::tempdir().unwrap();
        let host = Identity::generate().unwrap();
        let (server, line) = start_sdk(options(dir.path(), Transport::Tcp, Some(&host))).await;
        let hs = handshake::parse(&line, &[1]).unwrap();
        let plugin_cert = hs.server_cert.clone().unwrap();
        let intruder = Identity::generate().unwrap();
        let wrong = tls::client_config(&intruder, &plugin_cert).unwrap();
        let health = |channel| tonic_health::pb::health_client::HealthClient::new(channel);
        let request = || tonic_health::pb::HealthCheckRequest {
            service: "plugin".into(),
        };
        // Under TLS 1.3 the client may finish its handshake before the server refuses it, so the
        // refusal shows on connect or on the first call.
        if let Ok(channel) = connect(&hs.address, Duration::from_secs(5), Some(wrong)).await {
            health(channel).check(request()).await.unwrap_err();
        }
        // The right certificate still works, so the plugin survived the attempt.
        let right = tls::client_config(&host, &plugin_cert).unwrap();
        let channel = connect(&hs.address, Duration::from_secs(5), Some(right))
            .await
            .unwrap();
        let status = health(channel.clone()).check(request()).await.unwrap();
        assert_eq!(status.into_inner().status, 1, "SERVING");
        go_plugin::grpc_controller_client::GrpcControllerClient::new(channel)
            .shutdown(go_plugin::Empty {})
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_bad_client_certificate_or_port_range_fails_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = options(dir.path(), Transport::Unix, None);
        opts.client_cert_pem = Some("not pem".into());
        let mut out = Vec::new();
        let e = serve_with(Echo, opts, &mut out).await.unwrap_err();
        assert!(e.to_string().contains("PLUGIN_CLIENT_CERT"), "{e}");
        assert!(out.is_empty());

        let mut opts = options(dir.path(), Transport::Tcp, None);
        opts.port_range = (Some("20".into()), Some("10".into()));
        let e = serve_with(Echo, opts, &mut out).await.unwrap_err();
        assert!(e.to_string().contains("above PLUGIN_MAX_PORT"), "{e}");
        assert!(out.is_empty());
    }

    #[tokio::test]
    async fn tcp_ports_follow_the_range() {
        let first = bind_tcp(Some("0"), Some("0")).await.unwrap();
        let port = first.local_addr().unwrap().port();
        // The range starts at a taken port: the next free one wins.
        let p = port.to_string();
        let next = port.saturating_add(30).to_string();
        let second = bind_tcp(Some(&p), Some(&next)).await.unwrap();
        let second_port = second.local_addr().unwrap().port();
        assert!(
            second_port > port && second_port <= port + 30,
            "{second_port}"
        );
        assert!(second.local_addr().unwrap().ip().is_loopback());
        let e = bind_tcp(Some(&p), Some(&p)).await.unwrap_err();
        assert_eq!(e.to_string(), "couldn't bind plugin TCP listener");
        assert!(bind_tcp(Some("x"), None).await.is_err());
    }
}
