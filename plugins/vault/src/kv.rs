//! The KV version 2 read, `GET /v1/MOUNT/data/SECRET[?version=N]`, and what its answers mean:
//! the secret's data, or a refusal worded with Vault's own reason. Pure apart from [`read`] and
//! [`mount_version`], which send.

use serde::Deserialize;
use serde_json::value::RawValue;

use cm_plugin_common::FetchError;

use crate::Address;
use crate::settings::Settings;

/// One read. (No `Debug`: it holds the token.)
pub struct Read<'a> {
    /// Mount and secret path.
    pub address: &'a Address<'a>,
    /// `None`: the latest version.
    pub version: Option<u64>,
    /// The Vault token, if any.
    pub token: Option<&'a str>,
}

/// `{addr}/v1/{mount}/data/{secret}[?version=N]`, each path segment percent-encoded.
pub fn data_url(addr: &str, address: &Address<'_>, version: Option<u64>) -> String {
    let mut url = format!(
        "{addr}/v1/{}/data/{}",
        encode_path(address.mount),
        encode_path(address.secret)
    );
    if let Some(v) = version {
        url.push_str(&format!("?version={v}"));
    }
    url
}

/// Percent-encodes all but RFC 3986's unreserved characters and the `/` between segments.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The parts of a KV v2 answer the plugin reads.
#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(borrow)]
    data: Option<Secret<'a>>,
    errors: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Secret<'a> {
    /// Absent in a KV v1 answer, `null` for a deleted or destroyed version.
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    metadata: Option<VersionMetadata>,
}

#[derive(Deserialize)]
struct VersionMetadata {
    #[serde(default)]
    deletion_time: String,
    #[serde(default)]
    destroyed: bool,
    version: Option<u64>,
}

/// What a KV v2 answer says.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The secret's data as JSON text, as Vault sent it.
    Found(String),
    /// A refusal or a failure to report.
    Failed(FetchError),
    /// A 404 (or a 200 without KV v2's shape) that might come from a KV version 1 mount: ask
    /// the mount's version before wording the error, which this is if it is KV v2 after all.
    MaybeKv1(FetchError),
}

/// Reads a KV v2 answer of status `status`.
pub fn outcome(status: u16, body: &[u8], read: &Read<'_>) -> Outcome {
    let Address { mount, secret } = read.address;
    let which = match read.version {
        Some(v) if v > 0 => format!("version {v} of secret {secret:?} in mount {mount:?}"),
        _ => format!("secret {secret:?} in mount {mount:?}"),
    };
    let answer: Option<Answer<'_>> = serde_json::from_slice(body).ok();
    let reasons = answer
        .as_ref()
        .and_then(|a| a.errors.as_ref())
        .map(|e| e.join("; "))
        .filter(|r| !r.is_empty());
    match (status, answer) {
        (200, Some(Answer { data: Some(s), .. })) => match s.data {
            Some(data) if data.get().starts_with('{') => Outcome::Found(data.get().to_string()),
            // A KV v1 mount has no `data.data`; a v1 secret whose value has a `data` field
            // that is no object lands here too.
            _ => Outcome::MaybeKv1(FetchError::Retrieve(format!(
                "{which}: the answer is not a KV version 2 secret"
            ))),
        },
        (200, _) => Outcome::Failed(FetchError::Implementation(format!(
            "{which}: the answer is not JSON with a data object"
        ))),
        (404, answer) => {
            // A deleted or destroyed version answers 404 with its metadata.
            let deleted = answer
                .as_ref()
                .and_then(|a| a.data.as_ref())
                .and_then(|s| s.metadata.as_ref())
                .filter(|m| m.destroyed || !m.deletion_time.is_empty());
            if let Some(m) = deleted {
                let what = if m.destroyed {
                    "was destroyed".to_string()
                } else {
                    format!("was deleted at {}", m.deletion_time)
                };
                let version = m
                    .version
                    .map(|v| format!("version {v} of "))
                    .unwrap_or_default();
                return Outcome::Failed(FetchError::Retrieve(format!(
                    "{version}secret {secret:?} in mount {mount:?} {what} (HTTP 404)"
                )));
            }
            match reasons {
                // "no handler for route ...": no such mount; Vault's words say it.
                Some(r) => {
                    Outcome::Failed(FetchError::Retrieve(format!("{which}: {r} (HTTP 404)")))
                }
                None => Outcome::MaybeKv1(FetchError::Retrieve(format!(
                    "{which} not found (HTTP 404)"
                ))),
            }
        }
        (403, _) => {
            let r = reasons.unwrap_or_else(|| "permission denied".to_string());
            let hint = if read.token.is_none() {
                " (no VAULT_TOKEN is set and there is no ~/.vault-token)"
            } else {
                ""
            };
            Outcome::Failed(FetchError::Retrieve(format!(
                "{which}: {r} (HTTP 403){hint}"
            )))
        }
        (status, _) => {
            let r = reasons.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
            Outcome::Failed(FetchError::Retrieve(format!(
                "{which}: {r} (HTTP {status})"
            )))
        }
    }
}

/// The message for a mount that turned out to be KV version 1.
pub fn kv1_error(mount: &str) -> FetchError {
    FetchError::Retrieve(format!(
        "mount {mount:?} is a KV version 1 secrets engine; VAULT tokens read KV version 2 mounts only"
    ))
}

/// The KV version of a mount from `GET /v1/sys/internal/ui/mounts/MOUNT` (what the vault CLI
/// asks too): `Some(1)`/`Some(2)` for a KV mount, `None` when it is not KV or the answer says
/// nothing (no permission to ask, an old server).
pub fn kv_version(status: u16, body: &[u8]) -> Option<u8> {
    if status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let data = v.get("data")?;
    if data.get("type")?.as_str()? != "kv" {
        return None;
    }
    // A KV mount created without options is version 1.
    match data
        .get("options")
        .and_then(|o| o.get("version"))
        .and_then(|v| v.as_str())
    {
        Some("2") => Some(2),
        Some("1") | Some("") | None => Some(1),
        Some(_) => None,
    }
}

/// A request with the headers every call carries.
pub fn request(
    http: &reqwest::Client,
    settings: &Settings,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    // X-Vault-Request: what the vault CLI sends; a Vault Agent with `require_request_header`
    // refuses requests without it.
    let mut request = http.request(method, url).header("X-Vault-Request", "true");
    if let Some(t) = token {
        request = request.header("X-Vault-Token", t);
    }
    if let Some(ns) = &settings.namespace {
        request = request.header("X-Vault-Namespace", ns);
    }
    request
}

/// Sends a request; the status and body, or a transport failure.
pub async fn send(request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), FetchError> {
    let response = request
        .send()
        .await
        .map_err(|e| FetchError::Implementation(error_chain(&e)))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| FetchError::Implementation(error_chain(&e)))?;
    Ok((status, body.to_vec()))
}

/// Reads one secret.
pub async fn read(
    http: &reqwest::Client,
    settings: &Settings,
    read: &Read<'_>,
) -> Result<String, FetchError> {
    let url = data_url(&settings.addr, read.address, read.version);
    let (status, body) = send(request(
        http,
        settings,
        reqwest::Method::GET,
        &url,
        read.token,
    ))
    .await?;
    match outcome(status, &body, read) {
        Outcome::Found(data) => Ok(data),
        Outcome::Failed(e) => Err(e),
        Outcome::MaybeKv1(e) => match mount_version(http, settings, read).await {
            Some(1) => Err(kv1_error(read.address.mount)),
            _ => Err(e),
        },
    }
}

/// The mount's KV version, if Vault says.
pub async fn mount_version(
    http: &reqwest::Client,
    settings: &Settings,
    read: &Read<'_>,
) -> Option<u8> {
    let url = format!(
        "{}/v1/sys/internal/ui/mounts/{}",
        settings.addr,
        encode_path(read.address.mount)
    );
    let (status, body) = send(request(
        http,
        settings,
        reqwest::Method::GET,
        &url,
        read.token,
    ))
    .await
    .ok()?;
    kv_version(status, &body)
}

pub use cm_plugin_common::error_chain;

#[cfg(test)]
mod tests {
    use super::*;

    const ADDRESS: Address<'static> = Address {
        mount: "secret",
        secret: "app/db",
    };

    fn read(version: Option<u64>) -> Read<'static> {
        Read {
            address: &ADDRESS,
            version,
            token: Some("t"),
        }
    }

    #[test]
    fn urls_encode_segments_and_carry_the_version() {
        assert_eq!(
            data_url("http://v:8200", &ADDRESS, None),
            "http://v:8200/v1/secret/data/app/db"
        );
        assert_eq!(
            data_url(
                "https://v/proxy",
                &Address {
                    mount: "kv team",
                    secret: "a b/c?d#é"
                },
                Some(2)
            ),
            "https://v/proxy/v1/kv%20team/data/a%20b/c%3Fd%23%C3%A9?version=2"
        );
    }

    #[test]
    fn the_data_map_is_returned_as_sent() {
        let body = br#"{"request_id":"x","data":{"data":{"pw":"p1","n":12345678901234567890123,"f":0.1},"metadata":{"version":1,"deletion_time":"","destroyed":false}},"errors":null}"#;
        assert_eq!(
            outcome(200, body, &read(Some(1))),
            Outcome::Found(r#"{"pw":"p1","n":12345678901234567890123,"f":0.1}"#.into())
        );
    }

    #[test]
    fn not_found_asks_about_kv1_first() {
        assert_eq!(
            outcome(404, br#"{"errors":[]}"#, &read(None)),
            Outcome::MaybeKv1(FetchError::Retrieve(
                "secret \"app/db\" in mount \"secret\" not found (HTTP 404)".into()
            ))
        );
        assert_eq!(
            outcome(404, br#"{"errors":[]}"#, &read(Some(9))),
            Outcome::MaybeKv1(FetchError::Retrieve(
                "version 9 of secret \"app/db\" in mount \"secret\" not found (HTTP 404)".into()
            ))
        );
        // A KV v1 secret read at MOUNT/data/SECRET: 200 without data.data.
        assert!(matches!(
            outcome(200, br#"{"data":{"a":"b"}}"#, &read(None)),
            Outcome::MaybeKv1(_)
        ));
    }

    #[test]
    fn deleted_and_destroyed_versions() {
        let deleted = br#"{"data":{"data":null,"metadata":{"deletion_time":"2026-12-01T10:29:29Z","destroyed":false,"version":1}}}"#;
        assert_eq!(
            outcome(404, deleted, &read(Some(1))),
            Outcome::Failed(FetchError::Retrieve(
                "version 1 of secret \"app/db\" in mount \"secret\" was deleted at 2026-12-01T10:29:29Z (HTTP 404)".into()
            ))
        );
        let destroyed = br#"{"data":{"data":null,"metadata":{"deletion_time":"2026-12-01T10:29:29Z","destroyed":true,"version":3}}}"#;
        assert_eq!(
            outcome(404, destroyed, &read(None)),
            Outcome::Failed(FetchError::Retrieve(
                "version 3 of secret \"app/db\" in mount \"secret\" was destroyed (HTTP 404)"
                    .into()
            ))
        );
    }

    #[test]
    fn refusals_keep_vaults_reason() {
        assert_eq!(
            outcome(403, br#"{"errors":["permission denied"]}"#, &read(None)),
            Outcome::Failed(FetchError::Retrieve(
                "secret \"app/db\" in mount \"secret\": permission denied (HTTP 403)".into()
            ))
        );
        let anonymous = Read {
            token: None,
            ..read(None)
        };
        assert_eq!(
            outcome(403, br#"{"errors":["permission denied"]}"#, &anonymous),
            Outcome::Failed(FetchError::Retrieve(
                "secret \"app/db\" in mount \"secret\": permission denied (HTTP 403) (no VAULT_TOKEN is set and there is no ~/.vault-token)".into()
            ))
        );
        assert_eq!(
            outcome(
                404,
                br#"{"errors":["no handler for route \"nope/data/x\". route entry not found."]}"#,
                &read(None)
            ),
            Outcome::Failed(FetchError::Retrieve(
                "secret \"app/db\" in mount \"secret\": no handler for route \"nope/data/x\". route entry not found. (HTTP 404)".into()
            ))
        );
        assert_eq!(
            outcome(503, br#"{"errors":["Vault is sealed"]}"#, &read(None)),
            Outcome::Failed(FetchError::Retrieve(
                "secret \"app/db\" in mount \"secret\": Vault is sealed (HTTP 503)".into()
            ))
        );
        assert_eq!(
            outcome(502, b"Bad Gateway\n", &read(None)),
            Outcome::Failed(FetchError::Retrieve(
                "secret \"app/db\" in mount \"secret\": Bad Gateway (HTTP 502)".into()
            ))
        );
        assert!(matches!(
            outcome(200, b"<html>", &read(None)),
            Outcome::Failed(FetchError::Implementation(_))
        ));
    }

    #[test]
    fn mount_versions() {
        let v1 = br#"{"data":{"type":"kv","options":{"version":"1"},"path":"kv1/"}}"#;
        let v2 = br#"{"data":{"type":"kv","options":{"version":"2"},"path":"secret/"}}"#;
        let plain = br#"{"data":{"type":"kv","options":null,"path":"old/"}}"#;
        let other = br#"{"data":{"type":"pki","options":null}}"#;
        assert_eq!(kv_version(200, v1), Some(1));
        assert_eq!(kv_version(200, v2), Some(2));
        assert_eq!(kv_version(200, plain), Some(1));
        assert_eq!(kv_version(200, other), None);
        assert_eq!(kv_version(403, v1), None);
        assert_eq!(
            kv1_error("kv1").to_string(),
            "mount \"kv1\" is a KV version 1 secrets engine; VAULT tokens read KV version 2 mounts only"
        );
    }
}
