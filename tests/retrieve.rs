//! `cm retrieve`: variable names, formats read back by real shells and python-dotenv, order,
//! collisions, failures and --lax. Nasty values reach the real binary through the `ENV://`
//! built-in: they are set as environment variables of the cm process.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

use crate::support::Bench;

/// Values the export format must carry through a shell unchanged. No NUL: no environment
/// variable can hold one.
fn nasty_values() -> Vec<Vec<u8>> {
    let mut values: Vec<Vec<u8>> = [
        "plain",
        "",
        "'",
        "''",
        "it's 'quoted'",
        "'\\''",
        "\"double\" \"",
        "$(touch PWNED)",
        "`touch PWNED`",
        "back\\slash\\",
        "\\",
        "\\n\\t",
        "line1\nline2",
        "trailing newlines\n\n",
        "\n",
        "café 日本語 😀",
        "bang! !! !$ !-1 ^x^y",
        "${HOME} $HOME ${HOME:-x} $$ $1 $@",
        "$",
        "* ? [a] ~ ~root",
        "tab\there\t",
        "cr\rcrlf\r\n",
        " leading and trailing spaces ",
        "# not a comment",
        "a #b",
        "semi; colon && pipe | amp & > redirect < in",
        "\x07\x08\x0b\x0c\x1b[31mred\x1b[0m\x7f",
        "=eq=",
        "export X=1",
        "-n",
        "-e \\c",
        "%s %d %%",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    values.push(b"\xff\xfe not utf-8 \x80".to_vec());
    values.push(b"\xc3".to_vec());
    values.push((1u8..=255).collect());
    values
}

/// `cm retrieve -t ENV://CMV0 -t ENV://CMV1 ...` with `CMVi` set to `values[i]`.
fn retrieve_env(b: &Bench, values: &[Vec<u8>], extra: &[&str]) -> crate::support::Run {
    let mut cmd = b.cm();
    cmd.arg("retrieve");
    for (i, v) in values.iter().enumerate() {
        cmd.env(format!("CMV{i}"), OsStr::from_bytes(v));
        cmd.args(["-t", &format!("ENV://CMV{i}")]);
    }
    cmd.args(extra);
    b.run_cmd(&mut cmd, b"")
}

fn shell_available(shell: &str) -> bool {
    let ok = Command::new(shell)
        .args(["-c", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        // sh and bash are everywhere; .ci/run installs dash and zsh.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {shell} is not installed"
        );
        eprintln!("SKIPPED: {shell} is not installed");
    }
    ok
}

/// Sources `app.env` in `shell` and writes each variable back with `printf %s` into its own
/// file (`$(...)` would eat trailing newlines); returns the bytes of each.
fn source_back(b: &Bench, shell: &str, n: usize) -> Vec<Vec<u8>> {
    let mut script = String::from(". ./app.env || exit 9\n");
    for i in 0..n {
        script.push_str(&format!("printf '%s' \"$CMV{i}\" > out.{i} || exit 8\n"));
    }
    let out = Command::new(shell)
        .args(["-c", &script])
        .current_dir(b.dir.path())
        .env("HOME", "/home/expanded")
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{shell}: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!b.path("PWNED").exists(), "{shell} ran a command");
    (0..n).map(|i| b.read(&format!("out.{i}"))).collect()
}

#[test]
fn export_file_sources_back_byte_for_byte_in_every_shell() {
    let b = Bench::new();
    let values = nasty_values();
    retrieve_env(&b, &values, &[]).success();
    let text = b.read("app.env");
    assert!(text.starts_with(b"export CMV0='plain'\nexport CMV1=''\n"));
    assert!(text.ends_with(b"'\n"));
    for shell in ["sh", "bash", "dash", "zsh"] {
        if !shell_available(shell) {
            continue;
        }
        let got = source_back(&b, shell, values.len());
        for (i, (got, want)) in got.iter().zip(&values).enumerate() {
            assert_eq!(
                got,
                want,
                "{shell}: CMV{i} = {:?}",
                String::from_utf8_lossy(want)
            );
        }
    }
}

#[test]
fn dotenv_file_reads_back_in_python_dotenv() {
    let have = Command::new("python3")
        .args(["-c", "import dotenv"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but python-dotenv is not installed (pip install python-dotenv)"
        );
        eprintln!("SKIPPED: python3 with python-dotenv is not available");
        return;
    }
    let b = Bench::new();
    // dotenv holds UTF-8 text only.
    let values: Vec<Vec<u8>> = nasty_values()
        .into_iter()
        .filter(|v| std::str::from_utf8(v).is_ok())
        .collect();
    retrieve_env(&b, &values, &["--format", "dotenv", "-p", ".env"]).success();
    let script = r#"
import json, sys
from dotenv import dotenv_values
json.dump(dict(dotenv_values(sys.argv[1])), sys.stdout)
"#;
    let out = Command::new("python3")
        .args(["-c", script, ".env"])
        .current_dir(b.dir.path())
        .env("HOME", "/home/expanded")
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(map.len(), values.len());
    for (i, want) in values.iter().enumerate() {
        assert_eq!(
            map[&format!("CMV{i}")].as_str().unwrap().as_bytes(),
            &want[..],
            "CMV{i}"
        );
    }
}

#[test]
fn dotenv_writes_plain_values_unquoted_for_docker() {
    let b = Bench::new();
    let values = [b"abc-123_x.y:z/@%+=~".to_vec(), b"with space".to_vec()];
    retrieve_env(&b, &values, &["--format", "dotenv", "-p", "-"])
        .success()
        .stdout_is("CMV0=abc-123_x.y:z/@%+=~\nCMV1=\"with space\"\n");
}

#[test]
fn json_format_is_one_object_in_token_order() {
    let b = Bench::new();
    let values: Vec<Vec<u8>> = nasty_values()
        .into_iter()
        .filter(|v| std::str::from_utf8(v).is_ok())
        .collect();
    let r = retrieve_env(&b, &values, &["--format", "json", "-p", "stdout"]);
    r.success();
    assert!(r.stdout.ends_with(b"}\n") && r.stdout.iter().filter(|&&c| c == b'\n').count() == 1);
    let doc: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let map = doc.as_object().unwrap();
    for (i, want) in values.iter().enumerate() {
        assert_eq!(
            map[&format!("CMV{i}")].as_str().unwrap().as_bytes(),
            &want[..]
        );
    }
    // Key order is --token order.
    let text = r.stdout();
    let positions: Vec<usize> = (0..values.len())
        .map(|i| text.find(&format!("\"CMV{i}\":")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn lines_follow_token_order() {
    let b = Bench::new();
    b.install("echo");
    let r = b.run(
        &[
            "retrieve",
            "-p",
            "-",
            "-t",
            "ECHO://zeta",
            "-t",
            "ECHO://alpha",
            "-t",
            "ECHO://mid",
            "-t",
            "ECHO://beta",
        ],
        b"",
    );
    r.success().stdout_is(
        "export ZETA='zeta->'\nexport ALPHA='alpha->'\nexport MID='mid->'\nexport BETA='beta->'\n",
    );
}

#[test]
fn names_come_from_path_and_key_path_never_metadata() {
    let b = Bench::new();
    b.install("json");
    b.install("echo");
    let r = b.run(
        &[
            "retrieve",
            "-p",
            "stdout",
            "-t",
            "JSON:///app/db-config|user[version=2,role=ro]",
            "-t",
            "ECHO://team/1st-secret",
            "-t",
            "ECHO://a/b.c!x",
            "-t",
            "ECHO://x/café",
            "-t",
            "JSON:///db|nested.host",
        ],
        b"",
    );
    r.success().stdout_is(
        "export DB_CONFIG__USER='user-/app/db-config'\n\
         export _1ST_SECRET='team/1st-secret->'\n\
         export B_CX='a/b.c!x->'\n\
         export CAF_='x/café->'\n\
         export DB__NESTED_HOST='db.example'\n",
    );
}

#[test]
fn a_json_object_value_gives_one_variable_per_top_level_key() {
    let b = Bench::new();
    b.install("json");
    b.write(
        "s.json",
        r#"{"db-host": "h", "port": 5432, "nested": {"a": [1, 2], "b": {"c": null}}, "1x": true}"#,
    );
    b.run(
        &[
            "retrieve",
            "-p",
            "-",
            "-t",
            "FILE://s.json",
            "-t",
            "JSON:///one|nested",
        ],
        b"",
    )
    .success()
    .stdout_is(
        "export DB_HOST='h'\n\
         export PORT='5432'\n\
         export NESTED='{\"a\":[1,2],\"b\":{\"c\":null}}'\n\
         export _1X='true'\n\
         export HOST='db.example'\n\
         export LIST='[\"a\",\"b\"]'\n",
    );
}

#[test]
fn same_name_with_different_values_is_an_error_naming_both_tokens() {
    let b = Bench::new();
    b.install("echo");
    b.write("app.env", "previous\n");
    let r = b.run(
        &[
            "retrieve",
            "-t",
            "ECHO://one/TOKEN",
            "-t",
            "ECHO://two/token",
        ],
        b"",
    );
    r.failure(4).stderr_has(
        "variable `TOKEN` would get different values from `ECHO://one/TOKEN` and `ECHO://two/token`",
    );
    assert!(!r.stderr.contains("one/TOKEN->"), "no value in errors");
    assert_eq!(b.read("app.env"), b"previous\n");
    // The same name with the same value is fine, and written once.
    b.write("x", "same");
    b.write("d/x", "same");
    b.run(
        &["retrieve", "-p", "-", "-t", "FILE://x", "-t", "FILE://d/x"],
        b"",
    )
    .success()
    .stdout_is("export X='same'\n");
}

#[test]
fn a_failed_token_fails_the_run_and_writes_nothing() {
    let b = Bench::new();
    b.install("echo");
    let r = b.run(
        &[
            "retrieve",
            "-t",
            "ECHO://fine",
            "-t",
            "ECHO://err",
            "-t",
            "ECHO://also-fine",
        ],
        b"",
    );
    r.failure(1)
        .stderr_has("--token 2: failed to retrieve config item - (ECHO://err)")
        .stderr_has("token not found: 1 of 3 token(s) could not be resolved");
    assert!(!b.path("app.env").exists());
    assert!(r.stdout.is_empty());
}

#[test]
fn lax_writes_what_resolved_and_warns() {
    let b = Bench::new();
    b.install("echo");
    let r = b.run(
        &[
            "retrieve",
            "--lax",
            "-t",
            "ECHO://fine",
            "-t",
            "ECHO://err",
            "-t",
            "ECHO://also-fine",
        ],
        b"",
    );
    r.success()
        .stderr_has("--token 2: failed to retrieve config item - (ECHO://err)")
        .stderr_has("--lax");
    assert_eq!(
        b.read("app.env"),
        b"export FINE='fine->'\nexport ALSO_FINE='also-fine->'\n"
    );
}

#[test]
fn aliases_default_path_and_stdout() {
    let b = Bench::new();
    b.install("echo");
    for alias in ["r", "fetch", "get", "retrieve"] {
        b.run(&[alias, "-t", &format!("ECHO://{alias}")], b"")
            .success();
        assert_eq!(
            b.read("app.env"),
            format!("export {}='{alias}->'\n", alias.to_uppercase()).as_bytes()
        );
    }
    for target in ["stdout", "-"] {
        b.run(&["get", "-t", "ECHO://x", "-p", target], b"")
            .success()
            .stdout_is("export X='x->'\n");
    }
    assert!(!b.path("stdout").exists() && !b.path("-").exists());
}

#[test]
fn separators_apply_to_tokens_and_names() {
    let b = Bench::new();
    b.install("json");
    b.run(
        &[
            "-s",
            "#",
            "-k",
            "%",
            "retrieve",
            "-p",
            "-",
            "-t",
            "JSON#/app/db%port",
        ],
        b"",
    )
    .success()
    .stdout_is("export DB__PORT='5432'\n");
}

#[test]
fn no_value_is_logged_at_any_verbosity() {
    let b = Bench::new();
    b.install("json");
    b.write("s.json", r#"{"k": "file-secret-VALUE-1"}"#);
    b.write("raw.txt", "raw-file-secret-VALUE-2");
    let mut cmd = b.cm();
    cmd.env("CM_SECRET_ENV", "env-secret-VALUE-3").args([
        "-vvv",
        "retrieve",
        "-p",
        "out.env",
        "-t",
        "JSON:///db|password",
        "-t",
        "JSON:///db",
        "-t",
        "FILE://s.json|k",
        "-t",
        "FILE://raw.txt",
        "-t",
        "ENV://CM_SECRET_ENV",
    ]);
    let r = b.run_cmd(&mut cmd, b"");
    r.success().stderr_has("fetched");
    for secret in [
        "p@ss",
        "user-/db",
        "db.example",
        "VALUE-1",
        "VALUE-2",
        "VALUE-3",
    ] {
        assert!(
            !r.stderr.contains(secret),
            "{secret:?} reached the log:\n{}",
            r.stderr
        );
    }
    // The same at every other level, and through CONFIGMANAGER_LOG=trace.
    for v in ["-v", "-vv"] {
        let mut cmd = b.cm();
        cmd.env("CM_SECRET_ENV", "env-secret-VALUE-3").args([
            v,
            "retrieve",
            "-p",
            "-",
            "-t",
            "ENV://CM_SECRET_ENV",
            "-t",
            "FILE://raw.txt",
        ]);
        let r = b.run_cmd(&mut cmd, b"");
        r.success();
        assert!(!r.stderr.contains("VALUE-"), "{}", r.stderr);
    }
    let mut cmd = b.cm();
    cmd.env("CONFIGMANAGER_LOG", "trace").args([
        "retrieve",
        "-p",
        "-",
        "-t",
        "JSON:///db|password",
        "-t",
        "FILE://s.json|k",
    ]);
    let r = b.run_cmd(&mut cmd, b"");
    r.success();
    assert!(!r.stderr.is_empty());
    assert!(
        !r.stderr.contains("p@ss") && !r.stderr.contains("VALUE-"),
        "{}",
        r.stderr
    );
}
