//! The plugin host: finding plugin binaries, the child process, the gRPC client, integrity
//! checks and installation. The protocol pieces it shares with plugins (cookies, handshake,
//! AutoMTLS, hclog, generated gRPC code) come from `cm_plugin_sdk`; tonic and prost types stay
//! inside this module.

pub mod client;
pub mod discover;
pub mod host;
pub mod lock;
pub mod manage;
pub mod process;
#[cfg(test)]
mod sdk_tests;
pub mod tls;
pub mod verified;

pub use host::{HostOptions, PluginHost, StartError};
pub use tls::MtlsPolicy;
