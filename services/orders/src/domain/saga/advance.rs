//! The pure engine (sagas.md §2.1): given a definition, a saga's snapshot and the time, [`decide`]
//! says what to do on waking (perform an effect, commit a transition, or sleep), and [`conclude`]
//! turns an effect's outcome into the next transition. No I/O, no clock reads, no randomness of its
//! own: the runtime passes the time and a jitter in, so every decision can be replayed in a test.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::catalogue::{self, Facts};
use crate::domain::order::{
    Failure, InputField, OrderDetails, OrderStatus, Relationship, SagaInput, SagaLock, TaskKind,
    TaskOwner, TaskState,
};
use crate::domain::saga::definition::{Definition, SagaKind};
use crate::domain::saga::node::{Action, Node, NodeSpec, OnReject, PollEvery, WaitDeadline};
use crate::domain::saga::state::{
    Direction, EndCause, EventDraft, EventKind, EventPayload, Query, QueryItem, QueryResume,
    SagaState, SagaStatus, StartedStep, StepError, StepOutcomeKind, WaitReason,
};

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
    pub(crate) order_account: Option<String>,
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

fn commit(
    definition: &Definition,
    snapshot: &SagaSnapshot,
    t: Transition,
    ctx: Ctx<'_>,
) -> Decision {
    Decision::Commit(Box::new(seal(definition, snapshot, t, ctx)))
}

fn decide_forward(definition: &Definition, snapshot: &SagaSnapshot, ctx: Ctx<'_>) -> Decision {
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

fn decide_undo(definition: &Definition, snapshot: &SagaSnapshot, ctx: Ctx<'_>) -> Decision {
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
pub(crate) fn undo_stack(definition: &Definition, snapshot: &SagaSnapshot) -> Vec<(usize, i32)> {
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
fn wait_deadline(node: &Node, snapshot: &SagaSnapshot, ctx: Ctx<'_>) -> Option<DateTime<Utc>> {
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

fn conclude_forward(
    definition: &Definition,
    snapshot: &SagaSnapshot,
    effect: &Effect,
    outcome: StepOutcome,
    ctx: Ctx<'_>,
) -> Transition {
    let now = ctx.now;
    let mut t = Transition::from(snapshot, now);
    let Some(node) = definition.nodes.get(effect.node) else {
        return t;
    };
    let (every, is_wait) = match node.spec {
        NodeSpec::Wait { every, .. } => (every, true),
        _ => (PollEvery::AwsOperation, false),
    };
    let has_undo = node.undo().is_some();
    match outcome {
        StepOutcome::Done(patch) => {
            t.attempt_record = Some(attempt_record(effect, "OK", "", now));
            if let Some(account) = &patch.aws_account_id
                && snapshot.state.aws_account_id.is_none()
            {
                t.acquire_locks.push(
                    SagaLock::AwsAccount {
                        tenant: snapshot.tenant_id,
                        aws_account_id: account.clone(),
                    }
                    .key(),
                );
                t.order_account = Some(account.clone());
            }
            t.state.merge(patch.clone());
            if t.state
                .in_flight
                .is_some_and(|started| started.node == effect.node)
            {
                t.state.in_flight = None;
            }
            t.finish_step(snapshot, StepOutcomeKind::Done, patch);
            t.runs_on(now);
        }
        StepOutcome::Progress(patch) => {
            t.attempt_record = Some(attempt_record(effect, "PROGRESS", "", now));
            t.state.merge(patch);
            t.attempt = 0;
            if has_undo {
                t.state.in_flight = Some(StartedStep {
                    node: effect.node,
                    input_rev: effect.input_rev,
                });
            }
            t.runs_on(now);
        }
        StepOutcome::Pending { detail, patch } => {
            if !is_wait {
                t.attempt_record = Some(attempt_record(effect, "PENDING", &detail, now));
            }
            t.state.merge(patch);
            t.attempt = effect.attempt;
            if has_undo {
                t.state.in_flight = Some(StartedStep {
                    node: effect.node,
                    input_rev: effect.input_rev,
                });
            }
            if is_wait && t.state.waiting_since.is_none() {
                t.state.waiting_since = Some(now);
            }
            t.state.query = None;
            t.state.notice = None;
            t.status = SagaStatus::Waiting;
            t.waits(if is_wait { "signal" } else { "aws_poll" }, detail, now);
            let next = later(now, ctx.timing.poll(every));
            let until = wait_deadline(node, &with_state(snapshot, &t.state), ctx);
            if let Some(until) = until {
                t.until(until);
            }
            t.due_at = Some(until.map_or(next, |until| next.min(until)));
        }
        StepOutcome::Deferred {
            after,
            notice,
            detail,
        } => {
            t.attempt_record = Some(attempt_record(effect, "DEFERRED", &detail, now));
            t.attempt = effect.attempt.saturating_sub(1);
            if has_undo {
                t.state.in_flight = Some(StartedStep {
                    node: effect.node,
                    input_rev: effect.input_rev,
                });
            }
            t.state.notice = notice;
            t.status = SagaStatus::Waiting;
            t.waits("deferred", detail, now);
            let next = later(now, after);
            t.until(next);
            t.due_at = Some(next);
        }
        StepOutcome::Retry { code, message } => {
            t.attempt_record = Some(attempt_record(effect, &code, &message, now));
            t.attempt = effect.attempt;
            if has_undo {
                t.state.in_flight = Some(StartedStep {
                    node: effect.node,
                    input_rev: effect.input_rev,
                });
            }
            t.state.last_error = Some(StepError {
                node: effect.node,
                code: code.clone(),
                message,
            });
            if effect.attempt >= ctx.timing.notice_after {
                t.state.notice = Some("TNR901".to_owned());
            }
            t.status = SagaStatus::Waiting;
            t.waits("retry_backoff", code, now);
            let next = later(
                now,
                backoff(ctx.timing, effect.attempt, ctx.timing.retry_cap, ctx.jitter),
            );
            t.until(next);
            t.due_at = Some(next);
        }
        StepOutcome::Query {
            code,
            fields,
            items,
        } => {
            t.attempt_record = Some(attempt_record(effect, &code, "", now));
            t.attempt = effect.attempt;
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
                    wait_deadline(node, snapshot, ctx).map_or(own, |until| own.min(until))
                },
                |query| query.deadline,
            );
            let id = same.map_or_else(
                || {
                    Uuid::new_v5(
                        &snapshot.id,
                        format!("query/{}/{}/{code}/{now}", effect.node, effect.input_rev)
                            .as_bytes(),
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
            t.state.query = Some(Query {
                id,
                message: catalogue::message(&code, &facts),
                code,
                editable_fields: fields,
                items,
                resume,
                deadline,
                node: effect.node,
            });
            t.state.answer = None;
            // AWS refused the call until the customer acts: it has no effect to undo.
            if t.state
                .in_flight
                .is_some_and(|started| started.node == effect.node)
            {
                t.state.in_flight = None;
            }
            if is_wait && t.state.waiting_since.is_none() {
                t.state.waiting_since = Some(now);
            }
            t.status = SagaStatus::Querying;
            t.waits("query", "", now);
            t.until(deadline);
            t.due_at = Some(match resume {
                QueryResume::Automatic => later(now, ctx.timing.poll(every)).min(deadline),
                QueryResume::CustomerInput => deadline,
            });
        }
        StepOutcome::Fail { code, message } => {
            t.attempt_record = Some(attempt_record(effect, &code, &message, now));
            t.attempt = effect.attempt;
            let mut failure = failure_at(definition, snapshot, effect.node, &code, now);
            if failure.message.is_empty() {
                failure.message = message;
            }
            t = fail(t, failure, ctx);
        }
    }
    t
}

fn conclude_undo(
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

/// A step failed: before the pivot the saga compensates, after it the saga is blocked for an
/// operator (nothing fails automatically past the point of no return).
fn fail(mut t: Transition, failure: Failure, ctx: Ctx<'_>) -> Transition {
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

fn compensate(
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
fn resume_after_answer(
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

fn failure_at(
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

/// What the catalogue messages of this saga may mention.
pub(crate) fn facts(snapshot: &SagaSnapshot) -> Facts {
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
fn emitted(snapshot: &SagaSnapshot, event: EventKind, now: DateTime<Utc>) -> Vec<EventDraft> {
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
            let aws_account_id = snapshot.input.details.primary_account().unwrap_or_default();
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
            .map(|purge| {
                vec![draft(EventPayload::PurgeScheduled {
                    purge_id: purge.id,
                    aws_account_id: snapshot.input.details.primary_account().unwrap_or_default(),
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
pub(crate) fn activated_accounts(snapshot: &SagaSnapshot) -> Vec<(String, Relationship)> {
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
        } => vec![(management_account_id.clone(), Relationship::PlatformPayer)],
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
fn with_state(snapshot: &SagaSnapshot, state: &SagaState) -> SagaSnapshot {
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
fn seal(
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
