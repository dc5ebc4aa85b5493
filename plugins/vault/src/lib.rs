//! `cm-plugin-vault`: the VAULT provider plugin, HashiCorp Vault (and OpenBao, which speaks the
//! same API) KV version 2. A go-plugin plugin that loads in cm and in configmanager alike.
//!
//! # Tokens
//!
//! `VAULT://MOUNT___SECRET/PATH|key.path[version=N,iam_role=ROLE]`. The path splits at the first
//! `___`: `MOUNT` is the KV v2 mount (`secret`), the rest the secret's path in it (`app/db`; a
//! later `___` is part of it, a leading `/` of either part is dropped, as configmanager does).
//! The value is the secret's `data` map as JSON, exactly as Vault sent it, so a key path
//! (`|password`) picks one field; cm does that lookup.
//!
//! Metadata: `version=N` reads that version instead of the latest (a whole number; `0` is the
//! latest, as in Vault), `iam_role=ROLE` is the role of the AWS IAM login below. Other keys are
//! ignored, as configmanager ignores them.
//!
//! # Settings: the Vault CLI's variables
//!
//! - `VAULT_ADDR`: the server, and so the endpoint override (default `https://127.0.0.1:8200`,
//!   as the `vault` CLI); a path after the host is kept (a proxy prefix).
//! - `VAULT_TOKEN`, else the token the `vault login` command left in `~/.vault-token`. With
//!   neither, requests go out without a token (a Vault Agent proxy adds its own).
//! - A `VAULT_TOKEN` that starts with `aws_iam` means: log in with the AWS IAM auth method
//!   (`auth/aws/login`) as the token's `iam_role`, with a SigV4-signed `sts:GetCallerIdentity`
//!   request made from the standard AWS credential chain (see [`aws_login`]). The login happens
//!   once per role per plugin process; its client token is used for the reads.
//! - `VAULT_NAMESPACE`: sent as `X-Vault-Namespace` (Vault Enterprise, OpenBao namespaces).
//! - `VAULT_CACERT`: a PEM file of extra CA certificates to trust, on top of the system's.
//! - `VAULT_SKIP_VERIFY`: `true`/`1` (any of Go's `strconv.ParseBool` spellings) turns TLS
//!   certificate verification off.
//!
//! # Errors
//!
//! In configmanager's wording (see [`cm_plugin_common::FetchError`]): what Vault refused (not
//! found, permission denied, a KV version 1 mount, a deleted version) is `failed to retrieve
//! config item: <reason>` with Vault's own message and the HTTP status; a bad token or metadata,
//! or a request that never got an answer, is `implementation VAULT error: <reason> for token:
//! <token>`; a broken setting or a failed AWS login is `failed to initialize the client:
//! <reason>`. Tokens are never logged.
//!
//! Vault has no batch read: each token is one `GET /v1/MOUNT/data/SECRET`, concurrently, at
//! most [`MAX_IN_FLIGHT`] at a time per plugin process.

pub mod aws_login;
pub mod kv;
pub mod settings;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cm_plugin_common::metadata::Metadata;
use cm_plugin_common::non_empty;
use cm_plugin_sdk::{StoreError, TokenStore};
use tokio::sync::{OnceCell, Semaphore};

use settings::{Auth, Settings};

/// The token prefix this plugin serves.
pub const PREFIX: &str = "VAULT";

/// Requests to Vault in flight at once: many tokens at once must not open hundreds of
/// connections to one server.
pub const MAX_IN_FLIGHT: usize = 32;

/// The separator between mount and secret path in a token.
pub const MOUNT_SEPARATOR: &str = "___";

/// The store: one KV v2 read per token.
pub struct VaultStore {
    /// The environment, read once; a broken setting fails every token with its reason.
    settings: Result<Settings, String>,
    http: OnceCell<reqwest::Client>,
    /// Client tokens from AWS IAM logins, per role; a failed login is kept too, so the other
    /// tokens of that role fail with the same reason instead of each logging in again.
    logins: Mutex<HashMap<String, Arc<Login>>>,
    in_flight: Semaphore,
}

/// One role's AWS IAM login: its client token, or why it failed.
type Login = OnceCell<Result<String, String>>;

/// A token's mount and secret path.
#[derive(Debug, PartialEq, Eq)]
pub struct Address<'a> {
    /// The KV v2 mount, `secret`.
    pub mount: &'a str,
    /// The secret's path in the mount, `app/db`.
    pub secret: &'a str,
}

impl<'a> Address<'a> {
    /// Splits `MOUNT___SECRET/PATH` at the first `___`.
    pub fn parse(token: &'a str) -> Result<Address<'a>, String> {
        let Some((mount, secret)) = token.split_once(MOUNT_SEPARATOR) else {
            return Err(format!(
                "the token must be MOUNT{MOUNT_SEPARATOR}SECRET/PATH (no {MOUNT_SEPARATOR:?} in {token:?})"
            ));
        };
        let mount = mount.trim_start_matches('/').trim_end_matches('/');
        let secret = secret.trim_start_matches('/');
        if mount.is_empty() {
            return Err(format!("the mount before {MOUNT_SEPARATOR:?} is empty"));
        }
        if secret.is_empty() {
            return Err(format!(
                "the secret path after {MOUNT_SEPARATOR:?} is empty"
            ));
        }
        Ok(Address { mount, secret })
    }
}

/// What a token's metadata asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Wanted {
    /// `version=N`; `None` is the latest.
    pub version: Option<u64>,
    /// `iam_role=ROLE`, for the AWS IAM login.
    pub iam_role: Option<String>,
}

impl Wanted {
    /// Reads `version` and `iam_role` from the metadata text.
    pub fn parse(token: &str, raw: &[u8]) -> Result<Wanted, String> {
        let metadata = Metadata::for_token(token, raw, "secret path", &["version", "iam_role"])?;
        let version = match metadata.get("version") {
            None => None,
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                format!(
                    "metadata version={v:?} is not a version number (a whole number, 0 or more)"
                )
            })?),
        };
        Ok(Wanted {
            version,
            iam_role: metadata.get("iam_role").map(str::to_string),
        })
    }
}

impl VaultStore {
    /// Reads the settings from the environment and `~/.vault-token`; the HTTP client is made on
    /// first use.
    pub fn from_env() -> VaultStore {
        VaultStore::new(Settings::from_env())
    }

    /// A store with these settings (or the reason they are broken).
    pub fn new(settings: Result<Settings, String>) -> VaultStore {
        VaultStore {
            settings,
            http: OnceCell::new(),
            logins: Mutex::new(HashMap::new()),
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
        }
    }

    fn settings(&self) -> Result<&Settings, StoreError> {
        self.settings
            .as_ref()
            .map_err(StoreError::client_initialization)
    }

    async fn http(&self) -> Result<&reqwest::Client, StoreError> {
        let settings = self.settings()?;
        self.http
            .get_or_try_init(|| async { settings.http_client() })
            .await
            .map_err(StoreError::client_initialization)
    }

    /// The Vault token to read with: the configured one, or the AWS IAM login's for `role`.
    async fn vault_token(
        &self,
        token: &str,
        wanted: &Wanted,
    ) -> Result<Option<String>, StoreError> {
        let settings = self.settings()?;
        match &settings.auth {
            Auth::None => Ok(None),
            Auth::Token(t) => Ok(Some(t.clone())),
            Auth::AwsIam => {
                let Some(role) = wanted.iam_role.as_deref() else {
                    return Err(StoreError::implementation(
                        PREFIX,
                        "VAULT_TOKEN asks for the AWS IAM login (aws_iam) but the token has no iam_role metadata",
                        token,
                    ));
                };
                let cell = {
                    let mut logins = self.logins.lock().unwrap_or_else(|e| e.into_inner());
                    Arc::clone(logins.entry(role.to_string()).or_default())
                };
                let http = self.http().await?;
                let result = cell
                    .get_or_init(|| async {
                        let _permit = self.in_flight.acquire().await;
                        aws_login::login(http, settings, role).await
                    })
                    .await;
                result
                    .clone()
                    .map(Some)
                    .map_err(StoreError::client_initialization)
            }
        }
    }
}

impl TokenStore for VaultStore {
    async fn value(&self, token: &str, metadata: &[u8]) -> Result<String, StoreError> {
        let invalid = |e: String| StoreError::implementation(PREFIX, e, token);
        let wanted = Wanted::parse(token, metadata).map_err(invalid)?;
        let address = Address::parse(token).map_err(invalid)?;
        let vault_token = self.vault_token(token, &wanted).await?;
        let http = self.http().await?;
        let settings = self.settings()?;
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|e| StoreError::implementation(PREFIX, e, token))?;
        let request = kv::Read {
            address: &address,
            version: wanted.version,
            token: vault_token.as_deref(),
        };
        kv::read(http, settings, &request)
            .await
            .map_err(|e| e.into_store_error(PREFIX, token))
            .and_then(|v| non_empty(v, token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_at_the_first_separator() {
        assert_eq!(
            Address::parse("secret___app/db").unwrap(),
            Address {
                mount: "secret",
                secret: "app/db"
            }
        );
        assert_eq!(
            Address::parse("/kv/team___/a___b/c").unwrap(),
            Address {
                mount: "kv/team",
                secret: "a___b/c"
            }
        );
        assert_eq!(
            Address::parse("secret/app/db").unwrap_err(),
            "the token must be MOUNT___SECRET/PATH (no \"___\" in \"secret/app/db\")"
        );
        assert_eq!(
            Address::parse("___app").unwrap_err(),
            "the mount before \"___\" is empty"
        );
        assert_eq!(
            Address::parse("secret___").unwrap_err(),
            "the secret path after \"___\" is empty"
        );
    }

    #[test]
    fn metadata_version_and_role() {
        assert_eq!(
            Wanted::parse("m___s", b"").unwrap(),
            Wanted {
                version: None,
                iam_role: None
            }
        );
        assert_eq!(
            Wanted::parse("m___s", b"version=3,iam_role=app-role,label=x").unwrap(),
            Wanted {
                version: Some(3),
                iam_role: Some("app-role".into())
            }
        );
        for bad in ["version=latest", "version=-1", "version=1.5"] {
            let value = bad.trim_start_matches("version=");
            assert_eq!(
                Wanted::parse("m___s", bad.as_bytes()).unwrap_err(),
                format!(
                    "metadata version={value:?} is not a version number (a whole number, 0 or more)"
                )
            );
        }
        assert_eq!(
            Wanted::parse("m___s", b"oops").unwrap_err(),
            "metadata \"oops\" is not a key=value pair"
        );
    }

    #[tokio::test]
    async fn broken_settings_fail_every_token_with_their_reason() {
        let store = VaultStore::new(Err("VAULT_SKIP_VERIFY=\"maybe\" is not a boolean".into()));
        assert_eq!(
            store.value("secret___a", b"").await.unwrap_err().message(),
            "failed to initialize the client: VAULT_SKIP_VERIFY=\"maybe\" is not a boolean"
        );
        // Token errors come first: they name the token.
        assert_eq!(
            store.value("nope", b"").await.unwrap_err().message(),
            "implementation VAULT error: the token must be MOUNT___SECRET/PATH (no \"___\" in \"nope\") for token: nope"
        );
    }
}
