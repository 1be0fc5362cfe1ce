//! `tenure orders`: place, read, list, follow, cancel, answer and signal orders.

use tenure_proto::orders::v1 as pb;
use tenure_proto::orders::v1::create_order_request::Details;

use super::connect::{Session, idempotency_key};
use super::errors::{Answer as _, present};
use super::render::{Flat, Printer, table};
use super::{money, proto::Proto as _, watch};
use crate::cli::{AnswerOrder, CreateOrder, ListOrders, OrdersCommand};
use crate::output::TerminalSizer;

/// The columns of `orders list`.
const ORDER_COLUMNS: &[&str] = &[
    "id",
    "kind",
    "status",
    "status_key",
    "aws_account_id",
    "created_at",
];

/// The columns of a timeline's steps; the wait's explanation goes last, being the longest.
/// `duration` is no field of a step: it is the time from its start to its finish.
const STEP_COLUMNS: &[&str] = &[
    "name",
    "owner",
    "state",
    "attempts",
    "started_at",
    "finished_at",
    "duration",
    "wait_reason",
    "due_at",
    "task_id",
    "last_error_code",
    "wait_detail",
];

pub(super) async fn run(
    command: OrdersCommand,
    session: Session,
    printer: Printer,
    sizer: TerminalSizer,
) -> anyhow::Result<()> {
    match command {
        OrdersCommand::Create(order) => {
            let placed = create(&session, order).await?;
            printer.show(&placed)
        }
        OrdersCommand::Get(id) => printer.show(&get(&session, &id.order_id).await?),
        OrdersCommand::List(filter) => list(&session, printer, filter).await,
        OrdersCommand::Timeline(id) => {
            let timeline = session
                .orders()?
                .get_order_timeline(pb::GetOrderTimelineRequest {
                    order_id: id.order_id,
                })
                .await
                .answer()?;
            show_timeline(printer, &timeline)
        }
        OrdersCommand::Watch(id) => watch::follow(&session, printer, &id.order_id, sizer).await,
        OrdersCommand::Cancel(cancel) => {
            let answer = session
                .orders()?
                .cancel_order(pb::CancelOrderRequest {
                    idempotency_key: idempotency_key(cancel.key.idempotency_key.as_deref()),
                    order_id: cancel.order_id,
                    reason: cancel.reason,
                })
                .await
                .answer()?;
            printer.show(&present(answer.order, "order")?)
        }
        OrdersCommand::Answer(answer) => printer.show(&answer_query(&session, answer).await?),
        OrdersCommand::Signal(signal) => {
            let order = self::signal(
                &session,
                &signal.order_id,
                signal.key.idempotency_key.as_deref(),
            )
            .await?;
            printer.show(&order)
        }
    }
}

/// Places the order `kind` describes.
pub(super) async fn create(session: &Session, kind: CreateOrder) -> anyhow::Result<pb::Order> {
    let (key, details) = match kind {
        CreateOrder::NewAccount(order) => (
            order.key,
            Details::NewAccount(pb::NewAccountOrder {
                root_email: order.root_email,
                account_name: order.account_name,
                support_contact: order.support_contact,
            }),
        ),
        CreateOrder::BillingTransfer(order) => (
            order.key,
            Details::BillingTransfer(pb::BillingTransferOrder {
                management_account_id: order.management_account,
                transfer_name: order.transfer_name,
            }),
        ),
        CreateOrder::OrganizationTransfer(order) => (
            order.key,
            Details::OrganizationTransfer(pb::OrganizationTransferOrder {
                uses_organizations: order.management_account.is_some(),
                management_account_id: order.management_account.unwrap_or_default(),
                linked_account_ids: order.linked_account,
            }),
        ),
        CreateOrder::Terminate(order) => (
            order.key,
            Details::Terminate(pb::TerminateOrder {
                aws_account_id: order.account,
                mode: order.mode,
                acknowledgements: order.acknowledgements,
                reason: order.reason,
                acknowledged_open_balance: money::confirmed(order.balance),
            }),
        ),
    };
    let placed = session
        .orders()?
        .create_order(pb::CreateOrderRequest {
            idempotency_key: idempotency_key(key.idempotency_key.as_deref()),
            details: Some(details),
        })
        .await
        .answer()?;
    present(placed.order, "order")
}

/// Reads one order.
pub(super) async fn get(session: &Session, order_id: &str) -> anyhow::Result<pb::Order> {
    let answer = session
        .orders()?
        .get_order(pb::GetOrderRequest {
            order_id: order_id.to_owned(),
        })
        .await
        .answer()?;
    present(answer.order, "order")
}

async fn list(session: &Session, printer: Printer, filter: ListOrders) -> anyhow::Result<()> {
    let mut request = pb::ListOrdersRequest {
        page_size: filter.page.page_size,
        page_token: filter.page.page_token,
        kinds: filter.kinds,
        statuses: filter.statuses,
        aws_account_id: filter.account,
        created_after: filter.after,
        created_before: filter.before,
        tenant_id: filter.tenant,
    };
    let mut answer = session
        .orders()?
        .list_orders(request.clone())
        .await
        .answer()?;
    if filter.all {
        // Every page into one answer, as if the server had sent them at once; a token seen before
        // would loop forever, so it ends the listing as an error rather than silently.
        let mut seen = std::collections::HashSet::new();
        while !answer.next_page_token.is_empty() {
            if !seen.insert(answer.next_page_token.clone()) {
                anyhow::bail!(
                    "the server sent page token {} twice; the list is incomplete",
                    answer.next_page_token
                );
            }
            request.page_token = std::mem::take(&mut answer.next_page_token);
            let next = session
                .orders()?
                .list_orders(request.clone())
                .await
                .answer()?;
            answer.orders.extend(next.orders);
            answer.next_page_token = next.next_page_token;
        }
    }
    printer.list(&answer, "orders", ORDER_COLUMNS)
}

/// The order's summary, then its steps as a table.
pub(super) fn show_timeline(
    printer: Printer,
    timeline: &pb::GetOrderTimelineResponse,
) -> anyhow::Result<()> {
    if printer.is_json() {
        return printer.show(timeline);
    }
    let order = present(timeline.order.clone(), "order")?;
    let flat = Flat::of(&order.dynamic()?);
    let summary: Vec<&str> = ["id", "kind", "status", "status_key", "aws_account_id"]
        .iter()
        .filter_map(|key| flat.get(key))
        .collect();
    let steps: Vec<super::render::Row> = timeline
        .steps
        .iter()
        .map(|step| {
            let mut row = Flat::of(&step.dynamic()?).scalars;
            if let Some(took) = step_duration(step) {
                row.push(("duration".to_owned(), took));
            }
            Ok(row)
        })
        .collect::<anyhow::Result<_>>()?;
    let mut text = summary.join("  ");
    if let Some(survey) = &order.survey {
        text.push_str(&format!("\n{}", survey_line(survey)));
    }
    printer.note(&format!(
        "{text}\n{}",
        table(&steps, Some(STEP_COLUMNS)).trim_end()
    ))
}

/// How long a finished step took, from its first start to its finish, as `1h02m`, `3m05s`, `12s` or
/// `250ms`; nothing while it runs or when it never started (a skipped step).
fn step_duration(step: &pb::OrderStep) -> Option<String> {
    let (Some(started), Some(finished)) = (step.started_at, step.finished_at) else {
        return None;
    };
    let nanos =
        |at: prost_types::Timestamp| i128::from(at.seconds) * 1_000_000_000 + i128::from(at.nanos);
    let took = nanos(finished) - nanos(started);
    // A finish before the start is a clock the client cannot judge; it shows as nothing, not as 0.
    let millis = u64::try_from(took / 1_000_000).ok()?;
    Some(human_duration(millis))
}

/// `millis` as people read a duration, to the two largest units.
fn human_duration(millis: u64) -> String {
    let seconds = millis / 1000;
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    if days > 0 {
        format!("{days}d{hours:02}h")
    } else if hours > 0 {
        format!("{hours}h{minutes:02}m")
    } else if minutes > 0 {
        format!("{minutes}m{:02}s", seconds % 60)
    } else if seconds > 0 {
        format!("{seconds}s")
    } else {
        format!("{millis}ms")
    }
}

/// `survey  TASK_STATE_COMPLETED  score 5/5  deadline …  task …`: where the order's satisfaction
/// survey stands.
fn survey_line(survey: &pb::OrderSurvey) -> String {
    let state = pb::TaskState::try_from(survey.state).map_or_else(
        |_| survey.state.to_string(),
        |state| state.as_str_name().to_owned(),
    );
    let mut line = format!("survey  {state}");
    if let Some(answer) = &survey.answer {
        line.push_str(&format!("  score {}/5", answer.score));
    }
    match (survey.resolved_at, survey.deadline) {
        (Some(resolved), _) => line.push_str(&format!("  resolved {resolved}")),
        (None, Some(deadline)) => line.push_str(&format!("  deadline {deadline}")),
        (None, None) => {}
    }
    line.push_str(&format!("  task {}", survey.task_id));
    line
}

/// Answers the order's open query (or the one named).
async fn answer_query(session: &Session, answer: AnswerOrder) -> anyhow::Result<pb::Order> {
    use pb::answer_order_query_request::Answer;
    let query_id = match answer.query {
        Some(query) => query,
        None => {
            let order = get(session, &answer.order_id).await?;
            match order.query {
                Some(query) => query.id,
                None => anyhow::bail!(
                    "order {} asks nothing now (it is {}); nothing to answer",
                    answer.order_id,
                    pb::OrderStatus::try_from(order.status)
                        .map_or("in an unknown status", |status| status.as_str_name())
                ),
            }
        }
    };
    let reply = if let Some(email) = answer.root_email {
        Answer::RootEmail(email)
    } else if let Some(account) = answer.management_account {
        Answer::ManagementAccountId(account)
    } else if !answer.linked_account.is_empty() {
        Answer::LinkedAccountIds(pb::AccountIdList {
            aws_account_ids: answer.linked_account,
        })
    } else {
        Answer::Confirmed(answer.confirmed)
    };
    let answered = session
        .orders()?
        .answer_order_query(pb::AnswerOrderQueryRequest {
            idempotency_key: idempotency_key(answer.key.idempotency_key.as_deref()),
            order_id: answer.order_id,
            query_id,
            answer: Some(reply),
        })
        .await
        .answer()?;
    present(answered.order, "order")
}

/// Asks the order to look at AWS again now.
pub(super) async fn signal(
    session: &Session,
    order_id: &str,
    key: Option<&str>,
) -> anyhow::Result<pb::Order> {
    let answer = session
        .orders()?
        .signal_order(pb::SignalOrderRequest {
            idempotency_key: idempotency_key(key),
            order_id: order_id.to_owned(),
            signal: pb::OrderSignal::CheckNow as i32,
        })
        .await
        .answer()?;
    present(answer.order, "order")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64, nanos: i32) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp { seconds, nanos })
    }

    #[test]
    fn a_step_takes_from_its_start_to_its_finish() {
        let step = |started, finished| pb::OrderStep {
            started_at: started,
            finished_at: finished,
            ..pb::OrderStep::default()
        };
        assert_eq!(
            step_duration(&step(at(100, 0), at(100, 250_000_000))).as_deref(),
            Some("250ms")
        );
        assert_eq!(
            step_duration(&step(at(100, 900_000_000), at(112, 0))).as_deref(),
            Some("11s")
        );
        assert_eq!(
            step_duration(&step(at(0, 0), at(185, 0))).as_deref(),
            Some("3m05s")
        );
        assert_eq!(
            step_duration(&step(at(0, 0), at(3720, 0))).as_deref(),
            Some("1h02m")
        );
        assert_eq!(
            step_duration(&step(at(0, 0), at(90 * 86_400 + 3600, 0))).as_deref(),
            Some("90d01h")
        );
        // Running, never started, or a finish the client cannot believe: no duration.
        assert_eq!(step_duration(&step(at(0, 0), None)), None);
        assert_eq!(step_duration(&step(None, None)), None);
        assert_eq!(step_duration(&step(at(10, 0), at(5, 0))), None);
    }
}
