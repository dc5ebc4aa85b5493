//! Coalescing: lookups that arrive together become one batch call.
//!
//! cm (and configmanager) call a plugin's `Value` once per stored item, all at once. A
//! [`Batcher`] queues each lookup; a collector task takes the first one, waits up to a short
//! window for more (or until the batch is full), hands the distinct keys to the store's batch
//! call on a task of its own, and answers every waiter with its own key's result. So a key that
//! the store does not know fails only the lookups for that key, and a slow batch never holds up
//! the collection of the next.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use cm_plugin_sdk::StoreError;

use crate::FetchError;

/// A store that can look up several keys in one call, and one key on its own.
pub trait BatchSource: Send + Sync + 'static {
    /// What one lookup asks for (a parameter name with its selector, a secret id).
    type Key: Clone + Eq + Hash + Debug + Send + Sync + 'static;

    /// The most keys one batch call accepts.
    fn max_batch(&self) -> usize;

    /// Whether the batch call can look up `key` at all (it may not take a version, say). Keys
    /// it cannot go straight to [`fetch_one`](Self::fetch_one) and take no batch slot.
    fn batchable(&self, _key: &Self::Key) -> bool {
        true
    }

    /// Looks up one key with the store's single-item call.
    fn fetch_one(&self, key: &Self::Key)
    -> impl Future<Output = Result<String, FetchError>> + Send;

    /// Looks up `keys` (distinct, between two and [`max_batch`](Self::max_batch)) in one batch
    /// call: one answer per key, in the same order. `None` means the batch call did not settle
    /// that key (no answer that can be matched to it for sure, or the batch was refused as a
    /// whole); it is then looked up with [`fetch_one`](Self::fetch_one).
    fn fetch_many(
        &self,
        keys: &[Self::Key],
    ) -> impl Future<Output = Vec<Option<Result<String, FetchError>>>> + Send;
}

/// Lookups through a store that is created on first use (clients need the runtime, and a
/// failure to create one must reach the host as configmanager's initialisation error), with or
/// without coalescing as [`Settings`] say.
pub struct Coalescer<S: BatchSource> {
    settings: Settings,
    ready: tokio::sync::OnceCell<Ready<S>>,
}

struct Ready<S: BatchSource> {
    source: Arc<S>,
    batcher: Option<Batcher<S::Key>>,
}

impl<S: BatchSource> Coalescer<S> {
    /// Nothing is created until the first lookup.
    pub fn new(settings: Settings) -> Self {
        Coalescer {
            settings,
            ready: tokio::sync::OnceCell::new(),
        }
    }

    /// Looks up `key` for `token` of the plugin `implementation` (its prefix), creating the
    /// store with `connect` if this is the first lookup (a failed creation is tried again by the
    /// next lookup). Errors come in configmanager's wording; an empty value is one of them.
    pub async fn value<F, Fut>(
        &self,
        implementation: &str,
        token: &str,
        key: S::Key,
        connect: F,
    ) -> Result<String, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<S, String>>,
    {
        let ready = self
            .ready
            .get_or_try_init(|| async {
                let source = Arc::new(connect().await?);
                let batcher = self
                    .settings
                    .enabled
                    .then(|| Batcher::spawn(Arc::clone(&source), self.settings.window));
                Ok::<_, String>(Ready { source, batcher })
            })
            .await
            .map_err(StoreError::client_initialization)?;
        let value = match &ready.batcher {
            Some(batcher) if ready.source.batchable(&key) => batcher.get(key).await,
            _ => ready.source.fetch_one(&key).await,
        };
        value
            .map_err(|e| e.into_store_error(implementation, token))
            .and_then(|v| crate::non_empty(v, token))
    }
}

/// How lookups are coalesced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Whether to batch at all; without, each lookup is its own single-item call.
    pub enabled: bool,
    /// How long the first lookup of a batch waits for others.
    pub window: Duration,
}

impl Settings {
    /// The default window: long enough for a host's burst of concurrent calls to arrive,
    /// short next to one round trip to a cloud API.
    pub const DEFAULT_WINDOW: Duration = Duration::from_millis(5);

    /// From the text of two settings: `enabled` (`0`, `false`, `no` or `off` turn batching
    /// off) and `window_ms` (milliseconds). Unset or unreadable values take the defaults.
    pub fn from_values(enabled: Option<&str>, window_ms: Option<&str>) -> Settings {
        let enabled = !matches!(
            enabled.map(|v| v.trim().to_ascii_lowercase()).as_deref(),
            Some("0" | "false" | "no" | "off")
        );
        let window = window_ms
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(Self::DEFAULT_WINDOW, Duration::from_millis);
        Settings { enabled, window }
    }
}

struct Pending<K> {
    key: K,
    reply: oneshot::Sender<Result<String, FetchError>>,
}

/// The handle lookups go through. Cheap to share; the collector task ends when it is dropped.
pub struct Batcher<K> {
    queue: mpsc::UnboundedSender<Pending<K>>,
}

impl<K: Clone + Eq + Hash + Debug + Send + Sync + 'static> Batcher<K> {
    /// Starts the collector for `source` on the current Tokio runtime.
    pub fn spawn<S: BatchSource<Key = K>>(source: Arc<S>, window: Duration) -> Batcher<K> {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(collect(source, rx, window));
        Batcher { queue }
    }

    /// Looks up `key` as part of whatever batch it lands in.
    pub async fn get(&self, key: K) -> Result<String, FetchError> {
        let (reply, answer) = oneshot::channel();
        if self.queue.send(Pending { key, reply }).is_err() {
            return Err(abandoned());
        }
        answer.await.unwrap_or_else(|_| Err(abandoned()))
    }
}

/// Completes a batch's answers: a key whose answer is `None` (the batch call said nothing about
/// it, or the batch was refused as a whole) is looked up on its own with
/// [`BatchSource::fetch_one`]. The single lookups run concurrently; the answers keep the keys'
/// order.
pub async fn fill_in<S: BatchSource>(
    source: &S,
    keys: &[S::Key],
    answers: Vec<Option<Result<String, FetchError>>>,
) -> Vec<Result<String, FetchError>> {
    let lookups = keys.iter().zip(answers).map(|(key, answer)| async move {
        match answer {
            Some(result) => result,
            None => source.fetch_one(key).await,
        }
    });
    futures_util::future::join_all(lookups).await
}

fn abandoned() -> FetchError {
    FetchError::Implementation("the batch call was abandoned".into())
}

/// The distinct keys of one batch, in arrival order, and who waits for each.
struct Batch<K> {
    keys: Vec<K>,
    waiters: HashMap<K, Vec<oneshot::Sender<Result<String, FetchError>>>>,
}

impl<K: Clone + Eq + Hash + Debug> Batch<K> {
    fn new() -> Self {
        Batch {
            keys: Vec::new(),
            waiters: HashMap::new(),
        }
    }

    fn add(&mut self, p: Pending<K>) {
        let waiting = self.waiters.entry(p.key.clone()).or_default();
        if waiting.is_empty() {
            self.keys.push(p.key);
        }
        waiting.push(p.reply);
    }

    async fn run<S: BatchSource<Key = K>>(mut self, source: Arc<S>) {
        let results = if let [key] = self.keys.as_slice() {
            vec![source.fetch_one(key).await]
        } else {
            tracing::debug!(keys = self.keys.len(), "batch call");
            let answers = source.fetch_many(&self.keys).await;
            fill_in(source.as_ref(), &self.keys, answers).await
        };
        let mut results = results.into_iter();
        for key in &self.keys {
            let result = results.next().unwrap_or_else(|| {
                Err(FetchError::Implementation(
                    "the batch call returned no answer for this item".into(),
                ))
            });
            for reply in self.waiters.remove(key).unwrap_or_default() {
                // A waiter that gave up (its call was cancelled) is no error.
                let _ = reply.send(result.clone());
            }
        }
    }
}

async fn collect<S: BatchSource>(
    source: Arc<S>,
    mut queue: mpsc::UnboundedReceiver<Pending<S::Key>>,
    window: Duration,
) {
    let max = source.max_batch().max(1);
    while let Some(first) = queue.recv().await {
        let mut batch = Batch::new();
        batch.add(first);
        let deadline = Instant::now() + window;
        while batch.keys.len() < max {
            match tokio::time::timeout_at(deadline, queue.recv()).await {
                Ok(Some(p)) => batch.add(p),
                Ok(None) | Err(_) => break,
            }
        }
        tokio::spawn(batch.run(Arc::clone(&source)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Knows keys that start with `k`; its batch call leaves keys that start with `kk` unsettled.
    /// Records every call it is asked for.
    struct Recorder {
        max: usize,
        calls: Mutex<Vec<Vec<String>>>,
    }

    fn answer(k: &str) -> Result<String, FetchError> {
        if k.starts_with('k') {
            Ok(format!("v-{k}"))
        } else {
            Err(FetchError::Retrieve(format!("no {k}")))
        }
    }

    impl BatchSource for Recorder {
        type Key = String;
        fn max_batch(&self) -> usize {
            self.max
        }
        async fn fetch_one(&self, key: &String) -> Result<String, FetchError> {
            self.calls.lock().unwrap().push(vec![format!("one:{key}")]);
            answer(key)
        }
        async fn fetch_many(&self, keys: &[String]) -> Vec<Option<Result<String, FetchError>>> {
            self.calls.lock().unwrap().push(keys.to_vec());
            keys.iter()
                .map(|k| (!k.starts_with("kk")).then(|| answer(k)))
                .collect()
        }
    }

    fn recorder(max: usize) -> Arc<Recorder> {
        Arc::new(Recorder {
            max,
            calls: Mutex::new(Vec::new()),
        })
    }

    // The tests run on paused tokio time (`start_paused`): the clock moves only when every task
    // waits, straight to the next timer. So the collection window closes only after every
    // lookup that was started has queued, and batches never depend on how busy the machine is.

    /// `keys` looked up concurrently, each from a task of its own.
    fn lookups(
        batcher: &Arc<Batcher<String>>,
        keys: impl IntoIterator<Item = String>,
    ) -> Vec<tokio::task::JoinHandle<Result<String, FetchError>>> {
        keys.into_iter()
            .map(|k| {
                let b = Arc::clone(batcher);
                tokio::spawn(async move { b.get(k).await })
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_lookups_share_batches_of_at_most_max() {
        let source = recorder(10);
        let batcher = Arc::new(Batcher::spawn(source.clone(), Duration::from_millis(50)));
        let results =
            futures_join(lookups(&batcher, (0..25).map(|i| format!("k{i}"))).into_iter()).await;
        for (i, r) in results.into_iter().enumerate() {
            assert_eq!(r.unwrap(), format!("v-k{i}"));
        }
        let calls = source.calls.lock().unwrap();
        let batch =
            |range: std::ops::Range<usize>| range.map(|i| format!("k{i}")).collect::<Vec<_>>();
        assert_eq!(*calls, vec![batch(0..10), batch(10..20), batch(20..25)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lookup_after_the_window_starts_a_new_batch() {
        let source = recorder(10);
        let window = Duration::from_millis(50);
        let batcher = Arc::new(Batcher::spawn(source.clone(), window));
        let first = lookups(&batcher, ["k1".to_string(), "k2".to_string()]);
        // Still inside the window: joins the first batch.
        tokio::time::sleep(window - Duration::from_millis(1)).await;
        let second = lookups(&batcher, ["k3".to_string()]);
        // The first batch has gone out; this one waits for a window of its own.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let third = lookups(&batcher, ["k4".to_string(), "k5".to_string()]);
        let all = first.into_iter().chain(second).chain(third);
        for r in futures_join(all).await {
            r.unwrap();
        }
        let calls = source.calls.lock().unwrap();
        assert_eq!(*calls, vec![vec!["k1", "k2", "k3"], vec!["k4", "k5"]]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_key_fails_only_its_own_lookups_and_duplicates_share_a_slot() {
        let source = recorder(10);
        let batcher = Arc::new(Batcher::spawn(source.clone(), Duration::from_millis(50)));
        let keys = ["k1", "missing", "k1", "k2"];
        let lookups = keys.iter().map(|k| {
            let b = Arc::clone(&batcher);
            let k = k.to_string();
            tokio::spawn(async move { b.get(k).await })
        });
        let results = futures_join(lookups).await;
        assert_eq!(results[0].as_deref(), Ok("v-k1"));
        assert_eq!(results[1], Err(FetchError::Retrieve("no missing".into())));
        assert_eq!(results[2].as_deref(), Ok("v-k1"));
        assert_eq!(results[3].as_deref(), Ok("v-k2"));
        let calls = source.calls.lock().unwrap();
        assert_eq!(*calls, vec![vec!["k1", "missing", "k2"]]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_lookup_goes_out_after_the_window() {
        let source = recorder(10);
        let batcher = Batcher::spawn(source.clone(), Duration::from_millis(5));
        assert_eq!(batcher.get("k".to_string()).await.unwrap(), "v-k");
        assert_eq!(batcher.get("k".to_string()).await.unwrap(), "v-k");
        assert_eq!(source.calls.lock().unwrap().len(), 2);
    }

    struct Short;
    impl BatchSource for Short {
        type Key = u32;
        fn max_batch(&self) -> usize {
            5
        }
        async fn fetch_one(&self, _key: &u32) -> Result<String, FetchError> {
            Err(FetchError::Retrieve("single".into()))
        }
        async fn fetch_many(&self, _keys: &[u32]) -> Vec<Option<Result<String, FetchError>>> {
            vec![Some(Ok("only one".into()))]
        }
    }

    #[tokio::test(start_paused = true)]
    async fn missing_answers_are_errors_not_hangs() {
        let batcher = Arc::new(Batcher::spawn(Arc::new(Short), Duration::from_millis(50)));
        let lookups = (0..2).map(|i| {
            let b = Arc::clone(&batcher);
            tokio::spawn(async move { b.get(i).await })
        });
        let results = futures_join(lookups).await;
        assert_eq!(results[0].as_deref(), Ok("only one"));
        assert!(matches!(results[1], Err(FetchError::Implementation(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn unsettled_keys_are_fetched_one_by_one() {
        let source = recorder(10);
        let batcher = Arc::new(Batcher::spawn(source.clone(), Duration::from_millis(50)));
        let lookups = ["k1", "kk2", "k3"].map(|k| {
            let b = Arc::clone(&batcher);
            tokio::spawn(async move { b.get(k.to_string()).await })
        });
        let results = futures_join(lookups.into_iter()).await;
        assert_eq!(results[1].as_deref(), Ok("v-kk2"));
        let calls = source.calls.lock().unwrap();
        assert_eq!(*calls, vec![vec!["k1", "kk2", "k3"], vec!["one:kk2"]]);
    }

    #[tokio::test]
    async fn coalescer_words_errors_for_the_token_and_creates_the_store_once() {
        let coalescer = Coalescer::<Recorder>::new(Settings {
            enabled: false,
            window: Duration::ZERO,
        });
        let refused = coalescer
            .value("TEST", "/t", "k".into(), || async {
                Err("no region".to_string())
            })
            .await
            .unwrap_err();
        assert_eq!(
            refused.message(),
            "failed to initialize the client: no region"
        );
        let connects = Mutex::new(0);
        let connect = || async {
            *connects.lock().unwrap() += 1;
            Ok(Recorder {
                max: 10,
                calls: Mutex::new(Vec::new()),
            })
        };
        assert_eq!(
            coalescer
                .value("TEST", "/t", "k1".into(), connect)
                .await
                .unwrap(),
            "v-k1"
        );
        let missing = coalescer
            .value("TEST", "/m", "m".into(), connect)
            .await
            .unwrap_err();
        assert_eq!(missing.message(), "failed to retrieve config item: no m");
        assert_eq!(*connects.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn fill_in_looks_up_only_the_unanswered_keys() {
        let source = recorder(10);
        let keys = ["k1", "k2", "x3", "k4"].map(String::from);
        let answers = vec![
            Some(Ok("a".to_string())),
            None,
            Some(Err(FetchError::Retrieve("gone".into()))),
            None,
        ];
        let out = fill_in(source.as_ref(), &keys, answers).await;
        assert_eq!(
            out,
            vec![
                Ok("a".to_string()),
                Ok("v-k2".to_string()),
                Err(FetchError::Retrieve("gone".into())),
                Ok("v-k4".to_string()),
            ]
        );
        let calls = source.calls.lock().unwrap();
        assert_eq!(*calls, vec![vec!["one:k2"], vec!["one:k4"]]);
    }

    #[test]
    fn settings_from_values() {
        let on = Settings::from_values(None, None);
        assert!(on.enabled);
        assert_eq!(on.window, Settings::DEFAULT_WINDOW);
        for off in ["0", "false", "OFF", " no "] {
            assert!(!Settings::from_values(Some(off), None).enabled, "{off}");
        }
        assert!(Settings::from_values(Some("1"), None).enabled);
        assert_eq!(
            Settings::from_values(None, Some("20")).window,
            Duration::from_millis(20)
        );
        assert_eq!(
            Settings::from_values(None, Some("x")).window,
            Settings::DEFAULT_WINDOW
        );
    }

    async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
        let mut out = Vec::new();
        for h in handles.collect::<Vec<_>>() {
            out.push(h.await.unwrap());
        }
        out
    }
}
