//! Who a plugin is, and `--version`: configmanager's plugins since v3.0.0 answer
//! `plugin --version` with one line and exit, so scripts and `cm plugin list` users can tell
//! which build is installed without starting it as a plugin.

use std::ffi::OsString;

/// A plugin's name and version, for `--version`. Build it with [`plugin_info!`](crate::plugin_info),
/// which takes the version from the plugin's own `Cargo.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginInfo {
    name: &'static str,
    version: &'static str,
    revision: Option<&'static str>,
}

impl PluginInfo {
    /// `name` is the plugin's prefix or product name (`VAULT`), `version` its release.
    pub const fn new(name: &'static str, version: &'static str) -> Self {
        PluginInfo {
            name,
            version,
            revision: None,
        }
    }

    /// The source revision the binary was built from, appended to the version as configmanager
    /// appends its Git revision (`0.1.0-1111aaaa`).
    pub const fn revision(mut self, revision: &'static str) -> Self {
        self.revision = Some(revision);
        self
    }

    /// The line `--version` prints, in configmanager's words:
    /// `Configmanager Plugin (VAULT) Version: 0.1.0`.
    pub fn version_line(&self) -> String {
        let PluginInfo {
            name,
            version,
            revision,
        } = self;
        match revision {
            Some(r) => format!("Configmanager Plugin ({name}) Version: {version}-{r}"),
            None => format!("Configmanager Plugin ({name}) Version: {version}"),
        }
    }
}

/// The [`PluginInfo`] of the crate that calls it: `plugin_info!("VAULT")` is `VAULT` at the
/// calling crate's `CARGO_PKG_VERSION`.
#[macro_export]
macro_rules! plugin_info {
    ($name:expr) => {
        $crate::PluginInfo::new($name, env!("CARGO_PKG_VERSION"))
    };
}

/// Whether the command line asks for the version, read as Go's `flag` package reads the one
/// flag configmanager's plugins define: `-version` or `--version`, optionally `=BOOL`. Parsing
/// stops at the first argument that is not a flag; an unknown flag or a bad boolean means "no"
/// (the Go plugins then go on to serve, and so does this).
pub(crate) fn asks_for_version(args: impl IntoIterator<Item = OsString>) -> bool {
    let mut asked = false;
    for arg in args {
        let Some(arg) = arg.to_str() else {
            return false;
        };
        if arg == "--" || arg == "-" || !arg.starts_with('-') {
            break;
        }
        let flag = arg.strip_prefix("--").unwrap_or(&arg[1..]);
        let (name, value) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (flag, None),
        };
        if name != "version" {
            return false;
        }
        asked = match value.map(go_bool) {
            None => true,
            Some(Some(b)) => b,
            Some(None) => return false,
        };
    }
    asked
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asks(args: &[&str]) -> bool {
        asks_for_version(args.iter().map(OsString::from))
    }

    #[test]
    fn version_flags_are_read_as_go_flag_reads_them() {
        for yes in [
            &["--version"][..],
            &["-version"],
            &["-version=true"],
            &["--version=1"],
            &["-version=false", "-version"],
            &["-version", "serve", "-other"],
        ] {
            assert!(asks(yes), "{yes:?}");
        }
        for no in [
            &[][..],
            &["serve"],
            &["serve", "--version"],
            &["--", "--version"],
            &["-version=nope"],
            &["-version=false"],
            &["--help"],
            &["-v"],
            &["--version", "--verbose"],
            &["---version"],
        ] {
            assert!(!asks(no), "{no:?}");
        }
    }

    #[test]
    fn the_version_line_is_configmanagers() {
        let info = PluginInfo::new("VAULT", "1.2.3");
        assert_eq!(
            info.version_line(),
            "Configmanager Plugin (VAULT) Version: 1.2.3"
        );
        assert_eq!(
            info.revision("1111aaaa").version_line(),
            "Configmanager Plugin (VAULT) Version: 1.2.3-1111aaaa"
        );
        assert_eq!(
            plugin_info!("X"),
            PluginInfo::new("X", env!("CARGO_PKG_VERSION"))
        );
    }
}
