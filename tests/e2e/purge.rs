//! The data purge across every data owner (orders, accounts, provisioning and data-purge's own
//! records), on PostgreSQL, with one injected clock to pass the 30- and 90-day windows (issue #5).

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a failed setup step or a broken expectation is a failed test"
)]

use std::collections::BTreeMap;
use std::time::Duration;

use sea_orm::{ConnectionTrait as _, TransactionTrait as _};
use tenure_grpc::ServiceKind;
use tenure_proto::accounts::v1 as accounts;
use tenure_proto::common::v1::DataClass;
use tenure_proto::purge::v1 as purge;
use tonic::Code;

use crate::stack::{As, Stack, key};

fn account_classes() -> Vec<i32> {
    vec![DataClass::AwsFetched as i32, DataClass::CostData as i32]
}

/// Planned and affected rows per (service, class) of a receipt, over its actions.
fn receipt_totals(receipt: &purge::Receipt) -> BTreeMap<(String, i32), (u64, u64)> {
    let mut totals = BTreeMap::new();
    for entry in &receipt.entries {
        let line: &mut (u64, u64) = totals
            .entry((entry.service.clone(), entry.data_class))
            .or_default();
        line.0 += entry.planned_rows;
        line.1 += entry.affected_rows;
    }
    totals
}

/// The rows a plan deletes or pseudonymises, per (service, class).
fn plan_totals(plan: &purge::PurgePlan) -> BTreeMap<(String, i32), u64> {
    let mut totals = BTreeMap::new();
    for entry in &plan.entries {
        if entry.action != purge::PurgeAction::Keep as i32 {
            *totals
                .entry((entry.service.clone(), entry.data_class))
                .or_insert(0) += entry.rows;
        }
    }
    totals
}

#[tokio::test]
async fn an_account_purge_runs_after_30_days_deletes_aws_and_cost_data_and_keeps_login_information()
{
    let stack = Stack::start().await;
    let seeded = stack.seed(2).await;
    let (removed, kept) = (&seeded.accounts[0], &seeded.accounts[1]);
    let scheduled = stack
        .schedule_account_purge(seeded.tenant, &removed.aws_account_id)
        .await;
    assert_eq!(scheduled.state, purge::PurgeState::Scheduled as i32);
    let due = scheduled.due_at.expect("due").seconds - scheduled.triggered_at.expect("t").seconds;
    assert_eq!(due, 30 * 86_400, "due 30 days after the removal");
    assert_eq!(
        scheduled.classes,
        account_classes(),
        "an account purge takes AWS-fetched and cost data only"
    );

    // Day 29: nothing runs yet.
    stack.advance_days(29);
    stack.let_worker_run().await;
    assert_eq!(
        stack.purge(&scheduled.id).await.state,
        purge::PurgeState::Scheduled as i32
    );
    stack
        .details(seeded.tenant, &removed.record_id)
        .await
        .expect("still there on day 29");

    // Day 30: the durable timer fires.
    stack.advance_days(1);
    let completed = stack
        .await_purge(&scheduled.id, purge::PurgeState::Completed)
        .await;
    assert!(!completed.receipt_id.is_empty());

    let gone = stack
        .details(seeded.tenant, &removed.record_id)
        .await
        .expect_err("details purged");
    assert_eq!(gone.code(), Code::NotFound);
    stack
        .details(seeded.tenant, &kept.record_id)
        .await
        .expect("the tenant's other account keeps its data");
    let users = stack
        .accounts()
        .await
        .list_users(stack.request(
            &As::Operator,
            ServiceKind::Accounts,
            accounts::ListUsersRequest {
                page_size: 0,
                page_token: String::new(),
                tenant_id: seeded.tenant.to_string(),
            },
        ))
        .await
        .expect("users")
        .into_inner()
        .users;
    assert!(
        users.iter().any(|user| user.email == seeded.admin_email),
        "login information is kept"
    );
    for kind in [ServiceKind::Accounts, ServiceKind::Provisioning] {
        assert_eq!(
            stack.rows_containing(kind, &removed.root_email).await,
            0,
            "{kind} still holds the removed account's root email"
        );
    }
    assert!(
        stack
            .rows_containing(ServiceKind::Accounts, &kept.root_email)
            .await
            > 0
    );

    // The residual scan of every data owner finds nothing, and the gauges say so.
    let scope = scheduled.scope.clone().expect("scope");
    assert_eq!(stack.residual(&scope, &account_classes()).await, 0);
    stack.let_worker_run().await;
    assert_eq!(Stack::gauge("purge_residual_rows"), Some(0));
    assert_eq!(Stack::gauge("purge_overdue"), Some(0));

    let receipt = stack.receipt(&scheduled.id).await;
    let services: Vec<&str> = receipt
        .entries
        .iter()
        .map(|entry| entry.service.as_str())
        .collect();
    assert!(services.contains(&"accounts") && services.contains(&"provisioning"));
    for entry in &receipt.entries {
        assert_eq!(entry.planned_rows, entry.affected_rows, "{entry:?}");
        assert_ne!(entry.data_class, DataClass::LoginIdentity as i32);
    }
    assert!(receipt.entries.iter().any(|entry| entry.affected_rows > 0));

    // Billing hears of it on the purge stream.
    let events = stack.stream_events().await;
    let types: Vec<&str> = events
        .iter()
        .filter(|event| event.purge_id == scheduled.id)
        .map(|event| event.r#type.as_str())
        .collect();
    assert_eq!(types, ["purge.scheduled", "data.erased"]);
    let erased = events
        .iter()
        .find(|event| event.r#type == "data.erased")
        .expect("erased");
    assert_eq!(erased.receipt_id, completed.receipt_id);
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn a_tenant_purge_leaves_nothing_personal_of_the_tenant_in_any_service() {
    let stack = Stack::start().await;
    let gone = stack.seed(2).await;
    let other = stack.seed(1).await;
    // Orders hold personal data too: root emails, account names, a support contact, a reason.
    let ordered = stack.order_with_personal_data(gone.tenant, "gone").await;
    let kept = stack.order_with_personal_data(other.tenant, "kept").await;
    let unsubscribed = stack
        .accounts()
        .await
        .unsubscribe_tenant(stack.request(
            &As::Operator,
            ServiceKind::Accounts,
            accounts::UnsubscribeTenantRequest {
                idempotency_key: key(),
                tenant_id: gone.tenant.to_string(),
                unsubscribed_at: None,
                marketplace_event_ref: "aws-mp-unsubscribe-0001".to_owned(),
            },
        ))
        .await
        .expect("unsubscribe")
        .into_inner();
    assert_eq!(
        unsubscribed.tenant.expect("tenant").status,
        accounts::TenantStatus::Unsubscribed as i32
    );
    let scheduled = stack.purge(&unsubscribed.purge_id).await;
    assert_eq!(
        scheduled.reason,
        purge::PurgeReason::TenantUnsubscribed as i32
    );
    assert!(
        scheduled
            .classes
            .contains(&(DataClass::LoginIdentity as i32)),
        "a tenant purge includes login information"
    );

    stack.advance_days(30);
    stack
        .await_purge(&scheduled.id, purge::PurgeState::Completed)
        .await;

    let mut personal = vec![gone.admin_email.clone(), gone.admin_name.clone()];
    for account in &gone.accounts {
        personal.push(account.root_email.clone());
        personal.push(account.name.clone());
    }
    personal.extend(ordered.iter().cloned());
    for kind in [
        ServiceKind::Orders,
        ServiceKind::Accounts,
        ServiceKind::Provisioning,
        ServiceKind::DataPurge,
    ] {
        for needle in &personal {
            assert_eq!(
                stack.rows_containing(kind, needle).await,
                0,
                "{kind} still holds {needle}"
            );
        }
    }
    let scope = scheduled.scope.clone().expect("scope");
    assert_eq!(stack.residual(&scope, &scheduled.classes).await, 0);
    // The other tenant is untouched.
    assert!(
        stack
            .rows_containing(ServiceKind::Accounts, &other.admin_email)
            .await
            > 0
    );
    for needle in &kept {
        assert!(
            stack.rows_containing(ServiceKind::Orders, needle).await > 0,
            "the other tenant's order lost {needle}"
        );
    }
    stack
        .details(other.tenant, &other.accounts[0].record_id)
        .await
        .expect("the other tenant keeps its data");
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn an_expedite_runs_the_purge_now_and_never_postpones() {
    let stack = Stack::start().await;
    let seeded = stack.seed(1).await;
    let account = &seeded.accounts[0];
    let scheduled = stack
        .schedule_account_purge(seeded.tenant, &account.aws_account_id)
        .await;

    let refused = stack
        .purges()
        .await
        .expedite_purge(stack.request(
            &As::Operator,
            ServiceKind::DataPurge,
            purge::ExpeditePurgeRequest {
                idempotency_key: key(),
                purge_id: scheduled.id.clone(),
                ticket: "not a ticket".to_owned(),
                reason: "short".to_owned(),
            },
        ))
        .await
        .expect_err("bad ticket and reason");
    assert_eq!(refused.code(), Code::InvalidArgument);

    let expedited = stack.expedite(&scheduled.id).await.expect("expedite");
    assert_eq!(expedited.expedite_ticket, "OPS-1234");
    assert!(expedited.due_at.expect("due").seconds <= stack.now().timestamp());
    // No clock advance: it runs now.
    stack
        .await_purge(&scheduled.id, purge::PurgeState::Completed)
        .await;
    assert_eq!(
        stack
            .details(seeded.tenant, &account.record_id)
            .await
            .expect_err("purged")
            .code(),
        Code::NotFound
    );
    let again = stack.expedite(&scheduled.id).await.expect_err("completed");
    assert_eq!(again.code(), Code::FailedPrecondition);
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn a_reopen_inside_the_window_cancels_the_pending_purge_and_nothing_is_deleted() {
    let stack = Stack::start().await;
    let seeded = stack.seed(1).await;
    let account = &seeded.accounts[0];
    let mut client = stack.accounts().await;
    let order = uuid::Uuid::new_v4();
    client
        .begin_offboarding(stack.request(
            &As::Orders(seeded.tenant),
            ServiceKind::Accounts,
            accounts::BeginOffboardingRequest {
                idempotency_key: key(),
                aws_account_id: account.aws_account_id.clone(),
                order_id: order.to_string(),
                mode: tenure_proto::common::v1::TerminationMode::Close as i32,
                acknowledgements: (1..=9).collect(),
                reason: "customer asked".to_owned(),
                acknowledged_open_balance: None,
            },
        ))
        .await
        .expect("offboarding");
    client
        .record_offboarding_outcome(stack.request(
            &As::Orders(seeded.tenant),
            ServiceKind::Accounts,
            accounts::RecordOffboardingOutcomeRequest {
                idempotency_key: key(),
                account_id: account.record_id.clone(),
                order_id: order.to_string(),
                outcome: accounts::OffboardingOutcome::PendingClosure as i32,
                billing_ends_at: None,
            },
        ))
        .await
        .expect("pending closure");
    client
        .record_closure(stack.request(
            &As::Orders(seeded.tenant),
            ServiceKind::Accounts,
            accounts::RecordClosureRequest {
                idempotency_key: key(),
                account_id: account.record_id.clone(),
                closed_at: Some(crate::stack::timestamp(stack.now())),
                reason: "AWS shows SUSPENDED".to_owned(),
            },
        ))
        .await
        .expect("closed");
    let scheduled = stack
        .schedule_account_purge(seeded.tenant, &account.aws_account_id)
        .await;

    stack.advance_days(10);
    client
        .reopen_account(stack.request(
            &As::Operator,
            ServiceKind::Accounts,
            accounts::ReopenAccountRequest {
                idempotency_key: key(),
                account_id: account.record_id.clone(),
                reason: "the customer reopened it in the AWS console".to_owned(),
                ticket: "OPS-77".to_owned(),
            },
        ))
        .await
        .expect("reopen");
    let cancelled = stack.purge(&scheduled.id).await;
    assert_eq!(cancelled.state, purge::PurgeState::Cancelled as i32);
    assert!(cancelled.cancelled_at.is_some());

    // Past the original due time nothing is deleted.
    stack.advance_days(25);
    stack.let_worker_run().await;
    assert_eq!(
        stack.purge(&scheduled.id).await.state,
        purge::PurgeState::Cancelled as i32
    );
    stack
        .details(seeded.tenant, &account.record_id)
        .await
        .expect("the reopened account keeps its data");
    let refused = stack
        .purges()
        .await
        .cancel_purge(stack.request(
            &As::Orders(seeded.tenant),
            ServiceKind::DataPurge,
            purge::CancelPurgeRequest {
                idempotency_key: key(),
                target: Some(purge::cancel_purge_request::Target::PurgeId(
                    scheduled.id.clone(),
                )),
                reason: String::new(),
            },
        ))
        .await
        .expect("a second cancel is harmless")
        .into_inner();
    assert_eq!(
        refused.purge.expect("purge").state,
        purge::PurgeState::Cancelled as i32
    );
    let events = stack.stream_events().await;
    assert!(
        events
            .iter()
            .any(|event| event.purge_id == scheduled.id && event.r#type == "purge.cancelled")
    );
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn a_legal_hold_blocks_the_purge_until_it_is_released() {
    let stack = Stack::start().await;
    let seeded = stack.seed(1).await;
    let account = &seeded.accounts[0];
    let scheduled = stack
        .schedule_account_purge(seeded.tenant, &account.aws_account_id)
        .await;
    let hold_request = || purge::SetLegalHoldRequest {
        idempotency_key: key(),
        scope: Some(purge::PurgeScope {
            kind: purge::ScopeKind::Tenant as i32,
            tenant_id: seeded.tenant.to_string(),
            aws_account_id: String::new(),
        }),
        reason: "litigation hold requested by counsel".to_owned(),
        ticket: "LEGAL-42".to_owned(),
    };
    let denied = stack
        .purges()
        .await
        .set_legal_hold(stack.request(&As::Operator, ServiceKind::DataPurge, hold_request()))
        .await
        .expect_err("no permission");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let hold = stack
        .purges()
        .await
        .set_legal_hold(stack.request(&As::LegalOperator, ServiceKind::DataPurge, hold_request()))
        .await
        .expect("hold")
        .into_inner()
        .hold
        .expect("hold");
    assert_eq!(
        stack.purge(&scheduled.id).await.state,
        purge::PurgeState::Held as i32
    );
    let blocked = stack.expedite(&scheduled.id).await.expect_err("held");
    assert_eq!(blocked.code(), Code::FailedPrecondition);
    assert!(blocked.message().contains("legal hold"), "{blocked:?}");

    // Past the deadline under the hold: nothing is deleted, and a held purge is not overdue.
    stack.advance_days(31);
    stack.let_worker_run().await;
    assert_eq!(
        stack.purge(&scheduled.id).await.state,
        purge::PurgeState::Held as i32
    );
    stack
        .details(seeded.tenant, &account.record_id)
        .await
        .expect("held data stays");
    assert_eq!(Stack::gauge("purge_overdue"), Some(0));
    let events = stack.stream_events().await;
    assert!(
        events
            .iter()
            .any(|event| event.purge_id == scheduled.id && event.r#type == "purge.blocked_by_hold")
    );

    let released = stack
        .purges()
        .await
        .release_legal_hold(stack.request(
            &As::LegalOperator,
            ServiceKind::DataPurge,
            purge::ReleaseLegalHoldRequest {
                idempotency_key: key(),
                hold_id: hold.id.clone(),
                reason: "the litigation was settled out of court".to_owned(),
                ticket: "LEGAL-43".to_owned(),
            },
        ))
        .await
        .expect("release")
        .into_inner()
        .hold
        .expect("hold");
    assert!(released.released_at.is_some());
    stack
        .await_purge(&scheduled.id, purge::PurgeState::Completed)
        .await;
    assert_eq!(
        stack
            .details(seeded.tenant, &account.record_id)
            .await
            .expect_err("purged after the release")
            .code(),
        Code::NotFound
    );
    assert_eq!(
        stack.receipt(&scheduled.id).await.hold_ids,
        std::slice::from_ref(&hold.id),
        "the receipt names the hold that blocked it"
    );
    // The audit trail replays the purge's history exactly (G11), with who acted.
    assert_eq!(
        stack.transitions(&scheduled.id).await,
        [
            ("", "scheduled", "schedule", "service"),
            ("scheduled", "held", "hold", "operator"),
            ("held", "scheduled", "release", "operator"),
            ("scheduled", "due", "fall_due", "service"),
            ("due", "running", "start", "service"),
            ("running", "completed", "complete", "service"),
        ]
        .map(|(from, to, event, role)| {
            (
                from.to_owned(),
                to.to_owned(),
                event.to_owned(),
                role.to_owned(),
            )
        })
    );
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn a_scheduled_purge_fires_at_its_due_time_after_a_restart() {
    let mut stack = Stack::start_split().await;
    let seeded = stack.seed(1).await;
    let account = &seeded.accounts[0];
    let scheduled = stack
        .schedule_account_purge(seeded.tenant, &account.aws_account_id)
        .await;
    stack.kill_purger().await;
    stack.advance_days(30);
    stack.restart_purger().await;
    stack
        .await_purge(&scheduled.id, purge::PurgeState::Completed)
        .await;
    assert_eq!(
        stack
            .details(seeded.tenant, &account.record_id)
            .await
            .expect_err("purged")
            .code(),
        Code::NotFound
    );
    stack.kill_purger().await;
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn the_plan_is_side_effect_free_and_equals_the_execution() {
    let stack = Stack::start().await;
    let seeded = stack.seed(2).await;
    let account = &seeded.accounts[0];
    let scheduled = stack
        .schedule_account_purge(seeded.tenant, &account.aws_account_id)
        .await;
    let first = stack.plan(&scheduled.id).await;
    let second = stack.plan(&scheduled.id).await;
    assert_eq!(first.manifest_hash, second.manifest_hash);
    assert_eq!(first.entries, second.entries);
    let services: Vec<&str> = first
        .entries
        .iter()
        .map(|entry| entry.service.as_str())
        .collect();
    for owner in ["accounts", "provisioning", "data-purge"] {
        assert!(services.contains(&owner), "the plan asks {owner}");
    }
    let login_kept = first
        .entries
        .iter()
        .filter(|entry| entry.data_class == DataClass::LoginIdentity as i32)
        .all(|entry| entry.action == purge::PurgeAction::Keep as i32);
    assert!(login_kept, "an account plan keeps login information");
    let planned = plan_totals(&first);
    assert!(planned.values().any(|rows| *rows > 0));

    stack.expedite(&scheduled.id).await.expect("expedite");
    stack
        .await_purge(&scheduled.id, purge::PurgeState::Completed)
        .await;
    let receipt = stack.receipt(&scheduled.id).await;
    assert_eq!(receipt.manifest_hash, first.manifest_hash);
    let executed: BTreeMap<(String, i32), u64> = receipt_totals(&receipt)
        .into_iter()
        .map(|(line, (planned_rows, affected_rows))| {
            assert_eq!(planned_rows, affected_rows, "{line:?}");
            (line, affected_rows)
        })
        .collect();
    assert_eq!(
        executed, planned,
        "the run deleted exactly what the plan listed"
    );
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn a_purge_killed_half_way_and_run_again_completes_with_the_same_receipt_totals() {
    let mut stack = Stack::start_split().await;
    let seeded = stack.seed(1).await;
    let account = &seeded.accounts[0];
    let scheduled = stack
        .schedule_account_purge(seeded.tenant, &account.aws_account_id)
        .await;
    let plan = stack.plan(&scheduled.id).await;

    // Provisioning's writes wait behind a lock its reads ignore: the worker plans, deletes in
    // accounts, then stalls inside provisioning's Execute.
    let provisioning = stack.sql(ServiceKind::Provisioning).await;
    let lock = provisioning.conn().begin().await.expect("begin");
    lock.execute_raw(sea_orm::Statement::from_string(
        sea_orm::DbBackend::Postgres,
        "LOCK TABLE operation IN EXCLUSIVE MODE",
    ))
    .await
    .expect("lock");
    stack.expedite(&scheduled.id).await.expect("expedite");
    let scope = scheduled.scope.clone().expect("scope");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let running = stack.purge(&scheduled.id).await.state == purge::PurgeState::Running as i32;
        let accounts_done = stack
            .participant(ServiceKind::Accounts)
            .await
            .verify(stack.request(
                &As::Purger(seeded.tenant),
                ServiceKind::Accounts,
                purge::VerifyRequest {
                    purge_id: scheduled.id.clone(),
                    scope: Some(purge::ParticipantScope {
                        kind: scope.kind,
                        tenant_id: scope.tenant_id.clone(),
                        aws_account_id: scope.aws_account_id.clone(),
                    }),
                    classes: account_classes(),
                },
            ))
            .await
            .expect("verify")
            .into_inner()
            .residual
            .is_empty();
        if running && accounts_done {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never got half-way");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stack.kill_purger().await;
    // The deadline passes while no worker can finish: the purge is overdue, and says so.
    stack.advance_days(31);
    stack.restart_purger().await;
    let overdue_deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while Stack::gauge("purge_overdue") != Some(1) {
        assert!(
            tokio::time::Instant::now() < overdue_deadline,
            "purge_overdue never showed the stuck purge"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    lock.rollback().await.expect("unlock");
    provisioning.close().await.ok();

    stack
        .await_purge(&scheduled.id, purge::PurgeState::Completed)
        .await;
    let receipt = stack.receipt(&scheduled.id).await;
    let totals = receipt_totals(&receipt);
    let executed: BTreeMap<(String, i32), u64> = totals
        .iter()
        .map(|(line, (planned_rows, affected_rows))| {
            assert_eq!(planned_rows, affected_rows, "{line:?}");
            (line.clone(), *affected_rows)
        })
        .collect();
    assert_eq!(
        executed,
        plan_totals(&plan),
        "the same totals as one clean run"
    );
    assert_eq!(stack.residual(&scope, &account_classes()).await, 0);
    stack.let_worker_run().await;
    assert_eq!(Stack::gauge("purge_overdue"), Some(0));

    let receipts = stack.receipts().await;
    assert_eq!(
        receipts
            .iter()
            .filter(|receipt| receipt.purge_id == scheduled.id)
            .count(),
        1,
        "one receipt per purge"
    );
    stack.kill_purger().await;
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn receipts_hold_no_personal_data_chain_and_any_edit_breaks_the_chain() {
    let stack = Stack::start().await;
    let seeded = stack.seed(2).await;
    let mut purge_ids = Vec::new();
    for account in &seeded.accounts {
        let scheduled = stack
            .schedule_account_purge(seeded.tenant, &account.aws_account_id)
            .await;
        stack.expedite(&scheduled.id).await.expect("expedite");
        stack
            .await_purge(&scheduled.id, purge::PurgeState::Completed)
            .await;
        purge_ids.push(scheduled.id);
    }
    let first = stack.receipt(&purge_ids[0]).await;
    let second = stack.receipt(&purge_ids[1]).await;
    assert_eq!(second.sequence, first.sequence + 1);
    assert_eq!(second.previous_hash, first.hash);
    assert!(!first.signature.is_empty() && !first.key_id.is_empty());
    assert!(!first.account_key_hash.is_empty());

    // No email, no name, no raw account id anywhere in a receipt.
    let db = stack.sql(ServiceKind::DataPurge).await;
    let bodies = db
        .conn()
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT body, hash FROM receipt ORDER BY sequence",
        ))
        .await
        .expect("receipts");
    assert_eq!(bodies.len(), 2);
    for row in &bodies {
        let body: String = row.try_get("", "body").expect("body");
        assert!(!body.contains('@'), "{body}");
        assert!(!body.contains(&seeded.admin_name));
        for account in &seeded.accounts {
            assert!(!body.contains(&account.name));
            assert!(!body.contains(&account.aws_account_id));
        }
    }
    let intact = stack.verify_chain().await;
    assert!(intact.intact);
    assert_eq!(intact.checked, 2);

    // Editing one count in the first receipt breaks the chain there.
    db.conn()
        .execute_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "UPDATE receipt SET body = replace(body, '\"affected_rows\":', '\"affected_rows\":1') \
             WHERE sequence = 1",
        ))
        .await
        .expect("tamper");
    let broken = stack.verify_chain().await;
    assert!(!broken.intact);
    assert_eq!(broken.first_broken_receipt_id, first.id);
    db.close().await.ok();
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn two_replicas_running_together_write_one_receipt_per_purge_and_a_whole_chain() {
    let mut stack = Stack::start_split().await;
    let second = stack
        .owners
        .start_beside(&[ServiceKind::DataPurge], stack.clock.clone())
        .await
        .expect("second replica");
    let seeded = stack.seed(5).await;
    let mut purge_ids = Vec::new();
    for account in &seeded.accounts {
        purge_ids.push(
            stack
                .schedule_account_purge(seeded.tenant, &account.aws_account_id)
                .await
                .id,
        );
    }
    // Every purge falls due at once, so both workers claim from the same batch.
    stack.advance_days(30);
    for id in &purge_ids {
        stack.await_purge(id, purge::PurgeState::Completed).await;
    }
    let receipts = stack.receipts().await;
    let mut receipted: Vec<&str> = receipts
        .iter()
        .map(|receipt| receipt.purge_id.as_str())
        .collect();
    receipted.sort_unstable();
    let mut expected: Vec<&str> = purge_ids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(receipted, expected, "one receipt per purge, none twice");
    let sequences: Vec<u64> = receipts.iter().map(|receipt| receipt.sequence).collect();
    assert_eq!(sequences, (1..=5).collect::<Vec<u64>>());
    for pair in receipts.windows(2) {
        assert_eq!(pair[1].previous_hash, pair[0].hash);
    }
    let chain = stack.verify_chain().await;
    assert!(chain.intact && chain.checked == 5, "{chain:?}");
    for account in &seeded.accounts {
        assert_eq!(
            stack
                .rows_containing(ServiceKind::Accounts, &account.root_email)
                .await,
            0
        );
    }
    second.shutdown().await;
    stack.kill_purger().await;
    stack.owners.shutdown().await;
}
