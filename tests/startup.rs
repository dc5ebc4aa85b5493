//! Start-up cost and the verified-hash cache (issue 9), through the real binary: a plugin is
//! hashed only when a lock applies; a repeat run takes its hash from the cache; and every
//! refusal of the lock (a changed byte, a world-writable file, an unlocked plugin under
//! `--require-lock`) still holds on a repeat run after the file was replaced. The cache is the
//! project's own (`Project::cache_dir`, in its temp HOME).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use cm_testkit::{Cm, Output, Project};

use crate::support::{TEST_PLUGIN, project, sha256_file};

/// The cache file's name in the cache folder.
const CACHE_FILE: &str = "verified-plugins";

/// `cm -vv ARGS` reading `token`. Its stderr is checked by [`assert_log`]: the `-vv` lines
/// carry a temporary socket path and durations, which no expected text can hold.
fn run<'p>(p: &'p Project, args: &[&str], token: &str) -> Cm<'p> {
    p.cm().arg("-vv").args(args).stdin(token).stderr_unchecked()
}

/// Compares the whole of `out`'s stderr with `expected`, after masking the values that change
/// from run to run (`address=`, `elapsed_ms=`, `elapsed_us=` become `*`).
#[track_caller]
fn assert_log(out: &Output, expected: &str) {
    let masked: String = out
        .stderr
        .split_inclusive('\n')
        .map(|line| {
            line.split(' ')
                .map(|word| match word.split_once('=') {
                    Some((key @ ("address" | "elapsed_ms" | "elapsed_us"), value)) => {
                        format!("{key}=*{}", if value.ends_with('\n') { "\n" } else { "" })
                    }
                    _ => word.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(
        masked, expected,
        "stderr (masked) differs; as printed:\n{}",
        out.stderr
    );
}

/// The lock's line for a plugin it hashed.
fn hashed(plugin: &Path) -> String {
    let bytes = std::fs::metadata(plugin).unwrap().len();
    format!(
        "DEBUG cm::plugin::lock: plugin hashed plugin={} bytes={bytes} elapsed_ms=*\n",
        plugin.display()
    )
}

/// The lock's line for a plugin whose hash came from the cache.
fn from_cache(plugin: &Path) -> String {
    format!(
        "DEBUG cm::plugin::lock: plugin hash from the verified-hash cache plugin={}\n",
        plugin.display()
    )
}

/// The `-vv` log of `ECHO://<path>` resolved by the echo plugin, `check` being the lock's lines
/// (empty without a lock) and `status` the integrity status it ends in.
fn resolved(check: &str, status: &str, path: &str) -> String {
    format!(
        " INFO cm::resolve: plan tokens=1 fetches=1 prefixes=[\"ECHO\"]\n\
         {check}\
         DEBUG cm::resolve: plugin integrity plugin=ECHO status={status}\n\
         DEBUG cm::plugin::host: plugin handshake plugin=ECHO address=* tls=false\n\
         DEBUG cm::plugin::host: plugin start plugin=ECHO elapsed_ms=* ok=true\n\
         DEBUG cm::resolve: fetched prefix=ECHO path=\"{path}\" ok=true bytes={} elapsed_us=*\n\
         DEBUG cm::plugin::host: plugin stopped plugin=ECHO status=Some(ExitStatus(unix_wait_status(0)))\n",
        path.len() + 2
    )
}

/// The `-vv` log of a run that the lock refused before starting `prefix`'s plugin.
fn refused(prefix: &str, check: &str, error: &str) -> String {
    format!(
        " INFO cm::resolve: plan tokens=1 fetches=1 prefixes=[\"{prefix}\"]\n\
         {check}\
         cm: providers not initialised, {error}\n"
    )
}

fn lock_file(p: &Project) -> PathBuf {
    p.real_dir().join(".configmanager/plugins.lock")
}

/// `cm plugin install echo --from FROM`, then waits until the file is old enough to be cached: a
/// file changed within the last two seconds is hashed on every run (see
/// `verified::Key::is_racy`).
fn install_locked_from(p: &Project, from: &Path) -> PathBuf {
    let dest = p.plugin_file("echo");
    p.cm()
        .args(["plugin", "install", "echo", "--from"])
        .arg(from)
        .stdout(format!(
            "installed {} (sha256:{})\nrecorded in {}\n",
            dest.display(),
            sha256_file(from),
            lock_file(p).display()
        ))
        .success();
    age(&dest);
    dest
}

fn install_locked(p: &Project) -> PathBuf {
    install_locked_from(p, Path::new(TEST_PLUGIN))
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
fn two_runs(p: &Project, args: &[&str]) {
    let plugin = p.plugin_file("echo");
    let mut args = args.to_vec();
    args.push("insert");
    let first = run(p, &args, "ECHO://a").stdout("a->").success();
    assert_log(&first, &resolved(&hashed(&plugin), "Locked", "a"));
    assert!(p.cache_dir().join(CACHE_FILE).is_file(), "no cache written");
    let second = run(p, &args, "ECHO://a").stdout("a->").success();
    assert_log(&second, &resolved(&from_cache(&plugin), "Locked", "a"));
}

/// Replaces `p` the way a new build or an attacker would: a new file renamed over it.
fn replace(project: &Project, p: &Path, bytes: &[u8], mode: u32) {
    let tmp = project.path("replacement");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).unwrap();
    std::fs::rename(&tmp, p).unwrap();
}

/// The refusal of the echo plugin, whose bytes no longer match the lock.
fn mismatch(p: &Project, plugin: &Path, good: &str) -> String {
    refused(
        "ECHO",
        &hashed(plugin),
        &format!(
            "plugin {} does not match the lock file {}: expected sha256:{good}, found sha256:{}",
            plugin.display(),
            lock_file(p).display(),
            sha256_file(plugin)
        ),
    )
}

#[test]
fn without_a_lock_no_plugin_is_hashed_and_no_cache_written() {
    let p = project();
    p.install("echo");
    let out = run(&p, &["insert"], "ECHO://a").stdout("a->").success();
    assert_log(&out, &resolved("", "NoLock", "a"));
    assert!(!p.cache_dir().exists(), "a cache was written");
}

#[test]
fn a_changed_byte_is_refused_on_a_repeat_run() {
    let p = project();
    let plugin = install_locked(&p);
    let good_hash = sha256_file(&plugin);
    two_runs(&p, &[]);
    let good = std::fs::read(&plugin).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;

    // Replaced by a new file (new inode): the cache entry does not apply.
    replace(&p, &plugin, &bad, 0o755);
    let out = run(&p, &["insert"], "ECHO://a").failure(3);
    assert_log(&out, &mismatch(&p, &plugin, &good_hash));

    // Back to the approved bytes, aged and cached again; then one byte changed in place (same
    // inode, same size): mtime and ctime move, so the entry does not apply either.
    replace(&p, &plugin, &good, 0o755);
    age(&plugin);
    two_runs(&p, &[]);
    std::fs::write(&plugin, &bad).unwrap();
    let out = run(&p, &["insert"], "ECHO://a").failure(3);
    assert_log(&out, &mismatch(&p, &plugin, &good_hash));
}

#[test]
fn a_world_writable_plugin_is_refused_on_a_repeat_run() {
    let p = project();
    let plugin = install_locked(&p);
    let world_writable = |mode: &str| {
        refused(
            "ECHO",
            "",
            &format!(
                "refusing to run {}: it is world-writable (mode {mode}); chmod o-w it",
                plugin.display()
            ),
        )
    };
    two_runs(&p, &[]);
    let good = std::fs::read(&plugin).unwrap();
    replace(&p, &plugin, &good, 0o777);
    let out = run(&p, &["insert"], "ECHO://a").failure(3);
    assert_log(&out, &world_writable("777"));
    // The same file, made world-writable in place.
    replace(&p, &plugin, &good, 0o755);
    age(&plugin);
    two_runs(&p, &[]);
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o757)).unwrap();
    let out = run(&p, &["insert"], "ECHO://a").failure(3);
    assert_log(&out, &world_writable("757"));
}

#[test]
fn an_unlocked_plugin_is_refused_under_require_lock_on_a_repeat_run() {
    let p = project();
    let plugin = install_locked(&p);
    let good_hash = sha256_file(&plugin);
    two_runs(&p, &["--require-lock"]);
    // Another binary put in its place, and a lock that no longer covers the folder: the cached
    // approval of the old file counts for nothing.
    let mut other = std::fs::read(TEST_PLUGIN).unwrap();
    other.extend_from_slice(b"appended");
    replace(&p, &plugin, &other, 0o755);
    let lock = lock_file(&p);
    std::fs::rename(&lock, p.path("lock.away")).unwrap();
    let out = run(&p, &["--require-lock", "insert"], "ECHO://a").failure(3);
    assert_log(
        &out,
        &refused(
            "ECHO",
            "",
            &format!(
                "no lock file {} for plugin {} and --require-lock (CM_REQUIRE_LOCK) is set",
                lock.display(),
                plugin.display()
            ),
        ),
    );
    // With the lock back, the replaced file is refused too (and so is a plugin it never had).
    std::fs::rename(p.path("lock.away"), &lock).unwrap();
    let out = run(&p, &["--require-lock", "insert"], "ECHO://a").failure(3);
    assert_log(&out, &mismatch(&p, &plugin, &good_hash));
    let json = p.install("json");
    let out = run(&p, &["--require-lock", "insert"], "JSON:///x|user").failure(3);
    assert_log(
        &out,
        &refused(
            "JSON",
            &hashed(&p.plugin_file("json")),
            &format!(
                "plugin {} (sha256:{}) is not in the lock file {}; approve it with `cm plugin install`",
                p.plugin_file("json").display(),
                sha256_file(&json),
                lock.display()
            ),
        ),
    );
}

#[test]
fn a_locked_script_plugin_runs_from_its_checked_descriptor() {
    // A `#!` plugin executed through /proc/self/fd/N: its interpreter opens the script by that
    // name, so the descriptor must stay open across exec in the child.
    let p = project();
    let script = p.write(
        "wrapper.sh",
        format!("#!/bin/sh\nexec '{TEST_PLUGIN}' \"$@\"\n"),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let plugin = install_locked_from(&p, &script);
    let out = run(&p, &["--require-lock", "insert"], "ECHO://s")
        .stdout("s->")
        .success();
    assert_log(&out, &resolved(&hashed(&plugin), "Locked", "s"));
}

#[test]
fn an_untrusted_cache_file_is_ignored_and_replaced() {
    let p = project();
    let plugin = install_locked(&p);
    two_runs(&p, &[]);
    let cache = p.cache_dir().join(CACHE_FILE);
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Readable by others: not trusted, the plugin is hashed again and the file rewritten 0600.
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(&p, &["insert"], "ECHO://a").stdout("a->").success();
    let ignored = format!(
        "DEBUG cm::plugin::verified: verified-hash cache {}: ignored: mode 644 lets others read or write it (want 600)\n",
        cache.display()
    );
    let check = ignored + &hashed(&plugin);
    assert_log(&out, &resolved(&check, "Locked", "a"));
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let out = run(&p, &["insert"], "ECHO://a").stdout("a->").success();
    assert_log(&out, &resolved(&from_cache(&plugin), "Locked", "a"));
}
