//! Function-level authorization (OWASP API5): a static table per service, keyed by full method path,
//! checked before any handler can touch the database (quality.md §1.3).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use tonic::Status;

use crate::auth::{Principal, Role};
use crate::descriptor;
use crate::guard::Guard;

/// Who may call one method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodPolicy {
    /// The full path, `/tenure.orders.v1.OrderService/CreateOrder`.
    pub method: &'static str,
    /// The roles allowed to call it.
    pub roles: &'static [Role],
    /// For the service role: which services may call it (their names, e.g. `orders`). Ignored when
    /// `roles` does not contain [`Role::Service`].
    pub service_callers: &'static [&'static str],
    /// For the service role: whether a service may call it without naming the tenant it acts for in
    /// `x-tenure-tenant`, and so reach across tenants. Off everywhere but where a method has no tenant
    /// at all: a service acting for nobody in particular must say so, method by method, here.
    pub service_across_tenants: bool,
}

impl MethodPolicy {
    #[cfg(test)]
    fn allows(&self, principal: &Principal) -> bool {
        self.refusal(principal).is_none()
    }

    /// Why `principal` may not call this method, in words that tell the caller which token would do;
    /// `None` when it may.
    fn refusal(&self, principal: &Principal) -> Option<String> {
        let method = self.method.rsplit('/').next().unwrap_or(self.method);
        let role = principal.role.name();
        if !self.roles.contains(&principal.role) {
            return Some(format!(
                "{method} needs {}; this token has role {role}.",
                self.wanted_tokens()
            ));
        }
        if principal.role != Role::Service {
            return None;
        }
        match principal.service_name() {
            Some(caller) if self.service_callers.contains(&caller) => {}
            caller => {
                return Some(format!(
                    "{method} takes service tokens from {} only; this token is from {}.",
                    or_list(self.service_callers),
                    caller.unwrap_or("no known service")
                ));
            }
        }
        (principal.tenant_id.is_none() && !self.service_across_tenants).then(|| {
            format!(
                "{method} acts for one tenant: a service names it in `{}` metadata.",
                crate::TENANT_METADATA_KEY
            )
        })
    }

    /// "a customer token (which acts for its own tenant) or an operator token", from the roles.
    fn wanted_tokens(&self) -> String {
        let tokens: Vec<String> = self
            .roles
            .iter()
            .map(|role| match role {
                Role::Customer => "a customer token (which acts for its own tenant)".to_owned(),
                Role::Operator => "an operator token".to_owned(),
                Role::Billing => "a billing token".to_owned(),
                Role::Service => format!("a service token from {}", or_list(self.service_callers)),
            })
            .collect();
        match tokens.as_slice() {
            [] => "a role no token has".to_owned(),
            _ => or_list(&tokens),
        }
    }
}

/// `a`, `a or b`, `a, b or c`.
fn or_list<T: AsRef<str>>(items: &[T]) -> String {
    match items {
        [] => "no one".to_owned(),
        [only] => only.as_ref().to_owned(),
        [rest @ .., last] => {
            let rest: Vec<&str> = rest.iter().map(AsRef::as_ref).collect();
            format!("{} or {}", rest.join(", "), last.as_ref())
        }
    }
}

/// The policy of `tenure.purge.v1.PurgeParticipant`, the data-owner interface every service serves
/// the same way: only data-purge may ask a service to plan, execute or verify a deletion.
pub const PURGE_PARTICIPANT_POLICY: &[MethodPolicy] = &[
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeParticipant/DescribeDataClasses",
        roles: &[Role::Service],
        service_callers: &["data-purge"],
        // What a service stores is the same for every tenant.
        service_across_tenants: true,
    },
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeParticipant/Plan",
        roles: &[Role::Service],
        service_callers: &["data-purge"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeParticipant/Execute",
        roles: &[Role::Service],
        service_callers: &["data-purge"],
        service_across_tenants: false,
    },
    MethodPolicy {
        method: "/tenure.purge.v1.PurgeParticipant/Verify",
        roles: &[Role::Service],
        service_callers: &["data-purge"],
        service_across_tenants: false,
    },
];

/// The methods of `services` (full names) that have no entry in `table`, and the entries of `table` that
/// name no published method. Both must be empty: tests assert it for every service.
pub fn uncovered_methods(table: &[MethodPolicy], services: &[&str]) -> (Vec<String>, Vec<String>) {
    let published = descriptor::served_methods(services.iter().copied());
    let covered: BTreeSet<String> = table.iter().map(|entry| entry.method.to_owned()).collect();
    let missing = published.difference(&covered).cloned().collect();
    let unknown = covered.difference(&published).cloned().collect();
    (missing, unknown)
}

/// Denies every call whose method has no policy entry or whose principal the entry does not allow.
#[derive(Clone)]
pub(crate) struct Authorization {
    table: Arc<HashMap<&'static str, MethodPolicy>>,
}

impl Authorization {
    pub(crate) fn new(entries: &[MethodPolicy]) -> Self {
        Self {
            table: Arc::new(entries.iter().map(|entry| (entry.method, *entry)).collect()),
        }
    }
}

impl Guard for Authorization {
    fn check<B>(&self, request: &mut http::Request<B>) -> Result<(), Status> {
        let path = request.uri().path();
        let Some(principal) = request.extensions().get::<Principal>() else {
            // Only the auth layer's exempt paths (health, reflection) arrive without a principal.
            return Ok(());
        };
        let method = path.rsplit('/').next().unwrap_or(path);
        let refusal = match self.table.get(path) {
            Some(entry) => entry.refusal(principal),
            // A published method without an entry is denied by default; an unknown path goes on to the
            // router, which answers UNIMPLEMENTED exactly as for any guessed path (S22).
            None if descriptor::method_info(path).is_some() => Some(format!(
                "{method} has no authorization policy, so no token may call it."
            )),
            None => None,
        };
        match refusal {
            None => Ok(()),
            Some(message) => {
                tracing::info!(
                    rpc.path = path,
                    role = principal.role.name(),
                    reason = message.as_str(),
                    "call denied by policy"
                );
                // The policy tables are public contract documentation: naming the token that would
                // do tells the caller nothing about any tenant's data.
                Err(Status::permission_denied(message))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, subject: &str) -> Principal {
        Principal {
            subject: subject.into(),
            role,
            tenant_id: None,
            permissions: Vec::new(),
        }
    }

    fn for_tenant(mut principal: Principal) -> Principal {
        principal.tenant_id = Some(uuid::Uuid::from_u128(7));
        principal
    }

    #[test]
    fn service_callers_are_an_allow_list() {
        let entry = MethodPolicy {
            method: "/tenure.accounts.v1.AccountService/ReserveAccount",
            roles: &[Role::Service],
            service_callers: &["orders"],
            service_across_tenants: false,
        };
        assert!(entry.allows(&for_tenant(principal(Role::Service, "svc:orders"))));
        assert!(!entry.allows(&for_tenant(principal(Role::Service, "svc:data-purge"))));
        assert!(!entry.allows(&principal(Role::Customer, "user")));
        assert!(!entry.allows(&for_tenant(principal(Role::Service, "orders"))));
    }

    #[test]
    fn a_service_names_its_tenant_unless_the_method_says_it_spans_tenants() {
        let scoped = MethodPolicy {
            method: "/tenure.accounts.v1.AccountService/ListAccounts",
            roles: &[Role::Service],
            service_callers: &["orders"],
            service_across_tenants: false,
        };
        assert!(!scoped.allows(&principal(Role::Service, "svc:orders")));
        assert!(scoped.allows(&for_tenant(principal(Role::Service, "svc:orders"))));
        let across = MethodPolicy {
            service_across_tenants: true,
            ..scoped
        };
        assert!(across.allows(&principal(Role::Service, "svc:orders")));
    }

    #[test]
    fn a_refusal_names_the_token_the_method_needs_and_the_one_it_got() {
        let create = MethodPolicy {
            method: "/tenure.orders.v1.OrderService/CreateOrder",
            roles: &[Role::Customer],
            service_callers: &[],
            service_across_tenants: false,
        };
        assert_eq!(
            create.refusal(&principal(Role::Operator, "ops")).as_deref(),
            Some(
                "CreateOrder needs a customer token (which acts for its own tenant); \
                 this token has role operator."
            )
        );
        let reserve = MethodPolicy {
            method: "/tenure.accounts.v1.AccountService/ReserveAccount",
            roles: &[Role::Operator, Role::Billing, Role::Service],
            service_callers: &["orders", "data-purge"],
            service_across_tenants: false,
        };
        assert_eq!(
            reserve
                .refusal(&principal(Role::Customer, "user"))
                .as_deref(),
            Some(
                "ReserveAccount needs an operator token, a billing token or a service token from \
                 orders or data-purge; this token has role customer."
            )
        );
        assert_eq!(
            reserve
                .refusal(&for_tenant(principal(Role::Service, "svc:provisioning")))
                .as_deref(),
            Some(
                "ReserveAccount takes service tokens from orders or data-purge only; this token is \
                 from provisioning."
            )
        );
        assert_eq!(
            reserve
                .refusal(&principal(Role::Service, "svc:orders"))
                .as_deref(),
            Some(
                "ReserveAccount acts for one tenant: a service names it in `x-tenure-tenant` metadata."
            )
        );
        assert_eq!(reserve.refusal(&principal(Role::Operator, "ops")), None);
    }

    #[test]
    fn coverage_reports_missing_and_unknown_methods() {
        let table = [MethodPolicy {
            method: "/tenure.purge.v1.PurgeParticipant/Nope",
            roles: &[Role::Service],
            service_callers: &["data-purge"],
            service_across_tenants: false,
        }];
        let (missing, unknown) = uncovered_methods(&table, &["tenure.purge.v1.PurgeParticipant"]);
        assert!(missing.contains(&"/tenure.purge.v1.PurgeParticipant/Plan".to_owned()));
        assert_eq!(
            unknown,
            vec!["/tenure.purge.v1.PurgeParticipant/Nope".to_owned()]
        );
    }
}
