//! `cm-plugin-azkvsecret`: the AZKVSECRET provider plugin, Azure Key Vault secrets. A go-plugin
//! plugin that loads in cm and in configmanager alike.
//!
//! `AZKVSECRET://VAULT/NAME` returns the latest version of secret `NAME` in the vault
//! `https://VAULT.vault.azure.net` (the leading `/` is optional, as in configmanager);
//! `AZKVSECRET://VAULT/NAME[version=V]` returns version `V`. A JSON secret can be indexed with a
//! key path (`AZKVSECRET://VAULT/NAME|db.host`), which the host applies. Key Vault has no batch
//! read, so each token is one Get Secret call; the SDK runs them concurrently, bounded.
//!
//! The calls go through the official `azure_security_keyvault_secrets` client (REST API
//! version [`API_VERSION`]), which learns the vault's tenant and scope from its authentication
//! challenge and checks that the challenge's resource matches the vault's domain. The first call
//! to a vault goes alone, so the challenge is answered once, not once per token.
//!
//! Environment:
//! - Credentials (the chain the Azure plugins share, `cm_plugin_common::azure::credential`): `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` +
//!   `AZURE_CLIENT_SECRET`, or `AZURE_FEDERATED_TOKEN_FILE`, else Azure CLI / azd, then managed
//!   identity. `AZURE_AUTHORITY_HOST` changes the Entra ID host (sovereign clouds).
//! - `AZURE_KEYVAULT_DNS_SUFFIX`: the vaults' domain, default `vault.azure.net`
//!   (`vault.azure.cn`, `vault.usgovcloudapi.net`, ...): the vault URL is
//!   `https://VAULT.SUFFIX`.
//! - `AZKVSECRET_CONNECT_TO=IP:PORT`: send every vault request to this address (a private
//!   endpoint without DNS for it, a proxy, a test fake), like curl's `--connect-to`. The URL
//!   stays `https://VAULT.SUFFIX:PORT`, so the Host header, TLS server name, certificate check
//!   and challenge check still use the vault's name, and one address can serve many vaults.
//! - `SSL_CERT_FILE` / `SSL_CERT_DIR`: replace the system's trusted roots (rustls reads the
//!   system store through rustls-native-certs, which honours them), e.g. for a TLS-inspecting
//!   proxy's CA.
//!
//! Errors, in configmanager's wording: an answer from the vault (404 `SecretNotFound`, 403
//! `Forbidden`, ...) is `failed to retrieve config item: CODE: MESSAGE` with the service's own
//! code and message; no answer (transport, TLS, credentials) is `implementation AZKVSECRET
//! error: REASON for token: TOKEN`; so is a token that is not `VAULT/NAME`. An empty value is
//! `value retrieved but empty for token: TOKEN`. Secret values are never logged.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_security_keyvault_secrets::models::SecretClientGetSecretOptions;
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use cm_plugin_common::azure::{client_options, credential, http_builder};
use cm_plugin_common::metadata::Metadata;
use cm_plugin_common::{FetchError, non_empty};
use cm_plugin_sdk::{StoreError, TokenStore};
use tokio::sync::OnceCell;

/// The token prefix this plugin serves.
pub const PREFIX: &str = "AZKVSECRET";

/// The Key Vault REST API version the client sends (`azure_security_keyvault_secrets` 1.0's
/// default): <https://learn.microsoft.com/en-us/rest/api/keyvault/secrets/get-secret/get-secret>.
pub const API_VERSION: &str = "2025-07-01";

/// The public cloud's vault domain.
pub const DEFAULT_DNS_SUFFIX: &str = "vault.azure.net";

/// A token's two parts.
#[derive(Debug, PartialEq, Eq)]
pub struct Address<'a> {
    /// The vault's name, the first label of its host.
    pub vault: &'a str,
    /// The secret's name.
    pub name: &'a str,
}

impl<'a> Address<'a> {
    /// Parses `VAULT/NAME` (a leading `/` allowed). The names are checked against Key Vault's
    /// rules so that nothing else can reach the URL: a vault name becomes a host label, and a
    /// `/` in a secret name would be read as a version.
    pub fn parse(token: &'a str) -> Result<Address<'a>, String> {
        let path = token.strip_prefix('/').unwrap_or(token);
        let Some((vault, name)) = path.split_once('/') else {
            return Err("the token must be VAULT/NAME".into());
        };
        if name.contains('/') {
            return Err("the token must be VAULT/NAME (a secret name has no /)".into());
        }
        let alnum_dash = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !(3..=24).contains(&vault.len())
            || !alnum_dash(vault)
            || !vault.starts_with(|c: char| c.is_ascii_alphabetic())
            || vault.ends_with('-')
            || vault.contains("--")
        {
            return Err(format!(
                "{vault:?} is not a vault name (3-24 letters, digits and single hyphens, starting with a letter)"
            ));
        }
        if name.is_empty() || name.len() > 127 || !alnum_dash(name) {
            return Err(format!(
                "{name:?} is not a secret name (1-127 letters, digits and hyphens)"
            ));
        }
        Ok(Address { vault, name })
    }
}

/// The version asked for in the metadata (`version=V`), checked like the names.
fn version(token: &str, metadata: &[u8]) -> Result<Option<String>, String> {
    let metadata = Metadata::for_token(token, metadata, "secret name", &["version"])?;
    match metadata.get("version") {
        None => Ok(None),
        Some(v) if v.chars().all(|c| c.is_ascii_alphanumeric()) => Ok(Some(v.to_string())),
        Some(v) => Err(format!(
            "{v:?} is not a secret version (letters and digits)"
        )),
    }
}

/// Where the vaults are: `AZURE_KEYVAULT_DNS_SUFFIX` and `AZKVSECRET_CONNECT_TO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    suffix: String,
    connect_to: Option<SocketAddr>,
}

impl Endpoints {
    /// Reads the settings through `var`; a malformed one is an error.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Endpoints, String> {
        let set = |k: &str| {
            var(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let suffix = set("AZURE_KEYVAULT_DNS_SUFFIX")
            .unwrap_or_else(|| DEFAULT_DNS_SUFFIX.into())
            .trim_start_matches('.')
            .to_ascii_lowercase();
        if suffix.is_empty()
            || !suffix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(format!(
                "AZURE_KEYVAULT_DNS_SUFFIX {suffix:?} is not a domain name (e.g. vault.azure.cn)"
            ));
        }
        let connect_to = match set("AZKVSECRET_CONNECT_TO") {
            None => None,
            Some(v) => Some(v.parse::<SocketAddr>().map_err(|_| {
                format!("AZKVSECRET_CONNECT_TO {v:?} is not IP:PORT (e.g. 10.0.0.5:443)")
            })?),
        };
        Ok(Endpoints { suffix, connect_to })
    }

    /// The vault's host name.
    pub fn host(&self, vault: &str) -> String {
        format!("{}.{}", vault.to_ascii_lowercase(), self.suffix)
    }

    /// The vault's URL: `https://VAULT.SUFFIX`, with the port of `AZKVSECRET_CONNECT_TO` when
    /// set.
    pub fn url(&self, vault: &str) -> String {
        match self.connect_to {
            Some(addr) if addr.port() != 443 => {
                format!("https://{}:{}", self.host(vault), addr.port())
            }
            _ => format!("https://{}", self.host(vault)),
        }
    }
}

/// The reason in an SDK error and its causes (the transport's own reason is often two levels
/// down, e.g. a certificate the system does not trust).
pub fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let reason = cause.to_string();
        if !text.contains(&reason) {
            text.push_str(": ");
            text.push_str(&reason);
        }
        source = cause.source();
    }
    text
}

/// An SDK error as configmanager words it: the vault's answer keeps its code and message; no
/// answer is the implementation's error.
pub fn fetch_error(error: &azure_core::Error) -> FetchError {
    match error.kind() {
        ErrorKind::HttpResponse {
            status, error_code, ..
        } => {
            let code = error_code.clone().unwrap_or_else(|| status.to_string());
            let message = error.to_string();
            if message == code || message.is_empty() {
                FetchError::Retrieve(code)
            } else {
                FetchError::Retrieve(format!("{code}: {message}"))
            }
        }
        _ => FetchError::Implementation(describe(error)),
    }
}

/// One vault's client, and whether its authentication challenge has been answered.
struct Vault {
    client: SecretClient,
    /// Held by the first call while it learns the challenge, so concurrent first calls do not
    /// each send an unauthenticated request and ask for a token.
    primed: tokio::sync::Mutex<bool>,
}

/// The store: Get Secret per token.
pub struct KeyVaultStore {
    endpoints: Result<Endpoints, String>,
    http: OnceCell<reqwest::Client>,
    credential: OnceCell<Arc<credential::Chain>>,
    vaults: Mutex<HashMap<String, Arc<Vault>>>,
}

impl KeyVaultStore {
    /// Reads the endpoint settings; clients and credentials are created on first use.
    pub fn from_env() -> KeyVaultStore {
        KeyVaultStore {
            endpoints: Endpoints::from_vars(|k| std::env::var(k).ok()),
            http: OnceCell::new(),
            credential: OnceCell::new(),
            vaults: Mutex::new(HashMap::new()),
        }
    }

    async fn http(&self) -> Result<&reqwest::Client, StoreError> {
        self.http
            .get_or_try_init(|| async { http_builder().build() })
            .await
            .map_err(|e| StoreError::client_initialization(describe(&e)))
    }

    async fn credential(&self) -> Result<Arc<credential::Chain>, StoreError> {
        let http = self.http().await?;
        self.credential
            .get_or_try_init(|| async { credential::Chain::from_env(http).map(Arc::new) })
            .await
            .cloned()
            .map_err(StoreError::client_initialization)
    }

    async fn vault(&self, vault: &str) -> Result<Arc<Vault>, StoreError> {
        let endpoints = self
            .endpoints
            .as_ref()
            .map_err(StoreError::client_initialization)?;
        let key = vault.to_ascii_lowercase();
        if let Some(v) = self.vaults.lock().expect("vaults").get(&key) {
            return Ok(Arc::clone(v));
        }
        let credential: Arc<dyn TokenCredential> = self.credential().await?;
        let http = match endpoints.connect_to {
            // A client of its own that sends this vault's host name to the override address.
            Some(addr) => http_builder()
                .resolve(&endpoints.host(vault), addr)
                .build()
                .map_err(|e| StoreError::client_initialization(describe(&e)))?,
            None => self.http().await?.clone(),
        };
        let options = SecretClientOptions {
            client_options: client_options(&http),
            ..Default::default()
        };
        let client = SecretClient::new(&endpoints.url(vault), credential, Some(options))
            .map_err(|e| StoreError::client_initialization(describe(&e)))?;
        let made = Arc::new(Vault {
            client,
            primed: tokio::sync::Mutex::new(false),
        });
        // Two first calls may both have made one; the first stored wins, so the vault has one
        // client and one challenge.
        Ok(Arc::clone(
            self.vaults
                .lock()
                .expect("vaults")
                .entry(key)
                .or_insert(made),
        ))
    }

    async fn get(
        &self,
        vault: &Vault,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<String>, FetchError> {
        let call = || async {
            let options = SecretClientGetSecretOptions {
                secret_version: version.map(str::to_string),
                ..Default::default()
            };
            let response = vault
                .client
                .get_secret(name, Some(options))
                .await
                .map_err(|e| fetch_error(&e))?;
            let secret = response.into_model().map_err(|e| {
                FetchError::Implementation(format!(
                    "unreadable Get Secret answer: {}",
                    describe(&e)
                ))
            })?;
            Ok(secret.value)
        };
        let mut primed = vault.primed.lock().await;
        if !*primed {
            // Once the vault answered anything, even a refusal, the client knows the
            // challenge's scope. If it did not answer (unreachable, credential refused), the
            // others go concurrently anyway: one after the other, each with its retries, they
            // would outlast the host's timeout.
            let result = call().await;
            *primed = true;
            return result;
        }
        drop(primed);
        call().await
    }
}

impl TokenStore for KeyVaultStore {
    async fn value(&self, token: &str, metadata: &[u8]) -> Result<String, StoreError> {
        let bad = |e: String| StoreError::implementation(PREFIX, e, token);
        let address = Address::parse(token).map_err(bad)?;
        let version = version(token, metadata).map_err(bad)?;
        let vault = self.vault(address.vault).await?;
        let value = self
            .get(&vault, address.name, version.as_deref())
            .await
            .map_err(|e| e.into_store_error(PREFIX, token))?;
        non_empty(value.unwrap_or_default(), token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_vault_and_name() {
        let want = Address {
            vault: "my-vault",
            name: "db-password",
        };
        assert_eq!(Address::parse("my-vault/db-password").unwrap(), want);
        assert_eq!(Address::parse("/my-vault/db-password").unwrap(), want);
        let cases = [
            ("my-vault", "the token must be VAULT/NAME"),
            ("", "the token must be VAULT/NAME"),
            (
                "my-vault/a/b",
                "the token must be VAULT/NAME (a secret name has no /)",
            ),
            (
                "my-vault/",
                "\"\" is not a secret name (1-127 letters, digits and hyphens)",
            ),
            (
                "my-vault/a_b",
                "\"a_b\" is not a secret name (1-127 letters, digits and hyphens)",
            ),
            (
                "ab/x",
                "\"ab\" is not a vault name (3-24 letters, digits and single hyphens, starting with a letter)",
            ),
            (
                "evil.com#/x",
                "\"evil.com#\" is not a vault name (3-24 letters, digits and single hyphens, starting with a letter)",
            ),
            (
                "1vault/x",
                "\"1vault\" is not a vault name (3-24 letters, digits and single hyphens, starting with a letter)",
            ),
            (
                "vault-/x",
                "\"vault-\" is not a vault name (3-24 letters, digits and single hyphens, starting with a letter)",
            ),
        ];
        for (token, reason) in cases {
            assert_eq!(Address::parse(token).unwrap_err(), reason, "{token}");
        }
        assert!(Address::parse(&format!("vault/{}", "a".repeat(127))).is_ok());
        assert!(Address::parse(&format!("vault/{}", "a".repeat(128))).is_err());
        assert!(Address::parse(&format!("{}/x", "v".repeat(25))).is_err());
    }

    #[test]
    fn versions_come_from_the_metadata() {
        assert_eq!(version("v/x", b"").unwrap(), None);
        assert_eq!(
            version("v/x", b"version=0a1b2c").unwrap().as_deref(),
            Some("0a1b2c")
        );
        assert_eq!(version("v/x", b"label=x").unwrap(), None);
        assert_eq!(
            version("v/x", b"version=../x").unwrap_err(),
            "\"../x\" is not a secret version (letters and digits)"
        );
        assert_eq!(
            version("v/x", b"version").unwrap_err(),
            "metadata \"version\" is not a key=value pair"
        );
    }

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn endpoints_follow_the_environment() {
        let public = Endpoints::from_vars(vars(&[])).unwrap();
        assert_eq!(public.url("MyVault"), "https://myvault.vault.azure.net");
        let china = Endpoints::from_vars(vars(&[("AZURE_KEYVAULT_DNS_SUFFIX", ".vault.azure.cn")]))
            .unwrap();
        assert_eq!(china.url("kv"), "https://kv.vault.azure.cn");
        let private =
            Endpoints::from_vars(vars(&[("AZKVSECRET_CONNECT_TO", "10.0.0.5:443")])).unwrap();
        assert_eq!(private.url("kv"), "https://kv.vault.azure.net");
        let fake =
            Endpoints::from_vars(vars(&[("AZKVSECRET_CONNECT_TO", "127.0.0.1:8443")])).unwrap();
        assert_eq!(fake.url("kv"), "https://kv.vault.azure.net:8443");
        assert_eq!(fake.host("kv"), "kv.vault.azure.net");
        assert_eq!(
            Endpoints::from_vars(vars(&[("AZKVSECRET_CONNECT_TO", "localhost")])).unwrap_err(),
            "AZKVSECRET_CONNECT_TO \"localhost\" is not IP:PORT (e.g. 10.0.0.5:443)"
        );
        assert_eq!(
            Endpoints::from_vars(vars(&[("AZURE_KEYVAULT_DNS_SUFFIX", "https://x/")])).unwrap_err(),
            "AZURE_KEYVAULT_DNS_SUFFIX \"https://x/\" is not a domain name (e.g. vault.azure.cn)"
        );
    }

    #[test]
    fn vault_answers_keep_their_code_and_message() {
        use azure_core::http::StatusCode;
        let refused = azure_core::Error::with_message(
            ErrorKind::HttpResponse {
                status: StatusCode::NotFound,
                error_code: Some("SecretNotFound".into()),
                raw_response: None,
            },
            "A secret with (name/id) x was not found in this key vault.",
        );
        assert_eq!(
            fetch_error(&refused),
            FetchError::Retrieve(
                "SecretNotFound: A secret with (name/id) x was not found in this key vault.".into()
            )
        );
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let transport =
            azure_core::Error::with_error(ErrorKind::Io, io, "failed to execute `reqwest` request");
        assert_eq!(
            fetch_error(&transport),
            FetchError::Implementation("failed to execute `reqwest` request: refused".into())
        );
    }
}
