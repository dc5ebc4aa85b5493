//! Where a plugin listens and how connections reach tonic: a Unix socket in the host's folder or
//! a loopback TCP port from the host's range (go-plugin's rules for both), each connection plain
//! or after its own AutoMTLS handshake.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tonic::transport::server::Connected;

use crate::handshake::Address;
use crate::protocol::{MAX_PORT_ENV, MIN_PORT_ENV};
use crate::{ServeOptions, Transport};

/// How long a connecting host may take to finish its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A byte stream a connection runs over (Unix or TCP, either under TLS).
trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// The bound listener.
pub(crate) enum Listener {
    #[cfg(unix)]
    Unix(tokio::net::UnixListener, PathBuf),
    Tcp(tokio::net::TcpListener),
}

impl Listener {
    /// Binds what `options` ask for; the guard removes a Unix socket file when dropped.
    pub(crate) async fn bind(
        options: &ServeOptions,
    ) -> std::io::Result<(Listener, Option<RemoveOnDrop>)> {
        match options.transport {
            #[cfg(unix)]
            Transport::Unix => {
                let (listener, path) = bind_socket(&options.socket_dir)?;
                Ok((
                    Listener::Unix(listener, path.clone()),
                    Some(RemoveOnDrop(path)),
                ))
            }
            #[cfg(not(unix))]
            Transport::Unix => Err(std::io::Error::other(
                "unix sockets are not supported on this platform",
            )),
            Transport::Tcp => {
                let (min, max) = &options.port_range;
                let listener = bind_tcp(min.as_deref(), max.as_deref()).await?;
                Ok((Listener::Tcp(listener), None))
            }
        }
    }

    /// The address for the handshake line.
    pub(crate) fn address(&self) -> std::io::Result<Address> {
        match self {
            #[cfg(unix)]
            Listener::Unix(_, path) => Ok(Address::Unix(path.clone())),
            Listener::Tcp(l) => Ok(Address::Tcp(l.local_addr()?)),
        }
    }

    async fn accept(&self) -> std::io::Result<Box<dyn Io>> {
        match self {
            #[cfg(unix)]
            Listener::Unix(l, _) => Ok(Box::new(l.accept().await?.0)),
            Listener::Tcp(l) => {
                let stream = l.accept().await?.0;
                stream.set_nodelay(true)?;
                Ok(Box::new(stream))
            }
        }
    }
}

#[cfg(unix)]
fn bind_socket(dir: &std::path::Path) -> std::io::Result<(tokio::net::UnixListener, PathBuf)> {
    use std::hash::{BuildHasher, Hasher};
    for _ in 0..16 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let path = dir.join(format!("plugin{}", h.finish() % 10_000_000_000));
        match tokio::net::UnixListener::bind(&path) {
            Ok(l) => return Ok((l, path)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        "no free socket name",
    ))
}

/// go-plugin's TCP listener: `127.0.0.1`, the first port of `min..=max` that binds (both
/// missing: any free port).
async fn bind_tcp(
    min: Option<&str>,
    max: Option<&str>,
) -> std::io::Result<tokio::net::TcpListener> {
    let port = |name: &str, v: Option<&str>| match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(0u16),
        Some(v) => v.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{name} is not a port number: {v:?}"),
            )
        }),
    };
    let (min, max) = (port(MIN_PORT_ENV, min)?, port(MAX_PORT_ENV, max)?);
    if min > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{MIN_PORT_ENV} ({min}) is above {MAX_PORT_ENV} ({max})"),
        ));
    }
    for port in min..=max {
        if let Ok(l) = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port)).await {
            return Ok(l);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        "couldn't bind plugin TCP listener",
    ))
}

/// Removes the socket file when serving ends.
pub(crate) struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Aborts a task when dropped.
pub(crate) struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Accepts connections for tonic: plain, or after a TLS handshake of their own (so a slow or
/// refused client never holds up the others). Dropping the guard closes the listener.
pub(crate) fn accept_loop(
    listener: Listener,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> (
    tokio_stream::wrappers::ReceiverStream<std::io::Result<Conn>>,
    AbortOnDrop,
) {
    let (tx, rx) = mpsc::channel(16);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let task = tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match &acceptor {
                None => {
                    if tx.send(Ok(Conn(stream))).await.is_err() {
                        return;
                    }
                }
                Some(acceptor) => {
                    let (acceptor, tx) = (acceptor.clone(), tx.clone());
                    tokio::spawn(async move {
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(tls)) => {
                                let _ = tx.send(Ok(Conn(Box::new(tls)))).await;
                            }
                            Ok(Err(e)) => {
                                tracing::warn!(error = %e, "refused a connection: TLS handshake failed")
                            }
                            Err(_) => {
                                tracing::warn!("refused a connection: TLS handshake timed out")
                            }
                        }
                    });
                }
            }
        }
    });
    (
        tokio_stream::wrappers::ReceiverStream::new(rx),
        AbortOnDrop(task),
    )
}

/// One accepted connection, plain or TLS, as tonic wants it.
pub(crate) struct Conn(Box<dyn Io>);

impl Connected for Conn {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tcp_ports_follow_the_range() {
        let first = bind_tcp(Some("0"), Some("0")).await.unwrap();
        let port = first.local_addr().unwrap().port();
        // The range starts at a taken port: the next free one wins.
        let p = port.to_string();
        let next = port.saturating_add(30).to_string();
        let second = bind_tcp(Some(&p), Some(&next)).await.unwrap();
        let second_port = second.local_addr().unwrap().port();
        assert!(
            second_port > port && second_port <= port + 30,
            "{second_port}"
        );
        assert!(second.local_addr().unwrap().ip().is_loopback());
        let e = bind_tcp(Some(&p), Some(&p)).await.unwrap_err();
        assert_eq!(e.to_string(), "couldn't bind plugin TCP listener");
        let e = bind_tcp(Some("x"), None).await.unwrap_err();
        assert_eq!(e.to_string(), "PLUGIN_MIN_PORT is not a port number: \"x\"");
    }
}
