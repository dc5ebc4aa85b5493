//! The test bench: a private folder per test (it is cm's current directory and HOME), plugins
//! installed into it, a runner for the real `cm` binary, and the check that no plugin process
//! outlives a run.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const CM: &str = env!("CARGO_BIN_EXE_cm");
pub const TEST_PLUGIN: &str = env!("CARGO_BIN_EXE_cm-test-plugin");

/// `<prefix>-<os>-<arch>` as configmanager names plugin files.
pub fn plugin_file_name(prefix_lower: &str) -> String {
    cm::plugin::discover::file_name(prefix_lower)
}

pub struct Bench {
    pub dir: tempfile::TempDir,
    pub home: tempfile::TempDir,
}

pub struct Run {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "expected success\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn failure(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n--- stderr\n{}",
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stdout_is(&self, expected: &str) -> &Self {
        assert_eq!(self.stdout(), expected, "--- stderr\n{}", self.stderr);
        self
    }
}

impl Bench {
    pub fn new() -> Bench {
        Bench {
            dir: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, contents).unwrap();
        p
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap()
    }

    /// Installs the SDK test plugin under `prefix` (its behaviour follows the name; see
    /// `src/bin/cm-test-plugin.rs`).
    pub fn install(&self, prefix: &str) -> PathBuf {
        self.install_binary(prefix, Path::new(TEST_PLUGIN))
    }

    pub fn install_binary(&self, prefix: &str, binary: &Path) -> PathBuf {
        let lower = prefix.to_ascii_lowercase();
        let dest = self
            .dir
            .path()
            .join(".configmanager/plugins")
            .join(&lower)
            .join(plugin_file_name(&lower));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(binary, &dest).unwrap();
        dest
    }

    /// `cm` with this bench as its current directory and HOME, and a clean environment for the
    /// variables that change cm's behaviour.
    pub fn cm(&self) -> Command {
        let mut c = Command::new(CM);
        c.current_dir(self.dir.path())
            .env("HOME", self.home.path())
            .env_remove("CONFIGMANAGER_DIR")
            .env_remove("CONFIGMANAGER_LOG")
            .env_remove("RUST_LOG")
            .env_remove("CM_PLUGIN_TRANSPORT")
            .env("NO_COLOR", "1")
            .env("CM_TEST_CALL_LOG", self.path("calls.log"));
        c
    }

    /// Runs `cm ARGS` with `stdin`, then checks that no plugin process is left.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        self.run_cmd(self.cm().args(args), stdin)
    }

    pub fn run_cmd(&self, cmd: &mut Command, stdin: &[u8]) -> Run {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let stdin = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&stdin);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        self.assert_no_plugins_left();
        Run {
            code: out.status.code(),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Pids of live processes started from a binary inside this bench (its plugins).
    pub fn plugin_pids(&self) -> Vec<u32> {
        plugin_pids_under(self.dir.path())
    }

    /// Plugins are reaped by cm before it exits; allow a moment for the kernel to finish.
    #[track_caller]
    pub fn assert_no_plugins_left(&self) {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let left = self.plugin_pids();
            if left.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                panic!("plugin processes left behind: {left:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The call log written by the test plugins: (event, path) pairs.
    pub fn calls(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(self.path("calls.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                l.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            })
            .collect()
    }

    pub fn call_count(&self) -> usize {
        self.calls().iter().filter(|(e, _)| e == "call").count()
    }
}

/// Live (non-zombie) processes whose executable lies under `dir`.
pub fn plugin_pids_under(dir: &Path) -> Vec<u32> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(exe) = std::fs::read_link(entry.path().join("exe")) else {
            continue;
        };
        if exe.starts_with(&dir) {
            let state = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let zombie = state
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'));
            if !zombie {
                pids.push(pid);
            }
        }
    }
    pids
}

/// Waits until `cond` holds, polling; panics after `limit`.
#[track_caller]
pub fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The Go fixtures (`tests/go`), built once per test run. `None` (with a note on stderr) when
/// Go is not installed, except under CI, where that is a failure.
pub fn go_fixtures() -> Option<&'static (PathBuf, PathBuf)> {
    static BUILT: OnceLock<Option<(PathBuf, PathBuf)>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-fixtures");
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go/build.sh");
            let have_go = Command::new("go").arg("version").output().is_ok_and(|o| o.status.success());
            let ci = std::env::var("CI").is_ok_and(|v| v == "true");
            if !have_go {
                assert!(!ci, "CI=true but Go is not installed: the Go interop tests cannot run (install golang-go)");
                eprintln!("SKIPPED: Go interop tests need `go` (apt-get install golang-go golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev)");
                return None;
            }
            let status = Command::new("bash").arg(&script).arg(&out).status().unwrap();
            assert!(status.success(), "tests/go/build.sh failed");
            Some((out.join("go-plugin"), out.join("go-host")))
        })
        .as_ref()
}
