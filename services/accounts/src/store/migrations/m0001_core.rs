use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::domain::AccountState;

/// The tables that belong to one tenant and carry a `tenant_id`.
pub(crate) const TENANT_TABLES: [&str; 6] = [
    "app_user",
    "aws_account",
    "account_transition",
    "subscription",
    "account_details",
    "cost_record",
];

tenure_db::migration!(
    "Tenants, their users, AWS account records with their transition history, subscriptions, \
     the data fetched from AWS and cost records per account, and the audit trail. \
     Tenant-owned tables get row-level security on PostgreSQL.",
    |manager| {
        let tables = [
            table(
                "tenant",
                None,
                [
                    pk_uuid("id"),
                    text("display_name"),
                    text("sector"),
                    text("resale_model"),
                    text("marketplace_ref"),
                    text("status"),
                    timestamp_with_time_zone("created_at"),
                    timestamp_with_time_zone_null("unsubscribed_at"),
                ],
            ),
            table(
                "app_user",
                Some(("tenant_id", "tenant")),
                [
                    pk_uuid("id"),
                    uuid("tenant_id"),
                    text("email"),
                    text("display_name"),
                    text("idp_subject"),
                    text("role"),
                    timestamp_with_time_zone("created_at"),
                ],
            ),
            table(
                "aws_account",
                Some(("tenant_id", "tenant")),
                [
                    pk_uuid("id"),
                    uuid("tenant_id"),
                    // Always text: leading zeros are significant, and an integer would drop them.
                    text_null("aws_account_id"),
                    // AWS-fetched columns are nullable: an account-scope purge clears them and
                    // keeps the tombstone.
                    text_null("name"),
                    text_null("root_email"),
                    text_null("root_email_key"),
                    text("role"),
                    text("relationship"),
                    text_null("organization_id"),
                    text_null("parent_id"),
                    text_null("management_account_id"),
                    text_null("joined_method"),
                    text_null("root_access"),
                    text("state"),
                    timestamp_with_time_zone("state_changed_at"),
                    uuid_null("active_order_id"),
                    timestamp_with_time_zone_null("closed_at"),
                    timestamp_with_time_zone_null("reopen_until"),
                    timestamp_with_time_zone_null("billing_starts_at"),
                    timestamp_with_time_zone_null("billing_ends_at"),
                    timestamp_with_time_zone("created_at"),
                ],
            ),
            table(
                "account_transition",
                Some(("account_id", "aws_account")),
                [
                    big_pk_auto("id"),
                    uuid("account_id"),
                    uuid("tenant_id"),
                    text_null("from_state"),
                    text("to_state"),
                    timestamp_with_time_zone("at"),
                    text("actor_subject"),
                    text("actor_role"),
                    text("reason"),
                    uuid_null("order_id"),
                ],
            ),
            table(
                "subscription",
                Some(("account_id", "aws_account")),
                [
                    pk_uuid("id"),
                    uuid("tenant_id"),
                    uuid("account_id"),
                    text("marketplace_ref"),
                    text("status"),
                    timestamp_with_time_zone("started_at"),
                    timestamp_with_time_zone_null("terminated_at"),
                ],
            ),
            table(
                "account_details",
                Some(("account_id", "aws_account")),
                [
                    pk_uuid("account_id"),
                    uuid("tenant_id"),
                    text("name"),
                    text("email"),
                    text("organization_path"),
                    // JSON array of {key, value}, sorted by key.
                    text("tags"),
                    timestamp_with_time_zone("fetched_at"),
                ],
            ),
            table(
                "cost_record",
                Some(("account_id", "aws_account")),
                [
                    big_pk_auto("id"),
                    uuid("account_id"),
                    uuid("tenant_id"),
                    timestamp_with_time_zone("period_start"),
                    timestamp_with_time_zone("period_end"),
                    text("service"),
                    big_integer("amount_micros"),
                    text("currency"),
                ],
            ),
            table(
                "audit_event",
                None,
                [
                    big_pk_auto("id"),
                    timestamp_with_time_zone("at"),
                    text("actor_subject"),
                    text("actor_role"),
                    uuid_null("target_tenant"),
                    text("action"),
                    text("target_kind"),
                    text("target_id"),
                    text("reason"),
                    text("ticket"),
                    text("outcome"),
                ],
            ),
        ];
        for statement in tables {
            manager.create_table(statement).await?;
        }
        tenure_db::create_index(
            manager,
            "aws_account_tenant",
            "aws_account",
            &["tenant_id"],
            tenure_db::IndexKind::Plain,
        )
        .await?;
        create_live_uniqueness(manager).await?;
        for table in TENANT_TABLES {
            tenure_db::enable_tenant_rls(manager, table).await?;
            tenure_db::allow_cross_tenant_reads(manager, table).await?;
        }
        Ok(())
    }
);

/// `CREATE TABLE name (columns…)`. A table whose rows belong to a row of another names it as
/// `owner`: (its column, the owning table), whose `id` the column refers to.
fn table(
    name: &'static str,
    owner: Option<(&'static str, &'static str)>,
    columns: impl IntoIterator<Item = ColumnDef>,
) -> TableCreateStatement {
    let mut statement = Table::create();
    statement.table(name);
    for column in columns {
        statement.col(column);
    }
    if let Some((column, owning_table)) = owner {
        statement.foreign_key(
            ForeignKey::create()
                .from(name, column)
                .to(owning_table, "id"),
        );
    }
    statement
}

/// One live record per AWS account id and per root email (compared lower-cased), across every tenant.
/// Partial indexes over the live states leave tombstones free to repeat both.
async fn create_live_uniqueness(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let live = AccountState::live_names()
        .iter()
        .map(|name| format!("'{name}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let conn = manager.get_connection();
    let backend = conn.get_database_backend();
    let mut statements = vec![
        format!(
            "CREATE UNIQUE INDEX aws_account_live_id ON aws_account (aws_account_id) \
             WHERE state IN ({live})"
        ),
        format!(
            "CREATE UNIQUE INDEX aws_account_live_email ON aws_account (root_email_key) \
             WHERE state IN ({live})"
        ),
        "CREATE INDEX aws_account_management ON aws_account (management_account_id)".to_owned(),
    ];
    if backend == DbBackend::Postgres {
        statements.push(
            "ALTER TABLE aws_account ADD CONSTRAINT aws_account_id_format \
             CHECK (aws_account_id ~ '^[0-9]{12}$')"
                .to_owned(),
        );
    }
    for sql in statements {
        conn.execute_raw(Statement::from_string(backend, sql))
            .await?;
    }
    Ok(())
}
