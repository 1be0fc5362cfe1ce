//! Peers of the accounts service, shaped as domain ports: data-purge, which it asks to schedule a tenant
//! purge after an unsubscribe, and to cancel a pending purge on a re-subscription or a reopen.
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
    /// No data-purge: for testing the accounts service alone. Unsubscribes and re-subscriptions are
    /// refused, since their purge could be neither scheduled nor cancelled; reopens record the reopen
    /// without cancelling anything.
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
        let request = PeerChannel::for_tenant(
            purge::SchedulePurgeRequest {
                idempotency_key: key,
                scope: Some(scope(tenant, None)),
                reason: purge::PurgeReason::TenantUnsubscribed as i32,
                triggered_at: Some(prost_types::Timestamp {
                    seconds: unsubscribed_at.timestamp(),
                    nanos: i32::try_from(unsubscribed_at.timestamp_subsec_nanos()).unwrap_or(0),
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
            .map(|purge| purge.id)
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
        let request = PeerChannel::for_tenant(
            purge::CancelPurgeRequest {
                idempotency_key: key,
                target: Some(purge::cancel_purge_request::Target::Scope(scope(
                    tenant, account,
                ))),
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
