//! Placing an order: the facts accounts holds (the tenant, the termination checks), the refusals
//! they lead to, and the order with its saga, locks and first event in one transaction. The
//! idempotency key of a placing is the order's own: a replay answers the order it placed.

use chrono::Duration;
use tenure_db::TenantTx;
use uuid::Uuid;

use crate::app::{Call, Orders};
use crate::domain::order::{OrderDetails, ResaleModel, SagaInput, TenantFacts};
use crate::domain::records::{OrderRecord, Reach};
use crate::domain::saga::advance::saga_kind;
use crate::domain::saga::state::{EventDraft, EventPayload};
use crate::domain::{OrdersError, Rejection};
use crate::store;
use crate::store::orders::NewOrder;
use crate::store::sagas::{LockHeld, NewSaga};

/// A checked order to place, with the key and request hash that make placing it idempotent.
#[derive(Debug, Clone)]
pub(crate) struct PlaceOrder {
    pub(crate) details: OrderDetails,
    pub(crate) key: String,
    pub(crate) request_hash: Vec<u8>,
}

impl Orders {
    /// Places an order for the caller's tenant, or answers the order an earlier request with the
    /// same key placed.
    pub(crate) async fn place_order(
        &self,
        call: &Call,
        request: PlaceOrder,
    ) -> Result<OrderRecord, OrdersError> {
        let PlaceOrder {
            details,
            key,
            request_hash: hash,
        } = request;
        let tenant = call.tenant()?;
        if let Some(order) = self.replayed(tenant, &key, &hash).await? {
            return Ok(order);
        }
        let order_id = Uuid::new_v4();
        tracing::Span::current().record("tenure.order_id", order_id.to_string());
        let created = tenure_telemetry::in_order_scope(order_id.to_string(), async {
            let input = self.facts(tenant, order_id, details).await?;
            self.place(call, tenant, order_id, input, &key, &hash).await
        })
        .await;
        let order = match created {
            // A concurrent request with the same key won the insert: answer with its order.
            Err(OrdersError::Busy) => self
                .replayed(tenant, &key, &hash)
                .await?
                .ok_or(OrdersError::Busy)?,
            other => other?,
        };
        self.engine.wake();
        self.engine.events_committed();
        Ok(order)
    }

    /// The order an earlier request with this key placed, or the refusal of a different request
    /// under the same key.
    async fn replayed(
        &self,
        tenant: Uuid,
        key: &str,
        hash: &[u8],
    ) -> Result<Option<OrderRecord>, OrdersError> {
        self.read(Reach::Tenant(tenant), async |tx| {
            let Some((id, stored_hash)) = store::orders::find_by_key(tx, tenant, key).await? else {
                return Ok(None);
            };
            if stored_hash != hash {
                return Err(OrdersError::KeyReused);
            }
            let record = store::orders::get(tx, id)
                .await?
                .ok_or(OrdersError::internal("a replayed order has no saga"))?;
            Ok(Some(record))
        })
        .await
    }

    /// Reads what the order depends on from accounts and refuses what cannot go ahead now: an
    /// unsubscribed tenant, an account already managed, a termination that fails its checks.
    async fn facts(
        &self,
        tenant: Uuid,
        order_id: Uuid,
        mut details: OrderDetails,
    ) -> Result<SagaInput, OrdersError> {
        let tenant_view = self.peers()?.tenant(tenant).await?;
        if !tenant_view.active {
            return Err(OrdersError::Precondition(Rejection::new(
                "TENANT_UNSUBSCRIBED",
                "Your marketplace subscription has ended, so no order can be placed.",
            )));
        }
        let resale_model = tenant_view.resale_model.ok_or(OrdersError::internal(
            "accounts answered a tenant without a resale model",
        ))?;
        let mut account_facts = None;
        match &mut details {
            OrderDetails::NewAccount { .. } => {}
            OrderDetails::BillingTransfer { transfer_name, .. } => {
                if transfer_name.is_empty() {
                    // AWS shows the customer who invites it (domain.md §3.2).
                    *transfer_name = source_name(&tenant_view.display_name);
                }
            }
            OrderDetails::OrganizationTransfer { .. } => {
                if resale_model == ResaleModel::BillingTransfer {
                    return Err(OrdersError::Unsupported(Rejection::new(
                        "TNR008",
                        "This combination of options is not supported: your subscription transfers accounts by billing transfer.",
                    )));
                }
            }
            OrderDetails::Terminate {
                aws_account_id,
                mode,
                acknowledgements,
                acknowledged_open_balance,
                ..
            } => {
                let view = self
                    .peers()?
                    .check_termination(
                        tenant,
                        order_id,
                        aws_account_id,
                        *mode,
                        acknowledgements,
                        acknowledged_open_balance.as_ref(),
                    )
                    .await?
                    .ok_or(OrdersError::NotFound("account"))?;
                if let Some((code, message)) = view.problems.into_iter().next() {
                    return Err(OrdersError::Precondition(Rejection::new(&code, message)));
                }
                account_facts = Some(view.account.ok_or(OrdersError::internal(
                    "accounts answered a termination check without the account",
                ))?);
            }
        }
        if matches!(
            details,
            OrderDetails::BillingTransfer { .. } | OrderDetails::OrganizationTransfer { .. }
        ) {
            for account in details.known_accounts() {
                if self.peers()?.has_live_account(tenant, &account).await? {
                    return Err(OrdersError::AlreadyExists(Rejection::new(
                        "TNR010",
                        format!("Account {account} is already managed under your subscription."),
                    )));
                }
            }
        }
        Ok(SagaInput {
            ops_confirmation: matches!(details, OrderDetails::Terminate { .. })
                && self.settings.require_ops_confirmation,
            details,
            tenant: TenantFacts {
                public_sector: tenant_view.public_sector,
                resale_model,
            },
            account: account_facts,
        })
    }

    /// Writes the order, its saga, its locks and `order.placed` in one transaction.
    async fn place(
        &self,
        call: &Call,
        tenant: Uuid,
        order_id: Uuid,
        input: SagaInput,
        key: &str,
        hash: &[u8],
    ) -> Result<OrderRecord, OrdersError> {
        let now = self.now();
        let kind = saga_kind(&input.details);
        let definition = self.registry.newest(kind).ok_or(OrdersError::internal(
            "no definition for this kind of order",
        ))?;
        let deadlines = &self.settings.deadlines;
        let days = match &input.details {
            OrderDetails::NewAccount { .. } => deadlines.new_account_days,
            OrderDetails::BillingTransfer { .. } => deadlines.billing_transfer_days,
            OrderDetails::OrganizationTransfer { .. } => deadlines.organization_transfer_days,
            OrderDetails::Terminate { .. } => deadlines.terminate_days,
        };
        let saga_id = Uuid::new_v4();
        let locks = input.details.locks(tenant);
        let placed = EventDraft {
            effective_at: now,
            payload: EventPayload::OrderPlaced {
                kind: input.details.kind().as_str().to_owned(),
                aws_account_id: input.details.primary_account(),
            },
        };
        let order = NewOrder {
            id: order_id,
            tenant_id: tenant,
            details: input.details.clone(),
            placed_by: call.caller.subject.clone(),
            idempotency_key: key.to_owned(),
            request_hash: hash.to_vec(),
            status_key: "processing".to_owned(),
            created_at: now,
        };
        let saga = NewSaga {
            id: saga_id,
            order_id,
            tenant_id: tenant,
            kind,
            version: definition.version,
            input,
            deadline_at: now + Duration::days(i64::from(days)),
            trace: tenure_telemetry::current_traceparent(),
            created_at: now,
        };
        let tx = TenantTx::begin(&self.db, tenant).await?;
        // Counted in the transaction that places the order, with the tenant's other placings waiting,
        // so the caps hold under concurrent calls and across replicas.
        store::orders::lock_placing(&tx, tenant).await?;
        let in_flight = store::orders::in_flight(&tx, tenant).await?;
        self.within_caps(&order.details, in_flight)?;
        store::orders::insert(&tx, &order).await?;
        store::sagas::insert(&tx, &saga, &[placed]).await?;
        if let Err(held) = store::sagas::take_locks(&tx, saga_id, tenant, &locks, now).await? {
            return Err(lock_refusal(&held));
        }
        let record = store::orders::get(&tx, order_id)
            .await?
            .ok_or(OrdersError::internal("a placed order cannot be read back"))?;
        tx.commit().await?;
        Ok(record)
    }
}

impl Orders {
    /// Refuses an order over the tenant's caps of orders in progress (quality.md §1.7, API6): first
    /// the new-account cap, the one a script creating accounts in bulk meets, then the cap on every
    /// kind. A refused order changes nothing, so the customer may place it again once one ends.
    fn within_caps(
        &self,
        details: &OrderDetails,
        in_flight: store::orders::InFlight,
    ) -> Result<(), OrdersError> {
        let limits = &self.settings.limits;
        let message = if matches!(details, OrderDetails::NewAccount { .. })
            && in_flight.new_accounts >= u64::from(limits.new_account_orders_in_flight)
        {
            format!(
                "You have {} new-account orders in progress; place more once one of them ends.",
                in_flight.new_accounts
            )
        } else if in_flight.all >= u64::from(limits.orders_in_flight) {
            format!(
                "You have {} orders in progress; place more once one of them ends.",
                in_flight.all
            )
        } else {
            return Ok(());
        };
        tenure_telemetry::metrics().rate_limited(tenure_telemetry::RateLimitReason::OrdersInFlight);
        Err(OrdersError::TooManyInFlight(message))
    }
}

/// TNR009 for the caller's own order in flight. Locks are per tenant, so the holder is always the
/// caller's; a holder of another tenant would be a broken invariant, answered with the generic
/// refusal that names nobody (quality.md §1.6).
pub(crate) fn lock_refusal(held: &LockHeld) -> OrdersError {
    match held.order_id {
        Some(order) => OrdersError::Precondition(Rejection::new(
            "TNR009",
            format!(
                "Order {order} for {} is still in progress. Wait until it ends, or cancel it.",
                held.lock.describe()
            ),
        )),
        None => OrdersError::NotEligible,
    }
}

/// AWS's `SourceName` from a tenant name: 1 to 128 printable ASCII characters.
fn source_name(display_name: &str) -> String {
    let name: String = display_name
        .chars()
        .map(|character| {
            if character.is_ascii() && !character.is_ascii_control() {
                character
            } else {
                '-'
            }
        })
        .take(128)
        .collect();
    if name.trim().is_empty() {
        "Tenure customer".to_owned()
    } else {
        name
    }
}
