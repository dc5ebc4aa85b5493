//! `cm plugin install`, `cm plugin list` and `cm init`: put plugin binaries and WASI modules
//! where cm finds them, record their SHA-256 (and a module's grants) in the lock file, and show
//! what is installed. Never downloads anything.

use std::path::{Path, PathBuf};

use super::discover::{Kind, SearchPath, plugin_path, wasm_path};
use super::lock::{self, Entry, Grant, IntegrityError, LOCK_FILE, Lock, WASM_PLATFORM};

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
    /// `--allow-host` or `--allow-env` for a native plugin, which runs with the user's rights.
    #[error("--allow-host and --allow-env apply to WASI modules only; {} is a native plugin, which runs with your own rights", path.display())]
    GrantsNeedWasm {
        /// The file given with --from.
        path: PathBuf,
    },
    /// A grant that cannot be read.
    #[error("{flag}: {reason}")]
    Grant {
        /// `--allow-host` or `--allow-env`.
        flag: &'static str,
        /// Why, naming the value.
        reason: String,
    },
    /// A lock file problem.
    #[error(transparent)]
    Integrity(#[from] IntegrityError),
}

/// What `cm plugin install` grants a WASI module, as given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Grants {
    /// `--allow-host` values.
    pub(crate) hosts: Vec<String>,
    /// `--allow-env` values.
    pub(crate) env: Vec<String>,
}

impl Grants {
    /// The grants as the lock records them, each checked as the WASI runtime will read it and
    /// written in its normal form; sorted, without repeats.
    fn for_lock(&self) -> Result<Vec<Grant>, ManageError> {
        let mut out = Vec::new();
        for h in &self.hosts {
            out.push(Grant::Host(checked("--allow-host", h, parse_host)?));
        }
        for e in &self.env {
            out.push(Grant::Env(checked("--allow-env", e, parse_env)?));
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.env.is_empty()
    }
}

fn checked(
    flag: &'static str,
    value: &str,
    parse: fn(&str) -> Result<String, String>,
) -> Result<String, ManageError> {
    parse(value).map_err(|reason| ManageError::Grant { flag, reason })
}

#[cfg(feature = "wasi")]
fn parse_host(h: &str) -> Result<String, String> {
    h.parse::<crate::wasm::HostGrant>()
        .map(|g| g.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(feature = "wasi")]
fn parse_env(e: &str) -> Result<String, String> {
    e.parse::<crate::wasm::EnvName>()
        .map(|n| n.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(not(feature = "wasi"))]
fn parse_host(_: &str) -> Result<String, String> {
    Err(NO_WASI.to_string())
}

#[cfg(not(feature = "wasi"))]
fn parse_env(_: &str) -> Result<String, String> {
    Err(NO_WASI.to_string())
}

#[cfg(not(feature = "wasi"))]
const NO_WASI: &str = "this cm was built without WASI support (cargo feature `wasi`)";

/// Whether `bytes` are a WebAssembly binary module (magic and version 1).
fn is_wasm(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\0asm\x01\0\0\0")
}

/// Refuses a module the runtime could not load (not valid, a missing export, an import cm does
/// not provide), so the lock never approves a useless file.
#[cfg(feature = "wasi")]
fn check_module(prefix: &str, bytes: &[u8]) -> Result<(), String> {
    use crate::wasm::{Grants, Limits, WasmPlugin};
    let limits = Limits::new(1, std::time::Duration::from_secs(60));
    WasmPlugin::load(prefix, bytes, Grants::default(), limits, &[])
        .map(drop)
        .map_err(|e| e.to_string())
}

#[cfg(not(feature = "wasi"))]
fn check_module(_prefix: &str, _bytes: &[u8]) -> Result<(), String> {
    Err(format!("it is a WASI module, and {NO_WASI}"))
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
    /// A native binary or a WASI module.
    pub(crate) kind: Kind,
    /// What a module was granted.
    pub(crate) grants: Vec<Grant>,
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
/// mode 0755), or a WASI module to `<prefix>/<prefix>.wasm` (mode 0644: it is never executed),
/// and records its SHA-256, and a module's grants, in `<base>/.configmanager/plugins.lock`.
pub(crate) fn install(
    prefix: &str,
    from: &Path,
    base: &Path,
    grants: &Grants,
) -> Result<Installed, ManageError> {
    let lower = check_prefix(prefix)?;
    let source = |reason: String| ManageError::Source {
        path: from.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(from).map_err(|e| source(e.to_string()))?;
    let kind = if is_wasm(&bytes) {
        Kind::Wasm
    } else {
        Kind::Native
    };
    let (dest, mode, platform, grants) = match kind {
        Kind::Wasm => {
            let grants = grants.for_lock()?;
            check_module(&lower, &bytes).map_err(source)?;
            (
                wasm_path(base, &lower),
                0o644,
                WASM_PLATFORM.to_string(),
                grants,
            )
        }
        Kind::Native if !grants.is_empty() => {
            return Err(ManageError::GrantsNeedWasm {
                path: from.to_path_buf(),
            });
        }
        Kind::Native => (
            plugin_path(base, &lower),
            0o755,
            lock::platform(),
            Vec::new(),
        ),
    };
    let write = |path: &Path, e: std::io::Error| ManageError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let folder = dest.parent().expect("plugin path has a folder");
    std::fs::create_dir_all(folder).map_err(|e| write(folder, e))?;
    let lock_path = base.join(".configmanager").join(LOCK_FILE);
    let mut lock = Lock::read(&lock_path)?.unwrap_or_default();
    crate::atomic::write_atomic_with_mode(&dest, &bytes, mode).map_err(|e| write(&dest, e))?;
    // Refuse (and remove) what cannot run here, so the lock never approves a useless file.
    if kind == Kind::Native
        && let Err(reason) = super::process::preflight(&dest)
    {
        let _ = std::fs::remove_file(&dest);
        return Err(source(reason));
    }
    // The bytes just written, hashed from memory: no second read of the file.
    let sha256 = lock::sha256_bytes(&bytes);
    lock.set(Entry {
        prefix: lower,
        platform,
        sha256: sha256.clone(),
        grants: grants.clone(),
    });
    // 0644: the lock holds no secret and is meant to be committed and reviewed.
    crate::atomic::write_atomic_with_mode(&lock_path, lock.to_string().as_bytes(), 0o644)
        .map_err(|e| write(&lock_path, e))?;
    Ok(Installed {
        path: dest,
        sha256,
        lock: lock_path,
        kind,
        grants,
    })
}

/// One plugin found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    /// Upper-case prefix.
    pub(crate) prefix: String,
    /// The binary or module.
    pub(crate) path: PathBuf,
    /// Which of the two.
    pub(crate) kind: Kind,
    /// What the lock grants a module (empty when nothing, or no lock).
    pub(crate) grants: Vec<Grant>,
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
            let kind = Kind::of(&path);
            let platform = match kind {
                Kind::Native => lock::platform(),
                Kind::Wasm => WASM_PLATFORM.to_string(),
            };
            let entry = lock
                .as_ref()
                .ok()
                .and_then(|l| l.as_ref()?.get(&prefix, &platform));
            let grants = entry.map(|e| e.grants.clone()).unwrap_or_default();
            let sha256 = lock::sha256_file(&path).map_err(|e| e.to_string());
            let state = match (&lock, &sha256) {
                (Err(e), _) => LockState::BadLock(e.to_string()),
                (Ok(None), _) => LockState::NoLock,
                (Ok(Some(_)), hash) => match entry {
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
                kind,
                grants,
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
        let done = install("Echo", &own, base.path(), &Grants::default()).unwrap();
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
            install("a/b", Path::new("/bin/sh"), base.path(), &Grants::default()),
            Err(ManageError::Prefix(_))
        ));
        let junk = base.path().join("junk");
        std::fs::write(&junk, b"not a program").unwrap();
        let e = install("x", &junk, base.path(), &Grants::default()).unwrap_err();
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
