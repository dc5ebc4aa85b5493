//! The fetch plan: which items to fetch, each once, and which plugins that needs.
//!
//! This module owns deduplication. A fetch is keyed by (prefix, path, metadata): tokens that
//! differ only in key path read the same stored item, so they share one fetch. That is
//! configmanager's grouping, plus one fix: configmanager keys tokens that have metadata by
//! their full text, so `X|a[v=2]` and `X|b[v=2]` cost it two calls; here they cost one.
//!
//! The plan holds owned data, so one plan can collect tokens from several inputs (one per
//! `--token` flag, say). It is deterministic: fetches are in order of first appearance,
//! whatever the hasher does. Pure: it knows nothing of providers, plugins or async.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use crate::scan::Token;

/// One item to fetch: the provider prefix, the path in its store and the raw metadata.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FetchKey {
    /// The provider prefix (`AWSSECRETS`).
    pub prefix: String,
    /// The path, passed to the provider unchanged.
    pub path: Vec<u8>,
    /// The raw text between the brackets, if any.
    pub metadata: Option<Vec<u8>>,
}

/// Deduplicated fetches in order of first appearance.
#[derive(Debug, Default)]
pub struct Plan {
    fetches: Vec<FetchKey>,
    /// Hash of a key -> the most recent fetch with that hash; older ones with the same hash
    /// are chained through `collisions`. Hashing borrowed token parts, rather than keying a
    /// map by `FetchKey`, means a repeated token costs no allocation.
    heads: HashMap<u64, usize>,
    /// `collisions[i]`: the previous fetch whose key hashes like fetch `i`'s, if any.
    collisions: Vec<Option<usize>>,
    hasher: RandomState,
}

impl Plan {
    /// An empty plan.
    pub fn new() -> Plan {
        Plan::default()
    }

    /// Adds `token` (scanned from `input`) and returns the index of the fetch that serves it:
    /// an existing one if the same (prefix, path, metadata) was added before.
    pub fn add(&mut self, input: &[u8], token: &Token) -> usize {
        let prefix = token.prefix(input);
        let path = token.path(input);
        let metadata = token.metadata(input);
        let hash = self.hasher.hash_one((prefix, path, metadata));

        let mut candidate = self.heads.get(&hash).copied();
        while let Some(index) = candidate {
            let key = &self.fetches[index];
            if key.prefix == prefix && key.path == path && key.metadata.as_deref() == metadata {
                return index;
            }
            candidate = self.collisions[index];
        }

        let index = self.fetches.len();
        self.fetches.push(FetchKey {
            prefix: prefix.to_owned(),
            path: path.to_vec(),
            metadata: metadata.map(<[u8]>::to_vec),
        });
        self.collisions.push(self.heads.insert(hash, index));
        index
    }

    /// A plan for `tokens` (all scanned from `input`), and for each token the index of its
    /// fetch.
    pub fn from_tokens(input: &[u8], tokens: &[Token]) -> (Plan, Vec<usize>) {
        let mut plan = Plan::new();
        let indices = tokens.iter().map(|t| plan.add(input, t)).collect();
        (plan, indices)
    }

    /// The fetches, in order of first appearance.
    pub fn fetches(&self) -> &[FetchKey] {
        &self.fetches
    }

    /// Number of fetches.
    pub fn len(&self) -> usize {
        self.fetches.len()
    }

    /// Whether there is nothing to fetch.
    pub fn is_empty(&self) -> bool {
        self.fetches.is_empty()
    }

    /// The prefixes the fetches need, sorted and deduplicated: exactly the plugins to start.
    pub fn prefixes(&self) -> Vec<&str> {
        let mut prefixes: Vec<&str> = self.fetches.iter().map(|f| f.prefix.as_str()).collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        prefixes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::Grammar;
    use crate::scan::scan;

    fn plan_of(input: &str) -> (Plan, Vec<usize>) {
        let scanned = scan(&Grammar::default().with_prefixes(["ENV"]), input.as_bytes());
        assert!(scanned.errors.is_empty(), "{:?}", scanned.errors);
        Plan::from_tokens(input.as_bytes(), &scanned.tokens)
    }

    fn describe(plan: &Plan) -> Vec<String> {
        plan.fetches()
            .iter()
            .map(|f| {
                let mut s = format!("{} {}", f.prefix, f.path.escape_ascii());
                if let Some(m) = &f.metadata {
                    s += &format!(" [{}]", m.escape_ascii());
                }
                s
            })
            .collect()
    }

    #[test]
    fn groups_by_prefix_path_and_metadata() {
        let cases: &[(&str, &str, &[&str], &[usize])] = &[
            ("empty", "no tokens here", &[], &[]),
            (
                "key paths share a fetch",
                "AWSSECRETS:///db|user AWSSECRETS:///db|password AWSSECRETS:///db|port AWSSECRETS:///db",
                &["AWSSECRETS /db"],
                &[0, 0, 0, 0],
            ),
            (
                "same metadata, different key paths: one fetch (configmanager makes two)",
                "VAULT://x|a[v=2] VAULT://x|b[v=2]",
                &["VAULT x [v=2]"],
                &[0, 0],
            ),
            (
                "different metadata: separate fetches",
                "VAULT://x[v=1] VAULT://x[v=2] VAULT://x",
                &["VAULT x [v=1]", "VAULT x [v=2]", "VAULT x"],
                &[0, 1, 2],
            ),
            (
                "same path, different prefix",
                "AWSSECRETS://p AWSPARAMSTR://p AWSSECRETS://p|k",
                &["AWSSECRETS p", "AWSPARAMSTR p"],
                &[0, 1, 0],
            ),
            (
                "order of first appearance",
                "VAULT://c VAULT://a VAULT://b VAULT://a",
                &["VAULT c", "VAULT a", "VAULT b"],
                &[0, 1, 2, 1],
            ),
        ];
        for (name, input, fetches, indices) in cases {
            let (plan, got_indices) = plan_of(input);
            assert_eq!(describe(&plan), *fetches, "{name}");
            assert_eq!(got_indices, *indices, "{name}");
            assert_eq!(plan.len(), fetches.len(), "{name}");
            assert_eq!(plan.is_empty(), fetches.is_empty(), "{name}");
        }
    }

    #[test]
    fn prefixes_are_sorted_and_deduplicated() {
        let (plan, _) = plan_of("VAULT://a ENV://HOME AWSSECRETS://b VAULT://c ENV://USER");
        assert_eq!(plan.prefixes(), ["AWSSECRETS", "ENV", "VAULT"]);
        assert!(Plan::new().prefixes().is_empty());
    }

    #[test]
    fn one_plan_collects_several_inputs() {
        let grammar = Grammar::default();
        let mut plan = Plan::new();
        let mut indices = Vec::new();
        for input in [
            &b"AWSSECRETS:///db|host"[..],
            b"AWSSECRETS:///db|port",
            b"VAULT://v",
        ] {
            for token in scan(&grammar, input).tokens {
                indices.push(plan.add(input, &token));
            }
        }
        assert_eq!(indices, [0, 0, 1]);
        assert_eq!(describe(&plan), ["AWSSECRETS /db", "VAULT v"]);
    }

    #[test]
    fn deterministic_across_plans() {
        let input = "VAULT://z VAULT://y AWSSECRETS://x VAULT://y[a=b] VAULT://z";
        let first = describe(&plan_of(input).0);
        for _ in 0..10 {
            assert_eq!(describe(&plan_of(input).0), first);
        }
    }
}
