//! A secret's payload as the text handed to the host. Pure: no I/O.

use base64::Engine as _;
use cm_plugin_common::FetchError;
use google_cloud_secretmanager_v1::model::SecretPayload;

/// The payload as text: UTF-8 as it is, anything else in standard base64 (padded), as
/// AWSSECRETS returns a `SecretBinary`. The CRC32C the service sends along is checked first
/// (Google asks clients to), so a payload damaged in transit is an error, not a wrong value.
/// No payload at all is the empty value (the host words that error).
pub fn text(payload: Option<SecretPayload>) -> Result<String, FetchError> {
    let Some(payload) = payload else {
        return Ok(String::new());
    };
    if let Some(expected) = payload.data_crc32c {
        let actual = crc32c(&payload.data);
        if i64::from(actual) != expected {
            return Err(FetchError::Implementation(format!(
                "the payload's CRC32C is {actual}, the service sent {expected}: the data was damaged in transit"
            )));
        }
    }
    Ok(match String::from_utf8(payload.data.to_vec()) {
        Ok(text) => text,
        Err(e) => base64::engine::general_purpose::STANDARD.encode(e.as_bytes()),
    })
}

/// CRC-32C (Castagnoli), the checksum Secret Manager keeps per version. Bitwise: payloads are
/// at most 64 KiB, so a table buys nothing.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82F6_3B78 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(data: &[u8], crc: Option<i64>) -> Option<SecretPayload> {
        let mut p = SecretPayload::new().set_data(data.to_vec());
        p.data_crc32c = crc;
        Some(p)
    }

    #[test]
    fn crc32c_check_values() {
        // The standard check value (RFC 3720, iSCSI) and the empty input.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    }

    #[test]
    fn text_as_is_binary_in_base64() {
        assert_eq!(
            text(payload("pässword".as_bytes(), None)).unwrap(),
            "pässword"
        );
        assert_eq!(
            text(payload(&[0xff, 0x00, 0xfe], None)).unwrap(),
            "/wD+",
            "not UTF-8: standard base64"
        );
        assert_eq!(text(None).unwrap(), "");
    }

    #[test]
    fn checksums_are_checked() {
        let good = i64::from(crc32c(b"s3cret"));
        assert_eq!(text(payload(b"s3cret", Some(good))).unwrap(), "s3cret");
        let err = text(payload(b"s3cret", Some(good + 1))).unwrap_err();
        assert!(
            matches!(&err, FetchError::Implementation(t) if t.contains("damaged in transit")),
            "{err:?}"
        );
    }
}
