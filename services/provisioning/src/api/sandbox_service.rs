use chrono::Duration;
use tenure_domain::{AccountName, FieldProblem, Problems, RootEmail};
use tenure_grpc::Limits;
use tenure_proto::provisioning::v1 as pb;
use tenure_proto::provisioning::v1::sandbox_service_server::{
    SandboxService, SandboxServiceServer,
};
use tonic::{Request, Response, Status};

use super::convert::{account_to_pb, handshake_to_pb, stack_to_pb, timestamp};
use super::status::{invalid, required_account};
use crate::domain::aws_values::AwsAccountState;
use crate::domain::cloud::{AccountState, CloudError};
use crate::domain::error::ProvisioningError;
use crate::domain::operation::AccountSnapshot;
use crate::domain::validate;
use crate::engine::BOOTSTRAP_STACK_NAME;
use crate::sandbox::{EMAIL_ALREADY_EXISTS, SandboxCloud};

/// Serves `tenure.provisioning.v1.SandboxService`: the customer's side of the simulation and its clock.
/// On the `aws` backend every RPC answers FAILED_PRECONDITION.
#[derive(Debug, Clone)]
pub(crate) struct SandboxServiceHandler {
    sandbox: Option<SandboxCloud>,
}

/// The simulated clock moves by 1 second to 400 days per call.
const MIN_ADVANCE: Duration = Duration::seconds(1);
const MAX_ADVANCE: Duration = Duration::days(400);

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

impl SandboxServiceHandler {
    pub(crate) fn new(sandbox: Option<SandboxCloud>) -> Self {
        Self { sandbox }
    }

    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> SandboxServiceServer<Self> {
        tenure_grpc::limited!(SandboxServiceServer::new(self), limits)
    }

    #[allow(
        clippy::result_large_err,
        reason = "tonic::Status is the error type of every handler"
    )]
    fn sandbox(&self) -> Result<&SandboxCloud, Status> {
        self.sandbox
            .as_ref()
            .ok_or_else(|| ProvisioningError::WrongBackend.into())
    }

    async fn answer(&self, handshake_id: &str, accept: bool) -> Result<pb::Handshake, Status> {
        let sandbox = self.sandbox()?;
        let mut problems = Problems::new();
        if problems
            .check("handshake_id", validate::aws_id(handshake_id, "h-"))
            .is_none()
        {
            return Err(invalid(problems));
        }
        let answered = if accept {
            sandbox.accept_handshake(handshake_id).await
        } else {
            sandbox.decline_handshake(handshake_id).await
        };
        let handshake = answered.map_err(customer_refused)?;
        Ok(handshake_to_pb(&crate::engine::handshake_view(&handshake)))
    }
}

#[tonic::async_trait]
impl SandboxService for SandboxServiceHandler {
    async fn accept_handshake(
        &self,
        request: Request<pb::AcceptHandshakeRequest>,
    ) -> Result<Response<pb::AcceptHandshakeResponse>, Status> {
        let handshake = self.answer(&request.get_ref().handshake_id, true).await?;
        Ok(Response::new(pb::AcceptHandshakeResponse {
            handshake: Some(handshake),
        }))
    }

    async fn decline_handshake(
        &self,
        request: Request<pb::DeclineHandshakeRequest>,
    ) -> Result<Response<pb::DeclineHandshakeResponse>, Status> {
        let handshake = self.answer(&request.get_ref().handshake_id, false).await?;
        Ok(Response::new(pb::DeclineHandshakeResponse {
            handshake: Some(handshake),
        }))
    }

    async fn deploy_customer_bootstrap_stack(
        &self,
        request: Request<pb::DeployCustomerBootstrapStackRequest>,
    ) -> Result<Response<pb::DeployCustomerBootstrapStackResponse>, Status> {
        let sandbox = self.sandbox()?;
        let account = required_account("aws_account_id", &request.get_ref().aws_account_id)?;
        let stack = sandbox
            .deploy_customer_stack(&account, BOOTSTRAP_STACK_NAME)
            .await
            .map_err(customer_refused)?;
        Ok(Response::new(pb::DeployCustomerBootstrapStackResponse {
            stack: Some(stack_to_pb(&crate::domain::operation::StackSnapshot {
                name: stack.name,
                stack_id: Some(stack.stack_id),
                status: stack.status,
                account,
            })),
        }))
    }

    async fn advance_clock(
        &self,
        request: Request<pb::AdvanceClockRequest>,
    ) -> Result<Response<pb::AdvanceClockResponse>, Status> {
        let sandbox = self.sandbox()?;
        let range = FieldProblem {
            field: String::new(),
            reason: "DURATION_RANGE",
            description: "move the clock by 1 second to 400 days",
            catalogue_code: Some("TNR004"),
        };
        let by = request
            .get_ref()
            .by
            // Checked: seconds beyond what a duration holds are out of range, not a panic.
            .and_then(|by| {
                Duration::try_seconds(by.seconds)?
                    .checked_add(&Duration::nanoseconds(i64::from(by.nanos)))
            })
            .filter(|by| (MIN_ADVANCE..=MAX_ADVANCE).contains(by));
        let Some(by) = by else {
            let mut problems = Problems::new();
            problems.check("by", Err::<(), _>(range));
            return Err(invalid(problems));
        };
        let now = sandbox
            .advance_clock(by)
            .await
            .map_err(ProvisioningError::from)?;
        Ok(Response::new(pb::AdvanceClockResponse {
            now: Some(timestamp(now)),
        }))
    }

    async fn create_customer_account(
        &self,
        request: Request<pb::CreateCustomerAccountRequest>,
    ) -> Result<Response<pb::CreateCustomerAccountResponse>, Status> {
        let sandbox = self.sandbox()?;
        let request = request.get_ref();
        let mut problems = Problems::new();
        let email = problems.check("email", RootEmail::parse(&request.email));
        let name = problems.check("account_name", AccountName::parse(&request.account_name));
        let (Some(email), Some(name)) = (email, name) else {
            return Err(invalid(problems));
        };
        let id = sandbox
            .create_customer_account(&email, &name)
            .await
            .map_err(sign_up_refused)?;
        // A standalone account has joined no organization, so there is no join to report.
        Ok(Response::new(pb::CreateCustomerAccountResponse {
            account: Some(account_to_pb(&AccountSnapshot {
                account_id: id,
                state: AwsAccountState::Member(AccountState::Active),
                joined_method: None,
                joined_at: None,
            })),
        }))
    }

    async fn get_clock(
        &self,
        _request: Request<pb::GetClockRequest>,
    ) -> Result<Response<pb::GetClockResponse>, Status> {
        let sandbox = self.sandbox()?;
        let clock = sandbox.clock();
        let offset = clock.offset();
        Ok(Response::new(pb::GetClockResponse {
            now: Some(timestamp(tenure_domain::Clock::now(clock.as_ref()))),
            offset: prost_types::Duration::try_from(offset.to_std().unwrap_or_default()).ok(),
        }))
    }
}
