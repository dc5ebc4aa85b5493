//! Atomic file replacement: the only code in cm that writes output files.
//!
//! [`write_atomic`] writes the whole new content to a temporary file next to the target and
//! renames it over the target, so a reader (or a crash) sees either the old file or the new one,
//! never a mix, and a failed run leaves the old file untouched. That is also what makes
//! `-i F -p F` safe: the input is read completely before F is replaced.
//!
//! This module knows nothing about tokens or formats; it takes bytes.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::path::Path;

/// Mode of a newly created output file: it holds secrets, so only the owner may read it.
#[cfg(unix)]
pub(crate) const NEW_FILE_MODE: u32 = 0o600;

/// Replaces `path` with `contents`, atomically.
///
/// Steps, and why:
/// 1. Create a temporary file in the target's own directory (a rename is only atomic within
///    one filesystem), readable by the owner only from the moment it exists, since it is about
///    to hold secrets.
/// 2. Write everything and `fsync` it, so the rename cannot publish a file whose data is still
///    only in the page cache.
/// 3. If the target already is a regular file, give the temporary file the target's permission
///    bits, so rewriting a 0644 file keeps it 0644. Otherwise (new file, or a symlink at the
///    path) the mode is 0600, whatever the umask.
/// 4. Rename over the target. A symlink at the target path is replaced by the new file, never
///    followed: cm never writes through a link into a file elsewhere.
/// 5. `fsync` the directory so the rename itself survives a crash (best effort: some
///    filesystems refuse to sync a directory, and the data is already safe).
///
/// On any error the target is untouched and the temporary file is removed.
///
/// Not preserved: the owner and group of an existing file (the new file belongs to whoever
/// runs cm), extended attributes and ACLs, and hard links (other names of the old file keep the
/// old content). On non-Unix systems the permission steps are skipped.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    replace(path, contents, target_mode(path)?)
}

/// As [`write_atomic`], but the new file gets exactly `mode` (e.g. 0755 for an installed plugin,
/// 0644 for a lock file meant to be committed), whatever the old file had.
pub(crate) fn write_atomic_with_mode(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    let mode = Some(permissions(mode));
    #[cfg(not(unix))]
    let mode = {
        let _ = mode;
        None
    };
    replace(path, contents, mode)
}

fn replace(path: &Path, contents: &[u8], mode: Option<Permissions>) -> io::Result<()> {
    let dir = parent_dir(path);

    let mut builder = tempfile::Builder::new();
    let prefix = match path.file_name() {
        Some(name) => format!(".{}.", name.to_string_lossy()),
        None => ".cm.".to_string(),
    };
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(permissions(NEW_FILE_MODE));
    // From here on, dropping `tmp` (on any early return) deletes the temporary file.
    let mut tmp = builder.tempfile_in(dir)?;

    tmp.write_all(contents)?;
    if let Some(mode) = mode {
        // Also applied for 0600 itself: the mode given at creation is reduced by the umask.
        tmp.as_file().set_permissions(mode)?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;

    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The directory that holds `path`: a bare file name (`app.env`) lives in the current one.
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// The permissions the new file must end up with, or `None` where there is nothing to set.
fn target_mode(path: &Path) -> io::Result<Option<Permissions>> {
    // `symlink_metadata`: look at the path itself, not at what a symlink points to.
    let existing = match fs::symlink_metadata(path) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match existing {
            Some(meta) if meta.file_type().is_file() => meta.permissions().mode() & 0o7777,
            _ => NEW_FILE_MODE,
        };
        Ok(Some(permissions(mode)))
    }
    #[cfg(not(unix))]
    {
        let _ = existing;
        Ok(None)
    }
}

#[cfg(unix)]
fn permissions(mode: u32) -> Permissions {
    use std::os::unix::fs::PermissionsExt;
    Permissions::from_mode(mode)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn new_file_is_0600_with_the_contents() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("app.env");
        write_atomic(&target, b"export A='1'\n").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"export A='1'\n");
        assert_eq!(mode(&target), 0o600);
        assert_eq!(entries(dir.path()), ["app.env"]);
    }

    #[test]
    fn existing_file_keeps_its_mode_and_gets_new_contents() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("app.env");
        for m in [0o644, 0o640, 0o400] {
            fs::write(&target, b"old").unwrap();
            fs::set_permissions(&target, Permissions::from_mode(m)).unwrap();
            write_atomic(&target, b"new contents").unwrap();
            assert_eq!(fs::read(&target).unwrap(), b"new contents");
            assert_eq!(mode(&target), m);
            fs::set_permissions(&target, Permissions::from_mode(0o600)).unwrap();
        }
        assert_eq!(entries(dir.path()), ["app.env"]);
    }

    #[test]
    fn temp_file_goes_next_to_the_target() {
        assert_eq!(parent_dir(Path::new("app.env")), Path::new("."));
        assert_eq!(parent_dir(Path::new("./app.env")), Path::new("."));
        assert_eq!(parent_dir(Path::new("out/app.env")), Path::new("out"));
        assert_eq!(parent_dir(Path::new("/etc/app.env")), Path::new("/etc"));
    }

    #[test]
    fn symlink_at_target_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere.txt");
        fs::write(&elsewhere, b"precious").unwrap();
        fs::set_permissions(&elsewhere, Permissions::from_mode(0o644)).unwrap();
        let target = dir.path().join("app.env");
        symlink(&elsewhere, &target).unwrap();

        write_atomic(&target, b"secret").unwrap();

        assert!(fs::symlink_metadata(&target).unwrap().file_type().is_file());
        assert_eq!(fs::read(&target).unwrap(), b"secret");
        assert_eq!(mode(&target), 0o600, "not the link target's 0644");
        assert_eq!(fs::read(&elsewhere).unwrap(), b"precious");
        assert_eq!(mode(&elsewhere), 0o644);
    }

    #[test]
    fn dangling_symlink_at_target_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("app.env");
        symlink(dir.path().join("missing"), &target).unwrap();
        write_atomic(&target, b"x").unwrap();
        assert!(fs::symlink_metadata(&target).unwrap().file_type().is_file());
        assert!(!dir.path().join("missing").exists());
        assert_eq!(entries(dir.path()), ["app.env"]);
    }

    #[test]
    fn missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("no-such-dir").join("app.env");
        let err = write_atomic(&target, b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(entries(dir.path()).is_empty());
    }

    #[test]
    fn directory_at_target_fails_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("app.env");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inside"), b"keep").unwrap();
        assert!(write_atomic(&target, b"x").is_err());
        assert_eq!(entries(dir.path()), ["app.env"]);
        assert_eq!(fs::read(target.join("inside")).unwrap(), b"keep");
    }

    #[test]
    fn unwritable_directory_leaves_target_untouched() {
        // Root ignores directory permissions, so this only means something for other users.
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            eprintln!("skipped: running as root, directory permissions are not enforced");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("app.env");
        fs::write(&target, b"old").unwrap();
        fs::set_permissions(dir.path(), Permissions::from_mode(0o500)).unwrap();
        let result = write_atomic(&target, b"new");
        fs::set_permissions(dir.path(), Permissions::from_mode(0o700)).unwrap();
        assert!(result.is_err());
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(entries(dir.path()), ["app.env"]);
    }

    #[test]
    fn concurrent_reader_never_sees_a_partial_file() {
        const SIZE: usize = 4 << 20;
        let dir = tempfile::tempdir().unwrap();
        let target: PathBuf = dir.path().join("big.env");
        let versions = [vec![b'a'; SIZE], vec![b'b'; SIZE]];
        write_atomic(&target, &versions[0]).unwrap();

        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let done = Arc::clone(&done);
            let target = target.clone();
            std::thread::spawn(move || {
                let mut reads = 0u32;
                while !done.load(Ordering::Relaxed) || reads == 0 {
                    let got = fs::read(&target).unwrap();
                    assert_eq!(got.len(), SIZE, "partial read");
                    let first = got[0];
                    assert!(got.iter().all(|&b| b == first), "mixed versions");
                    reads += 1;
                }
                reads
            })
        };
        for i in 0..30 {
            write_atomic(&target, &versions[i % 2]).unwrap();
        }
        done.store(true, Ordering::Relaxed);
        let reads = reader.join().unwrap();
        assert!(reads > 0);
        assert_eq!(entries(dir.path()), ["big.env"]);
    }
}
