//! AZKVSECRET end to end: the real `cm` with this plugin installed, against the testkit's fake
//! Key Vault and fake Entra ID token endpoint (no Key Vault emulator exists). Both speak TLS with
//! a CA made for the test, which the plugin trusts through `SSL_CERT_FILE`; the plugin reaches
//! the vault `https://VAULT.vault.azure.net` through `AZKVSECRET_CONNECT_TO`, and Entra ID
//! through `AZURE_AUTHORITY_HOST`. The plugin's client answers the vault's authentication
//! challenge, gets a client-credentials token and reads with it, as against Azure.

use std::path::Path;

use cm_plugin_azkvsecret::API_VERSION;
use cm_testkit::{
    FakeEntra, FakeKeyVault, Project, TestCa, assert_answers_version, cm_binary, go_host_values,
};

const PLUGIN: &str = env!("CARGO_BIN_EXE_cm-plugin-azkvsecret");
const TENANT: &str = "7f2c1a9e-0000-4000-8000-00000000c0de";
const CLIENT: &str = "app-client-id";
const CLIENT_SECRET: &str = "client-secret-value";
const VAULT: &str = "kv-app";

/// A CA, the two fakes (the vault `kv-app` readable by the registered application) and a cm
/// project whose plugin is pointed at them.
struct Bench {
    ca: TestCa,
    entra: FakeEntra,
    kv: FakeKeyVault,
}

impl Bench {
    fn new() -> Bench {
        let ca = TestCa::new();
        let entra = FakeEntra::start(&ca);
        entra.register(TENANT, CLIENT, CLIENT_SECRET);
        let kv = FakeKeyVault::start(&ca, &entra);
        kv.add_vault(VAULT, TENANT);
        kv.grant(VAULT, CLIENT);
        Bench { ca, entra, kv }
    }

    fn project(&self) -> Project {
        let project = Project::new(cm_binary())
            .env("SSL_CERT_FILE", self.ca.pem_file())
            .env_remove("SSL_CERT_DIR")
            .env("AZURE_AUTHORITY_HOST", self.entra.authority_host())
            .env("AZURE_TENANT_ID", TENANT)
            .env("AZURE_CLIENT_ID", CLIENT)
            .env("AZURE_CLIENT_SECRET", CLIENT_SECRET)
            .env_remove("AZURE_FEDERATED_TOKEN_FILE")
            .env_remove("AZURE_KEYVAULT_DNS_SUFFIX")
            .env("AZKVSECRET_CONNECT_TO", self.kv.connect_to());
        project.link_binary("AZKVSECRET", Path::new(PLUGIN));
        project
    }

    /// Every vault request used the client's API version.
    fn assert_api_version(&self) {
        for r in self.kv.requests() {
            assert_eq!(r.api_version.as_deref(), Some(API_VERSION), "{r:?}");
        }
    }
}

#[test]
fn latest_and_pinned_versions() {
    let b = Bench::new();
    let v1 = b.kv.set_secret(VAULT, "db-password", "first");
    b.kv.set_secret(VAULT, "db-password", "second");
    b.project()
        .cm()
        .arg("insert")
        .stdin(format!(
            "latest=AZKVSECRET://{VAULT}/db-password\n\
             pinned=AZKVSECRET:///{VAULT}/db-password[version={v1}]\n"
        ))
        .stdout("latest=second\npinned=first\n")
        .stderr("")
        .success();
    // One challenge (the first call goes alone), one token, two reads.
    assert_eq!(b.kv.challenges(), 1);
    assert_eq!(b.kv.reads(), 2);
    assert_eq!(b.entra.token_requests().len(), 1);
    let request = &b.entra.token_requests()[0];
    assert_eq!(
        request.scope.as_deref(),
        Some("https://vault.azure.net/.default")
    );
    assert_eq!(request.tenant, TENANT);
    b.assert_api_version();
}

#[test]
fn retrieve_a_json_secret_and_pick_keys() {
    let b = Bench::new();
    b.kv.set_secret_with_type(
        VAULT,
        "db",
        r#"{"host":"db.internal","port":5432,"tls":{"mode":"verify-full"}}"#,
        "application/json",
    );
    let token = format!("AZKVSECRET://{VAULT}/db");
    b.project()
        .cm()
        .args(["retrieve", "-t", &token, "-p", "stdout"])
        .stdout(
            "export HOST='db.internal'\nexport PORT='5432'\nexport TLS='{\"mode\":\"verify-full\"}'\n",
        )
        .stderr("")
        .success();
    b.project()
        .cm()
        .arg("insert")
        .stdin(format!(
            "host: {token}|host\nport: {token}|port\nmode: {token}|tls.mode\n"
        ))
        .stdout("host: db.internal\nport: 5432\nmode: verify-full\n")
        .stderr("")
        .success();
}

#[test]
fn missing_disabled_and_forbidden_secrets_keep_the_services_reason() {
    let b = Bench::new();
    b.kv.set_secret(VAULT, "here", "ok");
    let off = b.kv.set_secret(VAULT, "switched-off", "hidden");
    b.kv.disable(VAULT, "switched-off", &off);
    b.kv.add_vault("kv-other", TENANT);
    b.kv.set_secret("kv-other", "x", "not yours");
    let gone = format!("AZKVSECRET://{VAULT}/nope");
    let old = format!("AZKVSECRET://{VAULT}/here[version=0123456789abcdef0123456789abcdef]");
    let disabled = format!("AZKVSECRET://{VAULT}/switched-off");
    let denied = "AZKVSECRET://kv-other/x".to_string();
    b.project()
        .cm()
        .args(["insert", "--lax"])
        .stdin(format!("{gone}\n{old}\n{disabled}\n{denied}\nAZKVSECRET://{VAULT}/here\n"))
        .stdout(format!("{gone}\n{old}\n{disabled}\n{denied}\nok\n"))
        .stderr(format!(
            " WARN <stdin>:1:1: failed to retrieve config item - ({gone}), failed to retrieve config item: SecretNotFound: A secret with (name/id) nope was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182 (left as it was: --lax)\n \
             WARN <stdin>:2:1: failed to retrieve config item - ({old}), failed to retrieve config item: SecretNotFound: A secret with (name/id) here/0123456789abcdef0123456789abcdef was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182 (left as it was: --lax)\n \
             WARN <stdin>:3:1: failed to retrieve config item - ({disabled}), failed to retrieve config item: Forbidden: Operation get is not allowed on a disabled secret. (left as it was: --lax)\n \
             WARN <stdin>:4:1: failed to retrieve config item - ({denied}), failed to retrieve config item: Forbidden: The user, group or application 'appid={CLIENT};iss=https://sts.windows.net/{TENANT}/' does not have secrets get permission on key vault 'kv-other'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287 (left as it was: --lax)\n"
        ))
        .success();
    b.assert_api_version();
}

#[test]
fn a_refused_credential_is_an_implementation_error() {
    let b = Bench::new();
    b.kv.set_secret(VAULT, "x", "v");
    let token = format!("AZKVSECRET://{VAULT}/x");
    b.project()
        .env("AZURE_CLIENT_SECRET", "not-the-secret")
        .cm()
        .arg("insert")
        .stdin(format!("a={token}\n"))
        // The identity platform's error_description holds `\r\n` escapes, which azure_identity
        // 1.0 fails to read into its borrowed `&str` (serde's "expected a borrowed string"); the
        // AADSTS code and text still come through inside that message.
        .stderr(format!(
            "cm: <stdin>:1:3: failed to retrieve config item - ({token}), implementation AZKVSECRET error: non-transport error occurred which will not be retried: no Azure credential gave a token (ClientSecret: ClientSecretCredential authentication failed. invalid type: string \"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{CLIENT}'.\\r\\nTrace ID: 00000000-0000-0000-0000-000000000001\\r\\nCorrelation ID: 11111111-1111-1111-1111-000000000001\\r\\nTimestamp: 2026-01-01 00:00:00Z\", expected a borrowed string at line 1 column 456\n\
             To troubleshoot, visit https://aka.ms/azsdk/rust/identity/troubleshoot#client-secret) for token: {VAULT}/x\n\
             token not found: 1 of 1 token(s) could not be resolved\n"
        ))
        .failure(1);
    // The vault only saw the unauthenticated first request: no token, no read.
    assert_eq!(b.kv.reads(), 0);
    assert_eq!(b.kv.challenges(), 1);
    let refused = b.entra.token_requests();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].outcome, Err(7000215));
}

#[test]
fn forty_tokens_are_forty_reads_with_one_token() {
    let b = Bench::new();
    let mut template = String::new();
    let mut want = String::new();
    for i in 0..40 {
        b.kv.set_secret(VAULT, &format!("s{i}"), &format!("value-{i}"));
        template.push_str(&format!("k{i}=AZKVSECRET://{VAULT}/s{i}\n"));
        want.push_str(&format!("k{i}=value-{i}\n"));
    }
    b.project()
        .cm()
        .arg("insert")
        .stdin(&template)
        .stdout(&want)
        .stderr("")
        .success();
    assert_eq!(b.kv.reads(), 40);
    assert_eq!(b.kv.challenges(), 1);
    assert_eq!(b.entra.token_requests().len(), 1);
    b.assert_api_version();
}

#[test]
fn badly_shaped_tokens_name_the_token_and_call_nothing() {
    let b = Bench::new();
    b.project()
        .cm()
        .args(["insert", "--lax"])
        .stdin(format!(
            "AZKVSECRET://{VAULT}\nAZKVSECRET://{VAULT}/a/b\nAZKVSECRET://x_y/z\nAZKVSECRET://{VAULT}/z[version=../x]\n"
        ))
        .stdout(format!(
            "AZKVSECRET://{VAULT}\nAZKVSECRET://{VAULT}/a/b\nAZKVSECRET://x_y/z\nAZKVSECRET://{VAULT}/z[version=../x]\n"
        ))
        .stderr(format!(
            " WARN <stdin>:1:1: failed to retrieve config item - (AZKVSECRET://{VAULT}), implementation AZKVSECRET error: the token must be VAULT/NAME for token: {VAULT} (left as it was: --lax)\n \
             WARN <stdin>:2:1: failed to retrieve config item - (AZKVSECRET://{VAULT}/a/b), implementation AZKVSECRET error: the token must be VAULT/NAME (a secret name has no /) for token: {VAULT}/a/b (left as it was: --lax)\n \
             WARN <stdin>:3:1: failed to retrieve config item - (AZKVSECRET://x_y/z), implementation AZKVSECRET error: \"x_y\" is not a vault name (3-24 letters, digits and single hyphens, starting with a letter) for token: x_y/z (left as it was: --lax)\n \
             WARN <stdin>:4:1: failed to retrieve config item - (AZKVSECRET://{VAULT}/z[version=../x]), implementation AZKVSECRET error: \"../x\" is not a secret version (letters and digits) for token: {VAULT}/z (left as it was: --lax)\n"
        ))
        .success();
    assert_eq!(b.kv.requests(), []);
    assert_eq!(b.entra.token_requests(), []);
}

#[test]
fn an_untrusted_vault_certificate_is_refused() {
    let b = Bench::new();
    b.kv.set_secret(VAULT, "x", "v");
    let token = format!("AZKVSECRET://{VAULT}/x");
    // Another CA's file: the fake's certificate chains to nothing the plugin trusts.
    let other = TestCa::new();
    b.project()
        .env("SSL_CERT_FILE", other.pem_file())
        .cm()
        .arg("insert")
        .stdin(format!("a={token}\n"))
        .stderr_contains(format!(
            "cm: <stdin>:1:3: failed to retrieve config item - ({token}), implementation AZKVSECRET error: "
        ))
        .stderr_contains("UnknownIssuer")
        .failure(1);
    assert_eq!(b.kv.requests(), []);
}

#[test]
fn a_sovereign_cloud_by_its_dns_suffix() {
    let ca = TestCa::new();
    let entra = FakeEntra::start(&ca);
    entra.register(TENANT, CLIENT, CLIENT_SECRET);
    let kv = FakeKeyVault::start_in_cloud(&ca, &entra, "vault.azure.cn");
    kv.add_vault(VAULT, TENANT);
    kv.grant(VAULT, CLIENT);
    kv.set_secret(VAULT, "x", "from China");
    let b = Bench { ca, entra, kv };
    b.project()
        .env("AZURE_KEYVAULT_DNS_SUFFIX", "vault.azure.cn")
        .cm()
        .arg("insert")
        .stdin(format!("x=AZKVSECRET://{VAULT}/x\n"))
        .stdout("x=from China\n")
        .stderr("")
        .success();
    // The scope came from the vault's challenge, not from a built-in public-cloud value.
    let requests = b.entra.token_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].scope.as_deref(),
        Some("https://vault.azure.cn/.default")
    );
    assert_eq!(b.kv.reads(), 1);
}

#[test]
fn an_unreachable_vault_fails_every_token_fast() {
    let b = Bench::new();
    // A port nothing listens on: bind one and let it go.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut template = String::new();
    for i in 0..10 {
        template.push_str(&format!("AZKVSECRET://{VAULT}/s{i}\n"));
    }
    // The project first: cm_binary() may build cm, which must not count.
    let project = b.project().env("AZKVSECRET_CONNECT_TO", closed.to_string());
    let started = std::time::Instant::now();
    let out = project
        .cm()
        .args(["insert", "--lax"])
        .stdin(&template)
        .stdout(&template)
        .stderr_contains(format!(
            " WARN <stdin>:10:1: failed to retrieve config item - (AZKVSECRET://{VAULT}/s9), implementation AZKVSECRET error: retry policy expired and the request will no longer be retried: failed to execute `reqwest` request: error sending request for url (https://{VAULT}.vault.azure.net:{}/secrets/s9/?api-version={API_VERSION}): client error (Connect): tcp connect error: Connection refused (os error 111) for token: {VAULT}/s9 (left as it was: --lax)\n",
            closed.port()
        ))
        .success();
    assert_eq!(out.stderr.matches(" WARN ").count(), 10, "{}", out.stderr);
    // Each token retries a few times within seconds, and the tokens fail side by side: far
    // below cm's 60 s plugin timeout.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(b.entra.token_requests(), []);
}

#[test]
fn answers_version_as_configmanagers_plugins_do() {
    assert_answers_version(Path::new(PLUGIN), "AZKVSECRET", env!("CARGO_PKG_VERSION"));
}

/// configmanager loads the plugin unchanged: go-plugin's own Go client starts it and calls
/// `Value` concurrently, through the same challenge and token flow.
#[test]
fn loads_in_a_go_host() {
    let b = Bench::new();
    let v1 = b.kv.set_secret(VAULT, "db-password", "first");
    b.kv.set_secret(VAULT, "db-password", "second");
    let ca = b.ca.pem_file().to_str().unwrap().to_string();
    let authority = b.entra.authority_host();
    let connect_to = b.kv.connect_to();
    let env = [
        ("SSL_CERT_FILE", ca.as_str()),
        ("AZURE_AUTHORITY_HOST", &authority),
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", CLIENT),
        ("AZURE_CLIENT_SECRET", CLIENT_SECRET),
        ("AZKVSECRET_CONNECT_TO", &connect_to),
    ];
    let plugin = Path::new(PLUGIN);
    let token = format!("{VAULT}/db-password");
    let Some(out) = go_host_values(plugin, &token, &format!("version={v1}"), 3, &env) else {
        return;
    };
    assert_eq!(out, (Some(0), "first\n".repeat(3), String::new()));
    let out = go_host_values(plugin, &token, "", 1, &env).unwrap();
    assert_eq!(out, (Some(0), "second\n".into(), String::new()));
    assert_eq!(b.kv.reads(), 4);
}
