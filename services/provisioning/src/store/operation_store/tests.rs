//! Claims and fencing against a real PostgreSQL and SQLite: the engine's exclusion rests on these
//! statements alone.
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a failed setup step or expectation is a failed test"
)]

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use tenure_db::DatabaseSettings;
use tenure_domain::AwsAccountId;
use tenure_testkit::{TestDatabase, TestSqlite};

use super::{Intent, OperationStore, Saved};
use crate::domain::operation::{Operation, OperationRequest, OperationState};

const CLAIM: Duration = Duration::seconds(60);

async fn store(settings: &DatabaseSettings) -> OperationStore {
    crate::store::migrate(settings).await.expect("migrations");
    OperationStore::new(tenure_db::connect(settings).await.expect("connect"))
}

/// A business clock far ahead of the real one, as in a sandbox fast-forwarded by months.
fn clocks() -> (DateTime<Utc>, DateTime<Utc>) {
    let real = Utc
        .with_ymd_and_hms(2030, 1, 1, 12, 0, 0)
        .single()
        .expect("a valid date");
    (real + Duration::days(90), real)
}

/// Claims operation `id` at real time `at` for one claim's length, as of the business time `business`.
async fn claim(
    store: &OperationStore,
    id: uuid::Uuid,
    business: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Option<Operation> {
    store
        .claim(id, business, at, at + CLAIM)
        .await
        .expect("claim")
}

/// Whether `operation` takes the lease on `key` at real time `at`, for one claim's length.
async fn lease(
    store: &OperationStore,
    key: &str,
    operation: &Operation,
    at: DateTime<Utc>,
) -> bool {
    let until = at + CLAIM;
    let taken = store.acquire_lease(key, operation, at, until).await;
    taken.expect("lease")
}

async fn created(
    store: &OperationStore,
    business: DateTime<Utc>,
    real: DateTime<Utc>,
) -> Operation {
    let intent = Operation::intent(
        "orders",
        None,
        &uuid::Uuid::new_v4().to_string(),
        vec![1, 2, 3],
        OperationRequest::CreateAccount {
            management_account: AwsAccountId::parse("111111111111").expect("an account id"),
            email: "fenced@example.com".to_owned(),
            account_name: "Fenced".to_owned(),
        },
        business,
    );
    match store
        .insert_intent(intent, real + CLAIM)
        .await
        .expect("insert")
    {
        Intent::Created(operation) => operation,
        Intent::Existing(_) => panic!("a fresh key found an operation"),
    }
}

async fn a_stale_stepper_cannot_write_over_a_newer_claim(settings: DatabaseSettings) {
    let store = store(&settings).await;
    let (business, real) = clocks();
    let creators = created(&store, business, real).await;

    // Due on the business clock, but its creator's claim is live in real time: jumping the
    // business clock by months does not free it.
    let leap = business + Duration::days(90);
    assert!(
        claim(&store, creators.id, leap, real + Duration::seconds(30))
            .await
            .is_none()
    );
    assert!(
        store
            .due(leap, real + Duration::seconds(30), 10)
            .await
            .expect("due")
            .is_empty()
    );

    // Once it lapses in real time, claims take turns, each with the next epoch.
    let later = real + CLAIM + Duration::seconds(1);
    let stale = claim(&store, creators.id, business, later)
        .await
        .expect("the lapsed claim is taken over");
    assert_eq!(stale.claim_epoch, creators.claim_epoch + 1);
    assert!(
        claim(&store, creators.id, business, later).await.is_none(),
        "two live claims"
    );
    let latest_at = later + CLAIM + Duration::seconds(1);
    let latest = claim(&store, creators.id, business, latest_at)
        .await
        .expect("the second lapsed claim is taken over");
    assert_eq!(latest.claim_epoch, stale.claim_epoch + 1);

    // The latest stepper finishes the operation.
    let mut finished = latest.clone();
    finished.state = OperationState::Succeeded;
    finished.next_check_at = None;
    finished.aws_calls = 2;
    assert!(matches!(
        store.save(&finished).await.expect("save"),
        Saved::Written
    ));

    // The stale stepper's writes, mid-step or final, are refused and answered with the row.
    let mut older = stale.clone();
    older.state = OperationState::InProgress;
    older.aws_calls = 1;
    older.next_check_at = Some(business);
    for write in [store.checkpoint(&older).await, store.save(&older).await] {
        let Saved::Superseded(Some(stored)) = write.expect("write") else {
            panic!("a stale write went through");
        };
        assert_eq!(stored.state, OperationState::Succeeded);
        assert_eq!(stored.claim_epoch, latest.claim_epoch);
    }
    // The creator, two claims behind, fares no better.
    assert!(
        matches!(
            store.save(&creators).await.expect("save"),
            Saved::Superseded(Some(_))
        ),
        "the creator's save went through"
    );
    let stored = store.get(creators.id).await.expect("get").expect("stored");
    assert_eq!(stored.state, OperationState::Succeeded);
    assert_eq!(stored.aws_calls, 2);
    // A settled operation is never claimed again.
    let much_later = latest_at + Duration::days(1);
    assert!(claim(&store, creators.id, leap, much_later).await.is_none());
}

async fn a_saved_step_frees_the_operation_for_its_next_business_check(settings: DatabaseSettings) {
    let store = store(&settings).await;
    let (business, real) = clocks();
    let mut operation = created(&store, business, real).await;
    operation.next_check_at = Some(business + Duration::minutes(5));
    assert!(matches!(
        store.save(&operation).await.expect("save"),
        Saved::Written
    ));
    // The claim was given back; what decides now is the business due time alone.
    let before_due = business + Duration::minutes(4);
    assert!(
        claim(&store, operation.id, before_due, real)
            .await
            .is_none()
    );
    let after_due = business + Duration::minutes(6);
    assert_eq!(
        store.due(after_due, real, 10).await.expect("due"),
        vec![operation.id]
    );
    let next = claim(&store, operation.id, after_due, real)
        .await
        .expect("due and unclaimed");
    assert_eq!(next.claim_epoch, operation.claim_epoch + 1);
}

async fn a_lease_follows_the_latest_claim(settings: DatabaseSettings) {
    let store = store(&settings).await;
    let (business, real) = clocks();
    let creators = created(&store, business, real).await;
    let key = creators.request.lock_key();
    assert!(lease(&store, &key, &creators, real).await);
    let later = real + CLAIM + Duration::seconds(1);
    let latest = claim(&store, creators.id, business, later)
        .await
        .expect("taken over");
    // The new stepper takes its operation's lease over; the stale one cannot take it back or free it.
    assert!(lease(&store, &key, &latest, later).await);
    store.release_lease(&key, &creators).await.expect("release");
    assert!(!lease(&store, &key, &creators, later).await);
    // The holder's lease keeps another operation on the same account out, until released.
    let other = created(&store, business, real).await;
    assert!(!lease(&store, &key, &other, later).await);
    store.release_lease(&key, &latest).await.expect("release");
    assert!(lease(&store, &key, &other, later).await);
}

macro_rules! on_both_databases {
    ($($case:ident),+ $(,)?) => {
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let database = super::TestDatabase::create().await.expect("test database");
                    super::$case(database.settings("provisioning")).await;
                }
            )+
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let files = super::TestSqlite::create().expect("sqlite directory");
                    super::$case(files.settings("provisioning")).await;
                }
            )+
        }
    };
}

on_both_databases!(
    a_stale_stepper_cannot_write_over_a_newer_claim,
    a_saved_step_frees_the_operation_for_its_next_business_check,
    a_lease_follows_the_latest_claim,
);
