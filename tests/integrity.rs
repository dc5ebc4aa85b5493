//! Plugin integrity: `cm plugin install` records a SHA-256 in `.configmanager/plugins.lock`;
//! a plugin missing from the lock or changed by one byte is refused; world-writable plugins are
//! refused; `cm init` reports what is missing.

use crate::support::{Bench, TEST_PLUGIN, plugin_file_name};

#[test]
fn install_list_tamper_refuse() {
    let b = Bench::new();
    let r = b.run(&["plugin", "install", "echo", "--from", TEST_PLUGIN], b"");
    r.success();
    let dest = b
        .path(".configmanager/plugins/echo")
        .join(plugin_file_name("echo"));
    assert!(
        r.stdout()
            .starts_with(&format!("installed {}", dest.display())),
        "{}",
        r.stdout()
    );
    let lock = String::from_utf8(b.read(".configmanager/plugins.lock")).unwrap();
    assert!(lock.starts_with("# cm plugin lock"), "{lock}");
    assert_eq!(
        lock.lines().filter(|l| l.starts_with("echo ")).count(),
        1,
        "{lock}"
    );
    let list = b.run(&["plugin", "list"], b"");
    list.success();
    assert!(
        list.stdout().starts_with("ECHO\tlocked\tsha256:"),
        "{}",
        list.stdout()
    );

    b.run(&["insert"], b"ECHO://a").success().stdout_is("a->");

    // One byte changed.
    let mut bytes = std::fs::read(&dest).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&dest, &bytes).unwrap();
    let r = b.run(&["insert"], b"ECHO://a");
    r.failure(3)
        .stderr_has("does not match the lock file")
        .stderr_has("expected sha256:");
    assert!(r.stdout.is_empty());
    assert!(
        b.run(&["plugin", "list"], b"")
            .stdout()
            .contains("MISMATCH")
    );

    // A plugin the lock does not know.
    b.install("json");
    b.run(&["insert"], b"JSON:///x|user")
        .failure(3)
        .stderr_has("is not in the lock file")
        .stderr_has("cm plugin install");
}

#[test]
fn require_lock_refuses_unlocked_folders() {
    let b = Bench::new();
    b.install("echo");
    b.run(&["insert"], b"ECHO://a").success();
    b.run(&["--require-lock", "insert"], b"ECHO://a")
        .failure(3)
        .stderr_has("--require-lock");
    b.run_cmd(
        b.cm().env("CM_REQUIRE_LOCK", "1").arg("insert"),
        b"ECHO://a",
    )
    .failure(3);
}

#[test]
fn world_writable_plugins_are_refused_group_writable_warned() {
    use std::os::unix::fs::PermissionsExt;
    let b = Bench::new();
    let p = b.install("echo");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o775)).unwrap();
    b.run(&["insert"], b"ECHO://a")
        .success()
        .stderr_has("group-writable");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
    b.run(&["insert"], b"ECHO://a")
        .failure(3)
        .stderr_has("world-writable (mode 777)");
}

#[test]
fn init_creates_folders_and_reports_missing_plugins() {
    let b = Bench::new();
    b.install("echo");
    let r = b.run(&["init", "--plugin", "echo,awssecrets"], b"");
    r.failure(3).stderr_has("1 plugin(s) missing: awssecrets");
    assert!(r.stdout().contains("echo: installed at"), "{}", r.stdout());
    assert!(r.stdout().contains("awssecrets: missing"), "{}", r.stdout());
    assert!(b.path(".configmanager/plugins/awssecrets").is_dir());
    b.run(&["init", "--plugin", "echo"], b"").success();
}

#[test]
fn global_install_goes_to_home() {
    let b = Bench::new();
    b.run(
        &[
            "plugin",
            "install",
            "echo",
            "--from",
            TEST_PLUGIN,
            "--global",
        ],
        b"",
    )
    .success();
    assert!(b.home.path().join(".configmanager/plugins.lock").is_file());
    b.run(&["insert"], b"ECHO://h").success().stdout_is("h->");
}
