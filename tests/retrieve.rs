//! `cm retrieve`: variable names, formats read back by real shells and python-dotenv, order,
//! collisions, failures and --lax. Nasty values (`tests/data/nasty-values.json`, plus
//! pseudo-random ones) reach the real binary through the `ENV://` built-in: they are set as
//! environment variables of the cm process.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

use cm_testkit::{Output, Project, require_tool};

use crate::support::project;

/// The corpus: every text value, then every byte value (hex in the file).
pub fn nasty_values(text_only: bool) -> Vec<Vec<u8>> {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("data/nasty-values.json")).unwrap();
    let mut values: Vec<Vec<u8>> = doc["text"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().as_bytes().to_vec())
        .collect();
    if !text_only {
        values.extend(doc["bytes"].as_array().unwrap().iter().map(|v| {
            let hex = v.as_str().unwrap();
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect::<Vec<u8>>()
        }));
    }
    values
}

/// `n` pseudo-random values (fixed seed, so failures reproduce) made mostly of the characters
/// that quoting has to get right. `any_bytes` adds arbitrary bytes other than NUL.
pub fn random_values(n: usize, any_bytes: bool) -> Vec<Vec<u8>> {
    const PIECES: &[&str] = &[
        "'", "\"", "\\", "$", "{", "}", "${", "(", "`", "!", "#", ":-", "=", "\n", "\r", "\t", " ",
        "a", "Z", "0", "é", "😀", "%", "*", "\x07", "\x0b",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|_| {
            let len = next() % 12;
            let mut v = Vec::new();
            for _ in 0..len {
                let r = next();
                if any_bytes && r % 5 == 0 {
                    v.push((r >> 8) as u8 | 1);
                } else {
                    v.extend_from_slice(PIECES[(r >> 8) as usize % PIECES.len()].as_bytes());
                }
            }
            v
        })
        .collect()
}

/// The values for the shells: the whole corpus and random bytes.
fn shell_values() -> Vec<Vec<u8>> {
    let mut values = nasty_values(false);
    values.extend(random_values(300, true));
    values
}

/// `cm retrieve -t ENV://CMV0 -t ENV://CMV1 ... EXTRA` with `CMVi` set to `values[i]`,
/// expecting success and exactly `stdout`.
pub fn retrieve_env(p: &Project, values: &[Vec<u8>], extra: &[&str], stdout: &[u8]) -> Output {
    let mut cm = p.cm().arg("retrieve");
    for (i, v) in values.iter().enumerate() {
        cm = cm
            .env(format!("CMV{i}"), OsStr::from_bytes(v))
            .arg("-t")
            .arg(format!("ENV://CMV{i}"));
    }
    cm.args(extra).stdout(stdout).success()
}

/// What the export format writes for `values` as `CMV0`, `CMV1`, ...: `'` becomes `'\''`.
fn export_text(values: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        out.extend_from_slice(format!("export CMV{i}='").as_bytes());
        for &b in v {
            if b == b'\'' {
                out.extend_from_slice(b"'\\''");
            } else {
                out.push(b);
            }
        }
        out.extend_from_slice(b"'\n");
    }
    out
}

/// Writes `app.env` with the shell values, sources it in `shell` and checks that each variable
/// comes back byte for byte (written with `printf %s` into its own file: `$(...)` would eat
/// trailing newlines), and that no value ran as a command.
fn export_round_trip(shell: &str) {
    if !require_tool(shell, &["-c", "true"], &format!("apt-get install {shell}")) {
        return;
    }
    let p = project();
    let values = shell_values();
    retrieve_env(&p, &values, &[], b"");
    assert_eq!(p.read("app.env"), export_text(&values));
    let mut script = String::from(". ./app.env || exit 9\n");
    for i in 0..values.len() {
        script.push_str(&format!("printf '%s' \"$CMV{i}\" > out.{i} || exit 8\n"));
    }
    let out = Command::new(shell)
        .args(["-c", &script])
        .current_dir(p.dir())
        .env("HOME", "/home/expanded")
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{shell}: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!p.path("PWNED").exists(), "{shell} ran a command");
    for (i, want) in values.iter().enumerate() {
        assert_eq!(
            p.read(&format!("out.{i}")),
            *want,
            "{shell}: CMV{i} = {:?}",
            String::from_utf8_lossy(want)
        );
    }
}

#[test]
fn export_round_trips_in_sh() {
    export_round_trip("sh");
}

#[test]
fn export_round_trips_in_bash() {
    export_round_trip("bash");
}

#[test]
fn export_round_trips_in_dash() {
    export_round_trip("dash");
}

#[test]
fn export_round_trips_in_zsh() {
    export_round_trip("zsh");
}

#[test]
fn dotenv_round_trips_in_python_dotenv() {
    if !require_tool(
        "python3",
        &["-c", "import dotenv"],
        "pip install python-dotenv",
    ) {
        return;
    }
    let p = project();
    // dotenv holds UTF-8 text only.
    let mut values = nasty_values(true);
    values.extend(random_values(300, false));
    retrieve_env(&p, &values, &["--format", "dotenv", "-p", ".env"], b"");
    // Both the dict API and load_dotenv (which sets os.environ), with the defaults
    // (interpolate=True, override=True).
    let script = r#"
import json, os, sys
from dotenv import dotenv_values, load_dotenv
path = sys.argv[1]
a = dict(dotenv_values(path))
names = list(a)
for k in names:
    os.environ.pop(k, None)
load_dotenv(path)
c = {k: os.environ.get(k) for k in names}
json.dump([a, c], sys.stdout)
"#;
    let out = Command::new("python3")
        .args(["-c", script, ".env"])
        .current_dir(p.dir())
        .env("HOME", "/home/expanded")
        .output()
        .unwrap();
    // python-dotenv logs unparsable lines as warnings on stderr.
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let maps: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&out.stdout).unwrap();
    for map in &maps {
        assert_eq!(map.len(), values.len());
        for (i, want) in values.iter().enumerate() {
            assert_eq!(
                map[&format!("CMV{i}")].as_str().unwrap().as_bytes(),
                &want[..],
                "CMV{i}"
            );
        }
    }
}

#[test]
fn dotenv_writes_plain_values_unquoted_for_docker() {
    let values = [b"abc-123_x.y:z/@%+=~".to_vec(), b"with space".to_vec()];
    retrieve_env(
        &project(),
        &values,
        &["--format", "dotenv", "-p", "-"],
        b"CMV0=abc-123_x.y:z/@%+=~\nCMV1=\"with space\"\n",
    );
}

#[test]
fn json_format_is_one_object_in_token_order() {
    let mut values = nasty_values(true);
    values.extend(random_values(300, false));
    // serde_json writes the object the same way: keys in insertion order, `", "` between
    // members, and the same escapes.
    let mut expected = String::from("{");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            expected.push_str(", ");
        }
        let value = serde_json::to_string(std::str::from_utf8(v).unwrap()).unwrap();
        expected.push_str(&format!("\"CMV{i}\": {value}"));
    }
    expected.push_str("}\n");
    retrieve_env(
        &project(),
        &values,
        &["--format", "json", "-p", "stdout"],
        expected.as_bytes(),
    );
}

#[test]
fn lines_follow_token_order() {
    let p = project();
    p.install("echo");
    p.cm()
        .args(["retrieve", "-p", "-"])
        .args(["-t", "ECHO://zeta", "-t", "ECHO://alpha"])
        .args(["-t", "ECHO://mid", "-t", "ECHO://beta"])
        .stdout(
            "export ZETA='zeta->'\nexport ALPHA='alpha->'\nexport MID='mid->'\nexport BETA='beta->'\n",
        )
        .success();
}

#[test]
fn names_come_from_path_and_key_path_never_metadata() {
    let p = project();
    p.install("json");
    p.install("echo");
    p.cm()
        .args(["retrieve", "-p", "stdout"])
        .args(["-t", "JSON:///app/db-config|user[version=2,role=ro]"])
        .args(["-t", "ECHO://team/1st-secret"])
        .args(["-t", "ECHO://a/b.c!x"])
        .args(["-t", "ECHO://x/café"])
        .args(["-t", "JSON:///db|nested.host"])
        .stdout(
            "export DB_CONFIG__USER='user-/app/db-config'\n\
             export _1ST_SECRET='team/1st-secret->'\n\
             export B_CX='a/b.c!x->'\n\
             export CAF_='x/café->'\n\
             export DB__NESTED_HOST='db.example'\n",
        )
        .success();
}

#[test]
fn a_json_object_value_gives_one_variable_per_top_level_key() {
    let p = project();
    p.install("json");
    p.write(
        "s.json",
        r#"{"db-host": "h", "port": 5432, "nested": {"a": [1, 2], "b": {"c": null}}, "1x": true}"#,
    );
    p.cm()
        .args(["retrieve", "-p", "-", "-t", "FILE://s.json"])
        .args(["-t", "JSON:///one|nested"])
        .stdout(
            "export DB_HOST='h'\n\
             export PORT='5432'\n\
             export NESTED='{\"a\":[1,2],\"b\":{\"c\":null}}'\n\
             export _1X='true'\n\
             export HOST='db.example'\n\
             export LIST='[\"a\",\"b\"]'\n",
        )
        .success();
}

#[test]
fn same_name_with_different_values_is_an_error_naming_both_tokens() {
    let p = project();
    p.install("echo");
    p.write("app.env", "previous\n");
    // No value in the message.
    p.cm()
        .args(["retrieve", "-t", "ECHO://one/TOKEN", "-t", "ECHO://two/token"])
        .stderr("cm: variable `TOKEN` would get different values from `ECHO://one/TOKEN` and `ECHO://two/token`\n")
        .failure(4);
    assert_eq!(p.read("app.env"), b"previous\n");
    // The same name with the same value is fine, and written once.
    p.write("x", "same");
    p.write("d/x", "same");
    p.cm()
        .args(["retrieve", "-p", "-", "-t", "FILE://x", "-t", "FILE://d/x"])
        .stdout("export X='same'\n")
        .success();
}

#[test]
fn a_failed_token_fails_the_run_and_writes_nothing() {
    let p = project();
    p.install("echo");
    p.cm()
        .args(["retrieve", "-t", "ECHO://fine", "-t", "ECHO://err"])
        .args(["-t", "ECHO://also-fine"])
        .stderr(
            "cm: --token 2: failed to retrieve config item - (ECHO://err), implementation ECHO error: simulated failure for token: err\n\
             token not found: 1 of 3 token(s) could not be resolved\n",
        )
        .failure(1);
    assert!(!p.path("app.env").exists());
}

#[test]
fn lax_writes_what_resolved_and_warns() {
    let p = project();
    p.install("echo");
    p.cm()
        .args(["retrieve", "--lax", "-t", "ECHO://fine", "-t", "ECHO://err"])
        .args(["-t", "ECHO://also-fine"])
        .stderr(" WARN --token 2: failed to retrieve config item - (ECHO://err), implementation ECHO error: simulated failure for token: err (left as it was: --lax)\n")
        .success();
    assert_eq!(
        p.read("app.env"),
        b"export FINE='fine->'\nexport ALSO_FINE='also-fine->'\n"
    );
}

#[test]
fn aliases_default_path_and_stdout() {
    let p = project();
    p.install("echo");
    for alias in ["r", "fetch", "get", "retrieve"] {
        p.cm()
            .args([alias, "-t", &format!("ECHO://{alias}")])
            .success();
        assert_eq!(
            p.read("app.env"),
            format!("export {}='{alias}->'\n", alias.to_uppercase()).as_bytes()
        );
    }
    for target in ["stdout", "-"] {
        p.cm()
            .args(["get", "-t", "ECHO://x", "-p", target])
            .stdout("export X='x->'\n")
            .success();
    }
    assert!(!p.path("stdout").exists() && !p.path("-").exists());
}

#[test]
fn separators_apply_to_tokens_and_names() {
    let p = project();
    p.install("json");
    p.cm()
        .args([
            "-s",
            "#",
            "-k",
            "%",
            "retrieve",
            "-p",
            "-",
            "-t",
            "JSON#/app/db%port",
        ])
        .stdout("export DB__PORT='5432'\n")
        .success();
}

#[test]
fn no_value_is_logged_at_any_verbosity() {
    let p = project();
    p.install("json");
    p.write("s.json", r#"{"k": "file-secret-VALUE-1"}"#);
    p.write("raw.txt", "raw-file-secret-VALUE-2");
    let secrets = [
        "p@ss",
        "user-/db",
        "db.example",
        "VALUE-1",
        "VALUE-2",
        "VALUE-3",
    ];
    // Debug and trace logs carry socket paths, pids and durations: the test looks for what
    // must not be there.
    let out = p
        .cm()
        .env("CM_SECRET_ENV", "env-secret-VALUE-3")
        .args(["-vvv", "retrieve", "-p", "out.env"])
        .args(["-t", "JSON:///db|password", "-t", "JSON:///db"])
        .args(["-t", "FILE://s.json|k", "-t", "FILE://raw.txt"])
        .args(["-t", "ENV://CM_SECRET_ENV"])
        .stderr_contains("fetched")
        .success();
    for secret in secrets {
        assert!(
            !out.stderr.contains(secret),
            "{secret:?} reached the log:\n{}",
            out.stderr
        );
    }
    // The same at every other level, and through CONFIGMANAGER_LOG=trace.
    for v in ["-v", "-vv"] {
        let out = p
            .cm()
            .env("CM_SECRET_ENV", "env-secret-VALUE-3")
            .args([v, "retrieve", "-p", "-"])
            .args(["-t", "ENV://CM_SECRET_ENV", "-t", "FILE://raw.txt"])
            .stdout(
                "export CM_SECRET_ENV='env-secret-VALUE-3'\nexport RAW_TXT='raw-file-secret-VALUE-2'\n",
            )
            .stderr_contains("plan")
            .success();
        assert!(!out.stderr.contains("VALUE-"), "{}", out.stderr);
    }
    let out = p
        .cm()
        .env("CONFIGMANAGER_LOG", "trace")
        .args(["retrieve", "-p", "-"])
        .args(["-t", "JSON:///db|password", "-t", "FILE://s.json|k"])
        .stdout(
            "export DB__PASSWORD='p@ss'\\''\"$(x)`y`\\z'\nexport S_JSON__K='file-secret-VALUE-1'\n",
        )
        .stderr_contains("fetched")
        .success();
    assert!(
        !out.stderr.contains("p@ss") && !out.stderr.contains("VALUE-"),
        "{}",
        out.stderr
    );
}
