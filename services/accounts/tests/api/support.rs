//! A served accounts service on either backend with a movable clock, tokens for every role, and
//! request helpers named after the calls they make.

use std::sync::Arc;

use tenure_accounts::{AccountsApp, AccountsDeps, AccountsSettings};
use tenure_grpc::{Role, ServiceKind};
use tenure_proto::accounts::v1 as pb;
use tenure_proto::accounts::v1::account_service_client::AccountServiceClient;
use tenure_proto::common::v1 as common;
use tenure_proto::purge::v1::purge_participant_client::PurgeParticipantClient;
use tenure_testkit::grpc::Channel;
use tenure_testkit::{TestDatabase, TestHost, TestSqlite};
use tonic::{Code, Request, Status};
use uuid::Uuid;

pub(crate) use tenure_domain::ManualClock;

use crate::fake_purge::FakePurge;

/// Where the service keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Postgres,
    Sqlite,
}

/// Keeps the database alive for the life of the service.
#[allow(dead_code, reason = "held only for its Drop")]
enum Storage {
    Postgres(TestDatabase),
    Sqlite(TestSqlite),
}

/// A served instance.
pub(crate) struct Served {
    pub(crate) host: TestHost,
    pub(crate) channel: Channel,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) database: Option<TestDatabase>,
    /// The stand-in data-purge, when the instance has one.
    pub(crate) purge: Option<FakePurge>,
    _sqlite: Option<TestSqlite>,
}

/// The identity-provider subject of the administrator every test tenant is created with.
pub(crate) const ADMIN_SUBJECT: &str = "idp|ada";

/// A served accounts over `backend`, and a new tenant in it.
pub(crate) async fn serve_tenant(backend: Backend) -> (Served, Uuid) {
    let served = serve(backend).await;
    let tenant = served.tenant().await;
    (served, tenant)
}

/// Serves the accounts service on `backend` with a manual clock and fast lifecycle timers, alone:
/// without data-purge.
pub(crate) async fn serve(backend: Backend) -> Served {
    serve_on(backend, false, false).await
}

/// Like [`serve`], with a stand-in data-purge that schedules and cancels purges.
pub(crate) async fn serve_with_purge(backend: Backend) -> Served {
    serve_on(backend, true, false).await
}

/// Like [`serve_with_purge`] on PostgreSQL, the service connecting as a role that row-level
/// security binds (as deployments run it), where the tests' owner role would bypass it.
pub(crate) async fn serve_restricted() -> Served {
    serve_on(Backend::Postgres, true, true).await
}

/// A login role with the privileges a deployment grants the service: its schema's rows, no more.
async fn restricted_role(database: &TestDatabase) -> tenure_db::DatabaseUrl {
    use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
    let role = database.create_login_role("app").await.expect("role");
    let owner = sea_orm::Database::connect(database.url().expose())
        .await
        .expect("owner");
    for grant in [
        format!("GRANT USAGE ON SCHEMA accounts TO \"{}\"", role.name),
        format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA accounts TO \"{}\"",
            role.name
        ),
        format!(
            "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA accounts TO \"{}\"",
            role.name
        ),
    ] {
        owner
            .execute_raw(Statement::from_string(DbBackend::Postgres, grant))
            .await
            .expect("grant");
    }
    owner.close().await.ok();
    role.url
}

async fn serve_on(backend: Backend, with_purge: bool, restricted: bool) -> Served {
    let (database, sqlite, settings) = match backend {
        Backend::Postgres => {
            let database = TestDatabase::create().await.expect("test database");
            let settings = AccountsSettings {
                database: database.settings("accounts"),
                lifecycle_timer_interval_ms: 100,
            };
            (Some(database), None, settings)
        }
        Backend::Sqlite => {
            let files = TestSqlite::create().expect("sqlite directory");
            let settings = AccountsSettings {
                database: files.settings("accounts"),
                lifecycle_timer_interval_ms: 100,
            };
            (None, Some(files), settings)
        }
    };
    tenure_accounts::migrate(&settings)
        .await
        .expect("migrations");
    let settings = match (&database, restricted) {
        (Some(database), true) => AccountsSettings {
            database: tenure_db::DatabaseSettings {
                url: restricted_role(database).await,
                ..settings.database
            },
            ..settings
        },
        _ => settings,
    };
    let clock = Arc::new(ManualClock::new());
    let host = TestHost::new().expect("host");
    let (purge, peer) = if with_purge {
        let fake = FakePurge::default();
        let mut purge_builder = host.builder(ServiceKind::DataPurge);
        purge_builder
            .policy(crate::fake_purge::POLICY)
            .add_service(fake.server());
        let purge_handle = host.serve(purge_builder).await.expect("serve data-purge");
        let channel = tenure_grpc::PeerChannel::connect_lazy(
            &format!("http://{}", purge_handle.local_addr()),
            ServiceKind::DataPurge,
            host.authority()
                .service_minter(ServiceKind::Accounts)
                .expect("minter"),
            std::time::Duration::from_secs(10),
        )
        .expect("peer");
        (Some(fake), tenure_accounts::PurgePeer::Connected(channel))
    } else {
        // Alone, accounts neither schedules nor cancels purges; the end-to-end suite covers those.
        (None, tenure_accounts::PurgePeer::Detached)
    };
    let mut builder = host.builder(ServiceKind::Accounts);
    AccountsApp::build_with(
        &settings,
        AccountsDeps {
            clock: clock.clone(),
            purge: peer,
        },
    )
    .await
    .expect("build")
    .register(&mut builder);
    let handle = host.serve(builder).await.expect("serve");
    let channel = tenure_testkit::grpc::channel(handle.local_addr())
        .await
        .expect("channel");
    Served {
        host,
        channel,
        clock,
        database,
        purge,
        _sqlite: sqlite,
    }
}

/// Who calls.
#[derive(Debug, Clone, Copy)]
pub(crate) enum As {
    /// A customer of the tenant who is not one of its users.
    Customer(Uuid),
    /// The tenant's administrator ([`ADMIN_SUBJECT`]).
    Admin(Uuid),
    Operator,
    Billing,
    /// The orders service acting for a tenant.
    Orders(Uuid),
    /// The data-purge service, for no tenant in particular (what it stores).
    Purger,
    /// The data-purge service purging a tenant's data, which it names as every service call does.
    PurgerFor(Uuid),
}

pub(crate) fn key() -> String {
    Uuid::new_v4().to_string()
}

impl Served {
    pub(crate) fn token(&self, who: As) -> (String, Option<Uuid>) {
        match who {
            As::Customer(tenant) => (self.host.token(Role::Customer, Some(tenant)), None),
            As::Admin(tenant) => (
                self.host
                    .authority()
                    .user_token(
                        Role::Customer,
                        ADMIN_SUBJECT,
                        Some(tenant),
                        &[],
                        std::time::Duration::from_secs(600),
                    )
                    .expect("token"),
                None,
            ),
            As::Operator => (self.host.token(Role::Operator, None), None),
            As::Billing => (self.host.token(Role::Billing, None), None),
            As::Orders(tenant) => (
                self.host
                    .service_token(ServiceKind::Orders, ServiceKind::Accounts),
                Some(tenant),
            ),
            As::Purger => (
                self.host
                    .service_token(ServiceKind::DataPurge, ServiceKind::Accounts),
                None,
            ),
            As::PurgerFor(tenant) => (
                self.host
                    .service_token(ServiceKind::DataPurge, ServiceKind::Accounts),
                Some(tenant),
            ),
        }
    }

    /// `message` with the credentials of `who`.
    pub(crate) fn request<T>(&self, who: As, message: T) -> Request<T> {
        let (token, tenant) = self.token(who);
        let mut request = Request::new(message);
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        if let Some(tenant) = tenant {
            request.metadata_mut().insert(
                tenure_grpc::TENANT_METADATA_KEY,
                tenant.to_string().parse().expect("header"),
            );
        }
        request
    }

    pub(crate) fn accounts(&self) -> AccountServiceClient<Channel> {
        AccountServiceClient::new(self.channel.clone())
    }

    pub(crate) fn participant(&self) -> PurgeParticipantClient<Channel> {
        PurgeParticipantClient::new(self.channel.clone())
    }

    /// A tenant with one administrator, created by an operator.
    pub(crate) async fn tenant(&self) -> Uuid {
        let created = self
            .accounts()
            .create_tenant(self.request(
                As::Operator,
                pb::CreateTenantRequest {
                    idempotency_key: key(),
                    display_name: "Example GmbH".to_owned(),
                    sector: common::Sector::Commercial as i32,
                    resale_model: common::ResaleModel::Ecam as i32,
                    marketplace_ref: "MP-1".to_owned(),
                    admin: Some(pb::NewUser {
                        email: "admin@example.com".to_owned(),
                        display_name: "Ada Admin".to_owned(),
                        idp_subject: ADMIN_SUBJECT.to_owned(),
                    }),
                },
            ))
            .await
            .expect("create tenant")
            .into_inner();
        created.tenant.expect("tenant").id.parse().expect("uuid")
    }

    /// A transfer reservation (`transfer_pending`) made by `order`.
    pub(crate) async fn reserve_transfer(
        &self,
        tenant: Uuid,
        aws_account_id: &str,
        role: pb::AccountRole,
        relationship: common::AccountRelationship,
        management_account_id: &str,
        order: Uuid,
    ) -> Result<pb::AwsAccount, Status> {
        Ok(self
            .accounts()
            .reserve_account(self.request(
                As::Orders(tenant),
                pb::ReserveAccountRequest {
                    idempotency_key: key(),
                    order_id: order.to_string(),
                    kind: pb::ReservationKind::Transfer as i32,
                    aws_account_id: aws_account_id.to_owned(),
                    root_email: String::new(),
                    account_name: String::new(),
                    role: role as i32,
                    relationship: relationship as i32,
                    management_account_id: management_account_id.to_owned(),
                    root_access: 0,
                },
            ))
            .await?
            .into_inner()
            .account
            .expect("account"))
    }

    /// A new-account reservation (`pending_creation`).
    /// A transfer reservation of a plain member account, the most common setup.
    pub(crate) async fn reserve_member_transfer(
        &self,
        tenant: Uuid,
        aws_account_id: &str,
        order: Uuid,
    ) -> Result<pb::AwsAccount, Status> {
        self.reserve_transfer(
            tenant,
            aws_account_id,
            pb::AccountRole::Member,
            common::AccountRelationship::PlatformMember,
            "",
            order,
        )
        .await
    }

    /// A transfer reservation for a fresh order, naming no management account.
    pub(crate) async fn reserved_transfer(
        &self,
        tenant: Uuid,
        aws_account_id: &str,
        role: pb::AccountRole,
        relationship: common::AccountRelationship,
    ) -> pb::AwsAccount {
        self.reserve_transfer(
            tenant,
            aws_account_id,
            role,
            relationship,
            "",
            Uuid::new_v4(),
        )
        .await
        .expect("reserve")
    }

    /// A new-account reservation for a fresh order.
    pub(crate) async fn reserved_new(
        &self,
        tenant: Uuid,
        root_email: &str,
        account_name: &str,
    ) -> pb::AwsAccount {
        self.reserve_new(tenant, root_email, account_name)
            .await
            .expect("reserve")
    }

    /// The order service releasing a reserved record.
    pub(crate) async fn release(
        &self,
        tenant: Uuid,
        account_id: &str,
        reason: &str,
    ) -> Result<pb::AwsAccount, Status> {
        Ok(self
            .accounts()
            .release_account(self.request(
                As::Orders(tenant),
                pb::ReleaseAccountRequest {
                    idempotency_key: key(),
                    account_id: account_id.to_owned(),
                    reason: reason.to_owned(),
                },
            ))
            .await?
            .into_inner()
            .account
            .expect("account"))
    }

    /// An offboarding by a fresh order that AWS answered with `outcome`.
    pub(crate) async fn offboard(
        &self,
        tenant: Uuid,
        aws_account_id: &str,
        account_id: &str,
        outcome: pb::OffboardingOutcome,
    ) -> pb::AwsAccount {
        let order = Uuid::new_v4();
        self.begin_offboarding(
            tenant,
            aws_account_id,
            common::TerminationMode::Close,
            order,
        )
        .await
        .expect("offboarding");
        self.record_outcome(tenant, account_id, order, outcome)
            .await
            .expect("outcome")
    }

    /// Waits, bounded, until a background worker has moved record `id` into `state`.
    pub(crate) async fn await_state(&self, id: &str, state: pb::AccountState) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let now = self.get_account(As::Operator, id).await.expect("read");
            if now.state() == state {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still {:?}",
                now.state()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn reserve_new(
        &self,
        tenant: Uuid,
        root_email: &str,
        account_name: &str,
    ) -> Result<pb::AwsAccount, Status> {
        Ok(self
            .accounts()
            .reserve_account(self.request(
                As::Orders(tenant),
                pb::ReserveAccountRequest {
                    idempotency_key: key(),
                    order_id: Uuid::new_v4().to_string(),
                    kind: pb::ReservationKind::NewAccount as i32,
                    aws_account_id: String::new(),
                    root_email: root_email.to_owned(),
                    account_name: account_name.to_owned(),
                    role: pb::AccountRole::Member as i32,
                    relationship: common::AccountRelationship::PlatformMember as i32,
                    management_account_id: String::new(),
                    root_access: 0,
                },
            ))
            .await?
            .into_inner()
            .account
            .expect("account"))
    }

    pub(crate) async fn attach(
        &self,
        tenant: Uuid,
        account_id: &str,
        aws_account_id: &str,
    ) -> Result<pb::AwsAccount, Status> {
        Ok(self
            .accounts()
            .attach_account(self.request(
                As::Orders(tenant),
                pb::AttachAccountRequest {
                    idempotency_key: key(),
                    account_id: account_id.to_owned(),
                    aws_account_id: aws_account_id.to_owned(),
                    organization_id: "o-abcdefghij".to_owned(),
                    parent_id: "r-ab12".to_owned(),
                    joined_method: pb::JoinedMethod::Invited as i32,
                },
            ))
            .await?
            .into_inner()
            .account
            .expect("account"))
    }

    pub(crate) async fn activate(
        &self,
        tenant: Uuid,
        account_id: &str,
    ) -> Result<pb::ActivateAccountResponse, Status> {
        Ok(self
            .accounts()
            .activate_account(self.request(
                As::Orders(tenant),
                pb::ActivateAccountRequest {
                    idempotency_key: key(),
                    account_id: account_id.to_owned(),
                    order_id: Uuid::new_v4().to_string(),
                    billing_starts_at: None,
                    subscription_ref: String::new(),
                },
            ))
            .await?
            .into_inner())
    }

    /// An active member account with an active subscription.
    pub(crate) async fn active_member(&self, tenant: Uuid, aws_account_id: &str) -> pb::AwsAccount {
        self.active_account(
            tenant,
            aws_account_id,
            pb::AccountRole::Member,
            common::AccountRelationship::PlatformMember,
            "",
        )
        .await
    }

    pub(crate) async fn active_account(
        &self,
        tenant: Uuid,
        aws_account_id: &str,
        role: pb::AccountRole,
        relationship: common::AccountRelationship,
        management_account_id: &str,
    ) -> pb::AwsAccount {
        let reserved = self
            .reserve_transfer(
                tenant,
                aws_account_id,
                role,
                relationship,
                management_account_id,
                Uuid::new_v4(),
            )
            .await
            .expect("reserve");
        self.attach(tenant, &reserved.id, aws_account_id)
            .await
            .expect("attach");
        self.activate(tenant, &reserved.id)
            .await
            .expect("activate")
            .account
            .expect("account")
    }

    pub(crate) async fn begin_offboarding(
        &self,
        tenant: Uuid,
        aws_account_id: &str,
        mode: common::TerminationMode,
        order: Uuid,
    ) -> Result<pb::AwsAccount, Status> {
        Ok(self
            .accounts()
            .begin_offboarding(self.request(
                As::Orders(tenant),
                pb::BeginOffboardingRequest {
                    idempotency_key: key(),
                    aws_account_id: aws_account_id.to_owned(),
                    order_id: order.to_string(),
                    mode: mode as i32,
                    acknowledgements: every_acknowledgement(),
                    reason: "customer asked".to_owned(),
                    acknowledged_open_balance: None,
                },
            ))
            .await?
            .into_inner()
            .account
            .expect("account"))
    }

    /// Records `outcome`; an unlinking ends billing 20 days from now.
    pub(crate) async fn record_outcome(
        &self,
        tenant: Uuid,
        account_id: &str,
        order: Uuid,
        outcome: pb::OffboardingOutcome,
    ) -> Result<pb::AwsAccount, Status> {
        let billing_ends_at = (outcome == pb::OffboardingOutcome::Unlinking)
            .then(|| timestamp(self.clock_now() + chrono::Duration::days(20)));
        self.record_outcome_ending(tenant, account_id, order, outcome, billing_ends_at)
            .await
    }

    /// Records `outcome` with the billing end `billing_ends_at` as reported.
    pub(crate) async fn record_outcome_ending(
        &self,
        tenant: Uuid,
        account_id: &str,
        order: Uuid,
        outcome: pb::OffboardingOutcome,
        billing_ends_at: Option<prost_types::Timestamp>,
    ) -> Result<pb::AwsAccount, Status> {
        Ok(self
            .accounts()
            .record_offboarding_outcome(self.request(
                As::Orders(tenant),
                pb::RecordOffboardingOutcomeRequest {
                    idempotency_key: key(),
                    account_id: account_id.to_owned(),
                    order_id: order.to_string(),
                    outcome: outcome as i32,
                    billing_ends_at,
                },
            ))
            .await?
            .into_inner()
            .account
            .expect("account"))
    }

    /// The users of the tenant `who` acts for, as listed to them.
    pub(crate) async fn users(&self, who: As) -> Vec<pb::User> {
        self.accounts()
            .list_users(self.request(who, pb::ListUsersRequest::default()))
            .await
            .expect("users")
            .into_inner()
            .users
    }

    /// The subscriptions of `account_id`, as its tenant's customer lists them.
    pub(crate) async fn subscriptions(
        &self,
        tenant: Uuid,
        account_id: &str,
    ) -> Vec<pb::Subscription> {
        let filter = pb::ListSubscriptionsRequest {
            account_id: account_id.to_owned(),
            ..Default::default()
        };
        let listed = self
            .accounts()
            .list_subscriptions(self.request(As::Customer(tenant), filter))
            .await;
        listed.expect("subscriptions").into_inner().subscriptions
    }

    /// The state transitions of `account_id`, oldest first, as its tenant's customer reads them.
    pub(crate) async fn transitions(
        &self,
        tenant: Uuid,
        account_id: &str,
    ) -> Vec<pb::AccountTransition> {
        let mut client = self.accounts();
        let request = self.request(
            As::Customer(tenant),
            pb::ListAccountTransitionsRequest {
                account_id: account_id.to_owned(),
                ..Default::default()
            },
        );
        let answer = client.list_account_transitions(request).await;
        answer.expect("history").into_inner().transitions
    }

    pub(crate) async fn record_closure(
        &self,
        tenant: Uuid,
        account_id: &str,
    ) -> Result<pb::AwsAccount, Status> {
        Ok(self
            .accounts()
            .record_closure(self.request(
                As::Orders(tenant),
                pb::RecordClosureRequest {
                    idempotency_key: key(),
                    account_id: account_id.to_owned(),
                    closed_at: Some(timestamp(self.clock_now())),
                    reason: "AWS shows SUSPENDED".to_owned(),
                },
            ))
            .await?
            .into_inner()
            .account
            .expect("account"))
    }

    pub(crate) async fn reopen(&self, account_id: &str) -> Result<pb::AwsAccount, Status> {
        Ok(self
            .accounts()
            .reopen_account(self.request(
                As::Operator,
                pb::ReopenAccountRequest {
                    idempotency_key: key(),
                    account_id: account_id.to_owned(),
                    reason: "AWS Support reopened the account".to_owned(),
                    ticket: "OPS-1234".to_owned(),
                },
            ))
            .await?
            .into_inner()
            .account
            .expect("account"))
    }

    /// Removes record `account_id` from the platform; operators give a reason and a ticket.
    pub(crate) async fn remove_from_platform(
        &self,
        who: As,
        account_id: &str,
    ) -> Result<pb::AwsAccount, Status> {
        let (reason, ticket) = operator_reason(who);
        Ok(self
            .accounts()
            .remove_account_from_platform(self.request(
                who,
                pb::RemoveAccountFromPlatformRequest {
                    idempotency_key: key(),
                    account_id: account_id.to_owned(),
                    reason,
                    ticket,
                },
            ))
            .await?
            .into_inner()
            .account
            .expect("account"))
    }

    /// Restores record `account_id` to the platform; operators give a reason and a ticket.
    pub(crate) async fn restore_to_platform(
        &self,
        who: As,
        account_id: &str,
    ) -> Result<pb::AwsAccount, Status> {
        let (reason, ticket) = operator_reason(who);
        Ok(self
            .accounts()
            .restore_account_to_platform(self.request(
                who,
                pb::RestoreAccountToPlatformRequest {
                    idempotency_key: key(),
                    account_id: account_id.to_owned(),
                    reason,
                    ticket,
                },
            ))
            .await?
            .into_inner()
            .account
            .expect("account"))
    }

    pub(crate) async fn get_account(&self, who: As, id: &str) -> Result<pb::AwsAccount, Status> {
        Ok(self
            .accounts()
            .get_account(self.request(
                who,
                pb::GetAccountRequest {
                    lookup: Some(pb::get_account_request::Lookup::Id(id.to_owned())),
                },
            ))
            .await?
            .into_inner()
            .account
            .expect("account"))
    }

    pub(crate) async fn list_accounts(&self, who: As) -> Vec<pb::AwsAccount> {
        self.accounts()
            .list_accounts(self.request(who, pb::ListAccountsRequest::default()))
            .await
            .expect("list accounts")
            .into_inner()
            .accounts
    }

    pub(crate) fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        tenure_domain::Clock::now(self.clock.as_ref())
    }
}

/// The reason and ticket `who` gives for a removal or a restore: operators must give both.
fn operator_reason(who: As) -> (String, String) {
    match who {
        As::Operator => (
            "customer asked support by phone".to_owned(),
            "OPS-4711".to_owned(),
        ),
        _ => (String::new(), String::new()),
    }
}

pub(crate) fn every_acknowledgement() -> Vec<i32> {
    (1..=9).collect()
}

pub(crate) fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    }
}

/// The `ErrorInfo.reason` of a status.
pub(crate) fn reason(status: &Status) -> String {
    use tonic_types::StatusExt as _;
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

/// The `ErrorInfo.metadata[name]` of a status.
pub(crate) fn metadata(status: &Status, name: &str) -> String {
    use tonic_types::StatusExt as _;
    status
        .get_error_details()
        .error_info()
        .and_then(|info| info.metadata.get(name).cloned())
        .unwrap_or_default()
}

/// The field paths of a status's `BadRequest`.
pub(crate) fn violated_fields(status: &Status) -> Vec<String> {
    use tonic_types::StatusExt as _;
    status
        .get_error_details()
        .bad_request()
        .map(|bad| {
            bad.field_violations
                .iter()
                .map(|v| v.field.clone())
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn expect_code<T: std::fmt::Debug>(outcome: Result<T, Status>, code: Code) -> Status {
    match outcome {
        Ok(value) => panic!("expected {code:?}, got {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            status
        }
    }
}

/// Counts the rows of `table` in the service schema, bypassing the service (superuser, no RLS).
pub(crate) async fn row_count(served: &Served, table: &str) -> i64 {
    use sea_orm::{ConnectionTrait as _, Database, DbBackend, Statement};
    let database = served.database.as_ref().expect("postgres");
    let conn = Database::connect(database.url().expose())
        .await
        .expect("connect");
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT count(*) AS n FROM accounts.{table}"),
        ))
        .await
        .expect("count")
        .expect("row");
    let count: i64 = row.try_get("", "n").expect("n");
    conn.close().await.ok();
    count
}
