//! `cm-plugin-aztablestore`: the AZTABLESTORE plugin binary (see the library for what it does).

fn main() {
    // reqwest is built without a crypto provider of its own (which would bring a C build of
    // aws-lc); ring serves all TLS in this process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    cm::plugin::serve(cm_plugin_aztablestore::TableStore::from_env())
}
