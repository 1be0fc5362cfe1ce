//! Steering a running order: the customer answers a query and cancels, operations staff retry a step
//! now and abort, each within the rules of the pivot, and every operator action leaves an audit row.

use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
use tenure_grpc::ServiceKind;
use tenure_proto::orders::v1 as pb;
use tenure_proto::orders::v1::answer_order_query_request::Answer;
use tenure_proto::orders::v1::create_order_request::Details;
use tenure_proto::provisioning::v1 as prov;
use tonic::Code;
use uuid::Uuid;

use super::{catalogue_code, event_types, unique};
use crate::stack::{As, MANAGEMENT, Stack, key};

/// Makes `email` taken in the platform organization, as an account Tenure never registered would.
async fn take_email(stack: &Stack, tenant: Uuid, email: &str) {
    let operation = stack
        .provisioning()
        .await
        .create_account(stack.request(
            &As::Orders(tenant),
            ServiceKind::Provisioning,
            prov::CreateAccountRequest {
                idempotency_key: key(),
                management_account_id: MANAGEMENT.to_owned(),
                email: email.to_owned(),
                account_name: "Created outside Tenure".to_owned(),
            },
        ))
        .await
        .expect("create account")
        .into_inner()
        .operation
        .expect("operation");
    stack.settle(tenant, &operation.id).await;
}

/// A new-account order for an email already taken, parked in its query.
async fn querying_order(stack: &Stack, tenant: Uuid) -> pb::Order {
    let taken = format!("taken-{}@example.com", unique());
    take_email(stack, tenant, &taken).await;
    let order = stack
        .place(
            tenant,
            Details::NewAccount(pb::NewAccountOrder {
                root_email: taken,
                account_name: format!("Workload {}", unique()),
                support_contact: String::new(),
            }),
        )
        .await
        .expect("place");
    let querying = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Querying, false)
        .await;
    let query = querying.query.clone().expect("the order asks the customer");
    assert_eq!(query.code, "TNR101");
    assert_eq!(query.editable_fields, ["root_email"]);
    querying
}

async fn answer(
    stack: &Stack,
    tenant: Uuid,
    order: &pb::Order,
    answer: Answer,
) -> Result<pb::Order, tonic::Status> {
    let query = order.query.as_ref().expect("query");
    stack
        .orders()
        .await
        .answer_order_query(stack.request(
            &As::Customer(tenant),
            ServiceKind::Orders,
            pb::AnswerOrderQueryRequest {
                idempotency_key: key(),
                order_id: order.id.clone(),
                query_id: query.id.clone(),
                answer: Some(answer),
            },
        ))
        .await
        .map(|response| response.into_inner().order.expect("order"))
}

async fn saga(stack: &Stack, order_id: &str) -> pb::Saga {
    stack
        .saga_admin()
        .await
        .get_saga(stack.request(
            &As::Operator,
            ServiceKind::Orders,
            pb::GetSagaRequest {
                lookup: Some(pb::get_saga_request::Lookup::OrderId(order_id.to_owned())),
            },
        ))
        .await
        .expect("saga")
        .into_inner()
        .saga
        .expect("saga")
}

fn wait_kind(saga: &pb::Saga) -> &str {
    saga.wait_reason
        .as_ref()
        .map_or("", |reason| reason.kind.as_str())
}

/// The operators' audit trail of an order: action and ticket, oldest first.
async fn audit_trail(stack: &Stack, order_id: &str) -> Vec<(String, String)> {
    let db = stack.sql(ServiceKind::Orders).await;
    let rows = db
        .conn()
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT action, ticket FROM saga_audit WHERE order_id = $1 ORDER BY id",
            [order_id.parse::<Uuid>().expect("uuid").into()],
        ))
        .await
        .expect("audit");
    db.close().await.ok();
    rows.iter()
        .map(|row| {
            (
                row.try_get("", "action").expect("action"),
                row.try_get("", "ticket").expect("ticket"),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_taken_root_email_queries_the_customer_and_the_corrected_email_completes_the_order() {
    let stack = Stack::start().await;
    let tenant = stack.seed(0).await.tenant;
    let querying = querying_order(&stack, tenant).await;
    // The query asks for the root email only; any other answer is refused and changes nothing.
    let refused = answer(
        &stack,
        tenant,
        &querying,
        Answer::ManagementAccountId(MANAGEMENT.to_owned()),
    )
    .await
    .expect_err("not the field asked for");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let violations = tonic_types::StatusExt::get_details_bad_request(&refused)
        .expect("violations")
        .field_violations;
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(
        stack
            .order(&As::Customer(tenant), &querying.id)
            .await
            .expect("order")
            .status,
        pb::OrderStatus::Querying as i32
    );
    let corrected = format!("corrected-{}@example.com", unique());
    answer(&stack, tenant, &querying, Answer::RootEmail(corrected))
        .await
        .expect("answer");
    let done = stack
        .await_status(tenant, &querying.id, pb::OrderStatus::Completed, true)
        .await;
    assert_eq!(done.aws_account_id.len(), 12, "{done:?}");
    stack.owners.shutdown().await;
}

async fn retry_now(stack: &Stack, saga_id: &str, ticket: &str) -> Result<pb::Saga, tonic::Status> {
    stack
        .saga_admin()
        .await
        .retry_now(stack.request(
            &As::Operator,
            ServiceKind::Orders,
            pb::RetryNowRequest {
                idempotency_key: key(),
                saga_id: saga_id.to_owned(),
                reason: "the customer says it is done in AWS".to_owned(),
                ticket: ticket.to_owned(),
            },
        ))
        .await
        .map(|response| response.into_inner().saga.expect("saga"))
}

async fn abort(stack: &Stack, saga_id: String, reason: &str, ticket: &str) -> pb::Saga {
    stack
        .saga_admin()
        .await
        .abort_saga(stack.request(
            &As::Operator,
            ServiceKind::Orders,
            pb::AbortSagaRequest {
                idempotency_key: key(),
                saga_id,
                reason: reason.to_owned(),
                ticket: ticket.to_owned(),
            },
        ))
        .await
        .expect("abort")
        .into_inner()
        .saga
        .expect("saga")
}

/// Operator actions on `order_id` in the audit trail (action and ticket); reads are audited too.
async fn audited_actions(stack: &Stack, order_id: &str) -> Vec<(String, String)> {
    let (reads, actions): (Vec<_>, Vec<_>) = audit_trail(stack, order_id)
        .await
        .into_iter()
        .partition(|(action, _)| action == "GetSaga");
    assert!(
        !reads.is_empty(),
        "operators' reads of the saga are audited"
    );
    actions
}

#[tokio::test]
async fn an_operator_retry_checks_a_waiting_step_now_but_never_preempts_the_customers_answer() {
    let stack = Stack::start().await;
    let tenant = stack.seed(0).await.tenant;
    let management = super::fresh_account();
    let order = stack
        .place(
            tenant,
            Details::BillingTransfer(pb::BillingTransferOrder {
                management_account_id: management.clone(),
                transfer_name: String::new(),
            }),
        )
        .await
        .expect("place");
    stack
        .await_status(tenant, &order.id, pb::OrderStatus::Querying, false)
        .await;
    let handshake = stack.transfer_handshake(tenant, &management).await;
    stack.answer_handshake(&handshake, true).await;
    stack.deploy_customer_bootstrap(&management).await;
    // The acceptance is checked every 15 minutes; the operator's retry checks it now instead.
    let saga_id = saga(&stack, &order.id).await.id;
    let retried = retry_now(&stack, &saga_id, "OPS-101")
        .await
        .expect("retry now");
    assert_eq!(wait_kind(&retried), "operator");
    let done = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Completed, true)
        .await;
    assert_eq!(done.aws_account_id, management);
    // The retry, then operations completing the order's manual tasks.
    let actions = audited_actions(&stack, &order.id).await;
    assert_eq!(actions[0], ("RetryNow".to_owned(), "OPS-101".to_owned()));
    assert!(
        actions[1..]
            .iter()
            .all(|(action, _)| action == "CompleteTask"),
        "{actions:?}"
    );
    // A query for the customer's input is not the operator's to retry: nothing changes.
    let querying = querying_order(&stack, tenant).await;
    let saga_id = saga(&stack, &querying.id).await.id;
    let refused = retry_now(&stack, &saga_id, "OPS-102")
        .await
        .expect_err("the customer must answer");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(catalogue_code(&refused), "AWAITING_CUSTOMER_ANSWER");
    assert_eq!(wait_kind(&saga(&stack, &querying.id).await), "query");
    assert!(audited_actions(&stack, &querying.id).await.is_empty());
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn an_operator_abort_before_the_pivot_undoes_what_the_order_did() {
    let stack = Stack::start().await;
    let tenant = stack.seed(0).await.tenant;
    let querying = querying_order(&stack, tenant).await;
    let saga_id = saga(&stack, &querying.id).await.id;
    let aborted = abort(
        &stack,
        saga_id,
        "the customer withdrew the order by phone",
        "OPS-103",
    )
    .await;
    assert!(!aborted.past_pivot);
    let cancelled = stack
        .await_status(tenant, &querying.id, pb::OrderStatus::Cancelled, false)
        .await;
    assert!(cancelled.aws_account_id.is_empty());
    let states = stack.step_states(tenant, &querying.id).await;
    assert_eq!(states["reserve_account"], pb::StepState::Compensated);
    assert_eq!(
        audited_actions(&stack, &querying.id).await,
        [("AbortSaga".to_owned(), "OPS-103".to_owned())]
    );
    let events = event_types(&stack.order_stream(&As::Billing).await, &querying.id);
    assert!(
        events.iter().any(|kind| kind == "operator.action_taken"),
        "{events:?}"
    );
    stack.owners.shutdown().await;
}

#[tokio::test]
async fn past_its_pivot_an_order_cannot_be_cancelled_and_an_abort_fails_it_undoing_nothing() {
    let stack = Stack::start().await;
    let tenant = stack.seed(0).await.tenant;
    let order = stack
        .place(
            tenant,
            Details::NewAccount(pb::NewAccountOrder {
                root_email: format!("root-{}@example.com", unique()),
                account_name: format!("Workload {}", unique()),
                support_contact: "ops@example.com".to_owned(),
            }),
        )
        .await
        .expect("place");
    // Operations' tasks come once the account exists: past the point of no return.
    stack.first_open_task(&order.id).await;
    let parked = stack
        .order(&As::Customer(tenant), &order.id)
        .await
        .expect("order");
    assert_eq!(parked.aws_account_id.len(), 12, "{parked:?}");
    let refused = stack
        .cancel_order(&As::Customer(tenant), &order.id)
        .await
        .expect_err("too late to cancel");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(catalogue_code(&refused), "TNR014");
    let saga_id = saga(&stack, &order.id).await.id;
    let aborted = abort(
        &stack,
        saga_id,
        "the customer's contract was withdrawn",
        "OPS-201",
    )
    .await;
    assert_eq!(aborted.status, pb::SagaStatus::Aborted as i32);
    let failed = stack
        .order(&As::Customer(tenant), &order.id)
        .await
        .expect("order");
    assert_eq!(failed.status, pb::OrderStatus::Failed as i32);
    assert_eq!(failed.failure.expect("failure").code, "TNR905");
    // The account AWS created stays, and no step was undone.
    assert_eq!(failed.aws_account_id, parked.aws_account_id);
    let states = stack.step_states(tenant, &order.id).await;
    assert!(
        states
            .values()
            .all(|state| *state != pb::StepState::Compensated),
        "{states:?}"
    );
    assert!(
        stack
            .open_tasks(&As::Operator, Some(&order.id))
            .await
            .is_empty(),
        "the abort closed the order's tasks"
    );
    assert_eq!(
        audited_actions(&stack, &order.id).await,
        [("AbortSaga".to_owned(), "OPS-201".to_owned())]
    );
    stack.owners.shutdown().await;
}
