//! What the order and its timeline see of a saga: the customer-facing progress, the events an Emit
//! node appends, and the status change every transition is sealed with.

use chrono::{DateTime, Utc};
use tenure_domain::AwsAccountId;

use super::{Ctx, OrderChange, Progress, SagaSnapshot, TaskChange, Transition};
use crate::domain::catalogue::{self, Facts};
use crate::domain::order::{OrderDetails, OrderStatus, Relationship, SagaInput};
use crate::domain::saga::definition::Definition;
use crate::domain::saga::node::NodeSpec;
use crate::domain::saga::state::{
    EventDraft, EventKind, EventPayload, SagaState, SagaStatus, WaitReason,
};

/// What the catalogue messages of this saga may mention.
pub(super) fn facts(snapshot: &SagaSnapshot) -> Facts {
    let account_id = snapshot
        .state
        .aws_account_id
        .clone()
        .or_else(|| snapshot.input.details.primary_account());
    Facts {
        account_id,
        start_at: snapshot
            .state
            .transfer
            .as_ref()
            .map(|transfer| transfer.start_at),
        accept_by: snapshot
            .state
            .transfer
            .as_ref()
            .map(|transfer| transfer.accept_by),
        ends_at: snapshot.state.billing_ends_at,
        order_id: Some(snapshot.order_id.to_string()),
        ..Facts::default()
    }
}

/// The events an Emit node appends.
pub(super) fn emitted(
    snapshot: &SagaSnapshot,
    event: EventKind,
    now: DateTime<Utc>,
) -> Vec<EventDraft> {
    let state = &snapshot.state;
    let draft = |payload| EventDraft {
        effective_at: now,
        payload,
    };
    match event {
        EventKind::AccountActivated => {
            let billing_starts_at = state.transfer.as_ref().map(|transfer| transfer.start_at);
            activated_accounts(snapshot)
                .into_iter()
                .map(|(aws_account_id, relationship)| EventDraft {
                    effective_at: billing_starts_at.unwrap_or(now),
                    payload: EventPayload::AccountActivated {
                        aws_account_id,
                        relationship,
                        billing_starts_at: Some(billing_starts_at.unwrap_or(now)),
                    },
                })
                .collect()
        }
        EventKind::AccountOffboarded => {
            // Only terminations offboard, and a termination always names its account.
            let Some(aws_account_id) = snapshot.input.details.primary_account() else {
                return Vec::new();
            };
            match (state.closed_at, state.reopen_until, state.billing_ends_at) {
                (Some(closed_at), Some(reopen_until), _) => vec![EventDraft {
                    effective_at: closed_at,
                    payload: EventPayload::AccountClosed {
                        aws_account_id,
                        closed_at,
                        reopen_until,
                    },
                }],
                (_, _, Some(billing_ends_at)) => vec![EventDraft {
                    effective_at: billing_ends_at,
                    payload: EventPayload::AccountUnlinkScheduled {
                        aws_account_id,
                        billing_ends_at,
                    },
                }],
                _ => vec![EventDraft {
                    effective_at: state.removed_at.unwrap_or(now),
                    payload: EventPayload::AccountUnlinked {
                        aws_account_id,
                        never_billed: state.never_billed,
                    },
                }],
            }
        }
        EventKind::PurgeScheduled => state
            .purge
            .as_ref()
            .zip(snapshot.input.details.primary_account())
            .map(|(purge, aws_account_id)| {
                vec![draft(EventPayload::PurgeScheduled {
                    purge_id: purge.id,
                    aws_account_id,
                    due_at: purge.due_at,
                })]
            })
            .unwrap_or_default(),
        EventKind::Probe => vec![draft(EventPayload::ProbeReached {
            node: snapshot.node,
        })],
    }
}

/// The accounts an order activates, with their relationship to the platform.
pub(super) fn activated_accounts(snapshot: &SagaSnapshot) -> Vec<(AwsAccountId, Relationship)> {
    match &snapshot.input.details {
        OrderDetails::NewAccount { .. } => snapshot
            .state
            .aws_account_id
            .iter()
            .map(|id| (id.clone(), Relationship::PlatformMember))
            .collect(),
        OrderDetails::BillingTransfer {
            management_account_id,
            ..
        } => vec![(
            management_account_id.clone(),
            Relationship::BillingTransferSource,
        )],
        OrderDetails::OrganizationTransfer {
            uses_organizations: true,
            management_account_id,
            ..
        } => management_account_id
            .iter()
            .map(|id| (id.clone(), Relationship::PlatformPayer))
            .collect(),
        OrderDetails::OrganizationTransfer {
            linked_account_ids, ..
        } => linked_account_ids
            .iter()
            .map(|id| (id.clone(), Relationship::PlatformMember))
            .collect(),
        OrderDetails::Terminate { .. } => Vec::new(),
    }
}

/// The snapshot seen with another state: a transition's state decides a wait's deadline.
pub(super) fn with_state(snapshot: &SagaSnapshot, state: &SagaState) -> SagaSnapshot {
    SagaSnapshot {
        state: state.clone(),
        ..snapshot.clone()
    }
}

/// The progress an order shows for a saga in this shape.
pub(crate) fn progress(
    definition: &Definition,
    snapshot: &SagaSnapshot,
    status: SagaStatus,
    node: usize,
    state: &SagaState,
    wait: Option<&WaitReason>,
) -> Progress {
    let order_status = status.order_status();
    let mut facts = facts(snapshot);
    facts.next_at = wait.and_then(|wait| wait.until);
    let failure_code = state.failure.as_ref().map(|failure| failure.code.clone());
    let (status_key, message, code) = match status {
        SagaStatus::Completed => ("completed".to_owned(), None, String::new()),
        SagaStatus::Compensated | SagaStatus::Aborted => (
            "failed".to_owned(),
            state
                .failure
                .as_ref()
                .map(|failure| failure.message.clone()),
            failure_code.unwrap_or_default(),
        ),
        SagaStatus::Cancelled => ("cancelled".to_owned(), None, String::new()),
        SagaStatus::Compensating | SagaStatus::CompensationStuck => {
            ("rolling_back".to_owned(), None, String::new())
        }
        SagaStatus::Blocked => ("ops_paused".to_owned(), None, "TNR902".to_owned()),
        SagaStatus::Querying => {
            let query = state.query.as_ref();
            let key = definition
                .nodes
                .get(node)
                .map_or("processing", |node| node.status_key);
            (
                key.to_owned(),
                query.map(|query| query.message.clone()),
                query.map(|query| query.code.clone()).unwrap_or_default(),
            )
        }
        _ => match definition
            .nodes
            .get(next_applicable(definition, &snapshot.input, node))
        {
            Some(current) if matches!(current.spec, NodeSpec::ManualTask { .. }) => {
                facts.step_title = Some(current.title.to_owned());
                let prefix = match current.owner {
                    crate::domain::saga::node::StepOwner::Customer => "customer_task",
                    _ => "ops_task",
                };
                (format!("{prefix}:{}", current.name), None, String::new())
            }
            Some(_) if state.notice.as_deref() == Some("TNR901") => {
                ("aws_slow".to_owned(), None, "TNR901".to_owned())
            }
            Some(_) if wait.is_some_and(|wait| wait.kind == "deferred") => (
                "deferred_quota".to_owned(),
                state
                    .notice
                    .as_ref()
                    .map(|notice| catalogue::message(notice, &facts)),
                state.notice.clone().unwrap_or_default(),
            ),
            Some(current) => (current.status_key.to_owned(), None, String::new()),
            None => ("processing".to_owned(), None, String::new()),
        },
    };
    let message = message.unwrap_or_else(|| catalogue::progress_message(&status_key, &facts));
    Progress {
        order_status,
        status_key,
        message,
        code,
    }
}

/// The first node from `node` on that applies to `input`: a step the order will skip is never shown
/// as the one it works on, not even for the instant before it is skipped.
fn next_applicable(definition: &Definition, input: &SagaInput, node: usize) -> usize {
    definition
        .nodes
        .iter()
        .enumerate()
        .skip(node)
        .find(|(_, candidate)| candidate.applies(input))
        .map_or(node, |(index, _)| index)
}

/// Adds what every transition derives from its before and after: the order's status change and its
/// event, and the end of a terminal saga (its locks, its open tasks).
pub(super) fn seal(
    definition: &Definition,
    snapshot: &SagaSnapshot,
    mut t: Transition,
    ctx: Ctx<'_>,
) -> Transition {
    let before = progress(
        definition,
        snapshot,
        snapshot.status,
        snapshot.node,
        &snapshot.state,
        snapshot.wait.as_ref(),
    );
    let after_view = with_state(snapshot, &t.state);
    let after = progress(
        definition,
        &after_view,
        t.status,
        t.node,
        &t.state,
        t.wait.as_ref(),
    );
    if before.order_status != after.order_status || before.status_key != after.status_key {
        t.events.push(EventDraft {
            effective_at: ctx.now,
            payload: EventPayload::OrderStatusChanged {
                from: before.order_status,
                to: after.order_status,
                status_key: after.status_key.clone(),
                code: after.code.clone(),
            },
        });
    }
    if before.order_status != after.order_status {
        t.order = Some(OrderChange {
            status: after.order_status,
            status_key: after.status_key,
            failure: if after.order_status == OrderStatus::Failed {
                t.state.failure.clone()
            } else {
                None
            },
            finished: after.order_status.is_terminal(),
        });
    }
    if t.status.is_terminal() {
        t.due_at = None;
        t.wait = None;
        t.runnable_now = false;
        t.release_locks = true;
        if t.task.is_none() {
            t.task = Some(TaskChange::CancelOpen);
        }
    }
    t
}
