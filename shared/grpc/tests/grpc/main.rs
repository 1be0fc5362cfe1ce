//! The server kit on real listeners: what every Tenure call goes through before a handler runs, checked
//! with a small probe service and the same tokens, limits and layers the services use.
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a failed setup step is a failed test, and one handler panics on purpose"
)]

use std::sync::Arc;
use std::time::Duration;

use tenure_grpc::{MethodPolicy, PeerChannel, Role, ServerSettings, ServiceKind, principal_from};
use tenure_proto::purge::v1::purge_participant_client::PurgeParticipantClient;
use tenure_proto::purge::v1::purge_participant_server::{PurgeParticipant, PurgeParticipantServer};
use tenure_proto::purge::v1::{PlanRequest, PlanResponse};
use tenure_testkit::TestHost;
use tenure_testkit::grpc::{call_empty, channel};
use tokio::sync::Notify;
use tonic::Code;
use tonic::transport::Channel;

mod rate_limits;
mod reflection;

const PLAN: &str = "/tenure.purge.v1.PurgeParticipant/Plan";

/// Answers with who called, sleeps, panics, reports the deadline it was given, or relays to a peer
/// probe, as the request's `purge_id` asks.
#[derive(Default)]
struct Probe {
    peer: Option<PeerChannel>,
    /// Notified when a `sleep` call has entered the handler, so a test knows it holds its slot.
    sleeping: Arc<Notify>,
}

#[tonic::async_trait]
impl PurgeParticipant for Probe {
    async fn plan(
        &self,
        request: tonic::Request<PlanRequest>,
    ) -> Result<tonic::Response<PlanResponse>, tonic::Status> {
        let principal = principal_from(&request)?.clone();
        match request.get_ref().purge_id.as_str() {
            "sleep" => {
                self.sleeping.notify_one();
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            "panic" => panic!("probe panicked on purpose"),
            "deadline" => {
                let received = request
                    .metadata()
                    .get("grpc-timeout")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                return Ok(tonic::Response::new(PlanResponse {
                    service: received,
                    entries: Vec::new(),
                }));
            }
            "relay" => {
                let peer = self
                    .peer
                    .clone()
                    .ok_or_else(|| tonic::Status::internal("no peer"))?;
                let answer = PurgeParticipantClient::new(peer)
                    .plan(PlanRequest {
                        purge_id: "deadline".to_owned(),
                        ..PlanRequest::default()
                    })
                    .await?;
                return Ok(answer);
            }
            _ => {}
        }
        let tenant = principal
            .tenant_id
            .map(|tenant| tenant.to_string())
            .unwrap_or_default();
        Ok(tonic::Response::new(PlanResponse {
            service: format!("{}|{}|{tenant}", principal.subject, principal.role),
            entries: Vec::new(),
        }))
    }
}

/// Serves the probe as data-purge, open to every user role and to orders.
async fn serve_probe(settings: ServerSettings) -> (TestHost, Channel) {
    let host = TestHost::with_settings(settings).expect("host");
    let (channel, _) = serve_probe_on(&host, Probe::default()).await;
    (host, channel)
}

/// Serves `probe` on `host`; returns its channel and address.
async fn serve_probe_on(host: &TestHost, probe: Probe) -> (Channel, std::net::SocketAddr) {
    let mut builder = host.builder(ServiceKind::DataPurge);
    builder
        .policy(&[MethodPolicy {
            method: PLAN,
            roles: &[Role::Customer, Role::Operator, Role::Service],
            service_callers: &["orders"],
            // The probe's peers act for no tenant in particular.
            service_across_tenants: true,
        }])
        .add_service(PurgeParticipantServer::new(probe));
    let handle = host.serve(builder).await.expect("serve");
    let channel = channel(handle.local_addr()).await.expect("channel");
    (channel, handle.local_addr())
}

fn quick_settings() -> ServerSettings {
    ServerSettings {
        drain_grace_secs: 0,
        shutdown_timeout_secs: 2,
        ..ServerSettings::default()
    }
}

fn plan_request(purge_id: &str, headers: &[(&'static str, String)]) -> tonic::Request<PlanRequest> {
    let mut request = tonic::Request::new(PlanRequest {
        purge_id: purge_id.to_owned(),
        ..PlanRequest::default()
    });
    for (name, value) in headers {
        request
            .metadata_mut()
            .insert(*name, value.parse().expect("metadata value"));
    }
    request
}

fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

#[tokio::test]
async fn the_tenant_comes_from_the_token_or_for_services_from_trusted_metadata_only() {
    let (host, channel) = serve_probe(quick_settings()).await;
    let mut client = PurgeParticipantClient::new(channel);
    let tenant = uuid::Uuid::new_v4();
    let customer = host.token(Role::Customer, Some(tenant));

    let answer = client
        .plan(plan_request("who", &[bearer(&customer)]))
        .await
        .expect("customer call");
    assert_eq!(
        answer.get_ref().service,
        format!("test-user|customer|{tenant}")
    );

    // A customer naming a tenant in metadata is refused outright (quality.md S6), even its own.
    for named in [uuid::Uuid::new_v4(), tenant] {
        let refused = client
            .plan(plan_request(
                "who",
                &[bearer(&customer), ("x-tenure-tenant", named.to_string())],
            ))
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), Code::PermissionDenied);
    }

    // A service acts for the tenant its metadata names, and must name a real UUID.
    let service = host.service_token(ServiceKind::Orders, ServiceKind::DataPurge);
    let answer = client
        .plan(plan_request(
            "who",
            &[bearer(&service), ("x-tenure-tenant", tenant.to_string())],
        ))
        .await
        .expect("service call");
    assert_eq!(
        answer.get_ref().service,
        format!("svc:orders|service|{tenant}")
    );
    let malformed = client
        .plan(plan_request(
            "who",
            &[
                bearer(&service),
                ("x-tenure-tenant", "not-a-uuid".to_owned()),
            ],
        ))
        .await
        .expect_err("refused");
    assert_eq!(malformed.code(), Code::InvalidArgument);
    host.shutdown().await;
}

#[tokio::test]
async fn credentials_anywhere_but_a_well_formed_bearer_header_are_refused_alike() {
    let (host, channel) = serve_probe(quick_settings()).await;
    let mut client = PurgeParticipantClient::new(channel.clone());
    let token = host.token(Role::Operator, None);
    let attempts: Vec<Vec<(&'static str, String)>> = vec![
        vec![],
        vec![("authorization", "Bearer ".to_owned())],
        vec![("authorization", "Bearer abc.def".to_owned())],
        vec![("authorization", format!("Basic {token}"))],
        vec![("cookie", format!("access_token={token}"))],
        vec![("authorization", format!("Bearer {token}x"))],
    ];
    let mut messages = Vec::new();
    for headers in attempts {
        let status = client
            .plan(plan_request("who", &headers))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::Unauthenticated, "{headers:?}");
        messages.push(status.message().to_owned());
    }
    // One fixed message: a caller cannot learn which check failed (quality.md S1).
    messages.dedup();
    assert_eq!(messages.len(), 1, "{messages:?}");
    // A token in the query string is never read.
    let in_query = call_empty(&channel, &format!("{PLAN}?access_token={token}"), None).await;
    assert_eq!(in_query.code(), Code::Unauthenticated);
    host.shutdown().await;
}

#[tokio::test]
async fn a_service_token_only_works_at_the_service_it_was_minted_for() {
    let (host, channel) = serve_probe(quick_settings()).await;
    let mut client = PurgeParticipantClient::new(channel);
    // The orders identity's token for accounts, replayed to data-purge (quality.md S3).
    let for_accounts = host.service_token(ServiceKind::Orders, ServiceKind::Accounts);
    let refused = client
        .plan(plan_request("who", &[bearer(&for_accounts)]))
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::Unauthenticated);
    // The right audience but a caller the policy does not list.
    let from_accounts = host.service_token(ServiceKind::Accounts, ServiceKind::DataPurge);
    let refused = client
        .plan(plan_request("who", &[bearer(&from_accounts)]))
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::PermissionDenied);
    // The refusal says which token would do, so the caller knows what to fix.
    assert_eq!(
        refused.message(),
        "Plan takes service tokens from orders only; this token is from accounts."
    );
    host.shutdown().await;
}

#[tokio::test]
async fn unary_deadlines_are_capped_whatever_the_client_asks() {
    let (host, channel) = serve_probe(ServerSettings {
        unary_deadline_cap_secs: 1,
        ..quick_settings()
    })
    .await;
    let mut client = PurgeParticipantClient::new(channel);
    let token = host.token(Role::Operator, None);
    // 99999999 hours is the largest value the wire format allows (quality.md S11); the handler would
    // answer after 5 s, so only the server's cap can end the call with DEADLINE_EXCEEDED.
    let status = client
        .plan(plan_request(
            "sleep",
            &[bearer(&token), ("grpc-timeout", "99999999H".to_owned())],
        ))
        .await
        .expect_err("cut off");
    assert_eq!(status.code(), Code::DeadlineExceeded);
    host.shutdown().await;
}

#[tokio::test]
async fn a_panicking_handler_answers_internal_and_the_server_keeps_serving() {
    let (host, channel) = serve_probe(quick_settings()).await;
    let mut client = PurgeParticipantClient::new(channel);
    let token = host.token(Role::Operator, None);
    let before = panics_counted();
    let status = client
        .plan(plan_request("panic", &[bearer(&token)]))
        .await
        .expect_err("internal");
    assert_eq!(status.code(), Code::Internal);
    assert!(
        !status.message().contains("on purpose"),
        "{}",
        status.message()
    );
    assert!(panics_counted() > before);
    client
        .plan(plan_request("who", &[bearer(&token)]))
        .await
        .expect("still serving");
    host.shutdown().await;
}

fn panics_counted() -> f64 {
    tenure_telemetry::encode_metrics()
        .lines()
        .find_map(|line| line.strip_prefix("panics_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn calls_over_the_in_flight_budget_are_shed_at_once() {
    let (host, channel) = serve_probe(ServerSettings {
        max_in_flight: 1,
        ..quick_settings()
    })
    .await;
    let token = host.token(Role::Operator, None);
    let mut busy = PurgeParticipantClient::new(channel.clone());
    let slow_token = token.clone();
    let slow = async move {
        busy.plan(plan_request("sleep", &[bearer(&slow_token)]))
            .await
    };
    let probe = async {
        // Give the slow call time to take the only slot.
        tokio::time::sleep(Duration::from_millis(300)).await;
        PurgeParticipantClient::new(channel)
            .plan(plan_request("who", &[bearer(&token)]))
            .await
    };
    let (slow, shed) = tokio::join!(slow, probe);
    assert!(slow.is_ok(), "{slow:?}");
    assert_eq!(shed.expect_err("shed").code(), Code::ResourceExhausted);
    host.shutdown().await;
}

#[tokio::test]
async fn red_metrics_count_calls_by_method_and_code_without_minting_series_for_guesses() {
    let (host, channel) = serve_probe(quick_settings()).await;
    let token = host.token(Role::Operator, None);
    assert_eq!(
        call_empty(&channel, PLAN, None).await.code(),
        Code::Unauthenticated
    );
    assert_eq!(
        call_empty(&channel, PLAN, Some(&token)).await.code(),
        Code::Ok
    );
    let guessed = "/tenure.purge.v1alpha.PurgeParticipant/Guess";
    assert_eq!(
        call_empty(&channel, guessed, Some(&token)).await.code(),
        Code::Unimplemented
    );
    let metrics = tenure_telemetry::encode_metrics();
    let handled = |code: &str| {
        metrics.lines().any(|line| {
            line.starts_with("grpc_server_handled_total{")
                && line.contains(r#"grpc_service="tenure.purge.v1.PurgeParticipant""#)
                && line.contains(r#"grpc_method="Plan""#)
                && line.contains(&format!(r#"grpc_code="{code}""#))
        })
    };
    assert!(handled("Unauthenticated"), "{metrics}");
    assert!(handled("OK"), "{metrics}");
    assert!(
        !metrics.contains("v1alpha"),
        "a guessed path minted a series"
    );
    host.shutdown().await;
}

fn millis(grpc_timeout: &str) -> u64 {
    grpc_timeout
        .strip_suffix('m')
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("not a millisecond timeout: {grpc_timeout:?}"))
}

#[tokio::test]
async fn peer_calls_carry_no_more_time_than_the_inbound_call_has_left() {
    let host = TestHost::with_settings(ServerSettings {
        unary_deadline_cap_secs: 2,
        ..quick_settings()
    })
    .expect("host");
    let (_, downstream) = serve_probe_on(&host, Probe::default()).await;
    let peer = PeerChannel::connect_lazy(
        &format!("http://{downstream}"),
        ServiceKind::DataPurge,
        host.authority()
            .service_minter(ServiceKind::Orders)
            .expect("minter"),
        Duration::from_secs(10),
    )
    .expect("peer");
    let (upstream, _) = serve_probe_on(
        &host,
        Probe {
            peer: Some(peer),
            ..Probe::default()
        },
    )
    .await;
    let mut client = PurgeParticipantClient::new(upstream);
    let token = host.token(Role::Operator, None);

    // With no client deadline the server's 2 s cap bounds the inbound call, and so the outbound one,
    // although the peer channel would allow 10 s.
    let relayed = client
        .plan(plan_request("relay", &[bearer(&token)]))
        .await
        .expect("relayed");
    let budget = millis(&relayed.get_ref().service);
    assert!((1..=2000).contains(&budget), "{budget} ms");

    // A tighter client deadline travels on.
    let relayed = client
        .plan(plan_request(
            "relay",
            &[bearer(&token), ("grpc-timeout", "500m".to_owned())],
        ))
        .await
        .expect("relayed");
    let budget = millis(&relayed.get_ref().service);
    assert!((1..=500).contains(&budget), "{budget} ms");
    host.shutdown().await;
}
