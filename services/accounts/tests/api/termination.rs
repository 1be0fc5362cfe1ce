//! The checks the orders service asks before a termination, each with its stable code.

use tenure_proto::accounts::v1 as pb;
use tenure_proto::common::v1 as common;
use tonic::Code;
use uuid::Uuid;

use crate::support::{As, Backend, Served, expect_code, key, reason, serve_tenant};

async fn check(
    served: &Served,
    who: As,
    aws_account_id: &str,
    mode: common::TerminationMode,
    acknowledgements: Vec<i32>,
    order: Option<Uuid>,
) -> Result<pb::CheckTerminationResponse, tonic::Status> {
    Ok(served
        .accounts()
        .check_termination(served.request(
            who,
            pb::CheckTerminationRequest {
                aws_account_id: aws_account_id.to_owned(),
                mode: mode as i32,
                acknowledgements,
                order_id: order.map(|id| id.to_string()).unwrap_or_default(),
                acknowledged_open_balance: None,
            },
        ))
        .await?
        .into_inner())
}

fn codes(reply: &pb::CheckTerminationResponse) -> Vec<&str> {
    reply
        .problems
        .iter()
        .map(|problem| problem.code.as_str())
        .collect()
}

#[tokio::test]
async fn an_active_account_with_an_active_subscription_and_every_acknowledgement_is_eligible() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    served.active_member(tenant, "100000000001").await;
    let reply = check(
        &served,
        As::Customer(tenant),
        "100000000001",
        common::TerminationMode::Unlink,
        crate::support::every_acknowledgement(),
        None,
    )
    .await
    .expect("check");
    assert!(reply.eligible, "{reply:?}");
    assert!(reply.problems.is_empty());
    let required: Vec<_> = reply.required_acknowledgements().collect();
    assert_eq!(
        required,
        [
            common::Acknowledgement::OutstandingBill,
            common::Acknowledgement::Commitments,
            common::Acknowledgement::Standalone,
        ]
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn missing_acknowledgements_are_named_with_tnr007() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    served.active_member(tenant, "100000000002").await;
    let reply = check(
        &served,
        As::Customer(tenant),
        "100000000002",
        common::TerminationMode::Close,
        vec![common::Acknowledgement::Backup as i32],
        None,
    )
    .await
    .expect("check");
    assert!(!reply.eligible);
    assert_eq!(codes(&reply), ["TNR007"]);
    assert!(reply.problems[0].message.contains("ACKNOWLEDGEMENT_REOPEN_WINDOW (the account can be reopened through AWS Support for 90 days, and never after)"));
    served.host.shutdown().await;
}

#[tokio::test]
async fn only_an_active_subscription_can_be_terminated() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    let account = served.active_member(tenant, "100000000003").await;
    let subscription = served
        .subscriptions(tenant, &account.id)
        .await
        .pop()
        .expect("subscription");
    served
        .accounts()
        .set_subscription_status(served.request(
            As::Operator,
            pb::SetSubscriptionStatusRequest {
                idempotency_key: key(),
                subscription_id: subscription.id,
                status: pb::SubscriptionStatus::Suspended as i32,
                reason: "payment overdue".to_owned(),
            },
        ))
        .await
        .expect("suspend");
    let reply = check(
        &served,
        As::Customer(tenant),
        "100000000003",
        common::TerminationMode::Unlink,
        crate::support::every_acknowledgement(),
        None,
    )
    .await
    .expect("check");
    assert_eq!(codes(&reply), ["TNR011"]);
    assert!(reply.problems[0].message.contains("suspended"));
    let status = expect_code(
        served
            .begin_offboarding(
                tenant,
                "100000000003",
                common::TerminationMode::Unlink,
                Uuid::new_v4(),
            )
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&status), "TNR011");
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_management_account_with_live_members_cannot_be_closed() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    served
        .active_account(
            tenant,
            "200000000000",
            pb::AccountRole::Management,
            common::AccountRelationship::PlatformPayer,
            "",
        )
        .await;
    served
        .active_account(
            tenant,
            "200000000001",
            pb::AccountRole::Member,
            common::AccountRelationship::PlatformMember,
            "200000000000",
        )
        .await;
    let reply = check(
        &served,
        As::Orders(tenant),
        "200000000000",
        common::TerminationMode::Close,
        crate::support::every_acknowledgement(),
        None,
    )
    .await
    .expect("check");
    assert_eq!(codes(&reply), ["TNR404"]);
    let status = expect_code(
        served
            .begin_offboarding(
                tenant,
                "200000000000",
                common::TerminationMode::Close,
                Uuid::new_v4(),
            )
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&status), "TNR404");
    let unlink = check(
        &served,
        As::Orders(tenant),
        "200000000000",
        common::TerminationMode::Unlink,
        crate::support::every_acknowledgement(),
        None,
    )
    .await
    .expect("check");
    assert!(
        unlink.eligible,
        "unlinking the payer is not a closure: {unlink:?}"
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn no_other_order_may_be_in_flight_for_the_account() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    served.active_member(tenant, "100000000004").await;
    let first_order = Uuid::new_v4();
    served
        .begin_offboarding(
            tenant,
            "100000000004",
            common::TerminationMode::Close,
            first_order,
        )
        .await
        .expect("first termination");
    let reply = check(
        &served,
        As::Orders(tenant),
        "100000000004",
        common::TerminationMode::Close,
        crate::support::every_acknowledgement(),
        Some(Uuid::new_v4()),
    )
    .await
    .expect("check");
    assert_eq!(codes(&reply)[0], "TNR009");
    assert!(reply.problems[0].message.contains(&first_order.to_string()));
    let own = check(
        &served,
        As::Orders(tenant),
        "100000000004",
        common::TerminationMode::Close,
        crate::support::every_acknowledgement(),
        Some(first_order),
    )
    .await
    .expect("check");
    assert!(
        !codes(&own).contains(&"TNR009"),
        "its own order is no conflict: {own:?}"
    );
    let status = expect_code(
        served
            .begin_offboarding(
                tenant,
                "100000000004",
                common::TerminationMode::Close,
                Uuid::new_v4(),
            )
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&status), "TNR009");
    served.host.shutdown().await;
}
