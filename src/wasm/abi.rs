//! The seed's message exchange: the JSON a module gets for one token, and the codes
//! `strategy_token_value` returns. Pure: no wasm, no I/O.

use serde::Serialize;

use super::WasmFailure;

/// The value is in the output buffer.
pub(super) const OK: i32 = 0;
/// The output buffer is too small; the length needed is at `*outLenPtr`.
pub(super) const ERR_BUF_TOO_SMALL: i32 = -1;
/// Codes after which a module may leave a reason in the output buffer (cm's extension).
pub(super) const REASON_CODES: [i32; 2] = [ERR_INIT_STORE, ERR_FAILED_VALUE_RETRIEVAL];
/// `failed to initialize the client`.
pub(crate) const ERR_INIT_STORE: i32 = -6;
/// `failed to retrieve config item`.
pub(crate) const ERR_FAILED_VALUE_RETRIEVAL: i32 = -7;

/// configmanager's `MessagExchange`, as JSON.
#[derive(Serialize)]
struct Message<'a> {
    token: &'a str,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    metadata: serde_json::Map<String, serde_json::Value>,
    version: &'a str,
}

/// The input for `strategy_token_value`: `{"token": PATH, "metadata": {...}, "version": V}`.
/// `metadata` is the raw text between the token's brackets (`key=value,key=value`, keys and
/// values trimmed, empty pieces skipped, a later key winning), left out when empty; `version`
/// is the `version` key's value, or `""`.
pub(super) fn input(path: &str, metadata: &[u8]) -> Result<Vec<u8>, WasmFailure> {
    let text = std::str::from_utf8(metadata)
        .map_err(|_| WasmFailure::BadMetadata(String::from_utf8_lossy(metadata).into_owned()))?;
    let mut map = serde_json::Map::new();
    for piece in text.split(',') {
        if piece.trim().is_empty() {
            continue;
        }
        match piece.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                map.insert(
                    key.trim().to_string(),
                    serde_json::Value::String(value.trim().to_string()),
                );
            }
            _ => return Err(WasmFailure::BadMetadata(piece.trim().to_string())),
        }
    }
    let version = map
        .get("version")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .to_string();
    let message = Message {
        token: path,
        metadata: map,
        version: &version,
    };
    Ok(serde_json::to_vec(&message).expect("a map of strings serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(path: &str, metadata: &str) -> String {
        String::from_utf8(input(path, metadata.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn metadata_and_version() {
        assert_eq!(json("/app/db", ""), r#"{"token":"/app/db","version":""}"#);
        assert_eq!(json("/a", " , "), r#"{"token":"/a","version":""}"#);
        assert_eq!(
            json("/a", "version=2, label = dev ,role=arn:aws:iam::1:role/x"),
            r#"{"token":"/a","metadata":{"label":"dev","role":"arn:aws:iam::1:role/x","version":"2"},"version":"2"}"#
        );
        assert_eq!(
            json("/a", "label=x,version=1,version=3"),
            r#"{"token":"/a","metadata":{"label":"x","version":"3"},"version":"3"}"#
        );
        assert_eq!(
            json("q\"\\", "q=a=b"),
            r#"{"token":"q\"\\","metadata":{"q":"a=b"},"version":""}"#
        );
    }

    #[test]
    fn bad_metadata() {
        assert_eq!(
            input("/a", b"version=1,oops"),
            Err(WasmFailure::BadMetadata("oops".into()))
        );
        assert_eq!(
            input("/a", b"=1"),
            Err(WasmFailure::BadMetadata("=1".into()))
        );
    }
}
