//! The building blocks the shipped definitions are written with: one constructor per kind of node,
//! and the guards that pick a definition's steps for one order's input. Versions share them, so a
//! guard means the same thing in every version that names it.

use std::time::Duration;

use crate::domain::order::{
    AccountRole, InputField, OrderDetails, Relationship, ResaleModel, SagaInput, TaskKind,
    TaskOwner, TerminationMode,
};
use crate::domain::saga::node::{
    Action, Guard, Node, NodeSpec, OnReject, PollEvery, StepOwner, WaitDeadline,
};
use crate::domain::saga::state::EventKind;

pub(crate) const DAY: Duration = Duration::from_secs(86_400);

pub(crate) fn call(
    name: &'static str,
    title: &'static str,
    status_key: &'static str,
    action: Action,
    undo: Option<Action>,
    reads: &'static [InputField],
) -> Node {
    Node {
        name,
        title,
        owner: StepOwner::Automation,
        status_key,
        when: None,
        spec: NodeSpec::Call {
            action,
            undo,
            reads,
        },
    }
}

pub(crate) fn wait(
    name: &'static str,
    title: &'static str,
    status_key: &'static str,
    poll: Action,
    every: PollEvery,
    deadline: WaitDeadline,
    timeout_code: &'static str,
) -> Node {
    Node {
        name,
        title,
        // Version 1 shows every wait as the customer's; later versions name the real owner.
        owner: StepOwner::Customer,
        status_key,
        when: None,
        spec: NodeSpec::Wait {
            poll,
            every,
            deadline,
            timeout_code,
        },
    }
}

pub(crate) fn task(
    name: &'static str,
    title: &'static str,
    owner: TaskOwner,
    on_reject: OnReject,
) -> Node {
    Node {
        name,
        title,
        owner: match owner {
            TaskOwner::Operations => StepOwner::Operations,
            TaskOwner::Customer => StepOwner::Customer,
        },
        status_key: "manual_task",
        when: None,
        spec: NodeSpec::ManualTask { owner, on_reject },
    }
}

pub(crate) fn pivot() -> Node {
    Node {
        name: "point_of_no_return",
        title: "Point of no return",
        owner: StepOwner::Automation,
        status_key: "processing",
        when: None,
        spec: NodeSpec::Pivot,
    }
}

pub(crate) fn emit(name: &'static str, title: &'static str, event: EventKind) -> Node {
    Node {
        name,
        title,
        owner: StepOwner::Automation,
        status_key: "processing",
        when: None,
        spec: NodeSpec::Emit { event },
    }
}

pub(crate) fn when(mut node: Node, guard: Guard) -> Node {
    node.when = Some(guard);
    node
}

pub(crate) fn support_channel() -> Node {
    task(
        "support_channel",
        "Set up the support channel",
        TaskOwner::Operations,
        OnReject::Fail("TNR310"),
    )
}

pub(crate) fn is_public_sector(input: &SagaInput) -> bool {
    input.tenant.public_sector
}

pub(crate) fn is_spam(input: &SagaInput) -> bool {
    input.tenant.resale_model == ResaleModel::Spam
}

pub(crate) fn has_support_contact(input: &SagaInput) -> bool {
    matches!(&input.details, OrderDetails::NewAccount { support_contact, .. } if !support_contact.is_empty())
}

pub(crate) fn uses_organizations(input: &SagaInput) -> bool {
    matches!(
        input.details,
        OrderDetails::OrganizationTransfer {
            uses_organizations: true,
            ..
        }
    )
}

pub(crate) fn invites_linked_accounts(input: &SagaInput) -> bool {
    !uses_organizations(input)
}

/// Seed 003: the screen-share hand-over and the root/MFA reset happen in every scenario but ECAM
/// without an organization, and where they happen the hand-over is the point of no return.
pub(crate) fn hands_over_ownership(input: &SagaInput) -> bool {
    is_spam(input) || uses_organizations(input)
}

pub(crate) fn pivots_at_activation(input: &SagaInput) -> bool {
    !hands_over_ownership(input)
}

pub(crate) fn relationship(input: &SagaInput) -> Option<Relationship> {
    input.account.as_ref().map(|account| account.relationship)
}

pub(crate) fn mode(input: &SagaInput) -> Option<TerminationMode> {
    match &input.details {
        OrderDetails::Terminate { mode, .. } => Some(*mode),
        _ => None,
    }
}

pub(crate) fn is_member(input: &SagaInput) -> bool {
    input
        .account
        .as_ref()
        .is_some_and(|account| account.role == AccountRole::Member)
        && relationship(input) == Some(Relationship::PlatformMember)
}

/// The whole organization leaves: its StackSet and payer stack go too (T5, T6).
pub(crate) fn whole_organization(input: &SagaInput) -> bool {
    matches!(
        relationship(input),
        Some(Relationship::PlatformPayer | Relationship::BillingTransferSource)
    )
}

pub(crate) fn closes_member(input: &SagaInput) -> bool {
    is_member(input) && mode(input) == Some(TerminationMode::Close)
}

pub(crate) fn unlinks_member(input: &SagaInput) -> bool {
    is_member(input) && mode(input) == Some(TerminationMode::Unlink)
}

pub(crate) fn is_billing_transfer_source(input: &SagaInput) -> bool {
    relationship(input) == Some(Relationship::BillingTransferSource)
}

pub(crate) fn closes_transferred_management_account(input: &SagaInput) -> bool {
    is_billing_transfer_source(input) && mode(input) == Some(TerminationMode::Close)
}

pub(crate) fn closes_payer(input: &SagaInput) -> bool {
    relationship(input) == Some(Relationship::PlatformPayer)
        && mode(input) == Some(TerminationMode::Close)
}

pub(crate) fn returns_payer(input: &SagaInput) -> bool {
    relationship(input) == Some(Relationship::PlatformPayer)
        && mode(input) == Some(TerminationMode::Unlink)
}

pub(crate) fn records_closure(input: &SagaInput) -> bool {
    closes_member(input) || closes_payer(input)
}

pub(crate) fn confirms_with_customer(input: &SagaInput) -> bool {
    input.ops_confirmation
}

/// A step the order does not wait for (see [`NodeSpec::FollowUp`]); always the customer's.
pub(crate) fn follow_up(name: &'static str, title: &'static str, kind: TaskKind) -> Node {
    Node {
        name,
        title,
        owner: StepOwner::Customer,
        status_key: "processing",
        when: None,
        spec: NodeSpec::FollowUp { kind },
    }
}

/// A node with another owner, as the timeline shows it.
pub(crate) fn owned_by(mut node: Node, owner: StepOwner) -> Node {
    node.owner = owner;
    node
}

/// Unlinking in any relationship: the customer's parts of seed 001's cancellation procedure apply.
pub(crate) fn unlinks(input: &SagaInput) -> bool {
    mode(input) == Some(TerminationMode::Unlink)
}
