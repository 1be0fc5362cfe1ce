//! The seed-story matrix (issue 15): every order kind, variant and outcome the five seed documents
//! describe, one row each, driven only through the public gRPC API as customers, operations staff,
//! billing and the sandbox (the customer's side of AWS) drive it, until the story reaches its end.
//! Every row checks what its users see: the step list with its owners (against the seeds' tables),
//! the customer-facing codes and messages, the events billing reads, the account's lifecycle state,
//! and the purge schedule. Each row runs on PostgreSQL and on SQLite (the embedded default of
//! `tenure up`).

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a failed setup step or a broken expectation is a failed test"
)]

mod check;
pub(crate) mod offboarding;
pub(crate) mod onboarding;
pub(crate) mod platform;

use crate::stack::Stack;

/// Where the services keep their data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Postgres,
    Sqlite,
}

/// A running stack on one backend; SQLite files live as long as it does.
pub(crate) struct Scene {
    pub(crate) stack: Stack,
    _files: Option<tenure_testkit::TestSqlite>,
}

impl Scene {
    /// Every service on `backend`, with the suite's fast settings and then `configure`.
    pub(crate) async fn start(
        backend: Backend,
        configure: fn(&mut tenure::config::TenureConfig),
    ) -> Self {
        match backend {
            Backend::Postgres => Self {
                stack: Stack::start_with(configure).await,
                _files: None,
            },
            Backend::Sqlite => {
                let files = tenure_testkit::TestSqlite::create().expect("sqlite files");
                let (orders, accounts, provisioning, purges) = (
                    files.settings("orders"),
                    files.settings("accounts"),
                    files.settings("provisioning"),
                    files.settings("purge"),
                );
                let stack = Stack::start_with(move |config| {
                    config.orders.settings.database = orders;
                    config.accounts.settings.database = accounts;
                    config.provisioning.settings.database = provisioning;
                    config.data_purge.settings.database = purges;
                    configure(config);
                })
                .await;
                Self {
                    stack,
                    _files: Some(files),
                }
            }
        }
    }

    pub(crate) async fn finish(self) {
        self.stack.owners.shutdown().await;
    }
}

/// No configuration beyond the suite's fast settings.
pub(crate) fn defaults(_: &mut tenure::config::TenureConfig) {}

/// One test per row and backend: `row: configuration => driver;`, where the driver is an
/// `async fn(&Stack)` that plays the story and checks its end.
macro_rules! matrix {
    ($($row:ident: $configure:expr => $drive:path;)+) => {
        mod on_postgres {
            #[allow(unused_imports, reason = "each row names what it needs from the matrix")]
            use super::*;
            $(
                #[tokio::test]
                async fn $row() {
                    let scene = crate::scenarios::Scene::start(
                        crate::scenarios::Backend::Postgres,
                        $configure,
                    )
                    .await;
                    $drive(&scene.stack).await;
                    scene.finish().await;
                }
            )+
        }
        mod on_sqlite {
            #[allow(unused_imports, reason = "each row names what it needs from the matrix")]
            use super::*;
            $(
                #[tokio::test]
                async fn $row() {
                    let scene = crate::scenarios::Scene::start(
                        crate::scenarios::Backend::Sqlite,
                        $configure,
                    )
                    .await;
                    $drive(&scene.stack).await;
                    scene.finish().await;
                }
            )+
        }
    };
}

pub(crate) use crate::scenarios::{offboarding as off, onboarding as on, platform as other};

matrix! {
    new_account_succeeds: defaults => on::new_account_succeeds;
    new_account_email_aws_already_knows: defaults => on::new_account_email_aws_already_knows;
    new_account_email_tenure_already_knows: defaults => on::new_account_email_tenure_already_knows;
    billing_transfer_accepted: defaults => on::billing_transfer_accepted;
    billing_transfer_declined: defaults => on::billing_transfer_declined;
    billing_transfer_expired: defaults => on::billing_transfer_expired;
    billing_transfer_bootstrap_role_missing: defaults => on::billing_transfer_bootstrap_role_missing;
    billing_transfer_of_an_account_another_tenant_holds: defaults => on::billing_transfer_of_an_account_another_tenant_holds;
    spam_without_organizations: defaults => on::spam_without_organizations;
    spam_without_organizations_public_cta_granted: defaults => on::spam_without_organizations_public_cta_granted;
    spam_without_organizations_public_cta_refused: defaults => on::spam_without_organizations_public_cta_refused;
    spam_with_organizations: defaults => on::spam_with_organizations;
    spam_with_organizations_public_cta_granted: defaults => on::spam_with_organizations_public_cta_granted;
    spam_with_organizations_public_cta_refused: defaults => on::spam_with_organizations_public_cta_refused;
    ecam_without_organizations: defaults => on::ecam_without_organizations;
    ecam_without_organizations_public_cta_granted: defaults => on::ecam_without_organizations_public_cta_granted;
    ecam_without_organizations_public_cta_refused: defaults => on::ecam_without_organizations_public_cta_refused;
    ecam_with_organizations: defaults => on::ecam_with_organizations;
    ecam_with_organizations_public_cta_granted: defaults => on::ecam_with_organizations_public_cta_granted;
    ecam_with_organizations_public_cta_refused: defaults => on::ecam_with_organizations_public_cta_refused;
    close_member: defaults => off::close_member;
    close_management_account_with_members: defaults => off::close_management_account_with_members;
    close_quota_exceeded: off::one_closure_a_month => off::close_quota_exceeded;
    reopen_inside_the_window: defaults => off::reopen_inside_the_window;
    reopen_after_the_window: defaults => off::reopen_after_the_window;
    unlink_created_member: defaults => off::unlink_created_member;
    unlink_invited_member: defaults => off::unlink_invited_member;
    unlink_handed_over_management_account: defaults => off::unlink_handed_over_management_account;
    unlink_billing_transfer_after_its_start: defaults => off::unlink_billing_transfer_after_its_start;
    unlink_billing_transfer_before_its_start: defaults => off::unlink_billing_transfer_before_its_start;
    removal_from_the_platform: defaults => other::removal_from_the_platform;
    tenant_unsubscribes: defaults => other::tenant_unsubscribes;
    expedited_purge: defaults => other::expedited_purge;
    new_account_cancelled_at_once: defaults => other::new_account_cancelled_at_once;
    open_balance_must_be_confirmed: defaults => other::open_balance_must_be_confirmed;
}
