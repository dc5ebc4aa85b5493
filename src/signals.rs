//! SIGINT and SIGTERM, caught from the start of a run so that a signal during plugin start-up
//! still leads to an orderly shutdown: the resolver races its work against [`Signals::wait`]
//! and, when a signal wins, stops the plugins and fails with `Error::Interrupted`.

use tokio::sync::watch;

/// The signals of one run.
#[derive(Debug)]
pub(crate) struct Signals {
    rx: watch::Receiver<Option<i32>>,
}

impl Signals {
    /// Starts listening (needs a running tokio runtime).
    pub(crate) fn install() -> Signals {
        let (tx, rx) = watch::channel(None);
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            if let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                tokio::spawn(async move {
                    let n = tokio::select! {
                        _ = int.recv() => libc::SIGINT,
                        _ = term.recv() => libc::SIGTERM,
                    };
                    tracing::warn!("interrupted, stopping plugins");
                    let _ = tx.send(Some(n));
                });
            }
        }
        #[cfg(not(unix))]
        drop(tx);
        Signals { rx }
    }

    /// Signals that never arrive, for tests that drive the resolver in-process.
    #[cfg(test)]
    pub(crate) fn never() -> Signals {
        let (tx, rx) = watch::channel(None);
        drop(tx);
        Signals { rx }
    }

    /// Resolves with the signal number once one arrives; never, if none can.
    pub(crate) async fn wait(&self) -> i32 {
        let mut rx = self.rx.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(v) => v.unwrap_or(2),
            Err(_) => std::future::pending().await,
        }
    }
}
