//! What a listing of the operation journal asks for, as the use cases narrow it and the store reads it.

use chrono::{DateTime, Utc};
use tenure_domain::AwsAccountId;
use uuid::Uuid;

use crate::domain::operation::{OperationKind, OperationState};

/// Filters of ListOperations.
#[derive(Debug, Clone, Default)]
pub(crate) struct OperationFilter {
    pub(crate) tenant_id: Option<Uuid>,
    pub(crate) aws_account_id: Option<AwsAccountId>,
    pub(crate) kind: Option<OperationKind>,
    pub(crate) state: Option<OperationState>,
    /// Keyset position: operations strictly older than this (created_at, id).
    pub(crate) before: Option<(DateTime<Utc>, Uuid)>,
}
