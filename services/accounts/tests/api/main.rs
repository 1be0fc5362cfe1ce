//! The accounts service on a real listener (port 0) against a fresh PostgreSQL database, with every layer
//! of the shared kit in place.
#![allow(clippy::expect_used, reason = "a failed setup step is a failed test")]

use tenure_accounts::{AccountsApp, AccountsSettings};
use tenure_grpc::{ServiceKind, methods_of_service};
use tenure_testkit::grpc::{call_empty, channel, refused_callers, wait_until_serving};
use tenure_testkit::{TestDatabase, TestHost};
use tonic::Code;

/// The services this crate publishes.
const SERVICES: &[&str] = &[
    "tenure.accounts.v1.AccountService",
    "tenure.purge.v1.PurgeParticipant",
];

struct Harness {
    host: TestHost,
    channel: tonic::transport::Channel,
    _database: TestDatabase,
}

/// Migrates a fresh database, then serves the service on port 0 and waits until it is ready.
async fn spawn_accounts() -> Harness {
    let database = TestDatabase::create().await.expect("test database");
    let settings = AccountsSettings {
        database: database.settings("accounts"),
    };
    tenure_accounts::migrate(&settings)
        .await
        .expect("migrations");
    let host = TestHost::new().expect("host");
    let mut builder = host.builder(ServiceKind::Accounts);
    AccountsApp::build(&settings)
        .await
        .expect("build")
        .register(&mut builder);
    let handle = host.serve(builder).await.expect("serve");
    let channel = channel(handle.local_addr()).await.expect("channel");
    Harness {
        host,
        channel,
        _database: database,
    }
}

#[test]
fn every_published_method_has_exactly_one_policy() {
    let policy = tenure_accounts::policy();
    let (missing, unknown) = tenure_grpc::uncovered_methods(policy, SERVICES);
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

#[tokio::test]
async fn migrations_create_the_core_tables_in_the_service_schema() {
    let database = TestDatabase::create().await.expect("test database");
    let settings = AccountsSettings {
        database: database.settings("accounts"),
    };
    tenure_accounts::migrate(&settings)
        .await
        .expect("first run");
    tenure_accounts::migrate(&settings)
        .await
        .expect("a second run changes nothing");
    let tables = database.tables("accounts").await.expect("tables");
    assert_eq!(
        tables,
        [
            "account_transition",
            "accounts_migrations",
            "app_user",
            "aws_account",
            "idempotency_record",
            "subscription",
            "tenant"
        ]
    );
    assert!(
        database.tables("public").await.expect("tables").is_empty(),
        "nothing lands outside the service schema"
    );
}

#[tokio::test]
async fn reports_serving_for_itself_and_each_published_service() {
    let harness = spawn_accounts().await;
    wait_until_serving(&harness.channel, "")
        .await
        .expect("listener ready");
    for service in SERVICES {
        wait_until_serving(&harness.channel, service)
            .await
            .expect("service ready");
    }
    harness.host.shutdown().await;
}

#[tokio::test]
async fn every_published_method_refuses_calls_without_valid_credentials() {
    let harness = spawn_accounts().await;
    let forged = harness.host.token(tenure_grpc::Role::Operator, None) + "x";
    for service in SERVICES {
        for method in methods_of_service(service) {
            let anonymous = call_empty(&harness.channel, &method.path, None).await;
            assert_eq!(anonymous.code(), Code::Unauthenticated, "{}", method.path);
            let tampered = call_empty(&harness.channel, &method.path, Some(&forged)).await;
            assert_eq!(tampered.code(), Code::Unauthenticated, "{}", method.path);
            // One fixed message, so a caller cannot tell which check failed.
            assert_eq!(anonymous.message(), tampered.message());
        }
    }
    harness.host.shutdown().await;
}

#[tokio::test]
async fn every_method_refuses_the_roles_and_services_its_policy_does_not_list() {
    let harness = spawn_accounts().await;
    let mut checked = 0;
    for entry in tenure_accounts::policy() {
        for (who, token) in refused_callers(&harness.host, entry, ServiceKind::Accounts) {
            let status = call_empty(&harness.channel, entry.method, Some(&token)).await;
            assert_eq!(
                status.code(),
                Code::PermissionDenied,
                "{who} calling {}",
                entry.method
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
    harness.host.shutdown().await;
}
