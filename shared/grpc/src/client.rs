//! Calls to peer services: one CLIENT span per call, W3C trace context in the metadata, the calling
//! service's own short-lived token, a `grpc-timeout` no longer than what the inbound call has left, and
//! client RED metrics. One process (`tenure up`) and many processes use the same path.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use http::HeaderValue;
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint};
use tower::Service;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use uuid::Uuid;

use crate::auth::ServiceTokenMinter;
use crate::deadline::{parse_grpc_timeout, remaining_deadline};
use crate::identity::ServiceKind;
use crate::telemetry::{CallRecord, Side, labels_for, observe_response};

/// A lazily connected channel to one peer service, wrapped in Tenure's client layers. Generated clients
/// take it directly: `AccountServiceClient::new(peer.clone())`.
#[derive(Clone)]
pub struct PeerChannel {
    channel: Channel,
    callee: ServiceKind,
    minter: Arc<ServiceTokenMinter>,
    call_cap: Duration,
}

impl std::fmt::Debug for PeerChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerChannel")
            .field("callee", &self.callee)
            .finish_non_exhaustive()
    }
}

impl PeerChannel {
    /// A channel to `url` (e.g. `http://127.0.0.1:50052`) that connects on first use, so start-up order
    /// between services does not matter. `call_cap` bounds every call that has no inbound deadline.
    pub fn connect_lazy(
        url: &str,
        callee: ServiceKind,
        minter: Arc<ServiceTokenMinter>,
        call_cap: Duration,
    ) -> anyhow::Result<Self> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|error| anyhow::anyhow!("invalid peer url for {callee}: {error}"))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        Ok(Self {
            channel: endpoint.connect_lazy(),
            callee,
            minter,
            call_cap,
        })
    }

    /// The service this channel reaches.
    pub fn callee(&self) -> ServiceKind {
        self.callee
    }

    /// Wraps a message in a request that acts for `tenant` (sent as `x-tenure-tenant`, which the callee
    /// honours only because the caller authenticates as a service).
    pub fn for_tenant<T>(message: T, tenant: Uuid) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Ok(value) = tonic::metadata::MetadataValue::try_from(tenant.to_string()) {
            request
                .metadata_mut()
                .insert(crate::TENANT_METADATA_KEY, value);
        }
        request
    }

    fn prepare(
        &self,
        request: &mut http::Request<Body>,
        span: &tracing::Span,
    ) -> anyhow::Result<()> {
        let headers = request.headers_mut();
        tenure_telemetry::inject_context(&span.context(), headers);
        if let Some(order_id) = tenure_telemetry::inject_order_id(headers) {
            span.record("tenure.order_id", order_id);
        }
        let token = self.minter.token_for(self.callee.audience())?;
        let value = HeaderValue::from_str(&format!("Bearer {token}"))?;
        headers.insert(http::header::AUTHORIZATION, value);
        let requested = headers
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_grpc_timeout);
        let budget = [Some(self.call_cap), requested, remaining_deadline()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.call_cap);
        // Milliseconds with at most 8 digits, as the gRPC wire format requires.
        let millis = budget.as_millis().clamp(1, 99_999_999);
        headers.insert(
            "grpc-timeout",
            HeaderValue::from_str(&format!("{millis}m"))?,
        );
        Ok(())
    }
}

impl Service<http::Request<Body>> for PeerChannel {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.channel.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The channel that reported ready is the one that must take the call.
        let ready = self.channel.clone();
        let mut channel = std::mem::replace(&mut self.channel, ready);
        let labels = labels_for(request.uri().path());
        let span = tenure_telemetry::client_span(
            self.minter.service_name(),
            labels.service(),
            labels.method(),
        );
        let mut record = CallRecord::start(span.clone(), labels, Side::Client);
        if let Err(error) = self.prepare(&mut request, &span) {
            tracing::error!(parent: &span, error = %error, "preparing a peer call failed");
            let status = crate::status::internal_message();
            return Box::pin(
                async move { Ok(observe_response(status.into_http::<Body>(), record)) },
            );
        }
        let call = channel.call(request);
        Box::pin(
            async move {
                match call.await {
                    Ok(response) => Ok(observe_response(response, record)),
                    Err(error) => {
                        record.finish(tonic::Code::Unavailable);
                        Err(error)
                    }
                }
            }
            .instrument(span),
        )
    }
}
