use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

use crate::domain::PurgeState;

tenure_db::migration!(
    "Purges with their plan, claim and outcome; legal holds; the audit trail of every \
     transition; receipts with their chain head and signing keys; the purge event outbox with \
     its position counter.  The placeholder `purge_request` of m0001 is replaced: no release \
     wrote to it, since every RPC of the service answered UNIMPLEMENTED until this migration.",
    |manager| {
        manager
            .drop_table(Table::drop().table("purge_request").to_owned())
            .await?;
        let tables = [
            table(
                "purge_request",
                [
                    pk_uuid("id"),
                    uuid("tenant_id"),
                    text("scope_kind"),
                    text_null("aws_account_id"),
                    text("scope_key"),
                    text("reason"),
                    text("state"),
                    text("classes"),
                    text_null("ticket"),
                    timestamp_with_time_zone("requested_at"),
                    timestamp_with_time_zone("triggered_at"),
                    timestamp_with_time_zone("due_at"),
                    timestamp_with_time_zone("deadline"),
                    timestamp_with_time_zone_null("started_at"),
                    timestamp_with_time_zone_null("completed_at"),
                    timestamp_with_time_zone_null("cancelled_at"),
                    text_null("expedite_ticket"),
                    text_null("plan"),
                    text_null("manifest_hash"),
                    uuid_null("receipt_id"),
                    big_integer("claim_epoch").default(0).to_owned(),
                    timestamp_with_time_zone_null("claimed_until"),
                    big_integer("residual_rows").default(0).to_owned(),
                    text_null("last_error"),
                    text("holds").default("[]").to_owned(),
                ],
            ),
            table(
                "legal_hold",
                [
                    pk_uuid("id"),
                    uuid("tenant_id"),
                    text("scope_kind"),
                    text_null("aws_account_id"),
                    text("reason"),
                    text("ticket"),
                    text("placed_by"),
                    text("placed_by_role"),
                    timestamp_with_time_zone("placed_at"),
                    text_null("released_by"),
                    text_null("released_by_role"),
                    timestamp_with_time_zone_null("released_at"),
                    text_null("release_reason"),
                    text_null("release_ticket"),
                ],
            ),
            table(
                "purge_transition",
                [
                    pk_auto("id"),
                    uuid("purge_id"),
                    uuid("tenant_id"),
                    text_null("from_state"),
                    text("to_state"),
                    text("event"),
                    text("actor"),
                    text("actor_role"),
                    text_null("reason"),
                    text_null("ticket"),
                    text_null("trace_id"),
                    timestamp_with_time_zone("at"),
                ],
            ),
            table(
                "receipt",
                [
                    pk_uuid("id"),
                    uuid("purge_id").unique_key().to_owned(),
                    big_integer("sequence").unique_key().to_owned(),
                    uuid("tenant_id"),
                    text("body"),
                    text("previous_hash"),
                    text("hash"),
                    text("signature"),
                    text("key_id"),
                ],
            ),
            table(
                "receipt_key",
                [
                    text("key_id").primary_key().to_owned(),
                    text("public_key"),
                    timestamp_with_time_zone("first_used_at"),
                ],
            ),
            table(
                "receipt_chain_head",
                [
                    integer("id").primary_key().to_owned(),
                    big_integer("last_sequence"),
                    text("last_hash"),
                ],
            ),
            table(
                "purge_event",
                [
                    big_integer("position").primary_key().to_owned(),
                    uuid("event_id").unique_key().to_owned(),
                    uuid("purge_id"),
                    uuid("tenant_id"),
                    text("event_type"),
                    integer("schema_version"),
                    timestamp_with_time_zone("effective_at"),
                    timestamp_with_time_zone("recorded_at"),
                    text("scope_kind"),
                    text_null("aws_account_id"),
                    text("classes"),
                    timestamp_with_time_zone_null("due_at"),
                    uuid_null("receipt_id"),
                    text_null("traceparent"),
                    text_null("tracestate"),
                ],
            ),
            table(
                "event_head",
                [
                    integer("id").primary_key().to_owned(),
                    big_integer("last_position"),
                ],
            ),
        ];
        for statement in tables {
            manager.create_table(statement).await?;
        }
        let pending = PurgeState::PENDING
            .iter()
            .map(|state| format!("'{}'", state.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let conn = manager.get_connection();
        let backend = conn.get_database_backend();
        let statements = [
            // At most one pending purge per subject: scheduling the same scope twice returns the first.
            format!(
                "CREATE UNIQUE INDEX purge_request_pending_scope ON purge_request (scope_key) \
                 WHERE state IN ({pending})"
            ),
            "CREATE INDEX purge_request_due ON purge_request (state, due_at)".to_owned(),
            "CREATE INDEX purge_request_tenant ON purge_request (tenant_id, requested_at)"
                .to_owned(),
            "CREATE INDEX legal_hold_tenant ON legal_hold (tenant_id, released_at)".to_owned(),
            "CREATE INDEX purge_transition_purge ON purge_transition (purge_id, id)".to_owned(),
            "CREATE INDEX receipt_tenant ON receipt (tenant_id, sequence)".to_owned(),
            "INSERT INTO receipt_chain_head (id, last_sequence, last_hash) VALUES (1, 0, '')"
                .to_owned(),
            "INSERT INTO event_head (id, last_position) VALUES (1, 0)".to_owned(),
        ];
        for sql in statements {
            conn.execute_raw(Statement::from_string(backend, sql))
                .await?;
        }
        Ok(())
    }
);

fn table(name: &'static str, columns: impl IntoIterator<Item = ColumnDef>) -> TableCreateStatement {
    let mut statement = Table::create();
    statement.table(name);
    for column in columns {
        statement.col(column);
    }
    statement
}
