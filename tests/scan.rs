//! `cm scan`: the dry run. Lists tokens, never starts a plugin.

use crate::support::Bench;

#[test]
fn json_output_lists_every_token_with_its_parts() {
    let b = Bench::new();
    let input = "db: AWSSECRETS:///app/db|password[version=2]\nurl: VAULT://x/y\n";
    let r = b.run(&["scan", "--format", "json"], input.as_bytes());
    r.success();
    let doc: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({
            "tokens": [
                {"token": "AWSSECRETS:///app/db|password[version=2]", "prefix": "AWSSECRETS", "path": "/app/db",
                 "key_path": "password", "metadata": "version=2", "line": 1, "column": 5, "start": 4, "end": 44},
                {"token": "VAULT://x/y", "prefix": "VAULT", "path": "x/y", "key_path": null, "metadata": null,
                 "line": 2, "column": 6, "start": 50, "end": 61},
            ],
            "fetches": 2,
            "prefixes": ["AWSSECRETS", "VAULT"],
        })
    );
}

#[test]
fn text_output_and_plan_summary() {
    let b = Bench::new();
    b.run(&["scan"], b"a AWSSECRETS:///x|u AWSSECRETS:///x|p\n")
        .success()
        .stdout_is(
            "<stdin>:1:3: AWSSECRETS:///x|u  (prefix=AWSSECRETS path=/x key_path=u)\n\
             <stdin>:1:21: AWSSECRETS:///x|p  (prefix=AWSSECRETS path=/x key_path=p)\n\
             2 token(s), 1 fetch(es), prefixes: AWSSECRETS\n",
        );
}

#[test]
fn malformed_tokens_are_all_reported_with_positions() {
    let b = Bench::new();
    b.write(
        "t.yaml",
        "ok: VAULT://a\nbad: VAULT://b[]\nworse: VAULT://c[v=1\n",
    );
    let r = b.run(&["scan", "-i", "t.yaml"], b"");
    r.failure(2)
        .stderr_has("t.yaml:2:6: metadata brackets must include at least one set of key=value pairs in token `VAULT://b[]`")
        .stderr_has("t.yaml:3:8: no corresponding end tag found");
    assert!(r.stdout.is_empty());
}

#[test]
fn separators_and_discovered_plugins() {
    let b = Bench::new();
    b.install("myplug");
    let r = b.run(
        &["-s", "#", "-k", "%", "scan", "--format", "json"],
        b"x=MYPLUG#/a%b y=AWSSECRETS#/c",
    );
    r.success();
    let doc: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(doc["prefixes"], serde_json::json!(["AWSSECRETS", "MYPLUG"]));
    assert_eq!(doc["tokens"][0]["key_path"], "b");
    b.run(&["-k", "ab", "scan"], b"")
        .failure(2)
        .stderr_has("config validation failed, keyseparator can only be 1 character");
}
