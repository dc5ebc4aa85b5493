//! `cm retrieve --format gha | gha-output | yaml | k8s-secret`, read back the way their
//! consumers read them: GitHub's file commands by a re-implementation of the runner's parser,
//! YAML and the Secret manifest by PyYAML. Values are the nasty-value corpus and pseudo-random
//! ones (see `retrieve.rs`), passed through the `ENV://` built-in.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use cm_testkit::{Cm, Project, require_tool};

use crate::retrieve::{nasty_values, random_values};
use crate::support::project;

/// `cm retrieve -t ENV://CMV0 ...` with `CMVi` set to `values[i]`, and no GitHub variables
/// from the environment the tests run in (CI is GitHub Actions).
fn retrieve<'p>(p: &'p Project, values: &[Vec<u8>]) -> Cm<'p> {
    let mut cm = p
        .cm()
        .env_remove("GITHUB_ENV")
        .env_remove("GITHUB_OUTPUT")
        .arg("retrieve");
    for (i, v) in values.iter().enumerate() {
        cm = cm
            .env(format!("CMV{i}"), OsStr::from_bytes(v))
            .arg("-t")
            .arg(format!("ENV://CMV{i}"));
    }
    cm
}

fn text_values() -> Vec<Vec<u8>> {
    let mut values = nasty_values(true);
    values.extend(random_values(300, false));
    values
}

/// The variables in a GitHub file-command file, read as the runner (its Linux build) reads
/// them: line by line at LF; `NAME=VALUE`, or `NAME<<DELIMITER` followed by the value up to
/// the first line that is exactly the delimiter, the LF before that line not being part of it.
fn parse_file_commands(text: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    let next_line = |at: &mut usize| -> Option<(usize, usize)> {
        if *at >= text.len() {
            return None;
        }
        let start = *at;
        let end = text[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(text.len(), |i| start + i);
        *at = (end + 1).min(text.len());
        Some((start, end))
    };
    while let Some((s, e)) = next_line(&mut at) {
        let line = &text[s..e];
        if line.is_empty() {
            continue;
        }
        let line = std::str::from_utf8(line).unwrap();
        let eq = line.find('=');
        let heredoc = line.find("<<");
        match (eq, heredoc) {
            (Some(i), h) if h.is_none_or(|h| i < h) => {
                out.push((line[..i].to_string(), line.as_bytes()[i + 1..].to_vec()));
            }
            (_, Some(h)) => {
                let (name, delimiter) = (line[..h].to_string(), &line.as_bytes()[h + 2..]);
                let start = at;
                let mut end = at;
                loop {
                    let (ls, le) = next_line(&mut at).expect("unterminated value");
                    if &text[ls..le] == delimiter {
                        break;
                    }
                    assert!(le < text.len(), "a value line without its newline");
                    end = le;
                }
                out.push((name, text[start..end.max(start)].to_vec()));
            }
            _ => panic!("not a file command: {line:?}"),
        }
    }
    out
}

/// The mask commands cm should print: each LF- or CRLF-separated line that is not blank, with
/// `%`, CR and LF escaped.
fn expected_masks(values: &[Vec<u8>]) -> Vec<u8> {
    let mut out = String::new();
    for v in values {
        for line in std::str::from_utf8(v).unwrap().lines() {
            if line.trim().is_empty() {
                continue;
            }
            let escaped = line
                .replace('%', "%25")
                .replace('\r', "%0D")
                .replace('\n', "%0A");
            out.push_str(&format!("::add-mask::{escaped}\n"));
        }
    }
    out.into_bytes()
}

fn check_file_commands(text: &[u8], before: &[(&str, &str)], values: &[Vec<u8>]) {
    let parsed = parse_file_commands(text);
    let mut expected: Vec<(String, Vec<u8>)> = before
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    expected.extend(
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("CMV{i}"), v.clone())),
    );
    assert_eq!(parsed.len(), expected.len());
    for (got, want) in parsed.iter().zip(&expected) {
        assert_eq!(got, want, "{}", want.0);
    }
}

#[test]
fn gha_masks_every_value_and_appends_to_github_env() {
    let p = project();
    let env_file = p.write("github_env", "EARLIER=1\n");
    let values = text_values();
    retrieve(&p, &values)
        .env("GITHUB_ENV", &env_file)
        .args(["--format", "gha"])
        .stdout(expected_masks(&values))
        .success();
    check_file_commands(&p.read("github_env"), &[("EARLIER", "1")], &values);
    assert!(!p.path("app.env").exists());
}

#[test]
fn gha_output_appends_to_github_output_or_to_p() {
    let p = project();
    let out_file = p.write("github_output", "");
    let values = vec![b"one\ntwo".to_vec(), b"100%".to_vec()];
    let masks = "::add-mask::one\n::add-mask::two\n::add-mask::100%25\n";
    for _ in 0..2 {
        retrieve(&p, &values)
            .env("GITHUB_OUTPUT", &out_file)
            .env("GITHUB_ENV", p.path("not-this-one"))
            .args(["--format", "gha-output"])
            .stdout(masks)
            .success();
    }
    let text = p.read("github_output");
    check_file_commands(&text, &[("CMV0", "one\ntwo"), ("CMV1", "100%")], &values);
    assert!(!p.path("not-this-one").exists());
    // Every block has its own random delimiter.
    let headers: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"CMV"))
        .collect();
    assert_eq!(headers.len(), 4);
    for (i, a) in headers.iter().enumerate() {
        assert!(a.starts_with(b"CMV0<<ghadelimiter_") || a.starts_with(b"CMV1<<ghadelimiter_"));
        assert!(!headers[i + 1..].contains(a), "delimiter reused");
    }
    // An explicit -p wins over the variable; a new file is created private.
    retrieve(&p, &values)
        .env("GITHUB_OUTPUT", &out_file)
        .args(["--format", "gha-output", "-p", "explicit"])
        .stdout(masks)
        .success();
    check_file_commands(&p.read("explicit"), &[], &values);
    let mode = std::fs::metadata(p.path("explicit"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn gha_to_stdout_prints_the_masks_then_the_blocks() {
    let p = project();
    let values = vec![b"s3cret".to_vec()];
    let out = retrieve(&p, &values)
        .args(["--format", "gha", "-p", "-"])
        .stdout_unchecked()
        .success();
    let (masks, blocks) = out.stdout.split_at(b"::add-mask::s3cret\n".len());
    assert_eq!(masks, b"::add-mask::s3cret\n");
    check_file_commands(blocks, &[], &values);
    assert_eq!(p.entries(), Vec::<String>::new());
}

#[test]
fn gha_appends_nothing_when_the_masks_cannot_be_printed() {
    let p = project();
    let env_file = p.write("github_env", "A=1\n");
    let mut child = p
        .command()
        .args(["retrieve", "-t", "ENV://CMV0", "--format", "gha"])
        .env("CMV0", "s3cret")
        .env("GITHUB_ENV", &env_file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before cm has even parsed its flags: its one write to stdout fails.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "cm: cannot write stdout: Broken pipe (os error 32)\n"
    );
    assert_eq!(p.read("github_env"), b"A=1\n");
}

#[test]
fn gha_without_its_file_is_a_usage_error() {
    let p = project();
    for (format, var) in [("gha", "GITHUB_ENV"), ("gha-output", "GITHUB_OUTPUT")] {
        retrieve(&p, &[b"x".to_vec()])
            .args(["--format", format])
            .stderr(format!(
                "cm: --format {format} needs ${var} (set by GitHub Actions) or -p FILE\n"
            ))
            .failure(2);
    }
    assert_eq!(p.entries(), Vec::<String>::new());
}

#[test]
fn gha_refuses_non_utf8_and_appends_nothing() {
    let p = project();
    let env_file = p.write("github_env", "A=1\n");
    retrieve(&p, &[b"ok".to_vec(), b"\xff".to_vec()])
        .env("GITHUB_ENV", &env_file)
        .args(["--format", "gha"])
        .stderr(
            "cm: value of `CMV1` from `ENV://CMV1` is not valid UTF-8, which this output format cannot hold\n",
        )
        .failure(4);
    assert_eq!(p.read("github_env"), b"A=1\n");
}

/// Runs `script` in python3 with PyYAML on `file` and returns what it prints, parsed as JSON.
/// `None` (a visible skip, a failure under CI=true) without python3 or PyYAML.
fn pyyaml(script: &str, file: &std::path::Path) -> Option<serde_json::Value> {
    if !require_tool(
        "python3",
        &["-c", "import yaml"],
        "apt-get install python3-yaml",
    ) {
        return None;
    }
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn yaml_reads_back_exactly_in_pyyaml() {
    let p = project();
    let values = text_values();
    retrieve(&p, &values)
        .args(["--format", "yaml", "-p", "vars.yaml"])
        .success();
    let Some(doc) = pyyaml(
        "import json, sys, yaml\n\
         doc = yaml.safe_load(open(sys.argv[1], encoding='utf-8'))\n\
         print(json.dumps([[k, v] for k, v in doc.items()]))",
        &p.path("vars.yaml"),
    ) else {
        return;
    };
    let pairs = doc.as_array().unwrap();
    assert_eq!(pairs.len(), values.len());
    for (i, (pair, want)) in pairs.iter().zip(&values).enumerate() {
        assert_eq!(pair[0], format!("CMV{i}"));
        assert_eq!(pair[1].as_str().unwrap().as_bytes(), &want[..], "CMV{i}");
    }
}

#[test]
fn yaml_refuses_non_utf8() {
    let p = project();
    retrieve(&p, &[b"\xc3(".to_vec()])
        .args(["--format", "yaml", "-p", "vars.yaml"])
        .stderr(
            "cm: value of `CMV0` from `ENV://CMV0` is not valid UTF-8, which this output format cannot hold\n",
        )
        .failure(4);
    assert!(!p.path("vars.yaml").exists());
}

#[test]
fn k8s_secret_holds_every_value_base64_and_is_private() {
    let p = project();
    let mut values = nasty_values(false);
    values.extend(random_values(300, true));
    retrieve(&p, &values)
        .args(["--format", "k8s-secret", "--name", "app.db-creds"])
        .args(["--namespace", "prod", "-p", "secret.yaml"])
        .success();
    let mode = std::fs::metadata(p.path("secret.yaml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let Some(doc) = pyyaml(
        "import base64, json, sys, yaml\n\
         doc = yaml.safe_load(open(sys.argv[1], encoding='utf-8'))\n\
         doc['data'] = [[k, base64.b64decode(v, validate=True).hex()] for k, v in doc['data'].items()]\n\
         print(json.dumps(doc))",
        &p.path("secret.yaml"),
    ) else {
        return;
    };
    assert_eq!(doc["apiVersion"], "v1");
    assert_eq!(doc["kind"], "Secret");
    assert_eq!(doc["type"], "Opaque");
    assert_eq!(
        doc["metadata"],
        serde_json::json!({"name": "app.db-creds", "namespace": "prod"})
    );
    let data = doc["data"].as_array().unwrap();
    assert_eq!(data.len(), values.len());
    for (i, (pair, want)) in data.iter().zip(&values).enumerate() {
        assert_eq!(pair[0], format!("CMV{i}"));
        let hex: String = want.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(pair[1], hex, "CMV{i}");
    }
}

/// The manifest against the Kubernetes API schema, with PyPI's `kubernetes-validate` (its
/// schemas ship in the package; `--strict` also refuses fields the schema does not know).
#[test]
fn k8s_secret_passes_the_kubernetes_schema() {
    if !require_tool(
        "python3",
        &["-m", "kubernetes_validate", "--version"],
        "python3 -m pip install kubernetes-validate",
    ) {
        return;
    }
    let p = project();
    let mut values = nasty_values(false);
    values.extend(random_values(50, true));
    retrieve(&p, &values)
        .args(["--format", "k8s-secret", "--name", "app.db-creds"])
        .args(["--namespace", "prod", "-p", "secret.yaml"])
        .success();
    let out = Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict", "--quiet"])
        .arg(p.path("secret.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn k8s_secret_flags_are_checked_before_anything_runs() {
    let p = project();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--format", "k8s-secret"],
            "cm: --format k8s-secret needs --name\n",
        ),
        (
            &["--format", "yaml", "--name", "app"],
            "cm: --name is only valid with --format k8s-secret\n",
        ),
        (
            &["--namespace", "prod"],
            "cm: --namespace is only valid with --format k8s-secret\n",
        ),
        (
            &["--format", "k8s-secret", "--name", "App"],
            "cm: --name `App` is not valid: Kubernetes needs a DNS subdomain name: at most 253 \
             lowercase letters, digits, `-` and `.`, each dot-separated part starting and ending \
             with a letter or digit\n",
        ),
        (
            &[
                "--format",
                "k8s-secret",
                "--name",
                "app",
                "--namespace",
                "a.b",
            ],
            "cm: --namespace `a.b` is not valid: Kubernetes needs a DNS label: at most 63 \
             lowercase letters, digits and `-`, starting and ending with a letter or digit\n",
        ),
    ];
    for (args, stderr) in cases {
        // A token that would fail shows that nothing is fetched before the flags are checked.
        p.cm()
            .args(["retrieve", "-t", "ENV://CM_UNSET_FOR_SURE"])
            .args(*args)
            .stderr(*stderr)
            .failure(2);
    }
    assert_eq!(p.entries(), Vec::<String>::new());
}
