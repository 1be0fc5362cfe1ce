//! Removing an account from the platform and restoring it (seed 004): who may, from which state, the purge
//! data-purge schedules and cancels, the account-scope purge of a removed record, and the conflicts a
//! restore or a new transfer meets.

use tenure_proto::accounts::v1 as pb;
use tenure_proto::common::v1 as common;
use tenure_proto::common::v1::DataClass;
use tenure_proto::purge::v1 as purge;
use tonic::{Code, Status};
use uuid::Uuid;

use crate::fake_purge::{FakePurge, PURGE_DAYS};
use crate::support::{
    As, Backend, Served, expect_code, key, reason, row_count, serve_tenant, serve_with_purge,
    violated_fields,
};

fn fake(served: &Served) -> &FakePurge {
    served.purge.as_ref().expect("a stand-in data-purge")
}

/// The refusals these tests expect.
const REFUSED: Code = Code::FailedPrecondition;
const DENIED: Code = Code::PermissionDenied;

/// A removal of `id` by `who`, refused with `code`.
async fn refused_removal(served: &Served, who: As, id: &str, code: Code) -> Status {
    expect_code(served.remove_from_platform(who, id).await, code)
}

/// A restore of `id` by `who`, refused with `code`.
async fn refused_restore(served: &Served, who: As, id: &str, code: Code) -> Status {
    expect_code(served.restore_to_platform(who, id).await, code)
}

/// Another tenant's record and a random id, refused alike.
#[track_caller]
fn assert_refused_alike(
    foreign: Result<pb::AwsAccount, Status>,
    random: Result<pb::AwsAccount, Status>,
) {
    assert_same_answer(&foreign.expect_err("foreign"), &random.expect_err("random"));
}

/// Runs data-purge's account-scope execution of `purge_id` on this service.
async fn execute_purge(
    served: &Served,
    tenant: Uuid,
    aws_account_id: &str,
    purge_id: &str,
) -> Vec<purge::TableCount> {
    served
        .participant()
        .execute(
            served.request(
                As::PurgerFor(tenant),
                purge::ExecuteRequest {
                    idempotency_key: key(),
                    purge_id: purge_id.to_owned(),
                    scope: Some(purge::ParticipantScope {
                        kind: purge::ScopeKind::Account as i32,
                        tenant_id: tenant.to_string(),
                        aws_account_id: aws_account_id.to_owned(),
                    }),
                    classes: [DataClass::AwsFetched, DataClass::CostData]
                        .iter()
                        .map(|class| *class as i32)
                        .collect(),
                },
            ),
        )
        .await
        .expect("execute")
        .into_inner()
        .entries
}

async fn details(served: &Served, tenant: Uuid, id: &str) -> Result<pb::AccountDetails, Status> {
    Ok(served
        .accounts()
        .get_account_details(served.request(
            As::Customer(tenant),
            pb::GetAccountDetailsRequest {
                account_id: id.to_owned(),
            },
        ))
        .await?
        .into_inner()
        .details
        .expect("details"))
}

fn assert_same_answer(foreign: &Status, random: &Status) {
    assert_eq!(foreign.code(), Code::NotFound, "{foreign:?}");
    assert_eq!(foreign.code(), random.code());
    assert_eq!(foreign.message(), random.message());
    assert_eq!(foreign.details(), random.details());
}

/// An administrator removes an active account: it leaves the platform with its subscription, its
/// purge is scheduled once however often the call is retried, the tenant cannot transfer the account
/// in again meanwhile, and a restore cancels the purge and opens a new subscription.
pub(crate) async fn remove_then_restore(served: &Served) {
    let (tenant, account) = crate::purge::tenant_with_data(served, "810000000001").await;
    let removed_at = served.clock_now();
    let request = pb::RemoveAccountFromPlatformRequest {
        idempotency_key: key(),
        account_id: account.id.clone(),
        reason: "we no longer manage this workload".to_owned(),
        ticket: String::new(),
    };
    let removed = served
        .accounts()
        .remove_account_from_platform(served.request(As::Admin(tenant), request.clone()))
        .await
        .expect("an administrator removes the account")
        .into_inner();
    let record = removed.account.clone().expect("account");
    assert_eq!(record.state(), pb::AccountState::Removed);
    assert_eq!(
        record.removed_at.expect("removed_at").seconds,
        removed_at.timestamp()
    );
    let scheduled = fake(served).get(&record.removal_purge_id);
    assert_eq!(scheduled.acting_tenant, Some(tenant));
    assert_eq!(scheduled.purge.reason(), purge::PurgeReason::AccountRemoved);
    assert_eq!(
        scheduled.purge.scope,
        Some(purge::PurgeScope {
            kind: purge::ScopeKind::Account as i32,
            tenant_id: tenant.to_string(),
            aws_account_id: "810000000001".to_owned(),
        })
    );
    assert_eq!(
        scheduled.purge.triggered_at.expect("triggered").seconds,
        removed_at.timestamp()
    );
    assert_eq!(
        record.removal_purge_due_at.expect("due").seconds,
        removed_at.timestamp() + PURGE_DAYS * 24 * 3600
    );
    assert!(
        details(served, tenant, &account.id).await.is_ok(),
        "the record's data stays until the purge"
    );

    let replay = served
        .accounts()
        .remove_account_from_platform(served.request(As::Admin(tenant), request))
        .await
        .expect("a retry")
        .into_inner();
    assert_eq!(replay, removed, "the retry answers as the first call did");
    assert_eq!(fake(served).purges(), 1, "one purge");

    let billed = served.subscriptions(tenant, &account.id).await;
    assert_eq!(billed.len(), 1);
    assert_eq!(billed[0].status(), pb::SubscriptionStatus::Terminated);
    let moves = served.transitions(tenant, &account.id).await;
    let last = moves.last().expect("transition");
    assert_eq!(
        (last.from_state(), last.to_state()),
        (pb::AccountState::Active, pb::AccountState::Removed)
    );
    let actor = last.actor.as_ref().expect("actor");
    assert_eq!(
        (actor.subject.as_str(), actor.role()),
        (
            crate::support::ADMIN_SUBJECT,
            common::PrincipalRole::Customer
        )
    );
    assert_eq!(last.reason, "we no longer manage this workload");

    // While the purge is pending, a new transfer would lose its data to it.
    let status = expect_code(
        served
            .reserve_member_transfer(tenant, "810000000001", Uuid::new_v4())
            .await,
        Code::AlreadyExists,
    );
    assert_eq!(reason(&status), "TNR010");
    assert_eq!(
        status.message(),
        "Account 810000000001 was removed from your subscription; restore it instead of transferring it again."
    );

    let restored = served
        .restore_to_platform(As::Admin(tenant), &account.id)
        .await
        .expect("restore before the purge");
    assert_eq!(restored.state(), pb::AccountState::Active);
    assert!(restored.removed_at.is_none() && restored.removal_purge_id.is_empty());
    assert!(restored.removal_purge_due_at.is_none());
    assert_eq!(
        fake(served).get(&record.removal_purge_id).purge.state(),
        purge::PurgeState::Cancelled
    );
    let billed = served.subscriptions(tenant, &account.id).await;
    assert_eq!(billed.len(), 2, "a new subscription");
    assert_eq!(billed[1].status(), pb::SubscriptionStatus::Active);
    assert_eq!(billed[1].marketplace_ref, billed[0].marketplace_ref);
    let moves = served.transitions(tenant, &account.id).await;
    let last = moves.last().expect("transition");
    assert_eq!(
        (last.from_state(), last.to_state()),
        (pb::AccountState::Removed, pb::AccountState::Active)
    );
    assert_eq!(last.reason, "restored to the platform");
}

#[tokio::test]
async fn a_customer_who_is_not_an_administrator_may_neither_remove_nor_restore() {
    let served = serve_with_purge(Backend::Postgres).await;
    let tenant = served.tenant().await;
    let account = served.active_member(tenant, "810000000002").await;
    served
        .accounts()
        .create_user(served.request(
            As::Admin(tenant),
            pb::CreateUserRequest {
                idempotency_key: key(),
                user: Some(pb::NewUser {
                    email: "grace@example.com".to_owned(),
                    display_name: "Grace Member".to_owned(),
                    idp_subject: "test-user".to_owned(),
                }),
                role: pb::UserRole::Member as i32,
                tenant_id: String::new(),
            },
        ))
        .await
        .expect("a member whose subject is the customer token's");
    let status = refused_removal(&served, As::Customer(tenant), &account.id, DENIED).await;
    assert!(
        status.message().contains("Only a tenant administrator"),
        "{status:?}"
    );
    let random = Uuid::new_v4().to_string();
    let status = refused_removal(&served, As::Customer(tenant), &random, DENIED).await;
    assert!(status.message().contains("administrator"), "{status:?}");
    refused_restore(&served, As::Customer(tenant), &account.id, DENIED).await;
    let after = served
        .get_account(As::Customer(tenant), &account.id)
        .await
        .expect("read");
    assert_eq!(after.state(), pb::AccountState::Active);
    assert_eq!(
        fake(&served).calls(),
        (0, 0),
        "data-purge never heard of it"
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn another_tenants_account_is_not_found_like_a_random_one() {
    let served = serve_with_purge(Backend::Postgres).await;
    let a = served.tenant().await;
    let b = served.tenant().await;
    let theirs = served.active_member(b, "810000000003").await;
    let random = Uuid::new_v4().to_string();
    assert_refused_alike(
        served.remove_from_platform(As::Admin(a), &theirs.id).await,
        served.remove_from_platform(As::Admin(a), &random).await,
    );
    assert_refused_alike(
        served.restore_to_platform(As::Admin(a), &theirs.id).await,
        served.restore_to_platform(As::Admin(a), &random).await,
    );
    let after = served
        .get_account(As::Customer(b), &theirs.id)
        .await
        .expect("B reads");
    assert_eq!(after.state(), pb::AccountState::Active, "unchanged");
    assert_eq!(fake(&served).purges(), 0);
    served.host.shutdown().await;
}

#[tokio::test]
async fn operators_remove_with_a_reason_and_a_ticket_and_are_audited() {
    let served = serve_with_purge(Backend::Postgres).await;
    let tenant = served.tenant().await;
    let account = served.active_member(tenant, "810000000004").await;
    let status = expect_code(
        served
            .accounts()
            .remove_account_from_platform(served.request(
                As::Operator,
                pb::RemoveAccountFromPlatformRequest {
                    idempotency_key: key(),
                    account_id: account.id.clone(),
                    reason: "short".to_owned(),
                    ticket: String::new(),
                },
            ))
            .await,
        Code::InvalidArgument,
    );
    let mut fields = violated_fields(&status);
    fields.sort();
    assert_eq!(fields, ["reason", "ticket"]);
    assert_eq!(fake(&served).purges(), 0, "nothing scheduled");
    let audit_before = row_count(&served, "audit_event").await;
    let removed = served
        .remove_from_platform(As::Operator, &account.id)
        .await
        .expect("an operator removes it");
    assert_eq!(removed.state(), pb::AccountState::Removed);
    assert_eq!(
        row_count(&served, "audit_event").await,
        audit_before + 1,
        "the removal is audited"
    );
    let last = served
        .transitions(tenant, &account.id)
        .await
        .pop()
        .expect("last");
    assert_eq!(
        last.actor.as_ref().expect("actor").role(),
        common::PrincipalRole::Operator
    );
    assert_eq!(last.reason, "customer asked support by phone");
    let restored = served
        .restore_to_platform(As::Operator, &account.id)
        .await
        .expect("an operator restores it");
    assert_eq!(restored.state(), pb::AccountState::Active);
    served.host.shutdown().await;
}

#[tokio::test]
async fn only_an_active_account_without_an_order_in_progress_can_be_removed() {
    let served = serve_with_purge(Backend::Postgres).await;
    let tenant = served.tenant().await;
    let held = served.active_member(tenant, "810000000005").await;
    let order = Uuid::new_v4();
    served
        .begin_offboarding(
            tenant,
            "810000000005",
            common::TerminationMode::Close,
            order,
        )
        .await
        .expect("offboarding");
    let status = refused_removal(&served, As::Admin(tenant), &held.id, REFUSED).await;
    assert_eq!(reason(&status), "TNR016");
    assert_eq!(
        status.message(),
        format!(
            "Only active accounts without an order in progress can be removed from the platform. \
             Order {order} for account 810000000005 is still in progress."
        )
    );
    let closed = served.active_member(tenant, "810000000006").await;
    served
        .offboard(
            tenant,
            "810000000006",
            &closed.id,
            pb::OffboardingOutcome::PendingClosure,
        )
        .await;
    served
        .record_closure(tenant, &closed.id)
        .await
        .expect("closed");
    let status = refused_removal(&served, As::Admin(tenant), &closed.id, REFUSED).await;
    assert_eq!(reason(&status), "TNR016");
    assert_eq!(
        status.message(),
        "Only active accounts without an order in progress can be removed from the platform. \
         Account 810000000006 is closed."
    );
    assert_eq!(fake(&served).purges(), 0);
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_restore_after_the_purge_started_is_refused() {
    let served = serve_with_purge(Backend::Postgres).await;
    let tenant = served.tenant().await;
    let account = served.active_member(tenant, "810000000007").await;
    let removed = served
        .remove_from_platform(As::Admin(tenant), &account.id)
        .await
        .expect("removed");
    fake(&served).start(&removed.removal_purge_id);
    let status = refused_restore(&served, As::Admin(tenant), &account.id, REFUSED).await;
    assert_eq!(reason(&status), "TNR502");
    assert_eq!(
        status.message(),
        "The restore window for this data has ended."
    );
    let after = served
        .get_account(As::Admin(tenant), &account.id)
        .await
        .expect("read");
    assert_eq!(after, removed, "still removed, with its purge");
    assert_eq!(served.subscriptions(tenant, &account.id).await.len(), 1);
    served.host.shutdown().await;
}

#[tokio::test]
async fn the_account_purge_of_a_removed_record_keeps_its_tombstone_and_ends_the_restore_window() {
    let served = serve_with_purge(Backend::Postgres).await;
    let (tenant, account) = crate::purge::tenant_with_data(&served, "810000000008").await;
    crate::balances::report(&served, "810000000008", 42_000_000, served.clock_now())
        .await
        .expect("balance");
    let removed = served
        .remove_from_platform(As::Admin(tenant), &account.id)
        .await
        .expect("removed");
    assert!(removed.open_balance.is_some());
    let planned =
        crate::purge::plan(&served, purge::ScopeKind::Account, tenant, "810000000008").await;
    let executed = execute_purge(&served, tenant, "810000000008", &removed.removal_purge_id).await;
    assert_eq!(
        crate::purge::acted(&planned),
        crate::purge::acted(&executed)
    );
    assert!(
        crate::purge::acted(&executed).contains(&(
            "aws_account".to_owned(),
            DataClass::CostData as i32,
            purge::PurgeAction::Pseudonymise as i32,
            1
        )),
        "the open balance goes with the cost data: {executed:?}"
    );
    assert!(
        crate::purge::verify(&served, purge::ScopeKind::Account, tenant, "810000000008")
            .await
            .is_empty()
    );
    let tombstone = served
        .get_account(As::Admin(tenant), &account.id)
        .await
        .expect("the tombstone stays");
    assert_eq!(tombstone.state(), pb::AccountState::Removed);
    assert_eq!(tombstone.aws_account_id, "810000000008");
    assert_eq!(tombstone.removal_purge_id, removed.removal_purge_id);
    assert!(tombstone.open_balance.is_none());
    assert_eq!(
        details(&served, tenant, &account.id)
            .await
            .expect_err("purged")
            .code(),
        Code::NotFound
    );
    let costs = served
        .accounts()
        .list_cost_records(served.request(
            As::Admin(tenant),
            pb::ListCostRecordsRequest {
                account_id: account.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("costs")
        .into_inner()
        .records;
    assert!(costs.is_empty());
    let users = served.users(As::Admin(tenant)).await;
    assert_eq!(users.len(), 1, "login information stays");

    let (_, cancels) = fake(&served).calls();
    let status = refused_restore(&served, As::Admin(tenant), &account.id, REFUSED).await;
    assert_eq!(reason(&status), "TNR502");
    assert_eq!(
        fake(&served).calls().1,
        cancels,
        "known here, without asking"
    );
    served
        .reserve_member_transfer(tenant, "810000000008", Uuid::new_v4())
        .await
        .expect("with the purge done, the account can be transferred in again");
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_restore_is_refused_once_another_tenant_manages_the_account() {
    let served = serve_with_purge(Backend::Postgres).await;
    let a = served.tenant().await;
    let b = served.tenant().await;
    let account = served.active_member(a, "810000000009").await;
    let removed = served
        .remove_from_platform(As::Admin(a), &account.id)
        .await
        .expect("removed");
    served.active_member(b, "810000000009").await;
    let status = refused_restore(&served, As::Admin(a), &account.id, REFUSED).await;
    assert_eq!(reason(&status), "TNR503");
    assert_eq!(
        status.message(),
        "The data cannot be restored because account 810000000009 is now in use."
    );
    assert!(!status.message().contains(&b.to_string()));
    assert_eq!(
        fake(&served).get(&removed.removal_purge_id).purge.state(),
        purge::PurgeState::Scheduled,
        "a refused restore leaves the purge to run"
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn without_data_purge_a_removal_is_refused_and_changes_nothing() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    let account = served.active_member(tenant, "810000000010").await;
    let status = refused_removal(&served, As::Admin(tenant), &account.id, REFUSED).await;
    assert!(status.message().contains("data-purge"), "{status:?}");
    let after = served
        .get_account(As::Admin(tenant), &account.id)
        .await
        .expect("read");
    assert_eq!(after.state(), pb::AccountState::Active);
    assert_eq!(
        served.subscriptions(tenant, &account.id).await[0].status(),
        pb::SubscriptionStatus::Active,
        "the subscription's end rolled back with the rest"
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn an_account_removal_and_restore_work_end_to_end() {
    let served = serve_with_purge(Backend::Postgres).await;
    remove_then_restore(&served).await;
    served.host.shutdown().await;
}
