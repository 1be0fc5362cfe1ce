//! Reliability of the saga engine with orders as real processes (issue #6): SIGKILL during a batch of
//! sagas, and two replicas sharing one database where one dies. Nothing may stay unfinished, no step
//! effect may happen twice downstream, and the event stream may lose or repeat nothing.

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a failed setup step or a broken expectation is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::future::join_all;
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
use tenure_e2e::ServiceProcess;
use tenure_grpc::ServiceKind;
use tenure_proto::orders::v1 as pb;
use tenure_proto::orders::v1::order_events_client::OrderEventsClient;
use tenure_proto::orders::v1::order_service_client::OrderServiceClient;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::stack::{As, Stack, key};

/// Sagas in the crash batch.
const BATCH: usize = 200;

/// Tenants the batch is spread over, each with a platform organization of its own: provisioning runs
/// one operation at a time per organization, as AWS does for StackSet operations.
const TENANTS: usize = 25;

/// Tenants, each with its own active platform payer.
async fn tenants(stack: &Stack, count: usize) -> Vec<Uuid> {
    let mut tenants = Vec::new();
    for _ in 0..count {
        let tenant = stack.seed(0).await.tenant;
        stack
            .register_account(
                tenant,
                &crate::orders::fresh_account(),
                tenure_proto::accounts::v1::AccountRole::Management,
                tenure_proto::common::v1::AccountRelationship::PlatformPayer,
                "",
            )
            .await;
        tenants.push(tenant);
    }
    tenants
}

async fn connect(url: &str) -> Channel {
    tonic::transport::Endpoint::from_shared(url.to_owned())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect")
}

async fn spawn_orders(stack: &Stack) -> ServiceProcess {
    stack
        .owners
        .spawn_process(ServiceKind::Orders, |config| {
            config.orders.settings.engine.concurrency = 64;
        })
        .await
        .expect("orders process")
}

/// Places one order, retrying with the same key until the service answers: a client's view of a
/// service that restarts under it.
async fn place(
    stack: &Stack,
    url: &str,
    tenant: Uuid,
    idempotency_key: &str,
    email: &str,
) -> String {
    let details = pb::create_order_request::Details::NewAccount(pb::NewAccountOrder {
        root_email: email.to_owned(),
        account_name: "Batch workload".to_owned(),
        support_contact: String::new(),
    });
    for _ in 0..100 {
        if let Ok(channel) = tonic::transport::Endpoint::from_shared(url.to_owned())
            .expect("endpoint")
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
        {
            let mut request = stack.request(
                &As::Customer(tenant),
                ServiceKind::Orders,
                pb::CreateOrderRequest {
                    idempotency_key: idempotency_key.to_owned(),
                    details: Some(details.clone()),
                },
            );
            // A call the dying process accepted but never answers is retried, like any client would.
            request.set_timeout(Duration::from_secs(20));
            let placed = OrderServiceClient::new(channel).create_order(request).await;
            if let Ok(placed) = placed {
                return placed.into_inner().order.expect("order").id;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the order was never placed");
}

/// Places `count` new-account orders over the tenants, a few at a time.
async fn place_batch(stack: &Stack, url: &str, tenants: &[Uuid], count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let requests: Vec<(Uuid, String, String)> = (0..count)
        .map(|index| {
            let unique = Uuid::new_v4().simple().to_string();
            (
                tenants[index % tenants.len()],
                key(),
                format!("batch-{}@example.com", &unique[..16]),
            )
        })
        .collect();
    for chunk in requests.chunks(16) {
        let placed = join_all(chunk.iter().map(|(tenant, idempotency_key, email)| {
            place(stack, url, *tenant, idempotency_key, email)
        }))
        .await;
        ids.extend(placed);
    }
    ids
}

/// One number from SQL on `kind`'s schema.
async fn count(stack: &Stack, kind: ServiceKind, sql: &str) -> i64 {
    let db = stack.sql(kind).await;
    let row = db
        .conn()
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect("query")
        .expect("row");
    let value: i64 = row.try_get_by_index(0).expect("count");
    db.close().await.ok();
    value
}

/// Waits until no saga is open; the statuses sagas ended in.
async fn await_all_finished(stack: &Stack, expected: usize) -> BTreeMap<String, i64> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let open = count(
            stack,
            ServiceKind::Orders,
            "SELECT count(*) FROM saga WHERE finished_at IS NULL",
        )
        .await;
        let total = count(stack, ServiceKind::Orders, "SELECT count(*) FROM saga").await;
        if open == 0 && total == i64::try_from(expected).expect("count") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{open} of {total} sagas still open"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let db = stack.sql(ServiceKind::Orders).await;
    let rows = db
        .conn()
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT status, count(*) AS n FROM saga GROUP BY status",
        ))
        .await
        .expect("statuses");
    db.close().await.ok();
    rows.iter()
        .map(|row| {
            (
                row.try_get("", "status").expect("status"),
                row.try_get("", "n").expect("n"),
            )
        })
        .collect()
}

/// Every event of the stream, read as billing through `url`.
async fn stream(stack: &Stack, url: &str) -> Vec<pb::OrderEvent> {
    let written = stack.outbox_len(&As::Billing).await;
    let events = stack
        .subscribe_from_beginning(
            OrderEventsClient::new(connect(url).await),
            &As::Billing,
            500,
        )
        .await;
    crate::orders::drive::read_at_least(stack, events, written).await
}

/// The stream holds each order's events once, numbered 1..n without a gap, and everything the
/// outbox holds.
async fn assert_stream_whole(stack: &Stack, url: &str, orders: &[String]) {
    let events = stream(stack, url).await;
    let ids: BTreeSet<&str> = events.iter().map(|event| event.event_id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "an event was delivered twice");
    let stored = count(
        stack,
        ServiceKind::Orders,
        "SELECT count(*) FROM order_event",
    )
    .await;
    assert_eq!(
        i64::try_from(events.len()).expect("count"),
        stored,
        "an event is missing"
    );
    for order in orders {
        let mine: Vec<&pb::OrderEvent> = events
            .iter()
            .filter(|event| &event.order_id == order)
            .collect();
        let seqs: Vec<u32> = mine.iter().map(|event| event.order_seq).collect();
        let expected: Vec<u32> = (1..=u32::try_from(seqs.len()).expect("count")).collect();
        assert_eq!(seqs, expected, "order {order}");
        let types: Vec<&str> = mine.iter().map(|event| event.r#type.as_str()).collect();
        assert_eq!(
            types.iter().filter(|kind| **kind == "order.placed").count(),
            1
        );
        assert_eq!(
            types
                .iter()
                .filter(|kind| **kind == "account.activated")
                .count(),
            1
        );
    }
}

/// Each order created exactly one AWS account and one account record, whatever the kills.
async fn assert_effects_once(stack: &Stack, orders: usize) {
    let expected = i64::try_from(orders).expect("count");
    assert_eq!(
        count(
            stack,
            ServiceKind::Provisioning,
            "SELECT count(*) FROM sandbox_create_account_request"
        )
        .await,
        expected,
        "AWS CreateAccount calls"
    );
    assert_eq!(
        count(
            stack,
            ServiceKind::Provisioning,
            "SELECT count(DISTINCT idempotency_key) FROM operation WHERE kind = 'CREATE_ACCOUNT'"
        )
        .await,
        expected
    );
    assert_eq!(
        count(
            stack,
            ServiceKind::Provisioning,
            "SELECT count(*) FROM operation WHERE kind = 'CREATE_ACCOUNT'"
        )
        .await,
        expected,
        "one operation per step key"
    );
    assert_eq!(
        count(stack, ServiceKind::Accounts, "SELECT count(*) FROM aws_account WHERE state = 'active' AND relationship = 'platform_member'").await,
        expected,
        "account records"
    );
    assert_eq!(
        count(
            stack,
            ServiceKind::Accounts,
            "SELECT count(*) FROM aws_account WHERE relationship = 'platform_member'"
        )
        .await,
        expected,
        "no second reservation"
    );
}

#[tokio::test]
async fn orders_killed_again_and_again_finishes_every_saga_once_with_a_whole_stream() {
    let stack = Stack::start_without_orders().await;
    let tenants = tenants(&stack, TENANTS).await;
    let mut process = spawn_orders(&stack).await;
    let mut orders = Vec::new();
    let mut kills = 0;
    for _ in 0..4 {
        orders.extend(place_batch(&stack, process.url(), &tenants, BATCH / 4).await);
        // Mid-flight: sagas are between steps, in calls, or holding leases.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        process.kill().await.expect("SIGKILL");
        kills += 1;
        process = spawn_orders(&stack).await;
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    process.kill().await.expect("SIGKILL");
    kills += 1;
    let process = spawn_orders(&stack).await;
    assert!(kills >= 5);
    let statuses = await_all_finished(&stack, BATCH).await;
    assert_eq!(
        statuses,
        BTreeMap::from([("completed".to_owned(), i64::try_from(BATCH).expect("count"))])
    );
    assert_eq!(
        count(
            &stack,
            ServiceKind::Orders,
            "SELECT count(*) FROM saga_task"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &stack,
            ServiceKind::Orders,
            "SELECT count(*) FROM saga_lock"
        )
        .await,
        0
    );
    assert_effects_once(&stack, BATCH).await;
    assert_stream_whole(&stack, process.url(), &orders).await;
    process.kill().await.expect("stop");
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn two_replicas_share_the_sagas_and_the_survivor_finishes_them_when_one_dies() {
    let stack = Stack::start_without_orders().await;
    let tenants = tenants(&stack, 10).await;
    let doomed = spawn_orders(&stack).await;
    let survivor = spawn_orders(&stack).await;
    let orders = place_batch(&stack, doomed.url(), &tenants, 60).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let busy = count(
        &stack,
        ServiceKind::Orders,
        "SELECT count(*) FROM saga_attempt",
    )
    .await;
    assert!(busy > 0, "the replicas started working");
    doomed.kill().await.expect("SIGKILL");
    let statuses = await_all_finished(&stack, orders.len()).await;
    assert_eq!(statuses, BTreeMap::from([("completed".to_owned(), 60)]));
    // Both replicas stepped sagas, and some saga was stepped by both: a takeover.
    assert!(
        count(
            &stack,
            ServiceKind::Orders,
            "SELECT count(DISTINCT replica) FROM saga_attempt"
        )
        .await
            >= 2
    );
    assert!(
        count(
            &stack,
            ServiceKind::Orders,
            "SELECT count(*) FROM (SELECT saga_id FROM saga_attempt GROUP BY saga_id \
             HAVING count(DISTINCT replica) > 1) AS shared"
        )
        .await
            > 0,
        "no saga was taken over"
    );
    assert_effects_once(&stack, orders.len()).await;
    assert_stream_whole(&stack, survivor.url(), &orders).await;
    survivor.kill().await.expect("stop");
    stack.owners.shutdown().await;
}
