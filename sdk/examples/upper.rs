//! The smallest useful plugin: every token's value is the token in upper case. The same code is
//! the example in the crate's README.

use cm_plugin_sdk::{StoreError, TokenStore, plugin_info};

/// A store whose value for every token is the token in upper case.
struct Upper;

impl TokenStore for Upper {
    async fn value(&self, token: &str, metadata: &[u8]) -> Result<String, StoreError> {
        if token.is_empty() {
            return Err(StoreError::empty_response(token));
        }
        let _ = metadata; // the text between the token's brackets, e.g. b"version=2"
        Ok(token.to_uppercase())
    }
}

fn main() {
    cm_plugin_sdk::serve(plugin_info!("UPPER"), Upper)
}
