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
//! validated with `serde_json`, then walked here as a tree of spans. Pure: no I/O.

use std::borrow::Cow;

use serde::de::IgnoredAny;

/// Why a key path gave no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No node at the key path, neither from the root nor anywhere below it.
    #[error("key path `{0}` not found in the value")]
    NotFound(String),
    /// Not at the root, and at more than one place below it.
    #[error("key path `{key}` is ambiguous: {matches} matches")]
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

    let found = match tree.follow(ROOT, &segments) {
        Some(node) => node,
        None => {
            let mut matches = (0..tree.nodes.len()).filter_map(|n| tree.follow(n, &segments));
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

/// Index of the root node in [`Tree::nodes`].
const ROOT: usize = 0;

/// A parsed JSON value: nodes in document order, each with its span in the source text.
struct Tree<'v> {
    text: &'v str,
    nodes: Vec<Node<'v>>,
}

struct Node<'v> {
    start: usize,
    end: usize,
    kind: Kind<'v>,
}

enum Kind<'v> {
    /// Members in document order: decoded key and node index. A duplicated key resolves to
    /// its last member, as in `serde_json` and Go's `encoding/json`.
    Object(Vec<(Cow<'v, str>, usize)>),
    Array(Vec<usize>),
    String,
    /// Number, `true`, `false` or `null`.
    Scalar,
}

impl<'v> Tree<'v> {
    /// Parses `value`, or `None` if it is not JSON (or nested deeper than `serde_json`
    /// accepts, which bounds the recursion below).
    fn parse(value: &'v [u8]) -> Option<Tree<'v>> {
        let text = std::str::from_utf8(value).ok()?;
        serde_json::from_str::<IgnoredAny>(text).ok()?;
        let mut tree = Tree {
            text,
            nodes: Vec::new(),
        };
        let mut pos = 0;
        tree.parse_value(&mut pos);
        Some(tree)
    }

    /// Parses one value at `*pos` (after optional whitespace) of text already known to be
    /// valid JSON, and returns its node index.
    fn parse_value(&mut self, pos: &mut usize) -> usize {
        let bytes = self.text.as_bytes();
        self.skip_whitespace(pos);
        let index = self.nodes.len();
        let start = *pos;
        self.nodes.push(Node {
            start,
            end: start,
            kind: Kind::Scalar,
        });
        let kind = match bytes[start] {
            b'{' => {
                *pos += 1;
                let mut members = Vec::new();
                loop {
                    self.skip_whitespace(pos);
                    match bytes[*pos] {
                        b'}' => break,
                        b',' => *pos += 1,
                        _ => {
                            let key_start = *pos;
                            self.skip_string(pos);
                            let key = decode_string(&self.text[key_start..*pos]);
                            self.skip_whitespace(pos);
                            *pos += 1; // the ':'
                            let child = self.parse_value(pos);
                            members.push((key, child));
                        }
                    }
                }
                *pos += 1;
                Kind::Object(members)
            }
            b'[' => {
                *pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_whitespace(pos);
                    match bytes[*pos] {
                        b']' => break,
                        b',' => *pos += 1,
                        _ => items.push(self.parse_value(pos)),
                    }
                }
                *pos += 1;
                Kind::Array(items)
            }
            b'"' => {
                self.skip_string(pos);
                Kind::String
            }
            _ => {
                while *pos < bytes.len()
                    && !matches!(
                        bytes[*pos],
                        b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'
                    )
                {
                    *pos += 1;
                }
                Kind::Scalar
            }
        };
        self.nodes[index].end = *pos;
        self.nodes[index].kind = kind;
        index
    }

    fn skip_whitespace(&self, pos: &mut usize) {
        let bytes = self.text.as_bytes();
        while *pos < bytes.len() && matches!(bytes[*pos], b' ' | b'\t' | b'\n' | b'\r') {
            *pos += 1;
        }
    }

    /// Moves `*pos` from an opening quote to just past the closing one.
    fn skip_string(&self, pos: &mut usize) {
        let bytes = self.text.as_bytes();
        *pos += 1;
        loop {
            match bytes[*pos] {
                b'"' => break,
                b'\\' => *pos += 2,
                _ => *pos += 1,
            }
        }
        *pos += 1;
    }

    /// The node reached by following `segments` from `from`, if any.
    fn follow(&self, from: usize, segments: &[&str]) -> Option<usize> {
        segments
            .iter()
            .try_fold(from, |node, segment| match &self.nodes[node].kind {
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

    /// A node's value as text: strings unquoted, everything else compact JSON.
    fn text_of(&self, node: usize) -> Cow<'v, [u8]> {
        let node = &self.nodes[node];
        let raw = &self.text[node.start..node.end];
        match node.kind {
            Kind::String => match decode_string(raw) {
                Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
                Cow::Owned(s) => Cow::Owned(s.into_bytes()),
            },
            Kind::Scalar => Cow::Borrowed(raw.as_bytes()),
            Kind::Object(_) | Kind::Array(_) => compact(raw),
        }
    }
}

/// The contents of a JSON string literal (quotes included in `literal`), unescaped.
fn decode_string(literal: &str) -> Cow<'_, str> {
    let inner = &literal[1..literal.len() - 1];
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    // Escapes are rare in keys and values; serde_json knows all of them (and surrogate pairs).
    // It refuses a lone surrogate (`"\ud800"`), which the grammar-only validation lets through
    // (found by `cargo fuzz run lookup`): that escape becomes U+FFFD, as Go's encoding/json
    // and JavaScript's decoders do.
    match serde_json::from_str(literal) {
        Ok(s) => Cow::Owned(s),
        Err(_) => Cow::Owned(unescape_lossy(inner)),
    }
}

/// Unescapes the inside of a JSON string known to match the grammar, turning any unpaired
/// surrogate into U+FFFD.
fn unescape_lossy(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    let hex4 = |chars: &mut std::str::Chars<'_>| {
        let digits: String = chars.by_ref().take(4).collect();
        u32::from_str_radix(&digits, 16).unwrap_or(0xFFFD)
    };
    let mut pending_high: Option<u32> = None;
    while let Some(c) = chars.next() {
        if c != '\\' {
            if pending_high.take().is_some() {
                out.push('\u{FFFD}');
            }
            out.push(c);
            continue;
        }
        let escaped = chars.next().unwrap_or('\\');
        if escaped != 'u' {
            if pending_high.take().is_some() {
                out.push('\u{FFFD}');
            }
            out.push(match escaped {
                'b' => '\u{8}',
                'f' => '\u{c}',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                other => other, // `"`, `\\`, `/`
            });
            continue;
        }
        let unit = hex4(&mut chars);
        match (pending_high.take(), unit) {
            (Some(high), 0xDC00..=0xDFFF) => {
                let code = 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00);
                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            (high, 0xD800..=0xDBFF) => {
                if high.is_some() {
                    out.push('\u{FFFD}');
                }
                pending_high = Some(unit);
            }
            (high, _) => {
                if high.is_some() {
                    out.push('\u{FFFD}');
                }
                out.push(char::from_u32(unit).unwrap_or('\u{FFFD}'));
            }
        }
    }
    if pending_high.is_some() {
        out.push('\u{FFFD}');
    }
    out
}

/// `raw` (valid JSON) without the whitespace between tokens; strings are kept verbatim.
fn compact(raw: &str) -> Cow<'_, [u8]> {
    let bytes = raw.as_bytes();
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    if !bytes.iter().copied().any(is_space) {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
            out.push(b);
        } else if !is_space(b) {
            out.push(b);
        }
    }
    Cow::Owned(out)
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

    #[test]
    fn compact_keeps_whitespace_inside_strings() {
        assert_eq!(
            &*compact(r#"{ "a b" : [ "c \" d" , 1 ] }"#),
            br#"{"a b":["c \" d",1]}"#
        );
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
