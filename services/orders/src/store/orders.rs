//! Orders as placed and as they stand: creating one with its saga, finding a replay by its key, and
//! the reads behind GetOrder, ListOrders and the timeline.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Value};
use tenure_db::TenantTx;
use uuid::Uuid;

use crate::domain::OrdersError;
use crate::domain::order::{OrderDetails, OrderKind, OrderStatus, SagaInput, TaskState};
use crate::domain::records::{
    AttemptRow, ListOrder, OrderFilter, OrderRecord, SagaRecord, StepRow, SurveyAnswer,
    SurveyRecord,
};
use crate::domain::saga::advance::SagaSnapshot;
use crate::domain::saga::definition::SagaKind;
use crate::domain::saga::state::{Direction, SagaState, SagaStatus, WaitReason};
use crate::store::{
    account_column, column, json_column, optional_json_column, placeholders, statement, stored,
    time, to_json, unsigned,
};

/// A new order row.
#[derive(Debug, Clone)]
pub(crate) struct NewOrder {
    pub(crate) id: Uuid,
    pub(crate) tenant_id: Uuid,
    pub(crate) details: OrderDetails,
    pub(crate) placed_by: String,
    pub(crate) idempotency_key: String,
    pub(crate) request_hash: Vec<u8>,
    pub(crate) status_key: String,
    pub(crate) created_at: DateTime<Utc>,
}

/// Inserts the order row (its saga follows in the same transaction).
pub(crate) async fn insert(tx: &TenantTx, order: &NewOrder) -> Result<(), OrdersError> {
    tx.execute_raw(statement(
        tx.get_database_backend(),
        "INSERT INTO customer_order (id, tenant_id, kind, status, status_key, aws_account_id, \
         details, placed_by, idempotency_key, request_hash, failure_code, created_at, updated_at, \
         finished_at, failure_message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11, \
         $11, NULL, NULL)",
        vec![
            order.id.into(),
            order.tenant_id.into(),
            order.details.kind().as_str().into(),
            OrderStatus::Processing.as_str().into(),
            order.status_key.as_str().into(),
            order
                .details
                .primary_account()
                .map(|id| id.as_str().to_owned())
                .into(),
            to_json(&order.details)?.into(),
            order.placed_by.as_str().into(),
            order.idempotency_key.as_str().into(),
            order.request_hash.clone().into(),
            order.created_at.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The order a tenant placed under `key`, with the hash of the request that placed it.
pub(crate) async fn find_by_key(
    tx: &TenantTx,
    tenant_id: Uuid,
    key: &str,
) -> Result<Option<(Uuid, Vec<u8>)>, OrdersError> {
    let row = tx
        .query_one_raw(statement(
            tx.get_database_backend(),
            "SELECT id, request_hash FROM customer_order WHERE tenant_id = $1 \
             AND idempotency_key = $2",
            vec![tenant_id.into(), key.into()],
        ))
        .await?;
    row.map(|row| Ok((column(&row, "id")?, column(&row, "request_hash")?)))
        .transpose()
}

const ORDER_COLUMNS: &str = "o.id, o.tenant_id, o.kind, o.status AS order_status, o.status_key, \
     o.aws_account_id, o.details, o.failure_code, o.failure_message, o.created_at, o.updated_at, \
     o.finished_at, s.id AS saga_id, s.kind AS saga_kind, s.def_version, s.status AS saga_status, \
     s.node, s.direction, s.past_pivot, s.input, s.input_rev, s.state, s.attempt, s.wait_reason, \
     s.cancel_requested_at, s.deadline_at, s.created_at AS saga_created_at, \
     s.updated_at AS saga_updated_at, s.finished_at AS saga_finished_at, t.due_at, t.lease_owner, \
     sv.id AS survey_id, sv.state AS survey_state, sv.deadline AS survey_deadline, \
     sv.resolved_at AS survey_resolved_at, sv.survey_score, sv.survey_comment";

/// An order has at most one survey: its definition has one survey step, opened once.
const ORDER_FROM: &str = "customer_order o JOIN saga s ON s.order_id = o.id \
                          LEFT JOIN saga_task t ON t.saga_id = s.id \
                          LEFT JOIN order_task sv ON sv.order_id = o.id AND sv.kind = 'survey'";

fn order_record(row: &sea_orm::QueryResult) -> Result<OrderRecord, OrdersError> {
    let input: SagaInput = json_column(row, "input")?;
    let state: SagaState = json_column(row, "state")?;
    let wait: Option<WaitReason> = optional_json_column(row, "wait_reason")?;
    let cancel_requested_at: Option<DateTime<Utc>> = column(row, "cancel_requested_at")?;
    let id: Uuid = column(row, "id")?;
    let snapshot = SagaSnapshot {
        id: column(row, "saga_id")?,
        order_id: id,
        tenant_id: column(row, "tenant_id")?,
        status: stored(SagaStatus::parse(&column::<String>(row, "saga_status")?))?,
        node: unsigned(i64::from(column::<i32>(row, "node")?))?,
        direction: stored(Direction::parse(&column::<String>(row, "direction")?))?,
        past_pivot: column(row, "past_pivot")?,
        attempt: unsigned(i64::from(column::<i32>(row, "attempt")?))?,
        input,
        input_rev: column(row, "input_rev")?,
        state,
        wait,
        cancel_requested: cancel_requested_at.is_some(),
        deadline_at: time(row, "deadline_at")?,
        steps: Vec::new(),
        task: None,
    };
    Ok(OrderRecord {
        id,
        tenant_id: column(row, "tenant_id")?,
        kind: stored(OrderKind::parse(&column::<String>(row, "kind")?))?,
        status: stored(OrderStatus::parse(&column::<String>(row, "order_status")?))?,
        status_key: column(row, "status_key")?,
        aws_account_id: account_column(row, "aws_account_id")?,
        details: json_column(row, "details")?,
        failure_code: column(row, "failure_code")?,
        failure_message: column(row, "failure_message")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        finished_at: column(row, "finished_at")?,
        saga: SagaRecord {
            snapshot,
            kind: stored(SagaKind::parse(&column::<String>(row, "saga_kind")?))?,
            version: unsigned(i64::from(column::<i32>(row, "def_version")?))?,
            created_at: time(row, "saga_created_at")?,
            updated_at: time(row, "saga_updated_at")?,
            finished_at: column(row, "saga_finished_at")?,
            due_at: column(row, "due_at")?,
            lease_owner: column(row, "lease_owner")?,
        },
        survey: survey_record(row)?,
    })
}

fn survey_record(row: &sea_orm::QueryResult) -> Result<Option<SurveyRecord>, OrdersError> {
    let Some(task_id) = column::<Option<Uuid>>(row, "survey_id")? else {
        return Ok(None);
    };
    let answer = match column::<Option<i32>>(row, "survey_score")? {
        None => None,
        Some(score) => Some(SurveyAnswer {
            score: u8::try_from(score)
                .map_err(|_| OrdersError::internal("a stored survey score is out of range"))?,
            comment: column::<Option<String>>(row, "survey_comment")?.unwrap_or_default(),
        }),
    };
    Ok(Some(SurveyRecord {
        task_id,
        state: stored(TaskState::parse(&column::<String>(row, "survey_state")?))?,
        deadline: time(row, "survey_deadline")?,
        resolved_at: column(row, "survey_resolved_at")?,
        answer,
    }))
}

/// One order by id, within what the transaction may see: a tenant's transaction finds only that
/// tenant's orders (another tenant's answers `None`, like a missing one), whatever the database role.
pub(crate) async fn get(tx: &TenantTx, order_id: Uuid) -> Result<Option<OrderRecord>, OrdersError> {
    one_by(tx, "o.id", order_id).await
}

/// The order a saga runs, by saga id, within what the transaction may see.
pub(crate) async fn get_by_saga(
    tx: &TenantTx,
    saga_id: Uuid,
) -> Result<Option<OrderRecord>, OrdersError> {
    one_by(tx, "s.id", saga_id).await
}

async fn one_by(tx: &TenantTx, column: &str, id: Uuid) -> Result<Option<OrderRecord>, OrdersError> {
    let mut values: Vec<Value> = vec![id.into()];
    let mut sql = format!("SELECT {ORDER_COLUMNS} FROM {ORDER_FROM} WHERE {column} = $1");
    if let Some(tenant) = tx.tenant_id() {
        values.push(tenant.into());
        sql.push_str(" AND o.tenant_id = $2");
    }
    let row = tx
        .query_one_raw(statement(tx.get_database_backend(), &sql, values))
        .await?;
    row.map(|row| order_record(&row)).transpose()
}

/// A page of orders matching `filter`.
pub(crate) async fn list(
    conn: &impl ConnectionTrait,
    filter: &OrderFilter,
    sort: ListOrder,
    offset: u64,
    limit: u64,
) -> Result<Vec<OrderRecord>, OrdersError> {
    let mut values: Vec<Value> = Vec::new();
    let mut conditions: Vec<String> = Vec::new();
    let bind = |value: Value, values: &mut Vec<Value>| {
        values.push(value);
        format!("${}", values.len())
    };
    if let Some(tenant) = filter.tenant {
        conditions.push(format!(
            "o.tenant_id = {}",
            bind(tenant.into(), &mut values)
        ));
    }
    let list_of = |column: &str, names: Vec<&'static str>, values: &mut Vec<Value>| {
        if names.is_empty() {
            return None;
        }
        let first = values.len() + 1;
        let count = names.len();
        values.extend(names.into_iter().map(Value::from));
        Some(format!("{column} IN ({})", placeholders(first, count)))
    };
    conditions.extend(list_of(
        "o.kind",
        filter.kinds.iter().map(|kind| kind.as_str()).collect(),
        &mut values,
    ));
    conditions.extend(list_of(
        "o.status",
        filter
            .statuses
            .iter()
            .map(|status| status.as_str())
            .collect(),
        &mut values,
    ));
    conditions.extend(list_of(
        "s.status",
        filter
            .saga_statuses
            .iter()
            .map(|status| status.as_str())
            .collect(),
        &mut values,
    ));
    if let Some(kind) = filter.saga_kind {
        conditions.push(format!(
            "s.kind = {}",
            bind(kind.as_str().into(), &mut values)
        ));
    }
    if let Some(account) = &filter.aws_account_id {
        conditions.push(format!(
            "o.aws_account_id = {}",
            bind(account.as_str().into(), &mut values)
        ));
    }
    if let Some(after) = filter.created_after {
        conditions.push(format!(
            "o.created_at >= {}",
            bind(after.into(), &mut values)
        ));
    }
    if let Some(before) = filter.created_before {
        conditions.push(format!(
            "o.created_at < {}",
            bind(before.into(), &mut values)
        ));
    }
    if let Some(since) = filter.unchanged_since {
        conditions.push(format!(
            "s.updated_at <= {}",
            bind(since.into(), &mut values)
        ));
    }
    let limit = bind(i64::try_from(limit).unwrap_or(i64::MAX).into(), &mut values);
    let offset = bind(
        i64::try_from(offset).unwrap_or(i64::MAX).into(),
        &mut values,
    );
    let sort = match sort {
        ListOrder::NewestFirst => "o.created_at DESC, o.id DESC",
        ListOrder::StalestFirst => "s.updated_at ASC, s.id ASC",
    };
    let condition = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM {ORDER_FROM} {condition} ORDER BY {sort} LIMIT {limit} \
         OFFSET {offset}"
    );
    conn.query_all_raw(statement(conn.get_database_backend(), &sql, values))
        .await?
        .iter()
        .map(order_record)
        .collect()
}

/// The finished steps and recent attempts of a saga.
pub(crate) async fn history(
    conn: &impl ConnectionTrait,
    saga_id: Uuid,
) -> Result<(Vec<StepRow>, Vec<AttemptRow>), OrdersError> {
    let backend = conn.get_database_backend();
    let steps = conn
        .query_all_raw(statement(
            backend,
            "SELECT node, direction, input_rev, outcome, finished_at FROM saga_step \
             WHERE saga_id = $1 ORDER BY finished_at, node",
            vec![saga_id.into()],
        ))
        .await?
        .iter()
        .map(|row| {
            Ok(StepRow {
                node: unsigned(i64::from(column::<i32>(row, "node")?))?,
                direction: stored(Direction::parse(&column::<String>(row, "direction")?))?,
                input_rev: column(row, "input_rev")?,
                outcome: column(row, "outcome")?,
                finished_at: time(row, "finished_at")?,
            })
        })
        .collect::<Result<Vec<_>, OrdersError>>()?;
    let attempts = conn
        .query_all_raw(statement(
            backend,
            "SELECT node, direction, attempt, started_at, finished_at, code, message, replica \
             FROM saga_attempt WHERE saga_id = $1 ORDER BY finished_at DESC",
            vec![saga_id.into()],
        ))
        .await?
        .iter()
        .map(|row| {
            Ok(AttemptRow {
                node: unsigned(i64::from(column::<i32>(row, "node")?))?,
                direction: stored(Direction::parse(&column::<String>(row, "direction")?))?,
                attempt: unsigned(i64::from(column::<i32>(row, "attempt")?))?,
                started_at: time(row, "started_at")?,
                finished_at: time(row, "finished_at")?,
                code: column(row, "code")?,
                message: column(row, "message")?,
                replica: column(row, "replica")?,
            })
        })
        .collect::<Result<Vec<_>, OrdersError>>()?;
    Ok((steps, attempts))
}

/// Marks a saga changed by an action: the epoch moves (a worker's stale transition can no longer
/// commit), the lease is released and it is due now. Refused (`false`) while a live lease holds it,
/// so an action never races a call in flight.
pub(crate) async fn take_over(
    conn: &impl ConnectionTrait,
    saga_id: Uuid,
    now: DateTime<Utc>,
    real_now: DateTime<Utc>,
) -> Result<bool, OrdersError> {
    let updated = conn
        .execute_raw(statement(
            conn.get_database_backend(),
            "UPDATE saga_task SET lease_epoch = lease_epoch + 1, lease_owner = NULL, \
             lease_until = NULL, due_at = $1 WHERE saga_id = $2 \
             AND (lease_until IS NULL OR lease_until <= $3)",
            vec![now.into(), saga_id.into(), real_now.into()],
        ))
        .await?
        .rows_affected();
    Ok(updated == 1)
}

/// Makes a saga due now without touching its lease: a worker holding it sees the change on its next
/// look, and an idle one wakes at once.
pub(crate) async fn make_due(
    conn: &impl ConnectionTrait,
    saga_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), OrdersError> {
    conn.execute_raw(statement(
        conn.get_database_backend(),
        "UPDATE saga_task SET due_at = $1 WHERE saga_id = $2",
        vec![now.into(), saga_id.into()],
    ))
    .await?;
    Ok(())
}

/// The saga's columns an action changes, written only after [`take_over`] succeeded.
#[derive(Debug, Clone)]
pub(crate) struct SagaUpdate {
    pub(crate) status: SagaStatus,
    pub(crate) input: Option<(SagaInput, i32)>,
    pub(crate) state: SagaState,
    pub(crate) attempt: u32,
    pub(crate) wait: Option<WaitReason>,
    pub(crate) finished_at: Option<DateTime<Utc>>,
}

/// Writes an action's change to a saga and moves its event sequence past `added` events; returns
/// the new sequence.
pub(crate) async fn update_saga(
    conn: &impl ConnectionTrait,
    saga_id: Uuid,
    update: &SagaUpdate,
    added: i32,
    now: DateTime<Utc>,
) -> Result<i32, OrdersError> {
    let backend = conn.get_database_backend();
    if let Some((input, input_rev)) = &update.input {
        conn.execute_raw(statement(
            backend,
            "UPDATE saga SET input = $1, input_rev = $2 WHERE id = $3",
            vec![to_json(input)?.into(), (*input_rev).into(), saga_id.into()],
        ))
        .await?;
    }
    let row = conn
        .query_one_raw(statement(
            backend,
            "UPDATE saga SET status = $1, state = $2, attempt = $3, wait_reason = $4, \
             event_seq = event_seq + $5, updated_at = $6, finished_at = $7 WHERE id = $8 \
             RETURNING event_seq",
            vec![
                update.status.as_str().into(),
                to_json(&update.state)?.into(),
                i32::try_from(update.attempt).unwrap_or(i32::MAX).into(),
                update.wait.as_ref().map(to_json).transpose()?.into(),
                added.into(),
                now.into(),
                update.finished_at.into(),
                saga_id.into(),
            ],
        ))
        .await?
        .ok_or(OrdersError::internal("a saga disappeared during an action"))?;
    column(&row, "event_seq")
}

/// Records a cancellation request, which wins against the pivot only if it commits first (the row
/// lock decides, sagas.md §5.4). `false` when the saga passed the pivot or ended meanwhile.
pub(crate) async fn request_cancel(
    conn: &impl ConnectionTrait,
    saga_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, OrdersError> {
    let updated = conn
        .execute_raw(statement(
            conn.get_database_backend(),
            "UPDATE saga SET cancel_requested_at = COALESCE(cancel_requested_at, $1) \
             WHERE id = $2 AND past_pivot = $3 AND finished_at IS NULL",
            vec![now.into(), saga_id.into(), false.into()],
        ))
        .await?
        .rows_affected();
    Ok(updated == 1)
}

/// Moves the saga's event sequence past `added` events an action appends; returns the new sequence.
pub(crate) async fn reserve_events(
    conn: &impl ConnectionTrait,
    saga_id: Uuid,
    added: i32,
) -> Result<i32, OrdersError> {
    let row = conn
        .query_one_raw(statement(
            conn.get_database_backend(),
            "UPDATE saga SET event_seq = event_seq + $1 WHERE id = $2 RETURNING event_seq",
            vec![added.into(), saga_id.into()],
        ))
        .await?
        .ok_or(OrdersError::internal("a saga disappeared during an action"))?;
    column(&row, "event_seq")
}

/// Ends a saga at once (an operator's abort after the pivot): its run-queue row and locks go, its
/// order fails.
pub(crate) async fn end_order(
    conn: &impl ConnectionTrait,
    order_id: Uuid,
    saga_id: Uuid,
    status: OrderStatus,
    status_key: &str,
    failure: Option<(&str, &str)>,
    now: DateTime<Utc>,
) -> Result<(), OrdersError> {
    let backend = conn.get_database_backend();
    for (sql, values) in [
        (
            "DELETE FROM saga_task WHERE saga_id = $1",
            vec![Value::from(saga_id)],
        ),
        (
            "DELETE FROM saga_lock WHERE saga_id = $1",
            vec![Value::from(saga_id)],
        ),
        (
            "UPDATE customer_order SET status = $1, status_key = $2, failure_code = $3, \
             failure_message = $4, updated_at = $5, finished_at = $5 WHERE id = $6",
            vec![
                status.as_str().into(),
                status_key.into(),
                failure.map(|(code, _)| code.to_owned()).into(),
                failure.map(|(_, message)| message.to_owned()).into(),
                now.into(),
                order_id.into(),
            ],
        ),
    ] {
        conn.execute_raw(statement(backend, sql, values)).await?;
    }
    Ok(())
}

/// Every `kind@version` that open sagas run, for the readiness check of the version gate.
pub(crate) async fn open_definitions(
    conn: &impl ConnectionTrait,
) -> Result<Vec<String>, OrdersError> {
    let rows = conn
        .query_all_raw(statement(
            conn.get_database_backend(),
            "SELECT DISTINCT def_key FROM saga_task",
            Vec::new(),
        ))
        .await?;
    rows.iter().map(|row| column(row, "def_key")).collect()
}

/// Replaces the order's details with corrected input.
pub(crate) async fn update_details(
    conn: &impl ConnectionTrait,
    order_id: Uuid,
    details: &OrderDetails,
) -> Result<(), OrdersError> {
    conn.execute_raw(statement(
        conn.get_database_backend(),
        "UPDATE customer_order SET details = $1, aws_account_id = $2 WHERE id = $3",
        vec![
            to_json(details)?.into(),
            details
                .primary_account()
                .map(|id| id.as_str().to_owned())
                .into(),
            order_id.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// A tenant's orders in progress, as the caps of CreateOrder count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InFlight {
    /// New-account orders not finished.
    pub(crate) new_accounts: u64,
    /// Orders of every kind not finished.
    pub(crate) all: u64,
}

/// Makes the placing transactions of one tenant run one after the other from here to their commit,
/// so two orders cannot both count the cap's last place as free. PostgreSQL takes a transaction-level
/// advisory lock keyed on the tenant (another tenant colliding on the key only waits a moment);
/// SQLite's `BEGIN IMMEDIATE` already serializes every writer.
pub(crate) async fn lock_placing(tx: &TenantTx, tenant_id: Uuid) -> Result<(), OrdersError> {
    /// The advisory-lock class of order placing ("ORDS"), apart from any other lock of the database.
    const PLACING_LOCK_CLASS: i32 = 0x4f52_4453;
    if tx.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    let bytes = tenant_id.as_bytes();
    let tenant_key = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    tx.execute_raw(statement(
        sea_orm::DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1, $2)",
        vec![PLACING_LOCK_CLASS.into(), tenant_key.into()],
    ))
    .await?;
    Ok(())
}

/// How many orders `tenant_id` has in progress (through the `customer_order_open` partial index).
pub(crate) async fn in_flight(tx: &TenantTx, tenant_id: Uuid) -> Result<InFlight, OrdersError> {
    let row = tx
        .query_one_raw(statement(
            tx.get_database_backend(),
            "SELECT COUNT(*) AS total, \
             COALESCE(SUM(CASE WHEN kind = $2 THEN 1 ELSE 0 END), 0) AS new_accounts \
             FROM customer_order WHERE tenant_id = $1 AND finished_at IS NULL",
            vec![tenant_id.into(), OrderKind::NewAccount.as_str().into()],
        ))
        .await?
        .ok_or(OrdersError::internal("a count returned no row"))?;
    let count = |name: &str| -> Result<u64, OrdersError> {
        let value: i64 = column(&row, name)?;
        Ok(u64::try_from(value).unwrap_or(0))
    };
    Ok(InFlight {
        new_accounts: count("new_accounts")?,
        all: count("total")?,
    })
}
