//! Concluding an effect: the outcome of a forward step or of an undo becomes the saga's next
//! transition.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::decision::wait_deadline;
use super::events::{facts, with_state};
use super::failure::{fail, failure_at};
use super::{
    AttemptRecord, Ctx, Effect, SagaSnapshot, StepOutcome, StepRecord, Timing, Transition, later,
};
use crate::domain::catalogue;
use crate::domain::order::{InputField, SagaLock};
use crate::domain::saga::definition::Definition;
use crate::domain::saga::node::{Action, Node, NodeSpec, PollEvery};
use crate::domain::saga::state::{
    Direction, Query, QueryItem, QueryResume, SagaState, SagaStatus, StartedStep, StepError,
    StepOutcomeKind,
};

fn attempt_record(effect: &Effect, code: &str, message: &str, now: DateTime<Utc>) -> AttemptRecord {
    AttemptRecord {
        node: effect.node,
        direction: effect.direction,
        attempt: effect.attempt,
        finished_at: now,
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

fn backoff(timing: &Timing, attempt: u32, cap: Duration, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    let full = timing.retry_base.saturating_mul(1u32 << exponent).min(cap);
    // Half fixed, half random: spread out, but never an immediate hot loop.
    full / 2 + full.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
}

pub(super) fn conclude_forward(
    definition: &Definition,
    snapshot: &SagaSnapshot,
    effect: &Effect,
    outcome: StepOutcome,
    ctx: Ctx<'_>,
) -> Transition {
    let t = Transition::from(snapshot, ctx.now);
    let Some(node) = definition.nodes.get(effect.node) else {
        return t;
    };
    let step = Forward::new(snapshot, effect, node, ctx);
    match outcome {
        StepOutcome::Done(patch) => step.done(t, patch),
        StepOutcome::Progress(patch) => step.progressed(t, patch),
        StepOutcome::Pending { detail, patch } => step.pending(t, detail, patch),
        StepOutcome::Deferred {
            after,
            notice,
            detail,
        } => step.deferred(t, after, notice, detail),
        StepOutcome::Retry { code, message } => step.retry(t, code, message),
        StepOutcome::Query {
            code,
            fields,
            items,
        } => step.query(t, code, fields, items),
        StepOutcome::Fail { code, message } => step.failed(definition, t, &code, message),
    }
}

/// The forward step an outcome concludes, with what its node says about following it.
struct Forward<'a> {
    snapshot: &'a SagaSnapshot,
    effect: &'a Effect,
    node: &'a Node,
    ctx: Ctx<'a>,
    /// How often the step is looked at again while it is pending.
    every: PollEvery,
    /// A Wait node: its pending outcome is a signal awaited, not an AWS operation followed.
    is_wait: bool,
    has_undo: bool,
}

impl<'a> Forward<'a> {
    fn new(snapshot: &'a SagaSnapshot, effect: &'a Effect, node: &'a Node, ctx: Ctx<'a>) -> Self {
        let (every, is_wait) = match node.spec {
            NodeSpec::Wait { every, .. } => (every, true),
            _ => (PollEvery::AwsOperation, false),
        };
        Self {
            snapshot,
            effect,
            node,
            ctx,
            every,
            is_wait,
            has_undo: node.undo().is_some(),
        }
    }

    fn record(&self, t: &mut Transition, code: &str, message: &str) {
        t.attempt_record = Some(attempt_record(self.effect, code, message, self.ctx.now));
    }

    /// The step may have had an effect at the peer: an undo must reach it even before it finishes.
    fn mark_in_flight(&self, t: &mut Transition) {
        if self.has_undo {
            t.state.in_flight = Some(StartedStep {
                node: self.effect.node,
                input_rev: self.effect.input_rev,
            });
        }
    }

    fn clear_in_flight(&self, t: &mut Transition) {
        if t.state
            .in_flight
            .is_some_and(|started| started.node == self.effect.node)
        {
            t.state.in_flight = None;
        }
    }

    fn start_waiting(&self, t: &mut Transition) {
        if self.is_wait && t.state.waiting_since.is_none() {
            t.state.waiting_since = Some(self.ctx.now);
        }
    }

    /// The step is done: its output joins the state (a new account's lock with it) and the next
    /// node runs at once.
    fn done(&self, mut t: Transition, patch: SagaState) -> Transition {
        let now = self.ctx.now;
        self.record(&mut t, "OK", "");
        if let Some(account) = &patch.aws_account_id
            && self.snapshot.state.aws_account_id.is_none()
        {
            t.acquire_locks.push(
                SagaLock::AwsAccount {
                    tenant: self.snapshot.tenant_id,
                    aws_account_id: account.clone(),
                }
                .key(),
            );
            t.order_account = Some(account.clone());
        }
        t.state.merge(patch.clone());
        self.clear_in_flight(&mut t);
        t.finish_step(self.snapshot, StepOutcomeKind::Done, patch);
        t.runs_on(now);
        t
    }

    fn progressed(&self, mut t: Transition, patch: SagaState) -> Transition {
        self.record(&mut t, "PROGRESS", "");
        t.state.merge(patch);
        t.attempt = 0;
        self.mark_in_flight(&mut t);
        t.runs_on(self.ctx.now);
        t
    }

    /// Still going: looked at again after the node's poll interval, and no later than its wait's
    /// deadline.
    fn pending(&self, mut t: Transition, detail: String, patch: SagaState) -> Transition {
        let now = self.ctx.now;
        if !self.is_wait {
            self.record(&mut t, "PENDING", &detail);
        }
        t.state.merge(patch);
        t.attempt = self.effect.attempt;
        self.mark_in_flight(&mut t);
        self.start_waiting(&mut t);
        t.state.query = None;
        t.state.notice = None;
        t.status = SagaStatus::Waiting;
        t.waits(
            if self.is_wait { "signal" } else { "aws_poll" },
            detail,
            now,
        );
        let next = later(now, self.ctx.timing.poll(self.every));
        let until = wait_deadline(self.node, &with_state(self.snapshot, &t.state), self.ctx);
        if let Some(until) = until {
            t.until(until);
        }
        t.due_at = Some(until.map_or(next, |until| next.min(until)));
        t
    }

    fn deferred(
        &self,
        mut t: Transition,
        after: Duration,
        notice: Option<String>,
        detail: String,
    ) -> Transition {
        let now = self.ctx.now;
        self.record(&mut t, "DEFERRED", &detail);
        t.attempt = self.effect.attempt.saturating_sub(1);
        self.mark_in_flight(&mut t);
        t.state.notice = notice;
        t.status = SagaStatus::Waiting;
        t.waits("deferred", detail, now);
        let next = later(now, after);
        t.until(next);
        t.due_at = Some(next);
        t
    }

    fn retry(&self, mut t: Transition, code: String, message: String) -> Transition {
        let now = self.ctx.now;
        let timing = self.ctx.timing;
        self.record(&mut t, &code, &message);
        t.attempt = self.effect.attempt;
        self.mark_in_flight(&mut t);
        t.state.last_error = Some(StepError {
            node: self.effect.node,
            code: code.clone(),
            message,
        });
        if self.effect.attempt >= timing.notice_after {
            t.state.notice = Some("TNR901".to_owned());
        }
        t.status = SagaStatus::Waiting;
        t.waits("retry_backoff", code, now);
        let next = later(
            now,
            backoff(
                timing,
                self.effect.attempt,
                timing.retry_cap,
                self.ctx.jitter,
            ),
        );
        t.until(next);
        t.due_at = Some(next);
        t
    }

    /// The customer must answer or act: the saga asks, and either waits for the answer or looks
    /// again on its own.
    fn query(
        &self,
        mut t: Transition,
        code: String,
        fields: Vec<InputField>,
        items: Vec<QueryItem>,
    ) -> Transition {
        let now = self.ctx.now;
        self.record(&mut t, &code, "");
        t.attempt = self.effect.attempt;
        let query = self.new_query(code, fields, items);
        let (resume, deadline) = (query.resume, query.deadline);
        t.state.query = Some(query);
        t.state.answer = None;
        // AWS refused the call until the customer acts: it has no effect to undo.
        self.clear_in_flight(&mut t);
        self.start_waiting(&mut t);
        t.status = SagaStatus::Querying;
        t.waits("query", "", now);
        t.until(deadline);
        t.due_at = Some(match resume {
            QueryResume::Automatic => later(now, self.ctx.timing.poll(self.every)).min(deadline),
            QueryResume::CustomerInput => deadline,
        });
        t
    }

    /// The query to ask: the same query asked again keeps its id and its deadline.
    fn new_query(&self, code: String, fields: Vec<InputField>, items: Vec<QueryItem>) -> Query {
        let (snapshot, effect, ctx, now) = (self.snapshot, self.effect, self.ctx, self.ctx.now);
        let resume = if catalogue::is_customer_input(&code) {
            QueryResume::CustomerInput
        } else {
            QueryResume::Automatic
        };
        let same = snapshot
            .state
            .query
            .as_ref()
            .filter(|query| query.code == code && query.node == effect.node);
        let deadline = same.map_or_else(
            || {
                let own = later(now, ctx.timing.query_deadline);
                wait_deadline(self.node, snapshot, ctx).map_or(own, |until| own.min(until))
            },
            |query| query.deadline,
        );
        let id = same.map_or_else(
            || {
                Uuid::new_v5(
                    &snapshot.id,
                    format!("query/{}/{}/{code}/{now}", effect.node, effect.input_rev).as_bytes(),
                )
            },
            |query| query.id,
        );
        let mut facts = facts(snapshot);
        facts.accounts = items
            .iter()
            .map(|item| item.aws_account_id.clone())
            .collect();
        if let Some(first) = facts.accounts.first() {
            facts.account_id = Some(first.clone());
        }
        Query {
            id,
            message: catalogue::message(&code, &facts),
            code,
            editable_fields: fields,
            items,
            resume,
            deadline,
            node: effect.node,
        }
    }

    fn failed(
        &self,
        definition: &Definition,
        mut t: Transition,
        code: &str,
        message: String,
    ) -> Transition {
        let now = self.ctx.now;
        self.record(&mut t, code, &message);
        t.attempt = self.effect.attempt;
        let mut failure = failure_at(definition, self.snapshot, self.effect.node, code, now);
        if failure.message.is_empty() {
            failure.message = message;
        }
        fail(t, failure, self.ctx)
    }
}

pub(super) fn conclude_undo(
    snapshot: &SagaSnapshot,
    effect: &Effect,
    outcome: StepOutcome,
    ctx: Ctx<'_>,
) -> Transition {
    let now = ctx.now;
    let mut t = Transition::from(snapshot, now);
    t.node = effect.node;
    match outcome {
        StepOutcome::Done(patch) => {
            t.attempt_record = Some(attempt_record(effect, "OK", "", now));
            t.step = Some(StepRecord {
                node: effect.node,
                direction: Direction::Undo,
                input_rev: effect.input_rev,
                outcome: StepOutcomeKind::Done,
                output: patch,
                key: effect.key,
            });
            if t.state.in_flight
                == Some(StartedStep {
                    node: effect.node,
                    input_rev: effect.input_rev,
                })
            {
                t.state.in_flight = None;
            }
            forget_undone(&mut t.state, effect.action);
            t.state.operations.remove(&effect.node.to_string());
            t.attempt = 0;
            t.state.last_error = None;
            t.status = SagaStatus::Compensating;
            t.waits("run", "", now);
            t.due_at = Some(now);
            t.runnable_now = true;
        }
        StepOutcome::Progress(patch) => {
            t.attempt_record = Some(attempt_record(effect, "PROGRESS", "", now));
            t.state.merge(patch);
            t.attempt = 0;
            t.waits("run", "", now);
            t.due_at = Some(now);
            t.runnable_now = true;
        }
        StepOutcome::Pending { detail, patch } => {
            t.attempt_record = Some(attempt_record(effect, "PENDING", &detail, now));
            t.state.merge(patch);
            t.attempt = effect.attempt;
            t.waits("aws_poll", detail, now);
            t.due_at = Some(later(now, ctx.timing.aws_poll));
        }
        other => {
            let (code, message, after) = match other {
                StepOutcome::Deferred { after, detail, .. } => {
                    ("DEFERRED".to_owned(), detail, Some(after))
                }
                StepOutcome::Retry { code, message } | StepOutcome::Fail { code, message } => {
                    (code, message, None)
                }
                StepOutcome::Query { code, .. } => (code, String::new(), None),
                StepOutcome::Done(_) | StepOutcome::Pending { .. } | StepOutcome::Progress(_) => {
                    (String::new(), String::new(), None)
                }
            };
            t.attempt_record = Some(attempt_record(effect, &code, &message, now));
            t.attempt = effect.attempt;
            t.state.last_error = Some(StepError {
                node: effect.node,
                code: code.clone(),
                message,
            });
            // Undos never give up (sagas.md §5.5): past the threshold an operator is paged, and the
            // undo keeps retrying at the cap.
            let stuck = effect.attempt >= ctx.timing.stuck_after;
            t.status = if stuck {
                SagaStatus::CompensationStuck
            } else {
                SagaStatus::Compensating
            };
            t.waits(
                if stuck {
                    "compensation_stuck"
                } else {
                    "retry_backoff"
                },
                code,
                now,
            );
            let delay = after.unwrap_or_else(|| {
                backoff(ctx.timing, effect.attempt, ctx.timing.undo_cap, ctx.jitter)
            });
            let next = later(now, delay);
            t.until(next);
            t.due_at = Some(next);
        }
    }
    t
}

/// What an undone step produced is no longer there: a redo after a rewind starts clean.
fn forget_undone(state: &mut SagaState, undo: Action) {
    match undo {
        Action::ReleaseAccounts => state.records.clear(),
        Action::RetractInvitations => state.handshakes.clear(),
        Action::WithdrawBillingTransfer => state.transfer = None,
        _ => {}
    }
}
