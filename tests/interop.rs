//! Interop with real go-plugin code, both ways: cm loads a plugin written in Go, and a Go host
//! (go-plugin's own client) loads a plugin written with cm's Rust SDK. Built from Debian's Go
//! packages by `tests/go/build.sh`; skipped with a note where Go is missing, failing under CI.

use std::process::Command;

use crate::support::{Bench, TEST_PLUGIN, go_fixtures};

#[test]
fn cm_resolves_through_a_go_plugin() {
    let Some((go_plugin, _)) = go_fixtures() else {
        return;
    };
    let b = Bench::new();
    b.install_binary("gotest", go_plugin);
    let r = b.run_cmd(
        b.cm().env("CM_GO_PLUGIN_CALL_LOG", b.path("go-calls.log")).args(["-vv", "insert"]),
        b"a=GOTEST:///app/a[version=2] u=GOTEST://json/x|user p=GOTEST://json/x|port h=GOTEST://json/x|nested.k\n",
    );
    r.success()
        .stdout_is("a=/app/a->version=2 u=go-user p=5432 h=v\n");
    // The Go plugin's hclog line, forwarded under the plugin's name.
    r.stderr_has("go fixture plugin starting");
    let calls = std::fs::read_to_string(b.path("go-calls.log")).unwrap();
    assert_eq!(calls.lines().count(), 2, "{calls}");
}

#[test]
fn go_plugin_errors_use_configmanager_wording() {
    let Some((go_plugin, _)) = go_fixtures() else {
        return;
    };
    let b = Bench::new();
    b.install_binary("gotest", go_plugin);
    b.run(&["insert"], b"GOTEST://err")
        .failure(1)
        .stderr_has("failed to retrieve config item - (GOTEST://err), implementation GOTEST error: simulated failure for token: err");
}

#[test]
fn go_host_loads_a_rust_sdk_plugin() {
    let Some((_, go_host)) = go_fixtures() else {
        return;
    };
    let b = Bench::new();
    let plugin = b.install("echo");
    let out = Command::new(go_host)
        .env("GOHOST_LOG_LEVEL", "off")
        .arg(&plugin)
        .arg("/app/x")
        .arg("version=3")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/app/x->version=3\n");

    let out = Command::new(go_host)
        .env("GOHOST_LOG_LEVEL", "off")
        .arg(&plugin)
        .arg("err")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("implementation ECHO error: simulated failure for token: err"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Many concurrent calls over one connection.
    let out = Command::new(go_host)
        .env("GOHOST_LOG_LEVEL", "off")
        .args(["-n", "200"])
        .arg(&plugin)
        .arg("/y")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| *l == "/y->")
            .count(),
        200
    );
    b.assert_no_plugins_left();
}

#[test]
fn go_host_with_a_wrong_cookie_is_refused_by_the_sdk() {
    let Some((_, go_host)) = go_fixtures() else {
        return;
    };
    let out = Command::new(go_host)
        .env("GOHOST_LOG_LEVEL", "off")
        .env("GOHOST_COOKIE_VALUE", "wrong")
        .arg(TEST_PLUGIN)
        .arg("/x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn cm_resolves_through_a_go_plugin_with_mtls() {
    let Some((go_plugin, _)) = go_fixtures() else {
        return;
    };
    let b = Bench::new();
    b.install_binary("gotest", go_plugin);
    let r = b.run(
        &["-vv", "--plugin-mtls", "insert"],
        b"a=GOTEST:///app/a[version=2] u=GOTEST://json/x|user\n",
    );
    r.success()
        .stdout_is("a=/app/a->version=2 u=go-user\n")
        // go-plugin's own log line: it got PLUGIN_CLIENT_CERT and serves TLS.
        .stderr_has("configuring server automatic mTLS")
        // Its handshake line carried a certificate, which cm pinned.
        .stderr_has("plugin handshake plugin=GOTEST")
        .stderr_has("tls=true")
        .stderr_has("plugin connection uses mTLS")
        .stderr_has("alpn=Some(\"h2\")");
    assert!(!r.stderr.contains("tls=false"), "{}", r.stderr);

    // Without the flag, a Go plugin on its Unix socket is spoken to in plaintext.
    let r = b.run(&["-vv", "insert"], b"GOTEST://x");
    r.success().stdout_is("x->").stderr_has("tls=false");
    assert!(!r.stderr.contains("automatic mTLS"), "{}", r.stderr);
}

#[test]
fn go_host_with_mtls_loads_a_rust_sdk_plugin() {
    let Some((_, go_host)) = go_fixtures() else {
        return;
    };
    let b = Bench::new();
    let plugin = b.install("echo");
    for transport in ["unix", "tcp"] {
        for mtls in [true, false] {
            let mut cmd = Command::new(go_host);
            // RUST_LOG reaches the SDK plugin, whose "plugin address" line is at debug level.
            cmd.env("GOHOST_LOG_LEVEL", "debug")
                .env("RUST_LOG", "debug")
                .env("CM_PLUGIN_TRANSPORT", transport);
            if mtls {
                cmd.arg("-mtls");
            }
            let out = cmd
                .args(["-n", "20"])
                .arg(&plugin)
                .arg("/app/x")
                .arg("v=1")
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{transport} mtls={mtls}: {stderr}");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "/app/x->v=1\n".repeat(20),
                "{stderr}"
            );
            // The SDK's "plugin address" log line, re-logged by the Go host.
            assert!(stderr.contains(&format!("network={transport}")), "{stderr}");
            assert!(stderr.contains(&format!("tls={mtls}")), "{stderr}");
            assert_eq!(
                stderr.contains("configuring client automatic mTLS"),
                mtls,
                "{stderr}"
            );
        }
    }
    b.assert_no_plugins_left();
}
