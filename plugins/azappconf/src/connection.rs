//! App Configuration connection strings (`AZURE_APPCONFIG_CONNECTION_STRING`), as the portal's
//! "Access settings" page shows them: `Endpoint=https://STORE.azconfig.io;Id=...;Secret=...`.
//! Where the store is and the access key to sign with. Pure: no I/O.

use base64::Engine as _;
use cm_plugin_common::azure::connection_string_pairs;

/// A parsed connection string.
#[derive(Clone, PartialEq, Eq)]
pub struct Connection {
    /// `scheme://host[:port]`, no trailing `/`.
    pub endpoint: String,
    /// The access key's id (the HMAC `Credential`).
    pub id: String,
    /// The access key's secret, base64-decoded (the HMAC key).
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Connection {{ endpoint: {:?}, id: {:?}, secret: <redacted> }}",
            self.endpoint, self.id
        )
    }
}

impl Connection {
    /// Parses `Key=Value;...` (keys case-insensitive, values may hold `=`, as base64 secrets do).
    /// The error never quotes the secret.
    pub fn parse(text: &str) -> Result<Connection, String> {
        let (mut endpoint, mut id, mut secret) = (None, None, None);
        let pairs = connection_string_pairs(text).map_err(|part| {
            format!(
                "connection string part {:?} is not Key=Value",
                part.chars().take(20).collect::<String>()
            )
        })?;
        for (name, value) in pairs {
            let value = value.to_string();
            match name.as_str() {
                "endpoint" => endpoint = Some(value),
                "id" => id = Some(value),
                "secret" => secret = Some(value),
                _ => {}
            }
        }
        let endpoint = endpoint
            .filter(|e| !e.is_empty())
            .ok_or("connection string has no Endpoint")?;
        let id = id
            .filter(|i| !i.is_empty())
            .ok_or("connection string has no Id")?;
        let secret = secret
            .filter(|s| !s.is_empty())
            .ok_or("connection string has no Secret")?;
        let secret = base64::engine::general_purpose::STANDARD
            .decode(secret.as_bytes())
            .map_err(|_| "connection string Secret is not base64".to_string())?;
        Ok(Connection {
            endpoint: check_endpoint(&endpoint)?,
            id,
            secret,
        })
    }

    /// Whether this connection string is for `store`: its endpoint's host is `STORE.<anything>`
    /// (an access key belongs to one store, so signing another store's request with it could
    /// only be refused), or its host is an IP address or `localhost`, which names no store (a
    /// tunnel, a test fake), and then it serves every token.
    pub fn serves(&self, store: &str) -> bool {
        let host = host_of(&self.endpoint);
        let literal = host.starts_with('[')
            || host.parse::<std::net::IpAddr>().is_ok()
            || host.eq_ignore_ascii_case("localhost");
        literal
            || host
                .split('.')
                .next()
                .is_some_and(|label| label.eq_ignore_ascii_case(store))
    }
}

/// `scheme://authority` with `scheme` http or https and nothing after the authority but `/`.
fn check_endpoint(endpoint: &str) -> Result<String, String> {
    let bad = || format!("connection string Endpoint {endpoint:?} is not http(s)://HOST[:PORT]");
    let url = reqwest::Url::parse(endpoint).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none_or(str::is_empty)
        || url.path() != "/"
        || url.query().is_some()
        || !url.username().is_empty()
    {
        return Err(bad());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// The host of a checked endpoint (IPv6 in brackets).
fn host_of(endpoint: &str) -> &str {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    if rest.starts_with('[') {
        return rest.split_inclusive(']').next().unwrap_or(rest);
    }
    rest.split(':').next().unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_string() {
        let c = Connection::parse(
            "Endpoint=https://mystore.azconfig.io;Id=AbCd-l0-s0:xyz;Secret=c2VjcmV0LWJ5dGVz=",
        );
        // The trailing `=` after padding makes it invalid base64: the error says so, no secret.
        assert_eq!(c.unwrap_err(), "connection string Secret is not base64");
        let c = Connection::parse(
            " endpoint=https://mystore.azconfig.io/ ; ID=AbCd-l0-s0:xyz ; Secret=c2VjcmV0LWJ5dGVz ;",
        )
        .unwrap();
        assert_eq!(c.endpoint, "https://mystore.azconfig.io");
        assert_eq!(c.id, "AbCd-l0-s0:xyz");
        assert_eq!(c.secret, b"secret-bytes");
        assert_eq!(
            format!("{c:?}"),
            "Connection { endpoint: \"https://mystore.azconfig.io\", id: \"AbCd-l0-s0:xyz\", secret: <redacted> }"
        );
        assert!(c.serves("mystore"));
        assert!(c.serves("MyStore"), "store names are host names: any case");
        assert!(!c.serves("other"));
        assert!(!c.serves("mystore.azconfig"));
    }

    #[test]
    fn literal_hosts_serve_every_store() {
        for endpoint in [
            "http://127.0.0.1:41234",
            "http://localhost:8080/",
            "https://[::1]:8443",
        ] {
            let c = Connection::parse(&format!("Endpoint={endpoint};Id=i;Secret=a2V5")).unwrap();
            assert!(c.serves("anystore"), "{endpoint}");
        }
        let c = Connection::parse("Endpoint=https://[::1]:8443;Id=i;Secret=a2V5").unwrap();
        assert_eq!(c.endpoint, "https://[::1]:8443");
    }

    #[test]
    fn broken_strings_are_explained() {
        assert_eq!(
            Connection::parse("Id=i;Secret=a2V5").unwrap_err(),
            "connection string has no Endpoint"
        );
        assert_eq!(
            Connection::parse("Endpoint=https://s.azconfig.io;Secret=a2V5").unwrap_err(),
            "connection string has no Id"
        );
        assert_eq!(
            Connection::parse("Endpoint=https://s.azconfig.io;Id=i").unwrap_err(),
            "connection string has no Secret"
        );
        assert_eq!(
            Connection::parse("Endpoint=https://s.azconfig.io;Id=i;junk").unwrap_err(),
            "connection string part \"junk\" is not Key=Value"
        );
        for endpoint in [
            "s.azconfig.io",
            "ftp://s.azconfig.io",
            "https://s.azconfig.io/kv",
            "https://s.azconfig.io?x=1",
        ] {
            assert_eq!(
                Connection::parse(&format!("Endpoint={endpoint};Id=i;Secret=a2V5")).unwrap_err(),
                format!("connection string Endpoint {endpoint:?} is not http(s)://HOST[:PORT]")
            );
        }
    }
}
