//! Where plugins live: `<DIR>/.configmanager/plugins/<prefix>/<prefix>-<os>-<arch>`, with Go's
//! names for os and arch, tried in `$CONFIGMANAGER_DIR`, then the current directory, then the home
//! directory. Pure path arithmetic plus directory listing; it starts nothing.

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

    /// Every path tried for `prefix` (any case), in order.
    pub(crate) fn candidates(&self, prefix: &str) -> Vec<PathBuf> {
        let lower = prefix.to_ascii_lowercase();
        self.dirs.iter().map(|d| plugin_path(d, &lower)).collect()
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
                let path = plugin_path(dir, &name.to_ascii_lowercase());
                if path.is_file() && !found.iter().any(|(p, _)| *p == upper) {
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
        assert!(c[1].starts_with("/b/.configmanager/plugins/awssecrets/"));
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
            vec![plugin_path(a.path(), "nope"), plugin_path(b.path(), "nope")]
        );
    }
}
