//! CreateOrder: validation of every field at once, the facts accounts holds (the tenant, the
//! termination checks), and the order with its saga, locks and first event in one transaction.

use chrono::Duration;
use tenure_db::TenantTx;
use tenure_domain::{AccountName, AwsAccountId, FreeText, Problems, RootEmail, field_problem};
use tenure_proto::Keyed as _;
use tenure_proto::orders::v1 as pb;
use uuid::Uuid;

use crate::api::context::{Call, Orders, at, checked, finish_keyed};
use crate::api::convert;
use crate::domain::order::{Money, OrderDetails, ResaleModel, SagaInput, TenantFacts};
use crate::domain::saga::advance::saga_kind;
use crate::domain::saga::state::{EventDraft, EventPayload};
use crate::domain::{OrdersError, Rejection};
use crate::store::orders::NewOrder;
use crate::store::sagas::{LockHeld, NewSaga};
use crate::store::{self, Reach};

/// The most accounts an organization transfer names one by one (domain.md §7, TNR005).
const MAX_LINKED_ACCOUNTS: usize = 20;

fn account(problems: &mut Problems, field: &str, raw: &str) -> Option<AwsAccountId> {
    problems.check(field, AwsAccountId::parse(raw))
}

fn unsupported(field: &str, description: &'static str) -> tenure_domain::FieldProblem {
    at(
        field,
        field_problem("UNSUPPORTED_COMBINATION", description, "TNR008"),
    )
}

/// Up to `max` characters of free text with no control characters; empty allowed.
fn short_text(problems: &mut Problems, field: &str, raw: &str, max: usize) -> Option<String> {
    if raw.chars().count() > max {
        problems.push(at(
            field,
            field_problem("TEXT_LENGTH", "this text is too long", "TNR013"),
        ));
        return None;
    }
    problems
        .check(field, FreeText::reason(raw))
        .map(|text| text.as_str().to_owned())
}

/// 1 to 20 valid, distinct account ids.
pub(crate) fn linked_accounts(
    problems: &mut Problems,
    field: &str,
    raw: &[String],
) -> Option<Vec<AwsAccountId>> {
    if raw.is_empty() || raw.len() > MAX_LINKED_ACCOUNTS {
        problems.push(at(
            field,
            field_problem(
                "COUNT",
                "up to 20 accounts can be transferred individually; to move more, transfer the whole organization",
                "TNR005",
            ),
        ));
    }
    let mut accounts: Vec<AwsAccountId> = Vec::new();
    let mut valid = true;
    for (index, id) in raw.iter().enumerate() {
        let field = format!("{field}[{index}]");
        match account(problems, &field, id) {
            Some(id) if accounts.contains(&id) => {
                valid = false;
                problems.push(at(
                    field,
                    field_problem(
                        "DUPLICATE",
                        "this account is listed more than once",
                        "TNR006",
                    ),
                ));
            }
            Some(id) => accounts.push(id),
            None => valid = false,
        }
    }
    (valid && !raw.is_empty() && raw.len() <= MAX_LINKED_ACCOUNTS).then_some(accounts)
}

/// An amount the customer confirms: a three-letter upper-case ISO 4217 currency and any amount.
fn money(
    problems: &mut Problems,
    field: &str,
    raw: &tenure_proto::common::v1::Money,
) -> Option<Money> {
    let currency = &raw.currency_code;
    if currency.len() != 3 || !currency.bytes().all(|byte| byte.is_ascii_uppercase()) {
        problems.push(at(
            format!("{field}.currency_code"),
            field_problem(
                "CURRENCY_FORMAT",
                "a currency is a three-letter ISO 4217 code in upper case, e.g. USD",
                "TNR004",
            ),
        ));
        return None;
    }
    Some(Money {
        currency: currency.clone(),
        amount_micros: raw.amount_micros,
    })
}

/// Reads what was ordered, recording every problem.
fn details(
    problems: &mut Problems,
    raw: Option<&pb::create_order_request::Details>,
) -> Option<OrderDetails> {
    use pb::create_order_request::Details;
    match raw {
        None => {
            problems.push(at("details", tenure_domain::required()));
            None
        }
        Some(Details::NewAccount(order)) => {
            let root_email = problems.check(
                "new_account.root_email",
                RootEmail::parse(&order.root_email),
            );
            let account_name = problems.check(
                "new_account.account_name",
                AccountName::parse(&order.account_name),
            );
            let support_contact = short_text(
                problems,
                "new_account.support_contact",
                &order.support_contact,
                200,
            );
            Some(OrderDetails::NewAccount {
                root_email: Some(root_email?),
                account_name: account_name?.into_inner(),
                support_contact: support_contact?,
            })
        }
        Some(Details::BillingTransfer(order)) => {
            let management = account(
                problems,
                "billing_transfer.management_account_id",
                &order.management_account_id,
            );
            let printable = order
                .transfer_name
                .bytes()
                .all(|byte| (0x20..=0x7e).contains(&byte));
            if order.transfer_name.len() > 128 || !printable {
                problems.push(at(
                    "billing_transfer.transfer_name",
                    field_problem(
                        "TRANSFER_NAME_FORMAT",
                        "a transfer name has up to 128 printable ASCII characters",
                        "TNR013",
                    ),
                ));
                return None;
            }
            Some(OrderDetails::BillingTransfer {
                management_account_id: management?,
                transfer_name: order.transfer_name.clone(),
            })
        }
        Some(Details::OrganizationTransfer(order)) => {
            if order.uses_organizations {
                if !order.linked_account_ids.is_empty() {
                    problems.push(unsupported(
                        "organization_transfer.linked_account_ids",
                        "a whole organization is named by its management account, not by its members",
                    ));
                }
                let management = account(
                    problems,
                    "organization_transfer.management_account_id",
                    &order.management_account_id,
                );
                Some(OrderDetails::OrganizationTransfer {
                    uses_organizations: true,
                    management_account_id: Some(management?),
                    linked_account_ids: Vec::new(),
                })
            } else {
                if !order.management_account_id.is_empty() {
                    problems.push(unsupported(
                        "organization_transfer.management_account_id",
                        "a management account is named only when the whole organization moves",
                    ));
                }
                let linked = linked_accounts(
                    problems,
                    "organization_transfer.linked_account_ids",
                    &order.linked_account_ids,
                );
                Some(OrderDetails::OrganizationTransfer {
                    uses_organizations: false,
                    management_account_id: None,
                    linked_account_ids: linked?,
                })
            }
        }
        Some(Details::Terminate(order)) => {
            let aws_account_id =
                account(problems, "terminate.aws_account_id", &order.aws_account_id);
            let mode = problems.check("terminate.mode", convert::termination_mode_from(order.mode));
            let mut acknowledgements = Vec::new();
            for (index, raw) in order.acknowledgements.iter().enumerate() {
                if let Some(ack) = problems.check(
                    format!("terminate.acknowledgements[{index}]"),
                    convert::acknowledgement_from(*raw),
                ) && !acknowledgements.contains(&ack)
                {
                    acknowledgements.push(ack);
                }
            }
            acknowledgements.sort();
            let reason = problems.check("terminate.reason", FreeText::reason(&order.reason));
            let balance = match &order.acknowledged_open_balance {
                None => Some(None),
                Some(raw) => money(problems, "terminate.acknowledged_open_balance", raw).map(Some),
            };
            Some(OrderDetails::Terminate {
                aws_account_id: aws_account_id?,
                mode: mode?,
                acknowledgements,
                reason: reason?.as_str().to_owned(),
                acknowledged_open_balance: balance?,
            })
        }
    }
}

impl Orders {
    pub(crate) async fn create_order(
        &self,
        call: &Call,
        request: pb::CreateOrderRequest,
    ) -> Result<pb::CreateOrderResponse, OrdersError> {
        let mut problems = Problems::new();
        let details = details(&mut problems, request.details.as_ref());
        finish_keyed(problems, &request)?;
        let details = checked(details)?;
        let tenant = call.tenant()?;
        let hash = tenure_db::idempotency::request_hash(&request.canonical());
        if let Some(order) = self
            .replayed(tenant, &request.idempotency_key, &hash)
            .await?
        {
            return Ok(pb::CreateOrderResponse { order: Some(order) });
        }
        let order_id = Uuid::new_v4();
        tracing::Span::current().record("tenure.order_id", order_id.to_string());
        let created = tenure_telemetry::in_order_scope(order_id.to_string(), async {
            let input = self.facts(tenant, order_id, details).await?;
            self.place(
                call,
                tenant,
                order_id,
                input,
                &request.idempotency_key,
                &hash,
            )
            .await
        })
        .await;
        let order = match created {
            // A concurrent request with the same key won the insert: answer with its order.
            Err(OrdersError::Busy) => self
                .replayed(tenant, &request.idempotency_key, &hash)
                .await?
                .ok_or(OrdersError::Busy)?,
            other => other?,
        };
        self.engine.wake();
        self.engine.events_committed();
        Ok(pb::CreateOrderResponse { order: Some(order) })
    }

    /// The order an earlier request with this key placed, or the refusal of a different request
    /// under the same key.
    async fn replayed(
        &self,
        tenant: Uuid,
        key: &str,
        hash: &[u8],
    ) -> Result<Option<pb::Order>, OrdersError> {
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
            Ok(Some(convert::order(&self.registry, &record)?))
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
                if self
                    .peers()?
                    .live_account(tenant, &account)
                    .await?
                    .is_some()
                {
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
    ) -> Result<pb::Order, OrdersError> {
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
        let view = convert::order(&self.registry, &record)?;
        tx.commit().await?;
        Ok(view)
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
