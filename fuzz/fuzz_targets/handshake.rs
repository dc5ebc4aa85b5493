//! Fuzz target for the go-plugin handshake-line parser: any text must parse or be refused
//! without panicking, and what parses must be internally consistent.

#![no_main]

use cm_plugin_sdk::handshake::{Address, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    if let Ok(h) = parse(&line, &[1, 2]) {
        assert!(h.app_version == 1 || h.app_version == 2);
        if let Address::Unix(p) = &h.address {
            assert!(!p.as_os_str().is_empty());
        }
        // Field 6 is only a certificate when it is longer than 50 characters.
        if let Some(cert) = &h.server_cert {
            assert!(!cert.is_empty());
        }
    }
});
