//! The orders service on a real listener (port 0) against a fresh PostgreSQL database, with every layer
//! of the shared kit in place.
#![allow(clippy::expect_used, reason = "a failed setup step is a failed test")]

tenure_testkit::service_api_tests! {
    service: tenure_orders,
    app: OrdersApp,
    settings: OrdersSettings,
    kind: Orders,
    schema: "orders",
    published: [
        "tenure.orders.v1.OrderService",
        "tenure.orders.v1.OrderEvents",
        "tenure.orders.v1.SagaAdmin",
        "tenure.purge.v1.PurgeParticipant",
    ],
    tables: [
        "customer_order",
        "event_subscription",
        "idempotency_record",
        "order_event",
        "order_task",
        "orders_migrations",
        "saga",
        "saga_attempt",
        "saga_audit",
        "saga_lock",
        "saga_step",
        "saga_task",
        "stream_meta",
    ],
    settings_rest: tenure_orders::OrdersSettings::default(),
}
