//! The pure engine driven step by step with synthetic definitions: every decision replayed from a
//! snapshot and a time, with no database and no peers.

use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};

use super::*;
use crate::domain::order::{OrderDetails, ResaleModel, SagaInput, TenantFacts};
use crate::domain::saga::definition::{Definition, DefinitionError, SagaKind};
use crate::domain::saga::node::{Node, NodeSpec, OnReject};
use crate::domain::saga::state::{EventKind, QueryAnswer};

fn call(name: &'static str, action: u8, undo: Option<u8>, reads: &'static [InputField]) -> Node {
    Node::synthetic(
        name,
        NodeSpec::Call {
            action: Action::Probe(action),
            undo: undo.map(Action::Probe),
            reads,
        },
    )
}

fn definition(nodes: Vec<Node>) -> Definition {
    Definition::new(SagaKind::Probe, 1, nodes, None).expect("a valid definition")
}

/// a ↺, b ↺, a read without undo, the pivot, c, and an event.
fn pipeline() -> Definition {
    definition(vec![
        call("a", 0, Some(10), &[InputField::RootEmail]),
        call("b", 1, Some(11), &[]),
        call("read", 2, None, &[]),
        Node::synthetic("pivot", NodeSpec::Pivot),
        call("c", 3, None, &[]),
        Node::synthetic(
            "announce",
            NodeSpec::Emit {
                event: EventKind::Probe,
            },
        ),
    ])
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0)
        .single()
        .expect("a valid instant")
}

/// A new account for an ECAM tenant outside the public sector.
fn input() -> SagaInput {
    let root_email = tenure_domain::RootEmail::parse("root@example.com").expect("a valid email");
    let details = OrderDetails::NewAccount {
        root_email: Some(root_email),
        account_name: "Workload".to_owned(),
        support_contact: String::new(),
    };
    let tenant = TenantFacts {
        public_sector: false,
        resale_model: ResaleModel::Ecam,
    };
    SagaInput {
        details,
        tenant,
        account: None,
        ops_confirmation: false,
    }
}

fn snapshot() -> SagaSnapshot {
    SagaSnapshot {
        id: Uuid::from_u128(1),
        order_id: Uuid::from_u128(2),
        tenant_id: Uuid::from_u128(3),
        status: SagaStatus::Running,
        node: 0,
        direction: Direction::Do,
        past_pivot: false,
        attempt: 0,
        input: input(),
        input_rev: 0,
        state: SagaState::default(),
        wait: None,
        cancel_requested: false,
        deadline_at: start() + chrono::Duration::days(7),
        steps: Vec::new(),
        task: None,
    }
}

/// The task a change opens, as the snapshot holds it once committed.
fn opened_task(change: &TaskChange) -> Option<TaskSnapshot> {
    let TaskChange::Open {
        id,
        node,
        input_rev,
        owner,
        deadline,
        ..
    } = change
    else {
        return None;
    };
    let (id, node, input_rev) = (*id, *node, *input_rev);
    Some(TaskSnapshot {
        id,
        node,
        input_rev,
        state: TaskState::Open,
        owner: *owner,
        deadline: *deadline,
        note: String::new(),
    })
}

/// A saga stepped by hand: what the runtime and the store do, minus the I/O.
struct Sim {
    definition: Definition,
    snapshot: SagaSnapshot,
    now: DateTime<Utc>,
    timing: Timing,
    /// Every effect performed, in order.
    performed: Vec<Effect>,
    /// Every event committed, in order.
    events: Vec<EventPayload>,
    /// Every change to the order's tasks, in order.
    task_changes: Vec<TaskChange>,
}

impl Sim {
    fn new(definition: Definition) -> Self {
        Self {
            definition,
            snapshot: snapshot(),
            now: start(),
            timing: Timing::default(),
            performed: Vec::new(),
            events: Vec::new(),
            task_changes: Vec::new(),
        }
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            now: self.now,
            timing: &self.timing,
            jitter: 0.5,
        }
    }

    fn commit(&mut self, t: Transition) -> Transition {
        self.snapshot
            .steps
            .extend(t.step.as_ref().map(|step| FinishedStep {
                node: step.node,
                direction: step.direction,
                input_rev: step.input_rev,
                outcome: step.outcome,
            }));
        if let Some(task) = t.task.as_ref().and_then(opened_task) {
            self.snapshot.task = Some(task);
        }
        self.task_changes.extend(t.task.clone());
        self.events
            .extend(t.events.iter().map(|event| event.payload.clone()));
        self.snapshot.status = t.status;
        self.snapshot.node = t.node;
        self.snapshot.direction = t.direction;
        self.snapshot.past_pivot = t.past_pivot;
        self.snapshot.attempt = t.attempt;
        self.snapshot.state = t.state.clone();
        self.snapshot.wait = t.wait.clone();
        t
    }

    /// One wake: decide, and perform through `answer` when an effect is asked for. `None` when the
    /// saga parks.
    fn wake(&mut self, answer: &mut dyn FnMut(&Effect) -> StepOutcome) -> Option<Transition> {
        let decision = decide(&self.definition, &self.snapshot, self.ctx());
        match decision {
            Decision::Park(_) => None,
            Decision::Commit(t) => Some(self.commit(*t)),
            Decision::Perform(effect) => {
                self.performed.push(effect.clone());
                let outcome = answer(&effect);
                let t = conclude(
                    &self.definition,
                    &self.snapshot,
                    &effect,
                    outcome,
                    self.ctx(),
                );
                Some(self.commit(t))
            }
        }
    }

    /// Wakes until the saga parks or ends.
    fn run(&mut self, answer: &mut dyn FnMut(&Effect) -> StepOutcome) {
        for _ in 0..100 {
            match self.wake(answer) {
                Some(t) if t.runnable_now => {}
                _ => return,
            }
        }
        panic!("the saga never parked");
    }

    /// The actions undone, in order.
    fn undone_actions(&self) -> Vec<Action> {
        self.performed
            .iter()
            .filter(|effect| effect.direction == Direction::Undo)
            .map(|effect| effect.action)
            .collect()
    }

    fn performed_actions(&self) -> Vec<(Action, Direction)> {
        self.performed
            .iter()
            .map(|effect| (effect.action, effect.direction))
            .collect()
    }
}

fn done() -> StepOutcome {
    StepOutcome::Done(SagaState::default())
}

fn ok(_: &Effect) -> StepOutcome {
    done()
}

fn fail(code: &str) -> StepOutcome {
    StepOutcome::Fail {
        code: code.to_owned(),
        message: String::new(),
    }
}

fn retry(code: &str) -> StepOutcome {
    StepOutcome::Retry {
        code: code.to_owned(),
        message: String::new(),
    }
}

/// The effect is still running at AWS.
fn pending() -> StepOutcome {
    StepOutcome::Pending {
        detail: "aws_operation".to_owned(),
        patch: SagaState::default(),
    }
}

/// Answers each listed action with its outcome, and every other with [`done`].
fn answering(outcomes: Vec<(u8, StepOutcome)>) -> impl FnMut(&Effect) -> StepOutcome {
    move |effect: &Effect| {
        outcomes
            .iter()
            .find(|(action, _)| effect.action == Action::Probe(*action))
            .map_or_else(done, |(_, outcome)| outcome.clone())
    }
}

#[test]
fn a_saga_runs_its_steps_in_order_passes_the_pivot_and_completes_with_its_events() {
    let mut sim = Sim::new(pipeline());
    sim.run(&mut ok);
    assert_eq!(sim.snapshot.status, SagaStatus::Completed);
    assert!(sim.snapshot.past_pivot);
    assert_eq!(
        sim.performed_actions(),
        [
            (Action::Probe(0), Direction::Do),
            (Action::Probe(1), Direction::Do),
            (Action::Probe(2), Direction::Do),
            (Action::Probe(3), Direction::Do),
        ]
    );
    assert!(sim.events.contains(&EventPayload::ProbeReached { node: 5 }));
    assert_eq!(
        sim.events.last(),
        Some(&EventPayload::OrderStatusChanged {
            from: OrderStatus::Processing,
            to: OrderStatus::Completed,
            status_key: "completed".to_owned(),
            code: String::new(),
        })
    );
}

#[test]
fn a_failure_before_the_pivot_undoes_the_finished_steps_in_reverse_and_fails_the_order() {
    let mut sim = Sim::new(pipeline());
    let declined = StepOutcome::Fail {
        code: "TNR203".to_owned(),
        message: "declined".to_owned(),
    };
    sim.run(&mut answering(vec![(2, declined)]));
    assert_eq!(sim.snapshot.status, SagaStatus::Compensated);
    assert_eq!(
        sim.performed_actions(),
        [
            (Action::Probe(0), Direction::Do),
            (Action::Probe(1), Direction::Do),
            (Action::Probe(2), Direction::Do),
            (Action::Probe(11), Direction::Undo),
            (Action::Probe(10), Direction::Undo),
        ]
    );
    let failure = sim.snapshot.state.failure.clone().expect("failure");
    assert_eq!((failure.code.as_str(), failure.node), ("TNR203", 2));
    // Each undo ran under its own key, distinct from the forward key of its step.
    let undo = &sim.performed[3];
    assert_eq!(undo.key, step_key(sim.snapshot.id, 1, Direction::Undo, 0));
    assert_eq!(undo.do_key, sim.performed[1].key);
    assert_ne!(undo.key, undo.do_key);
}

#[test]
fn a_failure_after_the_pivot_blocks_for_an_operator_and_undoes_nothing() {
    let mut sim = Sim::new(pipeline());
    sim.run(&mut answering(vec![(3, fail("TNR410"))]));
    assert_eq!(sim.snapshot.status, SagaStatus::Blocked);
    assert!(
        sim.performed
            .iter()
            .all(|effect| effect.direction == Direction::Do)
    );
    assert_eq!(
        sim.snapshot.wait.as_ref().map(|wait| wait.kind.as_str()),
        Some("blocked")
    );
    // A blocked saga sleeps; it does not retry on its own.
    assert_eq!(sim.wake(&mut ok), None);
}

#[test]
fn a_cancellation_before_the_pivot_compensates_and_ends_cancelled() {
    let mut sim = Sim::new(pipeline());
    // Two steps done, the third in progress at AWS.
    sim.run(&mut answering(vec![(2, pending())]));
    assert_eq!(sim.snapshot.status, SagaStatus::Waiting);
    sim.snapshot.cancel_requested = true;
    sim.run(&mut ok);
    assert_eq!(sim.snapshot.status, SagaStatus::Cancelled);
    assert_eq!(sim.undone_actions(), [Action::Probe(11), Action::Probe(10)]);
}

#[test]
fn an_effect_in_progress_is_asked_again_under_the_same_key_and_a_started_one_is_undone() {
    let mut sim = Sim::new(pipeline());
    let mut polls = 0;
    let mut answer = |effect: &Effect| match effect.action {
        Action::Probe(0) if polls < 3 => {
            polls += 1;
            pending()
        }
        Action::Probe(1) => fail("NOT_FOUND"),
        _ => done(),
    };
    for _ in 0..4 {
        sim.run(&mut answer);
        sim.now += chrono::Duration::seconds(10);
    }
    let forward: Vec<&Effect> = sim
        .performed
        .iter()
        .filter(|effect| effect.action == Action::Probe(0))
        .collect();
    assert_eq!(forward.len(), 4);
    assert!(forward.iter().all(|effect| effect.key == forward[0].key));
    assert!(
        forward.iter().all(|effect| effect.attempt == 1),
        "polls spend no attempts"
    );
    assert_eq!(sim.snapshot.status, SagaStatus::Compensated);
}

#[test]
fn transient_failures_retry_under_the_same_key_with_growing_capped_delays() {
    let mut sim = Sim::new(pipeline());
    let mut delays = Vec::new();
    for _ in 0..12 {
        let before = sim.now;
        let t = sim
            .wake(&mut |_: &Effect| retry("UNAVAILABLE"))
            .expect("a transition");
        let due = t.due_at.expect("due");
        delays.push((due - before).to_std().expect("forward"));
        sim.now = due;
    }
    assert!(
        sim.performed
            .iter()
            .all(|effect| effect.key == sim.performed[0].key)
    );
    let attempts: Vec<u32> = sim.performed.iter().map(|effect| effect.attempt).collect();
    assert_eq!(attempts, (1..=12).collect::<Vec<_>>());
    assert!(
        delays.windows(2).all(|pair| pair[0] <= pair[1]),
        "{delays:?}"
    );
    assert!(delays.iter().all(|delay| *delay <= sim.timing.retry_cap));
    // Past the notice threshold the customer reads that AWS is slow.
    assert_eq!(sim.snapshot.state.notice.as_deref(), Some("TNR901"));
}

#[test]
fn undos_never_give_up_and_report_being_stuck_past_the_threshold() {
    let mut sim = Sim::new(pipeline());
    sim.run(&mut answering(vec![
        (1, fail("TNR903")),
        (10, retry("UNAVAILABLE")),
    ]));
    sim.now = sim
        .snapshot
        .wait
        .as_ref()
        .and_then(|wait| wait.until)
        .expect("a retry time");
    for _ in 0..sim.timing.stuck_after + 2 {
        let t = sim
            .wake(&mut |_: &Effect| retry("UNAVAILABLE"))
            .expect("an undo attempt");
        sim.now = t.due_at.expect("due");
    }
    assert_eq!(sim.snapshot.status, SagaStatus::CompensationStuck);
    assert_eq!(
        sim.snapshot.wait.as_ref().map(|wait| wait.kind.as_str()),
        Some("compensation_stuck")
    );
    sim.run(&mut ok);
    assert_eq!(sim.snapshot.status, SagaStatus::Compensated);
}

#[test]
fn a_corrected_field_undoes_the_steps_that_read_it_and_runs_again_under_new_keys() {
    let mut sim = Sim::new(pipeline());
    let query = StepOutcome::Query {
        code: "TNR101".to_owned(),
        fields: vec![InputField::RootEmail],
        items: Vec::new(),
    };
    sim.run(&mut answering(vec![(1, query)]));
    assert_eq!(sim.snapshot.status, SagaStatus::Querying);
    let query = sim.snapshot.state.query.clone().expect("query");
    assert_eq!(query.resume, QueryResume::CustomerInput);
    // Waiting for the customer's input, the saga sleeps until the query's deadline.
    assert_eq!(
        decide(&sim.definition, &sim.snapshot, sim.ctx()),
        Decision::Park(query.deadline)
    );
    // The API records the answer with the corrected input.
    sim.snapshot.input_rev = 1;
    sim.snapshot.state.answer = Some(QueryAnswer {
        query_id: query.id,
        changed: vec![InputField::RootEmail],
    });
    sim.run(&mut ok);
    assert_eq!(sim.snapshot.status, SagaStatus::Completed);
    let a: Vec<&Effect> = sim
        .performed
        .iter()
        .filter(|effect| matches!(effect.action, Action::Probe(0 | 10)))
        .collect();
    // a ran, was undone under its first revision, and ran again under the second.
    assert_eq!(
        a.iter()
            .map(|effect| (effect.direction, effect.input_rev))
            .collect::<Vec<_>>(),
        [(Direction::Do, 0), (Direction::Undo, 0), (Direction::Do, 1)]
    );
    assert_ne!(a[0].key, a[2].key);
}

#[test]
fn a_timer_computes_its_instant_once_and_fires_when_it_passes() {
    let mut sim = Sim::new(definition(vec![
        Node::synthetic(
            "wait_a_day",
            NodeSpec::Timer {
                after: Duration::from_secs(86_400),
            },
        ),
        Node::synthetic(
            "announce",
            NodeSpec::Emit {
                event: EventKind::Probe,
            },
        ),
    ]));
    let entered = sim.wake(&mut ok).expect("the timer is set");
    let fires_at = start() + chrono::Duration::days(1);
    assert_eq!(entered.due_at, Some(fires_at));
    assert_eq!(sim.snapshot.state.timers.get("wait_a_day"), Some(&fires_at));
    sim.now = start() + chrono::Duration::hours(5);
    assert_eq!(
        decide(&sim.definition, &sim.snapshot, sim.ctx()),
        Decision::Park(fires_at)
    );
    sim.now = fires_at;
    sim.run(&mut ok);
    assert_eq!(sim.snapshot.status, SagaStatus::Completed);
    assert!(sim.performed.is_empty(), "a timer calls nothing");
}

#[test]
fn a_guarded_step_that_does_not_apply_is_skipped() {
    let mut skipped = call("only_for_spam", 7, None, &[]);
    skipped.when = Some(|input: &SagaInput| input.tenant.resale_model == ResaleModel::Spam);
    let mut sim = Sim::new(definition(vec![skipped, call("next", 8, None, &[])]));
    sim.run(&mut ok);
    assert_eq!(sim.performed_actions(), [(Action::Probe(8), Direction::Do)]);
    assert_eq!(sim.snapshot.steps[0].outcome, StepOutcomeKind::Skipped);
}

#[test]
fn a_step_that_will_be_skipped_never_shows_as_the_one_the_order_works_on() {
    let mut operations_only = Node::synthetic(
        "support_channel",
        NodeSpec::ManualTask {
            owner: TaskOwner::Operations,
            on_reject: OnReject::Cancel,
        },
    );
    operations_only.when = Some(|input: &SagaInput| input.tenant.public_sector);
    let mut sim = Sim::new(definition(vec![
        call("a", 0, None, &[]),
        operations_only,
        call("b", 1, None, &[]),
    ]));
    sim.run(&mut ok);
    assert_eq!(sim.snapshot.status, SagaStatus::Completed);
    let keys: Vec<&str> = sim
        .events
        .iter()
        .filter_map(|event| match event {
            EventPayload::OrderStatusChanged { status_key, .. } => Some(status_key.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        !keys.iter().any(|key| key.contains("support_channel")),
        "{keys:?}"
    );
    assert!(
        sim.task_changes
            .iter()
            .all(|change| !matches!(change, TaskChange::Open { .. }))
    );
}

#[test]
fn a_follow_up_opens_its_task_and_the_order_completes_without_waiting_for_it() {
    let mut sim = Sim::new(definition(vec![
        call("a", 0, None, &[]),
        Node::synthetic(
            "satisfaction_survey",
            NodeSpec::FollowUp {
                kind: TaskKind::Survey,
            },
        ),
    ]));
    sim.run(&mut ok);
    assert_eq!(sim.snapshot.status, SagaStatus::Completed);
    let opened: Vec<&TaskChange> = sim
        .task_changes
        .iter()
        .filter(|change| matches!(change, TaskChange::Open { .. }))
        .collect();
    match opened.as_slice() {
        [
            TaskChange::Open {
                kind,
                blocks,
                owner,
                deadline,
                ..
            },
        ] => {
            assert_eq!(*kind, TaskKind::Survey);
            assert!(!blocks, "a follow-up never holds its order");
            assert_eq!(*owner, TaskOwner::Customer);
            assert_eq!(*deadline, start() + chrono::Duration::days(14));
        }
        other => panic!("one follow-up task, not {other:?}"),
    }
    assert!(
        sim.events
            .iter()
            .any(|event| matches!(event, EventPayload::TaskOpened { step, .. } if step == "satisfaction_survey"))
    );
    assert_eq!(sim.snapshot.steps[1].outcome, StepOutcomeKind::Done);
}

#[test]
fn a_manual_task_waits_for_its_owner_and_a_rejection_can_cancel_the_order() {
    let task = Node::synthetic(
        "confirm",
        NodeSpec::ManualTask {
            owner: TaskOwner::Operations,
            on_reject: OnReject::Cancel,
        },
    );
    let mut sim = Sim::new(definition(vec![
        call("a", 0, Some(10), &[]),
        task,
        Node::synthetic("pivot", NodeSpec::Pivot),
    ]));
    sim.run(&mut ok);
    assert_eq!(sim.snapshot.status, SagaStatus::Manual);
    let opened = sim.snapshot.task.clone().expect("task");
    assert_eq!(
        decide(&sim.definition, &sim.snapshot, sim.ctx()),
        Decision::Park(opened.deadline)
    );
    if let Some(task) = &mut sim.snapshot.task {
        task.state = TaskState::Rejected;
    }
    sim.run(&mut ok);
    assert_eq!(sim.snapshot.status, SagaStatus::Cancelled);
    assert_eq!(
        sim.performed.last().map(|effect| effect.action),
        Some(Action::Probe(10))
    );
}

#[test]
fn an_order_past_its_deadline_before_the_pivot_fails_with_tnr904() {
    let mut sim = Sim::new(pipeline());
    sim.run(&mut answering(vec![(1, pending())]));
    sim.now = sim.snapshot.deadline_at;
    sim.run(&mut ok);
    assert_eq!(sim.snapshot.status, SagaStatus::Compensated);
    assert_eq!(
        sim.snapshot
            .state
            .failure
            .as_ref()
            .map(|failure| failure.code.as_str()),
        Some("TNR904")
    );
}

#[test]
fn a_step_of_several_calls_keeps_each_part_and_its_undo_covers_the_parts_done() {
    let mut sim = Sim::new(pipeline());
    let mut parts = 0;
    sim.run(&mut |effect: &Effect| match effect.action {
        Action::Probe(1) if parts < 2 => {
            parts += 1;
            StepOutcome::Progress(SagaState {
                handshakes: std::collections::BTreeMap::from([(
                    tenure_domain::AwsAccountId::parse(&format!("{parts:012}"))
                        .expect("a valid id"),
                    "h".to_owned(),
                )]),
                ..SagaState::default()
            })
        }
        Action::Probe(1) => fail("TNR306"),
        _ => done(),
    });
    assert_eq!(sim.snapshot.status, SagaStatus::Compensated);
    // The half-done step was undone too (its two parts exist), then the one before it.
    assert_eq!(sim.undone_actions(), [Action::Probe(11), Action::Probe(10)]);
}

#[test]
fn a_definition_refuses_an_undo_after_its_pivot() {
    let refused = Definition::new(
        SagaKind::Probe,
        1,
        vec![
            Node::synthetic("pivot", NodeSpec::Pivot),
            call("late", 0, Some(1), &[]),
        ],
        None,
    );
    assert!(matches!(
        refused,
        Err(DefinitionError::UndoAfterPivot { .. })
    ));
}
