//! `cm insert` and `cm string-input` through real plugin processes.

use crate::support::Bench;

#[test]
fn insert_replaces_every_token_and_keeps_every_other_byte() {
    let b = Bench::new();
    b.install("echo");
    let template = b"a: ECHO:///app/a\r\nb:\t\"ECHO://b|x[v=1]\"\n\xff raw ECHO://c,rest\n";
    // Without a key path the whole value is used; with one, the value must be JSON: echo's is
    // not, and configmanager then returns the raw value.
    let r = b.run(&["insert"], template);
    r.success();
    assert_eq!(
        r.stdout,
        b"a: /app/a->\r\nb:\t\"b->v=1\"\n\xff raw c->,rest\n".to_vec(),
        "{}",
        r.stderr
    );
}

#[test]
fn one_call_per_item_however_many_tokens_point_into_it() {
    let b = Bench::new();
    b.install("json");
    let template = "u=JSON:///db|user p=JSON:///db|password port=JSON:///db|port h=JSON:///db|nested.host\n\
                    v1=JSON:///db|user[v=2] v2=JSON:///db|port[v=2] other=JSON:///other|path\n";
    let r = b.run(&["insert"], template.as_bytes());
    r.success();
    assert_eq!(
        r.stdout(),
        "u=user-/db p=p@ss'\"$(x)`y`\\z port=5432 h=db.example\nv1=user-/db v2=5432 other=/other\n"
    );
    // /db, /db[v=2], /other: three calls for seven tokens.
    assert_eq!(b.call_count(), 3, "{:?}", b.calls());
}

#[test]
fn values_are_never_rescanned_and_overlapping_tokens_each_get_their_own_value() {
    let b = Bench::new();
    b.install("json");
    b.write("v.txt", "ECHO://never");
    // configmanager replaces `JSON:///x` inside `JSON:///x|user` and leaves `|user` behind.
    let r = b.run(&["insert"], b"JSON:///x JSON:///x|user FILE://v.txt\n");
    r.success();
    let out = r.stdout();
    assert!(out.starts_with("{\"nested\""), "{out}");
    assert!(out.contains("} user-/x "), "{out}");
    // A value that looks like a token stays literal (no ECHO plugin exists to resolve it).
    assert!(out.ends_with(" ECHO://never\n"), "{out}");
}

#[test]
fn calls_run_concurrently_within_the_limit() {
    let b = Bench::new();
    b.install("slow");
    let template: String = (0..20).map(|i| format!("SLOW://item{i}\n")).collect();
    b.run(&["insert"], template.as_bytes()).success();
    assert_eq!(max_in_flight(&b.calls()), 20, "all 20 calls should overlap");

    let b = Bench::new();
    b.install("slow");
    b.run(&["--concurrency", "4", "insert"], template.as_bytes())
        .success();
    let max = max_in_flight(&b.calls());
    assert!(
        (2..=4).contains(&max),
        "--concurrency 4 gave {max} calls in flight"
    );
}

fn max_in_flight(calls: &[(String, String)]) -> usize {
    let (mut now, mut max) = (0usize, 0usize);
    for (event, _) in calls {
        if event == "call" {
            now += 1;
            max = max.max(now);
        } else {
            now -= 1;
        }
    }
    max
}

#[test]
fn a_failed_token_fails_the_run_and_writes_nothing() {
    let b = Bench::new();
    b.install("echo");
    b.write("out.txt", "previous\n");
    let r = b.run(
        &["insert", "-p", "out.txt"],
        b"ok=ECHO://fine\nbad=ECHO://err\nbad2=ECHO://err|k\n",
    );
    r.failure(1)
        .stderr_has("<stdin>:2:5: failed to retrieve config item - (ECHO://err), implementation ECHO error: simulated failure for token: err")
        .stderr_has("<stdin>:3:6: failed to retrieve config item - (ECHO://err|k)")
        .stderr_has("token not found: 2 of 3 token(s) could not be resolved");
    assert_eq!(b.read("out.txt"), b"previous\n");
    assert!(r.stdout.is_empty());
}

#[test]
fn lax_leaves_failed_tokens_as_they_were() {
    let b = Bench::new();
    b.install("echo");
    let r = b.run(&["insert", "--lax"], b"ok=ECHO://fine bad=ECHO://err\n");
    r.success()
        .stdout_is("ok=fine-> bad=ECHO://err\n")
        .stderr_has("failed to retrieve config item - (ECHO://err)");
}

#[test]
fn missing_key_is_an_error_naming_the_token() {
    let b = Bench::new();
    b.install("json");
    b.run(&["insert"], b"x=JSON:///db|nope\n")
        .failure(1)
        .stderr_has(
            "failed to retrieve config item - (JSON:///db|nope), key path `nope` not found",
        );
}

#[test]
fn missing_plugin_is_reported_with_the_paths_tried() {
    let b = Bench::new();
    let r = b.run(&["insert"], b"x=AWSSECRETS:///a\n");
    r.failure(3)
        .stderr_has("configmanager provider: ( awssecrets ) plugin does not exist");
    let expected = b
        .dir
        .path()
        .join(".configmanager/plugins/awssecrets")
        .join(crate::support::plugin_file_name("awssecrets"));
    r.stderr_has(&expected.display().to_string());
}

#[test]
fn configmanager_dir_is_searched_first() {
    let b = Bench::new();
    let other = tempfile::tempdir().unwrap();
    let dest = other
        .path()
        .join(".configmanager/plugins/echo")
        .join(crate::support::plugin_file_name("echo"));
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(crate::support::TEST_PLUGIN, &dest).unwrap();
    let r = b.run_cmd(
        b.cm().env("CONFIGMANAGER_DIR", other.path()).arg("insert"),
        b"ECHO://a",
    );
    r.success().stdout_is("a->");
    assert!(crate::support::plugin_pids_under(other.path()).is_empty());
}

#[test]
fn insert_reads_and_writes_files_and_rewrites_in_place() {
    let b = Bench::new();
    b.install("echo");
    b.write("t.conf", "host=ECHO://h\n");
    b.run(&["insert", "-i", "t.conf", "-p", "out.conf"], b"")
        .success();
    assert_eq!(b.read("out.conf"), b"host=h->\n");
    b.run(&["string-input", "-i", "t.conf", "-p", "t.conf"], b"")
        .success();
    assert_eq!(b.read("t.conf"), b"host=h->\n");
}

#[test]
fn string_input_takes_literal_text_stdin_or_a_file() {
    let b = Bench::new();
    b.install("echo");
    b.run(&["fromstr", "-i", "x=ECHO://lit", "-p", "stdout"], b"")
        .success()
        .stdout_is("x=lit->");
    b.run(&["getfromstr", "-i", "-", "-p", "-"], b"y=ECHO://in")
        .success()
        .stdout_is("y=in->");
    b.run(&["string-input", "-i", "x=ECHO://lit"], b"")
        .success();
    assert_eq!(b.read("app.env"), b"x=lit->");
}

#[test]
fn cookie_retry_with_the_later_configmanager_value() {
    let b = Bench::new();
    b.install("oldcookie");
    b.run(&["insert"], b"OLDCOOKIE://a")
        .success()
        .stdout_is("a->");
}

#[test]
fn several_plugins_start_once_each() {
    let b = Bench::new();
    for p in ["echo", "json", "slow"] {
        b.install(p);
    }
    let r = b.run(
        &["-vv", "insert"],
        b"ECHO://a JSON:///b|user SLOW://c ECHO://d JSON:///e|port\n",
    );
    r.success().stdout_is("a-> user-/b c-> d-> 5432\n");
    assert_eq!(r.stderr.matches("plugin start").count(), 3, "{}", r.stderr);
}

#[test]
fn plugin_stderr_is_forwarded_with_verbose_and_no_value_is_logged() {
    let b = Bench::new();
    b.install("json");
    // RUST_LOG reaches the SDK plugin too (its default level is info).
    let r = b.run_cmd(
        b.cm().env("RUST_LOG", "trace").args(["-vvv", "insert"]),
        b"JSON:///db|password\n",
    );
    r.success();
    // The plugin's own hclog line, re-logged under its name.
    r.stderr_has("value requested");
    assert!(
        !r.stderr.contains("p@ss"),
        "a value reached the log:\n{}",
        r.stderr
    );
    let quiet = b.run(&["insert"], b"JSON:///db|password\n");
    assert_eq!(quiet.stderr, "", "nothing on stderr without -v");
}
