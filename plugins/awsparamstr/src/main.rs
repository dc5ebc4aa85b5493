//! `cm-plugin-awsparamstr`: the AWSPARAMSTR provider plugin, AWS Systems Manager Parameter
//! Store. A go-plugin plugin that loads in cm and in configmanager alike.
//!
//! `AWSPARAMSTR:///app/db` returns the parameter `/app/db`, decrypted if it is a SecureString.
//! Metadata picks another version or a label: `[version=3]` reads `/app/db:3`, `[label=prod]`
//! reads `/app/db:prod` (both at once is an error, as in GetParameter).
//!
//! Lookups that arrive together are coalesced into GetParameters calls of up to 10 names,
//! selectors included; a name the batch reports invalid fails only its own token, and an answer
//! that cannot be matched to its name for sure is fetched again on its own with GetParameter.
//! `CM_AWS_BATCH=0` turns batching off (one GetParameter per token).

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::Parameter;
use cm_plugin_common::batch::{BatchSource, Coalescer};
use cm_plugin_common::metadata::Metadata;
use cm_plugin_common::{FetchError, aws};
use cm_plugin_sdk::{StoreError, TokenStore};

/// The token prefix this plugin serves.
const PREFIX: &str = "AWSPARAMSTR";
/// GetParameters takes at most 10 names.
const MAX_BATCH: usize = 10;

fn main() {
    cm_plugin_sdk::serve(
        cm_plugin_sdk::plugin_info!("AWSPARAMSTR"),
        ParamStore {
            lookups: Coalescer::new(aws::batch_settings()),
        },
    )
}

struct ParamStore {
    lookups: Coalescer<Ssm>,
}

impl TokenStore for ParamStore {
    async fn value(&self, token: &str, metadata: &[u8]) -> Result<String, StoreError> {
        let key = Selected::from_token(token, metadata)
            .map_err(|e| StoreError::implementation(PREFIX, e, token))?;
        self.lookups.value(PREFIX, token, key, Ssm::connect).await
    }
}

/// A parameter name and the version or label metadata selected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Selected {
    name: String,
    selector: Option<String>,
}

impl Selected {
    fn from_token(token: &str, metadata: &[u8]) -> Result<Selected, String> {
        let metadata =
            Metadata::for_token(token, metadata, "parameter name", &["version", "label"])?;
        let selector = match (metadata.get("version"), metadata.get("label")) {
            (Some(_), Some(_)) => {
                return Err("metadata version and label cannot be used together".into());
            }
            (Some(v), None) => match v.parse::<u64>() {
                Ok(n) if n > 0 => Some(n.to_string()),
                _ => return Err(format!("metadata version {v:?} is not a version number")),
            },
            (None, Some(l)) if l.starts_with(|c: char| c.is_ascii_digit()) => {
                return Err(format!(
                    "metadata label {l:?} starts with a digit, which selects a version"
                ));
            }
            (None, Some(l)) => Some(l.to_string()),
            (None, None) => None,
        };
        Ok(Selected {
            name: token.to_string(),
            selector,
        })
    }

    /// The name as GetParameter(s) takes it: `name` or `name:selector`.
    fn request(&self) -> String {
        match &self.selector {
            Some(s) => format!("{}:{s}", self.name),
            None => self.name.clone(),
        }
    }

    /// Whether `p` is the answer to this key, judged by name and selector. An answer without a
    /// selector is only taken for a key without one.
    fn answered_by(&self, p: &Parameter) -> bool {
        p.name() == Some(self.name.as_str())
            && p.selector().map(|s| s.trim_start_matches(':')) == self.selector.as_deref()
    }

    fn not_found(&self) -> FetchError {
        FetchError::Retrieve(match &self.selector {
            Some(s) => format!(
                "ParameterVersionNotFound: parameter {} has no version or label {s}",
                self.name
            ),
            None => format!("ParameterNotFound: parameter {} not found", self.name),
        })
    }
}

struct Ssm {
    client: Client,
}

impl Ssm {
    async fn connect() -> Result<Ssm, String> {
        let config = aws::load_config().await?;
        Ok(Ssm {
            client: Client::new(&config),
        })
    }
}

impl BatchSource for Ssm {
    type Key = Selected;

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    async fn fetch_one(&self, key: &Selected) -> Result<String, FetchError> {
        let out = self
            .client
            .get_parameter()
            .name(key.request())
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| aws::fetch_error(&e))?;
        Ok(out.parameter.and_then(|p| p.value).unwrap_or_default())
    }

    async fn fetch_many(&self, keys: &[Selected]) -> Vec<Option<Result<String, FetchError>>> {
        let names = keys.iter().map(Selected::request).collect();
        match self
            .client
            .get_parameters()
            .set_names(Some(names))
            .with_decryption(true)
            .send()
            .await
        {
            Ok(out) => match_answers(keys, out.parameters(), out.invalid_parameters()),
            Err(e) => aws::after_batch_failure(&e, keys.len()),
        }
    }
}

/// Pairs a GetParameters answer with the keys asked for. A key is settled when exactly one
/// returned parameter answers it, or when the call listed it as invalid (not found). Otherwise
/// (an ARN was asked for, or an emulator left out the selectors so that answers for `/a` and
/// `/a:1` look alike) it stays unsettled and is fetched on its own.
fn match_answers(
    keys: &[Selected],
    parameters: &[Parameter],
    invalid: &[String],
) -> Vec<Option<Result<String, FetchError>>> {
    keys.iter()
        .map(|key| {
            let mut answers = parameters.iter().filter(|p| key.answered_by(p));
            match (answers.next(), answers.next()) {
                (Some(p), None) => Some(Ok(p.value().unwrap_or_default().to_string())),
                (Some(_), Some(_)) => None,
                (None, _) if invalid.contains(&key.request()) => Some(Err(key.not_found())),
                (None, _) => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(token: &str, metadata: &str) -> Selected {
        Selected::from_token(token, metadata.as_bytes()).unwrap()
    }

    #[test]
    fn metadata_selects_a_version_or_a_label() {
        assert_eq!(key("/app/db", "").request(), "/app/db");
        assert_eq!(key("/app/db", "version=3").request(), "/app/db:3");
        assert_eq!(key("/app/db", "label=prod").request(), "/app/db:prod");
        assert_eq!(
            key("/app/db", "role=x, label=prod").request(),
            "/app/db:prod"
        );
    }

    #[test]
    fn bad_metadata_is_refused() {
        let err = |m: &str| Selected::from_token("/a", m.as_bytes()).unwrap_err();
        assert_eq!(
            err("version=2,label=x"),
            "metadata version and label cannot be used together"
        );
        assert_eq!(
            err("version=two"),
            "metadata version \"two\" is not a version number"
        );
        assert_eq!(
            err("version=0"),
            "metadata version \"0\" is not a version number"
        );
        assert_eq!(
            err("label=2x"),
            "metadata label \"2x\" starts with a digit, which selects a version"
        );
        assert_eq!(err("oops"), "metadata \"oops\" is not a key=value pair");
        assert_eq!(
            Selected::from_token("", b"").unwrap_err(),
            "the parameter name is empty"
        );
    }

    fn param(name: &str, selector: Option<&str>, value: &str) -> Parameter {
        Parameter::builder()
            .name(name)
            .set_selector(selector.map(str::to_string))
            .value(value)
            .build()
    }

    #[test]
    fn answers_are_matched_by_name_and_selector() {
        let keys = [
            key("/a", ""),
            key("/a", "version=1"),
            key("/b", "label=old"),
            key("/c", ""),
        ];
        let answers = match_answers(
            &keys,
            &[
                param("/b", Some(":old"), "b-old"),
                param("/a", None, "a"),
                param("/a", Some(":1"), "a1"),
            ],
            &["/c".to_string()],
        );
        assert_eq!(answers[0], Some(Ok("a".into())));
        assert_eq!(answers[1], Some(Ok("a1".into())));
        assert_eq!(answers[2], Some(Ok("b-old".into())));
        assert_eq!(
            answers[3],
            Some(Err(FetchError::Retrieve(
                "ParameterNotFound: parameter /c not found".into()
            )))
        );
    }

    #[test]
    fn answers_without_selectors_are_not_guessed() {
        // moto answers `/a:1` as plain `/a`: neither key can be told apart, so both are
        // fetched again on their own; `/b` is unambiguous.
        let keys = [
            key("/a", ""),
            key("/a", "version=1"),
            key("/b", ""),
            key("/z", "version=9"),
        ];
        let answers = match_answers(
            &keys,
            &[
                param("/a", None, "a"),
                param("/a", None, "a1"),
                param("/b", None, "b"),
            ],
            &["/z:9".to_string()],
        );
        assert_eq!(answers[0], None);
        assert_eq!(answers[1], None);
        assert_eq!(answers[2], Some(Ok("b".into())));
        assert_eq!(
            answers[3],
            Some(Err(FetchError::Retrieve(
                "ParameterVersionNotFound: parameter /z has no version or label 9".into()
            )))
        );
    }

    #[test]
    fn unanswered_keys_stay_unsettled() {
        let keys = [key("arn:aws:ssm:eu-west-1:1:parameter/a", "")];
        assert_eq!(match_answers(&keys, &[param("/a", None, "a")], &[]), [None]);
    }
}
