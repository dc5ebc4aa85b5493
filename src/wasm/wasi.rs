//! The host functions a module may import: WASI preview 1 (`wasi_snapshot_preview1`), deny by
//! default, and cm's own (`cm`, in `http.rs`). One table drives both the linker and the load-time
//! check, so a module importing anything the table lacks, or with another type, is refused at
//! load with the import's name.
//!
//! What a module gets: no arguments; an environment of the granted variables only (cm's values
//! at load time); the realtime and monotonic clocks; random bytes from the OS; `poll_oneoff` for
//! clock sleeps (bounded by the token's deadline); `sched_yield`; `proc_exit` (ends the call
//! with its code); fd 1 and 2 as log lines, classified and logged like a native plugin's stderr.
//! No preopened folders (`fd_prestat_get` answers EBADF, so a Go module's start-up finds none),
//! no stdin, no sockets: every other call answers EBADF (descriptors) or ENOTCAPABLE.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use wasmi::{Caller, FuncType, Linker, Val, ValType};

use super::runtime::{HostState, HostTrap};

/// The WASI module name.
pub(super) const WASI: &str = "wasi_snapshot_preview1";

const ESUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EFAULT: i32 = 21;
const EINVAL: i32 = 28;
const ENOTSUP: i32 = 58;
const ENOTCAPABLE: i32 = 76;

/// A host function's implementation: the guest's arguments in, an errno (or other i32) out.
pub(super) type HostCall = fn(&mut Caller<'_, HostState>, &[Val]) -> Result<i32, wasmi::Error>;

/// One host function a module may import.
pub(super) struct HostFn {
    pub(super) module: &'static str,
    pub(super) name: &'static str,
    pub(super) params: &'static [ValType],
    /// `false` only for `proc_exit`.
    pub(super) returns: bool,
    pub(super) call: HostCall,
}

impl HostFn {
    pub(super) fn ty(&self) -> FuncType {
        let results: &[ValType] = if self.returns { &[I32] } else { &[] };
        FuncType::new(self.params.iter().copied(), results.iter().copied())
    }
}

const I32: ValType = ValType::I32;
const I64: ValType = ValType::I64;

macro_rules! host_fns {
    ($($module:expr, $name:literal, [$($p:ident),*], $returns:expr, $call:expr;)*) => {
        &[$(HostFn {
            module: $module,
            name: $name,
            params: &[$($p),*],
            returns: $returns,
            call: $call,
        }),*]
    };
}

/// Every host function, WASI's and cm's.
pub(super) const HOST_FNS: &[HostFn] = host_fns! {
    WASI, "args_get", [I32, I32], true, |_, _| Ok(ESUCCESS);
    WASI, "args_sizes_get", [I32, I32], true, args_sizes_get;
    WASI, "environ_get", [I32, I32], true, environ_get;
    WASI, "environ_sizes_get", [I32, I32], true, environ_sizes_get;
    WASI, "clock_res_get", [I32, I32], true, clock_res_get;
    WASI, "clock_time_get", [I32, I64, I32], true, clock_time_get;
    WASI, "random_get", [I32, I32], true, random_get;
    WASI, "poll_oneoff", [I32, I32, I32, I32], true, poll_oneoff;
    WASI, "sched_yield", [], true, |_, _| Ok(ESUCCESS);
    WASI, "proc_exit", [I32], false, proc_exit;
    WASI, "proc_raise", [I32], true, |_, _| Ok(ENOTSUP);
    WASI, "fd_write", [I32, I32, I32, I32], true, fd_write;
    WASI, "fd_fdstat_get", [I32, I32], true, fd_fdstat_get;
    WASI, "fd_fdstat_set_flags", [I32, I32], true, fd_fdstat_set_flags;
    WASI, "fd_prestat_get", [I32, I32], true, ebadf;
    WASI, "fd_prestat_dir_name", [I32, I32, I32], true, ebadf;
    WASI, "fd_advise", [I32, I64, I64, I32], true, ebadf;
    WASI, "fd_allocate", [I32, I64, I64], true, ebadf;
    WASI, "fd_close", [I32], true, ebadf;
    WASI, "fd_datasync", [I32], true, ebadf;
    WASI, "fd_fdstat_set_rights", [I32, I64, I64], true, ebadf;
    WASI, "fd_filestat_get", [I32, I32], true, ebadf;
    WASI, "fd_filestat_set_size", [I32, I64], true, ebadf;
    WASI, "fd_filestat_set_times", [I32, I64, I64, I32], true, ebadf;
    WASI, "fd_pread", [I32, I32, I32, I64, I32], true, ebadf;
    WASI, "fd_pwrite", [I32, I32, I32, I64, I32], true, ebadf;
    WASI, "fd_read", [I32, I32, I32, I32], true, ebadf;
    WASI, "fd_readdir", [I32, I32, I32, I64, I32], true, ebadf;
    WASI, "fd_renumber", [I32, I32], true, ebadf;
    WASI, "fd_seek", [I32, I64, I32, I32], true, ebadf;
    WASI, "fd_sync", [I32], true, ebadf;
    WASI, "fd_tell", [I32, I32], true, ebadf;
    WASI, "path_create_directory", [I32, I32, I32], true, not_capable;
    WASI, "path_filestat_get", [I32, I32, I32, I32, I32], true, not_capable;
    WASI, "path_filestat_set_times", [I32, I32, I32, I32, I64, I64, I32], true, not_capable;
    WASI, "path_link", [I32, I32, I32, I32, I32, I32, I32], true, not_capable;
    WASI, "path_open", [I32, I32, I32, I32, I32, I64, I64, I32, I32], true, not_capable;
    WASI, "path_readlink", [I32, I32, I32, I32, I32, I32], true, not_capable;
    WASI, "path_remove_directory", [I32, I32, I32], true, not_capable;
    WASI, "path_rename", [I32, I32, I32, I32, I32, I32], true, not_capable;
    WASI, "path_symlink", [I32, I32, I32, I32, I32], true, not_capable;
    WASI, "path_unlink_file", [I32, I32, I32], true, not_capable;
    WASI, "sock_accept", [I32, I32, I32], true, not_capable;
    WASI, "sock_recv", [I32, I32, I32, I32, I32, I32], true, not_capable;
    WASI, "sock_send", [I32, I32, I32, I32, I32], true, not_capable;
    WASI, "sock_shutdown", [I32, I32], true, not_capable;
    super::http::CM, "http_request", [I32, I32, I32], true, super::http::http_request;
    super::http::CM, "http_response", [I32, I32], true, super::http::http_response;
};

/// The linker holding every host function.
pub(super) fn linker(engine: &wasmi::Engine) -> Linker<HostState> {
    let mut linker = Linker::new(engine);
    for f in HOST_FNS {
        let call = f.call;
        let returns = f.returns;
        linker
            .func_new(
                f.module,
                f.name,
                f.ty(),
                move |mut caller, params, results| {
                    let code = call(&mut caller, params)?;
                    if returns {
                        results[0] = Val::I32(code);
                    }
                    Ok(())
                },
            )
            .expect("each host function is defined once");
    }
    linker
}

/// The host function `module.name`, if there is one.
pub(super) fn find(module: &str, name: &str) -> Option<&'static HostFn> {
    HOST_FNS
        .iter()
        .find(|f| f.module == module && f.name == name)
}

/// Argument `i` (the table's types guarantee it is an i32).
pub(super) fn arg(params: &[Val], i: usize) -> u32 {
    params[i].i32().expect("an i32 parameter") as u32
}

/// The guest's memory and the host state, borrowed together.
pub(super) fn memory<'a>(
    caller: &'a mut Caller<'_, HostState>,
) -> Option<(&'a mut [u8], &'a mut HostState)> {
    let memory = caller.get_export("memory")?.into_memory()?;
    Some(memory.data_and_store_mut(caller))
}

/// `len` bytes of guest memory at `ptr`, if all inside it.
pub(super) fn region(data: &mut [u8], ptr: u32, len: u32) -> Option<&mut [u8]> {
    let start = ptr as usize;
    data.get_mut(start..start.checked_add(len as usize)?)
}

fn put(data: &mut [u8], ptr: u32, bytes: &[u8]) -> bool {
    match region(data, ptr, bytes.len() as u32) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            true
        }
        None => false,
    }
}

fn get_u32(data: &mut [u8], ptr: u32) -> Option<u32> {
    region(data, ptr, 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
}

fn ebadf(_: &mut Caller<'_, HostState>, _: &[Val]) -> Result<i32, wasmi::Error> {
    Ok(EBADF)
}

fn not_capable(_: &mut Caller<'_, HostState>, _: &[Val]) -> Result<i32, wasmi::Error> {
    Ok(ENOTCAPABLE)
}

/// Writes the errno for "the guest gave a bad pointer" or success.
fn fault_unless(ok: bool) -> Result<i32, wasmi::Error> {
    Ok(if ok { ESUCCESS } else { EFAULT })
}

fn args_sizes_get(caller: &mut Caller<'_, HostState>, p: &[Val]) -> Result<i32, wasmi::Error> {
    let Some((data, _)) = memory(caller) else {
        return Ok(EFAULT);
    };
    fault_unless(
        put(data, arg(p, 0), &0u32.to_le_bytes()) && put(data, arg(p, 1), &0u32.to_le_bytes()),
    )
}

fn environ_sizes_get(caller: &mut Caller<'_, HostState>, p: &[Val]) -> Result<i32, wasmi::Error> {
    let Some((data, state)) = memory(caller) else {
        return Ok(EFAULT);
    };
    let count = state.environ.len() as u32;
    let size: usize = state.environ.iter().map(|e| e.len() + 1).sum();
    fault_unless(
        put(data, arg(p, 0), &count.to_le_bytes())
            && put(data, arg(p, 1), &(size as u32).to_le_bytes()),
    )
}

fn environ_get(caller: &mut Caller<'_, HostState>, p: &[Val]) -> Result<i32, wasmi::Error> {
    let Some((data, state)) = memory(caller) else {
        return Ok(EFAULT);
    };
    let (mut ptrs, mut buf) = (arg(p, 0), arg(p, 1));
    for entry in state.environ.iter() {
        let mut text = entry.clone();
        text.push(0);
        if !put(data, ptrs, &buf.to_le_bytes()) || !put(data, buf, &text) {
            return Ok(EFAULT);
        }
        ptrs += 4;
        buf += text.len() as u32;
    }
    Ok(ESUCCESS)
}

/// The origin of WASI's monotonic clock: the first time any module asks.
fn monotonic_origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

const CLOCK_REALTIME: u32 = 0;
const CLOCK_MONOTONIC: u32 = 1;

/// Clock `id` now, in nanoseconds; `None` for the CPU-time clocks, which cm does not lend.
fn now_nanos(id: u32) -> Option<u64> {
    match id {
        CLOCK_REALTIME => Some(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos() as u64,
        ),
        // Offset by one second so the clock never reads 0, which some runtimes treat as unset.
        CLOCK_MONOTONIC => Some(monotonic_origin().elapsed().as_nanos() as u64 + 1_000_000_000),
        _ => None,
    }
}

fn clock_res_get(caller: &mut Caller<'_, HostState>, p: &[Val]) -> Result<i32, wasmi::Error> {
    if now_nanos(arg(p, 0)).is_none() {
        return Ok(EINVAL);
    }
    let Some((data, _)) = memory(caller) else {
        return Ok(EFAULT);
    };
    fault_unless(put(data, arg(p, 1), &1000u64.to_le_bytes()))
}

fn clock_time_get(caller: &mut Caller<'_, HostState>, p: &[Val]) -> Result<i32, wasmi::Error> {
    let Some(now) = now_nanos(arg(p, 0)) else {
        return Ok(EINVAL);
    };
    let Some((data, _)) = memory(caller) else {
        return Ok(EFAULT);
    };
    fault_unless(put(data, arg(p, 2), &now.to_le_bytes()))
}

fn random_get(caller: &mut Caller<'_, HostState>, p: &[Val]) -> Result<i32, wasmi::Error> {
    let Some((data, _)) = memory(caller) else {
        return Ok(EFAULT);
    };
    let Some(dst) = region(data, arg(p, 0), arg(p, 1)) else {
        return Ok(EFAULT);
    };
    Ok(match aws_lc_rs::rand::fill(dst) {
        Ok(()) => ESUCCESS,
        Err(_) => ENOTSUP,
    })
}

/// `poll_oneoff`: clock subscriptions sleep (until the token's deadline at most, which then
/// ends the call); descriptor subscriptions complete at once with EBADF, as there are none.
fn poll_oneoff(caller: &mut Caller<'_, HostState>, p: &[Val]) -> Result<i32, wasmi::Error> {
    const SUBSCRIPTION: u32 = 48;
    const EVENT: u32 = 32;
    let (subs, events, count, nevents) = (arg(p, 0), arg(p, 1), arg(p, 2), arg(p, 3));
    if count == 0 {
        return Ok(EINVAL);
    }
    let deadline;
    let mut wakes = Vec::new(); // (userdata, when)
    let mut fd_events = Vec::new(); // (userdata, type)
    {
        let Some((data, state)) = memory(caller) else {
            return Ok(EFAULT);
        };
        deadline = state.deadline;
        for i in 0..count {
            let base = subs.wrapping_add(i.wrapping_mul(SUBSCRIPTION));
            let Some(sub) = region(data, base, SUBSCRIPTION) else {
                return Ok(EFAULT);
            };
            let userdata = u64::from_le_bytes(sub[0..8].try_into().expect("8 bytes"));
            match sub[8] {
                0 => {
                    let clock = u32::from_le_bytes(sub[16..20].try_into().expect("4 bytes"));
                    let timeout = u64::from_le_bytes(sub[24..32].try_into().expect("8 bytes"));
                    let absolute =
                        u16::from_le_bytes(sub[40..42].try_into().expect("2 bytes")) & 1 == 1;
                    let Some(now) = now_nanos(clock) else {
                        return Ok(EINVAL);
                    };
                    let wait = if absolute {
                        timeout.saturating_sub(now)
                    } else {
                        timeout
                    };
                    wakes.push((userdata, Instant::now() + Duration::from_nanos(wait)));
                }
                kind @ (1 | 2) => fd_events.push((userdata, kind)),
                _ => return Ok(EINVAL),
            }
        }
    }
    let mut ready: Vec<(u64, u8, u16)> = fd_events
        .iter()
        .map(|&(userdata, kind)| (userdata, kind, EBADF as u16))
        .collect();
    if ready.is_empty() {
        let wake = wakes
            .iter()
            .map(|&(_, when)| when)
            .min()
            .expect("count > 0");
        if wake > deadline {
            std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
            return Err(wasmi::Error::host(HostTrap::Deadline));
        }
        std::thread::sleep(wake.saturating_duration_since(Instant::now()));
        let now = Instant::now();
        ready.extend(
            wakes
                .iter()
                .filter(|&&(_, when)| when <= now)
                .map(|&(userdata, _)| (userdata, 0, 0)),
        );
    }
    let Some((data, _)) = memory(caller) else {
        return Ok(EFAULT);
    };
    for (i, &(userdata, kind, errno)) in ready.iter().enumerate() {
        let mut event = [0u8; EVENT as usize];
        event[0..8].copy_from_slice(&userdata.to_le_bytes());
        event[8..10].copy_from_slice(&errno.to_le_bytes());
        event[10] = kind;
        if !put(data, events.wrapping_add(i as u32 * EVENT), &event) {
            return Ok(EFAULT);
        }
    }
    fault_unless(put(data, nevents, &(ready.len() as u32).to_le_bytes()))
}

fn proc_exit(_: &mut Caller<'_, HostState>, p: &[Val]) -> Result<i32, wasmi::Error> {
    Err(wasmi::Error::host(HostTrap::Exit(arg(p, 0) as i32)))
}

fn fd_write(caller: &mut Caller<'_, HostState>, p: &[Val]) -> Result<i32, wasmi::Error> {
    let (fd, iovs, iovs_len, nwritten) = (arg(p, 0), arg(p, 1), arg(p, 2), arg(p, 3));
    if fd != 1 && fd != 2 {
        return Ok(EBADF);
    }
    let Some((data, state)) = memory(caller) else {
        return Ok(EFAULT);
    };
    let mut written = 0u32;
    for i in 0..iovs_len {
        let at = iovs.wrapping_add(i.wrapping_mul(8));
        let (Some(ptr), Some(len)) = (get_u32(data, at), get_u32(data, at.wrapping_add(4))) else {
            return Ok(EFAULT);
        };
        let Some(bytes) = region(data, ptr, len) else {
            return Ok(EFAULT);
        };
        let stream = if fd == 1 {
            &mut state.stdout
        } else {
            &mut state.stderr
        };
        stream.write(bytes, &state.plugin);
        written = written.wrapping_add(len);
    }
    fault_unless(put(data, nwritten, &written.to_le_bytes()))
}

fn fd_fdstat_get(caller: &mut Caller<'_, HostState>, p: &[Val]) -> Result<i32, wasmi::Error> {
    const CHARACTER_DEVICE: u8 = 2;
    const RIGHT_FD_WRITE: u64 = 1 << 6;
    let fd = arg(p, 0);
    if fd != 1 && fd != 2 {
        return Ok(EBADF);
    }
    let Some((data, _)) = memory(caller) else {
        return Ok(EFAULT);
    };
    let mut stat = [0u8; 24];
    stat[0] = CHARACTER_DEVICE;
    stat[8..16].copy_from_slice(&RIGHT_FD_WRITE.to_le_bytes());
    fault_unless(put(data, arg(p, 1), &stat))
}

/// fd 1 and 2 never block (writes go to the log at once), so any flags are accepted.
fn fd_fdstat_set_flags(_: &mut Caller<'_, HostState>, p: &[Val]) -> Result<i32, wasmi::Error> {
    Ok(if matches!(arg(p, 0), 1 | 2) {
        ESUCCESS
    } else {
        EBADF
    })
}

/// Longest line logged as one event; the rest of a longer line follows as the next.
const MAX_LINE: usize = 64 * 1024;

/// What a module wrote to fd 1 or 2 and has not ended with a line break yet. Complete lines are
/// logged as a native plugin's stderr lines are (hclog JSON keeps its level, `[LEVEL]` tags are
/// honoured, else DEBUG; after a Go panic line, everything is ERROR).
#[derive(Debug, Default)]
pub(super) struct StdStream {
    partial: Vec<u8>,
    panicking: bool,
}

impl StdStream {
    fn write(&mut self, mut bytes: &[u8], plugin: &str) {
        while let Some(end) = memchr::memchr(b'\n', bytes) {
            self.partial.extend_from_slice(&bytes[..end]);
            self.emit(plugin);
            bytes = &bytes[end + 1..];
        }
        self.partial.extend_from_slice(bytes);
        if self.partial.len() >= MAX_LINE {
            self.emit(plugin);
        }
    }

    /// Logs what is left of an unfinished line.
    pub(super) fn flush(&mut self, plugin: &str) {
        if !self.partial.is_empty() {
            self.emit(plugin);
        }
    }

    fn emit(&mut self, plugin: &str) {
        let line = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            return;
        }
        let entry = cm_plugin_sdk::hclog::LogLine::parse(line, &mut self.panicking);
        crate::plugin::process::emit(&entry, plugin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preview1_function_is_in_the_table_once() {
        let names: Vec<_> = HOST_FNS
            .iter()
            .filter(|f| f.module == WASI)
            .map(|f| f.name)
            .collect();
        assert_eq!(names.len(), 46, "preview 1 has 46 functions");
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        assert_eq!(
            find(WASI, "proc_exit").unwrap().ty(),
            FuncType::new([I32], [])
        );
        assert!(find(WASI, "sock_open").is_none());
    }
}
