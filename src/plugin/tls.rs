//! When cm asks its plugins for go-plugin AutoMTLS ([`MtlsPolicy`]). The protocol itself (the
//! certificates and rustls configurations of both sides) is [`cm_plugin_sdk::tls`].
//!
//! By default ([`MtlsPolicy::Auto`]) a plugin listening on TCP always gets mTLS: a loopback port
//! is open to every local user. A plugin on a Unix socket does not, because the socket lives in a
//! folder only cm's user can enter (`--plugin-mtls` turns it on there too). The catch: the
//! certificate must go into the plugin's environment before the handshake line tells which
//! transport the plugin chose. So:
//!
//! - on Windows, where go-plugin plugins always listen on TCP, the certificate is always sent;
//! - elsewhere it is not sent, and a plugin that nevertheless answers with a TCP address (or with
//!   a certificate of its own) is killed before anything is sent to it and started once more with
//!   AutoMTLS. Go plugins never hit this (they use Unix sockets here); a plugin that does pays for
//!   one extra start, and its first instance listened in plaintext for the few milliseconds
//!   until cm killed it (cm never connects to it). `--plugin-mtls` avoids both.
//!
//! cm never falls back to plaintext where it wants TLS: a plugin that answers without a
//! certificate although it was given one fails to start, with an error saying so, when it
//! listens on TCP or when `--plugin-mtls` is on. A plugin that does not support AutoMTLS and
//! listens on TCP therefore cannot be used; one on a Unix socket can, without the flag.

/// When cm asks its plugins for AutoMTLS. See the module documentation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MtlsPolicy {
    /// mTLS when the plugin listens on TCP, plaintext on a Unix socket in cm's private folder.
    #[default]
    Auto,
    /// mTLS for every plugin (`--plugin-mtls`).
    Always,
}

impl MtlsPolicy {
    /// The policy for the `--plugin-mtls` flag.
    pub(crate) fn from_flag(plugin_mtls: bool) -> MtlsPolicy {
        if plugin_mtls {
            MtlsPolicy::Always
        } else {
            MtlsPolicy::Auto
        }
    }

    /// Whether the certificate goes into the plugin's environment on its first start.
    pub(crate) fn offer_up_front(self) -> bool {
        match self {
            MtlsPolicy::Always => true,
            // go-plugin plugins listen on TCP on Windows and on Unix sockets elsewhere.
            MtlsPolicy::Auto => cfg!(windows),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(MtlsPolicy::Always.offer_up_front());
        assert_eq!(MtlsPolicy::Auto.offer_up_front(), cfg!(windows));
        assert_eq!(MtlsPolicy::default(), MtlsPolicy::Auto);
    }
}
