//! The read-only RPCs: one AWS read each, never persisted as operations.

use chrono::{DateTime, Utc};
use tenure_domain::AwsAccountId;

use super::steps::{account_snapshot, handshake_snapshot, not_in_organization, transfer_snapshot};
use super::{BOOTSTRAP_STACK_NAME, OperationWorker};
use crate::domain::cloud::{CloudError, HandshakeAction};
use crate::domain::error::ProvisioningError;
use crate::domain::operation::{
    AccountSnapshot, HandshakeSnapshot, StackSnapshot, TransferSnapshot,
};
use crate::domain::reaction::{Api, Reaction, react};

/// An account's state, NOT_IN_ORGANIZATION included.
pub(crate) type AccountView = AccountSnapshot;

/// A billing transfer with its handshake's expiry.
pub(crate) type TransferView = TransferSnapshot;

/// The outcome of CheckBootstrapRole.
#[derive(Debug, Clone)]
pub(crate) struct BootstrapCheck {
    pub(crate) deployed: bool,
    pub(crate) stack: Option<StackSnapshot>,
    pub(crate) checked_at: DateTime<Utc>,
}

/// A read's error: transient answers are UNAVAILABLE, the rest are AWS's refusal.
fn read_failed(api: Api, error: CloudError) -> ProvisioningError {
    match react(api, &error, 0) {
        Reaction::Retry { .. } => ProvisioningError::Unavailable(Box::new(error)),
        _ => ProvisioningError::Rejected {
            aws_code: error
                .code
                .clone()
                .unwrap_or_else(|| "UnknownError".to_owned()),
            message: "AWS rejected the call".to_owned(),
        },
    }
}

impl OperationWorker {
    /// DescribeAccount, with AccountNotFoundException read as NOT_IN_ORGANIZATION.
    pub(crate) async fn describe_account(
        &self,
        account: &AwsAccountId,
    ) -> Result<AccountView, ProvisioningError> {
        let management = self.management_account_for(account.as_str()).await?;
        match self.cloud().describe_account(&management, account).await {
            Ok(description) => Ok(account_snapshot(&description)),
            Err(error) if error.is("AccountNotFoundException") => Ok(not_in_organization(account)),
            Err(error) => Err(read_failed(Api::DescribeAccount, error)),
        }
    }

    /// DescribeHandshake.
    pub(crate) async fn describe_handshake(
        &self,
        handshake_id: &str,
    ) -> Result<HandshakeSnapshot, ProvisioningError> {
        let management = self.management_account_for(handshake_id).await?;
        match self
            .cloud()
            .describe_handshake(&management, handshake_id)
            .await
        {
            Ok(handshake) => {
                let snapshot = handshake_snapshot(&handshake);
                self.store()
                    .record_observation(&snapshot.id, &snapshot)
                    .await?;
                Ok(snapshot)
            }
            // AWS stops showing a terminal handshake after 30 days; Tenure still knows how it ended.
            Err(error) if error.is("HandshakeNotFoundException") => self
                .store()
                .observation::<HandshakeSnapshot>(handshake_id)
                .await?
                .ok_or(ProvisioningError::NotFound("handshake")),
            Err(error) => Err(read_failed(Api::DescribeHandshake, error)),
        }
    }

    /// ListHandshakesForOrganization for one or both actions, filtered by target.
    pub(crate) async fn list_handshakes(
        &self,
        management: &AwsAccountId,
        action: Option<HandshakeAction>,
        target: Option<&AwsAccountId>,
    ) -> Result<Vec<HandshakeSnapshot>, ProvisioningError> {
        let actions = match action {
            Some(action) => vec![action],
            None => vec![
                HandshakeAction::Invite,
                HandshakeAction::TransferResponsibility,
            ],
        };
        let mut listed = Vec::new();
        for action in actions {
            let handshakes = self
                .cloud()
                .list_handshakes(management, action)
                .await
                .map_err(|error| read_failed(Api::List, error))?;
            for handshake in handshakes
                .iter()
                .filter(|handshake| target.is_none_or(|target| handshake.target == *target))
            {
                let snapshot = handshake_snapshot(handshake);
                self.store()
                    .record_observation(&snapshot.id, &snapshot)
                    .await?;
                listed.push(snapshot);
            }
        }
        Ok(listed)
    }

    /// DescribeResponsibilityTransfer, plus the open handshake's expiry.
    pub(crate) async fn describe_billing_transfer(
        &self,
        transfer_id: &str,
    ) -> Result<TransferView, ProvisioningError> {
        let management = self.management_account_for(transfer_id).await?;
        let transfer = match self
            .cloud()
            .describe_billing_transfer(&management, transfer_id)
            .await
        {
            Ok(transfer) => transfer,
            Err(error) if error.is("ResponsibilityTransferNotFoundException") => {
                return Err(ProvisioningError::NotFound("billing transfer"));
            }
            Err(error) => return Err(read_failed(Api::DescribeBillingTransfer, error)),
        };
        let handshake = match &transfer.active_handshake_id {
            Some(handshake_id) => self
                .cloud()
                .describe_handshake(&management, handshake_id)
                .await
                .ok()
                .map(|handshake| handshake_snapshot(&handshake)),
            None => None,
        };
        Ok(transfer_snapshot(&transfer, handshake.as_ref()))
    }

    /// Whether the customer's bootstrap stack is complete in `account`.
    pub(crate) async fn check_bootstrap_role(
        &self,
        account: &AwsAccountId,
    ) -> Result<BootstrapCheck, ProvisioningError> {
        let checked_at = self.now();
        let found = self
            .cloud()
            .describe_stack(account, BOOTSTRAP_STACK_NAME)
            .await
            .map_err(|error| read_failed(Api::DescribeStack, error))?;
        let stack = found.map(|stack| StackSnapshot {
            name: stack.name,
            stack_id: Some(stack.stack_id),
            status: stack.status,
            account: account.clone(),
        });
        let deployed = stack
            .as_ref()
            .is_some_and(|stack| stack.status.is_deployed());
        Ok(BootstrapCheck {
            deployed,
            stack,
            checked_at,
        })
    }
}
