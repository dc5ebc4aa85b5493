//! `cm-plugin-azappconf`: the AZAPPCONF plugin binary (see the library for what it does).

fn main() {
    cm_plugin_sdk::serve(
        cm_plugin_sdk::plugin_info!("AZAPPCONF"),
        cm_plugin_azappconf::AppConfStore::from_env(),
    )
}
