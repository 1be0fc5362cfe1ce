//! Caps on the streams a replica holds open (quality.md §1.7): `WatchOrder` per tenant, `Subscribe`
//! per principal. A cap is a transport concern: it bounds what one connection may hold, whatever the
//! use case behind it.

use tenure_domain::{Caller, CallerRole};
use tenure_grpc::{StreamSlot, StreamSlots};

use crate::domain::OrdersError;
use crate::settings::OrdersSettings;

/// The caps of one replica.
#[derive(Debug, Clone)]
pub(crate) struct StreamCaps {
    watch: StreamSlots,
    events: StreamSlots,
}

impl StreamCaps {
    pub(crate) fn new(settings: &OrdersSettings) -> Self {
        let cap = |limit: u32| StreamSlots::new(usize::try_from(limit).unwrap_or(usize::MAX));
        Self {
            watch: cap(settings.limits.watch_streams_per_tenant),
            events: cap(settings.limits.event_streams_per_principal),
        }
    }

    /// A slot for one more `WatchOrder` of the caller's tenant (operators and billing, who have no
    /// tenant, count per subject).
    pub(crate) fn watch(&self, caller: &Caller) -> Result<StreamSlot, OrdersError> {
        let key = match caller.tenant {
            Some(tenant) => format!("tenant:{tenant}"),
            None => format!("subject:{}", caller.subject),
        };
        self.watch.acquire(key).ok_or_else(|| {
            OrdersError::TooManyStreams(format!(
                "{} watches of your orders are open already; close one of them first.",
                self.watch.limit()
            ))
        })
    }

    /// A slot for one more event subscription of the caller. A customer's subject is only unique
    /// within its tenant, so the tenant is part of the key.
    pub(crate) fn subscribe(&self, caller: &Caller) -> Result<StreamSlot, OrdersError> {
        let role = match caller.role {
            CallerRole::Customer => "customer",
            CallerRole::Operator => "operator",
            CallerRole::Billing => "billing",
            CallerRole::Service => "service",
        };
        let tenant = caller.tenant.map(|tenant| tenant.to_string());
        let key = format!("{role}:{}:{}", tenant.unwrap_or_default(), caller.subject);
        self.events.acquire(key).ok_or_else(|| {
            OrdersError::TooManyStreams(format!(
                "You already have {} event subscriptions open; close one of them first.",
                self.events.limit()
            ))
        })
    }
}
