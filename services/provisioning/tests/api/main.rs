//! The provisioning service on a real listener (port 0) against a fresh PostgreSQL database, with every layer
//! of the shared kit in place.
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a failed setup step or expectation is a failed test"
)]

mod support;

mod aws_moto;
mod billing_end;
mod contract;
mod crash;
mod customers;
mod faults;
mod fencing;
mod operations;
mod purge;

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
        "aws_reference",
        "concerned_account",
        "idempotency_record",
        "operation",
        "operation_lease",
        "provisioning_migrations",
        "rate_limit_bucket",
        "sandbox_account",
        "sandbox_clock",
        "sandbox_create_account_request",
        "sandbox_handshake",
        "sandbox_organization",
        "sandbox_stack",
        "sandbox_stack_instance",
        "sandbox_stack_set",
        "sandbox_stack_set_operation",
        "sandbox_transfer",
    ],
    settings_rest: tenure_provisioning::ProvisioningSettings::default(),
}
