//! The Go fixtures (`tests/go`): a Go plugin built on configmanager's interface, and a Go host
//! that is go-plugin's own client. cm's tests load the Go plugin in cm; every plugin crate's
//! tests load its binary in the Go host, the way configmanager loads a plugin.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::require_tool;

const GO_PACKAGES: &str =
    "apt-get install golang-go golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev";

/// `(go-plugin, go-host)`, built once per test process by `tests/go/build.sh` into the target
/// folder (Go's build cache makes the later processes' builds quick). `None` when Go is not
/// installed: the calling test is then skipped (`require_tool` reports it, and fails it under
/// `CI=true`).
pub fn go_fixtures() -> Option<&'static (PathBuf, PathBuf)> {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    if !require_tool("go", &["version"], GO_PACKAGES) {
        return None;
    }
    Some(BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let out = target.join("go-fixtures");
        let built = (out.join("go-plugin"), out.join("go-host"));
        // Every plugin crate's test process asks for them; a build costs tens of seconds even
        // with Go's cache warm (the gRPC link), so binaries newer than every source are kept.
        if !up_to_date(&[&built.0, &built.1], &root.join("tests/go")) {
            let status = Command::new("bash")
                .arg(root.join("tests/go/build.sh"))
                .arg(&out)
                .status()
                .expect("run bash tests/go/build.sh");
            assert!(status.success(), "tests/go/build.sh failed");
        }
        built
    }))
}

/// Whether every file in `outputs` exists and is newer than every file under `sources`.
fn up_to_date(outputs: &[&Path], sources: &Path) -> bool {
    fn newest(dir: &Path) -> Option<std::time::SystemTime> {
        let mut latest = std::fs::metadata(dir).ok()?.modified().ok()?;
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let meta = entry.metadata().ok()?;
            let time = if meta.is_dir() {
                newest(&entry.path())?
            } else {
                meta.modified().ok()?
            };
            latest = latest.max(time);
        }
        Some(latest)
    }
    let Some(sources) = newest(sources) else {
        return false;
    };
    outputs.iter().all(|o| {
        std::fs::metadata(o)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t > sources)
    })
}

/// The Go host, started with `plugin` and asked for `token` (with `metadata`) `calls` times at
/// once; `env` is added to its environment, which the plugin inherits. Its whole output, as
/// `(exit code, stdout, stderr)`, or `None` when Go is missing (see [`go_fixtures`]). The host
/// prints one value per line, or `gohost: <error>` on stderr and exits 1.
pub fn go_host_values(
    plugin: &Path,
    token: &str,
    metadata: &str,
    calls: usize,
    env: &[(&str, &str)],
) -> Option<(Option<i32>, String, String)> {
    let (_, host) = go_fixtures()?;
    let mut command = Command::new(host);
    command
        .env("GOHOST_LOG_LEVEL", "off")
        .envs(env.iter().copied())
        .args(["-n", &calls.to_string()])
        .arg(plugin)
        .arg(token);
    if !metadata.is_empty() {
        command.arg(metadata);
    }
    let out = command.output().expect("run the Go host");
    Some((
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// Checks that the plugin binary answers `--version` as configmanager's plugins do: one line on
/// stdout, nothing on stderr, exit 0.
#[track_caller]
pub fn assert_answers_version(plugin: &Path, name: &str, version: &str) {
    for flag in ["--version", "-version"] {
        let out = Command::new(plugin)
            .arg(flag)
            .env_remove("CONFIGMANAGER_PLUGIN")
            .output()
            .expect("run the plugin");
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned()
            ),
            (
                Some(0),
                format!("Configmanager Plugin ({name}) Version: {version}\n"),
                String::new()
            ),
            "{} {flag}",
            plugin.display()
        );
    }
}
