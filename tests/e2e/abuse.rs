//! Abuse of the transport itself (quality.md S10, S11): an HTTP/2 rapid-reset loop (CVE-2023-44487)
//! and a compressed message that would inflate past the size limit. Both must leave the service
//! serving everyone else, and neither may make it do the work the attacker asks for.

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a failed setup step or a broken expectation is a failed test"
)]

use std::time::Duration;

use bytes::Bytes;
use tenure_e2e::TestCluster;
use tenure_grpc::{Role, ServiceKind};
use tenure_testkit::grpc::{channel, wait_until_serving};
use tokio::net::TcpStream;

/// Health checks are served without a token, so the loop needs nothing but a connection.
const HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";

fn grpc_request(authority: &str, path: &str, extra: &[(&str, &str)]) -> http::Request<()> {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(format!("http://{authority}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    builder.body(()).expect("request")
}

/// An HTTP/2 connection that speaks raw frames, and the task driving it.
async fn connect(address: std::net::SocketAddr) -> h2::client::SendRequest<Bytes> {
    let tcp = TcpStream::connect(address).await.expect("tcp");
    let (client, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    #[allow(
        clippy::disallowed_methods,
        reason = "the attacker's connection lives as long as the test's runtime, which ends with it"
    )]
    tokio::spawn(async move {
        // The server ending the connection is the expected outcome of the attack.
        let _ended = connection.await;
    });
    client
}

#[tokio::test]
async fn an_http2_rapid_reset_loop_is_cut_off_while_other_callers_are_served() {
    let cluster = TestCluster::start(&[ServiceKind::Accounts])
        .await
        .expect("cluster");
    let url = cluster.url(ServiceKind::Accounts).expect("url");
    let authority = url.trim_start_matches("http://").to_owned();
    let address = authority.parse().expect("address");
    let bystander = channel(address).await.expect("channel");
    wait_until_serving(&bystander, "").await.expect("serving");

    let mut attacker = connect(address).await;
    let mut sent = 0_u32;
    let mut cut_off = false;
    // HEADERS then RST_STREAM, as fast as the connection takes them: the server must stop this
    // connection well before it has started thousands of handlers for requests nobody waits for.
    for _ in 0..5_000 {
        let ready = tokio::time::timeout(Duration::from_secs(5), attacker.clone().ready()).await;
        let Ok(Ok(ready)) = ready else {
            cut_off = true;
            break;
        };
        attacker = ready;
        match attacker.send_request(grpc_request(&authority, HEALTH_CHECK, &[]), false) {
            Ok((_response, mut stream)) => {
                stream.send_reset(h2::Reason::CANCEL);
                sent += 1;
            }
            Err(_) => {
                cut_off = true;
                break;
            }
        }
    }
    // The loop may outrun the server's bookkeeping; once the server has caught up, the attacking
    // connection is gone.
    let after = tokio::time::timeout(Duration::from_secs(5), async {
        match attacker.clone().ready().await {
            Ok(mut ready) => ready
                .send_request(grpc_request(&authority, HEALTH_CHECK, &[]), true)
                .map(|(response, _)| response),
            Err(error) => Err(error),
        }
    })
    .await;
    let still_open = match after {
        Ok(Ok(response)) => tokio::time::timeout(Duration::from_secs(5), response)
            .await
            .is_ok_and(|answered| answered.is_ok()),
        _ => false,
    };
    assert!(
        cut_off || !still_open,
        "the server kept a connection that reset {sent} streams in a row"
    );
    // Everyone else is served as before.
    wait_until_serving(&bystander, "")
        .await
        .expect("still serving others");
    let token = cluster
        .authority()
        .user_token(Role::Operator, "ops", None, &[], Duration::from_secs(60))
        .expect("token");
    let status = tenure_testkit::grpc::call_empty(
        &bystander,
        "/tenure.accounts.v1.AccountService/ListTenants",
        Some(&token),
    )
    .await;
    assert_ne!(status.code(), tonic::Code::Unavailable, "{status:?}");
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_compressed_message_is_refused_without_being_inflated() {
    let cluster = TestCluster::start(&[ServiceKind::Accounts])
        .await
        .expect("cluster");
    let url = cluster.url(ServiceKind::Accounts).expect("url");
    let authority = url.trim_start_matches("http://").to_owned();
    let address = authority.parse().expect("address");
    let token = cluster
        .authority()
        .user_token(Role::Operator, "ops", None, &[], Duration::from_secs(60))
        .expect("token");
    let bearer = format!("Bearer {token}");
    // 4 KiB of gzip that inflates to a 4 MiB CreateTenantRequest: four times the decoding limit.
    let bomb: &[u8] = include_bytes!("fixtures/bomb-4mib.gz");
    let mut frame = Vec::with_capacity(bomb.len() + 5);
    frame.push(1);
    frame.extend_from_slice(&u32::try_from(bomb.len()).expect("length").to_be_bytes());
    frame.extend_from_slice(bomb);
    let mut client = connect(address).await.ready().await.expect("ready");
    let (response, mut body) = client
        .send_request(
            grpc_request(
                &authority,
                "/tenure.accounts.v1.AccountService/CreateTenant",
                &[("grpc-encoding", "gzip"), ("authorization", &bearer)],
            ),
            false,
        )
        .expect("sent");
    body.send_data(Bytes::from(frame), true).expect("body");
    let response = tokio::time::timeout(Duration::from_secs(10), response)
        .await
        .expect("answered in time")
        .expect("response");
    let (head, mut received) = response.into_parts();
    // Refused up front (no compression is accepted) or at the size limit: either way a status, and
    // never a tenant created from a message nobody may send.
    let mut status = head
        .headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    if status.is_none() {
        while let Some(chunk) = received.data().await {
            chunk.expect("body chunk");
        }
        let trailers = received
            .trailers()
            .await
            .expect("trailers")
            .expect("trailers");
        status = trailers
            .get("grpc-status")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
    }
    let code = status
        .and_then(|code| code.parse::<i32>().ok())
        .map(tonic::Code::from_i32)
        .expect("a grpc-status");
    assert!(
        matches!(
            code,
            tonic::Code::Unimplemented | tonic::Code::ResourceExhausted | tonic::Code::OutOfRange
        ),
        "{code:?}"
    );
    let bystander = channel(address).await.expect("channel");
    wait_until_serving(&bystander, "")
        .await
        .expect("still serving");
    cluster.shutdown().await;
}
