use tenure_domain::{AwsAccountId, FieldProblem, IdempotencyKey, Problems};
use tenure_grpc::Limits;
use tenure_proto::provisioning::v1 as pb;
use tenure_proto::provisioning::v1::provisioning_service_server::{
    ProvisioningService, ProvisioningServiceServer,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::context::call_of;
use super::convert::{
    account_to_pb, handshake_to_pb, kind_from_pb, operation_to_pb, stack_to_pb, state_from_pb,
    timestamp, transfer_to_pb,
};
use super::operation_requests::StartsOperation;
use super::status::{invalid, operation_answer, required_account};
use crate::app::{OperationKey, Provisioning};
use crate::domain::cloud::HandshakeAction;
use crate::domain::listing::OperationFilter;
use crate::domain::validate;

/// Serves `tenure.provisioning.v1.ProvisioningService`.
#[derive(Debug, Clone)]
pub(crate) struct ProvisioningServiceHandler {
    app: Provisioning,
}

impl ProvisioningServiceHandler {
    pub(crate) fn new(app: Provisioning) -> Self {
        Self { app }
    }

    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> ProvisioningServiceServer<Self> {
        tenure_grpc::limited!(ProvisioningServiceServer::new(self), limits)
    }

    /// Validates a mutating request, reporting every violation at once, then starts (or replays) its
    /// operation and answers with it, or with the status its state calls for.
    async fn start<M: StartsOperation>(
        &self,
        request: Request<M>,
    ) -> Result<Response<M::Response>, Status> {
        let call = call_of(&request)?;
        let mut message = request.into_inner();
        let mut problems = Problems::new();
        let key = problems.check(
            "idempotency_key",
            IdempotencyKey::parse(message.idempotency_key()),
        );
        let planned = message.plan(&mut problems);
        let (Some(key), Some(planned), true) = (key, planned, problems.is_empty()) else {
            return Err(invalid(problems));
        };
        // The hash covers the request without its key, so a replay under the same key matches.
        message.idempotency_key().clear();
        let idempotent = OperationKey {
            key,
            request_hash: tenure_db::idempotency::request_hash(&message.encode_to_vec()),
        };
        let operation = self.app.start(&call, idempotent, planned).await?;
        operation_answer(&operation, self.app.now())?;
        Ok(Response::new(M::respond(Some(operation_to_pb(&operation)))))
    }
}

#[tonic::async_trait]
impl ProvisioningService for ProvisioningServiceHandler {
    async fn create_account(
        &self,
        request: Request<pb::CreateAccountRequest>,
    ) -> Result<Response<pb::CreateAccountResponse>, Status> {
        self.start(request).await
    }

    async fn describe_account(
        &self,
        request: Request<pb::DescribeAccountRequest>,
    ) -> Result<Response<pb::DescribeAccountResponse>, Status> {
        let message = request.into_inner();
        let account = required_account("aws_account_id", &message.aws_account_id)?;
        let view = self.app.describe_account(&account).await?;
        Ok(Response::new(pb::DescribeAccountResponse {
            account: Some(account_to_pb(&view)),
        }))
    }

    async fn remove_account(
        &self,
        request: Request<pb::RemoveAccountRequest>,
    ) -> Result<Response<pb::RemoveAccountResponse>, Status> {
        self.start(request).await
    }

    async fn close_account(
        &self,
        request: Request<pb::CloseAccountRequest>,
    ) -> Result<Response<pb::CloseAccountResponse>, Status> {
        self.start(request).await
    }

    async fn invite_account(
        &self,
        request: Request<pb::InviteAccountRequest>,
    ) -> Result<Response<pb::InviteAccountResponse>, Status> {
        self.start(request).await
    }

    async fn describe_handshake(
        &self,
        request: Request<pb::DescribeHandshakeRequest>,
    ) -> Result<Response<pb::DescribeHandshakeResponse>, Status> {
        let message = request.into_inner();
        let mut problems = Problems::new();
        if problems
            .check(
                "handshake_id",
                validate::aws_id(&message.handshake_id, "h-"),
            )
            .is_none()
        {
            return Err(invalid(problems));
        }
        let handshake = self.app.describe_handshake(&message.handshake_id).await?;
        Ok(Response::new(pb::DescribeHandshakeResponse {
            handshake: Some(handshake_to_pb(&handshake)),
        }))
    }

    async fn list_handshakes(
        &self,
        request: Request<pb::ListHandshakesRequest>,
    ) -> Result<Response<pb::ListHandshakesResponse>, Status> {
        let message = request.into_inner();
        let mut problems = Problems::new();
        let management = problems.check(
            "management_account_id",
            AwsAccountId::parse(&message.management_account_id),
        );
        let action = match pb::HandshakeAction::try_from(message.action) {
            Ok(pb::HandshakeAction::Unspecified) => None,
            Ok(pb::HandshakeAction::Invite) => Some(HandshakeAction::Invite),
            Ok(pb::HandshakeAction::TransferResponsibility) => {
                Some(HandshakeAction::TransferResponsibility)
            }
            Err(_) => {
                problems.check("action", Err::<(), _>(validate::required()));
                None
            }
        };
        let target = if message.target_account_id.is_empty() {
            None
        } else {
            problems.check(
                "target_account_id",
                AwsAccountId::parse(&message.target_account_id),
            )
        };
        let (Some(management), true) = (management, problems.is_empty()) else {
            return Err(invalid(problems));
        };
        let handshakes = self
            .app
            .list_handshakes(&management, action, target.as_ref())
            .await?;
        Ok(Response::new(pb::ListHandshakesResponse {
            handshakes: handshakes.iter().map(handshake_to_pb).collect(),
        }))
    }

    async fn cancel_handshake(
        &self,
        request: Request<pb::CancelHandshakeRequest>,
    ) -> Result<Response<pb::CancelHandshakeResponse>, Status> {
        self.start(request).await
    }

    async fn invite_billing_transfer(
        &self,
        request: Request<pb::InviteBillingTransferRequest>,
    ) -> Result<Response<pb::InviteBillingTransferResponse>, Status> {
        self.start(request).await
    }

    async fn describe_billing_transfer(
        &self,
        request: Request<pb::DescribeBillingTransferRequest>,
    ) -> Result<Response<pb::DescribeBillingTransferResponse>, Status> {
        let message = request.into_inner();
        let mut problems = Problems::new();
        if problems
            .check("transfer_id", validate::aws_id(&message.transfer_id, "rt-"))
            .is_none()
        {
            return Err(invalid(problems));
        }
        let transfer = self
            .app
            .describe_billing_transfer(&message.transfer_id)
            .await?;
        Ok(Response::new(pb::DescribeBillingTransferResponse {
            billing_transfer: Some(transfer_to_pb(&transfer)),
        }))
    }

    async fn end_billing_transfer(
        &self,
        request: Request<pb::EndBillingTransferRequest>,
    ) -> Result<Response<pb::EndBillingTransferResponse>, Status> {
        self.start(request).await
    }

    async fn withdraw_billing_transfer(
        &self,
        request: Request<pb::WithdrawBillingTransferRequest>,
    ) -> Result<Response<pb::WithdrawBillingTransferResponse>, Status> {
        self.start(request).await
    }

    async fn deploy_bootstrap_stack(
        &self,
        request: Request<pb::DeployBootstrapStackRequest>,
    ) -> Result<Response<pb::DeployBootstrapStackResponse>, Status> {
        self.start(request).await
    }

    async fn delete_bootstrap_stack(
        &self,
        request: Request<pb::DeleteBootstrapStackRequest>,
    ) -> Result<Response<pb::DeleteBootstrapStackResponse>, Status> {
        self.start(request).await
    }

    async fn check_bootstrap_role(
        &self,
        request: Request<pb::CheckBootstrapRoleRequest>,
    ) -> Result<Response<pb::CheckBootstrapRoleResponse>, Status> {
        let message = request.into_inner();
        let account = required_account("aws_account_id", &message.aws_account_id)?;
        let check = self.app.check_bootstrap_role(&account).await?;
        Ok(Response::new(pb::CheckBootstrapRoleResponse {
            deployed: check.deployed,
            stack: check.stack.as_ref().map(stack_to_pb),
            checked_at: Some(timestamp(check.checked_at)),
        }))
    }

    async fn create_stack_set(
        &self,
        request: Request<pb::CreateStackSetRequest>,
    ) -> Result<Response<pb::CreateStackSetResponse>, Status> {
        self.start(request).await
    }

    async fn delete_stack_set(
        &self,
        request: Request<pb::DeleteStackSetRequest>,
    ) -> Result<Response<pb::DeleteStackSetResponse>, Status> {
        self.start(request).await
    }

    async fn create_stack_instances(
        &self,
        request: Request<pb::CreateStackInstancesRequest>,
    ) -> Result<Response<pb::CreateStackInstancesResponse>, Status> {
        self.start(request).await
    }

    async fn delete_stack_instances(
        &self,
        request: Request<pb::DeleteStackInstancesRequest>,
    ) -> Result<Response<pb::DeleteStackInstancesResponse>, Status> {
        self.start(request).await
    }

    async fn get_operation(
        &self,
        request: Request<pb::GetOperationRequest>,
    ) -> Result<Response<pb::GetOperationResponse>, Status> {
        let call = call_of(&request)?;
        let message = request.into_inner();
        // One canonical form: an upper-case, braced or unhyphenated spelling of a real id is refused
        // exactly like any other malformed one, never looked up.
        let id = match tenure_domain::parse_id(&message.operation_id) {
            Ok(id) => id,
            Err(problem) => {
                let mut problems = Problems::new();
                problems.check("operation_id", Err::<(), _>(problem));
                return Err(invalid(problems));
            }
        };
        let operation = self.app.operation(&call, id).await?;
        Ok(Response::new(pb::GetOperationResponse {
            operation: Some(operation_to_pb(&operation)),
        }))
    }

    async fn list_operations(
        &self,
        request: Request<pb::ListOperationsRequest>,
    ) -> Result<Response<pb::ListOperationsResponse>, Status> {
        let call = call_of(&request)?;
        let message = request.into_inner();
        let mut problems = Problems::new();
        let page_size = match message.page_size {
            0 => 50,
            size @ 1..=100 => u64::from(size),
            _ => {
                problems.check(
                    "page_size",
                    Err::<(), _>(FieldProblem {
                        field: String::new(),
                        reason: "PAGE_SIZE",
                        description: "page_size is 0 to 100",
                        catalogue_code: Some("TNR004"),
                    }),
                );
                0
            }
        };
        let aws_account_id = if message.aws_account_id.is_empty() {
            None
        } else {
            problems.check(
                "aws_account_id",
                AwsAccountId::parse(&message.aws_account_id),
            )
        };
        let kind = match pb::OperationKind::try_from(message.kind) {
            Ok(kind) => kind_from_pb(kind),
            Err(_) => {
                problems.check("kind", Err::<(), _>(validate::required()));
                None
            }
        };
        let state = match pb::OperationState::try_from(message.state) {
            Ok(state) => state_from_pb(state),
            Err(_) => {
                problems.check("state", Err::<(), _>(validate::required()));
                None
            }
        };
        // Narrowed before the page token is read, since a token is bound to its tenant.
        let mut filter = call.narrow(OperationFilter {
            tenant_id: None,
            aws_account_id,
            kind,
            state,
            before: None,
        });
        let filter_tag = page_filter_tag(&filter);
        if !message.page_token.is_empty() {
            filter.before =
                problems.check("page_token", decode_token(&message.page_token, &filter_tag));
        }
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        let mut operations = self.app.operations(&call, filter, page_size + 1).await?;
        let next_page_token = if operations.len() as u64 > page_size {
            operations.truncate(usize::try_from(page_size).unwrap_or(50));
            operations
                .last()
                .map(|last| encode_token(last.created_at, last.id, &filter_tag))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListOperationsResponse {
            operations: operations.iter().map(operation_to_pb).collect(),
            next_page_token,
        }))
    }
}

/// Binds a page token to its filter, so a token cannot be replayed against another filter or tenant.
fn page_filter_tag(filter: &OperationFilter) -> String {
    let described = format!(
        "{:?}|{:?}|{:?}|{:?}",
        filter.tenant_id,
        // The id as text, so that tags (and the page tokens carrying them) stay as they were.
        filter.aws_account_id.as_ref().map(AwsAccountId::as_str),
        filter.kind.map(|kind| kind.as_str()),
        filter.state.map(|state| state.as_str())
    );
    hex::encode(&tenure_db::idempotency::request_hash(described.as_bytes())[..8])
}

fn encode_token(created_at: chrono::DateTime<chrono::Utc>, id: Uuid, tag: &str) -> String {
    hex::encode(format!(
        "{}|{}|{tag}",
        created_at.timestamp_micros(),
        id.simple()
    ))
}

fn decode_token(
    token: &str,
    tag: &str,
) -> Result<(chrono::DateTime<chrono::Utc>, Uuid), FieldProblem> {
    let problem = FieldProblem {
        field: String::new(),
        reason: "PAGE_TOKEN",
        description: "not a page token of this listing",
        catalogue_code: Some("TNR004"),
    };
    let decoded = hex::decode(token).map_err(|_| problem.clone())?;
    let text = String::from_utf8(decoded).map_err(|_| problem.clone())?;
    let mut parts = text.split('|');
    let (Some(micros), Some(id), Some(token_tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(problem);
    };
    if token_tag != tag {
        return Err(problem);
    }
    let micros: i64 = micros.parse().map_err(|_| problem.clone())?;
    let created_at =
        chrono::DateTime::from_timestamp_micros(micros).ok_or_else(|| problem.clone())?;
    let id = Uuid::parse_str(id).map_err(|_| problem)?;
    Ok((created_at, id))
}
