//! `cm::Error`: every way a run can fail, the message the user sees, and the exit code.
//!
//! Exit codes: 0 success; 1 a token could not be resolved; 2 usage or input error (bad flag,
//! malformed token, envsubst failure, unreadable input); 3 a plugin could not be found or
//! started; 4 an output could not be written; 130/143 interrupted by SIGINT/SIGTERM.

use std::fmt;
use std::path::PathBuf;

use crate::plugin::StartError;

/// One token that could not be resolved. Holds the token text and the reason, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFailure {
    /// `FILE:LINE:COLUMN` or `--token N`, where the token was found.
    pub location: String,
    /// The token's exact text.
    pub token: String,
    /// Why it failed.
    pub reason: String,
}

impl fmt::Display for TokenFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: failed to retrieve config item - ({}), {}",
            self.location, self.token, self.reason
        )
    }
}

/// A failed run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad flags or flag values.
    #[error("{0}")]
    Usage(String),
    /// The input could not be read.
    #[error("cannot read {name}: {source}")]
    Input {
        /// The input's name.
        name: String,
        /// Why.
        source: std::io::Error,
    },
    /// Malformed tokens or envsubst failures; each line already carries its position.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
    /// Tokens that could not be resolved (all of them).
    #[error("{}\ntoken not found: {} of {total} token(s) could not be resolved", list(.failures), .failures.len())]
    Unresolved {
        /// Each failure.
        failures: Vec<TokenFailure>,
        /// How many tokens there were.
        total: usize,
    },
    /// Plugins that are not on disk.
    #[error("configmanager provider: ( {prefix} ) plugin does not exist; looked for:\n{}", tried.iter().map(|p| format!("  {}", p.display())).collect::<Vec<_>>().join("\n"))]
    PluginNotFound {
        /// The prefix.
        prefix: String,
        /// Every path tried.
        tried: Vec<PathBuf>,
    },
    /// Plugins that did not start.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    PluginStart(Vec<StartError>),
    /// Plugins refused by the integrity checks (lock file, permissions).
    #[error("{}", .0.iter().map(|e| format!("providers not initialised, {e}")).collect::<Vec<_>>().join("\n"))]
    PluginRefused(Vec<crate::plugin::lock::IntegrityError>),
    /// `cm plugin install`, `cm init` and `cm plugin list` problems.
    #[error(transparent)]
    Manage(#[from] crate::plugin::manage::ManageError),
    /// `cm init` found plugins missing.
    #[error("{} plugin(s) missing: {}", .0.len(), .0.join(", "))]
    PluginsMissing(Vec<String>),
    /// Output that could not be produced or written.
    #[error("cannot write {name}: {reason}")]
    Output {
        /// Where.
        name: String,
        /// Why.
        reason: String,
    },
    /// Output that cannot be expressed in the chosen format (name collisions, NUL in values).
    #[error("{0}")]
    Format(String),
    /// SIGINT or SIGTERM.
    #[error("interrupted by {}", if *.0 == 2 { "SIGINT" } else { "SIGTERM" })]
    Interrupted(i32),
}

fn list(failures: &[TokenFailure]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every exit status of `cm` and what it means, in the words the man pages and `cm --help` use.
/// [`Error::exit_code`] is the only place that picks one; a test checks the two agree.
pub const EXIT_CODES: &[(i32, &str)] = &[
    (
        0,
        "success: every token resolved (or, with --lax, was left as it was)",
    ),
    (
        1,
        "a token could not be resolved (every failed token is listed)",
    ),
    (
        2,
        "usage or input error: bad flag or value, malformed token, envsubst failure",
    ),
    (
        3,
        "a plugin was not found, was refused (lock file, permissions) or did not start",
    ),
    (
        4,
        "output not written: unwritable path, name collision, unwritable value",
    ),
    (
        130,
        "interrupted by SIGINT; plugins were stopped, nothing was written",
    ),
    (
        143,
        "terminated by SIGTERM; plugins were stopped, nothing was written",
    ),
];

/// [`EXIT_CODES`] as the plain text that ends `cm --help`.
pub fn exit_status_help() -> String {
    let mut s = String::from("Exit status:\n");
    for (code, meaning) in EXIT_CODES {
        s.push_str(&format!("  {code:<5}{meaning}\n"));
    }
    s.push_str("\nA failed run never leaves partial output: files are replaced only when everything worked.");
    s
}

impl Error {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Unresolved { .. } => 1,
            Error::Usage(_) | Error::Input { .. } | Error::Invalid(_) => 2,
            Error::PluginNotFound { .. }
            | Error::PluginStart(_)
            | Error::PluginRefused(_)
            | Error::PluginsMissing(_) => 3,
            Error::Manage(crate::plugin::manage::ManageError::Write { .. }) => 4,
            Error::Manage(_) => 2,
            Error::Output { .. } | Error::Format(_) => 4,
            Error::Interrupted(signal) => 128 + signal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unresolved_lists_every_token_in_configmanager_words() {
        let e = Error::Unresolved {
            failures: vec![
                TokenFailure {
                    location: "t.yaml:3:7".into(),
                    token: "AWSSECRETS:///a".into(),
                    reason: "boom".into(),
                },
                TokenFailure {
                    location: "--token 2".into(),
                    token: "VAULT://b".into(),
                    reason: "nope".into(),
                },
            ],
            total: 5,
        };
        assert_eq!(
            e.to_string(),
            "t.yaml:3:7: failed to retrieve config item - (AWSSECRETS:///a), boom\n\
             --token 2: failed to retrieve config item - (VAULT://b), nope\n\
             token not found: 2 of 5 token(s) could not be resolved"
        );
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Error::Usage(String::new()).exit_code(), 2);
        assert_eq!(
            Error::PluginNotFound {
                prefix: "X".into(),
                tried: vec![]
            }
            .exit_code(),
            3
        );
        assert_eq!(
            Error::Output {
                name: "f".into(),
                reason: "r".into()
            }
            .exit_code(),
            4
        );
        assert_eq!(Error::Interrupted(2).exit_code(), 130);
        assert_eq!(Error::Interrupted(15).exit_code(), 143);
    }

    #[test]
    fn exit_code_table_covers_every_code_in_use() {
        let errors = [
            Error::Unresolved {
                failures: vec![],
                total: 0,
            },
            Error::Usage(String::new()),
            Error::Input {
                name: String::new(),
                source: std::io::Error::other("x"),
            },
            Error::Invalid(vec![]),
            Error::PluginNotFound {
                prefix: String::new(),
                tried: vec![],
            },
            Error::PluginStart(vec![]),
            Error::PluginRefused(vec![]),
            Error::PluginsMissing(vec![]),
            Error::Manage(crate::plugin::manage::ManageError::Prefix(String::new())),
            Error::Output {
                name: String::new(),
                reason: String::new(),
            },
            Error::Format(String::new()),
            Error::Interrupted(2),
            Error::Interrupted(15),
        ];
        let documented: Vec<i32> = EXIT_CODES.iter().map(|(c, _)| *c).collect();
        for e in &errors {
            assert!(documented.contains(&e.exit_code()), "{e:?}");
        }
        assert_eq!(documented, [0, 1, 2, 3, 4, 130, 143]);
        assert!(exit_status_help().contains("\n  4    output not written: "));
    }

    #[test]
    fn missing_plugin_message() {
        let e = Error::PluginNotFound {
            prefix: "awssecrets".into(),
            tried: vec!["/a/x".into(), "/b/x".into()],
        };
        assert_eq!(
            e.to_string(),
            "configmanager provider: ( awssecrets ) plugin does not exist; looked for:\n  /a/x\n  /b/x"
        );
    }
}
