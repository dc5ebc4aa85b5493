//! One instance of a module and the seed's call sequence on it: allocate, write the input,
//! `strategy_token_value`, the -1 retry, read the value, deallocate. Every guest call runs in
//! fuel slices so the wall-clock deadline is checked while the guest runs (wasmi has no epoch
//! interruption): between slices the host looks at the clock, and a call past its deadline or
//! its fuel budget fails. Runs on a blocking thread; host imports block on the tokio runtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmi::{
    Engine, Extern, Linker, Memory, Module, Store, TypedFunc, TypedResumableCall, WasmParams,
    WasmResults,
};

use super::abi::{ERR_BUF_TOO_SMALL, OK, REASON_CODES};
use super::http::HttpContext;
use super::wasi::StdStream;
use super::{Limits, WasmFailure};

/// Fuel given to the guest between two looks at the clock. wasmi spends about one unit per
/// instruction, some tens of millions per second in cm's builds: a slice lasts a few
/// milliseconds, so a timeout is noticed that late at most, for a negligible cost per slice.
const FUEL_SLICE: u64 = 1_000_000;

/// The first output buffer's size; a larger value costs one retry.
pub(super) const FIRST_OUTPUT_CAPACITY: u32 = 4096;

/// What a host import stops the guest with. Downcast from wasmi's error to tell why it trapped.
#[derive(Debug)]
pub(super) enum HostTrap {
    /// `proc_exit(code)`.
    Exit(i32),
    /// The deadline passed while the host waited for the guest (`poll_oneoff`).
    Deadline,
}

impl std::fmt::Display for HostTrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostTrap::Exit(code) => write!(f, "proc_exit({code})"),
            HostTrap::Deadline => f.write_str("deadline passed"),
        }
    }
}

impl wasmi::errors::HostError for HostTrap {}

/// Per-instance state the host imports use (the store's data).
pub(super) struct HostState {
    /// The plugin's prefix, for log lines.
    pub(super) plugin: Arc<str>,
    /// `NAME=value` entries of the granted variables.
    pub(super) environ: Arc<[Vec<u8>]>,
    /// The current call's deadline.
    pub(super) deadline: Instant,
    /// The runtime `cm.http_request` performs requests on (the caller's).
    pub(super) runtime: Option<tokio::runtime::Handle>,
    /// `cm.http_request`'s client and grants.
    pub(super) http: Arc<HttpContext>,
    /// The record `cm.http_response` hands out next.
    pub(super) pending: Option<Vec<u8>>,
    /// Partial lines written to fd 1 and 2.
    pub(super) stdout: StdStream,
    pub(super) stderr: StdStream,
    memory_limit: usize,
    memory_limit_hit: bool,
}

impl wasmi::ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        // memory.grow returns -1, as the spec has it; the flag lets the host name the limit
        // when the guest then gives up (Go's runtime exits with "out of memory").
        let allowed = desired <= self.memory_limit;
        self.memory_limit_hit |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        // Tables hold function references; a million is far beyond any real plugin.
        Ok(desired <= 1 << 20)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        4
    }

    fn memories(&self) -> usize {
        1
    }
}

/// What the module and the host share for every instance.
pub(super) struct Template {
    pub(super) engine: Engine,
    pub(super) module: Module,
    pub(super) linker: Linker<HostState>,
    pub(super) plugin: Arc<str>,
    pub(super) environ: Arc<[Vec<u8>]>,
    pub(super) http: Arc<HttpContext>,
    pub(super) limits: Limits,
}

/// A call's allowance: its deadline and the fuel it has left.
pub(super) struct Budget {
    runtime: Option<tokio::runtime::Handle>,
    deadline: Instant,
    timeout: Duration,
    fuel: u64,
    total_fuel: u64,
}

impl Budget {
    /// The allowance of one token under `limits`, starting now.
    pub(super) fn new(limits: &Limits, runtime: Option<tokio::runtime::Handle>) -> Budget {
        Budget {
            runtime,
            deadline: Instant::now() + limits.timeout,
            timeout: limits.timeout,
            fuel: limits.fuel,
            total_fuel: limits.fuel,
        }
    }

    /// The time left before the deadline, if any.
    pub(super) fn remaining(&self) -> Option<Duration> {
        self.deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    pub(super) fn timed_out(&self) -> WasmFailure {
        WasmFailure::Timeout {
            after: self.timeout,
        }
    }
}

/// What one attempt at a token gave.
#[derive(Debug)]
pub(super) enum Attempt {
    /// The value (UTF-8 checked).
    Value(String),
    /// `allocate` returned 0: the instance's arena is full.
    ArenaFull,
}

/// A live instance and its exports.
pub(super) struct Instance {
    store: Store<HostState>,
    memory: Memory,
    allocate: TypedFunc<i32, i32>,
    deallocate: TypedFunc<(i32, i32), ()>,
    value: TypedFunc<(i32, i32, i32, i32, i32), i32>,
}

impl Instance {
    /// Instantiates the module and runs `_initialize`, within `budget`.
    pub(super) fn new(template: &Template, budget: &mut Budget) -> Result<Instance, WasmFailure> {
        let state = HostState {
            plugin: template.plugin.clone(),
            environ: template.environ.clone(),
            deadline: budget.deadline,
            runtime: budget.runtime.clone(),
            http: template.http.clone(),
            pending: None,
            stdout: StdStream::default(),
            stderr: StdStream::default(),
            memory_limit: template.limits.memory_bytes,
            memory_limit_hit: false,
        };
        let mut store = Store::new(&template.engine, state);
        store.limiter(|state| state);
        // A start function (Go reactors have none) runs before the slices can begin, bounded
        // by fuel alone.
        store
            .set_fuel(budget.fuel)
            .expect("fuel metering is enabled");
        let instance = match template
            .linker
            .instantiate_and_start(&mut store, &template.module)
        {
            Ok(instance) => instance,
            Err(e) => return Err(failure(&store, &e, budget)),
        };
        let spent = budget.fuel - store.get_fuel().expect("fuel metering is enabled");
        budget.fuel -= spent;
        // load() checked every export's presence and type, so these cannot fail.
        let memory = instance
            .get_memory(&store, "memory")
            .expect("checked at load");
        let allocate = instance
            .get_typed_func(&store, "allocate")
            .expect("checked at load");
        let deallocate = instance
            .get_typed_func(&store, "deallocate")
            .expect("checked at load");
        let value = instance
            .get_typed_func(&store, "strategy_token_value")
            .expect("checked at load");
        let initialize = instance
            .get_export(&store, "_initialize")
            .and_then(Extern::into_func)
            .map(|f| f.typed::<(), ()>(&store).expect("checked at load"));
        let mut instance = Instance {
            store,
            memory,
            allocate,
            deallocate,
            value,
        };
        if let Some(initialize) = initialize {
            instance.run(&initialize, (), budget)?;
        }
        Ok(instance)
    }

    /// Makes `budget`'s deadline the one host imports observe.
    pub(super) fn begin(&mut self, budget: &Budget) {
        let state = self.store.data_mut();
        state.deadline = budget.deadline;
        state.runtime = budget.runtime.clone();
        state.pending = None;
        state.memory_limit_hit = false;
    }

    /// Calls `func` in fuel slices until it returns, traps, or runs out of fuel or time.
    fn run<P: WasmParams, R: WasmResults>(
        &mut self,
        func: &TypedFunc<P, R>,
        params: P,
        budget: &mut Budget,
    ) -> Result<R, WasmFailure> {
        let mut slice = budget.fuel.min(FUEL_SLICE);
        self.store
            .set_fuel(slice)
            .expect("fuel metering is enabled");
        let mut call = func.call_resumable(&mut self.store, params);
        loop {
            let left = self.store.get_fuel().expect("fuel metering is enabled");
            budget.fuel -= slice - left;
            match call {
                Ok(TypedResumableCall::Finished(results)) => return Ok(results),
                Ok(TypedResumableCall::OutOfFuel(paused)) => {
                    if Instant::now() >= budget.deadline {
                        return Err(budget.timed_out());
                    }
                    let required = paused.required_fuel();
                    if budget.fuel < required.max(1) {
                        return Err(WasmFailure::FuelExhausted {
                            fuel: budget.total_fuel,
                        });
                    }
                    slice = budget.fuel.min(FUEL_SLICE.max(required));
                    self.store
                        .set_fuel(slice)
                        .expect("fuel metering is enabled");
                    call = paused.resume(&mut self.store);
                }
                Ok(TypedResumableCall::HostTrap(paused)) => {
                    return Err(failure(&self.store, paused.host_error(), budget));
                }
                Err(e) => return Err(failure(&self.store, &e, budget)),
            }
        }
    }

    /// One attempt at a token: the seed's call sequence. An `Err` means this instance must
    /// not be used again.
    pub(super) fn token_value(
        &mut self,
        input: &[u8],
        budget: &mut Budget,
    ) -> Result<Result<Attempt, WasmFailure>, WasmFailure> {
        let in_len = len32(input.len());
        let Some(in_ptr) = self.alloc(in_len, budget)? else {
            return Ok(Ok(Attempt::ArenaFull));
        };
        let Some(len_ptr) = self.alloc(4, budget)? else {
            return Ok(Ok(Attempt::ArenaFull));
        };
        let mut capacity = FIRST_OUTPUT_CAPACITY;
        let Some(mut out_ptr) = self.alloc(capacity, budget)? else {
            return Ok(Ok(Attempt::ArenaFull));
        };
        self.write(in_ptr, input, "input")?;
        let mut code = self.call_value(in_ptr, in_len, out_ptr, capacity, len_ptr, budget)?;
        let mut outcome = None;
        if code == ERR_BUF_TOO_SMALL {
            let needed = self.read_u32(len_ptr)?;
            self.free(out_ptr, capacity, budget)?;
            if needed <= capacity {
                outcome = Some(Err(WasmFailure::BadRetryLength { needed, capacity }));
            } else if needed as usize > cm_plugin_sdk::protocol::MAX_VALUE_BYTES {
                outcome = Some(Err(WasmFailure::TooLarge {
                    limit_bytes: cm_plugin_sdk::protocol::MAX_VALUE_BYTES,
                }));
            } else {
                capacity = needed;
                match self.alloc(capacity, budget)? {
                    Some(ptr) => out_ptr = ptr,
                    None => return Ok(Ok(Attempt::ArenaFull)),
                }
                code = self.call_value(in_ptr, in_len, out_ptr, capacity, len_ptr, budget)?;
                if code == ERR_BUF_TOO_SMALL {
                    let needed = self.read_u32(len_ptr)?;
                    outcome = Some(Err(WasmFailure::BufferTooSmallTwice { needed }));
                }
            }
            if let Some(outcome) = outcome {
                self.free(in_ptr, in_len, budget)?;
                self.free(len_ptr, 4, budget)?;
                return Ok(outcome);
            }
        }
        let len = self.read_u32(len_ptr)?;
        let outcome = if code == OK {
            if len > capacity {
                Err(WasmFailure::BadOutputLength { len, capacity })
            } else {
                let bytes = self.read(out_ptr, len, "output")?;
                String::from_utf8(bytes)
                    .map(Attempt::Value)
                    .map_err(|_| WasmFailure::ValueNotUtf8)
            }
        } else {
            let reason = if REASON_CODES.contains(&code) && len > 0 && len <= capacity {
                String::from_utf8(self.read(out_ptr, len, "output")?).ok()
            } else {
                None
            };
            Err(WasmFailure::Code { code, reason })
        };
        self.free(in_ptr, in_len, budget)?;
        self.free(len_ptr, 4, budget)?;
        self.free(out_ptr, capacity, budget)?;
        Ok(outcome)
    }

    fn call_value(
        &mut self,
        in_ptr: u32,
        in_len: u32,
        out_ptr: u32,
        capacity: u32,
        len_ptr: u32,
        budget: &mut Budget,
    ) -> Result<i32, WasmFailure> {
        self.write(len_ptr, &0u32.to_le_bytes(), "length cell")?;
        let func = self.value;
        self.run(
            &func,
            (
                in_ptr as i32,
                in_len as i32,
                out_ptr as i32,
                capacity as i32,
                len_ptr as i32,
            ),
            budget,
        )
    }

    /// `allocate(size)`; `None` when it returns 0 (a full arena).
    fn alloc(&mut self, size: u32, budget: &mut Budget) -> Result<Option<u32>, WasmFailure> {
        let func = self.allocate;
        let ptr = self.run(&func, size as i32, budget)? as u32;
        Ok((ptr != 0).then_some(ptr))
    }

    fn free(&mut self, ptr: u32, size: u32, budget: &mut Budget) -> Result<(), WasmFailure> {
        let func = self.deallocate;
        self.run(&func, (ptr as i32, size as i32), budget)
    }

    fn write(&mut self, ptr: u32, bytes: &[u8], what: &'static str) -> Result<(), WasmFailure> {
        self.memory
            .write(&mut self.store, ptr as usize, bytes)
            .map_err(|_| WasmFailure::BadPointer { what })
    }

    fn read(&self, ptr: u32, len: u32, what: &'static str) -> Result<Vec<u8>, WasmFailure> {
        let data = self.memory.data(&self.store);
        data.get(ptr as usize..ptr as usize + len as usize)
            .map(<[u8]>::to_vec)
            .ok_or(WasmFailure::BadPointer { what })
    }

    fn read_u32(&self, ptr: u32) -> Result<u32, WasmFailure> {
        let bytes = self.read(ptr, 4, "length cell")?;
        Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
    }

    /// Flushes the partial lines left on fd 1 and 2 (before the instance is dropped).
    pub(super) fn flush_output(&mut self) {
        let state = self.store.data_mut();
        let plugin = state.plugin.clone();
        state.stdout.flush(&plugin);
        state.stderr.flush(&plugin);
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.flush_output();
    }
}

/// A length that fits the ABI's u32 (inputs are paths and metadata, far below 4 GiB).
fn len32(len: usize) -> u32 {
    u32::try_from(len).expect("token input under 4 GiB")
}

/// Names why a guest call failed.
fn failure(store: &Store<HostState>, error: &wasmi::Error, budget: &Budget) -> WasmFailure {
    if store.data().memory_limit_hit {
        return WasmFailure::MemoryLimit {
            limit_bytes: store.data().memory_limit,
        };
    }
    if let Some(trap) = error.downcast_ref::<HostTrap>() {
        return match trap {
            HostTrap::Exit(code) => WasmFailure::Exit(*code),
            HostTrap::Deadline => budget.timed_out(),
        };
    }
    if let Some(code) = error.i32_exit_status() {
        return WasmFailure::Exit(code);
    }
    if let Some(code) = error.as_trap_code() {
        if code == wasmi::TrapCode::OutOfFuel {
            return WasmFailure::FuelExhausted {
                fuel: budget.total_fuel,
            };
        }
        return WasmFailure::Trap(code.to_string());
    }
    WasmFailure::Trap(error.to_string())
}
