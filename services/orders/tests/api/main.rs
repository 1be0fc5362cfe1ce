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
        "rate_limit_bucket",
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

mod columns {
    use std::collections::BTreeSet;

    use tenure_grpc::ServiceKind;
    use tenure_proto::purge::v1 as pb;
    use tenure_proto::purge::v1::purge_participant_client::PurgeParticipantClient;

    /// G1: every column the migrations create is registered with a data class, and no registered
    /// column is stale.
    #[tokio::test]
    async fn every_persisted_column_is_registered_with_a_data_class() {
        let harness = super::spawn().await;
        let token = harness
            .host
            .service_token(ServiceKind::DataPurge, ServiceKind::Orders);
        let mut request = tonic::Request::new(pb::DescribeDataClassesRequest {});
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        let described = PurgeParticipantClient::new(harness.channel.clone())
            .describe_data_classes(request)
            .await
            .expect("describe")
            .into_inner();
        assert_eq!(described.service, "orders");
        let registered: BTreeSet<(String, String)> = described
            .columns
            .iter()
            .map(|column| (column.table.clone(), column.column.clone()))
            .collect();
        let persisted = harness.database.columns("orders").await.expect("catalogue");
        assert_eq!(persisted, registered);
        assert!(
            described
                .columns
                .iter()
                .all(|column| column.data_class != 0)
        );
        harness.host.shutdown().await;
    }
}
