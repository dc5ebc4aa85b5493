//! Run a fetch plan: every planned item fetched once, concurrently, from the provider of its
//! prefix; then each token's value looked up (key path) in its item. Knows providers only through
//! the `Provider` trait; limits on concurrent calls live in the providers themselves.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::join_all;

use crate::Secret;
use crate::lookup::lookup;
use crate::plan::FetchKey;
use crate::provider::{Provider, ProviderError};

/// The provider serving each prefix.
#[derive(Default, Clone)]
pub struct Providers {
    map: BTreeMap<String, Arc<dyn Provider>>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.map.keys()).finish()
    }
}

impl Providers {
    /// Serves `prefix` with `provider`, replacing any earlier one.
    pub fn insert(&mut self, prefix: impl Into<String>, provider: Arc<dyn Provider>) {
        self.map.insert(prefix.into(), provider);
    }

    /// The provider for `prefix`.
    pub fn get(&self, prefix: &str) -> Option<&Arc<dyn Provider>> {
        self.map.get(prefix)
    }
}

/// Fetches every item of the plan, all at once; results are in plan order.
pub async fn fetch_all(
    fetches: &[FetchKey],
    providers: &Providers,
) -> Vec<Result<Secret, ProviderError>> {
    join_all(fetches.iter().map(|f| async move {
        let provider = providers
            .get(&f.prefix)
            .ok_or_else(|| ProviderError::new(format!("no provider for prefix {}", f.prefix)))?;
        let path = std::str::from_utf8(&f.path).map_err(|_| ProviderError::new("the path is not valid UTF-8"))?;
        let t = std::time::Instant::now();
        let r = provider.fetch(path, f.metadata.as_deref().unwrap_or_default()).await;
        // Path and size only: the value never reaches a log.
        tracing::debug!(prefix = %f.prefix, path, ok = r.is_ok(), bytes = r.as_ref().map_or(0, Secret::len), elapsed_us = t.elapsed().as_micros() as u64, "fetched");
        r
    }))
    .await
}

/// The value for one token: its item's value, or the part its key path selects.
pub fn token_value<'v>(
    item: &'v Result<Secret, ProviderError>,
    key_path: Option<&[u8]>,
) -> Result<Cow<'v, [u8]>, String> {
    let value = item.as_ref().map_err(ToString::to_string)?;
    match key_path {
        None => Ok(Cow::Borrowed(value.expose())),
        Some(k) => lookup(value.expose(), k).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::BoxFuture;
    use std::sync::Mutex;

    /// An in-process provider that records every call.
    struct Counting {
        calls: Mutex<Vec<(String, Vec<u8>)>>,
    }

    impl Provider for Counting {
        fn fetch<'a>(
            &'a self,
            path: &'a str,
            metadata: &'a [u8],
        ) -> BoxFuture<'a, Result<Secret, ProviderError>> {
            self.calls
                .lock()
                .unwrap()
                .push((path.to_string(), metadata.to_vec()));
            Box::pin(async move {
                if path == "bad" {
                    return Err(ProviderError::new("no such item"));
                }
                Ok(Secret::new(format!(
                    r#"{{"user":"u","port":5432,"path":"{path}"}}"#
                )))
            })
        }
    }

    fn key(prefix: &str, path: &str, metadata: Option<&str>) -> FetchKey {
        FetchKey {
            prefix: prefix.into(),
            path: path.into(),
            metadata: metadata.map(|m| m.as_bytes().to_vec()),
        }
    }

    #[tokio::test]
    async fn each_item_is_fetched_once_and_keys_are_looked_up() {
        let counting = Arc::new(Counting {
            calls: Mutex::new(vec![]),
        });
        let mut providers = Providers::default();
        providers.insert("X", counting.clone());
        let fetches = vec![
            key("X", "/a", None),
            key("X", "/a", Some("v=2")),
            key("X", "bad", None),
            key("Y", "/a", None),
        ];
        let results = fetch_all(&fetches, &providers).await;
        assert_eq!(counting.calls.lock().unwrap().len(), 3);
        assert_eq!(
            token_value(&results[0], Some(b"user")).unwrap().as_ref(),
            b"u"
        );
        assert_eq!(
            token_value(&results[0], Some(b"port")).unwrap().as_ref(),
            b"5432"
        );
        assert_eq!(
            token_value(&results[1], None).unwrap().as_ref(),
            br#"{"user":"u","port":5432,"path":"/a"}"#
        );
        assert!(
            token_value(&results[1], Some(b"nope"))
                .unwrap_err()
                .contains("not found")
        );
        assert_eq!(
            token_value(&results[2], Some(b"user")).unwrap_err(),
            "no such item"
        );
        assert_eq!(
            token_value(&results[3], None).unwrap_err(),
            "no provider for prefix Y"
        );
        assert!(
            counting
                .calls
                .lock()
                .unwrap()
                .contains(&("/a".to_string(), b"v=2".to_vec()))
        );
    }
}
