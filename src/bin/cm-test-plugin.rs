//! A test plugin built with cm's SDK, for cm's own end-to-end tests. One binary plays every
//! part; which one is chosen by its file name, so a test installs it as
//! `.configmanager/plugins/<mode>/<mode>-<os>-<arch>` and uses the token prefix `<MODE>://`:
//!
//! - `echo…`: configmanager's `empty` plugin: `PATH->METADATA`; path `err` fails; `crash` aborts
//!   the process mid-call; `hang` never answers; `big/N` returns N bytes; `sleep/MS/…` waits.
//! - `json…`: a JSON document per path (key-path lookups).
//! - `slow…`: every call takes 200 ms (or `ms=N` in the metadata).
//! - `barrier…`: every call waits until `n=N` calls (from the metadata) have arrived, then all
//!   of them answer `PATH->`; the next N form the next group. A call that waits longer than
//!   `BARRIER_LIMIT` (or `limit_ms=MS` in the metadata) fails, naming how many arrived. So a
//!   run that succeeds proves that N calls were in flight at once, with no assumption about
//!   timing.
//! - `oldcookie…`: accepts only the later cookie value `configmanager-plugin-hello`.
//! - `noshutdown…`: keeps running after `GRPCController.Shutdown`.
//! - `notls…`: ignores `PLUGIN_CLIENT_CERT` (a plugin without AutoMTLS support).
//! - `nohandshake…`, `noise…`, `exit…`, `netrpc…`, `garbage…`, `badcookie…` (refuses every
//!   cookie, as a plugin built for another application does): start-up faults.
//! - `flood…`: writes 16 MiB to stderr before its handshake and 1 MiB during each call.
//!
//! With `CM_TEST_CALL_LOG=FILE` each process start and each `Value` call is logged to FILE (see
//! `log_start` and `log_call`).

use std::io::Write;
use std::time::Duration;

use cm_plugin_sdk::{ServeOptions, StoreError, TokenStore, hclog, plugin_info, serve, serve_with};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Echo,
    Json,
    Slow,
    Barrier,
}

struct Store {
    mode: Mode,
    flood: bool,
    barrier: Barrier,
}

/// How long a `barrier…` call waits for the rest of its group: far longer than any machine
/// needs to start N calls, and shorter than cm's default 60 s call timeout, so a missing call
/// shows as this plugin's own error.
const BARRIER_LIMIT: Duration = Duration::from_secs(20);

/// A reusable barrier: calls arrive, and every N-th arrival releases the group it completes.
struct Barrier {
    /// Arrivals in the current group, and the number of groups released so far.
    state: std::sync::Mutex<(usize, u64)>,
    released: tokio::sync::watch::Sender<u64>,
}

impl Barrier {
    fn new() -> Barrier {
        Barrier {
            state: std::sync::Mutex::new((0, 0)),
            released: tokio::sync::watch::channel(0).0,
        }
    }

    /// Waits until `n` calls (this one included) have arrived in this call's group, for at
    /// most `limit`.
    async fn wait(&self, n: usize, limit: Duration) -> Result<(), StoreError> {
        let (group, mut changes) = {
            let mut state = self.state.lock().expect("barrier state");
            state.0 += 1;
            if state.0 >= n {
                state.0 = 0;
                state.1 += 1;
                self.released.send_replace(state.1);
                return Ok(());
            }
            (state.1, self.released.subscribe())
        };
        match tokio::time::timeout(limit, changes.wait_for(|g| *g > group)).await {
            Ok(_) => Ok(()),
            Err(_) => {
                let arrived = self.state.lock().expect("barrier state").0;
                Err(StoreError::retrieve_failed(format!(
                    "barrier: only {arrived} of {n} calls arrived within {} ms",
                    limit.as_millis()
                )))
            }
        }
    }
}

/// Writes `bytes` of log noise to stderr, in lines, as a misbehaving plugin might.
fn flood_stderr(bytes: usize) {
    let line = format!("{}\n", "noise ".repeat(20));
    let mut err = std::io::stderr().lock();
    for _ in 0..bytes / line.len() {
        let _ = err.write_all(line.as_bytes());
    }
}

impl TokenStore for Store {
    async fn value(&self, token: &str, metadata: &[u8]) -> Result<String, StoreError> {
        // The path only: a plugin must never log a value.
        tracing::debug!(token, "value requested");
        log_call("call", token)?;
        if self.flood {
            flood_stderr(1 << 20);
        }
        let result = self.answer(token, metadata).await;
        log_call("done", token)?;
        result
    }
}

/// With `CM_TEST_CALL_LOG=FILE`, appends `call PATH` when a call starts and `done PATH` when it
/// ends, so tests can count calls and see how many overlapped.
fn log_call(event: &str, token: &str) -> Result<(), StoreError> {
    append_log(event, token).map_err(StoreError::retrieve_failed)
}

/// With `CM_TEST_CALL_LOG=FILE`, appends `start COOKIE` as the process starts (whatever its
/// mode), so tests can count how often cm started a plugin and with which cookie value.
fn log_start() {
    let cookie = std::env::var("CONFIGMANAGER_PLUGIN").unwrap_or_default();
    if let Err(e) = append_log("start", &cookie) {
        eprintln!("cannot write CM_TEST_CALL_LOG: {e}");
        std::process::exit(1);
    }
}

fn append_log(event: &str, detail: &str) -> std::io::Result<()> {
    if let Ok(log) = std::env::var("CM_TEST_CALL_LOG") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        // One write per line, so concurrent calls never interleave within a line.
        f.write_all(format!("{event} {detail}\n").as_bytes())?;
    }
    Ok(())
}

impl Store {
    async fn answer(&self, token: &str, metadata: &[u8]) -> Result<String, StoreError> {
        let meta = String::from_utf8_lossy(metadata);
        match self.mode {
            Mode::Barrier => {
                let setting = |key: &str| {
                    meta.split(',')
                        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                        .and_then(|v| v.parse::<u64>().ok())
                };
                let n = setting("n").ok_or_else(|| {
                    StoreError::retrieve_failed("barrier: no n=N in the metadata")
                })?;
                let limit = setting("limit_ms").map_or(BARRIER_LIMIT, Duration::from_millis);
                self.barrier.wait(n as usize, limit).await?;
                Ok(format!("{token}->"))
            }
            Mode::Slow => {
                let ms = meta
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("ms="))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(200);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(format!("{token}->{meta}"))
            }
            Mode::Json => Ok(serde_json::json!({
                "user": format!("user-{token}"),
                "password": "p@ss'\"$(x)`y`\\z",
                "port": 5432,
                "nested": { "host": "db.example", "list": ["a", "b"] },
                "path": token,
            })
            .to_string()),
            Mode::Echo => match token {
                "err" => Err(StoreError::implementation(
                    "ECHO",
                    "simulated failure",
                    token,
                )),
                "crash" => {
                    tracing::error!("crashing on purpose");
                    std::process::abort()
                }
                "hang" => std::future::pending().await,
                _ => {
                    if let Some(n) = token
                        .strip_prefix("big/")
                        .and_then(|n| n.parse::<usize>().ok())
                    {
                        return Ok("x".repeat(n));
                    }
                    if let Some(ms) = token
                        .strip_prefix("sleep/")
                        .and_then(|r| r.split('/').next())
                        .and_then(|m| m.parse().ok())
                    {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                    Ok(format!("{token}->{meta}"))
                }
            },
        }
    }
}

fn main() {
    log_start();
    let exe = std::env::args().next().unwrap_or_default();
    let name = std::path::Path::new(&exe)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("echo")
        .to_string();
    let mode = name.split('-').next().unwrap_or("echo").to_string();
    let forever = || loop {
        std::thread::sleep(Duration::from_secs(3600));
    };
    match mode.as_str() {
        "nohandshake" => forever(),
        "exit" => {
            eprintln!("fatal: cannot reach the secret store");
            std::process::exit(1);
        }
        "netrpc" => {
            println!("1|1|unix|/tmp/cm-test-none|netrpc|");
            forever()
        }
        "garbage" => {
            println!("hello, I am not a handshake");
            forever()
        }
        "noise" => {
            println!("starting up...");
        }
        "badcookie" => {
            eprintln!("This binary is a plugin. These are not meant to be executed directly.");
            std::process::exit(1);
        }
        "flood" => flood_stderr(16 << 20),
        "oldcookie"
            if std::env::var("CONFIGMANAGER_PLUGIN").as_deref()
                != Ok("configmanager-plugin-hello") =>
        {
            eprintln!("This binary is a plugin. These are not meant to be executed directly.");
            std::process::exit(1);
        }
        _ => {}
    }
    let store = Store {
        mode: if mode.starts_with("json") {
            Mode::Json
        } else if mode.starts_with("slow") {
            Mode::Slow
        } else if mode.starts_with("barrier") {
            Mode::Barrier
        } else {
            Mode::Echo
        },
        flood: mode.starts_with("flood"),
        barrier: Barrier::new(),
    };
    if !mode.starts_with("notls") && !mode.starts_with("noshutdown") {
        serve(plugin_info!("cm-test-plugin"), store)
    }
    // The two modes that misbehave on purpose go through `serve_with`, as a plugin author who
    // needs their own runtime would: the same options, the same tie to the host.
    hclog::init();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut options = ServeOptions::from_env();
    if mode.starts_with("notls") {
        options = options.without_client_cert();
    }
    let result = rt.block_on(serve_with(store, options, std::io::stdout()));
    if let Err(e) = result {
        eprintln!("{e}");
        std::process::exit(1);
    }
    if mode.starts_with("noshutdown") {
        tracing::info!("ignoring shutdown");
        forever();
    }
    rt.shutdown_timeout(Duration::from_millis(100));
}
