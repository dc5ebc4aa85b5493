//! The command line as clap sees it: flags, subcommands, help text. No logic lives here;
//! `config` validates and resolves what the user typed.
#![deny(missing_docs)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Resolve configmanager tokens (e.g. `AWSSECRETS:///app/db|password`) in templates, config
/// files and token lists through go-plugin provider plugins.
///
/// A token is PREFIX://PATH, optionally followed by |KEY.PATH (a dotted path into the item's
/// JSON value) and [METADATA] (key=value pairs passed to the plugin), e.g.
/// `AWSSECRETS:///app/db|password[version=2]`. Each prefix is served by the plugin
/// `.configmanager/plugins/<prefix>/<prefix>-<os>-<arch>` (looked for in $CONFIGMANAGER_DIR, the
/// current directory, then the home directory), or by a built-in provider: `ENV://NAME` (an
/// environment variable) and `FILE://PATH` (a file's contents).
#[derive(Debug, Parser)]
#[command(
    name = "cm",
    version = crate::VERSION,
    propagate_version = true,
    max_term_width = 100,
    after_long_help = crate::error::exit_status_help()
)]
pub struct Cli {
    /// Options that apply to every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted before or after the subcommand.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Separator between a token's prefix and its path.
    #[arg(
        short = 's',
        long,
        global = true,
        default_value = "://",
        value_name = "SEP"
    )]
    pub token_separator: String,
    /// Separator between a token's path and its key path (one character).
    #[arg(
        short = 'k',
        long,
        global = true,
        default_value = "|",
        value_name = "CHAR"
    )]
    pub key_separator: String,
    /// Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens.
    #[arg(short = 'e', long, global = true)]
    pub enable_envsubst: bool,
    /// More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged.
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Keep going when a token cannot be resolved: leave it as it was and warn.
    #[arg(long, global = true)]
    pub lax: bool,
    /// Seconds a plugin may take to start and print its handshake.
    #[arg(long, global = true, default_value_t = 30.0, value_name = "SECONDS")]
    pub plugin_start_timeout: f64,
    /// Seconds one value fetch may take.
    #[arg(long, global = true, default_value_t = 60.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// Fetches in flight at once per plugin.
    #[arg(long, global = true, default_value_t = 64, value_name = "N")]
    pub concurrency: usize,
    /// Refuse to start a plugin whose `.configmanager` folder has no plugins.lock.
    #[arg(long, global = true, env = "CM_REQUIRE_LOCK", value_parser = clap::builder::BoolishValueParser::new())]
    pub require_lock: bool,
    /// Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP).
    #[arg(long, global = true)]
    pub plugin_mtls: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the tokens in a text without fetching anything (a dry run).
    ///
    /// Prints each token with its position and parts, then how many fetches a real run would
    /// make and which plugins it would start. No plugin is started. Malformed tokens are all
    /// reported, with their line and column, and the exit status is 2.
    Scan(ScanArgs),
    /// Replace every token in a template with its value (stdin to stdout by default).
    ///
    /// Every byte outside the tokens is kept as it is. Each stored item is fetched once, however
    /// many tokens point into it. Nothing is written unless every token resolved (or --lax).
    Insert(InsertArgs),
    /// Replace every token in a text, configmanager style (`-i` is a path, `-` or literal text).
    ///
    /// As `insert`, with configmanager's defaults: `-i` is read as a file if such a file exists,
    /// as stdin if it is `-`, and is otherwise the text itself; the output goes to ./app.env
    /// unless `-p` says otherwise.
    #[command(name = "string-input", visible_aliases = ["fromstr", "getfromstr"])]
    StringInput(StringInputArgs),
    /// Fetch tokens and write them as `export NAME='value'` lines (or dotenv, JSON, YAML, ...).
    ///
    /// NAME comes from the token's path and key path only (never its metadata): the last
    /// `/`-segment of the path, then `__` and the key path, upper-cased, `-` turned into `_`,
    /// spaces, `@` and `!` dropped, any other character that cannot be in a shell name turned
    /// into `_`, and a `_` put in front of a leading digit. `AWSSECRETS:///app/db-config|host`
    /// gives DB_CONFIG__HOST. A value that is a JSON object gives one variable per top-level
    /// key instead (nested objects as compact JSON). Two tokens that would give one name
    /// different values are an error naming both.
    ///
    /// Lines come out in --token order, each ending in a newline. A token that cannot be
    /// resolved fails the run and nothing is written; with --lax the others are written and
    /// the failure is a warning.
    #[command(visible_aliases = ["r", "fetch", "get"])]
    Retrieve(RetrieveArgs),
    /// Run a command with the tokens in its environment resolved (`-- CMD [ARGS...]`).
    ///
    /// Tokens are looked for in the values of cm's own environment
    /// (`DB_PASSWORD='AWSSECRETS:///app/db|password' cm exec -- ./server`), of each --env-file,
    /// and of each --env (later definitions of a name win). Every token is resolved, and every
    /// plugin stopped, before the command starts; if any fails (without --lax) it never starts.
    ///
    /// By default cm stays as the command's parent and conceals every resolved value (4 bytes
    /// or longer) in its stdout and stderr as `<concealed by cm>`, forwards SIGINT, SIGTERM,
    /// SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to it, and gives it a pseudo-terminal where cm's
    /// output is a terminal. With --no-masking cm becomes the command (execve). The exit status
    /// is the command's (128+N if signal N ended it); 126 or 127 if it could not be started.
    #[command(override_usage = "cm exec [OPTIONS] -- <CMD> [ARGS]...")]
    Exec(ExecArgs),
    /// Print a shell completion script.
    ///
    /// For example `cm completion bash > ~/.local/share/bash-completion/completions/cm`, or
    /// `cm completion zsh > ~/.zfunc/_cm`.
    Completion(CompletionArgs),
    /// Install and list provider plugins, with their SHA-256 recorded in plugins.lock.
    ///
    /// `cm plugin install PREFIX --from FILE` copies FILE to
    /// `.configmanager/plugins/<prefix>/<prefix>-<os>-<arch>` (in $CONFIGMANAGER_DIR, else the
    /// current directory; `--global`: the home directory) and records its SHA-256 in
    /// `.configmanager/plugins.lock`. A WASI module (`--from p.wasm`) goes to
    /// `<prefix>/<prefix>.wasm`, with what it may reach (`--allow-host`, `--allow-env`) recorded
    /// next to its hash. Once a lock file exists, cm refuses to run any plugin of that folder
    /// that is missing from it or differs from it. `cm plugin list` shows every plugin found,
    /// its kind, and how it stands against its lock.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Create the plugin folders and report which plugins are missing (downloads nothing).
    ///
    /// Exits 3 when a plugin binary is missing, so a pipeline can check it is ready.
    Init(InitArgs),
}

/// `cm plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Copy a plugin binary into place and record its SHA-256 in the lock file.
    Install(PluginInstallArgs),
    /// List every plugin found, where, its SHA-256, and whether it matches the lock file.
    List,
}

/// `cm plugin install`.
#[derive(Debug, Args)]
pub struct PluginInstallArgs {
    /// The token prefix the plugin serves (e.g. awsparamstr).
    pub prefix: String,
    /// The plugin binary, or WASI module (`.wasm`), to install.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// Install under the home directory instead of $CONFIGMANAGER_DIR or the current directory.
    #[arg(long)]
    pub global: bool,
    /// WASI modules only: a host the module may send HTTP(S) requests to (`vault.example`
    /// allows the scheme's default port, `vault.example:8200` that port, `[::1]:8200` an IPv6
    /// address); repeat for more.
    #[arg(long = "allow-host", value_name = "HOST[:PORT]")]
    pub allow_hosts: Vec<String>,
    /// WASI modules only: an environment variable the module may read (with cm's value at
    /// run time); repeat for more.
    #[arg(long = "allow-env", value_name = "NAME")]
    pub allow_env: Vec<String>,
}

/// `cm init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// A plugin prefix to prepare; repeat, or separate with commas.
    #[arg(
        long = "plugin",
        value_delimiter = ',',
        required = true,
        value_name = "PREFIX"
    )]
    pub plugins: Vec<String>,
    /// Prepare the home directory instead of $CONFIGMANAGER_DIR or the current directory.
    #[arg(long)]
    pub global: bool,
}

/// `cm scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The file to scan; `-` for stdin.
    #[arg(short = 'i', long, default_value = "-", value_name = "FILE")]
    pub input: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScanFormat::Text)]
    pub format: ScanFormat,
}

/// How `cm scan` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// One line per token: position, token, parts.
    Text,
    /// One JSON object with every token.
    Json,
}

/// `cm insert`.
#[derive(Debug, Args)]
pub struct InsertArgs {
    /// The template; `-` for stdin.
    #[arg(short = 'i', long, default_value = "-", value_name = "FILE")]
    pub input: String,
    /// Where to write the result; `-` or `stdout` for stdout. May be the input file.
    #[arg(short = 'p', long, default_value = "-", value_name = "FILE")]
    pub path: String,
}

/// `cm string-input`.
#[derive(Debug, Args)]
pub struct StringInputArgs {
    /// A file path, `-` for stdin, or else the text itself.
    #[arg(short = 'i', long, value_name = "INPUT")]
    pub input: String,
    /// Where to write the result; `stdout` or `-` for stdout. May be the input file.
    #[arg(short = 'p', long, default_value = "./app.env", value_name = "FILE")]
    pub path: String,
}

/// `cm retrieve`.
#[derive(Debug, Args)]
pub struct RetrieveArgs {
    /// A token to fetch; repeat for more. Lines come out in this order.
    #[arg(short = 't', long = "token", required = true, value_name = "TOKEN")]
    pub tokens: Vec<String>,
    /// Where to write; `stdout` or `-` for stdout [default: ./app.env; gha: $GITHUB_ENV,
    /// gha-output: $GITHUB_OUTPUT, appended to].
    #[arg(short = 'p', long, value_name = "FILE")]
    pub path: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RetrieveFormat::Export)]
    pub format: RetrieveFormat,
    /// The Secret's name (k8s-secret only, required there): a DNS subdomain name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The Secret's namespace (k8s-secret only): a DNS label.
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
}

impl RetrieveArgs {
    /// configmanager's default output file, for the formats that replace a file.
    pub const DEFAULT_PATH: &'static str = "./app.env";
}

/// How `cm retrieve` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RetrieveFormat {
    /// `export NAME='value'`, for `. ./app.env` in any POSIX shell.
    Export,
    /// `NAME=value`, double-quoted and escaped where needed, for python-dotenv. docker
    /// `--env-file` keeps quotes as part of the value and cannot hold a newline, so only
    /// values that need no quotes (letters, digits, `_-.,:/@%+=~`) reach it unchanged.
    Dotenv,
    /// One JSON object `{"NAME": "value"}`.
    Json,
    /// A flat YAML map, `"NAME": "value"`, double-quoted and escaped so that any YAML parser
    /// reads each value back exactly.
    Yaml,
    /// A Kubernetes Secret manifest (type Opaque, values base64-encoded under `data`) named by
    /// --name, in --namespace if given. For `kubectl apply -f`.
    K8sSecret,
    /// GitHub Actions: `::add-mask::` for every value (each line of it) on stdout, and
    /// `NAME<<DELIMITER` blocks (random delimiter) appended to $GITHUB_ENV or -p FILE.
    Gha,
    /// As gha, for step outputs: the blocks are appended to $GITHUB_OUTPUT or -p FILE.
    GhaOutput,
}

/// `cm exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// A dotenv file of variables for the command, whose values may hold tokens; repeat for
    /// more (later files win). The syntax `retrieve --format dotenv` writes, python-dotenv's.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    /// A variable for the command, NAME=VALUE, whose value may hold tokens; repeat for more.
    /// Wins over cm's environment and --env-file.
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<std::ffi::OsString>,
    /// Give the command only PATH and the variables that held tokens or were set by --env-file
    /// and --env, not the rest of cm's environment.
    #[arg(long)]
    pub pristine: bool,
    /// Do not mask the output: cm replaces itself with the command (execve), so signals and
    /// the exit status are the command's own and no cm process remains.
    #[arg(long)]
    pub no_masking: bool,
    /// The command and its arguments, after `--`.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<std::ffi::OsString>,
}

/// `cm completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to print the completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The completion script for `shell`, exactly as `cm completion SHELL` prints it and as the
/// committed files under `completions/` hold it.
pub fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "cm", &mut out);
    out
}

/// Where output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Standard output.
    Stdout,
    /// A file, written atomically.
    File(PathBuf),
}

impl Target {
    /// `-` and `stdout` mean stdout (configmanager's spelling and ours).
    pub fn parse(s: &str) -> Target {
        match s {
            "-" | "stdout" => Target::Stdout,
            path => Target::File(PathBuf::from(path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_before_or_after_the_subcommand() {
        let a =
            Cli::try_parse_from(["cm", "-k", "%", "--lax", "insert", "--timeout", "2"]).unwrap();
        assert_eq!(a.global.key_separator, "%");
        assert!(a.global.lax);
        assert_eq!(a.global.timeout, 2.0);
        let b = Cli::try_parse_from([
            "cm",
            "retrieve",
            "-t",
            "X",
            "-s",
            "#",
            "-vv",
            "--concurrency",
            "3",
        ])
        .unwrap();
        assert_eq!(b.global.token_separator, "#");
        assert_eq!(b.global.verbose, 2);
        assert_eq!(b.global.concurrency, 3);
    }

    #[test]
    fn aliases() {
        for alias in ["r", "fetch", "get", "retrieve"] {
            let c = Cli::try_parse_from(["cm", alias, "-t", "A", "-t", "B"]).unwrap();
            let Command::Retrieve(r) = c.command else {
                panic!("{alias}")
            };
            assert_eq!(r.tokens, ["A", "B"]);
            assert_eq!(r.path, None, "the format picks the default");
        }
        for alias in ["fromstr", "getfromstr", "string-input"] {
            assert!(matches!(
                Cli::try_parse_from(["cm", alias, "-i", "x"])
                    .unwrap()
                    .command,
                Command::StringInput(_)
            ));
        }
        assert!(
            Cli::try_parse_from(["cm", "retrieve"]).is_err(),
            "at least one token"
        );
    }

    #[test]
    fn targets() {
        assert_eq!(Target::parse("-"), Target::Stdout);
        assert_eq!(Target::parse("stdout"), Target::Stdout);
        assert_eq!(Target::parse("a.env"), Target::File("a.env".into()));
    }
}
