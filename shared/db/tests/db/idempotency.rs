use std::time::Duration;

use chrono::TimeDelta;
use tenure_db::idempotency::{self, Claim, IdempotencyScope};
use tenure_db::{Db, ErrorKind, TenantTx};
use tenure_testkit::TestSqlite;

use crate::support::{Migrator, SERVICE, connect, migrated_postgres, noon};

fn scope(tenant_id: &str, key: &str) -> IdempotencyScope {
    IdempotencyScope {
        tenant_id: tenant_id.to_owned(),
        method: "/tenure.test.v1.WidgetService/CreateWidget".to_owned(),
        key: key.to_owned(),
        caller: "orders".to_owned(),
    }
}

const TTL: TimeDelta = TimeDelta::hours(24);

async fn claim(db: &Db, scope: &IdempotencyScope, request: &[u8]) -> Claim {
    let tx = TenantTx::begin_unscoped(db).await.unwrap();
    let claim = idempotency::claim(
        &*tx,
        scope,
        &idempotency::request_hash(request),
        noon(),
        TTL,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    claim
}

/// The whole life of a key, identical on both backends.
async fn claim_replay_mismatch_in_flight(db: &Db) {
    let key = scope("", "key-1");
    let request = b"create widget a";

    // A claim rolled back with its effect leaves nothing behind.
    let abandoned = TenantTx::begin_unscoped(db).await.unwrap();
    let hash = idempotency::request_hash(request);
    let first = idempotency::claim(&*abandoned, &key, &hash, noon(), TTL)
        .await
        .unwrap();
    assert_eq!(first, Claim::Fresh);
    abandoned.rollback().await.unwrap();

    // Claimed and committed in flight, as provisioning does before calling AWS.
    assert_eq!(claim(db, &key, request).await, Claim::Fresh);
    assert_eq!(claim(db, &key, request).await, Claim::InFlight);
    assert_eq!(claim(db, &key, b"create widget b").await, Claim::Mismatch);
    let other_caller = IdempotencyScope {
        caller: "accounts".to_owned(),
        ..key.clone()
    };
    assert_eq!(claim(db, &other_caller, request).await, Claim::Mismatch);

    let tx = TenantTx::begin_unscoped(db).await.unwrap();
    idempotency::complete(&*tx, &key, 0, b"\x0a\x03abc")
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let replay = Claim::Replay {
        grpc_code: 0,
        response: b"\x0a\x03abc".to_vec(),
    };
    assert_eq!(claim(db, &key, request).await, replay);
    assert_eq!(claim(db, &key, b"create widget b").await, Claim::Mismatch);

    let tx = TenantTx::begin_unscoped(db).await.unwrap();
    let again = idempotency::complete(&*tx, &key, 0, b"other")
        .await
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::NotFound);
    tx.rollback().await.unwrap();

    // Keys are scoped by tenant (and method): the same key elsewhere is new.
    let tenant_key = scope("6f1c1a52-0d8e-4d5e-9a86-0c8f0e1d2a3b", "key-1");
    assert_eq!(claim(db, &tenant_key, request).await, Claim::Fresh);

    // An expired record that the cleanup has not reached yet counts as gone.
    let tx = TenantTx::begin_unscoped(db).await.unwrap();
    let later = noon() + TTL + TimeDelta::seconds(1);
    let renewed = idempotency::claim(&*tx, &key, &idempotency::request_hash(b"new"), later, TTL)
        .await
        .unwrap();
    assert_eq!(renewed, Claim::Fresh);
    tx.commit().await.unwrap();

    // Cleanup deletes in batches, oldest first, and only what has expired.
    let tx = TenantTx::begin_unscoped(db).await.unwrap();
    let deleted = idempotency::delete_expired(&*tx, noon() + TTL, 10)
        .await
        .unwrap();
    assert_eq!(deleted, 1, "only the tenant key expires at noon + ttl");
    let none_left = idempotency::delete_expired(&*tx, noon(), 10).await.unwrap();
    assert_eq!(none_left, 0);
    let rest = idempotency::delete_expired(&*tx, later + TTL, 1)
        .await
        .unwrap();
    assert_eq!(rest, 1);
    tx.commit().await.unwrap();
    assert_eq!(claim(db, &key, request).await, Claim::Fresh);
}

#[tokio::test]
async fn idempotency_records_on_postgres() {
    let (_database, settings) = migrated_postgres().await;
    claim_replay_mismatch_in_flight(&connect(&settings).await).await;
}

#[tokio::test]
async fn idempotency_records_on_sqlite() {
    let files = TestSqlite::create().unwrap();
    let settings = files.settings(SERVICE);
    tenure_db::migrate::<Migrator>(&settings, SERVICE)
        .await
        .unwrap();
    claim_replay_mismatch_in_flight(&connect(&settings).await).await;
}

#[tokio::test]
async fn a_concurrent_duplicate_waits_for_the_first_claim_and_replays_it() {
    let (_database, settings) = migrated_postgres().await;
    let db = connect(&settings).await;
    let key = scope("", "racing");
    let hash = idempotency::request_hash(b"request");

    let first = TenantTx::begin_unscoped(&db).await.unwrap();
    let claimed = idempotency::claim(&*first, &key, &hash, noon(), TTL)
        .await
        .unwrap();
    assert_eq!(claimed, Claim::Fresh);

    let finish_first = async {
        // Long enough for the duplicate below to be waiting on the key.
        tokio::time::sleep(Duration::from_millis(300)).await;
        idempotency::complete(&*first, &key, 6, b"").await.unwrap();
        first.commit().await.unwrap();
    };
    let duplicate = async {
        let second = TenantTx::begin_unscoped(&db).await.unwrap();
        let outcome = idempotency::claim(&*second, &key, &hash, noon(), TTL)
            .await
            .unwrap();
        second.commit().await.unwrap();
        outcome
    };
    let ((), outcome) = tokio::join!(finish_first, duplicate);

    assert_eq!(
        outcome,
        Claim::Replay {
            grpc_code: 6,
            response: Vec::new()
        }
    );
}
