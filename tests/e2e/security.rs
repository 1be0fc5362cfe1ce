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

/// Field problems of an INVALID_ARGUMENT answer, as `field` names.
fn violated_fields(status: &tonic::Status) -> Vec<String> {
    tonic_types::StatusExt::get_details_bad_request(status)
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|violation| violation.field)
                .collect()
        })
        .unwrap_or_default()
}

/// Issue 16: ids take one canonical form and timestamps one range in every service. A malformed
/// tenant id in ListOrders once answered INTERNAL; an upper-case spelling of a real operation id
/// once found the operation.
#[tokio::test]
async fn malformed_ids_and_timestamps_name_their_field_and_never_answer_internal() {
    use tenure_proto::orders::v1 as pb;
    use tenure_proto::provisioning::v1 as prov;

    use crate::stack::{As, Stack, timestamp};

    let stack = Stack::start().await;
    let seeded = stack.seed(1).await;
    let operator_or_customer = [As::Operator, As::Customer(seeded.tenant)];
    for who in &operator_or_customer {
        for tenant_id in [
            "1",
            "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
            "{3f0c8a53-8d1b-4f59-9a2e-0c5a3b0f5e11}",
            "3F0C8A53-8D1B-4F59-9A2E-0C5A3B0F5E11",
        ] {
            let refused = stack
                .orders()
                .await
                .list_orders(stack.request(
                    who,
                    ServiceKind::Orders,
                    pb::ListOrdersRequest {
                        tenant_id: tenant_id.to_owned(),
                        ..pb::ListOrdersRequest::default()
                    },
                ))
                .await
                .expect_err("a malformed tenant id");
            assert_eq!(
                refused.code(),
                Code::InvalidArgument,
                "{tenant_id}: {refused:?}"
            );
            assert_eq!(violated_fields(&refused), ["tenant_id"]);
        }
    }
    let far = |days: i64| Some(timestamp(stack.now() + chrono::Duration::days(days)));
    let before_2020 = prost_types::Timestamp {
        seconds: 1_546_300_800,
        nanos: 0,
    };
    let refused = stack
        .orders()
        .await
        .list_orders(stack.request(
            &As::Customer(seeded.tenant),
            ServiceKind::Orders,
            pb::ListOrdersRequest {
                created_after: Some(before_2020),
                created_before: far(3_000),
                ..pb::ListOrdersRequest::default()
            },
        ))
        .await
        .expect_err("out of range");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&refused),
        ["created_after", "created_before"]
    );
    let stream = stack
        .order_events()
        .await
        .subscribe(stack.request(
            &As::Billing,
            ServiceKind::Orders,
            pb::SubscribeRequest {
                start: Some(pb::subscribe_request::Start::RecordedSince(before_2020)),
                ..pb::SubscribeRequest::default()
            },
        ))
        .await
        .expect_err("out of range");
    assert_eq!(stream.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&stream), ["recorded_since"]);

    let operation = stack
        .provisioning()
        .await
        .create_account(stack.request(
            &As::Orders(seeded.tenant),
            ServiceKind::Provisioning,
            prov::CreateAccountRequest {
                idempotency_key: crate::stack::key(),
                management_account_id: crate::stack::MANAGEMENT.to_owned(),
                email: format!(
                    "canonical-{}@example.com",
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                ),
                account_name: "Canonical".to_owned(),
            },
        ))
        .await
        .expect("operation")
        .into_inner()
        .operation
        .expect("operation");
    let id = operation.id.clone();
    let spellings = [
        id.to_uppercase(),
        format!("{{{id}}}"),
        id.replace('-', ""),
        format!("urn:uuid:{id}"),
    ];
    for spelling in spellings {
        let refused = stack
            .provisioning()
            .await
            .get_operation(stack.request(
                &As::Orders(seeded.tenant),
                ServiceKind::Provisioning,
                prov::GetOperationRequest {
                    operation_id: spelling.clone(),
                },
            ))
            .await
            .expect_err("one canonical form");
        assert_eq!(refused.code(), Code::InvalidArgument, "{spelling}");
        assert_eq!(violated_fields(&refused), ["operation_id"]);
    }
    stack.owners.shutdown().await;
}

/// Issue 16: a service acts for the tenant it names in `x-tenure-tenant`; without one it reaches
/// nothing, except where a method's policy says it spans tenants.
#[tokio::test]
async fn a_service_call_that_names_no_tenant_is_refused() {
    use tenure_proto::accounts::v1 as accounts;

    use crate::stack::Stack;

    let stack = Stack::start().await;
    stack.seed(1).await;
    let token = stack
        .owners
        .authority()
        .service_minter(ServiceKind::Orders)
        .and_then(|minter| minter.token_for(ServiceKind::Accounts.audience()))
        .expect("token");
    let mut request = tonic::Request::new(accounts::ListAccountsRequest::default());
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let refused = stack
        .accounts()
        .await
        .list_accounts(request)
        .await
        .expect_err("no tenant named");
    assert_eq!(refused.code(), Code::PermissionDenied);
    stack.owners.shutdown().await;
}
