//! Span conventions for gRPC hops (quality.md §5.1, §5.4, §5.5): semantic conventions v1.37.0.

use tracing::field::Empty;

use crate::grpc_code::{grpc_code_name, is_grpc_server_error, normalize};

/// The span field naming the Tenure service a span belongs to (`tenure-orders`). The exporter moves it
/// into the `service.name` of the span's resource, so that under `tenure up`, where four services share
/// one process and one tracer, each span still shows under its own service (see `export`). Spans
/// without it belong to the process's own `telemetry.service_name`.
pub const SERVICE_FIELD: &str = "service.name";

/// The SERVER span of one inbound call to `service`/`method` (e.g. `tenure.orders.v1.OrderService` and
/// `CreateOrder`), named `service/method`, at INFO, served by `owner` (`tenure-orders`).
///
/// It declares, empty, every field recorded later: the status keys (see [`record_grpc_status`]),
/// `server.address` and `server.port` (see [`record_server_address`]) and the `tenure.tenant_id`,
/// `tenure.order_id`, `tenure.saga_id` and `tenure.purge_id` correlation ids, which a layer or handler
/// fills in with `Span::record` once known. The caller sets the parent from the request's trace context
/// before the span is first entered.
pub fn server_span(owner: &str, service: &str, method: &str) -> tracing::Span {
    rpc_span(owner, "server", service, method)
}

/// The CLIENT span of one outbound call made by `owner`, with the same fields as [`server_span`].
pub fn client_span(owner: &str, service: &str, method: &str) -> tracing::Span {
    rpc_span(owner, "client", service, method)
}

fn rpc_span(owner: &str, kind: &str, service: &str, method: &str) -> tracing::Span {
    let name = format!("{service}/{method}");
    tracing::info_span!(
        "grpc",
        service.name = owner,
        otel.name = name.as_str(),
        otel.kind = kind,
        otel.status_code = Empty,
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        rpc.grpc.status_code = Empty,
        rpc.response.status_code = Empty,
        error.type = Empty,
        server.address = Empty,
        server.port = Empty,
        tenure.tenant_id = Empty,
        tenure.order_id = Empty,
        tenure.saga_id = Empty,
        tenure.purge_id = Empty,
    )
}

/// Records the outcome of a call on a span from [`server_span`] (`is_server`) or [`client_span`]:
/// `rpc.grpc.status_code` (the number) and `rpc.response.status_code` (the name) always; status ERROR
/// with `error.type` set to the code's name when the outcome is an error for that side. A server fails
/// only on the codes of [`is_grpc_server_error`]; a client fails on every code but `OK`.
pub fn record_grpc_status(span: &tracing::Span, code: i32, is_server: bool) {
    let code = normalize(code);
    let name = grpc_code_name(code);
    span.record("rpc.grpc.status_code", i64::from(code));
    span.record("rpc.response.status_code", name);
    if is_grpc_error(code, is_server) {
        span.record("otel.status_code", "ERROR");
        span.record("error.type", name);
    }
}

/// Records `server.address` and `server.port` on a span from [`server_span`] or [`client_span`]: the
/// listening address for a server, the peer's host and port for a client.
pub fn record_server_address(span: &tracing::Span, host: &str, port: u16) {
    span.record("server.address", host);
    span.record("server.port", i64::from(port));
}

/// Whether `code` marks the span of one side as failed (quality.md §5.5).
fn is_grpc_error(code: i32, is_server: bool) -> bool {
    if is_server {
        is_grpc_server_error(code)
    } else {
        code != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_are_only_the_server_side_failures() {
        let errors: Vec<&str> = (0..=16)
            .filter(|code| is_grpc_error(*code, true))
            .map(grpc_code_name)
            .collect();
        assert_eq!(
            errors,
            [
                "UNKNOWN",
                "DEADLINE_EXCEEDED",
                "UNIMPLEMENTED",
                "INTERNAL",
                "UNAVAILABLE",
                "DATA_LOSS"
            ]
        );
    }

    #[test]
    fn client_errors_are_every_code_but_ok() {
        assert!(!is_grpc_error(0, false));
        assert!((1..=16).all(|code| is_grpc_error(code, false)));
    }
}
