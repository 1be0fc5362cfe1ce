//! The process-wide [`Host`] and the per-listener [`ServerBuilder`].

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures::future::BoxFuture;
use http::{HeaderName, HeaderValue, Method};
use tenure_domain::SystemClock;
use tenure_domain::rate::RateLimitStore;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::Service;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::{Authentication, TokenVerifier};
use crate::deadline::DeadlineLayer;
use crate::guard::GuardLayer;
use crate::health::ReadinessProbe;
use crate::identity::ServiceKind;
use crate::limit::InFlightLayer;
use crate::policy::{Authorization, MethodPolicy};
use crate::rate_limit::{Limiter, RateLimitLayer};
use crate::settings::{CorsSettings, Limits, ServerSettings};
use crate::telemetry::ServerTelemetryLayer;

/// How long tasks get to finish after their connections were closed at the shutdown timeout.
const ABORT_GRACE: Duration = Duration::from_secs(2);

/// How often readiness probes run while serving.
const READINESS_INTERVAL: Duration = Duration::from_secs(1);

/// One per process: the shutdown signals, the task tracker, the in-flight budget shared by every
/// listener, and the token verifier.
#[derive(Clone)]
pub struct Host {
    inner: Arc<HostInner>,
}

struct HostInner {
    settings: ServerSettings,
    /// Cancelled first: workers stop claiming work, streams end with UNAVAILABLE, health turns NOT_SERVING.
    draining: CancellationToken,
    /// Cancelled after the drain grace: listeners stop accepting and finish in-flight calls.
    stopping: CancellationToken,
    /// Cancelled when the shutdown timeout has passed: listeners drop their remaining connections, so a
    /// long-lived stream cannot hold the process open.
    aborting: CancellationToken,
    tracker: TaskTracker,
    in_flight: Arc<Semaphore>,
    verifier: Arc<TokenVerifier>,
    health: std::sync::Mutex<Vec<(HealthReporter, Vec<String>)>>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").finish_non_exhaustive()
    }
}

impl Host {
    /// A host with the given settings and token verifier.
    pub fn new(settings: ServerSettings, verifier: TokenVerifier) -> Self {
        let in_flight = Arc::new(Semaphore::new(settings.max_in_flight));
        for failure in crate::auth::AuthFailure::ALL {
            tenure_telemetry::metrics().declare_auth_failure(failure.reason());
        }
        Self {
            inner: Arc::new(HostInner {
                settings,
                draining: CancellationToken::new(),
                stopping: CancellationToken::new(),
                aborting: CancellationToken::new(),
                tracker: TaskTracker::new(),
                in_flight,
                verifier: Arc::new(verifier),
                health: std::sync::Mutex::new(Vec::new()),
            }),
        }
    }

    /// The server settings.
    pub fn settings(&self) -> &ServerSettings {
        &self.inner.settings
    }

    /// Cancelled when the process starts draining. Workers stop claiming work and release what they
    /// hold; streaming handlers end their streams with UNAVAILABLE so clients resume elsewhere.
    pub fn draining(&self) -> CancellationToken {
        self.inner.draining.clone()
    }

    /// Spawns a task that shutdown waits for (bare `tokio::spawn` is banned: it would escape the drain).
    pub fn spawn<F>(&self, name: &'static str, task: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        tracing::debug!(task = name, "task started");
        self.inner.tracker.spawn(task)
    }

    /// A builder for one listener serving `kind`.
    pub fn builder(&self, kind: ServiceKind) -> ServerBuilder {
        ServerBuilder {
            host: self.clone(),
            kind,
            routes: RoutesBuilder::default(),
            service_names: Vec::new(),
            policies: Vec::new(),
            workers: Vec::new(),
            probes: Vec::new(),
            rate_limits: None,
        }
    }

    /// Drains and stops every listener and worker: health turns NOT_SERVING at once (open `Watch`
    /// streams see it), the drain grace lets probes notice, listeners stop accepting, and in-flight calls
    /// get the shutdown timeout to finish.
    pub async fn shutdown(&self) {
        let settings = &self.inner.settings;
        self.inner.draining.cancel();
        let reporters: Vec<(HealthReporter, Vec<String>)> = self
            .inner
            .health
            .lock()
            .map(|guard| guard.clone())
            .unwrap_or_default();
        for (reporter, names) in &reporters {
            set_status(reporter, names, ServingStatus::NotServing).await;
        }
        tracing::info!(grace_secs = settings.drain_grace_secs, "draining");
        tokio::time::sleep(Duration::from_secs(settings.drain_grace_secs)).await;
        self.inner.stopping.cancel();
        self.inner.tracker.close();
        let timeout = Duration::from_secs(settings.shutdown_timeout_secs);
        if tokio::time::timeout(timeout, self.inner.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                timeout_secs = settings.shutdown_timeout_secs,
                "calls still running after the shutdown timeout; closing their connections"
            );
            self.inner.aborting.cancel();
            if tokio::time::timeout(ABORT_GRACE, self.inner.tracker.wait())
                .await
                .is_err()
            {
                tracing::warn!("tasks still running after their connections were closed");
            }
        }
    }
}

async fn set_status(reporter: &HealthReporter, names: &[String], status: ServingStatus) {
    for name in names {
        reporter.set_service_status(name.as_str(), status).await;
    }
}

/// Collects one listener's services, policy table, workers and readiness probes, then serves them.
pub struct ServerBuilder {
    host: Host,
    kind: ServiceKind,
    routes: RoutesBuilder,
    service_names: Vec<&'static str>,
    policies: Vec<MethodPolicy>,
    workers: Vec<(&'static str, BoxFuture<'static, ()>)>,
    probes: Vec<Arc<dyn ReadinessProbe>>,
    rate_limits: Option<Arc<dyn RateLimitStore>>,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("kind", &self.kind)
            .field("services", &self.service_names)
            .finish_non_exhaustive()
    }
}

impl ServerBuilder {
    /// The service this listener serves.
    pub fn kind(&self) -> ServiceKind {
        self.kind
    }

    /// The host, for spawning tasks and watching the drain.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The message-size limits to apply to each generated server before adding it.
    pub fn limits(&self) -> Limits {
        self.host.settings().limits()
    }

    /// Mounts a generated gRPC service; it is advertised by health and reflection.
    pub fn add_service<S>(&mut self, service: S) -> &mut Self
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.service_names.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// Adds authorization entries; every published method of a mounted service needs one.
    pub fn policy(&mut self, entries: &[MethodPolicy]) -> &mut Self {
        self.policies.extend_from_slice(entries);
        self
    }

    /// Runs a background worker for the life of the listener; it must stop when
    /// [`Host::draining`] is cancelled.
    pub fn add_worker<F>(&mut self, name: &'static str, worker: F) -> &mut Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.workers.push((name, Box::pin(worker)));
        self
    }

    /// Adds a condition for SERVING.
    pub fn add_readiness(&mut self, probe: Arc<dyn ReadinessProbe>) -> &mut Self {
        self.probes.push(probe);
        self
    }

    /// Limits callers' rates (`server.rate_limits`) with buckets kept in `store`: the service's own
    /// database, so every replica of the service shares them. A listener without a store is not
    /// rate-limited.
    pub fn rate_limits(&mut self, store: Arc<dyn RateLimitStore>) -> &mut Self {
        self.rate_limits = Some(store);
        self
    }

    /// Starts serving on `listener` until the host shuts down.
    pub async fn serve(self, listener: TcpListener) -> anyhow::Result<ServerHandle> {
        let local_addr = listener
            .local_addr()
            .context("reading the listener address")?;
        let ServerBuilder {
            host,
            kind,
            mut routes,
            service_names,
            policies,
            workers,
            probes,
            rate_limits,
        } = self;
        let settings = host.settings().clone();

        let (reporter, health_service) = tonic_health::server::health_reporter();
        let mut health_names: Vec<String> = vec![String::new()];
        health_names.extend(service_names.iter().map(|name| (*name).to_owned()));
        set_status(&reporter, &health_names, ServingStatus::NotServing).await;
        if let Ok(mut registered) = host.inner.health.lock() {
            registered.push((reporter.clone(), health_names.clone()));
        }
        routes.add_service(health_service);

        if settings.reflection {
            let mut names: Vec<String> = service_names.iter().map(|n| (*n).to_owned()).collect();
            names.push("grpc.health.v1.Health".to_owned());
            names.push("grpc.reflection.v1.ServerReflection".to_owned());
            names.push("grpc.reflection.v1alpha.ServerReflection".to_owned());
            let configure = || {
                // Both reflection versions describe both reflection services, so a client that lists
                // services through one version can resolve every name it was given.
                let mut builder = tonic_reflection::server::Builder::configure()
                    .include_reflection_service(false)
                    .register_encoded_file_descriptor_set(tenure_proto::FILE_DESCRIPTOR_SET)
                    .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                    // Error details travel in `grpc-status-details-bin`; without their descriptors
                    // grpcurl and buf curl print a BadRequest as base64 instead of its violations.
                    .register_file_descriptor_set(crate::descriptor::rpc_error_details())
                    .register_encoded_file_descriptor_set(
                        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
                    )
                    .register_encoded_file_descriptor_set(
                        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
                    );
                for name in &names {
                    builder = builder.with_service_name(name.clone());
                }
                builder
            };
            // grpcurl before 1.9 speaks only v1alpha; buf curl speaks v1.
            routes.add_service(configure().build_v1().context("building reflection v1")?);
            routes.add_service(
                configure()
                    .build_v1alpha()
                    .context("building reflection v1alpha")?,
            );
        }

        for (name, worker) in workers {
            host.spawn(name, worker);
        }
        host.spawn(
            "readiness",
            readiness_loop(reporter, health_names, probes, host.draining(), kind),
        );

        let stack = tower::ServiceBuilder::new()
            // Preflights carry no credentials, so they are answered before anything asks for some.
            .layer(cors_layer(&settings.cors))
            // Below this line every request is plain gRPC, whatever the browser sent; the telemetry layer
            // therefore sees real trailers and the same W3C headers on both paths.
            .layer(tonic_web::GrpcWebLayer::new())
            // Span and RED metrics outside the remaining layers, so their rejections are traced and counted.
            .layer(ServerTelemetryLayer {
                owner: kind.service_name(),
            })
            // Shed instead of queueing: a call over the process budget is refused at once.
            .layer(InFlightLayer::new(Arc::clone(&host.inner.in_flight)))
            // min(grpc-timeout, cap) for unary calls; streams are bounded by the connection age instead.
            .layer(DeadlineLayer::new(Duration::from_secs(
                settings.unary_deadline_cap_secs,
            )))
            // Exactly one Principal in the extensions, or UNAUTHENTICATED; health and reflection are exempt.
            .layer(GuardLayer(Authentication::new(
                Arc::clone(&host.inner.verifier),
                kind.audience(),
            )))
            // Function-level authorization before any handler can touch the database.
            .layer(GuardLayer(Authorization::new(&policies)))
            // Rates per tenant: it needs the principal, and a call the policy refuses costs no write.
            // Real time, never a sandbox's business clock: a rate is about how fast calls arrive.
            .layer(RateLimitLayer::new(rate_limits.map(|store| {
                Limiter::new(store, settings.rate_limits, Arc::new(SystemClock))
            })))
            .into_inner();

        let stopping = host.inner.stopping.clone();
        let aborting = host.inner.aborting.clone();
        let server = tonic::transport::Server::builder()
            // gRPC-web from browsers arrives over HTTP/1.1.
            .accept_http1(true)
            .max_concurrent_streams(settings.max_concurrent_streams)
            .concurrency_limit_per_connection(settings.concurrency_limit_per_connection)
            .load_shed(true)
            .http2_keepalive_interval(Some(Duration::from_secs(
                settings.http2_keepalive_interval_secs,
            )))
            .http2_max_pending_accept_reset_streams(Some(20))
            .http2_max_header_list_size(16 * 1024)
            .max_connection_age(Duration::from_secs(settings.max_connection_age_secs))
            .layer(stack)
            .add_routes(routes.routes());
        let incoming = TcpListenerStream::new(listener);
        let join = host.spawn("grpc-server", async move {
            let serving = server.serve_with_incoming_shutdown(incoming, stopping.cancelled_owned());
            tokio::select! {
                served = serving => {
                    if let Err(error) = served {
                        tracing::error!(service = kind.name(), error = %error, "grpc server stopped with an error");
                    }
                }
                // Dropping the server closes every connection it still holds.
                () = aborting.cancelled() => {}
            }
        });
        tracing::info!(service = kind.name(), address = %local_addr, "listening");
        Ok(ServerHandle { local_addr, join })
    }
}

/// A running listener.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    join: JoinHandle<()>,
}

impl ServerHandle {
    /// The address the listener is bound to (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Waits until the listener has stopped.
    pub async fn stopped(self) {
        if let Err(error) = self.join.await {
            tracing::error!(error = %error, "grpc server task failed");
        }
    }
}

async fn readiness_loop(
    reporter: HealthReporter,
    names: Vec<String>,
    probes: Vec<Arc<dyn ReadinessProbe>>,
    draining: CancellationToken,
    kind: ServiceKind,
) {
    let mut last: Option<ServingStatus> = None;
    loop {
        let mut failure = None;
        for probe in &probes {
            if let Err(reason) = probe.check().await {
                failure = Some((probe.name(), reason));
                break;
            }
        }
        // A probe that finished after the drain began must not flip the status back to SERVING.
        if draining.is_cancelled() {
            break;
        }
        let status = if failure.is_none() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        if last != Some(status) {
            match &failure {
                Some((probe, reason)) => {
                    tracing::warn!(service = kind.name(), probe, reason = %reason, "not ready");
                }
                None => tracing::info!(service = kind.name(), "ready"),
            }
            set_status(&reporter, &names, status).await;
            last = Some(status);
        }
        tokio::select! {
            () = draining.cancelled() => break,
            () = tokio::time::sleep(READINESS_INTERVAL) => {}
        }
    }
    set_status(&reporter, &names, ServingStatus::NotServing).await;
}

/// CORS for gRPC-web: tonic-web has none of its own. Browsers can read field violations only because
/// `grpc-status-details-bin` is exposed; tokens travel in a header, so credentials mode stays off.
fn cors_layer(settings: &CorsSettings) -> CorsLayer {
    let allowed: Vec<HeaderValue> = settings
        .allowed_origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    let allow_localhost = settings.allow_localhost;
    let origin = AllowOrigin::predicate(move |origin: &HeaderValue, _| {
        allowed.contains(origin) || (allow_localhost && is_localhost_origin(origin))
    });
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([Method::POST])
        .allow_headers(header_names(&[
            "authorization",
            "content-type",
            "x-grpc-web",
            "x-user-agent",
            "grpc-timeout",
            "traceparent",
            "tracestate",
            "idempotency-key",
        ]))
        .expose_headers(header_names(&[
            "grpc-status",
            "grpc-message",
            "grpc-status-details-bin",
        ]))
        .max_age(Duration::from_secs(600))
}

fn header_names(names: &[&'static str]) -> Vec<HeaderName> {
    names
        .iter()
        .map(|name| HeaderName::from_static(name))
        .collect()
}

fn is_localhost_origin(origin: &HeaderValue) -> bool {
    let Ok(text) = origin.to_str() else {
        return false;
    };
    let Some(rest) = text.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(':').next().unwrap_or(rest);
    host == "localhost" || host == "127.0.0.1"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_localhost_counts_as_local() {
        let origin = |text: &str| HeaderValue::from_str(text).expect("header");
        assert!(is_localhost_origin(&origin("http://localhost:5173")));
        assert!(is_localhost_origin(&origin("http://127.0.0.1:8080")));
        assert!(!is_localhost_origin(&origin("http://localhost.evil.com")));
        assert!(!is_localhost_origin(&origin("https://example.com")));
    }
}
