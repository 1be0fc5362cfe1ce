use tenure_db::{Db, ErrorKind, TenantTx};
use tenure_testkit::TestSqlite;
use uuid::Uuid;

use crate::support::{Migrator, SERVICE, connect, insert_widget, migrated_postgres};

async fn duplicate_insert_is_a_conflict(db: &Db) {
    let tenant = Uuid::new_v4();
    let tx = TenantTx::begin(db, tenant).await.unwrap();
    insert_widget(&*tx, "twice", tenant).await.unwrap();

    let error = insert_widget(&*tx, "twice", tenant).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Conflict);
    assert!(!error.is_transient());
    let shown = format!("{error} / {error:?}");
    assert!(!shown.contains("INSERT"), "no SQL text: {shown}");
    assert_eq!(error.to_string(), "unique constraint violated");
}

#[tokio::test]
async fn a_unique_violation_is_a_conflict_on_postgres() {
    let (_database, settings) = migrated_postgres().await;
    duplicate_insert_is_a_conflict(&connect(&settings).await).await;
}

#[tokio::test]
async fn a_unique_violation_is_a_conflict_on_sqlite() {
    let files = TestSqlite::create().unwrap();
    let settings = files.settings(SERVICE);
    tenure_db::migrate::<Migrator>(&settings, SERVICE)
        .await
        .unwrap();
    duplicate_insert_is_a_conflict(&connect(&settings).await).await;
}

#[tokio::test]
async fn a_closed_pool_is_unavailable() {
    let (_database, settings) = migrated_postgres().await;
    let db = connect(&settings).await;
    db.close().await.unwrap();

    let error = db.ping().await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(error.is_transient());
}
