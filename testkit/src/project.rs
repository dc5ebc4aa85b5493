//! [`Project`]: the folders one test runs cm in, the plugins installed there, and the check that
//! no plugin process outlives a run.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::binary::plugin_file_name;
use crate::run::Cm;

/// A temp folder that is cm's current directory, and another that is its HOME, for one test.
/// Every run gets a clean environment for the variables that change cm's behaviour, plus what
/// [`env`](Project::env) adds. cm's cache folder (`CM_CACHE_DIR`, where it keeps the hashes of
/// verified plugins) is [`cache_dir`](Project::cache_dir), inside the temp HOME, so no test
/// writes the user's cache and the project folder holds only what a test put there.
pub struct Project {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
    cm: PathBuf,
    test_plugin: Option<PathBuf>,
    env: Vec<(OsString, Option<OsString>)>,
}

impl Project {
    /// An empty project that runs the `cm` at `cm`.
    pub fn new(cm: impl Into<PathBuf>) -> Project {
        Project {
            dir: tempfile::tempdir().expect("temp folder"),
            home: tempfile::tempdir().expect("temp HOME"),
            cm: cm.into(),
            test_plugin: None,
            env: Vec::new(),
        }
    }

    /// The binary [`install`](Project::install) copies (cm's `cm-test-plugin`, whose behaviour
    /// follows the prefix it is installed under).
    pub fn test_plugin(mut self, binary: impl Into<PathBuf>) -> Project {
        self.test_plugin = Some(binary.into());
        self
    }

    /// Sets a variable for every run (and so for the plugins).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Project {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Removes a variable from every run's environment.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Project {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// The project folder (cm's current directory).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// cm's HOME.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// cm's cache folder for every run (`CM_CACHE_DIR`): `.cache/cm` in the temp HOME. cm
    /// creates it when it first writes there.
    pub fn cache_dir(&self) -> PathBuf {
        self.home().join(".cache/cm")
    }

    /// `rel` inside the project folder.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `contents` to `rel` (creating its folders).
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create folders");
        }
        std::fs::write(&p, contents).expect("write a test file");
        p
    }

    /// The contents of `rel`.
    #[track_caller]
    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// The names in the project folder, sorted, minus the test plugin's call log.
    pub fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir())
            .expect("list the project")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n != CALL_LOG)
            .collect();
        names.sort();
        names
    }

    /// Installs the test plugin under `prefix` (a copy: tests may change the installed file).
    #[track_caller]
    pub fn install(&self, prefix: &str) -> PathBuf {
        let plugin = self
            .test_plugin
            .as_deref()
            .expect("Project::test_plugin names the binary to install");
        self.install_binary(prefix, plugin)
    }

    /// Copies `binary` to `.configmanager/plugins/<prefix>/<prefix>-<os>-<arch>`.
    pub fn install_binary(&self, prefix: &str, binary: &Path) -> PathBuf {
        let dest = self.plugin_path(prefix);
        std::fs::copy(binary, &dest).expect("copy the plugin");
        dest
    }

    /// Like [`install_binary`](Project::install_binary), but a hard link where the file system
    /// allows: debug builds of the cloud plugins are hundreds of MB. The installed file is the
    /// original, so a test must never change it.
    pub fn link_binary(&self, prefix: &str, binary: &Path) -> PathBuf {
        let dest = self.plugin_path(prefix);
        if std::fs::hard_link(binary, &dest).is_err() {
            std::fs::copy(binary, &dest).expect("copy the plugin");
        }
        dest
    }

    fn plugin_path(&self, prefix: &str) -> PathBuf {
        let dest = self
            .dir()
            .join(".configmanager/plugins")
            .join(prefix.to_ascii_lowercase())
            .join(plugin_file_name(prefix));
        std::fs::create_dir_all(dest.parent().expect("has a parent")).expect("plugin folder");
        dest
    }

    /// The project folder as cm sees it: its current directory, with symlinks resolved.
    pub fn real_dir(&self) -> PathBuf {
        self.dir()
            .canonicalize()
            .unwrap_or_else(|_| self.dir().to_path_buf())
    }

    /// Where cm looks for the plugin for `prefix` in the project folder, as its messages show
    /// that path.
    pub fn plugin_file(&self, prefix: &str) -> PathBuf {
        self.real_dir()
            .join(".configmanager/plugins")
            .join(prefix.to_ascii_lowercase())
            .join(plugin_file_name(prefix))
    }

    /// A run of `cm` in this project: see [`Cm`].
    pub fn cm(&self) -> Cm<'_> {
        Cm::new(self)
    }

    /// `cm` as a plain [`Command`] with this project's folder and environment, for tests that
    /// manage the process themselves (signals).
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.cm);
        c.current_dir(self.dir())
            .env("HOME", self.home())
            .env_remove("CONFIGMANAGER_DIR")
            .env_remove("CONFIGMANAGER_LOG")
            .env_remove("RUST_LOG")
            .env_remove("CM_PLUGIN_TRANSPORT")
            .env_remove("CM_REQUIRE_LOCK")
            // Set rather than left to HOME: an XDG_CACHE_HOME in the caller's environment would
            // point cm's default at the user's own cache.
            .env("CM_CACHE_DIR", self.cache_dir())
            .env("NO_COLOR", "1")
            .env(CALL_LOG_VAR, self.path(CALL_LOG));
        for (k, v) in &self.env {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c
    }

    /// Pids of live processes started from a binary inside this project (its plugins).
    pub fn plugin_pids(&self) -> Vec<u32> {
        plugin_pids_under(self.dir())
    }

    /// Plugins are reaped by cm before it exits; this allows a moment for the kernel to finish.
    #[track_caller]
    pub fn assert_no_plugins_left(&self) {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let left = self.plugin_pids();
            if left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "plugin processes left behind: {left:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Where the test plugin logs its calls (`CM_TEST_CALL_LOG`, set for every run), for a
    /// test that starts a plugin through a host of its own.
    pub fn call_log(&self) -> PathBuf {
        self.path(CALL_LOG)
    }

    /// The test plugin's log (`CM_TEST_CALL_LOG`): `(event, detail)` pairs, in order. Events:
    /// `start` (a process started; detail: the cookie it was given), `call` and `done` (a
    /// `Value` call began and ended; detail: the path).
    pub fn log(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(self.path(CALL_LOG))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                l.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            })
            .collect()
    }

    /// The `call` and `done` events of the log.
    pub fn calls(&self) -> Vec<(String, String)> {
        self.log()
            .into_iter()
            .filter(|(e, _)| e == "call" || e == "done")
            .collect()
    }

    /// How many `Value` calls the test plugins received.
    pub fn call_count(&self) -> usize {
        self.log().iter().filter(|(e, _)| e == "call").count()
    }

    /// The most calls in flight at once, from the call log.
    pub fn max_in_flight(&self) -> usize {
        let (mut now, mut max) = (0usize, 0usize);
        for (event, _) in self.calls() {
            if event == "call" {
                now += 1;
                max = max.max(now);
            } else {
                now -= 1;
            }
        }
        max
    }
}

/// The file the test plugin logs to, inside the project folder.
const CALL_LOG: &str = "calls.log";
const CALL_LOG_VAR: &str = "CM_TEST_CALL_LOG";

/// Live (non-zombie) processes whose executable lies under `dir`.
pub fn plugin_pids_under(dir: &Path) -> Vec<u32> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
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
