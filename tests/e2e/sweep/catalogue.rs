//! The methods the sweep calls, read from the contracts' descriptors, and who may call each, read from
//! the services' own policy tables: a method added to a contract is swept without a change here.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, MessageDescriptor};
use tenure_grpc::{MethodPolicy, Role, ServiceKind};

use super::world::TenantWorld;
use crate::stack::As;

pub(crate) fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(tenure_proto::FILE_DESCRIPTOR_SET).expect("the contracts decode")
    })
}

/// One unary method on one listener.
#[derive(Clone)]
pub(crate) struct Method {
    /// `/tenure.orders.v1.OrderService/GetOrder`.
    pub(crate) path: String,
    pub(crate) kind: ServiceKind,
    pub(crate) input: MessageDescriptor,
    pub(crate) output: MessageDescriptor,
    pub(crate) policy: MethodPolicy,
}

impl Method {
    /// Short, for the figures: `OrderService/GetOrder` (and the listener for the participants).
    pub(crate) fn label(&self) -> String {
        let short = self
            .path
            .rsplit_once('.')
            .map_or(self.path.as_str(), |(_, tail)| tail);
        if self.path.contains("PurgeParticipant") {
            format!("{short}@{}", self.kind.name())
        } else {
            short.to_owned()
        }
    }

    /// Whether the method changes state: every mutating RPC takes an idempotency key (quality.md
    /// §3.1); the sandbox's own controls take none but change the simulated AWS.
    pub(crate) fn mutating(&self) -> bool {
        self.input.get_field_by_name("idempotency_key").is_some()
            || (self.path.contains("SandboxService") && !self.path.ends_with("/GetClock"))
    }

    pub(crate) fn allows(&self, role: Role) -> bool {
        self.policy.roles.contains(&role)
    }

    /// Callers the policy lets through, acting for `world`'s tenant where a tenant applies: its
    /// administrator, an operator (with the legal-hold permission, which only the hold methods
    /// look at), billing, and the services on the allow-list.
    pub(crate) fn callers(&self, world: &TenantWorld) -> Vec<As> {
        let mut callers = Vec::new();
        if self.allows(Role::Customer) {
            callers.push(world.customer());
        }
        if self.allows(Role::Operator) {
            callers.push(As::LegalOperator);
        }
        if self.allows(Role::Billing) {
            callers.push(As::Billing);
        }
        if self.allows(Role::Service) {
            if self.policy.service_callers.contains(&"orders") {
                callers.push(As::Orders(world.tenant));
            }
            if self.policy.service_callers.contains(&"data-purge") {
                callers.push(As::Purger(world.tenant));
            }
        }
        callers
    }

    /// Callers bound to `world`'s tenant: its customers and services acting for it. Operators and
    /// billing read every tenant by design (quality.md §1.2), so only these can cross a tenant line.
    pub(crate) fn tenant_bound_callers(&self, world: &TenantWorld) -> Vec<As> {
        self.callers(world)
            .into_iter()
            .filter(|who| matches!(who, As::User(..) | As::Orders(_) | As::Purger(_)))
            .collect()
    }
}

fn listener(service: &str) -> Option<ServiceKind> {
    Some(match service.split('.').nth(1)? {
        "orders" => ServiceKind::Orders,
        "accounts" => ServiceKind::Accounts,
        "provisioning" => ServiceKind::Provisioning,
        "purge" => ServiceKind::DataPurge,
        _ => return None,
    })
}

/// Every unary method of every Tenure service, with its policy entry. `PurgeParticipant` is served by
/// every data owner and appears once per listener; streams (`WatchOrder`, both `Subscribe`s) and the
/// `grpc.*` services are left out: they are not request/response and have their own tests.
pub(crate) fn methods() -> Vec<Method> {
    let policies: Vec<MethodPolicy> = [
        tenure_orders::policy(),
        tenure_accounts::policy(),
        tenure_provisioning::policy(),
        tenure_data_purge::policy(),
    ]
    .concat();
    let mut methods = Vec::new();
    for service in pool().services() {
        let name = service.full_name();
        if !name.starts_with("tenure.") {
            continue;
        }
        let kinds = if name == "tenure.purge.v1.PurgeParticipant" {
            ServiceKind::ALL.to_vec()
        } else {
            listener(name).into_iter().collect()
        };
        for method in service.methods() {
            if method.is_client_streaming() || method.is_server_streaming() {
                continue;
            }
            let path = format!("/{name}/{}", method.name());
            let policy = *policies
                .iter()
                .find(|entry| entry.method == path)
                .unwrap_or_else(|| panic!("{path} has no policy entry"));
            for kind in &kinds {
                methods.push(Method {
                    path: path.clone(),
                    kind: *kind,
                    input: method.input(),
                    output: method.output(),
                    policy,
                });
            }
        }
    }
    methods
}
