//! cm: a command-line secret resolver compatible with configmanager v3 and its go-plugin
//! provider plugins.
//!
//! Data flows one way: input -> [`scan`] -> [`plan`] -> fetch (providers and plugins) ->
//! [`lookup`] -> [`render`] / [`output`] -> atomic write.

pub mod atomic;
pub mod envsubst;
pub mod output;
pub mod secret;

pub use secret::Secret;
