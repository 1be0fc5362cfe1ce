//! What the store hands back and the questions it answers: orders with their saga's progress, the
//! steps and attempts of a timeline, manual tasks, and the filters of the listings. Plain domain
//! values, so the application layer and the API read them without knowing how they are stored.

use chrono::{DateTime, Utc};
use tenure_domain::AwsAccountId;
use uuid::Uuid;

use crate::domain::order::{OrderDetails, OrderKind, OrderStatus, TaskKind, TaskOwner, TaskState};
use crate::domain::saga::advance::SagaSnapshot;
use crate::domain::saga::definition::SagaKind;
use crate::domain::saga::state::{Direction, SagaStatus};

/// Whose rows a transaction may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// One tenant's.
    Tenant(Uuid),
    /// Every tenant's, read-only (operators, billing).
    AllTenants,
}

/// An order with the engine state that shows its progress.
#[derive(Debug, Clone)]
pub(crate) struct OrderRecord {
    pub(crate) id: Uuid,
    pub(crate) tenant_id: Uuid,
    pub(crate) kind: OrderKind,
    pub(crate) status: OrderStatus,
    pub(crate) status_key: String,
    pub(crate) aws_account_id: Option<AwsAccountId>,
    pub(crate) details: OrderDetails,
    pub(crate) failure_code: Option<String>,
    pub(crate) failure_message: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) finished_at: Option<DateTime<Utc>>,
    pub(crate) saga: SagaRecord,
    /// The satisfaction survey, once the order sent it.
    pub(crate) survey: Option<SurveyRecord>,
}

/// Where an order's satisfaction survey stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SurveyRecord {
    pub(crate) task_id: Uuid,
    pub(crate) state: TaskState,
    pub(crate) deadline: DateTime<Utc>,
    pub(crate) resolved_at: Option<DateTime<Utc>>,
    pub(crate) answer: Option<SurveyAnswer>,
}

/// The engine's side of an order.
#[derive(Debug, Clone)]
pub(crate) struct SagaRecord {
    pub(crate) snapshot: SagaSnapshot,
    pub(crate) kind: SagaKind,
    pub(crate) version: u32,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) finished_at: Option<DateTime<Utc>>,
    pub(crate) due_at: Option<DateTime<Utc>>,
    pub(crate) lease_owner: Option<String>,
}

/// What ListOrders and ListSagas filter on.
#[derive(Debug, Clone, Default)]
pub(crate) struct OrderFilter {
    pub(crate) tenant: Option<Uuid>,
    pub(crate) kinds: Vec<OrderKind>,
    pub(crate) statuses: Vec<OrderStatus>,
    pub(crate) saga_statuses: Vec<SagaStatus>,
    pub(crate) saga_kind: Option<SagaKind>,
    pub(crate) aws_account_id: Option<AwsAccountId>,
    pub(crate) created_after: Option<DateTime<Utc>>,
    pub(crate) created_before: Option<DateTime<Utc>>,
    /// Only sagas unchanged since then.
    pub(crate) unchanged_since: Option<DateTime<Utc>>,
}

/// How a listing is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListOrder {
    /// Newest order first (ListOrders).
    NewestFirst,
    /// Oldest saga change first (ListSagas: the longest unchanged come first).
    StalestFirst,
}

/// A finished step of a saga, for the timeline.
#[derive(Debug, Clone)]
pub(crate) struct StepRow {
    pub(crate) node: usize,
    pub(crate) direction: Direction,
    pub(crate) input_rev: i32,
    pub(crate) outcome: String,
    pub(crate) finished_at: DateTime<Utc>,
}

/// One recorded attempt.
#[derive(Debug, Clone)]
pub(crate) struct AttemptRow {
    pub(crate) node: usize,
    pub(crate) direction: Direction,
    pub(crate) attempt: u32,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) finished_at: DateTime<Utc>,
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) replica: String,
}

/// A task as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaskRecord {
    pub(crate) id: Uuid,
    pub(crate) tenant_id: Uuid,
    pub(crate) order_id: Uuid,
    pub(crate) node: usize,
    pub(crate) step: String,
    pub(crate) title: String,
    pub(crate) owner: TaskOwner,
    pub(crate) state: TaskState,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) deadline: DateTime<Utc>,
    pub(crate) resolved_at: Option<DateTime<Utc>>,
    pub(crate) resolved_by_subject: Option<String>,
    pub(crate) resolved_by_role: Option<String>,
    pub(crate) note: String,
    pub(crate) kind: TaskKind,
    /// False for a follow-up the order never waits for.
    pub(crate) blocks_order: bool,
    pub(crate) survey: Option<SurveyAnswer>,
}

/// A customer's answer to the satisfaction survey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SurveyAnswer {
    /// 1 to 5.
    pub(crate) score: u8,
    pub(crate) comment: String,
}
