//! The scanner: bytes in, [`Token`]s and every [`ScanError`] out.
//!
//! This module owns where a token starts and ends, how it splits into prefix, path, key path
//! and metadata, and the positions (byte span, 1-based line and byte column) reported for it.
//! It is pure: no I/O, no logging, and no allocation per byte (only per token, and only the
//! output vectors and error texts). Token text is never copied; a [`Token`] holds [`Span`]s
//! into the input and slices it on demand.
//!
//! The input need not be UTF-8. Every byte outside a token is left alone; the tokens
//! themselves are UTF-8, because the plugin protocol sends the path as a protobuf `string`
//! (a byte that is not part of valid UTF-8 ends a path or key path).
//!
//! How it works: the token separator is found with a SIMD substring search (`memmem`), and
//! each occurrence is kept only if a prefix of the [`Grammar`] ends right before it (the
//! longest one wins). That makes text without tokens cost about one pass of `memmem`, and a
//! token starting in the middle of a word is found like any other. A token runs until the
//! first byte that ends it or until the next token starts, so tokens may touch. Lines are
//! counted only between tokens, with a vectorised newline count.

use std::ops::Range;

use crate::grammar::{Class, Grammar};
use crate::position::{LineCounter, Position};

/// A half-open byte range `[start, end)` into the scanned input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (exclusive).
    pub fn new(start: usize, end: usize) -> Span {
        debug_assert!(start <= end, "span {start}..{end} is reversed");
        Span { start, end }
    }

    /// The span as a range, for slicing.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the span covers no byte.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// One token: `PREFIX SEP PATH [KEYSEP KEYPATH] ["[" METADATA "]"]`.
///
/// All spans point into the input given to [`scan`]; the accessors slice that same input and
/// must be given it (they panic on an input too short for the spans).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The whole token, from the first byte of the prefix to the last byte of the path, key
    /// path or closing `]`.
    pub span: Span,
    /// The prefix (`AWSSECRETS`).
    pub prefix: Span,
    /// The path (never empty: an empty path is a [`ScanError`]).
    pub path: Span,
    /// The key path after the key separator (never empty when present).
    pub key_path: Option<Span>,
    /// The raw text between `[` and `]` (never empty when present).
    pub metadata: Option<Span>,
    /// Line and byte column of the token's first byte.
    pub pos: Position,
}

impl Token {
    /// The whole token text.
    pub fn text<'a>(&self, input: &'a [u8]) -> &'a [u8] {
        &input[self.span.range()]
    }

    /// The prefix. Prefixes come from the [`Grammar`], so they are UTF-8.
    ///
    /// # Panics
    ///
    /// If `input` is not the input this token was scanned from.
    pub fn prefix<'a>(&self, input: &'a [u8]) -> &'a str {
        std::str::from_utf8(&input[self.prefix.range()])
            .expect("a token's prefix span covers a grammar prefix, which is UTF-8")
    }

    /// The path, as passed to the provider.
    pub fn path<'a>(&self, input: &'a [u8]) -> &'a [u8] {
        &input[self.path.range()]
    }

    /// The key path, if the token has one.
    pub fn key_path<'a>(&self, input: &'a [u8]) -> Option<&'a [u8]> {
        self.key_path.map(|s| &input[s.range()])
    }

    /// The metadata (without brackets), if the token has any.
    pub fn metadata<'a>(&self, input: &'a [u8]) -> Option<&'a [u8]> {
        self.metadata.map(|s| &input[s.range()])
    }
}

/// What is wrong with a malformed token (worded in `error.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanErrorKind {
    /// `[]`: metadata brackets with nothing (or only ASCII whitespace) between them.
    EmptyMetadata,
    /// A `[` with no `]` before the end of the line, the next token or the end of input.
    UnclosedMetadata,
    /// Nothing between the token separator and the end of the token.
    EmptyPath,
    /// A key separator with nothing after it (`AWSSECRETS:///db|`). Reported rather than
    /// dropped so a typo never silently fetches the whole value.
    EmptyKeyPath,
}

/// A malformed token, with its position (worded in `error.rs`). Scanning goes on after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    /// What is wrong.
    pub kind: ScanErrorKind,
    /// The bad token's bytes (for an unclosed `[`: up to the first blank after it).
    pub span: Span,
    /// Line and byte column of the bad token's first byte.
    pub pos: Position,
    /// The bad token's text, lossily decoded.
    pub text: String,
}

/// The result of [`scan`]: tokens and errors, each in input order and never overlapping.
#[derive(Debug, Default)]
pub struct Scan {
    /// Well-formed tokens.
    pub tokens: Vec<Token>,
    /// Malformed tokens, all of them.
    pub errors: Vec<ScanError>,
}

/// Finds every token in `input`.
pub fn scan(grammar: &Grammar, input: &[u8]) -> Scan {
    let mut out = Scan::default();
    let mut candidates = Candidates {
        grammar,
        input,
        search_from: 0,
    };
    let mut lines = LineCounter::default();

    let mut next = candidates.next_starting_at_or_after(0);
    while let Some(start) = next {
        // The next token bounds this one: where it begins, this one has ended.
        next = candidates.next_starting_at_or_after(start.body);
        let limit = next.map_or(input.len(), |n| n.start);
        let parsed = parse_body(grammar, input, start.body, limit);
        let pos = lines.locate(input, start.start);
        let span = Span::new(start.start, parsed.end);
        match parsed.error {
            None => out.tokens.push(Token {
                span,
                prefix: Span::new(start.start, start.start + start.prefix_len),
                path: parsed.path,
                key_path: parsed.key_path,
                metadata: parsed.metadata,
                pos,
            }),
            Some(kind) => out.errors.push(ScanError {
                kind,
                span,
                pos,
                text: String::from_utf8_lossy(&input[span.range()]).into_owned(),
            }),
        }
    }
    out
}

/// Where a token starts.
#[derive(Debug, Clone, Copy)]
struct Start {
    /// First byte of the prefix.
    start: usize,
    prefix_len: usize,
    /// First byte after the token separator.
    body: usize,
}

/// Token starts in input order: separator occurrences preceded by a prefix.
struct Candidates<'g, 'i> {
    grammar: &'g Grammar,
    input: &'i [u8],
    search_from: usize,
}

impl Candidates<'_, '_> {
    /// The next token start at or after `min_start`. Starts before it are dropped: their
    /// prefix overlaps the separator of the token being parsed, so they cannot be tokens.
    fn next_starting_at_or_after(&mut self, min_start: usize) -> Option<Start> {
        let sep_len = self.grammar.token_separator_len();
        loop {
            let at = self.search_from
                + self
                    .grammar
                    .finder()
                    .find(&self.input[self.search_from..])?;
            // Resume one byte later, not after the match, so a separator that overlaps itself
            // (`::` in `:::`) cannot hide the occurrence that follows a prefix.
            self.search_from = at + 1;
            if let Some(prefix_len) = self.grammar.prefix_ending_at(self.input, at) {
                let start = at - prefix_len;
                if start >= min_start {
                    return Some(Start {
                        start,
                        prefix_len,
                        body: at + sep_len,
                    });
                }
            }
        }
    }
}

/// A token body (everything after the separator), parsed.
struct Body {
    end: usize,
    path: Span,
    key_path: Option<Span>,
    metadata: Option<Span>,
    /// The first problem, in text order.
    error: Option<ScanErrorKind>,
}

/// What stopped a run of path or key-path bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The token ends here (a terminator, `/?`, invalid UTF-8, the limit).
    End,
    /// The key separator starts here.
    KeySeparator,
    /// A `[` opens the metadata here.
    Open,
}

/// Parses the token body starting at `body`; nothing at or after `limit` (the next token or
/// the end of input) belongs to it.
fn parse_body(grammar: &Grammar, input: &[u8], body: usize, limit: usize) -> Body {
    let key_separator = grammar.key_separator_bytes();
    let (path_end, mut stop) = run(grammar.path_classes(), key_separator, input, body, limit);
    let mut error = (path_end == body).then_some(ScanErrorKind::EmptyPath);
    let mut end = path_end;

    let mut key_path = None;
    if stop == Stop::KeySeparator {
        let key_start = path_end + key_separator.len();
        let (key_end, key_stop) = run(
            grammar.key_classes(),
            key_separator,
            input,
            key_start,
            limit,
        );
        if key_end == key_start {
            error.get_or_insert(ScanErrorKind::EmptyKeyPath);
        }
        key_path = Some(Span::new(key_start, key_end));
        end = key_end;
        stop = key_stop;
    }

    let mut metadata = None;
    if stop == Stop::Open {
        let inner = end + 1;
        // Metadata runs to the closing `]` whatever it holds (ARNs have `:` and `/`), but a
        // line end or the next token before it means the `]` is missing.
        let window = &input[inner..limit];
        match memchr::memchr3(b']', b'\n', b'\r', window) {
            Some(at) if window[at] == b']' => {
                let inside = Span::new(inner, inner + at);
                if window[..at].iter().all(|&b| is_blank(b)) {
                    error.get_or_insert(ScanErrorKind::EmptyMetadata);
                }
                metadata = Some(inside);
                end = inside.end + 1;
            }
            _ => {
                // Report the bad token up to the first blank, so the message stays short and
                // scanning resumes there.
                let stop_at = window
                    .iter()
                    .position(|&b| is_blank(b))
                    .map_or(limit, |at| inner + at);
                error.get_or_insert(ScanErrorKind::UnclosedMetadata);
                metadata = Some(Span::new(inner, stop_at));
                end = stop_at;
            }
        }
    }

    Body {
        end,
        path: Span::new(body, path_end),
        key_path,
        metadata,
        error,
    }
}

/// ASCII whitespace as the grammar counts it (including VT).
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r')
}

/// Consumes path (or key-path) bytes from `at` and returns where and why they stop.
fn run(
    classes: &[Class; 256],
    key_separator: &[u8],
    input: &[u8],
    mut at: usize,
    limit: usize,
) -> (usize, Stop) {
    while at < limit {
        let byte = input[at];
        match classes[usize::from(byte)] {
            Class::Ordinary => at += 1,
            Class::End => return (at, Stop::End),
            Class::Slash => {
                if at + 1 < limit && input[at + 1] == b'?' {
                    return (at, Stop::End);
                }
                at += 1;
            }
            Class::Open => return (at, Stop::Open),
            Class::KeySeparator if input[at..limit].starts_with(key_separator) => {
                return (at, Stop::KeySeparator);
            }
            Class::KeySeparator | Class::NonAscii => {
                if byte < 0x80 {
                    at += 1;
                } else {
                    match utf8_char_len(&input[at..limit]) {
                        Some(len) => at += len,
                        None => return (at, Stop::End),
                    }
                }
            }
        }
    }
    (limit, Stop::End)
}

/// Length of the valid UTF-8 character at the start of `bytes` (its first byte is >= 0x80),
/// or `None` if it is not one.
fn utf8_char_len(bytes: &[u8]) -> Option<usize> {
    let len = match bytes.first()? {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return None,
    };
    let candidate = bytes.get(..len)?;
    std::str::from_utf8(candidate).ok().map(|_| len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::render;
    use proptest::prelude::*;

    /// One line per token or error, in input order: `LINE:COL PREFIX path=.. key=.. meta=..`
    /// or `LINE:COL error: MESSAGE`. Bytes that are not printable ASCII are escaped. Checks
    /// the invariants of every scan on the way.
    fn describe(grammar: &Grammar, input: &[u8]) -> Vec<String> {
        let scanned = scan(grammar, input);
        check_invariants(grammar, input, &scanned);
        let mut lines: Vec<(usize, String)> = Vec::new();
        for t in &scanned.tokens {
            let mut line = format!(
                "{}:{} {} path={}",
                t.pos.line,
                t.pos.column,
                t.prefix(input),
                t.path(input).escape_ascii()
            );
            if let Some(key) = t.key_path(input) {
                line += &format!(" key={}", key.escape_ascii());
            }
            if let Some(meta) = t.metadata(input) {
                line += &format!(" meta={}", meta.escape_ascii());
            }
            lines.push((t.span.start, line));
        }
        for e in &scanned.errors {
            lines.push((
                e.span.start,
                format!("{}:{} error: {e}", e.pos.line, e.pos.column),
            ));
        }
        lines.sort();
        lines.into_iter().map(|(_, l)| l).collect()
    }

    /// What must hold for any input: order, no overlap, structure, positions, round trip.
    fn check_invariants(grammar: &Grammar, input: &[u8], scanned: &Scan) {
        let mut spans: Vec<(Span, usize, usize)> = Vec::new();
        for t in &scanned.tokens {
            assert_eq!(t.prefix.start, t.span.start);
            assert!(grammar.prefixes().any(|p| p == t.prefix(input)));
            assert_eq!(
                &input[t.prefix.end..t.path.start],
                grammar.token_separator().as_bytes()
            );
            assert!(!t.path.is_empty(), "empty path in {t:?}");
            let mut end = t.path.end;
            if let Some(key) = t.key_path {
                assert_eq!(&input[end..key.start], grammar.key_separator_bytes());
                assert!(!key.is_empty(), "empty key path in {t:?}");
                end = key.end;
            }
            if let Some(meta) = t.metadata {
                assert_eq!(meta.start, end + 1);
                assert_eq!(input[end], b'[');
                assert_eq!(input[meta.end], b']');
                assert!(!meta.is_empty());
                end = meta.end + 1;
            }
            assert_eq!(t.span.end, end, "token {t:?}");
            // The parts a provider sees are UTF-8 (the path goes out as a protobuf string).
            assert!(std::str::from_utf8(t.path(input)).is_ok());
            assert!(
                t.key_path(input)
                    .is_none_or(|k| std::str::from_utf8(k).is_ok())
            );
            spans.push((t.span, t.pos.line, t.pos.column));
        }
        for e in &scanned.errors {
            assert!(!e.span.is_empty());
            assert_eq!(e.text, String::from_utf8_lossy(&input[e.span.range()]));
            spans.push((e.span, e.pos.line, e.pos.column));
        }
        for list in [
            scanned.tokens.iter().map(|t| t.span).collect::<Vec<_>>(),
            scanned.errors.iter().map(|e| e.span).collect(),
        ] {
            assert!(list.windows(2).all(|w| w[0].end <= w[1].start), "{list:?}");
        }
        spans.sort();
        for pair in spans.windows(2) {
            assert!(pair[0].0.end <= pair[1].0.start, "overlap: {pair:?}");
        }
        for (span, line, column) in spans {
            let before = &input[..span.start];
            let naive_line = 1 + before.iter().filter(|&&b| b == b'\n').count();
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            assert_eq!(
                (line, column),
                (naive_line, span.start - line_start + 1),
                "{span:?}"
            );
        }
        let same = render(
            input,
            scanned.tokens.iter().map(|t| (t.span, t.text(input))),
        );
        assert_eq!(same, input);
    }

    fn grammar(token_separator: &str, key_separator: &str) -> Grammar {
        Grammar::new(token_separator, key_separator).unwrap()
    }

    #[test]
    fn scans_the_grammar() {
        let default = Grammar::default();
        let hash = grammar("#", "|");
        let percent = grammar("://", "%");
        let section = grammar("://", "§");
        let colon_key = grammar("://", ":");
        let extra = Grammar::default().with_prefixes(["ENV", "FILE", "SECRETS", "XVAULT"]);
        #[rustfmt::skip]
        let cases: &[(&str, &Grammar, &[u8], &[&str])] = &[
            ("no token", &default, b"plain text https://example.com", &[]),
            ("empty input", &default, b"", &[]),
            ("unknown prefix", &default, b"GCPPARAMSTR://x awssecrets://y", &[]),
            ("prefix without separator", &default, b"AWSSECRETS/x VAULT:/y", &[]),
            ("single word at end keeps its path", &default, b"AWSPARAMSTR://err",
                &["1:1 AWSPARAMSTR path=err"]),
            ("full token", &default, b"AWSSECRETS:///app1/db|lookup.inside[version=2,label=dev]",
                &["1:1 AWSSECRETS path=/app1/db key=lookup.inside meta=version=2,label=dev"]),
            ("url template: five tokens", &default,
                b"proto://AWSPARAMSTR:///config|user:AWSSECRETS:///creds|password@AWSPARAMSTR:///config|endpoint:AWSPARAMSTR:///config|port/?q=AWSPARAMSTR:///config|qp2",
                &[
                    "1:9 AWSPARAMSTR path=/config key=user",
                    "1:36 AWSSECRETS path=/creds key=password",
                    "1:65 AWSPARAMSTR path=/config key=endpoint",
                    "1:96 AWSPARAMSTR path=/config key=port",
                    "1:126 AWSPARAMSTR path=/config key=qp2",
                ]),
            ("touching tokens", &default, b"foo=AWSPARAMSTR:///path|keyAWSSECRETS:///foo",
                &["1:5 AWSPARAMSTR path=/path key=key", "1:28 AWSSECRETS path=/foo"]),
            ("touching after a path", &default, b"VAULT://aVAULT://b",
                &["1:1 VAULT path=a", "1:10 VAULT path=b"]),
            ("touching after metadata", &default, b"VAULT://a[v=1]VAULT://b]",
                &["1:1 VAULT path=a meta=v=1", "1:15 VAULT path=b]"]),
            ("mid-word", &default, b"RenaissanceAWSPARAMSTR:///x1 text",
                &["1:12 AWSPARAMSTR path=/x1"]),
            ("hash separator", &hash, b"a=AWSSECRETS#/a/b|k.j b=VAULT#x#y c=AWSSECRETS:///z #VAULT",
                &["1:3 AWSSECRETS path=/a/b key=k.j", "1:25 VAULT path=x#y"]),
            ("tab ends a token", &default, b"a=AWSPARAMSTR:///x\tb=AWSSECRETS:///y",
                &["1:3 AWSPARAMSTR path=/x", "1:22 AWSSECRETS path=/y"]),
            ("CRLF line ends", &default, b"a=AWSPARAMSTR:///x\r\nb=AWSSECRETS:///y|k\r\n\r\n  VAULT://z\r\n",
                &["1:3 AWSPARAMSTR path=/x", "2:3 AWSSECRETS path=/y key=k", "4:3 VAULT path=z"]),
            ("every ASCII whitespace ends a token", &default,
                b"VAULT://a VAULT://b\tVAULT://c\nVAULT://d\x0BVAULT://e\x0CVAULT://f\rVAULT://g",
                &[
                    "1:1 VAULT path=a", "1:11 VAULT path=b", "1:21 VAULT path=c",
                    "2:1 VAULT path=d", "2:11 VAULT path=e", "2:21 VAULT path=f",
                    "2:31 VAULT path=g",
                ]),
            ("quotes end a token", &default, br#"x="AWSSECRETS:///a" y='VAULT://b|c'"#,
                &["1:4 AWSSECRETS path=/a", "1:24 VAULT path=b key=c"]),
            ("@ ? : end a token", &default, b"VAULT://a@h VAULT://b?q VAULT://c:5 VAULT://d|k@h",
                &["1:1 VAULT path=a", "1:13 VAULT path=b", "1:25 VAULT path=c", "1:37 VAULT path=d key=k"]),
            ("/? ends a token before the slash", &default, b"VAULT://a/b/?q VAULT://c|k/?q VAULT://d/e/",
                &["1:1 VAULT path=a/b", "1:16 VAULT path=c key=k", "1:31 VAULT path=d/e/"]),
            ("comma ends path and key path", &default,
                b"[AWSSECRETS:///a, AWSSECRETS:///b|k,x] c=GCPSECRETS://g/3,d=x",
                &["1:2 AWSSECRETS path=/a", "1:19 AWSSECRETS path=/b key=k", "1:42 GCPSECRETS path=g/3"]),
            ("comma kept in metadata", &default, b"VAULT://a[x=1,y=2],z",
                &["1:1 VAULT path=a meta=x=1,y=2"]),
            ("ARN metadata", &default,
                b"VAULT://baz/bar/123|d88[role=arn:aws:iam::1111111:role/i-orchestration,version=1082313]",
                &["1:1 VAULT path=baz/bar/123 key=d88 meta=role=arn:aws:iam::1111111:role/i-orchestration,version=1082313"]),
            ("metadata with ? @ = and blanks", &default, b"VAULT://a[q=x?y@z=w, v=2]",
                &["1:1 VAULT path=a meta=q=x?y@z=w, v=2"]),
            ("metadata without key path, text after", &default, b"VAULT://a[v=2]rest",
                &["1:1 VAULT path=a meta=v=2"]),
            ("second key separator belongs to the key path", &default, b"VAULT://a|b|c.d",
                &["1:1 VAULT path=a key=b|c.d"]),
            ("ordinary key separator works mid-word", &percent, b"AWSSECRETS:///db%host x=VAULT://a%b%c",
                &["1:1 AWSSECRETS path=/db key=host", "1:25 VAULT path=a key=b%c"]),
            ("pipe is ordinary with another key separator", &percent, b"VAULT://a|b",
                &["1:1 VAULT path=a|b"]),
            ("multi-byte key separator", &section, "VAULT://a§b.c VAULT://§".as_bytes(),
                &["1:1 VAULT path=a key=b.c", "1:16 error: path cannot be empty in token `VAULT://§`"]),
            ("key separator wins over a terminator", &colon_key, b"VAULT://a:b:c",
                &["1:1 VAULT path=a key=b:c"]),
            ("extra prefixes", &extra, b"ENV://HOME FILE:///etc/x|a",
                &["1:1 ENV path=HOME", "1:12 FILE path=/etc/x key=a"]),
            ("longest prefix wins", &extra, b"AWSSECRETS://a XVAULT://b SECRETS://c",
                &["1:1 AWSSECRETS path=a", "1:16 XVAULT path=b", "1:27 SECRETS path=c"]),
            ("prefixes are case-sensitive", &extra, b"Env://x env://y", &[]),
            ("non-UTF-8 bytes next to tokens", &default,
                b"\xffAWSSECRETS:///a\xfe\xc3\xa9VAULT://caf\xc3\xa9\xff\xc3",
                &["1:2 AWSSECRETS path=/a", "1:20 VAULT path=caf\\xc3\\xa9"]),
            ("truncated UTF-8 ends a path", &default, b"VAULT://a\xe2\x82",
                &["1:1 VAULT path=a"]),
            ("non-UTF-8 bytes in metadata are kept", &default, b"VAULT://a[k=\xff]",
                &["1:1 VAULT path=a meta=k=\\xff"]),
            ("lines and columns", &default, b"one\ntwo VAULT://a\n\nx VAULT://b VAULT://c\n",
                &["2:5 VAULT path=a", "4:3 VAULT path=b", "4:13 VAULT path=c"]),
            ("empty path", &default, b"AWSSECRETS:// x",
                &["1:1 error: path cannot be empty in token `AWSSECRETS://`"]),
            ("empty path at end of input", &default, b"x=AWSSECRETS://",
                &["1:3 error: path cannot be empty in token `AWSSECRETS://`"]),
            ("empty path with a key path", &default, b"AWSSECRETS://|k[v=1] VAULT://ok",
                &["1:1 error: path cannot be empty in token `AWSSECRETS://|k[v=1]`", "1:22 VAULT path=ok"]),
            ("empty path before the next token", &default, b"VAULT://VAULT://x",
                &["1:1 error: path cannot be empty in token `VAULT://`", "1:9 VAULT path=x"]),
            ("empty key path", &default, b"VAULT://a| VAULT://b|",
                &["1:1 error: key path cannot be empty in token `VAULT://a|`",
                  "1:12 error: key path cannot be empty in token `VAULT://b|`"]),
            ("empty metadata", &default, b"VAULT://a[] VAULT://b|k[ ]",
                &["1:1 error: metadata brackets must include at least one set of key=value pairs in token `VAULT://a[]`",
                  "1:13 error: metadata brackets must include at least one set of key=value pairs in token `VAULT://b|k[ ]`"]),
            ("unclosed metadata, scanning goes on", &default, b"VAULT://a[v=1 x VAULT://b\nVAULT://c[v=2\r\nVAULT://d",
                &["1:1 error: no corresponding end tag found in token `VAULT://a[v=1`",
                  "1:17 VAULT path=b",
                  "2:1 error: no corresponding end tag found in token `VAULT://c[v=2`",
                  "3:1 VAULT path=d"]),
            ("unclosed metadata at end of input", &default, b"VAULT://a[v=1",
                &["1:1 error: no corresponding end tag found in token `VAULT://a[v=1`"]),
            ("metadata cannot contain the next token", &default, b"VAULT://a[x=VAULT://b]",
                &["1:1 error: no corresponding end tag found in token `VAULT://a[x=`", "1:13 VAULT path=b]"]),
            ("all errors are reported, with their positions", &default,
                b"AWSSECRETS://\n  VAULT://x[]\n\tVAULT://ok|k\nVAULT://y[",
                &["1:1 error: path cannot be empty in token `AWSSECRETS://`",
                  "2:3 error: metadata brackets must include at least one set of key=value pairs in token `VAULT://x[]`",
                  "3:2 VAULT path=ok key=k",
                  "4:1 error: no corresponding end tag found in token `VAULT://y[`"]),
            ("error text is lossy UTF-8", &default, b"VAULT://a|\xff",
                &["1:1 error: key path cannot be empty in token `VAULT://a|`"]),
            ("self-overlapping separator", &grammar("::", "|"), b"VAULT:::x VAULT::y",
                &["1:1 error: path cannot be empty in token `VAULT::`", "1:11 VAULT path=y"]),
        ];
        for (name, grammar, input, expected) in cases {
            assert_eq!(describe(grammar, input), *expected, "case: {name}");
        }
    }

    #[test]
    fn error_messages() {
        let input = b"x\n  VAULT://a[]";
        let scanned = scan(&Grammar::default(), input);
        assert_eq!(
            scanned.errors,
            [ScanError {
                kind: ScanErrorKind::EmptyMetadata,
                span: Span::new(4, 15),
                pos: Position { line: 2, column: 3 },
                text: "VAULT://a[]".into(),
            }]
        );
        let kinds = [
            (
                ScanErrorKind::EmptyMetadata,
                "metadata brackets must include at least one set of key=value pairs",
            ),
            (
                ScanErrorKind::UnclosedMetadata,
                "no corresponding end tag found",
            ),
            (ScanErrorKind::EmptyPath, "path cannot be empty"),
            (ScanErrorKind::EmptyKeyPath, "key path cannot be empty"),
        ];
        for (kind, message) in kinds {
            assert_eq!(kind.to_string(), message);
        }
    }

    #[test]
    fn token_accessors() {
        let input = b"- AWSSECRETS:///db|conn.host[v=2] -";
        let token = &scan(&Grammar::default(), input).tokens[0];
        assert_eq!(token.text(input), b"AWSSECRETS:///db|conn.host[v=2]");
        assert_eq!(token.prefix(input), "AWSSECRETS");
        assert_eq!(token.path(input), b"/db");
        assert_eq!(token.key_path(input), Some(&b"conn.host"[..]));
        assert_eq!(token.metadata(input), Some(&b"v=2"[..]));
        assert_eq!((token.pos.line, token.pos.column), (1, 3));
        assert_eq!(token.span.len(), 31);
        assert_eq!(token.span.range(), 2..33);
    }

    #[test]
    fn line_counter_matches_a_naive_count_over_many_lines() {
        let mut input = Vec::new();
        for i in 0..2000 {
            input.extend_from_slice(b"some text ");
            if i % 7 == 0 {
                input.extend_from_slice(b"VAULT://x ");
            }
            input.extend_from_slice(if i % 3 == 0 { b"\r\n" } else { b"\n" });
        }
        let scanned = scan(&Grammar::default(), &input);
        assert_eq!(scanned.tokens.len(), 286);
        check_invariants(&Grammar::default(), &input, &scanned);
    }

    // --- property tests ---------------------------------------------------------------

    /// Whole token starts, so tokens are frequent (random bytes almost never form one).
    const STARTS: &[&[u8]] = &[
        b"AWSSECRETS://",
        b"VAULT://",
        b"XVAULT://",
        b"SECRETS://",
        b"ENV://",
        b"VAULT#",
        b"AWSSECRETS::",
        b"VAULT/",
    ];

    /// Everything else the grammar cares about, and some bytes it does not.
    const FRAGMENTS: &[&[u8]] = &[
        b"AWSSECRETS",
        b"VAULT",
        b"X",
        b"://",
        b":",
        b"/",
        b"//",
        b"?",
        b"/?",
        b"|",
        b"|k",
        b"%",
        b"#",
        b"[",
        b"]",
        b"[k=v]",
        b"k=v",
        b",",
        b" ",
        b"\t",
        b"\n",
        b"\r\n",
        b"\x0B",
        b"\"",
        b"'",
        b"@",
        b"a",
        b"/p",
        b"b.c",
        b"0",
        "\u{e9}".as_bytes(),
        b"\xff",
        b"\xe2\x82",
    ];

    /// Inputs built from token starts, grammar fragments and random bytes.
    fn tokenish() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            1 => prop::sample::select(STARTS).prop_map(<[u8]>::to_vec),
            6 => prop::sample::select(FRAGMENTS).prop_map(<[u8]>::to_vec),
            1 => any::<u8>().prop_map(|b| vec![b]),
        ];
        prop::collection::vec(piece, 0..48).prop_map(|pieces| pieces.concat())
    }

    fn grammars() -> Vec<Grammar> {
        vec![
            Grammar::default(),
            Grammar::default().with_prefixes(["ENV", "XVAULT", "SECRETS"]),
            grammar("#", "%"),
            grammar("::", ":"),
            grammar("/", "é"),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..600)) {
            for g in grammars() {
                let scanned = scan(&g, &input);
                check_invariants(&g, &input, &scanned);
            }
        }

        #[test]
        fn tokenish_inputs_keep_the_invariants(input in tokenish()) {
            for g in grammars() {
                let scanned = scan(&g, &input);
                check_invariants(&g, &input, &scanned);
            }
        }

        #[test]
        fn agrees_with_a_naive_model(input in tokenish()) {
            let g = Grammar::default().with_prefixes(["ENV", "XVAULT", "SECRETS"]);
            let scanned = scan(&g, &input);
            let mut got: Vec<Model> = scanned
                .tokens
                .iter()
                .map(|t| Model { span: t.span, path: t.path, key: t.key_path, meta: t.metadata, error: None })
                .collect();
            got.extend(scanned.errors.iter().map(|e| Model {
                span: e.span, path: Span::new(0, 0), key: None, meta: None, error: Some(e.kind),
            }));
            got.sort_by_key(|m| m.span.start);
            let prefixes: Vec<&str> = g.prefixes().collect();
            prop_assert_eq!(got, model(&prefixes, &input));
        }
    }

    /// What the naive model says about one token (or error: then only span and kind).
    #[derive(Debug, PartialEq)]
    struct Model {
        span: Span,
        path: Span,
        key: Option<Span>,
        meta: Option<Span>,
        error: Option<ScanErrorKind>,
    }

    /// A slow, byte-at-a-time reading of the grammar (separator `://`, key separator `|`),
    /// written without the scanner's tables and searches, to check them against.
    fn model(prefixes: &[&str], input: &[u8]) -> Vec<Model> {
        const SEP: &[u8] = b"://";
        // Token starts: for every separator occurrence, the longest prefix right before it.
        let mut starts = Vec::new();
        for at in 0..input.len() {
            if !input[at..].starts_with(SEP) {
                continue;
            }
            let longest =
                (0..at).find(|&from| prefixes.iter().any(|p| p.as_bytes() == &input[from..at]));
            if let Some(from) = longest {
                starts.push((from, at + SEP.len()));
            }
        }
        let mut kept: Vec<(usize, usize)> = Vec::new();
        for (start, body) in starts {
            if kept.last().is_none_or(|&(_, prev_body)| start >= prev_body) {
                kept.push((start, body));
            }
        }

        let ends = |b: u8| b" \t\n\x0B\x0C\r\"'@?:,".contains(&b);
        // Length of the path-like run from `from`; `key_sep_is_text` in a key path.
        let walk = |from: usize, limit: usize, key_sep_is_text: bool| -> usize {
            let mut at = from;
            while at < limit {
                let b = input[at];
                if (b == b'|' && !key_sep_is_text) || b == b'[' || ends(b) {
                    break;
                }
                if b == b'/' && input.get(at + 1) == Some(&b'?') && at + 1 < limit {
                    break;
                }
                if b >= 0x80 {
                    let valid = input[at..limit]
                        .utf8_chunks()
                        .next()
                        .map_or("", |c| c.valid());
                    match valid.chars().next() {
                        Some(c) => at += c.len_utf8(),
                        None => break,
                    }
                    continue;
                }
                at += 1;
            }
            at
        };

        let mut out = Vec::new();
        for (i, &(start, body)) in kept.iter().enumerate() {
            let limit = kept.get(i + 1).map_or(input.len(), |&(next, _)| next);
            let path_end = walk(body, limit, false);
            let mut error = (path_end == body).then_some(ScanErrorKind::EmptyPath);
            let mut end = path_end;
            let mut key = None;
            if end < limit && input[end] == b'|' {
                let key_end = walk(end + 1, limit, true);
                if key_end == end + 1 && error.is_none() {
                    error = Some(ScanErrorKind::EmptyKeyPath);
                }
                key = Some(Span::new(end + 1, key_end));
                end = key_end;
            }
            let mut meta = None;
            if end < limit && input[end] == b'[' {
                let inner = end + 1;
                let close = (inner..limit).find(|&j| matches!(input[j], b']' | b'\n' | b'\r'));
                match close {
                    Some(j) if input[j] == b']' => {
                        if input[inner..j].iter().all(|&b| b" \t\x0B\x0C".contains(&b))
                            && error.is_none()
                        {
                            error = Some(ScanErrorKind::EmptyMetadata);
                        }
                        meta = Some(Span::new(inner, j));
                        end = j + 1;
                    }
                    _ => {
                        let stop = (inner..limit)
                            .find(|&j| b" \t\n\x0B\x0C\r".contains(&input[j]))
                            .unwrap_or(limit);
                        if error.is_none() {
                            error = Some(ScanErrorKind::UnclosedMetadata);
                        }
                        end = stop;
                    }
                }
            }
            let span = Span::new(start, end);
            out.push(match error {
                None => Model {
                    span,
                    path: Span::new(body, path_end),
                    key,
                    meta,
                    error: None,
                },
                Some(kind) => Model {
                    span,
                    path: Span::new(0, 0),
                    key: None,
                    meta: None,
                    error: Some(kind),
                },
            });
        }
        out
    }
}
