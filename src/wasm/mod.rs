//! WASI plugins: a `<p>.wasm` reactor module (the seed's alternative architecture), run
//! in-process by the wasmi interpreter, sandboxed, with HTTP only to the hosts the user granted.
//!
//! - `abi`: the message exchange (the input JSON) and `strategy_token_value`'s codes.
//! - `runtime`: one instance and the seed's call sequence on it, in fuel slices so `--timeout`
//!   holds while the guest runs.
//! - `wasi`: the host functions (WASI preview 1, deny by default) and the load-time import check.
//! - `http`: `cm.http_request` / `cm.http_response`.
//! - `grants`: `--allow-host` and `--allow-env`.
//!
//! [`WasmPlugin::load`] compiles a module once per run and checks its imports and exports;
//! tokens then run on a pool of at most `Limits::concurrency` instances, created when first
//! needed and reused across tokens (a module keeps its state between calls, as under
//! configmanager's host), on tokio's blocking threads. An instance that trapped, ran out of fuel
//! or time, or hit the memory limit is dropped, and only that token fails.

mod abi;
mod failure;
mod grants;
mod http;
mod runtime;
mod wasi;

#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use wasmi::{
    CompilationMode, Config, CustomFuelCosts, Engine, ExternType, FuncType, Module, ValType,
};

pub use failure::{LoadError, WasmFailure};
pub use grants::GrantError;
pub(crate) use grants::{EnvName, Grants, HostGrant};

use crate::Secret;
use crate::provider::{BoxFuture, Provider, ProviderError};
use http::{HttpContext, Roots};
use runtime::{Attempt, Budget, Instance, Template};

/// How much a plugin may use. `concurrency` and `timeout` come from cm's `--concurrency` and
/// `--timeout`; the others have defaults ([`Limits::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Most instances alive at once (and so tokens running at once) for this plugin.
    pub(crate) concurrency: usize,
    /// Wall-clock time for one token, instance creation and `_initialize` included.
    pub(crate) timeout: Duration,
    /// Most linear memory one instance may have.
    pub(crate) memory_bytes: usize,
    /// Most fuel (about one unit per instruction) one token may burn.
    pub(crate) fuel: u64,
}

impl Limits {
    /// 256 MiB: a Go module starts with a few MiB and a store client needs some tens.
    pub(crate) const DEFAULT_MEMORY_BYTES: usize = 256 * 1024 * 1024;
    /// Fifty billion instructions: minutes of interpretation, so `timeout` is what normally ends
    /// a runaway module; fuel also bounds a start function, which runs before the clock is read.
    pub(crate) const DEFAULT_FUEL: u64 = 50_000_000_000;

    /// The limits for `--concurrency` and `--timeout`, with the default memory and fuel.
    pub(crate) fn new(concurrency: usize, timeout: Duration) -> Limits {
        Limits {
            concurrency: concurrency.max(1),
            timeout,
            memory_bytes: Limits::DEFAULT_MEMORY_BYTES,
            fuel: Limits::DEFAULT_FUEL,
        }
    }
}

/// A loaded WASI plugin: the compiled module and its pool of instances.
#[derive(Clone)]
pub(crate) struct WasmPlugin {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for WasmPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmPlugin")
            .field("prefix", &self.shared.template.plugin)
            .finish_non_exhaustive()
    }
}

struct Shared {
    template: Template,
    pool: Mutex<Pool>,
    /// Signalled when an instance goes back to the pool or a creation ends.
    changed: Condvar,
    permits: Arc<tokio::sync::Semaphore>,
    live: Arc<AtomicUsize>,
    /// Most instances alive at once so far, and instances made in all (tests check both).
    #[cfg_attr(not(test), allow(dead_code))]
    peak: Arc<AtomicUsize>,
    #[cfg_attr(not(test), allow(dead_code))]
    created: AtomicUsize,
}

/// The instances not in use, and whether one is being made.
#[derive(Default)]
struct Pool {
    idle: Vec<Slot>,
    creating: bool,
}

/// An instance counted as alive until dropped.
struct Slot {
    instance: Instance,
    live: Arc<AtomicUsize>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl WasmPlugin {
    /// Compiles `module_bytes` (already checked against the lock) for prefix `prefix` and
    /// checks its imports against the host's functions and its exports against the ABI.
    /// `env` is cm's environment; the module sees only the variables `grants.env` names.
    pub(crate) fn load(
        prefix: &str,
        module_bytes: &[u8],
        grants: Grants,
        limits: Limits,
        env: &[(OsString, OsString)],
    ) -> Result<WasmPlugin, LoadError> {
        WasmPlugin::load_with_roots(prefix, module_bytes, grants, limits, env, Roots::Native)
    }

    fn load_with_roots(
        prefix: &str,
        module_bytes: &[u8],
        grants: Grants,
        limits: Limits,
        env: &[(OsString, OsString)],
        roots: Roots,
    ) -> Result<WasmPlugin, LoadError> {
        let started = Instant::now();
        let mut config = Config::default();
        config.consume_fuel(true);
        // Every function is validated at load (an invalid module fails here, not mid-token)
        // and translated when first called: a Go module has thousands that a plugin never
        // runs (a 4.4 MB Go echo module loads in about 50 ms instead of 150 ms, release).
        config.compilation_mode(CompilationMode::LazyTranslation);
        // Translation costs no fuel: wasmi 2.0 reports running out of fuel during a lazy
        // translation as an error that cannot be resumed, which would break the fuel slices
        // that check the deadline. Translation is bounded by the module's size anyway.
        config.fuel_cost(CustomFuelCosts {
            bytes_copied_per_fuel: 64,
            fuel_per_bytes_translated: 0,
            fuel_per_bytes_validated: 0,
        });
        let engine = Engine::new(&config);
        let module =
            Module::new(&engine, module_bytes).map_err(|e| LoadError::Compile(e.to_string()))?;
        check_imports(&module)?;
        check_exports(&module)?;
        let environ = environ(&grants, env);
        let linker = wasi::linker(&engine);
        tracing::debug!(
            target: "cm::wasm",
            plugin = prefix,
            bytes = module_bytes.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compiled WASI module"
        );
        let concurrency = limits.concurrency.max(1);
        Ok(WasmPlugin {
            shared: Arc::new(Shared {
                template: Template {
                    engine,
                    module,
                    linker,
                    plugin: prefix.into(),
                    environ,
                    http: Arc::new(HttpContext::new(grants, roots)),
                    limits,
                },
                pool: Mutex::new(Pool::default()),
                changed: Condvar::new(),
                permits: Arc::new(tokio::sync::Semaphore::new(concurrency)),
                live: Arc::new(AtomicUsize::new(0)),
                peak: Arc::new(AtomicUsize::new(0)),
                created: AtomicUsize::new(0),
            }),
        })
    }
}

impl Shared {
    /// One token, start to end, on a blocking thread; holds a pool permit.
    fn token(&self, input: &[u8], runtime: tokio::runtime::Handle) -> Result<String, WasmFailure> {
        let mut budget = Budget::new(&self.template.limits, Some(runtime));
        for fresh_retry in [false, true] {
            let mut slot = if fresh_retry {
                self.create(&mut budget)?
            } else {
                self.acquire(&mut budget)?
            };
            slot.instance.begin(&budget);
            match slot.instance.token_value(input, &mut budget) {
                Ok(Ok(Attempt::Value(value))) => {
                    self.release(slot);
                    return Ok(value);
                }
                Ok(Err(failure)) => {
                    self.release(slot);
                    return Err(failure);
                }
                Ok(Ok(Attempt::ArenaFull)) => {
                    // A bump arena never gives memory back: this instance is spent.
                    drop(slot);
                    self.changed.notify_all();
                    if fresh_retry {
                        return Err(WasmFailure::ArenaFull);
                    }
                    tracing::debug!(
                        target: "cm::wasm",
                        plugin = %self.template.plugin,
                        "allocate returned 0: retrying on a fresh instance"
                    );
                }
                Err(failure) => {
                    drop(slot);
                    self.changed.notify_all();
                    return Err(failure);
                }
            }
        }
        unreachable!("the loop returns on its second pass")
    }

    /// An idle instance, else a new one. Instances are made one at a time, and a token that
    /// finds one being made waits for whichever instance is free first: making a Go instance
    /// (its runtime's start) costs tens of milliseconds of CPU, far more than a call, so a burst
    /// of tokens grows the pool only as far as calls really overlap (a plugin that waits on
    /// its store), not to `concurrency` at once.
    fn acquire(&self, budget: &mut Budget) -> Result<Slot, WasmFailure> {
        let mut pool = self.pool.lock().expect("not poisoned");
        loop {
            if let Some(slot) = pool.idle.pop() {
                return Ok(slot);
            }
            if !pool.creating {
                pool.creating = true;
                drop(pool);
                let made = self.create(budget);
                self.pool.lock().expect("not poisoned").creating = false;
                self.changed.notify_all();
                return made;
            }
            let Some(left) = budget.remaining() else {
                return Err(budget.timed_out());
            };
            pool = self
                .changed
                .wait_timeout(pool, left)
                .expect("not poisoned")
                .0;
        }
    }

    /// Puts an instance back for the next token.
    fn release(&self, slot: Slot) {
        self.pool.lock().expect("not poisoned").idle.push(slot);
        self.changed.notify_one();
    }

    /// A new instance, counted as alive. The caller holds a permit and the idle list was
    /// empty, so the count stays within `concurrency`.
    fn create(&self, budget: &mut Budget) -> Result<Slot, WasmFailure> {
        let instance = Instance::new(&self.template, budget)?;
        self.created.fetch_add(1, Ordering::SeqCst);
        let live = self.live.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(live, Ordering::SeqCst);
        Ok(Slot {
            instance,
            live: self.live.clone(),
        })
    }
}

impl Provider for WasmPlugin {
    fn fetch<'a>(
        &'a self,
        path: &'a str,
        metadata: &'a [u8],
    ) -> BoxFuture<'a, Result<Secret, ProviderError>> {
        Box::pin(async move {
            let fail = |why| ProviderError::Wasm {
                plugin: self.shared.template.plugin.to_string(),
                why,
            };
            let input = abi::input(path, metadata).map_err(fail)?;
            let permit = self
                .shared
                .permits
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let shared = self.shared.clone();
            let runtime = tokio::runtime::Handle::current();
            let outcome = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                shared.token(&input, runtime)
            })
            .await;
            match outcome {
                Ok(Ok(value)) => Ok(Secret::from(value)),
                Ok(Err(why)) => Err(fail(why)),
                Err(join) => Err(fail(WasmFailure::Host(join.to_string()))),
            }
        })
    }
}

/// `NAME=value` for each granted variable that is set.
fn environ(grants: &Grants, env: &[(OsString, OsString)]) -> Arc<[Vec<u8>]> {
    grants
        .env
        .iter()
        .filter_map(|name| {
            let (_, value) = env.iter().rev().find(|(k, _)| k == name.as_str())?;
            let mut entry = format!("{}=", name.as_str()).into_bytes();
            #[cfg(unix)]
            entry.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(value.as_os_str()));
            #[cfg(not(unix))]
            entry.extend_from_slice(value.to_string_lossy().as_bytes());
            Some(entry)
        })
        .collect()
}

/// Every import must be a host function of the same type.
fn check_imports(module: &Module) -> Result<(), LoadError> {
    for import in module.imports() {
        let unknown = || LoadError::UnknownImport {
            module: import.module().to_string(),
            name: import.name().to_string(),
        };
        let host = wasi::find(import.module(), import.name()).ok_or_else(unknown)?;
        let ExternType::Func(found) = import.ty() else {
            return Err(unknown());
        };
        let expected = host.ty();
        if *found != expected {
            return Err(LoadError::ImportType {
                module: import.module().to_string(),
                name: import.name().to_string(),
                expected: show_type(&expected),
                found: show_type(found),
            });
        }
    }
    Ok(())
}

/// The ABI's exports, with their types; `_initialize` is optional.
fn check_exports(module: &Module) -> Result<(), LoadError> {
    use ValType::I32;
    match module.get_export("memory") {
        Some(ExternType::Memory(_)) => {}
        Some(other) => {
            return Err(LoadError::ExportType {
                name: "memory",
                expected: "a memory",
                found: show_extern(&other),
            });
        }
        None => return Err(LoadError::MissingExport("memory")),
    }
    let funcs: [(&'static str, FuncType, &'static str, bool); 4] = [
        (
            "allocate",
            FuncType::new([I32], [I32]),
            "(i32) -> i32",
            true,
        ),
        (
            "deallocate",
            FuncType::new([I32, I32], []),
            "(i32, i32)",
            true,
        ),
        (
            "strategy_token_value",
            FuncType::new([I32; 5], [I32]),
            "(i32, i32, i32, i32, i32) -> i32",
            true,
        ),
        ("_initialize", FuncType::new([], []), "()", false),
    ];
    for (name, ty, shown, required) in funcs {
        match module.get_export(name) {
            Some(ExternType::Func(found)) if found == ty => {}
            Some(other) => {
                return Err(LoadError::ExportType {
                    name,
                    expected: shown,
                    found: show_extern(&other),
                });
            }
            None if required => return Err(LoadError::MissingExport(name)),
            None => {}
        }
    }
    Ok(())
}

fn show_extern(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => show_type(f),
        ExternType::Memory(_) => "a memory".to_string(),
        ExternType::Table(_) => "a table".to_string(),
        ExternType::Global(_) => "a global".to_string(),
    }
}

/// `(i32, i64) -> i32`, as the ABI is written.
fn show_type(ty: &FuncType) -> String {
    let names = |types: &[ValType]| {
        types
            .iter()
            .map(|t| match t {
                ValType::I32 => "i32",
                ValType::I64 => "i64",
                ValType::F32 => "f32",
                ValType::F64 => "f64",
                ValType::V128 => "v128",
                ValType::FuncRef => "funcref",
                ValType::ExternRef => "externref",
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match ty.results() {
        [] => format!("({})", names(ty.params())),
        results => format!("({}) -> {}", names(ty.params()), names(results)),
    }
}
