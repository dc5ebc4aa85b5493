//! One plugin process: spawn it with go-plugin's environment, read its handshake line, turn its
//! stderr into `tracing` events, and stop it (graceful request, grace period, then SIGKILL of its
//! whole process group). The child never outlives cm: it is killed when its handle drops, and on
//! Linux the kernel kills it if cm itself dies (`PR_SET_PDEATHSIG`).
//!
//! A plugin whose bytes were checked against a lock file arrives here as an open file
//! ([`Program::opened`]), and on Linux that very file is what the child executes, so the window
//! between check and exec is closed: replacing the file on disk after the check changes nothing.

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::task::JoinHandle;

use cm_plugin_sdk::hclog::LogLine;
use cm_plugin_sdk::protocol::COOKIE_KEY;

/// How many of a plugin's last stderr lines are kept for error messages.
const STDERR_TAIL_LINES: usize = 20;
/// Longest stderr line forwarded as one event (go-plugin's own buffer size).
const MAX_LOG_LINE: usize = 64 * 1024;
/// Longest handshake line accepted.
const MAX_HANDSHAKE_LINE: u64 = 64 * 1024;

/// How the child is started.
#[derive(Debug, Clone)]
pub(crate) struct SpawnOptions {
    /// The plugin's name for logs (its prefix).
    pub(crate) name: String,
    /// The cookie value to send.
    pub(crate) cookie_value: String,
    /// App protocol versions offered.
    pub(crate) versions: Vec<u32>,
    /// The private folder the plugin should put its socket in.
    pub(crate) socket_dir: PathBuf,
    /// `PLUGIN_CLIENT_CERT`, when AutoMTLS is wanted.
    pub(crate) client_cert_pem: Option<String>,
}

/// The binary a plugin process runs: a path, or a file cm has already opened (and verified).
#[derive(Debug, Clone)]
pub struct Program {
    path: PathBuf,
    opened: Option<Arc<Opened>>,
}

#[derive(Debug)]
struct Opened {
    file: File,
    /// Starts with `#!`: the interpreter must be able to open the script through the descriptor.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    script: bool,
}

impl Program {
    /// The file at `path`, executed by path.
    pub(crate) fn at(path: impl Into<PathBuf>) -> Program {
        Program {
            path: path.into(),
            opened: None,
        }
    }

    /// `file`, opened from `path` (read-only, close-on-exec), is what will run: on Linux the child
    /// executes this descriptor through `/proc/self/fd/N`, whatever `path` holds by then. Where
    /// that cannot be done (other systems, no `/proc`), the plugin is executed by path.
    pub(crate) fn opened(path: impl Into<PathBuf>, file: File) -> std::io::Result<Program> {
        let (head, n) = read_head(&file)?;
        Ok(Program {
            path: path.into(),
            opened: Some(Arc::new(Opened {
                file,
                script: head[..n].starts_with(b"#!"),
            })),
        })
    }

    /// Where the plugin lives (messages, `argv[0]`).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The open file, when there is one.
    #[cfg(test)]
    pub(crate) fn file(&self) -> Option<&File> {
        self.opened.as_deref().map(|o| &o.file)
    }

    /// [`preflight`] of what will run: the open file when there is one, else the path.
    pub(crate) fn preflight(&self) -> Result<(), String> {
        match &self.opened {
            Some(o) => {
                let meta = o
                    .file
                    .metadata()
                    .map_err(|e| format!("cannot read it: {e}"))?;
                preflight_file(&o.file, &meta)
            }
            None => preflight(&self.path),
        }
    }

    /// The program name to hand to exec, and the descriptor the child must keep open across exec
    /// (a script's interpreter opens the script by that name after exec).
    fn exec_target(&self) -> (PathBuf, Option<i32>) {
        #[cfg(target_os = "linux")]
        if let Some(o) = &self.opened {
            use std::os::fd::AsRawFd;
            let fd = o.file.as_raw_fd();
            let via = PathBuf::from(format!("/proc/self/fd/{fd}"));
            if via.exists() {
                return (via, o.script.then_some(fd));
            }
            tracing::warn!(path = %self.path.display(), "/proc is not mounted: executing the verified plugin by path");
        }
        (self.path.clone(), None)
    }
}

impl From<PathBuf> for Program {
    fn from(path: PathBuf) -> Program {
        Program::at(path)
    }
}

impl From<&Path> for Program {
    fn from(path: &Path) -> Program {
        Program::at(path)
    }
}

/// The last lines a plugin wrote to stderr, shared with the task reading them.
#[derive(Debug, Clone, Default)]
pub(crate) struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    fn push(&self, line: String) {
        let mut q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() == STDERR_TAIL_LINES {
            q.pop_front();
        }
        q.push_back(line);
    }

    /// The kept lines, oldest first.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// A running plugin process.
#[derive(Debug)]
pub(crate) struct PluginProcess {
    child: Child,
    pid: Option<u32>,
    name: String,
    stdout: Option<BufReader<ChildStdout>>,
    stderr_task: Option<JoinHandle<()>>,
    stdout_task: Option<JoinHandle<()>>,
    tail: StderrTail,
}

impl PluginProcess {
    /// Starts `path` with go-plugin's environment. The host's own environment is passed on
    /// (plugins read cloud credentials from it), minus every `PLUGIN_*` variable we do not set,
    /// so a stray one cannot change how the plugin talks to us.
    pub(crate) fn spawn(program: &Program, opts: &SpawnOptions) -> std::io::Result<PluginProcess> {
        let (exec, keep_fd) = program.exec_target();
        let mut cmd = Command::new(&exec);
        // The plugin sees its own path as argv[0], not `/proc/self/fd/N` (the test plugin and
        // some Go plugins pick their behaviour or name from it); `/proc/self/exe` names the
        // file itself either way.
        #[cfg(unix)]
        cmd.arg0(program.path());
        for (key, _) in std::env::vars_os() {
            if key.to_str().is_some_and(|k| k.starts_with("PLUGIN_")) {
                cmd.env_remove(&key);
            }
        }
        let versions: Vec<String> = opts.versions.iter().map(u32::to_string).collect();
        cmd.env(COOKIE_KEY, &opts.cookie_value)
            .env("PLUGIN_MIN_PORT", "10000")
            .env("PLUGIN_MAX_PORT", "25000")
            .env("PLUGIN_PROTOCOL_VERSIONS", versions.join(","))
            .env("PLUGIN_UNIX_SOCKET_DIR", &opts.socket_dir);
        if let Some(pem) = &opts.client_cert_pem {
            cmd.env("PLUGIN_CLIENT_CERT", pem);
        }
        // The template may be on our stdin; a plugin must not read it.
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(not(target_os = "linux"))]
        let _ = keep_fd;
        #[cfg(unix)]
        {
            // Its own process group: Ctrl-C at a terminal reaches cm only, and cm stops the
            // plugin (and anything a wrapper script started) as a group.
            cmd.process_group(0);
            #[cfg(target_os = "linux")]
            // SAFETY: prctl, getppid and fcntl are async-signal-safe; nothing else runs between
            // fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::prctl(
                        libc::PR_SET_PDEATHSIG,
                        libc::SIGKILL as libc::c_ulong,
                        0,
                        0,
                        0,
                    ) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    // cm may have died between fork and prctl.
                    if libc::getppid() == 1 {
                        libc::_exit(1);
                    }
                    // A script executed through `/proc/self/fd/N` is read by its interpreter
                    // under that name after exec, so the descriptor must survive exec (only in
                    // this child: cm's copy stays close-on-exec). A binary needs no such thing.
                    if let Some(fd) = keep_fd
                        && libc::fcntl(fd, libc::F_SETFD, 0) == -1
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn()?;
        let pid = child.id();
        let tail = StderrTail::default();
        let stderr = child.stderr.take().expect("stderr is piped");
        let stderr_task = tokio::spawn(forward_stderr(stderr, opts.name.clone(), tail.clone()));
        let stdout = child.stdout.take().map(BufReader::new);
        Ok(PluginProcess {
            child,
            pid,
            name: opts.name.clone(),
            stdout,
            stderr_task: Some(stderr_task),
            stdout_task: None,
            tail,
        })
    }

    /// The process id.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The last stderr lines.
    pub(crate) fn stderr_tail(&self) -> Vec<String> {
        self.tail.lines()
    }

    /// Reads the first stdout line, the handshake. `Ok(None)` when stdout closed first (the
    /// plugin exited or closed stdout). Afterwards stdout is drained and discarded, as go-plugin
    /// does, so a chatty plugin never blocks on a full pipe.
    pub(crate) async fn read_handshake_line(&mut self) -> std::io::Result<Option<String>> {
        let mut stdout = self.stdout.take().expect("handshake is read once");
        let mut line = Vec::new();
        let n = (&mut stdout)
            .take(MAX_HANDSHAKE_LINE)
            .read_until(b'\n', &mut line)
            .await?;
        let name = self.name.clone();
        self.stdout_task = Some(tokio::spawn(async move {
            let mut sink = Vec::with_capacity(8192);
            loop {
                sink.clear();
                match stdout.read_buf(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => tracing::trace!(plugin = %name, bytes = n, "discarded plugin stdout"),
                }
            }
        }));
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(String::from_utf8_lossy(&line).into_owned()))
    }

    /// Waits for the process to exit.
    pub(crate) async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// Waits (briefly) until stderr is read to its end, so the tail is complete for an error.
    pub(crate) async fn settle_stderr(&mut self, limit: Duration) {
        if let Some(task) = self.stderr_task.as_mut() {
            let _ = tokio::time::timeout(limit, task).await;
        }
    }

    /// Waits up to `grace` for a voluntary exit, then kills the process group.
    pub(crate) async fn stop(mut self, grace: Duration) -> Option<ExitStatus> {
        let status = match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(status)) => Some(status),
            _ => {
                tracing::warn!(plugin = %self.name, "plugin failed to exit gracefully, killing it");
                self.kill().await
            }
        };
        self.kill_group();
        self.settle_stderr(Duration::from_millis(500)).await;
        if let Some(t) = self.stdout_task.take() {
            t.abort();
        }
        status
    }

    /// Kills the plugin now (SIGKILL to its process group) and reaps it.
    pub(crate) async fn kill(&mut self) -> Option<ExitStatus> {
        self.kill_group();
        let _ = self.child.start_kill();
        self.child.wait().await.ok()
    }

    fn kill_group(&self) {
        #[cfg(unix)]
        if let Some(pid) = self.pid {
            // SAFETY: plain syscall. The group id is the child's pid (process_group(0)); until
            // the child has been reaped that pid cannot be reused, and after, kill fails with ESRCH.
            unsafe {
                libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
            }
        }
    }
}

impl Drop for PluginProcess {
    fn drop(&mut self) {
        // kill_on_drop stops the child; this stops anything it started in its group.
        if self.child.try_wait().ok().flatten().is_none() {
            self.kill_group();
        }
        if let Some(t) = self.stdout_task.take() {
            t.abort();
        }
    }
}

/// Reads a plugin's stderr line by line and re-logs each line as a `tracing` event under the
/// plugin's name: hclog JSON lines keep their level and message; other lines get the level of a
/// `[LEVEL]` prefix, else DEBUG, and after a Go panic everything is ERROR.
async fn forward_stderr(stderr: impl AsyncRead + Unpin, name: String, tail: StderrTail) {
    let mut reader = BufReader::new(stderr);
    let mut buf = Vec::new();
    let mut panicking = false;
    loop {
        buf.clear();
        match (&mut reader)
            .take(MAX_LOG_LINE as u64)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            continue;
        }
        let entry = LogLine::parse(line, &mut panicking);
        emit(&entry, &name);
        tail.push(entry.message);
    }
}

/// Re-logs one classified stderr line under the plugin's name (a WASI module's stdout and
/// stderr lines too).
pub(crate) fn emit(entry: &LogLine, plugin: &str) {
    use tracing::Level;
    let (m, f) = (&entry.message, &entry.fields);
    match entry.level {
        Level::TRACE => tracing::trace!(target: "cm::plugin", plugin, "{m} {f}"),
        Level::DEBUG => tracing::debug!(target: "cm::plugin", plugin, "{m} {f}"),
        Level::INFO => tracing::info!(target: "cm::plugin", plugin, "{m} {f}"),
        Level::WARN => tracing::warn!(target: "cm::plugin", plugin, "{m} {f}"),
        _ => tracing::error!(target: "cm::plugin", plugin, "{m} {f}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let t = StderrTail::default();
        for i in 0..30 {
            t.push(i.to_string());
        }
        let lines = t.lines();
        assert_eq!(lines.len(), STDERR_TAIL_LINES);
        assert_eq!(lines.last().unwrap(), "29");
        assert_eq!(lines[0], "10");
    }
}

/// Checks, before spawning, that `path` can run here, so the user gets "built for arm64" rather
/// than whatever the kernel or a shell makes of it (glibc hands a file the kernel refuses to the
/// shell, which then reports nonsense like `ELF...: not found`).
pub(crate) fn preflight(path: &Path) -> Result<(), String> {
    // Not opened first: opening a FIFO would block.
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err("not a file".to_string());
    }
    let file = File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    preflight_file(&file, &meta)
}

/// [`preflight`] of an open file, `meta` being its own (fstat) metadata.
fn preflight_file(file: &File, meta: &std::fs::Metadata) -> Result<(), String> {
    if !meta.is_file() {
        return Err("not a file".to_string());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 == 0 {
            return Err("the file is not executable (chmod +x)".to_string());
        }
    }
    let (head, n) = read_head(file).map_err(|e| format!("cannot read it: {e}"))?;
    let head = &head[..n];
    if head.starts_with(b"#!") || !cfg!(target_os = "linux") {
        return Ok(());
    }
    let here = format!(
        "{}-{}",
        super::discover::go_os(),
        super::discover::go_arch()
    );
    if !head.starts_with(b"\x7fELF") || n < 20 {
        return Err(format!(
            "not an executable for this machine ({here}): neither an ELF binary nor a #! script"
        ));
    }
    let machine = if head[5] == 2 {
        u16::from_be_bytes([head[18], head[19]])
    } else {
        u16::from_le_bytes([head[18], head[19]])
    };
    match elf_machine() {
        Some(ours) if ours != machine => Err(format!(
            "built for {} but this machine is {here}",
            elf_machine_name(machine)
        )),
        _ => Ok(()),
    }
}

/// The first 20 bytes of a file (fewer if it is shorter), read at offset 0 whatever the
/// descriptor's position, so a shared open file is never disturbed.
fn read_head(file: &File) -> std::io::Result<([u8; 20], usize)> {
    let mut head = [0u8; 20];
    let mut n = 0;
    while n < head.len() {
        #[cfg(unix)]
        let r = std::os::unix::fs::FileExt::read_at(file, &mut head[n..], n as u64);
        #[cfg(not(unix))]
        let r = {
            use std::io::{Read, Seek};
            let mut f = file;
            f.seek(std::io::SeekFrom::Start(n as u64))
                .and_then(|_| f.read(&mut head[n..]))
        };
        match r {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((head, n))
}

/// The ELF `e_machine` of the architecture cm was built for.
fn elf_machine() -> Option<u16> {
    Some(match std::env::consts::ARCH {
        "x86" => 3,
        "arm" => 40,
        "x86_64" => 62,
        "aarch64" => 183,
        "riscv64" => 243,
        "powerpc64" => 21,
        "s390x" => 22,
        "loongarch64" => 258,
        _ => return None,
    })
}

fn elf_machine_name(m: u16) -> String {
    match m {
        3 => "386".into(),
        40 => "arm".into(),
        62 => "amd64".into(),
        183 => "arm64".into(),
        243 => "riscv64".into(),
        21 => "ppc64".into(),
        22 => "s390x".into(),
        258 => "loong64".into(),
        other => format!("ELF machine {other}"),
    }
}

#[cfg(all(test, target_os = "linux"))]
mod preflight_tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn refuses_what_cannot_run_here() {
        let d = tempfile::tempdir().unwrap();
        let own = std::env::current_exe().unwrap();
        assert_eq!(preflight(&own), Ok(()));
        assert_eq!(
            preflight(&file(d.path(), "s", b"#!/bin/sh\n", 0o755)),
            Ok(())
        );
        let e = preflight(&file(d.path(), "x", b"#!/bin/sh\n", 0o644)).unwrap_err();
        assert_eq!(e, "the file is not executable (chmod +x)");
        let e = preflight(&file(d.path(), "g", b"garbage garbage garbage", 0o755)).unwrap_err();
        assert!(e.contains("neither an ELF binary nor a #! script"), "{e}");
        // An ELF header for another machine: s390x (big-endian, machine 22) unless we are one.
        let mut elf = b"\x7fELF\x02\x02\x01\0\0\0\0\0\0\0\0\0\0\x02\0\x16".to_vec();
        elf.extend_from_slice(&[0; 44]);
        if std::env::consts::ARCH != "s390x" {
            let e = preflight(&file(d.path(), "e", &elf, 0o755)).unwrap_err();
            assert!(
                e.starts_with("built for s390x but this machine is linux-"),
                "{e}"
            );
        }
    }
}
