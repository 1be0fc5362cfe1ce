//! Function-level authorization: who may call each method (quality.md §1.3). Anything not listed is
//! denied, and the crate's API tests fail if a published method of a mounted service is missing here.

use tenure_grpc::{MethodPolicy, Role};

/// The orders service's policy table.
/// `tenure.purge.v1.PurgeParticipant` follows [`tenure_grpc::PURGE_PARTICIPANT_POLICY`].
pub(crate) const POLICY: &[MethodPolicy] = &[
    MethodPolicy {
        method: "/tenure.orders.v1.OrderService/CreateOrder",
        roles: &[Role::Customer],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.orders.v1.OrderService/GetOrder",
        roles: &[Role::Customer, Role::Operator, Role::Billing],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.orders.v1.OrderService/ListOrders",
        roles: &[Role::Customer, Role::Operator, Role::Billing],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.orders.v1.OrderService/GetOrderTimeline",
        roles: &[Role::Customer, Role::Operator, Role::Billing],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.orders.v1.OrderService/WatchOrder",
        roles: &[Role::Customer, Role::Operator, Role::Billing],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.orders.v1.OrderService/CancelOrder",
        roles: &[Role::Customer],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.orders.v1.OrderService/AnswerOrderQuery",
        roles: &[Role::Customer],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.orders.v1.OrderService/SignalOrder",
        roles: &[Role::Customer],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.orders.v1.OrderService/ListTasks",
        roles: &[Role::Customer, Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.orders.v1.OrderService/CompleteTask",
        roles: &[Role::Customer, Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    // The stream is the platform's: its positions count every tenant's events, so a customer's
    // subscription would learn the platform's volume (issue 16). Customers follow their own orders
    // with WatchOrder and ListOrders; billing and operations read the stream (quality.md §1.3).
    MethodPolicy {
        method: "/tenure.orders.v1.OrderEvents/Subscribe",
        roles: &[Role::Operator, Role::Billing],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.orders.v1.OrderEvents/Ack",
        roles: &[Role::Operator, Role::Billing],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.orders.v1.SagaAdmin/GetSaga",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.orders.v1.SagaAdmin/ListSagas",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.orders.v1.SagaAdmin/RetryNow",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.orders.v1.SagaAdmin/AbortSaga",
        roles: &[Role::Operator],
        service_callers: &[],
        service_across_tenants: false,
    },
];
