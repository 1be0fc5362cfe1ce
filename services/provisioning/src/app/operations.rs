//! The operations of ProvisioningService: started once per idempotency key through the engine, read
//! back by their tenant, and the read-only AWS queries that are never journalled.

use chrono::{DateTime, Utc};
use tenure_domain::{AwsAccountId, IdempotencyKey};
use uuid::Uuid;

use crate::app::{Call, Provisioning};
use crate::domain::cloud::HandshakeAction;
use crate::domain::error::ProvisioningError;
use crate::domain::listing::OperationFilter;
use crate::domain::operation::{
    AccountSnapshot, HandshakeSnapshot, Operation, OperationRequest, TransferSnapshot,
};
use crate::operation_worker::{BootstrapCheck, StartCommand};

/// The operation a valid request starts.
pub(crate) enum Planned {
    /// Every account is known.
    Ready(OperationRequest),
    /// It runs as the management account recorded for `reference` (a member, `h-…` or `rt-…`).
    OwnerOf {
        reference: String,
        request: Box<dyn FnOnce(AwsAccountId) -> OperationRequest + Send>,
    },
}

impl Planned {
    pub(crate) fn owner_of(
        reference: &str,
        request: impl FnOnce(AwsAccountId) -> OperationRequest + Send + 'static,
    ) -> Self {
        Self::OwnerOf {
            reference: reference.to_owned(),
            request: Box::new(request),
        }
    }
}

/// The idempotency of a request that starts an operation. Unlike [`super::Idempotent`] it carries no
/// encoder: the journal row is the record, and a replay answers the operation as it stands, which is
/// what callers polling a long-running AWS change need, not the reply of the first call.
#[derive(Debug, Clone)]
pub(crate) struct OperationKey {
    pub(crate) key: IdempotencyKey,
    /// The hash of the request without its key, so that a replay under the same key matches.
    pub(crate) request_hash: Vec<u8>,
}

impl Call {
    /// `filter` narrowed to the caller's tenant: a tenant-bound caller lists its own operations only.
    pub(crate) fn narrow(&self, filter: OperationFilter) -> OperationFilter {
        OperationFilter {
            tenant_id: self.tenant_id,
            ..filter
        }
    }
}

impl Provisioning {
    /// Business time: the sandbox's simulated clock on the sandbox, else real time.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.engine.now()
    }

    /// Starts (or replays) the operation `planned` describes, resolving the management account it
    /// runs as first when the request names only a member or an AWS reference.
    pub(crate) async fn start(
        &self,
        call: &Call,
        idempotent: OperationKey,
        planned: Planned,
    ) -> Result<Operation, ProvisioningError> {
        let request = match planned {
            Planned::Ready(request) => request,
            Planned::OwnerOf { reference, request } => {
                request(self.engine.management_account_for(&reference).await?)
            }
        };
        self.engine
            .start(StartCommand {
                caller: call.caller.clone(),
                tenant_id: call.tenant_id,
                idempotency_key: idempotent.key.as_str().to_owned(),
                request_hash: idempotent.request_hash,
                request,
            })
            .await
    }

    /// The operation `id`, stepped first when it is due.
    pub(crate) async fn operation(
        &self,
        call: &Call,
        id: Uuid,
    ) -> Result<Operation, ProvisioningError> {
        let operation = self.engine.get(id).await?;
        // A tenant-bound caller sees only its tenant's operations, and a foreign id answers exactly
        // like a random one (quality.md §1.6).
        if call.tenant_id.is_some() && operation.tenant_id != call.tenant_id {
            return Err(ProvisioningError::NotFound("operation"));
        }
        Ok(operation)
    }

    /// Up to `limit` operations matching `filter`, newest first, narrowed to the caller's tenant.
    pub(crate) async fn operations(
        &self,
        call: &Call,
        filter: OperationFilter,
        limit: u64,
    ) -> Result<Vec<Operation>, ProvisioningError> {
        self.engine.list(&call.narrow(filter), limit).await
    }

    /// The account as AWS describes it now.
    pub(crate) async fn describe_account(
        &self,
        account: &AwsAccountId,
    ) -> Result<AccountSnapshot, ProvisioningError> {
        self.engine.describe_account(account).await
    }

    /// The handshake as AWS describes it now.
    pub(crate) async fn describe_handshake(
        &self,
        handshake_id: &str,
    ) -> Result<HandshakeSnapshot, ProvisioningError> {
        self.engine.describe_handshake(handshake_id).await
    }

    /// The handshakes `management` sent, narrowed by action and target when given.
    pub(crate) async fn list_handshakes(
        &self,
        management: &AwsAccountId,
        action: Option<HandshakeAction>,
        target: Option<&AwsAccountId>,
    ) -> Result<Vec<HandshakeSnapshot>, ProvisioningError> {
        self.engine
            .list_handshakes(management, action, target)
            .await
    }

    /// The billing transfer as AWS describes it now.
    pub(crate) async fn describe_billing_transfer(
        &self,
        transfer_id: &str,
    ) -> Result<TransferSnapshot, ProvisioningError> {
        self.engine.describe_billing_transfer(transfer_id).await
    }

    /// Whether the bootstrap role's stack is deployed in `account`.
    pub(crate) async fn check_bootstrap_role(
        &self,
        account: &AwsAccountId,
    ) -> Result<BootstrapCheck, ProvisioningError> {
        self.engine.check_bootstrap_role(account).await
    }
}
