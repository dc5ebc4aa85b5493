//! AWSPARAMSTR end to end: the real `cm` with this plugin installed, against moto's server
//! (`source .ci/emulators.sh`), seeded through the AWS API. Calls are counted by a proxy
//! between the plugin and moto.

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::ParameterType;
use cm_testkit::{
    CountingProxy, Project, assert_answers_version, assert_calls, aws_project, moto, unique,
};

const PLUGIN: &str = env!("CARGO_BIN_EXE_cm-plugin-awsparamstr");

async fn ssm() -> Client {
    let config = cm_plugin_common::aws::load_config()
        .await
        .expect("AWS_REGION is set by .ci/emulators.sh");
    Client::new(&config)
}

async fn put(c: &Client, name: &str, value: &str, kind: ParameterType) {
    c.put_parameter()
        .name(name)
        .value(value)
        .r#type(kind)
        .overwrite(true)
        .send()
        .await
        .expect("seed a parameter");
}

fn project(endpoint: &str) -> Project {
    aws_project("AWSPARAMSTR", PLUGIN, endpoint)
}

#[tokio::test]
async fn values_versions_labels_and_key_paths() {
    let Some(endpoint) = moto() else { return };
    let c = ssm().await;
    let base = format!("/cmtest/{}", unique("p"));
    let db = format!("{base}/db");
    let pw = format!("{base}/password");
    put(
        &c,
        &db,
        r#"{"host":"old-host","port":5432}"#,
        ParameterType::String,
    )
    .await;
    put(
        &c,
        &db,
        r#"{"host":"new-host","port":6543,"tls":{"on":true}}"#,
        ParameterType::String,
    )
    .await;
    c.label_parameter_version()
        .name(&db)
        .parameter_version(1)
        .labels("previous")
        .send()
        .await
        .expect("label version 1");
    put(&c, &pw, "s3cret", ParameterType::SecureString).await;

    let template = format!(
        "host=AWSPARAMSTR://{db}|host\n\
         port=AWSPARAMSTR://{db}|port\n\
         tls=AWSPARAMSTR://{db}|tls.on\n\
         old=AWSPARAMSTR://{db}|host[version=1]\n\
         labelled=AWSPARAMSTR://{db}|port[label=previous]\n\
         pw=AWSPARAMSTR://{pw}\n"
    );
    project(&endpoint)
        .cm()
        .arg("insert")
        .stdin(&template)
        .stdout("host=new-host\nport=6543\ntls=true\nold=old-host\nlabelled=5432\npw=s3cret\n")
        .success();
}

#[tokio::test]
async fn retrieve_writes_exports() {
    let Some(endpoint) = moto() else { return };
    let c = ssm().await;
    let name = format!("/cmtest/{}/app-config", unique("r"));
    put(
        &c,
        &name,
        r#"{"user":"admin","port":5432}"#,
        ParameterType::String,
    )
    .await;
    let token = format!("AWSPARAMSTR://{name}");
    // One export per top-level key.
    project(&endpoint)
        .cm()
        .args(["retrieve", "-t", &token, "-p", "stdout"])
        .stdout("export USER='admin'\nexport PORT='5432'\n")
        .success();
}

#[tokio::test]
async fn missing_names_fail_only_their_own_tokens_within_one_batch() {
    let Some(endpoint) = moto() else { return };
    let c = ssm().await;
    let base = format!("/cmtest/{}", unique("m"));
    for i in 0..3 {
        put(
            &c,
            &format!("{base}/p{i}"),
            &format!("v{i}"),
            ParameterType::String,
        )
        .await;
    }
    let proxy = CountingProxy::start(&endpoint);
    let template = format!(
        "a=AWSPARAMSTR://{base}/p0 b=AWSPARAMSTR://{base}/p1 c=AWSPARAMSTR://{base}/p2 \
         gone=AWSPARAMSTR://{base}/nope old=AWSPARAMSTR://{base}/p0[version=7]\n"
    );
    project(proxy.url())
        .cm()
        .args(["insert", "--lax"])
        .stdin(&template)
        .stdout(format!(
            "a=v0 b=v1 c=v2 gone=AWSPARAMSTR://{base}/nope old=AWSPARAMSTR://{base}/p0[version=7]\n"
        ))
        // The rest of each line is the emulator's wording, which moto's version decides.
        .stderr_contains(format!(
            " WARN <stdin>:1:{}: failed to retrieve config item - (AWSPARAMSTR://{base}/nope), failed to retrieve config item: ParameterNotFound: parameter {base}/nope not found",
            template.find(&format!("AWSPARAMSTR://{base}/nope")).unwrap() + 1
        ))
        .stderr_contains(format!(
            "(AWSPARAMSTR://{base}/p0[version=7]), failed to retrieve config item: ParameterVersionNotFound"
        ))
        .success();
    // All five lookups in one GetParameters call, the missing ones reported by it.
    assert_eq!(proxy.count("GetParameters"), 1, "{:?}", proxy.counts());
    assert_eq!(proxy.count("GetParameter"), 0, "{:?}", proxy.counts());

    // Without --lax the run fails and names the failed tokens (in the emulator's words).
    project(proxy.url())
        .cm()
        .arg("insert")
        .stdin(&template)
        .stderr_contains("token not found: 2 of 5 token(s) could not be resolved\n")
        .failure(1);
}

#[tokio::test]
async fn concurrent_lookups_are_batched_ten_names_a_call() {
    let Some(endpoint) = moto() else { return };
    let c = ssm().await;
    let base = format!("/cmtest/{}", unique("b"));
    let mut template = String::new();
    let mut expected = String::new();
    for i in 0..25 {
        put(
            &c,
            &format!("{base}/k{i}"),
            &format!("value{i}"),
            ParameterType::String,
        )
        .await;
        template.push_str(&format!("k{i}=AWSPARAMSTR://{base}/k{i}\n"));
        expected.push_str(&format!("k{i}=value{i}\n"));
    }
    // 25 names: batches of 10, 10 and 5; without batching one GetParameter each.
    let proxy = CountingProxy::start(&endpoint);
    assert_calls(
        &proxy,
        project,
        (&template, &expected),
        &[("GetParameters", 3)],
        &[("GetParameter", 25)],
    );
}

#[test]
fn bad_metadata_is_an_implementation_error() {
    // Refused before any call: no emulator needed.
    project("http://127.0.0.1:9")
        .cm()
        .arg("insert")
        .stdin("x=AWSPARAMSTR:///a/b[version=1,label=l]\n")
        .stderr(
            "cm: <stdin>:1:3: failed to retrieve config item - (AWSPARAMSTR:///a/b[version=1,label=l]), implementation AWSPARAMSTR error: metadata version and label cannot be used together for token: /a/b\n\
             token not found: 1 of 1 token(s) could not be resolved\n",
        )
        .failure(1);
}

#[test]
fn no_region_is_a_client_initialization_error() {
    project("http://127.0.0.1:9")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_PROFILE")
        .cm()
        .arg("insert")
        .stdin("x=AWSPARAMSTR:///a/b\n")
        .stderr(
            "cm: <stdin>:1:3: failed to retrieve config item - (AWSPARAMSTR:///a/b), failed to initialize the client: no AWS region is configured (set AWS_REGION or a region in the AWS profile)\n\
             token not found: 1 of 1 token(s) could not be resolved\n",
        )
        .failure(1);
}

#[test]
fn an_unreachable_endpoint_is_an_implementation_error() {
    // Port 9 (discard) is closed on loopback; one attempt keeps the test fast. The middle of
    // the message is the AWS SDK's description of the connection error, which its version
    // decides.
    project("http://127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_MAX_ATTEMPTS", "1")
        .cm()
        .arg("insert")
        .stdin("x=AWSPARAMSTR:///a/b\n")
        .stderr_contains("cm: <stdin>:1:3: failed to retrieve config item - (AWSPARAMSTR:///a/b), implementation AWSPARAMSTR error: ")
        .stderr_contains(" for token: /a/b\ntoken not found: 1 of 1 token(s) could not be resolved\n")
        .failure(1);
}

#[test]
fn answers_version_as_configmanagers_plugins_do() {
    assert_answers_version(
        std::path::Path::new(PLUGIN),
        "AWSPARAMSTR",
        env!("CARGO_PKG_VERSION"),
    );
}
