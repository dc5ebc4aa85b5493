//! [`CountingProxy`]: a plain-HTTP proxy on loopback that counts the API calls a plugin makes
//! to an emulator.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A plain-HTTP proxy on loopback in front of an emulator that counts requests per operation
/// (an AWS JSON call's `X-Amz-Target` action, else `METHOD /path`). Stops when dropped.
pub struct CountingProxy {
    url: String,
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CountingProxy {
    /// Starts forwarding to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> CountingProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let upstream = upstream.trim_end_matches('/').to_string();
        let tally = Arc::clone(&counts);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(http::serve(listener, upstream, tally, stopped));
        });
        CountingProxy {
            url,
            counts,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The proxy's address, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Requests so far, per operation.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.counts.lock().expect("counts").clone()
    }

    /// Requests so far for `operation`.
    pub fn count(&self, operation: &str) -> usize {
        self.counts().get(operation).copied().unwrap_or(0)
    }

    /// All requests so far.
    pub fn total(&self) -> usize {
        self.counts().values().sum()
    }

    /// Forgets the counts.
    pub fn reset(&self) {
        self.counts.lock().expect("counts").clear();
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

mod http {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use http_body_util::combinators::BoxBody;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper::{Request, Response};
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    type Body = BoxBody<Bytes, hyper::Error>;

    pub(super) async fn serve(
        listener: std::net::TcpListener,
        upstream: String,
        counts: Arc<Mutex<BTreeMap<String, usize>>>,
        mut stopped: tokio::sync::oneshot::Receiver<()>,
    ) {
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let client: Client<HttpConnector, Incoming> =
            Client::builder(TokioExecutor::new()).build_http();
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
                _ = &mut stopped => return,
            };
            let client = client.clone();
            let upstream = upstream.clone();
            let counts = Arc::clone(&counts);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let client = client.clone();
                    let upstream = upstream.clone();
                    let counts = Arc::clone(&counts);
                    async move {
                        *counts
                            .lock()
                            .expect("counts")
                            .entry(operation(&req))
                            .or_default() += 1;
                        Ok::<_, std::convert::Infallible>(forward(&client, &upstream, req).await)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    fn operation(req: &Request<Incoming>) -> String {
        req.headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.rsplit('.').next())
            .map_or_else(
                || format!("{} {}", req.method(), req.uri().path()),
                str::to_string,
            )
    }

    async fn forward(
        client: &Client<HttpConnector, Incoming>,
        upstream: &str,
        req: Request<Incoming>,
    ) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = match format!("{upstream}{path}").parse() {
            Ok(uri) => uri,
            Err(e) => return bad_gateway(e.to_string()),
        };
        match client.request(Request::from_parts(parts, body)).await {
            Ok(resp) => resp.map(BodyExt::boxed),
            Err(e) => bad_gateway(e.to_string()),
        }
    }

    fn bad_gateway(reason: String) -> Response<Body> {
        let mut resp = Response::new(
            Full::new(Bytes::from(reason))
                .map_err(|never| match never {})
                .boxed(),
        );
        *resp.status_mut() = hyper::StatusCode::BAD_GATEWAY;
        resp
    }
}
