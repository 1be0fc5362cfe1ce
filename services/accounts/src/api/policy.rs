//! Function-level authorization: who may call each method (quality.md §1.3). Anything not listed is
//! denied, and the crate's API tests fail if a published method of a mounted service is missing here.

use tenure_grpc::{MethodPolicy, Role};

/// The accounts service's policy table.
/// `tenure.purge.v1.PurgeParticipant` follows [`tenure_grpc::PURGE_PARTICIPANT_POLICY`].
pub(crate) const POLICY: &[MethodPolicy] = &[
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/CreateTenant",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/GetTenant",
        roles: &[Role::Customer, Role::Operator, Role::Billing, Role::Service],
        service_callers: &["orders", "data-purge"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/ListTenants",
        roles: &[Role::Operator, Role::Billing],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/UpdateTenant",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/UnsubscribeTenant",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/ResubscribeTenant",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/CreateUser",
        roles: &[Role::Customer, Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/GetUser",
        roles: &[Role::Customer, Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/ListUsers",
        roles: &[Role::Customer, Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/DeleteUser",
        roles: &[Role::Customer, Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/GetAccount",
        roles: &[Role::Customer, Role::Operator, Role::Billing, Role::Service],
        service_callers: &["orders", "data-purge"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/ListAccounts",
        roles: &[Role::Customer, Role::Operator, Role::Billing, Role::Service],
        service_callers: &["orders", "data-purge"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/ListAccountTransitions",
        roles: &[Role::Customer, Role::Operator, Role::Billing],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/ReserveAccount",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/AttachAccount",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/ActivateAccount",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/ReleaseAccount",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/CheckTermination",
        roles: &[Role::Customer, Role::Operator, Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/BeginOffboarding",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/AbortOffboarding",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/RecordOffboardingOutcome",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/RecordClosure",
        roles: &[Role::Operator, Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/ReopenAccount",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    // Seed 004: a tenant's administrators remove accounts themselves; the handlers refuse other
    // customers (PERMISSION_DENIED) and ask operators for a reason and a ticket.
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/RemoveAccountFromPlatform",
        roles: &[Role::Customer, Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/RestoreAccountToPlatform",
        roles: &[Role::Customer, Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/ReportOpenBalances",
        roles: &[Role::Billing],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/CreateSubscription",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/GetSubscription",
        roles: &[Role::Customer, Role::Operator, Role::Billing],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/ListSubscriptions",
        roles: &[Role::Customer, Role::Operator, Role::Billing],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/SetSubscriptionStatus",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/PutAccountDetails",
        roles: &[Role::Operator, Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/GetAccountDetails",
        roles: &[Role::Customer, Role::Operator, Role::Billing],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/RecordCostRecords",
        roles: &[Role::Operator, Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.accounts.v1.AccountService/ListCostRecords",
        roles: &[Role::Customer, Role::Operator, Role::Billing],
        service_callers: &[],
        service_across_tenants: false,
    },
];
