use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Tenants, their users, AWS account records with their transition history, and subscriptions; tenant-owned tables get row-level security on PostgreSQL.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

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
                    .col(text("name"))
                    .col(text("root_email"))
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
        for table in [
            "app_user",
            "aws_account",
            "account_transition",
            "subscription",
        ] {
            tenure_db::enable_tenant_rls(manager, table).await?;
        }
        Ok(())
    }
}
