//! SIGINT and SIGTERM to a running `cm`: plugins are shut down, the output file is untouched,
//! and the exit code is 128 + the signal.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use cm_testkit::Project;

use crate::support::{project, wait_until};

/// Starts `cm ARGS` on a template whose one call never returns, and waits until the plugin is
/// running and the call is in flight.
fn start_hanging(p: &Project, args: &[&str]) -> std::process::Child {
    let mut child = p
        .command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
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
        p.call_count() == 1
    });
    child
}

fn interrupt(signal: i32, expected: i32, name: &str) {
    let p = project();
    p.install("echo");
    p.write("out.txt", "keep\n");
    let child = start_hanging(&p, &["insert", "-p", "out.txt"]);
    assert_eq!(p.plugin_pids().len(), 1);
    // SAFETY: plain syscall on our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, signal);
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(expected), "{stderr}");
    assert_eq!(
        stderr,
        format!(" WARN interrupted, stopping plugins\ncm: interrupted by {name}\n")
    );
    assert!(out.stdout.is_empty());
    assert_eq!(p.read("out.txt"), b"keep\n");
    p.assert_no_plugins_left();
}

#[test]
fn sigint_stops_plugins_and_exits_130() {
    interrupt(libc::SIGINT, 130, "SIGINT");
}

#[test]
fn sigterm_stops_plugins_and_exits_143() {
    interrupt(libc::SIGTERM, 143, "SIGTERM");
}

#[test]
fn sigkill_of_cm_still_stops_its_plugins() {
    let p = project();
    p.install("echo");
    let mut child = start_hanging(&p, &["insert"]);
    child.kill().unwrap();
    child.wait().unwrap();
    p.assert_no_plugins_left();
}
