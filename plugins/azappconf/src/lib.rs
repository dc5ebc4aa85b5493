//! `cm-plugin-azappconf`: the AZAPPCONF provider plugin, Azure App Configuration. A go-plugin
//! plugin that loads in cm and in configmanager alike.
//!
//! # Tokens
//!
//! `AZAPPCONF://STORE/KEY[label=L,etag=E]` (a leading `/` before STORE is allowed, as in
//! configmanager) returns the `value` of key `KEY` in the store `STORE`
//! (`https://STORE.azconfig.io`). STORE is the first path segment and KEY all the rest, `/`
//! included: `AZAPPCONF://mystore/app/db/url` reads the key `app/db/url`. If the value is JSON,
//! a key path (`|host`) picks a field, as for every token.
//!
//! KEY is percent-decoded: `AZAPPCONF://mystore/app%3Adb%3Aurl` reads `app:db:url`. That is how
//! to write keys with characters that end a token in templates (`:`, `,`, whitespace, quotes,
//! `@`, `?`); App Configuration forbids `%` in key names, so decoding never changes a valid key.
//!
//! Metadata:
//! - `label=L`: the key-value with label `L`; without it, the key-value that has no label (the
//!   service's meaning of a missing `label` parameter).
//! - `etag=E`: configmanager's meaning (its Go SDK option `OnlyIfChanged`): the request carries
//!   `If-None-Match: "E"`, so the value is returned only if the key-value has changed since the
//!   etag `E`; when it still has etag `E` the service answers `304 Not Modified` and the token
//!   fails with a message that says so (configmanager gets no value and fails with "value
//!   retrieved but empty"). `E` is the `etag` as the service shows it, quoted or not.
//! - Other keys (configmanager also parses `acceptedDateTime`, but never sends it) are ignored.
//!
//! A Key Vault reference (content type
//! `application/vnd.microsoft.appconfig.keyvaultref+json;charset=utf-8`) is returned as the
//! reference's JSON, `{"uri":"https://VAULT.vault.azure.net/secrets/NAME"}`, not resolved (use an
//! AZKVSECRET token for the secret itself); `|uri` picks the address. Feature flags
//! (`.appconfig.featureflag/NAME`) likewise come back as their JSON.
//!
//! # Where the store is and how requests are signed
//!
//! - `AZURE_APPCONFIG_CONNECTION_STRING` (`Endpoint=https://STORE.azconfig.io;Id=...;Secret=...`,
//!   from the portal's Access settings): for the tokens whose STORE is the first label of the
//!   endpoint's host, requests go to that endpoint signed with the access key (HMAC-SHA256). An
//!   endpoint whose host is an IP address or `localhost` names no store and serves every token
//!   (a tunnel or a test fake); it may be `http://` (real stores are always `https://`).
//! - Any other token: `https://STORE.{AZURE_APPCONFIG_DNS_SUFFIX}` (default `azconfig.io`;
//!   `azconfig.azure.us` for Azure Government, `azconfig.azure.cn` for Azure China) with a
//!   Microsoft Entra ID token from the credential chain the Azure plugins share
//!   (`cm_plugin_common::azure::credential`) for the audience of
//!   that cloud: `https://appconfig.azure.com` for `azconfig.io`, `https://appconfig.X` for
//!   `azconfig.X`, `AZURE_APPCONFIG_AUDIENCE` to set another.
//! - `AZAPPCONF_CONNECT_TO=IP:PORT`: connect to this address for every store host name (a
//!   private endpoint without DNS for it, a proxy, a test fake), like curl's `--connect-to` and
//!   the AZKVSECRET plugin's `AZKVSECRET_CONNECT_TO`. The URL stays
//!   `https://STORE.{suffix}[:PORT]`, so the TLS server name and certificate check still use
//!   the store's name. Entra ID's own requests are not redirected.
//! - `SSL_CERT_FILE` / `SSL_CERT_DIR`: replace the system's trusted roots (e.g. a
//!   TLS-inspecting proxy's CA).
//!
//! # Errors
//!
//! configmanager's wording (`cm_plugin_common::FetchError`): what the service refused is
//! `failed to retrieve config item: <reason> (HTTP <status>)` with the service's own reason (a
//! problem+json `title: detail`, a 401's `WWW-Authenticate` `error_description`, a missing key
//! named with its label and store); a bad token, a failed connection or a credential that gave
//! no token is `implementation AZAPPCONF error: <reason> for token: <token>`; a broken
//! connection string or `AZAPPCONF_CONNECT_TO` is `failed to initialize the client: <reason>`; an empty value is `value
//! retrieved but empty for token: <token>`. Secrets never appear in messages or logs.
//!
//! App Configuration has no batch read by key and label, so each token is one request; the
//! plugin SDK bounds how many run at once. A `429 Too Many Requests` or `503 Service
//! Unavailable` is retried after its `retry-after-ms` (at most 2 s, 3 attempts in all), as the
//! service's throttling page asks.

pub mod connection;
pub mod rest;

use std::net::SocketAddr;

use cm_plugin_common::azure::{self, credential, http_builder};
use cm_plugin_common::metadata::Metadata;
use cm_plugin_common::non_empty;
use cm_plugin_sdk::{StoreError, TokenStore};
use tokio::sync::OnceCell;

use connection::Connection;
use rest::{Auth, Lookup};

/// The token prefix this plugin serves.
pub const PREFIX: &str = "AZAPPCONF";

/// The public cloud's DNS suffix for stores.
pub const DEFAULT_DNS_SUFFIX: &str = "azconfig.io";

/// The Entra ID audience for stores under `dns_suffix`, from the table in
/// <https://learn.microsoft.com/en-us/azure/azure-app-configuration/rest-api-authentication-azure-ad>:
/// the public cloud's `azconfig.io` stores take `https://appconfig.azure.com`, the national
/// clouds' `azconfig.X` stores `https://appconfig.X` (`azure.us`, `azure.cn`).
pub fn audience_for(dns_suffix: &str) -> String {
    let suffix = dns_suffix.trim_matches('.').to_ascii_lowercase();
    if suffix == DEFAULT_DNS_SUFFIX {
        "https://appconfig.azure.com".to_string()
    } else if let Some(cloud) = suffix.strip_prefix("azconfig.") {
        format!("https://appconfig.{cloud}")
    } else {
        format!("https://{suffix}")
    }
}

/// The store: Get Key-Value per token.
pub struct AppConfStore {
    /// `AZURE_APPCONFIG_CONNECTION_STRING`, parsed; a broken one fails every token.
    connection: Option<Result<Connection, String>>,
    dns_suffix: String,
    audience: String,
    /// `AZAPPCONF_CONNECT_TO`, checked; a bad one fails every token.
    connect_to: Option<Result<SocketAddr, String>>,
    http: OnceCell<reqwest::Client>,
    tokens: OnceCell<credential::Chain>,
}

/// `AZAPPCONF_CONNECT_TO`: an `IP:PORT`.
fn parse_connect_to(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| format!("AZAPPCONF_CONNECT_TO {text:?} is not IP:PORT (e.g. 10.0.0.5:443)"))
}

/// Resolves every host name to one address (`AZAPPCONF_CONNECT_TO`); the URL's port is used.
struct ConnectTo(SocketAddr);

impl reqwest::dns::Resolve for ConnectTo {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let addr = self.0;
        Box::pin(async move { Ok(Box::new(std::iter::once(addr)) as reqwest::dns::Addrs) })
    }
}

/// A token's store and key.
#[derive(Debug, PartialEq, Eq)]
struct Address<'a> {
    store: &'a str,
    /// Percent-decoded.
    key: String,
}

const SHAPE: &str = "the token must be STORE/KEY (the store's name, then the key)";

impl<'a> Address<'a> {
    fn parse(token: &'a str) -> Result<Address<'a>, String> {
        let path = token.strip_prefix('/').unwrap_or(token);
        let Some((store, raw_key)) = path.split_once('/') else {
            return Err(SHAPE.into());
        };
        if store.is_empty() || raw_key.is_empty() {
            return Err(SHAPE.into());
        }
        // A store name is a DNS label; anything else cannot be a store and must not reach the
        // host name.
        if !store
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(format!(
                "{store:?} is not an App Configuration store name (letters, digits and '-')"
            ));
        }
        let key = percent_decode(raw_key)?;
        if key == "." || key == ".." {
            return Err(format!("{key:?} is not a valid key name"));
        }
        Ok(Address { store, key })
    }
}

/// Decodes `%XX` escapes to UTF-8; other characters stay as they are.
fn percent_decode(raw: &str) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let byte = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    format!("the key {raw:?} has a '%' that is not followed by two hex digits")
                })?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("the key {raw:?} does not decode to UTF-8"))
}

impl AppConfStore {
    /// Reads `AZURE_APPCONFIG_CONNECTION_STRING`, `AZURE_APPCONFIG_DNS_SUFFIX`,
    /// `AZURE_APPCONFIG_AUDIENCE` and `AZAPPCONF_CONNECT_TO`; clients and credentials are
    /// created on first use.
    pub fn from_env() -> AppConfStore {
        let var = |k: &str| {
            std::env::var(k)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let dns_suffix = var("AZURE_APPCONFIG_DNS_SUFFIX")
            .map(|s| s.trim_matches('.').to_string())
            .unwrap_or_else(|| DEFAULT_DNS_SUFFIX.to_string());
        let audience = var("AZURE_APPCONFIG_AUDIENCE").unwrap_or_else(|| audience_for(&dns_suffix));
        AppConfStore {
            connection: var("AZURE_APPCONFIG_CONNECTION_STRING").map(|s| Connection::parse(&s)),
            dns_suffix,
            audience,
            connect_to: var("AZAPPCONF_CONNECT_TO").map(|a| parse_connect_to(&a)),
            http: OnceCell::new(),
            tokens: OnceCell::new(),
        }
    }

    async fn http(&self) -> Result<&reqwest::Client, StoreError> {
        let connect_to = match &self.connect_to {
            Some(Err(e)) => return Err(StoreError::client_initialization(e)),
            Some(Ok(addr)) => Some(*addr),
            None => None,
        };
        self.http
            .get_or_try_init(|| async {
                match connect_to {
                    Some(addr) => http_builder().dns_resolver(ConnectTo(addr)).build(),
                    None => http_builder().build(),
                }
            })
            .await
            .map_err(StoreError::client_initialization)
    }

    async fn bearer_token(&self) -> Result<String, String> {
        let tokens = self
            .tokens
            .get_or_try_init(|| async {
                // A client of its own: Entra ID's requests are not sent to AZAPPCONF_CONNECT_TO.
                let http = azure::http_client().map_err(|e| azure::error_chain(&e))?;
                credential::Chain::from_env(&http)
            })
            .await?;
        let scope = format!("{}/.default", self.audience.trim_end_matches('/'));
        tokens.token(&scope).await
    }
}

impl TokenStore for AppConfStore {
    async fn value(&self, token: &str, metadata: &[u8]) -> Result<String, StoreError> {
        let invalid = |e: String| StoreError::implementation(PREFIX, e, token);
        let address = Address::parse(token).map_err(invalid)?;
        let metadata =
            Metadata::for_token(token, metadata, "key", &["label", "etag"]).map_err(invalid)?;
        let lookup = Lookup {
            store: address.store,
            key: &address.key,
            label: metadata.get("label"),
            etag: metadata.get("etag"),
        };
        // The credentials' own HTTP client needs the crypto provider this installs.
        let http = self.http().await?;
        let result = match azure::serving(&self.connection, |c| c.serves(address.store))? {
            Some(c) => {
                let auth = Auth::Hmac {
                    id: &c.id,
                    secret: &c.secret,
                };
                rest::get_key_value(http, &c.endpoint, auth, &lookup).await
            }
            None => {
                let host = format!("{}.{}", address.store, self.dns_suffix);
                let endpoint = match &self.connect_to {
                    Some(Ok(addr)) if addr.port() != 443 => {
                        format!("https://{host}:{}", addr.port())
                    }
                    _ => format!("https://{host}"),
                };
                let bearer = self.bearer_token().await.map_err(invalid)?;
                rest::get_key_value(http, &endpoint, Auth::Bearer(&bearer), &lookup).await
            }
        };
        result
            .map_err(|e| e.into_store_error(PREFIX, token))
            .and_then(|v| non_empty(v, token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_the_first_segment_and_key_the_rest() {
        let parse = |t| Address::parse(t).unwrap();
        assert_eq!(
            parse("mystore/app/db/url"),
            Address {
                store: "mystore",
                key: "app/db/url".into()
            }
        );
        assert_eq!(parse("/mystore/k").key, "k");
        assert_eq!(parse("my-store-1/app%3Adb%2Furl").key, "app:db/url");
        assert_eq!(parse("s/caf%C3%A9%20au%20lait").key, "café au lait");
        assert_eq!(parse("s/a.b_c~d").key, "a.b_c~d");
    }

    #[test]
    fn bad_shapes_are_explained() {
        for bad in ["mystore", "/mystore", "mystore/", "/k", "", "/"] {
            assert_eq!(Address::parse(bad).unwrap_err(), SHAPE, "{bad:?}");
        }
        assert_eq!(
            Address::parse("my.store/k").unwrap_err(),
            "\"my.store\" is not an App Configuration store name (letters, digits and '-')"
        );
        assert_eq!(
            Address::parse("s/50%").unwrap_err(),
            "the key \"50%\" has a '%' that is not followed by two hex digits"
        );
        assert_eq!(
            Address::parse("s/%ZZ").unwrap_err(),
            "the key \"%ZZ\" has a '%' that is not followed by two hex digits"
        );
        assert_eq!(
            Address::parse("s/%FF").unwrap_err(),
            "the key \"%FF\" does not decode to UTF-8"
        );
        assert_eq!(
            Address::parse("s/..").unwrap_err(),
            "\"..\" is not a valid key name"
        );
    }

    #[test]
    fn connect_to_is_an_address() {
        assert_eq!(
            parse_connect_to("10.0.0.5:443").unwrap(),
            "10.0.0.5:443".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            parse_connect_to("localhost:8443").unwrap_err(),
            "AZAPPCONF_CONNECT_TO \"localhost:8443\" is not IP:PORT (e.g. 10.0.0.5:443)"
        );
    }

    #[test]
    fn audiences_follow_the_cloud() {
        assert_eq!(audience_for("azconfig.io"), "https://appconfig.azure.com");
        assert_eq!(
            audience_for("azconfig.azure.us"),
            "https://appconfig.azure.us"
        );
        assert_eq!(
            audience_for(".azconfig.azure.cn"),
            "https://appconfig.azure.cn"
        );
        assert_eq!(audience_for("config.example"), "https://config.example");
    }
}
