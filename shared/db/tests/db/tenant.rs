use tenure_db::{ErrorKind, TenantTx};
use uuid::Uuid;

use crate::support::{
    SERVICE, connect, execute, insert_widget, migrated_postgres, query_one, widget_names,
};

async fn tenant_setting(tx: &TenantTx) -> Option<String> {
    let row = query_one(
        &**tx,
        "SELECT current_setting('app.tenant_id', true) AS tenant",
    )
    .await
    .unwrap();
    row.try_get("", "tenant").unwrap()
}

#[tokio::test]
async fn the_tenant_is_set_only_inside_its_transaction_on_a_pooled_connection() {
    let (_database, mut settings) = migrated_postgres().await;
    // One connection, so every transaction below reuses the one that saw the tenant.
    settings.max_connections = 1;
    let db = connect(&settings).await;
    let tenant = Uuid::new_v4();

    let never_set = TenantTx::begin_unscoped(&db).await.unwrap();
    assert_eq!(tenant_setting(&never_set).await, None);
    never_set.commit().await.unwrap();

    let scoped = TenantTx::begin(&db, tenant).await.unwrap();
    assert_eq!(scoped.tenant_id(), Some(tenant));
    assert_eq!(tenant_setting(&scoped).await, Some(tenant.to_string()));
    scoped.commit().await.unwrap();

    // The empty-string trap: once seen, the setting reads '' rather than NULL.
    let later = TenantTx::begin_unscoped(&db).await.unwrap();
    assert_eq!(later.tenant_id(), None);
    let leftover = tenant_setting(&later).await;
    assert!(
        matches!(leftover.as_deref(), None | Some("")),
        "{leftover:?}"
    );
    later.rollback().await.unwrap();

    let rolled_back = TenantTx::begin(&db, tenant).await.unwrap();
    rolled_back.rollback().await.unwrap();
    let after_rollback = TenantTx::begin_unscoped(&db).await.unwrap();
    let leftover = tenant_setting(&after_rollback).await;
    assert!(
        matches!(leftover.as_deref(), None | Some("")),
        "{leftover:?}"
    );
}

#[tokio::test]
async fn row_level_security_hides_other_tenants_rows_from_the_app_role() {
    let (database, settings) = migrated_postgres().await;
    let owner = connect(&settings).await;
    let app_role = database.create_login_role("app").await.unwrap();
    execute(
        owner.conn(),
        &format!("GRANT USAGE ON SCHEMA {SERVICE} TO \"{}\"", app_role.name),
    )
    .await;
    execute(
        owner.conn(),
        &format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {SERVICE} TO \"{}\"",
            app_role.name
        ),
    )
    .await;
    let app = connect(&tenure_db::DatabaseSettings {
        url: app_role.url.clone(),
        ..settings.clone()
    })
    .await;
    let (tenant_a, tenant_b) = (Uuid::new_v4(), Uuid::new_v4());
    let shown = format!("{app:?}");
    assert!(
        !shown.contains(&app_role.name),
        "the pool's Debug shows no credentials: {shown}"
    );

    let app_check = tenure_db::role_check(&app).await.unwrap();
    assert_eq!(app_check.role, app_role.name);
    assert!(app_check.is_restricted(), "{app_check:?}");
    let owner_check = tenure_db::role_check(&owner).await.unwrap();
    assert!(owner_check.is_superuser);
    assert!(!owner_check.is_restricted());

    for (tenant, name) in [(tenant_a, "a-1"), (tenant_a, "a-2"), (tenant_b, "b-1")] {
        let tx = TenantTx::begin(&app, tenant).await.unwrap();
        insert_widget(&*tx, name, tenant).await.unwrap();
        tx.commit().await.unwrap();
    }

    let as_a = TenantTx::begin(&app, tenant_a).await.unwrap();
    assert_eq!(widget_names(&*as_a).await, ["a-1", "a-2"]);
    as_a.rollback().await.unwrap();
    let as_b = TenantTx::begin(&app, tenant_b).await.unwrap();
    assert_eq!(widget_names(&*as_b).await, ["b-1"]);
    as_b.rollback().await.unwrap();
    let unscoped = TenantTx::begin_unscoped(&app).await.unwrap();
    assert!(widget_names(&*unscoped).await.is_empty());
    unscoped.rollback().await.unwrap();

    // WITH CHECK: a tenant cannot write a row that belongs to another.
    let smuggling = TenantTx::begin(&app, tenant_a).await.unwrap();
    let error = insert_widget(&*smuggling, "b-2", tenant_b)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Other);
    smuggling.rollback().await.unwrap();

    assert_eq!(widget_names(owner.conn()).await, ["a-1", "a-2", "b-1"]);
}

#[tokio::test]
async fn sqlite_transactions_carry_the_tenant_without_database_context() {
    let files = tenure_testkit::TestSqlite::create().unwrap();
    let settings = files.settings(SERVICE);
    tenure_db::migrate::<crate::support::Migrator>(&settings, SERVICE)
        .await
        .unwrap();
    let db = connect(&settings).await;
    let tenant = Uuid::new_v4();

    let tx = TenantTx::begin(&db, tenant).await.unwrap();
    insert_widget(&*tx, "only", tenant).await.unwrap();
    tx.commit().await.unwrap();

    let check = tenure_db::role_check(&db).await.unwrap();
    assert!(check.is_restricted());
    let unscoped = TenantTx::begin_unscoped(&db).await.unwrap();
    assert_eq!(widget_names(&*unscoped).await, ["only"]);
}
