//! `cm retrieve --format yaml` and `--format k8s-secret`: YAML quoting and the two documents
//! built with it, a flat map and a Kubernetes `Secret` manifest.
//!
//! Every scalar cm writes (keys included: a key such as `NULL`, `ON` or `.5` would otherwise be
//! read as a null, a boolean or a number) is a YAML double-quoted scalar. That is the one YAML
//! style with escapes, so every character a YAML 1.2 (or PyYAML's 1.1) parser could change or
//! refuse is written as an escape and read back exactly: `"` and `\`, every C0 control and DEL,
//! the C1 controls (U+0085 NEL among them, a line break in YAML 1.1), U+2028 and U+2029 (line
//! breaks in YAML 1.1), the byte-order mark U+FEFF and the non-characters U+FFFE/U+FFFF. Line
//! breaks and tabs are escaped too, so a value never spans lines and folding never applies.
//! Everything else, including leading and trailing spaces, is literal inside the quotes.
//!
//! Like [`crate::output`], this module does no I/O of its own and never puts a value in an
//! error: errors name variables, tokens and flags.

use std::io::Write;

use crate::output::{BadValue, OutputError, Var, check_values};

/// `s` as a YAML double-quoted scalar, appended to `out`.
pub(crate) fn quoted(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\0' => out.extend_from_slice(b"\\0"),
            '\x07' => out.extend_from_slice(b"\\a"),
            '\x08' => out.extend_from_slice(b"\\b"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\x0b' => out.extend_from_slice(b"\\v"),
            '\x0c' => out.extend_from_slice(b"\\f"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\x1b' => out.extend_from_slice(b"\\e"),
            c if needs_escape(c) => {
                out.extend_from_slice(format!("\\u{:04X}", u32::from(c)).as_bytes());
            }
            c => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Characters outside YAML's printable set, or line breaks in some YAML version. All are in the
/// Basic Multilingual Plane, so `\uXXXX` can write each.
fn needs_escape(c: char) -> bool {
    matches!(c, '\0'..='\x1f' | '\x7f'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}')
}

fn utf8(var: &Var) -> &str {
    // `check_values` refused every value that is not UTF-8 before any writer runs.
    std::str::from_utf8(var.value.expose()).unwrap_or_default()
}

/// Writes `vars` as one flat YAML map, `"NAME": "value"` per line (`{}` when there are none).
///
/// Values must be UTF-8 (YAML text is): otherwise [`OutputError::NotUtf8`] and `w` receives
/// nothing. The document is handed to `w` in one `write_all`.
pub(crate) fn write_map(vars: &[Var], w: &mut impl Write) -> Result<(), OutputError> {
    check_values(vars, false, true)?;
    let mut buf = Vec::new();
    if vars.is_empty() {
        buf.extend_from_slice(b"{}\n");
    }
    for var in vars {
        quoted(&var.name, &mut buf);
        buf.extend_from_slice(b": ");
        quoted(utf8(var), &mut buf);
        buf.push(b'\n');
    }
    w.write_all(&buf)?;
    Ok(())
}

/// Which Kubernetes object name a flag holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum K8sNameKind {
    /// An object name (`--name`): an RFC 1123 DNS subdomain, at most 253 characters.
    Subdomain,
    /// A namespace (`--namespace`): an RFC 1123 label, at most 63 characters.
    Label,
}

/// Checks `name` against Kubernetes' rules for `kind`: lowercase ASCII letters, digits and `-`
/// (and `.` in a subdomain), starting and ending with a letter or digit, not too long. A
/// subdomain's dot-separated parts each start and end with a letter or digit as well, as
/// Kubernetes' own check requires.
pub(crate) fn valid_k8s_name(name: &str, kind: K8sNameKind) -> bool {
    let label = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b.iter()
                .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    };
    match kind {
        K8sNameKind::Label => name.len() <= 63 && label(name),
        K8sNameKind::Subdomain => name.len() <= 253 && name.split('.').all(label),
    }
}

/// Kubernetes' rule for a Secret's data keys: `[-._a-zA-Z0-9]+`, at most 253 characters.
fn valid_secret_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

/// The object a `Secret` manifest describes (name and namespace already checked with
/// [`valid_k8s_name`] by the caller, as flags are checked before anything is fetched).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SecretMeta {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, left out when `None`.
    pub namespace: Option<String>,
}

/// Writes a Kubernetes `Secret` of type `Opaque` holding `vars`, each value base64-encoded
/// under `data` (so any bytes are fine, non-UTF-8 included).
///
/// A variable name that is not a valid Secret key gives [`OutputError::BadSecretKey`] naming
/// every such variable, and `w` receives nothing.
pub(crate) fn write_k8s_secret(
    meta: &SecretMeta,
    vars: &[Var],
    w: &mut impl Write,
) -> Result<(), OutputError> {
    use base64::Engine as _;
    let bad: Vec<BadValue> = vars
        .iter()
        .filter(|v| !valid_secret_key(&v.name))
        .map(|v| BadValue {
            name: v.name.clone(),
            origin: v.origin(),
        })
        .collect();
    if !bad.is_empty() {
        return Err(OutputError::BadSecretKey(bad));
    }
    let mut buf = Vec::new();
    buf.extend_from_slice(b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: ");
    quoted(&meta.name, &mut buf);
    buf.push(b'\n');
    if let Some(ns) = &meta.namespace {
        buf.extend_from_slice(b"  namespace: ");
        quoted(ns, &mut buf);
        buf.push(b'\n');
    }
    buf.extend_from_slice(b"type: Opaque\ndata:");
    if vars.is_empty() {
        buf.extend_from_slice(b" {}");
    }
    buf.push(b'\n');
    for var in vars {
        buf.extend_from_slice(b"  ");
        quoted(&var.name, &mut buf);
        buf.extend_from_slice(b": \"");
        buf.extend_from_slice(
            base64::engine::general_purpose::STANDARD
                .encode(var.value.expose())
                .as_bytes(),
        );
        buf.extend_from_slice(b"\"\n");
    }
    w.write_all(&buf)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    fn var(name: &str, value: &[u8]) -> Var {
        Var::new(name, Secret::new(value.to_vec()), format!("X://{name}"))
    }

    fn q(s: &str) -> String {
        let mut out = Vec::new();
        quoted(s, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn quoting_table() {
        let cases = [
            ("", r#""""#),
            ("plain", r#""plain""#),
            ("  spaces  ", r#""  spaces  ""#),
            (r#"a"b\c"#, r#""a\"b\\c""#),
            ("l1\nl2\r\n\t", r#""l1\nl2\r\n\t""#),
            ("\0\x07\x08\x0b\x0c\x1b", r#""\0\a\b\v\f\e""#),
            (
                "\x01\x7f\u{80}\u{85}\u{9f}",
                r#""\u0001\u007F\u0080\u0085\u009F""#,
            ),
            (
                "\u{2028}\u{2029}\u{feff}\u{fffe}\u{ffff}",
                r#""\u2028\u2029\uFEFF\uFFFE\uFFFF""#,
            ),
            ("é\u{a0}😀 # : - {x}", "\"é\u{a0}😀 # : - {x}\""),
        ];
        for (input, want) in cases {
            assert_eq!(q(input), want, "{input:?}");
        }
    }

    #[test]
    fn map_writes_every_key_and_value_quoted() {
        let mut out = Vec::new();
        write_map(&[var("NULL", b"yes"), var("B", b"x: \"y\"\n")], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"NULL\": \"yes\"\n\"B\": \"x: \\\"y\\\"\\n\"\n"
        );
        let mut out = Vec::new();
        write_map(&[], &mut out).unwrap();
        assert_eq!(out, b"{}\n");
    }

    #[test]
    fn map_refuses_non_utf8_naming_every_variable() {
        let mut out = Vec::new();
        let e = write_map(
            &[var("A", b"\xff"), var("B", b"ok"), var("C", b"\xc3")],
            &mut out,
        )
        .unwrap_err();
        let OutputError::NotUtf8(bad) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            bad.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
            ["A", "C"]
        );
        assert!(out.is_empty());
    }

    #[test]
    fn k8s_names() {
        use K8sNameKind::{Label, Subdomain};
        for ok in ["a", "app", "my-app.v1", "0", "a-b-c", &"a".repeat(253)] {
            assert!(valid_k8s_name(ok, Subdomain), "{ok}");
        }
        for bad in [
            "",
            "App",
            "-a",
            "a-",
            "a..b",
            ".a",
            "a.",
            "a_b",
            "a b",
            "é",
            &"a".repeat(254),
        ] {
            assert!(!valid_k8s_name(bad, Subdomain), "{bad}");
        }
        for ok in ["default", "kube-system", "0a", &"a".repeat(63)] {
            assert!(valid_k8s_name(ok, Label), "{ok}");
        }
        for bad in ["", "a.b", "Default", "-a", "a-", &"a".repeat(64)] {
            assert!(!valid_k8s_name(bad, Label), "{bad}");
        }
    }

    #[test]
    fn k8s_secret_manifest() {
        let meta = SecretMeta {
            name: "app".into(),
            namespace: Some("prod".into()),
        };
        let mut out = Vec::new();
        write_k8s_secret(
            &meta,
            &[var("DB", b"pw"), var("BIN", b"\xff\x00")],
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: \"app\"\n  namespace: \"prod\"\n\
             type: Opaque\ndata:\n  \"DB\": \"cHc=\"\n  \"BIN\": \"/wA=\"\n"
        );
        let meta = SecretMeta {
            name: "app".into(),
            namespace: None,
        };
        let mut out = Vec::new();
        write_k8s_secret(&meta, &[], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: \"app\"\ntype: Opaque\ndata: {}\n"
        );
    }

    #[test]
    fn k8s_secret_refuses_bad_keys_naming_each() {
        let meta = SecretMeta {
            name: "app".into(),
            namespace: None,
        };
        let mut out = Vec::new();
        let e = write_k8s_secret(
            &meta,
            &[var("OK", b""), var("a b", b""), var("ü", b"")],
            &mut out,
        )
        .unwrap_err();
        let OutputError::BadSecretKey(bad) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            bad.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
            ["a b", "ü"]
        );
        assert!(out.is_empty());
    }
}
