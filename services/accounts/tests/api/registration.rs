//! What a reservation records and refuses (how a transferred account joined; root emails Tenure already
//! knows, TNR101), and how a billing transfer withdrawn before its start leaves the platform.

use chrono::Duration;
use tenure_proto::accounts::v1 as pb;
use tenure_proto::common::v1 as common;
use tonic::{Code, Status};
use uuid::Uuid;

use crate::support::{
    As, Backend, Served, expect_code, key, metadata, reason, row_count, serve, serve_tenant,
    timestamp, violated_fields,
};

#[tokio::test]
async fn a_transferred_account_joins_the_way_its_relationship_says() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    let cases = [
        (
            "830000000001",
            pb::AccountRole::Management,
            common::AccountRelationship::BillingTransferSource,
            pb::JoinedMethod::BillingTransfer,
        ),
        (
            "830000000002",
            pb::AccountRole::Management,
            common::AccountRelationship::PlatformPayer,
            pb::JoinedMethod::HandedOver,
        ),
        (
            "830000000003",
            pb::AccountRole::Member,
            common::AccountRelationship::PlatformMember,
            pb::JoinedMethod::Invited,
        ),
    ];
    for (aws_account_id, role, relationship, joined) in cases {
        let reserved = served
            .reserved_transfer(tenant, aws_account_id, role, relationship)
            .await;
        assert_eq!(reserved.joined_method(), joined, "{relationship:?}");
        let read = served
            .get_account(As::Customer(tenant), &reserved.id)
            .await
            .expect("read");
        assert_eq!(read.joined_method(), joined, "stored");
    }
    let created = served
        .reserve_new(tenant, "new-one@example.com", "New one")
        .await
        .expect("reserve");
    assert_eq!(created.joined_method(), pb::JoinedMethod::Created);
    served.host.shutdown().await;
}

/// An active billing transfer whose billing starts `starts_in` from now, offboarding for `order`.
async fn offboarding_transfer(
    served: &Served,
    tenant: Uuid,
    aws_account_id: &str,
    relationship: common::AccountRelationship,
    starts_in: Duration,
    order: Uuid,
) -> pb::AwsAccount {
    let role = if relationship == common::AccountRelationship::PlatformMember {
        pb::AccountRole::Member
    } else {
        pb::AccountRole::Management
    };
    let reserved = served
        .reserved_transfer(tenant, aws_account_id, role, relationship)
        .await;
    served
        .attach(tenant, &reserved.id, aws_account_id)
        .await
        .expect("attach");
    served
        .accounts()
        .activate_account(served.request(
            As::Orders(tenant),
            pb::ActivateAccountRequest {
                idempotency_key: key(),
                account_id: reserved.id.clone(),
                order_id: Uuid::new_v4().to_string(),
                billing_starts_at: Some(timestamp(served.clock_now() + starts_in)),
                subscription_ref: String::new(),
            },
        ))
        .await
        .expect("activate");
    served
        .begin_offboarding(
            tenant,
            aws_account_id,
            common::TerminationMode::Unlink,
            order,
        )
        .await
        .expect("offboarding")
}

async fn outcome(
    served: &Served,
    tenant: Uuid,
    account: &pb::AwsAccount,
    order: Uuid,
    outcome: pb::OffboardingOutcome,
    billing_ends_at: Option<prost_types::Timestamp>,
) -> Result<pb::AwsAccount, Status> {
    served
        .record_outcome_ending(tenant, &account.id, order, outcome, billing_ends_at)
        .await
}

/// Reports the transfer withdrawn before its start: billing never began, so no end is given.
async fn withdrawn_before_start(
    served: &Served,
    tenant: Uuid,
    account: &pb::AwsAccount,
    order: Uuid,
) -> Result<pb::AwsAccount, Status> {
    let withdrawn = pb::OffboardingOutcome::WithdrawnBeforeStart;
    outcome(served, tenant, account, order, withdrawn, None).await
}

#[tokio::test]
async fn a_billing_transfer_withdrawn_before_its_start_is_unlinked_and_never_billed() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    let order = Uuid::new_v4();
    let account = offboarding_transfer(
        &served,
        tenant,
        "830000000010",
        common::AccountRelationship::BillingTransferSource,
        Duration::days(10),
        order,
    )
    .await;
    let starts_at = account.billing_starts_at.expect("starts");

    // An end before the start is refused: that transfer was withdrawn, not unlinked.
    let early = timestamp(served.clock_now() + Duration::days(5));
    for (refused, reason_code) in [
        (pb::OffboardingOutcome::Unlinking, Some("TNR004")),
        (pb::OffboardingOutcome::WithdrawnBeforeStart, None),
    ] {
        let status = expect_code(
            outcome(&served, tenant, &account, order, refused, Some(early)).await,
            Code::InvalidArgument,
        );
        assert_eq!(violated_fields(&status), ["billing_ends_at"], "{refused:?}");
        if let Some(reason_code) = reason_code {
            assert_eq!(reason(&status), reason_code);
        }
    }
    let unchanged = served
        .get_account(As::Customer(tenant), &account.id)
        .await
        .expect("read");
    assert_eq!(unchanged.state(), pb::AccountState::Offboarding);

    let unlinked = withdrawn_before_start(&served, tenant, &account, order)
        .await
        .expect("withdrawn before the start");
    assert_eq!(unlinked.state(), pb::AccountState::Unlinked);
    assert_eq!(unlinked.billing_ends_at, Some(starts_at), "nothing billed");
    assert!(unlinked.active_order_id.is_empty());
    let subscriptions = served.subscriptions(tenant, &account.id).await;
    assert_eq!(
        subscriptions[0].status(),
        pb::SubscriptionStatus::Terminated
    );
    let history = served.transitions(tenant, &account.id).await;
    let last = history.last().expect("last");
    assert_eq!(
        (last.from_state(), last.to_state()),
        (pb::AccountState::Offboarding, pb::AccountState::Unlinked)
    );
    assert_eq!(last.order_id, order.to_string());
    served.host.shutdown().await;
}

#[tokio::test]
async fn only_a_billing_transfer_that_has_not_started_is_withdrawn_before_its_start() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    for (aws_account_id, relationship, starts_in) in [
        (
            "830000000011",
            common::AccountRelationship::BillingTransferSource,
            Duration::zero(),
        ),
        (
            "830000000012",
            common::AccountRelationship::PlatformMember,
            Duration::days(10),
        ),
    ] {
        let order = Uuid::new_v4();
        let account = offboarding_transfer(
            &served,
            tenant,
            aws_account_id,
            relationship,
            starts_in,
            order,
        )
        .await;
        let status = expect_code(
            withdrawn_before_start(&served, tenant, &account, order).await,
            Code::InvalidArgument,
        );
        assert_eq!(violated_fields(&status), ["outcome"], "{relationship:?}");
        assert_eq!(reason(&status), "TNR008");
        let after = served
            .get_account(As::Customer(tenant), &account.id)
            .await
            .expect("read");
        assert_eq!(after.state(), pb::AccountState::Offboarding);
    }
    served.host.shutdown().await;
}

/// Code, message and details, byte for byte.
fn assert_identical(left: &Status, right: &Status) {
    assert_eq!(left.code(), right.code());
    assert_eq!(left.message(), right.message());
    assert_eq!(left.details(), right.details());
}

#[tokio::test]
async fn a_root_email_any_record_uses_is_refused_alike_in_every_tenant() {
    let served = serve(Backend::Postgres).await;
    let a = served.tenant().await;
    let b = served.tenant().await;
    served
        .reserve_new(a, "Prod.Root@Example.com", "Production")
        .await
        .expect("first");
    let before = row_count(&served, "aws_account").await;
    let same_tenant = expect_code(
        served
            .reserve_new(a, "prod.root@example.COM", "Again")
            .await,
        Code::FailedPrecondition,
    );
    let other_tenant = expect_code(
        served
            .reserve_new(b, "PROD.ROOT@example.com", "Elsewhere")
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&same_tenant), "CUSTOMER_ACTION_REQUIRED");
    assert_eq!(metadata(&same_tenant, "code"), "TNR101");
    assert_eq!(
        same_tenant.message(),
        "An AWS account already uses this root email address. Enter a different one."
    );
    assert_identical(&same_tenant, &other_tenant);
    assert_eq!(row_count(&served, "aws_account").await, before, "no row");

    // Not only live records: the email of an account that left or closed is never reused.
    let left = served.reserved_new(a, "left@example.com", "Left").await;
    served
        .attach(a, &left.id, "830000000020")
        .await
        .expect("attach");
    served.activate(a, &left.id).await.expect("activate");
    served
        .offboard(
            a,
            "830000000020",
            &left.id,
            pb::OffboardingOutcome::Unlinked,
        )
        .await;
    let status = expect_code(
        served.reserve_new(b, "left@example.com", "Reuse").await,
        Code::FailedPrecondition,
    );
    assert_identical(&status, &same_tenant);

    // A reservation abandoned before AWS created anything gives its email back.
    let abandoned = served
        .reserved_new(a, "abandoned@example.com", "Never made")
        .await;
    served
        .release(a, &abandoned.id, "order cancelled")
        .await
        .expect("release");
    served
        .reserve_new(b, "abandoned@example.com", "Made now")
        .await
        .expect("the email is free again");
    served.host.shutdown().await;
}
