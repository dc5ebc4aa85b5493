//! Generated gRPC code for the four services cm speaks with plugins, and nothing else.
//!
//! `proto` is configmanager's `TokenStore` (method `/proto.TokenStore/Value`); `plugin` holds
//! go-plugin's own services (controller, stdio, broker), written from the protocol's field tables.
//! Nothing outside `plugin/` names these types.

#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("proto");
}

#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod go_plugin {
    tonic::include_proto!("plugin");
}

/// The largest value a plugin may return. Go hosts allow 2^31-1; we bound it so a runaway plugin
/// cannot make cm allocate without limit.
pub const MAX_VALUE_BYTES: usize = 64 * 1024 * 1024;

/// The gRPC message limit: the largest value plus room for the protobuf framing around it.
pub const MAX_MESSAGE_BYTES: usize = MAX_VALUE_BYTES + 64 * 1024;
