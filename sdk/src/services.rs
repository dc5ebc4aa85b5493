//! The gRPC services a plugin serves: the thin adapter from configmanager's `TokenStore` service
//! to the author's [`TokenStore`], and go-plugin's controller, stdio and broker services, which a
//! Go host expects to find.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::TokenStore;
use crate::wire::{go_plugin, proto};

/// Calls the store; its error becomes a status with code `Unknown` and the error's text, which is
/// how a Go plugin's plain `error` reaches the host.
pub(crate) struct Adapter<S>(pub(crate) Arc<S>);

#[tonic::async_trait]
impl<S: TokenStore> proto::token_store_server::TokenStore for Adapter<S> {
    async fn value(
        &self,
        request: Request<proto::TokenValueRequest>,
    ) -> Result<Response<proto::TokenValueResponse>, Status> {
        let req = request.into_inner();
        match self.0.value(&req.token, &req.metadata).await {
            Ok(value) => Ok(Response::new(proto::TokenValueResponse { value })),
            Err(e) => Err(Status::unknown(e.0)),
        }
    }
}

/// `GRPCController.Shutdown`: the host's request to stop, passed on to `serve_with`.
pub(crate) struct Controller {
    pub(crate) stop: watch::Sender<bool>,
}

#[tonic::async_trait]
impl go_plugin::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(
        &self,
        _: Request<go_plugin::Empty>,
    ) -> Result<Response<go_plugin::Empty>, Status> {
        tracing::debug!("shutdown requested by the host");
        let _ = self.stop.send(true);
        Ok(Response::new(go_plugin::Empty {}))
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Nothing is captured (writes after the handshake go to the real stderr), but the stream is held
/// open until the host cancels it: older Go hosts log errors in a loop when it is missing.
pub(crate) struct Stdio;

#[tonic::async_trait]
impl go_plugin::grpc_stdio_server::GrpcStdio for Stdio {
    type StreamStdioStream = BoxStream<go_plugin::StdioData>;

    async fn stream_stdio(
        &self,
        _: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(Box::pin(futures_util::stream::pending())))
    }
}

/// Offers no callbacks; holds the stream the host opens, as go-plugin expects.
pub(crate) struct Broker;

#[tonic::async_trait]
impl go_plugin::grpc_broker_server::GrpcBroker for Broker {
    type StartStreamStream = BoxStream<go_plugin::ConnInfo>;

    async fn start_stream(
        &self,
        request: Request<tonic::Streaming<go_plugin::ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        let mut inbound = request.into_inner();
        tokio::spawn(async move { while let Ok(Some(_)) = inbound.message().await {} });
        Ok(Response::new(Box::pin(futures_util::stream::pending())))
    }
}
