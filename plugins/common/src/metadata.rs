//! A token's metadata: the raw text between its brackets, `version=2,label=dev`, as the host
//! sends it. Pure: no I/O.

/// The `key=value` pairs of a token's metadata, in order. Keys and values are trimmed; a later
/// pair with the same key wins in [`Metadata::get`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pairs: Vec<(String, String)>,
}

/// Metadata that is not a list of `key=value` pairs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("metadata {pair:?} is not a key=value pair")]
pub struct MetadataError {
    /// The offending piece.
    pub pair: String,
}

impl Metadata {
    /// Parses the bytes the host sent; empty means no metadata.
    pub fn parse(raw: &[u8]) -> Result<Metadata, MetadataError> {
        let text = String::from_utf8_lossy(raw);
        let mut pairs = Vec::new();
        for piece in text.split(',') {
            if piece.trim().is_empty() {
                continue;
            }
            let Some((key, value)) = piece.split_once('=') else {
                return Err(MetadataError {
                    pair: piece.trim().to_string(),
                });
            };
            let key = key.trim();
            if key.is_empty() {
                return Err(MetadataError {
                    pair: piece.trim().to_string(),
                });
            }
            pairs.push((key.to_string(), value.trim().to_string()));
        }
        Ok(Metadata { pairs })
    }

    /// The metadata of a token whose path names `what` (`parameter name`, `secret id`): refuses
    /// an empty path and metadata that is not `key=value` pairs, and logs (debug) the keys not
    /// in `known`, which the store ignores as configmanager does.
    pub fn for_token(
        token: &str,
        raw: &[u8],
        what: &str,
        known: &[&str],
    ) -> Result<Metadata, String> {
        if token.is_empty() {
            return Err(format!("the {what} is empty"));
        }
        let metadata = Metadata::parse(raw).map_err(|e| e.to_string())?;
        for key in metadata.unknown_keys(known) {
            tracing::debug!(key, "metadata not used by this store");
        }
        Ok(metadata)
    }

    /// The value of `key` (the last one when repeated), if present and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Keys not in `known`, for a debug log: configmanager ignores metadata a store does not
    /// use, and so do we.
    pub fn unknown_keys<'a>(&'a self, known: &'a [&str]) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(move |k| !known.contains(k))
    }

    /// No pairs at all.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs() {
        let m = Metadata::parse(b"version=2, label = dev ,role=arn:aws:iam::1:role/x").unwrap();
        assert_eq!(m.get("version"), Some("2"));
        assert_eq!(m.get("label"), Some("dev"));
        assert_eq!(m.get("role"), Some("arn:aws:iam::1:role/x"));
        assert_eq!(m.get("missing"), None);
        assert_eq!(
            m.unknown_keys(&["version", "label"]).collect::<Vec<_>>(),
            ["role"]
        );
    }

    #[test]
    fn empty_and_repeated() {
        assert!(Metadata::parse(b"").unwrap().is_empty());
        assert!(Metadata::parse(b" , ").unwrap().is_empty());
        let m = Metadata::parse(b"version=1,version=3,label=").unwrap();
        assert_eq!(m.get("version"), Some("3"));
        assert_eq!(m.get("label"), None, "an empty value counts as absent");
        // A value may itself hold `=`.
        assert_eq!(Metadata::parse(b"q=a=b").unwrap().get("q"), Some("a=b"));
    }

    #[test]
    fn for_token_checks_the_path_and_the_pairs() {
        assert_eq!(
            Metadata::for_token("", b"", "secret id", &[]).unwrap_err(),
            "the secret id is empty"
        );
        assert!(Metadata::for_token("/a", b"x", "secret id", &[]).is_err());
        let m = Metadata::for_token("/a", b"version=1,other=2", "secret id", &["version"]).unwrap();
        assert_eq!(
            m.get("other"),
            Some("2"),
            "unknown keys are kept, only logged"
        );
    }

    #[test]
    fn rejects_pieces_without_a_key() {
        assert_eq!(
            Metadata::parse(b"version=1,oops").unwrap_err().to_string(),
            "metadata \"oops\" is not a key=value pair"
        );
        assert!(Metadata::parse(b"=3").is_err());
    }
}
