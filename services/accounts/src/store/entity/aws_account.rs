//! The `aws_account` table.
#![allow(unreachable_pub, reason = "the entity macros generate public items")]

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "aws_account")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub aws_account_id: Option<String>,
    pub name: Option<String>,
    pub root_email: Option<String>,
    pub root_email_key: Option<String>,
    pub role: String,
    pub relationship: String,
    pub organization_id: Option<String>,
    pub parent_id: Option<String>,
    pub management_account_id: Option<String>,
    pub joined_method: Option<String>,
    pub root_access: Option<String>,
    pub state: String,
    pub state_changed_at: DateTimeUtc,
    pub active_order_id: Option<Uuid>,
    pub closed_at: Option<DateTimeUtc>,
    pub reopen_until: Option<DateTimeUtc>,
    pub billing_starts_at: Option<DateTimeUtc>,
    pub billing_ends_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub removed_at: Option<DateTimeUtc>,
    pub removal_purge_id: Option<Uuid>,
    pub removal_purge_due_at: Option<DateTimeUtc>,
    pub removal_purged_at: Option<DateTimeUtc>,
    pub open_balance_micros: Option<i64>,
    pub open_balance_currency: Option<String>,
    pub open_balance_as_of: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
