//! The pure engine (sagas.md §2.1): given a definition, a saga's snapshot and the time, [`decide`]
//! says what to do on waking (perform an effect, commit a transition, or sleep), and [`conclude`]
//! turns an effect's outcome into the next transition. No I/O, no clock reads, no randomness of its
//! own: the runtime passes the time and a jitter in, so every decision can be replayed in a test.

mod conclusion;
mod decision;
mod events;
mod failure;

use std::time::Duration;

use chrono::{DateTime, Utc};
use tenure_domain::AwsAccountId;
use uuid::Uuid;

use self::conclusion::{conclude_forward, conclude_undo};
use self::decision::{decide_forward, decide_undo};
pub(crate) use self::events::progress;
use self::events::seal;
use crate::domain::order::{
    Failure, InputField, OrderDetails, OrderStatus, SagaInput, TaskKind, TaskOwner, TaskState,
};
use crate::domain::saga::definition::{Definition, SagaKind};
use crate::domain::saga::node::{Action, PollEvery};
use crate::domain::saga::state::{
    Direction, EventDraft, Query, QueryItem, QueryResume, SagaState, SagaStatus, StepOutcomeKind,
    WaitReason,
};
// The unit tests read the engine's vocabulary through `super::*`.
#[cfg(test)]
use crate::domain::saga::state::EventPayload;

/// The namespace of every key and id the engine derives.
const ENGINE_NAMESPACE: Uuid = Uuid::from_u128(0x5d1c_2e4a_7b3f_4e1d_9a6c_0b8e_2f47_a913);

/// The idempotency key of one step of one saga: identical across retries, replicas and takeovers,
/// distinct for the undo, and new when corrected input is accepted (sagas.md §4).
pub(crate) fn step_key(saga_id: Uuid, node: usize, direction: Direction, input_rev: i32) -> Uuid {
    Uuid::new_v5(
        &ENGINE_NAMESPACE,
        format!("{saga_id}/{node}/{}/{input_rev}", direction.as_str()).as_bytes(),
    )
}

/// A key derived from a step key for one of several calls the step makes (one per account).
pub(crate) fn sub_key(key: Uuid, part: &str) -> Uuid {
    Uuid::new_v5(&key, part.as_bytes())
}

/// The id of the `seq`-th event of an order: a transition redone after a lost commit starts from the
/// same sequence and so writes the same ids.
pub(crate) fn event_id(order_id: Uuid, seq: i32) -> Uuid {
    Uuid::new_v5(
        &ENGINE_NAMESPACE,
        format!("{order_id}/event/{seq}").as_bytes(),
    )
}

/// The durations the engine works with (from the settings).
#[derive(Debug, Clone)]
pub(crate) struct Timing {
    pub(crate) aws_poll: Duration,
    pub(crate) transfer_poll: Duration,
    pub(crate) bootstrap_poll: Duration,
    pub(crate) invitation_poll: Duration,
    pub(crate) closure_poll: Duration,
    pub(crate) retry_base: Duration,
    pub(crate) retry_cap: Duration,
    pub(crate) undo_cap: Duration,
    /// Failed undo attempts after which the saga shows `compensation_stuck` (it keeps retrying).
    pub(crate) stuck_after: u32,
    /// Failed attempts after which the customer sees TNR901.
    pub(crate) notice_after: u32,
    pub(crate) query_deadline: Duration,
    pub(crate) task_deadline: Duration,
    /// How long a satisfaction survey stays open before it counts as not answered.
    pub(crate) survey_window: Duration,
    /// How often a blocked saga is looked at again without an operator.
    pub(crate) blocked_recheck: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            aws_poll: Duration::from_secs(10),
            transfer_poll: Duration::from_secs(15 * 60),
            bootstrap_poll: Duration::from_secs(30 * 60),
            invitation_poll: Duration::from_secs(3600),
            closure_poll: Duration::from_secs(60),
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(15 * 60),
            undo_cap: Duration::from_secs(3600),
            stuck_after: 10,
            notice_after: 3,
            query_deadline: Duration::from_secs(30 * 86_400),
            task_deadline: Duration::from_secs(30 * 86_400),
            survey_window: Duration::from_secs(14 * 86_400),
            blocked_recheck: Duration::from_secs(86_400),
        }
    }
}

impl Timing {
    fn poll(&self, every: PollEvery) -> Duration {
        match every {
            PollEvery::AwsOperation => self.aws_poll,
            PollEvery::BillingTransfer => self.transfer_poll,
            PollEvery::BootstrapRole => self.bootstrap_poll,
            PollEvery::Invitations => self.invitation_poll,
            PollEvery::Closure => self.closure_poll,
        }
    }
}

/// The moment and the randomness of one decision.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub(crate) now: DateTime<Utc>,
    pub(crate) timing: &'a Timing,
    /// Uniform in `[0, 1)`: spreads retries so sagas that failed together do not retry together.
    pub(crate) jitter: f64,
}

/// A step that finished, from `saga_step`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FinishedStep {
    pub(crate) node: usize,
    pub(crate) direction: Direction,
    pub(crate) input_rev: i32,
    pub(crate) outcome: StepOutcomeKind,
}

/// The latest manual task of the current node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaskSnapshot {
    pub(crate) id: Uuid,
    pub(crate) node: usize,
    pub(crate) input_rev: i32,
    pub(crate) state: TaskState,
    pub(crate) owner: TaskOwner,
    pub(crate) deadline: DateTime<Utc>,
    pub(crate) note: String,
}

/// Everything a decision reads about one saga.
#[derive(Debug, Clone)]
pub(crate) struct SagaSnapshot {
    pub(crate) id: Uuid,
    pub(crate) order_id: Uuid,
    pub(crate) tenant_id: Uuid,
    pub(crate) status: SagaStatus,
    pub(crate) node: usize,
    pub(crate) direction: Direction,
    pub(crate) past_pivot: bool,
    pub(crate) attempt: u32,
    pub(crate) input: SagaInput,
    pub(crate) input_rev: i32,
    pub(crate) state: SagaState,
    pub(crate) wait: Option<WaitReason>,
    pub(crate) cancel_requested: bool,
    /// Before the pivot, the order fails when this passes (TNR904).
    pub(crate) deadline_at: DateTime<Utc>,
    pub(crate) steps: Vec<FinishedStep>,
    pub(crate) task: Option<TaskSnapshot>,
}

impl SagaSnapshot {
    /// The query the saga waits on for the customer's answer: nothing runs until it comes.
    pub(crate) fn awaited_answer(&self) -> Option<&Query> {
        self.state.query.as_ref().filter(|query| {
            self.status == SagaStatus::Querying && query.resume == QueryResume::CustomerInput
        })
    }
}

/// A downstream call the runtime performs before the next transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Effect {
    pub(crate) node: usize,
    pub(crate) direction: Direction,
    pub(crate) action: Action,
    pub(crate) key: Uuid,
    /// The key the step ran forward with: an undo reads the forward call's outcome under it.
    pub(crate) do_key: Uuid,
    pub(crate) input_rev: i32,
    pub(crate) attempt: u32,
}

/// What a step's effect came to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StepOutcome {
    /// Done; the output is folded into the saga's state.
    Done(SagaState),
    /// Still going (AWS working, the customer not there yet): look again later under the same key.
    Pending { detail: String, patch: SagaState },
    /// Part of a step that makes several calls is done: keep what it produced and go on at once.
    /// Each part is durable, so an undo knows exactly which parts to undo.
    Progress(SagaState),
    /// A quota or waiting period: look again after `after`, spending no attempt.
    Deferred {
        after: Duration,
        notice: Option<String>,
        detail: String,
    },
    /// A transient failure: retry with the same key after a backoff.
    Retry { code: String, message: String },
    /// The customer must answer or act.
    Query {
        code: String,
        fields: Vec<InputField>,
        items: Vec<QueryItem>,
    },
    /// Terminal for this step.
    Fail { code: String, message: String },
}

/// A finished step to record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepRecord {
    pub(crate) node: usize,
    pub(crate) direction: Direction,
    pub(crate) input_rev: i32,
    pub(crate) outcome: StepOutcomeKind,
    pub(crate) output: SagaState,
    pub(crate) key: Uuid,
}

/// One attempt to record in the ring of recent attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttemptRecord {
    pub(crate) node: usize,
    pub(crate) direction: Direction,
    pub(crate) attempt: u32,
    pub(crate) finished_at: DateTime<Utc>,
    /// `OK`, `PENDING`, a gRPC code name or a catalogue code.
    pub(crate) code: String,
    pub(crate) message: String,
}

/// A change to the order row: its status moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderChange {
    pub(crate) status: OrderStatus,
    pub(crate) status_key: String,
    pub(crate) failure: Option<Failure>,
    pub(crate) finished: bool,
}

/// A change to the manual tasks of the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TaskChange {
    /// Opens a task for the current node.
    Open {
        id: Uuid,
        node: usize,
        input_rev: i32,
        step: &'static str,
        title: &'static str,
        owner: TaskOwner,
        kind: TaskKind,
        /// False for a follow-up: the order never waits for it, and its end does not cancel it.
        blocks: bool,
        deadline: DateTime<Utc>,
    },
    /// Cancels every task of the order that is still open and holds it (follow-ups live on).
    CancelOpen,
}

/// One committed state change of a saga.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Transition {
    pub(crate) status: SagaStatus,
    pub(crate) node: usize,
    pub(crate) direction: Direction,
    pub(crate) past_pivot: bool,
    pub(crate) attempt: u32,
    pub(crate) state: SagaState,
    pub(crate) wait: Option<WaitReason>,
    /// When the saga is next looked at; `None` once terminal.
    pub(crate) due_at: Option<DateTime<Utc>>,
    /// The next node can run at once: the worker keeps its lease and goes on (sticky continuation).
    pub(crate) runnable_now: bool,
    /// This transition passes the pivot: it commits only if no cancellation came first.
    pub(crate) enters_pivot: bool,
    pub(crate) step: Option<StepRecord>,
    pub(crate) attempt_record: Option<AttemptRecord>,
    pub(crate) events: Vec<EventDraft>,
    pub(crate) order: Option<OrderChange>,
    /// The AWS account the order learned (a new account), for the order row.
    pub(crate) order_account: Option<AwsAccountId>,
    pub(crate) task: Option<TaskChange>,
    pub(crate) acquire_locks: Vec<String>,
    pub(crate) release_locks: bool,
}

/// What waking a saga comes to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    /// Perform this effect, then [`conclude`].
    Perform(Effect),
    /// Commit this transition.
    Commit(Box<Transition>),
    /// Nothing to do until then: release the lease and sleep.
    Park(DateTime<Utc>),
}

/// Where an order stands, as the customer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Progress {
    pub(crate) order_status: OrderStatus,
    pub(crate) status_key: String,
    pub(crate) message: String,
    /// The catalogue code the status carries (a query's, a failure's or a notice's).
    pub(crate) code: String,
}

fn later(now: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX)
}

impl Transition {
    fn from(snapshot: &SagaSnapshot, now: DateTime<Utc>) -> Self {
        Self {
            status: snapshot.status,
            node: snapshot.node,
            direction: snapshot.direction,
            past_pivot: snapshot.past_pivot,
            attempt: snapshot.attempt,
            state: snapshot.state.clone(),
            wait: snapshot.wait.clone(),
            due_at: Some(now),
            runnable_now: false,
            enters_pivot: false,
            step: None,
            attempt_record: None,
            events: Vec::new(),
            order: None,
            order_account: None,
            task: None,
            acquire_locks: Vec::new(),
            release_locks: false,
        }
    }

    fn waits(&mut self, kind: &str, detail: impl Into<String>, now: DateTime<Utc>) {
        let since = match &self.wait {
            Some(wait) if wait.kind == kind && wait.node == self.node => wait.since,
            _ => now,
        };
        self.wait = Some(WaitReason {
            kind: kind.to_owned(),
            node: self.node,
            since,
            until: None,
            detail: detail.into(),
        });
    }

    fn until(&mut self, until: DateTime<Utc>) {
        if let Some(wait) = &mut self.wait {
            wait.until = Some(until);
        }
    }

    /// Runs at once, under the lease the worker already holds.
    fn runs_on(&mut self, now: DateTime<Utc>) {
        self.status = SagaStatus::Running;
        self.waits("run", "", now);
        self.due_at = Some(now);
        self.runnable_now = true;
    }

    fn finish_step(
        &mut self,
        snapshot: &SagaSnapshot,
        outcome: StepOutcomeKind,
        output: SagaState,
    ) {
        self.step = Some(StepRecord {
            node: self.node,
            direction: Direction::Do,
            input_rev: snapshot.input_rev,
            outcome,
            key: step_key(snapshot.id, self.node, Direction::Do, snapshot.input_rev),
            output,
        });
        self.node += 1;
        self.attempt = 0;
        self.state.last_error = None;
        self.state.notice = None;
        self.state.waiting_since = None;
        self.state.query = None;
        self.state.answer = None;
    }
}

/// What to do on waking.
pub(crate) fn decide(definition: &Definition, snapshot: &SagaSnapshot, ctx: Ctx<'_>) -> Decision {
    if snapshot.status.is_terminal() {
        return Decision::Park(later(ctx.now, ctx.timing.blocked_recheck));
    }
    match snapshot.direction {
        Direction::Undo => decide_undo(definition, snapshot, ctx),
        Direction::Do => decide_forward(definition, snapshot, ctx),
    }
}

/// Turns the outcome of `effect` into the next transition.
pub(crate) fn conclude(
    definition: &Definition,
    snapshot: &SagaSnapshot,
    effect: &Effect,
    outcome: StepOutcome,
    ctx: Ctx<'_>,
) -> Transition {
    let t = match effect.direction {
        Direction::Do => conclude_forward(definition, snapshot, effect, outcome, ctx),
        Direction::Undo => conclude_undo(snapshot, effect, outcome, ctx),
    };
    seal(definition, snapshot, t, ctx)
}

/// The kind of saga an order runs.
pub(crate) fn saga_kind(details: &OrderDetails) -> SagaKind {
    match details {
        OrderDetails::NewAccount { .. } => SagaKind::AccountCreate,
        OrderDetails::BillingTransfer { .. } => SagaKind::AccountTransfer,
        OrderDetails::OrganizationTransfer { .. } => SagaKind::OrganizationTransfer,
        OrderDetails::Terminate { .. } => SagaKind::AccountTermination,
    }
}

#[cfg(test)]
mod tests;
