//! Database access shared by every Tenure service: connecting a pool bound to the service's
//! schema (PostgreSQL) or file (SQLite), migrating under a lock, tenant-scoped transactions for
//! row-level security, error classification, idempotency records and rate-limit buckets.
//!
//! It owns how connections are configured, so no service sets `search_path`, tenant context or
//! pool options itself: each physical PostgreSQL connection gets the schema once, and the tenant
//! is only ever set transaction-locally through [`TenantTx`] (quality.md §1.5). It never reads the
//! clock (times are parameters) or the environment (settings are passed in), and its errors never
//! carry SQL text.

mod connect;
mod error;
pub mod idempotency;
mod identifier;
mod migrate;
pub mod rate_limit;
mod settings;
mod tenant;

pub use connect::{Db, RoleCheck, connect, role_check};
pub use error::{DbError, ErrorKind};
pub use migrate::{
    CROSS_TENANT_SETTING, IndexKind, PolicyCommand, allow_cross_tenant_reads, allow_opted_in,
    create_index, enable_tenant_rls, migrate, migrations_table, pending_migrations, readiness,
    tenant_rls_statements,
};
pub use settings::{Backend, DatabaseSettings, DatabaseUrl};
pub use tenant::TenantTx;
