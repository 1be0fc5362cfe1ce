//! One place that turns the settings into authenticated gRPC clients.

use std::time::Duration;

use anyhow::Context as _;
use tenure_grpc::ServiceKind;
use tenure_proto::accounts::v1::account_service_client::AccountServiceClient;
use tenure_proto::orders::v1::order_events_client::OrderEventsClient;
use tenure_proto::orders::v1::order_service_client::OrderServiceClient;
use tenure_proto::orders::v1::saga_admin_client::SagaAdminClient;
use tenure_proto::provisioning::v1::provisioning_service_client::ProvisioningServiceClient;
use tenure_proto::provisioning::v1::sandbox_service_client::SandboxServiceClient;
use tenure_proto::purge::v1::purge_service_client::PurgeServiceClient;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use super::settings::ClientSettings;

/// How long the client waits for a listener to accept the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Debug, Clone)]
pub(crate) struct Bearer(AsciiMetadataValue);

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A gRPC client of one service that sends the session's token.
pub(crate) type Authed = InterceptedService<Channel, Bearer>;

/// The settings and the token the calls of one command use.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    settings: ClientSettings,
    bearer: Bearer,
}

impl Session {
    /// A session with the settings' token; without one there is nothing to authenticate with.
    pub(crate) fn new(settings: ClientSettings) -> anyhow::Result<Self> {
        let Some(token) = settings.token.clone() else {
            anyhow::bail!(
                "no token: pass --token, set TENURE_TOKEN (tenure up prints one), or set `token` in \
                 the client configuration file"
            );
        };
        Self::with_token(settings, &token)
    }

    /// A session that calls as the holder of `token`.
    pub(crate) fn with_token(settings: ClientSettings, token: &str) -> anyhow::Result<Self> {
        let value: AsciiMetadataValue = MetadataValue::try_from(format!("Bearer {token}"))
            .context("the token holds characters a header cannot carry")?;
        Ok(Self {
            settings,
            bearer: Bearer(value),
        })
    }

    /// The same endpoints, calling as the holder of `token`.
    pub(crate) fn acting_as(&self, token: &str) -> anyhow::Result<Self> {
        Self::with_token(self.settings.clone(), token)
    }

    /// A channel to `kind` that connects on first use, so a command that fails before calling never
    /// dials, and an unreachable listener surfaces as the call's UNAVAILABLE.
    fn channel(&self, kind: ServiceKind) -> anyhow::Result<Authed> {
        let url = self.settings.endpoint(kind);
        let channel = Endpoint::from_shared(url.to_owned())
            .with_context(|| format!("the {kind} endpoint {url:?} is not a URL"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .connect_lazy();
        Ok(InterceptedService::new(channel, self.bearer.clone()))
    }

    /// The order service.
    pub(crate) fn orders(&self) -> anyhow::Result<OrderServiceClient<Authed>> {
        Ok(OrderServiceClient::new(self.channel(ServiceKind::Orders)?))
    }

    /// The order event stream.
    pub(crate) fn order_events(&self) -> anyhow::Result<OrderEventsClient<Authed>> {
        Ok(OrderEventsClient::new(self.channel(ServiceKind::Orders)?))
    }

    /// The saga administration of the orders service.
    pub(crate) fn saga_admin(&self) -> anyhow::Result<SagaAdminClient<Authed>> {
        Ok(SagaAdminClient::new(self.channel(ServiceKind::Orders)?))
    }

    /// The account service.
    pub(crate) fn accounts(&self) -> anyhow::Result<AccountServiceClient<Authed>> {
        Ok(AccountServiceClient::new(
            self.channel(ServiceKind::Accounts)?,
        ))
    }

    /// The purge service.
    pub(crate) fn purges(&self) -> anyhow::Result<PurgeServiceClient<Authed>> {
        Ok(PurgeServiceClient::new(
            self.channel(ServiceKind::DataPurge)?,
        ))
    }

    /// Provisioning, for reading what the sandbox sent.
    pub(crate) fn provisioning(&self) -> anyhow::Result<ProvisioningServiceClient<Authed>> {
        Ok(ProvisioningServiceClient::new(
            self.channel(ServiceKind::Provisioning)?,
        ))
    }

    /// The sandbox controls.
    pub(crate) fn sandbox(&self) -> anyhow::Result<SandboxServiceClient<Authed>> {
        Ok(SandboxServiceClient::new(
            self.channel(ServiceKind::Provisioning)?,
        ))
    }
}

/// A fresh idempotency key, unless the caller gave one to retry with.
pub(crate) fn idempotency_key(given: Option<&str>) -> String {
    given.map_or_else(
        || format!("cli-{}", uuid::Uuid::new_v4().simple()),
        str::to_owned,
    )
}
