//! Everything that speaks go-plugin: finding plugin binaries, the handshake, the child process,
//! the gRPC client (host side) and the SDK for writing plugins (plugin side). tonic and prost
//! types stay inside this module.

pub mod client;
pub mod discover;
pub mod handshake;
pub mod host;
pub mod lock;
pub mod manage;
pub mod process;
pub mod serve;
pub mod tls;
pub mod verified;
pub mod wire;

pub use host::{HostOptions, PluginHost, StartError};
pub use serve::{StoreError, TokenStore, serve};
pub use tls::MtlsPolicy;
