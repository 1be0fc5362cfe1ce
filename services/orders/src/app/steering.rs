//! CancelOrder, AnswerOrderQuery and SignalOrder: a customer steering its own order. Each changes
//! the saga in one transaction with its idempotency record, and leaves the decisions to the engine,
//! which the change makes due at once.

use tenure_db::TenantTx;
use tenure_domain::{AwsAccountId, RootEmail};
use uuid::Uuid;

use crate::app::{Answer, Call, Idempotent, Orders, Subject, definition_of, lock_refusal};
use crate::domain::order::{InputField, OrderDetails, OrderStatus};
use crate::domain::records::OrderRecord;
use crate::domain::saga::state::{QueryAnswer, SagaStatus, WaitReason};
use crate::domain::{OrdersError, Rejection};
use crate::store;
use crate::store::orders::SagaUpdate;

/// A customer's answer to a query, validated like new input.
pub(crate) enum CustomerAnswer {
    RootEmail(RootEmail),
    ManagementAccountId(AwsAccountId),
    LinkedAccountIds(Vec<AwsAccountId>),
    Confirmed,
}

impl CustomerAnswer {
    fn field(&self) -> Option<InputField> {
        match self {
            CustomerAnswer::RootEmail(_) => Some(InputField::RootEmail),
            CustomerAnswer::ManagementAccountId(_) => Some(InputField::ManagementAccountId),
            CustomerAnswer::LinkedAccountIds(_) => Some(InputField::LinkedAccountIds),
            CustomerAnswer::Confirmed => None,
        }
    }

    /// The details with the answer in place, or `None` when the order has no such field.
    fn applied(&self, details: &OrderDetails) -> Option<OrderDetails> {
        let mut details = details.clone();
        match (self, &mut details) {
            (CustomerAnswer::Confirmed, _) => {}
            (CustomerAnswer::RootEmail(new), OrderDetails::NewAccount { root_email, .. }) => {
                *root_email = Some(new.clone());
            }
            (
                CustomerAnswer::ManagementAccountId(new),
                OrderDetails::BillingTransfer {
                    management_account_id,
                    ..
                },
            ) => management_account_id.clone_from(new),
            (
                CustomerAnswer::LinkedAccountIds(new),
                OrderDetails::OrganizationTransfer {
                    uses_organizations: false,
                    linked_account_ids,
                    ..
                },
            ) => linked_account_ids.clone_from(new),
            _ => return None,
        }
        Some(details)
    }
}

impl Orders {
    /// The customer's order in its own tenant, and the view the API answers with.
    async fn own_order(tx: &TenantTx, id: Uuid) -> Result<OrderRecord, OrdersError> {
        Self::order_in(tx, id).await
    }

    /// Asks the engine to cancel the customer's order, while the order has not yet changed the
    /// customer's AWS account.
    pub(crate) async fn cancel(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, OrderRecord>,
        id: Uuid,
    ) -> Result<Answer<OrderRecord>, OrdersError> {
        let tenant = call.tenant()?;
        self.mutate(call, idempotent, async |tx, now| {
            let record = Self::own_order(tx, id).await?;
            let saga = &record.saga.snapshot;
            if record.status == OrderStatus::Cancelled || saga.cancel_requested {
                return Ok((
                    Self::order_in(tx, id).await?,
                    Some(Subject { tenant, order: id }),
                ));
            }
            if record.status.is_terminal() {
                return Err(OrdersError::precondition(
                    "ORDER_ENDED",
                    "This order has already ended.",
                ));
            }
            let definition = definition_of(&self.registry, &record)?;
            let cutoff = definition.customer_cancel_until;
            let started = definition.nodes.get(saga.node).map_or("a step", |node| node.title);
            let too_late = saga.past_pivot || cutoff.is_some_and(|cutoff| saga.node >= cutoff);
            if too_late || !store::orders::request_cancel(&**tx, saga.id, now).await? {
                return Err(OrdersError::Precondition(Rejection::new(
                    "TNR014",
                    format!(
                        "This order can no longer be cancelled: {started} has already changed your AWS account."
                    ),
                )));
            }
            store::orders::make_due(&**tx, saga.id, now).await?;
            Ok((
                Self::order_in(tx, id).await?,
                Some(Subject { tenant, order: id }),
            ))
        })
        .await
    }

    /// Records the customer's answer to the order's open query, changing the order's details (and
    /// its locks) when the answer edits a field.
    pub(crate) async fn answer_query(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, OrderRecord>,
        id: Uuid,
        query_id: Uuid,
        answer: CustomerAnswer,
    ) -> Result<Answer<OrderRecord>, OrdersError> {
        let tenant = call.tenant()?;
        self.mutate(call, idempotent, async |tx, now| {
            let record = Self::own_order(tx, id).await?;
            let saga = &record.saga.snapshot;
            let query = saga
                .state
                .query
                .as_ref()
                .filter(|query| query.id == query_id && saga.status == SagaStatus::Querying)
                .ok_or_else(|| {
                    OrdersError::precondition(
                        "QUERY_NOT_OPEN",
                        "This order is not waiting for an answer to that query.",
                    )
                })?;
            let editable = match answer.field() {
                Some(field) => query.editable_fields.contains(&field),
                None => true,
            };
            let details = answer
                .applied(&saga.input.details)
                .filter(|_| editable)
                .ok_or_else(|| {
                    let mut problem = tenure_domain::field_problem(
                        "NOT_EDITABLE",
                        "this query does not ask for that field",
                        "TNR008",
                    );
                    problem.field = "answer".to_owned();
                    OrdersError::invalid(problem)
                })?;
            if !store::orders::take_over(&**tx, saga.id, now, self.real_now()).await? {
                return Err(OrdersError::Busy);
            }
            let changed: Vec<InputField> = answer
                .field()
                .filter(|_| details != saga.input.details)
                .into_iter()
                .collect();
            let mut state = saga.state.clone();
            state.answer = Some(QueryAnswer {
                query_id,
                changed: changed.clone(),
            });
            let mut input = saga.input.clone();
            let mut update_input = None;
            if !changed.is_empty() {
                input.details = details.clone();
                update_input = Some((input.clone(), saga.input_rev + 1));
                if let Err(held) =
                    store::sagas::replace_locks(tx, saga.id, tenant, &details.locks(tenant), now)
                        .await?
                {
                    return Err(lock_refusal(&held));
                }
                store::orders::update_details(&**tx, id, &details).await?;
            }
            store::orders::update_saga(
                &**tx,
                saga.id,
                &SagaUpdate {
                    status: SagaStatus::Querying,
                    input: update_input,
                    state,
                    attempt: saga.attempt,
                    wait: Some(WaitReason {
                        kind: "run".to_owned(),
                        node: saga.node,
                        since: now,
                        until: None,
                        detail: "the customer answered".to_owned(),
                    }),
                    finished_at: None,
                },
                0,
                now,
            )
            .await?;
            Ok((
                Self::order_in(tx, id).await?,
                Some(Subject { tenant, order: id }),
            ))
        })
        .await
    }

    /// Makes the customer's order due now.
    pub(crate) async fn signal(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, OrderRecord>,
        id: Uuid,
    ) -> Result<Answer<OrderRecord>, OrdersError> {
        let tenant = call.tenant()?;
        self.mutate(call, idempotent, async |tx, now| {
            let record = Self::own_order(tx, id).await?;
            if record.status.is_terminal() {
                return Err(OrdersError::precondition(
                    "ORDER_ENDED",
                    "This order has already ended.",
                ));
            }
            // A check-now moves the next look forward; it never skips one (domain.md §4.3).
            store::orders::make_due(&**tx, record.saga.snapshot.id, now).await?;
            Ok((
                Self::order_in(tx, id).await?,
                Some(Subject { tenant, order: id }),
            ))
        })
        .await
    }
}
