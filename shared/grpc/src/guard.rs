//! Layers that decide on a request before it goes further: they let it through, possibly annotated
//! (authentication attaches the principal), or answer it themselves with a gRPC status. Authentication
//! and the policy table are guards; they differ only in what they check.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::Status;
use tower::Service;

/// One check in front of the handlers.
pub(crate) trait Guard: Clone + Send + Sync + 'static {
    /// `Ok` lets the request through; `Err` answers it with that status, trailers-only.
    fn check<B>(&self, request: &mut http::Request<B>) -> Result<(), Status>;
}

/// Puts a [`Guard`] in front of a service.
#[derive(Clone)]
pub(crate) struct GuardLayer<G>(pub(crate) G);

impl<S, G: Guard> tower::Layer<S> for GuardLayer<G> {
    type Service = Guarded<S, G>;

    fn layer(&self, inner: S) -> Self::Service {
        Guarded {
            inner,
            guard: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Guarded<S, G> {
    inner: S,
    guard: G,
}

impl<S, G, ReqBody> Service<http::Request<ReqBody>> for Guarded<S, G>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    G: Guard,
    ReqBody: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        match self.guard.check(&mut request) {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(status) => Box::pin(async move { Ok(status.into_http()) }),
        }
    }
}
