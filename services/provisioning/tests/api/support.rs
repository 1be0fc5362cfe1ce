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

pub(crate) mod request;

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
        let metadata = request.metadata_mut();
        metadata.insert("authorization", self.token.clone());
        if let Some(tenant) = &self.tenant {
            metadata.insert(tenure_grpc::TENANT_METADATA_KEY, tenant.clone());
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
        let backend = Backend::sandbox(self.sandbox.clone(), self.cloud.clone());
        let (host, channel) = serve_app(settings, Arc::new(SystemClock), backend).await;
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
        let interceptor = service_bearer(&self.host, ServiceKind::Orders, tenant);
        ProvisioningServiceClient::with_interceptor(self.channel.clone(), interceptor)
    }

    /// PurgeParticipant as the data-purge service acting for `tenant`, as it does for each purge.
    pub(crate) fn purger_for(&self, tenant: uuid::Uuid) -> Purger {
        let interceptor = service_bearer(&self.host, ServiceKind::DataPurge, tenant);
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

    /// Sends `request` as the orders service; a refusal fails the test.
    pub(crate) async fn begin(&self, request: impl Mutation) -> pb::Operation {
        start_with(&mut self.orders(), request).await
    }

    /// Sends `request` as the orders service and settles its operation a minute at a time.
    pub(crate) async fn run(&self, request: impl Mutation) -> pb::Operation {
        let started = self.begin(request).await;
        settle(self, &started.id, MINUTE).await
    }

    /// Sends `request` as the orders service, expecting a refusal.
    pub(crate) async fn refused(&self, request: impl Mutation) -> tonic::Status {
        refused_with(&mut self.orders(), request).await
    }

    /// A new organization in the sandbox; returns its management account.
    pub(crate) async fn organization(&self) -> String {
        self.sandbox
            .create_organization()
            .await
            .expect("organization")
            .to_string()
    }

    /// A new account in the sandbox outside every organization.
    pub(crate) async fn standalone_account(&self) -> String {
        self.sandbox
            .create_standalone_account()
            .await
            .expect("standalone account")
            .to_string()
    }

    /// DescribeAccount as the orders service.
    pub(crate) async fn describe_account(&self, account: &str) -> pb::AccountResult {
        self.orders()
            .describe_account(request::describe_account(account))
            .await
            .expect("describe")
            .into_inner()
            .account
            .expect("account")
    }

    /// DescribeBillingTransfer as the orders service.
    pub(crate) async fn describe_billing_transfer(&self, transfer_id: &str) -> pb::BillingTransfer {
        self.orders()
            .describe_billing_transfer(pb::DescribeBillingTransferRequest {
                transfer_id: transfer_id.to_owned(),
            })
            .await
            .expect("describe")
            .into_inner()
            .billing_transfer
            .expect("transfer")
    }

    /// ListOperations as the orders service.
    pub(crate) async fn operations(&self, filter: pb::ListOperationsRequest) -> Vec<pb::Operation> {
        self.orders()
            .list_operations(filter)
            .await
            .expect("list")
            .into_inner()
            .operations
    }

    /// The customer accepts a handshake (as the operator, in the sandbox).
    pub(crate) async fn accept_handshake(&self, handshake_id: &str) {
        self.operator()
            .accept_handshake(pb::AcceptHandshakeRequest {
                handshake_id: handshake_id.to_owned(),
            })
            .await
            .expect("accept");
    }

    /// The customer declines a handshake (as the operator, in the sandbox).
    pub(crate) async fn decline_handshake(&self, handshake_id: &str) -> pb::Handshake {
        self.operator()
            .decline_handshake(pb::DeclineHandshakeRequest {
                handshake_id: handshake_id.to_owned(),
            })
            .await
            .expect("decline")
            .into_inner()
            .handshake
            .expect("handshake")
    }

    /// The sandbox's clock.
    pub(crate) async fn clock(&self) -> pb::GetClockResponse {
        self.operator()
            .get_clock(pb::GetClockRequest {})
            .await
            .expect("clock")
            .into_inner()
    }

    /// The sandbox's time now.
    pub(crate) async fn now(&self) -> prost_types::Timestamp {
        self.clock().await.now.expect("now")
    }
}

/// ProvisioningService on `channel` as the orders service.
/// The tenant the orders service acts for in tests that do not name one: every service call names
/// its tenant, as in production.
pub(crate) const HOUSE_TENANT: uuid::Uuid =
    uuid::Uuid::from_u128(0x7e57_0000_0000_4000_8000_0000_0000_0001);

fn orders_client(host: &TestHost, channel: &Channel) -> Provisioning {
    let interceptor = service_bearer(host, ServiceKind::Orders, HOUSE_TENANT);
    ProvisioningServiceClient::with_interceptor(channel.clone(), interceptor)
}

/// The token of service `caller` calling provisioning, acting for `tenant`.
fn service_bearer(host: &TestHost, caller: ServiceKind, tenant: uuid::Uuid) -> Bearer {
    let token = host.service_token(caller, ServiceKind::Provisioning);
    let mut interceptor = bearer(&token);
    interceptor.tenant = Some(tenant.to_string().parse().expect("ascii tenant"));
    interceptor
}

pub(crate) fn bearer(token: &str) -> Bearer {
    Bearer {
        token: format!("Bearer {token}").parse().expect("ascii token"),
        tenant: None,
    }
}

/// Builds the app on `backend` and mounts it on a test host listening on port 0.
async fn serve_app(
    settings: &ProvisioningSettings,
    clock: SharedClock,
    backend: Backend,
) -> (TestHost, Channel) {
    let app = ProvisioningApp::build_with(settings, clock, backend)
        .await
        .expect("build");
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
    let backend = Backend::sandbox(sandbox.clone(), engine_cloud.clone());
    let (host, channel) = serve_app(settings, clock, backend).await;
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

/// The platform's management account where a test configures one.
pub(crate) const PLATFORM_MANAGEMENT: &str = "210987654321";

/// A fresh database and the service over the sandbox on it, with [`PLATFORM_MANAGEMENT`] as the
/// platform's management account and the backend the engine calls wrapped by `wrap`.
pub(crate) async fn spawn_platform_sandbox(
    wrap: impl FnOnce(Arc<CountingCloud<SandboxCloud>>) -> Arc<dyn Cloud>,
) -> (Served, TestDatabase) {
    let database = TestDatabase::create().await.expect("test database");
    let mut settings = test_settings(&database);
    settings.default_management_account_id = Some(PLATFORM_MANAGEMENT.to_owned());
    (serve_sandbox(&settings, wrap).await, database)
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

/// The step `settle` moves the simulated clock by: a sandbox process's length.
pub(crate) const MINUTE: Duration = Duration::from_secs(60);
pub(crate) const DAY: Duration = Duration::from_secs(86_400);

/// A mutating ProvisioningService request, sent by the method that takes it.
pub(crate) trait Mutation: Clone {
    /// The operation the service answered with, or its refusal.
    async fn send(self, client: &mut Provisioning) -> Result<pb::Operation, tonic::Status>;
}

macro_rules! mutations {
    ($($request:ident => $method:ident),* $(,)?) => {$(
        impl Mutation for pb::$request {
            async fn send(self, client: &mut Provisioning) -> Result<pb::Operation, tonic::Status> {
                let answer = client.$method(self).await?.into_inner();
                Ok(answer.operation.expect("the answer carries the operation"))
            }
        }
    )*};
}

mutations!(
    CreateAccountRequest => create_account,
    RemoveAccountRequest => remove_account,
    CloseAccountRequest => close_account,
    InviteAccountRequest => invite_account,
    CancelHandshakeRequest => cancel_handshake,
    InviteBillingTransferRequest => invite_billing_transfer,
    EndBillingTransferRequest => end_billing_transfer,
    WithdrawBillingTransferRequest => withdraw_billing_transfer,
    DeployBootstrapStackRequest => deploy_bootstrap_stack,
    DeleteBootstrapStackRequest => delete_bootstrap_stack,
    CreateStackSetRequest => create_stack_set,
    DeleteStackSetRequest => delete_stack_set,
    CreateStackInstancesRequest => create_stack_instances,
    DeleteStackInstancesRequest => delete_stack_instances,
);

/// Sends `request` through `client`; a refusal fails the test with its status.
pub(crate) async fn start_with(client: &mut Provisioning, request: impl Mutation) -> pb::Operation {
    request
        .send(client)
        .await
        .unwrap_or_else(|status| panic!("the call was refused: {status:?}"))
}

/// Sends `request` through `client`, expecting the service to refuse it.
pub(crate) async fn refused_with(
    client: &mut Provisioning,
    request: impl Mutation,
) -> tonic::Status {
    match request.send(client).await {
        Ok(operation) => panic!("the call was answered: {operation:?}"),
        Err(status) => status,
    }
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

/// Fails the test unless `operation` is in `state`.
#[track_caller]
pub(crate) fn assert_state(operation: &pb::Operation, state: pb::OperationState) {
    assert_eq!(operation.state, state as i32, "{operation:?}");
}

/// Fails the test unless `operation` succeeded.
#[track_caller]
pub(crate) fn assert_succeeded(operation: &pb::Operation) {
    assert_state(operation, pb::OperationState::Succeeded);
}

/// The handshake an operation reports.
#[track_caller]
pub(crate) fn handshake_of(operation: &pb::Operation) -> pb::Handshake {
    match &operation.result {
        Some(pb::operation::Result::Handshake(handshake)) => handshake.clone(),
        _ => panic!("no handshake: {operation:?}"),
    }
}

/// The billing transfer an operation reports.
#[track_caller]
pub(crate) fn transfer_of(operation: &pb::Operation) -> pb::BillingTransfer {
    match &operation.result {
        Some(pb::operation::Result::BillingTransfer(transfer)) => transfer.clone(),
        _ => panic!("no transfer: {operation:?}"),
    }
}

/// The account an operation reports.
#[track_caller]
pub(crate) fn account_of(operation: &pb::Operation) -> pb::AccountResult {
    match &operation.result {
        Some(pb::operation::Result::Account(account)) => account.clone(),
        _ => panic!("no account result: {operation:?}"),
    }
}

/// The fields a status's `BadRequest` names, in its order (none without one).
pub(crate) fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt as _;
    let details = status.get_error_details();
    let violations = details
        .bad_request()
        .map_or(&[][..], |bad| &bad.field_violations);
    violations
        .iter()
        .map(|violation| violation.field.clone())
        .collect()
}

/// Polls GetOperation through `client` until the operation has ended, calling `between` after each poll
/// that finds it in progress; at most `polls` polls.
async fn poll_until_ended(
    client: &mut Provisioning,
    operation_id: &str,
    polls: usize,
    mut between: impl AsyncFnMut(),
) -> pb::Operation {
    for _ in 0..polls {
        let operation = client
            .get_operation(request::get_operation(operation_id))
            .await
            .operation();
        if has_ended(&operation) {
            return operation;
        }
        between().await;
    }
    panic!("operation {operation_id} stayed in progress");
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
    poll_until_ended(client, operation_id, 100, async || {
        served.advance(step).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    })
    .await
}

/// An organization in the sandbox with one created member account (creation settled).
pub(crate) async fn organization_with_member(served: &Served) -> (String, String) {
    let management = served.organization().await;
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
    let operation = start_with(
        client,
        request::create_account(management, email, "Test account"),
    )
    .await;
    let done = settle_with(served, client, &operation.id, MINUTE).await;
    assert_succeeded(&done);
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

/// Fails the test unless `status` is AWS's refusal with `aws_code`, passed on verbatim.
#[track_caller]
pub(crate) fn assert_aws_rejected(status: &tonic::Status, aws_code: &str) {
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    let info = error_info(status);
    assert_eq!(info.reason, "AWS_REJECTED");
    assert_eq!(
        info.metadata.get("aws_code").map(String::as_str),
        Some(aws_code)
    );
}

/// The `code` (or another key's) metadata of a status's `ErrorInfo`.
pub(crate) fn error_metadata(status: &tonic::Status, key: &str) -> Option<String> {
    error_info(status).metadata.get(key).cloned()
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
        let backend = Backend::aws(Arc::new(aws));
        let (host, channel) = serve_app(&settings, Arc::new(SystemClock), backend).await;
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

    /// Sends `request` as the orders service; a refusal fails the test.
    pub(crate) async fn begin(&self, request: impl Mutation) -> pb::Operation {
        start_with(&mut self.orders(), request).await
    }

    /// Polls GetOperation in real time until the operation has ended: on the aws backend,
    /// backoffs and polls run on the system clock.
    pub(crate) async fn settle(&self, operation_id: &str) -> pb::Operation {
        poll_until_ended(&mut self.orders(), operation_id, 1_200, async || {
            tokio::time::sleep(Duration::from_millis(50)).await;
        })
        .await
    }

    /// Sends `request` as the orders service and waits until its operation has ended.
    pub(crate) async fn run(&self, request: impl Mutation) -> pb::Operation {
        let started = self.begin(request).await;
        self.settle(&started.id).await
    }

    /// The names of the live stacks moto holds in `account`.
    pub(crate) async fn live_stacks(&self, account: &AwsAccountId) -> Vec<String> {
        self.admin.live_stack_names(account).await.expect("stacks")
    }

    /// (account, region) of each instance of `stack_set` that moto holds.
    pub(crate) async fn instances(
        &self,
        management: &AwsAccountId,
        stack_set: &str,
    ) -> Vec<(String, String)> {
        let instances = self
            .inspector
            .list_stack_instances(management, stack_set)
            .await
            .expect("instances");
        instances
            .into_iter()
            .map(|instance| (instance.account.to_string(), instance.region))
            .collect()
    }

    /// Creates an account through the API and waits for it; returns its id.
    pub(crate) async fn create_account(&self, management: &AwsAccountId, email: &str) -> String {
        let done = self
            .run(request::create_account(management, email, "Test account"))
            .await;
        assert_succeeded(&done);
        done.aws_account_id
    }
}
