//! Plugins that misbehave: each gives a clear error, the right exit code, an untouched output
//! file, and no process left behind (checked after every run by the bench).

use crate::support::Bench;

fn start_failure(mode: &str, extra: &[&str]) -> crate::support::Run {
    let b = Bench::new();
    b.install(mode);
    b.write("out.txt", "keep\n");
    let token = format!("{}://x", mode.to_ascii_uppercase());
    let mut args = extra.to_vec();
    args.extend(["insert", "-p", "out.txt"]);
    let r = b.run(&args, token.as_bytes());
    assert_eq!(
        b.read("out.txt"),
        b"keep\n",
        "output file must be untouched"
    );
    r.failure(3).stderr_has(&format!(
        "providers not initialised, plugin {}",
        mode.to_ascii_uppercase()
    ));
    r
}

#[test]
fn plugin_exiting_at_once_shows_its_stderr() {
    start_failure("exit", &[])
        .stderr_has("plugin exited before we could connect")
        .stderr_has("fatal: cannot reach the secret store");
}

#[test]
fn handshake_never_arrives() {
    start_failure("nohandshake", &["--plugin-start-timeout", "0.5"]).stderr_has(
        "timeout while waiting for plugin to start (0.5s elapsed, see --plugin-start-timeout)",
    );
}

#[test]
fn netrpc_is_unsupported() {
    start_failure("netrpc", &[]).stderr_has("unsupported plugin protocol \"netrpc\"");
}

#[test]
fn garbage_handshake() {
    start_failure("garbage", &[])
        .stderr_has("unrecognized remote plugin message: \"hello, I am not a handshake\"");
}

#[test]
fn output_before_the_handshake_is_refused_like_go_plugin_does() {
    start_failure("noise", &[])
        .stderr_has("unrecognized remote plugin message: \"starting up...\"");
}

#[test]
fn not_executable_and_wrong_architecture() {
    let b = Bench::new();
    let p = b.install("echo");
    std::fs::write(&p, b"garbage, not a binary").unwrap();
    b.run(&["insert"], b"ECHO://x")
        .failure(3)
        .stderr_has("cannot execute the plugin: not an executable for this machine")
        .stderr_has("neither an ELF binary nor a #! script");
    // An arm64 (or, on arm64, amd64) ELF header.
    let machine: u8 = if cfg!(target_arch = "aarch64") {
        62
    } else {
        183
    };
    let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0".to_vec();
    elf.extend_from_slice(&[machine, 0]);
    elf.extend_from_slice(&[0; 44]);
    std::fs::write(&p, &elf).unwrap();
    b.run(&["insert"], b"ECHO://x")
        .failure(3)
        .stderr_has("cannot execute the plugin: built for");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    b.run(&["insert"], b"ECHO://x")
        .failure(3)
        .stderr_has("the file is not executable");
}

#[test]
fn crash_in_the_middle_of_a_call_fails_that_call_cleanly() {
    let b = Bench::new();
    b.install("echo");
    failing_call(&b, &[], b"ECHO://crash ECHO://sleep/300/a\n").stderr_has(
        "failed to retrieve config item - (ECHO://crash), plugin ECHO closed the connection",
    );
}

/// Runs `cm ARGS insert -p out.txt` on `input`, expecting exit 1 with `out.txt` untouched.
fn failing_call(b: &Bench, args: &[&str], input: &[u8]) -> crate::support::Run {
    b.write("out.txt", "keep\n");
    let mut all = args.to_vec();
    all.extend(["insert", "-p", "out.txt"]);
    let r = b.run(&all, input);
    r.failure(1);
    assert_eq!(
        b.read("out.txt"),
        b"keep\n",
        "output file must be untouched"
    );
    r
}

#[test]
fn a_call_that_never_returns_times_out() {
    let b = Bench::new();
    b.install("echo");
    failing_call(&b, &["--timeout", "0.5"], b"ECHO://hang ECHO://fine\n")
        .stderr_has("failed to retrieve config item - (ECHO://hang), plugin ECHO did not answer within 0.5s (see --timeout)");
}

#[test]
fn a_plugin_that_ignores_shutdown_is_killed_after_the_grace_period() {
    let b = Bench::new();
    b.install("noshutdown");
    b.run(&["-v", "insert"], b"NOSHUTDOWN://a")
        .success()
        .stdout_is("a->")
        .stderr_has("plugin failed to exit gracefully");
}

#[test]
fn values_up_to_the_limit_pass_and_larger_ones_fail_clearly() {
    let b = Bench::new();
    b.install("echo");
    let limit = 64 * 1024 * 1024;
    b.run(
        &["insert", "-p", "big.out"],
        format!("ECHO://big/{limit}").as_bytes(),
    )
    .success();
    assert_eq!(
        std::fs::metadata(b.path("big.out")).unwrap().len(),
        limit as u64
    );
    failing_call(&b, &[], format!("ECHO://big/{}", limit + 100_000).as_bytes())
        .stderr_has("failed to retrieve config item - (ECHO://big/67208864), plugin ECHO returned a value larger than the 64 MiB limit");
}

#[test]
fn a_plugin_refusing_every_cookie_is_tried_twice_and_explained() {
    start_failure("badcookie", &[])
        .stderr_has("plugin exited before we could connect")
        .stderr_has("This binary is a plugin");
}

#[test]
fn a_plugin_flooding_stderr_neither_blocks_nor_breaks_the_run() {
    let b = Bench::new();
    b.install("flood");
    let r = b.run(&["insert"], b"FLOOD://a FLOOD://b FLOOD://c\n");
    r.success().stdout_is("a-> b-> c->\n");
    assert_eq!(b.call_count(), 3);
}
