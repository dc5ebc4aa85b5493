//! A token as the secret version it names. Pure: no I/O.

use cm_plugin_common::metadata::Metadata;

/// The version read when the token's metadata names none, as in configmanager.
pub const LATEST: &str = "latest";

/// `projects/PROJECT/secrets/SECRET/versions/VERSION`, the name AccessSecretVersion takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionName {
    /// Project id or number.
    pub project: String,
    /// Secret id.
    pub secret: String,
    /// Version number, alias, or `latest`.
    pub version: String,
}

const SHAPE: &str =
    "the token must be projects/PROJECT/secrets/SECRET (the version goes in metadata: [version=2])";

impl VersionName {
    /// The version a token (`projects/P/secrets/S`, optionally with a leading `/`) and its
    /// metadata (`version=V`) name. Other metadata keys are ignored, as in configmanager.
    pub fn from_token(token: &str, metadata: &[u8]) -> Result<VersionName, String> {
        let metadata = Metadata::for_token(token, metadata, "secret name", &["version"])?;
        let path = token.strip_prefix('/').unwrap_or(token);
        let parts: Vec<&str> = path.split('/').collect();
        let ["projects", project, "secrets", secret] = parts[..] else {
            return Err(SHAPE.into());
        };
        if project.is_empty() || secret.is_empty() {
            return Err(SHAPE.into());
        }
        let version = metadata.get("version").unwrap_or(LATEST);
        // A `/` would make the name another resource's; the service judges everything else.
        if version.contains('/') {
            return Err(format!(
                "metadata version {version:?} is not a version number or alias"
            ));
        }
        Ok(VersionName {
            project: project.to_string(),
            secret: secret.to_string(),
            version: version.to_string(),
        })
    }
}

impl std::fmt::Display for VersionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "projects/{}/secrets/{}/versions/{}",
            self.project, self.secret, self.version
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(token: &str, metadata: &str) -> Result<String, String> {
        VersionName::from_token(token, metadata.as_bytes()).map(|n| n.to_string())
    }

    #[test]
    fn latest_unless_the_metadata_names_a_version() {
        assert_eq!(
            name("projects/p/secrets/db", ""),
            Ok("projects/p/secrets/db/versions/latest".into())
        );
        assert_eq!(
            name("/projects/123/secrets/db", "version=3"),
            Ok("projects/123/secrets/db/versions/3".into())
        );
        assert_eq!(
            name("projects/p/secrets/db", "version=prod, label=x"),
            Ok("projects/p/secrets/db/versions/prod".into()),
            "an alias is passed on; unknown keys are ignored"
        );
        assert_eq!(
            name("projects/p/secrets/db", "version="),
            Ok("projects/p/secrets/db/versions/latest".into()),
            "an empty version counts as none"
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_expected_shape() {
        for bad in [
            "p/secrets/db",
            "projects/p/secrets",
            "projects/p/secrets/",
            "projects//secrets/db",
            "projects/p/secrets/db/versions/1",
            "projects/p/locations/l/secrets/db",
            "project/p/secrets/db",
            "//projects/p/secrets/db",
        ] {
            assert_eq!(name(bad, ""), Err(SHAPE.into()), "{bad}");
        }
        assert_eq!(name("", ""), Err("the secret name is empty".into()));
        assert_eq!(
            name("projects/p/secrets/db", "version=1/x"),
            Err("metadata version \"1/x\" is not a version number or alias".into())
        );
        assert_eq!(
            name("projects/p/secrets/db", "oops"),
            Err("metadata \"oops\" is not a key=value pair".into())
        );
    }
}
