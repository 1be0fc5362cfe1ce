//! Adversarial cases of the quality bar that the foundation already answers for every service: oversized
//! messages (S10) and guessed or unpublished methods (S22).

#![allow(clippy::expect_used, reason = "a failed setup step is a failed test")]

use std::time::Duration;

use tenure_e2e::TestCluster;
use tenure_grpc::{Role, ServiceKind};
use tenure_proto::accounts::v1::CreateTenantRequest;
use tenure_proto::accounts::v1::account_service_client::AccountServiceClient;
use tenure_testkit::grpc::{call_empty, channel, wait_until_serving};
use tonic::Code;

#[tokio::test]
async fn a_request_one_byte_over_a_mebibyte_is_refused_before_any_handler() {
    let cluster = TestCluster::start(&[ServiceKind::Accounts])
        .await
        .expect("cluster");
    let token = cluster
        .authority()
        .user_token(Role::Operator, "ops", None, &[], Duration::from_secs(60))
        .expect("token");
    let endpoint = cluster.url(ServiceKind::Accounts).expect("url");
    let channel = tonic::transport::Endpoint::from_shared(endpoint)
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut client = AccountServiceClient::new(channel);
    // The display name alone makes the encoded message `size` bytes: one tag byte, a three-byte length.
    let request_of_size = |size: usize| {
        let mut request = tonic::Request::new(CreateTenantRequest {
            display_name: "x".repeat(size - 1 - 3),
            ..CreateTenantRequest::default()
        });
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        request
    };
    let mebibyte = 1024 * 1024;
    let over = client
        .create_tenant(request_of_size(mebibyte + 1))
        .await
        .expect_err("too large");
    assert_eq!(over.code(), Code::OutOfRange, "{over:?}");
    // Exactly at the limit the message is decoded and reaches the handler.
    let at = client.create_tenant(request_of_size(mebibyte)).await;
    assert_ne!(
        at.map_err(|status| status.code()).err(),
        Some(Code::OutOfRange)
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn guessed_versions_and_unpublished_methods_are_unimplemented_everywhere() {
    let cluster = TestCluster::start(&ServiceKind::ALL)
        .await
        .expect("cluster");
    let token = cluster
        .authority()
        .user_token(Role::Operator, "ops", None, &[], Duration::from_secs(60))
        .expect("token");
    for kind in ServiceKind::ALL {
        let url = cluster.url(kind).expect("url");
        let address = url.trim_start_matches("http://").parse().expect("address");
        let channel = channel(address).await.expect("channel");
        wait_until_serving(&channel, "").await.expect("ready");
        for path in [
            "/tenure.orders.v1alpha.OrderService/CreateOrder",
            "/tenure.orders.v2.OrderService/CreateOrder",
            "/tenure.accounts.v1.AccountService/DropEverything",
            "/tenure.internal.v1.Admin/Shell",
        ] {
            assert_eq!(
                call_empty(&channel, path, Some(&token)).await.code(),
                Code::Unimplemented,
                "{kind} {path}"
            );
        }
    }
    cluster.shutdown().await;
}
