//! Entra ID tokens through the maintained `azure_identity` crate, for stores reached without a
//! connection string. One [`Chain`] serves both kinds of plugin: the REST plugins ask it for a
//! bearer token for their service's scope ([`Chain::token`]); the SDK clients (Key Vault) use it
//! as their [`TokenCredential`] and ask for the scope their service's authentication challenge
//! names. The choice follows the environment, in the order of Azure's DefaultAzureCredential:
//!
//! 1. `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_CLIENT_SECRET`: a service principal;
//! 2. `AZURE_FEDERATED_TOKEN_FILE` (AKS workload identity): workload identity;
//! 3. otherwise the developer tools (Azure CLI, Azure Developer CLI), then the managed identity
//!    of the host (user-assigned when `AZURE_CLIENT_ID` is set), first to give a token wins.
//!
//! `AZURE_AUTHORITY_HOST` (sovereign clouds, e.g. `https://login.chinacloudapi.cn`) is read by
//! `azure_identity` itself; it must be `https`. The credentials' HTTP calls go through the
//! plugin's client with [`super::client_options`] (rustls with ring, the roots the plugin
//! trusts, short retries).

use std::sync::Arc;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::{Error, ErrorKind};
use azure_identity::{
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    DeveloperToolsCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

/// The kinds of credential, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A service principal with a client secret.
    ClientSecret,
    /// Kubernetes workload identity.
    WorkloadIdentity,
    /// Azure CLI, then Azure Developer CLI.
    DeveloperTools,
    /// The host's managed identity.
    ManagedIdentity,
}

/// Which credentials to try, given the environment.
pub fn choose(var: impl Fn(&str) -> Option<String>) -> Vec<Kind> {
    let set = |k: &str| var(k).is_some_and(|v| !v.is_empty());
    if set("AZURE_TENANT_ID") && set("AZURE_CLIENT_ID") && set("AZURE_CLIENT_SECRET") {
        vec![Kind::ClientSecret]
    } else if set("AZURE_FEDERATED_TOKEN_FILE") {
        vec![Kind::WorkloadIdentity]
    } else {
        vec![Kind::DeveloperTools, Kind::ManagedIdentity]
    }
}

/// The credentials [`choose`] picks, tried in order; each caches its own tokens.
#[derive(Debug)]
pub struct Chain {
    sources: Vec<(Kind, Arc<dyn TokenCredential>)>,
}

impl Chain {
    /// Creates the credentials from the process environment; their HTTP calls go through
    /// `http` (rustls with ring, the roots the plugin trusts).
    pub fn from_env(http: &reqwest::Client) -> Result<Chain, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let client_options = || super::client_options(http);
        let mut sources = Vec::new();
        for kind in choose(var) {
            let credential: Arc<dyn TokenCredential> = match kind {
                Kind::ClientSecret => ClientSecretCredential::new(
                    &var("AZURE_TENANT_ID").unwrap_or_default(),
                    var("AZURE_CLIENT_ID").unwrap_or_default(),
                    var("AZURE_CLIENT_SECRET").unwrap_or_default().into(),
                    Some(ClientSecretCredentialOptions {
                        client_options: client_options(),
                    }),
                )
                .map_err(|e| e.to_string())?,
                Kind::WorkloadIdentity => {
                    WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                        credential_options: ClientAssertionCredentialOptions {
                            client_options: client_options(),
                        },
                        ..Default::default()
                    }))
                    .map_err(|e| e.to_string())?
                }
                Kind::DeveloperTools => {
                    DeveloperToolsCredential::new(None).map_err(|e| e.to_string())?
                }
                Kind::ManagedIdentity => {
                    ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                        user_assigned_id: var("AZURE_CLIENT_ID").map(UserAssignedId::ClientId),
                        client_options: client_options(),
                    }))
                    .map_err(|e| e.to_string())?
                }
            };
            sources.push((kind, credential));
        }
        Ok(Chain { sources })
    }

    /// A token for `scope` (`AUDIENCE/.default`) from the first credential that gives one (the
    /// credentials cache their tokens); else every credential's reason.
    pub async fn token(&self, scope: &str) -> Result<String, String> {
        self.first_token(&[scope], None)
            .await
            .map(|token| token.token.secret().to_string())
    }

    /// The first credential's token; else `no Azure credential gave a token (Kind: reason; ...)`.
    async fn first_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> Result<AccessToken, String> {
        let mut reasons = Vec::new();
        for (kind, credential) in &self.sources {
            match credential.get_token(scopes, options.clone()).await {
                Ok(token) => return Ok(token),
                Err(e) => reasons.push(format!("{kind:?}: {e}")),
            }
        }
        Err(format!(
            "no Azure credential gave a token ({})",
            reasons.join("; ")
        ))
    }
}

#[async_trait::async_trait]
impl TokenCredential for Chain {
    /// The first credential's token; else every credential's reason, as a credential error
    /// (a plugin words it as an implementation error: the service was never asked).
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        self.first_token(scopes, options)
            .await
            .map_err(|reason| Error::with_message(ErrorKind::Credential, reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_environment_picks_the_credential() {
        assert_eq!(
            choose(env(&[
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", "s")
            ])),
            [Kind::ClientSecret]
        );
        assert_eq!(
            choose(env(&[
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_FEDERATED_TOKEN_FILE", "/f")
            ])),
            [Kind::WorkloadIdentity]
        );
        assert_eq!(
            choose(env(&[("AZURE_CLIENT_SECRET", "")])),
            [Kind::DeveloperTools, Kind::ManagedIdentity]
        );
        assert_eq!(
            choose(env(&[
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_SECRET", "")
            ])),
            [Kind::DeveloperTools, Kind::ManagedIdentity]
        );
    }

    /// A credential that always refuses, with `reason`.
    #[derive(Debug)]
    struct Refuses(&'static str);

    #[async_trait::async_trait]
    impl TokenCredential for Refuses {
        async fn get_token(
            &self,
            _scopes: &[&str],
            _options: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            Err(Error::with_message(ErrorKind::Credential, self.0))
        }
    }

    #[tokio::test]
    async fn a_chain_that_gives_no_token_names_every_reason() {
        let chain = Chain {
            sources: vec![
                (Kind::DeveloperTools, Arc::new(Refuses("az not found"))),
                (Kind::ManagedIdentity, Arc::new(Refuses("no IMDS"))),
            ],
        };
        let want = "no Azure credential gave a token (DeveloperTools: az not found; ManagedIdentity: no IMDS)";
        assert_eq!(
            chain
                .token("https://storage.azure.com/.default")
                .await
                .unwrap_err(),
            want
        );
        let error = chain.get_token(&["s/.default"], None).await.unwrap_err();
        assert!(matches!(error.kind(), ErrorKind::Credential));
        assert_eq!(error.to_string(), want);
    }
}
