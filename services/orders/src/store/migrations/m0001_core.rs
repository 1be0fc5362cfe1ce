use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

tenure_db::migration!(
    "Orders as placed, with the tenant-scoped idempotency key that makes `CreateOrder` \
     replayable.",
    |manager| {
        manager
            .create_table(
                Table::create()
                    .table("customer_order")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(text("kind"))
                    .col(text("status"))
                    .col(text("status_key"))
                    .col(text_null("aws_account_id"))
                    // The order's input as placed; it may hold a root email and an account name.
                    .col(json_binary("details"))
                    .col(text("placed_by"))
                    .col(text("idempotency_key"))
                    .col(binary("request_hash"))
                    .col(text_null("failure_code"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("finished_at"))
                    .to_owned(),
            )
            .await?;
        // A replayed CreateOrder finds its first order through the tenant-scoped key.
        tenure_db::create_index(
            manager,
            "customer_order_idempotency",
            "customer_order",
            &["tenant_id", "idempotency_key"],
            tenure_db::IndexKind::Unique,
        )
        .await?;
        tenure_db::create_index(
            manager,
            "customer_order_tenant_created",
            "customer_order",
            &["tenant_id", "created_at"],
            tenure_db::IndexKind::Plain,
        )
        .await?;
        tenure_db::enable_tenant_rls(manager, "customer_order").await?;
        Ok(())
    }
);
