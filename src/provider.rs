//! The `Provider` trait (fetch one stored item by path and metadata), why a fetch fails
//! ([`ProviderError`], worded in `error.rs`), and the [`Registry`] that says which provider
//! serves each prefix.
//!
//! Built-in providers (`ENV://`, `FILE://`) and plugin clients implement the trait; the
//! resolver knows nothing else, which keeps dedup and concurrency testable with an in-process
//! provider. The registry is built once per run, from plugin discovery and the built-ins; it
//! starts nothing.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::Secret;

/// A boxed future, so `Provider` can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why one fetch failed. Never holds a value; `error.rs` words each kind.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderError {
    /// The plugin gave no answer within the call timeout.
    Timeout {
        /// The plugin's prefix.
        plugin: String,
        /// The timeout (`--timeout`).
        after: Duration,
    },
    /// The connection to the plugin was lost: it crashed or exited.
    Crashed {
        /// The plugin's prefix.
        plugin: String,
        /// What the transport said (may be empty).
        detail: String,
    },
    /// The plugin refused the call.
    Refused {
        /// The plugin's prefix.
        plugin: String,
        /// How.
        why: Refusal,
    },
    /// The store's own error, as the plugin wrote it (configmanager's words, usually).
    Store(String),
    /// `ENV://NAME` with `NAME` unset.
    EnvUnset(String),
    /// `FILE://path` that cannot be read.
    FileUnreadable {
        /// The full path tried.
        path: PathBuf,
        /// Why, as the operating system says it.
        reason: String,
    },
    /// No provider serves the prefix.
    NoProvider(String),
    /// The path is not UTF-8, which the plugin protocol cannot carry.
    PathNotUtf8,
    /// A WASI plugin failed (`src/wasm/`).
    #[cfg(feature = "wasi")]
    Wasm {
        /// The plugin's prefix.
        plugin: String,
        /// Why.
        why: crate::wasm::WasmFailure,
    },
}

/// How a plugin refused a call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The value exceeds the message limit.
    TooLarge {
        /// The limit, in bytes.
        limit_bytes: usize,
    },
    /// The plugin does not serve `/proto.TokenStore/Value`.
    Unimplemented(String),
    /// Any other gRPC status.
    Failed {
        /// The gRPC code's name (`Aborted`).
        code: String,
        /// The status message.
        message: String,
    },
    /// `cm` is shutting the plugin down.
    ShuttingDown,
}

/// A source of values for one prefix.
pub trait Provider: Send + Sync {
    /// Fetches the item at `path`. `metadata` is the raw text between the token's brackets,
    /// empty when the token has none.
    fn fetch<'a>(
        &'a self,
        path: &'a str,
        metadata: &'a [u8],
    ) -> BoxFuture<'a, Result<Secret, ProviderError>>;
}

/// What serves one prefix.
#[derive(Clone)]
pub(crate) enum Source {
    /// A plugin binary on disk, started only if a token needs it.
    Plugin(PathBuf),
    /// An in-process provider.
    Builtin(Arc<dyn Provider>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Plugin(path) => f.debug_tuple("Plugin").field(path).finish(),
            Source::Builtin(_) => f.write_str("Builtin"),
        }
    }
}

/// Every prefix this run can serve and what serves it. A plugin on disk wins over a built-in
/// of the same name, so a user can replace `ENV://` or `FILE://` with their own plugin.
#[derive(Debug, Default, Clone)]
pub(crate) struct Registry {
    sources: BTreeMap<String, Source>,
}

impl Registry {
    /// The registry for `plugins` (upper-cased prefix and binary, as discovery lists them) and
    /// `builtins`.
    pub(crate) fn new(
        plugins: impl IntoIterator<Item = (String, PathBuf)>,
        builtins: impl IntoIterator<Item = (String, Arc<dyn Provider>)>,
    ) -> Registry {
        let mut sources: BTreeMap<String, Source> = plugins
            .into_iter()
            .map(|(prefix, path)| (prefix, Source::Plugin(path)))
            .collect();
        for (prefix, provider) in builtins {
            sources.entry(prefix).or_insert(Source::Builtin(provider));
        }
        Registry { sources }
    }

    /// What serves `prefix`, if anything.
    pub(crate) fn get(&self, prefix: &str) -> Option<&Source> {
        self.sources.get(prefix)
    }

    /// Every prefix served, sorted.
    pub(crate) fn prefixes(&self) -> impl Iterator<Item = &str> {
        self.sources.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;

    impl Provider for Fixed {
        fn fetch<'a>(
            &'a self,
            _path: &'a str,
            _metadata: &'a [u8],
        ) -> BoxFuture<'a, Result<Secret, ProviderError>> {
            Box::pin(async { Ok(Secret::new("v")) })
        }
    }

    #[test]
    fn a_plugin_on_disk_wins_over_a_builtin_of_the_same_name() {
        let builtin = || -> Arc<dyn Provider> { Arc::new(Fixed) };
        let registry = Registry::new(
            [
                ("ENV".to_string(), PathBuf::from("/p/env")),
                ("ECHO".to_string(), PathBuf::from("/p/echo")),
            ],
            [
                ("ENV".to_string(), builtin()),
                ("FILE".to_string(), builtin()),
            ],
        );
        assert_eq!(
            registry.prefixes().collect::<Vec<_>>(),
            ["ECHO", "ENV", "FILE"]
        );
        assert!(
            matches!(registry.get("ENV"), Some(Source::Plugin(p)) if p == &PathBuf::from("/p/env"))
        );
        assert!(matches!(registry.get("FILE"), Some(Source::Builtin(_))));
        assert!(registry.get("VAULT").is_none());
    }
}
