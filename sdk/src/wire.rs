//! The gRPC code generated from the repository's `proto/` folder (by this crate's `build.rs`),
//! and nothing else: the types a host needs to call a plugin and a plugin needs to serve one.
//!
//! `proto` is configmanager's `TokenStore` (method `/proto.TokenStore/Value`); `go_plugin` holds
//! go-plugin's own services (controller, stdio, broker), written from the protocol's field tables.
//! Their shape follows tonic's and prost's versions, so plugin authors never see them: they
//! implement [`TokenStore`](crate::TokenStore) instead.

/// configmanager's `TokenStore` service (package `proto`).
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("proto");
}

/// go-plugin's controller, stdio and broker services (package `plugin`).
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod go_plugin {
    tonic::include_proto!("plugin");
}
