//! The command line as a whole: version, help, the committed completion scripts and man pages
//! (generated from the clap definition; stale files fail the test), the exit-code table, and the
//! example the README runs.
//!
//! Regenerate `completions/` and `man/` after changing the command line with:
//!
//!     CM_REGENERATE=1 cargo test --test integration cli::

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::support::Bench;

const REGENERATE: &str = "CM_REGENERATE=1 cargo test --test integration cli::";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// ---- generated files ----

/// Every generated file: its path under the repository root and its contents.
fn generated_files() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for (shell, name) in [
        (Shell::Bash, "cm.bash"),
        (Shell::Zsh, "_cm"),
        (Shell::Fish, "cm.fish"),
        (Shell::PowerShell, "_cm.ps1"),
        (Shell::Elvish, "cm.elv"),
    ] {
        files.push((
            Path::new("completions").join(name),
            cm::cli::completion_script(shell),
        ));
    }
    for (name, page) in man_pages() {
        files.push((Path::new("man").join(name), page));
    }
    files
}

/// `cm.1` and one page per subcommand (`cm-retrieve.1`, ...).
fn man_pages() -> Vec<(String, Vec<u8>)> {
    // The package version only: the git revision in `cm --version` would make the committed
    // pages stale at every commit. The exit codes get a section of their own instead of clap's
    // after-help text.
    let mut cmd = cm::cli::Cli::command()
        .version(env!("CARGO_PKG_VERSION"))
        .after_long_help(None::<&str>)
        .disable_help_subcommand(true);
    cmd.build();
    let subcommands: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    let names: Vec<String> = subcommands.iter().map(page_name).collect();
    let mut pages = vec![("cm.1".to_string(), man_page(cmd, &names))];
    for sub in subcommands {
        let see_also: Vec<String> = std::iter::once("cm".to_string())
            .chain(names.iter().filter(|n| **n != page_name(&sub)).cloned())
            .collect();
        pages.push((format!("{}.1", page_name(&sub)), man_page(sub, &see_also)));
    }
    pages
}

fn page_name(cmd: &clap::Command) -> String {
    cmd.get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string()
}

fn man_page(cmd: clap::Command, see_also: &[String]) -> Vec<u8> {
    let top = cmd.get_name() == "cm";
    let man = clap_mangen::Man::new(cmd)
        .source(format!("cm {}", env!("CARGO_PKG_VERSION")))
        .manual("cm manual");
    let mut page = Vec::new();
    man.render(&mut page).unwrap();
    let page = String::from_utf8(page).unwrap();
    // Our sections go between clap_mangen's (name, synopsis, ..., subcommands) and its last,
    // VERSION.
    let mut extra = String::new();
    if top {
        extra.push_str(TOP_PAGE_SECTIONS);
    }
    extra.push_str(&exit_status_section());
    let refs: Vec<String> = see_also
        .iter()
        .map(|n| format!("\\fB{}\\fR(1)", roff_text(n)))
        .collect();
    extra.push_str(&format!(".SH \"SEE ALSO\"\n{}\n", refs.join(", ")));
    let at = page
        .find("\n.SH VERSION\n")
        .expect("clap_mangen renders a VERSION section")
        + 1;
    format!("{}{extra}{}", &page[..at], &page[at..]).into_bytes()
}

/// Text for a roff line: backslashes and hyphens escaped, no leading control character.
fn roff_text(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with(['.', '\'']) {
        format!("\\&{s}")
    } else {
        s
    }
}

fn exit_status_section() -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in cm::error::EXIT_CODES {
        s.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", roff_text(meaning)));
    }
    s.push_str(".PP\nA failed run never leaves partial output: files are replaced only when every token resolved (or with \\fB\\-\\-lax\\fR).\n");
    s
}

/// The sections only `cm.1` has: built-in providers, environment and files.
const TOP_PAGE_SECTIONS: &str = r#".SH "BUILT-IN PROVIDERS"
.TP
\fBENV://\fINAME\fR
The value of the environment variable \fINAME\fR as cm started with it.
.TP
\fBFILE://\fIPATH\fR[\fB|\fIKEY.PATH\fR]
The contents of the file \fIPATH\fR, relative to the current directory; with a key path, the part of its JSON that the key path names, e.g. \fBFILE://./secrets.json|db.password\fR.
.PP
Both are served inside cm and need no plugin. They are listed by \fBcm scan\fR like any other prefix. A plugin of the same name on disk (\fB.configmanager/plugins/env/\fR...) takes precedence over the built-in.
.SH ENVIRONMENT
.TP
\fBCONFIGMANAGER_DIR\fR
Searched first for plugins, before the current directory and the home directory.
.TP
\fBCONFIGMANAGER_LOG\fR, \fBRUST_LOG\fR
Log filter in tracing-subscriber syntax (e.g. \fBdebug\fR, \fBcm=trace\fR); replaces the level that \fB\-v\fR sets. \fBCONFIGMANAGER_LOG\fR wins when both are set. Values are never logged, at any level.
.TP
\fBNO_COLOR\fR
When set and not empty, log output on stderr is never coloured (it is coloured only on a terminal anyway).
.SH FILES
.TP
\fIDIR\fB/.configmanager/plugins/\fIprefix\fB/\fIprefix\fB\-\fIos\fB\-\fIarch\fR
The plugin for the token prefix \fIPREFIX\fR (lower-cased in the path; \fIos\fR and \fIarch\fR as Go names them, e.g. \fBlinux\-amd64\fR, with \fB.exe\fR on Windows). \fIDIR\fR is \fB$CONFIGMANAGER_DIR\fR, the current directory, then the home directory.
.TP
\fB./app.env\fR
Where \fBcm retrieve\fR and \fBcm string\-input\fR write by default. Output files are created with mode 0600 (an existing file keeps its mode) and replaced atomically: a symlink at the path is replaced, never written through.
"#;

#[test]
fn completions_and_man_pages_are_up_to_date() {
    let regenerate = std::env::var("CM_REGENERATE").as_deref() == Ok("1");
    let files = generated_files();
    let mut stale = Vec::new();
    for (rel, contents) in &files {
        let path = root().join(rel);
        if std::fs::read(&path).ok().as_ref() == Some(contents) {
            continue;
        }
        if regenerate {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, contents).unwrap();
        } else {
            stale.push(rel.display().to_string());
        }
    }
    // Files no longer generated (a subcommand removed or renamed) are stale too.
    for dir in ["completions", "man"] {
        for entry in std::fs::read_dir(root().join(dir)).into_iter().flatten() {
            let rel = Path::new(dir).join(entry.unwrap().file_name());
            if files.iter().any(|(r, _)| *r == rel) {
                continue;
            }
            if regenerate {
                std::fs::remove_file(root().join(&rel)).unwrap();
            } else {
                stale.push(format!("{} (no longer generated)", rel.display()));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "out of date: {}\nregenerate with: {REGENERATE}",
        stale.join(", ")
    );
}

#[test]
fn every_man_page_documents_the_exit_status() {
    let pages = man_pages();
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "cm.1",
            "cm-scan.1",
            "cm-insert.1",
            "cm-string-input.1",
            "cm-retrieve.1",
            "cm-completion.1",
            "cm-plugin.1",
            "cm-init.1"
        ]
    );
    for (name, page) in &pages {
        let page = String::from_utf8_lossy(page);
        assert!(page.contains(".SH \"EXIT STATUS\""), "{name}");
        assert!(page.contains("\\fB4\\fR\noutput not written"), "{name}");
        assert!(page.contains(env!("CARGO_PKG_VERSION")), "{name}");
        if let Some(rev) = git_revision() {
            assert!(
                !page.contains(&rev),
                "{name}: the revision would make the page stale"
            );
        }
    }
    let retrieve = String::from_utf8_lossy(&pages[4].1).into_owned();
    // Global flags appear on every subcommand's page.
    assert!(retrieve.contains("\\-\\-token\\-separator"), "{retrieve}");
    assert!(retrieve.contains("DB_CONFIG__HOST"), "{retrieve}");
}

#[test]
fn completion_subcommand_prints_the_generated_scripts() {
    let b = Bench::new();
    for (name, shell) in [
        ("bash", Shell::Bash),
        ("zsh", Shell::Zsh),
        ("fish", Shell::Fish),
        ("powershell", Shell::PowerShell),
        ("elvish", Shell::Elvish),
    ] {
        let r = b.run(&["completion", name], b"");
        r.success();
        assert_eq!(r.stdout, cm::cli::completion_script(shell), "{name}");
    }
    b.run(&["completion", "tcsh"], b"")
        .failure(2)
        .stderr_has("invalid value 'tcsh'");
}

#[test]
fn bash_completion_script_loads_and_completes_subcommands() {
    let b = Bench::new();
    let script = b.write("cm.bash", cm::cli::completion_script(Shell::Bash));
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(
            r#"source "$1" || exit 9
complete -p cm >/dev/null || exit 8
COMP_WORDS=(cm re); COMP_CWORD=1; COMP_LINE="cm re"; COMP_POINT=5
_cm cm re cm
printf '%s\n' "${COMPREPLY[@]}""#,
        )
        .arg("bash")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(words.lines().any(|w| w == "retrieve"), "{words}");
}

// ---- version and help ----

/// The checkout's revision as `cm --version` shows it, when this is a git checkout.
fn git_revision() -> Option<String> {
    std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|r| !r.is_empty())
}

#[test]
fn version_shows_the_package_version_and_git_revision() {
    let b = Bench::new();
    let rev = git_revision();
    for (args, name) in [
        (&["--version"][..], "cm"),
        (&["-V"], "cm"),
        (&["retrieve", "--version"], "cm-retrieve"),
    ] {
        let r = b.run(args, b"");
        r.success();
        let out = r.stdout();
        let prefix = format!("{name} {} (", env!("CARGO_PKG_VERSION"));
        assert!(out.starts_with(&prefix) && out.ends_with(")\n"), "{out}");
        if let Some(rev) = &rev {
            assert_eq!(
                out,
                format!("{prefix}{rev})\n"),
                "built from another revision?"
            );
        }
        assert_eq!(out, format!("{name} {}\n", cm::VERSION));
    }
}

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let b = Bench::new();
    let r = b.run(&["--help"], b"");
    r.success();
    let out = r.stdout();
    for word in [
        "scan",
        "insert",
        "string-input",
        "retrieve",
        "completion",
        "[aliases: r, fetch, get]",
        "[aliases: fromstr, getfromstr]",
        "Exit status:",
        "  3    a plugin was not found, was refused (lock file, permissions) or did not start",
    ] {
        assert!(out.contains(word), "{word:?} missing from\n{out}");
    }
    // Short help stays short.
    let short = b.run(&["-h"], b"");
    short.success();
    assert!(!short.stdout().contains("Exit status:"));
}

// ---- exit codes ----

#[test]
fn exit_0_on_success() {
    let b = Bench::new();
    b.run(&["scan"], b"no tokens here\n")
        .success()
        .stdout_is("0 token(s), 0 fetch(es), prefixes: -\n");
    b.run(&["insert"], b"home=ENV://HOME\n").success();
}

#[test]
fn exit_1_when_a_token_cannot_be_resolved() {
    let b = Bench::new();
    let r = b.run_cmd(
        b.cm()
            .env_remove("CM_SURELY_UNSET_A")
            .env_remove("CM_SURELY_UNSET_B")
            .args(["insert"]),
        b"a=ENV://CM_SURELY_UNSET_A\nb=ENV://CM_SURELY_UNSET_B\n",
    );
    r.failure(1)
        .stderr_has("<stdin>:1:3: failed to retrieve config item - (ENV://CM_SURELY_UNSET_A), environment variable CM_SURELY_UNSET_A is not set")
        .stderr_has("<stdin>:2:3: failed to retrieve config item - (ENV://CM_SURELY_UNSET_B)")
        .stderr_has("token not found: 2 of 2 token(s) could not be resolved");
    assert!(r.stdout.is_empty());
}

#[test]
fn exit_2_for_usage_errors() {
    let b = Bench::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--timeout", "abc", "scan"],
            "invalid value 'abc' for '--timeout <SECONDS>'",
        ),
        (&["scan", "--timeout", "abc"], "invalid value 'abc'"),
        (
            &["--timeout", "0", "scan"],
            "--timeout must be a positive number of seconds",
        ),
        (
            &["--plugin-start-timeout", "-1", "scan"],
            "unexpected argument '-1'",
        ),
        (
            &["--plugin-start-timeout=-1", "scan"],
            "--plugin-start-timeout must be a positive number",
        ),
        (
            &["--concurrency", "0", "scan"],
            "--concurrency must be between 1 and 1024, got 0",
        ),
        (
            &["--no-such-flag", "scan"],
            "unexpected argument '--no-such-flag'",
        ),
        (&["scan", "--format", "yaml"], "invalid value 'yaml'"),
        (&["retrieve"], "--token <TOKEN>"),
        (
            &["retrieve", "-t", "ENV://A", "--format", "toml"],
            "invalid value 'toml'",
        ),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (&[], "Usage: cm"),
        (
            &["-k", "ab", "scan"],
            "config validation failed, keyseparator can only be 1 character",
        ),
        (
            &["insert", "-i", "no-such-file"],
            "cannot read no-such-file",
        ),
    ];
    for (args, message) in cases {
        let r = b.run(args, b"");
        r.failure(2).stderr_has(message);
        assert!(r.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn exit_2_for_malformed_tokens_and_bad_retrieve_arguments() {
    let b = Bench::new();
    b.run(&["insert"], b"a=ENV://HOME[]\nb=ENV://HOME[v=1\n")
        .failure(2)
        .stderr_has(
            "<stdin>:1:3: metadata brackets must include at least one set of key=value pairs",
        )
        .stderr_has("<stdin>:2:3: no corresponding end tag found");
    let r = b.run(
        &[
            "retrieve",
            "-p",
            "stdout",
            "-t",
            "ENV://HOME",
            "-t",
            "NOPE://x",
            "-t",
            "ENV://A ENV://B",
            "-t",
            "ENV://X[]",
        ],
        b"",
    );
    r.failure(2)
        .stderr_has("--token 2: `NOPE://x` is not a token")
        .stderr_has("--token 3: `ENV://A ENV://B` is not a token")
        .stderr_has(
            "--token 4: metadata brackets must include at least one set of key=value pairs",
        );
    assert!(r.stdout.is_empty());
}

#[test]
fn exit_2_when_envsubst_finds_unset_variables_listing_all_of_them() {
    let b = Bench::new();
    b.write(
        "t.yaml",
        "a: ${CM_UNSET_ONE}\nb: ${CM_SET:-x} ${CM_EMPTY}\nc: $CM_UNSET_TWO ${CM_UNSET_THREE:-fine}\nd: ${CM_UNSET_ONE}\n",
    );
    b.write("out.yaml", "previous\n");
    let mut cmd = b.cm();
    cmd.env("CM_SET", "1")
        .env("CM_EMPTY", "")
        .env_remove("CM_UNSET_ONE")
        .env_remove("CM_UNSET_TWO")
        .env_remove("CM_UNSET_THREE")
        .args(["-e", "insert", "-i", "t.yaml", "-p", "out.yaml"]);
    let r = b.run_cmd(&mut cmd, b"");
    r.failure(2)
        .stderr_has("t.yaml:1:4: variable `CM_UNSET_ONE` is not set")
        .stderr_has("t.yaml:2:17: variable `CM_EMPTY` is empty")
        .stderr_has("t.yaml:3:4: variable `CM_UNSET_TWO` is not set")
        .stderr_has("t.yaml:4:4: variable `CM_UNSET_ONE` is not set");
    assert!(!r.stderr.contains("CM_UNSET_THREE"), "{}", r.stderr);
    assert_eq!(b.read("out.yaml"), b"previous\n");

    // Expansion happens before scanning, so variables can build tokens.
    let mut cmd = b.cm();
    cmd.env("CM_VAR_NAME", "CM_TARGET")
        .env("CM_TARGET", "found")
        .args(["-e", "insert"]);
    b.run_cmd(
        &mut cmd,
        b"v=ENV://${CM_VAR_NAME} d=${CM_NOT_THERE:-dflt}\n",
    )
    .success()
    .stdout_is("v=found d=dflt\n");

    // retrieve: every token is checked.
    let mut cmd = b.cm();
    cmd.env_remove("CM_UNSET_ONE")
        .env_remove("CM_UNSET_TWO")
        .args([
            "-e",
            "retrieve",
            "-p",
            "stdout",
            "-t",
            "ENV://${CM_UNSET_ONE}",
            "-t",
            "ENV://$CM_UNSET_TWO",
        ]);
    b.run_cmd(&mut cmd, b"")
        .failure(2)
        .stderr_has("--token 1: variable `CM_UNSET_ONE` is not set in `ENV://${CM_UNSET_ONE}`")
        .stderr_has("--token 2: variable `CM_UNSET_TWO` is not set in `ENV://$CM_UNSET_TWO`");

    // Without -e nothing is expanded.
    b.run(&["insert"], b"${CM_UNSET_ONE}\n")
        .success()
        .stdout_is("${CM_UNSET_ONE}\n");
}

#[test]
fn exit_3_when_a_plugin_is_missing_or_does_not_start() {
    let b = Bench::new();
    b.run(&["insert"], b"AWSSECRETS:///x\n")
        .failure(3)
        .stderr_has("plugin does not exist");
    b.install("exit");
    b.run(&["insert"], b"EXIT://x\n").failure(3);
}

#[test]
fn exit_4_when_the_output_cannot_be_written() {
    let b = Bench::new();
    let r = b.run(&["insert", "-p", "no-such-dir/out"], b"ENV://HOME\n");
    r.failure(4).stderr_has("cannot write no-such-dir/out");
    assert!(!b.path("no-such-dir").exists());
    std::fs::create_dir(b.path("a-dir")).unwrap();
    b.run(&["retrieve", "-t", "ENV://HOME", "-p", "a-dir"], b"")
        .failure(4)
        .stderr_has("cannot write a-dir");
}

// ---- logging ----

#[test]
fn log_level_from_flags_and_environment() {
    let b = Bench::new();
    let quiet = b.run(&["insert"], b"ENV://HOME\n");
    quiet.success();
    assert_eq!(quiet.stderr, "");
    let info = b.run(&["-v", "insert"], b"ENV://HOME\n");
    info.success().stderr_has("plan");
    for var in ["CONFIGMANAGER_LOG", "RUST_LOG"] {
        let mut cmd = b.cm();
        cmd.env(var, "debug").arg("insert");
        b.run_cmd(&mut cmd, b"ENV://HOME\n")
            .success()
            .stderr_has("fetched");
    }
    // NO_COLOR (set by the bench) and a pipe: never an escape sequence.
    assert!(!info.stderr.contains('\x1b'), "{:?}", info.stderr);
}

// ---- the README's example ----

#[test]
fn the_example_runs_as_documented() {
    // `cargo run -- insert -i examples/app.yaml` from the repository root, with no plugin and
    // no environment beyond HOME.
    let b = Bench::new();
    let mut cmd = b.cm();
    cmd.current_dir(root()).env("HOME", "/home/example").args([
        "insert",
        "-i",
        "examples/app.yaml",
    ]);
    let r = b.run_cmd(&mut cmd, b"");
    r.success();
    let out = r.stdout();
    for line in [
        "  home: /home/example\n",
        "  host: db.internal.example\n",
        "  port: 5432\n",
        "  user: app\n",
        "  password: \"correct horse battery staple\"\n",
        "  endpoints: [\"https://api.example.com/v1\",\"https://backup.example.com/v1\"]\n",
    ] {
        assert!(out.contains(line), "{line:?} missing from\n{out}");
    }
    assert!(!out.contains("FILE://") && !out.contains("ENV://"), "{out}");

    // The retrieve example of docs/cli-notes.md.
    let mut cmd = b.cm();
    cmd.current_dir(root()).args([
        "retrieve",
        "-t",
        "FILE://examples/secrets.json|db",
        "-t",
        "FILE://examples/secrets.json|api.key",
        "-p",
        "stdout",
    ]);
    b.run_cmd(&mut cmd, b"").success().stdout_is(
        "export HOST='db.internal.example'\n\
         export PORT='5432'\n\
         export USERNAME='app'\n\
         export PASSWORD='correct horse battery staple'\n\
         export SECRETS_JSON__API_KEY='sk_test_0123456789abcdef'\n",
    );
}
