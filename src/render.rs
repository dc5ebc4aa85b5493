//! Rendering: splice values into the input at token spans.
//!
//! This module owns the one rule of output text: every byte outside a replaced span is copied
//! unchanged, and each span is replaced by its value exactly once, at its own position.
//! Values are never scanned again, so a value that looks like a token stays literal. (This
//! fixes configmanager, which replaces with a sorted string replacer: with tokens `X` and
//! `X|host` in one input, `X|host` became X's value followed by `|host`.) Which spans to
//! replace, and with what, is the caller's business: in lax mode it simply leaves failed
//! tokens out. Pure: no I/O.

use crate::scan::Span;

/// Returns `input` with each span replaced by its value.
///
/// `replacements` must be in ascending span order, not overlapping and inside `input`
/// (as [`scan`](crate::scan::scan) produces them); this is checked in debug builds.
pub fn render<'a, I>(input: &[u8], replacements: I) -> Vec<u8>
where
    I: IntoIterator<Item = (Span, &'a [u8])>,
{
    let mut out = Vec::with_capacity(input.len());
    render_into(input, replacements, &mut out);
    out
}

/// Like [`render`], appending to `out` (so a buffer can be reused across inputs).
pub(crate) fn render_into<'a, I>(input: &[u8], replacements: I, out: &mut Vec<u8>)
where
    I: IntoIterator<Item = (Span, &'a [u8])>,
{
    // Values are usually about as long as the tokens they replace.
    out.reserve(input.len());
    let mut copied = 0;
    for (span, value) in replacements {
        debug_assert!(
            span.start >= copied && span.start <= span.end && span.end <= input.len(),
            "replacement {span:?} is out of order, overlapping or outside the input (copied up to {copied}, input length {})",
            input.len()
        );
        out.extend_from_slice(&input[copied..span.start]);
        out.extend_from_slice(value);
        copied = span.end;
    }
    out.extend_from_slice(&input[copied..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::Grammar;
    use crate::scan::scan;

    #[test]
    fn replaces_spans_and_keeps_every_other_byte() {
        /// (name, input, replacements as (start, end, value), expected output)
        type Case<'a> = (&'a str, &'a [u8], &'a [(usize, usize, &'a str)], &'a [u8]);
        let cases: &[Case] = &[
            ("nothing to replace", b"a\xffb", &[], b"a\xffb"),
            ("empty input", b"", &[], b""),
            ("whole input", b"abc", &[(0, 3, "X")], b"X"),
            (
                "start and end",
                b"abcde",
                &[(0, 1, "1"), (4, 5, "5")],
                b"1bcd5",
            ),
            (
                "touching spans",
                b"abcd",
                &[(0, 2, "x"), (2, 4, "y")],
                b"xy",
            ),
            ("longer value", b"a-b", &[(1, 2, "---")], b"a---b"),
            ("empty value", b"a-b", &[(1, 2, "")], b"ab"),
            ("empty span inserts", b"ab", &[(1, 1, "+")], b"a+b"),
            ("bytes kept", b"\r\n\xfe-\xfe", &[(2, 3, "")], b"\r\n-\xfe"),
        ];
        for (name, input, replacements, expected) in cases {
            let got = render(
                input,
                replacements
                    .iter()
                    .map(|&(s, e, v)| (Span::new(s, e), v.as_bytes())),
            );
            assert_eq!(
                got.escape_ascii().to_string(),
                expected.escape_ascii().to_string(),
                "{name}"
            );
        }
    }

    #[test]
    fn render_into_appends() {
        let mut out = b"head:".to_vec();
        render_into(b"abc", [(Span::new(1, 2), &b"B"[..])], &mut out);
        assert_eq!(out, b"head:aBc");
    }

    /// configmanager's sorted replacer left `|host` behind when `X` and `X|host` were both in
    /// the input; each token is replaced at its own span here.
    #[test]
    fn prefix_token_does_not_eat_its_longer_sibling() {
        let input = b"a=AWSSECRETS:///db b=AWSSECRETS:///db|host";
        let scanned = scan(&Grammar::default(), input);
        assert_eq!(scanned.tokens.len(), 2);
        let values: [&[u8]; 2] = [br#"{"host":"h"}"#, b"h"];
        let out = render(
            input,
            scanned.tokens.iter().zip(values).map(|(t, v)| (t.span, v)),
        );
        assert_eq!(out, br#"a={"host":"h"} b=h"#);
    }

    #[test]
    fn values_are_not_rescanned() {
        let input = b"x=VAULT://a";
        let scanned = scan(&Grammar::default(), input);
        let value: &[u8] = b"AWSSECRETS://looks-like-a-token";
        let out = render(input, scanned.tokens.iter().map(|t| (t.span, value)));
        assert_eq!(out, b"x=AWSSECRETS://looks-like-a-token");
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "out of order")]
    fn out_of_order_replacements_are_caught_in_debug_builds() {
        let _ = render(
            b"abcdef",
            [(Span::new(3, 4), &b""[..]), (Span::new(1, 2), &b""[..])],
        );
    }
}
