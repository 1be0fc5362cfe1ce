//! Logs, traces and metrics for every Tenure process (architecture.md §8, quality.md §5).
//!
//! [`init`] installs, once per process, the `tracing` subscriber: JSON log lines that carry the trace and
//! span ids of their span, the OpenTelemetry layer on an always-installed tracer provider (so ids and
//! W3C propagation work without a collector), and an OTLP/gRPC exporter when a collector is configured.
//! [`metrics`] is the one Prometheus registry of the process, served by [`serve_metrics`]. The span
//! helpers fix the names, attributes and error classification of gRPC spans, so every layer that traces
//! a call agrees on them.
//!
//! This crate never logs anything callers did not pass as a field (no request metadata, no bodies), never
//! puts an id of a tenant, order, saga, purge or AWS account into a metric label, and knows nothing of
//! tonic: gRPC codes arrive as numbers.

mod export;
mod exposition;
mod filter;
mod grpc_code;
mod install;
mod json_log;
mod metrics;
mod metrics_server;
mod order_scope;
mod per_service;
mod propagation;
mod settings;
mod spans;

pub use grpc_code::{grpc_code_name, is_grpc_server_error};
pub use install::{TelemetryGuard, force_flush, init, init_with_writer};
pub use metrics::{Metrics, RateLimitReason, RpcLabels, encode_metrics, metrics, register};
pub use metrics_server::serve_metrics;
pub use order_scope::{current_order_id, extract_order_id, in_order_scope, inject_order_id};
/// The metric types services register with [`register`], re-exported so every crate uses one version.
pub use prometheus_client;
pub use propagation::{
    current_trace_id, current_traceparent, extract_context, inject_context, parse_traceparent,
};
pub use settings::{LogFormat, TelemetrySettings};
pub use spans::{
    SERVICE_FIELD, client_span, record_grpc_status, record_server_address, server_span,
};
/// The writer factory [`init_with_writer`] takes, re-exported so callers need no `tracing-subscriber`.
pub use tracing_subscriber::fmt::MakeWriter;
