//! AWSSECRETS end to end: the real `cm` with this plugin installed, against moto's server
//! (`source .ci/emulators.sh`), seeded through the AWS API. Calls are counted by a proxy
//! between the plugin and moto.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::primitives::Blob;
use cm_testkit::{
    CountingProxy, Project, assert_answers_version, assert_calls, aws_project, moto, unique,
};

const PLUGIN: &str = env!("CARGO_BIN_EXE_cm-plugin-awssecrets");

async fn secrets() -> Client {
    let config = cm_plugin_common::aws::load_config()
        .await
        .expect("AWS_REGION is set by .ci/emulators.sh");
    Client::new(&config)
}

async fn create(c: &Client, name: &str, value: &str) {
    c.create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("seed a secret");
}

fn project(endpoint: &str) -> Project {
    aws_project("AWSSECRETS", PLUGIN, endpoint)
}

#[tokio::test]
async fn json_key_paths_binary_secrets_and_versions() {
    let Some(endpoint) = moto() else { return };
    let c = secrets().await;
    let base = format!("cmtest/{}", unique("s"));
    let db = format!("{base}/db");
    create(&c, &db, r#"{"user":"app","password":"first"}"#).await;
    let second = c
        .put_secret_value()
        .secret_id(&db)
        .secret_string(r#"{"user":"app","password":"second"}"#)
        .send()
        .await
        .expect("second version");
    let second_id = second.version_id().expect("a version id").to_string();
    c.put_secret_value()
        .secret_id(&db)
        .secret_string(r#"{"user":"app","password":"third"}"#)
        .send()
        .await
        .expect("third version");
    let bin = format!("{base}/cert");
    c.create_secret()
        .name(&bin)
        .secret_binary(Blob::new(vec![0u8, 1, 2, 0xfe, 0xff]))
        .send()
        .await
        .expect("seed a binary secret");

    let proxy = CountingProxy::start(&endpoint);
    let template = format!(
        "user=AWSSECRETS://{db}|user\n\
         pw=AWSSECRETS://{db}|password\n\
         previous=AWSSECRETS://{db}|password[version=AWSPREVIOUS]\n\
         by_id=AWSSECRETS://{db}|password[version_id={second_id}]\n\
         cert=AWSSECRETS://{bin}\n"
    );
    project(proxy.url())
        .cm()
        .arg("insert")
        .stdin(&template)
        .stdout("user=app\npw=third\nprevious=second\nby_id=second\ncert=AAEC/v8=\n")
        .success();
    // The two current values in one batch; the two versioned tokens on their own.
    assert_eq!(
        proxy.count("BatchGetSecretValue"),
        1,
        "{:?}",
        proxy.counts()
    );
    assert_eq!(proxy.count("GetSecretValue"), 2, "{:?}", proxy.counts());
}

#[tokio::test]
async fn a_missing_secret_fails_only_its_own_token() {
    let Some(endpoint) = moto() else { return };
    let c = secrets().await;
    let base = format!("cmtest/{}", unique("m"));
    create(&c, &format!("{base}/a"), "A").await;
    create(&c, &format!("{base}/b"), "B").await;
    let proxy = CountingProxy::start(&endpoint);
    let template =
        format!("a=AWSSECRETS://{base}/a b=AWSSECRETS://{base}/b gone=AWSSECRETS://{base}/nope\n");
    let gone = format!("AWSSECRETS://{base}/nope");
    project(proxy.url())
        .cm()
        .args(["insert", "--lax"])
        .stdin(&template)
        .stdout(format!("a=A b=B gone={gone}\n"))
        // The rest of the line is the emulator's wording, which moto's version decides.
        .stderr_contains(format!(
            " WARN <stdin>:1:{}: failed to retrieve config item - ({gone}), failed to retrieve config item: ResourceNotFoundException: ",
            template.find(&gone).unwrap() + 1
        ))
        .success();
    assert_eq!(
        proxy.count("BatchGetSecretValue"),
        1,
        "{:?}",
        proxy.counts()
    );
    assert_eq!(proxy.count("GetSecretValue"), 0, "{:?}", proxy.counts());
}

#[tokio::test]
async fn concurrent_lookups_are_batched_twenty_ids_a_call() {
    let Some(endpoint) = moto() else { return };
    let c = secrets().await;
    let base = format!("cmtest/{}", unique("b"));
    let mut template = String::new();
    let mut expected = String::new();
    for i in 0..25 {
        create(&c, &format!("{base}/k{i}"), &format!("value{i}")).await;
        template.push_str(&format!("k{i}=AWSSECRETS://{base}/k{i}\n"));
        expected.push_str(&format!("k{i}=value{i}\n"));
    }
    // 25 ids: batches of 20 and 5; without batching one GetSecretValue each.
    let proxy = CountingProxy::start(&endpoint);
    assert_calls(
        &proxy,
        project,
        (&template, &expected),
        &[("BatchGetSecretValue", 2)],
        &[("GetSecretValue", 25)],
    );
}

#[test]
fn answers_version_as_configmanagers_plugins_do() {
    assert_answers_version(
        std::path::Path::new(PLUGIN),
        "AWSSECRETS",
        env!("CARGO_PKG_VERSION"),
    );
}
