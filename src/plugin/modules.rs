//! WASI plugins for one run: each module checked against its lock (the bytes hashed are the
//! bytes compiled), its lock grants read, and the module loaded into the in-process runtime
//! (`crate::wasm`). No process is started. A module that cannot be loaded (invalid, a missing
//! export, an import cm does not provide) fails each of its tokens with the reason, as a token
//! that traps does; a lock that refuses it fails the run before anything runs, as for native
//! plugins.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use super::client::CallLimits;
use super::lock::{self, IntegrityError};
use crate::provider::Provider;

/// A provider per prefix.
type Loaded = Vec<(String, Arc<dyn Provider>)>;

/// Every module in `wanted` (prefix, `.wasm` path), as a provider per prefix, or every refusal.
pub(crate) fn load(
    wanted: &[(String, PathBuf)],
    require_lock: bool,
    calls: CallLimits,
    env: &[(OsString, OsString)],
) -> Result<Loaded, Vec<IntegrityError>> {
    let mut loaded = Vec::new();
    let mut refused = Vec::new();
    for (prefix, path) in wanted {
        match lock::verify_module(prefix, path, require_lock).and_then(|m| load_one(m, calls, env))
        {
            Ok(provider) => loaded.push((prefix.clone(), provider)),
            Err(e) => refused.push(e),
        }
    }
    if refused.is_empty() {
        Ok(loaded)
    } else {
        Err(refused)
    }
}

/// Loads one checked module with the grants of its lock line; a grant that does not parse (a
/// hand-edited lock) refuses the module.
#[cfg(feature = "wasi")]
fn load_one(
    module: lock::VerifiedModule,
    calls: CallLimits,
    env: &[(OsString, OsString)],
) -> Result<Arc<dyn Provider>, IntegrityError> {
    use crate::wasm::{EnvName, Grants, HostGrant, Limits, WasmPlugin};

    let mut grants = Grants::default();
    for grant in &module.grants {
        let parsed = match grant {
            lock::Grant::Host(h) => h.parse::<HostGrant>().map(|h| grants.hosts.push(h)),
            lock::Grant::Env(e) => e.parse::<EnvName>().map(|e| grants.env.push(e)),
        };
        parsed.map_err(|e| IntegrityError::BadGrant {
            plugin: module.path.clone(),
            grant: grant.to_string(),
            reason: e.to_string(),
        })?;
    }
    for w in &module.warnings {
        tracing::warn!("{w}");
    }
    tracing::debug!(plugin = %module.prefix, status = ?module.status, grants = module.grants.len(), "WASI module integrity");
    let limits = Limits::new(calls.concurrency, calls.timeout);
    Ok(
        match WasmPlugin::load(&module.prefix, &module.bytes, grants, limits, env) {
            Ok(plugin) => Arc::new(plugin),
            Err(e) => Arc::new(Unloadable {
                plugin: module.prefix,
                why: e.into(),
            }),
        },
    )
}

/// Without the `wasi` feature a module is found but cannot run: refused, saying why.
#[cfg(not(feature = "wasi"))]
fn load_one(
    module: lock::VerifiedModule,
    _calls: CallLimits,
    _env: &[(OsString, OsString)],
) -> Result<Arc<dyn Provider>, IntegrityError> {
    Err(IntegrityError::NoWasi {
        plugin: module.path,
    })
}

/// The provider of a module that could not be loaded: every token says why.
#[cfg(feature = "wasi")]
struct Unloadable {
    plugin: String,
    why: crate::wasm::WasmFailure,
}

#[cfg(feature = "wasi")]
impl Provider for Unloadable {
    fn fetch<'a>(
        &'a self,
        _path: &'a str,
        _metadata: &'a [u8],
    ) -> crate::provider::BoxFuture<'a, Result<crate::Secret, crate::provider::ProviderError>> {
        Box::pin(async move {
            Err(crate::provider::ProviderError::Wasm {
                plugin: self.plugin.clone(),
                why: self.why.clone(),
            })
        })
    }
}
