//! VAULT end to end: the real `cm` with this plugin installed, against a real OpenBao dev
//! server (`source .ci/emulators.sh` starts one and exports `CM_OPENBAO_ADDR` and
//! `CM_OPENBAO_TOKEN`, and a second one with TLS at `CM_OPENBAO_TLS_ADDR` whose CA is
//! `CM_OPENBAO_CACERT`). Secrets, mounts and namespaces are made over Vault's HTTP API.

use std::path::Path;

use cm_testkit::{
    Project, assert_answers_version, cm_binary, emulator, go_host_values, unique, url_address,
};
use serde_json::{Value, json};

const PLUGIN: &str = env!("CARGO_BIN_EXE_cm-plugin-vault");

/// OpenBao's address and root token, or `None` (test skipped) when it is not running.
struct Bao {
    addr: String,
    token: String,
    /// The CA file of a TLS server.
    ca: Option<String>,
}

fn openbao() -> Option<Bao> {
    let addr = emulator("CM_OPENBAO_ADDR", url_address)?;
    let token =
        std::env::var("CM_OPENBAO_TOKEN").expect("CM_OPENBAO_TOKEN goes with CM_OPENBAO_ADDR");
    Some(Bao {
        addr,
        token,
        ca: None,
    })
}

fn openbao_tls() -> Option<Bao> {
    let addr = emulator("CM_OPENBAO_TLS_ADDR", url_address)?;
    let var =
        |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} goes with CM_OPENBAO_TLS_ADDR"));
    Some(Bao {
        addr,
        token: var("CM_OPENBAO_TOKEN"),
        ca: Some(var("CM_OPENBAO_CACERT")),
    })
}

/// A project with the plugin installed for `VAULT`, talking to OpenBao with `token` (none:
/// neither `VAULT_TOKEN` nor a token file). The caller's other Vault settings are cleared.
fn project(bao: &Bao, token: Option<&str>) -> Project {
    let mut project = Project::new(cm_binary())
        .env("VAULT_ADDR", &bao.addr)
        .env_remove("VAULT_NAMESPACE")
        .env_remove("VAULT_CACERT")
        .env_remove("VAULT_SKIP_VERIFY");
    project = match token {
        Some(t) => project.env("VAULT_TOKEN", t),
        None => project.env_remove("VAULT_TOKEN"),
    };
    project.link_binary("VAULT", Path::new(PLUGIN));
    project
}

/// Sends `body` to `{addr}/v1/{path}` as root (in `namespace` if given) and returns the answer.
async fn api(bao: &Bao, method: &str, path: &str, namespace: Option<&str>, body: Value) -> Value {
    let ca = bao.ca.clone();
    let http = cm_plugin_vault::settings::Settings::from_lookup(
        |k| (k == "VAULT_CACERT").then(|| ca.clone()).flatten(),
        None,
    )
    .unwrap()
    .http_client()
    .unwrap();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http
        .request(method, format!("{}/v1/{path}", bao.addr))
        .header("X-Vault-Token", &bao.token)
        .body(body.to_string());
    if let Some(ns) = namespace {
        request = request.header("X-Vault-Namespace", ns);
    }
    let resp = request.send().await.expect("OpenBao answers");
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Writes a new version of the KV v2 secret `path` in `mount`.
async fn put(bao: &Bao, mount: &str, path: &str, data: Value) {
    api(
        bao,
        "POST",
        &format!("{mount}/data/{path}"),
        None,
        json!({ "data": data }),
    )
    .await;
}

/// The error lines of one failed token, as cm prints them for input `x=TOKEN\n`.
fn one_failure(token: &str, reason: &str) -> String {
    format!(
        "cm: <stdin>:1:3: failed to retrieve config item - ({token}), {reason}\n\
         token not found: 1 of 1 token(s) could not be resolved\n"
    )
}

#[tokio::test]
async fn latest_and_older_versions_with_key_paths() {
    let Some(bao) = openbao() else { return };
    let path = unique("app/db");
    put(&bao, "secret", &path, json!({ "user": "u", "pw": "p1" })).await;
    put(
        &bao,
        "secret",
        &path,
        json!({ "user": "u", "pw": "p2", "port": 5432, "nested": { "list": ["a", "b"] } }),
    )
    .await;
    let template = format!(
        "pw=VAULT://secret___{path}|pw\n\
         old=VAULT://secret___{path}|pw[version=1]\n\
         port=VAULT:///secret___{path}|port\n\
         second=VAULT://secret___{path}|nested.list.1\n\
         list=VAULT://secret___{path}|nested.list\n\
         latest=VAULT://secret___{path}|pw[version=0,iam_role=unused]\n"
    );
    project(&bao, Some(&bao.token))
        .cm()
        .arg("insert")
        .stdin(&template)
        .stdout("pw=p2\nold=p1\nport=5432\nsecond=b\nlist=[\"a\",\"b\"]\nlatest=p2\n")
        .success();

    // Without a key path the whole data map is the value: one export per field.
    project(&bao, Some(&bao.token))
        .cm()
        .args([
            "retrieve",
            "-t",
            &format!("VAULT://secret___{path}[version=1]"),
            "-p",
            "stdout",
        ])
        .stdout("export PW='p1'\nexport USER='u'\n")
        .success();
}

#[tokio::test]
async fn a_missing_secret_and_a_missing_version_are_not_found() {
    let Some(bao) = openbao() else { return };
    let path = unique("app/there");
    put(&bao, "secret", &path, json!({ "k": "v" })).await;
    let gone = format!("VAULT://secret___{path}-not|k");
    project(&bao, Some(&bao.token))
        .cm()
        .arg("insert")
        .stdin(format!("x={gone}\n"))
        .stderr(one_failure(
            &gone,
            &format!(
                "failed to retrieve config item: secret \"{path}-not\" in mount \"secret\" not found (HTTP 404)"
            ),
        ))
        .failure(1);
    let old = format!("VAULT://secret___{path}|k[version=7]");
    project(&bao, Some(&bao.token))
        .cm()
        .arg("insert")
        .stdin(format!("x={old}\n"))
        .stderr(one_failure(
            &old,
            &format!(
                "failed to retrieve config item: version 7 of secret \"{path}\" in mount \"secret\" not found (HTTP 404)"
            ),
        ))
        .failure(1);
}

#[tokio::test]
async fn a_deleted_version_says_so() {
    let Some(bao) = openbao() else { return };
    let path = unique("app/deleted");
    put(&bao, "secret", &path, json!({ "k": "one" })).await;
    put(&bao, "secret", &path, json!({ "k": "two" })).await;
    api(
        &bao,
        "POST",
        &format!("secret/destroy/{path}"),
        None,
        json!({ "versions": [1] }),
    )
    .await;
    let token = format!("VAULT://secret___{path}|k[version=1]");
    project(&bao, Some(&bao.token))
        .cm()
        .arg("insert")
        .stdin(format!("x={token} y=VAULT://secret___{path}|k\n"))
        .args(["--lax"])
        .stdout(format!("x={token} y=two\n"))
        .stderr(format!(
            " WARN <stdin>:1:3: failed to retrieve config item - ({token}), failed to retrieve config item: version 1 of secret \"{path}\" in mount \"secret\" was destroyed (HTTP 404) (left as it was: --lax)\n"
        ))
        .success();
}

#[tokio::test]
async fn a_wrong_token_is_refused() {
    let Some(bao) = openbao() else { return };
    let path = unique("app/locked");
    put(&bao, "secret", &path, json!({ "k": "v" })).await;
    let token = format!("VAULT://secret___{path}|k");
    project(&bao, Some("s.not-a-real-token"))
        .cm()
        .arg("insert")
        .stdin(format!("x={token}\n"))
        .stderr(one_failure(
            &token,
            &format!(
                "failed to retrieve config item: secret \"{path}\" in mount \"secret\": permission denied (HTTP 403)"
            ),
        ))
        .failure(1);
}

#[tokio::test]
async fn a_kv_version_1_mount_is_named_as_such() {
    let Some(bao) = openbao() else { return };
    let mount = unique("kv1-");
    api(
        &bao,
        "POST",
        &format!("sys/mounts/{mount}"),
        None,
        json!({ "type": "kv", "options": { "version": "1" } }),
    )
    .await;
    api(
        &bao,
        "POST",
        &format!("{mount}/app"),
        None,
        json!({ "k": "v" }),
    )
    .await;
    let token = format!("VAULT://{mount}___app|k");
    project(&bao, Some(&bao.token))
        .cm()
        .arg("insert")
        .stdin(format!("x={token}\n"))
        .stderr(one_failure(
            &token,
            &format!(
                "failed to retrieve config item: mount \"{mount}\" is a KV version 1 secrets engine; VAULT tokens read KV version 2 mounts only"
            ),
        ))
        .failure(1);
    // A mount that does not exist keeps Vault's own reason.
    let token = format!("VAULT://{mount}-none___app|k");
    project(&bao, Some(&bao.token))
        .cm()
        .arg("insert")
        .stdin(format!("x={token}\n"))
        .stderr(one_failure(
            &token,
            &format!(
                "failed to retrieve config item: secret \"app\" in mount \"{mount}-none\": no handler for route \"{mount}-none/data/app\". route entry not found. (HTTP 404)"
            ),
        ))
        .failure(1);
}

#[tokio::test]
async fn only_the_first_separator_splits() {
    let Some(bao) = openbao() else { return };
    let path = format!("{}___b/c", unique("a"));
    put(&bao, "secret", &path, json!({ "k": "split once" })).await;
    project(&bao, Some(&bao.token))
        .cm()
        .arg("insert")
        .stdin(format!("v=VAULT://secret___{path}|k\n"))
        .stdout("v=split once\n")
        .success();
}

#[tokio::test]
async fn tokens_without_a_mount_or_with_a_bad_version_name_the_token() {
    let Some(bao) = openbao() else { return };
    project(&bao, Some(&bao.token))
        .cm()
        .arg("insert")
        .stdin("x=VAULT://secret/app/db|k\n")
        .stderr(one_failure(
            "VAULT://secret/app/db|k",
            "implementation VAULT error: the token must be MOUNT___SECRET/PATH (no \"___\" in \"secret/app/db\") for token: secret/app/db",
        ))
        .failure(1);
    project(&bao, Some(&bao.token))
        .cm()
        .arg("insert")
        .stdin("x=VAULT://secret___app/db|k[version=latest]\n")
        .stderr(one_failure(
            "VAULT://secret___app/db|k[version=latest]",
            "implementation VAULT error: metadata version=\"latest\" is not a version number (a whole number, 0 or more) for token: secret___app/db",
        ))
        .failure(1);
}

#[tokio::test]
async fn fifty_tokens_at_once() {
    let Some(bao) = openbao() else { return };
    let base = unique("many");
    let mut template = String::new();
    let mut expected = String::new();
    for i in 0..50 {
        put(
            &bao,
            "secret",
            &format!("{base}/{i}"),
            json!({ "v": format!("value-{i}") }),
        )
        .await;
        template.push_str(&format!("s{i}=VAULT://secret___{base}/{i}|v\n"));
        expected.push_str(&format!("s{i}=value-{i}\n"));
    }
    project(&bao, Some(&bao.token))
        .cm()
        .arg("insert")
        .stdin(&template)
        .stdout(&expected)
        .success();
}

#[tokio::test]
async fn the_token_file_is_used_without_vault_token() {
    let Some(bao) = openbao() else { return };
    let path = unique("app/file");
    put(&bao, "secret", &path, json!({ "k": "from the token file" })).await;
    let project = project(&bao, None);
    std::fs::write(
        project.home().join(".vault-token"),
        format!("{}\n", bao.token),
    )
    .unwrap();
    project
        .cm()
        .arg("insert")
        .stdin(format!("v=VAULT://secret___{path}|k\n"))
        .stdout("v=from the token file\n")
        .success();

    // No token anywhere: Vault refuses, and the message says why.
    std::fs::remove_file(project.home().join(".vault-token")).unwrap();
    let token = format!("VAULT://secret___{path}|k");
    project
        .cm()
        .arg("insert")
        .stdin(format!("x={token}\n"))
        .stderr(one_failure(
            &token,
            &format!(
                "failed to retrieve config item: secret \"{path}\" in mount \"secret\": permission denied (HTTP 403) (no VAULT_TOKEN is set and there is no ~/.vault-token)"
            ),
        ))
        .failure(1);
}

#[tokio::test]
async fn vault_namespace_selects_the_namespace() {
    let Some(bao) = openbao() else { return };
    let ns = unique("team");
    api(
        &bao,
        "POST",
        &format!("sys/namespaces/{ns}"),
        None,
        json!({}),
    )
    .await;
    api(
        &bao,
        "POST",
        "sys/mounts/kv",
        Some(&ns),
        json!({ "type": "kv", "options": { "version": "2" } }),
    )
    .await;
    api(
        &bao,
        "POST",
        "kv/data/app",
        Some(&ns),
        json!({ "data": { "k": "in the namespace" } }),
    )
    .await;
    project(&bao, Some(&bao.token))
        .env("VAULT_NAMESPACE", &ns)
        .cm()
        .arg("insert")
        .stdin("v=VAULT://kv___app|k\n")
        .stdout("v=in the namespace\n")
        .success();
}

#[tokio::test]
async fn tls_with_vault_cacert_or_vault_skip_verify() {
    let Some(bao) = openbao_tls() else { return };
    let path = unique("app/tls");
    put(&bao, "secret", &path, json!({ "k": "over TLS" })).await;
    let ca = bao.ca.clone().unwrap();
    let token = format!("VAULT://secret___{path}|k");
    project(&bao, Some(&bao.token))
        .env("VAULT_CACERT", &ca)
        .cm()
        .arg("insert")
        .stdin(format!("v={token}\n"))
        .stdout("v=over TLS\n")
        .success();
    project(&bao, Some(&bao.token))
        .env("VAULT_SKIP_VERIFY", "true")
        .cm()
        .arg("insert")
        .stdin(format!("v={token}\n"))
        .stdout("v=over TLS\n")
        .success();
    // Neither: the dev server's own CA is not trusted. (The TLS verifier also logs the
    // failure, with its source file's path on this machine, so that line is not compared.)
    project(&bao, Some(&bao.token))
        .cm()
        .arg("insert")
        .stdin(format!("x={token}\n"))
        .stderr_contains(one_failure(
            &token,
            &format!(
                "implementation VAULT error: error sending request for url ({}/v1/secret/data/{path}): client error (Connect): invalid peer certificate: UnknownIssuer for token: secret___{path}",
                bao.addr
            ),
        ))
        .failure(1);
}

#[test]
fn answers_version_as_configmanagers_plugins_do() {
    assert_answers_version(Path::new(PLUGIN), "VAULT", env!("CARGO_PKG_VERSION"));
}

/// configmanager loads the plugin unchanged: go-plugin's own Go client starts it and calls
/// `Value` concurrently; a store error arrives as the call's error.
#[tokio::test]
async fn loads_in_a_go_host() {
    let Some(bao) = openbao() else { return };
    let path = unique("app/go");
    put(&bao, "secret", &path, json!({ "k": "one" })).await;
    put(&bao, "secret", &path, json!({ "k": "two", "n": 2 })).await;
    let env = [
        ("VAULT_ADDR", bao.addr.as_str()),
        ("VAULT_TOKEN", &bao.token),
    ];
    let secret = format!("secret___{path}");
    let Some(out) = go_host_values(Path::new(PLUGIN), &secret, "version=1", 3, &env) else {
        return;
    };
    assert_eq!(out, (Some(0), "{\"k\":\"one\"}\n".repeat(3), String::new()));
    let out = go_host_values(Path::new(PLUGIN), &secret, "", 1, &env).unwrap();
    assert_eq!(
        out,
        (Some(0), "{\"k\":\"two\",\"n\":2}\n".into(), String::new())
    );
    let out = go_host_values(Path::new(PLUGIN), &format!("{secret}-not"), "", 1, &env).unwrap();
    assert_eq!(
        out,
        (
            Some(1),
            String::new(),
            format!(
                "gohost: rpc error: code = Unknown desc = failed to retrieve config item: secret \"{path}-not\" in mount \"secret\" not found (HTTP 404)\n"
            )
        )
    );
}
