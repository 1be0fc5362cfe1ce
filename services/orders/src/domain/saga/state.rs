//! What a saga remembers between steps: its status, the outputs later steps need, an open query, and
//! the events and records a transition writes.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenure_domain::AwsAccountId;
use uuid::Uuid;

use crate::domain::order::{Failure, InputField, OrderStatus, Relationship};

tenure_domain::stored_enums! {
    /// Where a saga stands (sagas.md §3.1).
    SagaStatus {
        Running => "running",
        Waiting => "waiting",
        Querying => "querying",
        Manual => "manual",
        Compensating => "compensating",
        CompensationStuck => "compensation_stuck",
        Blocked => "blocked",
        Completed => "completed",
        Compensated => "compensated",
        Cancelled => "cancelled",
        Aborted => "aborted",
    }
    /// Forward or undoing.
    Direction { Do => "do", Undo => "undo" }
    /// How a finished step ended.
    StepOutcomeKind {
        Done => "done",
        Skipped => "skipped",
        SkippedByOperator => "skipped_by_operator",
    }
    /// Where an account's invitation into the platform organization stands, as a query shows it
    /// (stored and answered in AWS's spelling of a handshake state; `NoHandshake`, stored as `""`,
    /// when the invitation itself did not go out).
    InvitationState {
        NoHandshake => "",
        Open => "OPEN",
        Declined => "DECLINED",
        Expired => "EXPIRED",
    }
}

impl SagaStatus {
    /// True once the saga can no longer change.
    pub(crate) fn is_terminal(self) -> bool {
        matches!(
            self,
            SagaStatus::Completed
                | SagaStatus::Compensated
                | SagaStatus::Cancelled
                | SagaStatus::Aborted
        )
    }

    /// The order status this saga status shows as.
    pub(crate) fn order_status(self) -> OrderStatus {
        match self {
            SagaStatus::Querying => OrderStatus::Querying,
            SagaStatus::Completed => OrderStatus::Completed,
            SagaStatus::Compensated | SagaStatus::Aborted => OrderStatus::Failed,
            SagaStatus::Cancelled => OrderStatus::Cancelled,
            _ => OrderStatus::Processing,
        }
    }
}

/// Why a saga compensates, which decides how it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EndCause {
    /// A step failed: the order ends failed.
    Failed,
    /// The customer or an operator cancelled: the order ends cancelled.
    Cancelled,
}

/// How a query ends (domain.md §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum QueryResume {
    /// The order resumes when the customer answers.
    CustomerInput,
    /// The customer acts in AWS; the next check that shows progress resumes the order.
    Automatic,
}

/// One account a query is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QueryItem {
    pub(crate) aws_account_id: AwsAccountId,
    pub(crate) state: InvitationState,
    pub(crate) detail: String,
}

/// What a querying order needs from the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Query {
    pub(crate) id: Uuid,
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) editable_fields: Vec<InputField>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) items: Vec<QueryItem>,
    pub(crate) resume: QueryResume,
    pub(crate) deadline: DateTime<Utc>,
    /// The node that asked.
    pub(crate) node: usize,
}

/// The customer's answer to a query, recorded by the API for the engine to act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QueryAnswer {
    pub(crate) query_id: Uuid,
    /// The input fields the answer changed; empty for a confirmation.
    pub(crate) changed: Vec<InputField>,
}

/// What an account record the order reserved is filed under: its AWS account id, or the new account
/// before AWS assigned one. Stored as the id, and the new account as `""`; the variants' order is
/// the stored keys' order, so stored maps keep theirs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum RecordKey {
    NewAccount,
    Account(AwsAccountId),
}

impl RecordKey {
    /// The stored spelling, which idempotency keys are also derived from.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            RecordKey::NewAccount => "",
            RecordKey::Account(id) => id.as_str(),
        }
    }
}

impl Serialize for RecordKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RecordKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        if stored.is_empty() {
            return Ok(RecordKey::NewAccount);
        }
        AwsAccountId::parse(&stored)
            .map(RecordKey::Account)
            .map_err(|problem| serde::de::Error::custom(problem.description))
    }
}

/// A billing transfer the order sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TransferFacts {
    pub(crate) id: String,
    pub(crate) handshake_id: String,
    pub(crate) start_at: DateTime<Utc>,
    pub(crate) accept_by: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expires_at: Option<DateTime<Utc>>,
}

/// The purge a termination scheduled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PurgeFacts {
    pub(crate) id: Uuid,
    pub(crate) due_at: DateTime<Utc>,
}

/// The outputs later steps read, and the engine's own bookkeeping. Every field is optional so that a
/// step's output is a value of the same type (a patch) that [`SagaState::merge`] folds in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct SagaState {
    /// The platform organization (its management account) the order acts in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) management_account_id: Option<AwsAccountId>,
    /// The AWS account a new-account order created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) aws_account_id: Option<AwsAccountId>,
    /// The account records the order reserved, by AWS account id.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) records: BTreeMap<RecordKey, Uuid>,
    /// The handshake of each invited account.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) handshakes: BTreeMap<AwsAccountId, String>,
    /// The accounts invited a second time after their first invitation expired (E4 does it once).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub(crate) reinvited: BTreeSet<AwsAccountId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) transfer: Option<TransferFacts>,
    /// The provisioning operation each node follows, by node index: an undo of a call still in
    /// progress finds what it started.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) operations: BTreeMap<String, Uuid>,
    /// The close operation a termination follows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) close_operation_id: Option<Uuid>,
    /// When the account left the platform (closure, removal or the end of a billing transfer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) removed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) closed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reopen_until: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) billing_ends_at: Option<DateTime<Utc>>,
    /// A billing transfer withdrawn before it started: the account leaves without ever being billed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) never_billed: bool,
    /// The relationship the offboarding recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) offboarding: Option<Relationship>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) purge: Option<PurgeFacts>,
    /// Instants computed once when a timer node was entered, by node name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) timers: BTreeMap<String, DateTime<Utc>>,
    /// When the current wait began, for its deadline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) waiting_since: Option<DateTime<Utc>>,
    /// The open query.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) query: Option<Query>,
    /// The customer's answer to it, not yet acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) answer: Option<QueryAnswer>,
    /// Why the saga compensates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cause: Option<EndCause>,
    /// What failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) failure: Option<Failure>,
    /// Compensation stops at this node and the saga runs forward again from it (corrected input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rewind_to: Option<usize>,
    /// The last error a retried or blocked step saw, for the timeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_error: Option<StepError>,
    /// The catalogue notice shown while a step is deferred or retried (TNR402, TNR403, TNR901…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) notice: Option<String>,
    /// The forward step whose effect started but has not finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) in_flight: Option<StartedStep>,
}

/// A forward step that started an effect with an undo and has not finished: compensation undoes it
/// too, since its effect may exist (sagas.md §5.4: an in-flight call finishes first, then compensates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StartedStep {
    pub(crate) node: usize,
    pub(crate) input_rev: i32,
}

/// The last error of a step, safe to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StepError {
    pub(crate) node: usize,
    pub(crate) code: String,
    pub(crate) message: String,
}

impl SagaState {
    /// Folds a step's output in: its set fields replace, its maps extend.
    pub(crate) fn merge(&mut self, patch: SagaState) {
        fn take<T>(target: &mut Option<T>, value: Option<T>) {
            if value.is_some() {
                *target = value;
            }
        }
        take(&mut self.management_account_id, patch.management_account_id);
        take(&mut self.aws_account_id, patch.aws_account_id);
        self.records.extend(patch.records);
        self.handshakes.extend(patch.handshakes);
        self.reinvited.extend(patch.reinvited);
        self.operations.extend(patch.operations);
        take(&mut self.transfer, patch.transfer);
        take(&mut self.close_operation_id, patch.close_operation_id);
        take(&mut self.removed_at, patch.removed_at);
        take(&mut self.closed_at, patch.closed_at);
        take(&mut self.reopen_until, patch.reopen_until);
        take(&mut self.billing_ends_at, patch.billing_ends_at);
        self.never_billed |= patch.never_billed;
        take(&mut self.offboarding, patch.offboarding);
        take(&mut self.purge, patch.purge);
        self.timers.extend(patch.timers);
        take(&mut self.waiting_since, patch.waiting_since);
        take(&mut self.query, patch.query);
        take(&mut self.answer, patch.answer);
        take(&mut self.cause, patch.cause);
        take(&mut self.failure, patch.failure);
        take(&mut self.rewind_to, patch.rewind_to);
        take(&mut self.last_error, patch.last_error);
        take(&mut self.notice, patch.notice);
    }
}

/// Why a non-terminal saga waits; every open saga has one (sagas.md C2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WaitReason {
    /// `run`, `aws_poll`, `signal`, `retry_backoff`, `deferred`, `timer`, `manual_task`, `query`,
    /// `compensation_stuck`, `blocked`, `operator`.
    pub(crate) kind: String,
    /// The node it waits in.
    pub(crate) node: usize,
    pub(crate) since: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) until: Option<DateTime<Utc>>,
    /// A short explanation with no personal data.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) detail: String,
}

/// The business events a definition emits (domain.md §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// `account.activated` for every account the order activated.
    AccountActivated,
    /// `account.closed`, `account.unlink_scheduled` or `account.unlinked`, as the offboarding ended.
    AccountOffboarded,
    /// `purge.scheduled`.
    PurgeScheduled,
    /// A synthetic event for engine tests and benchmarks (`probe.reached`).
    #[cfg_attr(
        not(any(test, feature = "bench")),
        expect(
            dead_code,
            reason = "only engine tests and the benchmark build synthetic steps"
        )
    )]
    Probe,
}

/// The payload of an order event; ids, codes and timestamps only, never emails or names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub(crate) enum EventPayload {
    #[serde(rename = "order.placed")]
    OrderPlaced {
        kind: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        aws_account_id: Option<AwsAccountId>,
    },
    #[serde(rename = "order.status_changed")]
    OrderStatusChanged {
        from: OrderStatus,
        to: OrderStatus,
        status_key: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        code: String,
    },
    #[serde(rename = "account.activated")]
    AccountActivated {
        aws_account_id: AwsAccountId,
        relationship: Relationship,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        billing_starts_at: Option<DateTime<Utc>>,
    },
    #[serde(rename = "account.unlink_scheduled")]
    AccountUnlinkScheduled {
        aws_account_id: AwsAccountId,
        billing_ends_at: DateTime<Utc>,
    },
    #[serde(rename = "account.unlinked")]
    AccountUnlinked {
        aws_account_id: AwsAccountId,
        /// The account left before its billing transfer started.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        never_billed: bool,
    },
    #[serde(rename = "account.closed")]
    AccountClosed {
        aws_account_id: AwsAccountId,
        closed_at: DateTime<Utc>,
        reopen_until: DateTime<Utc>,
    },
    #[serde(rename = "purge.scheduled")]
    PurgeScheduled {
        purge_id: Uuid,
        aws_account_id: AwsAccountId,
        due_at: DateTime<Utc>,
    },
    #[serde(rename = "operator.action_taken")]
    OperatorActionTaken {
        action: String,
        actor_subject: String,
        actor_role: String,
        ticket: String,
    },
    #[serde(rename = "task.opened")]
    TaskOpened {
        task_id: Uuid,
        step: String,
        owner: crate::domain::order::TaskOwner,
    },
    #[serde(rename = "task.resolved")]
    TaskResolved {
        task_id: Uuid,
        step: String,
        owner: crate::domain::order::TaskOwner,
        state: crate::domain::order::TaskState,
    },
    #[serde(rename = "survey.answered")]
    SurveyAnswered { task_id: Uuid, score: u8 },
    #[serde(rename = "survey.not_answered")]
    SurveyNotAnswered {
        task_id: Uuid,
        state: crate::domain::order::TaskState,
    },
    #[serde(rename = "probe.reached")]
    ProbeReached { node: usize },
}

impl EventPayload {
    /// The event type as the stream names it.
    pub(crate) fn event_type(&self) -> &'static str {
        match self {
            EventPayload::OrderPlaced { .. } => "order.placed",
            EventPayload::OrderStatusChanged { .. } => "order.status_changed",
            EventPayload::AccountActivated { .. } => "account.activated",
            EventPayload::AccountUnlinkScheduled { .. } => "account.unlink_scheduled",
            EventPayload::AccountUnlinked { .. } => "account.unlinked",
            EventPayload::AccountClosed { .. } => "account.closed",
            EventPayload::PurgeScheduled { .. } => "purge.scheduled",
            EventPayload::OperatorActionTaken { .. } => "operator.action_taken",
            EventPayload::TaskOpened { .. } => "task.opened",
            EventPayload::TaskResolved { .. } => "task.resolved",
            EventPayload::SurveyAnswered { .. } => "survey.answered",
            EventPayload::SurveyNotAnswered { .. } => "survey.not_answered",
            EventPayload::ProbeReached { .. } => "probe.reached",
        }
    }
}

/// An event a transition appends. The store numbers it in the order's sequence and derives its id
/// from that number, so a transition redone after a lost commit writes the same id (sagas.md §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventDraft {
    pub(crate) effective_at: DateTime<Utc>,
    pub(crate) payload: EventPayload,
}

impl SagaState {
    /// The state without AWS identifiers or the customer's data, for a purge: what remains says how
    /// the saga ended (its cause, its failure code and dates) and nothing about whom.
    pub(crate) fn without_aws_data(&self) -> SagaState {
        SagaState {
            management_account_id: None,
            aws_account_id: None,
            records: BTreeMap::new(),
            handshakes: BTreeMap::new(),
            operations: BTreeMap::new(),
            transfer: None,
            close_operation_id: None,
            query: None,
            answer: None,
            last_error: None,
            ..self.clone()
        }
    }

    /// [`SagaState::without_aws_data`], and the failure message (it may quote an operator's note)
    /// emptied too: what a tenant purge leaves.
    pub(crate) fn pseudonymised(&self) -> SagaState {
        let mut state = self.without_aws_data();
        if let Some(failure) = &mut state.failure {
            failure.message.clear();
        }
        state
    }
}
