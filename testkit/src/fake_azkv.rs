//! A fake Azure Key Vault (secrets, Get Secret only) over TLS for the AZKVSECRET plugin's tests:
//! no Key Vault emulator can be installed here, so the fake speaks the documented REST API
//! strictly and the plugin's real client (`azure_security_keyvault_secrets`) talks to it.
//!
//! - Get Secret, <https://learn.microsoft.com/en-us/rest/api/keyvault/secrets/get-secret/get-secret>:
//!   `GET {vaultBaseUrl}/secrets/{secret-name}/{secret-version}?api-version=...`; an empty or
//!   absent version is the latest. `200 {"value":...,"id":...,"attributes":{...},"tags":{}}`.
//!   Names are case-insensitive, as in the service. Only [`KV_API_VERSIONS`] are accepted; any
//!   other is `400 BadParameter`, and every request's version is recorded so a test can check
//!   the one the client sends.
//! - Errors have the service's shape, `{"error":{"code":"SecretNotFound","message":"..."}}`:
//!   404 `SecretNotFound`; 403 `Forbidden` "Operation get is not allowed on a disabled
//!   secret." (inner `SecretDisabled`); 403 `Forbidden` for an application without `get`
//!   permission (inner `AccessDenied`); 401 `Unauthorized` for a missing or foreign token.
//! - Authentication, <https://learn.microsoft.com/en-us/azure/key-vault/general/authentication-requests-and-responses>:
//!   a request without a bearer token gets `401` with `WWW-Authenticate: Bearer
//!   authorization="https://login.microsoftonline.com/{tenant}", resource="https://vault.azure.net"`;
//!   the client then gets a token for `https://vault.azure.net/.default` from Entra ID (here a
//!   [`FakeEntra`]) and retries. The fake accepts only tokens that fake issued, for that
//!   resource, in the vault's tenant.
//!
//! Vaults are told apart by the `Host` header (`{vault}.vault.azure.net[:port]`): the plugin is
//! pointed at the fake with `AZKVSECRET_CONNECT_TO=127.0.0.1:PORT` ([`FakeKeyVault::connect_to`])
//! and keeps the vault's real host name, so its TLS name check and the client's
//! challenge-resource check run as against Azure. The certificate is for `*.vault.azure.net`,
//! signed by the test's [`TestCa`] (`SSL_CERT_FILE`). [`FakeKeyVault::start_in_cloud`] serves
//! another cloud's domain (e.g. `vault.azure.cn`, resource `https://vault.azure.cn`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::fake_entra::{EntraTokens, FakeEntra};
use crate::http::{HttpsRequest, HttpsResponse, HttpsServer, TestCa};

/// The Key Vault REST API versions the fake accepts (the service's GA versions).
pub const KV_API_VERSIONS: &[&str] = &[
    "7.0",
    "7.1",
    "7.2",
    "7.3",
    "7.4",
    "7.5",
    "7.6",
    "2025-07-01",
];

/// The public cloud's vault domain, which the fake serves.
pub const KV_DNS_SUFFIX: &str = "vault.azure.net";

/// The audience of Key Vault tokens, named in the challenge.
pub const KV_RESOURCE: &str = "https://vault.azure.net";

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvRequest {
    /// The vault named by the Host header (lower case), empty if none.
    pub vault: String,
    /// The method.
    pub method: String,
    /// The path as sent.
    pub path: String,
    /// The `api-version` query parameter, if sent.
    pub api_version: Option<String>,
    /// Whether it carried a bearer token the fake accepted.
    pub authenticated: bool,
    /// The status answered.
    pub status: u16,
}

#[derive(Debug, Clone)]
struct Version {
    id: String,
    value: String,
    enabled: bool,
    content_type: Option<String>,
    created: u64,
}

#[derive(Debug, Default)]
struct Vault {
    tenant: String,
    /// Applications (client ids) allowed to get secrets.
    readers: Vec<String>,
    /// Lower-case name -> (name as created, versions oldest first).
    secrets: BTreeMap<String, (String, Vec<Version>)>,
}

#[derive(Default)]
struct KvState {
    /// The vaults' domain, `vault.azure.net` in the public cloud.
    dns_suffix: String,
    vaults: BTreeMap<String, Vault>,
    requests: Vec<KvRequest>,
    next_version: u64,
}

/// The fake Key Vault service. Stops when dropped.
pub struct FakeKeyVault {
    server: HttpsServer,
    state: Arc<Mutex<KvState>>,
}

impl FakeKeyVault {
    /// Starts the service for the public cloud (`*.vault.azure.net`, tokens for
    /// `https://vault.azure.net`) with a certificate from `ca`, trusting tokens from `entra`.
    pub fn start(ca: &TestCa, entra: &FakeEntra) -> FakeKeyVault {
        FakeKeyVault::start_in_cloud(ca, entra, KV_DNS_SUFFIX)
    }

    /// Starts the service for the cloud whose vaults are `*.{dns_suffix}` (e.g.
    /// `vault.azure.cn`); its challenge names the resource `https://{dns_suffix}`.
    pub fn start_in_cloud(ca: &TestCa, entra: &FakeEntra, dns_suffix: &str) -> FakeKeyVault {
        let state = Arc::new(Mutex::new(KvState {
            dns_suffix: dns_suffix.to_string(),
            ..Default::default()
        }));
        let shared = Arc::clone(&state);
        let tokens = entra.tokens();
        let wildcard = format!("*.{dns_suffix}");
        let server = HttpsServer::start(ca, &[&wildcard], move |req| {
            handle(&mut shared.lock().expect("vault state"), &tokens, req)
        });
        FakeKeyVault { server, state }
    }

    /// `AZKVSECRET_CONNECT_TO` for the plugin: `127.0.0.1:PORT`.
    pub fn connect_to(&self) -> String {
        self.server.addr().to_string()
    }

    /// Creates vault `name` in `tenant` (its challenge names that tenant; tokens from others
    /// are refused). Nobody may read it yet: see [`FakeKeyVault::grant`].
    pub fn add_vault(&self, name: &str, tenant: &str) {
        self.state.lock().expect("vault state").vaults.insert(
            name.to_ascii_lowercase(),
            Vault {
                tenant: tenant.to_string(),
                ..Default::default()
            },
        );
    }

    /// Gives application `client_id` the secrets `get` permission on `vault`.
    pub fn grant(&self, vault: &str, client_id: &str) {
        self.with_vault(vault, |v| v.readers.push(client_id.to_string()));
    }

    /// Adds a new (latest) version of secret `name` and returns its version id.
    pub fn set_secret(&self, vault: &str, name: &str, value: &str) -> String {
        self.add_version(vault, name, value, None)
    }

    /// [`FakeKeyVault::set_secret`] with a content type (e.g. `application/json`).
    pub fn set_secret_with_type(
        &self,
        vault: &str,
        name: &str,
        value: &str,
        content_type: &str,
    ) -> String {
        self.add_version(vault, name, value, Some(content_type.to_string()))
    }

    /// Disables (`enabled: false`) one version of a secret.
    pub fn disable(&self, vault: &str, name: &str, version: &str) {
        self.with_vault(vault, |v| {
            let (_, versions) = v
                .secrets
                .get_mut(&name.to_ascii_lowercase())
                .expect("no such secret in the fake vault");
            versions
                .iter_mut()
                .find(|x| x.id == version)
                .expect("no such version in the fake vault")
                .enabled = false;
        });
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<KvRequest> {
        self.state.lock().expect("vault state").requests.clone()
    }

    /// Get Secret calls that carried an accepted token (the reads the plugin made).
    pub fn reads(&self) -> usize {
        self.requests().iter().filter(|r| r.authenticated).count()
    }

    /// Requests answered with the authentication challenge.
    pub fn challenges(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| !r.authenticated && r.status == 401)
            .count()
    }

    /// Forgets the recorded requests.
    pub fn reset_requests(&self) {
        self.state.lock().expect("vault state").requests.clear();
    }

    fn add_version(
        &self,
        vault: &str,
        name: &str,
        value: &str,
        content_type: Option<String>,
    ) -> String {
        let mut state = self.state.lock().expect("vault state");
        state.next_version += 1;
        // 32 lower-case hex digits, like the service's version ids.
        let id = format!("{:08x}{:024x}", 0x5ec2_e7a1_u32, state.next_version);
        let created = 1_767_225_600 + state.next_version;
        let v = state
            .vaults
            .get_mut(&vault.to_ascii_lowercase())
            .expect("no such vault in the fake: add_vault first");
        v.secrets
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| (name.to_string(), Vec::new()))
            .1
            .push(Version {
                id: id.clone(),
                value: value.to_string(),
                enabled: true,
                content_type,
                created,
            });
        id
    }

    fn with_vault(&self, vault: &str, f: impl FnOnce(&mut Vault)) {
        let mut state = self.state.lock().expect("vault state");
        f(state
            .vaults
            .get_mut(&vault.to_ascii_lowercase())
            .expect("no such vault in the fake: add_vault first"));
    }
}

fn error(status: u16, code: &str, message: &str, inner: Option<&str>) -> HttpsResponse {
    let mut body = serde_json::json!({"error": {"code": code, "message": message}});
    if let Some(inner) = inner {
        body["error"]["innererror"] = serde_json::json!({ "code": inner });
    }
    HttpsResponse::json(status, &body)
}

fn handle(state: &mut KvState, tokens: &EntraTokens, req: &HttpsRequest) -> HttpsResponse {
    let host = req.header("host").unwrap_or("").to_ascii_lowercase();
    let host = host.split(':').next().unwrap_or("");
    let vault_name = host
        .strip_suffix(&format!(".{}", state.dns_suffix))
        .unwrap_or("")
        .to_string();
    let api_version = req
        .query_pairs()
        .into_iter()
        .find(|(k, _)| k == "api-version")
        .map(|(_, v)| v);
    let (authenticated, response) = answer(state, tokens, req, &vault_name, api_version.as_deref());
    state.requests.push(KvRequest {
        vault: vault_name,
        method: req.method.clone(),
        path: req.path.clone(),
        api_version,
        authenticated,
        status: response.status,
    });
    response
}

/// (whether the token was accepted, the answer).
fn answer(
    state: &KvState,
    tokens: &EntraTokens,
    req: &HttpsRequest,
    vault_name: &str,
    api_version: Option<&str>,
) -> (bool, HttpsResponse) {
    let Some(vault) = state.vaults.get(vault_name) else {
        // Azure has no such host: DNS fails. The fake can only say so in plain text.
        let resp = HttpsResponse::empty(404).with_body(format!(
            "the fake Key Vault has no vault for host {vault_name:?}"
        ));
        return (false, resp);
    };
    // Authentication comes first, as in the service: the client's first request has no token
    // and must get the challenge whatever it asks for.
    let resource = format!("https://{}", state.dns_suffix);
    let challenge = format!(
        "Bearer authorization=\"https://login.microsoftonline.com/{}\", resource=\"{resource}\"",
        vault.tenant
    );
    let unauthorized = |message: &str| {
        error(401, "Unauthorized", message, None).with_header("www-authenticate", &challenge)
    };
    let Some(authorization) = req.header("authorization") else {
        return (
            false,
            unauthorized("AKV10000: Request is missing a Bearer or PoP token."),
        );
    };
    let issued = match tokens.verify(Some(authorization), &resource) {
        Ok(issued) => issued,
        Err(reason) => {
            return (
                false,
                unauthorized(&format!("AKV10022: Invalid token: {reason}.")),
            );
        }
    };
    if issued.tenant != vault.tenant {
        return (
            false,
            unauthorized(&format!(
                "AKV10032: Invalid issuer. Expected one of https://sts.windows.net/{}/, found https://sts.windows.net/{}/.",
                vault.tenant, issued.tenant
            )),
        );
    }
    match api_version {
        Some(v) if KV_API_VERSIONS.contains(&v) => {}
        Some(v) => {
            return (
                true,
                error(
                    400,
                    "BadParameter",
                    &format!(
                        "The specified version ({v}) is not recognized. Consider using the latest supported version (2025-07-01)."
                    ),
                    None,
                ),
            );
        }
        None => {
            return (
                true,
                error(
                    400,
                    "BadParameter",
                    "The request URI contains an invalid api-version parameter. api-version is required.",
                    None,
                ),
            );
        }
    }
    let segments = req.path_segments();
    let (name, version) = match (req.method.as_str(), &segments[..]) {
        ("GET", [s, name]) | ("GET", [s, name, _]) if s == "secrets" && !name.is_empty() => {
            (name.clone(), segments.get(2).cloned().unwrap_or_default())
        }
        _ => {
            return (
                true,
                error(
                    501,
                    "NotImplemented",
                    &format!(
                        "the fake Key Vault serves only Get Secret, not {} {}",
                        req.method, req.path
                    ),
                    None,
                ),
            );
        }
    };
    if !vault.readers.contains(&issued.client_id) {
        return (
            true,
            error(
                403,
                "Forbidden",
                &format!(
                    "The user, group or application 'appid={};iss=https://sts.windows.net/{}/' does not have secrets get permission on key vault '{vault_name}'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
                    issued.client_id, issued.tenant
                ),
                Some("AccessDenied"),
            ),
        );
    }
    let not_found = |id: &str| {
        error(
            404,
            "SecretNotFound",
            &format!(
                "A secret with (name/id) {id} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
            ),
            None,
        )
    };
    let Some((stored_name, versions)) = vault.secrets.get(&name.to_ascii_lowercase()) else {
        return (true, not_found(&name));
    };
    let found = if version.is_empty() {
        versions.last()
    } else {
        versions
            .iter()
            .find(|v| v.id == version.to_ascii_lowercase())
    };
    let Some(found) = found else {
        return (true, not_found(&format!("{name}/{version}")));
    };
    if !found.enabled {
        return (
            true,
            error(
                403,
                "Forbidden",
                "Operation get is not allowed on a disabled secret.",
                Some("SecretDisabled"),
            ),
        );
    }
    let mut body = serde_json::json!({
        "value": found.value,
        "id": format!(
            "https://{vault_name}.{}/secrets/{stored_name}/{}",
            state.dns_suffix, found.id
        ),
        "attributes": {
            "enabled": true,
            "created": found.created,
            "updated": found.created,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 90,
        },
        "tags": {},
    });
    if let Some(ct) = &found.content_type {
        body["contentType"] = ct.as_str().into();
    }
    (true, HttpsResponse::json(200, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(host: &str, path_and_query: &str, authorization: Option<&str>) -> HttpsRequest {
        let req = HttpsRequest::to("GET", path_and_query).with_header("host", host);
        match authorization {
            Some(a) => req.with_header("authorization", a),
            None => req,
        }
    }

    fn body(resp: &HttpsResponse) -> serde_json::Value {
        serde_json::from_slice(&resp.body).expect("JSON body")
    }

    /// A vault, a token endpoint and a token issued by it (through the real TLS endpoint is
    /// left to the plugin's tests; here the state is driven directly).
    struct Bench {
        _ca: TestCa,
        entra: FakeEntra,
        kv: FakeKeyVault,
    }

    fn bench() -> Bench {
        let ca = TestCa::new();
        let entra = FakeEntra::start(&ca);
        entra.register("t1", "app", "pw");
        let kv = FakeKeyVault::start(&ca, &entra);
        kv.add_vault("kv1", "t1");
        kv.grant("kv1", "app");
        Bench { _ca: ca, entra, kv }
    }

    fn issue(b: &Bench, tenant: &str, scope: &str) -> String {
        let form = format!(
            "client_id=app&client_secret=pw&grant_type=client_credentials&scope={}",
            scope.replace(':', "%3A").replace('/', "%2F")
        );
        let req = crate::fake_entra::token_request(tenant, &form);
        let resp = crate::fake_entra::token_endpoint_for_tests(&b.entra, &req);
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        body(&resp)["access_token"]
            .as_str()
            .expect("a token")
            .to_string()
    }

    fn get(b: &Bench, path: &str, auth: Option<&str>) -> HttpsResponse {
        let tokens = b.entra.tokens();
        let mut state = b.kv.state.lock().unwrap();
        handle(
            &mut state,
            &tokens,
            &request("kv1.vault.azure.net:4443", path, auth),
        )
    }

    #[test]
    fn unauthenticated_requests_get_the_challenge() {
        let b = bench();
        let resp = get(&b, "/secrets/x/?api-version=2025-07-01", None);
        assert_eq!(resp.status, 401);
        assert_eq!(
            resp.headers
                .iter()
                .find(|(n, _)| n == "www-authenticate")
                .map(|(_, v)| v.as_str()),
            Some(
                "Bearer authorization=\"https://login.microsoftonline.com/t1\", resource=\"https://vault.azure.net\""
            )
        );
        assert_eq!(body(&resp)["error"]["code"], "Unauthorized");
        let resp = get(
            &b,
            "/secrets/x/?api-version=2025-07-01",
            Some("Bearer made-up"),
        );
        assert_eq!(resp.status, 401);
        assert_eq!(b.kv.challenges(), 2);
        assert_eq!(b.kv.reads(), 0);
    }

    #[test]
    fn tokens_must_be_for_the_vault_and_its_tenant() {
        let b = bench();
        let storage = issue(&b, "t1", "https://storage.azure.com/.default");
        let resp = get(
            &b,
            "/secrets/x?api-version=7.6",
            Some(&format!("Bearer {storage}")),
        );
        assert_eq!(resp.status, 401);
        b.entra.register("t2", "app", "pw");
        let foreign = issue(&b, "t2", "https://vault.azure.net/.default");
        let resp = get(
            &b,
            "/secrets/x?api-version=7.6",
            Some(&format!("Bearer {foreign}")),
        );
        assert_eq!(resp.status, 401);
        assert!(
            body(&resp)["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("AKV10032: Invalid issuer.")
        );
    }

    #[test]
    fn get_secret_serves_versions_and_refuses_like_the_service() {
        let b = bench();
        let v1 = b.kv.set_secret("kv1", "Db-Password", "one");
        let v2 = b.kv.set_secret("kv1", "db-password", "two");
        assert_eq!(v1.len(), 32);
        let token = issue(&b, "t1", "https://vault.azure.net/.default");
        let auth = format!("Bearer {token}");
        let ok = |path: &str| {
            let resp = get(&b, path, Some(&auth));
            assert_eq!(resp.status, 200, "{path}");
            body(&resp)
        };
        let latest = ok("/secrets/db-password/?api-version=2025-07-01");
        assert_eq!(latest["value"], "two");
        assert_eq!(
            latest["id"],
            format!("https://kv1.vault.azure.net/secrets/Db-Password/{v2}")
        );
        assert_eq!(latest["attributes"]["enabled"], true);
        assert_eq!(
            ok("/secrets/DB-PASSWORD?api-version=2025-07-01")["value"],
            "two"
        );
        assert_eq!(
            ok(&format!("/secrets/db-password/{v1}?api-version=2025-07-01"))["value"],
            "one"
        );

        let resp = get(&b, "/secrets/nope/?api-version=2025-07-01", Some(&auth));
        assert_eq!(resp.status, 404);
        assert_eq!(body(&resp)["error"]["code"], "SecretNotFound");
        let resp = get(
            &b,
            "/secrets/db-password/ffff?api-version=2025-07-01",
            Some(&auth),
        );
        assert_eq!(resp.status, 404);
        assert!(
            body(&resp)["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("A secret with (name/id) db-password/ffff was not found")
        );

        b.kv.disable("kv1", "db-password", &v2);
        let resp = get(
            &b,
            "/secrets/db-password/?api-version=2025-07-01",
            Some(&auth),
        );
        assert_eq!(resp.status, 403);
        assert_eq!(
            body(&resp),
            serde_json::json!({"error": {"code": "Forbidden", "message": "Operation get is not allowed on a disabled secret.", "innererror": {"code": "SecretDisabled"}}})
        );

        for (query, status) in [("api-version=2016-10-01", 400), ("", 400)] {
            let resp = get(&b, &format!("/secrets/db-password?{query}"), Some(&auth));
            assert_eq!(resp.status, status, "{query}");
            assert_eq!(body(&resp)["error"]["code"], "BadParameter");
        }
        let versions: Vec<Option<String>> =
            b.kv.requests().into_iter().map(|r| r.api_version).collect();
        assert_eq!(versions.len(), 8);
        assert_eq!(versions[7], None);
    }

    #[test]
    fn applications_need_the_get_permission() {
        let b = bench();
        b.kv.add_vault("kv2", "t1");
        b.kv.set_secret("kv2", "x", "v");
        let token = issue(&b, "t1", "https://vault.azure.net/.default");
        let tokens = b.entra.tokens();
        let mut state = b.kv.state.lock().unwrap();
        let resp = handle(
            &mut state,
            &tokens,
            &request(
                "kv2.vault.azure.net",
                "/secrets/x?api-version=2025-07-01",
                Some(&format!("Bearer {token}")),
            ),
        );
        assert_eq!(resp.status, 403);
        assert_eq!(body(&resp)["error"]["innererror"]["code"], "AccessDenied");
        let resp = handle(
            &mut state,
            &tokens,
            &request(
                "other.vault.azure.net",
                "/secrets/x?api-version=2025-07-01",
                None,
            ),
        );
        assert_eq!(resp.status, 404);
    }
}
