//! Output files, for every command that writes one (`retrieve`, `insert`, `string-input`):
//! created 0600 whatever the umask, an existing file keeps its mode, written through a temporary
//! file in the same folder that is renamed into place only on success, a symlink at the target
//! replaced rather than written through, and a failed run leaves the old file as it was.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};

use cm_testkit::{Cm, Project};

use crate::support::project;

/// The three writing commands, each writing the token `ENV://CM_OUT` to `out`.
fn writers<'p>(p: &'p Project, out: &str) -> Vec<Cm<'p>> {
    vec![
        p.cm().args(["retrieve", "-t", "ENV://CM_OUT", "-p", out]),
        p.cm().args(["insert", "-p", out]).stdin("ENV://CM_OUT\n"),
        p.cm()
            .args(["string-input", "-i", "ENV://CM_OUT", "-p", out]),
    ]
}

/// What each of [`writers`] writes for the value `v`.
const WRITTEN: [fn(&str) -> String; 3] = [
    |v| format!("export CM_OUT='{v}'\n"),
    |v| format!("{v}\n"),
    |v| v.to_string(),
];

fn mode(p: &Project, rel: &str) -> u32 {
    fs::symlink_metadata(p.path(rel))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn new_files_are_0600_whatever_the_umask() {
    for umask in [0o000, 0o022, 0o077] {
        for (which, written) in WRITTEN.iter().enumerate() {
            let p = project();
            let cm = writers(&p, "out.env").swap_remove(which);
            cm.umask(umask).env("CM_OUT", "v").success();
            assert_eq!(mode(&p, "out.env"), 0o600, "writer {which} umask {umask:o}");
            assert_eq!(p.read("out.env"), written("v").as_bytes());
            assert_eq!(
                p.entries(),
                ["out.env"],
                "writer {which}: no temp file left"
            );
        }
    }
}

#[test]
fn an_existing_file_keeps_its_mode_and_gets_the_new_contents() {
    for m in [0o644, 0o640, 0o400] {
        for (which, written) in WRITTEN.iter().enumerate() {
            let p = project();
            p.write("out.env", "old\n");
            fs::set_permissions(p.path("out.env"), fs::Permissions::from_mode(m)).unwrap();
            let cm = writers(&p, "out.env").swap_remove(which);
            cm.umask(0o022).env("CM_OUT", "new").success();
            assert_eq!(mode(&p, "out.env"), m, "writer {which}");
            assert_eq!(p.read("out.env"), written("new").as_bytes());
            assert_eq!(p.entries(), ["out.env"]);
        }
    }
}

#[test]
fn a_symlink_at_the_target_is_replaced_never_written_through() {
    for (which, written) in WRITTEN.iter().enumerate() {
        let p = project();
        p.write("precious.txt", "precious\n");
        fs::set_permissions(p.path("precious.txt"), fs::Permissions::from_mode(0o644)).unwrap();
        symlink("precious.txt", p.path("link.env")).unwrap();
        let cm = writers(&p, "link.env").swap_remove(which);
        cm.umask(0o022).env("CM_OUT", "secret").success();
        let meta = fs::symlink_metadata(p.path("link.env")).unwrap();
        assert!(
            meta.file_type().is_file(),
            "writer {which}: still a symlink"
        );
        assert_eq!(mode(&p, "link.env"), 0o600, "writer {which}");
        assert_eq!(p.read("precious.txt"), b"precious\n", "writer {which}");
        assert_eq!(mode(&p, "precious.txt"), 0o644);
        assert_eq!(p.read("link.env"), written("secret").as_bytes());
        assert_eq!(p.entries(), ["link.env", "precious.txt"]);
    }
}

#[test]
fn a_failed_run_leaves_the_existing_file_unchanged() {
    let p = project();
    p.install("echo");
    let failed = "failed to retrieve config item - (ECHO://err), implementation ECHO error: simulated failure for token: err";
    let cases: Vec<(Cm, i32, String)> = vec![
        (
            p.cm().args(["retrieve", "-t", "ECHO://ok", "-t", "ECHO://err"]),
            1,
            format!("cm: --token 2: {failed}\ntoken not found: 1 of 2 token(s) could not be resolved\n"),
        ),
        (
            p.cm()
                .args(["insert", "-p", "app.env"])
                .stdin("a=ECHO://ok b=ECHO://err\n"),
            1,
            format!("cm: <stdin>:1:15: {failed}\ntoken not found: 1 of 2 token(s) could not be resolved\n"),
        ),
        (
            p.cm().args(["string-input", "-i", "ECHO://ok ECHO://err"]),
            1,
            format!("cm: <input>:1:11: {failed}\ntoken not found: 1 of 2 token(s) could not be resolved\n"),
        ),
        // A plugin that is missing, a malformed token, a name collision.
        (
            p.cm().args(["retrieve", "-t", "AWSSECRETS:///x"]),
            3,
            crate::support::missing_plugin_stderr(&p, "awssecrets"),
        ),
        (
            p.cm().args(["retrieve", "-t", "ECHO://x[]"]),
            2,
            "cm: --token 1: metadata brackets must include at least one set of key=value pairs in token `ECHO://x[]`\n".to_string(),
        ),
        (
            p.cm()
                .args(["retrieve", "-t", "ECHO://a/X", "-t", "ECHO://b/X"]),
            4,
            "cm: variable `X` would get different values from `ECHO://a/X` and `ECHO://b/X`\n"
                .to_string(),
        ),
    ];
    for (cm, code, stderr) in cases {
        p.write("app.env", "previous\n");
        fs::set_permissions(p.path("app.env"), fs::Permissions::from_mode(0o640)).unwrap();
        cm.stderr(stderr).failure(code);
        assert_eq!(p.read("app.env"), b"previous\n");
        assert_eq!(mode(&p, "app.env"), 0o640);
        assert_eq!(p.entries(), [".configmanager", "app.env"]);
    }
}

#[test]
fn a_failed_run_creates_no_file() {
    let p = project();
    p.install("echo");
    let stderr = |location: &str| {
        format!(
            "cm: {location}: failed to retrieve config item - (ECHO://err), implementation ECHO error: simulated failure for token: err\n\
             token not found: 1 of 1 token(s) could not be resolved\n"
        )
    };
    p.cm()
        .args(["retrieve", "-t", "ECHO://err"])
        .stderr(stderr("--token 1"))
        .failure(1);
    p.cm()
        .args(["insert", "-p", "out.txt"])
        .stdin("ECHO://err\n")
        .stderr(stderr("<stdin>:1:1"))
        .failure(1);
    assert_eq!(p.entries(), [".configmanager"]);
}

#[test]
fn input_and_output_may_be_the_same_file() {
    let p = project();
    p.install("echo");
    p.write("t.conf", "a=ECHO://one\nb=ECHO://two\n");
    fs::set_permissions(p.path("t.conf"), fs::Permissions::from_mode(0o644)).unwrap();
    p.cm()
        .args(["insert", "-i", "t.conf", "-p", "t.conf"])
        .success();
    assert_eq!(p.read("t.conf"), b"a=one->\nb=two->\n");
    assert_eq!(mode(&p, "t.conf"), 0o644);
    // configmanager truncates first and leaves the file empty when a token fails.
    p.write("t.conf", "a=ECHO://one\nb=ECHO://err\n");
    p.cm()
        .args(["string-input", "-i", "t.conf", "-p", "t.conf"])
        .stderr(
            "cm: t.conf:2:3: failed to retrieve config item - (ECHO://err), implementation ECHO error: simulated failure for token: err\n\
             token not found: 1 of 2 token(s) could not be resolved\n",
        )
        .failure(1);
    assert_eq!(p.read("t.conf"), b"a=ECHO://one\nb=ECHO://err\n");
}

#[test]
fn output_into_another_folder_puts_the_temp_file_there() {
    let p = project();
    fs::create_dir(p.path("sub")).unwrap();
    p.cm()
        .args(["retrieve", "-t", "ENV://HOME", "-p", "sub/app.env"])
        .success();
    let names: Vec<_> = fs::read_dir(p.path("sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["app.env"]);
    assert_eq!(mode(&p, "sub/app.env"), 0o600);
}

#[test]
fn unwritable_output_exits_4_and_leaves_nothing() {
    let p = project();
    // The OS's words for the errors (these are the same on Linux and macOS). The temporary
    // file's name is random.
    p.cm()
        .args(["retrieve", "-t", "ENV://HOME", "-p", "missing/app.env"])
        .stderr_contains(format!(
            "cm: cannot write missing/app.env: No such file or directory (os error 2) at path \"{}/missing/.app.env.",
            p.real_dir().display()
        ))
        .stderr_contains(".tmp\"\n")
        .failure(4);
    assert!(p.entries().is_empty());
    // A directory in the way.
    fs::create_dir(p.path("dir.env")).unwrap();
    fs::write(p.path("dir.env/inside"), "keep").unwrap();
    p.cm()
        .args(["insert", "-p", "dir.env"])
        .stdin("ENV://HOME")
        .stderr("cm: cannot write dir.env: Is a directory (os error 21)\n")
        .failure(4);
    assert_eq!(p.read("dir.env/inside"), b"keep");
    assert_eq!(p.entries(), ["dir.env"]);
}
