//! The process-wide Prometheus registry and the RED metrics of every gRPC hop (quality.md §5.6).
//!
//! One registry per process, because `tenure up` runs four services behind one `/metrics` endpoint.
//! Labels never carry a tenant, order, saga, purge or AWS account id, an email or an idempotency key.

use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};

use crate::grpc_code;

/// The Prometheus default buckets, which go-grpc-prometheus and its dashboards assume.
const HANDLING_SECONDS_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The labels of one RPC method: `grpc_service`, `grpc_method` and `grpc_type`.
///
/// Build them from the service's descriptor, never straight from a request path: a path is caller
/// input, and every distinct value is a new time series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RpcLabels {
    grpc_service: String,
    grpc_method: String,
    grpc_type: &'static str,
}

impl RpcLabels {
    /// Labels for `service` (`tenure.orders.v1.OrderService`), `method` (`CreateOrder`) and
    /// `grpc_type`, one of `unary`, `client_stream`, `server_stream`, `bidi_stream`.
    pub fn new(service: &str, method: &str, grpc_type: &'static str) -> Self {
        Self {
            grpc_service: service.to_owned(),
            grpc_method: method.to_owned(),
            grpc_type,
        }
    }

    /// The fully qualified service name.
    pub fn service(&self) -> &str {
        &self.grpc_service
    }

    /// The method name.
    pub fn method(&self) -> &str {
        &self.grpc_method
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HandledLabels {
    #[prometheus(flatten)]
    rpc: RpcLabels,
    grpc_code: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// Why a call was refused by a limit: the `reason` label of `rate_limited_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateLimitReason {
    /// A tenant (or a caller without one) over its call rate for a class of methods.
    TenantRate,
    /// A tenant at its cap of orders in progress.
    OrdersInFlight,
    /// A tenant or principal at its cap of open streams.
    Streams,
}

impl RateLimitReason {
    /// Every reason, each exported from the start so alerts see 0 rather than no data.
    pub const ALL: [RateLimitReason; 3] = [
        RateLimitReason::TenantRate,
        RateLimitReason::OrdersInFlight,
        RateLimitReason::Streams,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            RateLimitReason::TenantRate => "tenant_rate",
            RateLimitReason::OrdersInFlight => "orders_in_flight",
            RateLimitReason::Streams => "streams",
        }
    }
}

type HandlingHistograms = Family<RpcLabels, Histogram, fn() -> Histogram>;

/// RED metrics for one side of a call, named after go-grpc-prometheus.
struct RpcSideMetrics {
    started: Family<RpcLabels, Counter>,
    handled: Family<HandledLabels, Counter>,
    handling_seconds: HandlingHistograms,
}

impl RpcSideMetrics {
    fn register(registry: &mut Registry, side: &str) -> Self {
        let metrics = Self {
            started: Family::default(),
            handled: Family::default(),
            handling_seconds: Family::new_with_constructor(|| {
                Histogram::new(HANDLING_SECONDS_BUCKETS)
            }),
        };
        // Counters get their `_total` suffix, and every help text its final period, from the encoder.
        registry.register(
            format!("grpc_{side}_started"),
            format!("Total number of RPCs started on the {side}"),
            metrics.started.clone(),
        );
        registry.register(
            format!("grpc_{side}_handled"),
            format!(
                "Total number of RPCs completed on the {side}, regardless of success or failure"
            ),
            metrics.handled.clone(),
        );
        registry.register(
            format!("grpc_{side}_handling_seconds"),
            format!("Histogram of response latency (seconds) of gRPC calls handled by the {side}"),
            metrics.handling_seconds.clone(),
        );
        metrics
    }

    fn started(&self, labels: &RpcLabels) {
        self.started.get_or_create(labels).inc();
    }

    fn handled(&self, labels: &RpcLabels, code: &str, elapsed: Duration) {
        let handled = HandledLabels {
            rpc: labels.clone(),
            grpc_code: grpc_code::metric_label(code),
        };
        self.handled.get_or_create(&handled).inc();
        self.handling_seconds
            .get_or_create(labels)
            .observe(elapsed.as_secs_f64());
    }
}

/// The process-wide metrics: the registry behind `/metrics` and the families every service shares.
pub struct Metrics {
    registry: Mutex<Registry>,
    server: RpcSideMetrics,
    client: RpcSideMetrics,
    panics: Counter,
    auth_failures: Family<ReasonLabels, Counter>,
    rate_limited: Family<ReasonLabels, Counter>,
    load_shed: Counter,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let server = RpcSideMetrics::register(&mut registry, "server");
        let client = RpcSideMetrics::register(&mut registry, "client");
        let panics = Counter::default();
        registry.register(
            "panics",
            "Handler panics caught and answered with INTERNAL",
            panics.clone(),
        );
        let auth_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "auth_failures",
            "Requests refused by authentication, by reason",
            auth_failures.clone(),
        );
        let rate_limited = Family::<ReasonLabels, Counter>::default();
        for reason in RateLimitReason::ALL {
            // Creating the series is the point; the guard is released at once.
            drop(rate_limited.get_or_create(&ReasonLabels {
                reason: reason.label(),
            }));
        }
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit, by reason",
            rate_limited.clone(),
        );
        let load_shed = Counter::default();
        registry.register(
            "load_shed",
            "Requests shed because the process was at its concurrency limit",
            load_shed.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            server,
            client,
            panics,
            auth_failures,
            rate_limited,
            load_shed,
        }
    }

    /// Counts an inbound call as started (`grpc_server_started_total`).
    pub fn rpc_server_started(&self, labels: &RpcLabels) {
        self.server.started(labels);
    }

    /// Counts an inbound call as handled with `code`, the canonical code name from
    /// [`grpc_code_name`](crate::grpc_code_name) (`grpc_server_handled_total`), and observes its latency
    /// (`grpc_server_handling_seconds`).
    pub fn rpc_server_handled(&self, labels: &RpcLabels, code: &str, elapsed: Duration) {
        self.server.handled(labels, code, elapsed);
    }

    /// Counts an outbound call as started (`grpc_client_started_total`).
    pub fn rpc_client_started(&self, labels: &RpcLabels) {
        self.client.started(labels);
    }

    /// Counts an outbound call as handled with `code` (a canonical code name) and observes its latency
    /// (`grpc_client_handled_total`, `grpc_client_handling_seconds`).
    pub fn rpc_client_handled(&self, labels: &RpcLabels, code: &str, elapsed: Duration) {
        self.client.handled(labels, code, elapsed);
    }

    /// Counts a handler panic turned into `INTERNAL` (`panics_total`, which must stay at 0).
    pub fn panic_caught(&self) {
        self.panics.inc();
    }

    /// Counts a request refused by authentication (`auth_failures_total{reason}`); `reason` is a fixed
    /// word such as `missing` or `expired`, never caller input.
    pub fn auth_failure(&self, reason: &'static str) {
        self.auth_failures
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Exports `auth_failures_total{reason}` at 0 before the first refusal of that kind, so an alert
    /// on its rate sees a number rather than no data.
    pub fn declare_auth_failure(&self, reason: &'static str) {
        drop(self.auth_failures.get_or_create(&ReasonLabels { reason }));
    }

    /// Counts a request refused by a limit (`rate_limited_total{reason}`).
    pub fn rate_limited(&self, reason: RateLimitReason) {
        self.rate_limited
            .get_or_create(&ReasonLabels {
                reason: reason.label(),
            })
            .inc();
    }

    /// Counts a request shed at the concurrency limit (`load_shed_total`).
    pub fn load_shed(&self) {
        self.load_shed.inc();
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        // A panic while registering leaves the registry usable: each registration is one push.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The process-wide metrics, created on first use.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

/// Adds a service's own metric (domain gauges, counters, histograms) to the process-wide registry.
///
/// The encoder appends `_total` to counters, so register `saga_terminal`, not `saga_terminal_total`.
/// Register each metric once per process: under `tenure up` four services share the registry, so a
/// metric two services both record is registered by shared code and handed to both.
pub fn register(name: &str, help: &str, metric: impl Metric) {
    metrics().registry().register(name, help, metric);
}

/// Every registered metric in the OpenMetrics text format, as served on `/metrics`.
pub fn encode_metrics() -> String {
    let mut text = String::new();
    // Writing to a String cannot fail, and a metric's own encoder has no failure path.
    let _ = prometheus_client::encoding::text::encode(&mut text, &metrics().registry());
    text
}
