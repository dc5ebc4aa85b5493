//! Entra ID tokens for accounts reached without a connection string, through the maintained
//! `azure_identity` crate. The choice follows the environment, in the order of Azure's
//! DefaultAzureCredential:
//!
//! 1. `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_CLIENT_SECRET`: a service principal;
//! 2. `AZURE_FEDERATED_TOKEN_FILE` (AKS workload identity): workload identity;
//! 3. otherwise the developer tools (Azure CLI, Azure Developer CLI), then the managed identity
//!    of the host (user-assigned when `AZURE_CLIENT_ID` is set), first to give a token wins.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_identity::{
    ClientSecretCredential, DeveloperToolsCredential, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential,
};

/// The scope of Azure Storage data access.
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

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

/// The credentials to try, created once.
pub struct Tokens {
    sources: Vec<(Kind, Arc<dyn TokenCredential>)>,
}

impl Tokens {
    /// Creates the credentials [`choose`] picks from the process environment.
    pub fn from_env() -> Result<Tokens, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut sources = Vec::new();
        for kind in choose(var) {
            let credential: Arc<dyn TokenCredential> = match kind {
                Kind::ClientSecret => ClientSecretCredential::new(
                    &var("AZURE_TENANT_ID").unwrap_or_default(),
                    var("AZURE_CLIENT_ID").unwrap_or_default(),
                    var("AZURE_CLIENT_SECRET").unwrap_or_default().into(),
                    None,
                )
                .map_err(|e| e.to_string())?,
                Kind::WorkloadIdentity => {
                    WorkloadIdentityCredential::new(None).map_err(|e| e.to_string())?
                }
                Kind::DeveloperTools => {
                    DeveloperToolsCredential::new(None).map_err(|e| e.to_string())?
                }
                Kind::ManagedIdentity => {
                    ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                        user_assigned_id: var("AZURE_CLIENT_ID").map(UserAssignedId::ClientId),
                        ..Default::default()
                    }))
                    .map_err(|e| e.to_string())?
                }
            };
            sources.push((kind, credential));
        }
        Ok(Tokens { sources })
    }

    /// A token for Azure Storage from the first credential that gives one (the credentials
    /// cache their tokens); else every credential's reason.
    pub async fn storage_token(&self) -> Result<String, String> {
        let mut reasons = Vec::new();
        for (kind, credential) in &self.sources {
            match credential.get_token(&[STORAGE_SCOPE], None).await {
                Ok(token) => return Ok(token.token.secret().to_string()),
                Err(e) => reasons.push(format!("{kind:?}: {e}")),
            }
        }
        Err(format!(
            "no Azure credential gave a token ({})",
            reasons.join("; ")
        ))
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
    }
}
