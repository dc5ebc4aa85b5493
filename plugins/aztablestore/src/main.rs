//! `cm-plugin-aztablestore`: the AZTABLESTORE plugin binary (see the library for what it does).

fn main() {
    cm_plugin_sdk::serve(
        cm_plugin_sdk::plugin_info!("AZTABLESTORE"),
        cm_plugin_aztablestore::TableStore::from_env(),
    )
}
