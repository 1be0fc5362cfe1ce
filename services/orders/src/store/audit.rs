//! The audit trail of operators' actions on sagas (quality.md §1.8), written in the transaction of
//! the action. Ids, reasons and tickets only.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::domain::OrdersError;
use crate::store::statement;

/// One row of the trail.
#[derive(Debug, Clone)]
pub(crate) struct AuditRow {
    pub(crate) saga_id: Uuid,
    pub(crate) order_id: Uuid,
    pub(crate) tenant_id: Uuid,
    pub(crate) actor_subject: String,
    pub(crate) actor_role: String,
    /// The method, e.g. `AbortSaga`.
    pub(crate) action: String,
    pub(crate) reason: String,
    pub(crate) ticket: String,
}

/// Appends `row` with outcome `ok`; it commits or vanishes with the action it records.
pub(crate) async fn record(
    conn: &impl ConnectionTrait,
    row: &AuditRow,
    at: DateTime<Utc>,
) -> Result<(), OrdersError> {
    conn.execute_raw(statement(
        conn.get_database_backend(),
        "INSERT INTO saga_audit (saga_id, order_id, tenant_id, at, actor_subject, actor_role, \
         action, reason, ticket, outcome, trace_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         'ok', $10)",
        vec![
            row.saga_id.into(),
            row.order_id.into(),
            row.tenant_id.into(),
            at.into(),
            row.actor_subject.as_str().into(),
            row.actor_role.as_str().into(),
            row.action.as_str().into(),
            row.reason.as_str().into(),
            row.ticket.as_str().into(),
            tenure_telemetry::current_trace_id()
                .unwrap_or_default()
                .into(),
        ],
    ))
    .await?;
    Ok(())
}
