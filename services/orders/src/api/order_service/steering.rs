//! CancelOrder, AnswerOrderQuery and SignalOrder: a customer steering its own order. Each changes
//! the saga in one transaction with its idempotency record, and leaves the decisions to the engine,
//! which the change makes due at once.

use tenure_db::TenantTx;
use tenure_domain::{AwsAccountId, FreeText, Problems, RootEmail};
use tenure_proto::orders::v1 as pb;
use uuid::Uuid;

use crate::api::context::{Call, Orders, Subject, at, checked, finish_keyed};
use crate::api::convert;
use crate::api::order_service::placing::{linked_accounts, lock_refusal};
use crate::api::order_service::reading::order_id;
use crate::domain::order::{InputField, OrderDetails, OrderStatus};
use crate::domain::saga::state::{QueryAnswer, SagaStatus, WaitReason};
use crate::domain::{OrdersError, Rejection};
use crate::store;
use crate::store::orders::{OrderRecord, SagaUpdate};

/// A customer's answer to a query, validated like new input.
enum Answer {
    RootEmail(RootEmail),
    ManagementAccountId(AwsAccountId),
    LinkedAccountIds(Vec<AwsAccountId>),
    Confirmed,
}

impl Answer {
    fn field(&self) -> Option<InputField> {
        match self {
            Answer::RootEmail(_) => Some(InputField::RootEmail),
            Answer::ManagementAccountId(_) => Some(InputField::ManagementAccountId),
            Answer::LinkedAccountIds(_) => Some(InputField::LinkedAccountIds),
            Answer::Confirmed => None,
        }
    }

    /// The details with the answer in place, or `None` when the order has no such field.
    fn applied(&self, details: &OrderDetails) -> Option<OrderDetails> {
        let mut details = details.clone();
        match (self, &mut details) {
            (Answer::Confirmed, _) => {}
            (Answer::RootEmail(new), OrderDetails::NewAccount { root_email, .. }) => {
                *root_email = Some(new.clone());
            }
            (
                Answer::ManagementAccountId(new),
                OrderDetails::BillingTransfer {
                    management_account_id,
                    ..
                },
            ) => management_account_id.clone_from(new),
            (
                Answer::LinkedAccountIds(new),
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

fn answer(
    problems: &mut Problems,
    raw: Option<&pb::answer_order_query_request::Answer>,
) -> Option<Answer> {
    use pb::answer_order_query_request::Answer as Raw;
    match raw {
        None => {
            problems.push(at("answer", tenure_domain::required()));
            None
        }
        Some(Raw::RootEmail(email)) => problems
            .check("root_email", RootEmail::parse(email))
            .map(Answer::RootEmail),
        Some(Raw::ManagementAccountId(id)) => problems
            .check("management_account_id", AwsAccountId::parse(id))
            .map(Answer::ManagementAccountId),
        Some(Raw::LinkedAccountIds(list)) => linked_accounts(
            problems,
            "linked_account_ids.aws_account_ids",
            &list.aws_account_ids,
        )
        .map(Answer::LinkedAccountIds),
        Some(Raw::Confirmed(true)) => Some(Answer::Confirmed),
        Some(Raw::Confirmed(false)) => {
            problems.push(at("confirmed", tenure_domain::required()));
            None
        }
    }
}

impl Orders {
    /// The customer's order in its own tenant, and the view the API answers with.
    async fn own_order(tx: &TenantTx, id: Uuid) -> Result<OrderRecord, OrdersError> {
        Self::order_in(tx, id).await
    }

    async fn view(&self, tx: &TenantTx, id: Uuid) -> Result<pb::Order, OrdersError> {
        let record = Self::order_in(tx, id).await?;
        convert::order(&self.registry, &record)
    }

    pub(crate) async fn cancel_order(
        &self,
        call: &Call,
        request: pb::CancelOrderRequest,
    ) -> Result<pb::CancelOrderResponse, OrdersError> {
        let mut problems = Problems::new();
        let id = order_id(&mut problems, &request.order_id);
        problems.check("reason", FreeText::reason(&request.reason));
        finish_keyed(problems, &request)?;
        let id = checked(id)?;
        let tenant = call.tenant()?;
        self.mutate(call, &request, async |tx, now| {
            let record = Self::own_order(tx, id).await?;
            let saga = &record.saga.snapshot;
            if record.status == OrderStatus::Cancelled || saga.cancel_requested {
                return Ok((
                    pb::CancelOrderResponse {
                        order: Some(self.view(tx, id).await?),
                    },
                    Some(Subject { tenant, order: id }),
                ));
            }
            if record.status.is_terminal() {
                return Err(OrdersError::precondition(
                    "ORDER_ENDED",
                    "This order has already ended.",
                ));
            }
            let definition = convert::definition_of(&self.registry, &record)?;
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
                pb::CancelOrderResponse {
                    order: Some(self.view(tx, id).await?),
                },
                Some(Subject { tenant, order: id }),
            ))
        })
        .await
    }

    pub(crate) async fn answer_order_query(
        &self,
        call: &Call,
        request: pb::AnswerOrderQueryRequest,
    ) -> Result<pb::AnswerOrderQueryResponse, OrdersError> {
        let mut problems = Problems::new();
        let id = order_id(&mut problems, &request.order_id);
        let query_id = problems.check("query_id", tenure_domain::parse_id(&request.query_id));
        let answer = answer(&mut problems, request.answer.as_ref());
        finish_keyed(problems, &request)?;
        let (id, query_id, answer) = (checked(id)?, checked(query_id)?, checked(answer)?);
        let tenant = call.tenant()?;
        self.mutate(call, &request, async |tx, now| {
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
                    OrdersError::invalid(at(
                        "answer",
                        tenure_domain::field_problem(
                            "NOT_EDITABLE",
                            "this query does not ask for that field",
                            "TNR008",
                        ),
                    ))
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
                pb::AnswerOrderQueryResponse {
                    order: Some(self.view(tx, id).await?),
                },
                Some(Subject { tenant, order: id }),
            ))
        })
        .await
    }

    pub(crate) async fn signal_order(
        &self,
        call: &Call,
        request: pb::SignalOrderRequest,
    ) -> Result<pb::SignalOrderResponse, OrdersError> {
        let mut problems = Problems::new();
        let id = order_id(&mut problems, &request.order_id);
        if pb::OrderSignal::try_from(request.signal) != Ok(pb::OrderSignal::CheckNow) {
            problems.push(at("signal", tenure_domain::required()));
        }
        finish_keyed(problems, &request)?;
        let id = checked(id)?;
        let tenant = call.tenant()?;
        self.mutate(call, &request, async |tx, now| {
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
                pb::SignalOrderResponse {
                    order: Some(self.view(tx, id).await?),
                },
                Some(Subject { tenant, order: id }),
            ))
        })
        .await
    }
}
