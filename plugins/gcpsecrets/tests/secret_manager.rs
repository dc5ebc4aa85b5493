//! GCPSECRETS end to end: the real `cm` with this plugin installed, against the strict Secret
//! Manager fake in `cm_testkit` (no GCP emulator can be installed here).
//!
//! Two ways in, as a user has them:
//! - emulator mode (`SECRET_MANAGER_EMULATOR_HOST`): plain HTTP, no credentials, and the fake
//!   refuses any request that carries some;
//! - the credentialed path: Application Default Credentials from an `authorized_user` file
//!   (`GOOGLE_APPLICATION_CREDENTIALS`) whose `token_uri` is the fake's OAuth token endpoint,
//!   and `GCPSECRETS_ENDPOINT` pointing at the fake over HTTPS, its certificate signed by a test
//!   CA the plugin trusts through `SSL_CERT_FILE`. The fake checks the bearer token and which
//!   secrets it may read.

use std::path::Path;
use std::time::Duration;

use cm_testkit::{
    FakeGcp, FakeGcpBuilder, Project, TestCa, VersionState, assert_answers_version, cm_binary,
    go_host_values,
};

const PLUGIN: &str = env!("CARGO_BIN_EXE_cm-plugin-gcpsecrets");

/// What the Rust client sends with every call, `$alt=json;enum-encoding=int`, form-encoded.
const CLIENT_QUERY: &str = "%24alt=json%3Benum-encoding%3Dint";

/// A project with the plugin installed and none of the variables that choose the endpoint or
/// the credentials (the caller's own must not leak in); `env` adds the test's.
fn project(env: &[(&str, &str)]) -> Project {
    let mut project = Project::new(cm_binary());
    for var in [
        "SECRET_MANAGER_EMULATOR_HOST",
        "GCPSECRETS_ENDPOINT",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_CLOUD_UNIVERSE_DOMAIN",
        "GOOGLE_CLOUD_PROJECT",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    ] {
        project = project.env_remove(var);
    }
    for (k, v) in env {
        project = project.env(k, v);
    }
    project.link_binary("GCPSECRETS", Path::new(PLUGIN));
    project
}

fn emulator_project(fake: &FakeGcp) -> Project {
    project(&[("SECRET_MANAGER_EMULATOR_HOST", fake.host())])
}

/// The secrets most tests read, in emulator mode.
fn seeded() -> FakeGcpBuilder {
    FakeGcp::builder()
        .version("projects/demo/secrets/api-key", "first")
        .version("projects/demo/secrets/api-key", "second")
        .version(
            "projects/demo/secrets/db",
            r#"{"host":"db.internal","port":5432,"tls":{"mode":"verify-full"}}"#,
        )
        .version(
            "projects/demo/secrets/blob",
            vec![0xde, 0xad, 0xbe, 0xef, 0x00],
        )
        .version("projects/demo/secrets/rotated", "old")
        .version_in_state(
            "projects/demo/secrets/rotated",
            "new",
            VersionState::Disabled,
        )
        .version("projects/demo/secrets/empty", "")
        .empty_secret("projects/demo/secrets/unborn")
}

#[test]
fn insert_reads_latest_a_version_and_keys_of_a_json_secret() {
    let fake = seeded().emulator().start();
    let template = "latest=GCPSECRETS://projects/demo/secrets/api-key\n\
                    v1=GCPSECRETS://projects/demo/secrets/api-key[version=1]\n\
                    slash=GCPSECRETS:///projects/demo/secrets/api-key[version=2]\n\
                    host=GCPSECRETS://projects/demo/secrets/db|host\n\
                    port=GCPSECRETS://projects/demo/secrets/db|port\n\
                    mode=GCPSECRETS://projects/demo/secrets/db|tls.mode\n\
                    tls=GCPSECRETS://projects/demo/secrets/db|tls\n";
    emulator_project(&fake)
        .cm()
        .arg("insert")
        .stdin(template)
        .stdout(
            "latest=second\nv1=first\nslash=second\nhost=db.internal\nport=5432\n\
             mode=verify-full\ntls={\"mode\":\"verify-full\"}\n",
        )
        .success();
    // cm groups the key paths of one secret into one call: api-key latest, [version=1],
    // /…[version=2] (another path), db.
    assert_eq!(fake.access_calls(), 4, "{:#?}", fake.requests());
    let requests = fake.requests();
    let mut paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/v1/projects/demo/secrets/api-key/versions/1:access",
            "/v1/projects/demo/secrets/api-key/versions/2:access",
            "/v1/projects/demo/secrets/api-key/versions/latest:access",
            "/v1/projects/demo/secrets/db/versions/latest:access",
        ]
    );
    for r in &requests {
        assert_eq!((r.method.as_str(), r.status), ("GET", 200), "{r:?}");
        assert_eq!(r.query.as_deref(), Some(CLIENT_QUERY), "{r:?}");
        assert_eq!(
            r.authorization, None,
            "no credentials to an emulator: {r:?}"
        );
    }
}

#[test]
fn retrieve_exports_text_json_keys_and_binary_as_base64() {
    let fake = seeded().emulator().start();
    emulator_project(&fake)
        .cm()
        .args([
            "retrieve",
            "-t",
            "GCPSECRETS://projects/demo/secrets/api-key[version=1]",
            "-t",
            "GCPSECRETS://projects/demo/secrets/db",
            "-t",
            "GCPSECRETS://projects/demo/secrets/blob",
            "-t",
            "GCPSECRETS://projects/demo/secrets/rotated[version=1]",
            "-p",
            "stdout",
        ])
        .stdout(
            "export API_KEY='first'\n\
             export HOST='db.internal'\n\
             export PORT='5432'\n\
             export TLS='{\"mode\":\"verify-full\"}'\n\
             export BLOB='3q2+7wA='\n\
             export ROTATED='old'\n",
        )
        .success();
    assert_eq!(fake.access_calls(), 4);
}

#[test]
fn the_services_refusals_fail_only_their_own_tokens() {
    let fake = seeded().emulator().start();
    let lines = [
        "ok=GCPSECRETS://projects/demo/secrets/api-key",
        "missing=GCPSECRETS://projects/demo/secrets/nope",
        "unborn=GCPSECRETS://projects/demo/secrets/unborn",
        "v9=GCPSECRETS://projects/demo/secrets/api-key[version=9]",
        "disabled=GCPSECRETS://projects/demo/secrets/rotated",
        "empty=GCPSECRETS://projects/demo/secrets/empty",
        "shape=GCPSECRETS://demo/secrets/api-key",
        "versioned=GCPSECRETS://projects/demo/secrets/api-key/versions/1",
    ];
    let template = lines.join("\n") + "\n";
    let warn = |line: usize, reason: &str| {
        let (_, token) = lines[line - 1].split_once('=').unwrap();
        let column = lines[line - 1].find('=').unwrap() + 2;
        format!(
            " WARN <stdin>:{line}:{column}: failed to retrieve config item - ({token}), {reason} (left as it was: --lax)\n"
        )
    };
    let shape = "the token must be projects/PROJECT/secrets/SECRET (the version goes in metadata: [version=2])";
    let stderr = [
        warn(2, "failed to retrieve config item: NOT_FOUND: Secret [projects/demo/secrets/nope] not found or has no versions."),
        warn(3, "failed to retrieve config item: NOT_FOUND: Secret [projects/demo/secrets/unborn] not found or has no versions."),
        warn(4, "failed to retrieve config item: NOT_FOUND: Secret Version [projects/demo/secrets/api-key/versions/9] not found."),
        warn(5, "failed to retrieve config item: FAILED_PRECONDITION: Secret Version [projects/demo/secrets/rotated/versions/2] is in DISABLED state."),
        warn(6, "value retrieved but empty for token: projects/demo/secrets/empty"),
        warn(7, &format!("implementation GCPSECRETS error: {shape} for token: demo/secrets/api-key")),
        warn(8, &format!("implementation GCPSECRETS error: {shape} for token: projects/demo/secrets/api-key/versions/1")),
    ]
    .concat();
    // --lax leaves every failed token's text as it was.
    let expected = template.replacen(
        "ok=GCPSECRETS://projects/demo/secrets/api-key\n",
        "ok=second\n",
        1,
    );
    emulator_project(&fake)
        .cm()
        .args(["insert", "--lax"])
        .stdin(&template)
        .stdout(expected)
        .stderr(stderr)
        .success();
    // The two bad tokens never reached the service.
    assert_eq!(fake.access_calls(), 6);

    // Without --lax the run fails and names the token.
    emulator_project(&fake)
        .cm()
        .arg("insert")
        .stdin("x=GCPSECRETS://projects/demo/secrets/nope\n")
        .stderr(
            "cm: <stdin>:1:3: failed to retrieve config item - (GCPSECRETS://projects/demo/secrets/nope), \
             failed to retrieve config item: NOT_FOUND: Secret [projects/demo/secrets/nope] not found or has no versions.\n\
             token not found: 1 of 1 token(s) could not be resolved\n",
        )
        .failure(1);
}

#[test]
fn forty_tokens_are_forty_concurrent_calls() {
    let mut builder = FakeGcp::builder().latency(Duration::from_millis(300));
    let mut template = String::new();
    let mut expected = String::new();
    for i in 0..40 {
        builder = builder.version(&format!("projects/demo/secrets/s{i}"), format!("value-{i}"));
        template.push_str(&format!("s{i}=GCPSECRETS://projects/demo/secrets/s{i}\n"));
        expected.push_str(&format!("s{i}=value-{i}\n"));
    }
    let fake = builder.emulator().start();
    emulator_project(&fake)
        .cm()
        .arg("insert")
        .stdin(&template)
        .stdout(expected)
        .success();
    assert_eq!(fake.access_calls(), 40);
    assert!(
        fake.requests().iter().all(|r| r.status == 200),
        "{:#?}",
        fake.requests()
    );
    // Each answer takes 300 ms: calls made one after another would never overlap. cm sends
    // all 40 at once (64 per plugin by default) and the plugin serves them concurrently.
    assert!(
        fake.max_in_flight() >= 20,
        "at most {} calls overlapped",
        fake.max_in_flight()
    );
}

/// The credentialed path: ADC from an `authorized_user` file, tokens from the fake's token
/// endpoint, calls over TLS to `GCPSECRETS_ENDPOINT`.
struct Credentialed {
    fake: FakeGcp,
    ca: TestCa,
    _dir: tempfile::TempDir,
    adc_file: std::path::PathBuf,
}

impl Credentialed {
    /// Two users: `reader` (token `ya29.reader`, may read every secret) and `narrow` (token
    /// `ya29.narrow`, may read only `api-key`). The ADC file names `client` with its secret and
    /// `refresh_token`.
    fn start(client: &str, refresh_token: &str) -> Credentialed {
        let ca = TestCa::new();
        let fake = seeded()
            .access_token("ya29.reader")
            .access_token_for("ya29.narrow", &["projects/demo/secrets/api-key"])
            .user("reader", "reader-secret", "1//reader", "ya29.reader")
            .user("narrow", "narrow-secret", "1//narrow", "ya29.narrow")
            .start_tls(&ca);
        let secret = format!("{client}-secret");
        let dir = tempfile::tempdir().unwrap();
        let adc_file = dir.path().join("adc.json");
        std::fs::write(
            &adc_file,
            fake.authorized_user_json(client, &secret, refresh_token),
        )
        .unwrap();
        Credentialed {
            fake,
            ca,
            _dir: dir,
            adc_file,
        }
    }

    fn project(&self) -> Project {
        project(&[
            (
                "GOOGLE_APPLICATION_CREDENTIALS",
                self.adc_file.to_str().unwrap(),
            ),
            ("GCPSECRETS_ENDPOINT", self.fake.url()),
            ("SSL_CERT_FILE", self.ca.pem_file().to_str().unwrap()),
        ])
    }
}

#[test]
fn credentials_come_from_adc_and_the_token_endpoint() {
    let c = Credentialed::start("reader", "1//reader");
    assert!(c.fake.url().starts_with("https://"));
    c.project()
        .cm()
        .arg("insert")
        .stdin(
            "a=GCPSECRETS://projects/demo/secrets/api-key b=GCPSECRETS://projects/demo/secrets/db|host \
             c=GCPSECRETS://projects/demo/secrets/blob\n",
        )
        .stdout("a=second b=db.internal c=3q2+7wA=\n")
        .success();
    // One token for the whole run (the client caches it), then three calls that carry it.
    assert_eq!(c.fake.token_calls(), 1, "{:#?}", c.fake.requests());
    assert_eq!(c.fake.access_calls(), 3);
    for r in c.fake.requests().iter().filter(|r| r.is_access()) {
        assert_eq!(
            r.authorization.as_deref(),
            Some("Bearer ya29.reader"),
            "{r:?}"
        );
        assert_eq!((r.status, r.query.as_deref()), (200, Some(CLIENT_QUERY)));
    }
}

#[test]
fn permission_denied_keeps_the_services_message() {
    let c = Credentialed::start("narrow", "1//narrow");
    c.project()
        .cm()
        .args(["insert", "--lax"])
        .stdin("a=GCPSECRETS://projects/demo/secrets/api-key b=GCPSECRETS://projects/demo/secrets/db\n")
        .stdout("a=second b=GCPSECRETS://projects/demo/secrets/db\n")
        .stderr(
            " WARN <stdin>:1:48: failed to retrieve config item - (GCPSECRETS://projects/demo/secrets/db), \
             failed to retrieve config item: PERMISSION_DENIED: Permission 'secretmanager.versions.access' \
             denied for resource 'projects/demo/secrets/db/versions/latest' (or it may not exist). \
             (left as it was: --lax)\n",
        )
        .success();
}

#[test]
fn a_refused_refresh_token_is_an_implementation_error() {
    let c = Credentialed::start("reader", "1//revoked");
    let out = c
        .project()
        .cm()
        .arg("insert")
        .stdin("a=GCPSECRETS://projects/demo/secrets/api-key\n")
        // The credential library's message embeds the token endpoint's whole answer; the parts
        // that matter are checked below.
        .stderr_unchecked()
        .failure(1);
    let prefix = "cm: <stdin>:1:3: failed to retrieve config item - (GCPSECRETS://projects/demo/secrets/api-key), \
                  implementation GCPSECRETS error: cannot create the authentication headers";
    assert!(out.stderr.starts_with(prefix), "{}", out.stderr);
    assert!(out.stderr.contains("invalid_grant"), "{}", out.stderr);
    assert!(
        out.stderr.ends_with(
            " for token: projects/demo/secrets/api-key\ntoken not found: 1 of 1 token(s) could not be resolved\n"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("reader-secret"), "no secret in errors");
    // Refused for good (400 invalid_grant is not retried), and no call went out without a token.
    assert_eq!(c.fake.access_calls(), 0);
}

#[test]
fn an_unreadable_credentials_file_is_a_client_initialization_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let out = project(&[("GOOGLE_APPLICATION_CREDENTIALS", missing.to_str().unwrap())])
        .cm()
        .arg("insert")
        .stdin("a=GCPSECRETS://projects/demo/secrets/api-key\n")
        // The library's wording of the I/O error follows; the start and the path are ours.
        .stderr_unchecked()
        .failure(1);
    assert!(
        out.stderr.starts_with(
            "cm: <stdin>:1:3: failed to retrieve config item - (GCPSECRETS://projects/demo/secrets/api-key), \
             failed to initialize the client: could not create default credentials"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("missing.json"), "{}", out.stderr);
}

#[test]
fn bad_endpoint_variables_are_client_initialization_errors() {
    project(&[("GCPSECRETS_ENDPOINT", "http://192.0.2.1:8080")])
        .cm()
        .arg("insert")
        .stdin("a=GCPSECRETS://projects/demo/secrets/api-key\n")
        .stderr(
            "cm: <stdin>:1:3: failed to retrieve config item - (GCPSECRETS://projects/demo/secrets/api-key), \
             failed to initialize the client: GCPSECRETS_ENDPOINT must be an https:// URL \
             (http:// only for a loopback host), not \"http://192.0.2.1:8080\"\n\
             token not found: 1 of 1 token(s) could not be resolved\n",
        )
        .failure(1);
}

#[test]
fn emulator_mode_never_consults_adc() {
    let fake = seeded().emulator().start();
    // A credentials file that would fail client creation if ADC were read at all.
    project(&[
        ("SECRET_MANAGER_EMULATOR_HOST", fake.host()),
        ("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/adc.json"),
        ("GCPSECRETS_ENDPOINT", "https://ignored.example"),
    ])
    .cm()
    .arg("insert")
    .stdin("a=GCPSECRETS://projects/demo/secrets/api-key\n")
    .stdout("a=second\n")
    .success();
    assert_eq!(fake.access_calls(), 1);
    assert_eq!(fake.token_calls(), 0);
}

#[test]
fn answers_version_as_configmanagers_plugins_do() {
    assert_answers_version(Path::new(PLUGIN), "GCPSECRETS", env!("CARGO_PKG_VERSION"));
}

/// configmanager loads the plugin unchanged: go-plugin's own Go client starts it and calls
/// `Value` concurrently; a store error arrives as the call's error.
#[test]
fn loads_in_a_go_host() {
    let fake = seeded().emulator().start();
    let env = [("SECRET_MANAGER_EMULATOR_HOST", fake.host())];
    let plugin = Path::new(PLUGIN);
    let secret = "projects/demo/secrets/api-key";
    let Some(out) = go_host_values(plugin, secret, "version=1", 3, &env) else {
        return;
    };
    assert_eq!(out, (Some(0), "first\n".repeat(3), String::new()));
    let out = go_host_values(plugin, secret, "", 1, &env).unwrap();
    assert_eq!(out, (Some(0), "second\n".into(), String::new()));
    let out = go_host_values(plugin, "projects/demo/secrets/nope", "", 1, &env).unwrap();
    let (code, _, stderr) = out;
    assert_eq!(code, Some(1));
    assert!(
        stderr.starts_with(
            "gohost: rpc error: code = Unknown desc = failed to retrieve config item: "
        ) && stderr.contains("NOT_FOUND"),
        "{stderr}"
    );
    assert_eq!(fake.access_calls(), 5, "{:#?}", fake.requests());
}
