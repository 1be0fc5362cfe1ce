//! `GET /metrics` on the admin port: a minimal HTTP/1.1 server, apart from the gRPC listeners.

use std::convert::Infallible;
use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::exposition::{self, Format};
use crate::metrics::encode_metrics;

/// A scraper that sends no complete request head within this time is dropped.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A failing `accept` (for instance out of file descriptors) is retried after this pause, not at once.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Serves `GET /metrics` (200, the process-wide registry, in the format the `Accept` header asks for) on `listener`; any other request gets 404.
///
/// Stops accepting when `shutdown` is cancelled, lets in-flight scrapes finish, and returns once every
/// connection has closed.
///
/// # Errors
///
/// None at present: a failed `accept` or connection is logged and the server keeps going. The `Result`
/// leaves room for start-up failures without changing callers.
pub async fn serve_metrics(
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => {
                connections.spawn(serve_connection(stream, shutdown.clone()));
            }
            Err(error) => {
                tracing::warn!(%error, "metrics listener failed to accept a connection");
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
            }
        }
    }
    connections.close();
    connections.wait().await;
    Ok(())
}

async fn serve_connection(stream: TcpStream, shutdown: CancellationToken) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let mut connection = pin!(builder.serve_connection(TokioIo::new(stream), service_fn(respond)));
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "metrics connection ended with an error");
    }
}

async fn respond(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() != Method::GET || request.uri().path() != "/metrics" {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return Ok(response);
    }
    let accept = request
        .headers()
        .get(ACCEPT)
        .and_then(|value| value.to_str().ok());
    let format = exposition::negotiate(accept);
    let body = match format {
        Format::OpenMetrics => encode_metrics(),
        Format::Text => exposition::to_text_format(&encode_metrics()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    Ok(response)
}
