//! The accounts service on a real listener (port 0) against a fresh PostgreSQL database, with every layer
//! of the shared kit in place.
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a failed setup step or an unexpected answer is a failed test"
)]

mod backends;
mod balances;
mod fake_purge;
mod idempotency;
mod isolation;
mod lifecycle;
mod purge;
mod registration;
mod removal;
mod support;
mod termination;
mod validation;

tenure_testkit::service_api_tests! {
    service: tenure_accounts,
    app: AccountsApp,
    settings: AccountsSettings,
    kind: Accounts,
    schema: "accounts",
    published: [
        "tenure.accounts.v1.AccountService",
        "tenure.purge.v1.PurgeParticipant",
    ],
    tables: [
        "account_details",
        "account_transition",
        "accounts_migrations",
        "app_user",
        "audit_event",
        "aws_account",
        "cost_record",
        "idempotency_record",
        "rate_limit_bucket",
        "subscription",
        "tenant",
    ],
    settings_rest: tenure_accounts::AccountsSettings::default(),
}
