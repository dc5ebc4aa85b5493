//! The one Table service operation the plugin needs, Query Entity by its keys, over plain REST:
//! the request's address, its headers, Shared Key signing, and reading the answer. Pure apart
//! from [`get_entity`], which sends.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use cm_plugin_common::FetchError;
use cm_plugin_common::azure::{error_chain, percent_encode as encode};

/// The REST API version sent; Azurite and the cloud both accept it, and it allows Entra ID
/// tokens.
pub const API_VERSION: &str = "2019-02-02";

/// `{endpoint}/{table}(PartitionKey='pk',RowKey='rk')`, the keys quoted as OData wants (`'`
/// doubled) and percent-encoded.
pub fn entity_url(endpoint: &str, table: &str, partition_key: &str, row_key: &str) -> String {
    format!(
        "{endpoint}/{}(PartitionKey='{}',RowKey='{}')",
        encode(table),
        encode(&partition_key.replace('\'', "''")),
        encode(&row_key.replace('\'', "''"))
    )
}

/// The Table service's Shared Key: HMAC-SHA256 with the account key over
/// `VERB\nContent-MD5\nContent-Type\nDate\nCanonicalizedResource`, where Date is the `x-ms-date`
/// header, Content-MD5 is never sent, and the resource is `/{account}{path as sent}`
/// (path-style emulator addresses carry the account twice, as every SDK signs them).
pub fn shared_key_authorization(account: &str, key: &[u8], request: &SignedRequest<'_>) -> String {
    let SignedRequest {
        verb,
        content_type,
        date,
        path,
    } = request;
    let to_sign = format!("{verb}\n\n{content_type}\n{date}\n/{account}{path}");
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("SharedKey {account}:{signature}")
}

/// The parts of a request that Shared Key signs.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// `GET`, `POST`, ...
    pub verb: &'a str,
    /// The `Content-Type` header, empty when there is no body.
    pub content_type: &'a str,
    /// The `x-ms-date` header (RFC 1123).
    pub date: &'a str,
    /// The URL's path as sent, percent-encoded.
    pub path: &'a str,
}

/// What the plugin returns for an entity, configmanager's convention: the `value` property if
/// the entity has one (a string as it is, anything else as JSON text), else the entity's
/// properties as a JSON object.
pub fn entity_value(body: &[u8]) -> Result<String, FetchError> {
    let entity: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| FetchError::Implementation(format!("the entity is not a JSON object: {e}")))?;
    match entity.get("value") {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v) if !v.is_null() => Ok(v.to_string()),
        _ => {
            let properties: Map<String, Value> = entity
                .into_iter()
                .filter(|(k, _)| !k.starts_with("odata.") && !k.contains("@odata."))
                .collect();
            Ok(Value::Object(properties).to_string())
        }
    }
}

/// The service's refusal, as `Code: message (HTTP status)` from its error body: OData JSON,
/// or the XML the service (and Azurite) send when a request fails before the Table layer, as
/// authentication does.
pub fn service_error(status: u16, body: &[u8]) -> FetchError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("odata.error"));
    let text = String::from_utf8_lossy(body);
    let code = error
        .and_then(|e| e.get("code"))
        .and_then(Value::as_str)
        .or_else(|| xml_element(&text, "Code"));
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(|m| m.get("value").or(Some(m)))
        .and_then(Value::as_str)
        .or_else(|| xml_element(&text, "Message"))
        .map(|m| m.lines().next().unwrap_or_default().trim());
    let text = match (code, message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(t), None) | (None, Some(t)) => t.to_string(),
        (None, None) => String::from_utf8_lossy(body).trim().to_string(),
    };
    FetchError::Retrieve(format!("{text} (HTTP {status})"))
}

/// The text of the first `<name>...</name>` in `xml`.
fn xml_element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let len = xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..start + len])
}

/// How one request is authorised.
pub enum Authorization<'a> {
    /// Sign with the account key.
    SharedKey {
        /// The key's account.
        account: &'a str,
        /// The decoded key.
        key: &'a [u8],
    },
    /// Append a SAS to the query.
    Sas(&'a str),
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
}

/// Sends Query Entity and returns the entity's value.
pub async fn get_entity(
    http: &reqwest::Client,
    url: &str,
    auth: Authorization<'_>,
) -> Result<String, FetchError> {
    let mut url = reqwest::Url::parse(url)
        .map_err(|e| FetchError::Implementation(format!("bad Table address {url:?}: {e}")))?;
    if let Authorization::Sas(sas) = auth {
        url.set_query(Some(sas));
    }
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let mut request = http
        .get(url.clone())
        .header("x-ms-date", &date)
        .header("x-ms-version", API_VERSION)
        .header("Accept", "application/json;odata=nometadata")
        .header("DataServiceVersion", "3.0;NetFx")
        .header("MaxDataServiceVersion", "3.0;NetFx");
    match auth {
        Authorization::SharedKey { account, key } => {
            let signed = shared_key_authorization(
                account,
                key,
                &SignedRequest {
                    verb: "GET",
                    content_type: "",
                    date: &date,
                    path: url.path(),
                },
            );
            request = request.header("Authorization", signed);
        }
        Authorization::Bearer(token) => {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        Authorization::Sas(_) => {}
    }
    let response = request
        .send()
        .await
        .map_err(|e| FetchError::Implementation(error_chain(&e)))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| FetchError::Implementation(error_chain(&e)))?;
    if status.is_success() {
        entity_value(&body)
    } else {
        Err(service_error(status.as_u16(), &body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_urls_quote_and_encode_keys() {
        assert_eq!(
            entity_url("http://h/acct", "config", "app", "db"),
            "http://h/acct/config(PartitionKey='app',RowKey='db')"
        );
        assert_eq!(
            entity_url("https://a.table.core.windows.net", "t", "it's", "a b/é"),
            "https://a.table.core.windows.net/t(PartitionKey='it%27%27s',RowKey='a%20b%2F%C3%A9')"
        );
    }

    #[test]
    fn shared_key_signature_matches_a_known_answer() {
        // Computed independently of this code: the string to sign piped through
        // `openssl dgst -sha256 -mac HMAC -macopt hexkey:<the dev key in hex> -binary | base64`.
        let key = base64::engine::general_purpose::STANDARD
            .decode(crate::connection::DEV_KEY)
            .unwrap();
        let auth = shared_key_authorization(
            "devstoreaccount1",
            &key,
            &SignedRequest {
                verb: "GET",
                content_type: "",
                date: "Mon, 01 Jan 2024 00:00:00 GMT",
                path: "/devstoreaccount1/t(PartitionKey='p',RowKey='r')",
            },
        );
        assert_eq!(
            auth,
            format!("SharedKey devstoreaccount1:{}", KNOWN_SIGNATURE)
        );
    }

    const KNOWN_SIGNATURE: &str = "u3WFlF1PdnAPa5UKzmTzpKEJBwVZnnYkXb2giq5I5bs=";

    #[test]
    fn value_property_wins_else_the_whole_entity() {
        assert_eq!(
            entity_value(br#"{"PartitionKey":"p","RowKey":"r","value":"s3cret"}"#).unwrap(),
            "s3cret"
        );
        assert_eq!(
            entity_value(br#"{"PartitionKey":"p","value":42}"#).unwrap(),
            "42"
        );
        assert_eq!(
            entity_value(br#"{"PartitionKey":"p","RowKey":"r","odata.etag":"W/x","host":"db","port@odata.type":"Edm.Int64","port":"5432"}"#)
                .unwrap(),
            r#"{"PartitionKey":"p","RowKey":"r","host":"db","port":"5432"}"#
        );
        assert_eq!(
            entity_value(br#"{"value":null,"a":1}"#).unwrap(),
            r#"{"a":1,"value":null}"#
        );
        assert!(matches!(
            entity_value(b"[1]"),
            Err(FetchError::Implementation(_))
        ));
    }

    #[test]
    fn service_errors_keep_the_code_and_first_message_line() {
        let body = br#"{"odata.error":{"code":"ResourceNotFound","message":{"lang":"en-US","value":"The specified resource does not exist.\nRequestId:1"}}}"#;
        assert_eq!(
            service_error(404, body),
            FetchError::Retrieve(
                "ResourceNotFound: The specified resource does not exist. (HTTP 404)".into()
            )
        );
        let xml = b"<?xml version=\"1.0\"?>\n<Error>\n  <Code>AuthorizationFailure</Code>\n  <Message>Server failed to authenticate the request.\nRequestId:2</Message>\n</Error>";
        assert_eq!(
            service_error(403, xml),
            FetchError::Retrieve(
                "AuthorizationFailure: Server failed to authenticate the request. (HTTP 403)"
                    .into()
            )
        );
        assert_eq!(
            service_error(500, b"oops"),
            FetchError::Retrieve("oops (HTTP 500)".into())
        );
    }
}
