//! A fake Microsoft Entra ID token endpoint (OAuth 2.0 client credentials) over TLS, served by
//! an [`HttpsServer`] with a [`TestCa`] certificate (see [`crate::http`] for why TLS).
//!
//! The token endpoint follows the Microsoft identity platform's client-credentials flow,
//! <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>:
//! `POST /{tenant}/oauth2/v2.0/token`, `Content-Type: application/x-www-form-urlencoded`, form
//! fields `grant_type=client_credentials`, `client_id`, `client_secret`, `scope` (one
//! `RESOURCE/.default`). Success is `200 {"token_type":"Bearer","expires_in":3599,
//! "ext_expires_in":3599,"access_token":"..."}`; failures are the identity platform's error shape
//! `{"error":"invalid_client","error_description":"AADSTS7000215: ...","error_codes":[7000215],
//! "timestamp":...,"trace_id":...,"correlation_id":...,"error_uri":...}` with the AADSTS codes the
//! service uses (<https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes>).
//! Trace and correlation ids count up and the fake's clock is frozen, so a plugin's error
//! output can be compared exactly.
//!
//! Use from another fake (e.g. a Key Vault or App Configuration fake):
//!
//! ```no_run
//! use cm_testkit::{FakeEntra, TestCa};
//! let ca = TestCa::new();
//! let entra = FakeEntra::start(&ca);
//! entra.register("tenant-1", "client-1", "s3cret");
//! let tokens = entra.tokens(); // cloneable; give it to the resource fake
//! // In the resource fake's handler, for each request:
//! //   tokens.verify(request.header("authorization"), "https://vault.azure.net")
//! // Environment for the plugin:
//! //   AZURE_AUTHORITY_HOST=entra.authority_host(), SSL_CERT_FILE=ca.pem_file(),
//! //   AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET
//! assert_eq!(entra.token_requests().len(), 0);
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::http::{HttpsRequest, HttpsResponse, HttpsServer, TestCa};

/// The frozen clock of the fakes, in the identity platform's `timestamp` format.
pub const FAKE_TIMESTAMP: &str = "2026-01-01 00:00:00Z";

/// One call to the token endpoint, as the fake saw it (the secret is never recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The tenant in the path.
    pub tenant: String,
    /// The `client_id` field, if sent.
    pub client_id: Option<String>,
    /// The `scope` field, if sent.
    pub scope: Option<String>,
    /// `Ok(access token)` or `Err(AADSTS code)`.
    pub outcome: Result<String, u32>,
}

/// A token the fake issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The tenant it was issued in.
    pub tenant: String,
    /// The application it was issued to.
    pub client_id: String,
    /// Its audience: the scope without `/.default`, e.g. `https://vault.azure.net`.
    pub resource: String,
}

#[derive(Default)]
struct EntraState {
    /// (tenant, client id) -> client secret.
    clients: BTreeMap<(String, String), String>,
    issued: BTreeMap<String, IssuedToken>,
    requests: Vec<TokenRequest>,
    /// Counts requests for the deterministic trace ids.
    served: u64,
}

/// The tokens a [`FakeEntra`] issued, for the resource fakes to check `Authorization` headers
/// against. Cheap to clone.
#[derive(Clone)]
pub struct EntraTokens(Arc<Mutex<EntraState>>);

impl EntraTokens {
    /// Checks an `Authorization` header: `Bearer TOKEN` where TOKEN was issued by the fake for
    /// `resource` (e.g. `https://vault.azure.net`). Returns the token's details, or why not.
    pub fn verify(
        &self,
        authorization: Option<&str>,
        resource: &str,
    ) -> Result<IssuedToken, String> {
        let header = authorization.ok_or("no Authorization header")?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or("the Authorization header is not a Bearer token")?;
        let state = self.0.lock().expect("entra state");
        let issued = state
            .issued
            .get(token)
            .ok_or("the bearer token was not issued by the fake Entra ID")?;
        if issued.resource.trim_end_matches('/') != resource.trim_end_matches('/') {
            return Err(format!(
                "the bearer token is for {}, not {resource}",
                issued.resource
            ));
        }
        Ok(issued.clone())
    }
}

/// The fake Entra ID token endpoint. Stops when dropped.
pub struct FakeEntra {
    server: HttpsServer,
    state: Arc<Mutex<EntraState>>,
}

impl FakeEntra {
    /// Starts the endpoint with a certificate from `ca`. No client is registered yet.
    pub fn start(ca: &TestCa) -> FakeEntra {
        let state = Arc::new(Mutex::new(EntraState::default()));
        let shared = Arc::clone(&state);
        let server = HttpsServer::start(ca, &[], move |req| {
            token_endpoint(&mut shared.lock().expect("entra state"), req)
        });
        FakeEntra { server, state }
    }

    /// `AZURE_AUTHORITY_HOST` for the plugin: `https://127.0.0.1:PORT`.
    pub fn authority_host(&self) -> String {
        self.server.url()
    }

    /// Registers application `client_id` with `client_secret` in `tenant` (creating the tenant).
    pub fn register(&self, tenant: &str, client_id: &str, client_secret: &str) {
        self.state.lock().expect("entra state").clients.insert(
            (tenant.to_string(), client_id.to_string()),
            client_secret.to_string(),
        );
    }

    /// The checker of issued tokens for resource fakes.
    pub fn tokens(&self) -> EntraTokens {
        EntraTokens(Arc::clone(&self.state))
    }

    /// Every request to the token endpoint so far, in order.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.state.lock().expect("entra state").requests.clone()
    }

    /// Forgets the recorded requests (issued tokens stay valid).
    pub fn reset_requests(&self) {
        self.state.lock().expect("entra state").requests.clear();
    }
}

/// An identity platform error: (HTTP status, `error`, AADSTS code, description).
type Refusal = (u16, &'static str, u32, String);

fn token_endpoint(state: &mut EntraState, req: &HttpsRequest) -> HttpsResponse {
    state.served += 1;
    let served = state.served;
    let segments = req.path_segments();
    let tenant = segments.first().cloned().unwrap_or_default();
    if req.method != "POST"
        || segments.len() != 4
        || segments[1..] != ["oauth2", "v2.0", "token"]
        || tenant.is_empty()
    {
        // The identity platform answers unknown paths with a plain 404.
        return HttpsResponse::empty(404);
    }
    let form = req.form();
    let field = |name: &str| -> Option<String> {
        form.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    };
    let (client_id, scope) = (field("client_id"), field("scope"));
    let outcome = check_token_request(state, req, &tenant, &form);
    let (response, recorded) = match outcome {
        Ok(resource) => {
            let access_token = format!("fake-entra-token-{served}-{tenant}");
            state.issued.insert(
                access_token.clone(),
                IssuedToken {
                    tenant: tenant.clone(),
                    client_id: client_id.clone().unwrap_or_default(),
                    resource,
                },
            );
            let body = serde_json::json!({
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": access_token,
            });
            (HttpsResponse::json(200, &body), Ok(access_token))
        }
        Err((status, error, code, description)) => {
            let trace = format!("00000000-0000-0000-0000-{served:012}");
            let correlation = format!("11111111-1111-1111-1111-{served:012}");
            let body = serde_json::json!({
                "error": error,
                "error_description": format!(
                    "AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {FAKE_TIMESTAMP}"
                ),
                "error_codes": [code],
                "timestamp": FAKE_TIMESTAMP,
                "trace_id": trace,
                "correlation_id": correlation,
                "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
            });
            (HttpsResponse::json(status, &body), Err(code))
        }
    };
    state.requests.push(TokenRequest {
        tenant,
        client_id,
        scope,
        outcome: recorded,
    });
    response
}

/// Checks a client-credentials request the way the identity platform does, in its order; the
/// resource (scope without `/.default`) when a token may be issued.
fn check_token_request(
    state: &EntraState,
    req: &HttpsRequest,
    tenant: &str,
    form: &[(String, String)],
) -> Result<String, Refusal> {
    let content_type = req.header("content-type").unwrap_or("");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err((
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.".into(),
        ));
    }
    for (i, (name, _)) in form.iter().enumerate() {
        if form[..i].iter().any(|(n, _)| n == name) {
            return Err((
                400,
                "invalid_request",
                90015,
                format!(
                    "Requested query string is too long or contains a duplicate parameter '{name}'."
                ),
            ));
        }
    }
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let missing = |name: &str| -> Refusal {
        (
            400,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    };
    let grant_type = field("grant_type").ok_or_else(|| missing("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err((
            400,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    let client_id = field("client_id").ok_or_else(|| missing("client_id"))?;
    if !state.clients.keys().any(|(t, _)| t == tenant) {
        return Err((
            400,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        ));
    }
    let Some(secret) = state
        .clients
        .get(&(tenant.to_string(), client_id.to_string()))
    else {
        return Err((
            400,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        ));
    };
    let scope = field("scope").ok_or_else(|| missing("scope"))?;
    let resource = match scope.strip_suffix("/.default") {
        Some(resource) if !resource.is_empty() && !scope.contains(' ') => resource,
        _ => {
            return Err((
                400,
                "invalid_scope",
                1002012,
                format!(
                    "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            ));
        }
    };
    let Some(given) = field("client_secret") else {
        return Err((
            401,
            "invalid_client",
            7000216,
            "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.".into(),
        ));
    };
    if given != secret {
        return Err((
            401,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        ));
    }
    Ok(resource.to_string())
}

/// The token endpoint's answer to `req`, without the network (for the fakes' unit tests).
#[cfg(test)]
pub(crate) fn token_endpoint_for_tests(entra: &FakeEntra, req: &HttpsRequest) -> HttpsResponse {
    token_endpoint(&mut entra.state.lock().expect("entra state"), req)
}

/// A token request for `tenant` with the form `form` (for the fakes' unit tests).
#[cfg(test)]
pub(crate) fn token_request(tenant: &str, form: &str) -> HttpsRequest {
    HttpsRequest::to("POST", &format!("/{tenant}/oauth2/v2.0/token"))
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "client_id=app&client_secret=p%26w&grant_type=client_credentials&scope=https%3A%2F%2Fvault.azure.net%2F.default";

    fn entra() -> (TestCa, FakeEntra) {
        let ca = TestCa::new();
        let entra = FakeEntra::start(&ca);
        entra.register("t1", "app", "p&w");
        (ca, entra)
    }

    fn json(resp: &HttpsResponse) -> serde_json::Value {
        serde_json::from_slice(&resp.body).expect("JSON")
    }

    #[test]
    fn client_credentials_give_a_token_for_the_resource() {
        let (_ca, entra) = entra();
        let resp = token_endpoint_for_tests(&entra, &token_request("t1", GOOD));
        assert_eq!(resp.status, 200);
        let body = json(&resp);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3599);
        let token = body["access_token"].as_str().unwrap();
        let tokens = entra.tokens();
        let issued = tokens
            .verify(Some(&format!("Bearer {token}")), "https://vault.azure.net")
            .unwrap();
        assert_eq!(
            issued,
            IssuedToken {
                tenant: "t1".into(),
                client_id: "app".into(),
                resource: "https://vault.azure.net".into(),
            }
        );
        assert_eq!(
            tokens
                .verify(
                    Some(&format!("Bearer {token}")),
                    "https://storage.azure.com"
                )
                .unwrap_err(),
            "the bearer token is for https://vault.azure.net, not https://storage.azure.com"
        );
        assert!(
            tokens
                .verify(Some("Bearer other"), "https://vault.azure.net")
                .is_err()
        );
        assert!(
            tokens
                .verify(Some(token), "https://vault.azure.net")
                .is_err()
        );
        assert!(tokens.verify(None, "https://vault.azure.net").is_err());
        assert_eq!(
            entra.token_requests(),
            [TokenRequest {
                tenant: "t1".into(),
                client_id: Some("app".into()),
                scope: Some("https://vault.azure.net/.default".into()),
                outcome: Ok(token.to_string()),
            }]
        );
    }

    #[test]
    fn bad_requests_get_the_identity_platforms_errors() {
        let (_ca, entra) = entra();
        let cases: &[(&str, &str, u16, &str, u32)] = &[
            (
                "t1",
                &GOOD.replace("p%26w", "wrong"),
                401,
                "invalid_client",
                7000215,
            ),
            (
                "t1",
                &GOOD.replace("client_secret=p%26w&", ""),
                401,
                "invalid_client",
                7000216,
            ),
            ("t9", GOOD, 400, "invalid_request", 90002),
            (
                "t1",
                &GOOD.replace("client_id=app", "client_id=nope"),
                400,
                "unauthorized_client",
                700016,
            ),
            (
                "t1",
                &GOOD.replace("client_credentials", "password"),
                400,
                "unsupported_grant_type",
                70003,
            ),
            (
                "t1",
                &GOOD.replace("grant_type=client_credentials&", ""),
                400,
                "invalid_request",
                900144,
            ),
            (
                "t1",
                &GOOD.replace("%2F.default", ""),
                400,
                "invalid_scope",
                1002012,
            ),
            (
                "t1",
                &format!("{GOOD}&scope=x%2F.default"),
                400,
                "invalid_request",
                90015,
            ),
        ];
        for (tenant, form, status, error, code) in cases {
            let resp = token_endpoint_for_tests(&entra, &token_request(tenant, form));
            let body = json(&resp);
            assert_eq!(resp.status, *status, "{form}: {body}");
            assert_eq!(body["error"], *error, "{form}");
            assert_eq!(body["error_codes"], serde_json::json!([code]), "{form}");
            assert!(
                body["error_description"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("AADSTS{code}: ")),
                "{body}"
            );
        }
        let first = json(&token_endpoint_for_tests(
            &entra,
            &token_request("t1", &GOOD.replace("p%26w", "wrong")),
        ));
        assert_eq!(
            first["error_description"],
            format!(
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app 'app'.\r\nTrace ID: 00000000-0000-0000-0000-000000000009\r\nCorrelation ID: 11111111-1111-1111-1111-000000000009\r\nTimestamp: {FAKE_TIMESTAMP}"
            )
        );
        let mut json_body = token_request("t1", GOOD);
        json_body.headers[0].1 = "application/json".into();
        assert_eq!(token_endpoint_for_tests(&entra, &json_body).status, 400);
        let mut wrong_path = token_request("t1", GOOD);
        wrong_path.path = "/t1/oauth2/token".into();
        assert_eq!(token_endpoint_for_tests(&entra, &wrong_path).status, 404);
        assert!(entra.token_requests().iter().all(|r| r.outcome.is_err()));
    }

    /// A real TLS round trip: the certificate chains to the CA and names the host asked for.
    #[test]
    fn the_endpoint_speaks_tls_with_the_test_ca() {
        let (ca, entra) = entra();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let addr = entra.server.addr();
        let request = token_request("t1", GOOD).with_header("host", &addr.to_string());
        let (status, body) = rt.block_on(crate::http::testing::send(addr, Some(&ca), &request));
        assert_eq!(status, 200);
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(entra.token_requests().len(), 1);
        assert!(entra.authority_host().starts_with("https://127.0.0.1:"));
    }
}
