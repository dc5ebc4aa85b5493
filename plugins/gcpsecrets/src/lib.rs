//! `cm-plugin-gcpsecrets`: the GCPSECRETS provider plugin, Google Cloud Secret Manager. A
//! go-plugin plugin that loads in cm and in configmanager alike.
//!
//! # Tokens
//!
//! ```text
//! GCPSECRETS://projects/PROJECT/secrets/SECRET[version=VERSION]
//! ```
//!
//! The path is the secret's resource name (a leading `/` is allowed, so `GCPSECRETS:///projects/…`
//! works too); `PROJECT` is the project id or number. The plugin calls AccessSecretVersion on
//! `projects/PROJECT/secrets/SECRET/versions/VERSION`, `VERSION` being the `version` metadata (a
//! version number or a version alias) or else `latest`, as configmanager does. The payload comes
//! back as it is when it is UTF-8 text; any other payload comes back base64-encoded (standard
//! alphabet, padded), as AWSSECRETS does with a `SecretBinary`. The payload's CRC32C, when the
//! service sends one, is checked. Secret Manager has no batch read: each token is one call, and
//! cm's concurrent calls run concurrently.
//!
//! # Where the service is reached (environment)
//!
//! - `SECRET_MANAGER_EMULATOR_HOST=HOST:PORT`: an emulator or test double, following GCP's
//!   `*_EMULATOR_HOST` convention: plain HTTP to `http://HOST:PORT`, **no credentials** (ADC is
//!   not consulted and no `Authorization` header is sent). It wins over everything below.
//! - `GCPSECRETS_ENDPOINT=URL`: another endpoint with the usual credentials, for private and
//!   regional endpoints (`https://private.googleapis.com`, `https://restricted.googleapis.com`,
//!   a Private Service Connect endpoint, `https://secretmanager.REGION.rep.googleapis.com`).
//!   It must be `https://`; `http://` is accepted only for a loopback host (a local proxy), so a
//!   bearer token never crosses the network in clear.
//! - `GOOGLE_CLOUD_UNIVERSE_DOMAIN` (read by the client library): the universe domain of a
//!   sovereign cloud; the default endpoint becomes `https://secretmanager.<domain>`, and it must
//!   match the universe of the credentials.
//! - Credentials: Application Default Credentials, as every Google client finds them:
//!   `GOOGLE_APPLICATION_CREDENTIALS` (a service account, `authorized_user`, external account /
//!   workload identity federation or impersonation JSON file), else gcloud's
//!   `application_default_credentials.json`, else the metadata server (GCE, GKE, Cloud Run).
//!
//! # Errors (configmanager's wording)
//!
//! - The service refused (`NOT_FOUND`, `PERMISSION_DENIED`, `FAILED_PRECONDITION` for a disabled
//!   or destroyed version, `UNAUTHENTICATED` …): `failed to retrieve config item: NOT_FOUND:
//!   <the service's message>`.
//! - No client (unreadable credentials file, bad endpoint variable): `failed to initialize the
//!   client: <reason>`.
//! - A bad token or metadata, no answer from the service (connection, TLS, timeout, a credential
//!   that cannot produce a token, a corrupted payload): `implementation GCPSECRETS error:
//!   <reason> for token: <token>`.
//! - An empty payload: `value retrieved but empty for token: <token>`.

pub mod name;
pub mod payload;
pub mod target;

use std::time::Duration;

use cm_plugin_common::{FetchError, non_empty};
use cm_plugin_sdk::{StoreError, TokenStore};
use google_cloud_gax::retry_policy::{Aip194Strict, RetryPolicyExt};
use google_cloud_secretmanager_v1::client::SecretManagerService;
use tokio::sync::OnceCell;

pub use name::VersionName;
pub use target::Target;

/// The token prefix this plugin serves.
pub const PREFIX: &str = "GCPSECRETS";

/// Attempts per call for the errors the client retries (connection failures, `UNAVAILABLE`).
const MAX_ATTEMPTS: u32 = 5;
/// The time one call may spend retrying: below cm's default per-call timeout (60 s), so the
/// service's last error reaches the host instead of a bare timeout.
const RETRY_TIME_LIMIT: Duration = Duration::from_secs(30);

/// The store: one AccessSecretVersion call per token, on a client created on first use.
pub struct SecretStore {
    /// Where to send calls, from the environment when the plugin starts; a bad variable fails
    /// every token with the reason.
    target: Result<Target, String>,
    client: OnceCell<SecretManagerService>,
}

impl SecretStore {
    /// Reads the endpoint variables; the client and credentials are created on first use.
    pub fn from_env() -> SecretStore {
        let var = |k: &str| std::env::var(k).ok();
        SecretStore::new(Target::from_vars(
            var(target::EMULATOR_HOST_VAR).as_deref(),
            var(target::ENDPOINT_VAR).as_deref(),
        ))
    }

    /// A store that sends its calls to `target`.
    pub fn new(target: Result<Target, String>) -> SecretStore {
        SecretStore {
            target,
            client: OnceCell::new(),
        }
    }

    /// The client, created by the first lookup (a failure is tried again by the next one).
    async fn client(&self) -> Result<&SecretManagerService, StoreError> {
        let target = self
            .target
            .as_ref()
            .map_err(StoreError::client_initialization)?;
        self.client
            .get_or_try_init(|| connect(target))
            .await
            .map_err(StoreError::client_initialization)
    }
}

/// Creates the client for `target`.
async fn connect(target: &Target) -> Result<SecretManagerService, String> {
    // The client library's reqwest is built without a crypto provider of its own, and so is
    // google-cloud-auth (which signs service-account JWTs through the process default): install
    // aws-lc-rs, which the plugin SDK already links. An earlier install (another thread) wins.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let builder = SecretManagerService::builder().with_retry_policy(
        Aip194Strict
            .with_attempt_limit(MAX_ATTEMPTS)
            .with_time_limit(RETRY_TIME_LIMIT),
    );
    let builder = match target {
        Target::Emulator(url) => builder
            .with_endpoint(url)
            .with_credentials(google_cloud_auth::credentials::anonymous::Builder::new().build()),
        Target::Endpoint(url) => builder.with_endpoint(url),
        Target::Default => builder,
    };
    builder.build().await.map_err(|e| error_chain(&e))
}

impl TokenStore for SecretStore {
    async fn value(&self, token: &str, metadata: &[u8]) -> Result<String, StoreError> {
        let name = VersionName::from_token(token, metadata)
            .map_err(|e| StoreError::implementation(PREFIX, e, token))?;
        let client = self.client().await?;
        tracing::debug!(name = %name, "AccessSecretVersion");
        access(client, &name)
            .await
            .map_err(|e| e.into_store_error(PREFIX, token))
            .and_then(|v| non_empty(v, token))
    }
}

/// One AccessSecretVersion call, its payload as text.
async fn access(client: &SecretManagerService, name: &VersionName) -> Result<String, FetchError> {
    let response = client
        .access_secret_version()
        .set_name(name.to_string())
        .send()
        .await
        .map_err(|e| fetch_error(&e))?;
    payload::text(response.payload)
}

/// A failed call in configmanager's terms: the service's refusal (a `google.rpc.Status`) keeps
/// its code name and message; anything else (connection, TLS, credentials, an answer that is
/// not the API's) is an implementation error with the whole cause chain.
pub fn fetch_error(error: &google_cloud_secretmanager_v1::Error) -> FetchError {
    match error.status() {
        Some(status) if status.message.is_empty() => {
            FetchError::Retrieve(status.code.name().to_string())
        }
        Some(status) => FetchError::Retrieve(format!("{}: {}", status.code.name(), status.message)),
        None => FetchError::Implementation(error_chain(error)),
    }
}

/// An error and its sources as one line, `outer: inner: …`. The client's errors often repeat
/// their source's text in their own message; a source already said is not said again.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let piece = e.to_string();
        if !piece.is_empty() && !text.contains(&piece) {
            text.push_str(": ");
            text.push_str(&piece);
        }
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use google_cloud_gax::error::rpc::{Code, Status};
    use google_cloud_secretmanager_v1::Error;

    #[test]
    fn service_refusals_are_retrieval_failures_with_the_services_words() {
        let e = Error::service(
            Status::default()
                .set_code(Code::NotFound)
                .set_message("Secret [projects/1/secrets/x] not found or has no versions."),
        );
        assert_eq!(
            fetch_error(&e),
            FetchError::Retrieve(
                "NOT_FOUND: Secret [projects/1/secrets/x] not found or has no versions.".into()
            )
        );
        let e = Error::service(Status::default().set_code(Code::PermissionDenied));
        assert_eq!(
            fetch_error(&e),
            FetchError::Retrieve("PERMISSION_DENIED".into())
        );
        assert_eq!(
            fetch_error(&e)
                .into_store_error(PREFIX, "projects/p/secrets/s")
                .message(),
            "failed to retrieve config item: PERMISSION_DENIED"
        );
    }

    #[test]
    fn transport_and_credential_failures_are_implementation_errors() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let e = Error::connect(io);
        assert_eq!(
            fetch_error(&e),
            FetchError::Implementation("cannot connect to endpoint: connection refused".into())
        );
        let e = Error::http(502, Default::default(), "<html>bad gateway</html>".into());
        let FetchError::Implementation(text) = fetch_error(&e) else {
            panic!("an HTTP error without a Status is not the service's refusal");
        };
        assert!(text.contains("[502]"), "{text}");
        let e = Error::authentication(google_cloud_gax::error::CredentialsError::from_msg(
            false,
            "failed to refresh user access token",
        ));
        assert!(
            matches!(fetch_error(&e), FetchError::Implementation(t) if t.contains("failed to refresh user access token"))
        );
    }

    #[derive(Debug)]
    struct Wrapped(&'static str, Option<Box<Wrapped>>);
    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn error_chains_skip_repeated_text() {
        let e = Wrapped(
            "outer: middle",
            Some(Box::new(Wrapped(
                "middle",
                Some(Box::new(Wrapped("root cause", None))),
            ))),
        );
        assert_eq!(error_chain(&e), "outer: middle: root cause");
    }

    #[tokio::test]
    async fn bad_tokens_and_bad_settings_are_refused_before_any_call() {
        let store = SecretStore::new(Ok(Target::Emulator("http://127.0.0.1:9".into())));
        let e = store.value("projects/p/secret/s", b"").await.unwrap_err();
        assert_eq!(
            e.message(),
            "implementation GCPSECRETS error: the token must be projects/PROJECT/secrets/SECRET \
             (the version goes in metadata: [version=2]) for token: projects/p/secret/s"
        );
        let store = SecretStore::new(Err("GCPSECRETS_ENDPOINT is bad".into()));
        let e = store.value("projects/p/secrets/s", b"").await.unwrap_err();
        assert_eq!(
            e.message(),
            "failed to initialize the client: GCPSECRETS_ENDPOINT is bad"
        );
    }
}
