//! Plugins that misbehave: each gives a clear error, the right exit code, an untouched output
//! file, and no process left behind (checked after every run by the bench).

use cm_testkit::{Output, Project};

use crate::support::project;

/// Installs the test plugin as `mode`, runs `cm EXTRA insert -p out.txt` on the token
/// `MODE://x`, and expects exit 3 with exactly `stderr` (`{path}` standing for the installed
/// plugin) and `out.txt` untouched.
fn start_failure(mode: &str, extra: &[&str], stderr: &str) -> Project {
    let p = project();
    p.install(mode);
    p.write("out.txt", "keep\n");
    let prefix = mode.to_ascii_uppercase();
    p.cm()
        .args(extra)
        .args(["insert", "-p", "out.txt"])
        .stdin(format!("{prefix}://x"))
        .stderr(stderr.replace("{path}", &p.plugin_file(mode).display().to_string()))
        .failure(3);
    assert_eq!(
        p.read("out.txt"),
        b"keep\n",
        "output file must be untouched"
    );
    p
}

#[test]
fn plugin_exiting_at_once_shows_its_stderr() {
    start_failure(
        "exit",
        &[],
        "cm: providers not initialised, plugin EXIT ({path}): plugin exited before we could connect (exit status: 1)\n  \
         plugin stderr (last lines):\n    \
         fatal: cannot reach the secret store\n",
    );
}

#[test]
fn handshake_never_arrives() {
    start_failure(
        "nohandshake",
        &["--plugin-start-timeout", "0.5"],
        "cm: providers not initialised, plugin NOHANDSHAKE ({path}): timeout while waiting for plugin to start (0.5s elapsed, see --plugin-start-timeout)\n",
    );
}

#[test]
fn netrpc_is_unsupported() {
    start_failure(
        "netrpc",
        &[],
        "cm: providers not initialised, plugin NETRPC ({path}): unsupported plugin protocol \"netrpc\" (a Go-only protocol); cm supports only \"grpc\" plugins\n",
    );
}

#[test]
fn garbage_handshake() {
    start_failure(
        "garbage",
        &[],
        "cm: providers not initialised, plugin GARBAGE ({path}): unrecognized remote plugin message: \"hello, I am not a handshake\"\n",
    );
}

#[test]
fn output_before_the_handshake_is_refused_like_go_plugin_does() {
    start_failure(
        "noise",
        &[],
        "cm: providers not initialised, plugin NOISE ({path}): unrecognized remote plugin message: \"starting up...\"\n",
    );
}

#[test]
fn not_executable_and_wrong_architecture() {
    let p = project();
    let plugin = p.install("echo");
    let path = p.plugin_file("echo").display().to_string();
    std::fs::write(&plugin, b"garbage, not a binary").unwrap();
    p.cm()
        .arg("insert")
        .stdin("ECHO://x")
        .stderr(format!("cm: providers not initialised, plugin ECHO ({path}): cannot execute the plugin: not an executable for this machine ({}): neither an ELF binary nor a #! script\n", machine_name()))
        .failure(3);
    // An arm64 (or, on arm64, amd64) ELF header.
    let (machine, name) = if cfg!(target_arch = "aarch64") {
        (62, "amd64")
    } else {
        (183, "arm64")
    };
    let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0".to_vec();
    elf.extend_from_slice(&[machine, 0]);
    elf.extend_from_slice(&[0; 44]);
    std::fs::write(&plugin, &elf).unwrap();
    p.cm()
        .arg("insert")
        .stdin("ECHO://x")
        .stderr(format!("cm: providers not initialised, plugin ECHO ({path}): cannot execute the plugin: built for {name} but this machine is {}\n", machine_name()))
        .failure(3);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o644)).unwrap();
    p.cm()
        .arg("insert")
        .stdin("ECHO://x")
        .stderr(format!("cm: providers not initialised, plugin ECHO ({path}): cannot execute the plugin: the file is not executable (chmod +x)\n"))
        .failure(3);
}

/// This machine as Go names it (`linux-amd64`), from the plugin file name.
fn machine_name() -> String {
    crate::support::plugin_file_name("x")
        .trim_start_matches("x-")
        .to_string()
}

/// Runs `cm ARGS insert -p out.txt` on `input`, expecting exit 1, exactly `stderr`, and
/// `out.txt` untouched.
fn failing_call(p: &Project, args: &[&str], input: &str, stderr: &str) -> Output {
    p.write("out.txt", "keep\n");
    let out = p
        .cm()
        .args(args)
        .args(["insert", "-p", "out.txt"])
        .stdin(input)
        .stderr(stderr)
        .failure(1);
    assert_eq!(
        p.read("out.txt"),
        b"keep\n",
        "output file must be untouched"
    );
    out
}

#[test]
fn crash_in_the_middle_of_a_call_fails_that_call_cleanly() {
    let p = project();
    p.install("echo");
    p.write("out.txt", "keep\n");
    p.cm()
        .args(["insert", "-p", "out.txt"])
        .stdin("ECHO://crash ECHO://sleep/300/a\n")
        // The crash takes the other call down too, with a reason that depends on whether its
        // request had reached the plugin; the plugin's last log line (`crashing on purpose`)
        // races with cm's report.
        .stderr_contains("cm: <stdin>:1:1: failed to retrieve config item - (ECHO://crash), plugin ECHO closed the connection (it may have crashed): transport error\n")
        .stderr_contains("<stdin>:1:14: failed to retrieve config item - (ECHO://sleep/300/a), ")
        .stderr_contains("\ntoken not found: 2 of 2 token(s) could not be resolved\n")
        .failure(1);
    assert_eq!(
        p.read("out.txt"),
        b"keep\n",
        "output file must be untouched"
    );
}

#[test]
fn a_call_that_never_returns_times_out() {
    let p = project();
    p.install("echo");
    failing_call(
        &p,
        &["--timeout", "0.5"],
        "ECHO://hang ECHO://fine\n",
        "cm: <stdin>:1:1: failed to retrieve config item - (ECHO://hang), plugin ECHO did not answer within 0.5s (see --timeout)\n\
         token not found: 1 of 2 token(s) could not be resolved\n",
    );
}

#[test]
fn a_plugin_that_ignores_shutdown_is_killed_after_the_grace_period() {
    let p = project();
    p.install("noshutdown");
    p.cm()
        .args(["-v", "insert"])
        .stdin("NOSHUTDOWN://a")
        .stdout("a->")
        // -v log lines carry durations, which differ from run to run.
        .stderr_contains("plugin failed to exit gracefully")
        .success();
}

#[test]
fn values_up_to_the_limit_pass_and_larger_ones_fail_clearly() {
    let p = project();
    p.install("echo");
    let limit = 64 * 1024 * 1024;
    p.cm()
        .args(["insert", "-p", "big.out"])
        .stdin(format!("ECHO://big/{limit}"))
        .success();
    assert_eq!(
        std::fs::metadata(p.path("big.out")).unwrap().len(),
        limit as u64
    );
    failing_call(
        &p,
        &[],
        &format!("ECHO://big/{}", limit + 100_000),
        "cm: <stdin>:1:1: failed to retrieve config item - (ECHO://big/67208864), plugin ECHO returned a value larger than the 64 MiB limit\n\
         token not found: 1 of 1 token(s) could not be resolved\n",
    );
}

#[test]
fn a_plugin_refusing_every_cookie_is_tried_twice_and_explained() {
    let p = start_failure(
        "badcookie",
        &[],
        "cm: providers not initialised, plugin BADCOOKIE ({path}): plugin exited before we could connect (exit status: 1)\n  \
         plugin stderr (last lines):\n    \
         This binary is a plugin. These are not meant to be executed directly.\n",
    );
    // Once with configmanager v3.0.0's cookie value, once with the later one.
    assert_eq!(
        p.log(),
        [
            ("start".to_string(), "hello".to_string()),
            (
                "start".to_string(),
                "configmanager-plugin-hello".to_string()
            ),
        ]
    );
}

#[test]
fn a_plugin_flooding_stderr_neither_blocks_nor_breaks_the_run() {
    let p = project();
    p.install("flood");
    p.cm()
        .arg("insert")
        .stdin("FLOOD://a FLOOD://b FLOOD://c\n")
        .stdout("a-> b-> c->\n")
        .success();
    assert_eq!(p.call_count(), 3);
}
