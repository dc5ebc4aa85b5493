//! `cm-plugin-awssecrets`: the AWSSECRETS provider plugin, AWS Secrets Manager. A go-plugin
//! plugin that loads in cm and in configmanager alike.
//!
//! `AWSSECRETS:///app/db` returns the secret's current SecretString; a binary secret comes back
//! base64-encoded. Metadata `version` is the version stage, as in configmanager
//! (`[version=AWSPREVIOUS]`), and `version_id` a version id.
//!
//! Lookups of current values that arrive together are coalesced into BatchGetSecretValue calls
//! of up to 20 ids; a secret the batch reports as an error fails only its own token. The batch
//! call reads only the current version, so a token with another stage or a version id is
//! fetched on its own with GetSecretValue. `CM_AWS_BATCH=0` turns batching off.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_secretsmanager::types::{ApiErrorType, SecretValueEntry};
use base64::Engine as _;
use cm_plugin_common::batch::{BatchSource, Coalescer};
use cm_plugin_common::metadata::Metadata;
use cm_plugin_common::{FetchError, aws};
use cm_plugin_sdk::{StoreError, TokenStore};

/// The token prefix this plugin serves.
const PREFIX: &str = "AWSSECRETS";
/// BatchGetSecretValue takes at most 20 ids.
const MAX_BATCH: usize = 20;
/// The stage a secret's current value has, the only one the batch call reads.
const CURRENT: &str = "AWSCURRENT";
/// A bound on result pages of one batch call (20 ids fit in one page; this only stops a
/// misbehaving endpoint from looping us).
const MAX_PAGES: usize = 20;

fn main() {
    cm_plugin_sdk::serve(
        cm_plugin_sdk::plugin_info!("AWSSECRETS"),
        SecretStore {
            lookups: Coalescer::new(aws::batch_settings()),
        },
    )
}

struct SecretStore {
    lookups: Coalescer<SecretsManager>,
}

impl TokenStore for SecretStore {
    async fn value(&self, token: &str, metadata: &[u8]) -> Result<String, StoreError> {
        let key = Wanted::from_token(token, metadata)
            .map_err(|e| StoreError::implementation(PREFIX, e, token))?;
        self.lookups
            .value(PREFIX, token, key, SecretsManager::connect)
            .await
    }
}

/// A secret id (name or ARN) and the version metadata selected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Wanted {
    id: String,
    stage: Option<String>,
    version_id: Option<String>,
}

impl Wanted {
    fn from_token(token: &str, metadata: &[u8]) -> Result<Wanted, String> {
        let metadata =
            Metadata::for_token(token, metadata, "secret id", &["version", "version_id"])?;
        Ok(Wanted {
            id: token.to_string(),
            stage: metadata.get("version").map(str::to_string),
            version_id: metadata.get("version_id").map(str::to_string),
        })
    }

    /// Whether this asks for the current value, which is all BatchGetSecretValue reads.
    fn is_current(&self) -> bool {
        self.version_id.is_none() && self.stage.as_deref().is_none_or(|s| s == CURRENT)
    }
}

/// A secret's value as text: the SecretString, else the SecretBinary in standard base64.
fn secret_text(string: Option<&str>, binary: Option<&Blob>) -> String {
    match (string, binary) {
        (Some(s), _) => s.to_string(),
        (None, Some(b)) => base64::engine::general_purpose::STANDARD.encode(b.as_ref()),
        (None, None) => String::new(),
    }
}

struct SecretsManager {
    client: Client,
}

impl SecretsManager {
    async fn connect() -> Result<SecretsManager, String> {
        let config = aws::load_config().await?;
        Ok(SecretsManager {
            client: Client::new(&config),
        })
    }
}

impl BatchSource for SecretsManager {
    type Key = Wanted;

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn batchable(&self, key: &Wanted) -> bool {
        key.is_current()
    }

    async fn fetch_one(&self, key: &Wanted) -> Result<String, FetchError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(&key.id)
            .set_version_stage(key.stage.clone())
            .set_version_id(key.version_id.clone())
            .send()
            .await
            .map_err(|e| aws::fetch_error(&e))?;
        Ok(secret_text(out.secret_string(), out.secret_binary()))
    }

    async fn fetch_many(&self, keys: &[Wanted]) -> Vec<Option<Result<String, FetchError>>> {
        let ids: Vec<String> = keys.iter().map(|k| k.id.clone()).collect();
        let mut values = Vec::new();
        let mut errors = Vec::new();
        let mut next_token = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .client
                .batch_get_secret_value()
                .set_secret_id_list(Some(ids.clone()))
                .set_next_token(next_token.take())
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                Err(e) => return aws::after_batch_failure(&e, keys.len()),
            };
            values.extend(page.secret_values.unwrap_or_default());
            errors.extend(page.errors.unwrap_or_default());
            match page.next_token {
                Some(t) if !t.is_empty() => next_token = Some(t),
                _ => break,
            }
        }
        match_answers(keys, &values, &errors)
    }
}

/// Pairs a BatchGetSecretValue answer with the ids asked for: a value whose name or ARN is the
/// id, or an error for that id. An id with neither (a partial ARN, say) stays unsettled and is
/// fetched on its own.
fn match_answers(
    keys: &[Wanted],
    values: &[SecretValueEntry],
    errors: &[ApiErrorType],
) -> Vec<Option<Result<String, FetchError>>> {
    keys.iter()
        .map(|key| {
            let id = Some(key.id.as_str());
            if let Some(v) = values.iter().find(|v| v.name() == id || v.arn() == id) {
                return Some(Ok(secret_text(v.secret_string(), v.secret_binary())));
            }
            errors.iter().find(|e| e.secret_id() == id).map(|e| {
                Err(FetchError::Retrieve(aws::code_and_message(
                    e.error_code(),
                    e.message(),
                )))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(token: &str, metadata: &str) -> Wanted {
        Wanted::from_token(token, metadata.as_bytes()).unwrap()
    }

    #[test]
    fn metadata_version_is_the_stage_and_version_id_the_id() {
        let k = key("app/db", "version=AWSPREVIOUS,version_id=abc,label=x");
        assert_eq!(k.stage.as_deref(), Some("AWSPREVIOUS"));
        assert_eq!(k.version_id.as_deref(), Some("abc"));
        assert!(!k.is_current());
        assert!(key("app/db", "").is_current());
        assert!(key("app/db", "version=AWSCURRENT").is_current());
        assert!(!key("app/db", "version_id=abc").is_current());
        assert_eq!(
            Wanted::from_token("a", b"bad").unwrap_err(),
            "metadata \"bad\" is not a key=value pair"
        );
        assert_eq!(
            Wanted::from_token("", b"").unwrap_err(),
            "the secret id is empty"
        );
    }

    #[test]
    fn binary_secrets_are_base64() {
        assert_eq!(secret_text(Some("s"), None), "s");
        assert_eq!(
            secret_text(None, Some(&Blob::new(vec![0u8, 1, 0xff]))),
            "AAH/"
        );
        assert_eq!(secret_text(None, None), "");
    }

    #[test]
    fn answers_are_matched_by_name_or_arn_and_errors_by_id() {
        let arn = "arn:aws:secretsmanager:us-east-1:1:secret:b-XyZ";
        let keys = [key("a", ""), key(arn, ""), key("gone", ""), key("b", "")];
        let values = [
            SecretValueEntry::builder()
                .name("a")
                .arn("arn:a")
                .secret_string("A")
                .build(),
            SecretValueEntry::builder()
                .name("bb")
                .arn(arn)
                .secret_binary(Blob::new(b"hi".to_vec()))
                .build(),
        ];
        let errors = [ApiErrorType::builder()
            .secret_id("gone")
            .error_code("ResourceNotFoundException")
            .message("Secrets Manager can't find the specified secret.")
            .build()];
        let answers = match_answers(&keys, &values, &errors);
        assert_eq!(answers[0], Some(Ok("A".into())));
        assert_eq!(answers[1], Some(Ok("aGk=".into())));
        assert_eq!(
            answers[2],
            Some(Err(FetchError::Retrieve(
                "ResourceNotFoundException: Secrets Manager can't find the specified secret."
                    .into()
            )))
        );
        assert_eq!(answers[3], None, "no answer: fetched on its own");
    }
}
