//! The built-in providers `ENV://` and `FILE://`: served in-process, listed by `cm scan`, and
//! overridden by a plugin of the same name on disk.

use crate::support::project;

#[test]
fn env_and_file_resolve_without_any_plugin() {
    let p = project();
    p.write(
        "secrets.json",
        r#"{"db": {"password": "pw", "port": 5432}, "list": ["a", "b"]}"#,
    );
    p.write("sub/raw.txt", "raw\x00bytes\n");
    p.cm()
        .env("CM_TEST_VALUE", "from env")
        .arg("insert")
        .stdin("e=ENV://CM_TEST_VALUE\np=FILE://./secrets.json|db.password\nport=FILE://secrets.json|db.port\nl=FILE://secrets.json|list.1\nraw=FILE://sub/raw.txt")
        .stdout(b"e=from env\np=pw\nport=5432\nl=b\nraw=raw\x00bytes\n")
        .success();
    // No plugin was started: nothing was installed, and nothing is looked for.
    assert!(!p.path(".configmanager").exists());
}

#[test]
fn file_paths_are_relative_to_the_current_directory_or_absolute() {
    let p = project();
    let abs = p.write("abs.txt", "absolute");
    p.cm()
        .args(["retrieve", "-p", "-", "-t"])
        .arg(format!("FILE://{}", abs.display()))
        .stdout("export ABS_TXT='absolute'\n")
        .success();
}

#[test]
fn missing_variable_file_or_key_fails_with_a_clear_reason() {
    let p = project();
    p.write("s.json", r#"{"a": 1}"#);
    p.cm()
        .env_remove("CM_NOT_SET")
        .arg("insert")
        .stdin("ENV://CM_NOT_SET FILE://missing.json FILE://s.json|b\n")
        .stderr(format!(
            "cm: <stdin>:1:1: failed to retrieve config item - (ENV://CM_NOT_SET), environment variable CM_NOT_SET is not set\n\
             <stdin>:1:18: failed to retrieve config item - (FILE://missing.json), cannot read file {}: No such file or directory (os error 2)\n\
             <stdin>:1:38: failed to retrieve config item - (FILE://s.json|b), key path `b` not found in the value\n\
             token not found: 3 of 3 token(s) could not be resolved\n",
            p.real_dir().join("missing.json").display()
        ))
        .failure(1);
}

#[test]
fn scan_lists_built_in_prefixes_like_any_other() {
    let p = project();
    p.cm()
        .args(["scan", "--format", "json"])
        .stdin("a=ENV://HOME b=FILE://./s.json|db.password c=VAULT://x\n")
        .stdout(
            r#"{"fetches":3,"prefixes":["ENV","FILE","VAULT"],"tokens":[{"column":3,"end":12,"key_path":null,"line":1,"metadata":null,"path":"HOME","prefix":"ENV","start":2,"token":"ENV://HOME"},{"column":16,"end":42,"key_path":"db.password","line":1,"metadata":null,"path":"./s.json","prefix":"FILE","start":15,"token":"FILE://./s.json|db.password"},{"column":46,"end":54,"key_path":null,"line":1,"metadata":null,"path":"x","prefix":"VAULT","start":45,"token":"VAULT://x"}]}
"#,
        )
        .success();
}

#[test]
fn a_plugin_of_the_same_name_takes_precedence() {
    let p = project();
    p.write("f.txt", "from the file");
    // The echo test plugin installed under the names of the built-ins.
    p.install("env");
    p.install("file");
    // The test plugin picks its behaviour from its file name; `env`/`file` are not modes, so
    // it answers like echo: PATH->METADATA.
    p.cm()
        .arg("insert")
        .stdin("ENV://HOME FILE://f.txt\n")
        .stdout("HOME-> f.txt->\n")
        .success();
    assert_eq!(p.call_count(), 2);
}
