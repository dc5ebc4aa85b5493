//! The token grammar: which prefixes start a token, the token separator and the key
//! separator, and their validation.
//!
//! A [`Grammar`] is built once per run (from the CLI flags, the plugins found on disk and the
//! built-in providers) and then shared read-only by every [`scan`](crate::scan::scan). It
//! precomputes what the scanner needs to stay fast: a substring finder for the token separator
//! and a byte-class table for the bytes that end or split a token. No I/O happens here.

use memchr::memmem;

/// The implementation prefixes configmanager v3 knows. Any other prefix (a plugin found on disk,
/// a built-in provider of `cm`) is added with [`Grammar::with_prefixes`].
pub(crate) const CONFIGMANAGER_PREFIXES: [&str; 7] = [
    "AWSSECRETS",
    "AWSPARAMSTR",
    "AZKVSECRET",
    "AZTABLESTORE",
    "AZAPPCONF",
    "GCPSECRETS",
    "VAULT",
];

/// configmanager's default token separator (`AWSSECRETS://...`).
pub(crate) const DEFAULT_TOKEN_SEPARATOR: &str = "://";

/// Invalid separators. The messages are configmanager's, so scripts that grep for them keep
/// working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrammarError {
    /// The token separator is the empty string: every position would start a token.
    EmptyTokenSeparator,
    /// The key separator is not exactly one character.
    KeySeparatorLength,
}

/// How the scanner classifies a byte inside a path or key path.
///
/// The classes live in a 256-entry table so the inner loop of the scanner is one load and one
/// compare per byte; everything rarer than an ordinary byte leaves that loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Class {
    /// Part of the path (or key path).
    Ordinary,
    /// Ends the token and is not part of it: ASCII whitespace, quotes, `@`, `?`, `:`, `,`.
    End,
    /// `/`: ordinary, unless followed by `?` (the pair `/?` ends the token before the `/`).
    Slash,
    /// `[`: opens the metadata.
    Open,
    /// First byte of the key separator; the scanner compares the rest (it may be multi-byte).
    KeySeparator,
    /// A byte >= 0x80: part of the path only if it starts a valid UTF-8 sequence, because
    /// the plugin protocol sends the path as a protobuf `string`.
    NonAscii,
}

/// Prefix set and separators. Cheap to clone; build it once and scan many inputs with it.
#[derive(Debug, Clone)]
pub struct Grammar {
    token_separator: String,
    key_separator: char,
    /// UTF-8 encoding of `key_separator`, kept so the scanner compares bytes.
    key_separator_bytes: Box<[u8]>,
    /// Sorted and deduplicated, for [`Grammar::prefixes`].
    prefixes: Vec<String>,
    /// The same prefixes, longest first, so the first one that matches is the longest.
    by_length: Vec<String>,
    /// `ends_prefix[b]`: some prefix ends with byte `b`. Rejects most separator occurrences
    /// that are not tokens (`https://`) with one load.
    ends_prefix: [bool; 256],
    finder: memmem::Finder<'static>,
    /// Byte classes inside a path.
    path_classes: [Class; 256],
    /// Byte classes inside a key path: as in a path, except the key separator is ordinary
    /// text (configmanager keeps `a|b` in `X|a|b` as the key path).
    key_classes: [Class; 256],
}

impl Grammar {
    /// A grammar with configmanager's seven prefixes and the given separators.
    ///
    /// The token separator may be any non-empty string (older configmanager docs use `#`);
    /// the key separator must be exactly one character (any Unicode scalar, not one byte).
    pub fn new(token_separator: &str, key_separator: &str) -> Result<Grammar, GrammarError> {
        if token_separator.is_empty() {
            return Err(GrammarError::EmptyTokenSeparator);
        }
        let mut chars = key_separator.chars();
        let (Some(key_separator), None) = (chars.next(), chars.next()) else {
            return Err(GrammarError::KeySeparatorLength);
        };
        let key_separator_bytes: Box<[u8]> =
            key_separator.to_string().into_bytes().into_boxed_slice();

        let mut key_classes = base_classes();
        let mut path_classes = key_classes;
        // The key separator wins over every other class in a path, so a user who picks `:` or
        // `,` as key separator gets a working separator rather than a token that ends there.
        // In a key path it is ordinary text; a multi-byte one is then checked as UTF-8.
        let lead = key_separator_bytes[0];
        path_classes[usize::from(lead)] = Class::KeySeparator;
        key_classes[usize::from(lead)] = if lead < 0x80 {
            Class::Ordinary
        } else {
            Class::NonAscii
        };

        let mut grammar = Grammar {
            token_separator: token_separator.to_owned(),
            key_separator,
            key_separator_bytes,
            prefixes: Vec::new(),
            by_length: Vec::new(),
            ends_prefix: [false; 256],
            finder: memmem::Finder::new(token_separator.as_bytes()).into_owned(),
            path_classes,
            key_classes,
        };
        grammar.add_prefixes(CONFIGMANAGER_PREFIXES);
        Ok(grammar)
    }

    /// Adds prefixes (plugins found on disk, built-in providers such as `ENV` and `FILE`).
    /// Empty names and names already present are ignored. Matching is exact and
    /// case-sensitive, so callers pass the names as they must appear in text.
    #[must_use]
    pub fn with_prefixes<I, S>(mut self, extra: I) -> Grammar
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.add_prefixes(extra);
        self
    }

    /// The prefixes, sorted.
    pub fn prefixes(&self) -> impl Iterator<Item = &str> {
        self.prefixes.iter().map(String::as_str)
    }

    /// The token separator (`://` by default).
    pub fn token_separator(&self) -> &str {
        &self.token_separator
    }

    /// The key separator (`|` by default).
    pub fn key_separator(&self) -> char {
        self.key_separator
    }

    fn add_prefixes<I, S>(&mut self, extra: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for prefix in extra {
            let prefix = prefix.as_ref();
            if prefix.is_empty() {
                continue;
            }
            if let Err(at) = self.prefixes.binary_search_by(|p| p.as_str().cmp(prefix)) {
                self.prefixes.insert(at, prefix.to_owned());
                self.ends_prefix[usize::from(*prefix.as_bytes().last().unwrap_or(&0))] = true;
            }
        }
        self.by_length = self.prefixes.clone();
        // Stable sort on top of the alphabetical order keeps ties deterministic (two
        // different prefixes of equal length can never both end at the same position anyway).
        self.by_length.sort_by_key(|p| std::cmp::Reverse(p.len()));
    }

    /// The separator finder.
    pub(crate) fn finder(&self) -> &memmem::Finder<'static> {
        &self.finder
    }

    pub(crate) fn token_separator_len(&self) -> usize {
        self.token_separator.len()
    }

    pub(crate) fn key_separator_bytes(&self) -> &[u8] {
        &self.key_separator_bytes
    }

    pub(crate) fn path_classes(&self) -> &[Class; 256] {
        &self.path_classes
    }

    pub(crate) fn key_classes(&self) -> &[Class; 256] {
        &self.key_classes
    }

    /// Length of the longest prefix that ends exactly at `end` in `input`, if any.
    pub(crate) fn prefix_ending_at(&self, input: &[u8], end: usize) -> Option<usize> {
        let before = &input[..end];
        let &last = before.last()?;
        if !self.ends_prefix[usize::from(last)] {
            return None;
        }
        self.by_length
            .iter()
            .find(|p| before.ends_with(p.as_bytes()))
            .map(String::len)
    }
}

impl Default for Grammar {
    /// configmanager's defaults: `://` and `|`, and its seven prefixes.
    fn default() -> Self {
        Grammar::new(DEFAULT_TOKEN_SEPARATOR, "|").expect("the default separators are valid")
    }
}

/// Byte classes shared by paths and key paths, before the key separator is placed.
fn base_classes() -> [Class; 256] {
    let mut table = [Class::Ordinary; 256];
    for entry in &mut table[0x80..] {
        *entry = Class::NonAscii;
    }
    // Every ASCII whitespace ends a token (configmanager misses tab, CR and the rest), and so
    // does `,` (configmanager v3 glued `,d=...` into the path of `c=X://g/3,d=...`). VT (0x0B)
    // is included although `u8::is_ascii_whitespace` leaves it out: it is whitespace to C,
    // Go's `unicode.IsSpace` and shells.
    for &b in b" \t\n\x0B\x0C\r\"'@?:," {
        table[usize::from(b)] = Class::End;
    }
    table[usize::from(b'/')] = Class::Slash;
    table[usize::from(b'[')] = Class::Open;
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_are_validated_with_configmanager_messages() {
        let cases: &[(&str, &str, Result<(), GrammarError>)] = &[
            ("://", "|", Ok(())),
            ("#", "|", Ok(())),
            ("::", "%", Ok(())),
            ("://", "§", Ok(())),
            ("", "|", Err(GrammarError::EmptyTokenSeparator)),
            ("://", "", Err(GrammarError::KeySeparatorLength)),
            ("://", "||", Err(GrammarError::KeySeparatorLength)),
            ("://", "ab", Err(GrammarError::KeySeparatorLength)),
        ];
        for (token, key, expected) in cases {
            let got = Grammar::new(token, key).map(|_| ());
            assert_eq!(
                &got, expected,
                "token separator {token:?}, key separator {key:?}"
            );
        }
        assert_eq!(
            GrammarError::KeySeparatorLength.to_string(),
            "config validation failed, keyseparator can only be 1 character"
        );
        assert_eq!(
            GrammarError::EmptyTokenSeparator.to_string(),
            "config validation failed, tokenseparator cannot be empty"
        );
    }

    #[test]
    fn default_is_configmanagers() {
        let g = Grammar::default();
        assert_eq!(g.token_separator(), "://");
        assert_eq!(g.key_separator(), '|');
        let mut expected = CONFIGMANAGER_PREFIXES.to_vec();
        expected.sort_unstable();
        assert_eq!(g.prefixes().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn extra_prefixes_are_sorted_and_deduplicated() {
        let g = Grammar::default().with_prefixes(["FILE", "", "ENV", "VAULT", "ENV"]);
        let prefixes: Vec<_> = g.prefixes().collect();
        assert_eq!(prefixes.len(), 9);
        assert!(prefixes.windows(2).all(|w| w[0] < w[1]), "{prefixes:?}");
        assert!(prefixes.contains(&"ENV") && prefixes.contains(&"FILE"));
    }

    #[test]
    fn longest_prefix_wins() {
        let g = Grammar::default().with_prefixes(["SECRETS", "ULT"]);
        let cases: &[(&str, Option<usize>)] = &[
            ("AWSSECRETS", Some(10)),
            ("xSECRETS", Some(7)),
            ("VAULT", Some(5)),
            ("xULT", Some(3)),
            ("vault", None),
            ("", None),
            ("https", None),
        ];
        for (text, expected) in cases {
            assert_eq!(
                g.prefix_ending_at(text.as_bytes(), text.len()),
                *expected,
                "{text}"
            );
        }
    }
}
