//! Load shedding: a process-wide budget of calls in flight. A call over budget is refused at once with
//! RESOURCE_EXHAUSTED instead of queueing, so overload cannot build unbounded latency.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tokio::sync::Semaphore;
use tonic::Status;
use tower::Service;

#[derive(Clone)]
pub(crate) struct InFlightLayer {
    budget: Arc<Semaphore>,
}

impl InFlightLayer {
    pub(crate) fn new(budget: Arc<Semaphore>) -> Self {
        Self { budget }
    }
}

impl<S> tower::Layer<S> for InFlightLayer {
    type Service = InFlightService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InFlightService {
            inner,
            budget: Arc::clone(&self.budget),
        }
    }
}

#[derive(Clone)]
pub(crate) struct InFlightService<S> {
    inner: S,
    budget: Arc<Semaphore>,
}

impl<S, ReqBody> Service<http::Request<ReqBody>> for InFlightService<S>
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
        let Ok(permit) = Arc::clone(&self.budget).try_acquire_owned() else {
            tenure_telemetry::metrics().load_shed();
            return Box::pin(async {
                Ok(Status::resource_exhausted("server overloaded; retry later").into_http())
            });
        };
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = call.await;
            drop(permit);
            response
        })
    }
}
