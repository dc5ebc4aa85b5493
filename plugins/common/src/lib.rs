//! The parts cm's first-party provider plugins share, so each plugin's `main.rs` holds only what
//! is particular to its store.
//!
//! - [`metadata`]: the `key=value,...` text between a token's brackets.
//! - [`batch`]: coalesces concurrent lookups into batch calls and fans the answers out.
//! - [`FetchError`]: a lookup's failure, turned into configmanager's wording per token.
//! - `aws` (feature `aws`): the AWS SDK set-up both AWS plugins use (credential chain, region,
//!   `AWS_ENDPOINT_URL`, adaptive retries, rustls) and the SDK error mapping.
//! - `azure` (feature `azure`): what the Azure plugins share (the Entra ID credential chain,
//!   the rustls HTTP client and azure_core options, connection-string and REST helpers).
//!
//! Nothing here talks gRPC: the plugins hand their store to [`cm_plugin_sdk::serve`].
#![deny(missing_docs)]

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "azure")]
pub mod azure;
pub mod batch;
pub mod metadata;

use cm_plugin_sdk::StoreError;

/// Why one lookup failed, before it is worded for its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The store answered and refused (not found, access denied, bad name): configmanager's
    /// `failed to retrieve config item: <reason>`.
    Retrieve(String),
    /// The call never got a store's answer (transport, credentials, timeout): configmanager's
    /// `implementation <PREFIX> error: <reason> for token: <token>`.
    Implementation(String),
}

impl FetchError {
    /// The message sent to the host for `token` of the plugin `implementation` (its prefix).
    pub fn into_store_error(self, implementation: &str, token: &str) -> StoreError {
        match self {
            FetchError::Retrieve(reason) => StoreError::retrieve_failed(reason),
            FetchError::Implementation(reason) => {
                StoreError::implementation(implementation, reason, token)
            }
        }
    }
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Retrieve(r) | FetchError::Implementation(r) => f.write_str(r),
        }
    }
}

/// An error with its causes, `a: b: c`, as reqwest keeps the useful part in the sources (the
/// Azure plugins' and the VAULT plugin's transport errors).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A value that came back empty is an error in configmanager (`value retrieved but empty for
/// token`); every plugin checks it the same way.
pub fn non_empty(value: String, token: &str) -> Result<String, StoreError> {
    if value.is_empty() {
        Err(StoreError::empty_response(token))
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_errors_use_configmanager_wording() {
        assert_eq!(
            FetchError::Retrieve("ParameterNotFound: no /a".into())
                .into_store_error("AWSPARAMSTR", "/a")
                .message(),
            "failed to retrieve config item: ParameterNotFound: no /a"
        );
        assert_eq!(
            FetchError::Implementation("connection refused".into())
                .into_store_error("AWSSECRETS", "/b")
                .message(),
            "implementation AWSSECRETS error: connection refused for token: /b"
        );
    }

    #[test]
    fn empty_values_are_errors() {
        assert_eq!(non_empty("x".into(), "/a").unwrap(), "x");
        assert_eq!(
            non_empty(String::new(), "/a").unwrap_err().message(),
            "value retrieved but empty for token: /a"
        );
    }
}
