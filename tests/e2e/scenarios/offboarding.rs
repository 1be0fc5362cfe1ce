//! Offboarding rows: closing an account permanently (seeds 000, 001) and unlinking it (seed 001's
//! cancellation procedure), for every way an account can have joined the platform.

use tenure_grpc::ServiceKind;
use tenure_proto::accounts::v1 as accounts;
use tenure_proto::common::v1 as common;
use tenure_proto::orders::v1 as pb;
use tenure_proto::orders::v1::create_order_request::Details;
use tenure_proto::purge::v1 as purge;
use uuid::Uuid;

use crate::orders::{close_member_acknowledgements, fresh_account};
use crate::scenarios::check::{
    Owner, State, account, assert_steps, await_account_state, customer_task, days_between, email,
    events, events_of, everyone_helps, purges_of,
};
use crate::stack::{As, Stack, key};

/// A new account, created by an order and active.
pub(crate) async fn created_account(stack: &Stack, tenant: Uuid) -> String {
    let order = stack
        .place(
            tenant,
            Details::NewAccount(pb::NewAccountOrder {
                root_email: email("member"),
                account_name: "Member".to_owned(),
                support_contact: String::new(),
            }),
        )
        .await
        .expect("placed");
    everyone_helps(stack, tenant, &order.id, pb::OrderStatus::Completed)
        .await
        .aws_account_id
}

/// Accounts of a completed ECAM/SPAM transfer: one invited linked account, or a handed-over
/// management account.
async fn transferred_account(stack: &Stack, tenant: Uuid, whole_organization: bool) -> String {
    let account = fresh_account();
    let order = stack
        .place(
            tenant,
            Details::OrganizationTransfer(pb::OrganizationTransferOrder {
                uses_organizations: whole_organization,
                management_account_id: if whole_organization {
                    account.clone()
                } else {
                    String::new()
                },
                linked_account_ids: if whole_organization {
                    Vec::new()
                } else {
                    vec![account.clone()]
                },
            }),
        )
        .await
        .expect("placed");
    if !whole_organization {
        stack
            .await_status(tenant, &order.id, pb::OrderStatus::Querying, true)
            .await;
        for handshake in stack
            .invitations(tenant, std::slice::from_ref(&account))
            .await
        {
            stack.answer_handshake(&handshake, true).await;
        }
        stack.signal(tenant, &order.id).await;
    }
    everyone_helps(stack, tenant, &order.id, pb::OrderStatus::Completed).await;
    account
}

/// A management account whose bill the platform took over with a billing transfer.
pub(crate) async fn billing_transfer_account(stack: &Stack, tenant: Uuid) -> String {
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
        .expect("placed");
    let handshake = stack.transfer_handshake(tenant, &management).await;
    stack.answer_handshake(&handshake, true).await;
    stack.deploy_customer_bootstrap(&management).await;
    stack.signal(tenant, &order.id).await;
    everyone_helps(stack, tenant, &order.id, pb::OrderStatus::Completed).await;
    management
}

fn acknowledgements(list: &[common::Acknowledgement]) -> Vec<i32> {
    list.iter().map(|ack| *ack as i32).collect()
}

/// What an unlink asks the customer to confirm: open bills, commitments, and for a member that it
/// becomes standalone.
fn unlink_acknowledgements(member: bool) -> Vec<i32> {
    use common::Acknowledgement as Ack;
    let mut list = vec![Ack::OutstandingBill, Ack::Commitments];
    if member {
        list.push(Ack::Standalone);
    }
    acknowledgements(&list)
}

async fn terminate(
    stack: &Stack,
    tenant: Uuid,
    account: &str,
    mode: common::TerminationMode,
    acknowledgements: Vec<i32>,
) -> pb::Order {
    stack
        .place(
            tenant,
            Details::Terminate(pb::TerminateOrder {
                aws_account_id: account.to_owned(),
                mode: mode as i32,
                acknowledgements,
                reason: "leaving the platform".to_owned(),
                acknowledged_open_balance: None,
            }),
        )
        .await
        .expect("placed")
}

/// The purge a termination scheduled for `account`.
async fn purge_of(stack: &Stack, tenant: Uuid, account: &str) -> purge::Purge {
    let purges = purges_of(stack, tenant, account).await;
    match purges.as_slice() {
        [only] => only.clone(),
        other => panic!("one purge for account {account}, not {other:?}"),
    }
}

/// Seeds 000 and 001, closing a member permanently: operations confirm first, the platform's
/// stacks go, AWS closes the account, the 90-day reopen window opens and the purge falls due 30
/// days after the closure.
pub(crate) async fn close_member(stack: &Stack) {
    let tenant = stack.seed(0).await.tenant;
    let account_id = created_account(stack, tenant).await;
    let order = terminate(
        stack,
        tenant,
        &account_id,
        common::TerminationMode::Close,
        close_member_acknowledgements(),
    )
    .await;
    let done = everyone_helps(stack, tenant, &order.id, pb::OrderStatus::Completed).await;
    assert!(done.past_point_of_no_return);
    assert_steps(
        stack,
        tenant,
        &order.id,
        &[
            ("begin_offboarding", Owner::Automation, State::Done),
            ("confirm_with_customer", Owner::Operations, State::Done),
            ("delete_stack_instances", Owner::Automation, State::Done),
            ("point_of_no_return", Owner::Automation, State::Done),
            ("close_account", Owner::Automation, State::Done),
            ("record_outcome", Owner::Automation, State::Done),
            ("await_closure", Owner::Automation, State::Done),
            ("record_closure", Owner::Automation, State::Done),
            ("announce_offboarding", Owner::Automation, State::Done),
            ("schedule_purge", Owner::Automation, State::Done),
            ("announce_purge", Owner::Automation, State::Done),
        ],
    )
    .await;
    assert_eq!(
        events(stack, &order.id, "purge.scheduled").await,
        ["order.placed", "account.closed", "purge.scheduled"]
    );
    let record = account(stack, tenant, &account_id).await;
    assert_eq!(record.state, accounts::AccountState::Closed as i32);
    assert_eq!(
        days_between(record.closed_at.as_ref(), record.reopen_until.as_ref()),
        90
    );
    let scheduled = purge_of(stack, tenant, &account_id).await;
    assert_eq!(
        days_between(record.closed_at.as_ref(), scheduled.due_at.as_ref()),
        30
    );
}

/// Seed 001: a management account whose organization still has members cannot be closed. The
/// customer is told why before anything is stored.
pub(crate) async fn close_management_account_with_members(stack: &Stack) {
    let tenant = stack.seed(0).await.tenant;
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
    let refused = stack
        .place(
            tenant,
            Details::Terminate(pb::TerminateOrder {
                aws_account_id: payer.clone(),
                mode: common::TerminationMode::Close as i32,
                acknowledgements: acknowledgements(&[
                    Ack::RootUser,
                    Ack::Backup,
                    Ack::OutstandingBill,
                    Ack::Commitments,
                    Ack::Resources,
                    Ack::EmailNotReusable,
                    Ack::ReopenWindow,
                ]),
                reason: String::new(),
                acknowledged_open_balance: None,
            }),
        )
        .await
        .expect_err("members are left");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        tonic_types::StatusExt::get_details_error_info(&refused).map(|info| info.reason),
        Some("TNR404".to_owned())
    );
    assert_eq!(
        refused.message(),
        "The management account still has member accounts. Close or remove them, then confirm."
    );
    let orders = stack
        .orders()
        .await
        .list_orders(stack.request(
            &As::Customer(tenant),
            ServiceKind::Orders,
            pb::ListOrdersRequest {
                aws_account_id: payer.clone(),
                ..pb::ListOrdersRequest::default()
            },
        ))
        .await
        .expect("orders")
        .into_inner()
        .orders;
    assert!(orders.is_empty(), "nothing stored: {orders:?}");
}

/// One closure per rolling 30 days in the organization (the sandbox's quota, lowered to 1).
pub(crate) fn one_closure_a_month(config: &mut tenure::config::TenureConfig) {
    config.provisioning.settings.backend.sandbox.close_quota = Some(1);
}

/// AWS's closure quota is used up: the order waits, tells the customer when it tries again
/// (TNR403), and completes once the quota allows it, without anyone stepping in.
pub(crate) async fn close_quota_exceeded(stack: &Stack) {
    let tenant = stack.seed(0).await.tenant;
    let first = created_account(stack, tenant).await;
    let second = created_account(stack, tenant).await;
    let closing = terminate(
        stack,
        tenant,
        &first,
        common::TerminationMode::Close,
        close_member_acknowledgements(),
    )
    .await;
    everyone_helps(stack, tenant, &closing.id, pb::OrderStatus::Completed).await;
    let order = terminate(
        stack,
        tenant,
        &second,
        common::TerminationMode::Close,
        close_member_acknowledgements(),
    )
    .await;
    let deferred = stack
        .await_order(tenant, &order.id, true, |order| {
            order.status_key == "deferred_quota"
        })
        .await;
    assert!(
        deferred
            .status_message
            .starts_with("AWS's limit on account closures has been reached. Next attempt "),
        "{}",
        deferred.status_message
    );
    assert_eq!(
        account(stack, tenant, &second).await.state,
        accounts::AccountState::Offboarding as i32,
        "nothing changed in AWS yet"
    );
    stack.advance_days(31);
    everyone_helps(stack, tenant, &order.id, pb::OrderStatus::Completed).await;
    await_account_state(stack, tenant, &second, accounts::AccountState::Closed).await;
}

async fn reopen(stack: &Stack, record_id: &str) -> Result<accounts::AwsAccount, tonic::Status> {
    Ok(stack
        .accounts()
        .await
        .reopen_account(stack.request(
            &As::Operator,
            ServiceKind::Accounts,
            accounts::ReopenAccountRequest {
                idempotency_key: key(),
                account_id: record_id.to_owned(),
                reason: "the customer reopened it through AWS Support".to_owned(),
                ticket: "OPS-2001".to_owned(),
            },
        ))
        .await?
        .into_inner()
        .account
        .expect("record"))
}

/// Seed 000: inside the 90-day post-closure period the account can be reopened; operations record
/// it, the account is active again and its pending purge is cancelled.
pub(crate) async fn reopen_inside_the_window(stack: &Stack) {
    let tenant = stack.seed(0).await.tenant;
    let account_id = created_account(stack, tenant).await;
    let order = terminate(
        stack,
        tenant,
        &account_id,
        common::TerminationMode::Close,
        close_member_acknowledgements(),
    )
    .await;
    everyone_helps(stack, tenant, &order.id, pb::OrderStatus::Completed).await;
    let closed = account(stack, tenant, &account_id).await;
    stack.advance_days(20);
    let reopened = reopen(stack, &closed.id).await.expect("reopened");
    assert_eq!(reopened.state, accounts::AccountState::Active as i32);
    let purge = purge_of(stack, tenant, &account_id).await;
    let cancelled = stack
        .await_purge(&purge.id, purge::PurgeState::Cancelled)
        .await;
    assert_eq!(cancelled.state, purge::PurgeState::Cancelled as i32);
}

/// After the 90 days the closure is permanent and a reopening is refused.
pub(crate) async fn reopen_after_the_window(stack: &Stack) {
    let tenant = stack.seed(0).await.tenant;
    let account_id = created_account(stack, tenant).await;
    let order = terminate(
        stack,
        tenant,
        &account_id,
        common::TerminationMode::Close,
        close_member_acknowledgements(),
    )
    .await;
    everyone_helps(stack, tenant, &order.id, pb::OrderStatus::Completed).await;
    let closed = account(stack, tenant, &account_id).await;
    stack.advance_days(91);
    await_account_state(
        stack,
        tenant,
        &account_id,
        accounts::AccountState::PermanentlyClosed,
    )
    .await;
    let refused = reopen(stack, &closed.id).await.expect_err("too late");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        refused.message(),
        "the 90-day reopen window of this account has ended"
    );
    let purge = purge_of(stack, tenant, &account_id).await;
    assert_eq!(
        stack
            .await_purge(&purge.id, purge::PurgeState::Completed)
            .await
            .state,
        purge::PurgeState::Completed as i32
    );
}

/// Seed 001's cancellation procedure before the platform ends the link: the customer shuts down
/// what it no longer needs and confirms. Each step is the customer's, with its instructions.
async fn customer_confirms_the_unlink(stack: &Stack, tenant: Uuid, order_id: &str) {
    for step in ["shut_down_resources", "confirm_unlink"] {
        let task = customer_task(stack, tenant, order_id, step).await;
        assert_eq!(task.owner, pb::TaskOwner::Customer as i32);
        assert!(task.blocks_order);
        assert!(!task.instructions.is_empty(), "{task:?}");
        let order = stack
            .order(&As::Customer(tenant), order_id)
            .await
            .expect("order");
        assert_eq!(order.status_key, format!("customer_task:{step}"));
        stack
            .complete_task(
                &As::Customer(tenant),
                &task.id,
                pb::TaskOutcome::Completed,
                "",
            )
            .await
            .expect("the customer confirms");
    }
}

/// After the link ended the customer is shown how to close the account as root (seed 001 §2); the
/// order never waits for it, and the customer confirms when done.
async fn customer_closes_as_root(stack: &Stack, tenant: Uuid, order_id: &str) {
    let task = customer_task(stack, tenant, order_id, "close_account_as_root").await;
    assert!(!task.blocks_order);
    assert_eq!(
        task.instructions.first().map(String::as_str),
        Some(
            "Log in to the AWS Management Console with the root user of the account, not an IAM user."
        )
    );
    stack
        .complete_task(
            &As::Customer(tenant),
            &task.id,
            pb::TaskOutcome::Completed,
            "",
        )
        .await
        .expect("closed as root");
}

/// The steps of a completed unlink, for a member (`whole_organization` false) or a management
/// account leaving with its organization, with `ending` as the step that ends the link.
fn unlink_steps(
    whole_organization: bool,
    ending: &[(&'static str, Owner)],
) -> Vec<(&'static str, Owner, State)> {
    let mut steps = vec![
        ("begin_offboarding", Owner::Automation, State::Done),
        ("confirm_with_customer", Owner::Operations, State::Done),
        ("shut_down_resources", Owner::Customer, State::Done),
        ("confirm_unlink", Owner::Customer, State::Done),
        ("delete_stack_instances", Owner::Automation, State::Done),
    ];
    if whole_organization {
        steps.push(("delete_stack_set", Owner::Automation, State::Done));
        steps.push(("delete_payer_stack", Owner::Automation, State::Done));
    }
    steps.push(("point_of_no_return", Owner::Automation, State::Done));
    steps.extend(
        ending
            .iter()
            .map(|(name, owner)| (*name, *owner, State::Done)),
    );
    steps.extend([
        ("record_outcome", Owner::Automation, State::Done),
        ("announce_offboarding", Owner::Automation, State::Done),
        ("schedule_purge", Owner::Automation, State::Done),
        ("announce_purge", Owner::Automation, State::Done),
        ("close_account_as_root", Owner::Customer, State::Done),
    ]);
    steps
}

/// Unlinking a member the platform created: AWS lets a new account leave only days after its
/// creation, so the order tells the customer when it tries again (TNR402) and then completes.
pub(crate) async fn unlink_created_member(stack: &Stack) {
    let tenant = stack.seed(0).await.tenant;
    let account_id = created_account(stack, tenant).await;
    let order = terminate(
        stack,
        tenant,
        &account_id,
        common::TerminationMode::Unlink,
        unlink_acknowledgements(true),
    )
    .await;
    customer_confirms_the_unlink(stack, tenant, &order.id).await;
    let deferred = stack
        .await_order(tenant, &order.id, true, |order| {
            order.status_key == "deferred_quota"
        })
        .await;
    assert!(
        deferred.status_message.starts_with(
            "AWS lets a newly created account leave only a few days after creation. Next attempt "
        ),
        "{}",
        deferred.status_message
    );
    stack.advance_days(5);
    everyone_helps(stack, tenant, &order.id, pb::OrderStatus::Completed).await;
    customer_closes_as_root(stack, tenant, &order.id).await;
    assert_steps(
        stack,
        tenant,
        &order.id,
        &unlink_steps(false, &[("remove_account", Owner::Automation)]),
    )
    .await;
    assert_unlinked(stack, tenant, &order.id, &account_id).await;
}

/// An unlinked account: the stream says so, and its data is purged 30 days after it left.
async fn assert_unlinked(stack: &Stack, tenant: Uuid, order_id: &str, account_id: &str) {
    assert_eq!(
        events(stack, order_id, "purge.scheduled").await,
        ["order.placed", "account.unlinked", "purge.scheduled"]
    );
    let record = account(stack, tenant, account_id).await;
    assert_eq!(record.state, accounts::AccountState::Unlinked as i32);
    let scheduled = purge_of(stack, tenant, account_id).await;
    assert_eq!(
        days_between(record.state_changed_at.as_ref(), scheduled.due_at.as_ref()),
        30
    );
}

/// An unlink of `account_id` played to its end as everyone plays it: the customer confirms, the
/// platform ends the link with `ending`, and the customer closes the account as root; the order.
async fn unlink_to_the_end(
    stack: &Stack,
    tenant: Uuid,
    account_id: &str,
    member: bool,
    ending: &[(&'static str, Owner)],
) -> String {
    let order = terminate(
        stack,
        tenant,
        account_id,
        common::TerminationMode::Unlink,
        unlink_acknowledgements(member),
    )
    .await;
    customer_confirms_the_unlink(stack, tenant, &order.id).await;
    everyone_helps(stack, tenant, &order.id, pb::OrderStatus::Completed).await;
    customer_closes_as_root(stack, tenant, &order.id).await;
    assert_steps(stack, tenant, &order.id, &unlink_steps(!member, ending)).await;
    order.id
}

/// Unlinking a linked account that joined by invitation (ECAM without an organization): it leaves
/// at once.
pub(crate) async fn unlink_invited_member(stack: &Stack) {
    let tenant = stack.seed(0).await.tenant;
    let account_id = transferred_account(stack, tenant, false).await;
    let order = unlink_to_the_end(
        stack,
        tenant,
        &account_id,
        true,
        &[("remove_account", Owner::Automation)],
    )
    .await;
    assert_unlinked(stack, tenant, &order, &account_id).await;
}

/// Unlinking a management account handed over with its organization (ECAM with Organizations):
/// the StackSet and payer stack go, and operations hand ownership back to the customer.
pub(crate) async fn unlink_handed_over_management_account(stack: &Stack) {
    let tenant = stack.seed(0).await.tenant;
    let account_id = transferred_account(stack, tenant, true).await;
    let order = unlink_to_the_end(
        stack,
        tenant,
        &account_id,
        false,
        &[("ownership_return", Owner::Operations)],
    )
    .await;
    assert_unlinked(stack, tenant, &order, &account_id).await;
}

/// Unlinking a billing-transfer account whose transfer is running: the transfer ends at the end of
/// the month, the account shows it leaves then, the order completes now, and the purge falls due
/// 30 days after the transfer really ended. At the month's end the account is unlinked.
pub(crate) async fn unlink_billing_transfer_after_its_start(stack: &Stack) {
    let tenant = stack.seed(0).await.tenant;
    let management = billing_transfer_account(stack, tenant).await;
    // Past the first of the month the transfer started on.
    stack.advance_days(40);
    let order = unlink_to_the_end(
        stack,
        tenant,
        &management,
        false,
        &[("end_billing_transfer", Owner::Automation)],
    )
    .await;
    let events = events_of(stack, &order, "purge.scheduled").await;
    let ends = events
        .iter()
        .find_map(|event| match &event.payload {
            Some(pb::order_event::Payload::AccountUnlinkScheduled(scheduled)) => {
                scheduled.billing_ends_at
            }
            _ => None,
        })
        .expect("account.unlink_scheduled");
    let record = account(stack, tenant, &management).await;
    assert_eq!(record.state, accounts::AccountState::Unlinking as i32);
    assert_eq!(record.billing_ends_at, Some(ends));
    let ends_at = chrono::DateTime::from_timestamp(ends.seconds, 0).expect("instant");
    assert!(
        ends_at > stack.now(),
        "the transfer ends at the month's end"
    );
    let scheduled = purge_of(stack, tenant, &management).await;
    assert_eq!(days_between(Some(&ends), scheduled.due_at.as_ref()), 30);
    assert!(
        scheduled
            .deadline
            .is_some_and(|deadline| deadline.seconds >= ends.seconds + 30 * 86_400)
    );
    stack.advance_days(32);
    await_account_state(stack, tenant, &management, accounts::AccountState::Unlinked).await;
}

/// Unlinking a billing-transfer account before its transfer started: the transfer is withdrawn
/// and never billed, the account leaves at once, and the stream tells billing it never started.
pub(crate) async fn unlink_billing_transfer_before_its_start(stack: &Stack) {
    let tenant = stack.seed(0).await.tenant;
    let management = billing_transfer_account(stack, tenant).await;
    let order = terminate(
        stack,
        tenant,
        &management,
        common::TerminationMode::Unlink,
        unlink_acknowledgements(false),
    )
    .await;
    customer_confirms_the_unlink(stack, tenant, &order.id).await;
    everyone_helps(stack, tenant, &order.id, pb::OrderStatus::Completed).await;
    let events = events_of(stack, &order.id, "purge.scheduled").await;
    let unlinked = events
        .iter()
        .find_map(|event| match &event.payload {
            Some(pb::order_event::Payload::AccountUnlinked(unlinked)) => Some(unlinked.clone()),
            _ => None,
        })
        .expect("account.unlinked");
    assert!(unlinked.never_billed);
    let record = account(stack, tenant, &management).await;
    assert_eq!(record.state, accounts::AccountState::Unlinked as i32);
    assert_eq!(record.billing_ends_at, record.billing_starts_at);
    let scheduled = purge_of(stack, tenant, &management).await;
    assert_eq!(
        days_between(record.state_changed_at.as_ref(), scheduled.due_at.as_ref()),
        30
    );
}
