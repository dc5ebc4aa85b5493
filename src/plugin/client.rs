//! The gRPC side of one started plugin: dial its socket, keep go-plugin's stdio and broker
//! streams serviced, call `Value` with a bound on concurrent calls and a per-call timeout, and ask
//! it to shut down. This is the only place a `tonic::Status` becomes a `ProviderError`.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint, Uri};

use cm_plugin_sdk::handshake::Address;
use cm_plugin_sdk::protocol::{MAX_MESSAGE_BYTES, MAX_VALUE_BYTES};
use cm_plugin_sdk::tls;
use cm_plugin_sdk::wire::{go_plugin, proto};

use crate::Secret;
use crate::provider::{ProviderError, Refusal};

/// Limits for calls to one plugin.
#[derive(Debug, Clone, Copy)]
pub struct CallLimits {
    /// Calls in flight at once.
    pub concurrency: usize,
    /// How long one `Value` call may take.
    pub timeout: Duration,
}

/// A connected plugin.
#[derive(Debug)]
pub struct PluginClient {
    name: String,
    channel: Channel,
    limits: CallLimits,
    permits: Arc<Semaphore>,
    // Dropping the sender ends our side of the broker stream.
    broker_tx: Option<mpsc::Sender<go_plugin::ConnInfo>>,
    tasks: Vec<JoinHandle<()>>,
}

/// A byte stream a connection can run over (Unix, TCP, either under TLS).
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// Dials the plugin at `address`: plaintext HTTP/2 when `tls` is `None` (a Unix socket in a
/// private 0700 folder), else over TLS with that configuration (AutoMTLS, see `cm_plugin_sdk::tls`).
pub async fn connect(
    address: &Address,
    timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<Channel, tonic::transport::Error> {
    // The URI is required by tonic but unused: the connector below decides where to dial. Go
    // hosts likewise dial the target "unused".
    let endpoint = Endpoint::from_static("http://localhost")
        .connect_timeout(timeout)
        .initial_stream_window_size(4 * 1024 * 1024)
        .initial_connection_window_size(16 * 1024 * 1024);
    let address = address.clone();
    endpoint
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let (address, tls) = (address.clone(), tls.clone());
            async move {
                let stream = dial(&address).await?;
                let stream: Box<dyn Io> = match tls {
                    Some(config) => Box::new(tls::connect(config, stream).await?),
                    None => stream,
                };
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await
}

/// Opens the byte stream to `address`.
async fn dial(address: &Address) -> std::io::Result<Box<dyn Io>> {
    match address {
        Address::Unix(path) => {
            #[cfg(unix)]
            {
                Ok(Box::new(tokio::net::UnixStream::connect(path).await?))
            }
            #[cfg(not(unix))]
            {
                let _ = path;
                Err(std::io::Error::other(
                    "unix sockets are not supported on this platform",
                ))
            }
        }
        Address::Tcp(addr) => {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream))
        }
    }
}

impl PluginClient {
    /// Wraps a connected channel and starts servicing go-plugin's side streams: the stdio stream
    /// must be drained (a Go plugin's writes block once it is full) and the broker stream held
    /// open for the plugin's lifetime, as Go hosts do.
    pub fn new(name: &str, channel: Channel, limits: CallLimits) -> PluginClient {
        let mut tasks = Vec::new();
        let stdio_name = name.to_string();
        let mut stdio = go_plugin::grpc_stdio_client::GrpcStdioClient::new(channel.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = match stdio.stream_stdio(()).await {
                Ok(s) => s.into_inner(),
                Err(status) => {
                    // v1.0.1 Go plugins and minimal non-Go plugins lack the service.
                    tracing::debug!(plugin = %stdio_name, code = ?status.code(), "plugin offers no stdio stream");
                    return;
                }
            };
            while let Ok(Some(chunk)) = stream.message().await {
                let channel = if chunk.channel == go_plugin::stdio_data::Channel::Stderr as i32 { "stderr" } else { "stdout" };
                tracing::debug!(target: "cm::plugin", plugin = %stdio_name, channel, "{}", String::from_utf8_lossy(&chunk.data).trim_end());
            }
        }));
        let (broker_tx, broker_rx) = mpsc::channel::<go_plugin::ConnInfo>(1);
        let mut broker = go_plugin::grpc_broker_client::GrpcBrokerClient::new(channel.clone());
        let broker_name = name.to_string();
        tasks.push(tokio::spawn(async move {
            let outbound = tokio_stream::wrappers::ReceiverStream::new(broker_rx);
            match broker.start_stream(outbound).await {
                Ok(resp) => {
                    let mut inbound = resp.into_inner();
                    while let Ok(Some(info)) = inbound.message().await {
                        // cm offers no callbacks; a plugin asking for one gets no answer.
                        tracing::debug!(plugin = %broker_name, service_id = info.service_id, "ignoring broker connection info");
                    }
                }
                Err(status) => tracing::debug!(plugin = %broker_name, code = ?status.code(), "plugin offers no broker"),
            }
        }));
        PluginClient {
            name: name.to_string(),
            channel,
            limits,
            permits: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            broker_tx: Some(broker_tx),
            tasks,
        }
    }

    /// Calls `/proto.TokenStore/Value`.
    pub async fn value(&self, token: &str, metadata: &[u8]) -> Result<Secret, ProviderError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ProviderError::Refused {
                plugin: self.name.clone(),
                why: Refusal::ShuttingDown,
            })?;
        let mut client = proto::token_store_client::TokenStoreClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let mut request = tonic::Request::new(proto::TokenValueRequest {
            token: token.to_string(),
            metadata: metadata.to_vec(),
        });
        // Sent as grpc-timeout, so the plugin can give up too.
        request.set_timeout(self.limits.timeout);
        match tokio::time::timeout(self.limits.timeout, client.value(request)).await {
            Err(_) => Err(ProviderError::Timeout {
                plugin: self.name.clone(),
                after: self.limits.timeout,
            }),
            Ok(Err(status)) => Err(status_to_error(&self.name, &status, self.limits.timeout)),
            Ok(Ok(response)) => Ok(Secret::from(response.into_inner().value)),
        }
    }

    /// Asks the plugin to exit (`GRPCController.Shutdown`), waiting at most `limit`. Errors are
    /// expected (a Go plugin closes the connection carrying the call) and ignored.
    pub async fn shutdown(mut self, limit: Duration) {
        self.broker_tx.take();
        for t in &self.tasks {
            t.abort();
        }
        let mut controller =
            go_plugin::grpc_controller_client::GrpcControllerClient::new(self.channel.clone());
        let _ = tokio::time::timeout(limit, controller.shutdown(go_plugin::Empty {})).await;
    }
}

impl Drop for PluginClient {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The one place a gRPC status becomes a [`ProviderError`]: it decides the kind (timeout,
/// crashed, refused, or the store's own error); `error.rs` words it. A plugin's own error (Go
/// plugins return plain errors, which arrive as `Unknown`) is passed on as the plugin wrote it.
fn status_to_error(plugin: &str, status: &tonic::Status, timeout: Duration) -> ProviderError {
    use tonic::Code;
    let message = status.message();
    let plugin = plugin.to_string();
    let timed_out = || ProviderError::Timeout {
        plugin: plugin.clone(),
        after: timeout,
    };
    // tonic's client-side deadline (from `set_timeout`).
    if status.code() == Code::Cancelled && message.contains("Timeout expired") {
        return timed_out();
    }
    // tonic reports its own transport failures (connection reset by a crashed plugin) as a
    // status with the underlying error as its source.
    if std::error::Error::source(status).is_some() {
        return ProviderError::Crashed {
            plugin,
            detail: message.to_string(),
        };
    }
    let refused = |why| ProviderError::Refused {
        plugin: plugin.clone(),
        why,
    };
    match status.code() {
        Code::Unknown
        | Code::NotFound
        | Code::InvalidArgument
        | Code::PermissionDenied
        | Code::FailedPrecondition
        | Code::Unauthenticated
        | Code::Internal
            if !message.is_empty() =>
        {
            ProviderError::Store(message.to_string())
        }
        Code::DeadlineExceeded => timed_out(),
        Code::OutOfRange | Code::ResourceExhausted if message.contains("too large") => {
            refused(Refusal::TooLarge {
                limit_bytes: MAX_VALUE_BYTES,
            })
        }
        Code::Unavailable | Code::Cancelled => ProviderError::Crashed {
            plugin: plugin.clone(),
            detail: message.to_string(),
        },
        Code::Unimplemented => refused(Refusal::Unimplemented(message.to_string())),
        code => refused(Refusal::Failed {
            code: format!("{code:?}"),
            message: message.to_string(),
        }),
    }
}

/// `1.5s`, `60s`: durations as a user wrote them.
pub(crate) fn humantime(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::{Code, Status};

    #[test]
    fn plugin_errors_pass_through() {
        let e = status_to_error(
            "AWSSECRETS",
            &Status::new(Code::Unknown, "implementation X error: boom for token: t"),
            Duration::from_secs(60),
        );
        assert_eq!(e.to_string(), "implementation X error: boom for token: t");
    }

    #[test]
    fn transport_errors_are_explained() {
        let t = Duration::from_millis(1500);
        assert_eq!(
            status_to_error("P", &Status::new(Code::DeadlineExceeded, ""), t).to_string(),
            "plugin P did not answer within 1.5s (see --timeout)"
        );
        assert!(
            status_to_error("P", &Status::new(Code::Unavailable, "broken pipe"), t)
                .to_string()
                .contains("may have crashed")
        );
        assert!(
            status_to_error(
                "P",
                &Status::new(Code::OutOfRange, "Error, decoded message length too large"),
                t
            )
            .to_string()
            .contains("larger than the 64 MiB limit")
        );
    }
}
