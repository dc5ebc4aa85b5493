//! cm's plugin client against the SDK's server, in one process, over real sockets: every
//! transport, with and without AutoMTLS. (As separate processes, and against Go: `tests/`.)

use std::time::Duration;

use cm_plugin_sdk::handshake::{self, Address};
use cm_plugin_sdk::protocol::COOKIE_VALUE_ALT;
use cm_plugin_sdk::tls::{self, Identity};
use cm_plugin_sdk::wire::go_plugin;
use cm_plugin_sdk::{ServeError, ServeOptions, StoreError, TokenStore, Transport, serve_with};

use super::client::{CallLimits, PluginClient, connect};

struct Echo;

impl TokenStore for Echo {
    async fn value(&self, token: &str, metadata: &[u8]) -> Result<String, StoreError> {
        if token == "err" {
            return Err(StoreError::new("no such item"));
        }
        Ok(format!("{token}->{}", String::from_utf8_lossy(metadata)))
    }
}

/// Starts `serve_with` in this process; returns its task and its handshake line.
async fn start_sdk(
    opts: ServeOptions,
) -> (tokio::task::JoinHandle<Result<(), ServeError>>, String) {
    let (line_tx, line_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    struct Out(std::sync::mpsc::Sender<Vec<u8>>, Vec<u8>);
    impl std::io::Write for Out {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.1.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            let _ = self.0.send(std::mem::take(&mut self.1));
            Ok(())
        }
    }
    let server = tokio::spawn(serve_with(Echo, opts, Out(line_tx, Vec::new())));
    let line = tokio::task::spawn_blocking(move || line_rx.recv().unwrap())
        .await
        .unwrap();
    (server, String::from_utf8(line).unwrap())
}

fn options(dir: &std::path::Path, transport: Transport, cert: Option<&Identity>) -> ServeOptions {
    let options = ServeOptions::default()
        .cookie(COOKIE_VALUE_ALT)
        .host_versions("1")
        .socket_dir(dir)
        .transport(transport);
    match cert {
        Some(cert) => options.client_cert_pem(cert.cert_pem()),
        None => options,
    }
}

/// The SDK and the host's client against each other in one process, over a real socket,
/// on every transport, with and without AutoMTLS.
#[tokio::test]
async fn host_client_talks_to_sdk_server() {
    for transport in [Transport::Unix, Transport::Tcp] {
        for mtls in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let host = Identity::generate().unwrap();
            let opts =
                options(dir.path(), transport, mtls.then_some(&host)).multiplex_requested(!mtls);
            let (server, line) = start_sdk(opts).await;
            let hs = handshake::parse(&line, &[1]).unwrap();
            match (&hs.address, transport) {
                (Address::Unix(_), Transport::Unix) => {}
                (Address::Tcp(a), Transport::Tcp) => assert!(a.ip().is_loopback()),
                other => panic!("{other:?}"),
            }
            let tls = if mtls {
                assert!(line.starts_with("1|1|") && !line.contains('='), "{line}");
                let cert = hs.server_cert.as_deref().expect("a certificate in field 6");
                Some(tls::client_config(&host, cert).unwrap())
            } else {
                assert!(line.ends_with("|grpc||false\n"), "{line}");
                assert_eq!(hs.multiplex, Some(false));
                None
            };
            let channel = connect(&hs.address, Duration::from_secs(5), tls)
                .await
                .unwrap();
            let client = PluginClient::new(
                "ECHO",
                channel,
                CallLimits {
                    concurrency: 4,
                    timeout: Duration::from_secs(5),
                },
            );
            assert_eq!(
                client.value("/a", b"v=1").await.unwrap().expose(),
                b"/a->v=1"
            );
            assert_eq!(
                client.value("err", b"").await.unwrap_err().to_string(),
                "no such item"
            );
            client.shutdown(Duration::from_secs(2)).await;
            tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .expect("server stops on Shutdown")
                .unwrap()
                .unwrap();
            if let Address::Unix(path) = &hs.address {
                assert!(!path.exists(), "socket removed on exit");
            }
        }
    }
}

/// A client presenting another certificate than `PLUGIN_CLIENT_CERT`, or none, gets nothing.
#[tokio::test]
async fn sdk_refuses_a_client_with_the_wrong_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let host = Identity::generate().unwrap();
    let (server, line) = start_sdk(options(dir.path(), Transport::Tcp, Some(&host))).await;
    let hs = handshake::parse(&line, &[1]).unwrap();
    let plugin_cert = hs.server_cert.clone().unwrap();
    let intruder = Identity::generate().unwrap();
    let wrong = tls::client_config(&intruder, &plugin_cert).unwrap();
    let health = |channel| tonic_health::pb::health_client::HealthClient::new(channel);
    let request = || tonic_health::pb::HealthCheckRequest {
        service: "plugin".into(),
    };
    // Under TLS 1.3 the client may finish its handshake before the server refuses it, so the
    // refusal shows on connect or on the first call.
    if let Ok(channel) = connect(&hs.address, Duration::from_secs(5), Some(wrong)).await {
        health(channel).check(request()).await.unwrap_err();
    }
    // The right certificate still works, so the plugin survived the attempt.
    let right = tls::client_config(&host, &plugin_cert).unwrap();
    let channel = connect(&hs.address, Duration::from_secs(5), Some(right))
        .await
        .unwrap();
    let status = health(channel.clone()).check(request()).await.unwrap();
    assert_eq!(status.into_inner().status, 1, "SERVING");
    go_plugin::grpc_controller_client::GrpcControllerClient::new(channel)
        .shutdown(go_plugin::Empty {})
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
