//! The built-in providers `ENV://` and `FILE://`: served in-process, listed by `cm scan`, and
//! overridden by a plugin of the same name on disk.

use crate::support::Bench;

#[test]
fn env_and_file_resolve_without_any_plugin() {
    let b = Bench::new();
    b.write(
        "secrets.json",
        r#"{"db": {"password": "pw", "port": 5432}, "list": ["a", "b"]}"#,
    );
    b.write("sub/raw.txt", "raw\x00bytes\n");
    let mut cmd = b.cm();
    cmd.env("CM_TEST_VALUE", "from env").arg("insert");
    let r = b.run_cmd(
        &mut cmd,
        b"e=ENV://CM_TEST_VALUE\np=FILE://./secrets.json|db.password\nport=FILE://secrets.json|db.port\nl=FILE://secrets.json|list.1\nraw=FILE://sub/raw.txt",
    );
    r.success();
    assert_eq!(
        r.stdout,
        b"e=from env\np=pw\nport=5432\nl=b\nraw=raw\x00bytes\n".to_vec()
    );
    // No plugin was started: nothing was installed, and nothing is looked for.
    assert!(!b.path(".configmanager").exists());
}

#[test]
fn file_paths_are_relative_to_the_current_directory_or_absolute() {
    let b = Bench::new();
    let abs = b.write("abs.txt", "absolute");
    let token = format!("FILE://{}", abs.display());
    b.run(&["retrieve", "-p", "-", "-t", &token], b"")
        .success()
        .stdout_is("export ABS_TXT='absolute'\n");
}

#[test]
fn missing_variable_file_or_key_fails_with_a_clear_reason() {
    let b = Bench::new();
    b.write("s.json", r#"{"a": 1}"#);
    let mut cmd = b.cm();
    cmd.env_remove("CM_NOT_SET").arg("insert");
    let r = b.run_cmd(
        &mut cmd,
        b"ENV://CM_NOT_SET FILE://missing.json FILE://s.json|b\n",
    );
    r.failure(1)
        .stderr_has("(ENV://CM_NOT_SET), environment variable CM_NOT_SET is not set")
        .stderr_has("(FILE://missing.json), cannot read file ")
        .stderr_has("(FILE://s.json|b), key path `b` not found")
        .stderr_has("3 of 3 token(s)");
}

#[test]
fn scan_lists_built_in_prefixes_like_any_other() {
    let b = Bench::new();
    let r = b.run(
        &["scan", "--format", "json"],
        b"a=ENV://HOME b=FILE://./s.json|db.password c=VAULT://x\n",
    );
    r.success();
    let doc: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(doc["prefixes"], serde_json::json!(["ENV", "FILE", "VAULT"]));
    assert_eq!(doc["tokens"][1]["path"], "./s.json");
    assert_eq!(doc["tokens"][1]["key_path"], "db.password");
}

#[test]
fn a_plugin_of_the_same_name_takes_precedence() {
    let b = Bench::new();
    b.write("f.txt", "from the file");
    // The echo test plugin installed under the names of the built-ins.
    b.install("env");
    b.install("file");
    // The test plugin picks its behaviour from its file name; `env`/`file` are not modes, so
    // it answers like echo: PATH->METADATA.
    let r = b.run(&["insert"], b"ENV://HOME FILE://f.txt\n");
    r.success().stdout_is("HOME-> f.txt->\n");
    assert_eq!(b.call_count(), 2);
}
