//! The AWS set-up both AWS plugins share, and the SDK's errors in configmanager's terms.
//!
//! Configuration comes from the SDK's own default chain (environment, shared config and
//! credentials files with profiles, SSO, web identity, ECS and EC2 metadata), so region,
//! credentials and `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` are honoured as by any AWS
//! tool. On top: adaptive retries (the client slows itself down when throttled), and rustls
//! with ring as TLS, which builds without a C toolchain.

use std::fmt::Debug;

use aws_config::retry::{RetryConfig, RetryMode};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::FetchError;
use crate::batch::Settings;

/// Attempts per call (the first try included) when the configuration names none.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// Loads the SDK configuration: the default chain, a rustls client, adaptive retries unless
/// the user chose a retry mode (`AWS_RETRY_MODE`, `retry_mode` in the profile). Fails only when
/// no region is configured, which no call could work without.
pub async fn load_config() -> Result<SdkConfig, String> {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await;
    if config.region().is_none() {
        return Err(
            "no AWS region is configured (set AWS_REGION or a region in the AWS profile)".into(),
        );
    }
    let chosen = config.retry_config().cloned();
    let retry = adaptive(
        chosen.as_ref(),
        std::env::var_os("AWS_RETRY_MODE").is_some(),
    );
    Ok(config.to_builder().retry_config(retry).build())
}

/// Adaptive retries, keeping the configured attempt count; a mode the user set explicitly is
/// kept as it is.
fn adaptive(configured: Option<&RetryConfig>, mode_chosen: bool) -> RetryConfig {
    match configured {
        Some(c) if mode_chosen || c.mode() == RetryMode::Adaptive => c.clone(),
        Some(c) => RetryConfig::adaptive().with_max_attempts(c.max_attempts()),
        None => RetryConfig::adaptive().with_max_attempts(DEFAULT_MAX_ATTEMPTS),
    }
}

/// Batch settings for the AWS plugins: `CM_AWS_BATCH=0` turns batching off (each token is
/// then its own single-item call), `CM_AWS_BATCH_WINDOW_MS` sets the collection window.
pub fn batch_settings() -> Settings {
    let var = |k: &str| std::env::var(k).ok();
    Settings::from_values(
        var("CM_AWS_BATCH").as_deref(),
        var("CM_AWS_BATCH_WINDOW_MS").as_deref(),
    )
}

/// `Code: message` of a service error.
pub fn describe(error: &impl ProvideErrorMetadata) -> String {
    code_and_message(error.code(), error.message())
}

/// `Code: message`, or whichever of the two there is.
pub fn code_and_message(code: Option<&str>, message: Option<&str>) -> String {
    match (code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(text), None) | (None, Some(text)) => text.to_string(),
        (None, None) => "the service returned an error without a code".to_string(),
    }
}

/// An SDK error as a lookup failure: the service's refusal (`Code: message`) is a retrieval
/// failure, anything else (no connection, no credentials, timeout) an implementation error
/// with the SDK's whole cause chain.
pub fn fetch_error<E, R>(error: &SdkError<E, R>) -> FetchError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: Debug,
{
    match error {
        SdkError::ServiceError(service) => FetchError::Retrieve(describe(service.err())),
        other => FetchError::Implementation(DisplayErrorContext(other).to_string()),
    }
}

/// Throttling codes across AWS services; the SDK has already retried these adaptively.
pub fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "SlowDown"
    )
}

/// The answers of a batch call that failed as a whole. A refusal of the batch itself (no
/// permission for the batch action, one malformed name that invalidates the request) must not
/// fail the other tokens: every key is left unsettled, to be fetched on its own. A failure that
/// single calls would only repeat (no connection, no credentials, throttling the SDK already
/// retried) fails every key.
pub fn after_batch_failure<E, R>(
    error: &SdkError<E, R>,
    keys: usize,
) -> Vec<Option<Result<String, FetchError>>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: Debug,
{
    let refused = match error {
        SdkError::ServiceError(service) => !service.err().code().is_some_and(is_throttling),
        _ => false,
    };
    if refused {
        tracing::debug!(error = %DisplayErrorContext(error), "batch call refused; fetching one by one");
        vec![None; keys]
    } else {
        vec![Some(Err(fetch_error(error))); keys]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_become_adaptive_unless_chosen() {
        let standard = RetryConfig::standard().with_max_attempts(7);
        let r = adaptive(Some(&standard), false);
        assert_eq!(r.mode(), RetryMode::Adaptive);
        assert_eq!(r.max_attempts(), 7);
        assert_eq!(adaptive(Some(&standard), true).mode(), RetryMode::Standard);
        let none = adaptive(None, false);
        assert_eq!(none.mode(), RetryMode::Adaptive);
        assert_eq!(none.max_attempts(), DEFAULT_MAX_ATTEMPTS);
    }

    #[test]
    fn throttling_codes() {
        assert!(is_throttling("ThrottlingException"));
        assert!(is_throttling("TooManyRequestsException"));
        assert!(!is_throttling("AccessDeniedException"));
        assert!(!is_throttling("ValidationException"));
    }

    struct Meta(Option<&'static str>, Option<&'static str>);
    impl ProvideErrorMetadata for Meta {
        fn meta(&self) -> &aws_smithy_types::error::ErrorMetadata {
            unimplemented!("not used")
        }
        fn code(&self) -> Option<&str> {
            self.0
        }
        fn message(&self) -> Option<&str> {
            self.1
        }
    }

    #[test]
    fn service_errors_are_described_by_code_and_message() {
        assert_eq!(
            describe(&Meta(Some("ParameterNotFound"), Some("no /a"))),
            "ParameterNotFound: no /a"
        );
        assert_eq!(describe(&Meta(Some("Boom"), None)), "Boom");
        assert_eq!(describe(&Meta(None, Some("boom"))), "boom");
        assert_eq!(
            describe(&Meta(None, None)),
            "the service returned an error without a code"
        );
    }
}
