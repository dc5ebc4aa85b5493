//! The Azure set-up the AZTABLESTORE, AZAPPCONF and AZKVSECRET plugins share (feature `azure`):
//!
//! - [`credential`]: the Entra ID credential chain, in DefaultAzureCredential's order, as a
//!   bearer token for a scope (the REST plugins) and as a `TokenCredential` (the SDK clients).
//! - [`http_builder`] / [`http_client`]: reqwest with rustls and ring, for the plugins' own
//!   calls and for `azure_identity`'s; [`client_options`]: azure_core's pipeline on that
//!   client with retries that fit inside cm's per-plugin timeout.
//! - The REST plugins' common pieces: [`percent_encode`], [`error_chain`],
//!   [`connection_string_pairs`] and [`serving`] (which connection string serves a token).
//!
//! What differs per service (token grammar, signing, the service's error bodies, how each
//! plugin words an error) stays in the plugins.

pub mod credential;

use std::sync::Arc;

use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};
use azure_core::time::Duration;
use cm_plugin_sdk::StoreError;

/// The HTTP client settings: rustls with ring. reqwest is built without a crypto provider of its
/// own (its default would bring a C build of aws-lc), so ring is installed as the process
/// default first, for azure_identity's clients too.
pub fn http_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(30))
}

/// The HTTP client of [`http_builder`], as it is.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    http_builder().build()
}

/// The pipeline options of every Azure client here: calls go through `http`, and transient
/// failures are retried a few times within seconds, not azure_core's default of 8 retries
/// within a minute, which is cm's whole per-plugin timeout (a certificate the system does not
/// trust would otherwise surface as a timeout instead of its reason).
pub fn client_options(http: &reqwest::Client) -> ClientOptions {
    ClientOptions {
        transport: Some(Transport::new(Arc::new(http.clone()))),
        retry: RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: Duration::milliseconds(200),
            max_retries: 3,
            max_total_elapsed: Duration::seconds(20),
            max_delay: Duration::seconds(4),
        }),
        ..Default::default()
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters, so a name's `/`, `:` or `'` stays
/// inside its one path segment and a signed path is exactly the one sent.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub use crate::error_chain;

/// The pairs of a connection string `Key=Value;Key=Value;...` as Azure services write them:
/// empty parts skipped, keys trimmed and lower-cased (they are case-insensitive), values
/// trimmed and split at the first `=` only (base64 keys end in `=`). A part without `=` is the
/// error, for the plugin to word: it may be a pasted secret, so each plugin decides how much of
/// it a message may quote.
pub fn connection_string_pairs(text: &str) -> Result<Vec<(String, &str)>, &str> {
    text.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| {
            part.split_once('=')
                .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim()))
                .ok_or(part)
        })
        .collect()
}

/// The connection string to use for one token: `connection` is the plugin's parsed
/// connection-string variable (`None` when unset); it is used when `serves` says it is for the
/// token's account or store, else (`Ok(None)`) the token goes to its cloud endpoint with an
/// Entra ID token. A connection string that did not parse fails every token, so that a typo is
/// not silently replaced by another way of signing in.
pub fn serving<C>(
    connection: &Option<Result<C, String>>,
    serves: impl FnOnce(&C) -> bool,
) -> Result<Option<&C>, StoreError> {
    match connection {
        Some(Err(e)) => Err(StoreError::client_initialization(e)),
        Some(Ok(c)) if serves(c) => Ok(Some(c)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        assert_eq!(percent_encode("a-b.c_d~e09AZ"), "a-b.c_d~e09AZ");
        assert_eq!(
            percent_encode("app:db/url it's é"),
            "app%3Adb%2Furl%20it%27s%20%C3%A9"
        );
    }

    /// An error with a message and an optional cause, as reqwest's and hyper's are built.
    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn error_chains_name_every_cause() {
        let error = Layer(
            "error sending request",
            Some(Box::new(Layer(
                "client error (Connect)",
                Some(Box::new(Layer("Connection refused", None))),
            ))),
        );
        assert_eq!(
            error_chain(&error),
            "error sending request: client error (Connect): Connection refused"
        );
        assert_eq!(error_chain(&Layer("alone", None)), "alone");
    }

    #[test]
    fn connection_strings_split_into_pairs() {
        assert_eq!(
            connection_string_pairs(" Endpoint=https://s.azconfig.io/ ; ID=a:b ; Secret=c2Vj= ;;")
                .unwrap(),
            [
                ("endpoint".to_string(), "https://s.azconfig.io/"),
                ("id".to_string(), "a:b"),
                ("secret".to_string(), "c2Vj="),
            ]
        );
        assert_eq!(connection_string_pairs("").unwrap(), []);
        assert_eq!(
            connection_string_pairs("AccountName=a; junk ;AccountKey=k").unwrap_err(),
            "junk"
        );
    }

    #[test]
    fn a_connection_string_serves_what_it_is_for() {
        let unset: Option<Result<String, String>> = None;
        assert_eq!(serving(&unset, |_| true).unwrap(), None);
        let set = Some(Ok("acct".to_string()));
        assert_eq!(
            serving(&set, |c| c == "acct").unwrap(),
            Some(&"acct".to_string())
        );
        assert_eq!(serving(&set, |c| c == "other").unwrap(), None);
        let broken: Option<Result<String, String>> = Some(Err("bad string".into()));
        assert_eq!(
            serving(&broken, |_| true).unwrap_err().message(),
            "failed to initialize the client: bad string"
        );
    }
}
