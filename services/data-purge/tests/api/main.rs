//! The data-purge service on a real listener (port 0) against a fresh PostgreSQL database, with every layer
//! of the shared kit in place. Alone, its only data owner is itself; the purge across every service is
//! exercised by the end-to-end suite.
#![allow(clippy::expect_used, reason = "a failed setup step is a failed test")]

mod offboarding;
mod purges;

/// The receipt signing key of these tests; a fixture, never used outside them.
pub(crate) const TEST_RECEIPT_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/api/fixtures/receipt-signing-key.pem"
);

tenure_testkit::service_api_tests! {
    service: tenure_data_purge,
    app: DataPurgeApp,
    settings: DataPurgeSettings,
    kind: DataPurge,
    schema: "purge",
    published: [
        "tenure.purge.v1.PurgeService",
        "tenure.purge.v1.PurgeEvents",
        "tenure.purge.v1.PurgeParticipant",
    ],
    tables: [
        "event_head",
        "idempotency_record",
        "legal_hold",
        "purge_event",
        "purge_migrations",
        "purge_request",
        "purge_transition",
        "rate_limit_bucket",
        "receipt",
        "receipt_chain_head",
        "receipt_key",
    ],
    settings_rest: tenure_data_purge::DataPurgeSettings {
        receipts: tenure_data_purge::ReceiptSettings {
            signing_key_file: Some(TEST_RECEIPT_KEY.into()),
            ..tenure_data_purge::ReceiptSettings::default()
        },
        ..tenure_data_purge::DataPurgeSettings::default()
    },
}
