//! The harness of this crate's tests: the service on port 0 over the sandbox (or an injected backend),
//! with the backend calls counted, and typed clients carrying the right tokens.

use std::sync::Arc;
use std::time::Duration;

use tenure_domain::AwsAccountId;
use tenure_domain::{SharedClock, SystemClock};
use tenure_grpc::{Role, ServiceKind};
use tenure_proto::provisioning::v1 as pb;
use tenure_proto::provisioning::v1::provisioning_service_client::ProvisioningServiceClient;
use tenure_proto::provisioning::v1::sandbox_service_client::SandboxServiceClient;
use tenure_proto::purge::v1::purge_participant_client::PurgeParticipantClient;
use tenure_provisioning::cloud::testing::{
    EmulatorAdmin, FaultInjector, emulator_settings, static_sdk_config,
};
use tenure_provisioning::cloud::{AwsCloud, Cloud, CountingCloud, https_client};
use tenure_provisioning::{Backend, ProvisioningApp, ProvisioningSettings, SandboxCloud};
use tenure_testkit::grpc::Channel;
use tenure_testkit::moto::{MotoServer, fresh_account_id};
use tenure_testkit::{TestDatabase, TestHost};
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;

/// Adds a bearer token, and the tenant a service acts for when there is one, to every call.
#[derive(Clone)]
pub(crate) struct Bearer {
    token: MetadataValue<tonic::metadata::Ascii>,
    tenant: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.token.clone());
        if let Some(tenant) = &self.tenant {
            request
                .metadata_mut()
                .insert(tenure_grpc::TENANT_METADATA_KEY, tenant.clone());
        }
        Ok(request)
    }
}

pub(crate) type Provisioning = ProvisioningServiceClient<InterceptedService<Channel, Bearer>>;
pub(crate) type Purger = PurgeParticipantClient<InterceptedService<Channel, Bearer>>;
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
    /// The backend the engine calls (the counter, possibly wrapped).
    cloud: Arc<dyn Cloud>,
}

impl Served {
    /// Another app on the same database, simulation and backend: a second replica whose engine (its
    /// worker and its GetOperation) competes with this one's for the same operations.
    pub(crate) async fn replica(&self, settings: &ProvisioningSettings) -> Served {
        let app = ProvisioningApp::build_with(
            settings,
            Arc::new(SystemClock),
            Backend::sandbox(self.sandbox.clone(), self.cloud.clone()),
        )
        .await
        .expect("build");
        let (host, channel) = serve_app(app).await;
        Served {
            host,
            channel,
            sandbox: self.sandbox.clone(),
            counting: self.counting.clone(),
            cloud: self.cloud.clone(),
        }
    }

    /// ProvisioningService as the orders service (the only mutating caller).
    pub(crate) fn orders(&self) -> Provisioning {
        orders_client(&self.host, &self.channel)
    }

    /// ProvisioningService as the orders service acting for `tenant`: its operations belong to it.
    pub(crate) fn orders_for(&self, tenant: uuid::Uuid) -> Provisioning {
        let token = self
            .host
            .service_token(ServiceKind::Orders, ServiceKind::Provisioning);
        let mut interceptor = bearer(&token);
        interceptor.tenant = Some(tenant.to_string().parse().expect("ascii tenant"));
        ProvisioningServiceClient::with_interceptor(self.channel.clone(), interceptor)
    }

    /// PurgeParticipant as the data-purge service acting for `tenant`, as it does for each purge.
    pub(crate) fn purger_for(&self, tenant: uuid::Uuid) -> Purger {
        let token = self
            .host
            .service_token(ServiceKind::DataPurge, ServiceKind::Provisioning);
        let mut interceptor = bearer(&token);
        interceptor.tenant = Some(tenant.to_string().parse().expect("ascii tenant"));
        PurgeParticipantClient::with_interceptor(self.channel.clone(), interceptor)
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

/// ProvisioningService on `channel` as the orders service.
/// The tenant the orders service acts for in tests that do not name one: every service call names
/// its tenant, as in production.
pub(crate) const HOUSE_TENANT: uuid::Uuid =
    uuid::Uuid::from_u128(0x7e57_0000_0000_4000_8000_0000_0000_0001);

fn orders_client(host: &TestHost, channel: &Channel) -> Provisioning {
    let token = host.service_token(ServiceKind::Orders, ServiceKind::Provisioning);
    let mut interceptor = bearer(&token);
    interceptor.tenant = Some(HOUSE_TENANT.to_string().parse().expect("ascii tenant"));
    ProvisioningServiceClient::with_interceptor(channel.clone(), interceptor)
}

pub(crate) fn bearer(token: &str) -> Bearer {
    Bearer {
        token: format!("Bearer {token}").parse().expect("ascii token"),
        tenant: None,
    }
}

/// Mounts an app on a test host listening on port 0.
async fn serve_app(app: ProvisioningApp) -> (TestHost, Channel) {
    let host = TestHost::new().expect("host");
    let mut builder = host.builder(ServiceKind::Provisioning);
    app.register(&mut builder);
    let handle = host.serve(builder).await.expect("serve");
    let channel = tenure_testkit::grpc::channel(handle.local_addr())
        .await
        .expect("channel");
    (host, channel)
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
        Backend::sandbox(sandbox.clone(), engine_cloud.clone()),
    )
    .await
    .expect("build");
    let (host, channel) = serve_app(app).await;
    Served {
        host,
        channel,
        sandbox,
        counting,
        cloud: engine_cloud,
    }
}

/// A fresh database and the service over the sandbox on it.
pub(crate) async fn spawn_sandbox() -> (Served, TestDatabase) {
    let database = TestDatabase::create().await.expect("test database");
    let served = serve_sandbox(&test_settings(&database), |counting| counting).await;
    (served, database)
}

/// The operation a mutating RPC answered with; a refusal fails the test with its status.
pub(crate) trait OperationAnswer {
    fn operation(self) -> pb::Operation;
}

macro_rules! operation_answers {
    ($($response:ident),* $(,)?) => {$(
        impl OperationAnswer for Result<tonic::Response<pb::$response>, tonic::Status> {
            #[track_caller]
            fn operation(self) -> pb::Operation {
                match self {
                    Ok(answer) => answer
                        .into_inner()
                        .operation
                        .expect("the answer carries the operation"),
                    Err(status) => panic!("the call was refused: {status:?}"),
                }
            }
        }
    )*};
}

operation_answers!(
    CreateAccountResponse,
    RemoveAccountResponse,
    CloseAccountResponse,
    InviteAccountResponse,
    CancelHandshakeResponse,
    InviteBillingTransferResponse,
    EndBillingTransferResponse,
    WithdrawBillingTransferResponse,
    DeployBootstrapStackResponse,
    DeleteBootstrapStackResponse,
    CreateStackSetResponse,
    DeleteStackSetResponse,
    CreateStackInstancesResponse,
    DeleteStackInstancesResponse,
    GetOperationResponse,
);

/// A fresh idempotency key.
pub(crate) fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// True once the operation can no longer change. DEFERRED is not an end: the operation is retried when
/// its wait is over, and a poll may read it just before the worker, holding the claim, steps it on.
pub(crate) fn has_ended(operation: &pb::Operation) -> bool {
    [
        pb::OperationState::Succeeded,
        pb::OperationState::Failed,
        pb::OperationState::CustomerActionRequired,
    ]
    .into_iter()
    .any(|state| operation.state == state as i32)
}

/// Polls GetOperation until the operation has ended (the worker and GetOperation both step it), moving
/// the clock by `step` between polls.
pub(crate) async fn settle(served: &Served, operation_id: &str, step: Duration) -> pb::Operation {
    settle_with(served, &mut served.orders(), operation_id, step).await
}

/// As [`settle`], reading the operation through `client`: the tenant it acts for owns the operation.
pub(crate) async fn settle_with(
    served: &Served,
    client: &mut Provisioning,
    operation_id: &str,
    step: Duration,
) -> pb::Operation {
    for _ in 0..100 {
        let operation = client
            .get_operation(pb::GetOperationRequest {
                operation_id: operation_id.to_owned(),
            })
            .await
            .operation();
        if has_ended(&operation) {
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
    create_account_with(served, &mut served.orders(), management, email).await
}

/// Like [`create_account`], through `client` (e.g. acting for a tenant).
pub(crate) async fn create_account_with(
    served: &Served,
    client: &mut Provisioning,
    management: &str,
    email: &str,
) -> String {
    let operation = client
        .create_account(pb::CreateAccountRequest {
            idempotency_key: key(),
            management_account_id: management.to_owned(),
            email: email.to_owned(),
            account_name: "Test account".to_owned(),
        })
        .await
        .operation();
    let done = settle_with(served, client, &operation.id, Duration::from_secs(60)).await;
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

/// The service on the `aws` backend against its own moto_server: the real SDK, every request crossing a
/// [`FaultInjector`] (with no rule it passes everything through and counts the requests at the HTTP
/// boundary).
pub(crate) struct ServedAws {
    pub(crate) host: TestHost,
    pub(crate) channel: Channel,
    pub(crate) injector: FaultInjector,
    /// Raw SDK clients on the same emulator, past the injector.
    pub(crate) admin: EmulatorAdmin,
    /// A backend of its own on the same emulator, past the injector: what AWS holds, read apart from
    /// the engine's backend.
    pub(crate) inspector: AwsCloud,
    _moto: MotoServer,
    _database: TestDatabase,
}

impl ServedAws {
    /// A fresh database and emulator, and the service on them. The SDK makes `max_attempts` attempts
    /// per call before the engine's reaction table sees the error.
    pub(crate) async fn start(max_attempts: u32) -> Self {
        let database = TestDatabase::create().await.expect("test database");
        let moto = MotoServer::start().await.expect("moto_server starts");
        let mut settings = test_settings(&database);
        // moto finishes asynchronous work at once; a short poll keeps the real-time waits short.
        settings.engine.poll_secs = 1;
        tenure_provisioning::migrate(&settings)
            .await
            .expect("migrations");
        let injector = FaultInjector::new(https_client());
        let aws = AwsCloud::from_sdk_config(
            &static_sdk_config(injector.clone()),
            &emulator_settings(&moto.endpoint(), max_attempts),
        );
        let clock: SharedClock = Arc::new(SystemClock);
        let app = ProvisioningApp::build_with(&settings, clock, Backend::aws(Arc::new(aws)))
            .await
            .expect("build");
        let (host, channel) = serve_app(app).await;
        Self {
            host,
            channel,
            injector,
            admin: EmulatorAdmin::new(&moto.endpoint()),
            inspector: AwsCloud::from_sdk_config(
                &static_sdk_config(https_client()),
                &emulator_settings(&moto.endpoint(), 3),
            ),
            _moto: moto,
            _database: database,
        }
    }

    /// ProvisioningService as the orders service.
    pub(crate) fn orders(&self) -> Provisioning {
        orders_client(&self.host, &self.channel)
    }

    /// A new organization in the emulator; returns its management account.
    pub(crate) async fn organization(&self) -> AwsAccountId {
        let management = AwsAccountId::parse(&fresh_account_id()).expect("a valid id");
        self.admin
            .create_organization(&management)
            .await
            .expect("moto creates the organization");
        management
    }

    /// Polls GetOperation in real time until the operation has ended: on the aws backend,
    /// backoffs and polls run on the system clock.
    pub(crate) async fn settle(&self, operation_id: &str) -> pb::Operation {
        let mut client = self.orders();
        for _ in 0..1_200 {
            let operation = client
                .get_operation(pb::GetOperationRequest {
                    operation_id: operation_id.to_owned(),
                })
                .await
                .operation();
            if has_ended(&operation) {
                return operation;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("operation {operation_id} stayed in progress");
    }

    /// Creates an account through the API and waits for it; returns its id.
    pub(crate) async fn create_account(&self, management: &AwsAccountId, email: &str) -> String {
        let operation = self
            .orders()
            .create_account(pb::CreateAccountRequest {
                idempotency_key: key(),
                management_account_id: management.to_string(),
                email: email.to_owned(),
                account_name: "Test account".to_owned(),
            })
            .await
            .operation();
        let done = self.settle(&operation.id).await;
        assert_eq!(done.state, pb::OperationState::Succeeded as i32, "{done:?}");
        done.aws_account_id
    }
}
