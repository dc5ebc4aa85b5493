//! Vault's AWS auth method, IAM type: `POST /v1/auth/aws/login` with a SigV4-signed
//! `sts:GetCallerIdentity` request, which Vault sends on to STS to learn who the caller is.
//!
//! As Vault's own Go client (and so configmanager) does by default, the request is signed for
//! STS's global endpoint `https://sts.amazonaws.com/` in `us-east-1`, the endpoint a Vault
//! server checks logins against unless its `sts_endpoint` was changed. The credentials come
//! from the standard AWS chain (environment, shared files and profiles, SSO, web identity,
//! ECS and EC2 metadata). The login body is Vault's documented one: `role`,
//! `iam_http_request_method`, and the request's URL, body and headers (Go's header-map JSON),
//! each base64-encoded.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::kv::{error_chain, request, send};
use crate::settings::Settings;

/// The signed request's address.
pub const STS_URL: &str = "https://sts.amazonaws.com/";
/// Its host.
pub const STS_HOST: &str = "sts.amazonaws.com";
/// The region the global endpoint is signed for.
pub const STS_REGION: &str = "us-east-1";
/// The signed request's body.
pub const STS_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
/// Its content type, as the AWS SDKs send it.
pub const STS_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// The JSON body of `auth/aws/login` for `role`, signed with `credentials` at `time`.
pub fn login_body(role: &str, credentials: Credentials, time: SystemTime) -> Result<Value, String> {
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(STS_REGION)
        .name("sts")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("signing the STS request: {e}"))?
        .into();
    let headers = [("host", STS_HOST), ("content-type", STS_CONTENT_TYPE)];
    let signable = SignableRequest::new(
        "POST",
        STS_URL,
        headers.iter().copied(),
        SignableBody::Bytes(STS_BODY.as_bytes()),
    )
    .map_err(|e| format!("signing the STS request: {e}"))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| format!("signing the STS request: {e}"))?
        .into_parts();
    // Go's http.Header as JSON: canonical names, each with a list of values.
    let mut header_map = Map::new();
    for (name, value) in headers.iter().copied().chain(instructions.headers()) {
        header_map.insert(canonical_header(name), json!([value]));
    }
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    Ok(json!({
        "role": role,
        "iam_http_request_method": "POST",
        "iam_request_url": b64(STS_URL),
        "iam_request_body": b64(STS_BODY),
        "iam_request_headers": b64(&Value::Object(header_map).to_string()),
    }))
}

/// `x-amz-date` -> `X-Amz-Date`, as Go writes header names.
fn canonical_header(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => {
                    first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
                }
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The client token of a login answer.
pub fn client_token(status: u16, body: &[u8], role: &str) -> Result<String, String> {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    if status == 200 {
        return v
            .as_ref()
            .and_then(|v| v.pointer("/auth/client_token"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                format!("Vault's AWS IAM login as role {role:?} returned no client token")
            });
    }
    let reasons = v
        .as_ref()
        .and_then(|v| v.get("errors"))
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    Err(format!(
        "Vault refused the AWS IAM login as role {role:?}: {reasons} (HTTP {status})"
    ))
}

/// Credentials from the standard AWS chain, its HTTP calls (metadata services, SSO) made with
/// rustls and ring as in the AWS plugins.
async fn credentials() -> Result<Credentials, String> {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await;
    let provider = config
        .credentials_provider()
        .ok_or("no AWS credentials provider is configured")?;
    provider.provide_credentials().await.map_err(|e| {
        format!(
            "no AWS credentials for the AWS IAM login: {}",
            error_chain(&e)
        )
    })
}

/// Logs in as `role`; the client token.
pub async fn login(
    http: &reqwest::Client,
    settings: &Settings,
    role: &str,
) -> Result<String, String> {
    let body = login_body(role, credentials().await?, SystemTime::now())?;
    let url = format!("{}/v1/auth/aws/login", settings.addr);
    let (status, answer) = send(
        request(http, settings, reqwest::Method::POST, &url, None)
            .header("Content-Type", "application/json")
            .body(body.to_string()),
    )
    .await
    .map_err(|e| format!("AWS IAM login to Vault: {e}"))?;
    let token = client_token(status, &answer, role)?;
    tracing::debug!(role, "logged in to Vault with AWS IAM");
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(v: &Value, field: &str) -> String {
        let text = v[field].as_str().unwrap();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn the_login_body_is_vaults_with_a_signed_sts_request() {
        let credentials = Credentials::new("AKID", "SECRET", Some("SESSION".into()), None, "test");
        // 2024-01-02T03:04:05Z
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_704_164_645);
        let body = login_body("app-role", credentials, time).unwrap();
        assert_eq!(body["role"], "app-role");
        assert_eq!(body["iam_http_request_method"], "POST");
        assert_eq!(
            decode(&body, "iam_request_url"),
            "https://sts.amazonaws.com/"
        );
        assert_eq!(
            decode(&body, "iam_request_body"),
            "Action=GetCallerIdentity&Version=2011-06-15"
        );
        let headers: Value = serde_json::from_str(&decode(&body, "iam_request_headers")).unwrap();
        assert_eq!(headers["Host"], json!(["sts.amazonaws.com"]));
        assert_eq!(headers["Content-Type"], json!([STS_CONTENT_TYPE]));
        assert_eq!(headers["X-Amz-Date"], json!(["20240102T030405Z"]));
        assert_eq!(headers["X-Amz-Security-Token"], json!(["SESSION"]));
        let auth = headers["Authorization"][0].as_str().unwrap();
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKID/20240102/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="
            ),
            "{auth}"
        );
        // The signature is SigV4's: the same request signed twice gives the same one, another
        // secret another.
        let again = login_body(
            "app-role",
            Credentials::new("AKID", "SECRET", Some("SESSION".into()), None, "test"),
            time,
        )
        .unwrap();
        assert_eq!(again, body);
        let other = login_body(
            "app-role",
            Credentials::new("AKID", "OTHER", Some("SESSION".into()), None, "test"),
            time,
        )
        .unwrap();
        assert_ne!(other["iam_request_headers"], body["iam_request_headers"]);
    }

    #[test]
    fn header_names_are_gos() {
        assert_eq!(canonical_header("x-amz-date"), "X-Amz-Date");
        assert_eq!(canonical_header("authorization"), "Authorization");
        assert_eq!(canonical_header("content-type"), "Content-Type");
    }

    #[test]
    fn login_answers() {
        assert_eq!(
            client_token(
                200,
                br#"{"auth":{"client_token":"s.abc","policies":["x"]}}"#,
                "r"
            )
            .unwrap(),
            "s.abc"
        );
        assert_eq!(
            client_token(200, br#"{"auth":null}"#, "r").unwrap_err(),
            "Vault's AWS IAM login as role \"r\" returned no client token"
        );
        assert_eq!(
            client_token(400, br#"{"errors":["entry for role r not found"]}"#, "r").unwrap_err(),
            "Vault refused the AWS IAM login as role \"r\": entry for role r not found (HTTP 400)"
        );
        assert_eq!(
            client_token(502, b"Bad Gateway", "r").unwrap_err(),
            "Vault refused the AWS IAM login as role \"r\": Bad Gateway (HTTP 502)"
        );
    }
}
