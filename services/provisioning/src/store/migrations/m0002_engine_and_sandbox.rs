use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// The sandbox's tables. Each holds one simulated AWS object per row: its id, the account that owns it
/// (the organization's management account, the stack's account, or the StackSet for instances and
/// operations) and the object itself as JSON, which the simulation reads and writes whole.
pub(crate) const SANDBOX_TABLES: [&str; 9] = [
    "sandbox_organization",
    "sandbox_account",
    "sandbox_create_account_request",
    "sandbox_handshake",
    "sandbox_transfer",
    "sandbox_stack",
    "sandbox_stack_set",
    "sandbox_stack_instance",
    "sandbox_stack_set_operation",
];

tenure_db::migration!(
    "The engine's leases and AWS-reference owners, and the sandbox simulation's state.",
    |manager| {
        // Per-account serialization: a row per locked account, with an expiry so that a crashed holder
        // blocks nobody for longer than the lease.
        manager
            .create_table(
                Table::create()
                    .table("operation_lease")
                    .col(text("lock_key").primary_key())
                    .col(uuid("operation_id"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .to_owned(),
            )
            .await?;
        // Which management account created or invited a member account, sent a handshake or a
        // transfer: calls that name only the member (or the handshake) run as that account.
        manager
            .create_table(
                Table::create()
                    .table("aws_reference")
                    .col(text("reference").primary_key())
                    .col(text("management_account_id"))
                    .col(uuid_null("tenant_id"))
                    .col(timestamp_with_time_zone("recorded_at"))
                    .to_owned(),
            )
            .await?;
        // The worker walks due operations by their next check.
        tenure_db::create_index(
            manager,
            "operation_due",
            "operation",
            &["next_check_at"],
            tenure_db::IndexKind::Plain,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table("sandbox_clock")
                    .col(integer("id").primary_key())
                    .col(big_integer("offset_ms"))
                    .to_owned(),
            )
            .await?;
        for table in SANDBOX_TABLES {
            manager
                .create_table(
                    Table::create()
                        .table(table)
                        .col(text("id").primary_key())
                        .col(text("scope"))
                        .col(json_binary("body"))
                        .to_owned(),
                )
                .await?;
            tenure_db::create_index(
                manager,
                &format!("{table}_scope"),
                table,
                &["scope"],
                tenure_db::IndexKind::Plain,
            )
            .await?;
        }
        Ok(())
    }
);
