//! Trace context across services: one request that enters one service and goes on to another yields one
//! trace, with a SERVER span per hop whose parent is the caller's CLIENT span.

#![allow(clippy::expect_used, reason = "a failed setup step is a failed test")]

use std::time::Duration;

use tenure_e2e::TestCluster;
use tenure_grpc::{
    Host, MethodPolicy, PeerChannel, Role, ServerSettings, ServiceKind, TokenVerifier,
};
use tenure_proto::accounts::v1::GetTenantRequest;
use tenure_proto::accounts::v1::account_service_client::AccountServiceClient;
use tenure_proto::purge::v1::purge_participant_client::PurgeParticipantClient;
use tenure_proto::purge::v1::purge_participant_server::{PurgeParticipant, PurgeParticipantServer};
use tenure_proto::purge::v1::{DescribeDataClassesRequest, DescribeDataClassesResponse};
use tenure_testkit::{CollectedSpan, SpanKind, StatusCode, global_telemetry};
use tokio::net::TcpListener;
use tracing::Instrument as _;

const CALL_CAP: Duration = Duration::from_secs(10);

/// The calling service of the hop: a data-owner endpoint that, to answer, asks accounts for a tenant.
struct AskAccounts {
    accounts: PeerChannel,
}

#[tonic::async_trait]
impl PurgeParticipant for AskAccounts {
    async fn describe_data_classes(
        &self,
        _request: tonic::Request<DescribeDataClassesRequest>,
    ) -> Result<tonic::Response<DescribeDataClassesResponse>, tonic::Status> {
        let request = PeerChannel::for_tenant(GetTenantRequest::default(), uuid_v4());
        // The answer does not matter here (the accounts logic lands with its own issue); the hop does.
        let _ = AccountServiceClient::new(self.accounts.clone())
            .get_tenant(request)
            .await;
        Ok(tonic::Response::new(DescribeDataClassesResponse {
            service: "trace-test".to_owned(),
            columns: Vec::new(),
        }))
    }
}

fn uuid_v4() -> uuid::Uuid {
    uuid::Uuid::new_v4()
}

fn one<'a>(spans: &'a [CollectedSpan], name: &str, kind: SpanKind) -> &'a CollectedSpan {
    let matching: Vec<&CollectedSpan> = spans
        .iter()
        .filter(|span| span.name == name && span.kind == kind)
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "one {kind:?} span named {name}: {spans:#?}"
    );
    matching[0]
}

#[tokio::test]
async fn one_trace_follows_a_call_from_one_service_into_another() {
    let telemetry = global_telemetry();

    // accounts, the real service, on PostgreSQL.
    let accounts = TestCluster::start(&[ServiceKind::Accounts])
        .await
        .expect("accounts");
    let authority = accounts.authority().clone();
    let accounts_url = accounts.url(ServiceKind::Accounts).expect("url");

    // data-purge's identity, serving the endpoint above and calling accounts through a PeerChannel.
    let verifier = TokenVerifier::new(&authority.auth_settings()).expect("verifier");
    let host = Host::new(
        ServerSettings {
            drain_grace_secs: 0,
            ..ServerSettings::default()
        },
        verifier,
    );
    let mut builder = host.builder(ServiceKind::DataPurge);
    builder
        .policy(&[MethodPolicy {
            method: "/tenure.purge.v1.PurgeParticipant/DescribeDataClasses",
            roles: &[Role::Service],
            service_callers: &["orders"],
            // As in every service's table: describing data classes concerns no one tenant.
            service_across_tenants: true,
        }])
        .add_service(PurgeParticipantServer::new(AskAccounts {
            accounts: PeerChannel::connect_lazy(
                &accounts_url,
                ServiceKind::Accounts,
                authority
                    .service_minter(ServiceKind::DataPurge)
                    .expect("minter"),
                CALL_CAP,
            )
            .expect("peer"),
        }));
    let caller = builder
        .serve(TcpListener::bind("127.0.0.1:0").await.expect("bind"))
        .await
        .expect("serve");

    // The test plays orders: a root span, then a call through the same client stack services use.
    let to_caller = PeerChannel::connect_lazy(
        &format!("http://{}", caller.local_addr()),
        ServiceKind::DataPurge,
        authority
            .service_minter(ServiceKind::Orders)
            .expect("minter"),
        CALL_CAP,
    )
    .expect("peer");
    let root = tracing::info_span!("trace-test.request");
    let trace_id = async {
        PurgeParticipantClient::new(to_caller)
            .describe_data_classes(DescribeDataClassesRequest::default())
            .await
            .expect("the first hop answers");
        tenure_telemetry::current_trace_id().expect("a sampled trace")
    }
    .instrument(root)
    .await;

    telemetry.flush().expect("flush");
    let spans = telemetry
        .collector()
        .wait_for_spans(
            |spans| {
                spans
                    .iter()
                    .filter(|span| span.trace_id == trace_id)
                    .count()
                    >= 5
            },
            Duration::from_secs(10),
        )
        .await;
    let trace: Vec<CollectedSpan> = spans
        .into_iter()
        .filter(|span| span.trace_id == trace_id)
        .collect();

    let participant = "tenure.purge.v1.PurgeParticipant/DescribeDataClasses";
    let get_tenant = "tenure.accounts.v1.AccountService/GetTenant";
    let first_client = one(&trace, participant, SpanKind::Client);
    let first_server = one(&trace, participant, SpanKind::Server);
    let second_client = one(&trace, get_tenant, SpanKind::Client);
    let second_server = one(&trace, get_tenant, SpanKind::Server);

    // Every hop hangs off its caller: client -> server -> client -> server, in one trace.
    assert_eq!(first_server.parent_span_id, first_client.span_id);
    assert_eq!(second_client.parent_span_id, first_server.span_id);
    assert_eq!(second_server.parent_span_id, second_client.span_id);
    // No orphans: every parent is in the trace.
    for span in &trace {
        assert!(
            span.is_root()
                || trace
                    .iter()
                    .any(|other| other.span_id == span.parent_span_id),
            "orphan span {span:#?}"
        );
    }
    // One process, as under `tenure up`, yet each span shows under the service it belongs to, so a
    // trace viewer draws orders -> data-purge -> accounts.
    for (span, service) in [
        (first_client, "tenure-orders"),
        (first_server, "tenure-data-purge"),
        (second_client, "tenure-data-purge"),
        (second_server, "tenure-accounts"),
    ] {
        assert_eq!(span.service_name, service, "{span:#?}");
        assert!(span.attribute("service.name").is_none(), "{span:#?}");
    }
    // The RPC semantic conventions, with both status-code keys.
    for span in [first_server, second_server] {
        assert_eq!(span.str_attribute("rpc.system"), Some("grpc"));
        assert!(span.int_attribute("rpc.grpc.status_code").is_some());
        assert!(span.str_attribute("rpc.response.status_code").is_some());
    }
    assert_eq!(
        second_server.str_attribute("rpc.service"),
        Some("tenure.accounts.v1.AccountService")
    );
    assert_eq!(second_server.str_attribute("rpc.method"), Some("GetTenant"));
    assert_eq!(first_server.status_code, StatusCode::Unset);

    host.shutdown().await;
    accounts.shutdown().await;
}

/// The browser path: a gRPC-web call over HTTP/1.1 that carries `traceparent` and the order's
/// baggage joins the caller's trace exactly as a gRPC call does.
#[tokio::test]
async fn a_grpc_web_call_joins_the_callers_trace_and_names_its_order() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let telemetry = global_telemetry();
    let accounts = TestCluster::start(&[ServiceKind::Accounts])
        .await
        .expect("accounts");
    let token = accounts
        .authority()
        .user_token(
            Role::Operator,
            "ops-web",
            None,
            &[],
            Duration::from_secs(600),
        )
        .expect("token");
    let address = accounts
        .url(ServiceKind::Accounts)
        .expect("url")
        .trim_start_matches("http://")
        .to_owned();
    let trace_id = format!("{:032x}", uuid_v4().as_u128());
    let parent_id = &format!("{:032x}", uuid_v4().as_u128())[..16];
    let order_id = uuid_v4().to_string();
    // One empty ListTenantsRequest: an uncompressed frame of length 0.
    let frame = [0_u8, 0, 0, 0, 0];
    let head = format!(
        "POST /tenure.accounts.v1.AccountService/ListTenants HTTP/1.1\r\nHost: {address}\r\n\
         content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n\
         authorization: Bearer {token}\r\ntraceparent: 00-{trace_id}-{parent_id}-01\r\n\
         baggage: tenure.order_id={order_id}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        frame.len()
    );
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(&frame).await.expect("body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("response");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("grpc-status:0"), "{response}");

    telemetry.flush().expect("flush");
    let method = "tenure.accounts.v1.AccountService/ListTenants";
    let spans = telemetry
        .collector()
        .wait_for_spans(
            |spans| spans.iter().any(|span| span.trace_id == trace_id),
            Duration::from_secs(10),
        )
        .await;
    let trace: Vec<CollectedSpan> = spans
        .into_iter()
        .filter(|span| span.trace_id == trace_id)
        .collect();
    let server = one(&trace, method, SpanKind::Server);
    assert_eq!(server.parent_span_id, parent_id);
    assert_eq!(
        server.str_attribute("tenure.order_id"),
        Some(order_id.as_str())
    );
    assert_eq!(server.int_attribute("rpc.grpc.status_code"), Some(0));
    accounts.shutdown().await;
}
