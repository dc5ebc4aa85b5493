//! The `Provider` trait: fetch one stored item by path and metadata. Built-in providers
//! (`ENV://`, `FILE://`) and plugin clients implement it; the resolver knows nothing else, which
//! keeps dedup and concurrency testable with an in-process provider.

use std::future::Future;
use std::pin::Pin;

use crate::Secret;

/// A boxed future, so `Provider` can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why one fetch failed. The message is the provider's own (a plugin's error text); it never
/// contains the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProviderError(pub String);

impl ProviderError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        ProviderError(message.into())
    }
}

/// A source of values for one prefix.
pub trait Provider: Send + Sync {
    /// Fetches the item at `path`. `metadata` is the raw text between the token's brackets,
    /// empty when the token has none.
    fn fetch<'a>(
        &'a self,
        path: &'a str,
        metadata: &'a [u8],
    ) -> BoxFuture<'a, Result<Secret, ProviderError>>;
}
