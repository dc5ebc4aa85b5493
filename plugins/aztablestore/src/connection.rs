//! Azure Storage connection strings (`AZURE_STORAGE_CONNECTION_STRING`): where the Table service
//! is and how to sign for it. Pure: no I/O.

use base64::Engine as _;
use cm_plugin_common::azure::connection_string_pairs;

/// Azurite's and the storage emulator's well-known account.
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
/// The well-known key of [`DEV_ACCOUNT`] (public, documented by Microsoft; not a secret).
pub const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// Azurite's Table endpoint for [`DEV_ACCOUNT`].
pub const DEV_TABLE_ENDPOINT: &str = "http://127.0.0.1:10002/devstoreaccount1";

/// How requests to the Table endpoint are authorised.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// Shared Key: the account name and the decoded account key.
    SharedKey {
        /// The account the key belongs to.
        account: String,
        /// The decoded key.
        key: Vec<u8>,
    },
    /// A shared access signature, appended to every request's query.
    Sas(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::SharedKey { account, .. } => {
                write!(f, "SharedKey {{ account: {account:?}, key: <redacted> }}")
            }
            Credential::Sas(_) => f.write_str("Sas(<redacted>)"),
        }
    }
}

/// What a connection string says about the Table service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The account name, when the string names one.
    pub account: Option<String>,
    /// The Table endpoint, without a trailing `/` (path-style for emulators:
    /// `http://127.0.0.1:10002/devstoreaccount1`).
    pub endpoint: String,
    /// How to sign.
    pub credential: Credential,
}

impl Connection {
    /// Parses `Key=Value;...` (keys case-insensitive, values may hold `=`).
    pub fn parse(text: &str) -> Result<Connection, String> {
        let mut account = None;
        let mut key = None;
        let mut sas = None;
        let mut endpoint = None;
        let mut protocol = None;
        let mut suffix = None;
        let mut development = false;
        let pairs = connection_string_pairs(text)
            .map_err(|part| format!("connection string part {part:?} is not Key=Value"))?;
        for (name, value) in pairs {
            let value = value.to_string();
            match name.as_str() {
                "accountname" => account = Some(value),
                "accountkey" => key = Some(value),
                "sharedaccesssignature" => sas = Some(value.trim_start_matches('?').to_string()),
                "tableendpoint" => endpoint = Some(value.trim_end_matches('/').to_string()),
                "defaultendpointsprotocol" => protocol = Some(value),
                "endpointsuffix" => suffix = Some(value),
                "usedevelopmentstorage" => development = value.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        if development {
            account.get_or_insert_with(|| DEV_ACCOUNT.to_string());
            key.get_or_insert_with(|| DEV_KEY.to_string());
            endpoint.get_or_insert_with(|| DEV_TABLE_ENDPOINT.to_string());
        }
        let endpoint = match (endpoint, &account) {
            (Some(e), _) => e,
            (None, Some(a)) => format!(
                "{}://{a}.table.{}",
                protocol.as_deref().unwrap_or("https"),
                suffix.as_deref().unwrap_or("core.windows.net")
            ),
            (None, None) => {
                return Err("connection string has neither AccountName nor TableEndpoint".into());
            }
        };
        let credential = match (key, sas, &account) {
            (Some(k), _, Some(a)) => Credential::SharedKey {
                account: a.clone(),
                key: base64::engine::general_purpose::STANDARD
                    .decode(k.as_bytes())
                    .map_err(|_| "connection string AccountKey is not base64".to_string())?,
            },
            (Some(_), _, None) => {
                return Err("connection string has an AccountKey but no AccountName".into());
            }
            (None, Some(s), _) => Credential::Sas(s),
            (None, None, _) => {
                return Err(
                    "connection string has neither AccountKey nor SharedAccessSignature".into(),
                );
            }
        };
        Ok(Connection {
            account,
            endpoint,
            credential,
        })
    }

    /// Whether this connection serves `account`: the string names that account, or names none
    /// (a SAS for one endpoint).
    pub fn serves(&self, account: &str) -> bool {
        self.account.as_deref().is_none_or(|a| a == account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azurite_development_string() {
        let text = format!(
            "DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};TableEndpoint=http://127.0.0.1:41234/devstoreaccount1/;"
        );
        let c = Connection::parse(&text).unwrap();
        assert_eq!(c.account.as_deref(), Some(DEV_ACCOUNT));
        assert_eq!(c.endpoint, "http://127.0.0.1:41234/devstoreaccount1");
        assert!(matches!(&c.credential, Credential::SharedKey { key, .. } if key.len() == 64));
        assert!(c.serves(DEV_ACCOUNT));
        assert!(!c.serves("other"));
    }

    #[test]
    fn use_development_storage_shorthand() {
        let c = Connection::parse("UseDevelopmentStorage=true").unwrap();
        assert_eq!(c.endpoint, DEV_TABLE_ENDPOINT);
        assert_eq!(c.account.as_deref(), Some(DEV_ACCOUNT));
    }

    #[test]
    fn cloud_string_builds_the_endpoint() {
        let c = Connection::parse(
            "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=a2V5;EndpointSuffix=core.chinacloudapi.cn",
        )
        .unwrap();
        assert_eq!(c.endpoint, "https://acme.table.core.chinacloudapi.cn");
        assert_eq!(
            c.credential,
            Credential::SharedKey {
                account: "acme".into(),
                key: b"key".to_vec()
            }
        );
        assert_eq!(
            format!("{:?}", c.credential),
            "SharedKey { account: \"acme\", key: <redacted> }"
        );
    }

    #[test]
    fn sas_string() {
        let c = Connection::parse(
            "TableEndpoint=https://acme.table.core.windows.net/;SharedAccessSignature=?sv=2019&sig=x%3D",
        )
        .unwrap();
        assert_eq!(c.credential, Credential::Sas("sv=2019&sig=x%3D".into()));
        assert!(c.serves("anything"), "no account named: the SAS decides");
    }

    #[test]
    fn broken_strings_are_explained() {
        assert_eq!(
            Connection::parse("AccountKey=a2V5").unwrap_err(),
            "connection string has neither AccountName nor TableEndpoint"
        );
        assert_eq!(
            Connection::parse("AccountName=a").unwrap_err(),
            "connection string has neither AccountKey nor SharedAccessSignature"
        );
        assert_eq!(
            Connection::parse("AccountName=a;AccountKey=!!").unwrap_err(),
            "connection string AccountKey is not base64"
        );
        assert_eq!(
            Connection::parse("AccountName=a;junk").unwrap_err(),
            "connection string part \"junk\" is not Key=Value"
        );
    }
}
