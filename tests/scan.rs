//! `cm scan`: the dry run. Lists tokens, never starts a plugin.

use crate::support::project;

#[test]
fn json_output_lists_every_token_with_its_parts() {
    let p = project();
    let out = p
        .cm()
        .args(["scan", "--format", "json"])
        .stdin("db: AWSSECRETS:///app/db|password[version=2]\nurl: VAULT://x/y\n")
        .stdout_unchecked()
        .success();
    // Compared as JSON, and as text below: the document's meaning and its exact layout.
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
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
    assert_eq!(out.stdout_str(), format!("{doc}\n"));
}

#[test]
fn text_output_and_plan_summary() {
    project()
        .cm()
        .arg("scan")
        .stdin("a AWSSECRETS:///x|u AWSSECRETS:///x|p\n")
        .stdout(
            "<stdin>:1:3: AWSSECRETS:///x|u  (prefix=AWSSECRETS path=/x key_path=u)\n\
             <stdin>:1:21: AWSSECRETS:///x|p  (prefix=AWSSECRETS path=/x key_path=p)\n\
             2 token(s), 1 fetch(es), prefixes: AWSSECRETS\n",
        )
        .success();
}

#[test]
fn malformed_tokens_are_all_reported_with_positions() {
    let p = project();
    p.write(
        "t.yaml",
        "ok: VAULT://a\nbad: VAULT://b[]\nworse: VAULT://c[v=1\n",
    );
    p.cm()
        .args(["scan", "-i", "t.yaml"])
        .stderr(
            "cm: t.yaml:2:6: metadata brackets must include at least one set of key=value pairs in token `VAULT://b[]`\n\
             t.yaml:3:8: no corresponding end tag found in token `VAULT://c[v=1`\n",
        )
        .failure(2);
}

#[test]
fn separators_and_discovered_plugins() {
    let p = project();
    p.install("myplug");
    p.cm()
        .args(["-s", "#", "-k", "%", "scan", "--format", "json"])
        .stdin("x=MYPLUG#/a%b y=AWSSECRETS#/c")
        .stdout(
            r#"{"fetches":2,"prefixes":["AWSSECRETS","MYPLUG"],"tokens":[{"column":3,"end":13,"key_path":"b","line":1,"metadata":null,"path":"/a","prefix":"MYPLUG","start":2,"token":"MYPLUG#/a%b"},{"column":17,"end":29,"key_path":null,"line":1,"metadata":null,"path":"/c","prefix":"AWSSECRETS","start":16,"token":"AWSSECRETS#/c"}]}
"#,
        )
        .success();
    p.cm()
        .args(["-k", "ab", "scan"])
        .stderr("cm: config validation failed, keyseparator can only be 1 character\n")
        .failure(2);
}
