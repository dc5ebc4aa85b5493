//! cm's binaries for the shared test bench (`cm-testkit`, re-exported here): only cm's own test
//! crate knows where cargo put them.

use std::path::Path;
use std::process::Command;

pub use cm_testkit::*;

/// The `cm` under test.
pub const CM: &str = env!("CARGO_BIN_EXE_cm");
/// The SDK test plugin; its behaviour follows the prefix it is installed under.
pub const TEST_PLUGIN: &str = env!("CARGO_BIN_EXE_cm-test-plugin");

/// An empty project running this build of cm, where `install(prefix)` installs the test plugin.
pub fn project() -> Project {
    Project::new(CM).test_plugin(TEST_PLUGIN)
}

/// The SHA-256 of the file at `path` as lower-case hex, from coreutils' `sha256sum`: worked out
/// apart from cm, so a test checks cm's hashing instead of repeating it.
#[track_caller]
pub fn sha256_file(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(
        out.status.success(),
        "sha256sum {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("sha256sum prints text");
    let hash = text.split_whitespace().next().unwrap_or_default();
    assert!(
        hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "sha256sum printed {text:?}"
    );
    hash.to_ascii_lowercase()
}

/// cm's whole stderr for a run of `p` whose one missing plugin is `prefix` (lower case): in the
/// project folder, then the temp HOME, the native binary and the WASI module are the paths tried.
pub fn missing_plugin_stderr(p: &Project, prefix: &str) -> String {
    let home = p.home().canonicalize().unwrap();
    let folder = |base: &Path| base.join(".configmanager/plugins").join(prefix);
    let local = p.plugin_file(prefix);
    let local_folder = local.parent().unwrap();
    format!(
        "cm: configmanager provider: ( {prefix} ) plugin does not exist; looked for:\n  {}\n  {}\n  {}\n  {}\n",
        local.display(),
        local_folder.join(format!("{prefix}.wasm")).display(),
        folder(&home).join(plugin_file_name(prefix)).display(),
        folder(&home).join(format!("{prefix}.wasm")).display(),
    )
}
