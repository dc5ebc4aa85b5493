//! The plugin host: finding plugin binaries, the child process, the gRPC client, integrity
//! checks and installation. The protocol pieces it shares with plugins (cookies, handshake,
//! AutoMTLS, hclog, generated gRPC code) come from `cm_plugin_sdk`; tonic and prost types stay
//! inside this module.

pub(crate) mod client;
pub(crate) mod discover;
pub(crate) mod host;
pub(crate) mod lock;
pub(crate) mod manage;
pub(crate) mod modules;
pub(crate) mod process;
#[cfg(test)]
mod sdk_tests;
pub(crate) mod tls;
pub(crate) mod verified;

pub(crate) use host::{HostOptions, PluginHost};
pub(crate) use tls::MtlsPolicy;
