//! Where plugins live: `<DIR>/.configmanager/plugins/<prefix>/<prefix>-<os>-<arch>`, with Go's
//! names for os and arch, or a WASI module `<prefix>/<prefix>.wasm` beside it, tried in
//! `$CONFIGMANAGER_DIR`, then the current directory, then the home directory. In each folder a
//! native binary for this platform wins over a module. Pure path arithmetic plus directory
//! listing; it starts nothing.

use std::path::{Path, PathBuf};

/// Go's `GOOS` for the machine cm was built for.
pub(crate) fn go_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// Go's `GOARCH` for the machine cm was built for.
pub(crate) fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The plugin file name for a lower-cased prefix: `awsparamstr-linux-amd64`.
pub fn file_name(prefix_lower: &str) -> String {
    let exe = if cfg!(windows) { ".exe" } else { "" };
    format!("{prefix_lower}-{}-{}{exe}", go_os(), go_arch())
}

/// What a plugin file is, told by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An executable for this platform, started as a go-plugin child process.
    Native,
    /// A WASI reactor module, run in-process (`<prefix>.wasm`).
    Wasm,
}

impl Kind {
    /// The kind of the plugin file at `path`, as discovery names them.
    pub(crate) fn of(path: &Path) -> Kind {
        if path.extension().is_some_and(|e| e == "wasm") {
            Kind::Wasm
        } else {
            Kind::Native
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Native => "native",
            Kind::Wasm => "wasm",
        })
    }
}

/// The folders searched, in order: each is a `.configmanager` folder's parent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SearchPath {
    dirs: Vec<PathBuf>,
}

impl SearchPath {
    /// Builds the search path from `$CONFIGMANAGER_DIR`, the current directory and the home
    /// directory (each may be missing); duplicates are dropped.
    pub(crate) fn new(
        configmanager_dir: Option<PathBuf>,
        cwd: Option<PathBuf>,
        home: Option<PathBuf>,
    ) -> Self {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for d in [configmanager_dir, cwd, home].into_iter().flatten() {
            if !d.as_os_str().is_empty() && !dirs.contains(&d) {
                dirs.push(d);
            }
        }
        SearchPath { dirs }
    }

    /// The parent folders, in search order.
    pub(crate) fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Every path tried for `prefix` (any case), in order: in each folder the native binary,
    /// then the WASI module.
    pub(crate) fn candidates(&self, prefix: &str) -> Vec<PathBuf> {
        let lower = prefix.to_ascii_lowercase();
        self.dirs
            .iter()
            .flat_map(|d| [plugin_path(d, &lower), wasm_path(d, &lower)])
            .collect()
    }

    /// Every plugin found on disk as (upper-cased prefix, path); the first folder wins for a
    /// prefix found in several. Sorted by prefix.
    pub(crate) fn discover(&self) -> Vec<(String, PathBuf)> {
        let mut found: Vec<(String, PathBuf)> = Vec::new();
        for dir in &self.dirs {
            let Ok(entries) = std::fs::read_dir(dir.join(".configmanager").join("plugins")) else {
                continue;
            };
            for entry in entries.flatten() {
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                // A prefix must be usable in a token; anything else is not a plugin folder.
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    continue;
                }
                let upper = name.to_ascii_uppercase();
                if found.iter().any(|(p, _)| *p == upper) {
                    continue;
                }
                let lower = name.to_ascii_lowercase();
                if let Some(path) = [plugin_path(dir, &lower), wasm_path(dir, &lower)]
                    .into_iter()
                    .find(|p| p.is_file())
                {
                    found.push((upper, path));
                }
            }
        }
        found.sort();
        found
    }
}

/// `<dir>/.configmanager/plugins/<prefix>/<prefix>-<os>-<arch>`.
pub(crate) fn plugin_path(dir: &Path, prefix_lower: &str) -> PathBuf {
    dir.join(".configmanager")
        .join("plugins")
        .join(prefix_lower)
        .join(file_name(prefix_lower))
}

/// `<dir>/.configmanager/plugins/<prefix>/<prefix>.wasm`.
pub(crate) fn wasm_path(dir: &Path, prefix_lower: &str) -> PathBuf {
    dir.join(".configmanager")
        .join("plugins")
        .join(prefix_lower)
        .join(format!("{prefix_lower}.wasm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_names() {
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        assert_eq!(file_name("awsparamstr"), "awsparamstr-linux-amd64");
        assert!(!go_os().is_empty() && !go_arch().is_empty());
    }

    #[test]
    fn search_order_and_dedup() {
        let sp = SearchPath::new(Some("/a".into()), Some("/b".into()), Some("/a".into()));
        assert_eq!(sp.dirs(), [PathBuf::from("/a"), PathBuf::from("/b")]);
        let c = sp.candidates("AWSSECRETS");
        assert!(c[0].starts_with("/a/.configmanager/plugins/awssecrets/"));
        assert!(c[2].starts_with("/b/.configmanager/plugins/awssecrets/"));
    }

    #[test]
    fn discovers_plugins_first_dir_wins() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        for (dir, name) in [(&a, "echo"), (&b, "echo"), (&b, "json"), (&b, "bad-name")] {
            let p = plugin_path(dir.path(), name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"").unwrap();
        }
        // A folder without the binary for this os/arch is not a plugin.
        std::fs::create_dir_all(b.path().join(".configmanager/plugins/empty")).unwrap();
        let sp = SearchPath::new(Some(a.path().into()), Some(b.path().into()), None);
        let found = sp.discover();
        assert_eq!(
            found,
            vec![
                ("ECHO".to_string(), plugin_path(a.path(), "echo")),
                ("JSON".to_string(), plugin_path(b.path(), "json")),
            ]
        );
        // A missing plugin is reported with every path tried, in search order.
        assert_eq!(
            sp.candidates("NOPE"),
            vec![
                plugin_path(a.path(), "nope"),
                wasm_path(a.path(), "nope"),
                plugin_path(b.path(), "nope"),
                wasm_path(b.path(), "nope")
            ]
        );
    }

    #[test]
    fn a_native_binary_wins_over_a_module_in_its_folder_not_over_an_earlier_folder() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        for p in [
            wasm_path(a.path(), "vault"),
            plugin_path(b.path(), "vault"),
            plugin_path(b.path(), "both"),
            wasm_path(b.path(), "both"),
            wasm_path(b.path(), "mod"),
        ] {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"").unwrap();
        }
        let sp = SearchPath::new(Some(a.path().into()), Some(b.path().into()), None);
        let found = sp.discover();
        assert_eq!(
            found,
            vec![
                ("BOTH".to_string(), plugin_path(b.path(), "both")),
                ("MOD".to_string(), wasm_path(b.path(), "mod")),
                ("VAULT".to_string(), wasm_path(a.path(), "vault")),
            ]
        );
        let kinds: Vec<Kind> = found.iter().map(|(_, p)| Kind::of(p)).collect();
        assert_eq!(kinds, [Kind::Native, Kind::Wasm, Kind::Wasm]);
    }
}
