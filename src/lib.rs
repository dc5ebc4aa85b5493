//! cm: a command-line secret resolver compatible with configmanager v3 and its go-plugin
//! provider plugins.
//!
//! Data flows one way: input -> `scan` -> `plan` -> fetch (`resolve` over built-in providers
//! and `plugin`s) -> `lookup` -> `render` / `output` -> `atomic` write. The API is small:
//! [`run`] a parsed [`cli::Cli`], get a [`Error`] with its exit code. Every other module is
//! internal (the README's module map says what each owns); plugins are written with the
//! separate `cm-plugin-sdk` crate.

mod atomic;
mod builtin;
pub mod cli;
mod config;
mod envsubst;
pub mod error;
mod exec;
mod gha;
mod grammar;
mod input;
mod json;
mod logging;
mod lookup;
mod output;
mod plan;
mod plugin;
mod position;
mod provider;
mod render;
mod report;
mod resolve;
mod run;
mod scan;
mod secret;
mod signals;
#[cfg(feature = "wasi")]
mod wasm;
mod yaml;

pub use error::Error;
pub use run::run;
pub use secret::Secret;

/// `cm --version`: the package version and the git revision it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("CM_GIT_REVISION"),
    ")"
);

/// Internals that cm's own fuzz targets (`fuzz/`) and benchmarks (`benches/`) drive directly.
/// Not API: it may change in any release.
#[doc(hidden)]
pub mod internals {
    pub use crate::envsubst::expand;
    pub use crate::grammar::Grammar;
    pub use crate::lookup::lookup;
    pub use crate::plan::{FetchKey, Plan};
    pub use crate::provider::{BoxFuture, Provider};
    pub use crate::render::render;
    pub use crate::resolve::{Providers, fetch_all};
    pub use crate::scan::{Scan, Token, scan};

    /// The plugin host, for the end-to-end tests and benchmarks that drive it without `cm`.
    pub mod plugin {
        pub use crate::plugin::client::{CallLimits, PluginClient, connect};
        pub use crate::plugin::discover::file_name;
        pub use crate::plugin::host::{HostOptions, PluginHost};
    }
}
