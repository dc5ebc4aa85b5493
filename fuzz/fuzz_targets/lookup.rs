//! Fuzz target for the key-path lookup: arbitrary values (often JSON) and key paths must never
//! panic, and a value that is not JSON comes back unchanged.

#![no_main]

use cm::internals::lookup;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte splits the input into a key path and a value.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = usize::from(split).min(rest.len());
    let (key, value) = rest.split_at(at);
    match lookup(value, key) {
        Ok(found) => {
            // JSON by its grammar (serde's IgnoredAny): numbers beyond f64 still count, as
            // RFC 8259 sets no range (a crash this target found with `Value` as the oracle).
            if serde_json::from_slice::<serde::de::IgnoredAny>(value).is_err() {
                assert_eq!(&*found, value);
            }
        }
        Err(e) => {
            // Errors name the key path, never the value.
            let _ = e.to_string();
        }
    }
});
