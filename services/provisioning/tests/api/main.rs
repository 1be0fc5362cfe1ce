//! The provisioning service on a real listener (port 0) against a fresh PostgreSQL database, with every layer
//! of the shared kit in place.
#![allow(clippy::expect_used, reason = "a failed setup step is a failed test")]

tenure_testkit::service_api_tests! {
    service: tenure_provisioning,
    app: ProvisioningApp,
    settings: ProvisioningSettings,
    kind: Provisioning,
    schema: "provisioning",
    published: [
        "tenure.provisioning.v1.ProvisioningService",
        "tenure.provisioning.v1.SandboxService",
        "tenure.purge.v1.PurgeParticipant",
    ],
    tables: [
        "idempotency_record",
        "operation",
        "provisioning_migrations",
    ],
}
