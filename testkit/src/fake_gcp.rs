//! A strict fake of Google Cloud Secret Manager's REST API (AccessSecretVersion only) and of
//! Google's OAuth 2.0 token endpoint (refresh-token grant), for the GCPSECRETS plugin's tests.
//! No Secret Manager emulator can be installed here, so this fake speaks the documented API and
//! refuses what the service refuses.
//!
//! What it follows:
//!
//! - AccessSecretVersion,
//!   <https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions/access>:
//!   `GET /v1/{name=projects/*/secrets/*/versions/*}:access`, the request body must be empty;
//!   the answer is `AccessSecretVersionResponse` `{"name": ..., "payload": {"data": BASE64,
//!   "dataCrc32c": "INT64"}}` (proto3 JSON: bytes in standard base64, int64 as a string).
//!   `projects/*/secrets/*/versions/latest` is "an alias to the most recently created
//!   SecretVersion" (the same page), so `latest` names the newest version whatever its state.
//! - The error model, <https://cloud.google.com/apis/design/errors>: `{"error": {"code": 404,
//!   "message": "...", "status": "NOT_FOUND"}}` with the HTTP status of the code
//!   (<https://cloud.google.com/apis/design/errors#handling_errors>). Messages are the service's
//!   for the cases the service is known to word: `Secret [NAME] not found or has no versions.`,
//!   `Secret Version [NAME] not found.`, `Secret Version [NAME] is in DISABLED state.` (and
//!   `DESTROYED`, both `FAILED_PRECONDITION`), `Permission 'secretmanager.versions.access' denied
//!   for resource 'NAME' (or it may not exist).` (checked before existence, as IAM is), and the
//!   two `UNAUTHENTICATED` texts of Google's front end.
//! - System parameters, <https://cloud.google.com/apis/docs/system-parameters>: the only query
//!   parameter accepted is `$alt` (or `alt`) with `json` or `json;enum-encoding=int` (what the
//!   Rust client sends); any other name is `400 INVALID_ARGUMENT` (`Cannot bind query
//!   parameter`), as the service answers.
//! - Authentication, <https://cloud.google.com/docs/authentication/rest>: `Authorization: Bearer
//!   TOKEN` with a token the test configured, else `401 UNAUTHENTICATED`; a token that may not
//!   read a secret gets `403 PERMISSION_DENIED`. In [emulator mode](FakeGcpBuilder::emulator)
//!   no credentials are expected, and a request that carries an `Authorization` header is
//!   refused (`401`), so a test sees a plugin that would leak a token to an emulator.
//! - The token endpoint, <https://developers.google.com/identity/protocols/oauth2/web-server#offline>
//!   (refreshing an access token): `POST /token` with `grant_type=refresh_token`, `client_id`,
//!   `client_secret`, `refresh_token`, as a form or as JSON (google-cloud-auth sends JSON),
//!   answered `{"access_token", "expires_in": 3599, "scope", "token_type": "Bearer"}` or
//!   `{"error": "invalid_grant" | "invalid_client" | "unsupported_grant_type", ...}`. The
//!   `authorized_user` file ADC reads points at it through its `token_uri`
//!   ([`FakeGcp::authorized_user_json`]).
//!
//! It serves plain HTTP ([`FakeGcpBuilder::start`], for `SECRET_MANAGER_EMULATOR_HOST` or a
//! loopback endpoint) or HTTPS with a [`TestCa`] certificate ([`FakeGcpBuilder::start_tls`]),
//! on `127.0.0.1` and a free port, in its own thread. Every request is recorded
//! ([`FakeGcp::requests`]) with the status it got, and the most requests in flight at once are
//! counted, so tests can assert call counts and concurrency.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::http::{Body, HttpsRequest, HttpsResponse, Loopback, TestCa, percent_decode};

/// The state a secret version is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionState {
    /// Readable.
    Enabled,
    /// Refused with `FAILED_PRECONDITION`.
    Disabled,
    /// Refused with `FAILED_PRECONDITION`; its data is gone.
    Destroyed,
}

impl VersionState {
    fn name(self) -> &'static str {
        match self {
            VersionState::Enabled => "ENABLED",
            VersionState::Disabled => "DISABLED",
            VersionState::Destroyed => "DESTROYED",
        }
    }
}

/// One request the fake received, and the status it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcpRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path as sent (percent-encoded).
    pub path: String,
    /// The query string as sent, without `?`.
    pub query: Option<String>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The HTTP status of the answer.
    pub status: u16,
}

impl GcpRequest {
    /// Whether this was an AccessSecretVersion call (whatever its answer).
    pub fn is_access(&self) -> bool {
        self.path.starts_with("/v1/") && self.path.ends_with(":access")
    }
}

/// The secrets, tokens and users the fake knows; fixed once it starts.
#[derive(Debug, Clone, Default)]
struct Config {
    emulator: bool,
    /// `projects/P/secrets/S` → versions in creation order (version `n` is at `n - 1`).
    secrets: BTreeMap<String, Vec<(Vec<u8>, VersionState)>>,
    /// Access token → the secrets it may read (`None`: all).
    tokens: BTreeMap<String, Option<BTreeSet<String>>>,
    users: Vec<User>,
    latency: Duration,
}

#[derive(Debug, Clone)]
struct User {
    client_id: String,
    client_secret: String,
    refresh_token: String,
    access_token: String,
}

/// Builds a [`FakeGcp`].
#[derive(Debug, Default)]
pub struct FakeGcpBuilder {
    config: Config,
}

impl FakeGcpBuilder {
    /// Adds the next version of `secret` (`projects/P/secrets/S`, created if new), enabled.
    pub fn version(self, secret: &str, data: impl Into<Vec<u8>>) -> Self {
        self.version_in_state(secret, data, VersionState::Enabled)
    }

    /// Adds the next version of `secret` in `state`.
    pub fn version_in_state(
        mut self,
        secret: &str,
        data: impl Into<Vec<u8>>,
        state: VersionState,
    ) -> Self {
        assert_secret_name(secret);
        let data = if state == VersionState::Destroyed {
            Vec::new()
        } else {
            data.into()
        };
        self.config
            .secrets
            .entry(secret.to_string())
            .or_default()
            .push((data, state));
        self
    }

    /// Creates `secret` without any version (reading it is `NOT_FOUND`).
    pub fn empty_secret(mut self, secret: &str) -> Self {
        assert_secret_name(secret);
        self.config.secrets.entry(secret.to_string()).or_default();
        self
    }

    /// An access token that may read every secret.
    pub fn access_token(mut self, token: &str) -> Self {
        self.config.tokens.insert(token.to_string(), None);
        self
    }

    /// An access token that may read only `secrets` (`projects/P/secrets/S`).
    pub fn access_token_for(mut self, token: &str, secrets: &[&str]) -> Self {
        let allowed = secrets.iter().map(|s| s.to_string()).collect();
        self.config.tokens.insert(token.to_string(), Some(allowed));
        self
    }

    /// A user whose refresh token the token endpoint exchanges for `access_token` (which must
    /// also be configured with [`access_token`](Self::access_token) or
    /// [`access_token_for`](Self::access_token_for) to read anything).
    pub fn user(
        mut self,
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
        access_token: &str,
    ) -> Self {
        self.config.users.push(User {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            refresh_token: refresh_token.into(),
            access_token: access_token.into(),
        });
        self
    }

    /// Emulator mode: no credentials expected; a request with an `Authorization` header is
    /// refused.
    pub fn emulator(mut self) -> Self {
        self.config.emulator = true;
        self
    }

    /// Every AccessSecretVersion answer waits this long first, so concurrent calls overlap.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.config.latency = latency;
        self
    }

    /// Starts serving plain HTTP on `127.0.0.1`.
    pub fn start(self) -> FakeGcp {
        FakeGcp::start(self.config, None)
    }

    /// Starts serving HTTPS on `127.0.0.1` with a certificate `ca` signs.
    pub fn start_tls(self, ca: &TestCa) -> FakeGcp {
        FakeGcp::start(self.config, Some(ca.server_config(&[])))
    }
}

fn assert_secret_name(secret: &str) {
    let parts: Vec<&str> = secret.split('/').collect();
    assert!(
        matches!(parts[..], ["projects", p, "secrets", s] if !p.is_empty() && !s.is_empty()),
        "a secret is named projects/P/secrets/S, not {secret:?}"
    );
}

#[derive(Debug, Default)]
struct Log {
    requests: Vec<GcpRequest>,
    in_flight: usize,
    max_in_flight: usize,
}

/// The running fake. Stops when dropped.
pub struct FakeGcp {
    url: String,
    log: Arc<Mutex<Log>>,
    /// Kept only to be dropped with the fake, which stops it.
    _server: Loopback,
}

impl FakeGcp {
    /// A builder: add secrets, tokens and users, then start.
    pub fn builder() -> FakeGcpBuilder {
        FakeGcpBuilder::default()
    }

    fn start(config: Config, tls: Option<Arc<rustls::ServerConfig>>) -> FakeGcp {
        let log = Arc::new(Mutex::new(Log::default()));
        let (config, server_log) = (Arc::new(config), Arc::clone(&log));
        let server = Loopback::start(tls, move |req| {
            serve(Arc::clone(&config), Arc::clone(&server_log), req)
        });
        FakeGcp {
            url: server.url(),
            log,
            _server: server,
        }
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `127.0.0.1:PORT`, for `SECRET_MANAGER_EMULATOR_HOST`.
    pub fn host(&self) -> &str {
        self.url.split_once("://").map_or(&self.url, |(_, h)| h)
    }

    /// The `authorized_user` credentials file (what `gcloud auth application-default login`
    /// writes) whose `token_uri` is this fake's token endpoint.
    pub fn authorized_user_json(
        &self,
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
    ) -> String {
        json!({
            "type": "authorized_user",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
            "token_uri": format!("{}/token", self.url),
        })
        .to_string()
    }

    /// Every request so far, in arrival order (answered ones only).
    pub fn requests(&self) -> Vec<GcpRequest> {
        self.log.lock().expect("log").requests.clone()
    }

    /// AccessSecretVersion calls so far.
    pub fn access_calls(&self) -> usize {
        self.requests().iter().filter(|r| r.is_access()).count()
    }

    /// Token endpoint calls so far.
    pub fn token_calls(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path == "/token")
            .count()
    }

    /// The most requests that were being answered at one time.
    pub fn max_in_flight(&self) -> usize {
        self.log.lock().expect("log").max_in_flight
    }
}

/// An answer: status, JSON body, extra headers.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    status: u16,
    body: Value,
    headers: Vec<(&'static str, &'static str)>,
}

impl Answer {
    fn ok(body: Value) -> Answer {
        Answer {
            status: 200,
            body,
            headers: Vec::new(),
        }
    }

    /// A `google.rpc.Status` error with the HTTP status of its code.
    fn status(code: &str, message: impl Into<String>) -> Answer {
        let http = match code {
            "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => 400,
            "UNAUTHENTICATED" => 401,
            "PERMISSION_DENIED" => 403,
            "NOT_FOUND" => 404,
            "ALREADY_EXISTS" | "ABORTED" => 409,
            "RESOURCE_EXHAUSTED" => 429,
            "UNIMPLEMENTED" => 501,
            "UNAVAILABLE" => 503,
            "DEADLINE_EXCEEDED" => 504,
            _ => 500,
        };
        Answer {
            status: http,
            body: json!({"error": {"code": http, "message": message.into(), "status": code}}),
            headers: Vec::new(),
        }
    }

    /// The response to send: the JSON body with Google's `content-type`, and the extra headers.
    fn into_response(self) -> HttpsResponse {
        let response =
            HttpsResponse::json_as(self.status, "application/json; charset=UTF-8", &self.body);
        self.headers
            .into_iter()
            .fold(response, |r, (name, value)| r.with_header(name, value))
    }

    /// An OAuth 2.0 error (RFC 6749 section 5.2).
    fn oauth(status: u16, error: &str, description: &str) -> Answer {
        Answer {
            status,
            body: json!({"error": error, "error_description": description}),
            headers: Vec::new(),
        }
    }
}

const MISSING_CREDENTIAL: &str = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";
const INVALID_CREDENTIAL: &str = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

/// Answers one request. Pure, so the unit tests drive it without sockets.
fn answer(config: &Config, request: &HttpsRequest) -> Answer {
    if request.path == "/token" {
        return token(config, request);
    }
    let Some(name) = request
        .path
        .strip_prefix("/v1/")
        .and_then(|p| p.strip_suffix(":access"))
    else {
        return Answer::status(
            "NOT_FOUND",
            format!(
                "The requested URL {} was not found on this server.",
                request.path
            ),
        );
    };
    let segments: Vec<String> = name
        .split('/')
        .map(|s| percent_decode(s.as_bytes()))
        .collect();
    let [projects, project, secrets, secret, versions, version] = &segments[..] else {
        return Answer::status(
            "NOT_FOUND",
            format!(
                "The requested URL {} was not found on this server.",
                request.path
            ),
        );
    };
    if projects != "projects"
        || secrets != "secrets"
        || versions != "versions"
        || [project, secret, version].iter().any(|s| s.is_empty())
    {
        return Answer::status(
            "NOT_FOUND",
            format!(
                "The requested URL {} was not found on this server.",
                request.path
            ),
        );
    }
    // `:access` is bound to GET only.
    if request.method != "GET" {
        return Answer::status(
            "NOT_FOUND",
            format!(
                "The requested URL {} was not found on this server (no {} binding).",
                request.path, request.method
            ),
        );
    }
    for (key, value) in request.query_pairs() {
        match key.as_str() {
            "$alt" | "alt" if matches!(value.as_str(), "json" | "json;enum-encoding=int") => {}
            "$alt" | "alt" => {
                return Answer::status(
                    "INVALID_ARGUMENT",
                    format!("Invalid value for system parameter alt: {value:?}"),
                );
            }
            _ => {
                return Answer::status(
                    "INVALID_ARGUMENT",
                    format!(
                        "Invalid JSON payload received. Unknown name \"{key}\": Cannot bind query parameter. Field '{key}' could not be found in request message."
                    ),
                );
            }
        }
    }
    if !request.body.is_empty() {
        return Answer::status("INVALID_ARGUMENT", "The request body must be empty.");
    }
    let secret_name = format!("projects/{project}/secrets/{secret}");
    let version_name = format!("{secret_name}/versions/{version}");
    if let Some(refused) = authorize(
        config,
        request.header("authorization"),
        &secret_name,
        &version_name,
    ) {
        return refused;
    }
    let versions = config.secrets.get(&secret_name).filter(|v| !v.is_empty());
    let Some(versions) = versions else {
        return Answer::status(
            "NOT_FOUND",
            format!("Secret [{secret_name}] not found or has no versions."),
        );
    };
    let number = if version == "latest" {
        Some(versions.len())
    } else {
        version
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=versions.len()).contains(n))
    };
    let Some(number) = number else {
        return Answer::status(
            "NOT_FOUND",
            format!("Secret Version [{version_name}] not found."),
        );
    };
    let resolved = format!("{secret_name}/versions/{number}");
    let (data, state) = &versions[number - 1];
    if *state != VersionState::Enabled {
        return Answer::status(
            "FAILED_PRECONDITION",
            format!("Secret Version [{resolved}] is in {} state.", state.name()),
        );
    }
    Answer::ok(json!({
        "name": resolved,
        "payload": {
            "data": base64::engine::general_purpose::STANDARD.encode(data),
            "dataCrc32c": crc32c(data).to_string(),
        },
    }))
}

/// `None` when `authorization` may read `secret`, else the refusal.
fn authorize(
    config: &Config,
    authorization: Option<&str>,
    secret: &str,
    version_name: &str,
) -> Option<Answer> {
    let unauthenticated = |message: &str| {
        let mut a = Answer::status("UNAUTHENTICATED", message);
        a.headers.push((
            "www-authenticate",
            "Bearer realm=\"https://accounts.google.com/\"",
        ));
        Some(a)
    };
    if config.emulator {
        return authorization.map(|_| {
            Answer::status(
                "UNAUTHENTICATED",
                "The emulator expects no credentials, and an Authorization header was sent.",
            )
        });
    }
    let Some(header) = authorization else {
        return unauthenticated(MISSING_CREDENTIAL);
    };
    let grant = header
        .strip_prefix("Bearer ")
        .and_then(|token| config.tokens.get(token));
    match grant {
        None => unauthenticated(INVALID_CREDENTIAL),
        Some(Some(allowed)) if !allowed.contains(secret) => Some(Answer::status(
            "PERMISSION_DENIED",
            format!(
                "Permission 'secretmanager.versions.access' denied for resource '{version_name}' (or it may not exist)."
            ),
        )),
        Some(_) => None,
    }
}

/// The token endpoint: the refresh-token grant.
fn token(config: &Config, request: &HttpsRequest) -> Answer {
    if request.method != "POST" {
        return Answer::oauth(405, "invalid_request", "The token endpoint takes POST.");
    }
    let content_type = request.header("content-type").unwrap_or_default();
    let fields: BTreeMap<String, String> = if content_type.starts_with("application/json") {
        match serde_json::from_slice::<serde_json::Map<String, Value>>(&request.body) {
            Ok(map) => map
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
                .collect(),
            Err(_) => return Answer::oauth(400, "invalid_request", "Invalid JSON payload."),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        request.form().into_iter().collect()
    } else {
        return Answer::oauth(400, "invalid_request", "Unsupported content type.");
    };
    let field = |k: &str| fields.get(k).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "refresh_token" {
        return Answer::oauth(400, "unsupported_grant_type", "Invalid grant_type.");
    }
    let Some(client) = config
        .users
        .iter()
        .find(|u| u.client_id == field("client_id") && u.client_secret == field("client_secret"))
    else {
        return Answer::oauth(401, "invalid_client", "The OAuth client was not found.");
    };
    if client.refresh_token != field("refresh_token") {
        return Answer::oauth(400, "invalid_grant", "Bad Request");
    }
    Answer::ok(json!({
        "access_token": client.access_token,
        "expires_in": 3599,
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "token_type": "Bearer",
    }))
}

/// CRC-32C (Castagnoli), the checksum the service sends as `dataCrc32c`.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82F6_3B78 & mask);
        }
    }
    !crc
}

/// Answers one request over the network: records it with its status, counts the requests in
/// flight, and waits the configured latency before AccessSecretVersion answers.
async fn serve(
    config: Arc<Config>,
    log: Arc<Mutex<Log>>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Body>, hyper::Error> {
    let request = HttpsRequest::read(req).await?;
    {
        let mut log = log.lock().expect("log");
        log.in_flight += 1;
        log.max_in_flight = log.max_in_flight.max(log.in_flight);
    }
    if request.path != "/token" && !config.latency.is_zero() {
        tokio::time::sleep(config.latency).await;
    }
    let answer = answer(&config, &request);
    {
        let mut log = log.lock().expect("log");
        log.in_flight -= 1;
        log.requests.push(GcpRequest {
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            authorization: request.header("authorization").map(str::to_string),
            status: answer.status,
        });
    }
    Ok(answer.into_response().into_hyper())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: &str = "projects/p/secrets/db";

    fn config() -> Config {
        FakeGcp::builder()
            .version(DB, "one")
            .version(DB, "two")
            .version_in_state(DB, "three", VersionState::Disabled)
            .version_in_state(DB, "gone", VersionState::Destroyed)
            .version("projects/p/secrets/up", "up")
            .version("projects/p/secrets/bin", vec![0xff, 0x00])
            .empty_secret("projects/p/secrets/none")
            .access_token("all")
            .access_token_for("some", &["projects/p/secrets/up"])
            .user("client", "csecret", "refresh", "all")
            .config
    }

    fn get(path: &str, query: Option<&str>, auth: Option<&str>) -> HttpsRequest {
        let mut req = HttpsRequest::to("GET", path);
        req.query = query.map(str::to_string);
        match auth {
            Some(a) => req.with_header("authorization", a),
            None => req,
        }
    }

    /// What the Rust client sends: `$alt=json;enum-encoding=int`, form-encoded.
    const CLIENT_QUERY: &str = "%24alt=json%3Benum-encoding%3Dint";

    fn access(config: &Config, name: &str, auth: Option<&str>) -> Answer {
        answer(
            config,
            &get(&format!("/v1/{name}:access"), Some(CLIENT_QUERY), auth),
        )
    }

    fn error(answer: &Answer) -> (u16, &str, &str) {
        let e = &answer.body["error"];
        assert_eq!(
            e["code"].as_u64(),
            Some(u64::from(answer.status)),
            "{answer:?}"
        );
        (
            answer.status,
            e["status"].as_str().unwrap(),
            e["message"].as_str().unwrap(),
        )
    }

    #[test]
    fn versions_and_latest() {
        let c = config();
        let a = access(
            &c,
            "projects/p/secrets/up/versions/latest",
            Some("Bearer all"),
        );
        assert_eq!(
            a,
            Answer::ok(json!({
                "name": "projects/p/secrets/up/versions/1",
                "payload": {"data": "dXA=", "dataCrc32c": crc32c(b"up").to_string()},
            }))
        );
        let a = access(&c, "projects/p/secrets/db/versions/2", Some("Bearer all"));
        assert_eq!(a.body["payload"]["data"], "dHdv");
        assert_eq!(a.body["name"], "projects/p/secrets/db/versions/2");
        let a = access(&c, "projects/p/secrets/bin/versions/1", Some("Bearer all"));
        assert_eq!(a.body["payload"]["data"], "/wA=");
    }

    #[test]
    fn latest_is_the_newest_version_even_when_it_cannot_be_read() {
        let c = config();
        let a = access(
            &c,
            "projects/p/secrets/db/versions/latest",
            Some("Bearer all"),
        );
        assert_eq!(
            error(&a),
            (
                400,
                "FAILED_PRECONDITION",
                "Secret Version [projects/p/secrets/db/versions/4] is in DESTROYED state."
            )
        );
        let a = access(&c, "projects/p/secrets/db/versions/3", Some("Bearer all"));
        assert_eq!(
            error(&a),
            (
                400,
                "FAILED_PRECONDITION",
                "Secret Version [projects/p/secrets/db/versions/3] is in DISABLED state."
            )
        );
    }

    #[test]
    fn missing_secrets_and_versions() {
        let c = config();
        for name in [
            "projects/p/secrets/nope/versions/latest",
            "projects/p/secrets/none/versions/latest",
            "projects/other/secrets/db/versions/1",
        ] {
            let secret = name.rsplit_once("/versions/").unwrap().0;
            let a = access(&c, name, Some("Bearer all"));
            assert_eq!(
                error(&a),
                (
                    404,
                    "NOT_FOUND",
                    format!("Secret [{secret}] not found or has no versions.").as_str()
                ),
                "{name}"
            );
        }
        for version in ["0", "5", "prod", "-1"] {
            let name = format!("{DB}/versions/{version}");
            let a = access(&c, &name, Some("Bearer all"));
            assert_eq!(
                error(&a),
                (
                    404,
                    "NOT_FOUND",
                    format!("Secret Version [{name}] not found.").as_str()
                )
            );
        }
    }

    #[test]
    fn credentials_are_required_and_checked() {
        let c = config();
        let name = "projects/p/secrets/up/versions/latest";
        let missing = access(&c, name, None);
        assert_eq!(
            error(&missing),
            (401, "UNAUTHENTICATED", MISSING_CREDENTIAL)
        );
        assert_eq!(
            missing.headers,
            [(
                "www-authenticate",
                "Bearer realm=\"https://accounts.google.com/\""
            )]
        );
        for bad in ["Bearer nope", "all", "Basic all", "bearer all"] {
            let a = access(&c, name, Some(bad));
            assert_eq!(
                error(&a),
                (401, "UNAUTHENTICATED", INVALID_CREDENTIAL),
                "{bad}"
            );
        }
        assert_eq!(access(&c, name, Some("Bearer some")).status, 200);
        // Permission is checked before existence, so it does not tell what exists.
        for denied in [
            "projects/p/secrets/db/versions/1",
            "projects/p/secrets/nope/versions/1",
        ] {
            let a = access(&c, denied, Some("Bearer some"));
            assert_eq!(
                error(&a),
                (
                    403,
                    "PERMISSION_DENIED",
                    format!("Permission 'secretmanager.versions.access' denied for resource '{denied}' (or it may not exist).").as_str()
                )
            );
        }
    }

    #[test]
    fn the_emulator_takes_no_credentials_and_refuses_any() {
        let mut c = config();
        c.emulator = true;
        let name = "projects/p/secrets/up/versions/latest";
        assert_eq!(access(&c, name, None).status, 200);
        let a = access(&c, name, Some("Bearer all"));
        assert_eq!(error(&a).0, 401);
        assert_eq!(error(&a).1, "UNAUTHENTICATED");
    }

    #[test]
    fn only_the_documented_request_shape_is_served() {
        let c = config();
        let ok = "/v1/projects/p/secrets/up/versions/1:access";
        let auth = Some("Bearer all");
        assert_eq!(
            answer(&c, &get(ok, None, auth)).status,
            200,
            "no query is fine"
        );
        assert_eq!(answer(&c, &get(ok, Some("alt=json"), auth)).status, 200);
        for path in [
            "/v1/projects/p/secrets/up/versions/1",
            "/v1/projects/p/secrets/up:access",
            "/v1/projects/p/secrets/up/versions/1/x:access",
            "/v1beta1/projects/p/secrets/up/versions/1:access",
            "/v1/projects/p/locations/l/secrets/up/versions/1:access",
            "/v1/projects//secrets/up/versions/1:access",
            "/v1/project/p/secrets/up/versions/1:access",
        ] {
            assert_eq!(
                error(&answer(&c, &get(path, Some(CLIENT_QUERY), auth))).1,
                "NOT_FOUND",
                "{path}"
            );
        }
        let mut post = get(ok, Some(CLIENT_QUERY), auth);
        post.method = "POST".into();
        assert_eq!(error(&answer(&c, &post)).1, "NOT_FOUND");
        let a = answer(&c, &get(ok, Some("%24alt=json&fields=name"), auth));
        assert_eq!(
            error(&a),
            (
                400,
                "INVALID_ARGUMENT",
                "Invalid JSON payload received. Unknown name \"fields\": Cannot bind query parameter. Field 'fields' could not be found in request message."
            )
        );
        let a = answer(&c, &get(ok, Some("%24alt=proto"), auth));
        assert_eq!(error(&a).1, "INVALID_ARGUMENT");
        let mut with_body = get(ok, Some(CLIENT_QUERY), auth);
        with_body.body = b"{}".to_vec();
        assert_eq!(
            error(&answer(&c, &with_body)),
            (400, "INVALID_ARGUMENT", "The request body must be empty.")
        );
    }

    fn token_request(content_type: &str, body: &str) -> HttpsRequest {
        HttpsRequest::to("POST", "/token")
            .with_header("content-type", content_type)
            .with_body(body)
    }

    #[test]
    fn the_token_endpoint_exchanges_known_refresh_tokens_only() {
        let c = config();
        let good = json!({"grant_type": "refresh_token", "client_id": "client",
            "client_secret": "csecret", "refresh_token": "refresh", "scopes": null});
        let a = answer(&c, &token_request("application/json", &good.to_string()));
        assert_eq!(a.status, 200);
        assert_eq!(a.body["access_token"], "all");
        assert_eq!(a.body["token_type"], "Bearer");
        let form =
            "grant_type=refresh_token&client_id=client&client_secret=csecret&refresh_token=refresh";
        let a = answer(
            &c,
            &token_request("application/x-www-form-urlencoded", form),
        );
        assert_eq!(a.body["access_token"], "all");

        for (field, value, status, error) in [
            ("refresh_token", "other", 400, "invalid_grant"),
            ("client_secret", "other", 401, "invalid_client"),
            (
                "grant_type",
                "client_credentials",
                400,
                "unsupported_grant_type",
            ),
        ] {
            let mut wrong = good.clone();
            wrong[field] = value.into();
            let a = answer(&c, &token_request("application/json", &wrong.to_string()));
            assert_eq!(
                (a.status, a.body["error"].as_str()),
                (status, Some(error)),
                "{field}"
            );
        }
        let a = answer(&c, &token_request("text/plain", &good.to_string()));
        assert_eq!(a.body["error"], "invalid_request");
        let mut get = token_request("application/json", &good.to_string());
        get.method = "GET".into();
        assert_eq!(answer(&c, &get).status, 405);
    }

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    /// Over a real socket: the request is recorded with its answer, and latency makes
    /// concurrent requests overlap.
    #[test]
    fn serves_http_and_records_requests() {
        let fake = FakeGcp::builder()
            .version("projects/p/secrets/s", "v")
            .access_token("t")
            .latency(Duration::from_millis(200))
            .start();
        assert!(fake.url().starts_with("http://127.0.0.1:"));
        assert_eq!(fake.host(), fake.url().trim_start_matches("http://"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let statuses = rt.block_on(async {
            let calls = (0..3).map(|i| {
                let host = fake.host().to_string();
                tokio::spawn(async move {
                    let auth = if i == 2 { "Bearer x" } else { "Bearer t" };
                    raw_get(
                        &host,
                        "/v1/projects/p/secrets/s/versions/latest:access",
                        auth,
                    )
                    .await
                })
            });
            let mut out = Vec::new();
            for c in calls.collect::<Vec<_>>() {
                out.push(c.await.unwrap());
            }
            out
        });
        assert_eq!(statuses, [200, 200, 401]);
        assert_eq!(fake.access_calls(), 3);
        assert_eq!(fake.token_calls(), 0);
        assert_eq!(fake.max_in_flight(), 3);
        let r = &fake.requests()[0];
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/v1/projects/p/secrets/s/versions/latest:access");
        assert_eq!(r.query, None);
        assert!(r.authorization.as_deref().unwrap().starts_with("Bearer "));
    }

    /// A GET with an `Authorization` header; the answer's status.
    async fn raw_get(host: &str, path: &str, auth: &str) -> u16 {
        let request = HttpsRequest::to("GET", path)
            .with_header("host", host)
            .with_header("authorization", auth);
        let addr = host.parse().expect("127.0.0.1:PORT");
        crate::http::testing::send(addr, None, &request).await.0
    }
}
