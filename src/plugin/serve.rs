//! The plugin SDK: write a configmanager provider plugin in Rust.
//!
//! Implement [`TokenStore`] and call [`serve`] from `main`. `serve` does the whole go-plugin
//! plugin side, so the binary loads in `cm` and in configmanager (Go) alike: magic-cookie check,
//! version negotiation, a Unix socket in the host's private folder, the gRPC services a Go host
//! expects (health `plugin` SERVING, `GRPCController.Shutdown`, `GRPCStdio`, `GRPCBroker`), the
//! handshake line on stdout, hclog-shaped JSON logs on stderr, SIGINT ignored (the host owns the
//! plugin's lifetime) and exit when the host goes away.
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
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use super::host::APP_PROTOCOL_VERSIONS;
use super::process::{COOKIE_KEY, COOKIE_VALUE, COOKIE_VALUE_ALT};
use super::wire::{self, go_plugin, proto};

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
    let (listener, socket_path) = bind_socket(&options.socket_dir).map_err(ServeError::Listen)?;
    let _cleanup = RemoveOnDrop(socket_path.clone());

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let router = tonic::transport::Server::builder()
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

    // The listener is bound, so the host can connect as soon as it reads this line.
    let mut line = format!("1|{version}|unix|{}|grpc|", socket_path.display());
    if options.multiplex_requested {
        line.push_str("|false");
    }
    writeln!(handshake_out, "{line}")
        .and_then(|()| handshake_out.flush())
        .map_err(ServeError::Listen)?;
    tracing::debug!(network = "unix", address = %socket_path.display(), "plugin address");

    let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
    let mut stopped = stop_rx.clone();
    let shutdown = async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    };
    let mut server = tokio::spawn(router.serve_with_incoming_shutdown(incoming, shutdown));
    tokio::select! {
        r = &mut server => return r.map_err(|e| ServeError::Listen(std::io::Error::other(e)))?.map_err(Into::into),
        _ = stopped.wait_for(|stop| *stop) => {}
    }
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

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
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
/// comes from `RUST_LOG` (default `debug`).
pub fn init_hclog_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("debug,h2=info,tower=info,hyper=info"));
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

    pub struct Hclog;

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
    pub fn timestamp(t: SystemTime) -> String {
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
        };
        let mut out = Vec::new();
        let err = serve_with(Echo, opts, &mut out).await.unwrap_err();
        assert!(err.to_string().starts_with("This binary is a plugin"));
        assert!(out.is_empty(), "nothing may reach stdout");
    }

    /// The SDK and the host's client against each other in one process, over a real socket.
    #[tokio::test]
    async fn host_client_talks_to_sdk_server() {
        use super::super::client::{CallLimits, PluginClient, connect};
        use super::super::handshake;

        let dir = tempfile::tempdir().unwrap();
        let opts = ServeOptions {
            cookie: Some(COOKIE_VALUE_ALT.into()),
            host_versions: Some("1".into()),
            socket_dir: dir.path().into(),
            multiplex_requested: true,
        };
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
        let line = String::from_utf8(line).unwrap();
        assert!(line.ends_with("|grpc||false\n"), "{line}");
        let hs = handshake::parse(&line, &[1]).unwrap();
        assert_eq!(hs.multiplex, Some(false));
        let channel = connect(&hs.address, Duration::from_secs(5)).await.unwrap();
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
            client.value("err", b"").await.unwrap_err().0,
            "no such item"
        );
        client.shutdown(Duration::from_secs(2)).await;
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("server stops on Shutdown")
            .unwrap()
            .unwrap();
        let HandshakeAddress(path) = HandshakeAddress::from(hs.address);
        assert!(!path.exists(), "socket removed on exit");
    }

    struct HandshakeAddress(PathBuf);
    impl From<super::super::handshake::Address> for HandshakeAddress {
        fn from(a: super::super::handshake::Address) -> Self {
            match a {
                super::super::handshake::Address::Unix(p) => HandshakeAddress(p),
                super::super::handshake::Address::Tcp(_) => panic!("unix expected"),
            }
        }
    }
}
