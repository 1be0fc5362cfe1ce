//! Per-caller rate limits (quality.md §1.7, S12): GCRA buckets per tenant and class of method, kept in
//! the service's own database (see `tenure_db::rate_limit`) so every replica draws from the same bucket.
//!
//! The rule, applied to every published method after authentication and authorization:
//! - **Who**: a customer's calls count against its tenant; an operator's or a billing system's (no
//!   tenant) against its token subject; Tenure's own services are never limited, because a saga step
//!   refused by a limiter would stall an order, and the sagas' own concurrency already bounds them.
//! - **Which class**: a method whose request carries an `idempotency_key` (every mutating method,
//!   quality.md §3.1) is a `mutation`; every other method is a `read`. A stream counts once, as a
//!   read, when it is opened.
//!
//! A refusal is `RESOURCE_EXHAUSTED` with `RetryInfo` (when the next call would pass) and `ErrorInfo`
//! reason `RATE_LIMITED`, counted as `rate_limited_total{reason="tenant_rate"}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use tenure_domain::SharedClock;
use tenure_domain::rate::{Admission, Quota, RateKey, RateLimitStore};
use tenure_telemetry::RateLimitReason;
use tonic::Status;
use tower::Service;

use crate::auth::{Principal, Role};
use crate::descriptor;
use crate::settings::RateLimitSettings;
use crate::status;

/// The class of methods without an idempotency key.
pub const READ_CLASS: &str = "read";

/// The class of methods with an idempotency key.
pub const MUTATION_CLASS: &str = "mutation";

/// The longest a check may take before the call goes ahead unchecked (see [`Limiter::admit`]).
const CHECK_TIMEOUT: Duration = Duration::from_millis(500);

/// At most one warning about a failing store per this many microseconds, so an outage does not
/// log once per call.
const FAILURE_WARNING_INTERVAL_MICROS: i64 = 30_000_000;

/// The bucket and class a call draws from, or `None` for calls that are never limited: Tenure's own
/// services, calls without a principal (health, reflection) and paths that are no published method
/// (the router answers those UNIMPLEMENTED).
pub fn rate_key(principal: &Principal, path: &str) -> Option<RateKey> {
    let method = descriptor::method_info(path)?;
    let bucket = match (principal.role, principal.tenant_id) {
        (Role::Service, _) => return None,
        (Role::Customer, Some(tenant)) => format!("tenant:{tenant}"),
        // The table is `operational`: it must not hold a login identity, so a subject is kept as a
        // digest (enough to tell buckets apart, nothing to read back).
        (_, _) => {
            let digest = hex::encode(Sha256::digest(principal.subject.as_bytes()));
            format!("subject:{}", &digest[..32])
        }
    };
    let class = if method.takes_idempotency_key {
        MUTATION_CLASS
    } else {
        READ_CLASS
    };
    Some(RateKey { bucket, class })
}

/// Decides calls against a store with the configured quotas, on the real clock.
pub(crate) struct Limiter {
    store: Arc<dyn RateLimitStore>,
    settings: RateLimitSettings,
    clock: SharedClock,
    last_warning: AtomicI64,
}

impl Limiter {
    pub(crate) fn new(
        store: Arc<dyn RateLimitStore>,
        settings: RateLimitSettings,
        clock: SharedClock,
    ) -> Self {
        Self {
            store,
            settings,
            clock,
            last_warning: AtomicI64::new(i64::MIN),
        }
    }

    fn quota(&self, class: &str) -> Quota {
        if class == MUTATION_CLASS {
            self.settings.mutation
        } else {
            self.settings.read
        }
    }

    /// `None` lets the call through; `Some` is the refusal to answer with.
    ///
    /// A check that fails (the database is down or slower than [`CHECK_TIMEOUT`]) lets the call
    /// through, with a warning: failing open. A limiter protects the database and the AWS budget from
    /// one tenant's excess; it must not turn a database blip into refusals of every tenant. When the
    /// database is really down the handler's own queries answer UNAVAILABLE anyway, so refusing here
    /// would only add a second way to fail, and one that says RESOURCE_EXHAUSTED or INTERNAL about a
    /// caller who did nothing wrong. Load shedding (`limit.rs`) still bounds the process meanwhile.
    async fn admit(&self, key: &RateKey, tenant: bool) -> Option<Status> {
        let now = self.clock.now().timestamp_micros();
        let quota = self.quota(key.class);
        let decision = tokio::time::timeout(CHECK_TIMEOUT, self.store.admit(key, quota, now)).await;
        match decision {
            Ok(Ok(Admission::Allowed)) => None,
            Ok(Ok(Admission::Refused { retry_after })) => {
                tenure_telemetry::metrics().rate_limited(RateLimitReason::TenantRate);
                tracing::debug!(class = key.class, retry_after_ms = %retry_after.as_millis(), "call over its rate");
                Some(refusal(retry_after, tenant))
            }
            Ok(Err(error)) => {
                self.warn_failing(now, &error.to_string());
                None
            }
            Err(_elapsed) => {
                self.warn_failing(now, "the check timed out");
                None
            }
        }
    }

    fn warn_failing(&self, now: i64, error: &str) {
        let last = self.last_warning.load(Ordering::Relaxed);
        if now.saturating_sub(last) < FAILURE_WARNING_INTERVAL_MICROS {
            return;
        }
        if self
            .last_warning
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            tracing::warn!(
                error,
                "the rate limit check failed; calls go ahead unchecked until it works again"
            );
        }
    }
}

/// RESOURCE_EXHAUSTED with `RetryInfo` and a message that says what to do, naming no other tenant.
fn refusal(retry_after: Duration, tenant: bool) -> Status {
    // Whole milliseconds, rounded up, so retrying after the number given always passes.
    let millis = retry_after.as_micros().div_ceil(1000).max(1);
    let whose = if tenant { "this tenant" } else { "this caller" };
    status::retry_after(
        Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX)),
        status::RATE_LIMITED,
        format!("Too many requests for {whose}; retry after {millis} ms."),
    )
}

/// Puts the limiter, when the service handed one to its builder, in front of the handlers.
#[derive(Clone)]
pub(crate) struct RateLimitLayer {
    limiter: Option<Arc<Limiter>>,
}

impl RateLimitLayer {
    pub(crate) fn new(limiter: Option<Limiter>) -> Self {
        Self {
            limiter: limiter.map(Arc::new),
        }
    }
}

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimited {
            inner,
            limiter: self.limiter.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct RateLimited<S> {
    inner: S,
    limiter: Option<Arc<Limiter>>,
}

impl<S, ReqBody> Service<http::Request<ReqBody>> for RateLimited<S>
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
        let checked = self.limiter.as_ref().and_then(|limiter| {
            let principal = request.extensions().get::<Principal>()?;
            let key = rate_key(principal, request.uri().path())?;
            Some((Arc::clone(limiter), key, principal.tenant_id.is_some()))
        });
        let Some((limiter, key, tenant)) = checked else {
            return Box::pin(self.inner.call(request));
        };
        // The service made ready by `poll_ready` goes into the future; a fresh clone stays for the
        // next call (tower's usual way to call a service after an await).
        let fresh = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, fresh);
        Box::pin(async move {
            if let Some(refused) = limiter.admit(&key, tenant).await {
                return Ok(refused.into_http());
            }
            ready.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, subject: &str, tenant: Option<uuid::Uuid>) -> Principal {
        Principal {
            subject: subject.into(),
            role,
            tenant_id: tenant,
            permissions: Vec::new(),
        }
    }

    #[test]
    fn customers_count_against_their_tenant_and_others_against_a_digest() {
        let tenant = uuid::Uuid::new_v4();
        let create = "/tenure.orders.v1.OrderService/CreateOrder";
        let get = "/tenure.orders.v1.OrderService/GetOrder";
        let customer = principal(Role::Customer, "user-1", Some(tenant));
        assert_eq!(
            rate_key(&customer, create),
            Some(RateKey {
                bucket: format!("tenant:{tenant}"),
                class: MUTATION_CLASS
            })
        );
        assert_eq!(
            rate_key(&customer, get).map(|key| key.class),
            Some(READ_CLASS)
        );
        let operator = rate_key(&principal(Role::Operator, "ops-1", None), get).expect("limited");
        assert!(operator.bucket.starts_with("subject:"));
        assert!(!operator.bucket.contains("ops-1"));
        let service = principal(Role::Service, "svc:orders", Some(tenant));
        assert_eq!(rate_key(&service, create), None);
        assert_eq!(
            rate_key(&customer, "/tenure.orders.v1.OrderService/Nope"),
            None
        );
    }

    #[test]
    fn a_refusal_says_when_to_retry_and_names_no_one() {
        let refused = refusal(Duration::from_micros(19_001), true);
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert_eq!(
            refused.message(),
            "Too many requests for this tenant; retry after 20 ms."
        );
    }
}
