//! Start-up cost and the verified-hash cache (issue 9), through the real binary: a plugin is
//! hashed only when a lock applies; a repeat run takes its hash from the cache; and every
//! refusal of the lock (a changed byte, a world-writable file, an unlocked plugin under
//! `--require-lock`) still holds on a repeat run after the file was replaced.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::support::{Bench, Run, TEST_PLUGIN};

const HASHED: &str = "plugin hashed";
const FROM_CACHE: &str = "plugin hash from the verified-hash cache";
const CACHE_FILE: &str = "cache/verified-plugins";

/// `cm -vv ARGS` with a private cache folder inside the bench.
fn run(b: &Bench, args: &[&str], stdin: &[u8]) -> Run {
    let mut cmd = b.cm();
    cmd.env("CM_CACHE_DIR", b.path("cache"))
        .arg("-vv")
        .args(args);
    b.run_cmd(&mut cmd, stdin)
}

/// `cm plugin install echo`, then waits until the file is old enough to be cached: a file
/// changed within the last two seconds is hashed on every run (see `verified::Key::is_racy`).
fn install_locked(b: &Bench) -> PathBuf {
    b.run(&["plugin", "install", "echo", "--from", TEST_PLUGIN], b"")
        .success();
    let p = b
        .path(".configmanager/plugins/echo")
        .join(crate::support::plugin_file_name("echo"));
    age(&p);
    p
}

fn age(p: &Path) {
    use std::os::unix::fs::MetadataExt;
    // ctime, not mtime: a chmod or rename moves only ctime.
    let meta = std::fs::metadata(p).unwrap();
    let changed = SystemTime::UNIX_EPOCH
        + Duration::new(meta.ctime() as u64, meta.ctime_nsec() as u32)
            .max(Duration::new(meta.mtime() as u64, meta.mtime_nsec() as u32));
    let ready = changed + Duration::from_millis(2100);
    if let Ok(wait) = ready.duration_since(SystemTime::now()) {
        std::thread::sleep(wait);
    }
}

/// Two runs: the first hashes the plugin and fills the cache, the second takes the hash from it.
fn two_runs(b: &Bench, args: &[&str]) {
    let mut first = args.to_vec();
    first.push("insert");
    run(b, &first, b"ECHO://a")
        .success()
        .stdout_is("a->")
        .stderr_has(HASHED);
    assert!(b.path(CACHE_FILE).is_file(), "no cache written");
    let second = run(b, &first, b"ECHO://a");
    second.success().stdout_is("a->").stderr_has(FROM_CACHE);
    assert!(!second.stderr.contains(HASHED), "{}", second.stderr);
}

/// Replaces `p` the way a new build or an attacker would: a new file renamed over it.
fn replace(b: &Bench, p: &Path, bytes: &[u8], mode: u32) {
    let tmp = b.path("replacement");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).unwrap();
    std::fs::rename(&tmp, p).unwrap();
}

#[test]
fn without_a_lock_no_plugin_is_hashed_and_no_cache_written() {
    let b = Bench::new();
    b.install("echo");
    let r = run(&b, &["insert"], b"ECHO://a");
    r.success().stdout_is("a->").stderr_has("status=NoLock");
    assert!(!r.stderr.contains(HASHED), "{}", r.stderr);
    assert!(!r.stderr.contains(FROM_CACHE), "{}", r.stderr);
    assert!(!b.path("cache").exists(), "a cache was written");
}

#[test]
fn a_changed_byte_is_refused_on_a_repeat_run() {
    let b = Bench::new();
    let p = install_locked(&b);
    two_runs(&b, &[]);
    let good = std::fs::read(&p).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;

    // Replaced by a new file (new inode): the cache entry does not apply.
    replace(&b, &p, &bad, 0o755);
    run(&b, &["insert"], b"ECHO://a")
        .failure(3)
        .stderr_has(HASHED)
        .stderr_has("does not match the lock file");

    // Back to the approved bytes, aged and cached again; then one byte changed in place (same
    // inode, same size): mtime and ctime move, so the entry does not apply either.
    replace(&b, &p, &good, 0o755);
    age(&p);
    two_runs(&b, &[]);
    std::fs::write(&p, &bad).unwrap();
    run(&b, &["insert"], b"ECHO://a")
        .failure(3)
        .stderr_has(HASHED)
        .stderr_has("does not match the lock file");
}

#[test]
fn a_world_writable_plugin_is_refused_on_a_repeat_run() {
    let b = Bench::new();
    let p = install_locked(&b);
    two_runs(&b, &[]);
    let good = std::fs::read(&p).unwrap();
    replace(&b, &p, &good, 0o777);
    run(&b, &["insert"], b"ECHO://a")
        .failure(3)
        .stderr_has("world-writable (mode 777)");
    // The same file, made world-writable in place.
    replace(&b, &p, &good, 0o755);
    age(&p);
    two_runs(&b, &[]);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o757)).unwrap();
    run(&b, &["insert"], b"ECHO://a")
        .failure(3)
        .stderr_has("world-writable (mode 757)");
}

#[test]
fn an_unlocked_plugin_is_refused_under_require_lock_on_a_repeat_run() {
    let b = Bench::new();
    let p = install_locked(&b);
    two_runs(&b, &["--require-lock"]);
    // Another binary put in its place, and a lock that no longer covers the folder: the cached
    // approval of the old file counts for nothing.
    let mut other = std::fs::read(TEST_PLUGIN).unwrap();
    other.extend_from_slice(b"appended");
    replace(&b, &p, &other, 0o755);
    std::fs::rename(b.path(".configmanager/plugins.lock"), b.path("lock.away")).unwrap();
    run(&b, &["--require-lock", "insert"], b"ECHO://a")
        .failure(3)
        .stderr_has("--require-lock");
    // With the lock back, the replaced file is refused too (and so is a plugin it never had).
    std::fs::rename(b.path("lock.away"), b.path(".configmanager/plugins.lock")).unwrap();
    run(&b, &["--require-lock", "insert"], b"ECHO://a")
        .failure(3)
        .stderr_has("does not match the lock file");
    b.install("json");
    run(&b, &["--require-lock", "insert"], b"JSON:///x|user")
        .failure(3)
        .stderr_has("is not in the lock file");
}

#[test]
fn a_locked_script_plugin_runs_from_its_checked_descriptor() {
    // A `#!` plugin executed through /proc/self/fd/N: its interpreter opens the script by that
    // name, so the descriptor must stay open across exec in the child.
    let b = Bench::new();
    let script = b.write(
        "wrapper.sh",
        format!("#!/bin/sh\nexec '{TEST_PLUGIN}' \"$@\"\n"),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    b.run(
        &[
            "plugin",
            "install",
            "echo",
            "--from",
            script.to_str().unwrap(),
        ],
        b"",
    )
    .success();
    run(&b, &["--require-lock", "insert"], b"ECHO://s")
        .success()
        .stdout_is("s->")
        .stderr_has(HASHED);
}

#[test]
fn an_untrusted_cache_file_is_ignored_and_replaced() {
    let b = Bench::new();
    install_locked(&b);
    two_runs(&b, &[]);
    let cache = b.path(CACHE_FILE);
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Readable by others: not trusted, the plugin is hashed again and the file rewritten 0600.
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o644)).unwrap();
    run(&b, &["insert"], b"ECHO://a")
        .success()
        .stderr_has(HASHED);
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o600
    );
    run(&b, &["insert"], b"ECHO://a")
        .success()
        .stderr_has(FROM_CACHE);
}
