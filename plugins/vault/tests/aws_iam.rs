//! The AWS IAM login (`VAULT_TOKEN=aws_iam...`) end to end: the real `cm` with this plugin,
//! against a small fake Vault (OpenBao has no AWS auth method). The fake checks the login
//! request as Vault would before sending it to STS: the body's fields, the signed STS request
//! (URL, body, headers) and its SigV4 signature, recomputed here independently of the plugin
//! with the test's secret key. It hands out a client token per role and requires it on the
//! KV v2 read it also serves. No network: the STS request is only signed, never sent.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use cm_testkit::{Project, cm_binary};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

const PLUGIN: &str = env!("CARGO_BIN_EXE_cm-plugin-vault");
const ACCESS_KEY: &str = "AKID";
const SECRET_KEY: &str = "fake/secret+key";
const ROLE: &str = "app-role";

/// The fake's record: logins per role.
type Logins = Arc<Mutex<BTreeMap<String, usize>>>;

/// A fake Vault on loopback; stops with the test's runtime.
async fn fake_vault() -> (String, Logins) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let logins: Logins = Arc::default();
    let record = Arc::clone(&logins);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let record = Arc::clone(&record);
                    async move { Ok::<_, hyper::Error>(answer(req, &record).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, logins)
}

fn reply(status: u16, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn refuse(status: u16, reason: impl Into<String>) -> Response<Full<Bytes>> {
    reply(status, json!({ "errors": [reason.into()] }))
}

async fn answer(req: Request<Incoming>, logins: &Logins) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    match (parts.method.as_str(), parts.uri.path()) {
        ("POST", "/v1/auth/aws/login") => {
            if parts.headers.contains_key("x-vault-token") {
                return refuse(400, "a login carries no token");
            }
            match check_login(&body) {
                Ok(role) if role == ROLE => {
                    *logins.lock().unwrap().entry(role.clone()).or_default() += 1;
                    reply(
                        200,
                        json!({ "auth": { "client_token": format!("client-token-for-{role}") } }),
                    )
                }
                Ok(role) => {
                    *logins.lock().unwrap().entry(role.clone()).or_default() += 1;
                    refuse(400, format!("entry for role {role} not found"))
                }
                Err(reason) => refuse(400, reason),
            }
        }
        ("GET", path) if path.starts_with("/v1/secret/data/app/") => {
            let token = parts
                .headers
                .get("x-vault-token")
                .and_then(|v| v.to_str().ok());
            if token != Some(&format!("client-token-for-{ROLE}")) {
                return refuse(403, "permission denied");
            }
            let name = path.trim_start_matches("/v1/secret/data/app/");
            reply(
                200,
                json!({ "data": { "data": { "user": name, "pw": "from-the-fake" }, "metadata": { "version": 1 } } }),
            )
        }
        _ => refuse(
            404,
            format!("no handler for {} {}", parts.method, parts.uri),
        ),
    }
}

/// Vault's checks of an IAM login, and the signature's; the role on success.
fn check_login(body: &[u8]) -> Result<String, String> {
    let login: Value = serde_json::from_slice(body).map_err(|e| format!("body: {e}"))?;
    let field = |name: &str| -> Result<String, String> {
        let text = login[name].as_str().ok_or(format!("no {name}"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("{name}: {e}"))?;
        String::from_utf8(bytes).map_err(|e| format!("{name}: {e}"))
    };
    let role = login["role"].as_str().ok_or("no role")?.to_string();
    if login["iam_http_request_method"] != "POST" {
        return Err("iam_http_request_method is not POST".into());
    }
    if field("iam_request_url")? != "https://sts.amazonaws.com/" {
        return Err("iam_request_url is not STS's".into());
    }
    let sts_body = field("iam_request_body")?;
    if sts_body != "Action=GetCallerIdentity&Version=2011-06-15" {
        return Err(format!("iam_request_body is {sts_body:?}"));
    }
    let headers: BTreeMap<String, Vec<String>> =
        serde_json::from_str(&field("iam_request_headers")?)
            .map_err(|e| format!("headers: {e}"))?;
    let header = |name: &str| -> Result<String, String> {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first().cloned())
            .ok_or(format!("no {name} header"))
    };
    let amz_date = header("x-amz-date")?;
    let day = &amz_date[..8];
    let authorization = header("authorization")?;
    let prefix = format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{day}/us-east-1/sts/aws4_request, SignedHeaders="
    );
    let rest = authorization
        .strip_prefix(&prefix)
        .ok_or(format!("Authorization is {authorization:?}"))?;
    let (signed, signature) = rest.split_once(", Signature=").ok_or("no signature")?;
    let signed: Vec<&str> = signed.split(';').collect();
    if !signed.contains(&"host") || !signed.contains(&"x-amz-date") {
        return Err(format!("SignedHeaders are {signed:?}"));
    }
    // SigV4, from AWS's description: canonical request, string to sign, derived key.
    let mut canonical = String::from("POST\n/\n\n");
    for name in &signed {
        let value = if *name == "host" {
            header("host").unwrap_or_else(|_| "sts.amazonaws.com".into())
        } else {
            header(name)?
        };
        canonical.push_str(&format!("{name}:{}\n", value.trim()));
    }
    canonical.push_str(&format!(
        "\n{}\n{}",
        signed.join(";"),
        hex_sha256(sts_body.as_bytes())
    ));
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{day}/us-east-1/sts/aws4_request\n{}",
        hex_sha256(canonical.as_bytes())
    );
    let mut key = hmac(format!("AWS4{SECRET_KEY}").as_bytes(), day.as_bytes());
    for part in ["us-east-1", "sts", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let expected: String = hmac(&key, to_sign.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if signature != expected {
        return Err("the STS request's signature does not match".into());
    }
    Ok(role)
}

fn hex_sha256(data: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// A project logging in with `aws_iam` at the fake, with static AWS credentials from the
/// environment and nothing else of the AWS chain (no profile files, no instance metadata).
fn project(vault: &str) -> Project {
    let project = Project::new(cm_binary())
        .env("VAULT_ADDR", vault)
        .env("VAULT_TOKEN", "aws_iam")
        .env_remove("VAULT_NAMESPACE")
        .env_remove("VAULT_CACERT")
        .env_remove("VAULT_SKIP_VERIFY")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        // The AWS files default to the project's empty HOME.
        .env_remove("AWS_CONFIG_FILE")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    project.link_binary("VAULT", Path::new(PLUGIN));
    project
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_iam_logs_in_once_per_role_and_reads_with_the_client_token() {
    let (vault, logins) = fake_vault().await;
    // Four stored items (cm fetches each once), so four reads after one login.
    let template = format!(
        "db=VAULT://secret___app/db|user[iam_role={ROLE}]\n\
         pw=VAULT://secret___app/db|pw[iam_role={ROLE}]\n\
         cache=VAULT://secret___app/cache|user[iam_role={ROLE}]\n\
         queue=VAULT://secret___app/queue|user[iam_role={ROLE}]\n\
         old=VAULT://secret___/app/db|user[iam_role={ROLE},version=1]\n"
    );
    let project = project(&vault);
    tokio::task::spawn_blocking(move || {
        project
            .cm()
            .arg("insert")
            .stdin(&template)
            .stdout("db=db\npw=from-the-fake\ncache=cache\nqueue=queue\nold=db\n")
            .success();
    })
    .await
    .unwrap();
    assert_eq!(
        *logins.lock().unwrap(),
        BTreeMap::from([(ROLE.to_string(), 1)]),
        "one login for three tokens of one role"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_login_and_a_missing_role_are_reported() {
    let (vault, logins) = fake_vault().await;
    let project = project(&vault);
    let tokens = [
        "VAULT://secret___app/db|pw[iam_role=nope]",
        "VAULT://secret___app/cache|pw[iam_role=nope]",
        "VAULT://secret___app/db|pw",
    ];
    let input = format!("a={} b={} c={}\n", tokens[0], tokens[1], tokens[2]);
    let refused = "failed to initialize the client: Vault refused the AWS IAM login as role \"nope\": entry for role nope not found (HTTP 400)";
    let reasons = [
        refused,
        refused,
        "implementation VAULT error: VAULT_TOKEN asks for the AWS IAM login (aws_iam) but the token has no iam_role metadata for token: secret___app/db",
    ];
    let stderr: String = tokens
        .iter()
        .zip(reasons)
        .zip(["a", "b", "c"])
        .map(|((token, reason), name)| {
            let column = input.find(&format!("{name}={token}")).unwrap() + 3;
            format!(
                " WARN <stdin>:1:{column}: failed to retrieve config item - ({token}), {reason} (left as it was: --lax)\n"
            )
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        project
            .cm()
            .args(["insert", "--lax"])
            .stdin(&input)
            .stdout(&input)
            .stderr(stderr)
            .success();
    })
    .await
    .unwrap();
    // The refusal is kept: the second token of the role did not log in again.
    assert_eq!(
        *logins.lock().unwrap(),
        BTreeMap::from([("nope".to_string(), 1)])
    );
}
