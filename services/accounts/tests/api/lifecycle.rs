//! The account lifecycle through the real server: every allowed transition, every refused one, the
//! transition history, and the 90-day reopen window on a moved clock.

use tenure_proto::accounts::v1 as pb;
use tenure_proto::common::v1 as common;
use tonic::Code;
use uuid::Uuid;

use crate::support::{
    As, Backend, Served, expect_code, key, metadata, reason, serve_tenant, serve_with_purge,
};

/// The events a record can be offered, each through its own RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Activate,
    Release,
    BeginOffboarding,
    AbortOffboarding,
    OutcomePendingClosure,
    OutcomeUnlinking,
    OutcomeUnlinked,
    ConfirmClosure,
    Reopen,
    Remove,
    Restore,
}

const EVENTS: [Event; 11] = [
    Event::Activate,
    Event::Release,
    Event::BeginOffboarding,
    Event::AbortOffboarding,
    Event::OutcomePendingClosure,
    Event::OutcomeUnlinking,
    Event::OutcomeUnlinked,
    Event::ConfirmClosure,
    Event::Reopen,
    Event::Remove,
    Event::Restore,
];

/// The states a test can reach through the API, and the events domain.md §5 allows from each.
const ALLOWED: &[(pb::AccountState, &[Event])] = &[
    (
        pb::AccountState::PendingCreation,
        &[Event::Activate, Event::Release],
    ),
    (
        pb::AccountState::TransferPending,
        &[Event::Activate, Event::Release],
    ),
    (
        pb::AccountState::Active,
        &[Event::BeginOffboarding, Event::Remove],
    ),
    (
        pb::AccountState::Offboarding,
        &[
            Event::AbortOffboarding,
            Event::OutcomePendingClosure,
            Event::OutcomeUnlinking,
            Event::OutcomeUnlinked,
        ],
    ),
    (pb::AccountState::PendingClosure, &[Event::ConfirmClosure]),
    (pb::AccountState::Closed, &[Event::Reopen]),
    (pb::AccountState::Unlinking, &[]),
    (pb::AccountState::Unlinked, &[]),
    (pb::AccountState::Abandoned, &[]),
    (pb::AccountState::Removed, &[Event::Restore]),
];

/// A record of `tenant` brought into `state`, with the order that holds it when one does.
async fn record_in(
    served: &Served,
    tenant: Uuid,
    state: pb::AccountState,
) -> (pb::AwsAccount, Uuid) {
    let aws_id = format!("{:012}", rand_digits());
    let order = Uuid::new_v4();
    if state == pb::AccountState::PendingCreation {
        // A NEW order's record, attached to the AWS account id AWS assigned it.
        let reserved = served
            .reserve_new(tenant, &format!("root-{aws_id}@example.com"), "New account")
            .await
            .expect("reserve new");
        let attached = served
            .attach(tenant, &reserved.id, &aws_id)
            .await
            .expect("attach");
        return (attached, order);
    }
    let reserved = served
        .reserve_member_transfer(tenant, &aws_id, order)
        .await
        .expect("reserve");
    served
        .attach(tenant, &reserved.id, &aws_id)
        .await
        .expect("attach");
    if state == pb::AccountState::TransferPending {
        return (reserved, order);
    }
    if state == pb::AccountState::Abandoned {
        let released = served
            .release(tenant, &reserved.id, "order cancelled")
            .await
            .expect("release");
        return (released, order);
    }
    let active = served
        .activate(tenant, &reserved.id)
        .await
        .expect("activate")
        .account
        .expect("account");
    if state == pb::AccountState::Active {
        return (active, order);
    }
    if state == pb::AccountState::Removed {
        let removed = served
            .remove_from_platform(As::Operator, &active.id)
            .await
            .expect("remove");
        return (removed, order);
    }
    let offboarding = served
        .begin_offboarding(tenant, &aws_id, common::TerminationMode::Close, order)
        .await
        .expect("begin offboarding");
    let outcome = match state {
        pb::AccountState::Offboarding => return (offboarding, order),
        pb::AccountState::Unlinking => pb::OffboardingOutcome::Unlinking,
        pb::AccountState::Unlinked => pb::OffboardingOutcome::Unlinked,
        _ => pb::OffboardingOutcome::PendingClosure,
    };
    let after = served
        .record_outcome(tenant, &offboarding.id, order, outcome)
        .await
        .expect("outcome");
    if state != pb::AccountState::Closed {
        return (after, order);
    }
    let closed = served
        .record_closure(tenant, &after.id)
        .await
        .expect("closure");
    (closed, order)
}

/// States whose record no longer holds its AWS account id, so a lookup by that id finds none.
fn is_not_live(state: pb::AccountState) -> bool {
    matches!(
        state,
        pb::AccountState::Unlinked
            | pb::AccountState::Abandoned
            | pb::AccountState::PermanentlyClosed
            | pb::AccountState::Removed
    )
}

fn rand_digits() -> u64 {
    u64::from(Uuid::new_v4().as_u128() as u32) * 100 + 7
}

async fn offer(
    served: &Served,
    tenant: Uuid,
    account: &pb::AwsAccount,
    order: Uuid,
    event: Event,
) -> Result<pb::AwsAccount, tonic::Status> {
    let aws_id = account.aws_account_id.as_str();
    match event {
        Event::Activate => served
            .activate(tenant, &account.id)
            .await
            .map(|reply| reply.account.expect("account")),
        Event::Release => served.release(tenant, &account.id, "").await,
        Event::BeginOffboarding => {
            served
                .begin_offboarding(tenant, aws_id, common::TerminationMode::Close, order)
                .await
        }
        Event::AbortOffboarding => served
            .accounts()
            .abort_offboarding(served.request(
                As::Orders(tenant),
                pb::AbortOffboardingRequest {
                    idempotency_key: key(),
                    account_id: account.id.clone(),
                    reason: "order cancelled before the pivot".to_owned(),
                },
            ))
            .await
            .map(|reply| reply.into_inner().account.expect("account")),
        Event::OutcomePendingClosure => {
            served
                .record_outcome(
                    tenant,
                    &account.id,
                    order,
                    pb::OffboardingOutcome::PendingClosure,
                )
                .await
        }
        Event::OutcomeUnlinking => {
            served
                .record_outcome(
                    tenant,
                    &account.id,
                    order,
                    pb::OffboardingOutcome::Unlinking,
                )
                .await
        }
        Event::OutcomeUnlinked => {
            served
                .record_outcome(tenant, &account.id, order, pb::OffboardingOutcome::Unlinked)
                .await
        }
        Event::ConfirmClosure => served.record_closure(tenant, &account.id).await,
        Event::Reopen => served.reopen(&account.id).await,
        Event::Remove => {
            served
                .remove_from_platform(As::Admin(tenant), &account.id)
                .await
        }
        Event::Restore => {
            served
                .restore_to_platform(As::Admin(tenant), &account.id)
                .await
        }
    }
}

#[tokio::test]
async fn every_transition_of_the_lifecycle_is_allowed_or_refused_as_specified() {
    let served = serve_with_purge(Backend::Postgres).await;
    let tenant = served.tenant().await;
    for (state, allowed) in ALLOWED {
        for event in EVENTS {
            let (account, order) = record_in(&served, tenant, *state).await;
            assert_eq!(account.state(), *state, "set-up of {state:?}");
            let outcome = offer(&served, tenant, &account, order, event).await;
            if allowed.contains(&event) {
                let moved = outcome.unwrap_or_else(|status| {
                    panic!("{event:?} from {state:?} must be allowed: {status:?}")
                });
                assert_ne!(moved.state(), *state, "{event:?} from {state:?}");
            } else {
                let status =
                    outcome.expect_err(&format!("{event:?} from {state:?} must be refused"));
                // A tombstone or a removed record is no live registration, so an offboarding by AWS
                // account id finds none.
                let expected = if event == Event::BeginOffboarding && is_not_live(*state) {
                    Code::NotFound
                } else {
                    Code::FailedPrecondition
                };
                assert_eq!(
                    status.code(),
                    expected,
                    "{event:?} from {state:?}: {status:?}"
                );
                let current = metadata(&status, "current_state");
                if !current.is_empty() {
                    assert_eq!(
                        current,
                        state
                            .as_str_name()
                            .trim_start_matches("ACCOUNT_STATE_")
                            .to_lowercase()
                    );
                }
                let after = served
                    .get_account(As::Operator, &account.id)
                    .await
                    .expect("read back");
                assert_eq!(after.state(), *state, "a refused {event:?} changes nothing");
            }
        }
    }
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_refused_transition_names_the_current_state() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    let account = served.active_member(tenant, "012345678901").await;
    let status = expect_code(served.reopen(&account.id).await, Code::FailedPrecondition);
    assert_eq!(reason(&status), "INVALID_TRANSITION");
    assert_eq!(metadata(&status, "current_state"), "active");
    assert!(status.message().contains("active"), "{status:?}");
    served.host.shutdown().await;
}

#[tokio::test]
async fn every_transition_is_recorded_with_who_made_it_and_why() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    let (closed, _) = record_in(&served, tenant, pb::AccountState::Closed).await;
    served
        .reopen(&closed.id)
        .await
        .expect("reopen inside the window");
    let history = served
        .accounts()
        .list_account_transitions(served.request(
            As::Customer(tenant),
            pb::ListAccountTransitionsRequest {
                account_id: closed.id.clone(),
                page_size: 0,
                page_token: String::new(),
            },
        ))
        .await
        .expect("history")
        .into_inner()
        .transitions;
    let states: Vec<_> = history
        .iter()
        .map(|t| (t.from_state(), t.to_state()))
        .collect();
    use pb::AccountState::*;
    assert_eq!(
        states,
        [
            (Unspecified, TransferPending),
            (TransferPending, Active),
            (Active, Offboarding),
            (Offboarding, PendingClosure),
            (PendingClosure, Closed),
            (Closed, Active),
        ]
    );
    let reopen = history.last().expect("last");
    let actor = reopen.actor.as_ref().expect("actor");
    assert_eq!(actor.role(), common::PrincipalRole::Operator);
    assert_eq!(actor.subject, "test-user");
    assert_eq!(reopen.reason, "AWS Support reopened the account");
    let begin = &history[2];
    assert_eq!(begin.actor.as_ref().expect("actor").subject, "svc:orders");
    assert_eq!(begin.reason, "customer asked");
    assert!(!begin.order_id.is_empty());
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_closed_account_reopens_inside_its_90_day_window_and_not_after() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    let (inside, _) = record_in(&served, tenant, pb::AccountState::Closed).await;
    let (outside, _) = record_in(&served, tenant, pb::AccountState::Closed).await;
    let closed_at = inside.closed_at.expect("closed_at").seconds;
    let until = inside.reopen_until.expect("reopen_until").seconds;
    assert_eq!(
        until - closed_at,
        90 * 24 * 3600,
        "reopen_until = closed_at + 90 days"
    );

    served.clock.advance(chrono::Duration::days(89));
    let reopened = served
        .reopen(&inside.id)
        .await
        .expect("day 89 is inside the window");
    assert_eq!(reopened.state(), pb::AccountState::Active);
    assert_eq!(
        reopened.reopen_until.expect("kept").seconds,
        until,
        "written once"
    );

    served.clock.advance(chrono::Duration::days(2));
    let status = expect_code(served.reopen(&outside.id).await, Code::FailedPrecondition);
    assert_eq!(reason(&status), "REOPEN_WINDOW_PASSED");

    // The timer at reopen_until then makes the closure permanent.
    served
        .await_state(&outside.id, pb::AccountState::PermanentlyClosed)
        .await;
    let status = expect_code(served.reopen(&outside.id).await, Code::FailedPrecondition);
    assert_eq!(metadata(&status, "current_state"), "permanently_closed");
    served.host.shutdown().await;
}

#[tokio::test]
async fn an_unlinking_account_is_unlinked_when_its_billing_ends() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    let (unlinking, _) = record_in(&served, tenant, pb::AccountState::Unlinking).await;
    served.clock.advance(chrono::Duration::days(21));
    served
        .await_state(&unlinking.id, pb::AccountState::Unlinked)
        .await;
    served.host.shutdown().await;
}

/// Without data-purge, an unsubscribe could not schedule its purge, so it is refused and the tenant
/// stays as it was; the connected path runs in the end-to-end suite.
#[tokio::test]
async fn without_data_purge_an_unsubscribe_is_refused_and_changes_nothing() {
    let (served, tenant) = serve_tenant(Backend::Postgres).await;
    let refused = expect_code(
        served
            .accounts()
            .unsubscribe_tenant(served.request(
                As::Operator,
                pb::UnsubscribeTenantRequest {
                    idempotency_key: key(),
                    tenant_id: tenant.to_string(),
                    unsubscribed_at: None,
                    marketplace_event_ref: "mp-event-1".to_owned(),
                },
            ))
            .await,
        Code::FailedPrecondition,
    );
    assert!(refused.message().contains("data-purge"), "{refused:?}");
    let after = served
        .accounts()
        .get_tenant(served.request(
            As::Operator,
            pb::GetTenantRequest {
                tenant_id: tenant.to_string(),
            },
        ))
        .await
        .expect("tenant")
        .into_inner()
        .tenant
        .expect("tenant");
    assert_eq!(after.status, pb::TenantStatus::Active as i32);
    served.host.shutdown().await;
}
