//! The command line as a whole: version, help (snapshots in `tests/data/help/`), the committed
//! completion scripts and man pages (generated from the clap definition; stale files fail the
//! test), the exit-code table, and the example the README runs.
//!
//! Regenerate `completions/`, `man/` and `tests/data/help/` after changing the command line
//! with:
//!
//!     CM_REGENERATE=1 cargo test --test integration cli::

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::support::project;

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
            "cm-exec.1",
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
    let p = project();
    for (name, shell) in [
        ("bash", Shell::Bash),
        ("zsh", Shell::Zsh),
        ("fish", Shell::Fish),
        ("powershell", Shell::PowerShell),
        ("elvish", Shell::Elvish),
    ] {
        p.cm()
            .args(["completion", name])
            .stdout(cm::cli::completion_script(shell))
            .success();
    }
    p.cm()
        .args(["completion", "tcsh"])
        .stderr(
            "error: invalid value 'tcsh' for '<SHELL>'\n  \
             [possible values: bash, elvish, fish, powershell, zsh]\n\n  \
             tip: a similar value exists: 'zsh'\n\n\
             For more information, try '--help'.\n",
        )
        .failure(2);
}

#[test]
fn bash_completion_script_loads_and_completes_subcommands() {
    let p = project();
    let script = p.write("cm.bash", cm::cli::completion_script(Shell::Bash));
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
    let p = project();
    let rev = git_revision();
    for (args, name) in [
        (&["--version"][..], "cm"),
        (&["-V"], "cm"),
        (&["retrieve", "--version"], "cm-retrieve"),
    ] {
        let expected = format!("{name} {}\n", cm::VERSION);
        p.cm().args(args).stdout(&expected).success();
        let prefix = format!("{name} {} (", env!("CARGO_PKG_VERSION"));
        assert!(
            expected.starts_with(&prefix) && expected.ends_with(")\n"),
            "{expected}"
        );
        if let Some(rev) = &rev {
            assert_eq!(
                expected,
                format!("{prefix}{rev})\n"),
                "built from another revision?"
            );
        }
    }
}

/// Every help text: `cm -h`, `cm --help`, and `--help` of every subcommand (nested ones too),
/// with the snapshot file each is compared with.
fn help_cases() -> Vec<(Vec<String>, String)> {
    fn walk(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
        let mut args = path.clone();
        args.push("--help".to_string());
        let name = std::iter::once("cm".to_string())
            .chain(path.iter().cloned())
            .collect::<Vec<_>>()
            .join("-");
        out.push((args, format!("{name}.txt")));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            if sub.get_name() == "help" {
                continue;
            }
            path.push(sub.get_name().to_string());
            walk(sub, path, out);
            path.pop();
        }
    }
    let mut cmd = cm::cli::Cli::command();
    cmd.build();
    let mut out = vec![(vec!["-h".to_string()], "cm-short.txt".to_string())];
    walk(&cmd, &mut Vec::new(), &mut out);
    out
}

#[test]
fn help_matches_the_snapshots() {
    let regenerate = std::env::var("CM_REGENERATE").as_deref() == Ok("1");
    let dir = root().join("tests/data/help");
    let p = project();
    let cases = help_cases();
    let mut stale = Vec::new();
    for (args, file) in &cases {
        // A fixed width: clap wraps help to the terminal, or to COLUMNS.
        let out = p
            .cm()
            .env("COLUMNS", "100")
            .args(args)
            .stdout_unchecked()
            .success();
        let path = dir.join(file);
        if std::fs::read(&path).ok().as_deref() == Some(&out.stdout[..]) {
            continue;
        }
        if regenerate {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &out.stdout).unwrap();
            continue;
        }
        // The exact comparison, for its diff.
        let want = std::fs::read(&path).unwrap_or_default();
        p.cm()
            .env("COLUMNS", "100")
            .args(args)
            .stdout(want)
            .success();
        stale.push(file.clone());
    }
    for entry in std::fs::read_dir(&dir).into_iter().flatten() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !cases.iter().any(|(_, f)| *f == name) {
            if regenerate {
                std::fs::remove_file(dir.join(&name)).unwrap();
            } else {
                stale.push(format!("{name} (no longer a help text)"));
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
fn help_lists_every_command_and_the_exit_codes() {
    let help = std::fs::read_to_string(root().join("tests/data/help/cm.txt")).unwrap();
    let short = std::fs::read_to_string(root().join("tests/data/help/cm-short.txt")).unwrap();
    // The snapshot is what cm prints (help_matches_the_snapshots); this checks what it must say.
    for word in [
        "scan",
        "insert",
        "string-input",
        "retrieve",
        "completion",
        "[aliases: r, fetch, get]",
        "[aliases: fromstr, getfromstr]",
    ] {
        assert!(help.contains(word), "{word:?} missing from\n{help}");
        assert!(short.contains(word), "{word:?} missing from\n{short}");
    }
    assert!(
        help.ends_with(&format!("{}\n", cm::error::exit_status_help())),
        "{help}"
    );
    // Short help stays short.
    assert!(!short.contains("Exit status:"), "{short}");
}

// ---- exit codes ----

#[test]
fn exit_0_on_success() {
    let p = project();
    p.cm()
        .arg("scan")
        .stdin("no tokens here\n")
        .stdout("0 token(s), 0 fetch(es), prefixes: -\n")
        .success();
    p.cm()
        .arg("insert")
        .stdin("home=ENV://HOME\n")
        .stdout(format!("home={}\n", p.home().display()))
        .success();
}

#[test]
fn exit_1_when_a_token_cannot_be_resolved() {
    project()
        .cm()
        .env_remove("CM_SURELY_UNSET_A")
        .env_remove("CM_SURELY_UNSET_B")
        .arg("insert")
        .stdin("a=ENV://CM_SURELY_UNSET_A\nb=ENV://CM_SURELY_UNSET_B\n")
        .stderr(
            "cm: <stdin>:1:3: failed to retrieve config item - (ENV://CM_SURELY_UNSET_A), environment variable CM_SURELY_UNSET_A is not set\n\
             <stdin>:2:3: failed to retrieve config item - (ENV://CM_SURELY_UNSET_B), environment variable CM_SURELY_UNSET_B is not set\n\
             token not found: 2 of 2 token(s) could not be resolved\n",
        )
        .failure(1);
}

#[test]
fn exit_2_for_usage_errors() {
    let p = project();
    let more = "\n\nFor more information, try '--help'.\n";
    let cases: &[(&[&str], String)] = &[
        (
            &["--timeout", "abc", "scan"],
            format!(
                "error: invalid value 'abc' for '--timeout <SECONDS>': invalid float literal{more}"
            ),
        ),
        (
            &["scan", "--timeout", "abc"],
            format!(
                "error: invalid value 'abc' for '--timeout <SECONDS>': invalid float literal{more}"
            ),
        ),
        (
            &["--timeout", "0", "scan"],
            "cm: --timeout must be a positive number of seconds, got 0\n".to_string(),
        ),
        (
            &["--plugin-start-timeout", "-1", "scan"],
            format!("error: unexpected argument '-1' found\n\nUsage: cm [OPTIONS] <COMMAND>{more}"),
        ),
        (
            &["--plugin-start-timeout=-1", "scan"],
            "cm: --plugin-start-timeout must be a positive number of seconds, got -1\n".to_string(),
        ),
        (
            &["--concurrency", "0", "scan"],
            "cm: --concurrency must be between 1 and 1024, got 0\n".to_string(),
        ),
        (
            &["--no-such-flag", "scan"],
            format!(
                "error: unexpected argument '--no-such-flag' found\n\nUsage: cm [OPTIONS] <COMMAND>{more}"
            ),
        ),
        (
            &["scan", "--format", "yaml"],
            format!(
                "error: invalid value 'yaml' for '--format <FORMAT>'\n  [possible values: text, json]{more}"
            ),
        ),
        (
            &["retrieve"],
            format!(
                "error: the following required arguments were not provided:\n  --token <TOKEN>\n\nUsage: cm retrieve --token <TOKEN>{more}"
            ),
        ),
        (
            &["retrieve", "-t", "ENV://A", "--format", "toml"],
            format!(
                "error: invalid value 'toml' for '--format <FORMAT>'\n  [possible values: export, dotenv, json, yaml, k8s-secret, gha, gha-output]{more}"
            ),
        ),
        (
            &["frobnicate"],
            format!(
                "error: unrecognized subcommand 'frobnicate'\n\n  tip: a similar subcommand exists: 'r'\n\nUsage: cm [OPTIONS] <COMMAND>{more}"
            ),
        ),
        // No command: the short help, on stderr.
        (
            &[],
            std::fs::read_to_string(root().join("tests/data/help/cm-short.txt")).unwrap(),
        ),
        (
            &["-k", "ab", "scan"],
            "cm: config validation failed, keyseparator can only be 1 character\n".to_string(),
        ),
        (
            &["insert", "-i", "no-such-file"],
            "cm: cannot read no-such-file: No such file or directory (os error 2)\n".to_string(),
        ),
    ];
    for (args, stderr) in cases {
        p.cm()
            .env("COLUMNS", "100")
            .args(*args)
            .stderr(stderr)
            .failure(2);
    }
}

#[test]
fn exit_2_for_malformed_tokens_and_bad_retrieve_arguments() {
    let p = project();
    p.cm()
        .arg("insert")
        .stdin("a=ENV://HOME[]\nb=ENV://HOME[v=1\n")
        .stderr(
            "cm: <stdin>:1:3: metadata brackets must include at least one set of key=value pairs in token `ENV://HOME[]`\n\
             <stdin>:2:3: no corresponding end tag found in token `ENV://HOME[v=1`\n",
        )
        .failure(2);
    p.cm()
        .args(["retrieve", "-p", "stdout", "-t", "ENV://HOME", "-t", "NOPE://x"])
        .args(["-t", "ENV://A ENV://B", "-t", "ENV://X[]"])
        .stderr(
            "cm: --token 2: `NOPE://x` is not a token; expected PREFIX://PATH[|KEY][[METADATA]] with a known prefix (AWSPARAMSTR, AWSSECRETS, AZAPPCONF, AZKVSECRET, AZTABLESTORE, ENV, FILE, GCPSECRETS, VAULT)\n\
             --token 3: `ENV://A ENV://B` is not a token; expected PREFIX://PATH[|KEY][[METADATA]] with a known prefix (AWSPARAMSTR, AWSSECRETS, AZAPPCONF, AZKVSECRET, AZTABLESTORE, ENV, FILE, GCPSECRETS, VAULT)\n\
             --token 4: metadata brackets must include at least one set of key=value pairs in token `ENV://X[]`\n",
        )
        .failure(2);
}

#[test]
fn exit_2_when_envsubst_finds_unset_variables_listing_all_of_them() {
    let p = project();
    p.write(
        "t.yaml",
        "a: ${CM_UNSET_ONE}\nb: ${CM_SET:-x} ${CM_EMPTY}\nc: $CM_UNSET_TWO ${CM_UNSET_THREE:-fine}\nd: ${CM_UNSET_ONE}\n",
    );
    p.write("out.yaml", "previous\n");
    // CM_UNSET_THREE has a default, so it is not reported.
    p.cm()
        .env("CM_SET", "1")
        .env("CM_EMPTY", "")
        .env_remove("CM_UNSET_ONE")
        .env_remove("CM_UNSET_TWO")
        .env_remove("CM_UNSET_THREE")
        .args(["-e", "insert", "-i", "t.yaml", "-p", "out.yaml"])
        .stderr(
            "cm: t.yaml:1:4: variable `CM_UNSET_ONE` is not set\n\
             t.yaml:2:17: variable `CM_EMPTY` is empty\n\
             t.yaml:3:4: variable `CM_UNSET_TWO` is not set\n\
             t.yaml:4:4: variable `CM_UNSET_ONE` is not set\n",
        )
        .failure(2);
    assert_eq!(p.read("out.yaml"), b"previous\n");

    // Expansion happens before scanning, so variables can build tokens.
    p.cm()
        .env("CM_VAR_NAME", "CM_TARGET")
        .env("CM_TARGET", "found")
        .args(["-e", "insert"])
        .stdin("v=ENV://${CM_VAR_NAME} d=${CM_NOT_THERE:-dflt}\n")
        .stdout("v=found d=dflt\n")
        .success();

    // retrieve: every token is checked.
    p.cm()
        .env_remove("CM_UNSET_ONE")
        .env_remove("CM_UNSET_TWO")
        .args(["-e", "retrieve", "-p", "stdout"])
        .args(["-t", "ENV://${CM_UNSET_ONE}", "-t", "ENV://$CM_UNSET_TWO"])
        .stderr(
            "cm: --token 1: variable `CM_UNSET_ONE` is not set in `ENV://${CM_UNSET_ONE}`\n\
             --token 2: variable `CM_UNSET_TWO` is not set in `ENV://$CM_UNSET_TWO`\n",
        )
        .failure(2);

    // Without -e nothing is expanded.
    p.cm()
        .arg("insert")
        .stdin("${CM_UNSET_ONE}\n")
        .stdout("${CM_UNSET_ONE}\n")
        .success();
}

#[test]
fn exit_3_when_a_plugin_is_missing_or_does_not_start() {
    let p = project();
    p.cm()
        .arg("insert")
        .stdin("AWSSECRETS:///x\n")
        .stderr(crate::support::missing_plugin_stderr(&p, "awssecrets"))
        .failure(3);
    p.install("exit");
    p.cm()
        .arg("insert")
        .stdin("EXIT://x\n")
        .stderr(format!(
            "cm: providers not initialised, plugin EXIT ({}): plugin exited before we could connect (exit status: 1)\n  \
             plugin stderr (last lines):\n    \
             fatal: cannot reach the secret store\n",
            p.plugin_file("exit").display()
        ))
        .failure(3);
}

#[test]
fn exit_4_when_the_output_cannot_be_written() {
    let p = project();
    // The OS's words for the errors (these are the same on Linux and macOS). The temporary
    // file's name is random.
    p.cm()
        .args(["insert", "-p", "no-such-dir/out"])
        .stdin("ENV://HOME\n")
        .stderr_contains(format!(
            "cm: cannot write no-such-dir/out: No such file or directory (os error 2) at path \"{}/no-such-dir/.out.",
            p.real_dir().display()
        ))
        .stderr_contains(".tmp\"\n")
        .failure(4);
    assert!(!p.path("no-such-dir").exists());
    std::fs::create_dir(p.path("a-dir")).unwrap();
    p.cm()
        .args(["retrieve", "-t", "ENV://HOME", "-p", "a-dir"])
        .stderr("cm: cannot write a-dir: Is a directory (os error 21)\n")
        .failure(4);
}

// ---- logging ----

#[test]
fn log_level_from_flags_and_environment() {
    let p = project();
    let home = format!("{}\n", p.home().display());
    // Quiet by default (the builder's default: empty stderr).
    p.cm()
        .arg("insert")
        .stdin("ENV://HOME\n")
        .stdout(&home)
        .success();
    // Log lines carry durations; NO_COLOR (set by the bench) and a pipe: never an escape
    // sequence.
    let info = p
        .cm()
        .args(["-v", "insert"])
        .stdin("ENV://HOME\n")
        .stdout(&home)
        .stderr_contains("plan")
        .success();
    assert!(!info.stderr.contains('\x1b'), "{:?}", info.stderr);
    for var in ["CONFIGMANAGER_LOG", "RUST_LOG"] {
        p.cm()
            .env(var, "debug")
            .arg("insert")
            .stdin("ENV://HOME\n")
            .stdout(&home)
            .stderr_contains("fetched")
            .success();
    }
}

// ---- the README's example ----

#[test]
fn the_example_runs_as_documented() {
    // `cargo run -- insert -i examples/app.yaml` from the repository root, with no plugin and
    // no environment beyond HOME.
    let p = project();
    let template = std::fs::read_to_string(root().join("examples/app.yaml")).unwrap();
    let out = p
        .cm()
        .current_dir(root())
        .env("HOME", "/home/example")
        .args(["insert", "-i", "examples/app.yaml"])
        // The template is documentation and may change; the lines it must render are below.
        .stdout_unchecked()
        .success();
    let out = out.stdout_str();
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
    assert_eq!(out.lines().count(), template.lines().count());

    // The retrieve example of docs/cli-notes.md.
    p.cm()
        .current_dir(root())
        .args(["retrieve", "-t", "FILE://examples/secrets.json|db"])
        .args(["-t", "FILE://examples/secrets.json|api.key", "-p", "stdout"])
        .stdout(
            "export HOST='db.internal.example'\n\
             export PORT='5432'\n\
             export USERNAME='app'\n\
             export PASSWORD='correct horse battery staple'\n\
             export SECRETS_JSON__API_KEY='sk_test_0123456789abcdef'\n",
        )
        .success();
}
