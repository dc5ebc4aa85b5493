//! `cm exec --env-file`: reads dotenv files the way python-dotenv does, so that what
//! `cm retrieve --format dotenv` writes (and hand-written `.env` files) read back exactly.
//!
//! - `NAME=value` per line, `export ` before the name allowed; blank lines and `#` comments
//!   skipped. Names are environment-variable names (`[A-Za-z_][A-Za-z0-9_]*`).
//! - Unquoted values end at the line's end or at ` #`, and are trimmed.
//! - `'single'` quotes are literal but for `\'` and `\\`; `"double"` quotes take the escapes
//!   `\\ \" \' \n \r \t \a \b \v \f`. Both may span lines.
//! - `${NAME}` and `${NAME:-default}` are expanded in unquoted and double-quoted values, from
//!   the variables defined before (in this file or an earlier one), then cm's environment;
//!   unset is empty. cm's dotenv output relies on this for `${:-$}` and `${:-\\}`.

use crate::position::{LineCounter, Position};

/// One variable of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The variable's name.
    pub(crate) name: String,
    /// Its value, quotes and escapes undone, `${...}` expanded.
    pub(crate) value: String,
    /// The line its name is on (1-based).
    pub(crate) line: usize,
}

/// Why a line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DotenvErrorKind {
    /// Not `NAME=...`.
    #[error("expected NAME=VALUE")]
    NotAnAssignment,
    /// The name is not an environment-variable name.
    #[error("{0:?} is not a variable name (letters, digits and _, not starting with a digit)")]
    BadName(String),
    /// A quoted value has no closing quote.
    #[error("the {0} quote is never closed")]
    Unterminated(&'static str),
    /// Text after a closing quote.
    #[error("unexpected text after the closing quote")]
    AfterQuote,
    /// `${` with no `}`.
    #[error("`${{` is never closed")]
    UnclosedBrace,
}

/// A problem in an env file, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvError {
    /// Line and byte column.
    pub pos: Position,
    /// What is wrong.
    pub kind: DotenvErrorKind,
}

/// Parses `text`; `lookup` answers `${NAME}` for names not defined earlier in the file.
pub(crate) fn parse(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Entry>, DotenvError> {
    let mut parser = Parser {
        text,
        at: 0,
        entries: Vec::new(),
    };
    while parser.at < text.len() {
        parser.line(lookup)?;
    }
    Ok(parser.entries)
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
    entries: Vec<Entry>,
}

impl<'a> Parser<'a> {
    fn pos(&self, at: usize) -> Position {
        LineCounter::default().locate(self.text.as_bytes(), at)
    }

    fn fail(&self, at: usize, kind: DotenvErrorKind) -> DotenvError {
        DotenvError {
            pos: self.pos(at),
            kind,
        }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn skip_blanks(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start_matches([' ', '\t']).len();
    }

    /// Moves past the end of the current line.
    fn next_line(&mut self) {
        self.at = self
            .rest()
            .find('\n')
            .map_or(self.text.len(), |i| self.at + i + 1);
    }

    fn line(&mut self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<(), DotenvError> {
        self.skip_blanks();
        let rest = self.rest();
        if rest.is_empty() || rest.starts_with(['\n', '#']) || rest.starts_with("\r\n") {
            self.next_line();
            return Ok(());
        }
        if let Some(after) = rest.strip_prefix("export")
            && after.starts_with([' ', '\t'])
        {
            self.at += "export".len();
            self.skip_blanks();
        }
        let name_at = self.at;
        let rest = self.rest();
        let name_len = rest.find(['=', '\n', ' ', '\t']).unwrap_or(rest.len());
        let name = &rest[..name_len];
        self.at += name_len;
        self.skip_blanks();
        if !self.rest().starts_with('=') {
            return Err(self.fail(name_at, DotenvErrorKind::NotAnAssignment));
        }
        if !valid_name(name) {
            return Err(self.fail(name_at, DotenvErrorKind::BadName(name.to_string())));
        }
        self.at += 1;
        self.skip_blanks();
        let defined = |n: &str| {
            self.entries
                .iter()
                .rev()
                .find(|e| e.name == n)
                .map(|e| e.value.clone())
                .or_else(|| lookup(n))
        };
        let value = match self.rest().chars().next() {
            Some(q @ ('\'' | '"')) => {
                let start = self.at;
                let (raw, len) = quoted(&self.rest()[1..], q).ok_or_else(|| {
                    self.fail(
                        start,
                        DotenvErrorKind::Unterminated(if q == '"' { "double" } else { "single" }),
                    )
                })?;
                self.at += 1 + len + 1;
                let after = self.rest();
                let line_end = after.find('\n').unwrap_or(after.len());
                let tail = after[..line_end].trim();
                if !tail.is_empty() && !tail.starts_with('#') {
                    return Err(self.fail(self.at, DotenvErrorKind::AfterQuote));
                }
                if q == '"' {
                    let unescaped =
                        unescape(&raw, &['\\', '"', '\'', 'n', 'r', 't', 'a', 'b', 'v', 'f']);
                    interpolate(&unescaped, &defined).map_err(|k| self.fail(start, k))?
                } else {
                    unescape(&raw, &['\\', '\''])
                }
            }
            _ => {
                let start = self.at;
                let rest = self.rest();
                let line_end = rest.find('\n').unwrap_or(rest.len());
                let line = &rest[..line_end];
                let value = line.find(" #").map_or(line, |i| &line[..i]).trim();
                interpolate(value, &defined).map_err(|k| self.fail(start, k))?
            }
        };
        self.entries.push(Entry {
            name: name.to_string(),
            value,
            line: self.pos(name_at).line,
        });
        self.next_line();
        Ok(())
    }
}

/// An environment-variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The text inside quotes, escapes kept, and its length; `None` if the quote is never closed.
fn quoted(s: &str, q: char) -> Option<(String, usize)> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == q => return Some((s[..i].to_string(), i)),
            _ => {}
        }
    }
    None
}

/// Undoes the backslash escapes in `known`; any other backslash stays as it is.
fn unescape(s: &str, known: &[char]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(e) if known.contains(&e) => out.push(match e {
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'a' => '\x07',
                'b' => '\x08',
                'v' => '\x0b',
                'f' => '\x0c',
                e => e,
            }),
            Some(e) => {
                out.push('\\');
                out.push(e);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Expands `${NAME}` and `${NAME:-default}`.
fn interpolate(
    s: &str,
    defined: &dyn Fn(&str) -> Option<String>,
) -> Result<String, DotenvErrorKind> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let inner = &rest[i + 2..];
        let close = inner.find('}').ok_or(DotenvErrorKind::UnclosedBrace)?;
        let (name, default) = match inner[..close].split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (&inner[..close], None),
        };
        match defined(name).filter(|v| !v.is_empty() || default.is_none()) {
            Some(v) => out.push_str(&v),
            None => out.push_str(default.unwrap_or("")),
        }
        rest = &inner[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<(String, String)> {
        parse(text, &|n| (n == "HOME").then(|| "/home/u".to_string()))
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.value))
            .collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn lines_comments_and_export() {
        assert_eq!(
            entries("# top\n\nA=1\nexport B = two words  # note\n  C=\nD=x#y\r\n"),
            pairs(&[("A", "1"), ("B", "two words"), ("C", ""), ("D", "x#y")])
        );
    }

    #[test]
    fn quotes_escapes_and_multiple_lines() {
        assert_eq!(
            entries(
                "A='it s'\nB='a\\'b\\\\c $X'\nC=\"l1\\nl2\\t\\\"q\\\" \\\\\"\nD=\"one\ntwo\" # c\n"
            ),
            pairs(&[
                ("A", "it s"),
                ("B", "a'b\\c $X"),
                ("C", "l1\nl2\t\"q\" \\"),
                ("D", "one\ntwo"),
            ])
        );
    }

    #[test]
    fn interpolation_from_earlier_lines_then_the_environment() {
        assert_eq!(
            entries(
                "A=x\nB=${A}-${HOME}-${NOPE}-${NOPE:-dflt}\nC='${A}'\nD=\"${:-$}{x}${:-\\\\}\"\n"
            ),
            pairs(&[
                ("A", "x"),
                ("B", "x-/home/u--dflt"),
                ("C", "${A}"),
                ("D", "${x}\\"),
            ])
        );
    }

    #[test]
    fn what_retrieve_writes_reads_back() {
        // The lines `cm retrieve --format dotenv` writes for awkward values (see output.rs).
        assert_eq!(
            entries("A=plain:/@%+=~\nB=\"a b\\\\${:-$}{c}\\n\"\nC=\"end${:-\\\\}\"\n"),
            pairs(&[("A", "plain:/@%+=~"), ("B", "a b\\${c}\n"), ("C", "end\\")])
        );
    }

    #[test]
    fn errors_say_where() {
        let err = |text: &str| {
            let e = parse(text, &|_| None).unwrap_err();
            (e.pos.line, e.pos.column, e.kind.to_string())
        };
        assert_eq!(
            err("A=1\nnot a line\n"),
            (2, 1, "expected NAME=VALUE".into())
        );
        assert_eq!(
            err("1A=x"),
            (
                1,
                1,
                "\"1A\" is not a variable name (letters, digits and _, not starting with a digit)"
                    .into()
            )
        );
        assert_eq!(
            err("A=1\nB=\"open\n"),
            (2, 3, "the double quote is never closed".into())
        );
        assert_eq!(
            err("B='x' y"),
            (1, 6, "unexpected text after the closing quote".into())
        );
        assert_eq!(err("B=${X"), (1, 3, "`${` is never closed".into()));
    }
}
