//! Tenants and their users as the service keeps them: the records `store/` reads and writes and the
//! use cases hand to the API, with every stored vocabulary value already read.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{ResaleModel, Sector, TenantStatus, UserRole};

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TenantRecord {
    pub(crate) id: Uuid,
    pub(crate) display_name: String,
    pub(crate) sector: Sector,
    pub(crate) resale_model: ResaleModel,
    pub(crate) marketplace_ref: String,
    pub(crate) status: TenantStatus,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) unsubscribed_at: Option<DateTime<Utc>>,
}

/// A user of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserRecord {
    pub(crate) id: Uuid,
    pub(crate) tenant_id: Uuid,
    pub(crate) email: String,
    pub(crate) display_name: String,
    pub(crate) idp_subject: String,
    pub(crate) role: UserRole,
    pub(crate) created_at: DateTime<Utc>,
}

/// A validated new user.
#[derive(Debug, Clone)]
pub(crate) struct NewUser {
    pub(crate) email: String,
    pub(crate) display_name: String,
    pub(crate) idp_subject: String,
}

impl NewUser {
    /// The record of this user as `role` of `tenant_id`, created at `now`.
    pub(crate) fn record(self, tenant_id: Uuid, role: UserRole, now: DateTime<Utc>) -> UserRecord {
        UserRecord {
            id: Uuid::new_v4(),
            tenant_id,
            email: self.email,
            display_name: self.display_name,
            idp_subject: self.idp_subject,
            role,
            created_at: now,
        }
    }
}
