//! Function-level authorization: who may call each method (quality.md §1.3). Anything not listed is
//! denied, and the crate's API tests fail if a published method of a mounted service is missing here.

use tenure_grpc::{MethodPolicy, Role};

/// The data-purge service's policy table. Permission and ticket checks (legal hold, expedite) follow in the handlers.
/// `tenure.purge.v1.PurgeParticipant` follows [`tenure_grpc::PURGE_PARTICIPANT_POLICY`].
pub(crate) const POLICY: &[MethodPolicy] = &[
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeService/SchedulePurge",
        roles: &[Role::Operator, Role::Service],
        service_callers: &["orders", "accounts"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeService/GetPurge",
        roles: &[Role::Customer, Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeService/ListPurges",
        roles: &[Role::Customer, Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeService/ExpeditePurge",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeService/CancelPurge",
        roles: &[Role::Operator, Role::Service],
        service_callers: &["orders", "accounts"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeService/PlanPurge",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeService/SetLegalHold",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeService/ReleaseLegalHold",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeService/ListLegalHolds",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeService/GetReceipt",
        roles: &[Role::Customer, Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeService/ListReceipts",
        roles: &[Role::Customer, Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeService/VerifyReceiptChain",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeEvents/Subscribe",
        roles: &[Role::Operator, Role::Billing],
        service_callers: &[],
        service_across_tenants: false,
    },
];
