#![doc = include_str!("../README.md")]
//!
//! # Crate layout
//!
//! The plugin author's API is at the root: [`TokenStore`], [`StoreError`], [`serve`] with
//! [`plugin_info!`] and [`PluginInfo`],
//! [`serve_with`] with [`ServeOptions`]. The modules hold the protocol pieces a host shares
//! with its plugins.
#![deny(missing_docs)]
#![warn(unreachable_pub)]

mod about;
pub mod handshake;
pub mod hclog;
mod lifetime;
mod listener;
pub mod protocol;
mod serve;
mod services;
mod store;
pub mod tls;
#[doc(hidden)]
pub mod wire;

pub use about::PluginInfo;
pub use serve::{ServeError, ServeOptions, TRANSPORT_ENV, Transport, serve, serve_with};
pub use store::{StoreError, TokenStore};
