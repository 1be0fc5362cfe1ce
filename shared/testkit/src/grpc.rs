//! Serving and calling Tenure services in tests: a host with fresh development credentials, listeners
//! on port 0, and raw calls to any published method so that authentication and policy can be checked
//! across whole contracts.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use tenure_grpc::{
    DevAuthority, Host, MethodPolicy, Role, ServerBuilder, ServerHandle, ServerSettings,
    ServiceKind, TokenVerifier,
};
use tokio::net::TcpListener;
use tonic::codegen::http::uri::PathAndQuery;
pub use tonic::transport::Channel;
use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use uuid::Uuid;

/// A host for tests: fresh development keys, no drain grace, reflection on.
pub struct TestHost {
    host: Host,
    authority: DevAuthority,
}

impl TestHost {
    /// A host with the default limits.
    pub fn new() -> anyhow::Result<Self> {
        Self::with_settings(ServerSettings {
            drain_grace_secs: 0,
            shutdown_timeout_secs: 5,
            reflection: true,
            ..ServerSettings::default()
        })
    }

    /// A host with custom settings (its keys are fresh all the same).
    pub fn with_settings(settings: ServerSettings) -> anyhow::Result<Self> {
        let authority = DevAuthority::generate()?;
        let verifier = TokenVerifier::new(&authority.auth_settings())?;
        Ok(Self {
            host: Host::new(settings, verifier),
            authority,
        })
    }

    /// The host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The keys that sign this host's tokens.
    pub fn authority(&self) -> &DevAuthority {
        &self.authority
    }

    /// A builder for one service.
    pub fn builder(&self, kind: ServiceKind) -> ServerBuilder {
        self.host.builder(kind)
    }

    /// Serves `builder` on a free loopback port.
    pub async fn serve(&self, builder: ServerBuilder) -> anyhow::Result<ServerHandle> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a loopback port")?;
        builder.serve(listener).await
    }

    /// A user token for `role` (customers get `tenant`, or a fresh one).
    pub fn token(&self, role: Role, tenant: Option<Uuid>) -> String {
        let tenant = match role {
            Role::Customer => Some(tenant.unwrap_or_else(Uuid::new_v4)),
            _ => None,
        };
        self.authority
            .user_token(role, "test-user", tenant, &[], Duration::from_secs(600))
            .unwrap_or_default()
    }

    /// A service token as `caller` would send it to `callee`.
    pub fn service_token(&self, caller: ServiceKind, callee: ServiceKind) -> String {
        self.authority
            .service_minter(caller)
            .and_then(|minter| minter.token_for(callee.audience()))
            .unwrap_or_default()
    }

    /// Drains and stops everything the host runs.
    pub async fn shutdown(&self) {
        self.host.shutdown().await;
    }
}

/// A connected channel to `address`.
pub async fn channel(address: SocketAddr) -> anyhow::Result<Channel> {
    Endpoint::from_shared(format!("http://{address}"))?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("connecting to {address}"))
}

/// Waits until the health check of `service` ("" for the whole listener) answers SERVING.
pub async fn wait_until_serving(channel: &Channel, service: &str) -> anyhow::Result<()> {
    let mut health = HealthClient::new(channel.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let answer = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await;
        if let Ok(response) = &answer
            && response.get_ref().status() == ServingStatus::Serving
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("{service:?} did not become SERVING: last answer {answer:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Calls the unary method at `path` with an empty request message, optionally with a bearer token, and
/// returns the status it ends with (`Ok` counts as `Code::Ok`).
pub async fn call_empty(channel: &Channel, path: &str, token: Option<&str>) -> tonic::Status {
    call_empty_for(channel, path, token, None).await
}

/// As [`call_empty`], with the tenant a service token acts for in `x-tenure-tenant`.
pub async fn call_empty_for(
    channel: &Channel,
    path: &str,
    token: Option<&str>,
    tenant: Option<uuid::Uuid>,
) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    if let Err(error) = grpc.ready().await {
        return tonic::Status::unavailable(error.to_string());
    }
    let Ok(path) = PathAndQuery::try_from(path.to_owned()) else {
        return tonic::Status::invalid_argument("not a path");
    };
    let mut request = tonic::Request::new(());
    if let Some(token) = token
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        request.metadata_mut().insert("authorization", value);
    }
    if let Some(tenant) = tenant
        && let Ok(value) = tenant.to_string().parse()
    {
        request
            .metadata_mut()
            .insert(tenure_grpc::TENANT_METADATA_KEY, value);
    }
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    match grpc.unary(request, path, codec).await {
        Ok(_) => tonic::Status::ok(""),
        Err(status) => status,
    }
}

/// The roles a policy entry refuses, with the token each would send; a service caller outside the
/// allow-list is included as `svc:<service>`.
pub fn refused_callers(
    host: &TestHost,
    entry: &MethodPolicy,
    callee: ServiceKind,
) -> Vec<(String, String)> {
    let mut refused = Vec::new();
    for role in [Role::Customer, Role::Operator, Role::Billing] {
        if !entry.roles.contains(&role) {
            refused.push((role.name().to_owned(), host.token(role, None)));
        }
    }
    for caller in ServiceKind::ALL {
        let allowed =
            entry.roles.contains(&Role::Service) && entry.service_callers.contains(&caller.name());
        if !allowed {
            refused.push((caller.subject(), host.service_token(caller, callee)));
        }
    }
    refused
}

/// Checks that `policy` has exactly one entry per published method of `services` and none for methods
/// that are not published.
pub fn assert_policy_covers(policy: &[MethodPolicy], services: &[&str]) {
    let (missing, unknown) = tenure_grpc::uncovered_methods(policy, services);
    assert!(missing.is_empty(), "methods without a policy: {missing:?}");
    assert!(
        unknown.is_empty(),
        "policies for unpublished methods: {unknown:?}"
    );
    let mut paths: Vec<_> = policy.iter().map(|entry| entry.method).collect();
    paths.sort_unstable();
    paths.dedup();
    assert_eq!(paths.len(), policy.len(), "a method is listed twice");
}

/// Waits until the listener and each of `services` report SERVING.
pub async fn assert_serving(channel: &Channel, services: &[&str]) {
    let mut names = vec![""];
    names.extend_from_slice(services);
    for name in names {
        let serving = wait_until_serving(channel, name).await;
        assert!(serving.is_ok(), "{name:?} is not serving: {serving:?}");
    }
}

/// Calls every published method of `services` without a token and with a forged one: each must answer
/// UNAUTHENTICATED with the same fixed message, so a caller cannot tell which check failed.
pub async fn assert_every_method_needs_credentials(
    host: &TestHost,
    channel: &Channel,
    services: &[&str],
) {
    let forged = host.token(Role::Operator, None) + "x";
    for service in services {
        for method in tenure_grpc::methods_of_service(service) {
            let anonymous = call_empty(channel, &method.path, None).await;
            assert_eq!(
                anonymous.code(),
                tonic::Code::Unauthenticated,
                "{}",
                method.path
            );
            let tampered = call_empty(channel, &method.path, Some(&forged)).await;
            assert_eq!(
                tampered.code(),
                tonic::Code::Unauthenticated,
                "{}",
                method.path
            );
            assert_eq!(anonymous.message(), tampered.message(), "{}", method.path);
        }
    }
}

/// Calls every method of `policy` as each role and service the entry does not list: each must answer
/// PERMISSION_DENIED, decided before any handler runs.
pub async fn assert_policy_refuses_the_unlisted(
    host: &TestHost,
    channel: &Channel,
    policy: &[MethodPolicy],
    callee: ServiceKind,
) {
    let mut checked = 0;
    for entry in policy {
        for (who, token) in refused_callers(host, entry, callee) {
            let status = call_empty(channel, entry.method, Some(&token)).await;
            assert_eq!(
                status.code(),
                tonic::Code::PermissionDenied,
                "{who} calling {}",
                entry.method
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "the policy refuses nobody");
}

/// Generates a service crate's API harness: `settings(&TestDatabase)`, `spawn() -> Harness` (the service
/// migrated and served on port 0 against a fresh PostgreSQL database), and the checks every service
/// must pass: one policy entry per published method, its core tables in its own schema, SERVING on
/// health, UNAUTHENTICATED without valid credentials on every method, and PERMISSION_DENIED for every
/// role and service its policy does not list. A crate's own tests build on `spawn()`.
#[macro_export]
macro_rules! service_api_tests {
    (
        service: $service:ident,
        app: $app:ident,
        settings: $settings:ident,
        kind: $kind:ident,
        schema: $schema:literal,
        published: [$($published:literal),+ $(,)?],
        tables: [$($table:literal),+ $(,)?]
        // Optional: the settings' other fields, for services whose settings hold more than the database.
        $(, settings_rest: $rest:expr)? $(,)?
    ) => {
        /// The services this crate publishes.
        const SERVICES: &[&str] = &[$($published),+];

        /// A served instance and what keeps it alive.
        #[allow(dead_code, reason = "crates use the fields their own tests need")]
        struct Harness {
            host: $crate::TestHost,
            channel: $crate::grpc::Channel,
            database: $crate::TestDatabase,
        }

        fn settings(database: &$crate::TestDatabase) -> $service::$settings {
            $service::$settings {
                database: database.settings($schema),
                $(..$rest)?
            }
        }

        /// Migrates a fresh database, then serves the service on port 0.
        async fn spawn() -> Harness {
            let database = $crate::TestDatabase::create().await.expect("test database");
            let settings = settings(&database);
            $service::migrate(&settings).await.expect("migrations");
            let host = $crate::TestHost::new().expect("host");
            let mut builder = host.builder(tenure_grpc::ServiceKind::$kind);
            $service::$app::build(&settings)
                .await
                .expect("build")
                .register(&mut builder);
            let handle = host.serve(builder).await.expect("serve");
            let channel = $crate::grpc::channel(handle.local_addr()).await.expect("channel");
            Harness { host, channel, database }
        }

        #[test]
        fn every_published_method_has_exactly_one_policy() {
            $crate::grpc::assert_policy_covers(&$service::policy(), SERVICES);
        }

        #[tokio::test]
        async fn migrations_create_the_core_tables_in_the_service_schema() {
            let database = $crate::TestDatabase::create().await.expect("test database");
            let settings = settings(&database);
            $service::migrate(&settings).await.expect("first run");
            $service::migrate(&settings).await.expect("a second run changes nothing");
            let tables = database.tables($schema).await.expect("tables");
            assert_eq!(tables, [$($table),+]);
            assert!(
                database.tables("public").await.expect("tables").is_empty(),
                "nothing lands outside the service schema"
            );
        }

        #[tokio::test]
        async fn reports_serving_for_itself_and_each_published_service() {
            let harness = spawn().await;
            $crate::grpc::assert_serving(&harness.channel, SERVICES).await;
            harness.host.shutdown().await;
        }

        #[tokio::test]
        async fn every_published_method_refuses_calls_without_valid_credentials() {
            let harness = spawn().await;
            $crate::grpc::assert_every_method_needs_credentials(&harness.host, &harness.channel, SERVICES)
                .await;
            harness.host.shutdown().await;
        }

        #[tokio::test]
        async fn every_method_refuses_the_roles_and_services_its_policy_does_not_list() {
            let harness = spawn().await;
            $crate::grpc::assert_policy_refuses_the_unlisted(
                &harness.host,
                &harness.channel,
                &$service::policy(),
                tenure_grpc::ServiceKind::$kind,
            )
            .await;
            harness.host.shutdown().await;
        }
    };
}
