//! How a saga turns back: a failed step compensates before the pivot and blocks for an operator
//! after it, a cancellation compensates, and a changed answer rewinds to the first step that read it.

use chrono::{DateTime, Utc};

use super::events::facts;
use super::{Ctx, SagaSnapshot, TaskChange, Transition, later};
use crate::domain::catalogue;
use crate::domain::order::{Failure, InputField};
use crate::domain::saga::definition::Definition;
use crate::domain::saga::state::{Direction, EndCause, SagaStatus, StepError, StepOutcomeKind};

/// A step failed: before the pivot the saga compensates, after it the saga is blocked for an
/// operator (nothing fails automatically past the point of no return).
pub(super) fn fail(mut t: Transition, failure: Failure, ctx: Ctx<'_>) -> Transition {
    let now = ctx.now;
    if t.past_pivot {
        t.state.last_error = Some(StepError {
            node: failure.node,
            code: failure.code.clone(),
            message: failure.message.clone(),
        });
        t.state.failure = Some(failure);
        t.state.query = None;
        t.status = SagaStatus::Blocked;
        t.waits("blocked", "an operator must act", now);
        t.due_at = Some(later(now, ctx.timing.blocked_recheck));
        t
    } else {
        compensate(t, EndCause::Failed, Some(failure), None, now)
    }
}

pub(super) fn compensate(
    mut t: Transition,
    cause: EndCause,
    failure: Option<Failure>,
    rewind_to: Option<usize>,
    now: DateTime<Utc>,
) -> Transition {
    t.status = SagaStatus::Compensating;
    t.direction = Direction::Undo;
    t.attempt = 0;
    if rewind_to.is_none() {
        t.state.cause = Some(cause);
        t.task = Some(TaskChange::CancelOpen);
    }
    if failure.is_some() {
        t.state.failure = failure;
    }
    t.state.rewind_to = rewind_to;
    t.state.query = None;
    t.state.answer = None;
    t.state.notice = None;
    t.state.waiting_since = None;
    t.waits("run", "", now);
    t.due_at = Some(now);
    t.runnable_now = true;
    t
}

/// The customer answered: back to processing, after undoing every finished step that read a field
/// the answer changed (its effect was made with the old value).
pub(super) fn resume_after_answer(
    definition: &Definition,
    snapshot: &SagaSnapshot,
    mut t: Transition,
    changed: &[InputField],
    now: DateTime<Utc>,
) -> Transition {
    t.state.query = None;
    t.state.answer = None;
    t.attempt = 0;
    let earliest_reader = snapshot
        .steps
        .iter()
        .filter(|step| step.direction == Direction::Do && step.outcome == StepOutcomeKind::Done)
        .map(|step| step.node)
        .filter(|node| {
            *node < snapshot.node
                && definition.nodes.get(*node).is_some_and(|definition_node| {
                    definition_node
                        .reads()
                        .iter()
                        .any(|field| changed.contains(field))
                })
        })
        .min();
    match earliest_reader {
        Some(target) => compensate(t, EndCause::Failed, None, Some(target), now),
        None => {
            t.runs_on(now);
            t
        }
    }
}

pub(super) fn failure_at(
    definition: &Definition,
    snapshot: &SagaSnapshot,
    node: usize,
    code: &str,
    now: DateTime<Utc>,
) -> Failure {
    let mut facts = facts(snapshot);
    let title = definition.nodes.get(node).map(|node| node.title);
    facts.step_title = title.map(str::to_owned);
    if code == "TNR904" {
        let since = snapshot
            .state
            .waiting_since
            .or_else(|| snapshot.wait.as_ref().map(|wait| wait.since))
            .unwrap_or(now);
        facts.days = Some((now - since).num_days().max(1));
    }
    Failure {
        code: code.to_owned(),
        message: catalogue::message(code, &facts),
        at: now,
        node,
    }
}
