//! `cm exec`: tokens in the command's environment resolved before it starts, its exit status
//! passed through, its output masked (or cm replaced by it with `--no-masking`), signals
//! forwarded, and a pseudo-terminal where cm's output is a terminal. The commands are real
//! `sh` processes; the values come from the real test plugin (`ECHO://x` is `x->`).

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use cm_testkit::{Project, require_tool};

use crate::support::{project, wait_until};

fn echo_project() -> Project {
    let p = project();
    p.install("echo");
    p
}

#[test]
fn the_command_sees_values_from_the_environment_env_files_and_flags() {
    let p = echo_project();
    p.write(
        "app.env",
        "# comment\nFROM_FILE=ECHO://file\nQUOTED=\"url=ECHO://q1 and ECHO://q2[k=v]\"\nPLAIN=no tokens\n",
    );
    let print = r#"printf '%s|%s|%s|%s|%s|%s\n' "$FROM_ENV" "$FROM_FILE" "$QUOTED" "$PLAIN" "$FROM_FLAG" "$UNTOUCHED""#;
    p.cm()
        .env("FROM_ENV", "ECHO://env")
        .env("UNTOUCHED", "plain value")
        .args(["exec", "--no-masking", "--env-file", "app.env"])
        .args([
            "--env",
            "FROM_FLAG=pre ECHO://flag post",
            "--",
            "sh",
            "-c",
            print,
        ])
        .stdout("env->|file->|url=q1-> and q2->k=v|no tokens|pre flag-> post|plain value\n")
        .success();
    // Masked: the same run with every value concealed, and what is not a value untouched.
    p.cm()
        .env("FROM_ENV", "ECHO://env")
        .env("UNTOUCHED", "plain value")
        .args(["exec", "--env-file", "app.env"])
        .args(["--env", "FROM_FLAG=pre ECHO://flag post", "--", "sh", "-c", print])
        .stdout(
            "<concealed by cm>|<concealed by cm>|url=<concealed by cm> and <concealed by cm>|no tokens|pre <concealed by cm> post|plain value\n",
        )
        .success();
    p.assert_no_plugins_left();
}

#[test]
fn later_definitions_win_and_pristine_keeps_only_path_and_cms_variables() {
    let p = echo_project();
    p.write("a.env", "A=ECHO://file-a\nB=from-a\n");
    p.write("b.env", "B=ECHO://file-b\nC=${B}+c\n");
    let out = p
        .cm()
        .env("PATH", "/usr/bin:/bin")
        .env("A", "inherited")
        .env("KEEP", "ECHO://kept")
        .env("DROP", "not a token")
        .args(["exec", "--pristine", "--no-masking"])
        .args([
            "--env-file",
            "a.env",
            "--env-file",
            "b.env",
            "--env",
            "D=ECHO://d",
        ])
        .args(["--", "env"])
        .stdout_unchecked()
        .success();
    // Sorted: the inherited variables come in the order of cm's environment. C is expanded
    // from B's text first (python-dotenv's rule), so it holds a token of its own.
    let stdout = out.stdout_str();
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "A=file-a->",
            "B=file-b->",
            "C=file-b+c->",
            "D=d->",
            "KEEP=kept->",
            "PATH=/usr/bin:/bin"
        ]
    );
}

#[test]
fn exit_status_is_the_commands() {
    use std::os::unix::process::ExitStatusExt;
    let p = echo_project();
    let exec = |script: &str| p.cm().args(["exec", "--", "sh", "-c", script]);
    exec("exit 0").success();
    exec("exit 7").failure(7);
    exec("kill -TERM $$").failure(143);
    exec("kill -KILL $$").failure(137);
    // Without masking cm is the command, so a signal ends cm's own process, natively.
    for (script, code, signal) in [("exit 7", Some(7), None), ("kill -TERM $$", None, Some(15))] {
        let status = p
            .command()
            .args(["exec", "--no-masking", "--", "sh", "-c", script])
            .status()
            .unwrap();
        assert_eq!((status.code(), status.signal()), (code, signal), "{script}");
    }
    p.cm()
        .args(["exec", "--", "./no-such-command"])
        .stderr("cm: cannot run ./no-such-command: No such file or directory (os error 2)\n")
        .failure(127);
    p.write("not-executable", "#!/bin/sh\n");
    p.cm()
        .args(["exec", "--no-masking", "--", "./not-executable"])
        .stderr("cm: cannot run ./not-executable: Permission denied (os error 13)\n")
        .failure(126);
}

#[test]
fn a_failed_token_means_the_command_never_starts() {
    let p = echo_project();
    p.write("bad.env", "OK=ECHO://fine\nBAD=ECHO://err\n");
    p.cm()
        .env("ALSO_BAD", "ECHO://err[why=env]")
        .args(["exec", "--env-file", "bad.env", "--", "touch", "ran"])
        .stderr(
            "cm: environment variable ALSO_BAD: failed to retrieve config item - (ECHO://err[why=env]), implementation ECHO error: simulated failure for token: err\n\
             bad.env:2: BAD: failed to retrieve config item - (ECHO://err), implementation ECHO error: simulated failure for token: err\n\
             token not found: 2 of 3 token(s) could not be resolved\n",
        )
        .failure(1);
    assert!(!p.path("ran").exists());
    // --lax: the failed tokens are left as they were and the command runs.
    p.cm()
        .args(["--lax", "exec", "--no-masking", "--env-file", "bad.env"])
        .args(["--", "sh", "-c", "echo \"$OK $BAD\""])
        .stdout("fine-> ECHO://err\n")
        .stderr(" WARN bad.env:2: BAD: failed to retrieve config item - (ECHO://err), implementation ECHO error: simulated failure for token: err (left as it was: --lax)\n")
        .success();
}

#[test]
fn bad_variables_are_reported_with_where_they_are() {
    let p = echo_project();
    p.write("bad.env", "A=1\nthis is not a line\nB='open\n");
    p.cm()
        .args(["exec", "--env-file", "bad.env", "--env", "NOEQUALS", "--env", "1X=y"])
        .args(["--", "true"])
        .stderr(
            "cm: bad.env:2:1: expected NAME=VALUE\n\
             --env 1: expected NAME=VALUE\n\
             --env 2: \"1X\" is not a variable name (letters, digits and _, not starting with a digit)\n",
        )
        .failure(2);
    p.cm()
        .env("BROKEN", "x ECHO://")
        .args(["exec", "--", "true"])
        .stderr(
            "cm: environment variable BROKEN, column 3: path cannot be empty in token `ECHO://`\n",
        )
        .failure(2);
    p.cm()
        .args(["exec", "--env-file", "missing.env", "--", "true"])
        .stderr("cm: cannot read missing.env: No such file or directory (os error 2)\n")
        .failure(2);
}

#[test]
fn with_no_masking_cm_becomes_the_command() {
    let p = echo_project();
    let mut cm = p
        .command()
        .args(["exec", "--no-masking", "--env", "S=ECHO://s", "--"])
        .args(["sh", "-c", "echo $$ $S; cat /proc/$$/comm"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    cm.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(cm.wait().unwrap().success());
    // The shell runs under cm's own pid: cm's process image was replaced.
    assert_eq!(out, format!("{} s->\nsh\n", cm.id()));
}

#[test]
fn no_plugin_runs_while_the_command_runs() {
    for masking in [true, false] {
        let p = echo_project();
        let mut args = vec!["exec", "--env", "S=ECHO://s"];
        if !masking {
            args.push("--no-masking");
        }
        let mut cm = p
            .command()
            .args(args)
            .args([
                "--",
                "sh",
                "-c",
                "touch started; while [ ! -e release ]; do sleep 0.02; done",
            ])
            .spawn()
            .unwrap();
        wait_until(Duration::from_secs(20), "the command to start", || {
            p.path("started").exists()
        });
        assert_eq!(p.call_count(), 1, "the value was fetched");
        assert_eq!(p.plugin_pids(), Vec::<u32>::new(), "masking: {masking}");
        p.write("release", "");
        assert!(cm.wait().unwrap().success());
    }
}

#[test]
fn a_value_written_one_byte_at_a_time_is_still_masked() {
    let p = echo_project();
    p.cm()
        .args(["exec", "--env", "S=ECHO://hunter2", "--", "sh", "-c"])
        .arg(r#"printf 'pw='; for i in $(seq 1 ${#S}); do printf '%s' "$(printf '%s' "$S" | cut -c $i)"; sleep 0.01; done; printf '!\n'"#)
        .stdout("pw=<concealed by cm>!\n")
        .success();
}

#[test]
fn overlapping_values_and_binary_output() {
    let p = echo_project();
    // abcdef-> and def->x overlap in abcdef->x: one concealed run, nothing of either left.
    // Raw bytes on stderr, so the output is compared as bytes rather than through `Cm`.
    let out = p
        .command()
        .args([
            "exec",
            "--env",
            "A=ECHO://abcdef",
            "--env",
            "B=ECHO://def[x]",
        ])
        .args([
            "--",
            "sh",
            "-c",
            r#"printf '[abcdef->]{def->x}[abcdef->x]\000\377abcdef->\n' >&2"#,
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"");
    assert_eq!(
        out.stderr,
        b"[<concealed by cm>]{<concealed by cm>}[<concealed by cm>]\x00\xff<concealed by cm>\n"
    );
}

#[test]
fn short_values_are_not_masked_and_say_so() {
    let p = echo_project();
    p.cm()
        .env("SHORT", "ab")
        .args([
            "exec",
            "--env",
            "S=ENV://SHORT",
            "--env",
            "L=ECHO://long",
            "--",
        ])
        .args(["sh", "-c", "echo $S $L"])
        .stdout("ab <concealed by cm>\n")
        .stderr(" WARN values shorter than 4 bytes are not masked: S\n")
        .success();
}

#[test]
fn signals_sent_to_cm_are_forwarded() {
    let p = echo_project();
    for (signal, name) in [
        (libc::SIGTERM, "TERM"),
        (libc::SIGUSR1, "USR1"),
        (libc::SIGHUP, "HUP"),
    ] {
        let _ = std::fs::remove_file(p.path("started"));
        let script = format!(
            "trap 'echo got {name} $S; exit 5' {name}; touch started; while :; do sleep 0.02; done"
        );
        let cm = p
            .command()
            .args([
                "exec",
                "--env",
                "S=ECHO://secret",
                "--",
                "sh",
                "-c",
                &script,
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        wait_until(Duration::from_secs(20), "the command to start", || {
            p.path("started").exists()
        });
        // SAFETY: signals the cm process this test started.
        unsafe { libc::kill(cm.id() as i32, signal) };
        let out = cm.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(5), "{name}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("got {name} <concealed by cm>\n")
        );
    }
}

/// The masked stream at volume: 1 GiB with a value in every line, checked as it arrives.
#[test]
fn a_gibibyte_through_the_mask() {
    let p = echo_project();
    let mut cm = p
        .command()
        .args(["exec", "--env", "S=ECHO://s3cr3t", "--", "sh", "-c"])
        .arg("yes \"line with $S in it\" | head -c 1073741824")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = cm.stdout.take().unwrap();
    let line = b"line with <concealed by cm> in it\n";
    // The masked line repeated, to compare each read against in one slice comparison (a
    // per-line loop in this unoptimised test would take longer than cm).
    let mut buf = vec![0u8; 1 << 20];
    let expected: Vec<u8> = line
        .iter()
        .copied()
        .cycle()
        .take(buf.len() + line.len())
        .collect();
    let mut total = 0;
    loop {
        let n = stdout.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        let at = total % line.len();
        assert!(
            buf[..n] == expected[at..at + n],
            "a line changed after byte {total}"
        );
        total += n;
    }
    assert!(cm.wait().unwrap().success());
    // 1 GiB of "line with s3cr3t-> in it\n" (25 bytes a line), each line 9 bytes longer masked.
    // 2^30 % 25 = 24: head cuts only the last newline, so the last line is masked too, and
    // the output ends on a prefix of the masked line (checked with every other read above).
    let lines = (1usize << 30) / 25;
    assert_eq!(total, lines * line.len() + line.len() - 1);
}

/// A terminal session, driven by Python's `pty`: the command sees a terminal on stdout, gets
/// the terminal's size, and a resize.
#[test]
fn the_command_gets_a_terminal_when_cm_has_one() {
    if !require_tool("python3", &["--version"], "apt-get install python3") {
        return;
    }
    let p = echo_project();
    let cm = crate::support::CM;
    let script = r#"
import os, pty, sys, fcntl, termios, struct, time, select
cm = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execv(cm, [cm, "exec", "--env", "S=ECHO://secret", "--", "sh", "-c",
        "exec 3>&1; trap 'echo resized $(stty size <&3)' WINCH; [ -t 1 ] && echo tty; "
        "[ -t 2 ] && echo stderr-tty; echo $(stty size <&3) $S; touch ready; "
        "while [ ! -e done ]; do sleep 0.02; done; echo bye"])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
out = b""
def read_until(pred, limit=20):
    global out
    end = time.time() + limit
    while not pred() and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
read_until(lambda: os.path.exists("ready"))
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 132, 0, 0))
read_until(lambda: b"resized" in out)
open("done", "w").close()
read_until(lambda: False, 5)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode().replace("\r\n", "\n"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(cm)
        .current_dir(p.dir())
        .envs(p.command().get_envs().filter_map(|(k, v)| Some((k, v?))))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert!(out.status.success(), "{out:?}");
    let out = String::from_utf8(out.stdout).unwrap();
    // The order of stdout and stderr lines on one terminal is not fixed; each line is.
    let mut lines: Vec<&str> = out.lines().collect();
    // The shell may see the terminal's own SIGWINCH before cm has copied the new size, then
    // cm's: the last size it reports is the new one.
    let last_resize = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("resized"))
        .copied();
    assert_eq!(last_resize, Some("resized 50 132"), "{out:?}");
    lines.retain(|l| !l.starts_with("resized"));
    lines.sort_unstable();
    assert_eq!(
        lines,
        ["24 80 <concealed by cm>", "bye", "stderr-tty", "tty"],
        "{out:?}"
    );
}
