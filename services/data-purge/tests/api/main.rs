//! The data-purge service on a real listener (port 0) against a fresh PostgreSQL database, with every layer
//! of the shared kit in place.
#![allow(clippy::expect_used, reason = "a failed setup step is a failed test")]

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
        "idempotency_record",
        "purge_migrations",
        "purge_request",
    ],
}
