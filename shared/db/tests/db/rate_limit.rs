//! Rate-limit buckets on PostgreSQL and SQLite: the one-statement check decides exactly as the GCRA
//! arithmetic does, keeps buckets apart, and gives no more than the burst to callers racing on one
//! bucket, from one pool or from two (two replicas of a service).

use std::time::Duration;

use futures::future::join_all;
use sea_orm::sea_query::DynIden;
use sea_orm_migration::{MigrationTrait, MigratorTrait, async_trait};
use tenure_db::rate_limit::{self, CreateRateLimitBucket};
use tenure_db::{DatabaseSettings, Db};
use tenure_domain::rate::{Admission, Quota, RateKey, gcra};
use tenure_testkit::{TestDatabase, TestSqlite};

use crate::support::connect;

const SERVICE: &str = "limits";

struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateRateLimitBucket)]
    }

    fn migration_table_name() -> DynIden {
        tenure_db::migrations_table(SERVICE)
    }
}

const SECOND: i64 = 1_000_000;

fn key(bucket: &str, class: &'static str) -> RateKey {
    RateKey {
        bucket: bucket.to_owned(),
        class,
    }
}

async fn migrated_postgres() -> (TestDatabase, DatabaseSettings) {
    let database = TestDatabase::create().await.unwrap();
    let settings = database.settings(SERVICE);
    tenure_db::migrate::<Migrator>(&settings, SERVICE)
        .await
        .unwrap();
    (database, settings)
}

async fn migrated_sqlite() -> (TestSqlite, DatabaseSettings) {
    let files = TestSqlite::create().unwrap();
    let settings = files.settings(SERVICE);
    tenure_db::migrate::<Migrator>(&settings, SERVICE)
        .await
        .unwrap();
    (files, settings)
}

/// A run of calls at uneven times, decided by the database and by the arithmetic side by side.
async fn decides_as_the_arithmetic_does(db: &Db) {
    let quota = Quota::new(5, 4);
    let bucket = key("tenant:a", "mutation");
    let mut tat = None;
    let mut now = 1_000 * SECOND;
    let steps = [
        0,
        0,
        0,
        0,
        0,
        10_000,
        190_000,
        1,
        200_000,
        0,
        0,
        3 * SECOND,
        0,
        0,
        0,
        0,
        0,
    ];
    let mut refused = 0;
    for step in steps {
        now += step;
        let expected = gcra(quota, tat, now);
        let decided = rate_limit::admit(db.conn(), &bucket, quota, now)
            .await
            .unwrap();
        match expected {
            Ok(next) => {
                assert_eq!(decided, Admission::Allowed, "at {now}");
                tat = Some(next);
            }
            Err(retry_after) => {
                refused += 1;
                assert_eq!(decided, Admission::Refused { retry_after }, "at {now}");
            }
        }
    }
    assert!(refused >= 3, "the run must cross the limit: {refused}");

    // Other buckets and classes are untouched by all of that.
    for other in [key("tenant:b", "mutation"), key("tenant:a", "read")] {
        let decided = rate_limit::admit(db.conn(), &other, quota, now)
            .await
            .unwrap();
        assert_eq!(decided, Admission::Allowed);
    }
}

#[tokio::test]
async fn buckets_decide_as_gcra_on_postgres() {
    let (_database, settings) = migrated_postgres().await;
    decides_as_the_arithmetic_does(&connect(&settings).await).await;
}

#[tokio::test]
async fn buckets_decide_as_gcra_on_sqlite() {
    let (_files, settings) = migrated_sqlite().await;
    decides_as_the_arithmetic_does(&connect(&settings).await).await;
}

/// 40 checks of one bucket at the same instant, spread over `pools`: exactly the burst passes.
async fn racing_checks_take_exactly_the_burst(pools: &[Db]) {
    let quota = Quota::new(1, 10);
    let bucket = key("tenant:racing", "read");
    let now = 5_000 * SECOND;
    let checks = (0..40).map(|index| {
        let db = &pools[index % pools.len()];
        let bucket = &bucket;
        async move {
            rate_limit::admit(db.conn(), bucket, quota, now)
                .await
                .unwrap()
        }
    });
    let decisions = join_all(checks).await;
    let allowed = decisions
        .iter()
        .filter(|decision| **decision == Admission::Allowed)
        .count();
    assert_eq!(allowed, 10, "{decisions:?}");
    for decision in decisions {
        if let Admission::Refused { retry_after } = decision {
            assert_eq!(retry_after, Duration::from_secs(1));
        }
    }
}

#[tokio::test]
async fn racing_checks_on_two_postgres_pools_share_one_bucket() {
    let (_database, settings) = migrated_postgres().await;
    let pools = [connect(&settings).await, connect(&settings).await];
    racing_checks_take_exactly_the_burst(&pools).await;
}

#[tokio::test]
async fn racing_checks_on_sqlite_share_one_bucket() {
    let (_files, settings) = migrated_sqlite().await;
    racing_checks_take_exactly_the_burst(&[connect(&settings).await]).await;
}

#[tokio::test]
async fn the_relaxed_commit_ends_with_its_statement() {
    let (_database, mut settings) = migrated_postgres().await;
    // One connection, so the query after the check runs on the very connection it used.
    settings.max_connections = 1;
    settings.min_connections = 0;
    let db = connect(&settings).await;
    rate_limit::admit(
        db.conn(),
        &key("tenant:a", "read"),
        Quota::new(1, 1),
        SECOND,
    )
    .await
    .unwrap();
    let row = crate::support::query_one(db.conn(), "SHOW synchronous_commit")
        .await
        .unwrap();
    let setting: String = row.try_get("", "synchronous_commit").unwrap();
    assert_eq!(setting, "on");
}
