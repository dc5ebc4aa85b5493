//! The plugin's settings, from the variables the `vault` CLI reads (`VAULT_ADDR`,
//! `VAULT_TOKEN` or `~/.vault-token`, `VAULT_NAMESPACE`, `VAULT_CACERT`, `VAULT_SKIP_VERIFY`),
//! and the HTTP client they make. Reading is pure given a variable lookup and a home folder.

use std::path::{Path, PathBuf};

/// The server the `vault` CLI talks to when `VAULT_ADDR` is unset.
pub const DEFAULT_ADDR: &str = "https://127.0.0.1:8200";

/// The `VAULT_TOKEN` prefix that asks for the AWS IAM login (configmanager's convention).
pub const AWS_IAM_PREFIX: &str = "aws_iam";

/// How requests are authorised.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// No token anywhere: requests go without one (a Vault Agent proxy adds its own).
    None,
    /// `X-Vault-Token: <token>`.
    Token(String),
    /// Log in with the AWS IAM auth method first.
    AwsIam,
}

// By hand, so a token never reaches a log through `{:?}`.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Token(_) => f.write_str("Token(..)"),
            Auth::AwsIam => f.write_str("AwsIam"),
        }
    }
}

/// Where Vault is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `VAULT_ADDR` without a trailing `/`.
    pub addr: String,
    /// From `VAULT_TOKEN`, else `~/.vault-token`.
    pub auth: Auth,
    /// Whether `auth` came from `~/.vault-token` (said in a 403's message).
    pub token_from_file: bool,
    /// `VAULT_NAMESPACE`.
    pub namespace: Option<String>,
    /// `VAULT_CACERT`.
    pub ca_cert: Option<PathBuf>,
    /// `VAULT_SKIP_VERIFY`.
    pub skip_verify: bool,
}

impl Settings {
    /// From the process environment and the user's home folder.
    pub fn from_env() -> Result<Settings, String> {
        Settings::from_lookup(|k| std::env::var(k).ok(), dirs::home_dir().as_deref())
    }

    /// From `var` (a variable's value, if set) and the home folder holding `.vault-token`.
    pub fn from_lookup(
        var: impl Fn(&str) -> Option<String>,
        home: Option<&Path>,
    ) -> Result<Settings, String> {
        // An empty variable counts as unset, as in the vault CLI.
        let var = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let addr = var("VAULT_ADDR").unwrap_or_else(|| DEFAULT_ADDR.to_string());
        let addr = addr.trim().trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&addr)
            .map_err(|e| format!("VAULT_ADDR={addr:?} is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "VAULT_ADDR={addr:?} is not an http:// or https:// address"
            ));
        }
        let (token, token_from_file) = match var("VAULT_TOKEN") {
            Some(t) => (Some(t.trim().to_string()), false),
            None => (read_token_file(home)?, true),
        };
        let auth = match token {
            None => Auth::None,
            Some(t) if t.starts_with(AWS_IAM_PREFIX) => Auth::AwsIam,
            Some(t) => Auth::Token(t),
        };
        let skip_verify = match var("VAULT_SKIP_VERIFY") {
            None => false,
            Some(v) => parse_bool(v.trim())
                .ok_or_else(|| format!("VAULT_SKIP_VERIFY={v:?} is not a boolean"))?,
        };
        Ok(Settings {
            addr,
            auth,
            token_from_file,
            namespace: var("VAULT_NAMESPACE").map(|n| n.trim().to_string()),
            ca_cert: var("VAULT_CACERT").map(PathBuf::from),
            skip_verify,
        })
    }

    /// The HTTP client: rustls with ring (installed as the process default, as reqwest is
    /// built without a provider of its own), the extra CA certificates of `VAULT_CACERT`, no
    /// verification with `VAULT_SKIP_VERIFY`.
    pub fn http_client(&self) -> Result<reqwest::Client, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(30));
        if let Some(path) = &self.ca_cert {
            let pem =
                std::fs::read(path).map_err(|e| format!("VAULT_CACERT {}: {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("VAULT_CACERT {}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!(
                    "VAULT_CACERT {}: no PEM certificate in the file",
                    path.display()
                ));
            }
            builder = builder.tls_certs_merge(certs);
        }
        if self.skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        builder.build().map_err(|e| e.to_string())
    }
}

/// The token `vault login` leaves in `~/.vault-token`, if there is one.
fn read_token_file(home: Option<&Path>) -> Result<Option<String>, String> {
    let Some(home) = home else { return Ok(None) };
    let path = home.join(".vault-token");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_string()).filter(|t| !t.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Go's `strconv.ParseBool`, which the vault CLI uses for `VAULT_SKIP_VERIFY`.
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)], home: Option<&Path>) -> Result<Settings, String> {
        Settings::from_lookup(
            |k| {
                vars.iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| v.to_string())
            },
            home,
        )
    }

    #[test]
    fn defaults_are_the_vault_clis() {
        let s = settings(&[], None).unwrap();
        assert_eq!(s.addr, "https://127.0.0.1:8200");
        assert_eq!(s.auth, Auth::None);
        assert_eq!(s.namespace, None);
        assert_eq!(s.ca_cert, None);
        assert!(!s.skip_verify);
    }

    #[test]
    fn variables_are_read() {
        let s = settings(
            &[
                ("VAULT_ADDR", "http://vault:8200/"),
                ("VAULT_TOKEN", " s.abc \n"),
                ("VAULT_NAMESPACE", "team"),
                ("VAULT_CACERT", "/etc/ca.pem"),
                ("VAULT_SKIP_VERIFY", "1"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(s.addr, "http://vault:8200");
        assert_eq!(s.auth, Auth::Token("s.abc".into()));
        assert!(!s.token_from_file);
        assert_eq!(s.namespace.as_deref(), Some("team"));
        assert_eq!(s.ca_cert, Some(PathBuf::from("/etc/ca.pem")));
        assert!(s.skip_verify);
        assert!(
            !settings(&[("VAULT_SKIP_VERIFY", "false")], None)
                .unwrap()
                .skip_verify
        );
        assert_eq!(
            settings(&[("VAULT_SKIP_VERIFY", "yes")], None).unwrap_err(),
            "VAULT_SKIP_VERIFY=\"yes\" is not a boolean"
        );
        assert_eq!(
            settings(&[("VAULT_ADDR", "vault:8200")], None).unwrap_err(),
            "VAULT_ADDR=\"vault:8200\" is not an http:// or https:// address"
        );
        assert_eq!(
            settings(&[("VAULT_ADDR", "http://[::1")], None).unwrap_err(),
            "VAULT_ADDR=\"http://[::1\" is not a URL: invalid IPv6 address"
        );
        assert_eq!(
            settings(&[("VAULT_TOKEN", "aws_iam")], None).unwrap().auth,
            Auth::AwsIam
        );
    }

    #[test]
    fn the_token_file_is_the_fallback() {
        let home = tempdir();
        std::fs::write(home.join(".vault-token"), "s.fromfile\n").unwrap();
        let s = settings(&[], Some(&home)).unwrap();
        assert_eq!(s.auth, Auth::Token("s.fromfile".into()));
        assert!(s.token_from_file);
        // VAULT_TOKEN wins; an empty one counts as unset.
        let s = settings(&[("VAULT_TOKEN", "s.env")], Some(&home)).unwrap();
        assert_eq!(s.auth, Auth::Token("s.env".into()));
        let s = settings(&[("VAULT_TOKEN", "")], Some(&home)).unwrap();
        assert_eq!(s.auth, Auth::Token("s.fromfile".into()));
        std::fs::remove_file(home.join(".vault-token")).unwrap();
        assert_eq!(settings(&[], Some(&home)).unwrap().auth, Auth::None);
        std::fs::remove_dir(&home).unwrap();
    }

    #[test]
    fn tokens_stay_out_of_debug_output() {
        let s = settings(&[("VAULT_TOKEN", "s.secret-token")], None).unwrap();
        assert!(!format!("{s:?}").contains("s.secret-token"));
    }

    #[test]
    fn a_bad_ca_file_is_reported() {
        let s = settings(&[("VAULT_CACERT", "/nonexistent/ca.pem")], None).unwrap();
        assert!(
            s.http_client()
                .unwrap_err()
                .starts_with("VAULT_CACERT /nonexistent/ca.pem: ")
        );
        let dir = tempdir();
        let file = dir.join("ca.pem");
        std::fs::write(&file, "not a certificate\n").unwrap();
        let s = settings(&[("VAULT_CACERT", file.to_str().unwrap())], None).unwrap();
        assert_eq!(
            s.http_client().unwrap_err(),
            format!(
                "VAULT_CACERT {}: no PEM certificate in the file",
                file.display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A fresh folder under the temp dir (no tempfile dependency for two tests).
    fn tempdir() -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cm-plugin-vault-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
