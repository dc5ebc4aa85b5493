//! The span-preserving JSON walker that key lookup (`lookup.rs`) and `cm retrieve`'s
//! object expansion (`output.rs`) share.
//!
//! A value is validated with `serde_json` first; only then is its text walked into a [`Tree`]
//! of nodes, each with its byte span in the source. Keeping spans rather than building a
//! `serde_json::Value` keeps a value's own text: numbers are not reparsed (a 20-digit id stays
//! exact), object members stay in source order, and a result borrows the value whenever it
//! can. Pure: no I/O, and errors never hold a value (there are none: invalid JSON is `None`).

use std::borrow::Cow;

use serde::de::IgnoredAny;

/// Index of the root node in [`Tree::nodes`].
pub(crate) const ROOT: usize = 0;

/// A parsed JSON value: nodes in document order, each with its span in the source text.
pub(crate) struct Tree<'v> {
    text: &'v str,
    /// Every node; [`ROOT`] is the whole value.
    pub(crate) nodes: Vec<Node<'v>>,
}

/// One value of the document: its span in the source text and what it is.
pub(crate) struct Node<'v> {
    /// First byte.
    pub(crate) start: usize,
    /// One past the last byte.
    pub(crate) end: usize,
    /// What the value is.
    pub(crate) kind: Kind<'v>,
}

/// The kind of a [`Node`].
pub(crate) enum Kind<'v> {
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
    pub(crate) fn parse(value: &'v [u8]) -> Option<Tree<'v>> {
        let text = std::str::from_utf8(value).ok()?;
        serde_json::from_str::<IgnoredAny>(text).ok()?;
        Some(Tree::from_valid(text))
    }

    /// Walks `text`, which the caller has already validated as JSON with `serde_json` (any
    /// stricter validation will do, e.g. into a `serde_json::Value`).
    pub(crate) fn from_valid(text: &'v str) -> Tree<'v> {
        let mut tree = Tree {
            text,
            nodes: Vec::new(),
        };
        let mut pos = 0;
        tree.parse_value(&mut pos);
        tree
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

    /// A node's value as text: strings unquoted, everything else compact JSON.
    pub(crate) fn text_of(&self, node: usize) -> Cow<'v, [u8]> {
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
pub(crate) fn decode_string(literal: &str) -> Cow<'_, str> {
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
pub(crate) fn compact(raw: &str) -> Cow<'_, [u8]> {
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

    #[test]
    fn compact_keeps_whitespace_inside_strings() {
        assert_eq!(
            &*compact(r#"{ "a b" : [ "c \" d" , 1 ] }"#),
            br#"{"a b":["c \" d",1]}"#
        );
    }

    #[test]
    fn nodes_keep_spans_and_source_order() {
        let text = r#" {"b": [1, "x"], "a": {"c": null}} "#;
        let tree = Tree::parse(text.as_bytes()).unwrap();
        let Kind::Object(members) = &tree.nodes[ROOT].kind else {
            panic!("not an object")
        };
        let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(tree.text_of(members[0].1).as_ref(), br#"[1,"x"]"#);
        assert_eq!(tree.text_of(members[1].1).as_ref(), br#"{"c":null}"#);
        assert!(Tree::parse(b"{").is_none());
    }
}
