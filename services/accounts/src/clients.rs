//! Peers of the accounts service, shaped as domain ports: data-purge, which it asks to schedule a tenant
//! purge after an unsubscribe and an account purge after a removal from the platform, and to cancel a
//! pending purge on a re-subscription, a reopen or a restore.
//!
//! Each call runs inside the accounts transaction of the change it belongs to, with an idempotency key
//! derived from the caller's key: a failure of data-purge rolls the change back, and a retry of the
//! same request reaches the same purge.

use chrono::{DateTime, Utc};
use tenure_domain::AwsAccountId;
use tenure_grpc::PeerChannel;
use tenure_proto::purge::v1 as purge;
use tenure_proto::purge::v1::purge_service_client::PurgeServiceClient;
use tonic::Code;
use uuid::Uuid;

use crate::domain::AccountsError;

/// How accounts reaches data-purge.
#[derive(Debug, Clone, Default)]
pub enum PurgePeer {
    /// The data-purge service, as every deployment runs it.
    Connected(PeerChannel),
    /// No data-purge: for testing the accounts service alone. Unsubscribes, re-subscriptions, removals
    /// from the platform and restores are refused, since their purge could be neither scheduled nor
    /// cancelled; reopens record the reopen without cancelling anything.
    #[default]
    Detached,
}

/// What cancelling a pending purge found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cancelled {
    /// No purge of the subject was pending.
    NothingPending,
    /// This purge was pending and will not run.
    Purge(String),
    /// The purge already began deleting; it cannot be stopped.
    AlreadyStarted,
}

/// A purge data-purge scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScheduledPurge {
    pub(crate) id: Uuid,
    /// When it runs.
    pub(crate) due_at: DateTime<Utc>,
}

/// The key of a call to data-purge on behalf of one accounts request: the same on every retry of that
/// request, and different for each subject and purpose.
pub(crate) fn derived_key(purpose: &str, subject: Uuid, client_key: &str) -> String {
    format!(
        "{purpose}-{}",
        Uuid::new_v5(&subject, client_key.as_bytes()).simple()
    )
}

fn scope(tenant: Uuid, account: Option<&AwsAccountId>) -> purge::PurgeScope {
    purge::PurgeScope {
        kind: if account.is_some() {
            purge::ScopeKind::Account as i32
        } else {
            purge::ScopeKind::Tenant as i32
        },
        tenant_id: tenant.to_string(),
        aws_account_id: account.map(|id| id.as_str().to_owned()).unwrap_or_default(),
    }
}

fn unavailable(status: tonic::Status) -> AccountsError {
    AccountsError::Unavailable(
        format!(
            "data-purge answered {:?}: {}",
            status.code(),
            status.message()
        )
        .into(),
    )
}

impl PurgePeer {
    fn client(&self) -> Result<PurgeServiceClient<PeerChannel>, AccountsError> {
        match self {
            PurgePeer::Connected(channel) => Ok(PurgeServiceClient::new(channel.clone())),
            PurgePeer::Detached => Err(AccountsError::NeedsPurgeService),
        }
    }

    /// Schedules the purge of a whole tenant, 30 days after `unsubscribed_at`; the purge's id.
    pub(crate) async fn schedule_tenant_purge(
        &self,
        tenant: Uuid,
        unsubscribed_at: DateTime<Utc>,
        key: String,
    ) -> Result<String, AccountsError> {
        let purge = self
            .schedule(
                tenant,
                None,
                purge::PurgeReason::TenantUnsubscribed,
                unsubscribed_at,
                key,
            )
            .await?;
        Ok(purge.id)
    }

    /// Schedules the purge of one account's data after its removal from the platform at `removed_at`.
    /// Data-purge answers a scope that already has a pending purge with that purge.
    pub(crate) async fn schedule_account_purge(
        &self,
        tenant: Uuid,
        account: &AwsAccountId,
        removed_at: DateTime<Utc>,
        key: String,
    ) -> Result<ScheduledPurge, AccountsError> {
        let purge = self
            .schedule(
                tenant,
                Some(account),
                purge::PurgeReason::AccountRemoved,
                removed_at,
                key,
            )
            .await?;
        let id = Uuid::try_parse(&purge.id)
            .map_err(|_| AccountsError::internal("data-purge answered a malformed purge id"))?;
        let due_at = purge
            .due_at
            .and_then(|at| {
                DateTime::from_timestamp(at.seconds, u32::try_from(at.nanos).unwrap_or(0))
            })
            .ok_or_else(|| {
                AccountsError::internal("data-purge answered a purge without a due time")
            })?;
        Ok(ScheduledPurge { id, due_at })
    }

    async fn schedule(
        &self,
        tenant: Uuid,
        account: Option<&AwsAccountId>,
        reason: purge::PurgeReason,
        triggered_at: DateTime<Utc>,
        key: String,
    ) -> Result<purge::Purge, AccountsError> {
        let request = PeerChannel::for_tenant(
            purge::SchedulePurgeRequest {
                idempotency_key: key,
                scope: Some(scope(tenant, account)),
                reason: reason as i32,
                triggered_at: Some(prost_types::Timestamp {
                    seconds: triggered_at.timestamp(),
                    nanos: i32::try_from(triggered_at.timestamp_subsec_nanos()).unwrap_or(0),
                }),
                ticket: String::new(),
            },
            tenant,
        );
        let response = self
            .client()?
            .schedule_purge(request)
            .await
            .map_err(unavailable)?;
        response
            .into_inner()
            .purge
            .ok_or_else(|| AccountsError::internal("data-purge scheduled no purge"))
    }

    /// Cancels the pending purge of a tenant or one of its accounts.
    pub(crate) async fn cancel_pending(
        &self,
        tenant: Uuid,
        account: Option<&AwsAccountId>,
        key: String,
        reason: &str,
    ) -> Result<Cancelled, AccountsError> {
        let target = purge::cancel_purge_request::Target::Scope(scope(tenant, account));
        self.cancel(tenant, target, key, reason).await
    }

    /// Cancels purge `purge_id` of `tenant`; one already cancelled stays cancelled.
    pub(crate) async fn cancel_purge(
        &self,
        tenant: Uuid,
        purge_id: Uuid,
        key: String,
        reason: &str,
    ) -> Result<Cancelled, AccountsError> {
        let target = purge::cancel_purge_request::Target::PurgeId(purge_id.to_string());
        self.cancel(tenant, target, key, reason).await
    }

    async fn cancel(
        &self,
        tenant: Uuid,
        target: purge::cancel_purge_request::Target,
        key: String,
        reason: &str,
    ) -> Result<Cancelled, AccountsError> {
        let request = PeerChannel::for_tenant(
            purge::CancelPurgeRequest {
                idempotency_key: key,
                target: Some(target),
                reason: reason.to_owned(),
            },
            tenant,
        );
        match self.client()?.cancel_purge(request).await {
            Ok(response) => Ok(match response.into_inner().purge {
                Some(purge) => Cancelled::Purge(purge.id),
                None => Cancelled::NothingPending,
            }),
            Err(status) if status.code() == Code::FailedPrecondition => {
                Ok(Cancelled::AlreadyStarted)
            }
            Err(status) => Err(unavailable(status)),
        }
    }
}
