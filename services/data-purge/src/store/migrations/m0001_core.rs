use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

tenure_db::migration!("Purge requests and their schedule.", |manager| {
    manager
        .create_table(
            Table::create()
                .table("purge_request")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(text("scope_kind"))
                .col(text_null("aws_account_id"))
                .col(text("reason"))
                .col(text("state"))
                .col(json_binary("classes"))
                .col(timestamp_with_time_zone("requested_at"))
                .col(timestamp_with_time_zone("triggered_at"))
                .col(timestamp_with_time_zone("due_at"))
                .col(timestamp_with_time_zone("deadline"))
                .col(timestamp_with_time_zone_null("started_at"))
                .col(timestamp_with_time_zone_null("completed_at"))
                .col(timestamp_with_time_zone_null("cancelled_at"))
                .col(text_null("expedite_ticket"))
                .to_owned(),
        )
        .await?;
    // The scheduler's due scan.
    tenure_db::create_index(
        manager,
        "purge_request_due",
        "purge_request",
        &["state", "due_at"],
        tenure_db::IndexKind::Plain,
    )
    .await?;
    Ok(())
});
