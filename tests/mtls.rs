//! go-plugin AutoMTLS between cm and SDK plugins: off on Unix sockets unless `--plugin-mtls`,
//! always on TCP, never a silent downgrade, and an SDK plugin refuses a client that presents
//! another certificate than the one its host gave it. (mTLS against Go: `interop.rs`.)

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use cm::internals::plugin::{CallLimits, PluginClient, connect};
use cm_plugin_sdk::handshake::{self, Address};
use cm_plugin_sdk::tls::{self, Identity};

use crate::support::project;

// The -vv log lines these tests read carry socket paths, ports, pids and durations, so they
// look for the lines that matter (`stderr_contains`) instead of comparing the whole log.

#[test]
fn unix_plugins_get_mtls_only_on_request() {
    let p = project();
    p.install("echo");
    let out = p
        .cm()
        .args(["-vv", "insert"])
        .stdin("ECHO://a")
        .stdout("a->")
        .stderr_contains("tls=false")
        .success();
    assert!(
        !out.stderr.contains("plugin connection uses mTLS"),
        "{}",
        out.stderr
    );

    p.cm()
        .args(["-vv", "--plugin-mtls", "insert"])
        .stdin("ECHO://a")
        .stdout("a->")
        .stderr_contains("plugin handshake plugin=ECHO address=unix:")
        .stderr_contains("tls=true")
        .stderr_contains("plugin connection uses mTLS")
        .stderr_contains("alpn=Some(\"h2\")")
        .success();
}

#[test]
fn tcp_plugins_get_mtls_by_default() {
    let p = project();
    p.install("echo");
    p.cm()
        .env("CM_PLUGIN_TRANSPORT", "tcp")
        .args(["-vv", "insert"])
        .stdin("ECHO://a ECHO://b")
        .stdout("a-> b->")
        .stderr_contains("address=tcp:127.0.0.1:")
        .stderr_contains("plugin listens on TCP; restarting it with AutoMTLS")
        .stderr_contains("plugin connection uses mTLS")
        .success();
    assert_eq!(p.call_count(), 2);

    // With --plugin-mtls the certificate is offered up front: no restart.
    let out = p
        .cm()
        .env("CM_PLUGIN_TRANSPORT", "tcp")
        .args(["-vv", "--plugin-mtls", "insert"])
        .stdin("ECHO://c")
        .stdout("c->")
        .stderr_contains("plugin connection uses mTLS")
        .success();
    assert!(!out.stderr.contains("restarting"), "{}", out.stderr);
}

#[test]
fn cm_never_falls_back_to_plaintext() {
    let p = project();
    // A plugin that ignores PLUGIN_CLIENT_CERT.
    p.install("notls");
    let path = p.plugin_file("notls").display().to_string();
    p.cm()
        .arg("insert")
        .stdin("NOTLS://a")
        .stdout("a->")
        .success();
    p.cm()
        .args(["--plugin-mtls", "insert"])
        .stdin("NOTLS://a")
        .stderr(format!(
            "cm: providers not initialised, plugin NOTLS ({path}): the plugin ignored go-plugin AutoMTLS (--plugin-mtls): its handshake line carries no certificate, and cm does not fall back to plaintext\n"
        ))
        .failure(3);
    p.cm()
        .env("CM_PLUGIN_TRANSPORT", "tcp")
        .arg("insert")
        .stdin("NOTLS://a")
        // The message names the plugin's port, which the kernel picked.
        .stderr_contains(format!(
            "cm: providers not initialised, plugin NOTLS ({path}): the plugin listens on TCP (127.0.0.1:"
        ))
        .stderr_contains(
            ") without TLS although cm asked for go-plugin AutoMTLS; cm refuses plaintext TCP, which any local user could connect to\n",
        )
        .failure(3);
    assert_eq!(p.call_count(), 1);
}

/// Kills the plugin if the test fails half-way.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sdk_plugin_refuses_a_client_with_the_wrong_certificate() {
    let p = project();
    let plugin = p.install("echo");
    let host = Identity::generate().unwrap();
    let mut child = Child(
        Command::new(&plugin)
            .env("CONFIGMANAGER_PLUGIN", "hello")
            .env("PLUGIN_PROTOCOL_VERSIONS", "1")
            .env("PLUGIN_MIN_PORT", "10000")
            .env("PLUGIN_MAX_PORT", "25000")
            .env("PLUGIN_CLIENT_CERT", host.cert_pem())
            .env("CM_PLUGIN_TRANSPORT", "tcp")
            .env("CM_TEST_CALL_LOG", p.path("calls.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(p.path("stderr.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let hs = handshake::parse(&line, &[1]).unwrap();
    assert!(matches!(hs.address, Address::Tcp(_)), "{line}");
    let plugin_cert = hs.server_cert.clone().expect("a certificate in field 6");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let limits = CallLimits {
            concurrency: 1,
            timeout: Duration::from_secs(5),
        };
        // Someone who read the handshake line (or scanned the port) and presents their own
        // certificate.
        let intruder = Identity::generate().unwrap();
        let wrong = tls::client_config(&intruder, &plugin_cert).unwrap();
        // TLS 1.3 lets the client finish its side before the server refuses the certificate,
        // so the refusal shows on connect or on the first call.
        if let Ok(channel) = connect(&hs.address, Duration::from_secs(5), Some(wrong)).await {
            let client = PluginClient::new("ECHO", channel, limits);
            let e = client.value("stolen", b"").await.unwrap_err();
            assert!(e.to_string().contains("closed the connection"), "{e:?}");
        }
        // No TLS at all.
        if let Ok(channel) = connect(&hs.address, Duration::from_secs(5), None).await {
            let client = PluginClient::new("ECHO", channel, limits);
            client.value("plain", b"").await.unwrap_err();
        }

        // The host's own certificate works, and the plugin survived the attempts.
        let right = tls::client_config(&host, &plugin_cert).unwrap();
        let channel = connect(&hs.address, Duration::from_secs(5), Some(right))
            .await
            .unwrap();
        let client = PluginClient::new("ECHO", channel, limits);
        assert_eq!(client.value("ok", b"m").await.unwrap().expose(), b"ok->m");
        client.shutdown(Duration::from_secs(2)).await;
    });
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status}");
    let calls: Vec<_> = p.calls().into_iter().map(|(_, path)| path).collect();
    assert_eq!(calls, ["ok", "ok"], "only the host's call got through");
    let stderr = String::from_utf8_lossy(&p.read("stderr.log")).into_owned();
    assert!(
        stderr.contains("refused a connection: TLS handshake failed"),
        "{stderr}"
    );
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
}
