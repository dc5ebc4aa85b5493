//! `cm-plugin-gcpsecrets`: the GCPSECRETS plugin binary (see the library for what it does).

fn main() {
    cm_plugin_sdk::serve(
        cm_plugin_sdk::plugin_info!("GCPSECRETS"),
        cm_plugin_gcpsecrets::SecretStore::from_env(),
    )
}
