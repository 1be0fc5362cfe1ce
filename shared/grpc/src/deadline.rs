//! The server-side deadline: min(client `grpc-timeout`, the configured cap) for unary calls, answered
//! with DEADLINE_EXCEEDED. tonic's own `Server::timeout` reports expiry as CANCELLED, which clients treat
//! differently, so it is not used.

use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::Instant;
use tonic::Status;
use tower::Service;

use crate::descriptor;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Time left before the inbound call's deadline, when the current task serves one. Peer calls use it to
/// cap their own `grpc-timeout`, so work never outlives the caller's patience.
pub fn remaining_deadline() -> Option<Duration> {
    DEADLINE
        .try_with(|deadline| deadline.saturating_duration_since(Instant::now()))
        .ok()
}

/// Parses a `grpc-timeout` value (1 to 8 digits and a unit). Longer values are ignored, as tonic does,
/// which leaves the cap in force.
pub(crate) fn parse_grpc_timeout(raw: &str) -> Option<Duration> {
    if raw.len() < 2 || raw.len() > 9 {
        return None;
    }
    let (digits, unit) = raw.split_at(raw.len() - 1);
    if !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    match unit {
        "H" => Some(Duration::from_secs(value.saturating_mul(3600))),
        "M" => Some(Duration::from_secs(value.saturating_mul(60))),
        "S" => Some(Duration::from_secs(value)),
        "m" => Some(Duration::from_millis(value)),
        "u" => Some(Duration::from_micros(value)),
        "n" => Some(Duration::from_nanos(value)),
        _ => None,
    }
}

#[derive(Clone)]
pub(crate) struct DeadlineLayer {
    cap: Duration,
}

impl DeadlineLayer {
    pub(crate) fn new(cap: Duration) -> Self {
        Self { cap }
    }
}

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeadlineService {
            inner,
            cap: self.cap,
        }
    }
}

#[derive(Clone)]
pub(crate) struct DeadlineService<S> {
    inner: S,
    cap: Duration,
}

impl<S, ReqBody> Service<http::Request<ReqBody>> for DeadlineService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let streaming = descriptor::method_info(request.uri().path())
            .is_some_and(|method| method.server_streaming || method.client_streaming)
            || request.uri().path() == "/grpc.health.v1.Health/Watch"
            || request.uri().path().starts_with("/grpc.reflection.");
        // Streams carry cursors and are bounded by the connection age instead.
        if streaming {
            return Box::pin(self.inner.call(request));
        }
        let requested = request
            .headers()
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_grpc_timeout);
        let budget = requested.map_or(self.cap, |requested| requested.min(self.cap));
        let deadline = Instant::now() + budget;
        let call = self.inner.call(request);
        Box::pin(DEADLINE.scope(deadline, async move {
            match tokio::time::timeout_at(deadline, call).await {
                Ok(result) => result,
                Err(_) => Ok(Status::deadline_exceeded("deadline exceeded").into_http()),
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_with_every_unit_and_refuse_the_rest() {
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout("10u"), Some(Duration::from_micros(10)));
        assert_eq!(
            parse_grpc_timeout("99999999H"),
            Some(Duration::from_secs(99_999_999 * 3600))
        );
        assert_eq!(parse_grpc_timeout("999999999H"), None);
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout("5X"), None);
        assert_eq!(parse_grpc_timeout("-5S"), None);
    }
}
