//! Who may see what: a customer (or a service acting for a tenant) is confined to one tenant; operators,
//! billing and services without a tenant act across tenants, and their privileged actions are audited.

use tenure_domain::{Caller, CallerRole};
use uuid::Uuid;

use crate::domain::{AccountsError, UserRole};

/// The reach of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Everything the call touches belongs to this tenant.
    Tenant(Uuid),
    /// Any tenant; the owning tenant of each object is resolved before it is changed.
    CrossTenant,
}

impl Access {
    /// The reach of `caller`: the tenant from the verified token (customers) or from the trusted
    /// metadata (services); cross-tenant otherwise.
    pub(crate) fn of(caller: &Caller) -> Result<Self, AccountsError> {
        match (caller.role, caller.tenant) {
            (CallerRole::Customer, Some(tenant)) | (CallerRole::Service, Some(tenant)) => {
                Ok(Access::Tenant(tenant))
            }
            (CallerRole::Customer, None) => Err(AccountsError::TenantRequired),
            (CallerRole::Operator | CallerRole::Billing | CallerRole::Service, _) => {
                Ok(Access::CrossTenant)
            }
        }
    }

    /// Narrows an optional tenant filter from a request: customers may only name their own tenant; a
    /// mismatching value is refused (domain.md §7).
    pub(crate) fn tenant_filter(
        self,
        requested: Option<Uuid>,
    ) -> Result<Option<Uuid>, AccountsError> {
        match (self, requested) {
            (Access::Tenant(own), None) => Ok(Some(own)),
            (Access::Tenant(own), Some(asked)) if asked == own => Ok(Some(own)),
            (Access::Tenant(_), Some(_)) => Err(AccountsError::ForeignTenant),
            (Access::CrossTenant, asked) => Ok(asked),
        }
    }

    /// The tenant a creating call acts for; cross-tenant callers must name one.
    pub(crate) fn acting_tenant(self) -> Result<Uuid, AccountsError> {
        self.creating_for(None)
    }

    /// The tenant a creating call that may name one acts for: a customer's own (naming another is
    /// refused), or the one a cross-tenant caller names.
    pub(crate) fn creating_for(self, requested: Option<Uuid>) -> Result<Uuid, AccountsError> {
        self.tenant_filter(requested)?
            .ok_or(AccountsError::TenantRequired)
    }
}

/// Who may take an account off the platform or bring it back (seed 004: "a client admin"): operators,
/// and customers whose token subject is an administrator of the tenant (`roles` are the roles of the
/// tenant's users with that subject).
pub(crate) fn check_platform_membership_manager(
    caller: &Caller,
    roles: &[UserRole],
) -> Result<(), AccountsError> {
    match caller.role {
        CallerRole::Operator => Ok(()),
        CallerRole::Customer if roles.contains(&UserRole::Admin) => Ok(()),
        CallerRole::Customer | CallerRole::Billing | CallerRole::Service => {
            Err(AccountsError::NotAdministrator)
        }
    }
}

/// Whether `caller`'s calls leave an audit row: operators always (reads included, quality.md §1.8),
/// services when they change something.
pub(crate) fn is_audited(caller: &Caller, mutating: bool) -> bool {
    match caller.role {
        CallerRole::Operator => true,
        CallerRole::Service => mutating,
        CallerRole::Customer | CallerRole::Billing => false,
    }
}

/// One row of the audit trail. It names actors and targets by id only: no emails, names or bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Audit {
    pub(crate) actor_subject: String,
    pub(crate) actor_role: &'static str,
    /// The gRPC method, e.g. `ReopenAccount`.
    pub(crate) action: &'static str,
    pub(crate) target_tenant: Option<Uuid>,
    pub(crate) target_kind: &'static str,
    pub(crate) target_id: String,
    pub(crate) reason: String,
    pub(crate) ticket: String,
}

impl Audit {
    /// An audit row for `caller` doing `action` on one object.
    pub(crate) fn new(
        caller: &Caller,
        action: &'static str,
        target_kind: &'static str,
        target_id: String,
    ) -> Self {
        Self {
            actor_subject: caller.subject.clone(),
            actor_role: role_name(caller.role),
            action,
            target_tenant: None,
            target_kind,
            target_id,
            reason: String::new(),
            ticket: String::new(),
        }
    }
}

/// The stored name of a caller role.
pub(crate) fn role_name(role: CallerRole) -> &'static str {
    match role {
        CallerRole::Customer => "customer",
        CallerRole::Operator => "operator",
        CallerRole::Billing => "billing",
        CallerRole::Service => "service",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: CallerRole) -> Caller {
        Caller {
            subject: "idp|someone".to_owned(),
            role,
            tenant: Some(Uuid::new_v4()),
            permissions: Vec::new(),
        }
    }

    #[test]
    fn only_operators_and_tenant_administrators_manage_platform_membership() {
        let customer = caller(CallerRole::Customer);
        assert!(check_platform_membership_manager(&customer, &[UserRole::Admin]).is_ok());
        assert!(
            check_platform_membership_manager(&customer, &[UserRole::Member, UserRole::Admin])
                .is_ok()
        );
        for roles in [&[UserRole::Member][..], &[]] {
            assert!(matches!(
                check_platform_membership_manager(&customer, roles),
                Err(AccountsError::NotAdministrator)
            ));
        }
        assert!(check_platform_membership_manager(&caller(CallerRole::Operator), &[]).is_ok());
        assert!(check_platform_membership_manager(&caller(CallerRole::Billing), &[]).is_err());
    }
}
