//! `cm insert` and `cm string-input` through real plugin processes.

use crate::support::{TEST_PLUGIN, plugin_pids_under, project};

#[test]
fn insert_replaces_every_token_and_keeps_every_other_byte() {
    let p = project();
    p.install("echo");
    // Without a key path the whole value is used; with one, the value must be JSON: echo's is
    // not, and configmanager then returns the raw value.
    p.cm()
        .arg("insert")
        .stdin(b"a: ECHO:///app/a\r\nb:\t\"ECHO://b|x[v=1]\"\n\xff raw ECHO://c,rest\n")
        .stdout(b"a: /app/a->\r\nb:\t\"b->v=1\"\n\xff raw c->,rest\n")
        .success();
}

#[test]
fn one_call_per_item_however_many_tokens_point_into_it() {
    let p = project();
    p.install("json");
    p.cm()
        .arg("insert")
        .stdin(
            "u=JSON:///db|user p=JSON:///db|password port=JSON:///db|port h=JSON:///db|nested.host\n\
             v1=JSON:///db|user[v=2] v2=JSON:///db|port[v=2] other=JSON:///other|path\n",
        )
        .stdout(
            "u=user-/db p=p@ss'\"$(x)`y`\\z port=5432 h=db.example\nv1=user-/db v2=5432 other=/other\n",
        )
        .success();
    // /db, /db[v=2], /other: three calls for seven tokens.
    assert_eq!(p.call_count(), 3, "{:?}", p.calls());
}

#[test]
fn values_are_never_rescanned_and_overlapping_tokens_each_get_their_own_value() {
    let p = project();
    p.install("json");
    p.write("v.txt", "ECHO://never");
    // configmanager replaces `JSON:///x` inside `JSON:///x|user` and leaves `|user` behind; a
    // value that looks like a token stays literal (no ECHO plugin exists to resolve it).
    p.cm()
        .arg("insert")
        .stdin("JSON:///x JSON:///x|user FILE://v.txt\n")
        .stdout(
            "{\"nested\":{\"host\":\"db.example\",\"list\":[\"a\",\"b\"]},\"password\":\"p@ss'\\\"$(x)`y`\\\\z\",\"path\":\"/x\",\"port\":5432,\"user\":\"user-/x\"} user-/x ECHO://never\n",
        )
        .success();
}

#[test]
fn calls_run_concurrently_within_the_limit() {
    // The barrier plugin answers only when n=20 calls have arrived: success proves they were
    // all in flight at once.
    let p = project();
    p.install("barrier");
    let template: String = (0..20)
        .map(|i| format!("BARRIER://item{i}[n=20]\n"))
        .collect();
    let expected: String = (0..20).map(|i| format!("item{i}->\n")).collect();
    p.cm()
        .arg("insert")
        .stdin(&template)
        .stdout(&expected)
        .success();
    assert_eq!(p.max_in_flight(), 20);

    // With --concurrency 4 calls go in groups of four: never more in flight (the plugin logs a
    // call's end before cm can start the next), and a group of four must fill up.
    let p = project();
    p.install("barrier");
    let template: String = (0..20)
        .map(|i| format!("BARRIER://item{i}[n=4]\n"))
        .collect();
    p.cm()
        .args(["--concurrency", "4", "insert"])
        .stdin(&template)
        .stdout(&expected)
        .success();
    assert_eq!(p.max_in_flight(), 4, "{:?}", p.calls());
}

#[test]
fn a_barrier_that_never_fills_fails_with_the_plugins_reason() {
    // The check that the concurrency test can fail: a call alone cannot meet a barrier of two.
    let p = project();
    p.install("barrier");
    p.cm()
        .arg("insert")
        .stdin("BARRIER://alone[n=2,limit_ms=100]\n")
        .stderr(
            "cm: <stdin>:1:1: failed to retrieve config item - (BARRIER://alone[n=2,limit_ms=100]), failed to retrieve config item: barrier: only 1 of 2 calls arrived within 100 ms\n\
             token not found: 1 of 1 token(s) could not be resolved\n",
        )
        .failure(1);
}

#[test]
fn a_failed_token_fails_the_run_and_writes_nothing() {
    let p = project();
    p.install("echo");
    p.write("out.txt", "previous\n");
    p.cm()
        .args(["insert", "-p", "out.txt"])
        .stdin("ok=ECHO://fine\nbad=ECHO://err\nbad2=ECHO://err|k\n")
        .stderr(
            "cm: <stdin>:2:5: failed to retrieve config item - (ECHO://err), implementation ECHO error: simulated failure for token: err\n\
             <stdin>:3:6: failed to retrieve config item - (ECHO://err|k), implementation ECHO error: simulated failure for token: err\n\
             token not found: 2 of 3 token(s) could not be resolved\n",
        )
        .failure(1);
    assert_eq!(p.read("out.txt"), b"previous\n");
}

#[test]
fn lax_leaves_failed_tokens_as_they_were() {
    let p = project();
    p.install("echo");
    p.cm()
        .args(["insert", "--lax"])
        .stdin("ok=ECHO://fine bad=ECHO://err\n")
        .stdout("ok=fine-> bad=ECHO://err\n")
        .stderr(" WARN <stdin>:1:20: failed to retrieve config item - (ECHO://err), implementation ECHO error: simulated failure for token: err (left as it was: --lax)\n")
        .success();
}

#[test]
fn missing_key_is_an_error_naming_the_token() {
    let p = project();
    p.install("json");
    p.cm()
        .arg("insert")
        .stdin("x=JSON:///db|nope\n")
        .stderr(
            "cm: <stdin>:1:3: failed to retrieve config item - (JSON:///db|nope), key path `nope` not found in the value\n\
             token not found: 1 of 1 token(s) could not be resolved\n",
        )
        .failure(1);
}

#[test]
fn missing_plugin_is_reported_with_the_paths_tried() {
    let p = project();
    p.cm()
        .arg("insert")
        .stdin("x=AWSSECRETS:///a\n")
        .stderr(crate::support::missing_plugin_stderr(&p, "awssecrets"))
        .failure(3);
}

#[test]
fn configmanager_dir_is_searched_first() {
    let p = project();
    let other = tempfile::tempdir().unwrap();
    let dest = other
        .path()
        .join(".configmanager/plugins/echo")
        .join(crate::support::plugin_file_name("echo"));
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(TEST_PLUGIN, &dest).unwrap();
    p.cm()
        .env("CONFIGMANAGER_DIR", other.path())
        .arg("insert")
        .stdin("ECHO://a")
        .stdout("a->")
        .success();
    assert!(plugin_pids_under(other.path()).is_empty());
}

#[test]
fn insert_reads_and_writes_files_and_rewrites_in_place() {
    let p = project();
    p.install("echo");
    p.write("t.conf", "host=ECHO://h\n");
    p.cm()
        .args(["insert", "-i", "t.conf", "-p", "out.conf"])
        .success();
    assert_eq!(p.read("out.conf"), b"host=h->\n");
    p.cm()
        .args(["string-input", "-i", "t.conf", "-p", "t.conf"])
        .success();
    assert_eq!(p.read("t.conf"), b"host=h->\n");
}

#[test]
fn string_input_takes_literal_text_stdin_or_a_file() {
    let p = project();
    p.install("echo");
    p.cm()
        .args(["fromstr", "-i", "x=ECHO://lit", "-p", "stdout"])
        .stdout("x=lit->")
        .success();
    p.cm()
        .args(["getfromstr", "-i", "-", "-p", "-"])
        .stdin("y=ECHO://in")
        .stdout("y=in->")
        .success();
    p.cm()
        .args(["string-input", "-i", "x=ECHO://lit"])
        .success();
    assert_eq!(p.read("app.env"), b"x=lit->");
}

#[test]
fn cookie_retry_with_the_later_configmanager_value() {
    let p = project();
    p.install("oldcookie");
    p.cm()
        .arg("insert")
        .stdin("OLDCOOKIE://a")
        .stdout("a->")
        .success();
}

#[test]
fn several_plugins_start_once_each() {
    let p = project();
    for plugin in ["echo", "json", "slow"] {
        p.install(plugin);
    }
    let out = p
        .cm()
        .args(["-vv", "insert"])
        .stdin("ECHO://a JSON:///b|user SLOW://c ECHO://d JSON:///e|port\n")
        .stdout("a-> user-/b c-> d-> 5432\n")
        // -vv log lines carry socket paths and durations; the starts are counted below.
        .stderr_unchecked()
        .success();
    assert_eq!(
        out.stderr.matches("plugin start").count(),
        3,
        "{}",
        out.stderr
    );
    let starts: Vec<_> = p.log().into_iter().filter(|(e, _)| e == "start").collect();
    assert_eq!(starts.len(), 3, "{starts:?}");
}

#[test]
fn plugin_stderr_is_forwarded_with_verbose_and_no_value_is_logged() {
    let p = project();
    p.install("json");
    // RUST_LOG reaches the SDK plugin too (its default level is info).
    let out = p
        .cm()
        .env("RUST_LOG", "trace")
        .args(["-vvv", "insert"])
        .stdin("JSON:///db|password\n")
        .stdout("p@ss'\"$(x)`y`\\z\n")
        // Trace logs carry socket paths, pids and durations. The plugin's own hclog line,
        // re-logged under its name:
        .stderr_contains("value requested")
        .success();
    assert!(
        !out.stderr.contains("p@ss"),
        "a value reached the log:\n{}",
        out.stderr
    );
    // Nothing on stderr without -v (the builder's default).
    p.cm()
        .arg("insert")
        .stdin("JSON:///db|password\n")
        .stdout("p@ss'\"$(x)`y`\\z\n")
        .success();
}
