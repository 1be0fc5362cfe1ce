use sea_orm::{ConnectionTrait as _, Statement};
use sea_orm_migration::prelude::*;

tenure_db::migration!(
    "A partial index of each tenant's orders still in progress, which CreateOrder counts \
     against the caps on orders in flight (quality.md §1.7, API6): the count stays a short \
     index read however many orders a tenant placed over the years. Both engines know partial \
     indexes; sea-query cannot build one, hence the SQL.",
    |manager| {
        let conn = manager.get_connection();
        conn.execute_raw(Statement::from_string(
            conn.get_database_backend(),
            "CREATE INDEX customer_order_open ON customer_order (tenant_id, kind) \
             WHERE finished_at IS NULL",
        ))
        .await?;
        Ok(())
    }
);
