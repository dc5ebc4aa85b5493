//! AZTABLESTORE end to end: the real `cm` with this plugin installed, against Azurite's Table
//! service (`source .ci/emulators.sh`). The tables are seeded over REST signed with the
//! plugin's own Shared Key code, which Azurite checks, as it checks the plugin's reads.

use std::path::Path;

use cm_plugin_aztablestore::connection::{Connection, Credential};
use cm_plugin_aztablestore::rest::{API_VERSION, SignedRequest, shared_key_authorization};
use cm_testkit::{Project, assert_answers_version, cm_binary, emulator, unique, url_address};

const PLUGIN: &str = env!("CARGO_BIN_EXE_cm-plugin-aztablestore");
const ACCOUNT: &str = "devstoreaccount1";

/// Azurite's connection string, or `None` (test skipped) when it is not running.
fn azurite() -> Option<Connection> {
    let text = emulator("AZURE_STORAGE_CONNECTION_STRING", |s| {
        let c = Connection::parse(s).ok()?;
        url_address(&c.endpoint)
    })?;
    Some(Connection::parse(&text).expect("a valid connection string"))
}

fn project(connection_string: &str) -> Project {
    let project =
        Project::new(cm_binary()).env("AZURE_STORAGE_CONNECTION_STRING", connection_string);
    project.link_binary("AZTABLESTORE", Path::new(PLUGIN));
    project
}

fn connection_string() -> String {
    std::env::var("AZURE_STORAGE_CONNECTION_STRING").expect("checked by azurite()")
}

/// Sends a signed POST of `body` to `{endpoint}/{resource}`.
async fn post(c: &Connection, resource: &str, body: serde_json::Value) {
    let Credential::SharedKey { account, key } = &c.credential else {
        panic!("the emulator's connection string has a key");
    };
    let url = reqwest::Url::parse(&format!("{}/{resource}", c.endpoint)).unwrap();
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let auth = shared_key_authorization(
        account,
        key,
        &SignedRequest {
            verb: "POST",
            content_type: "application/json",
            date: &date,
            path: url.path(),
        },
    );
    let resp = cm_plugin_aztablestore::http_client()
        .expect("an HTTP client")
        .post(url)
        .header("Authorization", auth)
        .header("x-ms-date", &date)
        .header("x-ms-version", API_VERSION)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json;odata=nometadata")
        .header("DataServiceVersion", "3.0;NetFx")
        .header("Prefer", "return-no-content")
        .body(body.to_string())
        .send()
        .await
        .expect("Azurite answers");
    let status = resp.status();
    assert!(
        status.is_success(),
        "seeding {resource}: {status} {}",
        resp.text().await.unwrap_or_default()
    );
}

/// A new table with the given entities (`(partition, row, properties)`).
async fn table_with(c: &Connection, entities: &[(&str, &str, serde_json::Value)]) -> String {
    let table = unique("t");
    post(c, "Tables", serde_json::json!({ "TableName": table })).await;
    for (pk, rk, props) in entities {
        let mut entity = props.clone();
        entity["PartitionKey"] = (*pk).into();
        entity["RowKey"] = (*rk).into();
        post(c, &table, entity).await;
    }
    table
}

#[tokio::test]
async fn value_property_else_the_whole_entity_with_key_paths() {
    let Some(c) = azurite() else { return };
    let table = table_with(
        &c,
        &[
            ("app", "password", serde_json::json!({ "value": "s3cret" })),
            (
                "app",
                "db",
                serde_json::json!({ "host": "db.local", "port": 5432, "tls": true }),
            ),
            (
                "ünï-cödé",
                "key.with-dots_~",
                serde_json::json!({ "value": "odd keys" }),
            ),
        ],
    )
    .await;
    let template = format!(
        "pw=AZTABLESTORE://{ACCOUNT}/{table}/app/password\n\
         host=AZTABLESTORE:///{ACCOUNT}/{table}/app/db|host\n\
         port=AZTABLESTORE://{ACCOUNT}/{table}/app/db|port\n\
         tls=AZTABLESTORE://{ACCOUNT}/{table}/app/db|tls\n\
         odd=AZTABLESTORE://{ACCOUNT}/{table}/ünï-cödé/key.with-dots_~\n"
    );
    project(&connection_string())
        .cm()
        .arg("insert")
        .stdin(&template)
        .stdout("pw=s3cret\nhost=db.local\nport=5432\ntls=true\nodd=odd keys\n")
        .success();

    // Without a key path the whole entity is the value: one export per property.
    let token = format!("AZTABLESTORE://{ACCOUNT}/{table}/app/db");
    let out = project(&connection_string())
        .cm()
        .args(["retrieve", "-t", &token, "-p", "stdout"])
        // The entity carries Azurite's Timestamp, which differs on every run.
        .stdout_unchecked()
        .success();
    let exports = out.stdout_str();
    assert!(exports.contains("export HOST='db.local'\n"), "{exports}");
    assert!(exports.contains("export ROWKEY='db'\n"), "{exports}");
}

#[tokio::test]
async fn a_missing_entity_fails_only_its_own_token() {
    let Some(c) = azurite() else { return };
    let table = table_with(&c, &[("p", "r", serde_json::json!({ "value": "here" }))]).await;
    let template = format!(
        "ok=AZTABLESTORE://{ACCOUNT}/{table}/p/r gone=AZTABLESTORE://{ACCOUNT}/{table}/p/nope \
         short=AZTABLESTORE://{ACCOUNT}/{table}/p\n"
    );
    let gone = format!("AZTABLESTORE://{ACCOUNT}/{table}/p/nope");
    let short = format!("AZTABLESTORE://{ACCOUNT}/{table}/p");
    let column = |token: &str| template.find(&format!("{token} ")).unwrap() + 1;
    project(&connection_string())
        .cm()
        .args(["insert", "--lax"])
        .stdin(&template)
        .stdout(format!("ok=here gone={gone} short={short}\n"))
        .stderr(format!(
            " WARN <stdin>:1:{}: failed to retrieve config item - ({gone}), failed to retrieve config item: ResourceNotFound: The specified resource does not exist. (HTTP 404) (left as it was: --lax)\n \
             WARN <stdin>:1:{}: failed to retrieve config item - ({short}), implementation AZTABLESTORE error: the token must be ACCOUNT/TABLE/PARTITION_KEY/ROW_KEY for token: {ACCOUNT}/{table}/p (left as it was: --lax)\n",
            column(&gone),
            template.find(&format!("{short}\n")).unwrap() + 1,
        ))
        .success();
}

#[tokio::test]
async fn a_wrong_account_key_is_refused_by_the_emulator() {
    let Some(c) = azurite() else { return };
    let table = table_with(&c, &[("p", "r", serde_json::json!({ "value": "here" }))]).await;
    // The right account and endpoint with another key: Azurite checks the signature.
    let wrong = format!(
        "AccountName={ACCOUNT};AccountKey=d3Jvbmcta2V5;TableEndpoint={};",
        c.endpoint
    );
    let token = format!("AZTABLESTORE://{ACCOUNT}/{table}/p/r");
    project(&wrong)
        .cm()
        .arg("insert")
        .stdin(format!("x={token}\n"))
        // Azurite's message goes on with a request id and a time, which differ on every run.
        .stderr_contains(format!("cm: <stdin>:1:3: failed to retrieve config item - ({token}), failed to retrieve config item: AuthorizationFailure: Server failed to authenticate the request."))
        .stderr_contains("(HTTP 403)\ntoken not found: 1 of 1 token(s) could not be resolved\n")
        .failure(1);
}

#[test]
fn a_broken_connection_string_is_a_client_initialization_error() {
    project("AccountName=a")
        .cm()
        .arg("insert")
        .stdin("x=AZTABLESTORE://a/t/p/r\n")
        .stderr(
            "cm: <stdin>:1:3: failed to retrieve config item - (AZTABLESTORE://a/t/p/r), failed to initialize the client: connection string has neither AccountKey nor SharedAccessSignature\n\
             token not found: 1 of 1 token(s) could not be resolved\n",
        )
        .failure(1);
}

#[test]
fn answers_version_as_configmanagers_plugins_do() {
    assert_answers_version(
        std::path::Path::new(PLUGIN),
        "AZTABLESTORE",
        env!("CARGO_PKG_VERSION"),
    );
}
