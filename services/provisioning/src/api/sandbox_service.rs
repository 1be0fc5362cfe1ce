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
use crate::app::Provisioning;
use crate::domain::validate;

/// Serves `tenure.provisioning.v1.SandboxService`: the customer's side of the simulation and its clock.
/// On the `aws` backend every RPC answers FAILED_PRECONDITION.
#[derive(Debug, Clone)]
pub(crate) struct SandboxServiceHandler {
    app: Provisioning,
}

/// The simulated clock moves by 1 second to 400 days per call.
const MIN_ADVANCE: Duration = Duration::seconds(1);
const MAX_ADVANCE: Duration = Duration::days(400);

impl SandboxServiceHandler {
    pub(crate) fn new(app: Provisioning) -> Self {
        Self { app }
    }

    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> SandboxServiceServer<Self> {
        tenure_grpc::limited!(SandboxServiceServer::new(self), limits)
    }

    async fn answer(&self, handshake_id: &str, accept: bool) -> Result<pb::Handshake, Status> {
        self.app.sandbox()?;
        let mut problems = Problems::new();
        if problems
            .check("handshake_id", validate::aws_id(handshake_id, "h-"))
            .is_none()
        {
            return Err(invalid(problems));
        }
        let handshake = self.app.answer_handshake(handshake_id, accept).await?;
        Ok(handshake_to_pb(&handshake))
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
        self.app.sandbox()?;
        let account = required_account("aws_account_id", &request.get_ref().aws_account_id)?;
        let stack = self.app.deploy_customer_bootstrap_stack(account).await?;
        Ok(Response::new(pb::DeployCustomerBootstrapStackResponse {
            stack: Some(stack_to_pb(&stack)),
        }))
    }

    async fn advance_clock(
        &self,
        request: Request<pb::AdvanceClockRequest>,
    ) -> Result<Response<pb::AdvanceClockResponse>, Status> {
        self.app.sandbox()?;
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
        let now = self.app.advance_clock(by).await?;
        Ok(Response::new(pb::AdvanceClockResponse {
            now: Some(timestamp(now)),
        }))
    }

    async fn create_customer_account(
        &self,
        request: Request<pb::CreateCustomerAccountRequest>,
    ) -> Result<Response<pb::CreateCustomerAccountResponse>, Status> {
        self.app.sandbox()?;
        let request = request.get_ref();
        let mut problems = Problems::new();
        let email = problems.check("email", RootEmail::parse(&request.email));
        let name = problems.check("account_name", AccountName::parse(&request.account_name));
        let (Some(email), Some(name)) = (email, name) else {
            return Err(invalid(problems));
        };
        let account = self.app.create_customer_account(&email, &name).await?;
        Ok(Response::new(pb::CreateCustomerAccountResponse {
            account: Some(account_to_pb(&account)),
        }))
    }

    async fn get_clock(
        &self,
        _request: Request<pb::GetClockRequest>,
    ) -> Result<Response<pb::GetClockResponse>, Status> {
        let time = self.app.sandbox_time()?;
        Ok(Response::new(pb::GetClockResponse {
            now: Some(timestamp(time.now)),
            offset: prost_types::Duration::try_from(time.offset.to_std().unwrap_or_default()).ok(),
        }))
    }
}
