//! The one data-plane operation the plugin needs, Get Key-Value, over plain REST (no maintained
//! Rust crate covers App Configuration): the request's address, HMAC-SHA256 signing, and reading
//! the answer. Pure apart from [`get_key_value`], which sends.
//!
//! - Get Key-Value: `GET /kv/{key}?label={label}&api-version={api-version}`; no `label` means
//!   the key-value without a label
//!   (<https://learn.microsoft.com/en-us/azure/azure-app-configuration/rest-api-key-value>).
//! - HMAC: `x-ms-date`, `x-ms-content-sha256` (base64 SHA-256 of the body, empty here) and
//!   `Authorization: HMAC-SHA256 Credential={id}&SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={sig}`,
//!   `sig` = base64 HMAC-SHA256 with the decoded secret over
//!   `GET\n{path_and_query}\n{date};{host};{hash}`
//!   (<https://learn.microsoft.com/en-us/azure/azure-app-configuration/rest-api-authentication-hmac>).
//! - Errors: problem details `{"type","title","name","detail","status"}`
//!   (<https://learn.microsoft.com/en-us/azure/azure-app-configuration/rest-api-errors>); `401`s
//!   carry their reason in `WWW-Authenticate` (`error_description="..."`); `404` has no body.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

use cm_plugin_common::FetchError;
use cm_plugin_common::azure::{error_chain, percent_encode as encode};

/// The data-plane API version sent: GA since 2024 in every cloud and every Azure SDK.
pub const API_VERSION: &str = "2024-09-01";

/// The headers HMAC-SHA256 signs, in the order their values are joined.
pub const SIGNED_HEADERS: &str = "x-ms-date;host;x-ms-content-sha256";

/// `/kv/{key}?label={label}&api-version=...`, or without `label` for the key-value that has
/// none.
pub fn key_value_path(key: &str, label: Option<&str>) -> String {
    match label {
        Some(l) => format!(
            "/kv/{}?label={}&api-version={API_VERSION}",
            encode(key),
            encode(l)
        ),
        None => format!("/kv/{}?api-version={API_VERSION}", encode(key)),
    }
}

/// base64 SHA-256 of `body` (`x-ms-content-sha256`).
pub fn content_sha256(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body))
}

/// The parts of a request HMAC-SHA256 signs.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// `GET`, ...
    pub method: &'a str,
    /// The path and query as sent, percent-encoded.
    pub path_and_query: &'a str,
    /// The `x-ms-date` header (RFC 1123).
    pub date: &'a str,
    /// The `Host` header as sent: `host`, or `host:port` for a non-default port.
    pub host: &'a str,
    /// The `x-ms-content-sha256` header.
    pub content_hash: &'a str,
}

/// The `Authorization` header for `request`, signed with the access key `id`/`secret` (the
/// secret base64-decoded).
pub fn hmac_authorization(id: &str, secret: &[u8], request: &SignedRequest<'_>) -> String {
    let SignedRequest {
        method,
        path_and_query,
        date,
        host,
        content_hash,
    } = request;
    let to_sign = format!("{method}\n{path_and_query}\n{date};{host};{content_hash}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("HMAC-SHA256 Credential={id}&SignedHeaders={SIGNED_HEADERS}&Signature={signature}")
}

/// The `Host` header the HTTP client sends for `url`: the host, plus `:port` when the URL has a
/// non-default one (the URL type drops default ports, as the client does).
pub fn host_header(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// `If-None-Match` for the etag a user wrote: as it is when already quoted (`"abc"`,
/// `W/"abc"`), else quoted (the service's JSON `etag` field is bare, its header quoted).
pub fn entity_tag(etag: &str) -> String {
    if etag.starts_with('"') || etag.starts_with("W/\"") {
        etag.to_string()
    } else {
        format!("\"{etag}\"")
    }
}

/// What one lookup asks for, for requests and messages.
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    /// The store's name, for messages.
    pub store: &'a str,
    /// The key, decoded.
    pub key: &'a str,
    /// The label; `None` is the key-value without a label.
    pub label: Option<&'a str>,
    /// configmanager's `etag` metadata: read only if the key-value changed since.
    pub etag: Option<&'a str>,
}

impl Lookup<'_> {
    /// `key "K" with label "L" in store "S"` / `... with no label ...`.
    fn describe(&self) -> String {
        let label = match self.label {
            Some(l) => format!("with label {l:?}"),
            None => "with no label".to_string(),
        };
        format!("key {:?} {label} in store {:?}", self.key, self.store)
    }
}

/// The key-value's `value`: a string as it is (a Key Vault reference or a feature flag is JSON
/// text, returned as it is), `null` as empty (the caller refuses empty values).
pub fn value_of(body: &[u8]) -> Result<String, FetchError> {
    let kv: Value = serde_json::from_slice(body)
        .map_err(|e| FetchError::Implementation(format!("the key-value is not JSON: {e}")))?;
    match kv.get("value") {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Null) | None => Ok(String::new()),
        Some(other) => Err(FetchError::Implementation(format!(
            "the key-value's value is not a string: {other}"
        ))),
    }
}

/// The service's refusal of `lookup`, keeping the service's own words.
pub fn service_error(
    status: reqwest::StatusCode,
    www_authenticate: Option<&str>,
    body: &[u8],
    lookup: &Lookup<'_>,
) -> FetchError {
    let reason = match status.as_u16() {
        304 => format!(
            "{} has not changed since etag {} (HTTP {status}): with [etag=...] a value is read only when it has changed, as in configmanager",
            lookup.describe(),
            entity_tag(lookup.etag.unwrap_or_default())
        ),
        404 if body.iter().all(u8::is_ascii_whitespace) => {
            format!("{} not found (HTTP {status})", lookup.describe())
        }
        401 => {
            let why = www_authenticate
                .and_then(error_description)
                .map(str::to_string)
                .or_else(|| problem(body))
                .unwrap_or_else(|| {
                    format!(
                        "no accepted credentials (WWW-Authenticate: {})",
                        www_authenticate.unwrap_or("none")
                    )
                });
            format!("authentication refused: {why} (HTTP {status})")
        }
        _ => {
            let text = problem(body).unwrap_or_else(|| {
                let text = String::from_utf8_lossy(body).trim().to_string();
                if text.is_empty() {
                    status
                        .canonical_reason()
                        .unwrap_or("no reason given")
                        .into()
                } else {
                    text
                }
            });
            format!("{text} (HTTP {status})")
        }
    };
    FetchError::Retrieve(reason)
}

/// `title: detail` of a problem+json body (either alone when the other is missing).
fn problem(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let field = |name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    match (field("title"), field("detail")) {
        (Some(t), Some(d)) => Some(format!("{t}: {d}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_string()),
        (None, None) => None,
    }
}

/// The `error_description="..."` of a `WWW-Authenticate` header.
fn error_description(header: &str) -> Option<&str> {
    let start = header.find("error_description=\"")? + "error_description=\"".len();
    let len = header[start..].find('"')?;
    Some(&header[start..start + len]).filter(|d| !d.is_empty())
}

/// How a request is authorised.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    /// HMAC-SHA256 with an access key.
    Hmac {
        /// The access key id.
        id: &'a str,
        /// The decoded secret.
        secret: &'a [u8],
    },
    /// `Authorization: Bearer <Entra ID token>`.
    Bearer(&'a str),
}

/// Sends Get Key-Value to `endpoint` (`scheme://host[:port]`) and returns the value.
pub async fn get_key_value(
    http: &reqwest::Client,
    endpoint: &str,
    auth: Auth<'_>,
    lookup: &Lookup<'_>,
) -> Result<String, FetchError> {
    let path_and_query = key_value_path(lookup.key, lookup.label);
    let address = format!("{endpoint}{path_and_query}");
    let url = reqwest::Url::parse(&address).map_err(|e| {
        FetchError::Implementation(format!("bad App Configuration address {address:?}: {e}"))
    })?;
    let mut attempt = 1;
    loop {
        // Signed anew for each attempt: the date is part of the signature.
        let response = request(http, &url, auth, lookup)
            .send()
            .await
            .map_err(|e| FetchError::Implementation(error_chain(&e)))?;
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let www_authenticate = header("www-authenticate");
        let retry_after = header("retry-after-ms");
        let body = response
            .bytes()
            .await
            .map_err(|e| FetchError::Implementation(error_chain(&e)))?;
        if status == reqwest::StatusCode::OK {
            return value_of(&body);
        }
        if let Some(wait) = retry_wait(status, retry_after.as_deref(), attempt) {
            tokio::time::sleep(wait).await;
            attempt += 1;
            continue;
        }
        return Err(service_error(
            status,
            www_authenticate.as_deref(),
            &body,
            lookup,
        ));
    }
}

/// How many times a throttled or unavailable request is sent in all.
pub const ATTEMPTS: u32 = 3;

/// Whether to send again after `status`, and after how long. The throttling page asks clients
/// to retry `429 Too Many Requests` and `503 Service Unavailable` after the `retry-after-ms`
/// they carry
/// (<https://learn.microsoft.com/en-us/azure/azure-app-configuration/rest-api-throttling>);
/// the wait is capped at 2 s and the attempts at [`ATTEMPTS`], so a template never hangs on a
/// store that stays busy.
pub fn retry_wait(
    status: reqwest::StatusCode,
    retry_after_ms: Option<&str>,
    attempt: u32,
) -> Option<std::time::Duration> {
    if attempt >= ATTEMPTS || !matches!(status.as_u16(), 429 | 503) {
        return None;
    }
    let ms = retry_after_ms
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(100 * u64::from(attempt));
    Some(std::time::Duration::from_millis(ms.min(2_000)))
}

/// One Get Key-Value request, authorised.
fn request(
    http: &reqwest::Client,
    url: &reqwest::Url,
    auth: Auth<'_>,
    lookup: &Lookup<'_>,
) -> reqwest::RequestBuilder {
    let mut request = http.get(url.clone()).header(
        "Accept",
        "application/vnd.microsoft.appconfig.kv+json, application/problem+json",
    );
    if let Some(etag) = lookup.etag {
        request = request.header("If-None-Match", entity_tag(etag));
    }
    match auth {
        Auth::Hmac { id, secret } => {
            let date = httpdate::fmt_http_date(std::time::SystemTime::now());
            let content_hash = content_sha256(b"");
            // Sign what is sent: the URL type may normalise, so read path and query back.
            let sent = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_string(),
            };
            let authorization = hmac_authorization(
                id,
                secret,
                &SignedRequest {
                    method: "GET",
                    path_and_query: &sent,
                    date: &date,
                    host: &host_header(url),
                    content_hash: &content_hash,
                },
            );
            request
                .header("x-ms-date", date)
                .header("x-ms-content-sha256", content_hash)
                .header("Authorization", authorization)
        }
        Auth::Bearer(token) => request.header("Authorization", format!("Bearer {token}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(label: Option<&'a str>, etag: Option<&'a str>) -> Lookup<'a> {
        Lookup {
            store: "mystore",
            key: "app:db/url",
            label,
            etag,
        }
    }

    #[test]
    fn paths_encode_the_key_and_label_in_one_segment() {
        assert_eq!(
            key_value_path("app:db/url", None),
            format!("/kv/app%3Adb%2Furl?api-version={API_VERSION}")
        );
        assert_eq!(
            key_value_path("a b&c=d+é", Some("prod/eu,1")),
            format!("/kv/a%20b%26c%3Dd%2B%C3%A9?label=prod%2Feu%2C1&api-version={API_VERSION}")
        );
        // What the URL type sends back is what was built: the signature covers it exactly.
        let url = reqwest::Url::parse(&format!(
            "https://s.azconfig.io{}",
            key_value_path("a b&c=d+é~.", Some("x"))
        ))
        .unwrap();
        assert_eq!(
            format!("{}?{}", url.path(), url.query().unwrap()),
            key_value_path("a b&c=d+é~.", Some("x"))
        );
    }

    #[test]
    fn host_headers() {
        let host = |u: &str| host_header(&reqwest::Url::parse(u).unwrap());
        assert_eq!(host("https://s.azconfig.io/kv/x"), "s.azconfig.io");
        assert_eq!(host("https://s.azconfig.io:443/kv/x"), "s.azconfig.io");
        assert_eq!(host("http://127.0.0.1:4444/kv/x"), "127.0.0.1:4444");
        assert_eq!(host("http://127.0.0.1:80/kv/x"), "127.0.0.1");
    }

    #[test]
    fn empty_body_hash() {
        assert_eq!(
            content_sha256(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn hmac_signature_matches_a_known_answer() {
        // Computed independently of this code:
        // printf 'GET\n/kv/app%%3Adb%%2Furl?api-version=2024-09-01\nTue, 01 Dec 2026 10:00:00 GMT;mystore.azconfig.io;47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' \
        //   | openssl dgst -sha256 -mac HMAC -macopt key:secret-bytes -binary | base64
        let auth = hmac_authorization(
            "AbCd-l0-s0:xyz",
            b"secret-bytes",
            &SignedRequest {
                method: "GET",
                path_and_query: "/kv/app%3Adb%2Furl?api-version=2024-09-01",
                date: "Tue, 01 Dec 2026 10:00:00 GMT",
                host: "mystore.azconfig.io",
                content_hash: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            },
        );
        assert_eq!(
            auth,
            format!(
                "HMAC-SHA256 Credential=AbCd-l0-s0:xyz&SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={KNOWN_SIGNATURE}"
            )
        );
    }

    const KNOWN_SIGNATURE: &str = "DuBfRjgDwsDciXZY3OM5uc+zhFvSFLngJoXucRtQsRs=";

    #[test]
    fn throttled_and_unavailable_answers_are_retried_a_little() {
        let status = |n| reqwest::StatusCode::from_u16(n).unwrap();
        let ms = std::time::Duration::from_millis;
        assert_eq!(retry_wait(status(429), Some("10"), 1), Some(ms(10)));
        assert_eq!(retry_wait(status(503), Some("787"), 2), Some(ms(787)));
        assert_eq!(retry_wait(status(429), Some("60000"), 1), Some(ms(2_000)));
        assert_eq!(retry_wait(status(503), None, 2), Some(ms(200)));
        assert_eq!(retry_wait(status(429), Some("10"), ATTEMPTS), None);
        for other in [400, 401, 404, 500, 502] {
            assert_eq!(retry_wait(status(other), Some("10"), 1), None, "{other}");
        }
    }

    #[test]
    fn etags_are_quoted_once() {
        assert_eq!(entity_tag("abc"), "\"abc\"");
        assert_eq!(entity_tag("\"abc\""), "\"abc\"");
        assert_eq!(entity_tag("W/\"abc\""), "W/\"abc\"");
    }

    #[test]
    fn values() {
        assert_eq!(
            value_of(br#"{"etag":"e","key":"k","label":null,"content_type":null,"value":"v","tags":{},"locked":false}"#)
                .unwrap(),
            "v"
        );
        let kv_ref = r#"{"uri":"https://v.vault.azure.net/secrets/db"}"#;
        let body = serde_json::json!({
            "key": "k",
            "content_type": "application/vnd.microsoft.appconfig.keyvaultref+json;charset=utf-8",
            "value": kv_ref,
        });
        assert_eq!(value_of(body.to_string().as_bytes()).unwrap(), kv_ref);
        assert_eq!(value_of(br#"{"key":"k","value":null}"#).unwrap(), "");
        assert!(matches!(
            value_of(b"<html>"),
            Err(FetchError::Implementation(_))
        ));
    }

    #[test]
    fn service_errors_keep_the_services_words() {
        let status = |n| reqwest::StatusCode::from_u16(n).unwrap();
        assert_eq!(
            service_error(status(404), None, b"", &lookup(None, None)),
            FetchError::Retrieve(
                "key \"app:db/url\" with no label in store \"mystore\" not found (HTTP 404 Not Found)"
                    .into()
            )
        );
        assert_eq!(
            service_error(status(404), None, b"", &lookup(Some("prod"), None)),
            FetchError::Retrieve(
                "key \"app:db/url\" with label \"prod\" in store \"mystore\" not found (HTTP 404 Not Found)"
                    .into()
            )
        );
        assert_eq!(
            service_error(
                status(401),
                Some(
                    "HMAC-SHA256 error=\"invalid_token\" error_description=\"Invalid Signature\", Bearer"
                ),
                b"",
                &lookup(None, None)
            ),
            FetchError::Retrieve(
                "authentication refused: Invalid Signature (HTTP 401 Unauthorized)".into()
            )
        );
        assert_eq!(
            service_error(status(401), Some("HMAC-SHA256, Bearer"), b"", &lookup(None, None)),
            FetchError::Retrieve(
                "authentication refused: no accepted credentials (WWW-Authenticate: HMAC-SHA256, Bearer) (HTTP 401 Unauthorized)".into()
            )
        );
        assert_eq!(
            service_error(status(304), None, b"", &lookup(None, Some("abc"))),
            FetchError::Retrieve(
                "key \"app:db/url\" with no label in store \"mystore\" has not changed since etag \"abc\" (HTTP 304 Not Modified): with [etag=...] a value is read only when it has changed, as in configmanager".into()
            )
        );
        let problem = br#"{"type":"https://azconfig.io/errors/invalid-argument","title":"Unsupported API version","name":"api-version","detail":"The HTTP resource does not support the API version '1'.","status":400}"#;
        assert_eq!(
            service_error(status(400), None, problem, &lookup(None, None)),
            FetchError::Retrieve(
                "Unsupported API version: The HTTP resource does not support the API version '1'. (HTTP 400 Bad Request)".into()
            )
        );
        let throttled = br#"{"type":"https://azconfig.io/errors/too-many-requests","title":"Resource utilization has surpassed the assigned quota","policy":"Total Requests","status":429}"#;
        assert_eq!(
            service_error(status(429), None, throttled, &lookup(None, None)),
            FetchError::Retrieve(
                "Resource utilization has surpassed the assigned quota (HTTP 429 Too Many Requests)"
                    .into()
            )
        );
        assert_eq!(
            service_error(status(403), None, b"", &lookup(None, None)),
            FetchError::Retrieve("Forbidden (HTTP 403 Forbidden)".into())
        );
    }
}
