//! The whole stack (orders, accounts, provisioning on its sandbox, data-purge) on one PostgreSQL
//! database, with one movable clock for all of them, tokens for every role, and the seeding of
//! tenants whose data spans every data owner. The purge and order scenarios share it.

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a failed setup step or a broken expectation is a failed test"
)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
use tenure_domain::{Clock as _, ManualClock};
use tenure_e2e::{ClusterOptions, ServiceProcess, TestCluster};
use tenure_grpc::{Role, ServiceKind};
use tenure_proto::accounts::v1 as accounts;
use tenure_proto::accounts::v1::account_service_client::AccountServiceClient;
use tenure_proto::common::v1 as common;
use tenure_proto::orders::v1::order_events_client::OrderEventsClient;
use tenure_proto::orders::v1::order_service_client::OrderServiceClient;
use tenure_proto::orders::v1::saga_admin_client::SagaAdminClient;
use tenure_proto::provisioning::v1 as prov;
use tenure_proto::provisioning::v1::provisioning_service_client::ProvisioningServiceClient;
use tenure_proto::provisioning::v1::sandbox_service_client::SandboxServiceClient;
use tenure_proto::purge::v1 as purge;
use tenure_proto::purge::v1::purge_events_client::PurgeEventsClient;
use tenure_proto::purge::v1::purge_participant_client::PurgeParticipantClient;
use tenure_proto::purge::v1::purge_service_client::PurgeServiceClient;
use tonic::transport::Channel;
use uuid::Uuid;

/// The management account the sandbox creates its platform organization for.
pub(crate) const MANAGEMENT: &str = "111122223333";

/// Who calls.
#[derive(Debug, Clone)]
pub(crate) enum As {
    Operator,
    /// An operator with the `legal_hold` permission.
    LegalOperator,
    Customer(Uuid),
    /// A customer signed in as this user subject of the tenant (its administrator, say).
    User(Uuid, String),
    Billing,
    /// The orders service acting for a tenant.
    Orders(Uuid),
    /// The data-purge service (as the purge worker calls data owners).
    Purger(Uuid),
}

/// The running stack and its clock.
pub(crate) struct Stack {
    pub(crate) owners: TestCluster,
    pub(crate) purger: Option<TestCluster>,
    pub(crate) clock: Arc<ManualClock>,
}

/// Worker settings that let scenarios run in seconds. Waits on the customer (billing transfers, the
/// bootstrap role, invitations) poll hourly, as in production: scenarios wake them with a signal.
pub(crate) fn fast(config: &mut tenure::config::TenureConfig) {
    config.data_purge.settings.worker.interval_ms = 100;
    config.data_purge.settings.worker.lease_secs = 2;
    config.server.shutdown_timeout_secs = 1;
    config.server.unary_deadline_cap_secs = 30;
    config.accounts.settings.lifecycle_timer_interval_ms = 100;
    let sandbox = &mut config.provisioning.settings.backend.sandbox;
    sandbox.create_account_delay_secs = 1;
    sandbox.close_account_delay_secs = 1;
    sandbox.cloudformation_delay_secs = 1;
    config.provisioning.settings.engine.worker_interval_ms = 100;
    config.provisioning.settings.engine.poll_secs = 1;
    config.provisioning.settings.default_management_account_id = Some(MANAGEMENT.to_owned());
    let orders = &mut config.orders.settings;
    orders.default_management_account_id = Some(MANAGEMENT.to_owned());
    orders.engine.wake_interval_ms = 50;
    orders.engine.lease_secs = 3;
    orders.engine.aws_poll_secs = 1;
    orders.engine.closure_poll_secs = 1;
    orders.engine.retry_base_ms = 100;
    orders.engine.retry_cap_secs = 2;
    orders.engine.undo_cap_secs = 2;
    unlimited(config);
}

/// Limits far above anything the suite does: its tests are about behaviour and load (hundreds of
/// orders from a few tenants, tight polling loops, many watches), not about limits. `limits.rs` puts
/// the production limits back where it tests them.
pub(crate) fn unlimited(config: &mut tenure::config::TenureConfig) {
    let plenty = tenure_domain::rate::Quota::new(1_000_000, 1_000_000);
    config.server.rate_limits.read = plenty;
    config.server.rate_limits.mutation = plenty;
    let limits = &mut config.orders.settings.limits;
    limits.new_account_orders_in_flight = 100_000;
    limits.orders_in_flight = 100_000;
    limits.watch_streams_per_tenant = 10_000;
    limits.event_streams_per_principal = 10_000;
}

impl Stack {
    /// Every data owner and data-purge, in one cluster.
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Every service in one cluster, configured by `configure` after the fast settings.
    pub(crate) async fn start_with(
        configure: impl FnOnce(&mut tenure::config::TenureConfig) + Send + 'static,
    ) -> Self {
        let clock = Arc::new(ManualClock::new());
        let owners = TestCluster::start_with(
            &ServiceKind::ALL,
            ClusterOptions {
                clock: clock.clone(),
                configure: Box::new(move |config| {
                    fast(config);
                    configure(config);
                }),
            },
        )
        .await
        .expect("cluster");
        Self {
            owners,
            purger: None,
            clock,
        }
    }

    /// Accounts, provisioning and data-purge in-process; orders runs as separate processes the test
    /// starts and kills ([`TestCluster::spawn_process`]). The sandbox answers at once here: the scenarios count sagas and effects, not AWS's pace.
    pub(crate) async fn start_without_orders() -> Self {
        let clock = Arc::new(ManualClock::new());
        let instant = |config: &mut tenure::config::TenureConfig| {
            fast(config);
            let sandbox = &mut config.provisioning.settings.backend.sandbox;
            sandbox.create_account_delay_secs = 0;
            sandbox.close_account_delay_secs = 0;
            sandbox.cloudformation_delay_secs = 0;
        };
        let owners = TestCluster::start_with(
            &[
                ServiceKind::Accounts,
                ServiceKind::Provisioning,
                ServiceKind::DataPurge,
            ],
            ClusterOptions {
                clock: clock.clone(),
                configure: Box::new(instant),
            },
        )
        .await
        .expect("cluster");
        Self {
            owners,
            purger: None,
            clock,
        }
    }

    /// The data owners in one cluster and data-purge in another, so the test can kill data-purge
    /// alone.
    pub(crate) async fn start_split() -> Self {
        let clock = Arc::new(ManualClock::new());
        let owners = TestCluster::start_with(
            &[
                ServiceKind::Orders,
                ServiceKind::Accounts,
                ServiceKind::Provisioning,
            ],
            ClusterOptions {
                clock: clock.clone(),
                configure: Box::new(fast),
            },
        )
        .await
        .expect("owners");
        let mut stack = Self {
            owners,
            purger: None,
            clock,
        };
        stack.restart_purger().await;
        stack
    }

    /// All four services as `tenure serve` processes on one database, each with its own `/metrics`
    /// endpoint and log file, configured by `configure` after the fast settings with an instant
    /// sandbox. The stack's clients reach the processes; its clock does not move them (they run on
    /// real time).
    pub(crate) async fn start_as_processes(
        configure: impl Fn(&mut tenure::config::TenureConfig),
    ) -> (Self, Vec<ServiceProcess>) {
        let instant = |config: &mut tenure::config::TenureConfig| {
            fast(config);
            let sandbox = &mut config.provisioning.settings.backend.sandbox;
            sandbox.create_account_delay_secs = 0;
            sandbox.close_account_delay_secs = 0;
            sandbox.cloudformation_delay_secs = 0;
        };
        let mut owners = TestCluster::start_with(
            &[],
            ClusterOptions {
                clock: Arc::new(tenure_domain::SystemClock),
                configure: Box::new(instant),
            },
        )
        .await
        .expect("database");
        let processes = owners
            .spawn_processes(&ServiceKind::ALL, configure)
            .await
            .expect("processes");
        for process in &processes {
            owners.adopt(process).expect("adopt");
        }
        let stack = Self {
            owners,
            purger: None,
            clock: Arc::new(ManualClock::new()),
        };
        (stack, processes)
    }

    /// Kills the separate data-purge (if any) and starts a fresh one on the same database.
    pub(crate) async fn restart_purger(&mut self) {
        if let Some(purger) = self.purger.take() {
            purger.shutdown().await;
        }
        self.purger = Some(
            self.owners
                .start_beside(&[ServiceKind::DataPurge], self.clock.clone())
                .await
                .expect("data-purge"),
        );
    }

    /// Stops data-purge, as a crash would: its worker is dropped wherever it stands.
    pub(crate) async fn kill_purger(&mut self) {
        if let Some(purger) = self.purger.take() {
            purger.shutdown().await;
        }
    }

    fn cluster_of(&self, kind: ServiceKind) -> &TestCluster {
        match (&self.purger, kind) {
            (Some(purger), ServiceKind::DataPurge) => purger,
            _ => &self.owners,
        }
    }

    async fn channel(&self, kind: ServiceKind) -> Channel {
        let url = self.cluster_of(kind).url(kind).expect("url");
        tonic::transport::Endpoint::from_shared(url)
            .expect("endpoint")
            .connect()
            .await
            .expect("connect")
    }

    pub(crate) async fn accounts(&self) -> AccountServiceClient<Channel> {
        AccountServiceClient::new(self.channel(ServiceKind::Accounts).await)
    }

    pub(crate) async fn purges(&self) -> PurgeServiceClient<Channel> {
        PurgeServiceClient::new(self.channel(ServiceKind::DataPurge).await)
    }

    pub(crate) async fn events(&self) -> PurgeEventsClient<Channel> {
        PurgeEventsClient::new(self.channel(ServiceKind::DataPurge).await)
    }

    pub(crate) async fn participant(&self, kind: ServiceKind) -> PurgeParticipantClient<Channel> {
        PurgeParticipantClient::new(self.channel(kind).await)
    }

    pub(crate) async fn provisioning(&self) -> ProvisioningServiceClient<Channel> {
        ProvisioningServiceClient::new(self.channel(ServiceKind::Provisioning).await)
    }

    pub(crate) async fn orders(&self) -> OrderServiceClient<Channel> {
        OrderServiceClient::new(self.channel(ServiceKind::Orders).await)
    }

    pub(crate) async fn order_events(&self) -> OrderEventsClient<Channel> {
        OrderEventsClient::new(self.channel(ServiceKind::Orders).await)
    }

    pub(crate) async fn saga_admin(&self) -> SagaAdminClient<Channel> {
        SagaAdminClient::new(self.channel(ServiceKind::Orders).await)
    }

    pub(crate) async fn sandbox(&self) -> SandboxServiceClient<Channel> {
        SandboxServiceClient::new(self.channel(ServiceKind::Provisioning).await)
    }

    /// `message` with the credentials of `who` for a call to `callee`.
    pub(crate) fn request<T>(
        &self,
        who: &As,
        callee: ServiceKind,
        message: T,
    ) -> tonic::Request<T> {
        let authority = self.owners.authority();
        let lifetime = Duration::from_secs(600);
        let (token, tenant) = match who {
            As::Operator => (
                authority.user_token(Role::Operator, "ops-1", None, &[], lifetime),
                None,
            ),
            As::LegalOperator => (
                authority.user_token(Role::Operator, "legal-1", None, &["legal_hold"], lifetime),
                None,
            ),
            As::Customer(tenant) => (
                authority.user_token(Role::Customer, "user-1", Some(*tenant), &[], lifetime),
                None,
            ),
            As::User(tenant, subject) => (
                authority.user_token(Role::Customer, subject, Some(*tenant), &[], lifetime),
                None,
            ),
            As::Billing => (
                authority.user_token(Role::Billing, "billing-1", None, &[], lifetime),
                None,
            ),
            As::Orders(tenant) => (
                authority
                    .service_minter(ServiceKind::Orders)
                    .and_then(|minter| minter.token_for(callee.audience())),
                Some(*tenant),
            ),
            As::Purger(tenant) => (
                authority
                    .service_minter(ServiceKind::DataPurge)
                    .and_then(|minter| minter.token_for(callee.audience())),
                Some(*tenant),
            ),
        };
        let mut request = tonic::Request::new(message);
        let metadata = request.metadata_mut();
        metadata.insert(
            "authorization",
            format!("Bearer {}", token.expect("token"))
                .parse()
                .expect("header"),
        );
        if let Some(tenant) = tenant {
            metadata.insert(
                "x-tenure-tenant",
                tenant.to_string().parse().expect("tenant"),
            );
        }
        request
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Moves business time forward for every service.
    pub(crate) fn advance_days(&self, days: i64) {
        self.clock.advance(chrono::Duration::days(days));
    }

    /// A raw connection to one service's schema.
    pub(crate) async fn sql(&self, kind: ServiceKind) -> tenure_db::Db {
        let config = self.owners.config();
        let settings = match kind {
            ServiceKind::Accounts => &config.accounts.settings.database,
            ServiceKind::Provisioning => &config.provisioning.settings.database,
            ServiceKind::DataPurge => &config.data_purge.settings.database,
            ServiceKind::Orders => &config.orders.settings.database,
        };
        tenure_db::connect(settings).await.expect("connect")
    }

    /// How many rows of `kind`'s tables contain `needle` in any column, bytes included. The
    /// sandbox's tables are left out: they stand in for AWS itself, and what AWS holds about an
    /// account is not Tenure's to purge.
    pub(crate) async fn rows_containing(&self, kind: ServiceKind, needle: &str) -> u64 {
        let db = self.sql(kind).await;
        let conn = db.conn();
        let columns = conn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS d \
                 FROM information_schema.columns \
                 WHERE table_schema = $1 AND table_name NOT LIKE 'sandbox\\_%'",
                [kind.schema().into()],
            ))
            .await
            .expect("catalogue");
        assert!(!columns.is_empty(), "no tables in {}", kind.schema());
        let mut found = 0u64;
        for row in columns {
            let table: String = row.try_get("", "t").expect("t");
            let column: String = row.try_get("", "c").expect("c");
            let data_type: String = row.try_get("", "d").expect("d");
            let matches = if data_type == "bytea" {
                format!("position(convert_to($1, 'UTF8') in \"{column}\") > 0")
            } else {
                format!("position($1 in \"{column}\"::text) > 0")
            };
            let sql = format!("SELECT count(*) AS n FROM \"{table}\" WHERE {matches}");
            let count = conn
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    sql,
                    [needle.into()],
                ))
                .await
                .expect("scan")
                .expect("row");
            let n: i64 = count.try_get("", "n").expect("n");
            found += u64::try_from(n).expect("count");
        }
        db.close().await.ok();
        found
    }
}

pub(crate) fn key() -> String {
    format!("e2e-{}", Uuid::new_v4().simple())
}

pub(crate) fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).expect("nanos"),
    }
}

/// What a seeded tenant is made of.
pub(crate) struct Seeded {
    pub(crate) tenant: Uuid,
    /// The tenant's administrator's email and display name: login information.
    pub(crate) admin_email: String,
    pub(crate) admin_name: String,
    /// The administrator's subject at the identity provider, as its tokens carry it.
    pub(crate) admin_subject: String,
    pub(crate) accounts: Vec<SeededAccount>,
}

/// One AWS account of a seeded tenant, known to both data owners.
pub(crate) struct SeededAccount {
    pub(crate) record_id: String,
    pub(crate) aws_account_id: String,
    /// The root email and account name fetched from AWS: personal, `aws_fetched`.
    pub(crate) root_email: String,
    pub(crate) name: String,
}

impl Stack {
    /// A tenant with `accounts` AWS accounts, each created in the sandbox through provisioning and
    /// registered in accounts with fetched details and cost records.
    pub(crate) async fn seed(&self, accounts_wanted: usize) -> Seeded {
        self.seed_tenant(
            accounts_wanted,
            common::Sector::Commercial,
            common::ResaleModel::Ecam,
        )
        .await
    }

    /// Like [`Stack::seed`], for a tenant of this sector and resale model.
    pub(crate) async fn seed_tenant(
        &self,
        accounts_wanted: usize,
        sector: common::Sector,
        resale_model: common::ResaleModel,
    ) -> Seeded {
        let unique = Uuid::new_v4().simple().to_string();
        let admin_email = format!("admin-{}@example.com", &unique[..12]);
        let admin_name = format!("Ada Lovelace {}", &unique[..6]);
        let created = self
            .accounts()
            .await
            .create_tenant(self.request(
                &As::Operator,
                ServiceKind::Accounts,
                accounts::CreateTenantRequest {
                    idempotency_key: key(),
                    display_name: format!("Example GmbH {}", &unique[..6]),
                    sector: sector as i32,
                    resale_model: resale_model as i32,
                    marketplace_ref: format!("MP-{}", &unique[..8]),
                    admin: Some(accounts::NewUser {
                        email: admin_email.clone(),
                        display_name: admin_name.clone(),
                        idp_subject: format!("idp|{}", &unique[..10]),
                    }),
                },
            ))
            .await
            .expect("tenant")
            .into_inner();
        let tenant: Uuid = created.tenant.expect("tenant").id.parse().expect("uuid");
        let mut seeded = Vec::new();
        for index in 0..accounts_wanted {
            seeded.push(self.seed_account(tenant, &unique, index).await);
        }
        Seeded {
            tenant,
            admin_email,
            admin_name,
            admin_subject: format!("idp|{}", &unique[..10]),
            accounts: seeded,
        }
    }

    async fn seed_account(&self, tenant: Uuid, unique: &str, index: usize) -> SeededAccount {
        let root_email = format!("root-{index}-{}@example.com", &unique[..10]);
        let name = format!("Workload {index} {}", &unique[..6]);
        let operation = self
            .provisioning()
            .await
            .create_account(self.request(
                &As::Orders(tenant),
                ServiceKind::Provisioning,
                prov::CreateAccountRequest {
                    idempotency_key: key(),
                    management_account_id: MANAGEMENT.to_owned(),
                    email: root_email.clone(),
                    account_name: format!("Workload {index}"),
                },
            ))
            .await
            .expect("create account")
            .into_inner()
            .operation
            .expect("operation");
        let aws_account_id = self.settle(tenant, &operation.id).await;
        let order = Uuid::new_v4();
        let mut client = self.accounts().await;
        let reserved = client
            .reserve_account(self.request(
                &As::Orders(tenant),
                ServiceKind::Accounts,
                accounts::ReserveAccountRequest {
                    idempotency_key: key(),
                    order_id: order.to_string(),
                    kind: accounts::ReservationKind::Transfer as i32,
                    aws_account_id: aws_account_id.clone(),
                    root_email: String::new(),
                    account_name: String::new(),
                    role: accounts::AccountRole::Member as i32,
                    relationship: common::AccountRelationship::PlatformMember as i32,
                    management_account_id: String::new(),
                    root_access: 0,
                },
            ))
            .await
            .expect("reserve")
            .into_inner()
            .account
            .expect("account");
        client
            .attach_account(self.request(
                &As::Orders(tenant),
                ServiceKind::Accounts,
                accounts::AttachAccountRequest {
                    idempotency_key: key(),
                    account_id: reserved.id.clone(),
                    aws_account_id: aws_account_id.clone(),
                    organization_id: "o-abcdefghij".to_owned(),
                    parent_id: "r-ab12".to_owned(),
                    joined_method: accounts::JoinedMethod::Invited as i32,
                },
            ))
            .await
            .expect("attach");
        client
            .activate_account(self.request(
                &As::Orders(tenant),
                ServiceKind::Accounts,
                accounts::ActivateAccountRequest {
                    idempotency_key: key(),
                    account_id: reserved.id.clone(),
                    order_id: order.to_string(),
                    billing_starts_at: None,
                    subscription_ref: format!("SUB-{index}"),
                },
            ))
            .await
            .expect("activate");
        let now = self.now();
        client
            .put_account_details(self.request(
                &As::Orders(tenant),
                ServiceKind::Accounts,
                accounts::PutAccountDetailsRequest {
                    idempotency_key: key(),
                    account_id: reserved.id.clone(),
                    details: Some(accounts::AccountDetails {
                        name: name.clone(),
                        email: root_email.clone(),
                        organization_path: "o-abcdefghij/r-ab12/".to_owned(),
                        tags: vec![accounts::Tag {
                            key: "team".to_owned(),
                            value: "core".to_owned(),
                        }],
                        fetched_at: Some(timestamp(now)),
                    }),
                },
            ))
            .await
            .expect("details");
        client
            .record_cost_records(
                self.request(
                    &As::Orders(tenant),
                    ServiceKind::Accounts,
                    accounts::RecordCostRecordsRequest {
                        idempotency_key: key(),
                        account_id: reserved.id.clone(),
                        records: (1..=3)
                            .map(|day| accounts::CostRecord {
                                period_start: Some(timestamp(now - chrono::Duration::days(day))),
                                period_end: Some(timestamp(now - chrono::Duration::days(day - 1))),
                                service: "AmazonEC2".to_owned(),
                                amount_micros: 1_250_000,
                                currency: "USD".to_owned(),
                            })
                            .collect(),
                    },
                ),
            )
            .await
            .expect("costs");
        SeededAccount {
            record_id: reserved.id,
            aws_account_id,
            root_email,
            name,
        }
    }

    /// Drives a provisioning operation to its end on the sandbox's clock; the created account's id.
    pub(crate) async fn settle(&self, tenant: Uuid, operation_id: &str) -> String {
        for _ in 0..200 {
            let operation = self
                .provisioning()
                .await
                .get_operation(self.request(
                    &As::Orders(tenant),
                    ServiceKind::Provisioning,
                    prov::GetOperationRequest {
                        operation_id: operation_id.to_owned(),
                    },
                ))
                .await
                .expect("operation")
                .into_inner()
                .operation
                .expect("operation");
            if operation.state == prov::OperationState::Succeeded as i32 {
                return operation.aws_account_id;
            }
            assert_ne!(
                operation.state,
                prov::OperationState::Failed as i32,
                "{operation:?}"
            );
            self.advance_sandbox(Duration::from_secs(60)).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("operation {operation_id} did not succeed");
    }

    /// Moves the simulated date (how long AWS takes, when its invitations expire). The whole stack
    /// runs on the sandbox's clock over the stack's own, as `tenure up` does, so moving the stack's
    /// clock moves AWS and every service together, and [`Stack::now`] stays their date.
    pub(crate) async fn advance_sandbox(&self, by: Duration) {
        self.clock
            .advance(chrono::Duration::from_std(by).expect("a representable duration"));
    }

    /// Schedules an account-scope purge, as the terminate order does at T10.
    pub(crate) async fn schedule_account_purge(
        &self,
        tenant: Uuid,
        aws_account_id: &str,
    ) -> purge::Purge {
        self.purges()
            .await
            .schedule_purge(self.request(
                &As::Orders(tenant),
                ServiceKind::DataPurge,
                purge::SchedulePurgeRequest {
                    idempotency_key: key(),
                    scope: Some(purge::PurgeScope {
                        kind: purge::ScopeKind::Account as i32,
                        tenant_id: tenant.to_string(),
                        aws_account_id: aws_account_id.to_owned(),
                    }),
                    reason: purge::PurgeReason::AccountRemoved as i32,
                    triggered_at: Some(timestamp(self.now())),
                    ticket: String::new(),
                },
            ))
            .await
            .expect("schedule")
            .into_inner()
            .purge
            .expect("purge")
    }

    pub(crate) async fn purge(&self, id: &str) -> purge::Purge {
        self.purges()
            .await
            .get_purge(self.request(
                &As::Operator,
                ServiceKind::DataPurge,
                purge::GetPurgeRequest {
                    purge_id: id.to_owned(),
                },
            ))
            .await
            .expect("get purge")
            .into_inner()
            .purge
            .expect("purge")
    }

    /// Waits, bounded, until purge `id` is in `state`.
    pub(crate) async fn await_purge(&self, id: &str, state: purge::PurgeState) -> purge::Purge {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let current = self.purge(id).await;
            if current.state == state as i32 {
                return current;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "purge still {:?}; the worker's last word: {}",
                    purge::PurgeState::try_from(current.state),
                    self.last_error(id).await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Why the worker's last attempt at purge `id` stopped, and what verification found.
    async fn last_error(&self, id: &str) -> String {
        let db = self.sql(ServiceKind::DataPurge).await;
        let row = db
            .conn()
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT coalesce(last_error, '') AS e, residual_rows AS r FROM purge_request \
                 WHERE id = $1::uuid",
                [id.into()],
            ))
            .await
            .expect("purge row")
            .expect("row");
        let error: String = row.try_get("", "e").expect("e");
        let residual: i64 = row.try_get("", "r").expect("r");
        db.close().await.ok();
        format!("{error:?}, {residual} residual rows")
    }

    /// The audit trail of purge `id`, in order: (from, to, event, actor role).
    pub(crate) async fn transitions(&self, id: &str) -> Vec<(String, String, String, String)> {
        let db = self.sql(ServiceKind::DataPurge).await;
        let rows = db
            .conn()
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT coalesce(from_state, '') AS f, to_state AS t, event AS e, actor_role AS r \
                 FROM purge_transition WHERE purge_id = $1::uuid ORDER BY id",
                [id.into()],
            ))
            .await
            .expect("transitions");
        db.close().await.ok();
        rows.iter()
            .map(|row| {
                (
                    row.try_get("", "f").expect("from"),
                    row.try_get("", "t").expect("to"),
                    row.try_get("", "e").expect("event"),
                    row.try_get("", "r").expect("role"),
                )
            })
            .collect()
    }

    /// Lets the purge worker run a few passes.
    pub(crate) async fn let_worker_run(&self) {
        tokio::time::sleep(Duration::from_millis(800)).await;
    }

    pub(crate) async fn expedite(&self, id: &str) -> Result<purge::Purge, tonic::Status> {
        Ok(self
            .purges()
            .await
            .expedite_purge(self.request(
                &As::Operator,
                ServiceKind::DataPurge,
                purge::ExpeditePurgeRequest {
                    idempotency_key: key(),
                    purge_id: id.to_owned(),
                    ticket: "OPS-1234".to_owned(),
                    reason: "customer support asked for deletion now".to_owned(),
                },
            ))
            .await?
            .into_inner()
            .purge
            .expect("purge"))
    }

    pub(crate) async fn plan(&self, id: &str) -> purge::PurgePlan {
        self.purges()
            .await
            .plan_purge(self.request(
                &As::Operator,
                ServiceKind::DataPurge,
                purge::PlanPurgeRequest {
                    purge_id: id.to_owned(),
                },
            ))
            .await
            .expect("plan")
            .into_inner()
            .plan
            .expect("plan")
    }

    pub(crate) async fn receipt(&self, purge_id: &str) -> purge::Receipt {
        self.purges()
            .await
            .get_receipt(self.request(
                &As::Operator,
                ServiceKind::DataPurge,
                purge::GetReceiptRequest {
                    purge_id: purge_id.to_owned(),
                },
            ))
            .await
            .expect("receipt")
            .into_inner()
            .receipt
            .expect("receipt")
    }

    /// Every receipt, in chain order (the first hundred).
    pub(crate) async fn receipts(&self) -> Vec<purge::Receipt> {
        self.purges()
            .await
            .list_receipts(self.request(
                &As::Operator,
                ServiceKind::DataPurge,
                purge::ListReceiptsRequest {
                    page_size: 100,
                    page_token: String::new(),
                },
            ))
            .await
            .expect("receipts")
            .into_inner()
            .receipts
    }

    /// The receipt chain's verification.
    pub(crate) async fn verify_chain(&self) -> purge::VerifyReceiptChainResponse {
        self.purges()
            .await
            .verify_receipt_chain(self.request(
                &As::Operator,
                ServiceKind::DataPurge,
                purge::VerifyReceiptChainRequest {},
            ))
            .await
            .expect("verify")
            .into_inner()
    }

    /// What every data owner still holds of `scope` in the purged classes.
    pub(crate) async fn residual(&self, scope: &purge::PurgeScope, classes: &[i32]) -> u64 {
        let tenant: Uuid = scope.tenant_id.parse().expect("tenant");
        let mut rows = 0;
        for kind in [
            ServiceKind::Orders,
            ServiceKind::Accounts,
            ServiceKind::Provisioning,
        ] {
            let residual = self
                .participant(kind)
                .await
                .verify(self.request(
                    &As::Purger(tenant),
                    kind,
                    purge::VerifyRequest {
                        purge_id: Uuid::new_v4().to_string(),
                        scope: Some(purge::ParticipantScope {
                            kind: scope.kind,
                            tenant_id: scope.tenant_id.clone(),
                            aws_account_id: scope.aws_account_id.clone(),
                        }),
                        classes: classes.to_vec(),
                    },
                ))
                .await
                .expect("verify")
                .into_inner()
                .residual;
            rows += residual.iter().map(|count| count.rows).sum::<u64>();
        }
        rows
    }

    /// The account details of a record, or NOT_FOUND once they are purged.
    pub(crate) async fn details(
        &self,
        tenant: Uuid,
        record_id: &str,
    ) -> Result<accounts::AccountDetails, tonic::Status> {
        self.accounts()
            .await
            .get_account_details(self.request(
                &As::Customer(tenant),
                ServiceKind::Accounts,
                accounts::GetAccountDetailsRequest {
                    account_id: record_id.to_owned(),
                },
            ))
            .await
            .map(|response| response.into_inner().details.unwrap_or_default())
    }

    /// Every event of the purge stream, from the beginning, as billing reads it.
    pub(crate) async fn stream_events(&self) -> Vec<purge::PurgeEvent> {
        let mut stream = self
            .events()
            .await
            .subscribe(self.request(
                &As::Billing,
                ServiceKind::DataPurge,
                purge::SubscribeRequest {
                    start: Some(purge::subscribe_request::Start::FromBeginning(true)),
                    max_batch: 0,
                },
            ))
            .await
            .expect("subscribe")
            .into_inner();
        let mut events = Vec::new();
        loop {
            let batch = tokio::time::timeout(Duration::from_secs(10), stream.message())
                .await
                .expect("a batch in time")
                .expect("stream")
                .expect("open");
            events.extend(batch.events);
            if batch.caught_up {
                return events;
            }
        }
    }

    /// The value of a metric line on this process's registry.
    pub(crate) fn gauge(name: &str) -> Option<i64> {
        tenure_telemetry::encode_metrics()
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")).map(str::to_owned))
            .and_then(|value| value.trim().parse().ok())
    }
}

impl Stack {
    /// Registers an active record in accounts, as an order would have.
    pub(crate) async fn register_account(
        &self,
        tenant: Uuid,
        aws_account_id: &str,
        role: accounts::AccountRole,
        relationship: common::AccountRelationship,
        management: &str,
    ) -> accounts::AwsAccount {
        let mut client = self.accounts().await;
        let order = Uuid::new_v4().to_string();
        let reserved = client
            .reserve_account(self.request(
                &As::Orders(tenant),
                ServiceKind::Accounts,
                accounts::ReserveAccountRequest {
                    idempotency_key: key(),
                    order_id: order.clone(),
                    kind: accounts::ReservationKind::Transfer as i32,
                    aws_account_id: aws_account_id.to_owned(),
                    root_email: String::new(),
                    account_name: String::new(),
                    role: role as i32,
                    relationship: relationship as i32,
                    management_account_id: management.to_owned(),
                    root_access: 0,
                },
            ))
            .await
            .expect("reserve")
            .into_inner()
            .account
            .expect("record");
        client
            .attach_account(self.request(
                &As::Orders(tenant),
                ServiceKind::Accounts,
                accounts::AttachAccountRequest {
                    idempotency_key: key(),
                    account_id: reserved.id.clone(),
                    aws_account_id: aws_account_id.to_owned(),
                    organization_id: String::new(),
                    parent_id: String::new(),
                    joined_method: 0,
                },
            ))
            .await
            .expect("attach");
        client
            .activate_account(self.request(
                &As::Orders(tenant),
                ServiceKind::Accounts,
                accounts::ActivateAccountRequest {
                    idempotency_key: key(),
                    account_id: reserved.id.clone(),
                    order_id: order,
                    billing_starts_at: None,
                    subscription_ref: String::new(),
                },
            ))
            .await
            .expect("activate")
            .into_inner()
            .account
            .expect("record")
    }
}
