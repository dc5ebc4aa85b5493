//! Built-in providers that need no plugin, so cm does useful work on a machine with no cloud
//! account: `ENV://NAME` (an environment variable) and `FILE://path` (a file's contents, relative
//! to the current directory). A plugin of the same name on disk takes precedence.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use crate::Secret;
use crate::provider::{BoxFuture, Provider, ProviderError};

/// The prefixes served in-process.
pub(crate) const BUILTIN_PREFIXES: [&str; 2] = ["ENV", "FILE"];

/// The built-in providers, by prefix: `ENV://` over the environment `cm` started with, and
/// `FILE://` relative to `cwd`.
pub(crate) fn builtins(
    env: &[(OsString, OsString)],
    cwd: &std::path::Path,
) -> [(String, Arc<dyn Provider>); 2] {
    [
        (
            BUILTIN_PREFIXES[0].to_string(),
            Arc::new(EnvProvider::new(env.iter().cloned())),
        ),
        (
            BUILTIN_PREFIXES[1].to_string(),
            Arc::new(FileProvider::new(cwd.to_path_buf())),
        ),
    ]
}

/// `ENV://NAME`: the value of an environment variable, from a snapshot taken at start-up.
#[derive(Debug, Clone, Default)]
pub(crate) struct EnvProvider {
    vars: HashMap<OsString, OsString>,
}

impl EnvProvider {
    /// Serves the given variables.
    pub(crate) fn new(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Self {
        EnvProvider {
            vars: vars.into_iter().collect(),
        }
    }
}

impl Provider for EnvProvider {
    fn fetch<'a>(
        &'a self,
        path: &'a str,
        _metadata: &'a [u8],
    ) -> BoxFuture<'a, Result<Secret, ProviderError>> {
        Box::pin(async move {
            match self.vars.get(std::ffi::OsStr::new(path)) {
                #[cfg(unix)]
                Some(v) => Ok(Secret::new(
                    std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str()).to_vec(),
                )),
                #[cfg(not(unix))]
                Some(v) => Ok(Secret::new(v.to_string_lossy().into_owned())),
                None => Err(ProviderError::EnvUnset(path.to_string())),
            }
        })
    }
}

/// `FILE://path`: a file's whole contents; relative paths start at `base`.
#[derive(Debug, Clone)]
pub(crate) struct FileProvider {
    base: PathBuf,
}

impl FileProvider {
    /// Reads files relative to `base` (the current directory).
    pub(crate) fn new(base: PathBuf) -> Self {
        FileProvider { base }
    }
}

impl Provider for FileProvider {
    fn fetch<'a>(
        &'a self,
        path: &'a str,
        _metadata: &'a [u8],
    ) -> BoxFuture<'a, Result<Secret, ProviderError>> {
        Box::pin(async move {
            let full = self.base.join(path);
            tokio::fs::read(&full).await.map(Secret::new).map_err(|e| {
                ProviderError::FileUnreadable {
                    path: full.clone(),
                    reason: e.to_string(),
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn env_provider() {
        let p = EnvProvider::new([(OsString::from("A"), OsString::from("1"))]);
        assert_eq!(p.fetch("A", b"").await.unwrap().expose(), b"1");
        assert_eq!(
            p.fetch("B", b"").await.unwrap_err().to_string(),
            "environment variable B is not set"
        );
    }

    #[tokio::test]
    async fn file_provider_reads_bytes_relative_to_base() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.bin"), b"\xff\x00ok").unwrap();
        let p = FileProvider::new(dir.path().to_path_buf());
        assert_eq!(p.fetch("s.bin", b"").await.unwrap().expose(), b"\xff\x00ok");
        assert_eq!(
            p.fetch("./s.bin", b"").await.unwrap().expose(),
            b"\xff\x00ok"
        );
        let e = p.fetch("missing", b"").await.unwrap_err().to_string();
        assert!(
            e.starts_with("cannot read file ") && e.contains("missing"),
            "{e}"
        );
    }
}
