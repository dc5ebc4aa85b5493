//! The resolver: from located tokens to values. It plans the fetches (each item once), picks
//! each prefix's provider from the [`Registry`] (reporting every missing plugin at once),
//! checks plugin integrity, starts the plugins needed (once each, concurrently) and always
//! shuts them down, fetches every item concurrently, looks up each token's key path in its
//! item, and collects every failure (`--lax` keeps failed tokens as they were).
//!
//! It knows providers only through the `Provider` trait, so dedup, failure collection and
//! `--lax` are unit-tested with an in-process provider; limits on concurrent calls live in the
//! providers themselves.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::future::join_all;

use crate::Secret;
use crate::error::{Error, FailureReason, MissingPlugin, Origin, TokenFailure};
use crate::lookup::lookup;
use crate::plan::{FetchKey, Plan};
use crate::plugin::discover::{Kind, SearchPath};
use crate::plugin::lock::IntegrityError;
use crate::plugin::modules;
use crate::plugin::process::Program;
use crate::plugin::{HostOptions, PluginHost};
use crate::provider::{Provider, ProviderError, Registry, Source};
use crate::scan::Token;
use crate::signals::Signals;

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
            .ok_or_else(|| ProviderError::NoProvider(f.prefix.clone()))?;
        let path = std::str::from_utf8(&f.path).map_err(|_| ProviderError::PathNotUtf8)?;
        let t = std::time::Instant::now();
        let r = provider.fetch(path, f.metadata.as_deref().unwrap_or_default()).await;
        // Path and size only: the value never reaches a log.
        tracing::debug!(prefix = %f.prefix, path, ok = r.is_ok(), bytes = r.as_ref().map_or(0, Secret::len), elapsed_us = t.elapsed().as_micros() as u64, "fetched");
        r
    }))
    .await
}

/// The value for one token: its item's value, or the part its key path selects.
pub(crate) fn token_value<'v>(
    item: &'v Result<Secret, ProviderError>,
    key_path: Option<&[u8]>,
) -> Result<Cow<'v, [u8]>, FailureReason> {
    let value = item
        .as_ref()
        .map_err(|e| FailureReason::Provider(e.clone()))?;
    match key_path {
        None => Ok(Cow::Borrowed(value.expose())),
        Some(k) => lookup(value.expose(), k).map_err(FailureReason::Lookup),
    }
}

/// A token and where it came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Located<'a> {
    /// The text the token was scanned from.
    pub(crate) input: &'a [u8],
    /// The token.
    pub(crate) token: &'a Token,
    /// Where that text came from.
    pub(crate) location: Location<'a>,
}

/// Where a token was found; turned into an owned [`Origin`] only for a token that failed, so a
/// large template costs no string per token.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Location<'a> {
    /// In the named input, at the token's own position.
    Input(&'a str),
    /// The Nth `--token` flag.
    Flag(usize),
    /// A `cm exec` variable, at the token's position in its value.
    Variable(&'a crate::error::Variable),
}

impl Located<'_> {
    fn origin(&self) -> Origin {
        match self.location {
            Location::Input(name) => Origin::Input {
                name: name.to_string(),
                pos: self.token.pos,
            },
            Location::Flag(n) => Origin::Flag(n),
            Location::Variable(v) => Origin::Variable(v.clone()),
        }
    }
}

/// What the resolver needs to know of the run.
#[derive(Debug)]
pub(crate) struct Resolver<'a> {
    /// Which provider serves each prefix.
    pub(crate) registry: &'a Registry,
    /// Where plugins were looked for (to list the paths tried for a missing one).
    pub(crate) search: &'a SearchPath,
    /// Plugin start and call limits.
    pub(crate) host: HostOptions,
    /// `--require-lock`.
    pub(crate) require_lock: bool,
    /// Where verified plugin hashes are cached (`None`: no cache).
    pub(crate) cache_dir: Option<&'a std::path::Path>,
    /// `--lax`.
    pub(crate) lax: bool,
    /// cm's environment, of which a WASI plugin sees the variables its lock grants it.
    pub(crate) env: &'a [(std::ffi::OsString, std::ffi::OsString)],
}

impl Resolver<'_> {
    /// Resolves every token: `Some(value)`, or `None` where it failed and `--lax` keeps it as it
    /// was. Without `--lax` any failure fails the run, listing every failed token. Plugins are
    /// shut down before this returns, whatever happened.
    pub(crate) async fn resolve(
        &self,
        signals: &Signals,
        tokens: &[Located<'_>],
    ) -> Result<Vec<Option<Secret>>, Error> {
        let mut plan = Plan::new();
        let fetch_of: Vec<usize> = tokens.iter().map(|l| plan.add(l.input, l.token)).collect();
        tracing::info!(tokens = tokens.len(), fetches = plan.len(), prefixes = ?plan.prefixes(), "plan");

        let mut providers = Providers::default();
        let mut wanted = Vec::new();
        let mut missing = Vec::new();
        for prefix in plan.prefixes() {
            match self.registry.get(prefix) {
                Some(Source::Plugin(path)) => wanted.push((prefix.to_string(), path.clone())),
                Some(Source::Builtin(provider)) => providers.insert(prefix, provider.clone()),
                None => missing.push(MissingPlugin {
                    prefix: prefix.to_ascii_lowercase(),
                    tried: self.search.candidates(prefix),
                }),
            }
        }
        if !missing.is_empty() {
            return Err(Error::PluginNotFound(missing));
        }
        let (wanted, modules): (Vec<_>, Vec<_>) = wanted
            .into_iter()
            .partition(|(_, path)| Kind::of(path) == Kind::Native);
        let natives = check_integrity(&wanted, self.require_lock, self.cache_dir);
        let modules = modules::load(&modules, self.require_lock, self.host.calls, self.env);
        let wanted = match (natives, modules) {
            (Ok(natives), Ok(modules)) => {
                for (prefix, provider) in modules {
                    providers.insert(prefix, provider);
                }
                natives
            }
            (natives, modules) => {
                let mut refused = natives.err().unwrap_or_default();
                refused.extend(modules.err().unwrap_or_default());
                return Err(Error::PluginRefused(refused));
            }
        };

        let (host, start_errors) = tokio::select! {
            r = PluginHost::start(wanted, self.host) => r,
            signal = signals.wait() => return Err(Error::Interrupted(signal)),
        };
        let outcome = async {
            if !start_errors.is_empty() {
                return Err(Error::PluginStart(start_errors));
            }
            for prefix in plan.prefixes() {
                if let Some(p) = host.provider(prefix) {
                    providers.insert(prefix, p);
                }
            }
            tokio::select! {
                r = fetch_all(plan.fetches(), &providers) => Ok(r),
                signal = signals.wait() => Err(Error::Interrupted(signal)),
            }
        }
        .await;
        // Providers hold plugin handles; drop them so shutdown owns each plugin.
        drop(providers);
        host.shutdown().await;
        let results = outcome?;
        self.collect(tokens, &fetch_of, &results)
    }

    /// Each token's value from its fetch, and every failure.
    fn collect(
        &self,
        tokens: &[Located<'_>],
        fetch_of: &[usize],
        results: &[Result<Secret, ProviderError>],
    ) -> Result<Vec<Option<Secret>>, Error> {
        let mut values = Vec::with_capacity(tokens.len());
        let mut failures = Vec::new();
        for (l, &f) in tokens.iter().zip(fetch_of) {
            match token_value(&results[f], l.token.key_path(l.input)) {
                Ok(v) => values.push(Some(Secret::new(v.into_owned()))),
                Err(reason) => {
                    failures.push(TokenFailure {
                        origin: l.origin(),
                        token: String::from_utf8_lossy(l.token.text(l.input)).into_owned(),
                        reason,
                    });
                    values.push(None);
                }
            }
        }
        if failures.is_empty() {
            return Ok(values);
        }
        if self.lax {
            for f in &failures {
                tracing::warn!("{f} (left as it was: --lax)");
            }
            return Ok(values);
        }
        Err(Error::Unresolved {
            failures,
            total: tokens.len(),
        })
    }
}

/// Integrity first: nothing runs that the lock file does not approve. Every plugin is checked
/// (concurrently), every refusal reported, and each approved plugin comes back as the program
/// to run: for a locked plugin, the very file that was hashed.
fn check_integrity(
    wanted: &[(String, PathBuf)],
    require_lock: bool,
    cache_dir: Option<&std::path::Path>,
) -> Result<Vec<(String, Program)>, Vec<IntegrityError>> {
    let verified = crate::plugin::lock::verify_all(wanted, require_lock, cache_dir)?;
    Ok(verified
        .into_iter()
        .map(|v| {
            for w in &v.warnings {
                tracing::warn!("{w}");
            }
            tracing::debug!(plugin = %v.prefix, status = ?v.status, "plugin integrity");
            (v.prefix, v.program)
        })
        .collect())
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
                    return Err(ProviderError::Store("no such item".into()));
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
                .to_string()
                .contains("not found")
        );
        assert_eq!(
            token_value(&results[2], Some(b"user"))
                .unwrap_err()
                .to_string(),
            "no such item"
        );
        assert_eq!(
            token_value(&results[3], None).unwrap_err().to_string(),
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

    /// A resolver over a registry with only in-process providers: `X` counts its calls.
    fn resolver_test<'a>(
        registry: &'a Registry,
        search: &'a SearchPath,
        lax: bool,
    ) -> Resolver<'a> {
        Resolver {
            registry,
            search,
            host: HostOptions::default(),
            require_lock: false,
            cache_dir: None,
            lax,
            env: &[],
        }
    }

    fn counting() -> Arc<Counting> {
        Arc::new(Counting {
            calls: Mutex::new(vec![]),
        })
    }

    /// Scans `input` for `X`, `Y` and `Z` tokens and resolves them.
    async fn resolve_text(
        resolver: &Resolver<'_>,
        input: &[u8],
    ) -> Result<Vec<Option<Secret>>, Error> {
        let grammar = crate::grammar::Grammar::default().with_prefixes(["X", "Y", "Z"]);
        let scanned = crate::scan::scan(&grammar, input);
        assert!(scanned.errors.is_empty());
        let located: Vec<Located> = scanned
            .tokens
            .iter()
            .map(|token| Located {
                input,
                token,
                location: Location::Input("t.txt"),
            })
            .collect();
        resolver.resolve(&Signals::never(), &located).await
    }

    fn shown(values: &[Option<Secret>]) -> Vec<Option<String>> {
        values
            .iter()
            .map(|v| {
                v.as_ref()
                    .map(|s| String::from_utf8_lossy(s.expose()).into_owned())
            })
            .collect()
    }

    #[tokio::test]
    async fn resolver_fetches_each_item_once() {
        let x = counting();
        let registry = Registry::new([], [("X".to_string(), x.clone() as Arc<dyn Provider>)]);
        let search = SearchPath::default();
        let values = resolve_text(
            &resolver_test(&registry, &search, false),
            b"X://a|user X://a|port\nX://a X://a|user[v=2] X://a|user",
        )
        .await
        .unwrap();
        let mut calls = x.calls.lock().unwrap().clone();
        calls.sort();
        assert_eq!(
            calls,
            [
                ("a".to_string(), b"".to_vec()),
                ("a".to_string(), b"v=2".to_vec())
            ]
        );
        assert_eq!(
            shown(&values),
            [
                Some("u".to_string()),
                Some("5432".to_string()),
                Some(r#"{"user":"u","port":5432,"path":"a"}"#.to_string()),
                Some("u".to_string()),
                Some("u".to_string()),
            ]
        );
    }

    #[tokio::test]
    async fn resolver_reports_every_failed_token() {
        let x = counting();
        let registry = Registry::new([], [("X".to_string(), x.clone() as Arc<dyn Provider>)]);
        let search = SearchPath::default();
        let e = resolve_text(
            &resolver_test(&registry, &search, false),
            b"X://bad|user X://a|nope\n  X://bad X://a|user",
        )
        .await
        .unwrap_err();
        assert_eq!(x.calls.lock().unwrap().len(), 2);
        assert_eq!(
            e.to_string(),
            "t.txt:1:1: failed to retrieve config item - (X://bad|user), no such item\n\
             t.txt:1:14: failed to retrieve config item - (X://a|nope), key path `nope` not found in the value\n\
             t.txt:2:3: failed to retrieve config item - (X://bad), no such item\n\
             token not found: 3 of 4 token(s) could not be resolved"
        );
        assert_eq!(e.exit_code(), 1);
    }

    #[tokio::test]
    async fn resolver_under_lax_keeps_failed_tokens_as_they_were() {
        let x = counting();
        let registry = Registry::new([], [("X".to_string(), x as Arc<dyn Provider>)]);
        let search = SearchPath::default();
        let values = resolve_text(
            &resolver_test(&registry, &search, true),
            b"X://bad X://a|user X://a|nope",
        )
        .await
        .unwrap();
        assert_eq!(shown(&values), [None, Some("u".to_string()), None]);
    }

    #[tokio::test]
    async fn resolver_reports_every_missing_plugin_before_fetching() {
        let x = counting();
        let registry = Registry::new([], [("X".to_string(), x.clone() as Arc<dyn Provider>)]);
        let search = SearchPath::new(Some("/a".into()), Some("/b".into()), None);
        let e = resolve_text(
            &resolver_test(&registry, &search, false),
            b"Z://1 X://a Y://2",
        )
        .await
        .unwrap_err();
        assert!(x.calls.lock().unwrap().is_empty());
        let file = |p: &str| crate::plugin::discover::file_name(p);
        assert_eq!(
            e.to_string(),
            format!(
                "configmanager provider: ( y ) plugin does not exist; looked for:\n  \
                 /a/.configmanager/plugins/y/{y}\n  /a/.configmanager/plugins/y/y.wasm\n  \
                 /b/.configmanager/plugins/y/{y}\n  /b/.configmanager/plugins/y/y.wasm\n\
                 configmanager provider: ( z ) plugin does not exist; looked for:\n  \
                 /a/.configmanager/plugins/z/{z}\n  /a/.configmanager/plugins/z/z.wasm\n  \
                 /b/.configmanager/plugins/z/{z}\n  /b/.configmanager/plugins/z/z.wasm",
                z = file("z"),
                y = file("y"),
            )
        );
        assert_eq!(e.exit_code(), 3);
    }
}
