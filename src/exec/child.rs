//! Starting the command: [`replace`] (cm becomes it) or [`supervise`] (cm stays as its parent,
//! masks its output and forwards signals to it).
//!
//! Signals under supervision: the child stays in cm's process group, so what a terminal sends
//! (Ctrl-C, Ctrl-\, a hangup, a resize) reaches it directly from the kernel, and job control
//! (Ctrl-Z, `fg`) stops and continues both. cm forwards only the signals sent to cm itself
//! (`kill`, a CI runner's timeout), which it tells apart by their `si_code`; forwarding a
//! terminal's Ctrl-C as well would deliver it twice.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Stdio;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use super::mask::{Mask, Patterns};
use super::pty::Pty;
use crate::error::Error;

/// What to run.
#[derive(Debug)]
pub(crate) struct Command {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    /// The whole environment.
    pub(crate) env: Vec<(OsString, OsString)>,
}

impl Command {
    fn std(&self) -> std::process::Command {
        let mut c = std::process::Command::new(&self.program);
        c.args(&self.args)
            .env_clear()
            .envs(self.env.iter().cloned());
        c
    }

    fn failed(&self, source: io::Error) -> Error {
        Error::Exec {
            program: super::shown(&self.program),
            source,
        }
    }
}

/// `--no-masking`: replaces cm's process image with the command (`execve`, looked up in the
/// command's own `PATH`), so its signals and exit status are native. Returns only on failure.
pub(crate) fn replace(command: Command) -> Error {
    // std's exec restores SIGPIPE (which Rust ignores) and the signal mask before execve.
    let error = command.std().exec();
    command.failed(error)
}

/// The signals forwarded to the child, as the issue and `op run` list them.
const FORWARDED: [libc::c_int; 6] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// Runs the command with its stdout and stderr masked; returns its exit status (128+N when a
/// signal N ended it).
pub(crate) fn supervise(command: Command, patterns: Patterns) -> Result<i32, Error> {
    let signals = SignalPipe::install().map_err(|e| command.failed(e))?;
    let outputs = [libc::STDOUT_FILENO, libc::STDERR_FILENO].map(Output::for_fd);
    let [stdout, stderr] = &outputs;
    let mut std = command.std();
    std.stdin(Stdio::inherit())
        .stdout(stdout.child_end().map_err(|e| command.failed(e))?)
        .stderr(stderr.child_end().map_err(|e| command.failed(e))?);
    let child = std.spawn().map_err(|e| command.failed(e))?;
    // The child's ends must close here, or the pumps would never see the end of the output.
    drop(std);
    let pid = child.id() as libc::pid_t;

    let live = Arc::new(Mutex::new(true));
    let ptys: Vec<Pty> = outputs.iter().filter_map(Output::pty).collect();
    let forwarder = signals.forward(pid, live.clone(), ptys);
    let pumps: Vec<_> = outputs
        .into_iter()
        .map(|output| {
            let patterns = patterns.clone();
            std::thread::spawn(move || output.pump(patterns))
        })
        .collect();

    // Wait without reaping, so no signal can go to a reused pid once the child is gone.
    let status = wait_exit(pid, live);
    drop(child);
    for pump in pumps {
        let _ = pump.join();
    }
    drop(forwarder);
    let status = status.map_err(|e| command.failed(e))?;
    Ok(status
        .code()
        .or_else(|| status.signal().map(|n| 128 + n))
        .unwrap_or(1))
}

/// Waits for `pid` to end, marks it gone under the forwarder's lock, then reaps it.
fn wait_exit(pid: libc::pid_t, live: Arc<Mutex<bool>>) -> io::Result<std::process::ExitStatus> {
    loop {
        // SAFETY: waitid only writes the siginfo we own.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    *live.lock().unwrap_or_else(|p| p.into_inner()) = false;
    let mut status = 0;
    loop {
        // SAFETY: reaps our own child, which has exited.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            return Ok(std::process::ExitStatus::from_raw(status));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// One of cm's output streams and how the child writes to it: a pseudo-terminal where cm's own
/// stream is a terminal (so the child still sees a terminal), else a pipe.
enum Output {
    Pipe {
        fd: libc::c_int,
        pair: Option<(OwnedFd, OwnedFd)>,
    },
    Pty {
        fd: libc::c_int,
        pty: Option<Pty>,
    },
}

impl Output {
    fn for_fd(fd: libc::c_int) -> Output {
        // SAFETY: isatty only inspects the descriptor.
        if unsafe { libc::isatty(fd) } == 1
            && let Ok(pty) = Pty::open(fd)
        {
            return Output::Pty { fd, pty: Some(pty) };
        }
        Output::Pipe {
            fd,
            pair: pipe().ok(),
        }
    }

    /// The descriptor the child writes to.
    fn child_end(&self) -> io::Result<Stdio> {
        match self {
            Output::Pipe {
                pair: Some((_, w)), ..
            } => Ok(Stdio::from(w.try_clone()?)),
            Output::Pty { pty: Some(pty), .. } => Ok(Stdio::from(pty.slave()?)),
            _ => Err(io::Error::other("no pipe for the command's output")),
        }
    }

    fn pty(&self) -> Option<Pty> {
        match self {
            Output::Pty { pty: Some(pty), .. } => pty.try_clone().ok(),
            _ => None,
        }
    }

    /// Copies the child's output to cm's stream through the mask until the child's side is
    /// closed. If cm's stream is closed (`cm exec -- cmd | head`), the read end is dropped, so
    /// the child meets the same broken pipe it would without cm.
    fn pump(self, patterns: Patterns) {
        let (fd, mut source): (libc::c_int, Box<dyn Read>) = match self {
            Output::Pipe {
                fd,
                pair: Some((r, w)),
            } => {
                drop(w);
                (fd, Box::new(std::fs::File::from(r)))
            }
            Output::Pty { fd, pty: Some(pty) } => (fd, Box::new(pty.reader())),
            _ => return,
        };
        // SAFETY: cm's stdout or stderr, open for the whole run; ManuallyDrop keeps it open.
        let mut sink = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
        let mut mask = Mask::new(patterns);
        let mut buf = vec![0u8; 64 * 1024];
        let mut out = Vec::with_capacity(buf.len() + 64);
        loop {
            let n = match source.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A pseudo-terminal's master reads EIO once the child's side is closed.
                Err(_) => break,
            };
            out.clear();
            mask.push(&buf[..n], &mut out);
            if sink.write_all(&out).is_err() {
                return;
            }
        }
        out.clear();
        mask.finish(&mut out);
        let _ = sink.write_all(&out);
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array, which we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The write end of the self-pipe the signal handler reports to.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

/// Signals caught for forwarding: the handler writes `[signal, from_kernel]` to a pipe, and a
/// thread reads it.
struct SignalPipe {
    read: OwnedFd,
    _write: OwnedFd,
}

extern "C" fn on_signal(signal: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler; errno is saved and
    // restored around the one async-signal-safe call, write(2).
    unsafe {
        let errno = *libc::__errno_location();
        let from_kernel = (*info).si_code == libc::SI_KERNEL;
        let message = [signal as u8, u8::from(from_kernel)];
        libc::write(
            SIGNAL_PIPE.load(Ordering::Relaxed),
            message.as_ptr().cast(),
            2,
        );
        *libc::__errno_location() = errno;
    }
}

impl SignalPipe {
    fn install() -> io::Result<SignalPipe> {
        let (read, write) = pipe()?;
        // Non-blocking: a handler must never block, even if a flood of signals fills the pipe
        // (the extra ones are then dropped).
        // SAFETY: sets a flag on our own descriptor.
        unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        SIGNAL_PIPE.store(write.as_raw_fd(), Ordering::Relaxed);
        for signal in FORWARDED.into_iter().chain([libc::SIGWINCH]) {
            // SAFETY: installs a handler that only calls async-signal-safe functions.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(SignalPipe {
            read,
            _write: write,
        })
    }

    /// Forwards each signal sent to cm (not the terminal's, which the child got too) to `pid`
    /// while `live`, and on SIGWINCH copies the terminal's size to the pseudo-terminals and
    /// then forwards it.
    fn forward(self, pid: libc::pid_t, live: Arc<Mutex<bool>>, ptys: Vec<Pty>) -> SignalPipe {
        let read = self.read.try_clone().expect("a descriptor to spare");
        std::thread::spawn(move || {
            let mut pipe = std::fs::File::from(read);
            let mut message = [0u8; 2];
            while pipe.read_exact(&mut message).is_ok() {
                let (signal, from_kernel) = (libc::c_int::from(message[0]), message[1] == 1);
                if signal == libc::SIGWINCH {
                    if ptys.is_empty() {
                        continue;
                    }
                    // The child may have had the terminal's own SIGWINCH already, before the
                    // size was copied; this one comes after, so its last look is right.
                    ptys.iter().for_each(Pty::copy_size);
                } else if from_kernel {
                    continue;
                }
                let live = live.lock().unwrap_or_else(|p| p.into_inner());
                if *live {
                    tracing::debug!(signal, "forwarding signal to the command");
                    // SAFETY: pid is our child, not yet reaped (checked under the lock).
                    unsafe { libc::kill(pid, signal) };
                }
            }
        });
        self
    }
}
