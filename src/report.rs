//! The reports `cm` prints on stdout for the commands that resolve nothing: `cm scan` (text and
//! JSON), `cm plugin list`, `cm plugin install` and `cm init`. Each is a writer to
//! `impl Write`, so tests compare whole outputs and the caller picks the sink (a locked,
//! buffered stdout).
//!
//! `cm scan --format json` streams: each token is serialized from borrowed parts straight into
//! the writer, with no JSON tree in between. Its bytes are those of the `serde_json::Value`
//! document it replaced: one line, keys sorted alphabetically at every level.

use std::borrow::Cow;
use std::io::{self, Write};
use std::path::PathBuf;

use serde::Serialize;

use crate::plan::Plan;
use crate::plugin::discover::Kind;
use crate::plugin::manage::{InitReport, Installed, Listed};
use crate::scan::Token;

fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// `cm scan`: one line per token, then a summary.
pub(crate) fn scan_text(
    w: &mut impl Write,
    name: &str,
    input: &[u8],
    tokens: &[Token],
    plan: &Plan,
) -> io::Result<()> {
    for t in tokens {
        write!(
            w,
            "{name}:{}:{}: {}  (prefix={} path={}",
            t.pos.line,
            t.pos.column,
            lossy(t.text(input)),
            t.prefix(input),
            lossy(t.path(input))
        )?;
        if let Some(k) = t.key_path(input) {
            write!(w, " key_path={}", lossy(k))?;
        }
        if let Some(m) = t.metadata(input) {
            write!(w, " metadata={}", lossy(m))?;
        }
        w.write_all(b")\n")?;
    }
    let prefixes = plan.prefixes().join(", ");
    writeln!(
        w,
        "{} token(s), {} fetch(es), prefixes: {}",
        tokens.len(),
        plan.len(),
        if prefixes.is_empty() { "-" } else { &prefixes }
    )
}

/// One token of `cm scan --format json`, borrowed from the input. Fields are in alphabetical
/// order, which is the order they are written in.
#[derive(Serialize)]
struct JsonToken<'a> {
    column: usize,
    end: usize,
    key_path: Option<Cow<'a, str>>,
    line: usize,
    metadata: Option<Cow<'a, str>>,
    path: Cow<'a, str>,
    prefix: &'a str,
    start: usize,
    token: Cow<'a, str>,
}

/// `cm scan --format json`: `{"fetches":N,"prefixes":[...],"tokens":[...]}` and a newline.
pub(crate) fn scan_json(
    w: &mut impl Write,
    input: &[u8],
    tokens: &[Token],
    plan: &Plan,
) -> io::Result<()> {
    write!(w, "{{\"fetches\":{},\"prefixes\":", plan.len())?;
    serde_json::to_writer(&mut *w, &plan.prefixes())?;
    w.write_all(b",\"tokens\":[")?;
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        let token = JsonToken {
            column: t.pos.column,
            end: t.span.end,
            key_path: t.key_path(input).map(lossy),
            line: t.pos.line,
            metadata: t.metadata(input).map(lossy),
            path: lossy(t.path(input)),
            prefix: t.prefix(input),
            start: t.span.start,
            token: lossy(t.text(input)),
        };
        serde_json::to_writer(&mut *w, &token)?;
    }
    w.write_all(b"]}\n")
}

/// `cm plugin list`: one tab-separated line per plugin found, or where none was found.
pub(crate) fn plugin_list(
    w: &mut impl Write,
    plugins: &[Listed],
    searched: &[PathBuf],
) -> io::Result<()> {
    if plugins.is_empty() {
        let dirs: Vec<String> = searched
            .iter()
            .map(|d| d.join(".configmanager/plugins").display().to_string())
            .collect();
        return writeln!(w, "no plugins found in {}", dirs.join(", "));
    }
    for p in plugins {
        write!(w, "{}\t{}\t{}\t", p.prefix, p.kind, p.lock)?;
        match &p.sha256 {
            Ok(h) => write!(w, "sha256:{h}")?,
            Err(e) => write!(w, "unreadable: {e}")?,
        }
        write!(w, "\t{}", p.path.display())?;
        if !p.active {
            w.write_all(b" (shadowed by an earlier folder)")?;
        }
        for g in &p.grants {
            write!(w, "\t{g}")?;
        }
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// `cm plugin install`: where the binary went and which lock file recorded it.
pub(crate) fn installed(w: &mut impl Write, done: &Installed) -> io::Result<()> {
    writeln!(
        w,
        "installed {} (sha256:{})\nrecorded in {}",
        done.path.display(),
        done.sha256,
        done.lock.display()
    )?;
    if done.kind == Kind::Wasm {
        if done.grants.is_empty() {
            writeln!(w, "granted: nothing (no network, no environment)")?;
        } else {
            let grants: Vec<String> = done.grants.iter().map(ToString::to_string).collect();
            writeln!(w, "granted: {}", grants.join(" "))?;
        }
    }
    Ok(())
}

/// `cm init`: each plugin, installed or missing (with how to install it).
pub(crate) fn init(w: &mut impl Write, reports: &[InitReport]) -> io::Result<()> {
    for r in reports {
        if r.present {
            writeln!(w, "{}: installed at {}", r.prefix, r.path.display())?;
        } else {
            writeln!(
                w,
                "{}: missing; copy the plugin binary to {} or run `cm plugin install {} --from FILE`",
                r.prefix,
                r.path.display(),
                r.prefix
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::Grammar;
    use crate::plugin::lock::Grant;
    use crate::plugin::manage::LockState;
    use crate::scan::scan;

    fn scanned(input: &[u8]) -> (Vec<Token>, Plan) {
        let tokens = scan(&Grammar::default(), input).tokens;
        let (plan, _) = Plan::from_tokens(input, &tokens);
        (tokens, plan)
    }

    fn text(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    const INPUT: &[u8] =
        b"db: AWSSECRETS:///app/db|password[version=2]\nurl: VAULT://x/y \xff AWSSECRETS:///app/db\n";

    #[test]
    fn scan_text_lists_tokens_then_a_summary() {
        let (tokens, plan) = scanned(INPUT);
        assert_eq!(
            text(|w| scan_text(w, "<stdin>", INPUT, &tokens, &plan)),
            "<stdin>:1:5: AWSSECRETS:///app/db|password[version=2]  (prefix=AWSSECRETS path=/app/db key_path=password metadata=version=2)\n\
             <stdin>:2:6: VAULT://x/y  (prefix=VAULT path=x/y)\n\
             <stdin>:2:20: AWSSECRETS:///app/db  (prefix=AWSSECRETS path=/app/db)\n\
             3 token(s), 3 fetch(es), prefixes: AWSSECRETS, VAULT\n"
        );
        let (tokens, plan) = scanned(b"nothing here");
        assert_eq!(
            text(|w| scan_text(w, "f", b"nothing here", &tokens, &plan)),
            "0 token(s), 0 fetch(es), prefixes: -\n"
        );
    }

    /// The bytes `serde_json::json!` gave before the report streamed (sorted keys).
    fn as_value_document(input: &[u8], tokens: &[Token], plan: &Plan) -> String {
        let tokens: Vec<serde_json::Value> = tokens
            .iter()
            .map(|t| {
                serde_json::json!({
                    "token": lossy(t.text(input)),
                    "prefix": t.prefix(input),
                    "path": lossy(t.path(input)),
                    "key_path": t.key_path(input).map(lossy),
                    "metadata": t.metadata(input).map(lossy),
                    "line": t.pos.line,
                    "column": t.pos.column,
                    "start": t.span.start,
                    "end": t.span.end,
                })
            })
            .collect();
        let doc = serde_json::json!({ "tokens": tokens, "fetches": plan.len(), "prefixes": plan.prefixes() });
        format!("{doc}\n")
    }

    #[test]
    fn scan_json_is_one_sorted_line() {
        let (tokens, plan) = scanned(INPUT);
        let got = text(|w| scan_json(w, INPUT, &tokens, &plan));
        assert_eq!(
            got,
            "{\"fetches\":3,\"prefixes\":[\"AWSSECRETS\",\"VAULT\"],\"tokens\":[\
             {\"column\":5,\"end\":44,\"key_path\":\"password\",\"line\":1,\"metadata\":\"version=2\",\"path\":\"/app/db\",\"prefix\":\"AWSSECRETS\",\"start\":4,\"token\":\"AWSSECRETS:///app/db|password[version=2]\"},\
             {\"column\":6,\"end\":61,\"key_path\":null,\"line\":2,\"metadata\":null,\"path\":\"x/y\",\"prefix\":\"VAULT\",\"start\":50,\"token\":\"VAULT://x/y\"},\
             {\"column\":20,\"end\":84,\"key_path\":null,\"line\":2,\"metadata\":null,\"path\":\"/app/db\",\"prefix\":\"AWSSECRETS\",\"start\":64,\"token\":\"AWSSECRETS:///app/db\"}]}\n"
        );
        assert_eq!(got, as_value_document(INPUT, &tokens, &plan));
        let (tokens, plan) = scanned(b"");
        assert_eq!(
            text(|w| scan_json(w, b"", &tokens, &plan)),
            "{\"fetches\":0,\"prefixes\":[],\"tokens\":[]}\n"
        );
    }

    #[test]
    fn scan_json_escapes_like_serde_json() {
        let input = "VAULT://a\u{1}\"\\é|k\u{7f}[m\tn]".as_bytes();
        let (tokens, plan) = scanned(input);
        assert_eq!(
            text(|w| scan_json(w, input, &tokens, &plan)),
            as_value_document(input, &tokens, &plan)
        );
    }

    fn listed(
        prefix: &str,
        lock: LockState,
        sha256: Result<String, String>,
        active: bool,
    ) -> Listed {
        Listed {
            prefix: prefix.into(),
            path: PathBuf::from(format!("/d/{prefix}")),
            kind: Kind::Native,
            grants: Vec::new(),
            sha256,
            lock,
            active,
        }
    }

    #[test]
    fn plugin_list_one_line_per_plugin() {
        let plugins = [
            listed("ECHO", LockState::Matches, Ok("ab".into()), true),
            listed("ECHO", LockState::NoLock, Err("denied".into()), false),
            listed(
                "JSON",
                LockState::Mismatch {
                    expected: "cd".into(),
                },
                Ok("ef".into()),
                true,
            ),
            Listed {
                kind: Kind::Wasm,
                grants: vec![
                    Grant::Host("vault.example:8200".into()),
                    Grant::Env("VAULT_TOKEN".into()),
                ],
                ..listed("VAULT", LockState::Matches, Ok("01".into()), true)
            },
        ];
        assert_eq!(
            text(|w| plugin_list(w, &plugins, &[])),
            "ECHO\tnative\tlocked\tsha256:ab\t/d/ECHO\n\
             ECHO\tnative\tno lock file\tunreadable: denied\t/d/ECHO (shadowed by an earlier folder)\n\
             JSON\tnative\tMISMATCH (lock has sha256:cd)\tsha256:ef\t/d/JSON\n\
             VAULT\twasm\tlocked\tsha256:01\t/d/VAULT\tallow-host=vault.example:8200\tallow-env=VAULT_TOKEN\n"
        );
    }

    #[test]
    fn plugin_list_names_the_folders_searched_when_empty() {
        assert_eq!(
            text(|w| plugin_list(w, &[], &["/a".into(), "/b".into()])),
            "no plugins found in /a/.configmanager/plugins, /b/.configmanager/plugins\n"
        );
    }

    #[test]
    fn install_and_init_reports() {
        let done = Installed {
            path: "/p/echo/echo-linux-amd64".into(),
            sha256: "ab".into(),
            lock: "/p/plugins.lock".into(),
            kind: Kind::Native,
            grants: Vec::new(),
        };
        assert_eq!(
            text(|w| installed(w, &done)),
            "installed /p/echo/echo-linux-amd64 (sha256:ab)\nrecorded in /p/plugins.lock\n"
        );
        let module = Installed {
            path: "/p/vault/vault.wasm".into(),
            kind: Kind::Wasm,
            grants: vec![
                Grant::Host("[::1]:8200".into()),
                Grant::Env("VAULT_ADDR".into()),
            ],
            ..done.clone()
        };
        assert_eq!(
            text(|w| installed(w, &module)),
            "installed /p/vault/vault.wasm (sha256:ab)\nrecorded in /p/plugins.lock\n\
             granted: allow-host=[::1]:8200 allow-env=VAULT_ADDR\n"
        );
        assert_eq!(
            text(|w| installed(
                w,
                &Installed {
                    grants: Vec::new(),
                    ..module
                }
            )),
            "installed /p/vault/vault.wasm (sha256:ab)\nrecorded in /p/plugins.lock\n\
             granted: nothing (no network, no environment)\n"
        );
        let reports = [
            InitReport {
                prefix: "echo".into(),
                path: "/p/echo/e".into(),
                present: true,
            },
            InitReport {
                prefix: "vault".into(),
                path: "/p/vault/v".into(),
                present: false,
            },
        ];
        assert_eq!(
            text(|w| init(w, &reports)),
            "echo: installed at /p/echo/e\n\
             vault: missing; copy the plugin binary to /p/vault/v or run `cm plugin install vault --from FILE`\n"
        );
    }
}
