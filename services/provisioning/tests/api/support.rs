//! The harness of this crate's tests: the service on port 0 over the sandbox (or an injected backend),
//! with the backend calls counted, and typed clients carrying the right tokens.

use std::sync::Arc;
use std::time::Duration;

use tenure_domain::{SharedClock, SystemClock};
use tenure_grpc::{Role, ServiceKind};
use tenure_proto::provisioning::v1 as pb;
use tenure_proto::provisioning::v1::provisioning_service_client::ProvisioningServiceClient;
use tenure_proto::provisioning::v1::sandbox_service_client::SandboxServiceClient;
use tenure_provisioning::cloud::{Cloud, CountingCloud};
use tenure_provisioning::{Backend, ProvisioningApp, ProvisioningSettings, SandboxCloud};
use tenure_testkit::grpc::Channel;
use tenure_testkit::{TestDatabase, TestHost};
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;

/// Adds a bearer token to every call.
#[derive(Clone)]
pub(crate) struct Bearer(MetadataValue<tonic::metadata::Ascii>);

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

pub(crate) type Provisioning = ProvisioningServiceClient<InterceptedService<Channel, Bearer>>;
pub(crate) type Sandbox = SandboxServiceClient<InterceptedService<Channel, Bearer>>;

/// Settings for tests: the worker steps often, and the sandbox's processes take a minute of simulated
/// time, which the tests pass with AdvanceClock.
pub(crate) fn test_settings(database: &TestDatabase) -> ProvisioningSettings {
    let mut settings = ProvisioningSettings {
        database: database.settings("provisioning"),
        ..ProvisioningSettings::default()
    };
    settings.engine.worker_interval_ms = 50;
    settings.engine.poll_secs = 5;
    settings.backend.sandbox.create_account_delay_secs = 60;
    settings.backend.sandbox.close_account_delay_secs = 60;
    settings.backend.sandbox.cloudformation_delay_secs = 60;
    settings
}

/// A served provisioning over the sandbox with counted backend calls.
pub(crate) struct Served {
    pub(crate) host: TestHost,
    pub(crate) channel: Channel,
    pub(crate) sandbox: SandboxCloud,
    pub(crate) counting: Arc<CountingCloud<SandboxCloud>>,
}

impl Served {
    /// ProvisioningService as the orders service (the only mutating caller).
    pub(crate) fn orders(&self) -> Provisioning {
        let token = self
            .host
            .service_token(ServiceKind::Orders, ServiceKind::Provisioning);
        ProvisioningServiceClient::with_interceptor(self.channel.clone(), bearer(&token))
    }

    /// SandboxService as an operator.
    pub(crate) fn operator(&self) -> Sandbox {
        let token = self.host.token(Role::Operator, None);
        SandboxServiceClient::with_interceptor(self.channel.clone(), bearer(&token))
    }

    /// Moves the simulated clock.
    pub(crate) async fn advance(&self, by: Duration) {
        self.operator()
            .advance_clock(pb::AdvanceClockRequest {
                by: Some(prost_types::Duration::try_from(by).expect("duration")),
            })
            .await
            .expect("advance clock");
    }
}

pub(crate) fn bearer(token: &str) -> Bearer {
    Bearer(format!("Bearer {token}").parse().expect("ascii token"))
}

/// Serves `settings` over the sandbox (migrated first), optionally wrapping the backend the engine calls.
pub(crate) async fn serve_sandbox(
    settings: &ProvisioningSettings,
    wrap: impl FnOnce(Arc<CountingCloud<SandboxCloud>>) -> Arc<dyn Cloud>,
) -> Served {
    tenure_provisioning::migrate(settings)
        .await
        .expect("migrations");
    let clock: SharedClock = Arc::new(SystemClock);
    let sandbox = ProvisioningApp::open_sandbox(settings, clock.clone())
        .await
        .expect("sandbox");
    let counting = Arc::new(CountingCloud::new(sandbox.clone()));
    let engine_cloud = wrap(counting.clone());
    let app = ProvisioningApp::build_with(
        settings,
        clock,
        Backend::sandbox(sandbox.clone(), engine_cloud),
    )
    .await
    .expect("build");
    let host = TestHost::new().expect("host");
    let mut builder = host.builder(ServiceKind::Provisioning);
    app.register(&mut builder);
    let handle = host.serve(builder).await.expect("serve");
    let channel = tenure_testkit::grpc::channel(handle.local_addr())
        .await
        .expect("channel");
    Served {
        host,
        channel,
        sandbox,
        counting,
    }
}

/// A fresh database and the service over the sandbox on it.
pub(crate) async fn spawn_sandbox() -> (Served, TestDatabase) {
    let database = TestDatabase::create().await.expect("test database");
    let served = serve_sandbox(&test_settings(&database), |counting| counting).await;
    (served, database)
}

/// A fresh idempotency key.
pub(crate) fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Polls GetOperation until the operation leaves IN_PROGRESS (the worker and GetOperation both step it),
/// moving the clock by `step` between polls.
pub(crate) async fn settle(served: &Served, operation_id: &str, step: Duration) -> pb::Operation {
    let mut client = served.orders();
    for _ in 0..100 {
        let operation = client
            .get_operation(pb::GetOperationRequest {
                operation_id: operation_id.to_owned(),
            })
            .await
            .expect("get operation")
            .into_inner()
            .operation
            .expect("operation");
        if operation.state != pb::OperationState::InProgress as i32 {
            return operation;
        }
        served.advance(step).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("operation {operation_id} stayed in progress");
}

/// An organization in the sandbox with one created member account (creation settled).
pub(crate) async fn organization_with_member(served: &Served) -> (String, String) {
    let management = served
        .sandbox
        .create_organization()
        .await
        .expect("organization")
        .to_string();
    let member = create_account(served, &management, &format!("{}@example.com", key())).await;
    (management, member)
}

/// Creates an account through the API and waits until it exists; returns its id.
pub(crate) async fn create_account(served: &Served, management: &str, email: &str) -> String {
    let operation = served
        .orders()
        .create_account(pb::CreateAccountRequest {
            idempotency_key: key(),
            management_account_id: management.to_owned(),
            email: email.to_owned(),
            account_name: "Test account".to_owned(),
        })
        .await
        .expect("create account")
        .into_inner()
        .operation
        .expect("operation");
    let done = settle(served, &operation.id, Duration::from_secs(60)).await;
    assert_eq!(done.state, pb::OperationState::Succeeded as i32, "{done:?}");
    done.aws_account_id
}

/// The `ErrorInfo` of a status.
pub(crate) fn error_info(status: &tonic::Status) -> tonic_types::ErrorInfo {
    use tonic_types::StatusExt as _;
    status
        .get_error_details()
        .error_info()
        .cloned()
        .expect("error info")
}
