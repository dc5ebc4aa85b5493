//! Interop with real go-plugin code, both ways: cm loads a plugin written in Go, and a Go host
//! (go-plugin's own client) loads a plugin written with cm's Rust SDK. Built from Debian's Go
//! packages by `tests/go/build.sh`; where Go is missing the tests are skipped, which the test
//! run reports at its end (and fails under `CI=true`).

use std::process::Command;

use crate::support::{TEST_PLUGIN, assert_answers_version, go_fixtures, project};

#[test]
fn cm_resolves_through_a_go_plugin() {
    let Some((go_plugin, _)) = go_fixtures() else {
        return;
    };
    let p = project();
    p.install_binary("gotest", go_plugin);
    p.cm()
        .env("CM_GO_PLUGIN_CALL_LOG", p.path("go-calls.log"))
        .args(["-vv", "insert"])
        .stdin("a=GOTEST:///app/a[version=2] u=GOTEST://json/x|user p=GOTEST://json/x|port h=GOTEST://json/x|nested.k\n")
        .stdout("a=/app/a->version=2 u=go-user p=5432 h=v\n")
        // -vv log lines carry socket paths, pids and durations. The Go plugin's hclog line,
        // forwarded under the plugin's name:
        .stderr_contains("go fixture plugin starting")
        .success();
    let calls = std::fs::read_to_string(p.path("go-calls.log")).unwrap();
    assert_eq!(calls.lines().count(), 2, "{calls}");
}

#[test]
fn go_plugin_errors_use_configmanager_wording() {
    let Some((go_plugin, _)) = go_fixtures() else {
        return;
    };
    let p = project();
    p.install_binary("gotest", go_plugin);
    p.cm()
        .arg("insert")
        .stdin("GOTEST://err")
        .stderr(
            "cm: <stdin>:1:1: failed to retrieve config item - (GOTEST://err), implementation GOTEST error: simulated failure for token: err\n\
             token not found: 1 of 1 token(s) could not be resolved\n",
        )
        .failure(1);
}

#[test]
fn go_host_loads_a_rust_sdk_plugin() {
    let Some((_, go_host)) = go_fixtures() else {
        return;
    };
    let p = project();
    let plugin = p.install("echo");
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
    p.assert_no_plugins_left();
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
    let p = project();
    p.install_binary("gotest", go_plugin);
    // -vv log lines carry socket paths, pids and durations: the lines that matter are looked
    // for.
    let out = p
        .cm()
        .args(["-vv", "--plugin-mtls", "insert"])
        .stdin("a=GOTEST:///app/a[version=2] u=GOTEST://json/x|user\n")
        .stdout("a=/app/a->version=2 u=go-user\n")
        // go-plugin's own log line: it got PLUGIN_CLIENT_CERT and serves TLS.
        .stderr_contains("configuring server automatic mTLS")
        // Its handshake line carried a certificate, which cm pinned.
        .stderr_contains("plugin handshake plugin=GOTEST")
        .stderr_contains("tls=true")
        .stderr_contains("plugin connection uses mTLS")
        .stderr_contains("alpn=Some(\"h2\")")
        .success();
    assert!(!out.stderr.contains("tls=false"), "{}", out.stderr);

    // Without the flag, a Go plugin on its Unix socket is spoken to in plaintext.
    let out = p
        .cm()
        .args(["-vv", "insert"])
        .stdin("GOTEST://x")
        .stdout("x->")
        .stderr_contains("tls=false")
        .success();
    assert!(!out.stderr.contains("automatic mTLS"), "{}", out.stderr);
}

/// configmanager's plugins take their log level from `CONFIGMANAGER_LOG`; SDK plugins do too,
/// before `RUST_LOG`. The SDK's "plugin address" line is at debug level; the Go host re-logs
/// whatever the plugin writes.
#[test]
fn sdk_plugins_read_configmanager_log_before_rust_log() {
    let Some((_, go_host)) = go_fixtures() else {
        return;
    };
    let p = project();
    let plugin = p.install("echo");
    for (configmanager_log, rust_log, logged) in [
        (Some("debug"), Some("error"), true),
        (Some("DEBUG"), None, true),
        (Some("error"), Some("debug"), false),
        (Some("loud"), Some("debug"), true),
        (None, Some("debug"), true),
        (None, None, false),
    ] {
        let mut cmd = Command::new(go_host);
        cmd.env("GOHOST_LOG_LEVEL", "trace")
            .env_remove("CONFIGMANAGER_LOG")
            .env_remove("RUST_LOG");
        if let Some(v) = configmanager_log {
            cmd.env("CONFIGMANAGER_LOG", v);
        }
        if let Some(v) = rust_log {
            cmd.env("RUST_LOG", v);
        }
        let out = cmd.arg(&plugin).arg("/app/x").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(
            stderr.contains("plugin address"),
            logged,
            "CONFIGMANAGER_LOG={configmanager_log:?} RUST_LOG={rust_log:?}:\n{stderr}"
        );
    }
    p.assert_no_plugins_left();
}

#[test]
fn sdk_plugins_answer_version() {
    assert_answers_version(
        std::path::Path::new(TEST_PLUGIN),
        "cm-test-plugin",
        env!("CARGO_PKG_VERSION"),
    );
}

#[test]
fn go_host_with_mtls_loads_a_rust_sdk_plugin() {
    let Some((_, go_host)) = go_fixtures() else {
        return;
    };
    let p = project();
    let plugin = p.install("echo");
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
    p.assert_no_plugins_left();
}
