//! Skips that show. A test that needs a tool the machine lacks (Go, a shell, python-dotenv, a
//! storage emulator) asks [`require_tool`] or [`require`] and returns early when told to. Under
//! `CI=true` a missing tool fails the test instead, since CI installs everything. Elsewhere the
//! skip is recorded, and when the test binary exits a summary of every skipped test goes to
//! stderr, after libtest's own result line, so a run that skipped work never looks complete.

use std::process::Command;
use std::sync::{Mutex, Once};

/// Whether `program ARGS` runs and exits 0; if not, the current test is skipped (see the
/// module docs), with `install` as the hint for getting it.
#[must_use = "return from the test when this is false"]
#[track_caller]
pub fn require_tool(program: &str, args: &[&str], install: &str) -> bool {
    let ok = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    require(ok, &format!("`{program}` is not available"), install)
}

/// The general form: `available` says whether the test can run; `problem` says why not, `hint`
/// how to fix that. Under `CI=true` an unavailable tool panics.
#[must_use = "return from the test when this is false"]
#[track_caller]
pub fn require(available: bool, problem: &str, hint: &str) -> bool {
    if available {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {problem}: {hint}"
    );
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    SKIPPED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(format!("{test}: {problem} ({hint})"));
    static REPORT: Once = Once::new();
    REPORT.call_once(|| {
        // SAFETY: registers a plain `extern "C"` function; it runs once, at process exit.
        unsafe {
            libc::atexit(report);
        }
    });
    false
}

static SKIPPED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Prints the skipped tests at exit. Raw `write(2)`: libtest captures `eprintln!` per test, and
/// at exit the standard library's handles may already be gone.
extern "C" fn report() {
    let skipped = match SKIPPED.try_lock() {
        Ok(list) => list.clone(),
        Err(_) => return,
    };
    if skipped.is_empty() {
        return;
    }
    let mut text = format!(
        "\nSKIPPED {} test(s) for missing tools (under CI=true these fail):\n",
        skipped.len()
    );
    for line in &skipped {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    let mut bytes = text.as_bytes();
    while !bytes.is_empty() {
        // SAFETY: writes from a live buffer to stderr's file descriptor.
        let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}
