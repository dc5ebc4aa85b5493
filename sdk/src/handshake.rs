//! The go-plugin handshake line: the first line a plugin prints on stdout, e.g.
//! `1|1|unix|/tmp/plugin123|grpc|`. [`format()`] writes it (plugin side), [`parse`] reads it (host
//! side); both are pure, so they are unit-tested, property-tested against each other and fuzzed.
//!
//! Fields: core protocol version | app protocol version | network | address | protocol |
//! server certificate (AutoMTLS only) [| multiplex flag]. We are strict where a mistake would
//! otherwise surface later as a confusing connection error.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::protocol::CORE_PROTOCOL_VERSION;

/// Where the plugin listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A Unix domain socket (every OS but Windows).
    Unix(PathBuf),
    /// A loopback TCP port (Windows plugins).
    Tcp(SocketAddr),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "unix:{}", p.display()),
            Address::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

/// A parsed handshake line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The negotiated app protocol version.
    pub app_version: u32,
    /// Where to connect.
    pub address: Address,
    /// The plugin's AutoMTLS certificate (DER), when it sent one.
    pub server_cert: Option<Vec<u8>>,
    /// The multiplex flag (field 7), when present.
    pub multiplex: Option<bool>,
}

/// Why a handshake line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// Nothing was printed before stdout closed.
    #[error("the plugin printed no handshake line")]
    Empty,
    /// Not a handshake line at all.
    #[error("unrecognized remote plugin message: {0:?}")]
    Unrecognized(String),
    /// More fields than any go-plugin version prints.
    #[error("handshake line has {0} fields, expected 6 or 7: {1:?}")]
    FieldCount(usize, String),
    /// A core protocol other than 1.
    #[error("incompatible core API version with plugin: {0:?} (expected {CORE_PROTOCOL_VERSION})")]
    CoreVersion(String),
    /// The plugin chose an app protocol version we do not speak.
    #[error(
        "incompatible API version with plugin. Plugin version: {got}, Client versions: {supported:?}"
    )]
    AppVersion {
        /// What the plugin printed.
        got: String,
        /// What we offered.
        supported: Vec<u32>,
    },
    /// Neither `unix` nor `tcp`.
    #[error("unknown address type {0:?}")]
    Network(String),
    /// The address does not parse for its network.
    #[error("invalid {network} address {address:?}")]
    Address {
        /// `unix` or `tcp`.
        network: String,
        /// What the plugin printed.
        address: String,
    },
    /// go-plugin's Go-only net/rpc protocol.
    #[error(
        "unsupported plugin protocol \"netrpc\" (a Go-only protocol); cm supports only \"grpc\" plugins"
    )]
    NetRpc,
    /// Some other protocol name.
    #[error("unsupported plugin protocol {0:?}; cm supports only \"grpc\" plugins")]
    Protocol(String),
    /// Field 6 looked like a certificate but was not valid base64.
    #[error("error parsing server cert: {0}")]
    Cert(String),
    /// Field 7 is not a boolean.
    #[error("error parsing multiplex flag {0:?}")]
    Multiplex(String),
}

/// Parses one handshake line against the app protocol versions the host offered.
pub fn parse(line: &str, supported: &[u32]) -> Result<Handshake, HandshakeError> {
    let line = line.trim();
    if line.is_empty() {
        return Err(HandshakeError::Empty);
    }
    let fields: Vec<&str> = line.split('|').collect();
    if fields.len() < 4 {
        return Err(HandshakeError::Unrecognized(line.to_string()));
    }
    if fields.len() > 7 {
        return Err(HandshakeError::FieldCount(fields.len(), line.to_string()));
    }
    if fields[0].parse::<u32>().ok() != Some(CORE_PROTOCOL_VERSION) {
        // Anything that is not even a number is noise, not a version mismatch.
        return Err(if fields[0].chars().all(|c| c.is_ascii_digit()) {
            HandshakeError::CoreVersion(fields[0].to_string())
        } else {
            HandshakeError::Unrecognized(line.to_string())
        });
    }
    let app_version = fields[1]
        .parse::<u32>()
        .ok()
        .filter(|v| supported.contains(v))
        .ok_or_else(|| HandshakeError::AppVersion {
            got: fields[1].to_string(),
            supported: supported.to_vec(),
        })?;
    let network = fields[2];
    let raw_address = fields[3];
    let bad_address = || HandshakeError::Address {
        network: network.to_string(),
        address: raw_address.to_string(),
    };
    let address = match network {
        "unix" if !raw_address.is_empty() => Address::Unix(PathBuf::from(raw_address)),
        "unix" => return Err(bad_address()),
        "tcp" => Address::Tcp(raw_address.parse().map_err(|_| bad_address())?),
        other => return Err(HandshakeError::Network(other.to_string())),
    };
    // A four-field line is go-plugin's way of saying netrpc.
    match fields.get(4).copied().unwrap_or("netrpc") {
        "grpc" => {}
        "netrpc" => return Err(HandshakeError::NetRpc),
        other => return Err(HandshakeError::Protocol(other.to_string())),
    }
    // go-plugin only treats field 6 as a certificate when it is longer than 50 characters:
    // legacy plugins printed short junk there.
    let server_cert = match fields.get(5) {
        Some(cert) if cert.len() > CERT_MIN_CHARS => Some(decode_cert(cert)?),
        _ => None,
    };
    let multiplex = match fields.get(6) {
        None => None,
        Some(flag) => {
            Some(parse_go_bool(flag).ok_or_else(|| HandshakeError::Multiplex(flag.to_string()))?)
        }
    };
    Ok(Handshake {
        app_version,
        address,
        server_cert,
        multiplex,
    })
}

/// Why a [`Handshake`] cannot be written as a line [`parse`] would read back the same.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The socket path is empty, not UTF-8, or holds a `|` or a line break.
    #[error(
        "the socket path {0:?} cannot go into a handshake line (it must be non-empty UTF-8 without `|` or line breaks)"
    )]
    Address(PathBuf),
    /// go-plugin reads 50 base64 characters or fewer in field 6 as legacy junk, not as a
    /// certificate; no real certificate is that short.
    #[error("a {0}-byte certificate is too short for handshake field 6")]
    ShortCertificate(usize),
}

/// Writes `handshake` as the line a plugin prints (without the line break):
/// `1|APP|NETWORK|ADDRESS|grpc|CERT` plus `|MULTIPLEX` when the flag is set. The certificate goes
/// in DER as standard base64 without padding, as Go prints it. A line that [`parse`] would not
/// read back as the same handshake is refused instead of printed.
pub fn format(handshake: &Handshake) -> Result<String, FormatError> {
    use base64::Engine as _;
    let (network, address) = match &handshake.address {
        Address::Unix(path) => match path.to_str() {
            Some(p) if !p.is_empty() && !p.contains(['|', '\n', '\r']) => ("unix", p.to_string()),
            _ => return Err(FormatError::Address(path.clone())),
        },
        Address::Tcp(addr) => ("tcp", addr.to_string()),
    };
    let cert = match &handshake.server_cert {
        None => String::new(),
        Some(der) => {
            let text = base64::engine::general_purpose::STANDARD_NO_PAD.encode(der);
            if text.len() <= CERT_MIN_CHARS {
                return Err(FormatError::ShortCertificate(der.len()));
            }
            text
        }
    };
    let mut line = format!(
        "{CORE_PROTOCOL_VERSION}|{}|{network}|{address}|grpc|{cert}",
        handshake.app_version
    );
    if let Some(multiplex) = handshake.multiplex {
        line.push('|');
        line.push_str(if multiplex { "true" } else { "false" });
    }
    Ok(line)
}

/// Field 6 longer than this is a certificate; shorter is legacy junk (go-plugin's rule).
const CERT_MIN_CHARS: usize = 50;

/// Go prints the DER certificate in unpadded standard base64; accept padded too.
fn decode_cert(text: &str) -> Result<Vec<u8>, HandshakeError> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    let trimmed = text.trim_end_matches('=');
    STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD.decode(text))
        .map_err(|e| HandshakeError::Cert(e.to_string()))
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Handshake {
        parse(line, &[1]).unwrap_or_else(|e| panic!("{line:?}: {e}"))
    }

    fn err(line: &str) -> HandshakeError {
        parse(line, &[1]).expect_err(line)
    }

    #[test]
    fn go_plugin_line_without_tls() {
        let h = ok("1|1|unix|/tmp/plugin2757116373|grpc|\n");
        assert_eq!(h.address, Address::Unix("/tmp/plugin2757116373".into()));
        assert_eq!(h.app_version, 1);
        assert_eq!(h.server_cert, None);
        assert_eq!(h.multiplex, None);
    }

    #[test]
    fn crlf_and_tcp() {
        let h = ok("1|1|tcp|127.0.0.1:10000|grpc|\r\n");
        assert_eq!(h.address, Address::Tcp("127.0.0.1:10000".parse().unwrap()));
    }

    #[test]
    fn five_fields_as_in_go_plugins_non_go_guide() {
        assert_eq!(ok("1|1|tcp|127.0.0.1:1234|grpc").server_cert, None);
    }

    #[test]
    fn multiplex_flag() {
        assert_eq!(ok("1|1|unix|/tmp/p|grpc||true").multiplex, Some(true));
        assert_eq!(ok("1|1|unix|/tmp/p|grpc||false").multiplex, Some(false));
        assert_eq!(
            err("1|1|unix|/tmp/p|grpc||maybe"),
            HandshakeError::Multiplex("maybe".into())
        );
    }

    #[test]
    fn certificate_padded_or_not() {
        use base64::Engine as _;
        let der: Vec<u8> = (0..=255u8).cycle().take(301).collect();
        let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&der);
        let padded = base64::engine::general_purpose::STANDARD.encode(&der);
        assert_ne!(unpadded, padded);
        for cert in [unpadded, padded] {
            let h = ok(&format!("1|1|unix|/tmp/p|grpc|{cert}"));
            assert_eq!(h.server_cert.as_deref(), Some(&der[..]));
        }
        // Short junk in field 6 is ignored, as go-plugin does.
        assert_eq!(ok("1|1|unix|/tmp/p|grpc|junk").server_cert, None);
        let bad = format!("1|1|unix|/tmp/p|grpc|{}", "!".repeat(60));
        assert!(matches!(err(&bad), HandshakeError::Cert(_)));
    }

    #[test]
    fn refusals() {
        assert_eq!(err(""), HandshakeError::Empty);
        assert_eq!(err("  \n"), HandshakeError::Empty);
        assert!(matches!(
            err("hello world"),
            HandshakeError::Unrecognized(_)
        ));
        assert!(matches!(
            err("a|b|c|d|e|f"),
            HandshakeError::Unrecognized(_)
        ));
        assert_eq!(
            err("2|1|unix|/tmp/p|grpc|"),
            HandshakeError::CoreVersion("2".into())
        );
        assert_eq!(
            err("1|3|unix|/tmp/p|grpc|"),
            HandshakeError::AppVersion {
                got: "3".into(),
                supported: vec![1]
            }
        );
        assert_eq!(
            err("1|1|udp|x|grpc|"),
            HandshakeError::Network("udp".into())
        );
        assert!(matches!(
            err("1|1|tcp|nonsense|grpc|"),
            HandshakeError::Address { .. }
        ));
        assert!(matches!(
            err("1|1|unix||grpc|"),
            HandshakeError::Address { .. }
        ));
        assert_eq!(err("1|1|unix|/tmp/p|netrpc|"), HandshakeError::NetRpc);
        assert_eq!(err("1|1|unix|/tmp/p"), HandshakeError::NetRpc);
        assert_eq!(
            err("1|1|unix|/tmp/p|http|"),
            HandshakeError::Protocol("http".into())
        );
        assert!(matches!(
            err("1|1|unix|/tmp/p|grpc||true|x"),
            HandshakeError::FieldCount(8, _)
        ));
    }

    #[test]
    fn messages_name_the_problem() {
        assert_eq!(
            err("1|1|unix|/tmp/p|netrpc|").to_string(),
            "unsupported plugin protocol \"netrpc\" (a Go-only protocol); cm supports only \"grpc\" plugins"
        );
        assert_eq!(
            err("1|9|unix|/tmp/p|grpc|").to_string(),
            "incompatible API version with plugin. Plugin version: 9, Client versions: [1]"
        );
    }

    #[test]
    fn format_writes_what_go_plugin_prints() {
        let mut h = ok("1|1|unix|/tmp/plugin2757116373|grpc|");
        assert_eq!(format(&h).unwrap(), "1|1|unix|/tmp/plugin2757116373|grpc|");
        h.multiplex = Some(false);
        assert_eq!(
            format(&h).unwrap(),
            "1|1|unix|/tmp/plugin2757116373|grpc||false"
        );
        let h = Handshake {
            app_version: 2,
            address: Address::Tcp("[::1]:10000".parse().unwrap()),
            server_cert: Some(vec![0xfb; 40]),
            multiplex: Some(true),
        };
        let line = format(&h).unwrap();
        assert!(line.starts_with("1|2|tcp|[::1]:10000|grpc|+/v7"), "{line}");
        assert!(line.ends_with("|true") && !line.contains('='), "{line}");
    }

    #[test]
    fn format_refuses_what_would_not_read_back() {
        let unix = |p: &str| Handshake {
            app_version: 1,
            address: Address::Unix(p.into()),
            server_cert: None,
            multiplex: None,
        };
        for path in ["", "/tmp/a|b", "/tmp/a\nb", "/tmp/a\rb"] {
            assert_eq!(
                format(&unix(path)),
                Err(FormatError::Address(path.into())),
                "{path:?}"
            );
        }
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt as _;
            let raw = std::ffi::OsStr::from_bytes(b"/tmp/\xff");
            let mut h = unix("x");
            h.address = Address::Unix(raw.into());
            assert!(matches!(format(&h), Err(FormatError::Address(_))));
        }
        let mut h = unix("/tmp/p");
        h.server_cert = Some(vec![1; 37]);
        assert_eq!(format(&h), Err(FormatError::ShortCertificate(37)));
        h.server_cert = Some(vec![1; 38]);
        assert_eq!(parse(&format(&h).unwrap(), &[1]).unwrap(), h);
    }

    mod round_trip {
        use super::super::*;
        use proptest::prelude::*;

        fn address() -> impl Strategy<Value = Address> {
            prop_oneof![
                // Any UTF-8 but `|` and line breaks, spaces at either end included.
                "[^|\r\n]{1,80}".prop_map(|p| Address::Unix(PathBuf::from(p))),
                // Flow info and scope id are not part of an address's text.
                (any::<std::net::IpAddr>(), any::<u16>())
                    .prop_map(|(ip, port)| Address::Tcp(std::net::SocketAddr::new(ip, port))),
            ]
        }

        fn handshake() -> impl Strategy<Value = Handshake> {
            (
                any::<u32>(),
                address(),
                proptest::option::of(proptest::collection::vec(any::<u8>(), 38..600)),
                proptest::option::of(any::<bool>()),
            )
                .prop_map(|(app_version, address, server_cert, multiplex)| Handshake {
                    app_version,
                    address,
                    server_cert,
                    multiplex,
                })
        }

        proptest! {
            /// What a plugin prints, a host reads back exactly, with the line break the plugin
            /// adds (LF, or CRLF from a Windows plugin).
            #[test]
            fn format_then_parse_gives_the_same_handshake(h in handshake(), crlf in any::<bool>()) {
                let line = format(&h).unwrap();
                let printed = format!("{line}{}", if crlf { "\r\n" } else { "\n" });
                prop_assert_eq!(parse(&printed, &[h.app_version]), Ok(h));
            }
        }
    }
}
