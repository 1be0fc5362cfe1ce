//! Records filed under a subject: a purge selects, counts and deletes a tenant's records (all of
//! them, some subjects or all but some) on both backends, never an in-flight one or another
//! tenant's, and the upgrade attributes the records that existed before it.

use chrono::TimeDelta;
use tenure_db::idempotency::{
    self, Claim, IdempotencyScope, RecordKey, RecordSubject, SubjectSelection,
};
use tenure_db::{DatabaseSettings, Db, TenantTx};
use tenure_testkit::{TestDatabase, TestSqlite};

use crate::support::{Migrator, SERVICE, SubjectMigrator, connect, noon};

const TENANT: &str = "6f1c1a52-0d8e-4d5e-9a86-0c8f0e1d2a3b";
const OTHER: &str = "0b9e7c1d-3f2a-4c5b-8d6e-7f8091a2b3c4";
const TTL: TimeDelta = TimeDelta::hours(24);
const REQUEST: &[u8] = b"request";

fn scope(tenant_id: &str, key: &str) -> IdempotencyScope {
    IdempotencyScope {
        tenant_id: tenant_id.to_owned(),
        method: "/tenure.test.v1.WidgetService/CreateWidget".to_owned(),
        key: key.to_owned(),
        caller: "orders".to_owned(),
    }
}

fn about(tenant_id: &str, subject: &str) -> RecordSubject {
    RecordSubject {
        tenant_id: tenant_id.to_owned(),
        subject: subject.to_owned(),
    }
}

fn record_key(tenant_id: &str, key: &str) -> RecordKey {
    RecordKey {
        tenant_id: tenant_id.to_owned(),
        method: scope(tenant_id, key).method,
        key: key.to_owned(),
    }
}

async fn claim(db: &Db, scope: &IdempotencyScope, at: chrono::DateTime<chrono::Utc>) -> Claim {
    let tx = TenantTx::begin_unscoped(db).await.unwrap();
    let claim = idempotency::claim(&*tx, scope, &idempotency::request_hash(REQUEST), at, TTL)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    claim
}

/// Claims and completes `scope` in one transaction, filed under `subject`.
async fn completed(db: &Db, scope: &IdempotencyScope, subject: Option<RecordSubject>) {
    let tx = TenantTx::begin_unscoped(db).await.unwrap();
    let hash = idempotency::request_hash(REQUEST);
    let claimed = idempotency::claim(&*tx, scope, &hash, noon(), TTL)
        .await
        .unwrap();
    assert_eq!(claimed, Claim::Fresh);
    idempotency::complete_for_subject(&*tx, scope, 0, b"response", subject.as_ref())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn keys(db: &Db, tenant_id: &str, selection: SubjectSelection<'_>) -> Vec<RecordKey> {
    idempotency::tenant_record_keys(db.conn(), tenant_id, selection)
        .await
        .unwrap()
}

async fn count(db: &Db, tenant_id: &str, selection: SubjectSelection<'_>) -> u64 {
    idempotency::count_tenant_records(db.conn(), tenant_id, selection)
        .await
        .unwrap()
}

async fn delete(db: &Db, tenant_id: &str, selection: SubjectSelection<'_>) -> u64 {
    let tx = TenantTx::begin_unscoped(db).await.unwrap();
    let deleted = idempotency::delete_tenant_records(&*tx, tenant_id, selection)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    deleted
}

async fn a_tenants_records_by_subject(db: &Db) {
    let accounts = ["aws_account:1".to_owned(), "aws_account:2".to_owned()];
    // An operator's call carries no tenant in its key, yet returns the tenant's data.
    completed(
        db,
        &scope("", "operator"),
        Some(about(TENANT, "aws_account:1")),
    )
    .await;
    completed(
        db,
        &scope(TENANT, "account"),
        Some(about(TENANT, "aws_account:2")),
    )
    .await;
    completed(db, &scope(TENANT, "user"), Some(about(TENANT, "user:1"))).await;
    completed(db, &scope(TENANT, "bookkeeping"), None).await;
    completed(
        db,
        &scope(OTHER, "other"),
        Some(about(OTHER, "aws_account:1")),
    )
    .await;
    assert_eq!(
        claim(db, &scope(TENANT, "running"), noon()).await,
        Claim::Fresh
    );
    // Completed without a subject, as services without the subject column do.
    let tx = TenantTx::begin_unscoped(db).await.unwrap();
    let plain = scope(TENANT, "plain");
    idempotency::claim(
        &*tx,
        &plain,
        &idempotency::request_hash(REQUEST),
        noon(),
        TTL,
    )
    .await
    .unwrap();
    idempotency::complete(&*tx, &plain, 0, b"response")
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let only = SubjectSelection::Only(&accounts);
    let except = SubjectSelection::Except(&accounts);
    assert_eq!(
        keys(db, TENANT, only).await,
        [record_key("", "operator"), record_key(TENANT, "account")]
    );
    assert_eq!(keys(db, TENANT, except).await, [record_key(TENANT, "user")]);
    assert_eq!(
        keys(db, TENANT, SubjectSelection::All).await,
        [
            record_key("", "operator"),
            record_key(TENANT, "account"),
            record_key(TENANT, "user")
        ],
        "neither the in-flight record nor the ones without a subject"
    );
    assert_eq!(count(db, TENANT, only).await, 2);
    assert_eq!(count(db, TENANT, SubjectSelection::All).await, 3);
    assert_eq!(count(db, TENANT, SubjectSelection::Only(&[])).await, 0);
    assert_eq!(count(db, TENANT, SubjectSelection::Except(&[])).await, 3);

    assert_eq!(delete(db, TENANT, only).await, 2);
    assert_eq!(
        delete(db, TENANT, only).await,
        0,
        "a repeat deletes nothing"
    );
    assert_eq!(count(db, TENANT, SubjectSelection::All).await, 1);
    assert_eq!(delete(db, TENANT, except).await, 1);
    assert_eq!(count(db, TENANT, SubjectSelection::All).await, 0);
    assert_eq!(
        count(db, OTHER, SubjectSelection::All).await,
        1,
        "untouched"
    );

    // A deleted record is forgotten; the others still answer as before.
    assert_eq!(
        claim(db, &scope("", "operator"), noon()).await,
        Claim::Fresh
    );
    assert_eq!(
        claim(db, &scope(TENANT, "bookkeeping"), noon()).await,
        Claim::Replay {
            grpc_code: 0,
            response: b"response".to_vec()
        }
    );
    assert_eq!(
        claim(db, &scope(TENANT, "running"), noon()).await,
        Claim::InFlight
    );

    // An expired record claimed again loses its old subject when it completes without one.
    let later = noon() + TTL + TimeDelta::seconds(1);
    let reused = scope(OTHER, "other");
    assert_eq!(claim(db, &reused, later).await, Claim::Fresh);
    let tx = TenantTx::begin_unscoped(db).await.unwrap();
    idempotency::complete_for_subject(&*tx, &reused, 0, b"new", None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(db, OTHER, SubjectSelection::All).await, 0);
}

async fn migrated(settings: &DatabaseSettings) -> Db {
    tenure_db::migrate::<SubjectMigrator>(settings, SERVICE)
        .await
        .unwrap();
    connect(settings).await
}

#[tokio::test]
async fn a_tenants_records_by_subject_on_postgres() {
    let database = TestDatabase::create().await.unwrap();
    a_tenants_records_by_subject(&migrated(&database.settings(SERVICE)).await).await;
}

#[tokio::test]
async fn a_tenants_records_by_subject_on_sqlite() {
    let files = TestSqlite::create().unwrap();
    a_tenants_records_by_subject(&migrated(&files.settings(SERVICE)).await).await;
}

/// Records completed before the upgrade are attributed to the tenant of their key, when they have
/// one, so a tenant purge still finds them.
async fn the_upgrade_attributes_existing_records(settings: &DatabaseSettings) {
    tenure_db::migrate::<Migrator>(settings, SERVICE)
        .await
        .unwrap();
    let before = connect(settings).await;
    for key in [scope(TENANT, "done"), scope("", "no-tenant")] {
        let tx = TenantTx::begin_unscoped(&before).await.unwrap();
        idempotency::claim(&*tx, &key, &idempotency::request_hash(REQUEST), noon(), TTL)
            .await
            .unwrap();
        idempotency::complete(&*tx, &key, 0, b"response")
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(
        claim(&before, &scope(TENANT, "running"), noon()).await,
        Claim::Fresh
    );
    before.close().await.unwrap();

    let after = migrated(settings).await;
    assert_eq!(
        keys(&after, TENANT, SubjectSelection::All).await,
        [record_key(TENANT, "done")]
    );
    assert_eq!(
        keys(&after, TENANT, SubjectSelection::Except(&[])).await,
        [record_key(TENANT, "done")],
        "an attributed record has no subject"
    );
}

#[tokio::test]
async fn the_upgrade_attributes_existing_records_on_postgres() {
    let database = TestDatabase::create().await.unwrap();
    the_upgrade_attributes_existing_records(&database.settings(SERVICE)).await;
}

#[tokio::test]
async fn the_upgrade_attributes_existing_records_on_sqlite() {
    let files = TestSqlite::create().unwrap();
    the_upgrade_attributes_existing_records(&files.settings(SERVICE)).await;
}
