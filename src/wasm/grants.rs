//! What a WASI plugin may reach beyond its sandbox: hosts for `cm.http_request`
//! (`--allow-host HOST[:PORT]`) and environment variables (`--allow-env NAME`). Pure parsing and
//! matching; the lock file records the grants' `Display` text and `FromStr` reads it back.
//!
//! A grant without a port allows the URL scheme's default port only (443 for `https`, 80 for
//! `http`), as a browser reads `vault.example`: `https://vault.example:8200` needs
//! `vault.example:8200`. Host names match without regard to case and exactly (no wildcards, no
//! subdomains); IPv6 addresses are written in brackets (`[::1]:8200`).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

/// The grants of one plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Grants {
    /// Hosts `cm.http_request` may reach.
    pub(crate) hosts: Vec<HostGrant>,
    /// Environment variables the module sees (with cm's values), by name.
    pub(crate) env: Vec<EnvName>,
}

impl Grants {
    /// Whether a request to `host` (as a URL has it: a name, an IPv4 address or a bracketed
    /// IPv6 address) on `port` is allowed, `default_port` being its scheme's.
    pub(crate) fn allows(&self, host: &str, port: u16, default_port: u16) -> bool {
        let Ok(wanted) = Host::parse(host) else {
            return false;
        };
        self.hosts
            .iter()
            .any(|g| g.host == wanted && g.port.unwrap_or(default_port) == port)
    }
}

/// One `--allow-host` grant: a host and, optionally, a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct HostGrant {
    host: Host,
    port: Option<u16>,
}

/// A host as granted or requested: a lower-cased DNS name or an IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Host {
    Name(String),
    Ip(IpAddr),
}

impl Host {
    /// `name`, `1.2.3.4` or `[::1]`.
    fn parse(text: &str) -> Result<Host, GrantError> {
        if let Some(inner) = text.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or_else(|| GrantError::BadHost(text.to_string()))?;
            return inner
                .parse::<Ipv6Addr>()
                .map(|ip| Host::Ip(IpAddr::V6(ip)))
                .map_err(|_| GrantError::BadHost(text.to_string()));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return match ip {
                IpAddr::V4(_) => Ok(Host::Ip(ip)),
                IpAddr::V6(_) => Err(GrantError::Ipv6NeedsBrackets(text.to_string())),
            };
        }
        let name = text.strip_suffix('.').unwrap_or(text);
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
            return Err(GrantError::BadHost(text.to_string()));
        }
        Ok(Host::Name(name.to_ascii_lowercase()))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

impl FromStr for HostGrant {
    type Err = GrantError;

    fn from_str(text: &str) -> Result<HostGrant, GrantError> {
        if text.contains("://") || text.contains('/') || text.contains('@') {
            return Err(GrantError::NotAHost(text.to_string()));
        }
        // The port is after the last `:` that is not inside an IPv6 address's brackets.
        let (host, port) = match text.rfind(':') {
            Some(i) if text.starts_with('[') && text[..i].ends_with(']') => {
                (&text[..i], Some(&text[i + 1..]))
            }
            Some(i) if !text.starts_with('[') && !text[..i].contains(':') => {
                (&text[..i], Some(&text[i + 1..]))
            }
            _ => (text, None),
        };
        let port = port
            .map(|p| match p.parse::<u16>() {
                Ok(n) if n > 0 && !p.starts_with('+') => Ok(n),
                _ => Err(GrantError::BadPort(text.to_string())),
            })
            .transpose()?;
        Ok(HostGrant {
            host: Host::parse(host)?,
            port,
        })
    }
}

impl fmt::Display for HostGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => write!(f, "{}", self.host),
        }
    }
}

/// One `--allow-env` grant: a portable environment variable name (`[A-Za-z_][A-Za-z0-9_]*`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct EnvName(String);

impl EnvName {
    /// The name.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EnvName {
    type Err = GrantError;

    fn from_str(text: &str) -> Result<EnvName, GrantError> {
        let mut bytes = text.bytes();
        let first_ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
        if first_ok && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            Ok(EnvName(text.to_string()))
        } else {
            Err(GrantError::BadEnvName(text.to_string()))
        }
    }
}

impl fmt::Display for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A grant that does not parse. Worded in `error.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrantError {
    /// A URL or path where a host was expected.
    NotAHost(String),
    /// Not a DNS name or IP address.
    BadHost(String),
    /// An IPv6 address without brackets.
    Ipv6NeedsBrackets(String),
    /// A port that is not 1-65535.
    BadPort(String),
    /// Not a portable environment variable name.
    BadEnvName(String),
}

impl std::error::Error for GrantError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(text: &str) -> HostGrant {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn host_grants_parse_and_print_back() {
        for (text, shown) in [
            ("vault.example", "vault.example"),
            ("Vault.Example:8200", "vault.example:8200"),
            ("vault.example.:443", "vault.example:443"),
            ("127.0.0.1:8200", "127.0.0.1:8200"),
            ("[::1]", "[::1]"),
            ("[::1]:8200", "[::1]:8200"),
            ("[2001:DB8::1]:443", "[2001:db8::1]:443"),
            ("my_host-1.internal", "my_host-1.internal"),
        ] {
            assert_eq!(grant(text).to_string(), shown, "{text}");
            assert_eq!(grant(shown), grant(text), "{text} round-trips");
        }
    }

    #[test]
    fn bad_host_grants() {
        for (text, want) in [
            (
                "https://vault.example",
                GrantError::NotAHost("https://vault.example".into()),
            ),
            (
                "vault.example/v1",
                GrantError::NotAHost("vault.example/v1".into()),
            ),
            (
                "user@vault.example",
                GrantError::NotAHost("user@vault.example".into()),
            ),
            ("", GrantError::BadHost("".into())),
            ("a..b", GrantError::BadHost("a..b".into())),
            ("-a.b", GrantError::BadHost("-a.b".into())),
            ("a b", GrantError::BadHost("a b".into())),
            ("::1", GrantError::Ipv6NeedsBrackets("::1".into())),
            ("[::1", GrantError::BadHost("[::1".into())),
            ("[vault]", GrantError::BadHost("[vault]".into())),
            ("vault:0", GrantError::BadPort("vault:0".into())),
            ("vault:65536", GrantError::BadPort("vault:65536".into())),
            ("vault:", GrantError::BadPort("vault:".into())),
            ("vault:+80", GrantError::BadPort("vault:+80".into())),
            ("[::1]:x", GrantError::BadPort("[::1]:x".into())),
        ] {
            assert_eq!(text.parse::<HostGrant>(), Err(want), "{text}");
        }
    }

    #[test]
    fn a_grant_without_a_port_allows_the_default_port_only() {
        let grants = Grants {
            hosts: vec![
                grant("vault.example"),
                grant("[::1]:8200"),
                grant("10.0.0.1:80"),
            ],
            env: vec![],
        };
        assert!(grants.allows("vault.example", 443, 443));
        assert!(grants.allows("VAULT.example", 80, 80));
        assert!(!grants.allows("vault.example", 8200, 443));
        assert!(!grants.allows("sub.vault.example", 443, 443));
        assert!(grants.allows("[::1]", 8200, 443));
        assert!(!grants.allows("[::1]", 443, 443));
        assert!(grants.allows("10.0.0.1", 80, 443));
        assert!(!grants.allows("10.0.0.2", 80, 80));
        assert!(!grants.allows("", 443, 443));
    }

    #[test]
    fn env_names() {
        for ok in ["HOME", "_X", "VAULT_ADDR2", "a"] {
            assert_eq!(ok.parse::<EnvName>().unwrap().as_str(), ok);
        }
        for bad in ["", "1X", "A=B", "A-B", "A B", "É"] {
            assert_eq!(
                bad.parse::<EnvName>(),
                Err(GrantError::BadEnvName(bad.into()))
            );
        }
    }
}
