//! [`Cm`]: one run of the real `cm`, built up like just's `Test` and checked exactly.
//!
//! By default a run must print nothing on stdout and nothing on stderr; a test states the exact
//! output it expects. Partial stderr matching ([`Cm::stderr_contains`]) and unchecked stdout
//! ([`Cm::stdout_unchecked`]) are opt-ins, each to be used with a comment saying why the whole
//! text cannot be known (timestamps in log lines, a temporary socket path, an OS's wording).

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::diff::diff;
use crate::project::Project;

/// What one stream must hold.
enum Expect {
    /// Exactly these bytes.
    Exact(Vec<u8>),
    /// Each of these pieces, somewhere (opt-in).
    Contains(Vec<String>),
    /// Anything (opt-in; the test checks the [`Output`] itself).
    Unchecked,
}

/// One run of `cm` in a [`Project`]. Nothing happens until [`success`](Cm::success),
/// [`failure`](Cm::failure) or [`status`](Cm::status) runs it and checks the result.
#[must_use = "a Cm does nothing until .success(), .failure(code) or .status(code) runs it"]
pub struct Cm<'p> {
    project: &'p Project,
    command: Command,
    stdin: Vec<u8>,
    stdout: Expect,
    stderr: Expect,
}

/// What a run printed, for checks beyond the exact comparison.
#[derive(Debug)]
pub struct Output {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Standard output as text (lossy).
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl<'p> Cm<'p> {
    pub(crate) fn new(project: &'p Project) -> Cm<'p> {
        Cm {
            project,
            command: project.command(),
            stdin: Vec::new(),
            stdout: Expect::Exact(Vec::new()),
            stderr: Expect::Exact(Vec::new()),
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.command.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Sets a variable for this run.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    /// Removes a variable for this run.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.command.env_remove(key);
        self
    }

    /// Runs in `dir` instead of the project folder.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// Runs with this umask.
    pub fn umask(mut self, mask: u32) -> Self {
        use std::os::unix::process::CommandExt;
        let mask = mask as libc::mode_t;
        // SAFETY: umask is async-signal-safe and touches nothing but the child's own mask.
        unsafe {
            self.command.pre_exec(move || {
                libc::umask(mask);
                Ok(())
            });
        }
        self
    }

    /// What cm reads on stdin (nothing by default).
    pub fn stdin(mut self, input: impl AsRef<[u8]>) -> Self {
        self.stdin = input.as_ref().to_vec();
        self
    }

    /// The exact stdout expected (empty by default).
    pub fn stdout(mut self, expected: impl AsRef<[u8]>) -> Self {
        self.stdout = Expect::Exact(expected.as_ref().to_vec());
        self
    }

    /// Opt-in: stdout is not compared; the test checks [`Output::stdout`] itself.
    pub fn stdout_unchecked(mut self) -> Self {
        self.stdout = Expect::Unchecked;
        self
    }

    /// The exact stderr expected (empty by default).
    pub fn stderr(mut self, expected: impl AsRef<str>) -> Self {
        self.stderr = Expect::Exact(expected.as_ref().as_bytes().to_vec());
        self
    }

    /// Opt-in: stderr must contain `piece` (repeatable) rather than equal a whole text. Say at
    /// the call site why the whole text cannot be known.
    pub fn stderr_contains(mut self, piece: impl Into<String>) -> Self {
        match &mut self.stderr {
            Expect::Contains(pieces) => pieces.push(piece.into()),
            other => *other = Expect::Contains(vec![piece.into()]),
        }
        self
    }

    /// Opt-in: stderr is not compared; the test checks [`Output::stderr`] itself.
    pub fn stderr_unchecked(mut self) -> Self {
        self.stderr = Expect::Unchecked;
        self
    }

    /// Runs and checks exit status 0 and the expected output.
    #[track_caller]
    pub fn success(self) -> Output {
        self.status(0)
    }

    /// Runs and checks exit status `code` (non-zero) and the expected output.
    #[track_caller]
    pub fn failure(self, code: i32) -> Output {
        assert_ne!(code, 0, "failure(0): use success()");
        self.status(code)
    }

    /// Runs, then checks that no plugin process is left, the exit status and the expected
    /// output; a mismatch panics with every difference at once.
    #[track_caller]
    pub fn status(mut self, code: i32) -> Output {
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cm");
        let mut input = child.stdin.take().expect("stdin");
        let stdin = std::mem::take(&mut self.stdin);
        // A thread, so that a cm that stops reading early cannot block this test.
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&stdin);
        });
        let out = child.wait_with_output().expect("wait for cm");
        let _ = writer.join();
        self.project.assert_no_plugins_left();
        let output = Output {
            code: out.status.code(),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        let mut problems = Vec::new();
        if output.code != Some(code) {
            problems.push(format!(
                "exit status: expected {code}, got {:?}",
                output.code
            ));
        }
        if let Some(p) = check("stdout", &self.stdout, &output.stdout) {
            problems.push(p);
        }
        if let Some(p) = check("stderr", &self.stderr, output.stderr.as_bytes()) {
            problems.push(p);
        }
        if !problems.is_empty() {
            let args: Vec<String> = self
                .command
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let mut report = format!("cm {}\n", args.join(" "));
            for p in &problems {
                report.push_str(p);
                report.push('\n');
            }
            // The streams without a diff of their own, as context.
            let shown = |stream: &str| problems.iter().any(|p| p.starts_with(stream));
            if !shown("stdout") {
                report.push_str(&fenced("stdout", &output.stdout));
            }
            if !shown("stderr") {
                report.push_str(&fenced("stderr", output.stderr.as_bytes()));
            }
            panic!("{report}");
        }
        output
    }
}

/// `None` when `actual` meets `expect`, else a description with a diff.
fn check(name: &str, expect: &Expect, actual: &[u8]) -> Option<String> {
    match expect {
        Expect::Exact(want) if want == actual => None,
        Expect::Exact(want) => {
            let (want_text, actual_text) = (
                String::from_utf8_lossy(want),
                String::from_utf8_lossy(actual),
            );
            Some(if want_text == actual_text {
                // Only bytes that are not UTF-8 differ, which the text diff cannot show.
                format!(
                    "{name} differs in bytes that are not UTF-8:\n- {}\n+ {}",
                    want.escape_ascii(),
                    actual.escape_ascii()
                )
            } else {
                format!(
                    "{name} differs (- expected, + actual):\n{}",
                    diff(&want_text, &actual_text)
                )
            })
        }
        Expect::Contains(pieces) => {
            let text = String::from_utf8_lossy(actual);
            let missing: Vec<&String> = pieces
                .iter()
                .filter(|p| !text.contains(p.as_str()))
                .collect();
            (!missing.is_empty())
                .then(|| format!("{name} lacks {missing:?}\n{}", fenced(name, actual)))
        }
        Expect::Unchecked => None,
    }
}

fn fenced(name: &str, bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = if text.len() > 20_000 {
        format!(
            "{}\n[... {} bytes in all]",
            &text[..text.floor_char_boundary_compat(20_000)],
            text.len()
        )
    } else {
        text.into_owned()
    };
    format!("--- {name}\n{text}\n--- end of {name}\n")
}

/// `str::floor_char_boundary` is not stable on cm's minimum Rust.
trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, at: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, mut at: usize) -> usize {
        while !self.is_char_boundary(at) {
            at -= 1;
        }
        at
    }
}
