//! What every row checks at the end of its story, read through the public API as its users read it.

use std::time::Duration;

use tenure_grpc::ServiceKind;
use tenure_proto::accounts::v1 as accounts;
use tenure_proto::orders::v1 as pb;
use tenure_proto::purge::v1 as purge;
use uuid::Uuid;

use crate::stack::{As, Stack};

/// Who owns a step, as the seeds' tables name it.
pub(crate) use tenure_proto::orders::v1::StepOwner as Owner;
/// Where a step stands.
pub(crate) use tenure_proto::orders::v1::StepState as State;

/// How long a story's next change may take at most.
const PATIENCE: Duration = Duration::from_secs(60);

/// The order's timeline as `(step, owner, state)`, in definition order. Steps that do not apply to
/// the order are left out: what remains is the row of the seed's table.
pub(crate) async fn steps(
    stack: &Stack,
    tenant: Uuid,
    order_id: &str,
) -> Vec<(String, Owner, State)> {
    stack
        .timeline(tenant, order_id)
        .await
        .steps
        .into_iter()
        .map(|step| {
            (
                step.name,
                Owner::try_from(step.owner).expect("owner"),
                State::try_from(step.state).expect("state"),
            )
        })
        .filter(|(_, _, state)| *state != State::Skipped)
        .collect()
}

/// Asserts the applicable steps of an order, with their owners and states, in order.
pub(crate) async fn assert_steps(
    stack: &Stack,
    tenant: Uuid,
    order_id: &str,
    expected: &[(&str, Owner, State)],
) {
    let actual = steps(stack, tenant, order_id).await;
    let actual: Vec<(&str, Owner, State)> = actual
        .iter()
        .map(|(name, owner, state)| (name.as_str(), *owner, *state))
        .collect();
    assert_eq!(actual, expected, "the steps of order {order_id}");
}

/// The step states of every step, skipped ones included, by name.
pub(crate) async fn step_state(stack: &Stack, tenant: Uuid, order_id: &str, step: &str) -> State {
    stack
        .timeline(tenant, order_id)
        .await
        .steps
        .into_iter()
        .find(|candidate| candidate.name == step)
        .map(|found| State::try_from(found.state).expect("state"))
        .unwrap_or_else(|| panic!("order {order_id} has no step {step}"))
}

/// The types of the business events billing reads for `order_id` (the order placed, what happened
/// to its accounts, purges and the survey), in stream order, once the stream shows `last` for the
/// order. Progress changes, tasks and operator actions in between are left out.
pub(crate) async fn events(stack: &Stack, order_id: &str, last: &str) -> Vec<String> {
    let payloads = events_of(stack, order_id, last).await;
    payloads
        .iter()
        .map(|event| event.r#type.clone())
        .filter(|kind| {
            kind == "order.placed"
                || kind.starts_with("account.")
                || kind.starts_with("purge.")
                || kind.starts_with("survey.")
        })
        .collect()
}

/// Every event billing reads for `order_id`, once the stream shows one of type `last`.
pub(crate) async fn events_of(stack: &Stack, order_id: &str, last: &str) -> Vec<pb::OrderEvent> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let read = read_caught_up(stack).await;
        let mine: Vec<pb::OrderEvent> = read
            .into_iter()
            .filter(|event| event.order_id == order_id)
            .collect();
        if mine.iter().any(|event| event.r#type == last) {
            return mine;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream never showed {last} for order {order_id}: {:?}",
            mine.iter().map(|event| &event.r#type).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The whole order stream as billing reads it, up to where it is caught up.
async fn read_caught_up(stack: &Stack) -> Vec<pb::OrderEvent> {
    let mut stream = stack
        .subscribe_from_beginning(stack.order_events().await, &As::Billing, 500)
        .await;
    let mut events = Vec::new();
    loop {
        let batch = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("a batch in time")
            .expect("stream")
            .expect("open");
        events.extend(batch.events);
        if batch.caught_up {
            return events;
        }
    }
}

/// The live or latest record of an AWS account, as the tenant reads it.
pub(crate) async fn account(
    stack: &Stack,
    tenant: Uuid,
    aws_account_id: &str,
) -> accounts::AwsAccount {
    let listed = stack
        .accounts()
        .await
        .list_accounts(stack.request(
            &As::Customer(tenant),
            ServiceKind::Accounts,
            accounts::ListAccountsRequest {
                page_size: 100,
                page_token: String::new(),
                states: Vec::new(),
                relationship: 0,
                management_account_id: String::new(),
                tenant_id: String::new(),
            },
        ))
        .await
        .expect("accounts")
        .into_inner()
        .accounts;
    listed
        .into_iter()
        .filter(|record| record.aws_account_id == aws_account_id)
        .max_by_key(|record| record.created_at.map(|at| (at.seconds, at.nanos)))
        .unwrap_or_else(|| panic!("no record of account {aws_account_id}"))
}

/// The lifecycle state of an AWS account's latest record.
pub(crate) async fn account_state(
    stack: &Stack,
    tenant: Uuid,
    aws_account_id: &str,
) -> accounts::AccountState {
    accounts::AccountState::try_from(account(stack, tenant, aws_account_id).await.state)
        .expect("state")
}

/// Waits until the account's latest record is in `state`.
pub(crate) async fn await_account_state(
    stack: &Stack,
    tenant: Uuid,
    aws_account_id: &str,
    state: accounts::AccountState,
) -> accounts::AwsAccount {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let record = account(stack, tenant, aws_account_id).await;
        if record.state == state as i32 {
            return record;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "account {aws_account_id} stayed {:?}, never {state:?}",
            accounts::AccountState::try_from(record.state)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The purges of one AWS account, as the tenant reads them.
pub(crate) async fn purges_of(
    stack: &Stack,
    tenant: Uuid,
    aws_account_id: &str,
) -> Vec<purge::Purge> {
    stack
        .purges()
        .await
        .list_purges(stack.request(
            &As::Customer(tenant),
            ServiceKind::DataPurge,
            purge::ListPurgesRequest {
                page_size: 100,
                ..Default::default()
            },
        ))
        .await
        .expect("purges")
        .into_inner()
        .purges
        .into_iter()
        .filter(|found| {
            found
                .scope
                .as_ref()
                .is_some_and(|scope| scope.aws_account_id == aws_account_id)
        })
        .collect()
}

/// Days from `from` to `to`, to the nearest whole day: business time runs on between two steps of
/// one story, by milliseconds.
pub(crate) fn days_between(
    from: Option<&prost_types::Timestamp>,
    to: Option<&prost_types::Timestamp>,
) -> i64 {
    let (Some(from), Some(to)) = (from, to) else {
        panic!("both instants are set: {from:?} {to:?}");
    };
    (to.seconds - from.seconds + 43_200).div_euclid(86_400)
}

/// The customer completes every open task of its own on `order_id` that holds the order
/// (confirmations in AWS or in the marketplace); the names of the tasks it completed.
pub(crate) async fn customer_completes(stack: &Stack, tenant: Uuid, order_id: &str) -> Vec<String> {
    let mut done = Vec::new();
    for task in stack
        .open_tasks(&As::Customer(tenant), Some(order_id))
        .await
    {
        // Follow-ups never hold the order; each row decides what the customer does with them.
        if !task.blocks_order {
            continue;
        }
        stack
            .complete_task(
                &As::Customer(tenant),
                &task.id,
                pb::TaskOutcome::Completed,
                "",
            )
            .await
            .expect("the customer completes its task");
        done.push(task.step);
    }
    done
}

/// Waits for `order_id` to reach `status`, completing every task of operations staff and every
/// task of the customer that holds the order, as they open: everyone does their part.
pub(crate) async fn everyone_helps(
    stack: &Stack,
    tenant: Uuid,
    order_id: &str,
    status: pb::OrderStatus,
) -> pb::Order {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let order = stack
            .order(&As::Customer(tenant), order_id)
            .await
            .expect("order");
        if order.status == status as i32 {
            return order;
        }
        if tokio::time::Instant::now() >= deadline {
            let timeline = stack.timeline(tenant, order_id).await;
            panic!(
                "order never got to {status:?}: {order:#?}\n{:#?}",
                timeline.steps
            );
        }
        for task in stack.open_tasks(&As::Operator, Some(order_id)).await {
            stack
                .complete_task(&As::Operator, &task.id, pb::TaskOutcome::Completed, "")
                .await
                .expect("operations complete their task");
        }
        customer_completes(stack, tenant, order_id).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The customer answers the order's open query.
pub(crate) async fn answer(
    stack: &Stack,
    tenant: Uuid,
    order: &pb::Order,
    answer: pb::answer_order_query_request::Answer,
) -> pb::Order {
    let query = order.query.as_ref().expect("the order asks something");
    stack
        .orders()
        .await
        .answer_order_query(stack.request(
            &As::Customer(tenant),
            ServiceKind::Orders,
            pb::AnswerOrderQueryRequest {
                idempotency_key: crate::stack::key(),
                order_id: order.id.clone(),
                query_id: query.id.clone(),
                answer: Some(answer),
            },
        ))
        .await
        .expect("the answer is taken")
        .into_inner()
        .order
        .expect("order")
}

/// A fresh, unique lower-case root email.
pub(crate) fn email(tag: &str) -> String {
    format!(
        "{tag}-{}@example.com",
        &Uuid::new_v4().simple().to_string()[..10]
    )
}

/// Operations complete their open tasks on `order_id` until the task of `step` opens; that task.
pub(crate) async fn operations_until(stack: &Stack, order_id: &str, step: &str) -> pb::Task {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        for task in stack.open_tasks(&As::Operator, Some(order_id)).await {
            if task.step == step {
                return task;
            }
            stack
                .complete_task(&As::Operator, &task.id, pb::TaskOutcome::Completed, "")
                .await
                .expect("operations complete their task");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "order {order_id} never opened {step}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The customer's open task of `step` on `order_id`, once it is open; operations complete their own
/// tasks meanwhile.
pub(crate) async fn customer_task(
    stack: &Stack,
    tenant: Uuid,
    order_id: &str,
    step: &str,
) -> pb::Task {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        for task in stack.open_tasks(&As::Operator, Some(order_id)).await {
            stack
                .complete_task(&As::Operator, &task.id, pb::TaskOutcome::Completed, "")
                .await
                .expect("operations complete their task");
        }
        let open = stack
            .open_tasks(&As::Customer(tenant), Some(order_id))
            .await;
        if let Some(task) = open.into_iter().find(|task| task.step == step) {
            return task;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "order {order_id} never opened the customer's {step}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The customer answers the order's satisfaction survey.
pub(crate) async fn answer_survey(stack: &Stack, tenant: Uuid, order_id: &str, score: u32) {
    let task = customer_task(stack, tenant, order_id, "satisfaction_survey").await;
    assert_eq!(task.kind, pb::TaskKind::Survey as i32);
    assert!(!task.blocks_order, "a survey never holds its order");
    stack
        .orders()
        .await
        .complete_task(stack.request(
            &As::Customer(tenant),
            ServiceKind::Orders,
            pb::CompleteTaskRequest {
                idempotency_key: crate::stack::key(),
                task_id: task.id,
                outcome: pb::TaskOutcome::Completed as i32,
                note: String::new(),
                survey: Some(pb::SurveyAnswer {
                    score,
                    comment: "Smooth hand-over, thank you.".to_owned(),
                }),
            },
        ))
        .await
        .expect("the survey is answered");
}
