use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::domain::AccountState;

/// Tenants, their users, AWS account records with their transition history, subscriptions, the data
/// fetched from AWS and cost records per account, and the audit trail. Tenant-owned tables get
/// row-level security on PostgreSQL.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The tables that belong to one tenant and carry a `tenant_id`.
pub(crate) const TENANT_TABLES: [&str; 6] = [
    "app_user",
    "aws_account",
    "account_transition",
    "subscription",
    "account_details",
    "cost_record",
];

#[async_trait::async_trait]
#[allow(
    elided_lifetimes_in_paths,
    reason = "the trait elides the manager's lifetime; naming it breaks the async_trait expansion"
)]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("tenant")
                    .col(pk_uuid("id"))
                    .col(text("display_name"))
                    .col(text("sector"))
                    .col(text("resale_model"))
                    .col(text("marketplace_ref"))
                    .col(text("status"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("unsubscribed_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("app_user")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(text("email"))
                    .col(text("display_name"))
                    .col(text("idp_subject"))
                    .col(text("role"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("app_user", "tenant_id")
                            .to("tenant", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("aws_account")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    // Always text: leading zeros are significant, and an integer would drop them.
                    .col(text_null("aws_account_id"))
                    // AWS-fetched columns are nullable: an account-scope purge clears them and keeps
                    // the tombstone.
                    .col(text_null("name"))
                    .col(text_null("root_email"))
                    .col(text_null("root_email_key"))
                    .col(text("role"))
                    .col(text("relationship"))
                    .col(text_null("organization_id"))
                    .col(text_null("parent_id"))
                    .col(text_null("management_account_id"))
                    .col(text_null("joined_method"))
                    .col(text_null("root_access"))
                    .col(text("state"))
                    .col(timestamp_with_time_zone("state_changed_at"))
                    .col(uuid_null("active_order_id"))
                    .col(timestamp_with_time_zone_null("closed_at"))
                    .col(timestamp_with_time_zone_null("reopen_until"))
                    .col(timestamp_with_time_zone_null("billing_starts_at"))
                    .col(timestamp_with_time_zone_null("billing_ends_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("aws_account", "tenant_id")
                            .to("tenant", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("aws_account_tenant")
                    .table("aws_account")
                    .col("tenant_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("account_transition")
                    .col(big_pk_auto("id"))
                    .col(uuid("account_id"))
                    .col(uuid("tenant_id"))
                    .col(text_null("from_state"))
                    .col(text("to_state"))
                    .col(timestamp_with_time_zone("at"))
                    .col(text("actor_subject"))
                    .col(text("actor_role"))
                    .col(text("reason"))
                    .col(uuid_null("order_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("account_transition", "account_id")
                            .to("aws_account", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("subscription")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(uuid("account_id"))
                    .col(text("marketplace_ref"))
                    .col(text("status"))
                    .col(timestamp_with_time_zone("started_at"))
                    .col(timestamp_with_time_zone_null("terminated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("subscription", "account_id")
                            .to("aws_account", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("account_details")
                    .col(pk_uuid("account_id"))
                    .col(uuid("tenant_id"))
                    .col(text("name"))
                    .col(text("email"))
                    .col(text("organization_path"))
                    // JSON array of {key, value}, sorted by key.
                    .col(text("tags"))
                    .col(timestamp_with_time_zone("fetched_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("account_details", "account_id")
                            .to("aws_account", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("cost_record")
                    .col(big_pk_auto("id"))
                    .col(uuid("account_id"))
                    .col(uuid("tenant_id"))
                    .col(timestamp_with_time_zone("period_start"))
                    .col(timestamp_with_time_zone("period_end"))
                    .col(text("service"))
                    .col(big_integer("amount_micros"))
                    .col(text("currency"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("cost_record", "account_id")
                            .to("aws_account", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_event")
                    .col(big_pk_auto("id"))
                    .col(timestamp_with_time_zone("at"))
                    .col(text("actor_subject"))
                    .col(text("actor_role"))
                    .col(uuid_null("target_tenant"))
                    .col(text("action"))
                    .col(text("target_kind"))
                    .col(text("target_id"))
                    .col(text("reason"))
                    .col(text("ticket"))
                    .col(text("outcome"))
                    .to_owned(),
            )
            .await?;
        create_live_uniqueness(manager).await?;
        for table in TENANT_TABLES {
            tenure_db::enable_tenant_rls(manager, table).await?;
            allow_cross_tenant_reads(manager, table).await?;
        }
        Ok(())
    }
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

/// Operators, billing and the lifecycle timers read across tenants. Such a transaction opts in with
/// the transaction-local `app.cross_tenant` setting, which customer-scoped transactions never set, so
/// a forgotten tenant filter there still returns nothing of another tenant. The policy covers reads
/// only: writes always run in a transaction scoped to the row's tenant.
async fn allow_cross_tenant_reads(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let sql = format!(
        "CREATE POLICY cross_tenant_read ON \"{table}\" FOR SELECT \
         USING (current_setting('app.cross_tenant', true) = 'on')"
    );
    conn.execute_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?;
    Ok(())
}
