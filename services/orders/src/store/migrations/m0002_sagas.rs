use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use tenure_db::PolicyCommand;

/// The transaction-local setting the saga engine's transactions turn on: they act for every tenant,
/// reading and writing orders and tasks under the `saga_engine` policy.
pub(crate) const ENGINE_SETTING: &str = "app.saga_engine";

/// Tables that hold one tenant's rows and so carry row-level security.
const TENANT_TABLES: [&str; 2] = ["customer_order", "order_task"];

tenure_db::migration!(
    "The saga engine and the order event stream (sagas.md §3.1, §6.1): one saga per order, \
     its run queue, locks, finished steps, recent attempts, manual tasks, the operators' \
     audit trail, and the outbox with its stream epoch and named subscriptions.",
    |manager| {
        manager
            .alter_table(
                Table::alter()
                    .table("customer_order")
                    .add_column(text_null("failure_message"))
                    .to_owned(),
            )
            .await?;
        let terminal = "status IN ('completed','compensated','cancelled','aborted') \
                        OR wait_reason IS NOT NULL";
        manager
            .create_table(
                Table::create()
                    .table("saga")
                    .col(pk_uuid("id"))
                    .col(uuid_uniq("order_id"))
                    .col(uuid("tenant_id"))
                    .col(text("kind"))
                    .col(integer("def_version"))
                    .col(text("status"))
                    .col(integer("node"))
                    .col(text("direction"))
                    .col(boolean("past_pivot"))
                    .col(json_binary("input"))
                    .col(integer("input_rev"))
                    .col(json_binary("state"))
                    .col(integer("attempt"))
                    .col(json_binary_null("wait_reason"))
                    .col(integer("event_seq"))
                    .col(timestamp_with_time_zone_null("cancel_requested_at"))
                    .col(timestamp_with_time_zone("deadline_at"))
                    .col(text_null("traceparent"))
                    .col(text_null("tracestate"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("finished_at"))
                    // sagas.md C2: no open saga without a machine-readable reason.
                    .check(Expr::cust(terminal))
                    .to_owned(),
            )
            .await?;
        tenure_db::create_index(
            manager,
            "saga_status_updated",
            "saga",
            &["status", "updated_at"],
            tenure_db::IndexKind::Plain,
        )
        .await?;
        // One row per open saga: run queue, timers and leases in one place. `due_at` is business
        // time (what is next due), `lease_until` real time (how long a replica may hold it).
        manager
            .create_table(
                Table::create()
                    .table("saga_task")
                    .col(pk_uuid("saga_id"))
                    .col(text("def_key"))
                    .col(timestamp_with_time_zone("due_at"))
                    .col(text_null("lease_owner"))
                    .col(big_integer("lease_epoch"))
                    .col(timestamp_with_time_zone_null("lease_until"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("saga_task", "saga_id")
                            .to("saga", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        tenure_db::create_index(
            manager,
            "saga_task_due",
            "saga_task",
            &["due_at"],
            tenure_db::IndexKind::Plain,
        )
        .await?;
        // sagas.md C7: at most one active saga per AWS account and per root email.
        manager
            .create_table(
                Table::create()
                    .table("saga_lock")
                    .col(text("resource_key").primary_key())
                    .col(uuid("saga_id"))
                    .col(timestamp_with_time_zone("acquired_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("saga_lock", "saga_id")
                            .to("saga", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        tenure_db::create_index(
            manager,
            "saga_lock_saga",
            "saga_lock",
            &["saga_id"],
            tenure_db::IndexKind::Plain,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table("saga_step")
                    .col(uuid("saga_id"))
                    .col(integer("node"))
                    .col(text("direction"))
                    .col(integer("input_rev"))
                    .col(text("outcome"))
                    .col(json_binary("output"))
                    .col(uuid("idempotency_key"))
                    .col(timestamp_with_time_zone("finished_at"))
                    .primary_key(
                        Index::create()
                            .col("saga_id")
                            .col("node")
                            .col("direction")
                            .col("input_rev"),
                    )
                    .to_owned(),
            )
            .await?;
        // A ring of the last 16 attempts per node and direction.
        manager
            .create_table(
                Table::create()
                    .table("saga_attempt")
                    .col(uuid("saga_id"))
                    .col(integer("node"))
                    .col(text("direction"))
                    .col(small_integer("slot"))
                    .col(integer("attempt"))
                    .col(timestamp_with_time_zone("started_at"))
                    .col(timestamp_with_time_zone("finished_at"))
                    .col(text("code"))
                    .col(text("message"))
                    .col(text("replica"))
                    .primary_key(
                        Index::create()
                            .col("saga_id")
                            .col("node")
                            .col("direction")
                            .col("slot"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("order_task")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(uuid("order_id"))
                    .col(integer("node"))
                    .col(integer("input_rev"))
                    .col(text("step"))
                    .col(text("title"))
                    .col(text("owner"))
                    .col(text("state"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("deadline"))
                    .col(timestamp_with_time_zone_null("resolved_at"))
                    .col(text_null("resolved_by_subject"))
                    .col(text_null("resolved_by_role"))
                    .col(text("note"))
                    .to_owned(),
            )
            .await?;
        tenure_db::create_index(
            manager,
            "order_task_open",
            "order_task",
            &["state", "owner", "created_at"],
            tenure_db::IndexKind::Plain,
        )
        .await?;
        tenure_db::create_index(
            manager,
            "order_task_order",
            "order_task",
            &["order_id"],
            tenure_db::IndexKind::Plain,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table("saga_audit")
                    .col(pk_auto("id"))
                    .col(uuid("saga_id"))
                    .col(uuid("order_id"))
                    .col(uuid("tenant_id"))
                    .col(timestamp_with_time_zone("at"))
                    .col(text("actor_subject"))
                    .col(text("actor_role"))
                    .col(text("action"))
                    .col(text("reason"))
                    .col(text("ticket"))
                    .col(text("outcome"))
                    .col(text("trace_id"))
                    .to_owned(),
            )
            .await?;
        create_event_stream(manager).await?;
        for table in TENANT_TABLES {
            if table != "customer_order" {
                tenure_db::enable_tenant_rls(manager, table).await?;
            }
            tenure_db::allow_cross_tenant_reads(manager, table).await?;
            tenure_db::allow_opted_in(
                manager,
                table,
                "saga_engine",
                PolicyCommand::All,
                ENGINE_SETTING,
            )
            .await?;
        }
        Ok(())
    }
);

/// The outbox (sagas.md §6.1). On PostgreSQL each row also records the id of the transaction that
/// wrote it, and readers order by it and read only below the oldest transaction still running, so a
/// row that commits late never lands behind a reader's cursor (§6.2). SQLite has one writer at a
/// time, so there the row id alone is commit order.
async fn create_event_stream(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("order_event")
                .col(big_integer("id").auto_increment().primary_key())
                .col(integer("epoch"))
                .col(uuid_uniq("event_id"))
                .col(uuid("order_id"))
                .col(uuid("tenant_id"))
                .col(integer("order_seq"))
                .col(text("event_type"))
                .col(integer("schema_version"))
                .col(json_binary("payload"))
                .col(timestamp_with_time_zone("effective_at"))
                .col(timestamp_with_time_zone("recorded_at"))
                .col(text_null("traceparent"))
                .col(text_null("tracestate"))
                .to_owned(),
        )
        .await?;
    tenure_db::create_index(
        manager,
        "order_event_order_seq",
        "order_event",
        &["order_id", "order_seq"],
        tenure_db::IndexKind::Unique,
    )
    .await?;
    tenure_db::create_index(
        manager,
        "order_event_recorded",
        "order_event",
        &["recorded_at"],
        tenure_db::IndexKind::Plain,
    )
    .await?;
    let conn = manager.get_connection();
    let backend = conn.get_database_backend();
    let statements: &[&str] = if backend == DbBackend::Postgres {
        &[
            "ALTER TABLE order_event ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id()",
            "CREATE INDEX order_event_position ON order_event (epoch, tx, id)",
            // The run queue is rewritten on every step: keep room for HOT updates and vacuum it
            // eagerly (sagas.md §7.4 saw 79k dead tuples on 20k rows within minutes otherwise).
            "ALTER TABLE saga_task SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.01, \
             autovacuum_vacuum_cost_delay = 0)",
            "ALTER TABLE saga SET (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.02)",
        ]
    } else {
        &["CREATE INDEX order_event_position ON order_event (epoch, id)"]
    };
    for sql in statements {
        conn.execute_raw(Statement::from_string(backend, *sql))
            .await?;
    }
    manager
        .create_table(
            Table::create()
                .table("stream_meta")
                .col(integer("id").primary_key())
                .col(integer("epoch"))
                .to_owned(),
        )
        .await?;
    manager
        .exec_stmt(
            Query::insert()
                .into_table("stream_meta")
                .columns(["id", "epoch"])
                .values_panic([1.into(), 1.into()])
                .to_owned(),
        )
        .await?;
    // Named server-side cursors, one per consumer principal and name, advanced by `Ack`.
    manager
        .create_table(
            Table::create()
                .table("event_subscription")
                .col(text("owner"))
                .col(text("name"))
                .col(text("position"))
                .col(timestamp_with_time_zone("updated_at"))
                .primary_key(Index::create().col("owner").col("name"))
                .to_owned(),
        )
        .await?;
    Ok(())
}
