//! `cm retrieve` output: variable names, JSON expansion, and the `export`, `dotenv` and `json`
//! writers.
//!
//! This module owns the step from "token resolved to a value" to "bytes of the output file":
//! deriving a shell-safe variable name from a token ([`var_name`]), expanding a JSON-object value
//! into one variable per key ([`vars_for_token`]), rejecting name collisions ([`collect`]), and
//! formatting ([`write`]). It does no file I/O of its own (the caller hands the bytes to
//! `atomic::write_atomic` or stdout) and never puts a value into an error message: errors name
//! variables and tokens only.
//!
//! # Formats
//!
//! - [`Format::Export`]: `export NAME='value'`, one line per variable, every line ending in a
//!   newline. Inside single quotes a POSIX shell takes every byte literally, so only `'` itself
//!   needs care: it is written as `'\''` (close quote, escaped quote, reopen). Sourcing the file
//!   in sh/dash, bash or zsh gives back each value byte for byte, including newlines, trailing
//!   newlines, backslashes, `$(...)`, backticks and bytes that are not UTF-8. A value containing
//!   NUL is refused: no shell variable can hold one.
//! - [`Format::Dotenv`]: `NAME=value` lines for python-dotenv; see [`Format::Dotenv`] for the
//!   exact quoting rules and for what other dotenv readers (Docker `--env-file`) make of them.
//! - [`Format::Json`]: one object `{"NAME": "value", ...}` on one line, keys in output order.
//!
//! # Differences from configmanager
//!
//! configmanager takes the name from the whole token text (so metadata leaks into it), leaves
//! `'` unescaped, prints nested JSON in Go syntax, emits lines in random order and ends the file
//! without a newline. Here the name comes from the path and key path only and is always a valid
//! shell name, values are quoted so they cannot inject into the shell, nested JSON is compact
//! JSON, order is first-seen order, and every line ends in a newline.

use std::collections::HashMap;
use std::io::{self, Write};

use crate::Secret;
use crate::json::{Kind, ROOT, Tree};

/// Name used when neither the path nor the key path contains anything usable (e.g. path `/`).
pub(crate) const FALLBACK_NAME: &str = "VALUE";

/// One variable to write: a name, a value, and where it came from (for error messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Var {
    /// The variable name; [`var_name`] and [`vars_for_token`] only produce `[A-Za-z_][A-Za-z0-9_]*`.
    pub name: String,
    /// The value.
    pub value: Secret,
    /// The token text the value came from. Shown in error messages; never the value.
    pub source: String,
    /// For a variable expanded from a JSON object, the object key it came from.
    pub json_key: Option<String>,
}

impl Var {
    /// A variable for a whole token value (not expanded from JSON).
    pub(crate) fn new(name: impl Into<String>, value: Secret, source: impl Into<String>) -> Self {
        Var {
            name: name.into(),
            value,
            source: source.into(),
            json_key: None,
        }
    }

    /// Where the variable came from, for messages.
    pub(crate) fn origin(&self) -> VarSource {
        VarSource {
            token: self.source.clone(),
            json_key: self.json_key.clone(),
        }
    }
}

/// Output format of `cm retrieve`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum Format {
    /// `export NAME='value'` lines for `. ./app.env` in a POSIX shell (configmanager's format).
    #[default]
    Export,
    /// `NAME=value` lines, quoted and escaped so that python-dotenv (with its default
    /// `interpolate=True`) reads back every value exactly. Per value:
    ///
    /// - empty: `NAME=`;
    /// - only ASCII letters, digits and `_ - . , : / @ % + = ~`: unquoted, `NAME=value`. Such a
    ///   line means the same to every dotenv reader, Docker `--env-file` included;
    /// - anything else: double-quoted, with `\` → `\\`, `"` → `\"`, newline → `\n`, CR → `\r`,
    ///   tab → `\t`, BEL/BS/VT/FF → `\a \b \v \f` (each line of the file is one variable), and
    ///   two python-dotenv specifics:
    ///   - python-dotenv expands `${VAR}` in every value, quoted or not, and has no escape for
    ///     `$`. A literal `${` is written as `${:-$}{`: the empty-named variable is never set,
    ///     so it expands to its default, `$`, followed by the literal `{`.
    ///   - python-dotenv's quoted-value pattern takes `\"` as an escaped quote even after an
    ///     escaped backslash, so `"a\\"` would swallow the closing quote. A trailing backslash
    ///     is therefore written as `${:-\\}`, which expands to `\`.
    ///
    /// Limitations: values must be UTF-8 and free of NUL. Both workarounds above rely on
    /// interpolation; with `interpolate=False` python-dotenv returns them as written. Docker
    /// `--env-file` does no quote processing at all: it takes everything after the first `=` as
    /// the value, quotes included, and cannot hold multi-line values, so only the unquoted lines
    /// are right for it. docker compose, Node and Ruby dotenv use other escaping and
    /// interpolation rules (for instance they expand `$VAR` inside double quotes).
    Dotenv,
    /// One JSON object `{"NAME": "value", ...}` and a newline. Values must be UTF-8: a value
    /// that is not is refused rather than written lossily, since a silently altered secret is
    /// worse than an error.
    Json,
}

/// Where a variable came from: a token, and the JSON key for a variable expanded from an
/// object. Shown as `` `TOKEN` `` or `` `TOKEN` (JSON key `k`) `` (worded in `error.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarSource {
    /// The token's text.
    pub token: String,
    /// The object key, for a variable expanded from a JSON object.
    pub json_key: Option<String>,
}

/// Two tokens want the same variable name with different values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collision {
    /// The contested variable name.
    pub name: String,
    /// Where the first (kept) value came from.
    pub first: VarSource,
    /// Where the conflicting value came from.
    pub second: VarSource,
}

/// A variable whose value the chosen format cannot hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadValue {
    /// The variable name.
    pub name: String,
    /// Where it came from.
    pub origin: VarSource,
}

/// Errors of this module (worded in `error.rs`). Each names variables and tokens, never
/// values; list variants hold every offending variable, and display one line each.
#[derive(Debug)]
#[non_exhaustive]
pub enum OutputError {
    /// Some names would be set to different values (see `collect`).
    NameCollision(Vec<Collision>),
    /// Some values contain a NUL byte, which no shell variable and no environment can hold
    /// (export and dotenv formats).
    NulInValue(Vec<BadValue>),
    /// Some values are not UTF-8, which the dotenv and json formats cannot hold.
    NotUtf8(Vec<BadValue>),
    /// Some variable names are not valid Kubernetes Secret keys (`[-._a-zA-Z0-9]+`).
    BadSecretKey(Vec<BadValue>),
    /// Writing the output failed.
    Io(io::Error),
}

impl From<io::Error> for OutputError {
    fn from(e: io::Error) -> Self {
        OutputError::Io(e)
    }
}

/// Derives a variable name from a token's PATH and KEYPATH.
///
/// Follows configmanager: take the last `/`-segment of the path, append `__` and the key path
/// if there is one, drop spaces, `@` and `!`, turn `-` into `_` and the key separator into
/// `__`, upper-case. Then, unlike configmanager, make it a valid shell name: every other
/// character outside `[A-Za-z0-9_]` (including `.` of dotted key paths, non-ASCII characters
/// and each invalid UTF-8 sequence) becomes `_`, and a name starting with a digit gets a `_` in
/// front. Metadata never takes part.
///
/// `AWSSECRETS:///app/db-config|host` (path `/app/db-config`, key path `host`) gives
/// `DB_CONFIG__HOST`.
///
/// When the last segment has no letter or digit (path `/app/`, `/app/@@`), the nearest earlier
/// segment that has one is used instead (`APP`); when no segment has one (path `/`, empty
/// path), the base is [`FALLBACK_NAME`] (`VALUE`, or `VALUE__HOST` with key path `host`).
/// Upper-casing is ASCII-only, so one character never turns into several (`ß` gives `_`, not
/// `SS`).
pub(crate) fn var_name(path: &[u8], key_path: Option<&[u8]>, key_separator: char) -> String {
    let path = String::from_utf8_lossy(path);
    let base = path
        .rsplit('/')
        .map(|seg| normalize(seg, key_separator))
        .find(|n| has_alnum(n))
        .unwrap_or_else(|| FALLBACK_NAME.to_string());
    let mut name = base;
    if let Some(key) = key_path {
        name.push_str("__");
        name.push_str(&normalize(&String::from_utf8_lossy(key), key_separator));
    }
    no_leading_digit(name)
}

/// configmanager's key normalisation followed by our shell-name sanitising, per character.
fn normalize(text: &str, key_separator: char) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        // The separator comes first: it is the one character with a meaning of its own.
        if c == key_separator {
            out.push_str("__");
            continue;
        }
        match c {
            ' ' | '@' | '!' => {}
            '-' => out.push('_'),
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_uppercase()),
            // Everything else, U+FFFD from invalid UTF-8 included, cannot be in a shell name.
            _ => out.push('_'),
        }
    }
    out
}

fn has_alnum(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_alphanumeric())
}

fn no_leading_digit(name: String) -> String {
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name
    }
}

/// The variables one resolved token produces.
///
/// A value that is a JSON object with at least one key expands, as in configmanager, into one
/// variable per top-level key, named after the key alone (normalised like [`var_name`] does a
/// path segment; configmanager does not prefix the token's name): `{"db-host": "h", "port":
/// 5432}` gives `DB_HOST=h` and `PORT=5432`. Member values: strings unquoted, nested objects and
/// arrays as compact JSON text, numbers, booleans and `null` as their JSON text exactly as
/// written (so `1.50` and 30-digit numbers survive). Keys in source order; a key that occurs
/// twice keeps its first position and its last value, as JSON parsers do. A key without any
/// letter or digit (`""`, `"@"`) uses `name`.
///
/// Anything else (not JSON, not an object, or `{}`) is one variable `name` with the value
/// unchanged. `{}` is kept whole rather than expanded into nothing, so a token never silently
/// disappears from the output.
pub(crate) fn vars_for_token(
    name: String,
    value: &Secret,
    token_text: &str,
    key_separator: char,
) -> Vec<Var> {
    match json_object_members(value.expose()) {
        Some(members) if !members.is_empty() => members
            .into_iter()
            .map(|(key, member)| {
                let n = normalize(&key, key_separator);
                let var_name = if has_alnum(&n) {
                    no_leading_digit(n)
                } else {
                    name.clone()
                };
                Var {
                    name: var_name,
                    value: Secret::new(member),
                    source: token_text.to_string(),
                    json_key: Some(key),
                }
            })
            .collect(),
        _ => vec![Var::new(name, value.clone(), token_text)],
    }
}

/// The members of `bytes` if it is one JSON object: (key, rendered member value), in source
/// order, duplicates resolved last-wins.
///
/// serde_json validates the document (strictly: into a `Value`, which also refuses lone
/// surrogate escapes anywhere in it); the shared span walker ([`crate::json`]) then keeps source
/// order and each member's exact text, which `serde_json::Value` would lose (its map is sorted
/// and its numbers are re-formatted).
fn json_object_members(bytes: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    let parsed: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if !parsed.is_object() {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let tree = Tree::from_valid(text);
    let Kind::Object(all) = &tree.nodes[ROOT].kind else {
        return None;
    };
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (key, node) in all {
        let rendered = tree.text_of(*node).into_owned();
        match index.get(key.as_ref()) {
            Some(&at) => members[at].1 = rendered,
            None => {
                index.insert(key.as_ref(), members.len());
                members.push((key.clone().into_owned(), rendered));
            }
        }
    }
    Some(members)
}

/// Puts the variables of a run in output order and rejects conflicting names.
///
/// Order is first-seen order. A name seen again with the same value is dropped silently (two
/// tokens for the same secret, or the same token given twice); a name seen again with a
/// different value is a [`Collision`]. Every collision is reported, not just the first.
pub(crate) fn collect(vars: impl IntoIterator<Item = Var>) -> Result<Vec<Var>, OutputError> {
    let mut out: Vec<Var> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut collisions = Vec::new();
    for var in vars {
        match seen.get(&var.name) {
            None => {
                seen.insert(var.name.clone(), out.len());
                out.push(var);
            }
            Some(&at) if out[at].value == var.value => {}
            Some(&at) => collisions.push(Collision {
                name: var.name.clone(),
                first: out[at].origin(),
                second: var.origin(),
            }),
        }
    }
    if collisions.is_empty() {
        Ok(out)
    } else {
        Err(OutputError::NameCollision(collisions))
    }
}

/// Writes `vars` in `format` to `w`.
///
/// Every value is checked before anything is written, so on [`OutputError::NulInValue`] or
/// [`OutputError::NotUtf8`] `w` receives nothing. The output is built in memory and handed to
/// `w` in one `write_all`, so an unbuffered writer is fine.
pub(crate) fn write(format: Format, vars: &[Var], w: &mut impl Write) -> Result<(), OutputError> {
    check(format, vars)?;
    let mut buf = Vec::new();
    match format {
        Format::Export => vars.iter().for_each(|v| export_line(v, &mut buf)),
        Format::Dotenv => vars.iter().for_each(|v| dotenv_line(v, &mut buf)),
        Format::Json => json_object(vars, &mut buf),
    }
    w.write_all(&buf)?;
    Ok(())
}

fn check(format: Format, vars: &[Var]) -> Result<(), OutputError> {
    check_values(
        vars,
        matches!(format, Format::Export | Format::Dotenv),
        matches!(format, Format::Dotenv | Format::Json),
    )
}

/// Refuses values with a NUL byte (when `no_nul`) or that are not UTF-8 (when `utf8`), naming
/// every offending variable; NUL is checked first.
pub(crate) fn check_values(vars: &[Var], no_nul: bool, utf8: bool) -> Result<(), OutputError> {
    let bad = |pred: &dyn Fn(&[u8]) -> bool| -> Vec<BadValue> {
        vars.iter()
            .filter(|v| pred(v.value.expose()))
            .map(|v| BadValue {
                name: v.name.clone(),
                origin: v.origin(),
            })
            .collect()
    };
    if no_nul {
        let nul = bad(&|b| b.contains(&0));
        if !nul.is_empty() {
            return Err(OutputError::NulInValue(nul));
        }
    }
    if utf8 {
        let not_utf8 = bad(&|b| std::str::from_utf8(b).is_err());
        if !not_utf8.is_empty() {
            return Err(OutputError::NotUtf8(not_utf8));
        }
    }
    Ok(())
}

fn export_line(var: &Var, out: &mut Vec<u8>) {
    out.extend_from_slice(b"export ");
    out.extend_from_slice(var.name.as_bytes());
    out.extend_from_slice(b"='");
    for &b in var.value.expose() {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.extend_from_slice(b"'\n");
}

fn dotenv_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_-.,:/@%+=~".contains(&b)
}

fn dotenv_line(var: &Var, out: &mut Vec<u8>) {
    let value = var.value.expose();
    out.extend_from_slice(var.name.as_bytes());
    out.push(b'=');
    if value.iter().all(|&b| dotenv_safe(b)) {
        // Includes the empty value: `NAME=` is empty for every reader.
        out.extend_from_slice(value);
        out.push(b'\n');
        return;
    }
    out.push(b'"');
    for (i, &b) in value.iter().enumerate() {
        let last = i + 1 == value.len();
        match b {
            // See `Format::Dotenv`: `\\"` at the end would be read as an escaped quote.
            b'\\' if last => out.extend_from_slice(b"${:-\\\\}"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            // Python opens text files with universal newlines, which would turn a raw CR into LF.
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0b => out.extend_from_slice(b"\\v"),
            0x0c => out.extend_from_slice(b"\\f"),
            // See `Format::Dotenv`: `${:-$}` expands to `$`, and the `{` follows as text.
            b'$' if value.get(i + 1) == Some(&b'{') => out.extend_from_slice(b"${:-$}"),
            b => out.push(b),
        }
    }
    out.extend_from_slice(b"\"\n");
}

fn json_object(vars: &[Var], out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, var) in vars.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        json_string(&var.name, out);
        out.extend_from_slice(b": ");
        // `check` has verified UTF-8.
        json_string(
            std::str::from_utf8(var.value.expose()).unwrap_or_default(),
            out,
        );
    }
    out.extend_from_slice(b"}\n");
}

fn json_string(s: &str, out: &mut Vec<u8>) {
    // Serialising a &str into a Vec cannot fail.
    serde_json::to_writer(&mut *out, s).expect("string serialisation into memory");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str, value: &[u8]) -> Var {
        Var::new(name, Secret::new(value), format!("TEST://{name}"))
    }

    fn render(format: Format, vars: &[Var]) -> Vec<u8> {
        let mut out = Vec::new();
        write(format, vars, &mut out).unwrap();
        out
    }

    fn render_str(format: Format, vars: &[Var]) -> String {
        String::from_utf8(render(format, vars)).unwrap()
    }

    // ---- names ----

    #[test]
    fn name_follows_configmanager_example() {
        assert_eq!(
            var_name(b"/app/db-config", Some(b"host"), '|'),
            "DB_CONFIG__HOST"
        );
        assert_eq!(var_name(b"/app/db-config", None, '|'), "DB_CONFIG");
    }

    #[test]
    fn name_table() {
        type Case = (&'static [u8], Option<&'static [u8]>, char, &'static str);
        let cases: &[Case] = &[
            (b"simple", None, '|', "SIMPLE"),
            (b"/a/b/c", None, '|', "C"),
            (b"a b@c!d", None, '|', "ABCD"),
            (b"/x/my.key", None, '|', "MY_KEY"),
            (b"/x/db", Some(b"lookup.inside"), '|', "DB__LOOKUP_INSIDE"),
            (b"/x/db", Some(b"a|b"), '|', "DB__A__B"),
            (b"/x/db", Some(b"a%b"), '%', "DB__A__B"),
            (b"/x/1password", None, '|', "_1PASSWORD"),
            (b"/x/db", Some(b"9"), '|', "DB__9"),
            (b"/x/caf\xc3\xa9", None, '|', "CAF_"),
            (b"/x/stra\xc3\x9fe", None, '|', "STRA_E"),
            (b"/x/a\xffb", None, '|', "A_B"),
            (b"/x/a:b=c", None, '|', "A_B_C"),
            (b"/x/tab\tsep", None, '|', "TAB_SEP"),
            (b"/x/Mixed_Case", None, '|', "MIXED_CASE"),
            (b"projects/p/secrets/s/versions/3", None, '|', "_3"),
        ];
        for (path, key, sep, want) in cases {
            assert_eq!(
                var_name(path, *key, *sep),
                *want,
                "path {:?} key {:?}",
                String::from_utf8_lossy(path),
                key.map(String::from_utf8_lossy)
            );
        }
    }

    #[test]
    fn name_falls_back_when_last_segment_is_unusable() {
        assert_eq!(var_name(b"/app/", None, '|'), "APP");
        assert_eq!(var_name(b"/app/@@", None, '|'), "APP");
        assert_eq!(var_name(b"/app/--", Some(b"k"), '|'), "APP__K");
        assert_eq!(var_name(b"/", None, '|'), FALLBACK_NAME);
        assert_eq!(var_name(b"", None, '|'), "VALUE");
        assert_eq!(var_name(b"/", Some(b"host"), '|'), "VALUE__HOST");
    }

    #[test]
    fn names_are_always_valid_shell_names() {
        let paths: &[&[u8]] = &[
            b"",
            b"/",
            b"0",
            b"-",
            b"/a/\xff\xfe",
            b"\xe2\x82\xac",
            b"$x",
        ];
        for p in paths {
            for key in [None, Some(&b""[..]), Some(&b"0.x"[..])] {
                let n = var_name(p, key, '|');
                assert!(is_shell_name(&n), "{n:?}");
            }
        }
    }

    fn is_shell_name(n: &str) -> bool {
        let mut chars = n.chars();
        matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
            && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
    }

    // ---- JSON expansion ----

    fn expand(value: &str) -> Vec<(String, String, Option<String>)> {
        vars_for_token("TOK".into(), &Secret::new(value), "X:///tok", '|')
            .into_iter()
            .map(|v| {
                assert_eq!(v.source, "X:///tok");
                (
                    v.name,
                    String::from_utf8(v.value.expose().to_vec()).unwrap(),
                    v.json_key,
                )
            })
            .collect()
    }

    fn pairs(value: &str) -> Vec<(String, String)> {
        expand(value).into_iter().map(|(n, v, _)| (n, v)).collect()
    }

    fn p(n: &str, v: &str) -> (String, String) {
        (n.to_string(), v.to_string())
    }

    #[test]
    fn non_json_is_one_var() {
        assert_eq!(pairs("plain"), vec![p("TOK", "plain")]);
        assert_eq!(pairs("5432"), vec![p("TOK", "5432")]);
        assert_eq!(pairs("[1, 2]"), vec![p("TOK", "[1, 2]")]);
        assert_eq!(pairs("\"s\""), vec![p("TOK", "\"s\"")]);
        assert_eq!(pairs("{not json"), vec![p("TOK", "{not json")]);
        assert_eq!(
            pairs("{\"a\":1} trailing"),
            vec![p("TOK", "{\"a\":1} trailing")]
        );
        assert_eq!(pairs(""), vec![p("TOK", "")]);
        assert_eq!(expand("plain")[0].2, None);
    }

    #[test]
    fn empty_object_is_kept_whole() {
        assert_eq!(pairs(" {} "), vec![p("TOK", " {} ")]);
    }

    #[test]
    fn object_expands_per_top_level_key_in_source_order() {
        let got = pairs(
            r#" { "zeta": "z", "db-host" : "h\"q\u00e9", "port": 5432, "ratio": 1.50,
                "big": 123456789012345678901234567890, "on": true, "off": false, "nil": null,
                "nested": { "a" : [1, { "b" : "x y" }] , "c":"}" }, "list": [ "a", 2 ] } "#,
        );
        assert_eq!(
            got,
            vec![
                p("ZETA", "z"),
                p("DB_HOST", "h\"q\u{e9}"),
                p("PORT", "5432"),
                p("RATIO", "1.50"),
                p("BIG", "123456789012345678901234567890"),
                p("ON", "true"),
                p("OFF", "false"),
                p("NIL", "null"),
                p("NESTED", r#"{"a":[1,{"b":"x y"}],"c":"}"}"#),
                p("LIST", r#"["a",2]"#),
            ]
        );
    }

    #[test]
    fn json_keys_are_normalised_like_names() {
        let got = expand(r#"{"a.b": 1, "a|b": 2, "9lives": 3, "@": 4, "": 5, "x y!": 6}"#);
        let names: Vec<_> = got.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["A_B", "A__B", "_9LIVES", "TOK", "TOK", "XY"]);
        assert_eq!(got[3].2.as_deref(), Some("@"));
    }

    #[test]
    fn duplicate_json_keys_keep_first_position_last_value() {
        assert_eq!(
            pairs(r#"{"a": 1, "b": 2, "a": 3}"#),
            vec![p("A", "3"), p("B", "2")]
        );
    }

    #[test]
    fn escaped_quotes_and_backslashes_in_keys_and_strings() {
        assert_eq!(
            pairs(r#"{"k\"ey": "v\\\"", "n": {"s": "a\\\"}"}}"#),
            vec![p("K_EY", "v\\\""), p("N", r#"{"s":"a\\\"}"}"#)]
        );
    }

    proptest::proptest! {
        /// The member scanner agrees with serde_json on every object serde_json can print,
        /// compact or pretty.
        #[test]
        fn members_agree_with_serde(
            map in proptest::collection::btree_map(".{0,6}", ".{0,8}", 1..6),
            pretty in proptest::prelude::any::<bool>(),
        ) {
            let text = if pretty {
                serde_json::to_string_pretty(&map).unwrap()
            } else {
                serde_json::to_string(&map).unwrap()
            };
            let members = json_object_members(text.as_bytes()).unwrap();
            let got: Vec<(String, String)> = members
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8(v).unwrap()))
                .collect();
            let want: Vec<(String, String)> = map.into_iter().collect();
            proptest::prop_assert_eq!(got, want);
        }

        /// Nested values come out as compact JSON equal to the input value.
        #[test]
        fn nested_members_are_equivalent_json(
            inner in proptest::collection::vec(proptest::collection::btree_map("[a-c\"\\\\ ]{0,3}", 0i64..1000, 0..3), 0..4),
        ) {
            let value = serde_json::json!({ "k": inner });
            let text = serde_json::to_string_pretty(&value).unwrap();
            let members = json_object_members(text.as_bytes()).unwrap();
            let back: serde_json::Value = serde_json::from_slice(&members[0].1).unwrap();
            proptest::prop_assert_eq!(&back, &value["k"]);
            proptest::prop_assert!(!members[0].1.contains(&b'\n'));
        }
    }

    // ---- collect ----

    #[test]
    fn collect_keeps_order_and_merges_identical() {
        let vars = vec![var("B", b"1"), var("A", b"2"), var("B", b"1")];
        let got = collect(vars).unwrap();
        let names: Vec<_> = got.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["B", "A"]);
        assert_eq!(got[0].source, "TEST://B");
    }

    #[test]
    fn collect_reports_every_collision_without_values() {
        let vars = vec![
            Var::new("A", Secret::new("secret-one"), "T:///x|a"),
            Var::new("A", Secret::new("secret-two"), "T:///y|a"),
            Var::new("B", Secret::new("1"), "T:///b"),
            Var {
                json_key: Some("b".into()),
                ..Var::new("B", Secret::new("2"), "T:///json")
            },
        ];
        let err = collect(vars).unwrap_err();
        let msg = err.to_string();
        assert_eq!(
            msg,
            "variable `A` would get different values from `T:///x|a` and `T:///y|a`\n\
             variable `B` would get different values from `T:///b` and `T:///json` (JSON key `b`)"
        );
        assert!(!msg.contains("secret"));
        assert!(matches!(err, OutputError::NameCollision(c) if c.len() == 2));
    }

    // ---- export ----

    #[test]
    fn export_quotes_everything() {
        let vars = [
            var("A", b"plain"),
            var("B", b"it's"),
            var("C", b""),
            var("D", b"$(x) `y` \\ \"z\"\nline2\n"),
            var("E", b"'"),
            var("F", b"''"),
        ];
        assert_eq!(
            render_str(Format::Export, &vars),
            "export A='plain'\n\
             export B='it'\\''s'\n\
             export C=''\n\
             export D='$(x) `y` \\ \"z\"\nline2\n'\n\
             export E=''\\'''\n\
             export F=''\\'''\\'''\n"
        );
    }

    #[test]
    fn export_passes_non_utf8_bytes_through() {
        assert_eq!(
            render(Format::Export, &[var("A", b"\xff\xfe")]),
            b"export A='\xff\xfe'\n"
        );
    }

    #[test]
    fn empty_var_list_writes_nothing_or_empty_object() {
        assert_eq!(render(Format::Export, &[]), b"");
        assert_eq!(render(Format::Dotenv, &[]), b"");
        assert_eq!(render(Format::Json, &[]), b"{}\n");
    }

    #[test]
    fn nul_is_refused_in_export_and_dotenv_with_every_var_named() {
        let vars = [var("A", b"a\0b"), var("OK", b"x"), var("C", b"\0")];
        for format in [Format::Export, Format::Dotenv] {
            let mut out = Vec::new();
            let err = write(format, &vars, &mut out).unwrap_err();
            assert!(out.is_empty(), "nothing is written on error");
            assert_eq!(
                err.to_string(),
                "value of `A` from `TEST://A` contains a NUL byte, which an environment variable cannot hold\n\
                 value of `C` from `TEST://C` contains a NUL byte, which an environment variable cannot hold"
            );
        }
        // JSON can hold NUL.
        assert_eq!(
            render_str(Format::Json, &[var("A", b"a\0")]),
            "{\"A\": \"a\\u0000\"}\n"
        );
    }

    // ---- dotenv ----

    #[test]
    fn dotenv_unquoted_when_safe() {
        let vars = [
            var("A", b"abc123"),
            var("B", b"postgres://u@h:5432/db,x"),
            var("C", b"aGVsbG8+/w=="),
            var("D", b""),
            var("E", b"50%_~-."),
        ];
        assert_eq!(
            render_str(Format::Dotenv, &vars),
            "A=abc123\nB=postgres://u@h:5432/db,x\nC=aGVsbG8+/w==\nD=\nE=50%_~-.\n"
        );
    }

    #[test]
    fn dotenv_quoted_and_escaped() {
        let cases: &[(&[u8], &str)] = &[
            (b"a b", r#""a b""#),
            (b"it's", r#""it's""#),
            (b"say \"hi\"", r#""say \"hi\"""#),
            (b"back\\slash", r#""back\\slash""#),
            (b"l1\nl2\r\n", r#""l1\nl2\r\n""#),
            (b"t\tb\x07\x08\x0b\x0c", r#""t\tb\a\b\v\f""#),
            (b"$HOME", r#""$HOME""#),
            (b"${HOME}", r#""${:-$}{HOME}""#),
            (b"$${A}$", r#""$${:-$}{A}$""#),
            (b"a\\", r#""a${:-\\}""#),
            (b"\\\\", r#""\\${:-\\}""#),
            (b"#x", r##""#x""##),
            ("é".as_bytes(), "\"é\""),
        ];
        for (value, want) in cases {
            let got = render_str(Format::Dotenv, &[var("V", value)]);
            assert_eq!(
                got,
                format!("V={want}\n"),
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn dotenv_and_json_refuse_non_utf8() {
        let vars = [var("A", b"\xff"), var("B", b"ok")];
        for format in [Format::Dotenv, Format::Json] {
            let mut out = Vec::new();
            let err = write(format, &vars, &mut out).unwrap_err();
            assert!(out.is_empty());
            assert_eq!(
                err.to_string(),
                "value of `A` from `TEST://A` is not valid UTF-8, which this output format cannot hold"
            );
            assert!(matches!(err, OutputError::NotUtf8(v) if v.len() == 1));
        }
    }

    // ---- json ----

    #[test]
    fn json_object_in_order() {
        let vars = [
            var("Z", b"1"),
            var("A", "q\"\\\n\u{e9}\u{1f600}".as_bytes()),
        ];
        let out = render_str(Format::Json, &vars);
        assert_eq!(
            out,
            "{\"Z\": \"1\", \"A\": \"q\\\"\\\\\\n\u{e9}\u{1f600}\"}\n"
        );
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back["A"], "q\"\\\n\u{e9}\u{1f600}");
    }

    #[test]
    fn io_errors_are_reported() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "gone"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let err = write(Format::Export, &[var("A", b"x")], &mut Broken).unwrap_err();
        assert!(matches!(&err, OutputError::Io(e) if e.kind() == io::ErrorKind::BrokenPipe));
        assert_eq!(err.to_string(), "cannot write output: gone");
    }

    // The round trips through real readers (sh, bash, dash, zsh, python-dotenv) run the real
    // binary on the shared corpus `tests/data/nasty-values.json`: see `tests/retrieve.rs`.
}
