//! cm: a command-line secret resolver compatible with configmanager v3 and its go-plugin
//! provider plugins.
//!
//! Data flows one way: input -> [`scan`] -> [`plan`] -> fetch ([`resolve`] over built-in
//! providers and [`plugin`]s) -> [`lookup`] -> [`render`] / [`output`] -> [`atomic`] write.

pub mod atomic;
pub mod builtin;
pub mod cli;
pub mod config;
pub mod envsubst;
pub mod error;
pub mod grammar;
pub mod lookup;
pub mod output;
pub mod plan;
pub mod plugin;
pub mod provider;
pub mod render;
pub mod resolve;
mod run;
pub mod scan;
pub mod secret;

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
