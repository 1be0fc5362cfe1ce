//! The timeline of an order: every step of its definition, with its owner, state, attempts and
//! times, and why it waits.

use tenure_proto::orders::v1 as pb;

use crate::domain::order::TaskState;
use crate::domain::records::{AttemptRow, OrderRecord, StepRow, TaskRecord};
use crate::domain::saga::definition::Definition;
use crate::domain::saga::node::{NodeSpec, StepOwner};
use crate::domain::saga::state::{Direction, SagaStatus, StepOutcomeKind};

use super::timestamp;

fn owner_to(owner: StepOwner) -> i32 {
    (match owner {
        StepOwner::Automation => pb::StepOwner::Automation,
        StepOwner::Operations => pb::StepOwner::Operations,
        StepOwner::Customer => pb::StepOwner::Customer,
    }) as i32
}

fn is_bookkeeping(code: &str) -> bool {
    matches!(code, "OK" | "PENDING" | "PROGRESS" | "DEFERRED")
}

/// Every step of the order's definition with where it stands.
pub(crate) fn timeline(
    definition: &Definition,
    record: &OrderRecord,
    steps: &[StepRow],
    attempts: &[AttemptRow],
    tasks: &[TaskRecord],
) -> Vec<pb::OrderStep> {
    let saga = &record.saga.snapshot;
    let terminal = saga.status.is_terminal();
    definition
        .nodes
        .iter()
        .enumerate()
        .map(|(index, node)| {
            let forward = steps
                .iter()
                .filter(|step| step.node == index && step.direction == Direction::Do)
                .max_by_key(|step| step.input_rev);
            // A step whose effect was in flight when the saga turned back has an undo and no forward
            // record: it is undone all the same.
            let undone = steps.iter().any(|step| {
                step.node == index
                    && step.direction == Direction::Undo
                    && forward.is_none_or(|forward| step.input_rev == forward.input_rev)
            });
            let node_attempts: Vec<&AttemptRow> = attempts
                .iter()
                .filter(|attempt| attempt.node == index)
                .collect();
            let failed_here = saga
                .state
                .failure
                .as_ref()
                .is_some_and(|failure| failure.node == index);
            let current = index == saga.node && !terminal;
            let task = tasks.iter().rev().find(|task| task.node == index);
            let follow_up = task.filter(|_| node.is_follow_up());
            let state = if !node.applies(&saga.input) {
                pb::StepState::Skipped
            } else if let Some(follow_up) = follow_up {
                // The order went on at once; the step stands where its task stands.
                match follow_up.state {
                    TaskState::Open => pb::StepState::Waiting,
                    TaskState::Completed => pb::StepState::Done,
                    TaskState::Rejected | TaskState::Cancelled | TaskState::Expired => {
                        pb::StepState::Skipped
                    }
                }
            } else if undone {
                pb::StepState::Compensated
            } else if current && saga.direction == Direction::Undo {
                pb::StepState::Compensating
            } else if let Some(forward) = forward {
                if forward.outcome == StepOutcomeKind::Done.as_str() {
                    pb::StepState::Done
                } else {
                    pb::StepState::Skipped
                }
            } else if failed_here && (terminal || saga.direction == Direction::Undo) {
                pb::StepState::Failed
            } else if current {
                match saga.status {
                    SagaStatus::Running => pb::StepState::Running,
                    SagaStatus::Querying => pb::StepState::Querying,
                    SagaStatus::Blocked => pb::StepState::Failed,
                    _ => pb::StepState::Waiting,
                }
            } else {
                pb::StepState::Pending
            };
            let last_error = node_attempts
                .iter()
                .filter(|attempt| !is_bookkeeping(&attempt.code))
                .max_by_key(|attempt| attempt.finished_at);
            let waiting = current && saga.direction == Direction::Do;
            let follow_up_open = follow_up.filter(|task| task.state == TaskState::Open);
            pb::OrderStep {
                name: node.name.to_owned(),
                title: node.title.to_owned(),
                owner: owner_to(node.owner),
                state: state as i32,
                attempts: node_attempts
                    .iter()
                    .filter(|attempt| attempt.direction == Direction::Do)
                    .map(|attempt| attempt.attempt)
                    .max()
                    .unwrap_or(0),
                wait_reason: match follow_up_open {
                    Some(_) => "customer_task".to_owned(),
                    None => saga
                        .wait
                        .as_ref()
                        .filter(|_| waiting)
                        .map(|wait| wait.kind.clone())
                        .unwrap_or_default(),
                },
                wait_detail: match (follow_up, follow_up_open) {
                    (_, Some(_)) => {
                        "open until its deadline; the order does not wait for it".to_owned()
                    }
                    (Some(task), None) => follow_up_outcome(task.state).to_owned(),
                    (None, None) => saga
                        .wait
                        .as_ref()
                        .filter(|_| waiting)
                        .map(|wait| wait.detail.clone())
                        .unwrap_or_default(),
                },
                due_at: match follow_up_open {
                    Some(task) => Some(timestamp(task.deadline)),
                    None => record.saga.due_at.filter(|_| waiting).map(timestamp),
                },
                started_at: node_attempts
                    .iter()
                    .map(|attempt| attempt.started_at)
                    .min()
                    .or(forward.map(|forward| forward.finished_at))
                    .map(timestamp),
                finished_at: match follow_up {
                    Some(task) => task.resolved_at.map(timestamp),
                    None => forward.map(|forward| timestamp(forward.finished_at)),
                },
                is_pivot: matches!(node.spec, NodeSpec::Pivot),
                last_error_code: last_error
                    .map(|attempt| attempt.code.clone())
                    .unwrap_or_default(),
                last_error_message: last_error
                    .map(|attempt| attempt.message.clone())
                    .unwrap_or_default(),
                task_id: task.map(|task| task.id.to_string()).unwrap_or_default(),
            }
        })
        .collect()
}

/// How a follow-up that is no longer open ended, as the timeline explains it.
fn follow_up_outcome(state: TaskState) -> &'static str {
    match state {
        TaskState::Open => "",
        TaskState::Completed => "done",
        TaskState::Rejected => "declined",
        TaskState::Cancelled => "cancelled",
        TaskState::Expired => "not answered before its deadline",
    }
}
