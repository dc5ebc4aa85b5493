//! Output files, for every command that writes one (`retrieve`, `insert`, `string-input`):
//! created 0600 whatever the umask, an existing file keeps its mode, written through a temporary
//! file in the same folder that is renamed into place only on success, a symlink at the target
//! replaced rather than written through, and a failed run leaves the old file as it was.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};

use crate::support::{Bench, Run};

/// The three writing commands, each writing the token `ENV://CM_OUT` (value `v`) to `out`.
fn writers(out: &str) -> Vec<(Vec<String>, &'static [u8])> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        (
            s(&["retrieve", "-t", "ENV://CM_OUT", "-p", out]),
            b"" as &[u8],
        ),
        (s(&["insert", "-p", out]), b"ENV://CM_OUT\n"),
        (s(&["string-input", "-i", "ENV://CM_OUT", "-p", out]), b""),
    ]
}

/// Runs cm with `umask` and `CM_OUT=value`.
fn run_with_umask(b: &Bench, umask: u32, args: &[String], stdin: &[u8], value: &str) -> Run {
    use std::os::unix::process::CommandExt;
    let mut cmd = b.cm();
    cmd.env("CM_OUT", value).args(args);
    let mask = umask as libc::mode_t;
    // SAFETY: umask is async-signal-safe and touches nothing but the child's own mask.
    unsafe {
        cmd.pre_exec(move || {
            libc::umask(mask);
            Ok(())
        });
    }
    b.run_cmd(&mut cmd, stdin)
}

fn mode(b: &Bench, rel: &str) -> u32 {
    fs::symlink_metadata(b.path(rel))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// The bench folder's entries, minus the plugin call log.
fn entries(b: &Bench) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(b.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "calls.log")
        .collect();
    names.sort();
    names
}

#[test]
fn new_files_are_0600_whatever_the_umask() {
    for (args, stdin) in writers("out.env") {
        for umask in [0o000, 0o022, 0o077] {
            let b = Bench::new();
            run_with_umask(&b, umask, &args, stdin, "v").success();
            assert_eq!(mode(&b, "out.env"), 0o600, "{args:?} umask {umask:o}");
            assert_eq!(entries(&b), ["out.env"], "{args:?}: no temp file left");
        }
    }
}

#[test]
fn an_existing_file_keeps_its_mode_and_gets_the_new_contents() {
    for (args, stdin) in writers("out.env") {
        for m in [0o644, 0o640, 0o400] {
            let b = Bench::new();
            b.write("out.env", "old\n");
            fs::set_permissions(b.path("out.env"), fs::Permissions::from_mode(m)).unwrap();
            run_with_umask(&b, 0o022, &args, stdin, "new").success();
            assert_eq!(mode(&b, "out.env"), m, "{args:?}");
            let text = String::from_utf8(b.read("out.env")).unwrap();
            assert!(text.contains("new"), "{args:?}: {text}");
            assert_eq!(entries(&b), ["out.env"]);
        }
    }
}

#[test]
fn a_symlink_at_the_target_is_replaced_never_written_through() {
    for (args, stdin) in writers("link.env") {
        let b = Bench::new();
        b.write("precious.txt", "precious\n");
        fs::set_permissions(b.path("precious.txt"), fs::Permissions::from_mode(0o644)).unwrap();
        symlink("precious.txt", b.path("link.env")).unwrap();
        run_with_umask(&b, 0o022, &args, stdin, "secret").success();
        let meta = fs::symlink_metadata(b.path("link.env")).unwrap();
        assert!(meta.file_type().is_file(), "{args:?}: still a symlink");
        assert_eq!(mode(&b, "link.env"), 0o600, "{args:?}");
        assert_eq!(b.read("precious.txt"), b"precious\n", "{args:?}");
        assert_eq!(mode(&b, "precious.txt"), 0o644);
        assert!(
            String::from_utf8(b.read("link.env"))
                .unwrap()
                .contains("secret")
        );
        assert_eq!(entries(&b), ["link.env", "precious.txt"]);
    }
}

#[test]
fn a_failed_run_leaves_the_existing_file_unchanged() {
    let b = Bench::new();
    b.install("echo");
    let cases: Vec<(Vec<&str>, &[u8])> = vec![
        (vec!["retrieve", "-t", "ECHO://ok", "-t", "ECHO://err"], b""),
        (
            vec!["insert", "-p", "app.env"],
            b"a=ECHO://ok b=ECHO://err\n",
        ),
        (vec!["string-input", "-i", "ECHO://ok ECHO://err"], b""),
        // A plugin that is missing, a malformed token, a name collision.
        (vec!["retrieve", "-t", "AWSSECRETS:///x"], b""),
        (vec!["retrieve", "-t", "ECHO://x[]"], b""),
        (
            vec!["retrieve", "-t", "ECHO://a/X", "-t", "ECHO://b/X"],
            b"",
        ),
    ];
    for (args, stdin) in cases {
        b.write("app.env", "previous\n");
        fs::set_permissions(b.path("app.env"), fs::Permissions::from_mode(0o640)).unwrap();
        let r = b.run(&args, stdin);
        assert_ne!(r.code, Some(0), "{args:?}");
        assert_eq!(b.read("app.env"), b"previous\n", "{args:?}");
        assert_eq!(mode(&b, "app.env"), 0o640);
        assert!(r.stdout.is_empty(), "{args:?}");
        assert_eq!(entries(&b), [".configmanager", "app.env"], "{args:?}");
    }
}

#[test]
fn a_failed_run_creates_no_file() {
    let b = Bench::new();
    b.install("echo");
    b.run(&["retrieve", "-t", "ECHO://err"], b"").failure(1);
    b.run(&["insert", "-p", "out.txt"], b"ECHO://err\n")
        .failure(1);
    assert_eq!(entries(&b), [".configmanager"]);
}

#[test]
fn input_and_output_may_be_the_same_file() {
    let b = Bench::new();
    b.install("echo");
    b.write("t.conf", "a=ECHO://one\nb=ECHO://two\n");
    fs::set_permissions(b.path("t.conf"), fs::Permissions::from_mode(0o644)).unwrap();
    b.run(&["insert", "-i", "t.conf", "-p", "t.conf"], b"")
        .success();
    assert_eq!(b.read("t.conf"), b"a=one->\nb=two->\n");
    assert_eq!(mode(&b, "t.conf"), 0o644);
    // configmanager truncates first and leaves the file empty when a token fails.
    b.write("t.conf", "a=ECHO://one\nb=ECHO://err\n");
    b.run(&["string-input", "-i", "t.conf", "-p", "t.conf"], b"")
        .failure(1);
    assert_eq!(b.read("t.conf"), b"a=ECHO://one\nb=ECHO://err\n");
}

#[test]
fn output_into_another_folder_puts_the_temp_file_there() {
    let b = Bench::new();
    fs::create_dir(b.path("sub")).unwrap();
    b.run(&["retrieve", "-t", "ENV://HOME", "-p", "sub/app.env"], b"")
        .success();
    let names: Vec<_> = fs::read_dir(b.path("sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["app.env"]);
    assert_eq!(mode(&b, "sub/app.env"), 0o600);
}

#[test]
fn unwritable_output_exits_4_and_leaves_nothing() {
    let b = Bench::new();
    let r = b.run(
        &["retrieve", "-t", "ENV://HOME", "-p", "missing/app.env"],
        b"",
    );
    r.failure(4).stderr_has("cannot write missing/app.env");
    assert!(entries(&b).is_empty());
    // A directory in the way.
    fs::create_dir(b.path("dir.env")).unwrap();
    fs::write(b.path("dir.env/inside"), "keep").unwrap();
    b.run(&["insert", "-p", "dir.env"], b"ENV://HOME")
        .failure(4);
    assert_eq!(b.read("dir.env/inside"), b"keep");
    assert_eq!(entries(&b), ["dir.env"]);
}
