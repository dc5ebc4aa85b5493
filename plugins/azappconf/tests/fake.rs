//! AZAPPCONF end to end: the real `cm` with this plugin installed, against the strict App
//! Configuration fake in `cm_testkit` (no emulator exists), which checks every request's
//! HMAC-SHA256 signature the way the service documents it. The plugin reaches the fake through
//! the connection string's `Endpoint=http://127.0.0.1:PORT`.

use std::path::Path;

use cm_testkit::{
    AppConfRequest, FakeAppConf, FakeEntra, Project, TestCa, assert_answers_version, cm_binary,
    go_host_values,
};

const PLUGIN: &str = env!("CARGO_BIN_EXE_cm-plugin-azappconf");

fn project(connection_string: &str) -> Project {
    let project = Project::new(cm_binary())
        .env("AZURE_APPCONFIG_CONNECTION_STRING", connection_string)
        // Nothing may reach a real credential or cloud from these tests.
        .env_remove("AZURE_APPCONFIG_DNS_SUFFIX")
        .env_remove("AZURE_CLIENT_SECRET");
    project.link_binary("AZAPPCONF", Path::new(PLUGIN));
    project
}

/// cm's output for one failed token at `<stdin>:1:3` (templates here start with `x=`).
fn one_failure(token: &str, message: &str) -> String {
    format!(
        "cm: <stdin>:1:3: failed to retrieve config item - ({token}), {message}\n\
         token not found: 1 of 1 token(s) could not be resolved\n"
    )
}

/// The paths the fake saw, sorted (cm sends concurrent calls in no fixed order).
fn paths(fake: &FakeAppConf) -> Vec<String> {
    let mut p: Vec<String> = fake
        .requests()
        .into_iter()
        .map(|r| format!("{} {}", r.status, r.path_and_query))
        .collect();
    p.sort();
    p
}

#[test]
fn labels_key_paths_and_keys_that_need_encoding() {
    let fake = FakeAppConf::start();
    fake.set("app/greeting", None, "hello");
    fake.set("app/greeting", Some("prod"), "hello from prod");
    fake.set("app:db", None, r#"{"host":"db.local","port":5432}"#);
    fake.set("app:db/url", None, "postgres://db.local/app");
    fake.set("café/a+b&c=d#1", Some("eu/west:1"), "odd");
    let template = "a=AZAPPCONF://mystore/app/greeting\n\
                    b=AZAPPCONF://mystore/app/greeting[label=prod]\n\
                    host=AZAPPCONF://mystore/app%3Adb|host\n\
                    port=AZAPPCONF://mystore/app%3Adb|port\n\
                    url=AZAPPCONF:///mystore/app%3Adb%2Furl\n\
                    odd=AZAPPCONF://mystore/caf%C3%A9/a+b&c=d#1[label=eu/west:1]\n";
    project(&fake.connection_string())
        .cm()
        .arg("insert")
        .stdin(template)
        .stdout(
            "a=hello\nb=hello from prod\nhost=db.local\nport=5432\n\
             url=postgres://db.local/app\nodd=odd\n",
        )
        .success();
    // One call per stored item (the two `app:db` key paths share one; a leading `/` before the
    // store is allowed), each key one encoded path segment, no label parameter for the
    // key-value without a label.
    assert_eq!(
        paths(&fake),
        [
            "200 /kv/app%2Fgreeting?api-version=2024-09-01",
            "200 /kv/app%2Fgreeting?label=prod&api-version=2024-09-01",
            "200 /kv/app%3Adb%2Furl?api-version=2024-09-01",
            "200 /kv/app%3Adb?api-version=2024-09-01",
            "200 /kv/caf%C3%A9%2Fa%2Bb%26c%3Dd%231?label=eu%2Fwest%3A1&api-version=2024-09-01",
        ]
    );

    // Without a key path a JSON object value gives one export per field.
    project(&fake.connection_string())
        .cm()
        .args([
            "retrieve",
            "-t",
            "AZAPPCONF://mystore/app%3Adb",
            "-p",
            "stdout",
        ])
        .stdout("export HOST='db.local'\nexport PORT='5432'\n")
        .success();
}

#[test]
fn etag_reads_only_a_changed_value_as_configmanager() {
    let fake = FakeAppConf::start();
    let old = fake.set("feature/limit", None, "10");
    let current = fake.set("feature/limit", None, "20");
    assert_ne!(old, current);

    // Changed since the pinned etag: the current value.
    project(&fake.connection_string())
        .cm()
        .arg("insert")
        .stdin(format!("x=AZAPPCONF://mystore/feature/limit[etag={old}]\n"))
        .stdout("x=20\n")
        .success();

    // Unchanged: 304, and the token fails saying why.
    let token = format!("AZAPPCONF://mystore/feature/limit[etag={current}]");
    project(&fake.connection_string())
        .cm()
        .arg("insert")
        .stdin(format!("x={token}\n"))
        .stderr(one_failure(
            &token,
            &format!(
                "failed to retrieve config item: key \"feature/limit\" with no label in store \"mystore\" has not changed since etag \"{current}\" (HTTP 304 Not Modified): with [etag=...] a value is read only when it has changed, as in configmanager"
            ),
        ))
        .failure(1);

    let sent: Vec<(Option<String>, u16)> = fake
        .requests()
        .into_iter()
        .map(
            |AppConfRequest {
                 if_none_match,
                 status,
                 if_match,
                 ..
             }| {
                assert_eq!(if_match, None);
                (if_none_match, status)
            },
        )
        .collect();
    assert_eq!(
        sent,
        [
            (Some(format!("\"{old}\"")), 200),
            (Some(format!("\"{current}\"")), 304)
        ]
    );
}

#[test]
fn a_missing_key_or_label_is_not_found() {
    let fake = FakeAppConf::start();
    fake.set("app/there", Some("prod"), "v");
    for (token, what) in [
        (
            "AZAPPCONF://mystore/app/gone",
            "key \"app/gone\" with no label",
        ),
        // The key exists, but only with a label: the unlabelled read does not see it.
        (
            "AZAPPCONF://mystore/app/there",
            "key \"app/there\" with no label",
        ),
        (
            "AZAPPCONF://mystore/app/there[label=dev]",
            "key \"app/there\" with label \"dev\"",
        ),
    ] {
        project(&fake.connection_string())
            .cm()
            .arg("insert")
            .stdin(format!("x={token}\n"))
            .stderr(one_failure(
                token,
                &format!(
                    "failed to retrieve config item: {what} in store \"mystore\" not found (HTTP 404 Not Found)"
                ),
            ))
            .failure(1);
    }
}

#[test]
fn a_wrong_secret_is_refused_by_the_fake_with_its_reason() {
    let fake = FakeAppConf::start();
    fake.set("k", None, "v");
    // The right endpoint and credential id with another secret: the fake recomputes the
    // signature and refuses it.
    let wrong = format!(
        "Endpoint={};Id={};Secret=d3Jvbmctc2VjcmV0",
        fake.url(),
        cm_testkit::APPCONF_CREDENTIAL_ID
    );
    project(&wrong)
        .cm()
        .arg("insert")
        .stdin("x=AZAPPCONF://mystore/k\n")
        .stderr(one_failure(
            "AZAPPCONF://mystore/k",
            "failed to retrieve config item: authentication refused: Invalid Signature (HTTP 401 Unauthorized)",
        ))
        .failure(1);
    // An unknown access key id.
    let unknown = format!(
        "Endpoint={};Id=someone-else;Secret={}",
        fake.url(),
        cm_testkit::APPCONF_SECRET
    );
    project(&unknown)
        .cm()
        .arg("insert")
        .stdin("x=AZAPPCONF://mystore/k\n")
        .stderr(one_failure(
            "AZAPPCONF://mystore/k",
            "failed to retrieve config item: authentication refused: Invalid Credential (HTTP 401 Unauthorized)",
        ))
        .failure(1);
    assert_eq!(
        paths(&fake),
        [
            "401 /kv/k?api-version=2024-09-01",
            "401 /kv/k?api-version=2024-09-01"
        ]
    );
}

#[test]
fn forty_tokens_at_once_are_forty_requests() {
    let fake = FakeAppConf::start();
    let mut template = String::new();
    let mut expected = String::new();
    for i in 0..40 {
        fake.set(
            &format!("svc/{i}/url"),
            Some("prod"),
            &format!("https://svc-{i}.local"),
        );
        template.push_str(&format!(
            "s{i}=AZAPPCONF://mystore/svc/{i}/url[label=prod]\n"
        ));
        expected.push_str(&format!("s{i}=https://svc-{i}.local\n"));
    }
    project(&fake.connection_string())
        .cm()
        .arg("insert")
        .stdin(&template)
        .stdout(expected)
        .success();
    let requests = fake.requests();
    assert_eq!(requests.len(), 40);
    assert!(requests.iter().all(|r| r.status == 200), "{requests:?}");
}

#[test]
fn bad_tokens_are_named() {
    let fake = FakeAppConf::start();
    for (token, path, reason) in [
        (
            "AZAPPCONF://mystore",
            "mystore",
            "the token must be STORE/KEY (the store's name, then the key)",
        ),
        (
            "AZAPPCONF://my.store/k",
            "my.store/k",
            "\"my.store\" is not an App Configuration store name (letters, digits and '-')",
        ),
        (
            "AZAPPCONF://mystore/50%",
            "mystore/50%",
            "the key \"50%\" has a '%' that is not followed by two hex digits",
        ),
    ] {
        project(&fake.connection_string())
            .cm()
            .arg("insert")
            .stdin(format!("x={token}\n"))
            .stderr(one_failure(
                token,
                &format!("implementation AZAPPCONF error: {reason} for token: {path}"),
            ))
            .failure(1);
    }
    assert_eq!(fake.request_count(), 0, "nothing is sent for a bad token");
}

#[test]
fn key_vault_references_and_empty_values() {
    let fake = FakeAppConf::start();
    let reference = r#"{"uri":"https://myvault.vault.azure.net/secrets/db-password"}"#;
    fake.set_full(
        "app/db-password",
        None,
        Some(reference),
        Some("application/vnd.microsoft.appconfig.keyvaultref+json;charset=utf-8"),
    );
    fake.set("app/empty", None, "");
    fake.set_full("app/null", None, None, None);
    project(&fake.connection_string())
        .cm()
        .arg("insert")
        .stdin(
            "ref=AZAPPCONF://mystore/app/db-password uri=AZAPPCONF://mystore/app/db-password|uri\n",
        )
        .stdout(format!(
            "ref={reference} uri=https://myvault.vault.azure.net/secrets/db-password\n"
        ))
        .success();
    for key in ["app/empty", "app/null"] {
        let token = format!("AZAPPCONF://mystore/{key}");
        project(&fake.connection_string())
            .cm()
            .arg("insert")
            .stdin(format!("x={token}\n"))
            .stderr(one_failure(
                &token,
                &format!("value retrieved but empty for token: mystore/{key}"),
            ))
            .failure(1);
    }
}

#[test]
fn a_broken_connection_string_is_a_client_initialization_error() {
    project("Endpoint=http://127.0.0.1:9;Id=i")
        .cm()
        .arg("insert")
        .stdin("x=AZAPPCONF://mystore/k\n")
        .stderr(one_failure(
            "AZAPPCONF://mystore/k",
            "failed to initialize the client: connection string has no Secret",
        ))
        .failure(1);
}

/// The Entra ID path: no connection string serves the store, so the plugin gets a
/// client-credentials token from the fake Entra ID for App Configuration's audience and reads
/// `https://mystore.azconfig.io:PORT` (reached through `AZAPPCONF_CONNECT_TO`) with it, over TLS
/// checked against a CA made for the test.
#[test]
fn entra_id_when_the_connection_string_is_for_another_store() {
    const TENANT: &str = "7f2c1a9e-0000-4000-8000-00000000a9c0";
    const CLIENT: &str = "app-client-id";
    const CLIENT_SECRET: &str = "client-secret-value";
    let ca = TestCa::new();
    let entra = FakeEntra::start(&ca);
    entra.register(TENANT, CLIENT, CLIENT_SECRET);
    let fake = FakeAppConf::start_https(&ca, entra.tokens(), "https://appconfig.azure.com");
    fake.set("app/db", Some("prod"), "read with an Entra ID token");
    let project = |audience: Option<&str>| {
        let mut p = project("Endpoint=https://otherstore.azconfig.io;Id=i;Secret=a2V5")
            .env("SSL_CERT_FILE", ca.pem_file())
            .env_remove("SSL_CERT_DIR")
            .env("AZURE_AUTHORITY_HOST", entra.authority_host())
            .env("AZURE_TENANT_ID", TENANT)
            .env("AZURE_CLIENT_ID", CLIENT)
            .env("AZURE_CLIENT_SECRET", CLIENT_SECRET)
            .env_remove("AZURE_FEDERATED_TOKEN_FILE")
            .env("AZAPPCONF_CONNECT_TO", fake.host());
        p = match audience {
            Some(a) => p.env("AZURE_APPCONFIG_AUDIENCE", a),
            None => p.env_remove("AZURE_APPCONFIG_AUDIENCE"),
        };
        p
    };
    project(None)
        .cm()
        .arg("insert")
        .stdin("x=AZAPPCONF://mystore/app/db[label=prod]\n")
        .stdout("x=read with an Entra ID token\n")
        .success();
    let tokens = entra.token_requests();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(
        tokens[0].scope.as_deref(),
        Some("https://appconfig.azure.com/.default")
    );
    assert_eq!(
        paths(&fake),
        ["200 /kv/app%2Fdb?label=prod&api-version=2024-09-01"]
    );

    // A token for another audience is refused by the store, with its reason.
    project(Some("https://management.azure.com"))
        .cm()
        .arg("insert")
        .stdin("x=AZAPPCONF://mystore/app/db[label=prod]\n")
        .stderr(one_failure(
            "AZAPPCONF://mystore/app/db[label=prod]",
            "failed to retrieve config item: authentication refused: Authorization token failed validation (HTTP 401 Unauthorized)",
        ))
        .failure(1);
}

#[test]
fn throttled_requests_are_retried_then_reported() {
    let fake = FakeAppConf::start();
    fake.set("k", None, "v");
    // Two 429s, then the value: three requests in all.
    fake.throttle_next(2);
    project(&fake.connection_string())
        .cm()
        .arg("insert")
        .stdin("x=AZAPPCONF://mystore/k\n")
        .stdout("x=v\n")
        .success();
    assert_eq!(
        paths(&fake),
        [
            "200 /kv/k?api-version=2024-09-01",
            "429 /kv/k?api-version=2024-09-01",
            "429 /kv/k?api-version=2024-09-01",
        ]
    );
    // A store that stays busy: three attempts, then the service's reason.
    fake.reset_requests();
    fake.throttle_next(5);
    project(&fake.connection_string())
        .cm()
        .arg("insert")
        .stdin("x=AZAPPCONF://mystore/k\n")
        .stderr(one_failure(
            "AZAPPCONF://mystore/k",
            "failed to retrieve config item: Resource utilization has surpassed the assigned quota (HTTP 429 Too Many Requests)",
        ))
        .failure(1);
    assert_eq!(fake.request_count(), 3);
}

#[test]
fn answers_version_as_configmanagers_plugins_do() {
    assert_answers_version(Path::new(PLUGIN), "AZAPPCONF", env!("CARGO_PKG_VERSION"));
}

/// configmanager loads the plugin unchanged: go-plugin's own Go client starts it and calls
/// `Value` concurrently, each request signed.
#[test]
fn loads_in_a_go_host() {
    let fake = FakeAppConf::start();
    fake.set("app/greeting", None, "hello");
    fake.set("app/greeting", Some("prod"), "hello from prod");
    let connection_string = fake.connection_string();
    let env = [(
        "AZURE_APPCONFIG_CONNECTION_STRING",
        connection_string.as_str(),
    )];
    let plugin = Path::new(PLUGIN);
    let Some(out) = go_host_values(plugin, "mystore/app/greeting", "label=prod", 3, &env) else {
        return;
    };
    assert_eq!(out, (Some(0), "hello from prod\n".repeat(3), String::new()));
    let out = go_host_values(plugin, "mystore/app/greeting", "", 1, &env).unwrap();
    assert_eq!(out, (Some(0), "hello\n".into(), String::new()));
    assert_eq!(
        paths(&fake),
        [
            "200 /kv/app%2Fgreeting?api-version=2024-09-01",
            "200 /kv/app%2Fgreeting?label=prod&api-version=2024-09-01",
            "200 /kv/app%2Fgreeting?label=prod&api-version=2024-09-01",
            "200 /kv/app%2Fgreeting?label=prod&api-version=2024-09-01",
        ]
    );
}
