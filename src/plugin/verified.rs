//! The verified-hash cache: SHA-256 hashes of plugin binaries that matched their lock file,
//! keyed by what the kernel says about the open file (device, inode, size, mtime, ctime) and its
//! path, so a repeat run re-hashes only a file that changed.
//!
//! The cache is one text file, `verified-plugins`, in cm's cache folder (`CM_CACHE_DIR`, else
//! the user's cache folder + `cm`). It is read only when it is a regular file owned by the
//! current user and not accessible to group or others, and written atomically with mode 0600.
//! Anything unexpected (another owner, a wider mode, a line that does not parse) makes cm ignore
//! the whole file: the cache can only save work, never approve a plugin on its own. The threat
//! model is in the README ("Integrity cache").
//!
//! This module does no hashing and knows nothing about lock files.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The cache file's name inside the cache folder.
pub(crate) const CACHE_FILE: &str = "verified-plugins";

const HEADER: &str = "# cm verified plugin hashes v1: DEV INODE SIZE MTIME CTIME SHA256 PATH\n";

/// Entries kept at most; the oldest go first.
const MAX_ENTRIES: usize = 256;

/// A cache file larger than this is not a cache cm wrote.
const MAX_FILE_SIZE: u64 = 1 << 20;

/// A file changed this recently is not cached: an in-place write within the timestamp
/// granularity of the file system could leave mtime and ctime as they were when it was hashed.
const RACY_WINDOW: Duration = Duration::from_secs(2);

/// What identifies the bytes of one open file: as long as none of it changes, neither did they.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    /// Device of the file system.
    pub(crate) dev: u64,
    /// Inode number.
    pub(crate) ino: u64,
    /// Size in bytes.
    pub(crate) size: u64,
    /// Modification time, seconds and nanoseconds.
    pub(crate) mtime: (i64, i64),
    /// Inode change time, seconds and nanoseconds.
    pub(crate) ctime: (i64, i64),
    /// The path the plugin was found at.
    pub(crate) path: PathBuf,
}

impl Key {
    /// The key of an open file from its own metadata (fstat); `None` where the platform has no
    /// inode change time (the cache is then never used).
    pub(crate) fn of(path: &Path, meta: &Metadata) -> Option<Key> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(Key {
                dev: meta.dev(),
                ino: meta.ino(),
                size: meta.size(),
                mtime: (meta.mtime(), meta.mtime_nsec()),
                ctime: (meta.ctime(), meta.ctime_nsec()),
                path: path.to_path_buf(),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = (path, meta);
            None
        }
    }

    /// True when mtime or ctime lies within [`RACY_WINDOW`] of `now` (or in the future): such a
    /// file may still change without its key changing.
    pub(crate) fn is_racy(&self, now: SystemTime) -> bool {
        let Ok(now) = now.duration_since(SystemTime::UNIX_EPOCH) else {
            return true;
        };
        let limit = now.saturating_sub(RACY_WINDOW);
        [self.mtime, self.ctime].iter().any(|&(s, ns)| {
            let t = u64::try_from(s).map_or(Duration::ZERO, |s| {
                Duration::new(s, u32::try_from(ns).unwrap_or(0))
            });
            t >= limit
        })
    }

    fn to_line(&self, sha256: &str) -> Option<String> {
        let path = self.path.to_str().filter(|p| !p.contains(['\n', '\r']))?;
        Some(format!(
            "{} {} {} {}.{:09} {}.{:09} {sha256} {path}\n",
            self.dev, self.ino, self.size, self.mtime.0, self.mtime.1, self.ctime.0, self.ctime.1
        ))
    }

    fn parse_line(line: &str) -> Option<(Key, String)> {
        let mut fields = line.splitn(7, ' ');
        let mut next = || fields.next();
        let dev = next()?.parse().ok()?;
        let ino = next()?.parse().ok()?;
        let size = next()?.parse().ok()?;
        let mtime = parse_time(next()?)?;
        let ctime = parse_time(next()?)?;
        let sha256 = next()?;
        let path = next()?;
        if sha256.len() != 64
            || !sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            || path.is_empty()
        {
            return None;
        }
        Some((
            Key {
                dev,
                ino,
                size,
                mtime,
                ctime,
                path: PathBuf::from(path),
            },
            sha256.to_string(),
        ))
    }
}

fn parse_time(s: &str) -> Option<(i64, i64)> {
    let (secs, nanos) = s.split_once('.')?;
    let nanos: i64 = nanos.parse().ok()?;
    if !(0..1_000_000_000).contains(&nanos) {
        return None;
    }
    Some((secs.parse().ok()?, nanos))
}

/// Why the cache file was not used or not written (logged at debug level; never fatal).
#[derive(Debug, thiserror::Error)]
pub(crate) enum CacheError {
    /// Reading or writing failed.
    #[error("{}: {reason}", path.display())]
    Io {
        /// The cache file or folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file is not private to this user.
    #[error("{}: ignored: {reason}", path.display())]
    Untrusted {
        /// The cache file.
        path: PathBuf,
        /// Owner or mode, in words.
        reason: String,
    },
    /// The file does not parse.
    #[error("{}: ignored: not a cache file cm wrote (line {line})", path.display())]
    Corrupt {
        /// The cache file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
    },
}

/// The cache as read at the start of a run, plus what the run verified.
#[derive(Debug, Default)]
pub(crate) struct HashCache {
    /// The cache file; `None`: no cache (no cache folder known, or not on this platform).
    file: Option<PathBuf>,
    /// Oldest first.
    entries: Vec<(Key, String)>,
    changed: bool,
}

impl HashCache {
    /// A cache that remembers nothing and writes nothing.
    pub(crate) fn disabled() -> HashCache {
        HashCache::default()
    }

    /// The cache in `dir` (`None`: disabled). A missing, untrusted or corrupt file gives an
    /// empty cache (the reason is logged at debug level); it is replaced on the next write.
    pub(crate) fn load(dir: Option<&Path>) -> HashCache {
        let Some(dir) = dir.filter(|_| cfg!(unix)) else {
            return HashCache::disabled();
        };
        let file = dir.join(CACHE_FILE);
        let entries = match read_entries(&file) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::debug!("verified-hash cache {e}");
                Vec::new()
            }
        };
        HashCache {
            file: Some(file),
            entries,
            changed: false,
        }
    }

    /// The hash recorded for exactly this key.
    pub(crate) fn get(&self, key: &Key) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, h)| h.as_str())
    }

    /// Records that the file with `key` has `sha256` (and approved by its lock). An entry for
    /// the same path with another key is dropped: that file is gone or changed.
    pub(crate) fn insert(&mut self, key: Key, sha256: String) {
        if self.file.is_none() || self.get(&key) == Some(sha256.as_str()) {
            return;
        }
        self.entries.retain(|(k, _)| k.path != key.path);
        self.entries.push((key, sha256));
        if self.entries.len() > MAX_ENTRIES {
            let excess = self.entries.len() - MAX_ENTRIES;
            self.entries.drain(..excess);
        }
        self.changed = true;
    }

    /// Writes the cache back if this run added to it: folder created 0700, file replaced
    /// atomically with mode 0600.
    pub(crate) fn save(&self) -> Result<(), CacheError> {
        let Some(file) = self.file.as_deref().filter(|_| self.changed) else {
            return Ok(());
        };
        let dir = file.parent().expect("the cache file is inside its folder");
        let io = |path: &Path, e: std::io::Error| CacheError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|e| io(dir, e))?;
        let mut text = String::from(HEADER);
        for (key, sha256) in &self.entries {
            if let Some(line) = key.to_line(sha256) {
                text.push_str(&line);
            }
        }
        crate::atomic::write_atomic_with_mode(file, text.as_bytes(), 0o600).map_err(|e| io(file, e))
    }
}

/// Reads the cache file, refusing one this user does not own alone.
fn read_entries(path: &Path) -> Result<Vec<(Key, String)>, CacheError> {
    use std::io::Read;
    let io = |e: std::io::Error| CacheError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        // Not through a symlink, and never block on a FIFO planted at the path.
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let meta = file.metadata().map_err(io)?;
    check_private(&meta).map_err(|reason| CacheError::Untrusted {
        path: path.to_path_buf(),
        reason,
    })?;
    let mut text = String::new();
    file.take(MAX_FILE_SIZE)
        .read_to_string(&mut text)
        .map_err(io)?;
    let corrupt = |line: usize| CacheError::Corrupt {
        path: path.to_path_buf(),
        line,
    };
    let mut lines = text.split_inclusive('\n').enumerate();
    match lines.next() {
        Some((_, h)) if h == HEADER => {}
        _ => return Err(corrupt(1)),
    }
    lines
        .map(|(i, line)| {
            line.strip_suffix('\n')
                .and_then(Key::parse_line)
                .ok_or_else(|| corrupt(i + 1))
        })
        .collect()
}

/// The cache file must be a regular file owned by the effective user, with no group or other
/// permission bits.
fn check_private(meta: &Metadata) -> Result<(), String> {
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid cannot fail and touches no memory.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(format!("owned by uid {}, not by uid {me}", meta.uid()));
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "mode {mode:o} lets others read or write it (want 600)"
            ));
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const H: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn key(path: &str, ino: u64) -> Key {
        Key {
            dev: 2049,
            ino,
            size: 4096,
            mtime: (1_700_000_000, 5),
            ctime: (1_700_000_001, 999_999_999),
            path: PathBuf::from(path),
        }
    }

    #[test]
    fn round_trip_through_the_file() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("cm");
        let mut c = HashCache::load(Some(&dir));
        assert_eq!(c.get(&key("/p/a b", 1)), None);
        c.insert(key("/p/a b", 1), H.into());
        c.insert(key("/p/c", 2), H.replace('9', "0"));
        c.save().unwrap();
        let file = dir.join(CACHE_FILE);
        let meta = std::fs::metadata(&file).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let c = HashCache::load(Some(&dir));
        assert_eq!(c.get(&key("/p/a b", 1)), Some(H));
        assert_eq!(c.get(&key("/p/c", 2)), Some(H.replace('9', "0").as_str()));
    }

    #[test]
    fn any_difference_in_the_key_misses() {
        let d = tempfile::tempdir().unwrap();
        let mut c = HashCache::load(Some(d.path()));
        let k = key("/p/a", 1);
        c.insert(k.clone(), H.into());
        c.save().unwrap();
        let c = HashCache::load(Some(d.path()));
        assert_eq!(c.get(&k), Some(H));
        let variants = [
            Key {
                dev: 1,
                ..k.clone()
            },
            Key {
                ino: 2,
                ..k.clone()
            },
            Key {
                size: 4097,
                ..k.clone()
            },
            Key {
                mtime: (1_700_000_000, 6),
                ..k.clone()
            },
            Key {
                ctime: (1_700_000_002, 999_999_999),
                ..k.clone()
            },
            Key {
                path: "/p/b".into(),
                ..k.clone()
            },
        ];
        for v in variants {
            assert_eq!(c.get(&v), None, "{v:?}");
        }
    }

    #[test]
    fn a_new_key_for_a_path_replaces_the_old_one() {
        let d = tempfile::tempdir().unwrap();
        let mut c = HashCache::load(Some(d.path()));
        c.insert(key("/p/a", 1), H.into());
        c.insert(key("/p/a", 2), H.into());
        assert_eq!(c.get(&key("/p/a", 1)), None);
        assert_eq!(c.get(&key("/p/a", 2)), Some(H));
        for i in 0..(MAX_ENTRIES as u64 + 10) {
            c.insert(key(&format!("/q/{i}"), i), H.into());
        }
        assert_eq!(c.entries.len(), MAX_ENTRIES);
        assert_eq!(c.get(&key("/q/0", 0)), None);
    }

    fn saved(dir: &Path) -> PathBuf {
        let mut c = HashCache::load(Some(dir));
        c.insert(key("/p/a", 1), H.into());
        c.save().unwrap();
        dir.join(CACHE_FILE)
    }

    #[test]
    fn a_file_others_can_read_or_write_is_ignored() {
        let d = tempfile::tempdir().unwrap();
        let file = saved(d.path());
        for mode in [0o640, 0o604, 0o620, 0o602, 0o660] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            let c = HashCache::load(Some(d.path()));
            assert_eq!(c.get(&key("/p/a", 1)), None, "mode {mode:o}");
            let e = read_entries(&file).unwrap_err();
            assert!(e.to_string().contains(&format!("mode {mode:o}")), "{e}");
        }
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(
            HashCache::load(Some(d.path())).get(&key("/p/a", 1)),
            Some(H)
        );
    }

    #[test]
    fn a_file_of_another_owner_is_ignored() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let file = saved(d.path());
        let mut meta = std::fs::metadata(&file).unwrap();
        assert!(check_private(&meta).is_ok());
        // Root can hand the file to someone else; otherwise use a file root owns, if readable.
        // SAFETY: plain syscalls on a path we own.
        let root = unsafe { libc::geteuid() } == 0;
        if root {
            let c = std::ffi::CString::new(file.as_os_str().as_encoded_bytes()).unwrap();
            assert_eq!(unsafe { libc::chown(c.as_ptr(), 65534, 65534) }, 0);
            meta = std::fs::metadata(&file).unwrap();
            assert_eq!(meta.uid(), 65534);
            assert_eq!(HashCache::load(Some(d.path())).get(&key("/p/a", 1)), None);
        } else {
            meta = std::fs::metadata("/").unwrap();
        }
        let e = check_private(&meta).unwrap_err();
        assert!(e.contains("owned by uid"), "{e}");
    }

    #[test]
    fn a_symlink_or_folder_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let real = tempfile::tempdir().unwrap();
        let target = saved(real.path());
        std::os::unix::fs::symlink(&target, d.path().join(CACHE_FILE)).unwrap();
        assert_eq!(HashCache::load(Some(d.path())).get(&key("/p/a", 1)), None);
        let e = tempfile::tempdir().unwrap();
        std::fs::create_dir(e.path().join(CACHE_FILE)).unwrap();
        assert!(read_entries(&e.path().join(CACHE_FILE)).is_err());
    }

    #[test]
    fn a_corrupt_file_is_ignored_whole_and_replaced() {
        let d = tempfile::tempdir().unwrap();
        let file = saved(d.path());
        let good = std::fs::read_to_string(&file).unwrap();
        let cases = [
            String::new(),
            "garbage\n".to_string(),
            format!("{good}2049 1 4096 1.0 1.0 {H}\n"),
            format!("{good}2049 x 4096 1.0 1.0 {H} /p\n"),
            format!("{good}2049 1 4096 1 1.0 {H} /p\n"),
            format!("{good}2049 1 4096 1.0 1.0 {} /p\n", &H[1..]),
            format!("{good}2049 1 4096 1.0 1.0 {} /p\n", H.to_uppercase()),
            good.trim_end().to_string(),
            good.replace("v1", "v2"),
        ];
        for text in cases {
            std::fs::write(&file, &text).unwrap();
            let c = HashCache::load(Some(d.path()));
            assert_eq!(c.get(&key("/p/a", 1)), None, "{text:?}");
            assert!(
                matches!(read_entries(&file), Err(CacheError::Corrupt { .. })),
                "{text:?}"
            );
        }
        // The next write replaces it with a good file.
        let mut c = HashCache::load(Some(d.path()));
        c.insert(key("/p/z", 9), H.into());
        c.save().unwrap();
        let c = HashCache::load(Some(d.path()));
        assert_eq!(c.get(&key("/p/z", 9)), Some(H));
    }

    #[test]
    fn disabled_remembers_nothing_and_writes_nothing() {
        let mut c = HashCache::disabled();
        c.insert(key("/p/a", 1), H.into());
        assert_eq!(c.get(&key("/p/a", 1)), None);
        c.save().unwrap();
        // Loading without writing leaves no file behind.
        let d = tempfile::tempdir().unwrap();
        HashCache::load(Some(&d.path().join("cm"))).save().unwrap();
        assert!(!d.path().join("cm").exists());
    }

    #[test]
    fn recent_changes_are_racy() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_100);
        let mut k = key("/p/a", 1);
        assert!(!k.is_racy(now));
        k.ctime = (1_700_000_099, 0);
        assert!(k.is_racy(now));
        k.ctime = (1_700_000_000, 0);
        k.mtime = (1_800_000_000, 0);
        assert!(k.is_racy(now));
    }
}
