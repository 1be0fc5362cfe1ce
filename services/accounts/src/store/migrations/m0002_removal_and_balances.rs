use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};
use tenure_db::PolicyCommand;

/// The setting a billing report's transaction turns on to record open balances on every tenant's
/// records in one transaction ([`crate::store::begin_open_balance_writer`]).
pub(crate) const OPEN_BALANCE_SETTING: &str = "app.accounts_open_balances";

tenure_db::migration!(
    "A record's removal from the platform (when, and the purge it scheduled) and the open \
     balance the billing system reports for it. Billing reports for many tenants at once, so \
     on PostgreSQL a transaction that opts into [`OPEN_BALANCE_SETTING`] may read and update \
     (never insert or delete) every tenant's records.",
    |manager| {
        // One column per statement: SQLite alters a table one column at a time.
        let columns = [
            timestamp_with_time_zone_null("removed_at"),
            uuid_null("removal_purge_id"),
            timestamp_with_time_zone_null("removal_purge_due_at"),
            // Set when the purge ran here: until then the removal can be undone.
            timestamp_with_time_zone_null("removal_purged_at"),
            big_integer_null("open_balance_micros"),
            text_null("open_balance_currency"),
            timestamp_with_time_zone_null("open_balance_as_of"),
        ];
        for column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table("aws_account")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        tenure_db::allow_opted_in(
            manager,
            "aws_account",
            "open_balance_read",
            PolicyCommand::Select,
            OPEN_BALANCE_SETTING,
        )
        .await?;
        let conn = manager.get_connection();
        if conn.get_database_backend() == DbBackend::Postgres {
            // Updates only: the kit's opted-in policies cover every command, and a billing report
            // has no business inserting or deleting records.
            let opted_in = format!("current_setting('{OPEN_BALANCE_SETTING}', true) = 'on'");
            conn.execute_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "CREATE POLICY open_balance_update ON aws_account FOR UPDATE \
                     USING ({opted_in}) WITH CHECK ({opted_in})"
                ),
            ))
            .await?;
        }
        Ok(())
    }
);
