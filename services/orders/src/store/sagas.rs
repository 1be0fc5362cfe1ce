//! The saga engine's durable side (sagas.md §3): creating a saga with its order, claiming due sagas
//! with `FOR UPDATE SKIP LOCKED` under a lease and a fencing epoch, loading a snapshot, and committing
//! a transition only while the lease's epoch still holds. Operator and customer actions that change a
//! saga bump the epoch, so a worker that held it can no longer commit a stale transition.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Value};
use tenure_db::{Db, TenantTx};
use uuid::Uuid;

use crate::domain::OrdersError;
use crate::domain::order::{SagaInput, SagaLock, TaskOwner, TaskState};
use crate::domain::saga::advance::{
    FinishedStep, SagaSnapshot, TaskChange, TaskSnapshot, Transition,
};
use crate::domain::saga::definition::{SagaKind, definition_key};
use crate::domain::saga::state::{
    Direction, EventDraft, SagaState, SagaStatus, StepOutcomeKind, WaitReason,
};
use crate::store::{
    begin_engine, column, events, json_column, optional_json_column, placeholders, statement,
    stored, time, to_json, unsigned,
};

/// A saga a worker holds: its id and the epoch its lease was granted at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lease {
    pub(crate) saga_id: Uuid,
    pub(crate) epoch: i64,
    /// When it was due, for the lateness of timers and waits.
    pub(crate) due_at: DateTime<Utc>,
}

/// A loaded saga: the snapshot decisions read, and what the runtime needs besides.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub(crate) snapshot: SagaSnapshot,
    pub(crate) kind: SagaKind,
    pub(crate) version: u32,
    pub(crate) tenant_id: Uuid,
    pub(crate) event_seq: i32,
    /// The context the order was placed under, which resumed steps link to.
    pub(crate) trace: Option<(String, String)>,
}

/// A new saga, written with its order.
#[derive(Debug, Clone)]
pub(crate) struct NewSaga {
    pub(crate) id: Uuid,
    pub(crate) order_id: Uuid,
    pub(crate) tenant_id: Uuid,
    pub(crate) kind: SagaKind,
    pub(crate) version: u32,
    pub(crate) input: SagaInput,
    pub(crate) deadline_at: DateTime<Utc>,
    pub(crate) trace: Option<(String, String)>,
    pub(crate) created_at: DateTime<Utc>,
}

/// How a commit went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    /// Committed; `cancel_requested` tells a worker going on at once that a cancellation arrived.
    Committed {
        event_seq: i32,
        cancel_requested: bool,
    },
    /// The lease was lost (taken over or changed by an action): nothing was written.
    Fenced,
    /// The pivot lost the race against a cancellation: nothing was written.
    PivotLost,
}

/// Writes a new saga, its run-queue row (due now) and its first event, in the order's transaction.
/// Returns the events' last sequence.
pub(crate) async fn insert(
    tx: &TenantTx,
    saga: &NewSaga,
    first_events: &[EventDraft],
) -> Result<i32, OrdersError> {
    let backend = tx.get_database_backend();
    let wait = WaitReason {
        kind: "run".to_owned(),
        node: 0,
        since: saga.created_at,
        until: None,
        detail: String::new(),
    };
    let (traceparent, tracestate) = split_trace(saga.trace.as_ref());
    let seq = i32::try_from(first_events.len()).unwrap_or(i32::MAX);
    tx.execute_raw(statement(
        backend,
        "INSERT INTO saga (id, order_id, tenant_id, kind, def_version, status, node, direction, \
         past_pivot, input, input_rev, state, attempt, wait_reason, event_seq, cancel_requested_at, \
         deadline_at, traceparent, tracestate, created_at, updated_at, finished_at) VALUES \
         ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, 0, $10, 0, $11, $12, NULL, $13, $14, $15, $16, \
         $16, NULL)",
        vec![
            saga.id.into(),
            saga.order_id.into(),
            saga.tenant_id.into(),
            saga.kind.as_str().into(),
            i32::try_from(saga.version).unwrap_or(i32::MAX).into(),
            SagaStatus::Running.as_str().into(),
            Direction::Do.as_str().into(),
            false.into(),
            to_json(&saga.input)?.into(),
            to_json(&SagaState::default())?.into(),
            to_json(&wait)?.into(),
            seq.into(),
            saga.deadline_at.into(),
            traceparent.into(),
            tracestate.into(),
            saga.created_at.into(),
        ],
    ))
    .await?;
    tx.execute_raw(statement(
        backend,
        "INSERT INTO saga_task (saga_id, def_key, due_at, lease_owner, lease_epoch, lease_until) \
         VALUES ($1, $2, $3, NULL, 0, NULL)",
        vec![
            saga.id.into(),
            definition_key(saga.kind, saga.version).into(),
            saga.created_at.into(),
        ],
    ))
    .await?;
    events::append(
        &**tx,
        saga.order_id,
        saga.tenant_id,
        1,
        first_events,
        saga.created_at,
        saga.trace.as_ref(),
    )
    .await?;
    Ok(seq)
}

fn split_trace(trace: Option<&(String, String)>) -> (Option<String>, Option<String>) {
    match trace {
        Some((parent, state)) => (Some(parent.clone()), Some(state.clone())),
        None => (None, None),
    }
}

/// Takes each lock for `saga_id`. A lock another active saga holds is refused: the holder's order id
/// when it is the same tenant's, else nothing that could name another tenant (locks name their tenant,
/// so another tenant's saga never holds one of them).
pub(crate) async fn take_locks(
    tx: &TenantTx,
    saga_id: Uuid,
    tenant_id: Uuid,
    locks: &[SagaLock],
    now: DateTime<Utc>,
) -> Result<Result<(), LockHeld>, OrdersError> {
    let backend = tx.get_database_backend();
    for lock in locks {
        let key = lock.key();
        let inserted = tx
            .execute_raw(statement(
                backend,
                "INSERT INTO saga_lock (resource_key, saga_id, acquired_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (resource_key) DO NOTHING",
                vec![key.as_str().into(), saga_id.into(), now.into()],
            ))
            .await?
            .rows_affected();
        if inserted == 1 {
            continue;
        }
        let holder = tx
            .query_one_raw(statement(
                backend,
                "SELECT s.order_id, s.tenant_id FROM saga_lock l JOIN saga s ON s.id = l.saga_id \
                 WHERE l.resource_key = $1",
                vec![key.as_str().into()],
            ))
            .await?;
        let Some(holder) = holder else {
            // Released between the insert and the read: the caller retries.
            return Err(OrdersError::Busy);
        };
        let holder_tenant: Uuid = column(&holder, "tenant_id")?;
        return Ok(Err(LockHeld {
            lock: lock.clone(),
            order_id: (holder_tenant == tenant_id)
                .then(|| column(&holder, "order_id"))
                .transpose()?,
        }));
    }
    Ok(Ok(()))
}

/// A resource another active order holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LockHeld {
    pub(crate) lock: SagaLock,
    /// The holding order, only when it is the caller's own tenant's.
    pub(crate) order_id: Option<Uuid>,
}

/// Releases the locks of `saga_id` and takes `keys` instead (an answered query changed the accounts).
pub(crate) async fn replace_locks(
    tx: &TenantTx,
    saga_id: Uuid,
    tenant_id: Uuid,
    locks: &[SagaLock],
    now: DateTime<Utc>,
) -> Result<Result<(), LockHeld>, OrdersError> {
    let backend = tx.get_database_backend();
    tx.execute_raw(statement(
        backend,
        "DELETE FROM saga_lock WHERE saga_id = $1",
        vec![saga_id.into()],
    ))
    .await?;
    take_locks(tx, saga_id, tenant_id, locks, now).await
}

/// Leases up to `limit` due sagas whose definition this replica runs. A saga is due when its
/// business due time has passed and no live lease holds it (a crashed holder's lease lapses in real
/// time, and then it is taken over without any control plane).
pub(crate) async fn claim(
    db: &Db,
    definitions: &[String],
    owner: &str,
    now: DateTime<Utc>,
    real_now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Lease>, OrdersError> {
    if definitions.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let conn = db.conn();
    let backend = conn.get_database_backend();
    let keys = placeholders(6, definitions.len());
    let sql = match backend {
        DbBackend::Postgres => format!(
            "WITH due AS (SELECT saga_id FROM saga_task WHERE due_at <= $1 \
             AND (lease_until IS NULL OR lease_until <= $2) AND def_key IN ({keys}) \
             ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             UPDATE saga_task t SET lease_owner = $4, lease_epoch = t.lease_epoch + 1, \
             lease_until = $5 FROM due WHERE t.saga_id = due.saga_id \
             RETURNING t.saga_id, t.lease_epoch, t.due_at"
        ),
        _ => format!(
            "UPDATE saga_task SET lease_owner = $4, lease_epoch = lease_epoch + 1, \
             lease_until = $5 WHERE saga_id IN (SELECT saga_id FROM saga_task \
             WHERE due_at <= $1 AND (lease_until IS NULL OR lease_until <= $2) \
             AND def_key IN ({keys}) ORDER BY due_at LIMIT $3) \
             RETURNING saga_id, lease_epoch, due_at"
        ),
    };
    let mut values: Vec<Value> = vec![
        now.into(),
        real_now.into(),
        i64::try_from(limit).unwrap_or(i64::MAX).into(),
        owner.into(),
        lease_until.into(),
    ];
    values.extend(definitions.iter().map(|key| Value::from(key.as_str())));
    let rows = conn.query_all_raw(statement(backend, &sql, values)).await?;
    rows.iter()
        .map(|row| {
            Ok(Lease {
                saga_id: column(row, "saga_id")?,
                epoch: column(row, "lease_epoch")?,
                due_at: time(row, "due_at")?,
            })
        })
        .collect()
}

/// Extends a lease while a call runs; false when the lease is gone.
pub(crate) async fn renew(
    db: &Db,
    lease: &Lease,
    lease_until: DateTime<Utc>,
) -> Result<bool, OrdersError> {
    let conn = db.conn();
    let backend = conn.get_database_backend();
    let updated = conn
        .execute_raw(statement(
            backend,
            "UPDATE saga_task SET lease_until = $1 WHERE saga_id = $2 AND lease_epoch = $3",
            vec![lease_until.into(), lease.saga_id.into(), lease.epoch.into()],
        ))
        .await?
        .rows_affected();
    Ok(updated == 1)
}

/// Releases a lease with nothing to commit: the saga sleeps until `due_at`.
pub(crate) async fn park(
    db: &Db,
    lease: &Lease,
    due_at: DateTime<Utc>,
) -> Result<bool, OrdersError> {
    let conn = db.conn();
    let backend = conn.get_database_backend();
    let updated = conn
        .execute_raw(statement(
            backend,
            "UPDATE saga_task SET due_at = $1, lease_owner = NULL, lease_until = NULL \
             WHERE saga_id = $2 AND lease_epoch = $3",
            vec![due_at.into(), lease.saga_id.into(), lease.epoch.into()],
        ))
        .await?
        .rows_affected();
    Ok(updated == 1)
}

/// Releases every lease `owner` holds, so a replica that drains hands its sagas over at once
/// instead of after the lease lapses.
pub(crate) async fn release_all(db: &Db, owner: &str) -> Result<u64, OrdersError> {
    let conn = db.conn();
    let backend = conn.get_database_backend();
    Ok(conn
        .execute_raw(statement(
            backend,
            "UPDATE saga_task SET lease_owner = NULL, lease_until = NULL, \
             lease_epoch = lease_epoch + 1 WHERE lease_owner = $1",
            vec![owner.into()],
        ))
        .await?
        .rows_affected())
}

/// [`load`] in one read-only transaction: one snapshot of the saga, its steps and its task, and one
/// commit instead of three.
pub(crate) async fn load_consistent(db: &Db, saga_id: Uuid) -> Result<Option<Loaded>, OrdersError> {
    use sea_orm::TransactionTrait as _;
    let conn = db.conn();
    // SQLite transactions are serializable already and it rejects the options with a warning.
    let tx = match conn.get_database_backend() {
        DbBackend::Postgres => {
            conn.begin_with_config(
                Some(sea_orm::IsolationLevel::RepeatableRead),
                Some(sea_orm::AccessMode::ReadOnly),
            )
            .await?
        }
        _ => conn.begin().await?,
    };
    let loaded = load(&tx, saga_id).await;
    tx.commit().await?;
    loaded
}

/// Loads a saga with its finished steps and the latest task of its current node.
async fn load(conn: &impl ConnectionTrait, saga_id: Uuid) -> Result<Option<Loaded>, OrdersError> {
    let backend = conn.get_database_backend();
    let Some(row) = conn
        .query_one_raw(statement(
            backend,
            "SELECT id, order_id, tenant_id, kind, def_version, status, node, direction, past_pivot, \
             input, input_rev, state, attempt, wait_reason, event_seq, cancel_requested_at, \
             deadline_at, traceparent, tracestate FROM saga WHERE id = $1",
            vec![saga_id.into()],
        ))
        .await?
    else {
        return Ok(None);
    };
    let node: i32 = column(&row, "node")?;
    let order_id: Uuid = column(&row, "order_id")?;
    let steps = conn
        .query_all_raw(statement(
            backend,
            "SELECT node, direction, input_rev, outcome FROM saga_step WHERE saga_id = $1",
            vec![saga_id.into()],
        ))
        .await?
        .iter()
        .map(|step| {
            Ok(FinishedStep {
                node: unsigned(i64::from(column::<i32>(step, "node")?))?,
                direction: stored(Direction::parse(&column::<String>(step, "direction")?))?,
                input_rev: column(step, "input_rev")?,
                outcome: stored(StepOutcomeKind::parse(&column::<String>(step, "outcome")?))?,
            })
        })
        .collect::<Result<Vec<_>, OrdersError>>()?;
    let task = conn
        .query_one_raw(statement(
            backend,
            "SELECT id, node, input_rev, state, owner, deadline, note FROM order_task \
             WHERE order_id = $1 AND node = $2 ORDER BY created_at DESC LIMIT 1",
            vec![order_id.into(), node.into()],
        ))
        .await?
        .map(|task| task_snapshot(&task))
        .transpose()?;
    let traceparent: Option<String> = column(&row, "traceparent")?;
    let tracestate: Option<String> = column(&row, "tracestate")?;
    let cancel_requested_at: Option<DateTime<Utc>> = column(&row, "cancel_requested_at")?;
    let tenant_id: Uuid = column(&row, "tenant_id")?;
    let snapshot = SagaSnapshot {
        id: saga_id,
        order_id,
        tenant_id,
        status: stored(SagaStatus::parse(&column::<String>(&row, "status")?))?,
        node: unsigned(i64::from(node))?,
        direction: stored(Direction::parse(&column::<String>(&row, "direction")?))?,
        past_pivot: column(&row, "past_pivot")?,
        attempt: unsigned(i64::from(column::<i32>(&row, "attempt")?))?,
        input: json_column(&row, "input")?,
        input_rev: column(&row, "input_rev")?,
        state: json_column(&row, "state")?,
        wait: optional_json_column(&row, "wait_reason")?,
        cancel_requested: cancel_requested_at.is_some(),
        deadline_at: time(&row, "deadline_at")?,
        steps,
        task,
    };
    Ok(Some(Loaded {
        snapshot,
        kind: stored(SagaKind::parse(&column::<String>(&row, "kind")?))?,
        version: unsigned(i64::from(column::<i32>(&row, "def_version")?))?,
        tenant_id,
        event_seq: column(&row, "event_seq")?,
        trace: traceparent.map(|parent| (parent, tracestate.unwrap_or_default())),
    }))
}

fn task_snapshot(row: &sea_orm::QueryResult) -> Result<TaskSnapshot, OrdersError> {
    Ok(TaskSnapshot {
        id: column(row, "id")?,
        node: unsigned(i64::from(column::<i32>(row, "node")?))?,
        input_rev: column(row, "input_rev")?,
        state: stored(TaskState::parse(&column::<String>(row, "state")?))?,
        owner: stored(TaskOwner::parse(&column::<String>(row, "owner")?))?,
        deadline: time(row, "deadline")?,
        note: column(row, "note")?,
    })
}

/// Who commits a transition: the lease it holds, the replica, and what to do with the lease.
#[derive(Debug, Clone)]
pub(crate) struct Commit<'a> {
    pub(crate) lease: &'a Lease,
    pub(crate) replica: &'a str,
    /// Keep the lease until then (the worker goes on at once); `None` releases it.
    pub(crate) keep_until: Option<DateTime<Utc>>,
    pub(crate) now: DateTime<Utc>,
    /// When the attempt this transition concludes started.
    pub(crate) started_at: DateTime<Utc>,
}

/// Commits `t` in one transaction, fenced by the lease's epoch: the run-queue row, the saga, its step
/// and attempt records, the order, its tasks, its locks and its events all commit together or not
/// at all.
pub(crate) async fn apply(
    db: &Db,
    commit: &Commit<'_>,
    loaded: &Loaded,
    t: &Transition,
) -> Result<Applied, OrdersError> {
    let tx = begin_engine(db).await?;
    let applied = crate::store::transition::apply_in(&tx, commit, loaded, t).await?;
    match applied {
        Applied::Committed { .. } => tx.commit().await?,
        Applied::Fenced | Applied::PivotLost => tx.rollback().await?,
    }
    Ok(applied)
}

/// The snapshot after `t` committed, so a worker that goes on at once need not read it back.
pub(crate) fn advance_snapshot(loaded: &mut Loaded, t: &Transition, event_seq: i32) {
    let snapshot = &mut loaded.snapshot;
    if let Some(step) = &t.step {
        snapshot.steps.push(FinishedStep {
            node: step.node,
            direction: step.direction,
            input_rev: step.input_rev,
            outcome: step.outcome,
        });
    }
    if let Some(TaskChange::Open {
        id,
        node,
        input_rev,
        owner,
        deadline,
        ..
    }) = &t.task
    {
        snapshot.task = Some(TaskSnapshot {
            id: *id,
            node: *node,
            input_rev: *input_rev,
            state: TaskState::Open,
            owner: *owner,
            deadline: *deadline,
            note: String::new(),
        });
    }
    if snapshot.node != t.node {
        snapshot.task = snapshot.task.take().filter(|task| task.node == t.node);
    }
    snapshot.status = t.status;
    snapshot.node = t.node;
    snapshot.direction = t.direction;
    snapshot.past_pivot = t.past_pivot;
    snapshot.attempt = t.attempt;
    snapshot.state = t.state.clone();
    snapshot.wait = t.wait.clone();
    loaded.event_seq = event_seq;
}

/// Open sagas by kind and status, for `saga_active`. Statuses this release does not know are left
/// out rather than guessed.
pub(crate) async fn open_counts(db: &Db) -> Result<Vec<(SagaKind, SagaStatus, u64)>, OrdersError> {
    let conn = db.conn();
    let backend = conn.get_database_backend();
    let rows = conn
        .query_all_raw(statement(
            backend,
            "SELECT kind, status, count(*) AS n FROM saga WHERE finished_at IS NULL \
             GROUP BY kind, status",
            Vec::new(),
        ))
        .await?;
    let mut counts = Vec::with_capacity(rows.len());
    for row in &rows {
        let kind = SagaKind::parse(&column::<String>(row, "kind")?);
        let status = SagaStatus::parse(&column::<String>(row, "status")?);
        if let (Some(kind), Some(status)) = (kind, status) {
            counts.push((kind, status, unsigned(column::<i64>(row, "n")?)?));
        }
    }
    Ok(counts)
}
