//! Function-level authorization: who may call each method (quality.md §1.3). Anything not listed is
//! denied, and the crate's API tests fail if a published method of a mounted service is missing here.

use tenure_grpc::{MethodPolicy, Role};

/// The provisioning service's policy table. Only orders mutates AWS; operators may read.
/// `tenure.purge.v1.PurgeParticipant` follows [`tenure_grpc::PURGE_PARTICIPANT_POLICY`].
pub(crate) const POLICY: &[MethodPolicy] = &[
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/CreateAccount",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/RemoveAccount",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/CloseAccount",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/InviteAccount",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/CancelHandshake",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/InviteBillingTransfer",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/EndBillingTransfer",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/WithdrawBillingTransfer",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/DeployBootstrapStack",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/DeleteBootstrapStack",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/CreateStackSet",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/DeleteStackSet",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/CreateStackInstances",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/DeleteStackInstances",
        roles: &[Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/DescribeAccount",
        roles: &[Role::Operator, Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/DescribeHandshake",
        roles: &[Role::Operator, Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/ListHandshakes",
        roles: &[Role::Operator, Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/DescribeBillingTransfer",
        roles: &[Role::Operator, Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/CheckBootstrapRole",
        roles: &[Role::Operator, Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/GetOperation",
        roles: &[Role::Operator, Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.ProvisioningService/ListOperations",
        roles: &[Role::Operator, Role::Service],
        service_callers: &["orders"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.SandboxService/AcceptHandshake",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.SandboxService/DeclineHandshake",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.SandboxService/DeployCustomerBootstrapStack",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.SandboxService/AdvanceClock",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.SandboxService/GetClock",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.provisioning.v1.SandboxService/CreateCustomerAccount",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
];
