use serde::{Deserialize, Serialize};
use tenure_domain::rate::Quota;

/// Limits and behaviour shared by every listener of a process (quality.md §1.7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Largest request message a service decodes; tonic's own default (4 MiB) is too generous.
    pub max_decoding_message_bytes: usize,
    /// Largest response message a service encodes; list RPCs paginate well below it.
    pub max_encoding_message_bytes: usize,
    /// Upper bound for unary deadlines: min(client `grpc-timeout`, this) applies.
    pub unary_deadline_cap_secs: u64,
    /// Calls in flight across every listener of the process before new calls are shed.
    pub max_in_flight: usize,
    /// Concurrent calls per connection.
    pub concurrency_limit_per_connection: usize,
    /// HTTP/2 concurrent streams per connection.
    pub max_concurrent_streams: u32,
    /// HTTP/2 keepalive ping interval.
    pub http2_keepalive_interval_secs: u64,
    /// Connections are closed (GOAWAY) after this age; streaming clients resume from their cursor.
    pub max_connection_age_secs: u64,
    /// After shutdown starts and health reports NOT_SERVING, how long to keep serving so probes and
    /// load balancers notice.
    pub drain_grace_secs: u64,
    /// How long in-flight calls may run after the drain before the listener is closed.
    pub shutdown_timeout_secs: u64,
    /// Serve gRPC reflection (v1 and v1alpha). On in `tenure up`; refused in production.
    pub reflection: bool,
    /// Browser access over gRPC-web.
    pub cors: CorsSettings,
    /// Call rates per tenant and class of method, counted in each service's database so they hold
    /// across replicas.
    pub rate_limits: RateLimitSettings,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            max_decoding_message_bytes: 1024 * 1024,
            max_encoding_message_bytes: 4 * 1024 * 1024,
            unary_deadline_cap_secs: 30,
            max_in_flight: 1024,
            concurrency_limit_per_connection: 64,
            max_concurrent_streams: 100,
            http2_keepalive_interval_secs: 30,
            max_connection_age_secs: 3600,
            drain_grace_secs: 5,
            shutdown_timeout_secs: 25,
            reflection: false,
            cors: CorsSettings::default(),
            rate_limits: RateLimitSettings::default(),
        }
    }
}

impl ServerSettings {
    /// The message-size limits each service applies to its generated servers.
    pub fn limits(&self) -> Limits {
        Limits {
            max_decoding_message_bytes: self.max_decoding_message_bytes,
            max_encoding_message_bytes: self.max_encoding_message_bytes,
        }
    }

    /// Every problem with these settings for the given environment, at once.
    pub fn problems(&self, production: bool) -> Vec<String> {
        let mut problems = Vec::new();
        if self.max_decoding_message_bytes == 0 || self.max_encoding_message_bytes == 0 {
            problems.push("server message size limits must be positive".to_owned());
        }
        if self.unary_deadline_cap_secs == 0 {
            problems.push("server.unary_deadline_cap_secs must be positive".to_owned());
        }
        if self.max_in_flight == 0 {
            problems.push("server.max_in_flight must be positive".to_owned());
        }
        if production && self.reflection {
            problems.push("server.reflection must be off in production".to_owned());
        }
        if production && self.cors.allow_localhost {
            problems.push("server.cors.allow_localhost must be off in production".to_owned());
        }
        problems.extend(self.rate_limits.read.problems("server.rate_limits.read"));
        problems.extend(
            self.rate_limits
                .mutation
                .problems("server.rate_limits.mutation"),
        );
        if self.cors.allowed_origins.iter().any(|origin| origin == "*") {
            problems.push(
                "server.cors.allowed_origins lists origins explicitly; '*' is refused".to_owned(),
            );
        }
        problems
    }
}

/// Call rates per caller (quality.md §1.7), as GCRA quotas: a customer's calls count against its
/// tenant, an operator's or billing system's against its subject, and Tenure's own services are never
/// limited (a saga step must never be refused by a limiter; the sagas' own concurrency bounds them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Methods whose request has no `idempotency_key`: reads, and streams once when opened.
    pub read: Quota,
    /// Methods whose request carries an `idempotency_key`: every mutating method.
    pub mutation: Quota,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            read: Quota::new(50, 100),
            mutation: Quota::new(5, 20),
        }
    }
}

/// Which browser origins may call over gRPC-web.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsSettings {
    /// Exact origins, e.g. `https://marketplace.example.com`.
    pub allowed_origins: Vec<String>,
    /// Also allow `http://localhost:*` and `http://127.0.0.1:*` (local development with `tenure up`).
    pub allow_localhost: bool,
}

/// Message-size limits a service applies to each generated server it registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// See [`ServerSettings::max_decoding_message_bytes`].
    pub max_decoding_message_bytes: usize,
    /// See [`ServerSettings::max_encoding_message_bytes`].
    pub max_encoding_message_bytes: usize,
}

/// Applies a [`Limits`] value to a generated tonic server, which has the two size setters as inherent
/// methods rather than through a trait: `tenure_grpc::limited!(OrderServiceServer::new(handler), limits)`.
#[macro_export]
macro_rules! limited {
    ($server:expr, $limits:expr) => {
        $server
            .max_decoding_message_size($limits.max_decoding_message_bytes)
            .max_encoding_message_size($limits.max_encoding_message_bytes)
    };
}
