//! The plugin host: start every plugin a plan needs, concurrently and once each; hand out
//! providers for them; shut them all down at the end (on success, on error, on Ctrl-C).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::sync::Mutex;

use cm_plugin_sdk::handshake::{self, Address, HandshakeError};
use cm_plugin_sdk::protocol::{
    APP_PROTOCOL_VERSIONS, COOKIE_VALUE, COOKIE_VALUE_ALT, NOT_A_PLUGIN_MESSAGE,
};
use cm_plugin_sdk::tls::{self, Identity};

use super::client::{CallLimits, PluginClient, connect, humantime};
use super::process::{PluginProcess, Program, SpawnOptions};
use super::tls::MtlsPolicy;
use crate::Secret;
use crate::provider::{BoxFuture, Provider, ProviderError};

/// How plugins are started and called.
#[derive(Debug, Clone, Copy)]
pub struct HostOptions {
    /// Time from spawn to the handshake line and connection.
    pub start_timeout: Duration,
    /// Per-call limits.
    pub calls: CallLimits,
    /// How long a plugin may take to exit after Shutdown before it is killed.
    pub grace: Duration,
    /// When plugins get AutoMTLS (see `MtlsPolicy`).
    pub mtls: MtlsPolicy,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            start_timeout: Duration::from_secs(30),
            calls: CallLimits {
                concurrency: 64,
                timeout: Duration::from_secs(60),
            },
            grace: Duration::from_secs(2),
            mtls: MtlsPolicy::Auto,
        }
    }
}

/// Why a plugin could not be started.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartFailure {
    /// The binary could not be executed.
    #[error("cannot execute the plugin: {reason}")]
    Spawn {
        /// The binary.
        path: PathBuf,
        /// Why, in words.
        reason: String,
    },
    /// No handshake line within the start timeout.
    #[error("timeout while waiting for plugin to start ({} elapsed, see --plugin-start-timeout)", humantime(*.0))]
    Timeout(Duration),
    /// The plugin exited (or closed stdout) before printing its handshake.
    #[error("plugin exited before we could connect ({0})")]
    Exited(String),
    /// The handshake line was refused.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// The socket could not be dialled.
    #[error("cannot connect to the plugin at {address}: {reason}")]
    Connect {
        /// Where.
        address: String,
        /// Why.
        reason: String,
    },
    /// AutoMTLS could not be set up, or the plugin did not take it up.
    #[error("{0}")]
    Tls(String),
    /// Local trouble (socket folder, pipes).
    #[error("{0}")]
    Io(String),
}

/// A plugin that could not be started, with what it said on stderr.
#[derive(Debug, thiserror::Error)]
#[error("providers not initialised, plugin {prefix} ({}): {failure}{}", path.display(), format_tail(stderr_tail))]
pub struct StartError {
    /// The prefix (upper case).
    pub(crate) prefix: String,
    /// The binary.
    pub(crate) path: PathBuf,
    /// What went wrong.
    pub(crate) failure: StartFailure,
    /// The plugin's last stderr lines.
    pub(crate) stderr_tail: Vec<String>,
}

fn format_tail(tail: &[String]) -> String {
    if tail.is_empty() {
        return String::new();
    }
    let mut s = String::from("\n  plugin stderr (last lines):");
    for l in tail {
        s.push_str("\n    ");
        s.push_str(l);
    }
    s
}

/// A started plugin: its process, its connection, and the socket folder both use.
#[derive(Debug)]
pub struct RunningPlugin {
    prefix: String,
    client: PluginClient,
    process: Mutex<Option<PluginProcess>>,
    pid: Option<u32>,
    _socket_dir: tempfile::TempDir,
}

impl RunningPlugin {
    /// The plugin process id (tests use it to check nothing is left behind).
    pub(crate) fn pid(&self) -> Option<u32> {
        self.pid
    }

    async fn shutdown(self, grace: Duration) {
        let started = Instant::now();
        let process = self.process.lock().await.take();
        self.client.shutdown(grace).await;
        if let Some(process) = process {
            let left = grace.saturating_sub(started.elapsed());
            let status = process.stop(left).await;
            tracing::debug!(plugin = %self.prefix, ?status, "plugin stopped");
        }
    }
}

impl Provider for RunningPlugin {
    fn fetch<'a>(
        &'a self,
        path: &'a str,
        metadata: &'a [u8],
    ) -> BoxFuture<'a, Result<Secret, ProviderError>> {
        Box::pin(self.client.value(path, metadata))
    }
}

/// The plugins of one run.
#[derive(Debug, Default)]
pub struct PluginHost {
    plugins: BTreeMap<String, Arc<RunningPlugin>>,
    grace: Duration,
}

impl PluginHost {
    /// Starts each `(prefix, binary)` concurrently. Returns the host holding every plugin that
    /// started (they must be shut down even when others failed) and the failures. A binary is a
    /// path or a [`Program`] that integrity checks have already opened (`lock::Verified`).
    pub async fn start<P: Into<Program>>(
        wanted: Vec<(String, P)>,
        opts: HostOptions,
    ) -> (PluginHost, Vec<StartError>) {
        let results = join_all(wanted.into_iter().map(|(prefix, program)| async move {
            let t = Instant::now();
            let r = start_one(&prefix, &program.into(), &opts).await;
            tracing::debug!(plugin = %prefix, elapsed_ms = t.elapsed().as_millis() as u64, ok = r.is_ok(), "plugin start");
            (prefix, r)
        }))
        .await;
        let mut host = PluginHost {
            plugins: BTreeMap::new(),
            grace: opts.grace,
        };
        let mut errors = Vec::new();
        for (prefix, r) in results {
            match r {
                Ok(p) => {
                    host.plugins.insert(prefix, Arc::new(p));
                }
                Err(e) => errors.push(e),
            }
        }
        (host, errors)
    }

    /// The provider for a prefix, if its plugin is running.
    pub fn provider(&self, prefix: &str) -> Option<Arc<RunningPlugin>> {
        self.plugins.get(prefix).cloned()
    }

    /// Process ids of the running plugins.
    pub fn pids(&self) -> Vec<u32> {
        self.plugins.values().filter_map(|p| p.pid()).collect()
    }

    /// Shuts every plugin down concurrently: Shutdown RPC, grace period, then SIGKILL.
    pub async fn shutdown(self) {
        let grace = self.grace;
        join_all(self.plugins.into_values().map(|p| async move {
            match Arc::try_unwrap(p) {
                Ok(p) => p.shutdown(grace).await,
                // A caller still holds it (a cancelled fetch); killing on drop covers that case.
                Err(p) => {
                    tracing::debug!(plugin = %p.prefix, "plugin still referenced at shutdown")
                }
            }
        }))
        .await;
    }
}

async fn start_one(
    prefix: &str,
    program: &Program,
    opts: &HostOptions,
) -> Result<RunningPlugin, StartError> {
    let path = program.path();
    let deadline = Instant::now() + opts.start_timeout;
    let fail = |failure: StartFailure, tail: Vec<String>| StartError {
        prefix: prefix.to_string(),
        path: path.to_path_buf(),
        failure,
        stderr_tail: tail,
    };
    program.preflight().map_err(|reason| {
        fail(
            StartFailure::Spawn {
                path: path.to_path_buf(),
                reason,
            },
            vec![],
        )
    })?;
    let mut cookie = COOKIE_VALUE;
    // `offer_tls` only goes from false to true and the cookie only from the first value to the
    // second, so the loop spawns the plugin at most three times.
    let mut offer_tls = opts.mtls.offer_up_front();
    loop {
        let socket_dir = private_dir().map_err(|e| {
            fail(
                StartFailure::Io(format!("cannot create a socket folder: {e}")),
                vec![],
            )
        })?;
        let identity = if offer_tls {
            Some(Identity::generate().map_err(|e| fail(StartFailure::Tls(e.to_string()), vec![]))?)
        } else {
            None
        };
        let spawn_opts = SpawnOptions {
            name: prefix.to_string(),
            cookie_value: cookie.to_string(),
            versions: APP_PROTOCOL_VERSIONS.to_vec(),
            socket_dir: socket_dir.path().to_path_buf(),
            client_cert_pem: identity.as_ref().map(|id| id.cert_pem().to_string()),
        };
        let mut process = PluginProcess::spawn(program, &spawn_opts).map_err(|e| {
            fail(
                StartFailure::Spawn {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                },
                vec![],
            )
        })?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let line = match tokio::time::timeout(remaining, process.read_handshake_line()).await {
            Err(_) => {
                process.kill().await;
                process.settle_stderr(Duration::from_millis(200)).await;
                return Err(fail(
                    StartFailure::Timeout(opts.start_timeout),
                    process.stderr_tail(),
                ));
            }
            Ok(Err(e)) => {
                process.kill().await;
                return Err(fail(
                    StartFailure::Io(format!("reading the handshake: {e}")),
                    process.stderr_tail(),
                ));
            }
            Ok(Ok(line)) => line,
        };
        let Some(line) = line else {
            // stdout closed: the plugin is exiting. Let it finish so its stderr is complete.
            let status = match tokio::time::timeout(Duration::from_secs(1), process.wait()).await {
                Ok(Ok(s)) => s.to_string(),
                _ => {
                    process.kill().await;
                    "it closed stdout".to_string()
                }
            };
            process.settle_stderr(Duration::from_millis(500)).await;
            let tail = process.stderr_tail();
            if cookie == COOKIE_VALUE && tail.iter().any(|l| l.contains(NOT_A_PLUGIN_MESSAGE)) {
                tracing::debug!(plugin = %prefix, "plugin refused cookie {cookie:?}, retrying with {COOKIE_VALUE_ALT:?}");
                cookie = COOKIE_VALUE_ALT;
                continue;
            }
            return Err(fail(StartFailure::Exited(status), tail));
        };
        let hs = match handshake::parse(&line, APP_PROTOCOL_VERSIONS) {
            Ok(hs) => hs,
            Err(e) => {
                process.kill().await;
                process.settle_stderr(Duration::from_millis(200)).await;
                return Err(fail(e.into(), process.stderr_tail()));
            }
        };
        tracing::debug!(plugin = %prefix, address = %hs.address, tls = hs.server_cert.is_some(), "plugin handshake");
        let tcp = matches!(hs.address, Address::Tcp(_));
        let tls_needed = tcp || opts.mtls == MtlsPolicy::Always;
        let tls = match (&identity, &hs.server_cert) {
            (Some(identity), Some(cert)) => match tls::client_config(identity, cert) {
                Ok(config) => Some(config),
                Err(e) => {
                    process.kill().await;
                    return Err(fail(
                        StartFailure::Tls(e.to_string()),
                        process.stderr_tail(),
                    ));
                }
            },
            (_, None) if !tls_needed => None,
            (Some(_), None) => {
                process.kill().await;
                process.settle_stderr(Duration::from_millis(200)).await;
                let why = if let Address::Tcp(addr) = &hs.address {
                    format!(
                        "the plugin listens on TCP ({addr}) without TLS although cm asked for go-plugin AutoMTLS; cm refuses plaintext TCP, which any local user could connect to"
                    )
                } else {
                    "the plugin ignored go-plugin AutoMTLS (--plugin-mtls): its handshake line carries no certificate, and cm does not fall back to plaintext".to_string()
                };
                return Err(fail(StartFailure::Tls(why), process.stderr_tail()));
            }
            (None, _) => {
                // Only under MtlsPolicy::Auto off Windows: the plugin listens on TCP, or wants
                // TLS of its own accord. Nothing has been sent to it; start it again with
                // AutoMTLS (see the tls module).
                let why = if tcp {
                    "plugin listens on TCP"
                } else {
                    "plugin offers TLS unasked"
                };
                tracing::debug!(plugin = %prefix, address = %hs.address, "{why}; restarting it with AutoMTLS");
                process.kill().await;
                offer_tls = true;
                continue;
            }
        };
        let remaining = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100));
        let channel = match connect(&hs.address, remaining, tls).await {
            Ok(c) => c,
            Err(e) => {
                process.kill().await;
                let reason =
                    std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| s.to_string());
                return Err(fail(
                    StartFailure::Connect {
                        address: hs.address.to_string(),
                        reason,
                    },
                    process.stderr_tail(),
                ));
            }
        };
        let pid = process.pid();
        return Ok(RunningPlugin {
            prefix: prefix.to_string(),
            client: PluginClient::new(prefix, channel, opts.calls),
            process: Mutex::new(Some(process)),
            pid,
            _socket_dir: socket_dir,
        });
    }
}

/// A fresh 0700 folder for the plugin's socket, so no other user can connect to it.
fn private_dir() -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix("cm-plugin-").tempdir()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(dir)
}
