//! [`FakeAppConf`]: a strict, in-process fake of the Azure App Configuration data-plane REST API
//! (the part the AZAPPCONF plugin uses: Get Key-Value), because no App Configuration emulator can
//! be installed. It follows Microsoft's documentation and refuses what it does not describe:
//!
//! - Key-values, <https://learn.microsoft.com/en-us/azure/azure-app-configuration/rest-api-key-value>:
//!   `GET /kv/{key}?label={label}&api-version={api-version}`; the key is one percent-encoded path
//!   segment (a `/` in a key is sent as `%2F`); `label` is optional and its absence (or `%00`)
//!   means the key-value without a label; `200` with `Content-Type:
//!   application/vnd.microsoft.appconfig.kv+json; charset=utf-8`, an `ETag` and `Last-Modified`
//!   header and the body `{"etag","key","label","content_type","value","tags","locked",
//!   "last_modified"}`; `404 Not Found` without a body when the key-value does not exist.
//!   Conditional reads: `If-None-Match` that matches gives `304 Not Modified`, `If-Match` that
//!   does not match gives `412 Precondition Failed` (RFC 7232 semantics, which the page cites).
//! - Versioning, <https://learn.microsoft.com/en-us/azure/azure-app-configuration/rest-api-versioning>:
//!   `api-version` is required; missing or unknown versions are `400` problem+json
//!   (`https://azconfig.io/errors/invalid-argument`, "API version is not specified" /
//!   "Unsupported API version"). The fake knows the GA versions `1.0`, `2023-10-01`,
//!   `2023-11-01`, `2024-09-01` and `2026-04-01`.
//! - HMAC authentication, <https://learn.microsoft.com/en-us/azure/azure-app-configuration/rest-api-authentication-hmac>:
//!   `Authorization: HMAC-SHA256 Credential={id}&SignedHeaders={names}&Signature={sig}`. The
//!   fake recomputes the signature from the request as it arrived (`METHOD\npath_and_query\n`
//!   then the values of the signed headers joined by `;`, the `Host` header as sent) with the
//!   secret of the credential, and refuses with `401` and the documented
//!   `WWW-Authenticate: HMAC-SHA256 error="invalid_token" error_description="...", Bearer`:
//!   a missing `Credential`/`SignedHeaders`/`Signature` ("X is required"), `SignedHeaders`
//!   without `x-ms-date` (or `date`), `host` or `x-ms-content-sha256` ("X is required as a
//!   signed header"), a signed header not sent ("Signed request header 'X' is not provided"), a
//!   bad date ("Invalid access token date") or one more than 15 minutes off ("The access token
//!   has expired"), an unknown credential or a `Host` that is not this store ("Invalid
//!   Credential"), and a wrong signature ("Invalid Signature"). A content hash that is not the
//!   body's SHA-256 is also "Invalid Signature": the page requires the hash but documents no
//!   error of its own for it. No `Authorization` (or another scheme) is
//!   `WWW-Authenticate: HMAC-SHA256, Bearer`.
//! - Entra ID (optional, [`FakeAppConf::start_https`]),
//!   <https://learn.microsoft.com/en-us/azure/azure-app-configuration/rest-api-authentication-azure-ad>:
//!   `Authorization: Bearer {token}` where the token was issued by a [`FakeEntra`](crate::FakeEntra)
//!   for the audience given; else `401` with `WWW-Authenticate: HMAC-SHA256, Bearer
//!   error="invalid_token", error_description="Authorization token failed validation"`.
//! - Errors, <https://learn.microsoft.com/en-us/azure/azure-app-configuration/rest-api-errors>:
//!   problem details (`application/problem+json`) with `type`, `title`, `name`, `detail`,
//!   `status`.
//!
//! Beyond the pages (the fake is stricter than the service may be, never looser): query
//! parameters other than `label` and `api-version`, or either one twice, are `400` "Invalid
//! request parameter"; an `If-Match`/`If-None-Match` that is not `*` or a list of quoted
//! entity tags is `400`; only `GET` is implemented (`405` otherwise); a raw `/` inside the key
//! segment is `404` (no such route), as the SDKs always encode it.
//!
//! - Throttling, <https://learn.microsoft.com/en-us/azure/azure-app-configuration/rest-api-throttling>:
//!   [`FakeAppConf::throttle_next`] makes the next requests `429` with `retry-after-ms` and the
//!   page's problem+json body.
//!
//! A missing key-value is `404` whatever the conditional headers say. Every request is recorded
//! ([`FakeAppConf::requests`]) with the status it got, so tests can count calls.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::fake_entra::EntraTokens;
use crate::http::{HttpsRequest, HttpsResponse, HttpsServer, TestCa, percent_decode_strict};

/// The data-plane API versions the fake accepts (GA versions listed by Azure's SDKs).
pub const APPCONF_API_VERSIONS: [&str; 5] = [
    "1.0",
    "2023-10-01",
    "2023-11-01",
    "2024-09-01",
    "2026-04-01",
];

/// How far `x-ms-date` may be from the fake's clock (the HMAC page: 15 minutes).
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// The credential id of the access key every fake store is created with.
pub const APPCONF_CREDENTIAL_ID: &str = "fake-read-key-0";

/// Its secret, base64 as the portal shows it (not a real key: 32 known bytes).
pub const APPCONF_SECRET: &str = "ZmFrZS1hcHAtY29uZmlndXJhdGlvbi1zZWNyZXQtMzI=";

/// A request as the fake saw it (no secrets: the `Authorization` header is not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConfRequest {
    /// `GET`, ...
    pub method: String,
    /// The path and query, percent-encoded as sent.
    pub path_and_query: String,
    /// The `If-Match` header, if any.
    pub if_match: Option<String>,
    /// The `If-None-Match` header, if any.
    pub if_none_match: Option<String>,
    /// The status the fake answered.
    pub status: u16,
}

#[derive(Debug, Clone)]
struct KeyValue {
    value: Option<String>,
    content_type: Option<String>,
    etag: String,
    last_modified: SystemTime,
}

#[derive(Default)]
struct State {
    /// (key, label) -> key-value; `None` is the null label.
    items: HashMap<(String, Option<String>), KeyValue>,
    /// Access key id -> decoded secret.
    credentials: HashMap<String, Vec<u8>>,
    /// Bearer tokens from a fake Entra ID, and the audience they must be for.
    entra: Option<(EntraTokens, String)>,
    requests: Vec<AppConfRequest>,
    next_etag: u64,
    /// How many of the next requests are throttled.
    throttle: usize,
}

/// The fake store. Serves until dropped.
pub struct FakeAppConf {
    url: String,
    host: String,
    state: Arc<Mutex<State>>,
    /// Kept only to be dropped with the fake, which stops it.
    _server: HttpsServer,
}

impl FakeAppConf {
    /// A store on `http://127.0.0.1:PORT` with the access key [`APPCONF_CREDENTIAL_ID`] /
    /// [`APPCONF_SECRET`].
    pub fn start() -> FakeAppConf {
        FakeAppConf::launch(None)
    }

    /// A store on `https://127.0.0.1:PORT` (certificate from `ca`, also valid for
    /// `*.azconfig.io` and the national clouds' suffixes) that also accepts bearer tokens
    /// `entra` issued for `audience` (e.g. `https://appconfig.azure.com`).
    pub fn start_https(ca: &TestCa, entra: EntraTokens, audience: &str) -> FakeAppConf {
        FakeAppConf::launch(Some((ca, entra, audience)))
    }

    fn launch(https: Option<(&TestCa, EntraTokens, &str)>) -> FakeAppConf {
        let state = FakeAppConf::new_state();
        // The address is known only once the server listens; the handler reads it from here.
        let own_host = Arc::new(OnceLock::<String>::new());
        let handler = {
            let (state, own_host) = (Arc::clone(&state), Arc::clone(&own_host));
            move |req: &HttpsRequest| {
                let host = own_host.get().map_or("", String::as_str);
                handle(&state, host, req, SystemTime::now())
            }
        };
        let server = match https {
            None => HttpsServer::start_plain(handler),
            Some((ca, entra, audience)) => {
                state.lock().expect("state").entra = Some((entra, audience.to_string()));
                // Reached as `https://STORE.azconfig.io:PORT` through the plugin's connect-to
                // address.
                let names = [
                    "*.azconfig.io",
                    "*.azconfig.azure.us",
                    "*.azconfig.azure.cn",
                ];
                HttpsServer::start(ca, &names, handler)
            }
        };
        let host = server.addr().to_string();
        own_host.set(host.clone()).expect("the host is set once");
        FakeAppConf {
            url: server.url(),
            host,
            state,
            _server: server,
        }
    }

    fn new_state() -> Arc<Mutex<State>> {
        let mut state = State::default();
        state.credentials.insert(
            APPCONF_CREDENTIAL_ID.to_string(),
            base64::engine::general_purpose::STANDARD
                .decode(APPCONF_SECRET)
                .expect("the fake secret is base64"),
        );
        Arc::new(Mutex::new(state))
    }

    /// `http://127.0.0.1:PORT` (or `https://`), no trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `127.0.0.1:PORT`, the `Host` the fake expects.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `Endpoint={url};Id={id};Secret={secret}`, as the portal's connection strings.
    pub fn connection_string(&self) -> String {
        format!(
            "Endpoint={};Id={APPCONF_CREDENTIAL_ID};Secret={APPCONF_SECRET}",
            self.url
        )
    }

    /// Creates or replaces `key` under `label` (`None`: no label) with a new etag, returned.
    pub fn set(&self, key: &str, label: Option<&str>, value: &str) -> String {
        self.set_full(key, label, Some(value), None)
    }

    /// [`set`](FakeAppConf::set) with a content type, and a value that may be `null`.
    pub fn set_full(
        &self,
        key: &str,
        label: Option<&str>,
        value: Option<&str>,
        content_type: Option<&str>,
    ) -> String {
        let mut state = self.state.lock().expect("state");
        state.next_etag += 1;
        // Opaque like the service's (base64url of a hash); unique per write.
        let etag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(
            format!("{key}\0{label:?}\0{}", state.next_etag),
        ));
        state.items.insert(
            (key.to_string(), label.map(str::to_string)),
            KeyValue {
                value: value.map(str::to_string),
                content_type: content_type.map(str::to_string),
                etag: etag.clone(),
                last_modified: SystemTime::now(),
            },
        );
        etag
    }

    /// Answers the next `n` requests with the throttling page's `429 Too Many Requests`
    /// (`retry-after-ms: 10` and its problem+json body).
    pub fn throttle_next(&self, n: usize) {
        self.state.lock().expect("state").throttle = n;
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<AppConfRequest> {
        self.state.lock().expect("state").requests.clone()
    }

    /// How many requests so far.
    pub fn request_count(&self) -> usize {
        self.state.lock().expect("state").requests.len()
    }

    /// Forgets the recorded requests.
    pub fn reset_requests(&self) {
        self.state.lock().expect("state").requests.clear();
    }
}

/// Answers one request and records it.
fn handle(
    state: &Mutex<State>,
    own_host: &str,
    req: &HttpsRequest,
    now: SystemTime,
) -> HttpsResponse {
    let mut state = state.lock().expect("state");
    let resp = if state.throttle > 0 {
        state.throttle -= 1;
        throttled()
    } else {
        answer(&state, own_host, req, now)
    };
    state.requests.push(AppConfRequest {
        method: req.method.clone(),
        path_and_query: req.path_and_query(),
        if_match: req.header("if-match").map(str::to_string),
        if_none_match: req.header("if-none-match").map(str::to_string),
        status: resp.status,
    });
    resp
}

fn answer(state: &State, own_host: &str, req: &HttpsRequest, now: SystemTime) -> HttpsResponse {
    let Some(raw_key) = req.path.strip_prefix("/kv/") else {
        return HttpsResponse::empty(404);
    };
    // One segment: the SDKs percent-encode `/` in keys, so a raw one is another route.
    if raw_key.is_empty() || raw_key.contains('/') {
        return HttpsResponse::empty(404);
    }
    if req.method != "GET" {
        return HttpsResponse::empty(405).with_header("allow", "GET");
    }
    if let Err(refusal) = authenticate(state, own_host, req, now) {
        return refusal;
    }
    let Some(key) = percent_decode_strict(raw_key.as_bytes()) else {
        return invalid_argument(
            "key",
            "Invalid key",
            "The key is not correctly percent-encoded.",
        );
    };
    let query = match Query::parse(req.query.as_deref().unwrap_or("")) {
        Ok(q) => q,
        Err(resp) => return resp,
    };
    match query.api_version.as_deref() {
        None => {
            return invalid_argument(
                "api-version",
                "API version is not specified",
                "An API version is required, but was not specified.",
            );
        }
        Some(v) if !APPCONF_API_VERSIONS.contains(&v) => {
            return invalid_argument(
                "api-version",
                "Unsupported API version",
                &format!(
                    "The HTTP resource that matches the request URI '{}' does not support the API version '{v}'.",
                    req.path
                ),
            );
        }
        Some(_) => {}
    }
    // `%00` (the documented "\0") and an empty label both name the null label.
    let label = query.label.filter(|l| !l.is_empty() && l != "\0");
    let Some(kv) = state.items.get(&(key.clone(), label.clone())) else {
        return HttpsResponse::empty(404);
    };
    for (header, wanted) in [("if-match", true), ("if-none-match", false)] {
        let Some(value) = req.header(header) else {
            continue;
        };
        let Some(tags) = entity_tags(value) else {
            return invalid_argument(
                header,
                &format!("Invalid request header '{header}'"),
                "Expected '*' or a list of quoted entity tags.",
            );
        };
        let matches = tags.iter().any(|t| t == "*" || *t == kv.etag);
        if wanted && !matches {
            return HttpsResponse::empty(412);
        }
        if !wanted && matches {
            return HttpsResponse::empty(304).with_header("etag", &format!("\"{}\"", kv.etag));
        }
    }
    let body = serde_json::json!({
        "etag": kv.etag,
        "key": key,
        "label": label,
        "content_type": kv.content_type,
        "value": kv.value,
        "tags": {},
        "locked": false,
        "last_modified": iso8601(kv.last_modified),
    });
    HttpsResponse::json_as(
        200,
        "application/vnd.microsoft.appconfig.kv+json; charset=utf-8",
        &body,
    )
    .with_header("etag", &format!("\"{}\"", kv.etag))
    .with_header("last-modified", &httpdate::fmt_http_date(kv.last_modified))
}

/// `Ok` or the 401 the service sends.
fn authenticate(
    state: &State,
    own_host: &str,
    req: &HttpsRequest,
    now: SystemTime,
) -> Result<(), HttpsResponse> {
    let authorization = req.header("authorization").unwrap_or("");
    if let Some(token) = authorization.strip_prefix("Bearer ") {
        let audience_ok = state.entra.as_ref().is_some_and(|(tokens, audience)| {
            tokens
                .verify(Some(&format!("Bearer {token}")), audience)
                .is_ok()
        });
        return if audience_ok {
            Ok(())
        } else {
            Err(HttpsResponse::empty(401).with_header(
                "www-authenticate",
                "HMAC-SHA256, Bearer error=\"invalid_token\", error_description=\"Authorization token failed validation\"",
            ))
        };
    }
    let Some(params) = authorization.strip_prefix("HMAC-SHA256 ") else {
        return Err(
            HttpsResponse::empty(401).with_header("www-authenticate", "HMAC-SHA256, Bearer")
        );
    };
    let refuse = |description: &str| {
        HttpsResponse::empty(401).with_header(
            "www-authenticate",
            &format!(
                "HMAC-SHA256 error=\"invalid_token\" error_description=\"{description}\", Bearer"
            ),
        )
    };
    let mut parts = BTreeMap::new();
    for piece in params.split('&') {
        if let Some((name, value)) = piece.split_once('=') {
            parts.insert(name.trim(), value.trim());
        }
    }
    let mut get = |name: &str| {
        parts
            .remove(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| refuse(&format!("{name} is required")))
    };
    let credential = get("Credential")?;
    let signed_headers = get("SignedHeaders")?;
    let signature = get("Signature")?;
    let names: Vec<String> = signed_headers
        .split(';')
        .map(str::to_ascii_lowercase)
        .collect();
    let has = |n: &str| names.iter().any(|h| h == n);
    if !has("x-ms-date") && !has("date") {
        return Err(refuse("x-ms-date is required as a signed header"));
    }
    for required in ["host", "x-ms-content-sha256"] {
        if !has(required) {
            return Err(refuse(&format!(
                "{required} is required as a signed header"
            )));
        }
    }
    let mut values = Vec::new();
    for name in &names {
        match req.header(name) {
            Some(v) => values.push(v.to_string()),
            None => {
                return Err(refuse(&format!(
                    "Signed request header '{name}' is not provided"
                )));
            }
        }
    }
    // x-ms-date takes precedence over Date when both are sent.
    let date = req.header("x-ms-date").or_else(|| req.header("date"));
    let Some(date) = date.and_then(|d| httpdate::parse_http_date(d).ok()) else {
        return Err(refuse("Invalid access token date"));
    };
    let skew = now
        .duration_since(date)
        .or_else(|_| date.duration_since(now))
        .unwrap_or_default();
    if skew > MAX_SKEW {
        return Err(refuse("The access token has expired"));
    }
    let Some(secret) = state.credentials.get(credential) else {
        return Err(refuse("Invalid Credential"));
    };
    if req.header("host") != Some(own_host) {
        return Err(refuse("Invalid Credential"));
    }
    let body_hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&req.body));
    if req.header("x-ms-content-sha256") != Some(body_hash.as_str()) {
        return Err(refuse("Invalid Signature"));
    }
    let to_sign = format!(
        "{}\n{}\n{}",
        req.method,
        req.path_and_query(),
        values.join(";")
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(to_sign.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    if signature != expected {
        return Err(refuse("Invalid Signature"));
    }
    Ok(())
}

/// The query's two known parameters; anything else is refused.
struct Query {
    label: Option<String>,
    api_version: Option<String>,
}

impl Query {
    fn parse(query: &str) -> Result<Query, HttpsResponse> {
        let mut q = Query {
            label: None,
            api_version: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let name =
                percent_decode_strict(raw_name.as_bytes()).unwrap_or_else(|| raw_name.to_string());
            let slot = match name.as_str() {
                "label" => &mut q.label,
                "api-version" => &mut q.api_version,
                _ => {
                    return Err(invalid_argument(
                        &name,
                        &format!("Invalid request parameter '{name}'"),
                        "The parameter is not supported.",
                    ));
                }
            };
            let Some(value) = percent_decode_strict(raw_value.as_bytes()) else {
                return Err(invalid_argument(
                    &name,
                    &format!("Invalid request parameter '{name}'"),
                    "The value is not correctly percent-encoded.",
                ));
            };
            if slot.replace(value).is_some() {
                return Err(invalid_argument(
                    &name,
                    &format!("Invalid request parameter '{name}'"),
                    "The parameter is given more than once.",
                ));
            }
        }
        Ok(q)
    }
}

/// The errors' content type.
const PROBLEM_JSON: &str = "application/problem+json; charset=utf-8";

/// The throttling page's 429,
/// <https://learn.microsoft.com/en-us/azure/azure-app-configuration/rest-api-throttling>.
fn throttled() -> HttpsResponse {
    let body = serde_json::json!({
        "type": "https://azconfig.io/errors/too-many-requests",
        "title": "Resource utilization has surpassed the assigned quota",
        "policy": "Total Requests",
        "status": 429,
    });
    HttpsResponse::empty(429)
        .with_header("retry-after-ms", "10")
        .with_header("content-type", PROBLEM_JSON)
        .with_body(body.to_string())
}

/// A `400` problem+json of type `invalid-argument`.
fn invalid_argument(name: &str, title: &str, detail: &str) -> HttpsResponse {
    let body = serde_json::json!({
        "type": "https://azconfig.io/errors/invalid-argument",
        "title": title,
        "name": name,
        "detail": detail,
        "status": 400,
    });
    HttpsResponse::json_as(400, PROBLEM_JSON, &body)
}

/// `*`, or the opaque tags of `"a", W/"b"` (weak tags compare by their opaque part); `None` when
/// malformed.
fn entity_tags(header: &str) -> Option<Vec<String>> {
    if header.trim() == "*" {
        return Some(vec!["*".to_string()]);
    }
    header
        .split(',')
        .map(|t| {
            let t = t.trim();
            let t = t.strip_prefix("W/").unwrap_or(t);
            t.strip_prefix('"')?
                .strip_suffix('"')
                .filter(|inner| !inner.contains('"'))
                .map(str::to_string)
        })
        .collect()
}

/// `2026-01-02T03:04:05+00:00`, the service's `last_modified` format.
fn iso8601(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "127.0.0.1:4444";
    const EMPTY_SHA256: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    fn fake_state() -> Mutex<State> {
        let fake = FakeAppConf::new_state();
        let state = Arc::try_unwrap(fake).ok().expect("one owner");
        {
            let mut s = state.lock().unwrap();
            s.items.insert(
                ("app:db/url".into(), None),
                KeyValue {
                    value: Some("postgres://db".into()),
                    content_type: None,
                    etag: "etag-1".into(),
                    last_modified: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
                },
            );
            s.items.insert(
                ("app:db/url".into(), Some("prod".into())),
                KeyValue {
                    value: Some("postgres://prod".into()),
                    content_type: None,
                    etag: "etag-2".into(),
                    last_modified: SystemTime::UNIX_EPOCH,
                },
            );
        }
        state
    }

    /// A correctly signed GET, built independently of the fake's checking code path: the
    /// string to sign is written out by hand as the HMAC page shows it.
    fn signed(path_and_query: &str, date: &str) -> HttpsRequest {
        signed_to(HOST, path_and_query, date)
    }

    /// [`signed`] for a store at `host`.
    fn signed_to(host: &str, path_and_query: &str, date: &str) -> HttpsRequest {
        let secret = base64::engine::general_purpose::STANDARD
            .decode(APPCONF_SECRET)
            .unwrap();
        let to_sign = format!("GET\n{path_and_query}\n{date};{host};{EMPTY_SHA256}");
        let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
        mac.update(to_sign.as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        HttpsRequest::to("GET", path_and_query)
            .with_header("host", host)
            .with_header("x-ms-date", date)
            .with_header("x-ms-content-sha256", EMPTY_SHA256)
            .with_header(
                "authorization",
                &format!(
                    "HMAC-SHA256 Credential={APPCONF_CREDENTIAL_ID}&SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={sig}"
                ),
            )
    }

    fn now_and_date() -> (SystemTime, String) {
        let now = SystemTime::now();
        (now, httpdate::fmt_http_date(now))
    }

    fn set_header(req: &mut HttpsRequest, name: &str, value: Option<&str>) {
        req.headers.retain(|(n, _)| n != name);
        if let Some(v) = value {
            req.headers.push((name.to_string(), v.to_string()));
        }
    }

    fn www_authenticate(resp: &HttpsResponse) -> &str {
        resp.headers
            .iter()
            .find(|(n, _)| n == "www-authenticate")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    fn hmac_error(description: &str) -> String {
        format!("HMAC-SHA256 error=\"invalid_token\" error_description=\"{description}\", Bearer")
    }

    #[test]
    fn the_empty_body_hash_is_the_known_one() {
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"")),
            EMPTY_SHA256
        );
    }

    #[test]
    fn a_correctly_signed_request_reads_the_key_value() {
        let state = fake_state();
        let (now, date) = now_and_date();
        let req = signed("/kv/app%3Adb%2Furl?api-version=2024-09-01", &date);
        let resp = handle(&state, HOST, &req, now);
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "etag": "etag-1", "key": "app:db/url", "label": null, "content_type": null,
                "value": "postgres://db", "tags": {}, "locked": false,
                "last_modified": "2023-11-14T22:13:20+00:00",
            })
        );
        assert!(resp.headers.contains(&("etag".into(), "\"etag-1\"".into())));

        let req = signed(
            "/kv/app%3Adb%2Furl?label=prod&api-version=2023-11-01",
            &date,
        );
        let body: serde_json::Value =
            serde_json::from_slice(&handle(&state, HOST, &req, now).body).unwrap();
        assert_eq!(body["value"], "postgres://prod");
        assert_eq!(body["label"], "prod");
        // `%00` is the documented spelling of "no label".
        let req = signed("/kv/app%3Adb%2Furl?label=%00&api-version=2024-09-01", &date);
        assert_eq!(handle(&state, HOST, &req, now).status, 200);

        let recorded = state.lock().unwrap().requests.clone();
        assert_eq!(recorded.len(), 3);
        assert_eq!(
            recorded[0].path_and_query,
            "/kv/app%3Adb%2Furl?api-version=2024-09-01"
        );
        assert_eq!(recorded[0].status, 200);
    }

    #[test]
    fn missing_keys_and_labels_are_404_without_a_body() {
        let state = fake_state();
        let (now, date) = now_and_date();
        for pq in [
            "/kv/nope?api-version=2024-09-01",
            "/kv/app%3Adb%2Furl?label=dev&api-version=2024-09-01",
            // A raw `/` is not part of the key segment.
            "/kv/app:db/url?api-version=2024-09-01",
        ] {
            let resp = handle(&state, HOST, &signed(pq, &date), now);
            assert_eq!((resp.status, resp.body.len()), (404, 0), "{pq}");
        }
    }

    #[test]
    fn each_tampering_is_refused_with_the_documented_error() {
        let state = fake_state();
        let (now, date) = now_and_date();
        let pq = "/kv/app%3Adb%2Furl?api-version=2024-09-01";
        let ok = signed(pq, &date);
        let auth = ok.header("authorization").unwrap().to_string();
        let cases: Vec<(&str, HttpsRequest, String)> = vec![
            ("no Authorization", {
                let mut r = ok.clone();
                set_header(&mut r, "authorization", None);
                r
            }, "HMAC-SHA256, Bearer".into()),
            ("another path than signed", signed(pq, &date).tap(|r| r.path = "/kv/other".into()), hmac_error("Invalid Signature")),
            ("another query than signed", signed(pq, &date).tap(|r| r.query = Some("label=prod&api-version=2024-09-01".into())), hmac_error("Invalid Signature")),
            ("another method", ok.clone().tap(|r| r.method = "HEAD".into()), String::new()),
            ("a different date than signed", ok.clone().tap(|r| set_header(r, "x-ms-date", Some(&httpdate::fmt_http_date(now + Duration::from_secs(60))))), hmac_error("Invalid Signature")),
            ("a date 16 minutes old", signed(pq, &httpdate::fmt_http_date(now - Duration::from_secs(16 * 60))), hmac_error("The access token has expired")),
            ("a date 16 minutes ahead", signed(pq, &httpdate::fmt_http_date(now + Duration::from_secs(16 * 60))), hmac_error("The access token has expired")),
            ("a bad date", signed(pq, "yesterday"), hmac_error("Invalid access token date")),
            ("a wrong content hash", ok.clone().tap(|r| set_header(r, "x-ms-content-sha256", Some("AAAA"))), hmac_error("Invalid Signature")),
            ("a body that is not the hashed one", ok.clone().tap(|r| r.body = b"x".to_vec()), hmac_error("Invalid Signature")),
            ("another Host", ok.clone().tap(|r| set_header(r, "host", Some("127.0.0.1:1"))), hmac_error("Invalid Credential")),
            ("an unknown credential", ok.clone().tap(|r| set_header(r, "authorization", Some(&auth.replace(APPCONF_CREDENTIAL_ID, "other-id")))), hmac_error("Invalid Credential")),
            ("no signature", ok.clone().tap(|r| set_header(r, "authorization", Some(auth.split("&Signature=").next().unwrap()))), hmac_error("Signature is required")),
            ("a wrong signature", ok.clone().tap(|r| set_header(r, "authorization", Some(&format!("{}&Signature=AAAA", auth.split("&Signature=").next().unwrap())))), hmac_error("Invalid Signature")),
            ("host not signed", ok.clone().tap(|r| set_header(r, "authorization", Some(&auth.replace("x-ms-date;host;", "x-ms-date;")))), hmac_error("host is required as a signed header")),
            ("content hash not signed", ok.clone().tap(|r| set_header(r, "authorization", Some(&auth.replace(";x-ms-content-sha256", "")))), hmac_error("x-ms-content-sha256 is required as a signed header")),
            ("date not signed", ok.clone().tap(|r| set_header(r, "authorization", Some(&auth.replace("x-ms-date;", "")))), hmac_error("x-ms-date is required as a signed header")),
            ("a signed header not sent", ok.clone().tap(|r| set_header(r, "x-ms-content-sha256", None)), hmac_error("Signed request header 'x-ms-content-sha256' is not provided")),
            ("a bearer token without Entra", ok.clone().tap(|r| set_header(r, "authorization", Some("Bearer abc"))), "HMAC-SHA256, Bearer error=\"invalid_token\", error_description=\"Authorization token failed validation\"".into()),
        ];
        for (what, req, want) in cases {
            let resp = handle(&state, HOST, &req, now);
            if req.method == "HEAD" {
                assert_eq!(resp.status, 405, "{what}");
                continue;
            }
            assert_eq!(resp.status, 401, "{what}");
            assert_eq!(www_authenticate(&resp), want, "{what}");
        }
        // The untampered request still passes.
        assert_eq!(handle(&state, HOST, &ok, now).status, 200);
    }

    trait Tap: Sized {
        fn tap(self, f: impl FnOnce(&mut Self)) -> Self;
    }

    impl Tap for HttpsRequest {
        fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
            f(&mut self);
            self
        }
    }

    #[test]
    fn query_parameters_are_checked() {
        let state = fake_state();
        let (now, date) = now_and_date();
        let problem = |pq: &str| {
            let resp = handle(&state, HOST, &signed(pq, &date), now);
            assert_eq!(resp.status, 400, "{pq}");
            assert!(resp.headers.contains(&(
                "content-type".into(),
                "application/problem+json; charset=utf-8".into()
            )));
            let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
            assert_eq!(v["type"], "https://azconfig.io/errors/invalid-argument");
            assert_eq!(v["status"], 400);
            v["title"].as_str().unwrap().to_string()
        };
        assert_eq!(problem("/kv/k"), "API version is not specified");
        assert_eq!(problem("/kv/k?label=prod"), "API version is not specified");
        assert_eq!(
            problem("/kv/k?api-version=2099-01-01"),
            "Unsupported API version"
        );
        assert_eq!(
            problem("/kv/k?api-version=2024-09-01&fields=*"),
            "Invalid request parameter 'fields'"
        );
        assert_eq!(
            problem("/kv/k?label=a&label=b&api-version=2024-09-01"),
            "Invalid request parameter 'label'"
        );
        assert_eq!(
            problem("/kv/k?label=%zz&api-version=2024-09-01"),
            "Invalid request parameter 'label'"
        );
    }

    #[test]
    fn conditional_reads() {
        let state = fake_state();
        let (now, date) = now_and_date();
        let pq = "/kv/app%3Adb%2Furl?api-version=2024-09-01";
        let with = |name: &str, value: &str| {
            let mut r = signed(pq, &date);
            set_header(&mut r, name, Some(value));
            handle(&state, HOST, &r, now)
        };
        assert_eq!(with("if-match", "\"etag-1\"").status, 200);
        assert_eq!(with("if-match", "\"old\", \"etag-1\"").status, 200);
        assert_eq!(with("if-match", "*").status, 200);
        let stale = with("if-match", "\"old\"");
        assert_eq!((stale.status, stale.body.len()), (412, 0));
        let same = with("if-none-match", "\"etag-1\"");
        assert_eq!(same.status, 304);
        assert!(same.headers.contains(&("etag".into(), "\"etag-1\"".into())));
        assert_eq!(with("if-none-match", "\"old\"").status, 200);
        assert_eq!(with("if-none-match", "etag-1").status, 400, "unquoted");
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00+00:00");
        assert_eq!(
            iso8601(SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00+00:00"
        );
    }

    /// Over real sockets, plain and TLS: the store knows its own `Host` (for the signature
    /// check) once it listens, and records each request with its answer.
    #[test]
    fn the_fake_serves_over_http_and_https_and_records_requests() {
        let ca = TestCa::new();
        let entra = crate::FakeEntra::start(&ca);
        let plain = FakeAppConf::start();
        let tls = FakeAppConf::start_https(&ca, entra.tokens(), "https://appconfig.azure.com");
        assert!(plain.url().starts_with("http://127.0.0.1:"));
        assert!(tls.url().starts_with("https://127.0.0.1:"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let pq = "/kv/k?api-version=2024-09-01";
        for (fake, ca) in [(&plain, None), (&tls, Some(&ca))] {
            fake.set("k", None, "v");
            let addr = fake.host().parse().unwrap();
            let unsigned = HttpsRequest::to("GET", pq).with_header("host", fake.host());
            let (status, _) = rt.block_on(crate::http::testing::send(addr, ca, &unsigned));
            assert_eq!(status, 401, "unsigned");
            let request = signed_to(fake.host(), pq, &now_and_date().1);
            let (status, body) = rt.block_on(crate::http::testing::send(addr, ca, &request));
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["value"], "v");
            let recorded = |status| AppConfRequest {
                method: "GET".into(),
                path_and_query: pq.into(),
                if_match: None,
                if_none_match: None,
                status,
            };
            assert_eq!(fake.requests(), [recorded(401), recorded(200)]);
            assert!(fake.connection_string().starts_with(&format!(
                "Endpoint={};Id={APPCONF_CREDENTIAL_ID};Secret=",
                fake.url()
            )));
        }
    }
}
