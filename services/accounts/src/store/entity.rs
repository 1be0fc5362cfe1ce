//! sea-orm entities, one per table. They carry no schema name: the connection's `search_path` decides.

pub(crate) mod account_details;
pub(crate) mod account_transition;
pub(crate) mod app_user;
pub(crate) mod audit_event;
pub(crate) mod aws_account;
pub(crate) mod cost_record;
pub(crate) mod subscription;
pub(crate) mod tenant;
