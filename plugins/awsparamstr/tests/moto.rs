//! AWSPARAMSTR end to end: the real `cm` with this plugin installed, against moto's server
//! (`source .ci/emulators.sh`), seeded through the AWS API. Calls are counted by a proxy
//! between the plugin and moto.

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::ParameterType;
use cm_plugin_testkit::{CountingProxy, Project, assert_calls, aws_project, moto, unique};

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
    let out = project(&endpoint).cm(&["insert"], &template);
    assert_eq!(
        out.ok(),
        "host=new-host\nport=6543\ntls=true\nold=old-host\nlabelled=5432\npw=s3cret\n"
    );
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
    let out = project(&endpoint).cm(&["retrieve", "-t", &token, "-p", "stdout"], "");
    // One export per top-level key (their exact quoting is cm's business, tested there).
    let lines: Vec<&str> = out.ok().lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines.contains(&"export USER='admin'"), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("export PORT=") && l.contains("5432")),
        "{lines:?}"
    );
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
    let out = project(proxy.url()).cm(&["insert", "--lax"], &template);
    assert_eq!(
        out.ok(),
        format!(
            "a=v0 b=v1 c=v2 gone=AWSPARAMSTR://{base}/nope old=AWSPARAMSTR://{base}/p0[version=7]\n"
        )
    );
    assert!(
        out.stderr.contains(&format!(
            "failed to retrieve config item - (AWSPARAMSTR://{base}/nope), failed to retrieve config item: ParameterNotFound: parameter {base}/nope not found"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            "(AWSPARAMSTR://{base}/p0[version=7]), failed to retrieve config item: ParameterVersionNotFound"
        )),
        "{}",
        out.stderr
    );
    // All five lookups in one GetParameters call, the missing ones reported by it.
    assert_eq!(proxy.count("GetParameters"), 1, "{:?}", proxy.counts());
    assert_eq!(proxy.count("GetParameter"), 0, "{:?}", proxy.counts());

    // Without --lax the run fails and names the failed tokens.
    let strict = project(proxy.url()).cm(&["insert"], &template);
    assert!(
        strict.failed().contains("token not found"),
        "{}",
        strict.stderr
    );
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
    let out =
        project("http://127.0.0.1:9").cm(&["insert"], "x=AWSPARAMSTR:///a/b[version=1,label=l]\n");
    assert!(
        out.failed().contains(
            "implementation AWSPARAMSTR error: metadata version and label cannot be used together for token: /a/b"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn no_region_is_a_client_initialization_error() {
    let out = project("http://127.0.0.1:9")
        .without("AWS_REGION")
        .without("AWS_DEFAULT_REGION")
        .without("AWS_PROFILE")
        .cm(&["insert"], "x=AWSPARAMSTR:///a/b\n");
    assert!(
        out.failed()
            .contains("failed to initialize the client: no AWS region is configured"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unreachable_endpoint_is_an_implementation_error() {
    // Port 9 (discard) is closed on loopback; one attempt keeps the test fast.
    let out = project("http://127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_MAX_ATTEMPTS", "1")
        .cm(&["insert"], "x=AWSPARAMSTR:///a/b\n");
    let stderr = out.failed();
    assert!(
        stderr.contains("failed to retrieve config item - (AWSPARAMSTR:///a/b), implementation AWSPARAMSTR error: ")
            && stderr.contains("for token: /a/b"),
        "{stderr}"
    );
}
