//! `Config`: what the user asked for, validated, with the environment read exactly once
//! (current directory, home, `CONFIGMANAGER_DIR`, `NO_COLOR`, log filters, the variables that
//! `ENV://` and envsubst see). Nothing below this module reads the environment.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::GlobalArgs;
use crate::error::{Error, UsageError};
use crate::grammar::Grammar;
use crate::plugin::HostOptions;
use crate::plugin::client::CallLimits;
use crate::plugin::discover::SearchPath;

/// Log settings.
#[derive(Debug, Clone)]
pub(crate) struct LogConfig {
    /// `-v` count.
    pub verbosity: u8,
    /// `CONFIGMANAGER_LOG`, else `RUST_LOG`.
    pub filter: Option<String>,
    /// Colour on stderr: a terminal, and `NO_COLOR` unset or empty.
    pub color: bool,
}

/// A validated run configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Separators (prefixes are added once plugins are discovered).
    pub grammar: Grammar,
    /// `-e`.
    pub envsubst: bool,
    /// `--lax`.
    pub lax: bool,
    /// Plugin start and call limits.
    pub host: HostOptions,
    /// Where plugins are looked for.
    pub search: SearchPath,
    /// The current directory (`FILE://` paths start here).
    pub cwd: PathBuf,
    /// The environment as cm started with it.
    pub env: Vec<(OsString, OsString)>,
    /// Logging.
    pub log: LogConfig,
    /// `--require-lock` / `CM_REQUIRE_LOCK`.
    pub require_lock: bool,
    /// Where `cm plugin install` and `cm init` put plugins: `$CONFIGMANAGER_DIR`, else the
    /// current directory.
    pub local_base: PathBuf,
    /// The home directory (`--global`).
    pub home: Option<PathBuf>,
    /// cm's cache folder (the verified-hash cache): `CM_CACHE_DIR`, else the user's cache
    /// folder + `cm`.
    pub cache_dir: Option<PathBuf>,
}

impl Config {
    /// Validates the global flags and reads the environment.
    pub(crate) fn from_cli(args: &GlobalArgs) -> Result<Config, Error> {
        let grammar = Grammar::new(&args.token_separator, &args.key_separator)
            .map_err(UsageError::Grammar)?;
        let seconds = |flag: &'static str, value: f64| {
            if value.is_finite() && value > 0.0 && value < 1e9 {
                Ok(Duration::from_secs_f64(value))
            } else {
                Err(UsageError::Seconds { flag, value })
            }
        };
        let max = cm_plugin_sdk::protocol::MAX_CONCURRENT_CALLS as usize;
        if !(1..=max).contains(&args.concurrency) {
            return Err(UsageError::Concurrency {
                max,
                got: args.concurrency,
            }
            .into());
        }
        let host = HostOptions {
            start_timeout: seconds("--plugin-start-timeout", args.plugin_start_timeout)?,
            calls: CallLimits {
                concurrency: args.concurrency,
                timeout: seconds("--timeout", args.timeout)?,
            },
            grace: Duration::from_secs(2),
            mtls: crate::plugin::MtlsPolicy::from_flag(args.plugin_mtls),
        };
        let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let cwd = std::env::current_dir().map_err(UsageError::CurrentDir)?;
        let configmanager_dir = get("CONFIGMANAGER_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from);
        let home = dirs::home_dir();
        let search = SearchPath::new(configmanager_dir.clone(), Some(cwd.clone()), home.clone());
        let local_base = configmanager_dir.unwrap_or_else(|| cwd.clone());
        let filter = [get("CONFIGMANAGER_LOG"), get("RUST_LOG")]
            .into_iter()
            .flatten()
            .filter_map(|v| v.into_string().ok())
            .find(|v| !v.is_empty());
        let cache_dir = get("CM_CACHE_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|d| d.join("cm")));
        let no_color = get("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = !no_color && std::io::IsTerminal::is_terminal(&std::io::stderr());
        Ok(Config {
            grammar,
            envsubst: args.enable_envsubst,
            lax: args.lax,
            host,
            search,
            cwd,
            env,
            log: LogConfig {
                verbosity: args.verbose,
                filter,
                color,
            },
            require_lock: args.require_lock,
            local_base,
            home,
            cache_dir,
        })
    }

    /// The value of an environment variable as cm started with it.
    pub(crate) fn env_var(&self, name: &str) -> Option<String> {
        self.env
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.clone().into_string().ok())
    }
}
