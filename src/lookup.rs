//! Key lookup: find a token's dotted key path inside a fetched JSON value.
//!
//! This module owns what `AWSSECRETS:///db|conn.host` means once `/db` has been fetched:
//!
//! 1. The value is parsed as JSON. A value that is not JSON is returned unchanged, as
//!    configmanager does.
//! 2. The key path is split at `.` and followed from the root; a numeric segment also indexes
//!    an array (`list.0`).
//! 3. If that finds nothing, configmanager's recursive descent (JSONPath `$..conn.host`: from
//!    every node at any depth, follow the whole path) is tried, and used if it finds exactly
//!    one match.
//! 4. A JSON string is returned unquoted; any other JSON value as its own compact JSON text.
//!
//! Finding nothing, or several matches, is an error (configmanager silently returned the
//! empty string). Errors name the key path, never the value: the value is a secret.
//!
//! Results keep the value's own text: numbers are not reparsed (a 20-digit id stays exact),
//! and only insignificant whitespace is removed from objects and arrays. So the value is
//! validated with `serde_json`, then walked as a tree of spans ([`crate::json`]). Pure: no I/O.

use std::borrow::Cow;

use crate::json::{Kind, ROOT, Tree};

/// Why a key path gave no value (worded in `error.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// No node at the key path, neither from the root nor anywhere below it.
    NotFound(String),
    /// Not at the root, and at more than one place below it.
    Ambiguous {
        /// The key path.
        key: String,
        /// How many nodes it reached.
        matches: usize,
    },
}

/// Looks `key_path` up in `value`; see the module docs for the rules. An empty key path
/// returns the value unchanged (there is nothing to look up).
pub fn lookup<'v>(value: &'v [u8], key_path: &[u8]) -> Result<Cow<'v, [u8]>, LookupError> {
    if key_path.is_empty() {
        return Ok(Cow::Borrowed(value));
    }
    let Some(tree) = Tree::parse(value) else {
        return Ok(Cow::Borrowed(value));
    };
    let not_found = || LookupError::NotFound(String::from_utf8_lossy(key_path).into_owned());
    // JSON object keys are UTF-8, so a key path that is not can match nothing.
    let key = std::str::from_utf8(key_path).map_err(|_| not_found())?;
    let segments: Vec<&str> = key.split('.').collect();

    let found = match follow(&tree, ROOT, &segments) {
        Some(node) => node,
        None => {
            let mut matches = (0..tree.nodes.len()).filter_map(|n| follow(&tree, n, &segments));
            match (matches.next(), matches.next()) {
                (None, _) => return Err(not_found()),
                (Some(node), None) => node,
                (Some(_), Some(_)) => {
                    return Err(LookupError::Ambiguous {
                        key: key.to_owned(),
                        matches: 2 + matches.count(),
                    });
                }
            }
        }
    };
    Ok(tree.text_of(found))
}

/// The node reached by following `segments` from `from`, if any.
fn follow(tree: &Tree<'_>, from: usize, segments: &[&str]) -> Option<usize> {
    segments
        .iter()
        .try_fold(from, |node, segment| match &tree.nodes[node].kind {
            Kind::Object(members) => members
                .iter()
                .rev()
                .find(|(key, _)| key == segment)
                .map(|&(_, child)| child),
            // Only plain decimal indices: `+1` or `01` are keys, not positions.
            Kind::Array(items) if segment.bytes().all(|b| b.is_ascii_digit()) => {
                let canonical = *segment == "0" || !segment.starts_with('0');
                let index: usize = segment.parse().ok().filter(|_| canonical)?;
                items.get(index).copied()
            }
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
        "user": "admin",
        "port": 5432,
        "big": 123456789012345678901234567890,
        "ratio": 1.50,
        "tls": true,
        "none": null,
        "conn": { "host": "db.internal", "opts": [ "a", { "k": "v" } ] },
        "list": [10, 20, {"deep": {"x": "found"}}],
        "quoted": "say \"hi\"\n",
        "nested": {"again": {"user": "inner"}},
        "one": {"twice": {"id": 1}}, "other": {"twice": {"id": 2}},
        "a": {"b": {"c": 1}}, "x": {"a": {"b": {"c": 2}}},
        "dup": 1, "dup": 2,
        "": "empty key",
        "07": "zero-seven"
    }"#;

    #[test]
    fn looks_up_key_paths() {
        let ok = |s: &str| Ok::<String, LookupError>(s.to_owned());
        let not_found = |k: &str| Err(LookupError::NotFound(k.to_owned()));
        let cases: &[(&str, &str, Result<String, LookupError>)] = &[
            ("string is unquoted", "user", ok("admin")),
            ("number as its JSON text", "port", ok("5432")),
            (
                "big number keeps every digit",
                "big",
                ok("123456789012345678901234567890"),
            ),
            ("number text is not normalised", "ratio", ok("1.50")),
            ("bool", "tls", ok("true")),
            ("null", "none", ok("null")),
            ("nested", "conn.host", ok("db.internal")),
            (
                "object as compact JSON",
                "conn",
                ok(r#"{"host":"db.internal","opts":["a",{"k":"v"}]}"#),
            ),
            ("array index", "list.1", ok("20")),
            ("path through an array", "list.2.deep.x", ok("found")),
            ("index into nested array", "conn.opts.1.k", ok("v")),
            ("escapes decoded", "quoted", ok("say \"hi\"\n")),
            ("root match wins over deeper ones", "user", ok("admin")),
            ("recursive descent, one match", "deep.x", ok("found")),
            (
                "recursive descent from a nested object",
                "again.user",
                ok("inner"),
            ),
            (
                "recursive descent for a single key",
                "host",
                ok("db.internal"),
            ),
            ("root match is not ambiguous", "a.b.c", ok("1")),
            (
                "recursive descent, two matches",
                "twice.id",
                Err(LookupError::Ambiguous {
                    key: "twice.id".into(),
                    matches: 2,
                }),
            ),
            ("duplicate key: the last one", "dup", ok("2")),
            ("empty key", "", ok(DOC)),
            ("missing", "nope", not_found("nope")),
            ("missing below a match", "conn.port", not_found("conn.port")),
            ("index out of range", "list.9", not_found("list.9")),
            ("index into a scalar", "port.0", not_found("port.0")),
            (
                "leading zero is not an index",
                "list.01",
                not_found("list.01"),
            ),
            ("numeric key in an object", "07", ok("zero-seven")),
            ("empty segment", "conn..host", not_found("conn..host")),
        ];
        for (name, key, expected) in cases {
            let got = lookup(DOC.as_bytes(), key.as_bytes())
                .map(|v| String::from_utf8(v.into_owned()).unwrap());
            assert_eq!(&got, expected, "{name}");
        }
    }

    #[test]
    fn value_that_is_not_json_is_returned_unchanged() {
        let cases: &[&[u8]] = &[
            b"hunter2",
            b"",
            b"{not json",
            b"{\"a\":1} trailing",
            b"\xff\xfe",
            b"\xef\xbb\xbf{\"a\":1}",
        ];
        for value in cases {
            let got = lookup(value, b"a").unwrap();
            assert!(matches!(got, Cow::Borrowed(_)));
            assert_eq!(&*got, *value);
        }
    }

    #[test]
    fn scalar_roots_have_no_keys() {
        for value in ["123", "\"text\"", "true", "null", "[1,2]"] {
            assert_eq!(
                lookup(value.as_bytes(), b"a"),
                Err(LookupError::NotFound("a".into())),
                "{value}"
            );
        }
        assert_eq!(lookup(b" [1, 2] ", b"1").unwrap(), &b"2"[..]);
    }

    #[test]
    fn errors_never_contain_the_value() {
        let value = br#"{"password":"hunter2","x":{"k":1},"y":{"k":2}}"#;
        for key in ["nope", "k", "password.deeper"] {
            let err = lookup(value, key.as_bytes()).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains(key), "{shown}");
        }
        assert_eq!(
            lookup(value, b"k").unwrap_err().to_string(),
            "key path `k` is ambiguous: 2 matches"
        );
        assert_eq!(
            lookup(value, b"nope").unwrap_err().to_string(),
            "key path `nope` not found in the value"
        );
    }

    #[test]
    fn plain_results_borrow_the_value() {
        let value = br#"{"a":"plain","b":{"c":[1,2]},"d":"esc\"aped","e":{ "f" : 1 }}"#;
        assert!(matches!(
            lookup(value, b"a").unwrap(),
            Cow::Borrowed(b"plain")
        ));
        assert!(matches!(
            lookup(value, b"b").unwrap(),
            Cow::Borrowed(br#"{"c":[1,2]}"#)
        ));
        assert!(matches!(lookup(value, b"d").unwrap(), Cow::Owned(_)));
        assert_eq!(lookup(value, b"e").unwrap(), &br#"{"f":1}"#[..]);
    }

    /// Found by `cargo fuzz run lookup`: a number whose exponent is out of `f64`'s range is
    /// still JSON (RFC 8259 sets no limit), so the lookup walks it and returns its text as is.
    #[test]
    fn numbers_beyond_f64_are_json_and_kept_verbatim() {
        let value = b"[[6666666666666666666666666666666666666666666666666688888088888888888888e66666666666666666\n\n]]";
        let expected: &[u8] = b"[6666666666666666666666666666666666666666666666666688888088888888888888e66666666666666666]";
        assert_eq!(lookup(value, b"0").unwrap().as_ref(), expected);
        assert_eq!(lookup(b"{\"a\":1e999}", b"a").unwrap().as_ref(), b"1e999");
    }

    /// Found by `cargo fuzz run lookup`: a lone surrogate escape is valid by the JSON grammar
    /// but not as UTF-16; it must not crash the lookup, and becomes U+FFFD.
    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(
            lookup(br#"{"a":"x\udc2ey"}"#, b"a").unwrap().as_ref(),
            "x\u{FFFD}y".as_bytes()
        );
        assert_eq!(
            lookup(br#"{"a":"\ud800"}"#, b"a").unwrap().as_ref(),
            "\u{FFFD}".as_bytes()
        );
        assert_eq!(
            lookup(
                br#"{"a":"\ud83d\ude00 \ud800\ud83d\ude00 \n\t\"\\/"}"#,
                b"a"
            )
            .unwrap()
            .as_ref(),
            "\u{1F600} \u{FFFD}\u{1F600} \n\t\"\\/".as_bytes()
        );
        // A key with a lone surrogate is found through its lossy form.
        assert_eq!(
            lookup(br#"{"k\ud800":1}"#, "k\u{FFFD}".as_bytes())
                .unwrap()
                .as_ref(),
            b"1"
        );
        // The fuzzer's input, as it found it: it panicked before the fix.
        let value = b"{\t \"sw [{V9%%\\uDE2EDn\"\r\r\r\r :\"\",  \"\"\n :  \"= \" }";
        assert!(lookup(value, b" [[[").is_err());
    }
}
