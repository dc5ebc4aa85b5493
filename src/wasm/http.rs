//! `cm.http_request` and `cm.http_response`: the one capability beyond WASI a module may have,
//! HTTP(S) requests to the hosts the user granted. TLS is done here, with rustls and the host's
//! root certificates (rustls-native-certs: the system store, or `SSL_CERT_FILE` instead of it).
//!
//! The ABI (also in the README): `http_request(reqPtr, reqLen, respLenPtr) -> i32` reads a JSON
//! request record, performs the request, keeps the response record pending for the instance and
//! writes its length at `respLenPtr`; `http_response(outPtr, outCap) -> i32` copies it out.
//! Codes: 0 a response arrived (any status), -10 host not allowed, -11 bad request record, -12
//! transport failure; -1 buffer too small and -14 nothing pending for `http_response`. The host
//! never calls back into the guest while an import is on the guest's stack: the guest allocates
//! the response buffer itself, between the two calls.
//!
//! Redirects are not followed: a 3xx is handed to the module like any response, and a module
//! that follows it makes a new request, checked against the grants like any other. The request,
//! body included, is bounded by the token's deadline; a response body over 16 MiB fails it. Each
//! request is logged at debug (`-v`): method, `scheme://host:port/path` without the query,
//! status or failure, duration; never header values or bodies.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use base64::Engine as _;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde::{Deserialize, Serialize};
use wasmi::{Caller, Val};

use super::grants::Grants;
use super::runtime::HostState;
use super::wasi::{arg, memory, region};

/// The import module of cm's host functions.
pub(super) const CM: &str = "cm";

const OK: i32 = 0;
const ERR_BUF_TOO_SMALL: i32 = -1;
const ERR_HOST_NOT_ALLOWED: i32 = -10;
const ERR_BAD_REQUEST: i32 = -11;
const ERR_TRANSPORT: i32 = -12;
const ERR_NOTHING_PENDING: i32 = -14;

/// The largest response body a module may receive.
pub(super) const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;

/// Largest request record accepted (a body in base64 and headers).
const MAX_REQUEST_RECORD: u32 = 16 * 1024 * 1024;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Where the client's trusted roots come from.
pub(crate) enum Roots {
    /// The host's (rustls-native-certs), read at the first request.
    Native,
    /// These (tests).
    #[cfg_attr(not(test), allow(dead_code))]
    Custom(rustls::RootCertStore),
}

/// One plugin's HTTP side: its grants and a client made at its first request.
pub(super) struct HttpContext {
    grants: Grants,
    roots: std::sync::Mutex<Option<Roots>>,
    client: OnceLock<Result<HttpsClient, String>>,
}

impl HttpContext {
    pub(super) fn new(grants: Grants, roots: Roots) -> HttpContext {
        HttpContext {
            grants,
            roots: std::sync::Mutex::new(Some(roots)),
            client: OnceLock::new(),
        }
    }

    /// The client; building it reads the root certificates, so only a plugin that makes a
    /// request pays for that. Must run inside the tokio runtime (the connector's resolver).
    fn client(&self) -> Result<&HttpsClient, String> {
        self.client
            .get_or_init(|| {
                let roots = self
                    .roots
                    .lock()
                    .expect("not poisoned")
                    .take()
                    .unwrap_or(Roots::Native);
                build_client(roots)
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

fn build_client(roots: Roots) -> Result<HttpsClient, String> {
    let roots = match roots {
        Roots::Custom(store) => store,
        Roots::Native => {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::debug!(target: "cm::wasm", error = %e, "reading the root certificates");
            }
            let mut store = rustls::RootCertStore::empty();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err("no root certificates found (see SSL_CERT_FILE)".to_string());
            }
            store
        }
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector))
}

/// The request record.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestRecord {
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: Option<String>,
}

/// The response record.
#[derive(Serialize)]
struct ResponseRecord {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// The record of a refusal or failure.
#[derive(Serialize)]
struct ErrorRecord<'a> {
    error: &'a str,
}

/// What a request came to: a code and the record left pending.
struct Outcome {
    code: i32,
    record: Vec<u8>,
}

impl Outcome {
    fn error(code: i32, why: &str) -> Outcome {
        Outcome {
            code,
            record: serde_json::to_vec(&ErrorRecord { error: why }).expect("serializes"),
        }
    }
}

/// `http_request(reqPtr, reqLen, respLenPtr) -> i32`.
pub(super) fn http_request(
    caller: &mut Caller<'_, HostState>,
    p: &[Val],
) -> Result<i32, wasmi::Error> {
    let (req_ptr, req_len, resp_len_ptr) = (arg(p, 0), arg(p, 1), arg(p, 2));
    let (record, plugin, http, deadline, runtime) = {
        let Some((data, state)) = memory(caller) else {
            return Ok(ERR_BAD_REQUEST);
        };
        let record = if req_len > MAX_REQUEST_RECORD {
            None
        } else {
            region(data, req_ptr, req_len).map(|r| r.to_vec())
        };
        (
            record,
            state.plugin.clone(),
            state.http.clone(),
            state.deadline,
            state.runtime.clone(),
        )
    };
    let outcome = match record {
        None => Outcome::error(
            ERR_BAD_REQUEST,
            "the request record is not inside memory or too large",
        ),
        Some(record) => perform(&record, &plugin, &http, deadline, runtime.as_ref()),
    };
    let Some((data, state)) = memory(caller) else {
        return Ok(ERR_BAD_REQUEST);
    };
    let Some(cell) = region(data, resp_len_ptr, 4) else {
        return Ok(ERR_BAD_REQUEST);
    };
    cell.copy_from_slice(&(outcome.record.len() as u32).to_le_bytes());
    state.pending = Some(outcome.record);
    Ok(outcome.code)
}

/// `http_response(outPtr, outCap) -> i32`.
pub(super) fn http_response(
    caller: &mut Caller<'_, HostState>,
    p: &[Val],
) -> Result<i32, wasmi::Error> {
    let (out_ptr, out_cap) = (arg(p, 0), arg(p, 1));
    let Some((data, state)) = memory(caller) else {
        return Ok(ERR_NOTHING_PENDING);
    };
    let Some(record) = state.pending.as_ref() else {
        return Ok(ERR_NOTHING_PENDING);
    };
    if (out_cap as usize) < record.len() {
        return Ok(ERR_BUF_TOO_SMALL);
    }
    let Some(dst) = region(data, out_ptr, record.len() as u32) else {
        // Nothing copied; the record stays pending for a call with a valid buffer.
        return Ok(ERR_BUF_TOO_SMALL);
    };
    dst.copy_from_slice(record);
    state.pending = None;
    Ok(OK)
}

/// A checked request, ready to send.
struct Checked {
    request: hyper::Request<Full<Bytes>>,
    /// `scheme://host:port/path`, for the log.
    shown: String,
}

/// Reads and checks a request record against the grants.
fn check(record: &[u8], grants: &Grants) -> Result<Checked, Outcome> {
    let bad = |why: String| Outcome::error(ERR_BAD_REQUEST, &why);
    let record: RequestRecord =
        serde_json::from_slice(record).map_err(|e| bad(format!("bad request record: {e}")))?;
    let uri: hyper::Uri = record
        .url
        .parse()
        .map_err(|e| bad(format!("bad URL: {e}")))?;
    let (default_port, scheme) = match uri.scheme_str() {
        Some("https") => (443, "https"),
        Some("http") => (80, "http"),
        _ => return Err(bad("the URL's scheme is not http or https".to_string())),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| bad("the URL has no host".to_string()))?;
    if authority.as_str().contains('@') {
        return Err(bad("the URL has user information".to_string()));
    }
    let host = authority.host();
    let port = authority.port_u16().unwrap_or(default_port);
    let shown = format!("{scheme}://{host}:{port}{}", uri.path());
    if !grants.allows(host, port, default_port) {
        return Err(Outcome::error(
            ERR_HOST_NOT_ALLOWED,
            &format!("host {host}:{port} is not allowed"),
        ));
    }
    let method = hyper::Method::from_bytes(record.method.as_bytes())
        .map_err(|_| bad(format!("bad method {:?}", record.method)))?;
    let body = match record.body.as_deref() {
        None | Some("") => Vec::new(),
        Some(text) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| bad(format!("the body is not base64: {e}")))?,
    };
    let mut request = hyper::Request::builder().method(method).uri(uri);
    for (name, value) in &record.headers {
        let name = hyper::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad(format!("bad header name {name:?}")))?;
        // The host writes these from the URL and the body; a module's own would contradict them.
        if [
            hyper::header::HOST,
            hyper::header::CONTENT_LENGTH,
            hyper::header::TRANSFER_ENCODING,
            hyper::header::CONNECTION,
        ]
        .contains(&name)
        {
            return Err(bad(format!("header {name} is set by the host")));
        }
        let value = hyper::header::HeaderValue::from_str(value)
            .map_err(|_| bad(format!("bad value for header {name}")))?;
        request = request.header(name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| bad(format!("bad request: {e}")))?;
    Ok(Checked { request, shown })
}

/// Checks and performs one request; logs it without values.
fn perform(
    record: &[u8],
    plugin: &str,
    http: &HttpContext,
    deadline: Instant,
    runtime: Option<&tokio::runtime::Handle>,
) -> Outcome {
    let started = Instant::now();
    let checked = match check(record, &http.grants) {
        Ok(checked) => checked,
        Err(outcome) => {
            tracing::info!(target: "cm::wasm", plugin, code = outcome.code, "http request refused");
            return outcome;
        }
    };
    let method = checked.request.method().clone();
    let shown = checked.shown;
    let Some(runtime) = runtime else {
        return Outcome::error(ERR_TRANSPORT, "no async runtime to perform the request");
    };
    let sent = runtime.block_on(async {
        let client = http.client()?;
        let exchange = async {
            let response = client
                .request(checked.request)
                .await
                .map_err(|e| error_chain(&e))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BODY)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        format!("the response body is over {} MiB", MAX_RESPONSE_BODY >> 20)
                    } else {
                        format!("reading the response body: {e}")
                    }
                })?
                .to_bytes();
            Ok::<_, String>((parts, body))
        };
        tokio::time::timeout_at(deadline.into(), exchange)
            .await
            .unwrap_or_else(|_| Err("timed out (see --timeout)".to_string()))
    });
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match sent {
        Ok((parts, body)) => {
            tracing::info!(
                target: "cm::wasm",
                plugin,
                %method,
                url = %shown,
                status = parts.status.as_u16(),
                elapsed_ms,
                "http request"
            );
            let record = ResponseRecord {
                status: parts.status.as_u16(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(name, value)| {
                        (
                            name.as_str().to_string(),
                            String::from_utf8_lossy(value.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body: base64::engine::general_purpose::STANDARD.encode(&body),
            };
            Outcome {
                code: OK,
                record: serde_json::to_vec(&record).expect("serializes"),
            }
        }
        Err(why) => {
            tracing::info!(
                target: "cm::wasm",
                plugin,
                %method,
                url = %shown,
                error = %why,
                elapsed_ms,
                "http request failed"
            );
            Outcome::error(ERR_TRANSPORT, &why)
        }
    }
}

/// An error and its sources, `: `-joined (hyper's top-level errors say little alone).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
