//! The command line as clap sees it: flags, subcommands, help text. No logic lives here;
//! `config` validates and resolves what the user typed.
#![deny(missing_docs)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Resolve configmanager tokens (e.g. `AWSSECRETS:///app/db|password`) in templates, config
/// files and token lists through go-plugin provider plugins.
#[derive(Debug, Parser)]
#[command(name = "cm", version = crate::VERSION, propagate_version = true, max_term_width = 100)]
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
    /// Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP).
    #[arg(long, global = true)]
    pub plugin_mtls: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the tokens in a text without fetching anything (a dry run).
    Scan(ScanArgs),
    /// Replace every token in a template with its value (stdin to stdout by default).
    Insert(InsertArgs),
    /// Replace every token in a text, configmanager style (`-i` is a path, `-` or literal text).
    #[command(name = "string-input", visible_aliases = ["fromstr", "getfromstr"])]
    StringInput(StringInputArgs),
    /// Fetch tokens and write them as `export NAME='value'` lines (or dotenv, or JSON).
    #[command(visible_aliases = ["r", "fetch", "get"])]
    Retrieve(RetrieveArgs),
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
    /// Where to write; `stdout` or `-` for stdout.
    #[arg(short = 'p', long, default_value = "./app.env", value_name = "FILE")]
    pub path: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RetrieveFormat::Export)]
    pub format: RetrieveFormat,
}

/// How `cm retrieve` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RetrieveFormat {
    /// `export NAME='value'`, for `. ./app.env` in any POSIX shell.
    Export,
    /// `NAME="value"`, for python-dotenv and docker `--env-file`.
    Dotenv,
    /// One JSON object `{"NAME": "value"}`.
    Json,
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
            assert_eq!(r.path, "./app.env");
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
