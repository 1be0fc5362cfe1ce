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
        AccountServiceServer::new(self)
            .max_decoding_message_size(limits.max_decoding_message_bytes)
            .max_encoding_message_size(limits.max_encoding_message_bytes)
    }
}

#[tonic::async_trait]
impl AccountService for AccountServiceHandler {}
