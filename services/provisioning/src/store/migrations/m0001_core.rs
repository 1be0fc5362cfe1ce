use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

tenure_db::migration!(
    "The operation journal: one row per idempotency key, with what AWS was asked and \
     answered.",
    |manager| {
        manager
            .create_table(
                Table::create()
                    .table("operation")
                    .col(pk_uuid("id"))
                    .col(uuid_null("tenant_id"))
                    .col(text("kind"))
                    .col(text("state"))
                    .col(text("idempotency_key"))
                    .col(text("caller"))
                    .col(binary("request_hash"))
                    .col(text_null("aws_account_id"))
                    // What was asked and what AWS returned: AWS ids, handshake and stack references.
                    .col(json_binary("request"))
                    .col(json_binary_null("result"))
                    .col(text_null("error_code"))
                    .col(text_null("aws_code"))
                    .col(text_null("error_message"))
                    .col(integer("aws_calls").default(0))
                    .col(timestamp_with_time_zone_null("next_check_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        // One operation per key: a retry or a crash finds the first one instead of calling AWS again.
        tenure_db::create_index(
            manager,
            "operation_idempotency",
            "operation",
            &["caller", "idempotency_key"],
            tenure_db::IndexKind::Unique,
        )
        .await?;
        tenure_db::create_index(
            manager,
            "operation_account",
            "operation",
            &["aws_account_id"],
            tenure_db::IndexKind::Plain,
        )
        .await?;
        Ok(())
    }
);
