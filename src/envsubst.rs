//! `-e/--enable-envsubst`: environment-variable expansion of the input, before token scanning.
//!
//! Pure: the caller passes a lookup function (normally `std::env::var`), so this module never
//! reads the environment itself, and reports every problem with its 1-based line and column.
//! Bytes outside expansions are copied exactly; the input need not be UTF-8.
//!
//! # Syntax
//!
//! | input              | result                                                            |
//! |--------------------|-------------------------------------------------------------------|
//! | `$NAME`, `${NAME}` | the value; an error if the variable is unset or empty             |
//! | `${NAME:-default}` | the value, or `default` if the variable is unset or empty         |
//! | `${NAME-default}`  | the value (even empty), or `default` if the variable is unset     |
//! | `$$`               | a literal `$` (so `$$NAME` gives `$NAME`)                         |
//! | `$` + anything else| kept as is (`$1`, `$ `, `$-`, a `$` at the end)                   |
//! | `$_`               | kept as is (shells set `_` to the last command; never wanted)     |
//!
//! `NAME` is `[A-Za-z_][A-Za-z0-9_]*`; `$NAME` takes the longest such name. A `${` must be
//! closed by a `}` on the same line, else it is an error ("unclosed"); the braces must hold
//! exactly one of the forms above, else it is an error ("bad substitution"), so a typo such as
//! `${DB HOST}` or an unsupported shell form (`${X:=d}`, `${X:+d}`, `${#X}`) is never passed
//! through silently.
//!
//! A default runs to the first `}`. Inside it `$NAME` and `$$` work as above (expanded only when
//! the default is used); a `${` inside a default is an error, since the default would end at its
//! `}` (so `${A:-${B}}` is rejected rather than misread).
//!
//! These are the rules of the Go library configmanager uses (a8m/envsubst) for the forms cm
//! supports, including `$$`, with two deliberate differences: `$1` (a name starting with a
//! digit) is not a variable here, and the assigning and alternative forms (`=`, `:=`, `+`,
//! `:+`) are refused instead of supported.
//!
//! Positions are [`Position`]s (1-based line, 1-based byte column, as the scanner reports
//! them) and point at the `$` that starts the problem.

use crate::position::{LineCounter, Position};

/// One problem found while expanding, at a position of the input (worded in `error.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvsubstError {
    /// Line and byte column of the `$` that starts the expansion.
    pub pos: Position,
    /// What is wrong.
    pub kind: EnvsubstErrorKind,
}

/// What is wrong with one expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvsubstErrorKind {
    /// `$NAME` or `${NAME}` with `NAME` not set, and no default.
    Unset(String),
    /// `$NAME` or `${NAME}` with `NAME` set to the empty string, and no default.
    Empty(String),
    /// A `${` without a `}` before the end of its line.
    Unclosed,
    /// Braces holding something other than `NAME`, `NAME:-default` or `NAME-default`.
    BadSubstitution(String),
    /// A `${` inside a default value.
    NestedInDefault,
}

/// Every problem of one input, in input order. Displays one line per problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvsubstErrors(pub Vec<EnvsubstError>);

/// Expands `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME-default}` in `input` (see the
/// module docs for the exact rules), looking names up with `lookup`. Returns the expanded bytes,
/// or every problem found; nothing is partially returned.
pub fn expand(
    input: &[u8],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<u8>, EnvsubstErrors> {
    if memchr::memchr(b'$', input).is_none() {
        return Ok(input.to_vec());
    }
    let mut ex = Expander {
        input,
        lookup,
        lines: LineCounter::default(),
        errors: Vec::new(),
    };
    let mut out = Vec::with_capacity(input.len());
    ex.run(0, input.len(), Mode::Text, &mut out);
    if ex.errors.is_empty() {
        Ok(out)
    } else {
        Err(EnvsubstErrors(ex.errors))
    }
}

/// What `Expander::run` is looking at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Top-level text: expand.
    Text,
    /// A default that is being used: expand; `${` is an error.
    Default,
    /// A default that is not used: only check its syntax, look nothing up.
    UnusedDefault,
}

struct Expander<'a, F> {
    input: &'a [u8],
    lookup: F,
    lines: LineCounter,
    errors: Vec<EnvsubstError>,
}

fn is_name_start(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphabetic()
}

fn is_name_byte(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

/// Length of the name at the start of `bytes` (0 if there is none).
fn name_len(bytes: &[u8]) -> usize {
    match bytes.first() {
        Some(&b) if is_name_start(b) => bytes.iter().take_while(|&&b| is_name_byte(b)).count(),
        _ => 0,
    }
}

impl<F: Fn(&str) -> Option<String>> Expander<'_, F> {
    fn error(&mut self, at: usize, kind: EnvsubstErrorKind) {
        let pos = self.lines.locate(self.input, at);
        self.errors.push(EnvsubstError { pos, kind });
    }

    /// Expands `input[start..end]` into `out`.
    fn run(&mut self, start: usize, end: usize, mode: Mode, out: &mut Vec<u8>) {
        let input = self.input;
        let mut i = start;
        while let Some(off) = memchr::memchr(b'$', &input[i..end]) {
            let dollar = i + off;
            out.extend_from_slice(&input[i..dollar]);
            let next = input[dollar + 1..end].first().copied();
            match next {
                Some(b'$') => {
                    out.push(b'$');
                    i = dollar + 2;
                }
                Some(b'{') if mode != Mode::Text => {
                    self.error(dollar, EnvsubstErrorKind::NestedInDefault);
                    out.extend_from_slice(b"${");
                    i = dollar + 2;
                }
                Some(b'{') => {
                    let body = dollar + 2;
                    match memchr::memchr2(b'}', b'\n', &input[body..end]) {
                        Some(p) if input[body + p] == b'}' => {
                            self.braced(dollar, body, body + p, out);
                            i = body + p + 1;
                        }
                        _ => {
                            self.error(dollar, EnvsubstErrorKind::Unclosed);
                            out.extend_from_slice(b"${");
                            i = body;
                        }
                    }
                }
                Some(b) if is_name_start(b) => {
                    let name_end = dollar + 1 + name_len(&input[dollar + 1..end]);
                    let name = &input[dollar + 1..name_end];
                    if name == b"_" {
                        out.extend_from_slice(b"$_");
                    } else if mode != Mode::UnusedDefault {
                        self.plain(dollar, name, out);
                    }
                    i = name_end;
                }
                _ => {
                    out.push(b'$');
                    i = dollar + 1;
                }
            }
        }
        out.extend_from_slice(&input[i..end]);
    }

    /// `$NAME` or `${NAME}`: the value, or an error if unset or empty.
    fn plain(&mut self, at: usize, name: &[u8], out: &mut Vec<u8>) {
        let name = std::str::from_utf8(name).expect("names are ASCII");
        match (self.lookup)(name) {
            Some(v) if !v.is_empty() => out.extend_from_slice(v.as_bytes()),
            Some(_) => self.error(at, EnvsubstErrorKind::Empty(name.to_string())),
            None => self.error(at, EnvsubstErrorKind::Unset(name.to_string())),
        }
    }

    /// `${...}` with the body `input[body..close]`.
    fn braced(&mut self, at: usize, body: usize, close: usize, out: &mut Vec<u8>) {
        let inner = &self.input[body..close];
        let n = name_len(inner);
        let (rest, name) = (&inner[n..], &inner[..n]);
        let default_if_empty = match rest {
            _ if n == 0 => None,
            [] => return self.plain(at, name, out),
            [b':', b'-', ..] => Some(true),
            [b'-', ..] => Some(false),
            _ => None,
        };
        let Some(default_if_empty) = default_if_empty else {
            let text = String::from_utf8_lossy(inner).into_owned();
            return self.error(at, EnvsubstErrorKind::BadSubstitution(text));
        };
        let default_start = body + n + if default_if_empty { 2 } else { 1 };
        let name = std::str::from_utf8(name).expect("names are ASCII");
        match (self.lookup)(name) {
            Some(v) if !(default_if_empty && v.is_empty()) => {
                out.extend_from_slice(v.as_bytes());
                // The default is not used, but a syntax error in it is still an error: whether
                // a template is well-formed must not depend on the environment.
                self.run(default_start, close, Mode::UnusedDefault, &mut Vec::new());
            }
            _ => self.run(default_start, close, Mode::Default, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("HOME", "/home/me"),
            ("DB_HOST", "db.local"),
            ("EMPTY", ""),
            ("_PRIVATE", "p"),
            ("A1", "a-one"),
            ("DOLLAR", "$HOME ${HOME}"),
            ("_", "/usr/bin/cm"),
        ])
    }

    fn run(input: &[u8]) -> Result<Vec<u8>, EnvsubstErrors> {
        let env = env();
        expand(input, |k| env.get(k).map(|v| v.to_string()))
    }

    fn ok(input: &str) -> String {
        String::from_utf8(run(input.as_bytes()).unwrap()).unwrap()
    }

    fn errs(input: &str) -> String {
        run(input.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn expansion_table() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("no dollars at all", "no dollars at all"),
            ("$HOME", "/home/me"),
            ("${HOME}", "/home/me"),
            ("x$HOME/y", "x/home/me/y"),
            ("x${HOME}y", "x/home/mey"),
            ("$HOMEx", "ERR"),
            ("$DB_HOST:5432", "db.local:5432"),
            ("$_PRIVATE.$A1", "p.a-one"),
            ("${EMPTY:-dflt}", "dflt"),
            ("${UNSET:-dflt}", "dflt"),
            ("${HOME:-dflt}", "/home/me"),
            ("${EMPTY-dflt}", ""),
            ("${UNSET-dflt}", "dflt"),
            ("${HOME-dflt}", "/home/me"),
            ("${UNSET:-}", ""),
            ("${UNSET:-a b:c-d=e}", "a b:c-d=e"),
            ("${UNSET:-$HOME/x}", "/home/me/x"),
            ("${UNSET:-$$HOME}", "$HOME"),
            ("${UNSET:-{}x", "{x"),
            ("$$", "$"),
            ("$$HOME", "$HOME"),
            ("$${HOME}", "${HOME}"),
            ("$$$HOME", "$/home/me"),
            ("$$$$", "$$"),
            ("$", "$"),
            ("a$", "a$"),
            ("$ x", "$ x"),
            ("$1 $-x $. $}", "$1 $-x $. $}"),
            ("$_ and $_.Name", "$_ and $_.Name"),
            ("${_}", "/usr/bin/cm"),
            ("$DOLLAR", "$HOME ${HOME}"),
            ("}", "}"),
        ];
        for (input, want) in cases {
            if *want == "ERR" {
                assert!(run(input.as_bytes()).is_err(), "{input:?}");
            } else {
                assert_eq!(ok(input), *want, "{input:?}");
            }
        }
    }

    #[test]
    fn values_are_not_expanded_again() {
        assert_eq!(ok("${DOLLAR}"), "$HOME ${HOME}");
    }

    #[test]
    fn bytes_outside_expansions_are_kept_exactly() {
        let input = b"\xff\xfe AWSSECRETS:///app|k \r\n\t$HOME\x00\xc3 $ {}\n";
        let mut want = b"\xff\xfe AWSSECRETS:///app|k \r\n\t/home/me\x00\xc3 $ {}\n".to_vec();
        assert_eq!(run(input).unwrap(), want);
        want.clear();
        let plain = b"\x80\x81 no vars \r\n";
        assert_eq!(run(plain).unwrap(), plain);
    }

    #[test]
    fn unset_and_empty_report_name_line_and_column() {
        assert_eq!(
            errs("host: x\nport: 1\nurl: ${DB_HOSTX}\n"),
            "line 3, column 6: variable `DB_HOSTX` is not set"
        );
        assert_eq!(
            errs("  $EMPTY"),
            "line 1, column 3: variable `EMPTY` is empty"
        );
        assert_eq!(
            errs("${EMPTY}"),
            "line 1, column 1: variable `EMPTY` is empty"
        );
    }

    #[test]
    fn every_problem_is_reported_in_order() {
        let input = "a=$NOPE1 b=${NOPE2}\nc=${EMPTY}\n\nd=${UNCLOSED\ne=${bad var} f=$NOPE3";
        assert_eq!(
            errs(input),
            "line 1, column 3: variable `NOPE1` is not set\n\
             line 1, column 12: variable `NOPE2` is not set\n\
             line 2, column 3: variable `EMPTY` is empty\n\
             line 4, column 3: unclosed `${`: no `}` before the end of the line\n\
             line 5, column 3: bad substitution `${bad var}`: expected `${NAME}`, `${NAME:-default}` or `${NAME-default}`\n\
             line 5, column 16: variable `NOPE3` is not set"
        );
        let err = run(input.as_bytes()).unwrap_err();
        assert_eq!(err.0.len(), 6);
        assert_eq!(
            err.0[0],
            EnvsubstError {
                pos: Position { line: 1, column: 3 },
                kind: EnvsubstErrorKind::Unset("NOPE1".into())
            }
        );
    }

    #[test]
    fn columns_count_bytes() {
        assert_eq!(
            errs("é日本 $NOPE"),
            "line 1, column 10: variable `NOPE` is not set"
        );
        // An invalid byte counts as one column.
        let err = run(b"\xff\xfe$NOPE").unwrap_err();
        assert_eq!((err.0[0].pos.line, err.0[0].pos.column), (1, 3));
        // CRLF: the CR belongs to the previous line.
        let err = run(b"a\r\n $NOPE").unwrap_err();
        assert_eq!((err.0[0].pos.line, err.0[0].pos.column), (2, 2));
    }

    #[test]
    fn unclosed_brace() {
        assert_eq!(
            errs("x ${HOME"),
            "line 1, column 3: unclosed `${`: no `}` before the end of the line"
        );
        // The closing brace must be on the same line.
        assert_eq!(
            errs("${HOME\n}"),
            "line 1, column 1: unclosed `${`: no `}` before the end of the line"
        );
        assert_eq!(
            errs("${"),
            "line 1, column 1: unclosed `${`: no `}` before the end of the line"
        );
        // Scanning goes on after an unclosed brace, so later problems are found too.
        assert_eq!(
            errs("${ $NOPE"),
            "line 1, column 1: unclosed `${`: no `}` before the end of the line\n\
             line 1, column 4: variable `NOPE` is not set"
        );
    }

    #[test]
    fn bad_substitutions() {
        for body in [
            "", "1", "1X", "X Y", " X", "X:=d", "X=d", "X:+d", "X+d", "#X", "X:?", "X.y", "X:",
        ] {
            let input = format!("${{{body}}}");
            assert_eq!(
                errs(&input),
                format!(
                    "line 1, column 1: bad substitution `${{{body}}}`: expected `${{NAME}}`, \
                     `${{NAME:-default}}` or `${{NAME-default}}`"
                ),
                "{input:?}"
            );
        }
    }

    #[test]
    fn nested_brace_in_default_is_an_error_even_if_unused() {
        let msg = "line 1, column 9: `${` inside a default value is not supported";
        assert_eq!(errs("${NOPE:-${HOME}}"), msg);
        assert_eq!(errs("${HOME:-${HOME}}"), msg);
    }

    #[test]
    fn unused_default_is_not_evaluated() {
        // $NOPE is unset, but the default that holds it is not used.
        assert_eq!(ok("${HOME:-$NOPE}"), "/home/me");
        assert_eq!(
            errs("${EMPTY:-$NOPE}"),
            "line 1, column 10: variable `NOPE` is not set"
        );
    }

    #[test]
    fn display_of_one_error_matches_the_documented_shape() {
        let e = EnvsubstError {
            pos: Position { line: 3, column: 7 },
            kind: EnvsubstErrorKind::Unset("DB_HOST".into()),
        };
        assert_eq!(
            e.to_string(),
            "line 3, column 7: variable `DB_HOST` is not set"
        );
    }

    #[test]
    fn lookup_is_called_only_for_names_in_the_input() {
        let seen = std::cell::RefCell::new(Vec::new());
        let out = expand(b"$A ${B:-x} $$C ${D-y} $_", |k| {
            seen.borrow_mut().push(k.to_string());
            Some(format!("<{k}>"))
        })
        .unwrap();
        assert_eq!(out, b"<A> <B> $C <D> $_");
        assert_eq!(*seen.borrow(), ["A", "B", "D"]);
    }

    proptest::proptest! {
        /// Doubling every `$` escapes any input completely.
        #[test]
        fn escaped_input_comes_back_unchanged(s in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let mut escaped = Vec::new();
            for &b in &s {
                if b == b'$' {
                    escaped.push(b'$');
                }
                escaped.push(b);
            }
            proptest::prop_assert_eq!(expand(&escaped, |_| None).unwrap(), s);
        }

        /// Arbitrary input made of the syntax's characters never panics, and every error
        /// points at a `$` of the input.
        #[test]
        fn never_panics_and_errors_point_at_dollars(
            s in proptest::collection::vec(proptest::sample::select(b"${}:-_aZ9 \n\xff\xc3".to_vec()), 0..60)
        ) {
            let env = env();
            match expand(&s, |k| env.get(k).map(|v| v.to_string())) {
                Ok(_) => {}
                Err(errors) => {
                    for e in errors.0 {
                        let line_start: usize = s
                            .split(|&b| b == b'\n')
                            .take(e.pos.line - 1)
                            .map(|l| l.len() + 1)
                            .sum();
                        let at = line_start + e.pos.column - 1;
                        proptest::prop_assert_eq!(s[at], b'$');
                    }
                }
            }
        }
    }
}
