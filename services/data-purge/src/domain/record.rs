//! The records the service keeps: purges, legal holds and the events of the purge stream, as the use
//! cases see them.

use chrono::{DateTime, Utc};
use tenure_domain::{AwsAccountId, CallerRole};
use uuid::Uuid;

use crate::domain::{DataClass, PurgeReason, PurgeState, Scope, ScopeKind, TableCount};

/// One purge request and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Purge {
    pub(crate) id: Uuid,
    pub(crate) scope: Scope,
    pub(crate) reason: PurgeReason,
    pub(crate) state: PurgeState,
    pub(crate) classes: Vec<DataClass>,
    /// The support ticket of a support request.
    pub(crate) ticket: Option<String>,
    pub(crate) requested_at: DateTime<Utc>,
    pub(crate) triggered_at: DateTime<Utc>,
    pub(crate) due_at: DateTime<Utc>,
    pub(crate) deadline: DateTime<Utc>,
    pub(crate) started_at: Option<DateTime<Utc>>,
    pub(crate) completed_at: Option<DateTime<Utc>>,
    pub(crate) cancelled_at: Option<DateTime<Utc>>,
    pub(crate) expedite_ticket: Option<String>,
    /// The plan made when execution started; execution and the receipt follow it.
    pub(crate) plan: Option<Vec<TableCount>>,
    pub(crate) manifest_hash: Option<String>,
    pub(crate) receipt_id: Option<Uuid>,
    /// The fencing token of the latest claim.
    pub(crate) claim_epoch: i64,
    /// Rows the last verification found.
    pub(crate) residual_rows: u64,
    /// Why the last attempt stopped, in fixed words (no personal data).
    pub(crate) last_error: Option<String>,
    /// Every legal hold that ever blocked it.
    pub(crate) holds: Vec<Uuid>,
}

impl Purge {
    /// True once execution began: some rows may be gone.
    pub(crate) fn started(&self) -> bool {
        self.started_at.is_some()
    }
}

/// Who did something, by token subject and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Actor {
    pub(crate) subject: String,
    pub(crate) role: CallerRole,
}

impl Actor {
    /// The stored name of the role.
    pub(crate) fn role_name(&self) -> &'static str {
        match self.role {
            CallerRole::Customer => "customer",
            CallerRole::Operator => "operator",
            CallerRole::Billing => "billing",
            CallerRole::Service => "service",
        }
    }

    /// An actor read back from its stored subject and role name.
    pub(crate) fn stored(subject: String, role: &str) -> Option<Self> {
        let role = match role {
            "customer" => CallerRole::Customer,
            "operator" => CallerRole::Operator,
            "billing" => CallerRole::Billing,
            "service" => CallerRole::Service,
            _ => return None,
        };
        Some(Self { subject, role })
    }

    /// The purge worker acting on its own schedule.
    pub(crate) fn worker() -> Self {
        Self {
            subject: "svc:data-purge".to_owned(),
            role: CallerRole::Service,
        }
    }
}

/// A legal hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LegalHold {
    pub(crate) id: Uuid,
    pub(crate) scope: Scope,
    pub(crate) reason: String,
    pub(crate) ticket: String,
    pub(crate) placed_by: Actor,
    pub(crate) placed_at: DateTime<Utc>,
    pub(crate) released_by: Option<Actor>,
    pub(crate) released_at: Option<DateTime<Utc>>,
}

/// One transition for the audit trail (G11): actor, reason and trace id, never personal data.
#[derive(Debug, Clone)]
pub(crate) struct Transition<'a> {
    pub(crate) from: Option<PurgeState>,
    pub(crate) to: PurgeState,
    pub(crate) event: &'a str,
    pub(crate) actor: &'a Actor,
    pub(crate) reason: Option<&'a str>,
    pub(crate) ticket: Option<&'a str>,
}

/// What a list of purges is narrowed to.
#[derive(Debug, Clone, Default)]
pub(crate) struct PurgeFilter {
    pub(crate) tenant: Option<Uuid>,
    pub(crate) states: Vec<PurgeState>,
    pub(crate) account: Option<AwsAccountId>,
}

/// One event on the purge stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PurgeStreamEvent {
    pub(crate) position: u64,
    pub(crate) event_id: Uuid,
    pub(crate) purge_id: Uuid,
    pub(crate) tenant_id: Uuid,
    pub(crate) event_type: &'static str,
    pub(crate) effective_at: DateTime<Utc>,
    pub(crate) recorded_at: DateTime<Utc>,
    pub(crate) scope_kind: ScopeKind,
    pub(crate) aws_account_id: Option<AwsAccountId>,
    pub(crate) classes: Vec<DataClass>,
    pub(crate) due_at: Option<DateTime<Utc>>,
    pub(crate) receipt_id: Option<Uuid>,
    pub(crate) traceparent: Option<(String, String)>,
}

/// The version of the event payload.
pub(crate) const SCHEMA_VERSION: i32 = 1;
