//! SIGINT and SIGTERM to a running `cm`: plugins are shut down, the output file is untouched,
//! and the exit code is 128 + the signal.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use crate::support::{Bench, wait_until};

/// Starts `cm ARGS` on a template whose one call never returns, and waits until the plugin is
/// running and the call is in flight.
fn start_hanging(b: &Bench, args: &[&str]) -> std::process::Child {
    let mut child = b
        .cm()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"ECHO://hang")
        .unwrap();
    wait_until(Duration::from_secs(20), "the plugin call", || {
        b.call_count() == 1
    });
    child
}

fn interrupt(signal: i32, expected: i32) {
    let b = Bench::new();
    b.install("echo");
    b.write("out.txt", "keep\n");
    let child = start_hanging(&b, &["insert", "-p", "out.txt"]);
    assert_eq!(b.plugin_pids().len(), 1);
    // SAFETY: plain syscall on our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, signal);
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(expected), "{stderr}");
    assert!(stderr.contains("interrupted by"), "{stderr}");
    assert_eq!(b.read("out.txt"), b"keep\n");
    b.assert_no_plugins_left();
}

#[test]
fn sigint_stops_plugins_and_exits_130() {
    interrupt(libc::SIGINT, 130);
}

#[test]
fn sigterm_stops_plugins_and_exits_143() {
    interrupt(libc::SIGTERM, 143);
}

#[test]
fn sigkill_of_cm_still_stops_its_plugins() {
    let b = Bench::new();
    b.install("echo");
    let mut child = start_hanging(&b, &["insert"]);
    child.kill().unwrap();
    child.wait().unwrap();
    b.assert_no_plugins_left();
}
