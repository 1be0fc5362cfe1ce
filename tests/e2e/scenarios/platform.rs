//! Rows outside the order kinds: removing an account from the platform (seed 004), a tenant's
//! unsubscribe and its purge, an expedited purge, and the open balance a termination must confirm.

use tenure_grpc::ServiceKind;
use tenure_proto::accounts::v1 as accounts;
use tenure_proto::common::v1 as common;
use tenure_proto::orders::v1 as pb;
use tenure_proto::orders::v1::create_order_request::Details;
use tenure_proto::purge::v1 as purge;
use uuid::Uuid;

use crate::orders::close_member_acknowledgements;
use crate::scenarios::check::{account, days_between, email, purges_of};
use crate::scenarios::offboarding::created_account;
use crate::stack::{As, Stack, key, timestamp};

async fn users(stack: &Stack, tenant: Uuid) -> Vec<accounts::User> {
    stack
        .accounts()
        .await
        .list_users(stack.request(
            &As::Operator,
            ServiceKind::Accounts,
            accounts::ListUsersRequest {
                page_size: 100,
                page_token: String::new(),
                tenant_id: tenant.to_string(),
            },
        ))
        .await
        .expect("users")
        .into_inner()
        .users
}

async fn remove(
    stack: &Stack,
    who: &As,
    record_id: &str,
) -> Result<accounts::AwsAccount, tonic::Status> {
    let (reason, ticket) = match who {
        As::Operator => ("the customer asked support to remove it", "OPS-3001"),
        _ => ("we manage this account ourselves now", ""),
    };
    Ok(stack
        .accounts()
        .await
        .remove_account_from_platform(stack.request(
            who,
            ServiceKind::Accounts,
            accounts::RemoveAccountFromPlatformRequest {
                idempotency_key: key(),
                account_id: record_id.to_owned(),
                reason: reason.to_owned(),
                ticket: ticket.to_owned(),
            },
        ))
        .await?
        .into_inner()
        .account
        .expect("record"))
}

async fn restore(
    stack: &Stack,
    who: &As,
    record_id: &str,
) -> Result<accounts::AwsAccount, tonic::Status> {
    Ok(stack
        .accounts()
        .await
        .restore_account_to_platform(stack.request(
            who,
            ServiceKind::Accounts,
            accounts::RestoreAccountToPlatformRequest {
                idempotency_key: key(),
                account_id: record_id.to_owned(),
                reason: "removed by mistake".to_owned(),
                ticket: String::new(),
            },
        ))
        .await?
        .into_inner()
        .account
        .expect("record"))
}

fn catalogue_code(status: &tonic::Status) -> String {
    tonic_types::StatusExt::get_details_error_info(status)
        .map(|info| info.reason)
        .unwrap_or_default()
}

/// Seed 004, "Deleting an account from nOps": a tenant administrator removes an account from the
/// platform; it stays in AWS, its data is purged 30 days later while logins are kept, and the
/// removal can be undone until then. Only an administrator may do it.
pub(crate) async fn removal_from_the_platform(stack: &Stack) {
    let seeded = stack.seed(0).await;
    let tenant = seeded.tenant;
    let admin = As::User(tenant, seeded.admin_subject.clone());
    let account_id = created_account(stack, tenant).await;
    let record = account(stack, tenant, &account_id).await;
    let refused = remove(stack, &As::Customer(tenant), &record.id)
        .await
        .expect_err("not an administrator");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let stranger = stack.seed(0).await;
    let foreign = remove(
        stack,
        &As::User(stranger.tenant, stranger.admin_subject.clone()),
        &record.id,
    )
    .await
    .expect_err("another tenant's account");
    assert_eq!(foreign.code(), tonic::Code::NotFound);
    let removed = remove(stack, &admin, &record.id).await.expect("removed");
    assert_eq!(removed.state, accounts::AccountState::Removed as i32);
    assert_eq!(
        days_between(
            removed.removed_at.as_ref(),
            removed.removal_purge_due_at.as_ref()
        ),
        30
    );
    let restored = restore(stack, &admin, &record.id).await.expect("restored");
    assert_eq!(restored.state, accounts::AccountState::Active as i32);
    let first = purges_of(stack, tenant, &account_id).await;
    assert_eq!(
        first.first().map(|purge| purge.state),
        Some(purge::PurgeState::Cancelled as i32),
        "{first:?}"
    );
    let removed = remove(stack, &admin, &record.id)
        .await
        .expect("removed again");
    stack.advance_days(31);
    let purged = stack
        .await_purge(&removed.removal_purge_id, purge::PurgeState::Completed)
        .await;
    assert_eq!(purged.reason, purge::PurgeReason::AccountRemoved as i32);
    let late = restore(stack, &admin, &record.id)
        .await
        .expect_err("the purge ran");
    assert_eq!(late.code(), tonic::Code::FailedPrecondition);
    assert_eq!(catalogue_code(&late), "TNR502");
    assert_eq!(
        late.message(),
        "The restore window for this data has ended."
    );
    let after = account(stack, tenant, &account_id).await;
    assert_eq!(after.state, accounts::AccountState::Removed as i32);
    assert!(
        after.root_email.is_empty() && after.name.is_empty(),
        "{after:?}"
    );
    let logins = users(stack, tenant).await;
    assert!(
        logins.iter().any(|user| user.email == seeded.admin_email),
        "an account purge keeps login information"
    );
}

/// Seed 004: after an unsubscribe the whole tenant is purged 30 days later, logins included.
pub(crate) async fn tenant_unsubscribes(stack: &Stack) {
    let seeded = stack.seed(1).await;
    let tenant = seeded.tenant;
    let unsubscribed = stack
        .accounts()
        .await
        .unsubscribe_tenant(stack.request(
            &As::Operator,
            ServiceKind::Accounts,
            accounts::UnsubscribeTenantRequest {
                idempotency_key: key(),
                tenant_id: tenant.to_string(),
                unsubscribed_at: Some(timestamp(stack.now())),
                marketplace_event_ref: "unsubscribe-success-1".to_owned(),
            },
        ))
        .await
        .expect("unsubscribed")
        .into_inner();
    let purge_id = unsubscribed.purge_id.clone();
    let scheduled = stack.purge(&purge_id).await;
    assert_eq!(
        days_between(scheduled.triggered_at.as_ref(), scheduled.due_at.as_ref()),
        30
    );
    let refused = stack
        .place(
            tenant,
            Details::NewAccount(pb::NewAccountOrder {
                root_email: email("after"),
                account_name: "After".to_owned(),
                support_contact: String::new(),
            }),
        )
        .await
        .expect_err("no orders after an unsubscribe");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    stack.advance_days(31);
    stack
        .await_purge(&purge_id, purge::PurgeState::Completed)
        .await;
    assert!(
        users(stack, tenant).await.is_empty(),
        "a tenant purge removes login information"
    );
}

/// A support request expedites a scheduled purge: it runs now instead of in 30 days.
pub(crate) async fn expedited_purge(stack: &Stack) {
    let tenant = stack.seed(0).await.tenant;
    let account_id = created_account(stack, tenant).await;
    let order = stack
        .place(
            tenant,
            Details::Terminate(pb::TerminateOrder {
                aws_account_id: account_id.clone(),
                mode: common::TerminationMode::Close as i32,
                acknowledgements: close_member_acknowledgements(),
                reason: String::new(),
                acknowledged_open_balance: None,
            }),
        )
        .await
        .expect("placed");
    crate::scenarios::check::everyone_helps(stack, tenant, &order.id, pb::OrderStatus::Completed)
        .await;
    let scheduled = purges_of(stack, tenant, &account_id)
        .await
        .into_iter()
        .next()
        .expect("purge");
    assert_eq!(scheduled.state, purge::PurgeState::Scheduled as i32);
    stack.expedite(&scheduled.id).await.expect("expedited");
    let done = stack
        .await_purge(&scheduled.id, purge::PurgeState::Completed)
        .await;
    assert!(
        days_between(done.requested_at.as_ref(), done.completed_at.as_ref()) < 1,
        "ran at once: {done:?}"
    );
}

/// A new-account order cancelled at once: it ends CANCELLED, and its timeline says exactly what
/// was undone, as SagaAdmin does.
pub(crate) async fn new_account_cancelled_at_once(stack: &Stack) {
    let tenant = stack.seed(0).await.tenant;
    let order = stack
        .place(
            tenant,
            Details::NewAccount(pb::NewAccountOrder {
                root_email: email("cancelled"),
                account_name: "Cancelled".to_owned(),
                support_contact: String::new(),
            }),
        )
        .await
        .expect("placed");
    stack
        .cancel_order(&As::Customer(tenant), &order.id)
        .await
        .expect("cancelled");
    let cancelled = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Cancelled, false)
        .await;
    assert_eq!(cancelled.status_message, "Your order was cancelled.");
    let saga = stack
        .saga_admin()
        .await
        .get_saga(stack.request(
            &As::Operator,
            ServiceKind::Orders,
            pb::GetSagaRequest {
                lookup: Some(pb::get_saga_request::Lookup::OrderId(order.id.clone())),
            },
        ))
        .await
        .expect("saga")
        .into_inner()
        .saga
        .expect("saga");
    let undone: Vec<String> = saga
        .finished_steps
        .iter()
        .filter_map(|step| step.strip_suffix(" (undone)").map(str::to_owned))
        .collect();
    let timeline = stack.timeline(tenant, &order.id).await;
    for step in &timeline.steps {
        let state = pb::StepState::try_from(step.state).expect("state");
        if undone.contains(&step.name) {
            assert_eq!(state, pb::StepState::Compensated, "{step:?}");
        }
        if state == pb::StepState::Pending {
            assert_eq!(step.attempts, 0, "a pending step never ran: {step:?}");
        }
    }
}

/// Seed 001, "check if you have an outstanding bill": billing reports the account's open balance;
/// a termination is refused (TNR015, naming the amount) until the customer confirms exactly it.
pub(crate) async fn open_balance_must_be_confirmed(stack: &Stack) {
    let tenant = stack.seed(0).await.tenant;
    let account_id = created_account(stack, tenant).await;
    let reported = stack
        .accounts()
        .await
        .report_open_balances(stack.request(
            &As::Billing,
            ServiceKind::Accounts,
            accounts::ReportOpenBalancesRequest {
                idempotency_key: key(),
                balances: vec![accounts::OpenBalanceReport {
                    aws_account_id: account_id.clone(),
                    amount: Some(common::Money {
                        currency_code: "USD".to_owned(),
                        amount_micros: 123_450_000,
                    }),
                    as_of: Some(timestamp(stack.now())),
                }],
            },
        ))
        .await
        .expect("reported")
        .into_inner();
    assert_eq!(reported.recorded, 1);
    let shown = account(stack, tenant, &account_id).await;
    assert_eq!(
        shown
            .open_balance
            .and_then(|balance| balance.amount)
            .map(|amount| amount.amount_micros),
        Some(123_450_000)
    );
    let terminate = |balance: Option<common::Money>| {
        Details::Terminate(pb::TerminateOrder {
            aws_account_id: account_id.clone(),
            mode: common::TerminationMode::Close as i32,
            acknowledgements: close_member_acknowledgements(),
            reason: String::new(),
            acknowledged_open_balance: balance,
        })
    };
    for wrong in [
        None,
        Some(common::Money {
            currency_code: "USD".to_owned(),
            amount_micros: 100_000_000,
        }),
    ] {
        let refused = stack
            .place(tenant, terminate(wrong))
            .await
            .expect_err("the open balance is not confirmed");
        assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
        assert_eq!(catalogue_code(&refused), "TNR015");
        assert!(
            refused.message().contains("123.45 USD"),
            "{}",
            refused.message()
        );
    }
    let placed = stack
        .place(
            tenant,
            terminate(Some(common::Money {
                currency_code: "USD".to_owned(),
                amount_micros: 123_450_000,
            })),
        )
        .await
        .expect("confirmed");
    assert_eq!(placed.status, pb::OrderStatus::Processing as i32);
}
