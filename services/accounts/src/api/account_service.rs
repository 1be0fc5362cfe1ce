use tenure_grpc::Limits;
use tenure_proto::accounts::v1 as pb;
use tenure_proto::accounts::v1::account_service_server::{AccountService, AccountServiceServer};
use tonic::{Request, Response, Status};

use crate::app::Accounts;
use crate::domain::AccountsError;

mod balances;
mod billing;
mod lifecycle;
mod records;
mod removal;
mod reservation;
mod tenants;

/// The full path of an `AccountService` method.
macro_rules! path {
    ($method:literal) => {
        concat!("/tenure.accounts.v1.AccountService/", $method)
    };
}

/// Serves `tenure.accounts.v1.AccountService`: each method narrows the principal, runs one use case and
/// maps its outcome.
#[derive(Debug, Clone)]
pub(crate) struct AccountServiceHandler {
    app: Accounts,
}

impl AccountServiceHandler {
    pub(crate) fn new(app: Accounts) -> Self {
        Self { app }
    }

    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> AccountServiceServer<Self> {
        tenure_grpc::limited!(AccountServiceServer::new(self), limits)
    }
}

fn reply<T>(outcome: Result<T, AccountsError>) -> Result<Response<T>, Status> {
    outcome.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl AccountService for AccountServiceHandler {
    async fn create_tenant(
        &self,
        request: Request<pb::CreateTenantRequest>,
    ) -> Result<Response<pb::CreateTenantResponse>, Status> {
        let call = self.app.call(&request, path!("CreateTenant"))?;
        reply(tenants::create_tenant(&self.app, &call, request.into_inner()).await)
    }

    async fn get_tenant(
        &self,
        request: Request<pb::GetTenantRequest>,
    ) -> Result<Response<pb::GetTenantResponse>, Status> {
        let call = self.app.call(&request, path!("GetTenant"))?;
        reply(tenants::get_tenant(&self.app, &call, request.into_inner()).await)
    }

    async fn list_tenants(
        &self,
        request: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        let call = self.app.call(&request, path!("ListTenants"))?;
        reply(tenants::list_tenants(&self.app, &call, request.into_inner()).await)
    }

    async fn update_tenant(
        &self,
        request: Request<pb::UpdateTenantRequest>,
    ) -> Result<Response<pb::UpdateTenantResponse>, Status> {
        let call = self.app.call(&request, path!("UpdateTenant"))?;
        reply(tenants::update_tenant(&self.app, &call, request.into_inner()).await)
    }

    async fn unsubscribe_tenant(
        &self,
        request: Request<pb::UnsubscribeTenantRequest>,
    ) -> Result<Response<pb::UnsubscribeTenantResponse>, Status> {
        let call = self.app.call(&request, path!("UnsubscribeTenant"))?;
        reply(tenants::unsubscribe_tenant(&self.app, &call, request.into_inner()).await)
    }

    async fn resubscribe_tenant(
        &self,
        request: Request<pb::ResubscribeTenantRequest>,
    ) -> Result<Response<pb::ResubscribeTenantResponse>, Status> {
        let call = self.app.call(&request, path!("ResubscribeTenant"))?;
        reply(tenants::resubscribe_tenant(&self.app, &call, request.into_inner()).await)
    }

    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        let call = self.app.call(&request, path!("CreateUser"))?;
        reply(tenants::create_user(&self.app, &call, request.into_inner()).await)
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        let call = self.app.call(&request, path!("GetUser"))?;
        reply(tenants::get_user(&self.app, &call, request.into_inner()).await)
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let call = self.app.call(&request, path!("ListUsers"))?;
        reply(tenants::list_users(&self.app, &call, request.into_inner()).await)
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::DeleteUserResponse>, Status> {
        let call = self.app.call(&request, path!("DeleteUser"))?;
        reply(tenants::delete_user(&self.app, &call, request.into_inner()).await)
    }

    async fn get_account(
        &self,
        request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::GetAccountResponse>, Status> {
        let call = self.app.call(&request, path!("GetAccount"))?;
        reply(records::get_account(&self.app, &call, request.into_inner()).await)
    }

    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        let call = self.app.call(&request, path!("ListAccounts"))?;
        reply(records::list_accounts(&self.app, &call, request.into_inner()).await)
    }

    async fn list_account_transitions(
        &self,
        request: Request<pb::ListAccountTransitionsRequest>,
    ) -> Result<Response<pb::ListAccountTransitionsResponse>, Status> {
        let call = self.app.call(&request, path!("ListAccountTransitions"))?;
        reply(records::list_account_transitions(&self.app, &call, request.into_inner()).await)
    }

    async fn reserve_account(
        &self,
        request: Request<pb::ReserveAccountRequest>,
    ) -> Result<Response<pb::ReserveAccountResponse>, Status> {
        let call = self.app.call(&request, path!("ReserveAccount"))?;
        reply(reservation::reserve_account(&self.app, &call, request.into_inner()).await)
    }

    async fn attach_account(
        &self,
        request: Request<pb::AttachAccountRequest>,
    ) -> Result<Response<pb::AttachAccountResponse>, Status> {
        let call = self.app.call(&request, path!("AttachAccount"))?;
        reply(records::attach_account(&self.app, &call, request.into_inner()).await)
    }

    async fn activate_account(
        &self,
        request: Request<pb::ActivateAccountRequest>,
    ) -> Result<Response<pb::ActivateAccountResponse>, Status> {
        let call = self.app.call(&request, path!("ActivateAccount"))?;
        reply(records::activate_account(&self.app, &call, request.into_inner()).await)
    }

    async fn release_account(
        &self,
        request: Request<pb::ReleaseAccountRequest>,
    ) -> Result<Response<pb::ReleaseAccountResponse>, Status> {
        let call = self.app.call(&request, path!("ReleaseAccount"))?;
        reply(records::release_account(&self.app, &call, request.into_inner()).await)
    }

    async fn check_termination(
        &self,
        request: Request<pb::CheckTerminationRequest>,
    ) -> Result<Response<pb::CheckTerminationResponse>, Status> {
        let call = self.app.call(&request, path!("CheckTermination"))?;
        reply(lifecycle::check_termination(&self.app, &call, request.into_inner()).await)
    }

    async fn begin_offboarding(
        &self,
        request: Request<pb::BeginOffboardingRequest>,
    ) -> Result<Response<pb::BeginOffboardingResponse>, Status> {
        let call = self.app.call(&request, path!("BeginOffboarding"))?;
        reply(lifecycle::begin_offboarding(&self.app, &call, request.into_inner()).await)
    }

    async fn abort_offboarding(
        &self,
        request: Request<pb::AbortOffboardingRequest>,
    ) -> Result<Response<pb::AbortOffboardingResponse>, Status> {
        let call = self.app.call(&request, path!("AbortOffboarding"))?;
        reply(lifecycle::abort_offboarding(&self.app, &call, request.into_inner()).await)
    }

    async fn record_offboarding_outcome(
        &self,
        request: Request<pb::RecordOffboardingOutcomeRequest>,
    ) -> Result<Response<pb::RecordOffboardingOutcomeResponse>, Status> {
        let call = self.app.call(&request, path!("RecordOffboardingOutcome"))?;
        reply(lifecycle::record_offboarding_outcome(&self.app, &call, request.into_inner()).await)
    }

    async fn record_closure(
        &self,
        request: Request<pb::RecordClosureRequest>,
    ) -> Result<Response<pb::RecordClosureResponse>, Status> {
        let call = self.app.call(&request, path!("RecordClosure"))?;
        reply(lifecycle::record_closure(&self.app, &call, request.into_inner()).await)
    }

    async fn reopen_account(
        &self,
        request: Request<pb::ReopenAccountRequest>,
    ) -> Result<Response<pb::ReopenAccountResponse>, Status> {
        let call = self.app.call(&request, path!("ReopenAccount"))?;
        reply(lifecycle::reopen_account(&self.app, &call, request.into_inner()).await)
    }

    async fn remove_account_from_platform(
        &self,
        request: Request<pb::RemoveAccountFromPlatformRequest>,
    ) -> Result<Response<pb::RemoveAccountFromPlatformResponse>, Status> {
        let call = self
            .app
            .call(&request, path!("RemoveAccountFromPlatform"))?;
        reply(removal::remove_account_from_platform(&self.app, &call, request.into_inner()).await)
    }

    async fn restore_account_to_platform(
        &self,
        request: Request<pb::RestoreAccountToPlatformRequest>,
    ) -> Result<Response<pb::RestoreAccountToPlatformResponse>, Status> {
        let call = self.app.call(&request, path!("RestoreAccountToPlatform"))?;
        reply(removal::restore_account_to_platform(&self.app, &call, request.into_inner()).await)
    }

    async fn report_open_balances(
        &self,
        request: Request<pb::ReportOpenBalancesRequest>,
    ) -> Result<Response<pb::ReportOpenBalancesResponse>, Status> {
        let call = self.app.call(&request, path!("ReportOpenBalances"))?;
        reply(
            self.app
                .report_open_balances(&call, request.into_inner())
                .await,
        )
    }

    async fn create_subscription(
        &self,
        request: Request<pb::CreateSubscriptionRequest>,
    ) -> Result<Response<pb::CreateSubscriptionResponse>, Status> {
        let call = self.app.call(&request, path!("CreateSubscription"))?;
        reply(billing::create_subscription(&self.app, &call, request.into_inner()).await)
    }

    async fn get_subscription(
        &self,
        request: Request<pb::GetSubscriptionRequest>,
    ) -> Result<Response<pb::GetSubscriptionResponse>, Status> {
        let call = self.app.call(&request, path!("GetSubscription"))?;
        reply(billing::get_subscription(&self.app, &call, request.into_inner()).await)
    }

    async fn list_subscriptions(
        &self,
        request: Request<pb::ListSubscriptionsRequest>,
    ) -> Result<Response<pb::ListSubscriptionsResponse>, Status> {
        let call = self.app.call(&request, path!("ListSubscriptions"))?;
        reply(billing::list_subscriptions(&self.app, &call, request.into_inner()).await)
    }

    async fn set_subscription_status(
        &self,
        request: Request<pb::SetSubscriptionStatusRequest>,
    ) -> Result<Response<pb::SetSubscriptionStatusResponse>, Status> {
        let call = self.app.call(&request, path!("SetSubscriptionStatus"))?;
        reply(billing::set_subscription_status(&self.app, &call, request.into_inner()).await)
    }

    async fn put_account_details(
        &self,
        request: Request<pb::PutAccountDetailsRequest>,
    ) -> Result<Response<pb::PutAccountDetailsResponse>, Status> {
        let call = self.app.call(&request, path!("PutAccountDetails"))?;
        reply(billing::put_account_details(&self.app, &call, request.into_inner()).await)
    }

    async fn get_account_details(
        &self,
        request: Request<pb::GetAccountDetailsRequest>,
    ) -> Result<Response<pb::GetAccountDetailsResponse>, Status> {
        let call = self.app.call(&request, path!("GetAccountDetails"))?;
        reply(billing::get_account_details(&self.app, &call, request.into_inner()).await)
    }

    async fn record_cost_records(
        &self,
        request: Request<pb::RecordCostRecordsRequest>,
    ) -> Result<Response<pb::RecordCostRecordsResponse>, Status> {
        let call = self.app.call(&request, path!("RecordCostRecords"))?;
        reply(billing::record_cost_records(&self.app, &call, request.into_inner()).await)
    }

    async fn list_cost_records(
        &self,
        request: Request<pb::ListCostRecordsRequest>,
    ) -> Result<Response<pb::ListCostRecordsResponse>, Status> {
        let call = self.app.call(&request, path!("ListCostRecords"))?;
        reply(billing::list_cost_records(&self.app, &call, request.into_inner()).await)
    }
}
