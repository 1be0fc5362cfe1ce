//! SandboxService's use cases: the customer's side of the simulation (answering handshakes, deploying
//! the bootstrap stack, signing up) and its clock. On the `aws` backend each refuses with
//! [`ProvisioningError::WrongBackend`].

use chrono::{DateTime, Duration, Utc};
use tenure_domain::{AccountName, AwsAccountId, RootEmail};

use crate::app::Provisioning;
use crate::domain::aws_values::AwsAccountState;
use crate::domain::cloud::{AccountState, CloudError};
use crate::domain::error::ProvisioningError;
use crate::domain::operation::{AccountSnapshot, HandshakeSnapshot, StackSnapshot};
use crate::operation_worker::{BOOTSTRAP_STACK_NAME, handshake_view};
use crate::sandbox::{EMAIL_ALREADY_EXISTS, SandboxCloud};

/// The simulated clock as GetClock reports it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SandboxTime {
    pub(crate) now: DateTime<Utc>,
    /// How far the simulated clock runs ahead of real time.
    pub(crate) offset: Duration,
}

fn customer_refused(error: CloudError) -> ProvisioningError {
    if error.is("HandshakeNotFoundException") {
        return ProvisioningError::NotFound("handshake");
    }
    if error.http_status.is_some_and(|status| status >= 500) {
        return ProvisioningError::Unavailable(Box::new(error));
    }
    ProvisioningError::Rejected {
        aws_code: error.code.unwrap_or_default(),
        message: "the simulated AWS refused the customer's action".to_owned(),
    }
}

/// A sign-up the simulated AWS refused: a taken email is the customer's to change (TNR101).
fn sign_up_refused(error: CloudError) -> ProvisioningError {
    if error.has_reason(EMAIL_ALREADY_EXISTS) {
        ProvisioningError::EmailTaken
    } else {
        customer_refused(error)
    }
}

impl Provisioning {
    /// The simulation, or [`ProvisioningError::WrongBackend`] on `aws`. The API asks before it reads
    /// a request, so that on `aws` every SandboxService call answers alike whatever its fields.
    pub(crate) fn sandbox(&self) -> Result<&SandboxCloud, ProvisioningError> {
        self.sandbox.as_ref().ok_or(ProvisioningError::WrongBackend)
    }

    /// The customer accepts (or declines) the handshake `handshake_id`.
    pub(crate) async fn answer_handshake(
        &self,
        handshake_id: &str,
        accept: bool,
    ) -> Result<HandshakeSnapshot, ProvisioningError> {
        let sandbox = self.sandbox()?;
        let answered = if accept {
            sandbox.accept_handshake(handshake_id).await
        } else {
            sandbox.decline_handshake(handshake_id).await
        };
        let handshake = answered.map_err(customer_refused)?;
        Ok(handshake_view(&handshake))
    }

    /// The customer deploys the bootstrap stack in `account` themselves.
    pub(crate) async fn deploy_customer_bootstrap_stack(
        &self,
        account: AwsAccountId,
    ) -> Result<StackSnapshot, ProvisioningError> {
        let stack = self
            .sandbox()?
            .deploy_customer_stack(&account, BOOTSTRAP_STACK_NAME)
            .await
            .map_err(customer_refused)?;
        Ok(StackSnapshot {
            name: stack.name,
            stack_id: Some(stack.stack_id),
            status: stack.status,
            account,
        })
    }

    /// Moves the simulated clock forward by `by` and answers the new simulated time.
    pub(crate) async fn advance_clock(
        &self,
        by: Duration,
    ) -> Result<DateTime<Utc>, ProvisioningError> {
        Ok(self.sandbox()?.advance_clock(by).await?)
    }

    /// A customer signs up for a standalone AWS account.
    pub(crate) async fn create_customer_account(
        &self,
        email: &RootEmail,
        name: &AccountName,
    ) -> Result<AccountSnapshot, ProvisioningError> {
        let id = self
            .sandbox()?
            .create_customer_account(email, name)
            .await
            .map_err(sign_up_refused)?;
        // A standalone account has joined no organization, so there is no join to report.
        Ok(AccountSnapshot {
            account_id: id,
            state: AwsAccountState::Member(AccountState::Active),
            joined_method: None,
            joined_at: None,
        })
    }

    /// The simulated time and its offset from real time.
    pub(crate) fn sandbox_time(&self) -> Result<SandboxTime, ProvisioningError> {
        let clock = self.sandbox()?.clock();
        let offset = clock.offset();
        Ok(SandboxTime {
            now: tenure_domain::Clock::now(clock.as_ref()),
            offset,
        })
    }
}
