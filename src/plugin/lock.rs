//! Plugin integrity: the lock file `.configmanager/plugins.lock` records the SHA-256 of every
//! approved plugin binary, one line per prefix and os-arch:
//!
//! ```text
//! # cm plugin lock: SHA-256 of each approved plugin binary (written by `cm plugin install`)
//! awsparamstr linux-amd64 sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//! ```
//!
//! A WASI module (`<p>/<p>.wasm`) is one file for every platform, so its line says `wasm`, and
//! it carries what the user granted the module with `cm plugin install --allow-host/--allow-env`:
//!
//! ```text
//! vault wasm sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae allow-host=vault.example:8200 allow-env=VAULT_TOKEN
//! ```
//!
//! Before a plugin starts, `verify` checks it against the lock of its own `.configmanager`
//! folder (when there is one) and refuses files any user could have replaced. A plain,
//! line-per-entry text file keeps reviews of lock changes easy.
//!
//! The lock file is read first, and a plugin is hashed only when a lock covers it (or to name
//! its hash when `--require-lock` finds no lock): a run without a lock pays nothing that grows
//! with plugin size. A locked plugin is opened once; its hash is taken through that descriptor
//! (or found in the [verified-hash cache](super::verified) by the descriptor's fstat), and the
//! same open file is what the host executes ([`Program::opened`]).

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use aws_lc_rs::digest;

use super::process::Program;
use super::verified::{HashCache, Key};

/// The lock file's name inside a `.configmanager` folder.
pub(crate) const LOCK_FILE: &str = "plugins.lock";

const HEADER: &str =
    "# cm plugin lock: SHA-256 of each approved plugin binary (written by `cm plugin install`)\n";

/// The platform of a WASI module's lock line: one module serves every OS and architecture.
pub(crate) const WASM_PLATFORM: &str = "wasm";

/// One approved plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Lower-case prefix.
    pub(crate) prefix: String,
    /// `linux-amd64` etc., or [`WASM_PLATFORM`].
    pub(crate) platform: String,
    /// Lower-case hex SHA-256.
    pub sha256: String,
    /// What a WASI module may reach (empty for native plugins, which run with the user's
    /// rights).
    pub(crate) grants: Vec<Grant>,
}

/// One grant to a WASI module, as the lock line writes it. The lock checks only the shape; the
/// WASI runtime parses the values when it loads the module.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Grant {
    /// `allow-host=HOST[:PORT]`: `cm.http_request` may reach it.
    Host(String),
    /// `allow-env=NAME`: the module sees this environment variable.
    Env(String),
}

impl Grant {
    /// Reads `allow-host=…` or `allow-env=…`.
    fn parse(field: &str) -> Result<Grant, String> {
        let (key, value) = field
            .split_once('=')
            .filter(|(_, v)| !v.is_empty())
            .ok_or_else(|| {
                format!("expected allow-host=HOST[:PORT] or allow-env=NAME, found {field:?}")
            })?;
        match key {
            "allow-host" => Ok(Grant::Host(value.to_string())),
            "allow-env" => Ok(Grant::Env(value.to_string())),
            _ => Err(format!(
                "unknown grant {key:?} (expected allow-host or allow-env)"
            )),
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::Host(h) => write!(f, "allow-host={h}"),
            Grant::Env(e) => write!(f, "allow-env={e}"),
        }
    }
}

/// A parsed lock file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Lock {
    /// Entries sorted by prefix, then platform.
    pub(crate) entries: Vec<Entry>,
}

/// Why a plugin may not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrityError {
    /// The lock file is malformed.
    #[error("{}:{line}: {message}", path.display())]
    Malformed {
        /// The lock file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The lock file has no entry for this plugin.
    #[error("plugin {} (sha256:{actual}) is not in the lock file {}; approve it with `cm plugin install`", plugin.display(), lock.display())]
    NotLocked {
        /// The plugin binary.
        plugin: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// Its hash.
        actual: String,
    },
    /// The binary differs from the approved one.
    #[error("plugin {} does not match the lock file {}: expected sha256:{expected}, found sha256:{actual}", plugin.display(), lock.display())]
    Mismatch {
        /// The plugin binary.
        plugin: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// The recorded hash.
        expected: String,
        /// The file's hash.
        actual: String,
    },
    /// `--require-lock` and no lock file.
    #[error("no lock file {} for plugin {} and --require-lock (CM_REQUIRE_LOCK) is set", lock.display(), plugin.display())]
    LockRequired {
        /// The plugin binary.
        plugin: PathBuf,
        /// Where the lock was expected.
        lock: PathBuf,
    },
    /// Any user could replace the file.
    #[error("refusing to run {}: it is world-writable (mode {mode:o}); chmod o-w it", path.display())]
    WorldWritable {
        /// The file or folder.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A WASI module's lock line grants something unreadable (a hand-edited lock).
    #[error("plugin {}: its lock grant {grant} is invalid: {reason}", plugin.display())]
    BadGrant {
        /// The module.
        plugin: PathBuf,
        /// The grant as the lock writes it.
        grant: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A WASI module, and cm was built without the `wasi` feature.
    #[error("plugin {} is a WASI module, and this cm was built without WASI support (cargo feature `wasi`)", plugin.display())]
    NoWasi {
        /// The module.
        plugin: PathBuf,
    },
    /// The file could not be read.
    #[error("cannot read {}: {reason}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl Lock {
    /// Parses lock file text; `path` is for messages.
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Lock, IntegrityError> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let malformed = |message: String| IntegrityError::Malformed {
                path: path.to_path_buf(),
                line: i + 1,
                message,
            };
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [prefix, platform, hash, ref grants @ ..] = fields[..] else {
                return Err(malformed(format!(
                    "expected `PREFIX OS-ARCH sha256:HEX`, found {line:?}"
                )));
            };
            if !grants.is_empty() && platform != WASM_PLATFORM {
                return Err(malformed(format!(
                    "grants ({}) apply only to WASI modules (`{WASM_PLATFORM}` lines)",
                    grants.join(" ")
                )));
            }
            let mut grants = grants
                .iter()
                .map(|g| Grant::parse(g))
                .collect::<Result<Vec<_>, _>>()
                .map_err(malformed)?;
            grants.sort();
            grants.dedup();
            let sha256 = hash
                .strip_prefix("sha256:")
                .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(|| {
                    malformed(format!(
                        "expected sha256: and 64 hex digits, found {hash:?}"
                    ))
                })?;
            entries.push(Entry {
                prefix: prefix.to_ascii_lowercase(),
                platform: platform.to_string(),
                sha256: sha256.to_ascii_lowercase(),
                grants,
            });
        }
        let mut lock = Lock { entries };
        lock.sort();
        Ok(lock)
    }

    /// Reads `path`; `Ok(None)` when it does not exist.
    pub(crate) fn read(path: &Path) -> Result<Option<Lock>, IntegrityError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Lock::parse(&text, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(IntegrityError::Io {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }),
        }
    }

    /// The entry for a prefix and platform.
    pub(crate) fn get(&self, prefix: &str, platform: &str) -> Option<&Entry> {
        let prefix = prefix.to_ascii_lowercase();
        self.entries
            .iter()
            .find(|e| e.prefix == prefix && e.platform == platform)
    }

    /// Adds or replaces the entry for `entry`'s prefix and platform.
    pub(crate) fn set(&mut self, entry: Entry) {
        self.entries
            .retain(|e| !(e.prefix == entry.prefix && e.platform == entry.platform));
        self.entries.push(entry);
        self.sort();
    }

    fn sort(&mut self) {
        self.entries
            .sort_by(|a, b| (&a.prefix, &a.platform).cmp(&(&b.prefix, &b.platform)));
    }
}

impl fmt::Display for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(HEADER)?;
        for e in &self.entries {
            write!(f, "{} {} sha256:{}", e.prefix, e.platform, e.sha256)?;
            for g in &e.grants {
                write!(f, " {g}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// This machine's platform as plugins name it: `linux-amd64`.
pub(crate) fn platform() -> String {
    format!(
        "{}-{}",
        super::discover::go_os(),
        super::discover::go_arch()
    )
}

/// The SHA-256 of a file, as lower-case hex.
pub(crate) fn sha256_file(path: &Path) -> Result<String, IntegrityError> {
    let io = |e: std::io::Error| IntegrityError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    File::open(path).and_then(sha256_reader).map_err(io)
}

/// The SHA-256 of `bytes`, as lower-case hex.
pub(crate) fn sha256_bytes(bytes: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

/// The SHA-256 of everything `reader` gives, as lower-case hex (aws-lc's assembly SHA-256).
fn sha256_reader(mut reader: impl Read) -> std::io::Result<String> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => ctx.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex(ctx.finish().as_ref()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// The `.configmanager` folder a plugin path lies in:
/// `<DIR>/.configmanager/plugins/<prefix>/<file>` gives `<DIR>/.configmanager`.
pub(crate) fn configmanager_dir(plugin: &Path) -> Option<&Path> {
    plugin.parent()?.parent()?.parent()
}

/// What `verify` found, for `cm plugin list` and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// In the lock, hash matches.
    Locked,
    /// No lock file next to this plugin.
    NoLock,
}

/// A plugin cleared to run.
#[derive(Debug)]
pub(crate) struct Verified {
    /// The prefix it was wanted for.
    pub(crate) prefix: String,
    /// What to execute: the open file whose bytes were checked when a lock applies, else the
    /// path.
    pub(crate) program: Program,
    /// How it stands against its lock.
    pub(crate) status: Status,
    /// Things to tell the user (group-writable files).
    pub(crate) warnings: Vec<String>,
    /// A hash computed by this check, for the cache.
    learned: Option<(Key, String)>,
}

/// Checks a plugin before it runs: no world-writable file or folder on its path below the
/// `.configmanager` folder; its hash against the lock when there is one; a missing lock is an
/// error only with `require_lock`. Without a lock the file is not read at all.
pub(crate) fn verify(
    prefix: &str,
    plugin: &Path,
    require_lock: bool,
    cache: &HashCache,
) -> Result<Verified, IntegrityError> {
    let warnings = check_permissions(plugin)?;
    let unlocked = |warnings| {
        Ok(Verified {
            prefix: prefix.to_string(),
            program: Program::at(plugin),
            status: Status::NoLock,
            warnings,
            learned: None,
        })
    };
    let Some(cm_dir) = configmanager_dir(plugin) else {
        return unlocked(warnings);
    };
    let lock_path = cm_dir.join(LOCK_FILE);
    let lock = match Lock::read(&lock_path)? {
        None if require_lock => {
            return Err(IntegrityError::LockRequired {
                plugin: plugin.to_path_buf(),
                lock: lock_path,
            });
        }
        None => return unlocked(warnings),
        Some(lock) => lock,
    };
    let io = |e: std::io::Error| IntegrityError::Io {
        path: plugin.to_path_buf(),
        reason: e.to_string(),
    };
    let (file, meta) = open_plugin(plugin).map_err(io)?;
    check_opened_mode(plugin, &meta)?;
    let key = Key::of(plugin, &meta);
    let (actual, computed) = match key.as_ref().and_then(|k| cache.get(k)) {
        Some(hash) => {
            tracing::debug!(plugin = %plugin.display(), "plugin hash from the verified-hash cache");
            (hash.to_string(), false)
        }
        None => {
            let t = Instant::now();
            let hash = sha256_reader(&file).map_err(io)?;
            tracing::debug!(plugin = %plugin.display(), bytes = meta.len(), elapsed_ms = t.elapsed().as_millis() as u64, "plugin hashed");
            (hash, true)
        }
    };
    approved(&lock, prefix, &platform(), plugin, &lock_path, &actual)?;
    // Cached only if the file did not change while it was read, and not so recently that a
    // change could still hide in the timestamps' granularity.
    let learned = key
        .filter(|_| computed)
        .filter(|k| {
            file.metadata()
                .is_ok_and(|now| Key::of(plugin, &now).as_ref() == Some(k))
        })
        .filter(|k| !k.is_racy(SystemTime::now()))
        .map(|k| (k, actual));
    Ok(Verified {
        prefix: prefix.to_string(),
        program: Program::opened(plugin, file).map_err(io)?,
        status: Status::Locked,
        warnings,
        learned,
    })
}

/// The lock's entry for `prefix` on `platform`, if it approves a file whose hash is `actual`.
fn approved<'l>(
    lock: &'l Lock,
    prefix: &str,
    platform: &str,
    plugin: &Path,
    lock_path: &Path,
    actual: &str,
) -> Result<&'l Entry, IntegrityError> {
    match lock.get(prefix, platform) {
        None => Err(IntegrityError::NotLocked {
            plugin: plugin.to_path_buf(),
            lock: lock_path.to_path_buf(),
            actual: actual.to_string(),
        }),
        Some(e) if e.sha256 != actual => Err(IntegrityError::Mismatch {
            plugin: plugin.to_path_buf(),
            lock: lock_path.to_path_buf(),
            expected: e.sha256.clone(),
            actual: actual.to_string(),
        }),
        Some(e) => Ok(e),
    }
}

/// A WASI module cleared to run: the bytes that were hashed, which are what gets compiled (the
/// file may change after the check without effect), and what its lock line grants it.
#[derive(Debug)]
// Without the `wasi` feature a module is refused once found, and nothing reads the rest.
#[cfg_attr(not(feature = "wasi"), allow(dead_code))]
pub(crate) struct VerifiedModule {
    /// The prefix it was wanted for.
    pub(crate) prefix: String,
    /// The module file.
    pub(crate) path: PathBuf,
    /// Its contents.
    pub(crate) bytes: Vec<u8>,
    /// What the lock grants it; nothing without a lock.
    pub(crate) grants: Vec<Grant>,
    /// How it stands against its lock.
    pub(crate) status: Status,
    /// Things to tell the user (group-writable files).
    pub(crate) warnings: Vec<String>,
}

/// [`verify`] for a WASI module: the same permission and lock checks against its `wasm` lock
/// line. A module is always read whole, since it is compiled from memory; without a lock it runs
/// with no grants.
pub(crate) fn verify_module(
    prefix: &str,
    module: &Path,
    require_lock: bool,
) -> Result<VerifiedModule, IntegrityError> {
    let warnings = check_permissions(module)?;
    let io = |e: std::io::Error| IntegrityError::Io {
        path: module.to_path_buf(),
        reason: e.to_string(),
    };
    let (mut file, meta) = open_plugin(module).map_err(io)?;
    check_opened_mode(module, &meta)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut bytes).map_err(io)?;
    let lock_path = configmanager_dir(module).map(|d| d.join(LOCK_FILE));
    let lock = match &lock_path {
        Some(path) => Lock::read(path)?,
        None => None,
    };
    let (grants, status) = match (lock, lock_path) {
        (Some(lock), Some(lock_path)) => {
            let actual = sha256_bytes(&bytes);
            let entry = approved(&lock, prefix, WASM_PLATFORM, module, &lock_path, &actual)?;
            (entry.grants.clone(), Status::Locked)
        }
        (None, Some(lock)) if require_lock => {
            return Err(IntegrityError::LockRequired {
                plugin: module.to_path_buf(),
                lock,
            });
        }
        _ => (Vec::new(), Status::NoLock),
    };
    Ok(VerifiedModule {
        prefix: prefix.to_string(),
        path: module.to_path_buf(),
        bytes,
        grants,
        status,
        warnings,
    })
}

/// Refuses an opened file that any user may write: the path may have been swapped since its
/// permissions were checked.
fn check_opened_mode(plugin: &Path, meta: &std::fs::Metadata) -> Result<(), IntegrityError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o002 != 0 {
            return Err(IntegrityError::WorldWritable {
                path: plugin.to_path_buf(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = (plugin, meta);
    Ok(())
}

/// Opens a plugin read-only and close-on-exec (std's default), without blocking on a FIFO
/// planted at its path, and checks what was opened: a regular file nobody else may write.
fn open_plugin(plugin: &Path) -> std::io::Result<(File, std::fs::Metadata)> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(plugin)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok((file, meta))
}

/// [`verify`] for every plugin a run needs, concurrently (hashing is the slow part), with one
/// verified-hash cache read from `cache_dir` before and written back after. Returns every
/// plugin, in the order given, or every refusal.
pub(crate) fn verify_all(
    wanted: &[(String, PathBuf)],
    require_lock: bool,
    cache_dir: Option<&Path>,
) -> Result<Vec<Verified>, Vec<IntegrityError>> {
    let mut cache = HashCache::load(cache_dir);
    let results: Vec<Result<Verified, IntegrityError>> = if wanted.len() < 2 {
        wanted
            .iter()
            .map(|(prefix, path)| verify(prefix, path, require_lock, &cache))
            .collect()
    } else {
        let cache = &cache;
        std::thread::scope(|scope| {
            let threads: Vec<_> = wanted
                .iter()
                .map(|(prefix, path)| {
                    scope.spawn(move || verify(prefix, path, require_lock, cache))
                })
                .collect();
            threads
                .into_iter()
                .map(|t| {
                    t.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    };
    let mut verified = Vec::with_capacity(results.len());
    let mut refused = Vec::new();
    for r in results {
        match r {
            Ok(mut v) => {
                if let Some((key, hash)) = v.learned.take() {
                    cache.insert(key, hash);
                }
                verified.push(v);
            }
            Err(e) => refused.push(e),
        }
    }
    if let Err(e) = cache.save() {
        tracing::debug!("verified-hash cache not written: {e}");
    }
    if refused.is_empty() {
        Ok(verified)
    } else {
        Err(refused)
    }
}

/// Refuses a world-writable plugin file or plugin folder; warns when group-writable.
fn check_permissions(plugin: &Path) -> Result<Vec<String>, IntegrityError> {
    let mut warnings = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut paths = vec![plugin.to_path_buf()];
        if let Some(dir) = plugin.parent() {
            paths.push(dir.to_path_buf());
        }
        for p in paths {
            let meta = std::fs::metadata(&p).map_err(|e| IntegrityError::Io {
                path: p.clone(),
                reason: e.to_string(),
            })?;
            let mode = meta.permissions().mode() & 0o7777;
            // A sticky world-writable folder (like /tmp) still lets anyone add files; refuse it too.
            if mode & 0o002 != 0 {
                return Err(IntegrityError::WorldWritable { path: p, mode });
            }
            if mode & 0o020 != 0 {
                warnings.push(format!("{} is group-writable (mode {mode:o}); members of its group could replace the plugin", p.display()));
            }
        }
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn none() -> HashCache {
        HashCache::disabled()
    }

    const H1: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn parse_and_print_round_trip() {
        let text = format!(
            "# comment\n\nVAULT linux-amd64 sha256:{}\nawsparamstr linux-arm64 sha256:{H1}\n",
            H1.to_uppercase()
        );
        let lock = Lock::parse(&text, Path::new("l")).unwrap();
        assert_eq!(lock.entries.len(), 2);
        assert_eq!(lock.entries[0].prefix, "awsparamstr");
        assert_eq!(lock.get("VAULT", "linux-amd64").unwrap().sha256, H1);
        let printed = lock.to_string();
        assert_eq!(Lock::parse(&printed, Path::new("l")).unwrap(), lock);
        assert!(printed.ends_with(&format!("vault linux-amd64 sha256:{H1}\n")));
    }

    #[test]
    fn malformed_lines_are_named() {
        let e = Lock::parse("a linux-amd64 sha256:12\n", Path::new("x.lock")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.lock:1: expected sha256: and 64 hex digits, found \"sha256:12\""
        );
        let e = Lock::parse("# c\nonly two\n", Path::new("x.lock")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("x.lock:2: expected `PREFIX OS-ARCH sha256:HEX`"),
            "{e}"
        );
    }

    #[test]
    fn wasm_lines_carry_grants_in_a_normal_order() {
        let h = "ab".repeat(32);
        let text =
            format!("v wasm sha256:{h} allow-env=B allow-host=x:1 allow-env=A allow-env=B\n");
        let lock = Lock::parse(&text, Path::new("x.lock")).unwrap();
        assert_eq!(
            lock.get("V", WASM_PLATFORM).unwrap().grants,
            [
                Grant::Host("x:1".into()),
                Grant::Env("A".into()),
                Grant::Env("B".into())
            ]
        );
        assert_eq!(
            lock.to_string(),
            format!("{HEADER}v wasm sha256:{h} allow-host=x:1 allow-env=A allow-env=B\n")
        );
        let err = |line: String| {
            Lock::parse(&line, Path::new("x.lock"))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(format!("v linux-amd64 sha256:{h} allow-env=A\n")),
            "x.lock:1: grants (allow-env=A) apply only to WASI modules (`wasm` lines)"
        );
        assert_eq!(
            err(format!("v wasm sha256:{h} allow-net=x\n")),
            "x.lock:1: unknown grant \"allow-net\" (expected allow-host or allow-env)"
        );
        assert_eq!(
            err(format!("v wasm sha256:{h} allow-env=\n")),
            "x.lock:1: expected allow-host=HOST[:PORT] or allow-env=NAME, found \"allow-env=\""
        );
    }

    #[test]
    fn a_module_is_read_whole_and_checked_against_its_wasm_line() {
        let dir = tempfile::tempdir().unwrap();
        let module = dir.path().join(".configmanager/plugins/m/m.wasm");
        std::fs::create_dir_all(module.parent().unwrap()).unwrap();
        std::fs::write(&module, b"\0asm-module").unwrap();
        let unlocked = verify_module("m", &module, false).unwrap();
        assert_eq!(
            (
                unlocked.bytes.as_slice(),
                unlocked.status,
                unlocked.grants.len()
            ),
            (&b"\0asm-module"[..], Status::NoLock, 0)
        );
        assert!(matches!(
            verify_module("m", &module, true),
            Err(IntegrityError::LockRequired { .. })
        ));
        let mut lock = Lock::default();
        lock.set(Entry {
            prefix: "m".into(),
            platform: WASM_PLATFORM.into(),
            sha256: sha256_bytes(b"\0asm-module"),
            grants: vec![Grant::Env("X".into())],
        });
        std::fs::write(
            dir.path().join(".configmanager").join(LOCK_FILE),
            lock.to_string(),
        )
        .unwrap();
        let locked = verify_module("m", &module, true).unwrap();
        assert_eq!(
            (locked.status, locked.grants),
            (Status::Locked, vec![Grant::Env("X".into())])
        );
        std::fs::write(&module, b"\0asm-modulE").unwrap();
        assert!(matches!(
            verify_module("m", &module, false),
            Err(IntegrityError::Mismatch { .. })
        ));
    }

    #[test]
    fn set_replaces() {
        let mut lock = Lock::default();
        lock.set(Entry {
            prefix: "a".into(),
            platform: "p".into(),
            sha256: "1".into(),
            grants: Vec::new(),
        });
        lock.set(Entry {
            prefix: "a".into(),
            platform: "p".into(),
            sha256: "2".into(),
            grants: Vec::new(),
        });
        assert_eq!(lock.entries.len(), 1);
        assert_eq!(lock.entries[0].sha256, "2");
    }

    #[test]
    fn sha256_of_a_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, "test").unwrap();
        assert_eq!(sha256_file(&p).unwrap(), H1);
    }

    fn install(dir: &Path, prefix: &str, contents: &[u8]) -> PathBuf {
        let p = super::super::discover::plugin_path(dir, prefix);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, contents).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(p.parent().unwrap(), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        p
    }

    #[test]
    fn verify_against_the_lock() {
        let d = tempfile::tempdir().unwrap();
        let p = install(d.path(), "echo", b"binary");
        assert_eq!(
            verify("ECHO", &p, false, &none()).unwrap().status,
            Status::NoLock
        );
        assert!(matches!(
            verify("ECHO", &p, true, &none()),
            Err(IntegrityError::LockRequired { .. })
        ));
        let lock_path = d.path().join(".configmanager").join(LOCK_FILE);
        let mut lock = Lock::default();
        lock.set(Entry {
            prefix: "other".into(),
            platform: platform(),
            sha256: H1.into(),
            grants: Vec::new(),
        });
        std::fs::write(&lock_path, lock.to_string()).unwrap();
        assert!(matches!(
            verify("ECHO", &p, false, &none()),
            Err(IntegrityError::NotLocked { .. })
        ));
        lock.set(Entry {
            prefix: "echo".into(),
            platform: platform(),
            sha256: sha256_file(&p).unwrap(),
            grants: Vec::new(),
        });
        std::fs::write(&lock_path, lock.to_string()).unwrap();
        assert_eq!(
            verify("ECHO", &p, true, &none()).unwrap().status,
            Status::Locked
        );
        // One byte changed.
        std::fs::write(&p, b"binarY").unwrap();
        let e = verify("ECHO", &p, false, &none()).unwrap_err();
        let expected = lock.get("echo", &platform()).unwrap().sha256.clone();
        assert!(matches!(&e, IntegrityError::Mismatch { expected: x, .. } if *x == expected));
        let msg = e.to_string();
        assert!(
            msg.contains(&expected) && msg.contains(&sha256_file(&p).unwrap()),
            "{msg}"
        );
    }

    #[test]
    fn world_writable_is_refused_group_writable_warned() {
        let d = tempfile::tempdir().unwrap();
        let p = install(d.path(), "echo", b"binary");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o775)).unwrap();
        let warnings = verify("ECHO", &p, false, &none()).unwrap().warnings;
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o757)).unwrap();
        let e = verify("ECHO", &p, false, &none()).unwrap_err();
        assert!(e.to_string().contains("world-writable (mode 757)"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(p.parent().unwrap(), std::fs::Permissions::from_mode(0o777))
            .unwrap();
        assert!(matches!(
            verify("ECHO", &p, false, &none()),
            Err(IntegrityError::WorldWritable { .. })
        ));
    }

    #[test]
    fn only_a_locked_plugin_is_opened_and_it_is_what_runs() {
        let d = tempfile::tempdir().unwrap();
        let p = install(d.path(), "echo", b"binary");
        let v = verify("ECHO", &p, false, &none()).unwrap();
        assert!(v.program.file().is_none());
        assert_eq!(v.program.path(), p);
        let mut lock = Lock::default();
        lock.set(Entry {
            prefix: "echo".into(),
            platform: platform(),
            sha256: sha256_bytes(b"binary"),
            grants: Vec::new(),
        });
        std::fs::write(
            d.path().join(".configmanager").join(LOCK_FILE),
            lock.to_string(),
        )
        .unwrap();
        let v = verify("ECHO", &p, false, &none()).unwrap();
        assert_eq!(v.status, Status::Locked);
        let file = v.program.file().expect("the checked file is kept open");
        // Replacing the path afterwards does not change what was opened.
        let other = d.path().join("other");
        std::fs::write(&other, b"evil").unwrap();
        std::fs::rename(&other, &p).unwrap();
        use std::os::unix::fs::FileExt;
        let mut head = [0u8; 6];
        file.read_at(&mut head, 0).unwrap();
        assert_eq!(&head, b"binary");
    }

    #[test]
    fn the_cache_is_looked_up_by_the_open_files_key_and_misses_a_replaced_file() {
        let d = tempfile::tempdir().unwrap();
        let p = install(d.path(), "echo", b"binary");
        let real = sha256_bytes(b"binary");
        let mut lock = Lock::default();
        lock.set(Entry {
            prefix: "echo".into(),
            platform: platform(),
            sha256: real.clone(),
            grants: Vec::new(),
        });
        std::fs::write(
            d.path().join(".configmanager").join(LOCK_FILE),
            lock.to_string(),
        )
        .unwrap();
        // A cache entry for exactly this file claims another hash: verify must believe it, which
        // shows the file was not read.
        let cache_dir = d.path().join("cache");
        let mut cache = HashCache::load(Some(&cache_dir));
        let key = Key::of(&p, &std::fs::metadata(&p).unwrap()).unwrap();
        cache.insert(key, H1.into());
        let e = verify("ECHO", &p, false, &cache).unwrap_err();
        assert!(
            matches!(&e, IntegrityError::Mismatch { actual, .. } if actual == H1),
            "{e}"
        );
        // The same bytes under a new inode: the entry no longer applies, the file is hashed.
        let copy = d.path().join("copy");
        std::fs::write(&copy, b"binary").unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&copy, &p).unwrap();
        let v = verify("ECHO", &p, false, &cache).unwrap();
        assert_eq!(v.status, Status::Locked);
        // Freshly written, so too recent to be cached (see `Key::is_racy`).
        assert!(v.learned.is_none());
    }

    #[test]
    fn verify_all_reports_every_refusal_in_order() {
        let d = tempfile::tempdir().unwrap();
        let a = install(d.path(), "a", b"one");
        let b = install(d.path(), "b", b"two");
        let c = install(d.path(), "c", b"three");
        std::fs::set_permissions(&c, std::fs::Permissions::from_mode(0o757)).unwrap();
        let wanted = vec![
            ("A".to_string(), a.clone()),
            ("B".to_string(), b.clone()),
            ("C".to_string(), c.clone()),
        ];
        let errors = verify_all(&wanted, true, None).unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(matches!(&errors[0], IntegrityError::LockRequired { plugin, .. } if *plugin == a));
        assert!(matches!(&errors[1], IntegrityError::LockRequired { plugin, .. } if *plugin == b));
        assert!(matches!(&errors[2], IntegrityError::WorldWritable { .. }));
        std::fs::set_permissions(&c, std::fs::Permissions::from_mode(0o755)).unwrap();
        let ok = verify_all(&wanted, false, None).unwrap();
        let prefixes: Vec<&str> = ok.iter().map(|v| v.prefix.as_str()).collect();
        assert_eq!(prefixes, ["A", "B", "C"]);
    }
}
