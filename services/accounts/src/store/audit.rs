//! The audit trail of privileged actions (quality.md §1.8), written in the transaction of the action.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait as _, ActiveValue, Set};
use tenure_db::TenantTx;

use crate::domain::{AccountsError, Audit};
use crate::store::entity::audit_event;

/// Appends one row with outcome `ok`; the row commits or vanishes with the action it records.
pub(crate) async fn record(
    tx: &TenantTx,
    audit: &Audit,
    at: DateTime<Utc>,
) -> Result<(), AccountsError> {
    audit_event::ActiveModel {
        id: ActiveValue::NotSet,
        at: Set(at),
        actor_subject: Set(audit.actor_subject.clone()),
        actor_role: Set(audit.actor_role.to_owned()),
        target_tenant: Set(audit.target_tenant),
        action: Set(audit.action.to_owned()),
        target_kind: Set(audit.target_kind.to_owned()),
        target_id: Set(audit.target_id.clone()),
        reason: Set(audit.reason.clone()),
        ticket: Set(audit.ticket.clone()),
        outcome: Set("ok".to_owned()),
    }
    .insert(&**tx)
    .await?;
    Ok(())
}
