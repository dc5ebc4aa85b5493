//! `cm-plugin-aztablestore`: the AZTABLESTORE provider plugin, Azure Table Storage. A
//! go-plugin plugin that loads in cm and in configmanager alike.
//!
//! `AZTABLESTORE:///ACCOUNT/TABLE/PARTITION_KEY/ROW_KEY` (the leading `/` is optional) returns
//! that entity's `value` property if it has one, else all its properties as a JSON object, so a
//! key path (`|host`) can pick one.
//!
//! Where the account is reached: if `AZURE_STORAGE_CONNECTION_STRING` is set and names the
//! token's account (or names none, as a SAS-only string may), its Table endpoint with its Shared
//! Key or SAS (Azurite's development string works as it is); otherwise
//! `https://ACCOUNT.table.core.windows.net` with an Entra ID token for Azure Storage's scope from
//! the credential chain shared by the Azure plugins (`cm_plugin_common::azure::credential`).
//! Table Storage has no batch read across partitions, so each token is one request.

pub mod connection;
pub mod rest;

/// The plugin's HTTP client (rustls with ring), also for tests that talk to the emulator.
pub use cm_plugin_common::azure::http_client;
use cm_plugin_common::azure::{self, credential};
use cm_plugin_common::non_empty;
use cm_plugin_sdk::{StoreError, TokenStore};
use tokio::sync::OnceCell;

use connection::{Connection, Credential};
use rest::Authorization;

/// The token prefix this plugin serves.
pub const PREFIX: &str = "AZTABLESTORE";

/// The scope of Azure Storage data access.
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// The store: Query Entity per token.
pub struct TableStore {
    /// `AZURE_STORAGE_CONNECTION_STRING`, parsed; a broken one fails every token that needs it.
    connection: Option<Result<Connection, String>>,
    http: OnceCell<reqwest::Client>,
    tokens: OnceCell<credential::Chain>,
}

/// The four parts of a token.
#[derive(Debug, PartialEq, Eq)]
struct Address<'a> {
    account: &'a str,
    table: &'a str,
    partition_key: &'a str,
    row_key: &'a str,
}

impl<'a> Address<'a> {
    fn parse(token: &'a str) -> Result<Address<'a>, String> {
        let parts: Vec<&str> = token
            .strip_prefix('/')
            .unwrap_or(token)
            .split('/')
            .collect();
        match parts[..] {
            [account, table, partition_key, row_key] if parts.iter().all(|p| !p.is_empty()) => {
                Ok(Address {
                    account,
                    table,
                    partition_key,
                    row_key,
                })
            }
            _ => Err("the token must be ACCOUNT/TABLE/PARTITION_KEY/ROW_KEY".into()),
        }
    }
}

impl TableStore {
    /// Reads `AZURE_STORAGE_CONNECTION_STRING`; clients and credentials are created on first use.
    pub fn from_env() -> TableStore {
        let connection = std::env::var("AZURE_STORAGE_CONNECTION_STRING")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .map(|s| Connection::parse(&s));
        TableStore {
            connection,
            http: OnceCell::new(),
            tokens: OnceCell::new(),
        }
    }

    async fn http(&self) -> Result<&reqwest::Client, StoreError> {
        self.http
            .get_or_try_init(|| async { azure::http_client() })
            .await
            .map_err(StoreError::client_initialization)
    }

    async fn bearer_token(&self) -> Result<String, StoreError> {
        // The credentials' calls go through the plugin's client (rustls with ring).
        let http = self.http().await?;
        let tokens = self
            .tokens
            .get_or_try_init(|| async { credential::Chain::from_env(http) })
            .await
            .map_err(StoreError::client_initialization)?;
        tokens
            .token(STORAGE_SCOPE)
            .await
            .map_err(StoreError::client_initialization)
    }
}

impl TokenStore for TableStore {
    async fn value(&self, token: &str, _metadata: &[u8]) -> Result<String, StoreError> {
        let address =
            Address::parse(token).map_err(|e| StoreError::implementation(PREFIX, e, token))?;
        let http = self.http().await?;
        let url_for = |endpoint: &str| {
            rest::entity_url(
                endpoint,
                address.table,
                address.partition_key,
                address.row_key,
            )
        };
        let result = match azure::serving(&self.connection, |c| c.serves(address.account))? {
            Some(c) => {
                let auth = match &c.credential {
                    Credential::SharedKey { account, key } => {
                        Authorization::SharedKey { account, key }
                    }
                    Credential::Sas(sas) => Authorization::Sas(sas),
                };
                rest::get_entity(http, &url_for(&c.endpoint), auth).await
            }
            None => {
                let bearer = self.bearer_token().await?;
                let endpoint = format!("https://{}.table.core.windows.net", address.account);
                rest::get_entity(http, &url_for(&endpoint), Authorization::Bearer(&bearer)).await
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
    fn tokens_have_four_parts() {
        let want = Address {
            account: "acct",
            table: "config",
            partition_key: "app",
            row_key: "db",
        };
        assert_eq!(Address::parse("acct/config/app/db").unwrap(), want);
        assert_eq!(Address::parse("/acct/config/app/db").unwrap(), want);
        for bad in [
            "acct/config/app",
            "acct/config/app/db/x",
            "acct//app/db",
            "",
        ] {
            assert_eq!(
                Address::parse(bad).unwrap_err(),
                "the token must be ACCOUNT/TABLE/PARTITION_KEY/ROW_KEY",
                "{bad}"
            );
        }
    }
}
