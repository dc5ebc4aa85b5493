//! `cm plugin install`, `cm plugin list` and `cm init`: put plugin binaries where cm finds them,
//! record their SHA-256 in the lock file, and show what is installed. Never downloads anything.

use std::path::{Path, PathBuf};

use super::discover::{SearchPath, plugin_path};
use super::lock::{self, Entry, IntegrityError, LOCK_FILE, Lock};

/// Why a management command failed.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// A prefix that cannot be a token prefix or folder name.
    #[error("invalid plugin prefix {0:?}: use letters, digits and `_`")]
    Prefix(String),
    /// The source binary is unusable.
    #[error("cannot install {}: {reason}", path.display())]
    Source {
        /// The file given with --from.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Writing the plugin or lock failed.
    #[error("cannot write {}: {reason}", path.display())]
    Write {
        /// What.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A lock file problem.
    #[error(transparent)]
    Integrity(#[from] IntegrityError),
}

/// What `install` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Installed {
    /// Where the binary now is.
    pub(crate) path: PathBuf,
    /// Its SHA-256.
    pub sha256: String,
    /// The lock file updated.
    pub(crate) lock: PathBuf,
}

fn check_prefix(prefix: &str) -> Result<String, ManageError> {
    if prefix.is_empty()
        || !prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(ManageError::Prefix(prefix.to_string()));
    }
    Ok(prefix.to_ascii_lowercase())
}

/// Copies `from` to `<base>/.configmanager/plugins/<prefix>/<prefix>-<os>-<arch>` (atomically,
/// mode 0755) and records its SHA-256 in `<base>/.configmanager/plugins.lock`.
pub(crate) fn install(prefix: &str, from: &Path, base: &Path) -> Result<Installed, ManageError> {
    let lower = check_prefix(prefix)?;
    let source = |reason: String| ManageError::Source {
        path: from.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(from).map_err(|e| source(e.to_string()))?;
    let dest = plugin_path(base, &lower);
    let write = |path: &Path, e: std::io::Error| ManageError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let folder = dest.parent().expect("plugin path has a folder");
    std::fs::create_dir_all(folder).map_err(|e| write(folder, e))?;
    let lock_path = base.join(".configmanager").join(LOCK_FILE);
    let mut lock = Lock::read(&lock_path)?.unwrap_or_default();
    crate::atomic::write_atomic_with_mode(&dest, &bytes, 0o755).map_err(|e| write(&dest, e))?;
    // Refuse (and remove) what cannot run here, so the lock never approves a useless file.
    if let Err(reason) = super::process::preflight(&dest) {
        let _ = std::fs::remove_file(&dest);
        return Err(source(reason));
    }
    // The bytes just written, hashed from memory: no second read of the file.
    let sha256 = lock::sha256_bytes(&bytes);
    lock.set(Entry {
        prefix: lower,
        platform: lock::platform(),
        sha256: sha256.clone(),
    });
    // 0644: the lock holds no secret and is meant to be committed and reviewed.
    crate::atomic::write_atomic_with_mode(&lock_path, lock.to_string().as_bytes(), 0o644)
        .map_err(|e| write(&lock_path, e))?;
    Ok(Installed {
        path: dest,
        sha256,
        lock: lock_path,
    })
}

/// One plugin found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    /// Upper-case prefix.
    pub(crate) prefix: String,
    /// The binary.
    pub(crate) path: PathBuf,
    /// Its SHA-256 (or the read error).
    pub sha256: Result<String, String>,
    /// How it stands against its lock file.
    pub(crate) lock: LockState,
    /// False when a plugin of the same prefix earlier in the search path is the one used.
    pub(crate) active: bool,
}

/// A plugin's standing against the lock of its `.configmanager` folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LockState {
    /// Recorded with this hash.
    Matches,
    /// Recorded with another hash.
    Mismatch {
        /// The recorded hash.
        expected: String,
    },
    /// The lock exists but has no entry.
    NotInLock,
    /// No lock file.
    NoLock,
    /// The lock file is unreadable or malformed.
    BadLock(String),
}

impl std::fmt::Display for LockState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockState::Matches => f.write_str("locked"),
            LockState::Mismatch { expected } => write!(f, "MISMATCH (lock has sha256:{expected})"),
            LockState::NotInLock => f.write_str("NOT IN LOCK"),
            LockState::NoLock => f.write_str("no lock file"),
            LockState::BadLock(e) => write!(f, "bad lock file: {e}"),
        }
    }
}

/// Every plugin under every search folder, in search order.
pub(crate) fn list(search: &SearchPath) -> Vec<Listed> {
    let mut out: Vec<Listed> = Vec::new();
    for dir in search.dirs() {
        let one = SearchPath::new(Some(dir.clone()), None, None);
        let lock_path = dir.join(".configmanager").join(LOCK_FILE);
        let lock = Lock::read(&lock_path);
        for (prefix, path) in one.discover() {
            let sha256 = lock::sha256_file(&path).map_err(|e| e.to_string());
            let state = match (&lock, &sha256) {
                (Err(e), _) => LockState::BadLock(e.to_string()),
                (Ok(None), _) => LockState::NoLock,
                (Ok(Some(l)), hash) => match l.get(&prefix, &lock::platform()) {
                    None => LockState::NotInLock,
                    Some(e) if hash.as_ref().is_ok_and(|h| *h == e.sha256) => LockState::Matches,
                    Some(e) => LockState::Mismatch {
                        expected: e.sha256.clone(),
                    },
                },
            };
            let active = !out.iter().any(|l| l.prefix == prefix);
            out.push(Listed {
                prefix,
                path,
                sha256,
                lock: state,
                active,
            });
        }
    }
    out
}

/// What `init` found for one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InitReport {
    /// Lower-case prefix.
    pub(crate) prefix: String,
    /// Where the binary is (or must go).
    pub(crate) path: PathBuf,
    /// Whether it is there.
    pub(crate) present: bool,
}

/// Creates `<base>/.configmanager/plugins/<prefix>/` for each prefix and reports which binaries
/// are missing.
pub(crate) fn init(prefixes: &[String], base: &Path) -> Result<Vec<InitReport>, ManageError> {
    prefixes
        .iter()
        .map(|p| {
            let lower = check_prefix(p)?;
            let path = plugin_path(base, &lower);
            let folder = path.parent().expect("plugin path has a folder");
            std::fs::create_dir_all(folder).map_err(|e| ManageError::Write {
                path: folder.to_path_buf(),
                reason: e.to_string(),
            })?;
            Ok(InitReport {
                present: path.is_file(),
                prefix: lower,
                path,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_records_the_hash_and_list_reports_it() {
        let base = tempfile::tempdir().unwrap();
        let own = std::env::current_exe().unwrap();
        let done = install("Echo", &own, base.path()).unwrap();
        assert_eq!(done.path, plugin_path(base.path(), "echo"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&done.path).unwrap().permissions().mode() & 0o777,
            0o755
        );
        let lock_text = std::fs::read_to_string(&done.lock).unwrap();
        assert!(
            lock_text.contains(&format!("echo {} sha256:{}", lock::platform(), done.sha256)),
            "{lock_text}"
        );
        let search = SearchPath::new(Some(base.path().into()), None, None);
        let listed = list(&search);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].lock, LockState::Matches);
        assert!(listed[0].active);
        // Tampering shows up.
        std::fs::write(&done.path, b"#!/bin/sh\n").unwrap();
        assert!(matches!(list(&search)[0].lock, LockState::Mismatch { .. }));
    }

    #[test]
    fn install_refuses_bad_prefixes_and_unrunnable_files() {
        let base = tempfile::tempdir().unwrap();
        assert!(matches!(
            install("a/b", Path::new("/bin/sh"), base.path()),
            Err(ManageError::Prefix(_))
        ));
        let junk = base.path().join("junk");
        std::fs::write(&junk, b"not a program").unwrap();
        let e = install("x", &junk, base.path()).unwrap_err();
        assert!(
            e.to_string()
                .contains("neither an ELF binary nor a #! script"),
            "{e}"
        );
        assert!(!plugin_path(base.path(), "x").exists());
        assert!(!base.path().join(".configmanager").join(LOCK_FILE).exists());
    }

    #[test]
    fn init_creates_folders_and_reports_missing() {
        let base = tempfile::tempdir().unwrap();
        let r = init(&["awssecrets".into(), "VAULT".into()], base.path()).unwrap();
        assert!(r.iter().all(|r| !r.present));
        assert!(base.path().join(".configmanager/plugins/vault").is_dir());
    }
}
