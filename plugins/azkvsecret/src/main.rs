//! `cm-plugin-azkvsecret`: the AZKVSECRET plugin binary (see the library for what it does).

fn main() {
    cm_plugin_sdk::serve(
        cm_plugin_sdk::plugin_info!("AZKVSECRET"),
        cm_plugin_azkvsecret::KeyVaultStore::from_env(),
    )
}
