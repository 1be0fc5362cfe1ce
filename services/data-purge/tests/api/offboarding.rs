//! Purges scheduled by offboarding: a trigger that lies ahead (a billing transfer ends at the end of the
//! month), and accounts scheduling and cancelling the purge of an account removed from the platform.

use std::sync::Arc;
use std::time::Duration;

use tenure_domain::{Clock as _, ManualClock, SystemClock};
use tenure_proto::purge::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt as _;
use uuid::Uuid;

use crate::purges::{
    As, SLOW, Served, account_purge, expedite, key, serve, serve_with, timestamp, violated_fields,
};

fn seconds(at: Option<prost_types::Timestamp>) -> i64 {
    at.expect("timestamp").seconds
}

const DAY: i64 = 86_400;

fn reason(status: &tonic::Status) -> Option<String> {
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
}

/// Waits until the purge reaches `state`, or fails after 20 seconds.
async fn wait_for(served: &Served, id: &str, state: pb::PurgeState) -> pb::Purge {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let purge = served.get(&As::Operator, id).await.expect("purge");
        if purge.state == state as i32 {
            return purge;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reached {state:?}: {purge:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_trigger_ahead_sets_due_and_deadline_from_it_and_the_purge_runs_once_the_clock_passes() {
    let clock = Arc::new(ManualClock::new());
    let served = serve_with(Duration::from_millis(100), false, clock.clone()).await;
    let tenant = Uuid::new_v4();
    let transfer_ends = clock.now() + chrono::Duration::days(20);
    let scheduled = served
        .schedule(pb::SchedulePurgeRequest {
            triggered_at: Some(timestamp(transfer_ends)),
            ..account_purge(tenant, "123456789012")
        })
        .await
        .expect("a trigger 20 days ahead is accepted");
    let triggered = transfer_ends.timestamp();
    assert_eq!(scheduled.state, pb::PurgeState::Scheduled as i32);
    assert_eq!(seconds(scheduled.triggered_at), triggered);
    assert_eq!(
        seconds(scheduled.due_at),
        triggered + 30 * DAY,
        "due counts from the trigger"
    );
    assert_eq!(
        seconds(scheduled.deadline),
        triggered + 30 * DAY,
        "the policy deadline counts from the trigger"
    );
    // Not overdue on arrival: `purge_overdue` counts pending purges whose deadline has passed.
    assert!(seconds(scheduled.deadline) > clock.now().timestamp());

    // A day before the due time the worker leaves it alone.
    clock.advance(chrono::Duration::days(49));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let waiting = served
        .get(&As::Operator, &scheduled.id)
        .await
        .expect("purge");
    assert_eq!(waiting.state, pb::PurgeState::Scheduled as i32);
    assert!(waiting.started_at.is_none());
    assert!(
        seconds(waiting.deadline) > clock.now().timestamp(),
        "still not overdue a day before it is due"
    );

    clock.advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
    let completed = wait_for(&served, &scheduled.id, pb::PurgeState::Completed).await;
    assert!(seconds(completed.started_at) >= seconds(completed.due_at));
    assert!(!completed.receipt_id.is_empty());
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_trigger_more_than_400_days_ahead_or_before_2020_is_refused_on_triggered_at() {
    let served = serve(SLOW).await;
    let tenant = Uuid::new_v4();
    for at in [
        SystemClock.now() + chrono::Duration::days(401),
        chrono::DateTime::parse_from_rfc3339("2019-12-31T23:59:59Z")
            .expect("instant")
            .to_utc(),
    ] {
        let refused = served
            .schedule(pb::SchedulePurgeRequest {
                triggered_at: Some(timestamp(at)),
                ..account_purge(tenant, "123456789012")
            })
            .await
            .expect_err("out of range");
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(
            violated_fields(&refused),
            ["triggered_at".to_owned()].into()
        );
        assert_eq!(reason(&refused).as_deref(), Some("TNR004"));
    }
    let furthest = served
        .schedule(pb::SchedulePurgeRequest {
            triggered_at: Some(timestamp(SystemClock.now() + chrono::Duration::days(399))),
            ..account_purge(tenant, "123456789012")
        })
        .await
        .expect("399 days ahead is accepted");
    assert_eq!(furthest.state, pb::PurgeState::Scheduled as i32);
    served.host.shutdown().await;
}

#[tokio::test]
async fn an_expedite_moves_a_purge_triggered_ahead_to_now() {
    let served = serve(SLOW).await;
    let ahead = served
        .schedule(pb::SchedulePurgeRequest {
            triggered_at: Some(timestamp(SystemClock.now() + chrono::Duration::days(25))),
            ..account_purge(Uuid::new_v4(), "123456789012")
        })
        .await
        .expect("schedule");
    let moved = served
        .purges()
        .expedite_purge(served.request(&As::Operator, expedite(&ahead.id, "OPS-12")))
        .await
        .expect("an expedite only moves it earlier")
        .into_inner()
        .purge
        .expect("purge");
    assert_eq!(moved.state, pb::PurgeState::Due as i32);
    assert!(seconds(moved.due_at) <= SystemClock.now().timestamp());
    assert_eq!(
        seconds(moved.deadline),
        seconds(ahead.deadline),
        "the deadline stays"
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn accounts_schedules_and_cancels_the_purge_of_a_removed_account_until_it_ran() {
    let served = serve(Duration::from_millis(100)).await;
    let tenant = Uuid::new_v4();
    let removal = |account: &str| pb::SchedulePurgeRequest {
        reason: pb::PurgeReason::AccountRemoved as i32,
        ..account_purge(tenant, account)
    };
    let scope = |account: &str| pb::PurgeScope {
        kind: pb::ScopeKind::Account as i32,
        tenant_id: tenant.to_string(),
        aws_account_id: account.to_owned(),
    };
    let cancel = |target: pb::cancel_purge_request::Target| pb::CancelPurgeRequest {
        idempotency_key: key(),
        target: Some(target),
        reason: "the removal was undone".to_owned(),
    };
    let scheduled = served
        .purges()
        .schedule_purge(served.request(&As::Accounts(tenant), removal("123456789012")))
        .await
        .expect("accounts schedules an account removal")
        .into_inner()
        .purge
        .expect("purge");
    assert_eq!(scheduled.state, pb::PurgeState::Scheduled as i32);
    assert_eq!(scheduled.reason, pb::PurgeReason::AccountRemoved as i32);
    assert_eq!(
        scheduled.classes,
        [
            tenure_proto::common::v1::DataClass::AwsFetched as i32,
            tenure_proto::common::v1::DataClass::CostData as i32,
        ],
        "an account removal never touches login identity"
    );
    let restored = served
        .purges()
        .cancel_purge(served.request(
            &As::Accounts(tenant),
            cancel(pb::cancel_purge_request::Target::Scope(scope(
                "123456789012",
            ))),
        ))
        .await
        .expect("accounts cancels while the purge has not run")
        .into_inner()
        .purge
        .expect("the cancelled purge");
    assert_eq!(restored.id, scheduled.id);
    assert_eq!(restored.state, pb::PurgeState::Cancelled as i32);

    // Once the purge ran, its data is gone: a cancel is refused with the catalogue code.
    let ran = served
        .purges()
        .schedule_purge(served.request(&As::Accounts(tenant), removal("210987654321")))
        .await
        .expect("schedule")
        .into_inner()
        .purge
        .expect("purge");
    served
        .purges()
        .expedite_purge(served.request(&As::Operator, expedite(&ran.id, "OPS-7")))
        .await
        .expect("expedite");
    wait_for(&served, &ran.id, pb::PurgeState::Completed).await;
    let refused = served
        .purges()
        .cancel_purge(served.request(
            &As::Accounts(tenant),
            cancel(pb::cancel_purge_request::Target::PurgeId(ran.id.clone())),
        ))
        .await
        .expect_err("a completed purge cannot be cancelled");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused).as_deref(), Some("TNR502"));
    assert!(
        refused
            .message()
            .starts_with("The restore window for this data has ended"),
        "{refused:?}"
    );
    // By scope, nothing is pending any more: the answer names no purge.
    let nothing = served
        .purges()
        .cancel_purge(served.request(
            &As::Accounts(tenant),
            cancel(pb::cancel_purge_request::Target::Scope(scope(
                "210987654321",
            ))),
        ))
        .await
        .expect("nothing pending")
        .into_inner();
    assert!(nothing.purge.is_none());
    assert_eq!(
        served.state(&ran.id).await,
        pb::PurgeState::Completed as i32
    );
    served.host.shutdown().await;
}
