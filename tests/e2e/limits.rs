//! The limits one tenant meets before it can crowd out the others (quality.md §1.7, S12, S13): a call
//! rate per tenant that holds across replicas, the caps on orders in progress, and the caps on open
//! streams. Every test here runs with the production limits; the rest of the suite lifts them.

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a failed setup step or a broken expectation is a failed test"
)]

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use tenure_grpc::{ServiceKind, status as grpc_status};
use tenure_proto::orders::v1 as pb;
use tenure_proto::orders::v1::order_service_client::OrderServiceClient;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;
use uuid::Uuid;

use crate::stack::{As, Stack, key};

/// The limits `tenure serve` has by default, over the suite's lifted ones.
fn production_limits(config: &mut tenure::config::TenureConfig) {
    let defaults = tenure::config::TenureConfig::default();
    config.server.rate_limits = defaults.server.rate_limits;
    config.orders.settings.limits = defaults.orders.settings.limits;
}

/// `rate_limited_total{reason}` on this process's registry (every in-process service shares it).
fn refusals(reason: &str) -> u64 {
    let series = format!("rate_limited_total{{reason=\"{reason}\"}} ");
    tenure_telemetry::encode_metrics()
        .lines()
        .find_map(|line| line.strip_prefix(&series).map(str::to_owned))
        .and_then(|value| value.trim().parse().ok())
        .expect("the series exists from the start")
}

fn list_orders(stack: &Stack, tenant: Uuid) -> tonic::Request<pb::ListOrdersRequest> {
    stack.request(
        &As::Customer(tenant),
        ServiceKind::Orders,
        pb::ListOrdersRequest {
            page_size: 1,
            ..pb::ListOrdersRequest::default()
        },
    )
}

/// The reason and the retry delay of a refusal.
fn refusal_details(status: &Status) -> (String, Option<Duration>) {
    let details = status.get_error_details();
    let reason = details
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default();
    let delay = details.retry_info().and_then(|info| info.retry_delay);
    (reason, delay)
}

/// A new-account order that stays in progress at operations' manual step until it is completed.
fn parked_new_account() -> pb::create_order_request::Details {
    let unique = Uuid::new_v4().simple().to_string();
    pb::create_order_request::Details::NewAccount(pb::NewAccountOrder {
        root_email: format!("cap-{}@example.com", &unique[..16]),
        account_name: format!("Capped workload {}", &unique[..8]),
        support_contact: "support-desk".to_owned(),
    })
}

async fn connect(url: &str) -> OrderServiceClient<Channel> {
    OrderServiceClient::new(
        tonic::transport::Endpoint::from_shared(url.to_owned())
            .expect("endpoint")
            .connect()
            .await
            .expect("connect"),
    )
}

#[tokio::test]
async fn a_tenant_over_its_read_rate_is_refused_while_another_tenant_sees_no_error() {
    // A tenth of the production rate: a debug build serving four services on a test's one-thread
    // runtime answers some 40 calls a second, so ten times 50 a second is out of its reach.
    let stack = Stack::start_with(|config| {
        production_limits(config);
        config.server.rate_limits.read = tenure_domain::rate::Quota::new(5, 10);
    })
    .await;
    let flooding = stack.seed(0).await.tenant;
    let quiet = stack.seed(0).await.tenant;
    let client = stack.orders().await;
    let refused_before = refusals("tenant_rate");

    // Far above the sustained rate of 5 a second, 16 calls at a time...
    let started = Instant::now();
    let flood = futures::stream::iter(0..100)
        .map(|_| {
            let mut client = client.clone();
            let request = list_orders(&stack, flooding);
            async move { client.list_orders(request).await }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>();
    // ...while another tenant reads at its own pace, within its burst.
    let steady = async {
        let mut errors = Vec::new();
        for _ in 0..8 {
            if let Err(status) = client.clone().list_orders(list_orders(&stack, quiet)).await {
                errors.push(status);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        errors
    };
    let (flooded, quiet_errors) = tokio::join!(flood, steady);
    let elapsed = started.elapsed().as_secs_f64();

    assert!(quiet_errors.is_empty(), "{quiet_errors:?}");
    let mut refused = 0_u64;
    let mut allowed = 0_u64;
    for outcome in &flooded {
        match outcome {
            Ok(_) => allowed += 1,
            Err(status) => {
                refused += 1;
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                let (reason, delay) = refusal_details(status);
                assert_eq!(reason, grpc_status::RATE_LIMITED);
                let delay = delay.expect("retry info");
                assert!(
                    delay > Duration::ZERO && delay <= Duration::from_secs(1),
                    "{delay:?}"
                );
                assert!(
                    status
                        .message()
                        .starts_with("Too many requests for this tenant; retry after "),
                    "{}",
                    status.message()
                );
            }
        }
    }
    // The burst of 10, then 5 a second; a little slack for calls decided as the clock ticked.
    let most = 10.0 + 5.0 * elapsed + 2.0;
    assert!(refused > 0, "{allowed} allowed in {elapsed:.2} s");
    assert!(
        (allowed as f64) <= most,
        "{allowed} allowed in {elapsed:.2} s (at most {most:.0})"
    );
    assert!(refusals("tenant_rate") >= refused_before + refused);

    // Waiting as long as a refusal says is enough for the next call.
    let mut client = client.clone();
    if let Err(status) = client.list_orders(list_orders(&stack, flooding)).await {
        let delay = refusal_details(&status).1.expect("retry info");
        tokio::time::sleep(delay).await;
        client
            .list_orders(list_orders(&stack, flooding))
            .await
            .expect("after the delay it asked for");
    }
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn two_replicas_on_one_database_draw_from_one_bucket() {
    let stack = Stack::start_with(|config| {
        production_limits(config);
        config.server.rate_limits.read = tenure_domain::rate::Quota::new(2, 10);
    })
    .await;
    let second = stack
        .owners
        .start_beside(&[ServiceKind::Orders], stack.clock.clone())
        .await
        .expect("a second orders replica");
    let tenant = stack.seed(0).await.tenant;
    let replicas = [
        connect(&stack.owners.url(ServiceKind::Orders).expect("url")).await,
        connect(&second.url(ServiceKind::Orders).expect("url")).await,
    ];

    let started = Instant::now();
    let mut allowed = [0_u32; 2];
    let mut refused = [0_u32; 2];
    for call in 0..40 {
        let replica = call % 2;
        match replicas[replica]
            .clone()
            .list_orders(list_orders(&stack, tenant))
            .await
        {
            Ok(_) => allowed[replica] += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                refused[replica] += 1;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // One bucket of 10 and 2 a second in all; a bucket per replica would have let 20 through.
    let total = f64::from(allowed[0] + allowed[1]);
    let most = 10.0 + 2.0 * elapsed + 1.0;
    assert!(
        total <= most,
        "{allowed:?} allowed in {elapsed:.2} s (at most {most:.0})"
    );
    assert!(refused[0] > 0 && refused[1] > 0, "{refused:?}");
    second.shutdown().await;
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn the_eleventh_new_account_order_in_progress_waits_until_one_ends() {
    let stack = Stack::start_with(production_limits).await;
    let tenant = stack.seed(0).await.tenant;
    let other = stack.seed(0).await.tenant;
    let refused_before = refusals("orders_in_flight");

    let first_key = key();
    let first_details = parked_new_account();
    let first = stack
        .place_with_key(tenant, &first_key, first_details.clone())
        .await
        .expect("the first order");
    let mut placed = vec![first.id.clone()];
    for index in 1..10 {
        let order = stack
            .place(tenant, parked_new_account())
            .await
            .unwrap_or_else(|status| panic!("order {index}: {status:?}"));
        placed.push(order.id);
    }

    let eleventh_key = key();
    let eleventh = parked_new_account();
    let refused = stack
        .place_with_key(tenant, &eleventh_key, eleventh.clone())
        .await
        .expect_err("the eleventh order in progress");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(
        refused.message(),
        "You have 10 new-account orders in progress; place more once one of them ends."
    );
    let (reason, delay) = refusal_details(&refused);
    assert_eq!(reason, "TOO_MANY_ORDERS_IN_FLIGHT");
    assert_eq!(delay, Some(Duration::from_secs(60)));
    assert!(refusals("orders_in_flight") > refused_before);

    // A retry of an order already placed still answers with it, and another tenant is not capped.
    let replayed = stack
        .place_with_key(tenant, &first_key, first_details)
        .await
        .expect("a replay");
    assert_eq!(replayed.id, first.id);
    stack
        .place(other, parked_new_account())
        .await
        .expect("another tenant's order");

    // Once operations finish one of the ten, the refused order goes through (the refusal stored
    // nothing, so even its key is free). The sandbox deploys one baseline at a time per
    // organization, so the orders reach operations' step one by one: finish whichever comes first.
    let ended = first_with_a_task(&stack, &placed).await;
    stack
        .await_status(tenant, &ended, pb::OrderStatus::Completed, true)
        .await;
    stack
        .place_with_key(tenant, &eleventh_key, eleventh)
        .await
        .expect("a place came free");
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn orders_of_every_kind_count_against_the_cap_on_orders_in_progress() {
    let stack = Stack::start_with(|config| {
        production_limits(config);
        config.orders.settings.limits.orders_in_flight = 2;
    })
    .await;
    let tenant = stack.seed(0).await.tenant;
    for _ in 0..2 {
        stack
            .place(tenant, parked_new_account())
            .await
            .expect("within the cap");
    }
    let refused = stack
        .place(tenant, parked_new_account())
        .await
        .expect_err("over the cap");
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert_eq!(
        refused.message(),
        "You have 2 orders in progress; place more once one of them ends."
    );
    assert_eq!(refusal_details(&refused).0, "TOO_MANY_ORDERS_IN_FLIGHT");
    stack.owners.shutdown().await;
}

/// The first of `orders` to open a task for operations.
async fn first_with_a_task(stack: &Stack, orders: &[String]) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let tasks = stack.open_tasks(&As::Operator, None).await;
        if let Some(task) = tasks.iter().find(|task| orders.contains(&task.order_id)) {
            return task.order_id.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "none of the orders reached operations"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn watch(stack: &Stack, tenant: Uuid, order_id: &str) -> tonic::Request<pb::WatchOrderRequest> {
    stack.request(
        &As::Customer(tenant),
        ServiceKind::Orders,
        pb::WatchOrderRequest {
            order_id: order_id.to_owned(),
        },
    )
}

/// Opens a watch and reads its first update, so the server holds the stream.
async fn open_watch(
    client: &OrderServiceClient<Channel>,
    request: tonic::Request<pb::WatchOrderRequest>,
) -> Result<tonic::Streaming<pb::WatchOrderResponse>, Status> {
    let mut stream = client.clone().watch_order(request).await?.into_inner();
    stream
        .message()
        .await?
        .expect("the first update comes at once");
    Ok(stream)
}

#[tokio::test]
async fn a_sixth_watch_of_a_tenant_is_refused_until_one_of_its_watches_closes() {
    let stack = Stack::start_with(production_limits).await;
    let tenant = stack.seed(0).await.tenant;
    let other = stack.seed(0).await.tenant;
    let order = stack
        .place(tenant, parked_new_account())
        .await
        .expect("order");
    let others_order = stack
        .place(other, parked_new_account())
        .await
        .expect("order");
    let client = stack.orders().await;
    let refused_before = refusals("streams");

    let mut watches = Vec::new();
    for _ in 0..5 {
        watches.push(
            open_watch(&client, watch(&stack, tenant, &order.id))
                .await
                .expect("within the cap"),
        );
    }
    let refused = open_watch(&client, watch(&stack, tenant, &order.id))
        .await
        .expect_err("a sixth watch");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(refusal_details(&refused).0, grpc_status::TOO_MANY_STREAMS);
    assert!(refusals("streams") > refused_before);
    // Another tenant's watches are counted apart.
    let _others = open_watch(&client, watch(&stack, other, &others_order.id))
        .await
        .expect("another tenant");

    // The client goes away from one watch; its place frees as soon as the server sees it gone.
    drop(watches.pop());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match open_watch(&client, watch(&stack, tenant, &order.id)).await {
            Ok(stream) => {
                watches.push(stream);
                break;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the closed watch still holds its place"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert_eq!(watches.len(), 5);
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn a_principal_holds_at_most_twenty_event_subscriptions() {
    let stack = Stack::start_with(production_limits).await;
    let subscribe = || async {
        let mut stream = stack
            .order_events()
            .await
            .subscribe(stack.request(
                &As::Billing,
                ServiceKind::Orders,
                pb::SubscribeRequest {
                    start: Some(pb::subscribe_request::Start::FromLatest(true)),
                    ..pb::SubscribeRequest::default()
                },
            ))
            .await?
            .into_inner();
        stream.message().await?;
        Ok::<_, Status>(stream)
    };
    let mut open = Vec::new();
    for _ in 0..20 {
        open.push(subscribe().await.expect("within the cap"));
    }
    let refused = subscribe().await.expect_err("a 21st subscription");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(refusal_details(&refused).0, grpc_status::TOO_MANY_STREAMS);

    drop(open.pop());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Err(status) = subscribe().await {
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed subscription still holds its place"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stack.owners.shutdown().await;
}
