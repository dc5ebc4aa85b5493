//! Fuzz target for the envsubst expander: any bytes must expand or produce positioned errors
//! without panicking; text without `$` comes back unchanged.

#![no_main]

use cm::internals::expand;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lookup = |name: &str| match name.len() % 3 {
        0 => None,
        1 => Some(String::new()),
        _ => Some(format!("<{name}>")),
    };
    match expand(data, lookup) {
        Ok(out) => {
            if !data.contains(&b'$') {
                assert_eq!(out, data);
            }
        }
        Err(errors) => {
            assert!(!errors.0.is_empty());
            for e in &errors.0 {
                assert!(e.pos.line >= 1 && e.pos.column >= 1);
            }
        }
    }
});
