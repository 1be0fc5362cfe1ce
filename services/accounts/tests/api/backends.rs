//! The same store behaviour on PostgreSQL and SQLite: each body runs against both backends.

use tenure_proto::accounts::v1 as pb;
use tonic::Code;
use uuid::Uuid;

use crate::support::{As, Backend, Served, expect_code, key, metadata, reason, serve_with_purge};

async fn lifecycle_round_trip(served: &Served) {
    let tenant = served.tenant().await;
    let account = served.active_member(tenant, "600000000001").await;
    served
        .offboard(
            tenant,
            "600000000001",
            &account.id,
            pb::OffboardingOutcome::PendingClosure,
        )
        .await;
    let closed = served
        .record_closure(tenant, &account.id)
        .await
        .expect("closed");
    assert_eq!(closed.state(), pb::AccountState::Closed);
    served.clock.advance(chrono::Duration::days(91));
    let status = expect_code(served.reopen(&account.id).await, Code::FailedPrecondition);
    assert_eq!(reason(&status), "REOPEN_WINDOW_PASSED");
}

async fn uniqueness_of_live_registrations(served: &Served) {
    let tenant = served.tenant().await;
    let other = served.tenant().await;
    served
        .reserve_new(tenant, "Root@Example.com", "One")
        .await
        .expect("first");
    let status = expect_code(
        served.reserve_new(other, "root@example.COM", "Two").await,
        Code::FailedPrecondition,
    );
    assert_eq!(metadata(&status, "code"), "TNR101");
    served.active_member(tenant, "600000000002").await;
    let status = expect_code(
        served
            .reserve_member_transfer(other, "600000000002", Uuid::new_v4())
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&status), "TNR213");
    // A tombstone frees the id for a new registration.
    let released = served
        .reserve_member_transfer(tenant, "600000000003", Uuid::new_v4())
        .await
        .expect("reserve");
    served
        .release(tenant, &released.id, "cancelled")
        .await
        .expect("release");
    served
        .reserve_member_transfer(other, "600000000003", Uuid::new_v4())
        .await
        .expect("the id is free again");
}

async fn idempotent_replay(served: &Served) {
    let tenant = served.tenant().await;
    let account = served.active_member(tenant, "600000000004").await;
    let request = pb::PutAccountDetailsRequest {
        idempotency_key: key(),
        account_id: account.id.clone(),
        details: Some(pb::AccountDetails {
            name: "Name".to_owned(),
            email: "root@example.com".to_owned(),
            organization_path: String::new(),
            tags: Vec::new(),
            fetched_at: Some(crate::support::timestamp(served.clock_now())),
        }),
    };
    let first = served
        .accounts()
        .put_account_details(served.request(As::Orders(tenant), request.clone()))
        .await
        .expect("first")
        .into_inner();
    let replay = served
        .accounts()
        .put_account_details(served.request(As::Orders(tenant), request.clone()))
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(first, replay);
    let mut changed = request;
    changed.details.as_mut().expect("details").name = "Other".to_owned();
    let status = expect_code(
        served
            .accounts()
            .put_account_details(served.request(As::Orders(tenant), changed))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&status), "IDEMPOTENCY_KEY_REUSED");
}

/// Runs `body` on a fresh service (with a stand-in data-purge) over each backend.
macro_rules! on_both_backends {
    ($($name:ident => $body:ident),+ $(,)?) => {
        $(mod $name {
            #[tokio::test]
            async fn postgres() {
                let served = super::serve_with_purge(super::Backend::Postgres).await;
                super::$body(&served).await;
                served.host.shutdown().await;
            }

            #[tokio::test]
            async fn sqlite() {
                let served = super::serve_with_purge(super::Backend::Sqlite).await;
                super::$body(&served).await;
                served.host.shutdown().await;
            }
        })+
    };
}

async fn purge_plan_matches_execution(served: &Served) {
    crate::purge::account_purge_matches_its_plan(served).await;
}

async fn purged_responses_are_not_replayed(served: &Served) {
    crate::purge::purged_responses_are_not_replayed(served).await;
}

async fn removal_and_restore(served: &Served) {
    crate::removal::remove_then_restore(served).await;
}

async fn open_balances(served: &Served) {
    crate::balances::report_across_tenants(served).await;
}

on_both_backends!(
    lifecycle => lifecycle_round_trip,
    removal => removal_and_restore,
    balances => open_balances,
    uniqueness => uniqueness_of_live_registrations,
    idempotency => idempotent_replay,
    purge => purge_plan_matches_execution,
    purged_replay => purged_responses_are_not_replayed,
);
