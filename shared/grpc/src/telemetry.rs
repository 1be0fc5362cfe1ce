//! The outermost server layer: one SERVER span per call named `package.Service/Method`, its parent taken
//! from the caller's W3C trace context, RED metrics, and panics turned into INTERNAL. It sits outside
//! every other layer so that rejections by auth, policy, deadline or load shedding are traced and counted.

use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use http_body::{Body, Frame, SizeHint};
use tenure_telemetry::RpcLabels;
use tonic::{Code, Status};
use tower::Service;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::descriptor;

/// Which side of a call a span and its metrics describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Server,
    Client,
}

/// Records the end of one call once: span status, handled counter and latency histogram.
pub(crate) struct CallRecord {
    span: tracing::Span,
    labels: RpcLabels,
    started: Instant,
    side: Side,
    finished: bool,
}

impl CallRecord {
    pub(crate) fn start(span: tracing::Span, labels: RpcLabels, side: Side) -> Self {
        match side {
            Side::Server => tenure_telemetry::metrics().rpc_server_started(&labels),
            Side::Client => tenure_telemetry::metrics().rpc_client_started(&labels),
        }
        Self {
            span,
            labels,
            started: Instant::now(),
            side,
            finished: false,
        }
    }

    pub(crate) fn finish(&mut self, code: Code) {
        if self.finished {
            return;
        }
        self.finished = true;
        let elapsed = self.started.elapsed();
        let code_number = code as i32;
        tenure_telemetry::record_grpc_status(&self.span, code_number, self.side == Side::Server);
        let name = tenure_telemetry::grpc_code_name(code_number);
        match self.side {
            Side::Server => {
                tenure_telemetry::metrics().rpc_server_handled(&self.labels, name, elapsed);
            }
            Side::Client => {
                tenure_telemetry::metrics().rpc_client_handled(&self.labels, name, elapsed);
            }
        }
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        // The body was dropped before its trailers arrived: the other side went away mid-call.
        self.finish(Code::Cancelled);
    }
}

/// The labels and the span name parts of a request path. Only published methods keep their names:
/// this layer runs before authentication, so a guessed path must not mint a new metric series.
pub(crate) fn labels_for(path: &str) -> RpcLabels {
    match descriptor::method_info(path).zip(descriptor::split_path(path)) {
        Some((info, (service, method))) => RpcLabels::new(service, method, info.grpc_type()),
        None if path.starts_with("/grpc.health.v1.Health/") => {
            let method = path.rsplit('/').next().unwrap_or("unknown");
            RpcLabels::new("grpc.health.v1.Health", method, "unary")
        }
        None => RpcLabels::new("unknown", "unknown", "unary"),
    }
}

/// Completes a [`CallRecord`] from a response: at once for trailers-only answers (errors from layers and
/// handlers), else when the body's trailers arrive.
pub(crate) fn observe_response<B>(
    response: http::Response<B>,
    mut record: CallRecord,
) -> http::Response<tonic::body::Body>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    if let Some(status) = Status::from_header_map(response.headers()) {
        record.finish(status.code());
        return response.map(tonic::body::Body::new);
    }
    if !response.status().is_success() {
        // An HTTP-level failure (for instance a malformed gRPC-web request) carries no gRPC status.
        record.finish(Code::Unknown);
        return response.map(tonic::body::Body::new);
    }
    response.map(|body| {
        tonic::body::Body::new(ObservedBody {
            inner: body,
            record: Some(record),
        })
    })
}

#[pin_project::pin_project]
struct ObservedBody<B> {
    #[pin]
    inner: B,
    record: Option<CallRecord>,
}

impl<B> Body for ObservedBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(mut record) = this.record.take()
                {
                    let code = Status::from_header_map(trailers).map_or(Code::Ok, |s| s.code());
                    record.finish(code);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(mut record) = this.record.take() {
                    record.finish(Code::Internal);
                }
            }
            Poll::Ready(None) => {
                if let Some(mut record) = this.record.take() {
                    // A body that ends without trailers never sent a status.
                    record.finish(Code::Unknown);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Health probes arrive every few seconds from every prober; tracing them would drown real traffic.
fn is_untraced(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.")
}

/// Traces and counts the calls one service serves; its spans name that service.
#[derive(Clone)]
pub(crate) struct ServerTelemetryLayer {
    pub(crate) owner: &'static str,
}

impl<S> tower::Layer<S> for ServerTelemetryLayer {
    type Service = ServerTelemetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerTelemetry {
            inner,
            owner: self.owner,
        }
    }
}

#[derive(Clone)]
pub(crate) struct ServerTelemetry<S> {
    inner: S,
    owner: &'static str,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for ServerTelemetry<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let path = request.uri().path().to_owned();
        if is_untraced(&path) {
            let call = self.inner.call(request);
            return Box::pin(async move { Ok(call.await?.map(tonic::body::Body::new)) });
        }
        let labels = labels_for(&path);
        let span = tenure_telemetry::server_span(self.owner, labels.service(), labels.method());
        let parent = tenure_telemetry::extract_context(request.headers());
        // A caller without trace context starts a new trace; a malformed one is ignored the same way.
        let _ = span.set_parent(parent);
        let order_id = tenure_telemetry::extract_order_id(request.headers());
        if let Some(order_id) = &order_id {
            span.record("tenure.order_id", order_id.as_str());
        }
        let record = CallRecord::start(span.clone(), labels, Side::Server);
        let call = self.inner.call(request);
        // The handler's own calls carry the order on.
        let call = async move {
            match order_id {
                Some(order_id) => tenure_telemetry::in_order_scope(order_id, call).await,
                None => call.await,
            }
        };
        Box::pin(
            async move {
                match AssertUnwindSafe(call).catch_unwind().await {
                    Ok(Ok(response)) => Ok(observe_response(response, record)),
                    Ok(Err(error)) => Err(error),
                    Err(_) => {
                        tenure_telemetry::metrics().panic_caught();
                        tracing::error!(rpc.path = %path, "handler panicked");
                        let status = crate::status::internal_message();
                        Ok(observe_response(
                            status.into_http::<tonic::body::Body>(),
                            record,
                        ))
                    }
                }
            }
            .instrument(span),
        )
    }
}
