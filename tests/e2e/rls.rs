//! Issue 16, "the database's own backstop" (quality.md §1.5, S19, S20): row-level security proved
//! from outside. Embedded mode is SQLite, and the rest of the suite runs split mode as the `postgres`
//! superuser, which row-level security does not bind; here the database is prepared as a deployment
//! prepares it and every service runs as its `<schema>_app` role:
//!
//! 1. `deploy/postgres/init.sql` makes the schemas and roles (prefixed per run, see
//!    [`setup::Roles`]), `tenure migrate` runs as each schema's owner, and production's start-up
//!    check refuses the owners and the superuser and accepts the `_app` roles;
//! 2. two tenants get real data through the public API: tenants, users, AWS accounts with details
//!    and costs, provisioning operations, orders with their sagas and operations tasks, purges;
//! 3. with the application's tenant filter bypassed (the hook is described in [`probes`]), the
//!    database itself hides tenant B's rows from tenant A's transactions and refuses writes as B, on
//!    every table under a tenant policy; the tables without one are pinned, data-purge's by design;
//! 4. the `_app` roles cannot switch the policies off, take the owner's role or truncate (S20), and a
//!    pooled connection never carries a tenant into a later transaction (S19).

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a failed setup step or a broken expectation is a failed test"
)]

mod probes;
mod setup;

use std::path::{Path, PathBuf};

use tenure_grpc::ServiceKind;
use tenure_proto::orders::v1 as pb;
use tenure_testkit::TestDatabase;
use tonic::Code;
use uuid::Uuid;

use crate::stack::{As, Stack};

/// One tenant's footprint in every service.
struct Tenant {
    id: Uuid,
    order_id: String,
}

/// A tenant with an AWS account (accounts and provisioning rows), a new-account order whose saga
/// runs until operations have a task (orders rows), and a scheduled purge of the account
/// (data-purge rows).
async fn tenant_with_data(stack: &Stack) -> Tenant {
    let seeded = stack.seed(1).await;
    let unique = &Uuid::new_v4().simple().to_string()[..10];
    let order = stack
        .place(
            seeded.tenant,
            pb::create_order_request::Details::NewAccount(pb::NewAccountOrder {
                root_email: format!("rls-{unique}@example.com"),
                account_name: format!("RLS {unique}"),
                support_contact: format!("Grace Hopper {unique}"),
            }),
        )
        .await
        .expect("order placed");
    let task = stack.first_open_task(&order.id).await;
    assert_eq!(task.order_id, order.id);
    stack
        .schedule_account_purge(seeded.tenant, &seeded.accounts[0].aws_account_id)
        .await;
    Tenant {
        id: seeded.tenant,
        order_id: order.id,
    }
}

#[tokio::test]
async fn split_services_on_their_app_roles_are_held_to_their_tenant_by_the_database() {
    let database = TestDatabase::create().await.expect("database");
    // Declared before the stack, which owns the database: the roles are dropped after it.
    let roles = setup::Roles::init(&database).await;
    let scratch = tempfile::tempdir().expect("scratch directory");
    let cluster = setup::cluster(database, &roles).await;
    setup::migrate_as_owners(&cluster, &roles, scratch.path()).await;
    probes::catalogue_is_as_designed(&roles).await;
    let secrets = setup::Secrets::write(scratch.path(), cluster.authority());
    setup::production_checks_the_role(&cluster, &roles, &secrets, scratch.path()).await;
    let (stack, processes) = setup::start(cluster, &secrets).await;

    let a = tenant_with_data(&stack).await;
    let b = tenant_with_data(&stack).await;
    // The application's own check, for contrast: B's order is missing to A.
    let foreign = stack
        .order(&As::Customer(a.id), &b.order_id)
        .await
        .expect_err("another tenant's order");
    assert_eq!(foreign.code(), Code::NotFound);

    let config = stack.owners.config().clone();
    for kind in ServiceKind::ALL {
        let settings = setup::database(&config, kind);
        assert_eq!(settings.url, roles.url(kind, "app"));
        // The service's own connection settings, so its own role: the services run on these.
        let app = stack.sql(kind).await;
        let check = tenure_db::role_check(&app).await.expect("role check");
        assert_eq!(check.role, roles.name(kind, "app"));
        assert!(check.is_restricted(), "{check:?}");
        let admin = tenure_db::connect(&roles.admin_settings(settings))
            .await
            .expect("admin");
        for table in probes::tenant_tables(kind) {
            probes::tenant_table_holds(&app, &admin, table, a.id, b.id).await;
        }
        let table = match kind {
            ServiceKind::Orders => "customer_order",
            ServiceKind::Accounts => "aws_account",
            ServiceKind::Provisioning => "operation",
            ServiceKind::DataPurge => "purge_request",
        };
        if probes::tenant_tables(kind).is_empty() {
            probes::unguarded_table_shows_everything(&app, table, a.id, b.id).await;
        }
        probes::app_role_cannot_escape(&app, &roles, kind, table).await;
        if kind == ServiceKind::Orders {
            probes::pooled_connection_forgets_the_tenant(settings, &admin, table, a.id, b.id).await;
        }
        app.close().await.ok();
        admin.close().await.ok();
    }

    // Nothing above changed what the services serve: each tenant still reads its own order.
    for tenant in [&a, &b] {
        let order = stack
            .order(&As::Customer(tenant.id), &tenant.order_id)
            .await
            .expect("own order");
        assert_eq!(order.id, tenant.order_id);
    }
    drop(processes);
    drop(stack);
}

/// S20's other half (quality.md §1.5): PostgreSQL lets any role `SET` a custom setting for the whole
/// session, and such a setting outlives its transaction (the split test shows it), so no code may
/// issue one. `app.*` settings are set only with `set_config(…, true)`, which ends with the
/// transaction; never with `SET`, `SET SESSION` or `SET LOCAL` (whose value would have to be spliced
/// into SQL), nor with `set_config(…, false)`.
#[test]
fn no_code_sets_an_app_setting_beyond_its_transaction() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let mut files = Vec::new();
    for area in ["services", "shared"] {
        rust_files(&root.join(area), &mut files);
    }
    assert!(files.len() > 50, "found only {} files", files.len());
    let mut offences = Vec::new();
    let mut set_configs = 0;
    for file in &files {
        let source = std::fs::read_to_string(file)
            .expect("source")
            .to_ascii_lowercase();
        for statement in ["set app.", "set session app.", "set local app."] {
            for (at, _) in source.match_indices(statement) {
                let word_start = at == 0 || !source.as_bytes()[at - 1].is_ascii_alphanumeric();
                if word_start {
                    offences.push(format!("{}: `{statement}`", file.display()));
                }
            }
        }
        for (at, _) in source.match_indices("set_config(") {
            set_configs += 1;
            let call = &source[at..];
            let arguments = &call[..call.find(')').unwrap_or(call.len())];
            if !arguments.trim_end().ends_with("true") {
                offences.push(format!("{}: `{arguments})`", file.display()));
            }
        }
    }
    assert!(offences.is_empty(), "{offences:#?}");
    assert!(
        set_configs > 0,
        "the scan no longer finds TenantTx's set_config"
    );
}

fn rust_files(directory: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name != "target") {
                rust_files(&path, files);
            }
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}
