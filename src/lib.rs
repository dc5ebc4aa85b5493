//! cm: a command-line secret resolver compatible with configmanager v3 and its go-plugin
//! provider plugins.
//!
//! Data flows one way: input -> [`scan`] -> [`plan`] -> fetch (providers and plugins) ->
//! [`lookup`] -> [`render`] / [`output`] -> atomic write.

pub mod grammar;
pub mod lookup;
pub mod plan;
pub mod render;
pub mod scan;
pub mod secret;

pub use secret::Secret;
