//! Idempotent replays answer with the first response; a reused key with another request is refused.

use tenure_proto::accounts::v1 as pb;
use tenure_proto::common::v1 as common;
use tonic::Code;
use uuid::Uuid;

use crate::support::{As, Backend, expect_code, key, reason, row_count, serve_tenant};

#[tokio::test]
async fn a_replayed_step_returns_the_first_answer_and_changes_nothing_more() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    let request = pb::ReserveAccountRequest {
        idempotency_key: key(),
        order_id: Uuid::new_v4().to_string(),
        kind: pb::ReservationKind::Transfer as i32,
        aws_account_id: "222222222222".to_owned(),
        root_email: String::new(),
        account_name: String::new(),
        role: pb::AccountRole::Member as i32,
        relationship: common::AccountRelationship::PlatformMember as i32,
        management_account_id: String::new(),
        root_access: 0,
    };
    let first = served
        .accounts()
        .reserve_account(served.request(As::Orders(tenant), request.clone()))
        .await
        .expect("first")
        .into_inner();
    served.clock.advance(chrono::Duration::minutes(5));
    let replay = served
        .accounts()
        .reserve_account(served.request(As::Orders(tenant), request.clone()))
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(first, replay, "the stored response, field for field");
    assert_eq!(row_count(&served, "aws_account").await, 1);
    assert_eq!(row_count(&served, "account_transition").await, 1);

    let conflicting = pb::ReserveAccountRequest {
        aws_account_id: "333333333333".to_owned(),
        ..request
    };
    let status = expect_code(
        served
            .accounts()
            .reserve_account(served.request(As::Orders(tenant), conflicting))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&status), "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(
        row_count(&served, "aws_account").await,
        1,
        "the conflicting replay stores nothing"
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_failed_call_stores_no_idempotency_record_so_a_retry_is_judged_afresh() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    let account = served.active_member(tenant, "444444444444").await;
    let records_before = row_count(&served, "idempotency_record").await;
    let request = pb::RecordClosureRequest {
        idempotency_key: key(),
        account_id: account.id.clone(),
        closed_at: Some(crate::support::timestamp(served.clock_now())),
        reason: String::new(),
    };
    for _ in 0..2 {
        expect_code(
            served
                .accounts()
                .record_closure(served.request(As::Orders(tenant), request.clone()))
                .await,
            Code::FailedPrecondition,
        );
    }
    assert_eq!(
        row_count(&served, "idempotency_record").await,
        records_before
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn keys_are_scoped_per_method_so_one_key_serves_two_steps() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    let shared_key = key();
    let reserved = served
        .accounts()
        .reserve_account(served.request(
            As::Orders(tenant),
            pb::ReserveAccountRequest {
                idempotency_key: shared_key.clone(),
                order_id: Uuid::new_v4().to_string(),
                kind: pb::ReservationKind::Transfer as i32,
                aws_account_id: "555555555555".to_owned(),
                role: pb::AccountRole::Member as i32,
                relationship: common::AccountRelationship::PlatformMember as i32,
                ..Default::default()
            },
        ))
        .await
        .expect("reserve")
        .into_inner()
        .account
        .expect("account");
    served
        .accounts()
        .attach_account(served.request(
            As::Orders(tenant),
            pb::AttachAccountRequest {
                idempotency_key: shared_key,
                account_id: reserved.id,
                aws_account_id: "555555555555".to_owned(),
                ..Default::default()
            },
        ))
        .await
        .expect("another method, another scope");
    served.host.shutdown().await;
}
