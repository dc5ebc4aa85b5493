//! The plugin side of go-plugin, from the environment to the exit: [`serve`] for `main`, and
//! [`serve_with`] with explicit [`ServeOptions`] for tests and for plugins that want their own
//! runtime or logging.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::about::{self, PluginInfo};
use crate::handshake::{self, Address, FormatError, Handshake};
use crate::listener::{Listener, accept_loop};
use crate::protocol::{
    APP_PROTOCOL_VERSIONS, CLIENT_CERT_ENV, COOKIE_KEY, COOKIE_VALUE, COOKIE_VALUE_ALT,
    MAX_CONCURRENT_CALLS, MAX_MESSAGE_BYTES, MAX_PORT_ENV, MIN_PORT_ENV, MULTIPLEX_GRPC_ENV,
    PROTOCOL_VERSIONS_ENV, UNIX_SOCKET_DIR_ENV,
};
use crate::services::{Adapter, Broker, Controller, Stdio};
use crate::tls::{self, Identity};
use crate::wire::{go_plugin, proto};
use crate::{TokenStore, hclog, lifetime};

/// The variable that overrides the listener kind (`tcp` or `unix`); tests use it to serve on TCP
/// where go-plugin would use a Unix socket.
pub const TRANSPORT_ENV: &str = "CM_PLUGIN_TRANSPORT";

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Started by hand, or by a host with another cookie.
    #[error(
        "This binary is a plugin. These are not meant to be executed directly.\nPlease execute the program that consumes these plugins, which will\nload any plugins automatically"
    )]
    NotAPlugin,
    /// The socket could not be opened, or the handshake line not written.
    #[error("couldn't open the plugin listener: {0}")]
    Listen(std::io::Error),
    /// The listener's address cannot be written in a handshake line.
    #[error("cannot announce the plugin listener: {0}")]
    Handshake(#[from] FormatError),
    /// AutoMTLS was asked for but cannot be set up (e.g. `PLUGIN_CLIENT_CERT` is no certificate).
    #[error("cannot set up AutoMTLS: {0}")]
    Tls(String),
    /// The gRPC server failed.
    #[error("plugin server failed: {0}")]
    Server(#[from] tonic::transport::Error),
}

/// What [`serve_with`] needs to know, read once: what the host asked for (go-plugin's environment
/// variables) and whether the process belongs to the host.
///
/// [`ServeOptions::from_env`] is what a plugin started by a host gets. [`Default`] asks for
/// nothing (no cookie, so serving refuses to start until [`cookie`](Self::cookie) is set) and
/// leaves the process alone; tests start from it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServeOptions {
    cookie: Option<String>,
    host_versions: Option<String>,
    pub(crate) socket_dir: PathBuf,
    multiplex_requested: bool,
    client_cert_pem: Option<String>,
    pub(crate) transport: Transport,
    pub(crate) port_range: (Option<String>, Option<String>),
    tie_to_host: bool,
}

/// What the plugin listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            cookie: None,
            host_versions: None,
            socket_dir: std::env::temp_dir(),
            multiplex_requested: false,
            client_cert_pem: None,
            transport: Transport::default(),
            port_range: (None, None),
            tie_to_host: false,
        }
    }
}

impl ServeOptions {
    /// Reads go-plugin's variables from the process environment (`CONFIGMANAGER_PLUGIN`,
    /// `PLUGIN_PROTOCOL_VERSIONS`, `PLUGIN_UNIX_SOCKET_DIR`, `PLUGIN_MULTIPLEX_GRPC`,
    /// `PLUGIN_CLIENT_CERT`, `PLUGIN_MIN_PORT`, `PLUGIN_MAX_PORT`, and [`TRANSPORT_ENV`]), and
    /// ties the process to its host (see [`tie_to_host`](Self::tie_to_host)).
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok();
        ServeOptions {
            cookie: var(COOKIE_KEY),
            host_versions: var(PROTOCOL_VERSIONS_ENV),
            socket_dir: var(UNIX_SOCKET_DIR_ENV)
                .filter(|d| !d.is_empty())
                .map_or_else(std::env::temp_dir, PathBuf::from),
            multiplex_requested: var(MULTIPLEX_GRPC_ENV).is_some_and(|v| !v.is_empty()),
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
            port_range: (var(MIN_PORT_ENV), var(MAX_PORT_ENV)),
            tie_to_host: true,
        }
    }

    /// The magic cookie value the host sent ([`COOKIE_VALUE`] or [`COOKIE_VALUE_ALT`], or the
    /// plugin refuses to serve).
    pub fn cookie(mut self, value: impl Into<String>) -> Self {
        self.cookie = Some(value.into());
        self
    }

    /// The app protocol versions the host offers, as in `PLUGIN_PROTOCOL_VERSIONS` (`1,2`).
    pub fn host_versions(mut self, versions: impl Into<String>) -> Self {
        self.host_versions = Some(versions.into());
        self
    }

    /// The folder for the Unix socket (default: the temporary folder).
    pub fn socket_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.socket_dir = dir.into();
        self
    }

    /// Whether the host asked about multiplexing; the plugin then answers that it does not.
    pub fn multiplex_requested(mut self, requested: bool) -> Self {
        self.multiplex_requested = requested;
        self
    }

    /// The host's AutoMTLS certificate (PEM): serve TLS and accept only that client.
    pub fn client_cert_pem(mut self, pem: impl Into<String>) -> Self {
        self.client_cert_pem = Some(pem.into());
        self
    }

    /// Serve without TLS even if the host sent a certificate, as a plugin without AutoMTLS
    /// support would (cm's tests use it to play such a plugin).
    pub fn without_client_cert(mut self) -> Self {
        self.client_cert_pem = None;
        self
    }

    /// A Unix socket or a loopback TCP port.
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// The TCP ports to try, in order (default: any free port).
    pub fn port_range(mut self, min: u16, max: u16) -> Self {
        self.port_range = (Some(min.to_string()), Some(max.to_string()));
        self
    }

    /// Whether the process belongs to its host: SIGINT is ignored (the host decides when the
    /// plugin stops) and the process exits as soon as its parent, the host, is gone, whatever
    /// stdout and stderr are connected to. On in [`from_env`](Self::from_env), off by default.
    pub fn tie_to_host(mut self, tie: bool) -> Self {
        self.tie_to_host = tie;
        self
    }
}

/// Serves `store` as a go-plugin plugin until the host shuts it down, then exits the process.
/// Call it from `main` with the plugin's [`plugin_info!`](crate::plugin_info); it never returns.
///
/// Started as `plugin --version` (or `-version`), it prints `info`'s
/// [version line](PluginInfo::version_line) on stdout and exits 0, as configmanager's plugins
/// do. Otherwise it logs `tracing` events to stderr as hclog JSON ([`hclog::init`]), reads the
/// host's request from the environment ([`ServeOptions::from_env`]), prints the handshake line
/// on stdout and serves on a multi-threaded tokio runtime. Exit status 1 when serving fails (the
/// reason goes to stderr), else 0.
pub fn serve<S: TokenStore>(info: PluginInfo, store: S) -> ! {
    if about::asks_for_version(std::env::args_os().skip(1)) {
        let _ = writeln!(std::io::stdout(), "{}", info.version_line());
        std::process::exit(0);
    }
    hclog::init();
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
        match serve_with(store, ServeOptions::from_env(), std::io::stdout()).await {
            Ok(()) => 0,
            Err(e) => {
                // Not eprintln!: it panics when stderr is a pipe nobody reads any more.
                let _ = writeln!(std::io::stderr(), "{e}");
                1
            }
        }
    });
    // Streams the host never closed (stdio, broker) must not keep us alive.
    runtime.shutdown_timeout(Duration::from_millis(100));
    std::process::exit(code)
}

/// Serves `store` with explicit options, printing the handshake line to `handshake_out`.
/// Returns when the host calls `GRPCController.Shutdown`. Call it inside a tokio runtime with
/// I/O and time enabled.
pub async fn serve_with<S: TokenStore>(
    store: S,
    options: ServeOptions,
    mut handshake_out: impl Write,
) -> Result<(), ServeError> {
    if !matches!(
        options.cookie.as_deref(),
        Some(COOKIE_VALUE | COOKIE_VALUE_ALT)
    ) {
        return Err(ServeError::NotAPlugin);
    }
    if options.tie_to_host {
        lifetime::ignore_interrupts();
        lifetime::exit_when_host_exits();
    }
    let app_version = negotiate(options.host_versions.as_deref(), APP_PROTOCOL_VERSIONS);
    // AutoMTLS: trust exactly the host's certificate, present a fresh one of ours.
    let tls = match options.client_cert_pem.as_deref() {
        None => None,
        Some(pem) => {
            let pinned = tls::parse_pem_certs(pem)
                .map_err(|e| ServeError::Tls(format!("{CLIENT_CERT_ENV}: {e}")))?;
            let identity = Identity::generate().map_err(|e| ServeError::Tls(e.to_string()))?;
            let config = tls::server_config(&identity, pinned)
                .map_err(|e| ServeError::Tls(e.to_string()))?;
            Some((identity.cert_der().to_vec(), config))
        }
    };
    let (listener, _cleanup) = Listener::bind(&options).await.map_err(ServeError::Listen)?;
    // A v1.0.1 Go host glues a 7th field onto the certificate, so that one only comes when
    // asked for.
    let address = listener.address().map_err(ServeError::Listen)?;
    let line = handshake::format(&Handshake {
        app_version,
        address: address.clone(),
        server_cert: tls.as_ref().map(|(cert, _)| cert.clone()),
        multiplex: options.multiplex_requested.then_some(false),
    })?;

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;
    let (stop_tx, mut stop_rx) = watch::channel(false);
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
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        );

    // The listener is bound, so the host can connect as soon as it reads this line.
    writeln!(handshake_out, "{line}")
        .and_then(|()| handshake_out.flush())
        .map_err(ServeError::Listen)?;
    let (network, address) = match address {
        Address::Unix(path) => ("unix", path.display().to_string()),
        Address::Tcp(addr) => ("tcp", addr.to_string()),
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreError;

    #[test]
    fn version_negotiation_follows_go_plugin() {
        assert_eq!(negotiate(Some("1"), &[1]), 1);
        assert_eq!(negotiate(Some("2,1"), &[1, 2]), 2);
        assert_eq!(negotiate(Some("1, x"), &[1, 2]), 1);
        // Nothing in common: our lowest, which the host then refuses.
        assert_eq!(negotiate(Some("5"), &[2, 3]), 2);
        assert_eq!(negotiate(None, &[2, 3]), 2);
    }

    struct Echo;
    impl TokenStore for Echo {
        async fn value(&self, token: &str, metadata: &[u8]) -> Result<String, StoreError> {
            Ok(format!("{token}->{}", String::from_utf8_lossy(metadata)))
        }
    }

    fn options(dir: &std::path::Path, transport: Transport) -> ServeOptions {
        ServeOptions::default()
            .cookie(COOKIE_VALUE)
            .host_versions("1")
            .socket_dir(dir)
            .transport(transport)
    }

    #[tokio::test]
    async fn a_missing_or_wrong_cookie_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for opts in [
            ServeOptions::default(),
            options(dir.path(), Transport::Unix).cookie("nope"),
        ] {
            let mut out = Vec::new();
            let err = serve_with(Echo, opts, &mut out).await.unwrap_err();
            assert!(matches!(err, ServeError::NotAPlugin));
            assert!(
                err.to_string()
                    .starts_with(crate::protocol::NOT_A_PLUGIN_MESSAGE)
            );
            assert!(out.is_empty(), "nothing may reach stdout");
        }
    }

    #[tokio::test]
    async fn a_bad_client_certificate_or_port_range_fails_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let opts = options(dir.path(), Transport::Unix).client_cert_pem("not pem");
        let mut out = Vec::new();
        let e = serve_with(Echo, opts, &mut out).await.unwrap_err();
        assert!(e.to_string().contains("PLUGIN_CLIENT_CERT"), "{e}");
        assert!(out.is_empty());

        let opts = options(dir.path(), Transport::Tcp).port_range(20, 10);
        let e = serve_with(Echo, opts, &mut out).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "couldn't open the plugin listener: PLUGIN_MIN_PORT (20) is above PLUGIN_MAX_PORT (10)"
        );
        assert!(out.is_empty());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_socket_path_the_handshake_cannot_carry_fails_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("a|b");
        std::fs::create_dir(&odd).unwrap();
        let mut out = Vec::new();
        let e = serve_with(Echo, options(&odd, Transport::Unix), &mut out)
            .await
            .unwrap_err();
        assert!(
            matches!(e, ServeError::Handshake(FormatError::Address(_))),
            "{e}"
        );
        assert!(out.is_empty());
        assert_eq!(
            std::fs::read_dir(&odd).unwrap().count(),
            0,
            "socket removed"
        );
    }

    /// A Shutdown request ends `serve_with`, and the socket file goes with it.
    #[cfg(unix)]
    #[tokio::test]
    async fn serves_until_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        struct Line(std::sync::mpsc::Sender<Vec<u8>>, Vec<u8>);
        impl Write for Line {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.1.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                let _ = self.0.send(std::mem::take(&mut self.1));
                Ok(())
            }
        }
        let opts = options(dir.path(), Transport::Unix).multiplex_requested(true);
        let server = tokio::spawn(serve_with(Echo, opts, Line(tx, Vec::new())));
        let line = tokio::task::spawn_blocking(move || rx.recv().unwrap())
            .await
            .unwrap();
        let line = String::from_utf8(line).unwrap();
        assert!(line.ends_with("|grpc||false\n"), "{line}");
        let hs = handshake::parse(&line, APP_PROTOCOL_VERSIONS).unwrap();
        let Address::Unix(path) = hs.address else {
            panic!("{line}")
        };
        assert!(path.starts_with(dir.path()));
        let socket = path.clone();
        let channel = tonic::transport::Endpoint::from_static("http://localhost")
            .connect_with_connector(tower::service_fn(move |_| {
                let socket = socket.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(socket).await?;
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
                }
            }))
            .await
            .unwrap();
        let mut store = proto::token_store_client::TokenStoreClient::new(channel.clone());
        let value = store
            .value(proto::TokenValueRequest {
                token: "/a".into(),
                metadata: b"v=1".to_vec(),
            })
            .await
            .unwrap();
        assert_eq!(value.into_inner().value, "/a->v=1");
        go_plugin::grpc_controller_client::GrpcControllerClient::new(channel)
            .shutdown(go_plugin::Empty {})
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("server stops on Shutdown")
            .unwrap()
            .unwrap();
        assert!(!path.exists(), "socket removed on exit");
    }
}
