//! Per-caller rate limits on a real listener, with buckets in memory (the database store has its own
//! tests in tenure-db): who is limited, by which bucket, and how a refusal reads.

use std::sync::Arc;
use std::time::Duration;

use tenure_domain::rate::{AdmitFuture, MemoryRateLimitStore, Quota, RateKey, RateLimitStore};
use tenure_grpc::{RateLimitSettings, Role, ServerSettings, ServiceKind, status};
use tenure_proto::purge::v1::purge_participant_client::PurgeParticipantClient;
use tenure_testkit::TestHost;
use tenure_testkit::grpc::channel;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;

use crate::{PLAN, Probe, bearer, plan_request, quick_settings};

/// Serves the probe with `store` for its buckets and a read quota of 1 a second, bursts of 3.
async fn serve_limited(store: Arc<dyn RateLimitStore>) -> (TestHost, Channel) {
    let host = TestHost::with_settings(ServerSettings {
        rate_limits: RateLimitSettings {
            read: Quota::new(1, 3),
            mutation: Quota::new(1, 1),
        },
        ..quick_settings()
    })
    .expect("host");
    let mut builder = host.builder(ServiceKind::DataPurge);
    builder
        .policy(&[tenure_grpc::MethodPolicy {
            method: PLAN,
            roles: &[Role::Customer, Role::Operator, Role::Service],
            service_callers: &["orders"],
            // The probe's peers act for no tenant in particular.
            service_across_tenants: true,
        }])
        .add_service(
            tenure_proto::purge::v1::purge_participant_server::PurgeParticipantServer::new(
                Probe::default(),
            ),
        )
        .rate_limits(store);
    let handle = host.serve(builder).await.expect("serve");
    let channel = channel(handle.local_addr()).await.expect("channel");
    (host, channel)
}

fn tenant_rate_refusals() -> f64 {
    tenure_telemetry::encode_metrics()
        .lines()
        .find_map(|line| line.strip_prefix("rate_limited_total{reason=\"tenant_rate\"} "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_tenant_over_its_burst_is_refused_with_retry_info_and_no_one_else_is() {
    let (host, channel) = serve_limited(Arc::new(MemoryRateLimitStore::default())).await;
    let mut client = PurgeParticipantClient::new(channel);
    let busy = host.token(Role::Customer, Some(uuid::Uuid::new_v4()));
    let quiet = host.token(Role::Customer, Some(uuid::Uuid::new_v4()));
    let before = tenant_rate_refusals();

    for _ in 0..3 {
        client
            .plan(plan_request("who", &[bearer(&busy)]))
            .await
            .expect("within the burst");
    }
    let refused = client
        .plan(plan_request("who", &[bearer(&busy)]))
        .await
        .expect_err("over the burst");
    assert_eq!(refused.code(), Code::ResourceExhausted);
    let details = refused.get_error_details();
    let delay = details
        .retry_info()
        .and_then(|info| info.retry_delay)
        .expect("retry info");
    assert!(
        delay > Duration::ZERO && delay <= Duration::from_secs(1),
        "{delay:?}"
    );
    assert_eq!(
        details.error_info().expect("error info").reason,
        status::RATE_LIMITED
    );
    assert!(
        refused
            .message()
            .starts_with("Too many requests for this tenant; retry after "),
        "{}",
        refused.message()
    );
    assert!(tenant_rate_refusals() > before);

    // Another tenant has its own bucket; services are never limited.
    client
        .plan(plan_request("who", &[bearer(&quiet)]))
        .await
        .expect("another tenant");
    let service = host.service_token(ServiceKind::Orders, ServiceKind::DataPurge);
    for _ in 0..10 {
        client
            .plan(plan_request("who", &[bearer(&service)]))
            .await
            .expect("services are not limited");
    }

    // Waiting as long as asked is enough.
    tokio::time::sleep(delay).await;
    client
        .plan(plan_request("who", &[bearer(&busy)]))
        .await
        .expect("after the delay");
    host.shutdown().await;
}

#[tokio::test]
async fn operators_count_against_their_own_subject() {
    let (host, channel) = serve_limited(Arc::new(MemoryRateLimitStore::default())).await;
    let mut client = PurgeParticipantClient::new(channel);
    let first = host
        .authority()
        .user_token(Role::Operator, "ops-1", None, &[], Duration::from_secs(60))
        .expect("token");
    let second = host
        .authority()
        .user_token(Role::Operator, "ops-2", None, &[], Duration::from_secs(60))
        .expect("token");
    for _ in 0..3 {
        client
            .plan(plan_request("who", &[bearer(&first)]))
            .await
            .expect("within the burst");
    }
    let refused = client
        .plan(plan_request("who", &[bearer(&first)]))
        .await
        .expect_err("over the burst");
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert!(
        refused.message().contains("this caller"),
        "{}",
        refused.message()
    );
    client
        .plan(plan_request("who", &[bearer(&second)]))
        .await
        .expect("another operator");
    host.shutdown().await;
}

/// A store whose database is down.
struct Broken;

impl RateLimitStore for Broken {
    fn admit<'a>(&'a self, _key: &'a RateKey, _quota: Quota, _now: i64) -> AdmitFuture<'a> {
        Box::pin(async { Err("connection refused".into()) })
    }
}

#[tokio::test]
async fn a_failing_store_lets_calls_through() {
    let (host, channel) = serve_limited(Arc::new(Broken)).await;
    let mut client = PurgeParticipantClient::new(channel);
    let customer = host.token(Role::Customer, Some(uuid::Uuid::new_v4()));
    for _ in 0..10 {
        client
            .plan(plan_request("who", &[bearer(&customer)]))
            .await
            .expect("fails open");
    }
    host.shutdown().await;
}
