//! [`CountingProxy`]: a plain-HTTP proxy on loopback that counts the API calls a plugin makes
//! to an emulator.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use hyper::Request;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::http::{Body, HttpsResponse, Loopback};

/// A plain-HTTP proxy on loopback in front of an emulator that counts requests per operation
/// (an AWS JSON call's `X-Amz-Target` action, else `METHOD /path`). Stops when dropped.
pub struct CountingProxy {
    url: String,
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
    /// Kept only to be dropped with the proxy, which stops it.
    _server: Loopback,
}

impl CountingProxy {
    /// Starts forwarding to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> CountingProxy {
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let upstream = upstream.trim_end_matches('/').to_string();
        let client: Client<HttpConnector, Incoming> =
            Client::builder(TokioExecutor::new()).build_http();
        let tally = Arc::clone(&counts);
        let server = Loopback::start(None, move |req: Request<Incoming>| {
            *tally
                .lock()
                .expect("counts")
                .entry(operation(&req))
                .or_default() += 1;
            let (client, upstream) = (client.clone(), upstream.clone());
            async move { Ok(forward(&client, &upstream, req).await) }
        });
        CountingProxy {
            url: server.url(),
            counts,
            _server: server,
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

/// `req` sent on to `upstream` (same path and query), the answer streamed back.
async fn forward(
    client: &Client<HttpConnector, Incoming>,
    upstream: &str,
    req: Request<Incoming>,
) -> hyper::Response<Body> {
    use http_body_util::BodyExt;

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

fn bad_gateway(reason: String) -> hyper::Response<Body> {
    HttpsResponse::empty(502).with_body(reason).into_hyper()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{HttpsRequest, HttpsServer, testing::send};

    /// Requests reach the upstream whole and are counted per operation; an upstream that does
    /// not answer is a 502.
    #[test]
    fn forwards_and_counts() {
        let upstream = HttpsServer::start_plain(|req: &HttpsRequest| {
            HttpsResponse::empty(200).with_body(format!(
                "{} {:?} {}",
                req.path_and_query(),
                req.header("x-amz-target"),
                String::from_utf8_lossy(&req.body)
            ))
        });
        let proxy = CountingProxy::start(&format!("{}/", upstream.url()));
        let addr = proxy.url().trim_start_matches("http://").parse().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let call = |req: HttpsRequest| rt.block_on(send(addr, None, &req.with_header("host", "x")));
        let target = HttpsRequest::to("POST", "/")
            .with_header("x-amz-target", "AmazonSSM.GetParameters")
            .with_body("{}");
        for _ in 0..2 {
            let (status, body) = call(target.clone());
            assert_eq!(status, 200);
            assert_eq!(body, b"/ Some(\"AmazonSSM.GetParameters\") {}");
        }
        let (_, body) = call(HttpsRequest::to("GET", "/a/b?c=d"));
        assert_eq!(body, b"/a/b?c=d None ");
        assert_eq!(proxy.count("GetParameters"), 2);
        assert_eq!(proxy.count("GET /a/b"), 1);
        assert_eq!(proxy.total(), 3);
        proxy.reset();
        assert_eq!(proxy.counts(), BTreeMap::new());

        let addr = upstream.addr();
        drop(upstream);
        let dead = CountingProxy::start(&format!("http://{addr}"));
        let dead_addr = dead.url().trim_start_matches("http://").parse().unwrap();
        let (status, _) = rt.block_on(send(
            dead_addr,
            None,
            &HttpsRequest::to("GET", "/").with_header("host", "x"),
        ));
        assert_eq!(status, 502);
        assert_eq!(dead.count("GET /"), 1);
    }
}
