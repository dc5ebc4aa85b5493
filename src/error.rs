//! `cm::Error`: every way a run can fail, the message the user sees, and the exit code.
//!
//! Exit codes: 0 success; 1 a token could not be resolved; 2 usage or input error (bad flag,
//! malformed token, envsubst failure, unreadable input); 3 a plugin could not be found or
//! started; 4 an output could not be written; 126/127 `cm exec`'s command could not be started
//! or found; 130/143 interrupted by SIGINT/SIGTERM. `cm exec` otherwise exits with its
//! command's status.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::plugin::client::humantime;

// The data the variants carry, nameable from here so callers can match on it.
pub use crate::envsubst::{EnvsubstError, EnvsubstErrorKind, EnvsubstErrors};
pub use crate::exec::dotenv::{DotenvError, DotenvErrorKind};
pub use crate::grammar::GrammarError;
pub use crate::lookup::LookupError;
pub use crate::output::{BadValue, Collision, OutputError, VarSource};
pub use crate::plugin::host::StartError;
pub use crate::plugin::lock::IntegrityError;
pub use crate::plugin::manage::ManageError;
pub use crate::position::Position;
pub use crate::provider::{ProviderError, Refusal};
pub use crate::scan::{ScanError, ScanErrorKind, Span};
#[cfg(feature = "wasi")]
pub use crate::wasm::{GrantError, LoadError, WasmFailure};
pub use crate::yaml::K8sNameKind;

/// A failed run.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Bad flags or flag values.
    Usage(UsageError),
    /// The input could not be read.
    Input {
        /// The input's name.
        name: String,
        /// Why.
        source: io::Error,
    },
    /// Malformed tokens or envsubst failures, every one of them.
    Invalid(Vec<InputProblem>),
    /// Tokens that could not be resolved (all of them).
    Unresolved {
        /// Each failure.
        failures: Vec<TokenFailure>,
        /// How many tokens there were.
        total: usize,
    },
    /// Plugins that are not on disk, every one of them.
    PluginNotFound(Vec<MissingPlugin>),
    /// Plugins that did not start.
    PluginStart(Vec<StartError>),
    /// Plugins refused by the integrity checks (lock file, permissions).
    PluginRefused(Vec<IntegrityError>),
    /// `cm plugin install`, `cm init` and `cm plugin list` problems.
    Manage(ManageError),
    /// `cm init` found plugins missing.
    PluginsMissing(Vec<String>),
    /// Output that could not be written.
    Output {
        /// Where: `stdout` or the file's path.
        name: String,
        /// Why.
        source: io::Error,
    },
    /// Output that cannot be expressed in the chosen format (name collisions, NUL in values).
    Format(OutputError),
    /// SIGINT or SIGTERM (the signal number).
    Interrupted(i32),
    /// `cm exec`: the command could not be started.
    Exec {
        /// The command as given.
        program: String,
        /// Why (not found: exit 127; anything else: 126, as shells do).
        source: io::Error,
    },
}

/// A bad flag value, or an environment `cm` cannot run in.
#[derive(Debug)]
#[non_exhaustive]
pub enum UsageError {
    /// `-s` or `-k` is not usable.
    Grammar(GrammarError),
    /// A duration flag that is not a positive number of seconds.
    Seconds {
        /// The flag (`--timeout`).
        flag: &'static str,
        /// What was given.
        value: f64,
    },
    /// `--concurrency` out of range.
    Concurrency {
        /// The largest value allowed.
        max: usize,
        /// What was given.
        got: usize,
    },
    /// The current directory cannot be read.
    CurrentDir(io::Error),
    /// The async runtime cannot be built.
    Runtime(io::Error),
    /// `--global` without a home directory.
    NoHome,
    /// `--name` or `--namespace` is not a valid Kubernetes name of its kind.
    K8sName {
        /// The flag.
        flag: &'static str,
        /// What was given (a name, never a secret).
        value: String,
        /// Which rule it breaks.
        kind: K8sNameKind,
    },
    /// A flag given with a `--format` that does not use it.
    FlagNeedsFormat {
        /// The flag (`--name`).
        flag: &'static str,
        /// The only format that takes it.
        format: &'static str,
    },
    /// A `--format` given without a flag it needs.
    FormatNeedsFlag {
        /// The format (`k8s-secret`).
        format: &'static str,
        /// The missing flag.
        flag: &'static str,
    },
    /// A GitHub Actions format without `-p` and without the runner's file variable.
    NoGithubFile {
        /// The format (`gha`).
        format: &'static str,
        /// The variable naming the file (`GITHUB_ENV`).
        var: &'static str,
    },
}

/// One problem in the input or in a `--token`, with where it is.
#[derive(Debug)]
#[non_exhaustive]
pub enum InputProblem {
    /// A malformed token in the named input.
    Scan {
        /// The input's name (`<stdin>`, a path).
        input: String,
        /// The malformed token.
        error: ScanError,
    },
    /// An envsubst failure in the named input.
    Envsubst {
        /// The input's name.
        input: String,
        /// The failure.
        error: EnvsubstError,
    },
    /// An envsubst failure in the Nth `--token`.
    FlagEnvsubst {
        /// 1-based index of the flag.
        flag: usize,
        /// The flag's text.
        arg: String,
        /// The failure.
        kind: EnvsubstErrorKind,
    },
    /// A malformed token in the Nth `--token`.
    FlagScan {
        /// 1-based index of the flag.
        flag: usize,
        /// The malformed token.
        error: ScanError,
    },
    /// The Nth `--token` is not exactly one token.
    NotAToken {
        /// 1-based index of the flag.
        flag: usize,
        /// The flag's text.
        arg: String,
        /// `-s`.
        token_separator: String,
        /// `-k`.
        key_separator: char,
        /// Every known prefix.
        prefixes: Vec<String>,
    },
    /// A malformed token in a `cm exec` variable (the position is in its value).
    VariableScan {
        /// The variable.
        variable: Variable,
        /// The malformed token.
        error: ScanError,
    },
    /// An `--env-file` line that is not dotenv.
    EnvFile {
        /// The file as given.
        path: String,
        /// What and where.
        error: DotenvError,
    },
    /// The Nth `--env` is not NAME=VALUE.
    EnvFlag {
        /// 1-based index of the flag.
        flag: usize,
        /// The text before `=`, if there is a `=` (the rest may be a value, so it is never
        /// shown).
        name: Option<String>,
    },
}

/// A variable `cm exec` reads tokens from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// Where it was set.
    pub source: VariableSource,
}

/// Where a `cm exec` variable was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableSource {
    /// cm's own environment.
    Environment,
    /// A line of an `--env-file`.
    EnvFile {
        /// The file as given.
        path: String,
        /// The line its name is on.
        line: usize,
    },
    /// The Nth `--env` flag (1-based).
    EnvFlag(usize),
}

/// Where a token was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// In the named input, at this position.
    Input {
        /// The input's name.
        name: String,
        /// The token's first byte.
        pos: Position,
    },
    /// The Nth `--token` flag (1-based).
    Flag(usize),
    /// A `cm exec` variable's value.
    Variable(Variable),
}

/// Why one token got no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureReason {
    /// Its item could not be fetched.
    Provider(ProviderError),
    /// Its key path found nothing, or several things, in the item.
    Lookup(LookupError),
}

/// One token that could not be resolved. Holds the token text and the reason, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFailure {
    /// Where the token was found.
    pub origin: Origin,
    /// The token's exact text.
    pub token: String,
    /// Why it failed.
    pub reason: FailureReason,
}

/// A prefix with no plugin on disk, and every path tried for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPlugin {
    /// The prefix, lower-cased as configmanager prints it.
    pub prefix: String,
    /// Every path tried, in search order.
    pub tried: Vec<PathBuf>,
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Input { source, .. } | Error::Output { source, .. } => Some(source),
            Error::Manage(e) => e.source(),
            _ => None,
        }
    }
}

impl From<ManageError> for Error {
    fn from(e: ManageError) -> Self {
        Error::Manage(e)
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Error::Usage(e)
    }
}

impl From<OutputError> for Error {
    fn from(e: OutputError) -> Self {
        Error::Format(e)
    }
}

/// Writes `items` one per line.
fn lines<T>(
    f: &mut fmt::Formatter<'_>,
    items: &[T],
    mut one: impl FnMut(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str("\n")?;
        }
        one(f, item)?;
    }
    Ok(())
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(e) => write!(f, "{e}"),
            Error::Input { name, source } => write!(f, "cannot read {name}: {source}"),
            Error::Invalid(problems) => lines(f, problems, |f, p| write!(f, "{p}")),
            Error::Unresolved { failures, total } => {
                lines(f, failures, |f, x| write!(f, "{x}"))?;
                write!(
                    f,
                    "\ntoken not found: {} of {total} token(s) could not be resolved",
                    failures.len()
                )
            }
            Error::PluginNotFound(missing) => lines(f, missing, |f, m| write!(f, "{m}")),
            Error::PluginStart(errors) => lines(f, errors, |f, e| write!(f, "{e}")),
            Error::PluginRefused(errors) => lines(f, errors, |f, e| {
                write!(f, "providers not initialised, {e}")
            }),
            Error::Manage(e) => write!(f, "{e}"),
            Error::PluginsMissing(prefixes) => write!(
                f,
                "{} plugin(s) missing: {}",
                prefixes.len(),
                prefixes.join(", ")
            ),
            Error::Output { name, source } => write!(f, "cannot write {name}: {source}"),
            Error::Format(e) => write!(f, "{e}"),
            Error::Interrupted(signal) => write!(
                f,
                "interrupted by {}",
                if *signal == 2 { "SIGINT" } else { "SIGTERM" }
            ),
            Error::Exec { program, source } => write!(f, "cannot run {program}: {source}"),
        }
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::Grammar(e) => write!(f, "{e}"),
            UsageError::Seconds { flag, value } => write!(
                f,
                "{flag} must be a positive number of seconds, got {value}"
            ),
            UsageError::Concurrency { max, got } => {
                write!(f, "--concurrency must be between 1 and {max}, got {got}")
            }
            UsageError::CurrentDir(e) => write!(f, "cannot read the current directory: {e}"),
            UsageError::Runtime(e) => write!(f, "cannot start the async runtime: {e}"),
            UsageError::NoHome => f.write_str("--global: cannot find the home directory"),
            UsageError::K8sName { flag, value, kind } => {
                let rule = match kind {
                    K8sNameKind::Subdomain => {
                        "a DNS subdomain name: at most 253 lowercase letters, digits, `-` and `.`, each dot-separated part starting and ending with a letter or digit"
                    }
                    K8sNameKind::Label => {
                        "a DNS label: at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit"
                    }
                };
                write!(f, "{flag} `{value}` is not valid: Kubernetes needs {rule}")
            }
            UsageError::FlagNeedsFormat { flag, format } => {
                write!(f, "{flag} is only valid with --format {format}")
            }
            UsageError::FormatNeedsFlag { format, flag } => {
                write!(f, "--format {format} needs {flag}")
            }
            UsageError::NoGithubFile { format, var } => write!(
                f,
                "--format {format} needs ${var} (set by GitHub Actions) or -p FILE"
            ),
        }
    }
}

impl fmt::Display for Position {
    /// `LINE:COLUMN`, the form every message puts after the input's name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputProblem::Scan { input, error } => write!(f, "{input}:{}: {error}", error.pos),
            InputProblem::Envsubst { input, error } => {
                write!(f, "{input}:{}: {}", error.pos, error.kind)
            }
            InputProblem::FlagEnvsubst { flag, arg, kind } => {
                write!(f, "--token {flag}: {kind} in `{arg}`")
            }
            InputProblem::FlagScan { flag, error } => write!(f, "--token {flag}: {error}"),
            InputProblem::NotAToken {
                flag,
                arg,
                token_separator,
                key_separator,
                prefixes,
            } => write!(
                f,
                "--token {flag}: `{arg}` is not a token; expected PREFIX{token_separator}PATH[{key_separator}KEY][[METADATA]] with a known prefix ({})",
                prefixes.join(", ")
            ),
            InputProblem::VariableScan { variable, error } => {
                write!(f, "{variable}, column {}: {error}", error.pos.column)
            }
            InputProblem::EnvFile { path, error } => {
                write!(f, "{path}:{}: {}", error.pos, error.kind)
            }
            InputProblem::EnvFlag { flag, name: None } => {
                write!(f, "--env {flag}: expected NAME=VALUE")
            }
            InputProblem::EnvFlag {
                flag,
                name: Some(name),
            } => write!(
                f,
                "--env {flag}: {name:?} is not a variable name (letters, digits and _, not starting with a digit)"
            ),
        }
    }
}

impl fmt::Display for Variable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.name;
        match &self.source {
            VariableSource::Environment => write!(f, "environment variable {name}"),
            VariableSource::EnvFile { path, line } => write!(f, "{path}:{line}: {name}"),
            VariableSource::EnvFlag(n) => write!(f, "--env {n}: {name}"),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Input { name, pos } => write!(f, "{name}:{pos}"),
            Origin::Flag(n) => write!(f, "--token {n}"),
            Origin::Variable(v) => write!(f, "{v}"),
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::Provider(e) => write!(f, "{e}"),
            FailureReason::Lookup(e) => write!(f, "{e}"),
        }
    }
}

impl fmt::Display for TokenFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: failed to retrieve config item - ({}), {}",
            self.origin, self.token, self.reason
        )
    }
}

impl fmt::Display for MissingPlugin {
    /// configmanager's wording, then every path tried.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "configmanager provider: ( {} ) plugin does not exist; looked for:",
            self.prefix
        )?;
        for path in &self.tried {
            write!(f, "\n  {}", path.display())?;
        }
        Ok(())
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProviderError::Timeout { plugin, after } => write!(
                f,
                "plugin {plugin} did not answer within {} (see --timeout)",
                humantime(*after)
            ),
            ProviderError::Crashed { plugin, detail } => write!(
                f,
                "plugin {plugin} closed the connection (it may have crashed): {}",
                if detail.is_empty() {
                    "no detail"
                } else {
                    detail
                }
            ),
            ProviderError::Refused { plugin, why } => match why {
                Refusal::TooLarge { limit_bytes } => write!(
                    f,
                    "plugin {plugin} returned a value larger than the {} MiB limit",
                    limit_bytes / (1024 * 1024)
                ),
                Refusal::Unimplemented(message) => write!(
                    f,
                    "plugin {plugin} does not implement /proto.TokenStore/Value: {message}"
                ),
                Refusal::Failed { code, message } => {
                    write!(f, "plugin {plugin} failed: {code}: {message}")
                }
                Refusal::ShuttingDown => f.write_str("plugin is shutting down"),
            },
            ProviderError::Store(message) => f.write_str(message),
            ProviderError::EnvUnset(name) => {
                write!(f, "environment variable {name} is not set")
            }
            ProviderError::FileUnreadable { path, reason } => {
                write!(f, "cannot read file {}: {reason}", path.display())
            }
            ProviderError::NoProvider(prefix) => write!(f, "no provider for prefix {prefix}"),
            ProviderError::PathNotUtf8 => f.write_str("the path is not valid UTF-8"),
            #[cfg(feature = "wasi")]
            ProviderError::Wasm { plugin, why } => write!(f, "WASI plugin {plugin}: {why}"),
        }
    }
}

impl std::error::Error for ProviderError {}

#[cfg(feature = "wasi")]
impl fmt::Display for WasmFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WasmFailure::Load(e) => write!(f, "{e}"),
            // configmanager's words for the seed's codes; -6 and -7 may carry the module's
            // reason (cm's extension of the ABI).
            WasmFailure::Code { code, reason } => {
                match code {
                    -2 => f.write_str("the module found the input not valid UTF-8 (code -2)")?,
                    -3 => f.write_str("the module got an empty input (code -3)")?,
                    -4 => f.write_str("internal error in the module (code -4)")?,
                    -5 => f.write_str("failed to unmarshal message")?,
                    -6 => f.write_str("failed to initialize the client")?,
                    -7 => f.write_str("failed to retrieve config item")?,
                    other => write!(f, "the module returned an unknown code {other}")?,
                }
                match reason {
                    Some(reason) => write!(f, ": {reason}"),
                    None => Ok(()),
                }
            }
            WasmFailure::BufferTooSmallTwice { needed } => write!(
                f,
                "the module asked for a larger output buffer twice (the second time {needed} bytes)"
            ),
            WasmFailure::BadRetryLength { needed, capacity } => write!(
                f,
                "the module returned -1 (buffer too small) but asked for {needed} bytes, \
                 no more than the {capacity} it had"
            ),
            WasmFailure::BadOutputLength { len, capacity } => write!(
                f,
                "the module reported a {len}-byte value in a {capacity}-byte buffer"
            ),
            WasmFailure::TooLarge { limit_bytes } => write!(
                f,
                "the value is larger than the {} MiB limit",
                limit_bytes / (1024 * 1024)
            ),
            WasmFailure::ValueNotUtf8 => f.write_str("the value is not valid UTF-8"),
            WasmFailure::ArenaFull => f.write_str(
                "allocate returned 0 (the module's arena is full), on a fresh instance too",
            ),
            WasmFailure::BadPointer { what } => {
                write!(f, "the {what} buffer is outside the module's memory")
            }
            WasmFailure::Trap(message) => write!(f, "the module trapped: {message}"),
            WasmFailure::Exit(code) => write!(f, "the module exited with code {code} (proc_exit)"),
            WasmFailure::FuelExhausted { fuel } => write!(
                f,
                "the module ran out of fuel after {fuel} units (an endless loop?)"
            ),
            WasmFailure::Timeout { after } => write!(
                f,
                "did not answer within {} (see --timeout)",
                humantime(*after)
            ),
            WasmFailure::MemoryLimit { limit_bytes } => write!(
                f,
                "the module reached the memory limit of {} MiB",
                limit_bytes / (1024 * 1024)
            ),
            WasmFailure::BadMetadata(piece) => {
                write!(f, "metadata {piece:?} is not a key=value pair")
            }
            WasmFailure::Host(message) => write!(f, "internal error in cm: {message}"),
        }
    }
}

#[cfg(feature = "wasi")]
impl std::error::Error for WasmFailure {}

#[cfg(feature = "wasi")]
impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Compile(why) => write!(f, "not a valid WebAssembly module: {why}"),
            LoadError::UnknownImport { module, name } => write!(
                f,
                "the module imports {module}.{name}, which cm does not provide"
            ),
            LoadError::ImportType {
                module,
                name,
                expected,
                found,
            } => write!(
                f,
                "the module imports {module}.{name} as {found}, but cm provides {expected}"
            ),
            LoadError::MissingExport(name) => {
                write!(
                    f,
                    "the module does not export {name}, which the ABI requires"
                )
            }
            LoadError::ExportType {
                name,
                expected,
                found,
            } => write!(
                f,
                "the module exports {name} as {found}, but the ABI requires {expected}"
            ),
        }
    }
}

#[cfg(feature = "wasi")]
impl std::error::Error for LoadError {}

#[cfg(feature = "wasi")]
impl fmt::Display for GrantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrantError::NotAHost(text) => write!(
                f,
                "{text:?} is not a host: write HOST or HOST:PORT, without a scheme, user or path"
            ),
            GrantError::BadHost(text) => write!(f, "{text:?} is not a host name or IP address"),
            GrantError::Ipv6NeedsBrackets(text) => {
                write!(
                    f,
                    "IPv6 address {text} must be written in brackets: [{text}]"
                )
            }
            GrantError::BadPort(text) => write!(f, "{text:?}: the port must be 1 to 65535"),
            GrantError::BadEnvName(text) => write!(
                f,
                "{text:?} is not an environment variable name \
                 (letters, digits and _, not starting with a digit)"
            ),
        }
    }
}

impl fmt::Display for ScanErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The first two are configmanager's wording, which users grep for.
        f.write_str(match self {
            ScanErrorKind::EmptyMetadata => {
                "metadata brackets must include at least one set of key=value pairs"
            }
            ScanErrorKind::UnclosedMetadata => "no corresponding end tag found",
            ScanErrorKind::EmptyPath => "path cannot be empty",
            ScanErrorKind::EmptyKeyPath => "key path cannot be empty",
        })
    }
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in token `{}`", self.kind, self.text)
    }
}

impl std::error::Error for ScanError {}

impl fmt::Display for EnvsubstErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvsubstErrorKind::Unset(name) => write!(f, "variable `{name}` is not set"),
            EnvsubstErrorKind::Empty(name) => write!(f, "variable `{name}` is empty"),
            EnvsubstErrorKind::Unclosed => {
                f.write_str("unclosed `${`: no `}` before the end of the line")
            }
            EnvsubstErrorKind::BadSubstitution(body) => write!(
                f,
                "bad substitution `${{{body}}}`: expected `${{NAME}}`, `${{NAME:-default}}` or `${{NAME-default}}`"
            ),
            EnvsubstErrorKind::NestedInDefault => {
                f.write_str("`${` inside a default value is not supported")
            }
        }
    }
}

impl std::error::Error for EnvsubstErrorKind {}

impl fmt::Display for EnvsubstError {
    /// The position in words, for a message that names no input.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.pos.line, self.pos.column, self.kind
        )
    }
}

impl std::error::Error for EnvsubstError {}

impl fmt::Display for EnvsubstErrors {
    /// One line per problem.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        lines(f, &self.0, |f, e| write!(f, "{e}"))
    }
}

impl std::error::Error for EnvsubstErrors {}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::NotFound(key) => write!(f, "key path `{key}` not found in the value"),
            LookupError::Ambiguous { key, matches } => {
                write!(f, "key path `{key}` is ambiguous: {matches} matches")
            }
        }
    }
}

impl std::error::Error for LookupError {}

impl fmt::Display for GrammarError {
    /// configmanager's words, so scripts that grep for them keep working.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GrammarError::EmptyTokenSeparator => {
                "config validation failed, tokenseparator cannot be empty"
            }
            GrammarError::KeySeparatorLength => {
                "config validation failed, keyseparator can only be 1 character"
            }
        })
    }
}

impl std::error::Error for GrammarError {}

impl fmt::Display for VarSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.json_key {
            None => write!(f, "`{}`", self.token),
            Some(k) => write!(f, "`{}` (JSON key `{k}`)", self.token),
        }
    }
}

impl fmt::Display for Collision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "variable `{}` would get different values from {} and {}",
            self.name, self.first, self.second
        )
    }
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::NameCollision(collisions) => lines(f, collisions, |f, c| write!(f, "{c}")),
            OutputError::NulInValue(bad) => lines(f, bad, |f, b| {
                write!(
                    f,
                    "value of `{}` from {} contains a NUL byte, which an environment variable cannot hold",
                    b.name, b.origin
                )
            }),
            OutputError::NotUtf8(bad) => lines(f, bad, |f, b| {
                write!(
                    f,
                    "value of `{}` from {} is not valid UTF-8, which this output format cannot hold",
                    b.name, b.origin
                )
            }),
            OutputError::BadSecretKey(bad) => lines(f, bad, |f, b| {
                write!(
                    f,
                    "variable name `{}` from {} is not a valid Kubernetes Secret key (letters, digits, `-`, `.` and `_`, at most 253)",
                    b.name, b.origin
                )
            }),
            OutputError::Io(e) => write!(f, "cannot write output: {e}"),
        }
    }
}

impl std::error::Error for OutputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OutputError::Io(e) => Some(e),
            _ => None,
        }
    }
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
        126,
        "exec: the command could not be started (not executable, permission denied)",
    ),
    (127, "exec: the command was not found"),
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
    s.push_str("\n`cm exec` exits with its command's status (128+N if signal N ended it), or as above if\nit failed before the command started.\n");
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
            Error::Exec { source, .. } if source.kind() == io::ErrorKind::NotFound => 127,
            Error::Exec { .. } => 126,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(line: usize, column: usize) -> Position {
        Position { line, column }
    }

    fn failure(origin: Origin, token: &str, reason: FailureReason) -> TokenFailure {
        TokenFailure {
            origin,
            token: token.into(),
            reason,
        }
    }

    fn store(message: &str) -> FailureReason {
        FailureReason::Provider(ProviderError::Store(message.into()))
    }

    #[test]
    fn unresolved_lists_every_token_in_configmanager_words() {
        let e = Error::Unresolved {
            failures: vec![
                failure(
                    Origin::Input {
                        name: "t.yaml".into(),
                        pos: at(3, 7),
                    },
                    "AWSSECRETS:///a",
                    store("boom"),
                ),
                failure(Origin::Flag(2), "VAULT://b", store("nope")),
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
        assert_eq!(Error::Usage(UsageError::NoHome).exit_code(), 2);
        assert_eq!(
            Error::PluginNotFound(vec![MissingPlugin {
                prefix: "X".into(),
                tried: vec![]
            }])
            .exit_code(),
            3
        );
        assert_eq!(
            Error::Output {
                name: "f".into(),
                source: io::Error::other("r"),
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
            Error::Usage(UsageError::NoHome),
            Error::Input {
                name: String::new(),
                source: io::Error::other("x"),
            },
            Error::Invalid(vec![]),
            Error::PluginNotFound(vec![]),
            Error::PluginStart(vec![]),
            Error::PluginRefused(vec![]),
            Error::PluginsMissing(vec![]),
            Error::Manage(ManageError::Prefix(String::new())),
            Error::Output {
                name: String::new(),
                source: io::Error::other("x"),
            },
            Error::Format(OutputError::NameCollision(vec![])),
            Error::Interrupted(2),
            Error::Interrupted(15),
            Error::Exec {
                program: String::new(),
                source: io::ErrorKind::NotFound.into(),
            },
            Error::Exec {
                program: String::new(),
                source: io::ErrorKind::PermissionDenied.into(),
            },
        ];
        let documented: Vec<i32> = EXIT_CODES.iter().map(|(c, _)| *c).collect();
        for e in &errors {
            assert!(documented.contains(&e.exit_code()), "{e:?}");
        }
        assert_eq!(documented, [0, 1, 2, 3, 4, 126, 127, 130, 143]);
        assert!(exit_status_help().contains("\n  4    output not written: "));
    }

    #[test]
    fn missing_plugin_message() {
        let e = Error::PluginNotFound(vec![MissingPlugin {
            prefix: "awssecrets".into(),
            tried: vec!["/a/x".into(), "/b/x".into()],
        }]);
        assert_eq!(
            e.to_string(),
            "configmanager provider: ( awssecrets ) plugin does not exist; looked for:\n  /a/x\n  /b/x"
        );
    }

    #[test]
    fn every_missing_plugin_is_listed_with_its_paths() {
        let e = Error::PluginNotFound(vec![
            MissingPlugin {
                prefix: "awssecrets".into(),
                tried: vec!["/a/s".into()],
            },
            MissingPlugin {
                prefix: "vault".into(),
                tried: vec!["/a/v".into(), "/b/v".into()],
            },
        ]);
        assert_eq!(
            e.to_string(),
            "configmanager provider: ( awssecrets ) plugin does not exist; looked for:\n  /a/s\n\
             configmanager provider: ( vault ) plugin does not exist; looked for:\n  /a/v\n  /b/v"
        );
    }

    #[test]
    fn usage_messages() {
        let cases: Vec<(UsageError, &str)> = vec![
            (
                UsageError::Grammar(GrammarError::EmptyTokenSeparator),
                "config validation failed, tokenseparator cannot be empty",
            ),
            (
                UsageError::Seconds {
                    flag: "--timeout",
                    value: -1.5,
                },
                "--timeout must be a positive number of seconds, got -1.5",
            ),
            (
                UsageError::Concurrency { max: 1024, got: 0 },
                "--concurrency must be between 1 and 1024, got 0",
            ),
            (
                UsageError::CurrentDir(io::Error::other("gone")),
                "cannot read the current directory: gone",
            ),
            (
                UsageError::Runtime(io::Error::other("no")),
                "cannot start the async runtime: no",
            ),
            (
                UsageError::NoHome,
                "--global: cannot find the home directory",
            ),
            (
                UsageError::K8sName {
                    flag: "--name",
                    value: "My_App".into(),
                    kind: K8sNameKind::Subdomain,
                },
                "--name `My_App` is not valid: Kubernetes needs a DNS subdomain name: at most 253 \
                 lowercase letters, digits, `-` and `.`, each dot-separated part starting and \
                 ending with a letter or digit",
            ),
            (
                UsageError::K8sName {
                    flag: "--namespace",
                    value: "a.b".into(),
                    kind: K8sNameKind::Label,
                },
                "--namespace `a.b` is not valid: Kubernetes needs a DNS label: at most 63 \
                 lowercase letters, digits and `-`, starting and ending with a letter or digit",
            ),
            (
                UsageError::FlagNeedsFormat {
                    flag: "--name",
                    format: "k8s-secret",
                },
                "--name is only valid with --format k8s-secret",
            ),
            (
                UsageError::FormatNeedsFlag {
                    format: "k8s-secret",
                    flag: "--name",
                },
                "--format k8s-secret needs --name",
            ),
            (
                UsageError::NoGithubFile {
                    format: "gha-output",
                    var: "GITHUB_OUTPUT",
                },
                "--format gha-output needs $GITHUB_OUTPUT (set by GitHub Actions) or -p FILE",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(Error::Usage(e).to_string(), text);
        }
    }

    fn scan_error(kind: ScanErrorKind, text: &str, pos: Position) -> ScanError {
        ScanError {
            kind,
            span: Span::new(0, text.len()),
            pos,
            text: text.into(),
        }
    }

    #[test]
    fn input_problem_messages_carry_their_positions() {
        let e = Error::Invalid(vec![
            InputProblem::Scan {
                input: "t.yaml".into(),
                error: scan_error(ScanErrorKind::EmptyPath, "VAULT://", at(2, 9)),
            },
            InputProblem::Envsubst {
                input: "<stdin>".into(),
                error: EnvsubstError {
                    pos: at(1, 3),
                    kind: EnvsubstErrorKind::Unset("NOPE".into()),
                },
            },
            InputProblem::FlagEnvsubst {
                flag: 2,
                arg: "ENV://$X".into(),
                kind: EnvsubstErrorKind::Empty("X".into()),
            },
            InputProblem::FlagScan {
                flag: 3,
                error: scan_error(ScanErrorKind::EmptyMetadata, "ENV://a[]", at(1, 1)),
            },
            InputProblem::NotAToken {
                flag: 4,
                arg: "hello".into(),
                token_separator: "://".into(),
                key_separator: '|',
                prefixes: vec!["ENV".into(), "FILE".into()],
            },
        ]);
        assert_eq!(
            e.to_string(),
            "t.yaml:2:9: path cannot be empty in token `VAULT://`\n\
             <stdin>:1:3: variable `NOPE` is not set\n\
             --token 2: variable `X` is empty in `ENV://$X`\n\
             --token 3: metadata brackets must include at least one set of key=value pairs in token `ENV://a[]`\n\
             --token 4: `hello` is not a token; expected PREFIX://PATH[|KEY][[METADATA]] with a known prefix (ENV, FILE)"
        );
        assert_eq!(e.exit_code(), 2);
    }

    #[cfg(feature = "wasi")]
    #[test]
    fn wasi_messages() {
        let p = |why| {
            ProviderError::Wasm {
                plugin: "VAULT".into(),
                why,
            }
            .to_string()
        };
        assert_eq!(
            p(WasmFailure::Timeout {
                after: Duration::from_secs(2)
            }),
            "WASI plugin VAULT: did not answer within 2s (see --timeout)"
        );
        assert_eq!(
            p(WasmFailure::TooLarge {
                limit_bytes: 64 << 20
            }),
            "WASI plugin VAULT: the value is larger than the 64 MiB limit"
        );
        assert_eq!(
            p(WasmFailure::BadPointer { what: "input" }),
            "WASI plugin VAULT: the input buffer is outside the module's memory"
        );
        assert_eq!(
            p(WasmFailure::Load(LoadError::MissingExport("memory"))),
            "WASI plugin VAULT: the module does not export memory, which the ABI requires"
        );
        assert_eq!(
            p(WasmFailure::Host("task panicked".into())),
            "WASI plugin VAULT: internal error in cm: task panicked"
        );
        let g = |e: GrantError| e.to_string();
        assert_eq!(
            g(GrantError::NotAHost("https://v".into())),
            "\"https://v\" is not a host: write HOST or HOST:PORT, without a scheme, user or path"
        );
        assert_eq!(
            g(GrantError::BadHost("a b".into())),
            "\"a b\" is not a host name or IP address"
        );
        assert_eq!(
            g(GrantError::Ipv6NeedsBrackets("::1".into())),
            "IPv6 address ::1 must be written in brackets: [::1]"
        );
        assert_eq!(
            g(GrantError::BadPort("v:0".into())),
            "\"v:0\": the port must be 1 to 65535"
        );
        assert_eq!(
            g(GrantError::BadEnvName("1X".into())),
            "\"1X\" is not an environment variable name (letters, digits and _, not starting with a digit)"
        );
    }

    #[test]
    fn provider_failure_messages() {
        let p = |e: ProviderError| e.to_string();
        let plugin = || "AWSSECRETS".to_string();
        assert_eq!(
            p(ProviderError::Timeout {
                plugin: plugin(),
                after: Duration::from_millis(1500)
            }),
            "plugin AWSSECRETS did not answer within 1.5s (see --timeout)"
        );
        assert_eq!(
            p(ProviderError::Crashed {
                plugin: plugin(),
                detail: "broken pipe".into()
            }),
            "plugin AWSSECRETS closed the connection (it may have crashed): broken pipe"
        );
        assert_eq!(
            p(ProviderError::Crashed {
                plugin: plugin(),
                detail: String::new()
            }),
            "plugin AWSSECRETS closed the connection (it may have crashed): no detail"
        );
        let refused = |why| ProviderError::Refused {
            plugin: plugin(),
            why,
        };
        assert_eq!(
            p(refused(Refusal::TooLarge {
                limit_bytes: 64 << 20
            })),
            "plugin AWSSECRETS returned a value larger than the 64 MiB limit"
        );
        assert_eq!(
            p(refused(Refusal::Unimplemented("unknown service".into()))),
            "plugin AWSSECRETS does not implement /proto.TokenStore/Value: unknown service"
        );
        assert_eq!(
            p(refused(Refusal::Failed {
                code: "Aborted".into(),
                message: "why".into()
            })),
            "plugin AWSSECRETS failed: Aborted: why"
        );
        assert_eq!(p(refused(Refusal::ShuttingDown)), "plugin is shutting down");
        assert_eq!(
            p(ProviderError::Store(
                "implementation X error: boom for token: t".into()
            )),
            "implementation X error: boom for token: t"
        );
        assert_eq!(
            p(ProviderError::EnvUnset("HOME2".into())),
            "environment variable HOME2 is not set"
        );
        assert_eq!(
            p(ProviderError::FileUnreadable {
                path: "/x/s.json".into(),
                reason: "No such file or directory (os error 2)".into()
            }),
            "cannot read file /x/s.json: No such file or directory (os error 2)"
        );
        assert_eq!(
            p(ProviderError::NoProvider("Y".into())),
            "no provider for prefix Y"
        );
        assert_eq!(p(ProviderError::PathNotUtf8), "the path is not valid UTF-8");
    }

    #[test]
    fn lookup_failures_read_like_the_lookup_error() {
        let f = failure(
            Origin::Flag(1),
            "X://a|k",
            FailureReason::Lookup(LookupError::NotFound("k".into())),
        );
        assert_eq!(
            f.to_string(),
            "--token 1: failed to retrieve config item - (X://a|k), key path `k` not found in the value"
        );
    }

    #[test]
    fn remaining_messages() {
        let cases: Vec<(Error, &str)> = vec![
            (
                Error::Input {
                    name: "t.yaml".into(),
                    source: io::Error::other("denied"),
                },
                "cannot read t.yaml: denied",
            ),
            (
                Error::Output {
                    name: "stdout".into(),
                    source: io::Error::other("full"),
                },
                "cannot write stdout: full",
            ),
            (
                Error::PluginsMissing(vec!["a".into(), "b".into()]),
                "2 plugin(s) missing: a, b",
            ),
            (
                Error::PluginRefused(vec![IntegrityError::WorldWritable {
                    path: "/p".into(),
                    mode: 0o777,
                }]),
                "providers not initialised, refusing to run /p: it is world-writable (mode 777); chmod o-w it",
            ),
            (
                Error::Format(OutputError::Io(io::Error::other("x"))),
                "cannot write output: x",
            ),
            (Error::Interrupted(2), "interrupted by SIGINT"),
            (Error::Interrupted(15), "interrupted by SIGTERM"),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text, "{e:?}");
        }
        // Plugin management errors read as their own module words them.
        assert_eq!(
            Error::Manage(ManageError::Prefix("a-b".into())).to_string(),
            ManageError::Prefix("a-b".into()).to_string()
        );
    }

    #[test]
    fn output_messages_name_variables_and_tokens() {
        let from = |token: &str, key: Option<&str>| VarSource {
            token: token.into(),
            json_key: key.map(str::to_string),
        };
        let e = Error::Format(OutputError::NameCollision(vec![Collision {
            name: "DB".into(),
            first: from("X://a/db", None),
            second: from("X://b", Some("db")),
        }]));
        assert_eq!(
            e.to_string(),
            "variable `DB` would get different values from `X://a/db` and `X://b` (JSON key `db`)"
        );
        assert_eq!(e.exit_code(), 4);
        let bad = || {
            vec![
                BadValue {
                    name: "A".into(),
                    origin: from("X://a", None),
                },
                BadValue {
                    name: "B".into(),
                    origin: from("X://b", Some("k")),
                },
            ]
        };
        assert_eq!(
            OutputError::NulInValue(bad()).to_string(),
            "value of `A` from `X://a` contains a NUL byte, which an environment variable cannot hold\n\
             value of `B` from `X://b` (JSON key `k`) contains a NUL byte, which an environment variable cannot hold"
        );
        assert_eq!(
            OutputError::NotUtf8(bad()).to_string(),
            "value of `A` from `X://a` is not valid UTF-8, which this output format cannot hold\n\
             value of `B` from `X://b` (JSON key `k`) is not valid UTF-8, which this output format cannot hold"
        );
        assert_eq!(
            OutputError::BadSecretKey(bad()).to_string(),
            "variable name `A` from `X://a` is not a valid Kubernetes Secret key (letters, digits, `-`, `.` and `_`, at most 253)\n\
             variable name `B` from `X://b` (JSON key `k`) is not a valid Kubernetes Secret key (letters, digits, `-`, `.` and `_`, at most 253)"
        );
    }

    #[test]
    fn plugin_start_failures_are_listed_with_their_stderr() {
        let e = Error::PluginStart(vec![
            StartError {
                prefix: "ECHO".into(),
                path: "/p/echo".into(),
                failure: crate::plugin::host::StartFailure::Timeout(Duration::from_secs(30)),
                stderr_tail: vec!["boom".into()],
            },
            StartError {
                prefix: "JSON".into(),
                path: "/p/json".into(),
                failure: crate::plugin::host::StartFailure::Exited("exit status: 1".into()),
                stderr_tail: vec![],
            },
        ]);
        assert_eq!(
            e.to_string(),
            "providers not initialised, plugin ECHO (/p/echo): timeout while waiting for plugin to start (30s elapsed, see --plugin-start-timeout)\n  \
             plugin stderr (last lines):\n    boom\n\
             providers not initialised, plugin JSON (/p/json): plugin exited before we could connect (exit status: 1)"
        );
        assert_eq!(e.exit_code(), 3);
    }
}
