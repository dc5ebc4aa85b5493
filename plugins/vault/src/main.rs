//! `cm-plugin-vault`: the VAULT plugin binary (see the library for what it does).

fn main() {
    cm_plugin_sdk::serve(
        cm_plugin_sdk::plugin_info!("VAULT"),
        cm_plugin_vault::VaultStore::from_env(),
    )
}
