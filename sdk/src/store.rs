//! What a plugin author implements ([`TokenStore`]) and returns on failure ([`StoreError`]).
//! No gRPC here: the adapter in `services` turns these into the wire's types.

use std::future::Future;

/// A plugin's store: look up one item.
pub trait TokenStore: Send + Sync + 'static {
    /// Returns the value stored at `token` (the token's path). `metadata` is the raw text
    /// between the token's brackets (`version=2,label=dev`), empty when there is none.
    fn value(
        &self,
        token: &str,
        metadata: &[u8],
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
}

/// An error from a store, sent to the host as the gRPC status message (code `Unknown`, as a Go
/// plugin's plain `error` arrives). The constructors give configmanager's documented wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub(crate) String);

impl StoreError {
    /// Any message.
    pub fn new(message: impl Into<String>) -> Self {
        StoreError(message.into())
    }

    /// `failed to retrieve config item: <reason>`.
    pub fn retrieve_failed(reason: impl std::fmt::Display) -> Self {
        StoreError(format!("failed to retrieve config item: {reason}"))
    }

    /// `failed to initialize the client: <reason>`.
    pub fn client_initialization(reason: impl std::fmt::Display) -> Self {
        StoreError(format!("failed to initialize the client: {reason}"))
    }

    /// `value retrieved but empty for token: <token>`.
    pub fn empty_response(token: &str) -> Self {
        StoreError(format!("value retrieved but empty for token: {token}"))
    }

    /// `failed to complete the service call: <reason>`.
    pub fn service_call_failed(reason: impl std::fmt::Display) -> Self {
        StoreError(format!("failed to complete the service call: {reason}"))
    }

    /// configmanager's `implementation %s error: %v for token: %s`.
    pub fn implementation(
        implementation: &str,
        error: impl std::fmt::Display,
        token: &str,
    ) -> Self {
        StoreError(format!(
            "implementation {implementation} error: {error} for token: {token}"
        ))
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_use_configmanager_wording() {
        assert_eq!(
            StoreError::empty_response("/a").message(),
            "value retrieved but empty for token: /a"
        );
        assert_eq!(
            StoreError::implementation("AWSPARAMSTR", "boom", "/a").message(),
            "implementation AWSPARAMSTR error: boom for token: /a"
        );
        assert_eq!(
            StoreError::retrieve_failed("x").message(),
            "failed to retrieve config item: x"
        );
        assert_eq!(
            StoreError::client_initialization("x").message(),
            "failed to initialize the client: x"
        );
        assert_eq!(
            StoreError::service_call_failed("x").to_string(),
            "failed to complete the service call: x"
        );
        assert_eq!(StoreError::new("any").to_string(), "any");
    }
}
