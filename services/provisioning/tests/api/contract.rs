//! The backend contract suite of `tenure-provisioning-cloud`, run against the sandbox on PostgreSQL and
//! on SQLite: the sandbox answers with the same states, codes and reasons as AWS.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Duration;
use tenure_db::DatabaseSettings;
use tenure_domain::{AwsAccountId, SharedClock, SystemClock};
use tenure_provisioning::cloud::CountingCloud;
use tenure_provisioning::cloud::contract::{self, ContractFixture, Coverage, CustomerAnswer};
use tenure_provisioning::{ProvisioningApp, ProvisioningSettings, SandboxCloud};
use tenure_testkit::{TestDatabase, TestSqlite};

/// The sandbox as the contract suite sees it, with every call counted.
struct SandboxFixture {
    cloud: CountingCloud<SandboxCloud>,
    // Kept alive for the test's duration.
    _database: Option<TestDatabase>,
    _sqlite: Option<TestSqlite>,
}

impl SandboxFixture {
    async fn open(database: DatabaseSettings) -> CountingCloud<SandboxCloud> {
        let settings = ProvisioningSettings {
            database,
            ..ProvisioningSettings::default()
        };
        tenure_provisioning::migrate(&settings)
            .await
            .expect("migrations");
        let clock: SharedClock = Arc::new(SystemClock);
        let sandbox = ProvisioningApp::open_sandbox(&settings, clock)
            .await
            .expect("sandbox");
        CountingCloud::new(sandbox)
    }

    async fn postgres() -> Self {
        let database = TestDatabase::create().await.expect("test database");
        let cloud = Self::open(database.settings("provisioning")).await;
        Self {
            cloud,
            _database: Some(database),
            _sqlite: None,
        }
    }

    async fn sqlite() -> Self {
        let sqlite = TestSqlite::create().expect("sqlite directory");
        let cloud = Self::open(sqlite.settings("provisioning")).await;
        Self {
            cloud,
            _database: None,
            _sqlite: Some(sqlite),
        }
    }

    fn sandbox(&self) -> &SandboxCloud {
        self.cloud.inner()
    }
}

#[async_trait]
impl ContractFixture for SandboxFixture {
    type Cloud = CountingCloud<SandboxCloud>;

    fn cloud(&self) -> &Self::Cloud {
        &self.cloud
    }

    async fn fresh_organization(&self) -> AwsAccountId {
        self.sandbox()
            .create_organization()
            .await
            .expect("organization")
    }

    async fn standalone_account(&self) -> AwsAccountId {
        self.sandbox()
            .create_standalone_account()
            .await
            .expect("standalone account")
    }

    async fn customer_answers(&self, handshake_id: &str, answer: CustomerAnswer) -> Option<()> {
        let answered = match answer {
            CustomerAnswer::Accept => self.sandbox().accept_handshake(handshake_id).await,
            CustomerAnswer::Decline => self.sandbox().decline_handshake(handshake_id).await,
        };
        answered.expect("the customer's answer");
        Some(())
    }

    async fn advance_clock(&self, by: Duration) -> bool {
        self.sandbox().advance_clock(by).await.expect("advance");
        true
    }

    fn backend_calls(&self) -> u64 {
        self.cloud.total()
    }
}

/// One test module per backend, each running every listed case of the suite.
macro_rules! contract_cases {
    ([$($backend:ident),+ $(,)?]: $cases:tt) => {
        $(contract_cases!($backend: $cases);)+
    };
    ($backend:ident: [$($case:ident),+ $(,)?]) => {
        mod $backend {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let fixture = SandboxFixture::$backend().await;
                    assert_eq!(contract::$case(&fixture).await, Coverage::Full);
                }
            )+
        }
    };
}

// PostgreSQL, and the sandbox's store on SQLite (the embedded database of `tenure up`): every case,
// same body.
contract_cases!([postgres, sqlite]: [
    case_create_account_to_success,
    case_invite_and_accept_handshake,
    case_handshake_declined,
    case_handshake_expires,
    case_cancel_handshake,
    case_remove_account,
    case_close_account_and_state_afterwards,
    case_stack_and_stack_set_offboarding_order,
    case_error_shapes,
]);
