//! Where the calls go, from the environment: an emulator (plain HTTP, no credentials), another
//! endpoint (with credentials), or the client library's default. Pure: the caller reads the
//! variables.

use std::net::IpAddr;

/// `HOST:PORT` of an emulator, GCP's `*_EMULATOR_HOST` convention: plain HTTP, no credentials.
pub const EMULATOR_HOST_VAR: &str = "SECRET_MANAGER_EMULATOR_HOST";
/// Another endpoint (private, restricted, regional, Private Service Connect), with credentials.
pub const ENDPOINT_VAR: &str = "GCPSECRETS_ENDPOINT";

/// Where the client sends its calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `http://HOST:PORT` without credentials.
    Emulator(String),
    /// This endpoint URL, with Application Default Credentials.
    Endpoint(String),
    /// The client library's endpoint (`https://secretmanager.googleapis.com`, or the universe
    /// domain's) with Application Default Credentials.
    Default,
}

impl Target {
    /// From the values of [`EMULATOR_HOST_VAR`] and [`ENDPOINT_VAR`] (unset or blank values
    /// count as absent). The emulator wins, as in Google's own clients.
    pub fn from_vars(
        emulator_host: Option<&str>,
        endpoint: Option<&str>,
    ) -> Result<Target, String> {
        if let Some(host) = present(emulator_host) {
            return emulator_url(host).map(Target::Emulator).ok_or_else(|| {
                format!("{EMULATOR_HOST_VAR} must be HOST:PORT (plain HTTP), not {host:?}")
            });
        }
        if let Some(url) = present(endpoint) {
            return endpoint_url(url).map(Target::Endpoint).ok_or_else(|| {
                format!(
                    "{ENDPOINT_VAR} must be an https:// URL (http:// only for a loopback host), not {url:?}"
                )
            });
        }
        Ok(Target::Default)
    }
}

/// A variable's value, trimmed, unless unset or blank.
fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// `http://HOST:PORT` for `HOST:PORT` (an `http://` in front and a `/` behind are tolerated).
fn emulator_url(value: &str) -> Option<String> {
    let authority = value.strip_prefix("http://").unwrap_or(value);
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    let (host, port) = authority.rsplit_once(':')?;
    let valid_host = !host.is_empty() && !host.contains(['/', '@', '?', '#', ' ']);
    (valid_host && port.parse::<u16>().is_ok()).then(|| format!("http://{authority}"))
}

/// The endpoint URL if it is https, or http to a loopback host.
fn endpoint_url(value: &str) -> Option<String> {
    let (scheme, rest) = value.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host_of(authority)?;
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Some(value.to_string()),
        "http" if is_loopback(host) => Some(value.to_string()),
        _ => None,
    }
}

/// The host of `HOST[:PORT]` or `[V6][:PORT]`; `None` when empty or with user info.
fn host_of(authority: &str) -> Option<&str> {
    if authority.contains('@') {
        return None;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']')?.0
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    (!host.is_empty()).then_some(host)
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emulator_wins_and_speaks_plain_http() {
        assert_eq!(
            Target::from_vars(Some("127.0.0.1:8085"), Some("https://x.example")),
            Ok(Target::Emulator("http://127.0.0.1:8085".into()))
        );
        assert_eq!(
            Target::from_vars(Some("http://emulator:9090/"), None),
            Ok(Target::Emulator("http://emulator:9090".into()))
        );
        assert_eq!(
            Target::from_vars(Some("[::1]:9090"), None),
            Ok(Target::Emulator("http://[::1]:9090".into()))
        );
        for bad in ["localhost", "https://h:1", "h:port", ":8080", "h:1/x"] {
            assert_eq!(
                Target::from_vars(Some(bad), None),
                Err(format!(
                    "SECRET_MANAGER_EMULATOR_HOST must be HOST:PORT (plain HTTP), not {bad:?}"
                )),
                "{bad}"
            );
        }
    }

    #[test]
    fn endpoints_must_be_https_unless_on_loopback() {
        for ok in [
            "https://private.googleapis.com",
            "https://secretmanager.europe-west1.rep.googleapis.com/",
            "HTTPS://10.0.0.5:443",
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:8443/base",
        ] {
            assert_eq!(
                Target::from_vars(None, Some(ok)),
                Ok(Target::Endpoint(ok.into())),
                "{ok}"
            );
        }
        for bad in [
            "http://10.0.0.5:8080",
            "http://secretmanager.googleapis.com",
            "secretmanager.googleapis.com",
            "ftp://127.0.0.1",
            "https://",
            "http://user@127.0.0.1:1",
        ] {
            assert!(Target::from_vars(None, Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn blank_values_count_as_unset() {
        assert_eq!(Target::from_vars(Some(" "), Some("")), Ok(Target::Default));
        assert_eq!(Target::from_vars(None, None), Ok(Target::Default));
    }
}
