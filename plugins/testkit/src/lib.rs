//! The test bench of cm's provider plugins: runs the real `cm` with a plugin installed the way a
//! user installs it, checks that the emulators are there, and counts the API calls a plugin
//! makes through a small proxy.
//!
//! - [`cm_binary`]: the `cm` executable. `CM_BIN` if set, else `cargo build -p cm --bin cm` (a
//!   no-op when it is fresh), whose own report names the file, so no target-folder layout is
//!   assumed.
//! - [`Project`]: a temp folder that is cm's current directory and HOME, with a plugin copied to
//!   `.configmanager/plugins/<prefix>/<prefix>-<os>-<arch>`.
//! - [`emulator`]: an emulator's address from the environment if it answers; else the test is
//!   skipped with a note, or fails when `CI=true`.
//! - [`CountingProxy`]: forwards HTTP to an emulator and counts requests per AWS operation.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The `cm` executable to test against (see the crate docs).
pub fn cm_binary() -> &'static Path {
    static CM: OnceLock<PathBuf> = OnceLock::new();
    CM.get_or_init(|| build_cm(false))
}

/// An optimised `cm` for benchmarks: `CM_BIN` if set, else `cargo build --release`.
pub fn cm_release_binary() -> &'static Path {
    static CM: OnceLock<PathBuf> = OnceLock::new();
    CM.get_or_init(|| build_cm(true))
}

fn build_cm(release: bool) -> PathBuf {
    if let Some(bin) = std::env::var_os("CM_BIN").filter(|b| !b.is_empty()) {
        return PathBuf::from(bin);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut command = Command::new(cargo);
    command.current_dir(&root).args([
        "build",
        "-p",
        "cm",
        "--bin",
        "cm",
        "--message-format=json-render-diagnostics",
    ]);
    if release {
        command.arg("--release");
    }
    let out = command
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo to build cm (or set CM_BIN)");
    assert!(out.status.success(), "cargo build -p cm --bin cm failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "cm")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported no cm executable")
}

/// `<prefix>-<os>-<arch>` in Go's names, as cm and configmanager look for plugins.
pub fn plugin_file_name(prefix: &str) -> String {
    cm::plugin::discover::file_name(&prefix.to_ascii_lowercase())
}

/// A folder that is cm's current directory and HOME for one test.
pub struct Project {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    removed: Vec<String>,
}

/// What one `cm` run did.
#[derive(Debug)]
pub struct Output {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Standard output, after checking that the run succeeded.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "cm failed:\n{}", self.stderr);
        &self.stdout
    }

    /// Standard error, after checking that the run failed.
    #[track_caller]
    pub fn failed(&self) -> &str {
        assert_ne!(self.code, Some(0), "cm succeeded:\n{}", self.stdout);
        &self.stderr
    }
}

impl Project {
    /// An empty project with `binary` installed as the plugin for `prefix`.
    pub fn with_plugin(prefix: &str, binary: &Path) -> Project {
        let dir = tempfile::tempdir().expect("temp folder");
        let dest = dir
            .path()
            .join(".configmanager/plugins")
            .join(prefix.to_ascii_lowercase())
            .join(plugin_file_name(prefix));
        std::fs::create_dir_all(dest.parent().expect("has a parent")).expect("plugin folder");
        // Debug builds of the SDK plugins are hundreds of MB: link where the file system lets us.
        if std::fs::hard_link(binary, &dest).is_err() {
            std::fs::copy(binary, &dest).expect("copy the plugin");
        }
        Project {
            dir,
            env: Vec::new(),
            removed: Vec::new(),
        }
    }

    /// Sets a variable for cm and so for its plugins.
    pub fn env(mut self, key: &str, value: &str) -> Project {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Removes a variable from cm's environment.
    pub fn without(mut self, key: &str) -> Project {
        self.removed.push(key.to_string());
        self
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `cm ARGS` with `stdin`.
    pub fn cm(&self, args: &[&str], stdin: &str) -> Output {
        self.run(cm_binary(), args, stdin)
    }

    /// Runs the `cm` at `cm` with `ARGS` and `stdin`.
    pub fn run(&self, cm: &Path, args: &[&str], stdin: &str) -> Output {
        let mut command = Command::new(cm);
        command
            .args(args)
            .current_dir(self.path())
            .env("HOME", self.path())
            .env("NO_COLOR", "1")
            .env_remove("CONFIGMANAGER_DIR")
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for k in &self.removed {
            command.env_remove(k);
        }
        for (k, v) in &self.env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start cm");
        let mut input = child.stdin.take().expect("stdin");
        let stdin = stdin.as_bytes().to_vec();
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&stdin);
        });
        let out = child.wait_with_output().expect("wait for cm");
        let _ = writer.join();
        Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A name no other test (or earlier run against the same emulator) uses: `tag` plus the
/// process id, the time and a counter.
pub fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{tag}{}x{nanos:x}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The value of `var` if the emulator it points at answers on TCP. `address` turns the value
/// into `host:port`. When it is unset or silent the test is skipped with a note on stderr, or
/// fails when `CI=true`, where `.ci/run` must have started it (`source .ci/emulators.sh`).
#[track_caller]
pub fn emulator(var: &str, address: impl Fn(&str) -> Option<String>) -> Option<String> {
    let value = std::env::var(var).ok().filter(|v| !v.is_empty());
    let problem = match &value {
        None => format!("{var} is not set"),
        Some(v) => match address(v) {
            None => format!("no address in {var}"),
            Some(addr) if answers(&addr) => return value,
            Some(addr) => format!("nothing answers at {addr} ({var})"),
        },
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("emulator needed under CI: {problem}; .ci/run sources .ci/emulators.sh");
    }
    eprintln!("SKIPPED: {problem}; start the emulators with `source .ci/emulators.sh`");
    None
}

/// `host:port` of an `http://host:port/...` address.
pub fn url_address(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next()?;
    (!authority.is_empty()).then(|| authority.to_string())
}

fn answers(address: &str) -> bool {
    let addrs: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map(Iterator::collect)
        .unwrap_or_default();
    addrs
        .iter()
        .any(|a| TcpStream::connect_timeout(a, Duration::from_secs(2)).is_ok())
}

/// moto's address from `AWS_ENDPOINT_URL`, or `None` (test skipped) when it is not running.
#[track_caller]
pub fn moto() -> Option<String> {
    emulator("AWS_ENDPOINT_URL", url_address)
}

/// A project with an AWS plugin installed, talking to `endpoint`. The instance metadata service
/// is off, so nothing ever leaves loopback, and a long collection window keeps batches whole on
/// a busy machine.
pub fn aws_project(prefix: &str, plugin: &str, endpoint: &str) -> Project {
    Project::with_plugin(prefix, Path::new(plugin))
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("CM_AWS_BATCH_WINDOW_MS", "200")
}

/// Resolves `template` twice through `proxy`: batched, where the API calls must be exactly
/// `batched`, and with `CM_AWS_BATCH=0`, where they must be exactly `single`; both runs must
/// print `expected`. `project` makes the project for an endpoint.
#[track_caller]
pub fn assert_calls(
    proxy: &CountingProxy,
    project: impl Fn(&str) -> Project,
    (template, expected): (&str, &str),
    batched: &[(&str, usize)],
    single: &[(&str, usize)],
) {
    let as_map = |calls: &[(&str, usize)]| -> BTreeMap<String, usize> {
        calls.iter().map(|(op, n)| (op.to_string(), *n)).collect()
    };
    for (setting, want) in [("1", batched), ("0", single)] {
        proxy.reset();
        let out = project(proxy.url())
            .env("CM_AWS_BATCH", setting)
            .cm(&["insert"], template);
        assert_eq!(out.ok(), expected, "CM_AWS_BATCH={setting}");
        assert_eq!(proxy.counts(), as_map(want), "CM_AWS_BATCH={setting}");
    }
}

/// A plain-HTTP proxy on loopback in front of an emulator that counts requests per operation
/// (an AWS JSON call's `X-Amz-Target` action, else `METHOD /path`). Stops when dropped.
pub struct CountingProxy {
    url: String,
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CountingProxy {
    /// Starts forwarding to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> CountingProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let upstream = upstream.trim_end_matches('/').to_string();
        let tally = Arc::clone(&counts);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(proxy::serve(listener, upstream, tally, stopped));
        });
        CountingProxy {
            url,
            counts,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The proxy's address, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Requests so far, per operation.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.counts.lock().expect("counts").clone()
    }

    /// Requests so far for `operation`.
    pub fn count(&self, operation: &str) -> usize {
        self.counts().get(operation).copied().unwrap_or(0)
    }

    /// All requests so far.
    pub fn total(&self) -> usize {
        self.counts().values().sum()
    }

    /// Forgets the counts.
    pub fn reset(&self) {
        self.counts.lock().expect("counts").clear();
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

mod proxy {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use http_body_util::combinators::BoxBody;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper::{Request, Response};
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    type Body = BoxBody<Bytes, hyper::Error>;

    pub(super) async fn serve(
        listener: std::net::TcpListener,
        upstream: String,
        counts: Arc<Mutex<BTreeMap<String, usize>>>,
        mut stopped: tokio::sync::oneshot::Receiver<()>,
    ) {
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let client: Client<HttpConnector, Incoming> =
            Client::builder(TokioExecutor::new()).build_http();
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
                _ = &mut stopped => return,
            };
            let client = client.clone();
            let upstream = upstream.clone();
            let counts = Arc::clone(&counts);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let client = client.clone();
                    let upstream = upstream.clone();
                    let counts = Arc::clone(&counts);
                    async move {
                        *counts
                            .lock()
                            .expect("counts")
                            .entry(operation(&req))
                            .or_default() += 1;
                        Ok::<_, std::convert::Infallible>(forward(&client, &upstream, req).await)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    fn operation(req: &Request<Incoming>) -> String {
        req.headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.rsplit('.').next())
            .map_or_else(
                || format!("{} {}", req.method(), req.uri().path()),
                str::to_string,
            )
    }

    async fn forward(
        client: &Client<HttpConnector, Incoming>,
        upstream: &str,
        req: Request<Incoming>,
    ) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = match format!("{upstream}{path}").parse() {
            Ok(uri) => uri,
            Err(e) => return bad_gateway(e.to_string()),
        };
        match client.request(Request::from_parts(parts, body)).await {
            Ok(resp) => resp.map(BodyExt::boxed),
            Err(e) => bad_gateway(e.to_string()),
        }
    }

    fn bad_gateway(reason: String) -> Response<Body> {
        let mut resp = Response::new(
            Full::new(Bytes::from(reason))
                .map_err(|never| match never {})
                .boxed(),
        );
        *resp.status_mut() = hyper::StatusCode::BAD_GATEWAY;
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_addresses() {
        assert_eq!(
            url_address("http://127.0.0.1:5000").as_deref(),
            Some("127.0.0.1:5000")
        );
        assert_eq!(
            url_address("http://127.0.0.1:10002/devstoreaccount1").as_deref(),
            Some("127.0.0.1:10002")
        );
        assert_eq!(url_address("http://"), None);
    }
}
