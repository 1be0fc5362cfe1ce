//! Orders end to end (issue #6): every order kind runs as a saga against the real accounts,
//! provisioning (on its sandbox) and data-purge, on PostgreSQL, with one injected clock. The customer,
//! operations staff, the customer's side of AWS and billing each act through their own API.

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a failed setup step or a broken expectation is a failed test"
)]

pub(crate) mod drive;
mod steering;

use std::collections::BTreeMap;

use tenure_grpc::ServiceKind;
use tenure_proto::accounts::v1 as accounts;
use tenure_proto::common::v1 as common;
use tenure_proto::orders::v1 as pb;
use tenure_proto::orders::v1::create_order_request::Details;
use tenure_proto::provisioning::v1 as prov;
use tenure_proto::purge::v1 as purge;
use tonic::Code;
use uuid::Uuid;

use crate::stack::{As, Stack, key};
pub(crate) use drive::{close_member_acknowledgements, fresh_account};

fn new_account(unique: &str) -> Details {
    Details::NewAccount(pb::NewAccountOrder {
        root_email: format!("root-{unique}@example.com"),
        account_name: format!("Workload {unique}"),
        support_contact: String::new(),
    })
}

fn unique() -> String {
    Uuid::new_v4().simple().to_string()[..10].to_owned()
}

fn event_types(events: &[pb::OrderEvent], order_id: &str) -> Vec<String> {
    events
        .iter()
        .filter(|event| event.order_id == order_id)
        .map(|event| event.r#type.clone())
        .collect()
}

/// Places a new-account order and runs it to completed; the created account's id.
async fn created_account(stack: &Stack, tenant: Uuid) -> String {
    let order = stack
        .place(tenant, new_account(&unique()))
        .await
        .expect("place");
    let done = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Completed, true)
        .await;
    assert_eq!(done.aws_account_id.len(), 12, "{done:?}");
    done.aws_account_id
}

#[tokio::test]
async fn a_new_account_order_creates_activates_and_announces_the_account() {
    let stack = Stack::start().await;
    let seeded = stack.seed(0).await;
    let tenant = seeded.tenant;
    let order = stack
        .place(tenant, new_account(&unique()))
        .await
        .expect("place");
    assert_eq!(order.status, pb::OrderStatus::Processing as i32);
    assert_eq!(order.definition, "account_create@1");
    let done = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Completed, false)
        .await;
    assert!(done.past_point_of_no_return);
    let states = stack.step_states(tenant, &order.id).await;
    for step in [
        "assign_payer",
        "reserve_account",
        "create_account",
        "attach_account",
        "deploy_baseline",
        "activate_account",
    ] {
        assert_eq!(states[step], pb::StepState::Done, "{step}: {states:?}");
    }
    // ECAM, and no support contact: neither manual step applies.
    assert_eq!(states["root_access_setup"], pb::StepState::Skipped);
    assert_eq!(states["support_channel"], pb::StepState::Skipped);
    let record = stack
        .accounts()
        .await
        .get_account(stack.request(
            &As::Customer(tenant),
            ServiceKind::Accounts,
            accounts::GetAccountRequest {
                lookup: Some(accounts::get_account_request::Lookup::AwsAccountId(
                    done.aws_account_id.clone(),
                )),
            },
        ))
        .await
        .expect("account")
        .into_inner()
        .account
        .expect("account");
    assert_eq!(record.state, accounts::AccountState::Active as i32);
    assert_eq!(
        record.relationship,
        common::AccountRelationship::PlatformMember as i32
    );
    let events = stack.order_stream(&As::Billing).await;
    let types = event_types(&events, &order.id);
    assert_eq!(types.first().map(String::as_str), Some("order.placed"));
    assert!(types.contains(&"account.activated".to_owned()), "{types:?}");
    assert_eq!(
        types.last().map(String::as_str),
        Some("order.status_changed")
    );
    let activated = events
        .iter()
        .find(|event| event.order_id == order.id && event.r#type == "account.activated")
        .expect("activated");
    match &activated.payload {
        Some(pb::order_event::Payload::AccountActivated(payload)) => {
            assert_eq!(payload.aws_account_id, done.aws_account_id);
        }
        other => panic!("{other:?}"),
    }
    // Per order, the sequence has no gap and starts at 1.
    let seqs: Vec<u32> = events
        .iter()
        .filter(|event| event.order_id == order.id)
        .map(|event| event.order_seq)
        .collect();
    assert_eq!(
        seqs,
        (1..=u32::try_from(seqs.len()).expect("count")).collect::<Vec<_>>()
    );
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn a_billing_transfer_completes_once_the_customers_acceptance_is_signalled() {
    let stack = Stack::start().await;
    let seeded = stack.seed(0).await;
    let tenant = seeded.tenant;
    let management = fresh_account();
    let order = stack
        .place(
            tenant,
            Details::BillingTransfer(pb::BillingTransferOrder {
                management_account_id: management.clone(),
                transfer_name: String::new(),
            }),
        )
        .await
        .expect("place");
    // The invitation is out and waits for the customer: querying, resuming on its own.
    let querying = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Querying, false)
        .await;
    let query = querying.query.expect("query");
    assert_eq!(query.code, "TNR202");
    assert_eq!(query.resume, pb::QueryResume::Automatic as i32);
    let handshake = stack.transfer_handshake(tenant, &management).await;
    stack.answer_handshake(&handshake, true).await;
    stack.deploy_customer_bootstrap(&management).await;
    // Hourly checks: only the signal makes the order look again now.
    stack.signal(tenant, &order.id).await;
    let done = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Completed, true)
        .await;
    assert_eq!(done.aws_account_id, management);
    let states = stack.step_states(tenant, &order.id).await;
    assert_eq!(states["await_acceptance"], pb::StepState::Done);
    assert_eq!(states["await_bootstrap_role"], pb::StepState::Done);
    assert_eq!(
        states["cta_request"],
        pb::StepState::Skipped,
        "commercial tenant"
    );
    let events = stack.order_stream(&As::Billing).await;
    let activated = events
        .iter()
        .find(|event| event.order_id == order.id && event.r#type == "account.activated")
        .expect("activated");
    match &activated.payload {
        Some(pb::order_event::Payload::AccountActivated(payload)) => {
            assert_eq!(
                payload.relationship,
                common::AccountRelationship::BillingTransferSource as i32
            );
            // Billing starts on the transfer's first day of a month, not at activation.
            let starts = payload.billing_starts_at.expect("start");
            let start = chrono::DateTime::from_timestamp(starts.seconds, 0).expect("time");
            assert_eq!(chrono::Datelike::day(&start), 1);
        }
        other => panic!("{other:?}"),
    }
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn a_declined_billing_transfer_fails_and_compensates_in_reverse_order() {
    let stack = Stack::start().await;
    let tenant = stack.seed(0).await.tenant;
    let management = fresh_account();
    let order = stack
        .place(
            tenant,
            Details::BillingTransfer(pb::BillingTransferOrder {
                management_account_id: management.clone(),
                transfer_name: "Example transfer".to_owned(),
            }),
        )
        .await
        .expect("place");
    stack
        .await_status(tenant, &order.id, pb::OrderStatus::Querying, false)
        .await;
    let handshake = stack.transfer_handshake(tenant, &management).await;
    stack.answer_handshake(&handshake, false).await;
    stack.signal(tenant, &order.id).await;
    let failed = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Failed, false)
        .await;
    let failure = failed.failure.expect("failure");
    assert_eq!(failure.code, "TNR203");
    assert!(failure.message.contains(&management), "{}", failure.message);
    let timeline = stack.timeline(tenant, &order.id).await;
    let states: BTreeMap<String, pb::StepState> = timeline
        .steps
        .iter()
        .map(|step| {
            (
                step.name.clone(),
                pb::StepState::try_from(step.state).expect("state"),
            )
        })
        .collect();
    assert_eq!(states["await_acceptance"], pb::StepState::Failed);
    assert_eq!(
        states["invite_billing_transfer"],
        pb::StepState::Compensated
    );
    assert_eq!(states["reserve_account"], pb::StepState::Compensated);
    assert_eq!(states["activate_account"], pb::StepState::Pending);
    // Undone in reverse: the invitation was withdrawn before the reservation was released.
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
    assert_eq!(saga.status, pb::SagaStatus::Compensated as i32);
    let undone: Vec<&String> = saga
        .finished_steps
        .iter()
        .filter(|step| step.ends_with("(undone)"))
        .collect();
    assert_eq!(
        undone,
        [
            "invite_billing_transfer (undone)",
            "reserve_account (undone)"
        ]
    );
    // The reservation is gone: the record is abandoned and the account may be ordered again.
    let again = stack
        .place(
            tenant,
            Details::BillingTransfer(pb::BillingTransferOrder {
                management_account_id: management,
                transfer_name: String::new(),
            }),
        )
        .await
        .expect("a new order for the same account");
    assert_eq!(again.status, pb::OrderStatus::Processing as i32);
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn bad_orders_are_refused_whole_and_replays_return_the_first_order() {
    let stack = Stack::start().await;
    let tenant = stack.seed(0).await.tenant;
    let refused = stack
        .place(
            tenant,
            Details::NewAccount(pb::NewAccountOrder {
                root_email: "a@b".to_owned(),
                account_name: " leading space".to_owned(),
                support_contact: String::new(),
            }),
        )
        .await
        .expect_err("invalid");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let details = tonic_types::StatusExt::get_details_bad_request(&refused).expect("violations");
    let fields: Vec<&str> = details
        .field_violations
        .iter()
        .map(|violation| violation.field.as_str())
        .collect();
    assert_eq!(
        fields,
        ["new_account.root_email", "new_account.account_name"]
    );
    let listed = stack
        .orders()
        .await
        .list_orders(stack.request(
            &As::Customer(tenant),
            ServiceKind::Orders,
            pb::ListOrdersRequest::default(),
        ))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.orders.is_empty(), "nothing was stored");
    let idempotency_key = key();
    let details = new_account(&unique());
    let first = stack
        .place_with_key(tenant, &idempotency_key, details.clone())
        .await
        .expect("first");
    let replay = stack
        .place_with_key(tenant, &idempotency_key, details)
        .await
        .expect("replay");
    assert_eq!(replay.id, first.id);
    let reused = stack
        .place_with_key(tenant, &idempotency_key, new_account(&unique()))
        .await
        .expect_err("another order under the same key");
    assert_eq!(reused.code(), Code::FailedPrecondition);
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn another_tenants_order_answers_exactly_like_a_missing_one() {
    let stack = Stack::start().await;
    let owner = stack.seed(0).await.tenant;
    let stranger = stack.seed(0).await.tenant;
    let order = stack
        .place(owner, new_account(&unique()))
        .await
        .expect("place");
    let foreign = stack
        .order(&As::Customer(stranger), &order.id)
        .await
        .expect_err("foreign");
    let missing = stack
        .order(&As::Customer(stranger), &Uuid::new_v4().to_string())
        .await
        .expect_err("missing");
    assert_eq!(foreign.code(), Code::NotFound);
    assert_eq!(foreign.code(), missing.code());
    assert_eq!(foreign.message(), missing.message());
    assert_eq!(foreign.details(), missing.details());
    let cancel = stack
        .cancel_order(&As::Customer(stranger), &order.id)
        .await
        .expect_err("foreign cancel");
    assert_eq!(cancel.code(), Code::NotFound);
    // The stream is billing's and operations': a customer may not subscribe at all, so its
    // positions cannot tell it how busy the platform is.
    let refused = stack
        .order_events()
        .await
        .subscribe(stack.request(
            &As::Customer(stranger),
            ServiceKind::Orders,
            pb::SubscribeRequest {
                start: Some(pb::subscribe_request::Start::FromBeginning(true)),
                ..pb::SubscribeRequest::default()
            },
        ))
        .await
        .expect_err("customers do not subscribe");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let billing = stack.order_stream(&As::Billing).await;
    assert!(billing.iter().any(|event| event.order_id == order.id));
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn a_termination_closes_the_account_schedules_its_purge_and_the_reopen_window_ends_after_90_days()
 {
    let stack = Stack::start().await;
    let tenant = stack.seed(0).await.tenant;
    let account = created_account(&stack, tenant).await;
    let order = stack
        .place(
            tenant,
            Details::Terminate(pb::TerminateOrder {
                aws_account_id: account.clone(),
                mode: common::TerminationMode::Close as i32,
                acknowledgements: close_member_acknowledgements(),
                reason: "moving workloads elsewhere".to_owned(),
                acknowledged_open_balance: None,
            }),
        )
        .await
        .expect("place");
    // Operations confirm with the customer first (T3).
    let confirm = stack.first_open_task(&order.id).await;
    assert_eq!(confirm.step, "confirm_with_customer");
    // The customer cannot resolve an operations task.
    let refused = stack
        .complete_task(
            &As::Customer(tenant),
            &confirm.id,
            pb::TaskOutcome::Completed,
            "",
        )
        .await
        .expect_err("not the customer's task");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let done = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Completed, true)
        .await;
    assert!(done.past_point_of_no_return);
    let record = stack
        .accounts()
        .await
        .get_account(stack.request(
            &As::Customer(tenant),
            ServiceKind::Accounts,
            accounts::GetAccountRequest {
                lookup: Some(accounts::get_account_request::Lookup::AwsAccountId(
                    account.clone(),
                )),
            },
        ))
        .await
        .expect("account")
        .into_inner()
        .account
        .expect("record");
    assert_eq!(record.state, accounts::AccountState::Closed as i32);
    let reopen_until = record.reopen_until.expect("reopen window");
    let events = stack.order_stream(&As::Billing).await;
    let types = event_types(&events, &order.id);
    assert!(types.contains(&"account.closed".to_owned()), "{types:?}");
    assert!(types.contains(&"purge.scheduled".to_owned()), "{types:?}");
    let purges = stack
        .purges()
        .await
        .list_purges(stack.request(
            &As::Operator,
            ServiceKind::DataPurge,
            purge::ListPurgesRequest {
                tenant_id: tenant.to_string(),
                ..purge::ListPurgesRequest::default()
            },
        ))
        .await
        .expect("purges")
        .into_inner()
        .purges;
    let scheduled = purges
        .iter()
        .find(|purge| {
            purge
                .scope
                .as_ref()
                .is_some_and(|scope| scope.aws_account_id == account)
        })
        .expect("the account's purge");
    assert_eq!(scheduled.reason, purge::PurgeReason::AccountRemoved as i32);
    // 90 days on the injected clock: the account's purge runs at day 30, and the reopen window
    // ends and the closure becomes permanent.
    stack.advance_days(91);
    stack
        .await_purge(&scheduled.id, purge::PurgeState::Completed)
        .await;
    let creation = stack
        .orders()
        .await
        .list_orders(stack.request(
            &As::Customer(tenant),
            ServiceKind::Orders,
            pb::ListOrdersRequest {
                aws_account_id: account.clone(),
                kinds: vec![pb::OrderKind::NewAccount as i32],
                ..pb::ListOrdersRequest::default()
            },
        ))
        .await
        .expect("orders")
        .into_inner()
        .orders;
    let Some(Details::NewAccount(created)) =
        creation[0].details.clone().map(|details| match details {
            pb::order::Details::NewAccount(order) => Details::NewAccount(order),
            _ => panic!("not a new account"),
        })
    else {
        panic!("no creation order");
    };
    // The order that created the account kept its skeleton and lost what AWS knows of it.
    assert!(created.root_email.is_empty() && created.account_name.is_empty());
    assert!(stack.now().timestamp() > reopen_until.seconds);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let state = stack
            .accounts()
            .await
            .get_account(stack.request(
                &As::Customer(tenant),
                ServiceKind::Accounts,
                accounts::GetAccountRequest {
                    lookup: Some(accounts::get_account_request::Lookup::Id(record.id.clone())),
                },
            ))
            .await
            .expect("account")
            .into_inner()
            .account
            .expect("record")
            .state;
        if state == accounts::AccountState::PermanentlyClosed as i32 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {state}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    stack.owners.shutdown().await;
}

/// The manual tasks an order completed, by step name.
async fn completed_tasks(stack: &Stack, order_id: &str) -> Vec<String> {
    let mut steps: Vec<String> = stack
        .orders()
        .await
        .list_tasks(stack.request(
            &As::Operator,
            ServiceKind::Orders,
            pb::ListTasksRequest {
                page_size: 100,
                page_token: String::new(),
                state: pb::TaskState::Completed as i32,
                order_id: order_id.to_owned(),
            },
        ))
        .await
        .expect("tasks")
        .into_inner()
        .tasks
        .into_iter()
        .map(|task| task.step)
        .collect();
    steps.sort();
    steps
}

#[tokio::test]
async fn an_ecam_transfer_for_a_public_sector_tenant_runs_through_its_manual_tasks() {
    let stack = Stack::start().await;
    let tenant = stack
        .seed_tenant(0, common::Sector::Public, common::ResaleModel::Ecam)
        .await
        .tenant;
    let linked = vec![fresh_account(), fresh_account()];
    let order = stack
        .place(
            tenant,
            Details::OrganizationTransfer(pb::OrganizationTransferOrder {
                uses_organizations: false,
                management_account_id: String::new(),
                linked_account_ids: linked.clone(),
            }),
        )
        .await
        .expect("place");
    // Operations create the payer and request Consent to Assignment; then the invitations go out
    // and the order waits for the customer to accept them.
    let querying = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Querying, true)
        .await;
    let query = querying.query.expect("query");
    assert_eq!(query.code, "TNR301");
    let waiting: Vec<&str> = query
        .items
        .iter()
        .map(|item| item.aws_account_id.as_str())
        .collect();
    assert_eq!(waiting.len(), 2, "{query:?}");
    for handshake in stack.invitations(tenant, &linked).await {
        stack.answer_handshake(&handshake, true).await;
    }
    stack.signal(tenant, &order.id).await;
    stack
        .await_status(tenant, &order.id, pb::OrderStatus::Completed, true)
        .await;
    assert_eq!(
        completed_tasks(&stack, &order.id).await,
        [
            "cost_visibility",
            "create_payer",
            "cta_request",
            "support_channel"
        ]
    );
    let states = stack.step_states(tenant, &order.id).await;
    // ECAM without an organization: no hand-over, so activation is the point of no return.
    assert_eq!(states["ownership_handover"], pb::StepState::Skipped);
    assert_eq!(
        states["point_of_no_return_after_handover"],
        pb::StepState::Skipped
    );
    assert_eq!(states["point_of_no_return"], pb::StepState::Done);
    let events = stack.order_stream(&As::Billing).await;
    let activated: Vec<String> = events
        .iter()
        .filter(|event| event.order_id == order.id)
        .filter_map(|event| match &event.payload {
            Some(pb::order_event::Payload::AccountActivated(payload)) => {
                Some(payload.aws_account_id.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(activated, linked);
    stack.owners.shutdown().await;
}

/// The invitations of `target`, oldest first, with their states.
async fn invitations_of(stack: &Stack, tenant: Uuid, target: &str) -> Vec<(String, i32)> {
    stack
        .invitations_to(tenant, target)
        .await
        .into_iter()
        .map(|handshake| (handshake.id, handshake.state))
        .collect()
}

#[tokio::test]
async fn an_expired_invitation_is_sent_once_more_before_the_customer_is_asked() {
    let stack = Stack::start().await;
    let tenant = stack.seed(0).await.tenant;
    let (accepting, lapsing) = (fresh_account(), fresh_account());
    let order = stack
        .place(
            tenant,
            Details::OrganizationTransfer(pb::OrganizationTransferOrder {
                uses_organizations: false,
                management_account_id: String::new(),
                linked_account_ids: vec![accepting.clone(), lapsing.clone()],
            }),
        )
        .await
        .expect("place");
    let asked = |code: &'static str| {
        move |order: &pb::Order| order.query.as_ref().is_some_and(|query| query.code == code)
    };
    stack
        .await_order(tenant, &order.id, true, asked("TNR301"))
        .await;
    // Both invitations expire unanswered (AWS keeps them open 15 days): each is sent again, once.
    let sixteen_days = std::time::Duration::from_secs(16 * 24 * 3600);
    stack.advance_sandbox(sixteen_days).await;
    stack.signal(tenant, &order.id).await;
    let mut rounds = 0;
    while invitations_of(&stack, tenant, &lapsing).await.len() < 2
        || invitations_of(&stack, tenant, &accepting).await.len() < 2
    {
        rounds += 1;
        assert!(rounds < 300, "the expired invitations were not sent again");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let again = stack
        .await_order(tenant, &order.id, true, asked("TNR301"))
        .await;
    assert_eq!(again.status, pb::OrderStatus::Querying as i32);
    let renewed = invitations_of(&stack, tenant, &accepting).await;
    let open: Vec<&String> = renewed
        .iter()
        .filter(|(_, state)| {
            [prov::HandshakeState::Requested, prov::HandshakeState::Open]
                .map(|open| open as i32)
                .contains(state)
        })
        .map(|(id, _)| id)
        .collect();
    assert_eq!(open.len(), 1, "{renewed:?}");
    stack.answer_handshake(open[0], true).await;
    // The second invitation of the other account expires too: now the customer is asked.
    stack.advance_sandbox(sixteen_days).await;
    stack.signal(tenant, &order.id).await;
    let expired = stack
        .await_order(tenant, &order.id, true, asked("TNR303"))
        .await;
    let items: Vec<&str> = expired
        .query
        .as_ref()
        .expect("query")
        .items
        .iter()
        .map(|item| item.aws_account_id.as_str())
        .collect();
    assert_eq!(items, [lapsing.as_str()]);
    assert_eq!(invitations_of(&stack, tenant, &lapsing).await.len(), 2);
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn a_spam_transfer_of_a_whole_organization_runs_through_its_hand_over() {
    let stack = Stack::start().await;
    let tenant = stack
        .seed_tenant(0, common::Sector::Commercial, common::ResaleModel::Spam)
        .await
        .tenant;
    let management = fresh_account();
    let order = stack
        .place(
            tenant,
            Details::OrganizationTransfer(pb::OrganizationTransferOrder {
                uses_organizations: true,
                management_account_id: management.clone(),
                linked_account_ids: Vec::new(),
            }),
        )
        .await
        .expect("place");
    // Before the hand-over the customer may still cancel; the hand-over is the point of no return.
    let handover = stack.first_open_task(&order.id).await;
    assert_eq!(handover.step, "ownership_handover");
    let done = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Completed, true)
        .await;
    assert!(done.past_point_of_no_return);
    assert_eq!(
        completed_tasks(&stack, &order.id).await,
        [
            "cost_visibility",
            "ownership_handover",
            "root_access_setup",
            "support_channel"
        ]
    );
    let states = stack.step_states(tenant, &order.id).await;
    assert_eq!(states["invite_accounts"], pb::StepState::Skipped);
    assert_eq!(states["cta_request"], pb::StepState::Skipped);
    assert_eq!(
        states["point_of_no_return_after_handover"],
        pb::StepState::Done
    );
    assert_eq!(states["point_of_no_return"], pb::StepState::Skipped);
    let record = stack
        .accounts()
        .await
        .get_account(stack.request(
            &As::Customer(tenant),
            ServiceKind::Accounts,
            accounts::GetAccountRequest {
                lookup: Some(accounts::get_account_request::Lookup::AwsAccountId(
                    management,
                )),
            },
        ))
        .await
        .expect("account")
        .into_inner()
        .account
        .expect("record");
    assert_eq!(record.state, accounts::AccountState::Active as i32);
    assert_eq!(
        record.relationship,
        common::AccountRelationship::PlatformPayer as i32
    );
    assert_eq!(
        record.root_access,
        accounts::RootAccessOwner::Platform as i32
    );
    stack.owners.shutdown().await;
}

fn catalogue_code(status: &tonic::Status) -> String {
    tonic_types::StatusExt::get_details_error_info(status)
        .map(|info| info.reason)
        .unwrap_or_default()
}

#[tokio::test]
async fn terminations_of_an_inactive_subscription_or_a_payer_with_members_are_refused_with_their_codes()
 {
    let stack = Stack::start().await;
    let seeded = stack.seed(1).await;
    let tenant = seeded.tenant;
    let member = &seeded.accounts[0];
    // Suspend the member's subscription, as the marketplace does over an unpaid bill.
    let subscriptions = stack
        .accounts()
        .await
        .list_subscriptions(stack.request(
            &As::Operator,
            ServiceKind::Accounts,
            accounts::ListSubscriptionsRequest {
                account_id: member.record_id.clone(),
                ..accounts::ListSubscriptionsRequest::default()
            },
        ))
        .await
        .expect("subscriptions")
        .into_inner()
        .subscriptions;
    stack
        .accounts()
        .await
        .set_subscription_status(stack.request(
            &As::Operator,
            ServiceKind::Accounts,
            accounts::SetSubscriptionStatusRequest {
                idempotency_key: key(),
                subscription_id: subscriptions[0].id.clone(),
                status: accounts::SubscriptionStatus::Suspended as i32,
                reason: "unpaid invoice".to_owned(),
            },
        ))
        .await
        .expect("suspend");
    let suspended = stack
        .place(
            tenant,
            Details::Terminate(pb::TerminateOrder {
                aws_account_id: member.aws_account_id.clone(),
                mode: common::TerminationMode::Close as i32,
                acknowledgements: close_member_acknowledgements(),
                reason: String::new(),
                acknowledged_open_balance: None,
            }),
        )
        .await
        .expect_err("an inactive subscription");
    assert_eq!(suspended.code(), Code::FailedPrecondition);
    assert_eq!(catalogue_code(&suspended), "TNR011");

    // A platform payer that still has a live member.
    let payer = fresh_account();
    stack
        .register_account(
            tenant,
            &payer,
            accounts::AccountRole::Management,
            common::AccountRelationship::PlatformPayer,
            "",
        )
        .await;
    stack
        .register_account(
            tenant,
            &fresh_account(),
            accounts::AccountRole::Member,
            common::AccountRelationship::PlatformMember,
            &payer,
        )
        .await;
    use common::Acknowledgement as Ack;
    let mut acknowledgements = close_member_acknowledgements();
    acknowledgements.push(Ack::RootUser as i32);
    let with_members = stack
        .place(
            tenant,
            Details::Terminate(pb::TerminateOrder {
                aws_account_id: payer,
                mode: common::TerminationMode::Close as i32,
                acknowledgements,
                reason: String::new(),
                acknowledged_open_balance: None,
            }),
        )
        .await
        .expect_err("a payer with members");
    assert_eq!(with_members.code(), Code::FailedPrecondition);
    assert_eq!(catalogue_code(&with_members), "TNR404");
    // Refused orders store nothing.
    let listed = stack
        .orders()
        .await
        .list_orders(stack.request(
            &As::Customer(tenant),
            ServiceKind::Orders,
            pb::ListOrdersRequest::default(),
        ))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.orders.is_empty(), "{:?}", listed.orders);
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn the_event_stream_resumes_from_a_position_without_losing_or_repeating_an_event() {
    let stack = Stack::start().await;
    let tenant = stack.seed(0).await.tenant;
    for _ in 0..2 {
        let order = stack
            .place(tenant, new_account(&unique()))
            .await
            .expect("place");
        stack
            .await_status(tenant, &order.id, pb::OrderStatus::Completed, false)
            .await;
    }
    let everything = stack.order_stream(&As::Billing).await;
    assert!(everything.len() > 6, "{}", everything.len());
    // Read three at a time, reconnecting after every batch from the position it gave.
    let mut resumed = Vec::new();
    let mut start = pb::subscribe_request::Start::FromBeginning(true);
    loop {
        let mut stream = stack
            .order_events()
            .await
            .subscribe(stack.request(
                &As::Billing,
                ServiceKind::Orders,
                pb::SubscribeRequest {
                    start: Some(start.clone()),
                    types: Vec::new(),
                    order_ids: Vec::new(),
                    max_batch: 3,
                },
            ))
            .await
            .expect("subscribe")
            .into_inner();
        let batch = stream.message().await.expect("stream").expect("batch");
        assert!(batch.events.len() <= 3);
        resumed.extend(batch.events.clone());
        if batch.events.is_empty() {
            break;
        }
        start = pb::subscribe_request::Start::After(batch.position);
    }
    let ids = |events: &[pb::OrderEvent]| -> Vec<String> {
        events.iter().map(|event| event.event_id.clone()).collect()
    };
    assert_eq!(ids(&resumed), ids(&everything));
    // A named subscription keeps its cursor on the server: after an Ack it resumes there.
    let mut admin = stack.order_events().await;
    let half = &everything[everything.len() / 2];
    admin
        .ack(stack.request(
            &As::Billing,
            ServiceKind::Orders,
            pb::AckRequest {
                subscription: "invoicing".to_owned(),
                position: half.position.clone(),
            },
        ))
        .await
        .expect("ack");
    let mut named = admin
        .subscribe(stack.request(
            &As::Billing,
            ServiceKind::Orders,
            pb::SubscribeRequest {
                start: Some(pb::subscribe_request::Start::Subscription(
                    "invoicing".to_owned(),
                )),
                types: Vec::new(),
                order_ids: Vec::new(),
                max_batch: 500,
            },
        ))
        .await
        .expect("subscribe")
        .into_inner();
    let batch = named.message().await.expect("stream").expect("batch");
    assert_eq!(
        ids(&batch.events),
        ids(&everything[everything.len() / 2 + 1..])
    );
    let malformed = admin
        .subscribe(stack.request(
            &As::Billing,
            ServiceKind::Orders,
            pb::SubscribeRequest {
                start: Some(pb::subscribe_request::Start::After("s1.0.3".to_owned())),
                ..pb::SubscribeRequest::default()
            },
        ))
        .await
        .expect_err("a SQLite position on PostgreSQL");
    assert_eq!(malformed.code(), Code::InvalidArgument);
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn on_sqlite_as_tenure_up_runs_it_a_new_account_order_completes_and_streams() {
    let files = tenure_testkit::TestSqlite::create().expect("sqlite files");
    let settings = |service: &str| files.settings(service);
    let (orders, accounts, provisioning, purges) = (
        settings("orders"),
        settings("accounts"),
        settings("provisioning"),
        settings("purge"),
    );
    let stack = Stack::start_with(move |config| {
        config.orders.settings.database = orders;
        config.accounts.settings.database = accounts;
        config.provisioning.settings.database = provisioning;
        config.data_purge.settings.database = purges;
    })
    .await;
    let tenant = stack.seed(0).await.tenant;
    let order = stack
        .place(tenant, new_account(&unique()))
        .await
        .expect("place");
    let done = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Completed, false)
        .await;
    assert_eq!(done.aws_account_id.len(), 12);
    let events = stack.order_stream(&As::Billing).await;
    let positions: Vec<&str> = events.iter().map(|event| event.position.as_str()).collect();
    assert!(
        positions.iter().all(|position| position.starts_with('s')),
        "{positions:?}"
    );
    let types = event_types(&events, &order.id);
    assert!(types.contains(&"account.activated".to_owned()), "{types:?}");
    stack.owners.shutdown().await;
}
