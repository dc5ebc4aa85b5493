//! Where the binaries under test are, and the file names plugins are installed under. cm's own
//! test crate knows its binaries (`env!("CARGO_BIN_EXE_cm")`) and passes them in; the plugin
//! crates ask [`cm_binary`].

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The `cm` executable for the plugin crates' tests: `CM_BIN` if set, else
/// `cargo build --workspace --bin cm`, whose own report names the file, so no target-folder
/// layout is assumed. `--workspace` resolves features as `cargo test --workspace` does, so after
/// that command the build is a no-op; `-p cm` would resolve cm's features alone and rebuild
/// every dependency whose features the plugins widen (minutes on a clean CI machine, and again
/// on the next workspace build).
pub fn cm_binary() -> &'static Path {
    static CM: OnceLock<PathBuf> = OnceLock::new();
    CM.get_or_init(|| build_cm(false))
}

/// An optimised `cm` for benchmarks: `CM_BIN` if set, else `cargo build --release`.
pub fn cm_release_binary() -> &'static Path {
    static CM: OnceLock<PathBuf> = OnceLock::new();
    CM.get_or_init(|| build_cm(true))
}

fn build_cm(release: bool) -> PathBuf {
    if let Some(bin) = std::env::var_os("CM_BIN").filter(|b| !b.is_empty()) {
        return PathBuf::from(bin);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut command = Command::new(cargo);
    command.current_dir(&root).args([
        "build",
        "--workspace",
        "--bin",
        "cm",
        "--message-format=json-render-diagnostics",
    ]);
    if release {
        command.arg("--release");
    }
    let out = command
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo to build cm (or set CM_BIN)");
    assert!(
        out.status.success(),
        "cargo build --workspace --bin cm failed"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "cm")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported no cm executable")
}

/// `<prefix>-<os>-<arch>` (lower-cased prefix, Go's names for os and arch), as cm and
/// configmanager look for plugins. Written out here rather than taken from cm, so that the
/// tests check cm's naming instead of repeating it.
pub fn plugin_file_name(prefix: &str) -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    };
    let exe = if cfg!(windows) { ".exe" } else { "" };
    format!("{}-{os}-{arch}{exe}", prefix.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    #[test]
    fn plugin_names_use_go_names() {
        let name = super::plugin_file_name("AWSSecrets");
        assert!(name.starts_with("awssecrets-"), "{name}");
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            assert_eq!(name, "awssecrets-linux-amd64");
        }
    }
}
