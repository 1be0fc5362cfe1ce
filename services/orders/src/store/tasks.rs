//! Manual tasks: the steps operations staff or customers resolve.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Value};
use uuid::Uuid;

use crate::domain::OrdersError;
use crate::domain::order::{TaskKind, TaskOwner, TaskState};
use crate::domain::records::{SurveyAnswer, TaskRecord};
use crate::store::{column, statement, stored, time};

const TASK_COLUMNS: &str = "id, tenant_id, order_id, node, step, title, owner, state, created_at, \
                            deadline, resolved_at, resolved_by_subject, resolved_by_role, note, \
                            kind, blocks_order, survey_score, survey_comment";

fn task_record(row: &sea_orm::QueryResult) -> Result<TaskRecord, OrdersError> {
    Ok(TaskRecord {
        id: column(row, "id")?,
        tenant_id: column(row, "tenant_id")?,
        order_id: column(row, "order_id")?,
        node: crate::store::unsigned(i64::from(column::<i32>(row, "node")?))?,
        step: column(row, "step")?,
        title: column(row, "title")?,
        owner: stored(TaskOwner::parse(&column::<String>(row, "owner")?))?,
        state: stored(TaskState::parse(&column::<String>(row, "state")?))?,
        created_at: time(row, "created_at")?,
        deadline: time(row, "deadline")?,
        resolved_at: column(row, "resolved_at")?,
        resolved_by_subject: column(row, "resolved_by_subject")?,
        resolved_by_role: column(row, "resolved_by_role")?,
        note: column(row, "note")?,
        kind: stored(TaskKind::parse(&column::<String>(row, "kind")?))?,
        blocks_order: column(row, "blocks_order")?,
        survey: column::<Option<i32>>(row, "survey_score")?
            .map(|score| -> Result<SurveyAnswer, OrdersError> {
                Ok(SurveyAnswer {
                    score: u8::try_from(score).map_err(|_| {
                        OrdersError::internal("a stored survey score is out of range")
                    })?,
                    comment: column::<Option<String>>(row, "survey_comment")?.unwrap_or_default(),
                })
            })
            .transpose()?,
    })
}

/// One task, within what the transaction may see: a tenant's transaction finds only that tenant's.
pub(crate) async fn get(
    tx: &tenure_db::TenantTx,
    task_id: Uuid,
) -> Result<Option<TaskRecord>, OrdersError> {
    let mut values: Vec<Value> = vec![task_id.into()];
    let mut sql = format!("SELECT {TASK_COLUMNS} FROM order_task WHERE id = $1");
    if let Some(tenant) = tx.tenant_id() {
        values.push(tenant.into());
        sql.push_str(" AND tenant_id = $2");
    }
    tx.query_one_raw(statement(tx.get_database_backend(), &sql, values))
        .await?
        .map(|row| task_record(&row))
        .transpose()
}

/// What ListTasks filters on.
#[derive(Debug, Clone)]
pub(crate) struct TaskFilter {
    pub(crate) owner: TaskOwner,
    pub(crate) tenant: Option<Uuid>,
    pub(crate) state: TaskState,
    pub(crate) order: Option<Uuid>,
}

/// A page of tasks, oldest first.
pub(crate) async fn list(
    conn: &impl ConnectionTrait,
    filter: &TaskFilter,
    offset: u64,
    limit: u64,
) -> Result<Vec<TaskRecord>, OrdersError> {
    let mut values: Vec<Value> = vec![filter.owner.as_str().into(), filter.state.as_str().into()];
    let mut sql = format!("SELECT {TASK_COLUMNS} FROM order_task WHERE owner = $1 AND state = $2");
    if let Some(tenant) = filter.tenant {
        values.push(tenant.into());
        sql.push_str(&format!(" AND tenant_id = ${}", values.len()));
    }
    if let Some(order) = filter.order {
        values.push(order.into());
        sql.push_str(&format!(" AND order_id = ${}", values.len()));
    }
    values.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
    let limit = values.len();
    values.push(i64::try_from(offset).unwrap_or(i64::MAX).into());
    sql.push_str(&format!(
        " ORDER BY created_at, id LIMIT ${limit} OFFSET ${}",
        values.len()
    ));
    conn.query_all_raw(statement(conn.get_database_backend(), &sql, values))
        .await?
        .iter()
        .map(task_record)
        .collect()
}

/// How a person resolved a task.
#[derive(Debug, Clone)]
pub(crate) struct Resolution<'a> {
    pub(crate) state: TaskState,
    pub(crate) subject: &'a str,
    pub(crate) role: &'a str,
    pub(crate) note: &'a str,
    pub(crate) survey: Option<&'a SurveyAnswer>,
}

/// Resolves an open task; `false` when it was no longer open.
pub(crate) async fn resolve(
    conn: &impl ConnectionTrait,
    task_id: Uuid,
    resolution: &Resolution<'_>,
    now: DateTime<Utc>,
) -> Result<bool, OrdersError> {
    let updated = conn
        .execute_raw(statement(
            conn.get_database_backend(),
            "UPDATE order_task SET state = $1, resolved_at = $2, resolved_by_subject = $3, \
             resolved_by_role = $4, note = $5, survey_score = $6, survey_comment = $7 \
             WHERE id = $8 AND state = $9",
            vec![
                resolution.state.as_str().into(),
                now.into(),
                resolution.subject.into(),
                resolution.role.into(),
                resolution.note.into(),
                resolution
                    .survey
                    .map(|survey| i32::from(survey.score))
                    .into(),
                resolution
                    .survey
                    .map(|survey| survey.comment.clone())
                    .into(),
                task_id.into(),
                TaskState::Open.as_str().into(),
            ],
        ))
        .await?
        .rows_affected();
    Ok(updated == 1)
}

/// Follow-ups whose deadline passed while still open, oldest first: they expire without holding
/// anything up. Runs in the engine's reach, across tenants.
pub(crate) async fn due_follow_ups(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<TaskRecord>, OrdersError> {
    let sql = format!(
        "SELECT {TASK_COLUMNS} FROM order_task WHERE state = $1 AND blocks_order = $2 \
         AND deadline <= $3 ORDER BY deadline, id LIMIT $4"
    );
    conn.query_all_raw(statement(
        conn.get_database_backend(),
        &sql,
        vec![
            TaskState::Open.as_str().into(),
            false.into(),
            now.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    ))
    .await?
    .iter()
    .map(task_record)
    .collect()
}

/// Expires an open follow-up; `false` when it was resolved meanwhile.
pub(crate) async fn expire(
    conn: &impl ConnectionTrait,
    task_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, OrdersError> {
    let updated = conn
        .execute_raw(statement(
            conn.get_database_backend(),
            "UPDATE order_task SET state = $1, resolved_at = $2 WHERE id = $3 AND state = $4",
            vec![
                TaskState::Expired.as_str().into(),
                now.into(),
                task_id.into(),
                TaskState::Open.as_str().into(),
            ],
        ))
        .await?
        .rows_affected();
    Ok(updated == 1)
}

/// The tasks of one order, oldest first, for the timeline.
pub(crate) async fn of_order(
    conn: &impl ConnectionTrait,
    order_id: Uuid,
) -> Result<Vec<TaskRecord>, OrdersError> {
    let sql =
        format!("SELECT {TASK_COLUMNS} FROM order_task WHERE order_id = $1 ORDER BY created_at");
    conn.query_all_raw(statement(
        conn.get_database_backend(),
        &sql,
        vec![order_id.into()],
    ))
    .await?
    .iter()
    .map(task_record)
    .collect()
}

/// Cancels every open task of an order that holds it (it ended); follow-ups live on.
pub(crate) async fn cancel_open(
    conn: &impl ConnectionTrait,
    order_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), OrdersError> {
    conn.execute_raw(statement(
        conn.get_database_backend(),
        "UPDATE order_task SET state = $1, resolved_at = $2 WHERE order_id = $3 AND state = $4 \
         AND blocks_order = $5",
        vec![
            TaskState::Cancelled.as_str().into(),
            now.into(),
            order_id.into(),
            TaskState::Open.as_str().into(),
            true.into(),
        ],
    ))
    .await?;
    Ok(())
}
