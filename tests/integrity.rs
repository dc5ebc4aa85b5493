//! Plugin integrity: `cm plugin install` records a SHA-256 in `.configmanager/plugins.lock`;
//! a plugin missing from the lock or changed by one byte is refused; world-writable plugins are
//! refused; `cm init` reports what is missing.

use std::path::Path;

use crate::support::{TEST_PLUGIN, project, sha256_file};

#[test]
fn install_list_tamper_refuse() {
    let p = project();
    let dest = p.plugin_file("echo");
    let lock_file = p.real_dir().join(".configmanager/plugins.lock");
    let hash = sha256_file(Path::new(TEST_PLUGIN));
    p.cm()
        .args(["plugin", "install", "echo", "--from", TEST_PLUGIN])
        .stdout(format!(
            "installed {} (sha256:{hash})\nrecorded in {}\n",
            dest.display(),
            lock_file.display()
        ))
        .success();
    let lock = String::from_utf8(p.read(".configmanager/plugins.lock")).unwrap();
    assert!(lock.starts_with("# cm plugin lock"), "{lock}");
    assert_eq!(
        lock.lines().filter(|l| l.starts_with("echo ")).count(),
        1,
        "{lock}"
    );
    p.cm()
        .args(["plugin", "list"])
        .stdout(format!(
            "ECHO\tnative\tlocked\tsha256:{hash}\t{}\n",
            dest.display()
        ))
        .success();

    p.cm()
        .arg("insert")
        .stdin("ECHO://a")
        .stdout("a->")
        .success();

    // One byte changed.
    let mut bytes = std::fs::read(&dest).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&dest, &bytes).unwrap();
    let changed = sha256_file(&dest);
    p.cm()
        .arg("insert")
        .stdin("ECHO://a")
        .stderr(format!(
            "cm: providers not initialised, plugin {} does not match the lock file {}: expected sha256:{hash}, found sha256:{changed}\n",
            dest.display(),
            lock_file.display()
        ))
        .failure(3);
    p.cm()
        .args(["plugin", "list"])
        .stdout(format!(
            "ECHO\tnative\tMISMATCH (lock has sha256:{hash})\tsha256:{changed}\t{}\n",
            dest.display()
        ))
        .success();

    // A plugin the lock does not know.
    p.install("json");
    p.cm()
        .arg("insert")
        .stdin("JSON:///x|user")
        .stderr(format!(
            "cm: providers not initialised, plugin {} (sha256:{hash}) is not in the lock file {}; approve it with `cm plugin install`\n",
            p.plugin_file("json").display(),
            lock_file.display()
        ))
        .failure(3);
}

#[test]
fn require_lock_refuses_unlocked_folders() {
    let p = project();
    p.install("echo");
    p.cm()
        .arg("insert")
        .stdin("ECHO://a")
        .stdout("a->")
        .success();
    let refused = format!(
        "cm: providers not initialised, no lock file {} for plugin {} and --require-lock (CM_REQUIRE_LOCK) is set\n",
        p.real_dir().join(".configmanager/plugins.lock").display(),
        p.plugin_file("echo").display()
    );
    p.cm()
        .args(["--require-lock", "insert"])
        .stdin("ECHO://a")
        .stderr(&refused)
        .failure(3);
    p.cm()
        .env("CM_REQUIRE_LOCK", "1")
        .arg("insert")
        .stdin("ECHO://a")
        .stderr(&refused)
        .failure(3);
}

#[test]
fn world_writable_plugins_are_refused_group_writable_warned() {
    use std::os::unix::fs::PermissionsExt;
    let p = project();
    let plugin = p.install("echo");
    let shown = p.plugin_file("echo");
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o775)).unwrap();
    p.cm()
        .arg("insert")
        .stdin("ECHO://a")
        .stdout("a->")
        .stderr(format!(
            " WARN {} is group-writable (mode 775); members of its group could replace the plugin\n",
            shown.display()
        ))
        .success();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o777)).unwrap();
    p.cm()
        .arg("insert")
        .stdin("ECHO://a")
        .stderr(format!(
            "cm: providers not initialised, refusing to run {}: it is world-writable (mode 777); chmod o-w it\n",
            shown.display()
        ))
        .failure(3);
}

#[test]
fn init_creates_folders_and_reports_missing_plugins() {
    let p = project();
    p.install("echo");
    p.cm()
        .args(["init", "--plugin", "echo,awssecrets"])
        .stdout(format!(
            "echo: installed at {}\n\
             awssecrets: missing; copy the plugin binary to {} or run `cm plugin install awssecrets --from FILE`\n",
            p.plugin_file("echo").display(),
            p.plugin_file("awssecrets").display()
        ))
        .stderr("cm: 1 plugin(s) missing: awssecrets\n")
        .failure(3);
    assert!(p.path(".configmanager/plugins/awssecrets").is_dir());
    p.cm()
        .args(["init", "--plugin", "echo"])
        .stdout(format!(
            "echo: installed at {}\n",
            p.plugin_file("echo").display()
        ))
        .success();
}

#[test]
fn global_install_goes_to_home() {
    let p = project();
    let home = p.home().canonicalize().unwrap();
    let hash = sha256_file(Path::new(TEST_PLUGIN));
    p.cm()
        .args([
            "plugin",
            "install",
            "echo",
            "--from",
            TEST_PLUGIN,
            "--global",
        ])
        .stdout(format!(
            "installed {} (sha256:{hash})\nrecorded in {}\n",
            home.join(".configmanager/plugins/echo")
                .join(crate::support::plugin_file_name("echo"))
                .display(),
            home.join(".configmanager/plugins.lock").display()
        ))
        .success();
    assert!(p.home().join(".configmanager/plugins.lock").is_file());
    p.cm()
        .arg("insert")
        .stdin("ECHO://h")
        .stdout("h->")
        .success();
}
