//! The accounts service on a real listener (port 0) against a fresh PostgreSQL database, with every layer
//! of the shared kit in place.
#![allow(clippy::expect_used, reason = "a failed setup step is a failed test")]

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
        "account_transition",
        "accounts_migrations",
        "app_user",
        "aws_account",
        "idempotency_record",
        "subscription",
        "tenant",
    ],
}
