//! The `audit_event` table.
#![allow(unreachable_pub, reason = "the entity macros generate public items")]

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    pub actor_subject: String,
    pub actor_role: String,
    pub target_tenant: Option<Uuid>,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub reason: String,
    pub ticket: String,
    pub outcome: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
