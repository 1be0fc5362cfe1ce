use tenure_grpc::Limits;
use tenure_proto::accounts::v1::account_service_server::{AccountService, AccountServiceServer};

/// Serves `tenure.accounts.v1.AccountService`.
///
/// Until the business logic of issue #3 lands, its RPCs answer UNIMPLEMENTED through the
/// generated defaults; health, reflection, authentication and the policy already apply to them.
#[derive(Debug, Clone, Default)]
pub(crate) struct AccountServiceHandler;

impl AccountServiceHandler {
    /// The generated server with the process's message-size limits applied.
    pub(crate) fn into_server(self, limits: &Limits) -> AccountServiceServer<Self> {
        tenure_grpc::limited!(AccountServiceServer::new(self), limits)
    }
}

#[tonic::async_trait]
impl AccountService for AccountServiceHandler {}
