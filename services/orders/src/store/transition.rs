//! Committing one transition: every row it changes, fenced by the lease's epoch.
//!
//! Each write is written once, as SQL that either stands alone or joins `applied`, the saga row the
//! same statement updated. On PostgreSQL the whole transition is one statement of data-modifying
//! CTEs, so a step costs one round trip inside its transaction instead of one per table; when that
//! statement matches nothing, a read says why (lease lost, cancellation first, or another writer
//! numbered events meanwhile, in which case it runs again with the new numbers). SQLite has no
//! data-modifying CTEs, so there the same writes run one after the other, the first one fencing.

use sea_orm::{ConnectionTrait as _, DbBackend, Statement, Value};
use tenure_db::TenantTx;
use uuid::Uuid;

use crate::domain::OrdersError;
use crate::domain::order::TaskState;
use crate::domain::saga::advance::{StepRecord, TaskChange, Transition};
use crate::store::sagas::{Applied, Commit, Loaded};
use crate::store::{column, events, statement, to_json};

/// Bound values of one statement; each bind answers its `$n` placeholder.
#[derive(Debug, Default)]
pub(crate) struct Binder {
    values: Vec<Value>,
}

impl Binder {
    pub(crate) fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        format!("${}", self.values.len())
    }

    pub(crate) fn statement(self, backend: DbBackend, sql: &str) -> Statement {
        statement(backend, sql, self.values)
    }
}

/// Whether a write stands alone or happens only if `applied` (the saga row) was updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    Alone,
    AfterSaga,
}

impl Gate {
    /// For `INSERT … SELECT …` and `UPDATE … SET …` without a `FROM` of their own.
    pub(crate) fn from(self) -> &'static str {
        match self {
            Gate::Alone => "",
            Gate::AfterSaga => " FROM applied",
        }
    }

    /// For a `FROM` list that already names a table.
    pub(crate) fn join(self) -> &'static str {
        match self {
            Gate::Alone => "",
            Gate::AfterSaga => ", applied",
        }
    }

    fn using(self) -> &'static str {
        match self {
            Gate::Alone => "",
            Gate::AfterSaga => " USING applied",
        }
    }
}

fn int(value: usize) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// The run-queue row: rescheduled (keeping or releasing the lease) or, once terminal, removed. Alone
/// it is the fence: it matches only while the lease's epoch holds.
fn queue_write(b: &mut Binder, gate: Gate, commit: &Commit<'_>, t: &Transition) -> String {
    match t.due_at {
        Some(due_at) => format!(
            "UPDATE saga_task SET due_at = {}, lease_owner = {}, lease_until = {}{} \
             WHERE saga_task.saga_id = {} AND saga_task.lease_epoch = {}",
            b.bind(due_at),
            b.bind(commit.keep_until.map(|_| commit.replica.to_owned())),
            b.bind(commit.keep_until),
            gate.from(),
            b.bind(commit.lease.saga_id),
            b.bind(commit.lease.epoch),
        ),
        None => format!(
            "DELETE FROM saga_task{} WHERE saga_task.saga_id = {} AND saga_task.lease_epoch = {}",
            gate.using(),
            b.bind(commit.lease.saga_id),
            b.bind(commit.lease.epoch),
        ),
    }
}

/// The saga row's new state, its event counter moved past the transition's events.
fn saga_assignments(
    b: &mut Binder,
    commit: &Commit<'_>,
    t: &Transition,
) -> Result<String, OrdersError> {
    let finished_at = t.status.is_terminal().then_some(commit.now);
    Ok(format!(
        "status = {}, node = {}, direction = {}, past_pivot = {}, state = {}, attempt = {}, \
         wait_reason = {}, event_seq = event_seq + {}, updated_at = {}, finished_at = {}",
        b.bind(t.status.as_str()),
        b.bind(int(t.node)),
        b.bind(t.direction.as_str()),
        b.bind(t.past_pivot),
        b.bind(to_json(&t.state)?),
        b.bind(i32::try_from(t.attempt).unwrap_or(i32::MAX)),
        b.bind(t.wait.as_ref().map(to_json).transpose()?),
        b.bind(int(t.events.len())),
        b.bind(commit.now),
        b.bind(finished_at),
    ))
}

/// A finished step, recorded once per (node, direction, input revision).
fn step_write(
    b: &mut Binder,
    gate: Gate,
    saga_id: Uuid,
    step: &StepRecord,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, OrdersError> {
    Ok(format!(
        "INSERT INTO saga_step (saga_id, node, direction, input_rev, outcome, output, \
         idempotency_key, finished_at) SELECT {}, {}, {}, {}, {}, {}, {}, {}{} WHERE true \
         ON CONFLICT (saga_id, node, direction, input_rev) DO NOTHING",
        b.bind(saga_id),
        b.bind(int(step.node)),
        b.bind(step.direction.as_str()),
        b.bind(step.input_rev),
        b.bind(step.outcome.as_str()),
        b.bind(to_json(&step.output)?),
        b.bind(step.key),
        b.bind(now),
        gate.from(),
    ))
}

/// One write, bound into whichever statement it becomes part of.
type Write<'a> = Box<dyn FnOnce(&mut Binder) -> Result<String, OrdersError> + Send + 'a>;

/// Every write of `t` after the saga row, in the order they run alone.
fn writes<'a>(
    gate: Gate,
    commit: &'a Commit<'a>,
    loaded: &'a Loaded,
    t: &'a Transition,
    first_seq: i32,
) -> Vec<Write<'a>> {
    let saga_id = commit.lease.saga_id;
    let order_id = loaded.snapshot.order_id;
    let trace = tenure_telemetry::current_traceparent();
    let mut writes: Vec<Write<'a>> = Vec::new();
    if !t.events.is_empty() {
        writes.push(Box::new(move |b: &mut Binder| {
            events::insert_write(
                b,
                gate,
                &events::EventRows {
                    order_id,
                    tenant_id: loaded.tenant_id,
                    first_seq,
                    drafts: &t.events,
                    recorded_at: commit.now,
                    trace: trace.as_ref(),
                },
            )
        }));
    }
    if let Some(step) = &t.step {
        writes.push(Box::new(move |b: &mut Binder| {
            step_write(b, gate, saga_id, step, commit.now)
        }));
    }
    if let Some(attempt) = &t.attempt_record {
        writes.push(Box::new(move |b: &mut Binder| {
            Ok(format!(
                "INSERT INTO saga_attempt (saga_id, node, direction, slot, attempt, started_at, \
                 finished_at, code, message, replica) SELECT {}, {}, {}, {}, {}, {}, {}, {}, {}, \
                 {}{} WHERE true ON CONFLICT (saga_id, node, direction, slot) DO UPDATE SET \
                 attempt = excluded.attempt, started_at = excluded.started_at, \
                 finished_at = excluded.finished_at, code = excluded.code, \
                 message = excluded.message, replica = excluded.replica",
                b.bind(saga_id),
                b.bind(int(attempt.node)),
                b.bind(attempt.direction.as_str()),
                // A ring of the 16 most recent attempts per step and direction.
                b.bind(i16::try_from(attempt.attempt % 16).unwrap_or(0)),
                b.bind(i32::try_from(attempt.attempt).unwrap_or(i32::MAX)),
                b.bind(commit.started_at),
                b.bind(attempt.finished_at),
                b.bind(attempt.code.as_str()),
                b.bind(attempt.message.as_str()),
                b.bind(commit.replica),
                gate.from(),
            ))
        }));
    }
    if t.order.is_some() || t.order_account.is_some() {
        writes.push(Box::new(move |b: &mut Binder| {
            let mut assignments = Vec::new();
            if let Some(change) = &t.order {
                let failure = change.failure.as_ref();
                assignments.push(format!(
                    "status = {}, status_key = {}, failure_code = {}, failure_message = {}, \
                     updated_at = {}, finished_at = {}",
                    b.bind(change.status.as_str()),
                    b.bind(change.status_key.as_str()),
                    b.bind(failure.map(|failure| failure.code.clone())),
                    b.bind(failure.map(|failure| failure.message.clone())),
                    b.bind(commit.now),
                    b.bind(change.finished.then_some(commit.now)),
                ));
            }
            if let Some(account) = &t.order_account {
                assignments.push(format!("aws_account_id = {}", b.bind(account.as_str())));
            }
            Ok(format!(
                "UPDATE customer_order SET {}{} WHERE customer_order.id = {}",
                assignments.join(", "),
                gate.from(),
                b.bind(order_id),
            ))
        }));
    }
    match &t.task {
        Some(TaskChange::Open {
            id,
            node,
            input_rev,
            step,
            title,
            owner,
            kind,
            blocks,
            deadline,
        }) => writes.push(Box::new(move |b: &mut Binder| {
            Ok(format!(
                "INSERT INTO order_task (id, tenant_id, order_id, node, input_rev, step, title, \
                 owner, state, created_at, deadline, resolved_at, resolved_by_subject, \
                 resolved_by_role, note, kind, blocks_order) SELECT {}, {}, {}, {}, {}, {}, {}, \
                 {}, {}, {}, {}, NULL, NULL, NULL, '', {}, {}{} WHERE true \
                 ON CONFLICT (id) DO NOTHING",
                b.bind(*id),
                b.bind(loaded.tenant_id),
                b.bind(order_id),
                b.bind(int(*node)),
                b.bind(*input_rev),
                b.bind(*step),
                b.bind(*title),
                b.bind(owner.as_str()),
                b.bind(TaskState::Open.as_str()),
                b.bind(commit.now),
                b.bind(*deadline),
                b.bind(kind.as_str()),
                b.bind(*blocks),
                gate.from(),
            ))
        })),
        Some(TaskChange::CancelOpen) => writes.push(Box::new(move |b: &mut Binder| {
            Ok(format!(
                "UPDATE order_task SET state = {}, resolved_at = {}{} \
                 WHERE order_task.order_id = {} AND order_task.state = {} \
                 AND order_task.blocks_order = {}",
                b.bind(TaskState::Cancelled.as_str()),
                b.bind(commit.now),
                gate.from(),
                b.bind(order_id),
                b.bind(TaskState::Open.as_str()),
                b.bind(true),
            ))
        })),
        None => {}
    }
    for key in &t.acquire_locks {
        writes.push(Box::new(move |b: &mut Binder| {
            Ok(format!(
                "INSERT INTO saga_lock (resource_key, saga_id, acquired_at) SELECT {}, {}, {}{} \
                 WHERE true ON CONFLICT (resource_key) DO NOTHING",
                b.bind(key.as_str()),
                b.bind(saga_id),
                b.bind(commit.now),
                gate.from(),
            ))
        }));
    }
    if t.release_locks {
        writes.push(Box::new(move |b: &mut Binder| {
            Ok(format!(
                "DELETE FROM saga_lock{} WHERE saga_lock.saga_id = {}",
                gate.using(),
                b.bind(saga_id),
            ))
        }));
    }
    writes
}

/// Commits `t` inside `tx` (the engine's transaction); the caller commits or rolls back by the
/// answer.
pub(crate) async fn apply_in(
    tx: &TenantTx,
    commit: &Commit<'_>,
    loaded: &Loaded,
    t: &Transition,
) -> Result<Applied, OrdersError> {
    // Locks taken and released by one transition would both touch `saga_lock`, and the CTEs of one
    // statement do not see each other's rows; no definition does both, but stay correct if one did.
    let locks_both_ways = t.release_locks && !t.acquire_locks.is_empty();
    if tx.get_database_backend() == DbBackend::Postgres && !locks_both_ways {
        in_one_statement(tx, commit, loaded, t).await
    } else {
        one_by_one(tx, commit, loaded, t).await
    }
}

async fn in_one_statement(
    tx: &TenantTx,
    commit: &Commit<'_>,
    loaded: &Loaded,
    t: &Transition,
) -> Result<Applied, OrdersError> {
    let saga_id = commit.lease.saga_id;
    let mut expected_seq = loaded.event_seq;
    // Another writer numbering events between two tries is rare; a few tries settle it.
    for _ in 0..5 {
        let mut b = Binder::default();
        let fence = format!(
            "SELECT saga_id FROM saga_task WHERE saga_id = {} AND lease_epoch = {} FOR UPDATE",
            b.bind(saga_id),
            b.bind(commit.lease.epoch),
        );
        let assignments = saga_assignments(&mut b, commit, t)?;
        // The row lock decides the race between the pivot and CancelOrder (sagas.md §5.4).
        let pivot_guard = if t.enters_pivot {
            " AND saga.cancel_requested_at IS NULL"
        } else {
            ""
        };
        let applied = format!(
            "UPDATE saga SET {assignments} FROM fence WHERE saga.id = fence.saga_id \
             AND saga.event_seq = {}{pivot_guard} RETURNING saga.event_seq, \
             saga.cancel_requested_at",
            b.bind(expected_seq),
        );
        let queue = queue_write(&mut b, Gate::AfterSaga, commit, t);
        let mut sql = format!("WITH fence AS ({fence}), applied AS ({applied}), w0 AS ({queue})");
        for (index, write) in writes(Gate::AfterSaga, commit, loaded, t, expected_seq + 1)
            .into_iter()
            .enumerate()
        {
            sql.push_str(&format!(", w{} AS ({})", index + 1, write(&mut b)?));
        }
        sql.push_str(" SELECT event_seq, cancel_requested_at FROM applied");
        if let Some(row) = tx
            .query_one_raw(b.statement(DbBackend::Postgres, &sql))
            .await?
        {
            return Ok(Applied::Committed {
                event_seq: column(&row, "event_seq")?,
                cancel_requested: column::<Option<chrono::DateTime<chrono::Utc>>>(
                    &row,
                    "cancel_requested_at",
                )?
                .is_some(),
            });
        }
        // Nothing was written: find out why.
        let row = tx
            .query_one_raw(statement(
                DbBackend::Postgres,
                "SELECT s.event_seq, s.cancel_requested_at, q.lease_epoch FROM saga s \
                 LEFT JOIN saga_task q ON q.saga_id = s.id WHERE s.id = $1",
                vec![saga_id.into()],
            ))
            .await?;
        let Some(row) = row else {
            return Ok(Applied::Fenced);
        };
        if column::<Option<i64>>(&row, "lease_epoch")? != Some(commit.lease.epoch) {
            return Ok(Applied::Fenced);
        }
        if t.enters_pivot
            && column::<Option<chrono::DateTime<chrono::Utc>>>(&row, "cancel_requested_at")?
                .is_some()
        {
            return Ok(Applied::PivotLost);
        }
        let current: i32 = column(&row, "event_seq")?;
        if current == expected_seq {
            return Err(OrdersError::internal(
                "a transition matched no saga row for no known reason",
            ));
        }
        expected_seq = current;
    }
    // Events keep being added under a held lease: let the lease lapse and start over.
    Ok(Applied::Fenced)
}

async fn one_by_one(
    tx: &TenantTx,
    commit: &Commit<'_>,
    loaded: &Loaded,
    t: &Transition,
) -> Result<Applied, OrdersError> {
    let backend = tx.get_database_backend();
    let saga_id = commit.lease.saga_id;
    let mut b = Binder::default();
    let fence = queue_write(&mut b, Gate::Alone, commit, t);
    if tx
        .execute_raw(b.statement(backend, &fence))
        .await?
        .rows_affected()
        != 1
    {
        return Ok(Applied::Fenced);
    }
    if t.enters_pivot {
        // The row lock decides the race with CancelOrder (sagas.md §5.4).
        let passed = tx
            .execute_raw(statement(
                backend,
                "UPDATE saga SET past_pivot = $1 WHERE id = $2 AND cancel_requested_at IS NULL",
                vec![true.into(), saga_id.into()],
            ))
            .await?
            .rows_affected();
        if passed != 1 {
            return Ok(Applied::PivotLost);
        }
    }
    let mut b = Binder::default();
    let assignments = saga_assignments(&mut b, commit, t)?;
    let sql = format!(
        "UPDATE saga SET {assignments} WHERE id = {} RETURNING event_seq, cancel_requested_at",
        b.bind(saga_id),
    );
    let row = tx
        .query_one_raw(b.statement(backend, &sql))
        .await?
        .ok_or(OrdersError::internal("a leased saga has no row"))?;
    let event_seq: i32 = column(&row, "event_seq")?;
    let cancel_requested =
        column::<Option<chrono::DateTime<chrono::Utc>>>(&row, "cancel_requested_at")?.is_some();
    let first_seq = event_seq - int(t.events.len()) + 1;
    for write in writes(Gate::Alone, commit, loaded, t, first_seq) {
        let mut b = Binder::default();
        let sql = write(&mut b)?;
        tx.execute_raw(b.statement(backend, &sql)).await?;
    }
    Ok(Applied::Committed {
        event_seq,
        cancel_requested,
    })
}
