//! Logging set-up: one `tracing` subscriber writing to stderr, its filter and colour decided
//! from `Config` (which read `-v`, `CONFIGMANAGER_LOG`/`RUST_LOG` and `NO_COLOR` once). Values
//! never reach a log: they live in `Secret`, whose `Debug` is redacted.

use tracing_subscriber::EnvFilter;

use crate::config::LogConfig;

/// The default filter for a `-v` count: warnings, then info, debug (with the HTTP/2 stack one
/// level quieter, as its debug output drowns cm's own) and trace.
fn default_filter(verbosity: u8) -> &'static str {
    match verbosity {
        0 => "warn",
        1 => "info,h2=warn,tower=warn,hyper=warn",
        2 => "debug,h2=info,tower=info,hyper=info,hyper_util=info",
        _ => "trace",
    }
}

/// Installs the subscriber; a second call (tests) keeps the first.
pub(crate) fn init(log: &LogConfig) {
    let filter = log
        .filter
        .as_deref()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default_filter(log.verbosity)));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(log.color)
        .with_target(log.verbosity >= 2)
        .without_time()
        .try_init();
}
