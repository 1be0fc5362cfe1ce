//! Waking a saga: which effect to perform next, or which transition to commit without one (a
//! skipped node, a timer, the pivot, an event, a manual task, the end of an undo), or how long to
//! sleep.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::events::{emitted, facts, seal};
use super::failure::{compensate, fail, failure_at, resume_after_answer};
use super::{Ctx, Decision, Effect, SagaSnapshot, TaskChange, Transition, later, step_key};
use crate::domain::catalogue::{self, Facts};
use crate::domain::order::{TaskKind, TaskOwner, TaskState};
use crate::domain::saga::definition::Definition;
use crate::domain::saga::node::{Action, Node, NodeSpec, OnReject, WaitDeadline};
use crate::domain::saga::state::{
    Direction, EndCause, EventDraft, EventPayload, SagaState, SagaStatus, StepOutcomeKind,
};

fn commit(
    definition: &Definition,
    snapshot: &SagaSnapshot,
    t: Transition,
    ctx: Ctx<'_>,
) -> Decision {
    Decision::Commit(Box::new(seal(definition, snapshot, t, ctx)))
}

pub(super) fn decide_forward(
    definition: &Definition,
    snapshot: &SagaSnapshot,
    ctx: Ctx<'_>,
) -> Decision {
    let now = ctx.now;
    let mut t = Transition::from(snapshot, now);
    if !snapshot.past_pivot {
        if snapshot.cancel_requested {
            let t = compensate(t, EndCause::Cancelled, None, None, now);
            return commit(definition, snapshot, t, ctx);
        }
        if now >= snapshot.deadline_at {
            let failure = failure_at(definition, snapshot, snapshot.node, "TNR904", now);
            return commit(definition, snapshot, fail(t, failure, ctx), ctx);
        }
    }
    if let (SagaStatus::Querying, Some(answer)) = (snapshot.status, &snapshot.state.answer) {
        let changed = answer.changed.clone();
        return commit(
            definition,
            snapshot,
            resume_after_answer(definition, snapshot, t, &changed, now),
            ctx,
        );
    }
    let Some(node) = definition.nodes.get(snapshot.node) else {
        t.status = SagaStatus::Completed;
        t.due_at = None;
        t.wait = None;
        return commit(definition, snapshot, t, ctx);
    };
    if !node.applies(&snapshot.input) {
        t.finish_step(snapshot, StepOutcomeKind::Skipped, SagaState::default());
        t.runs_on(now);
        return commit(definition, snapshot, t, ctx);
    }
    if snapshot.status == SagaStatus::Blocked {
        let until = snapshot
            .wait
            .as_ref()
            .and_then(|wait| wait.until)
            .unwrap_or_else(|| later(now, ctx.timing.blocked_recheck));
        return Decision::Park(until.max(later(now, Duration::from_secs(1))));
    }
    match node.spec {
        NodeSpec::Call { action, .. } => {
            if let Some(query) = snapshot.awaited_answer() {
                if now >= query.deadline {
                    let failure = failure_at(definition, snapshot, snapshot.node, "TNR904", now);
                    return commit(definition, snapshot, fail(t, failure, ctx), ctx);
                }
                return Decision::Park(query.deadline);
            }
            Decision::Perform(forward_effect(snapshot, action))
        }
        NodeSpec::Wait {
            poll, timeout_code, ..
        } => {
            if let Some(until) = wait_deadline(node, snapshot, ctx)
                && now >= until
            {
                let failure = failure_at(definition, snapshot, snapshot.node, timeout_code, now);
                return commit(definition, snapshot, fail(t, failure, ctx), ctx);
            }
            Decision::Perform(forward_effect(snapshot, poll))
        }
        NodeSpec::Timer { after } => match snapshot.state.timers.get(node.name) {
            None => {
                let fires_at = later(now, after);
                t.state.timers.insert(node.name.to_owned(), fires_at);
                t.status = SagaStatus::Waiting;
                t.waits("timer", "", now);
                t.until(fires_at);
                t.due_at = Some(fires_at);
                commit(definition, snapshot, t, ctx)
            }
            Some(fires_at) if now >= *fires_at => {
                t.finish_step(snapshot, StepOutcomeKind::Done, SagaState::default());
                t.runs_on(now);
                commit(definition, snapshot, t, ctx)
            }
            Some(fires_at) => Decision::Park(*fires_at),
        },
        NodeSpec::Pivot => {
            t.past_pivot = true;
            t.enters_pivot = true;
            t.finish_step(snapshot, StepOutcomeKind::Done, SagaState::default());
            t.runs_on(now);
            commit(definition, snapshot, t, ctx)
        }
        NodeSpec::Emit { event } => {
            t.events.extend(emitted(snapshot, event, now));
            t.finish_step(snapshot, StepOutcomeKind::Done, SagaState::default());
            t.runs_on(now);
            commit(definition, snapshot, t, ctx)
        }
        NodeSpec::ManualTask { owner, on_reject } => {
            decide_task(definition, snapshot, node, owner, on_reject, t, ctx)
        }
        NodeSpec::FollowUp { kind } => {
            let window = match kind {
                TaskKind::Survey => ctx.timing.survey_window,
                TaskKind::Action => ctx.timing.task_deadline,
            };
            let id = task_id(snapshot);
            t.task = Some(TaskChange::Open {
                id,
                node: snapshot.node,
                input_rev: snapshot.input_rev,
                step: node.name,
                title: node.title,
                owner: TaskOwner::Customer,
                kind,
                blocks: false,
                deadline: later(now, window),
            });
            t.events.push(EventDraft {
                effective_at: now,
                payload: EventPayload::TaskOpened {
                    task_id: id,
                    step: node.name.to_owned(),
                    owner: TaskOwner::Customer,
                },
            });
            t.finish_step(snapshot, StepOutcomeKind::Done, SagaState::default());
            t.runs_on(now);
            commit(definition, snapshot, t, ctx)
        }
    }
}

/// The id of the task the current node opens: the same on every attempt of the same input.
fn task_id(snapshot: &SagaSnapshot) -> Uuid {
    Uuid::new_v5(
        &snapshot.id,
        format!("task/{}/{}", snapshot.node, snapshot.input_rev).as_bytes(),
    )
}

fn decide_task(
    definition: &Definition,
    snapshot: &SagaSnapshot,
    node: &Node,
    owner: TaskOwner,
    on_reject: OnReject,
    mut t: Transition,
    ctx: Ctx<'_>,
) -> Decision {
    let now = ctx.now;
    let current = snapshot
        .task
        .as_ref()
        .filter(|task| task.node == snapshot.node && task.input_rev == snapshot.input_rev);
    match current {
        None => {
            let deadline = later(now, ctx.timing.task_deadline);
            let id = task_id(snapshot);
            t.task = Some(TaskChange::Open {
                id,
                node: snapshot.node,
                input_rev: snapshot.input_rev,
                step: node.name,
                title: node.title,
                owner,
                kind: TaskKind::Action,
                blocks: true,
                deadline,
            });
            t.events.push(EventDraft {
                effective_at: now,
                payload: EventPayload::TaskOpened {
                    task_id: id,
                    step: node.name.to_owned(),
                    owner,
                },
            });
            t.status = SagaStatus::Manual;
            t.waits("manual_task", node.name, now);
            t.until(deadline);
            t.due_at = Some(deadline);
            commit(definition, snapshot, t, ctx)
        }
        Some(task) => match task.state {
            TaskState::Completed => {
                t.finish_step(snapshot, StepOutcomeKind::Done, SagaState::default());
                t.runs_on(now);
                commit(definition, snapshot, t, ctx)
            }
            // A blocking task never expires: its deadline fails the order instead (below).
            TaskState::Rejected | TaskState::Cancelled | TaskState::Expired => match on_reject {
                OnReject::Cancel => {
                    let t = compensate(t, EndCause::Cancelled, None, None, now);
                    commit(definition, snapshot, t, ctx)
                }
                OnReject::Fail(code) => {
                    let mut failure = failure_at(definition, snapshot, snapshot.node, code, now);
                    if code == "TNR310" {
                        let facts = Facts {
                            step_title: Some(node.title.to_owned()),
                            note: Some(task.note.clone()),
                            ..facts(snapshot)
                        };
                        failure.message = catalogue::message(code, &facts);
                    }
                    commit(definition, snapshot, fail(t, failure, ctx), ctx)
                }
            },
            TaskState::Open if now >= task.deadline => {
                let failure = failure_at(definition, snapshot, snapshot.node, "TNR904", now);
                commit(definition, snapshot, fail(t, failure, ctx), ctx)
            }
            TaskState::Open => Decision::Park(task.deadline),
        },
    }
}

pub(super) fn decide_undo(
    definition: &Definition,
    snapshot: &SagaSnapshot,
    ctx: Ctx<'_>,
) -> Decision {
    let now = ctx.now;
    let stack = undo_stack(definition, snapshot);
    let Some(&(node, input_rev)) = stack.first() else {
        let mut t = Transition::from(snapshot, now);
        t.attempt = 0;
        t.direction = Direction::Do;
        t.state.last_error = None;
        t.state.notice = None;
        if let Some(target) = t.state.rewind_to.take() {
            t.node = target;
            t.runs_on(now);
        } else {
            t.status = match t.state.cause {
                Some(EndCause::Cancelled) => SagaStatus::Cancelled,
                _ => SagaStatus::Compensated,
            };
            t.due_at = None;
            t.wait = None;
        }
        return commit(definition, snapshot, t, ctx);
    };
    let Some(action) = definition.nodes.get(node).and_then(Node::undo) else {
        return Decision::Park(later(now, ctx.timing.blocked_recheck));
    };
    let attempt = if node == snapshot.node {
        snapshot.attempt + 1
    } else {
        1
    };
    Decision::Perform(Effect {
        node,
        direction: Direction::Undo,
        action,
        key: step_key(snapshot.id, node, Direction::Undo, input_rev),
        do_key: step_key(snapshot.id, node, Direction::Do, input_rev),
        input_rev,
        attempt,
    })
}

/// The steps still to undo, highest node first: every forward step that finished with an undo and
/// was not undone yet, plus the current step when it started an effect that has an undo. Rewinding
/// stops at the rewind target.
pub(super) fn undo_stack(definition: &Definition, snapshot: &SagaSnapshot) -> Vec<(usize, i32)> {
    let floor = snapshot.state.rewind_to.unwrap_or(0);
    let undone = |node: usize, rev: i32| {
        snapshot.steps.iter().any(|step| {
            step.direction == Direction::Undo && step.node == node && step.input_rev == rev
        })
    };
    let has_undo = |node: usize| definition.nodes.get(node).and_then(Node::undo).is_some();
    let mut stack: Vec<(usize, i32)> = snapshot
        .steps
        .iter()
        .filter(|step| {
            step.direction == Direction::Do
                && step.outcome == StepOutcomeKind::Done
                && step.node >= floor
                && has_undo(step.node)
                && !undone(step.node, step.input_rev)
        })
        .map(|step| (step.node, step.input_rev))
        .collect();
    if let Some(started) = snapshot.state.in_flight
        && started.node >= floor
        && has_undo(started.node)
        && !undone(started.node, started.input_rev)
        && !stack.contains(&(started.node, started.input_rev))
    {
        stack.push((started.node, started.input_rev));
    }
    stack.sort_by(|a, b| b.cmp(a));
    stack
}

fn forward_effect(snapshot: &SagaSnapshot, action: Action) -> Effect {
    let key = step_key(
        snapshot.id,
        snapshot.node,
        Direction::Do,
        snapshot.input_rev,
    );
    let polling = snapshot.wait.as_ref().is_some_and(|wait| {
        wait.node == snapshot.node
            && matches!(wait.kind.as_str(), "aws_poll" | "query" | "deferred")
    });
    Effect {
        node: snapshot.node,
        direction: Direction::Do,
        action,
        key,
        do_key: key,
        input_rev: snapshot.input_rev,
        attempt: if polling {
            snapshot.attempt.max(1)
        } else {
            snapshot.attempt + 1
        },
    }
}

/// When the wait of `node` ends at the latest.
pub(super) fn wait_deadline(
    node: &Node,
    snapshot: &SagaSnapshot,
    ctx: Ctx<'_>,
) -> Option<DateTime<Utc>> {
    let NodeSpec::Wait { deadline, .. } = node.spec else {
        return None;
    };
    match deadline {
        WaitDeadline::Order => Some(snapshot.deadline_at),
        WaitDeadline::After(after) => Some(later(
            snapshot.state.waiting_since.unwrap_or(ctx.now),
            after,
        )),
        WaitDeadline::TransferAcceptance => snapshot.state.transfer.as_ref().map(|transfer| {
            transfer.expires_at.map_or(transfer.accept_by, |expires| {
                expires.min(transfer.accept_by)
            })
        }),
    }
}
