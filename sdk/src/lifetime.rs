//! A plugin's lifetime belongs to its host. A Ctrl-C at the host's terminal reaches every process
//! in the foreground group, plugins included, and the host decides what happens then, so SIGINT
//! is ignored. And a plugin exits when the host process is gone, however it went: SIGKILL, a
//! crash, or a host such as configmanager v3.0.0 that never shuts its plugins down.
//!
//! # Noticing that the host is gone
//!
//! The host is the process that started the plugin, its parent. The watch runs on a thread of
//! its own, not on the async runtime, so neither a busy or stopped runtime nor a panicking task
//! can silence it, and it does not depend on what stdin, stdout or stderr are connected to.
//!
//! - On Linux it holds a pidfd of the parent and sleeps in `poll` until the parent exits: no
//!   wake-ups, and the exit follows at once.
//! - Elsewhere (and on Linux when pidfds are unavailable: kernels before 5.3, seccomp filters)
//!   it compares `getppid()` with the original parent once per [`POLL_INTERVAL`]; a plugin whose
//!   parent exits is re-parented (to init or a subreaper), which changes it.
//!
//! `PR_SET_PDEATHSIG` is not used: it fires when the *thread* that forked the plugin exits, and
//! Go hosts fork from whichever OS thread the scheduler picked, which may exit while the host
//! lives on.
//!
//! A plugin started by a parent that died before the watch began is not noticed (its parent is
//! already init); a host closes that window on its side (cm sets `PR_SET_PDEATHSIG` between fork
//! and exec, which is reliable there because cm forks from a thread that outlives its plugins).

/// How often the portable watch compares `getppid()` with the original parent.
#[cfg(unix)]
const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// Ignores SIGINT for as long as the process runs. A handler (rather than `SIG_IGN`) keeps the
/// default for the programs a store may start, such as an AWS `credential_process`, because
/// handlers are reset on exec and ignored signals are not. Call it inside a tokio runtime.
pub(crate) fn ignore_interrupts() {
    #[cfg(unix)]
    tokio::spawn(async {
        let Ok(mut sigint) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        else {
            return;
        };
        while sigint.recv().await.is_some() {
            tracing::trace!("ignoring SIGINT; the host decides when this plugin stops");
        }
    });
}

/// Starts the watch that ends the process when its parent, the host, exits.
pub(crate) fn exit_when_host_exits() {
    #[cfg(unix)]
    {
        // SAFETY: getppid has no preconditions and cannot fail.
        let parent = unsafe { libc::getppid() };
        let spawned = std::thread::Builder::new()
            .name("host-watch".into())
            .spawn(move || {
                wait_for_exit_of(parent);
                host_gone()
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot watch the host process; this plugin will not notice if it dies");
        }
    }
}

/// Returns once `parent` is no longer this process's parent.
#[cfg(unix)]
fn wait_for_exit_of(parent: libc::pid_t) {
    #[cfg(target_os = "linux")]
    if let Some(pidfd) = pidfd::open_parent(parent) {
        match pidfd::wait(&pidfd) {
            Ok(()) => return,
            Err(e) => {
                tracing::debug!(error = %e, "cannot wait on the host's pidfd, polling instead")
            }
        }
    }
    // SAFETY: as above.
    while unsafe { libc::getppid() } == parent {
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Ends the process. The note is best effort: stderr may be a pipe nobody reads any more, and a
/// subscriber may panic on a failed write (tracing-subscriber's default reports it with
/// `eprintln!`). `_exit` rather than `exit`: with the runtime's threads still running, exit's
/// atexit handlers and stdout flush could block or race; nothing needs flushing for a host that
/// is gone.
#[cfg(unix)]
fn host_gone() -> ! {
    let _ = std::panic::catch_unwind(|| tracing::warn!("host process is gone, exiting"));
    // SAFETY: _exit ends the process at once; it has no preconditions.
    unsafe { libc::_exit(0) }
}

#[cfg(target_os = "linux")]
mod pidfd {
    //! The parent's pidfd: a descriptor that becomes readable when that process exits.

    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    /// A pidfd of `parent`, if the kernel offers them and `parent` is still our parent once the
    /// descriptor is open (else the pid may already name another process).
    pub(super) fn open_parent(parent: libc::pid_t) -> Option<OwnedFd> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, parent, 0) };
        let fd = libc::c_int::try_from(fd).ok().filter(|fd| *fd >= 0)?;
        // SAFETY: the descriptor was just returned to us and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: getppid has no preconditions.
        (unsafe { libc::getppid() } == parent).then_some(fd)
    }

    /// Blocks until the process behind `pidfd` has exited.
    pub(super) fn wait(pidfd: &OwnedFd) -> std::io::Result<()> {
        loop {
            let mut p = libc::pollfd {
                fd: pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, as the count says; no timeout.
            match unsafe { libc::poll(&mut p, 1, -1) } {
                n if n > 0 => return Ok(()),
                0 => continue,
                _ => {
                    let e = std::io::Error::last_os_error();
                    if e.kind() != std::io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_pidfd_becomes_readable_when_its_process_exits() {
            let mut child = std::process::Command::new("sleep")
                .arg("0.2")
                .spawn()
                .unwrap();
            let pid = libc::pid_t::try_from(child.id()).unwrap();
            // SAFETY: as in open_parent.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            assert!(fd >= 0, "{}", std::io::Error::last_os_error());
            // SAFETY: as in open_parent.
            let fd = unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) };
            wait(&fd).unwrap();
            assert!(child.try_wait().unwrap().is_some_and(|s| s.success()));
        }

        #[test]
        fn only_the_parent_is_watched() {
            // SAFETY: as above.
            let parent = unsafe { libc::getppid() };
            assert!(open_parent(parent).is_some());
            assert!(open_parent(std::process::id() as libc::pid_t).is_none());
        }
    }
}
