//! The data-purge service on a real listener (port 0) against a fresh PostgreSQL database, with every layer
//! of the shared kit in place.
#![allow(clippy::expect_used, reason = "a failed setup step is a failed test")]

use tenure_data_purge::{DataPurgeApp, DataPurgeSettings};
use tenure_grpc::ServiceKind;
use tenure_testkit::grpc::{
    assert_every_method_needs_credentials, assert_policy_covers,
    assert_policy_refuses_the_unlisted, assert_serving, channel,
};
use tenure_testkit::{TestDatabase, TestHost};

/// The services this crate publishes.
const SERVICES: &[&str] = &[
    "tenure.purge.v1.PurgeService",
    "tenure.purge.v1.PurgeEvents",
    "tenure.purge.v1.PurgeParticipant",
];

struct Harness {
    host: TestHost,
    channel: tonic::transport::Channel,
    _database: TestDatabase,
}

fn settings(database: &TestDatabase) -> DataPurgeSettings {
    DataPurgeSettings {
        database: database.settings("purge"),
    }
}

/// Migrates a fresh database, then serves the service on port 0.
async fn spawn_data_purge() -> Harness {
    let database = TestDatabase::create().await.expect("test database");
    let settings = settings(&database);
    tenure_data_purge::migrate(&settings)
        .await
        .expect("migrations");
    let host = TestHost::new().expect("host");
    let mut builder = host.builder(ServiceKind::DataPurge);
    DataPurgeApp::build(&settings)
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
    assert_policy_covers(tenure_data_purge::policy(), SERVICES);
}

#[tokio::test]
async fn migrations_create_the_core_tables_in_the_service_schema() {
    let database = TestDatabase::create().await.expect("test database");
    let settings = settings(&database);
    tenure_data_purge::migrate(&settings)
        .await
        .expect("first run");
    tenure_data_purge::migrate(&settings)
        .await
        .expect("a second run changes nothing");
    let tables = database.tables("purge").await.expect("tables");
    assert_eq!(
        tables,
        ["idempotency_record", "purge_migrations", "purge_request"]
    );
    assert!(
        database.tables("public").await.expect("tables").is_empty(),
        "nothing lands outside the service schema"
    );
}

#[tokio::test]
async fn reports_serving_for_itself_and_each_published_service() {
    let harness = spawn_data_purge().await;
    assert_serving(&harness.channel, SERVICES).await;
    harness.host.shutdown().await;
}

#[tokio::test]
async fn every_published_method_refuses_calls_without_valid_credentials() {
    let harness = spawn_data_purge().await;
    assert_every_method_needs_credentials(&harness.host, &harness.channel, SERVICES).await;
    harness.host.shutdown().await;
}

#[tokio::test]
async fn every_method_refuses_the_roles_and_services_its_policy_does_not_list() {
    let harness = spawn_data_purge().await;
    assert_policy_refuses_the_unlisted(
        &harness.host,
        &harness.channel,
        tenure_data_purge::policy(),
        ServiceKind::DataPurge,
    )
    .await;
    harness.host.shutdown().await;
}
