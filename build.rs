//! `cm --version` shows the git revision it was built from, when built from a checkout. (The
//! protocol definitions are compiled by the plugin SDK's own build script, in `sdk/`.)

fn main() {
    git_revision();
}

/// Sets `CM_GIT_REVISION` to the short hash of HEAD, or `unknown` outside a checkout.
fn git_revision() {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let rev = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=CM_GIT_REVISION={rev}");
    // Rebuild when HEAD moves: watch HEAD, the branch it points to and packed-refs. Ask git
    // where they live, since in a linked worktree `.git` is a file and they are elsewhere.
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watch.extend(
        git(&["rev-parse", "--symbolic-full-name", "HEAD"]).filter(|r| r.starts_with("refs/")),
    );
    for p in watch {
        if let Some(path) = git(&["rev-parse", "--git-path", &p])
            .map(std::path::PathBuf::from)
            .filter(|p| p.exists())
        {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
