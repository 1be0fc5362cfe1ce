//! `tenure tasks`: the manual steps of orders, for the role that owns them: actions to carry out and
//! the customer's satisfaction survey.

use tenure_proto::orders::v1 as pb;
use tonic::Status;

use super::connect::{Session, idempotency_key};
use super::errors::{Answer as _, RpcError, present};
use super::proto::Proto as _;
use super::render::{Flat, Printer, Row, key_values};
use crate::cli::{CompleteTask, ListTasks, ShowTask, TasksCommand};

/// The columns of `tasks list`. `holds_order` is not a field: it says whether the order waits for the
/// task, which `blocks_order` says as a boolean that flattening would leave out when false.
const TASK_COLUMNS: &[&str] = &[
    "id",
    "order_id",
    "step",
    "kind",
    "owner",
    "state",
    "holds_order",
    "title",
    "deadline",
];

/// The states `tasks show` looks through, open first since that is what people usually ask about.
const SEARCHED_STATES: &[pb::TaskState] = &[
    pb::TaskState::Open,
    pb::TaskState::Completed,
    pb::TaskState::Rejected,
    pb::TaskState::Expired,
    pb::TaskState::Cancelled,
];

/// The largest page the server gives.
const MAX_PAGE: u32 = 100;

pub(super) async fn run(
    command: TasksCommand,
    session: Session,
    printer: Printer,
) -> anyhow::Result<()> {
    match command {
        TasksCommand::List(filter) => {
            let answer = list(&session, filter).await?;
            let rows: Vec<Row> = answer
                .tasks
                .iter()
                .map(task_row)
                .collect::<anyhow::Result<_>>()?;
            printer.list_rows(&answer, "tasks", &rows, TASK_COLUMNS)
        }
        TasksCommand::Show(wanted) => show(printer, &find(&session, wanted).await?),
        TasksCommand::Complete(completion) => show(printer, &complete(&session, completion).await?),
    }
}

/// A task as a table row, with whether it holds its order.
fn task_row(task: &pb::Task) -> anyhow::Result<Row> {
    let mut row = Flat::row(&task.dynamic()?);
    row.push((
        "holds_order".to_owned(),
        if task.blocks_order { "yes" } else { "no" }.to_owned(),
    ));
    Ok(row)
}

/// One task: its fields, whether it holds the order, then its instructions numbered in order (a
/// flattened list would run them together on one line).
fn show(printer: Printer, task: &pb::Task) -> anyhow::Result<()> {
    if printer.is_json() {
        return printer.json_line(task);
    }
    let mut pairs: Vec<(String, String)> = Flat::of(&task.dynamic()?)
        .scalars
        .into_iter()
        .filter(|(key, _)| key != "instructions" && key != "blocks_order")
        .collect();
    pairs.push((
        "holds_order".to_owned(),
        if task.blocks_order { "yes" } else { "no" }.to_owned(),
    ));
    let mut text = key_values(&pairs);
    if !task.instructions.is_empty() {
        text.push_str("\ninstructions:\n");
        for (number, step) in task.instructions.iter().enumerate() {
            text.push_str(&format!("  {}. {step}\n", number + 1));
        }
    }
    printer.note(text.trim_end())
}

/// The tasks the caller's role owns that match `filter`.
pub(super) async fn list(
    session: &Session,
    filter: ListTasks,
) -> anyhow::Result<pb::ListTasksResponse> {
    Ok(session
        .orders()?
        .list_tasks(pb::ListTasksRequest {
            page_size: filter.page.page_size,
            page_token: filter.page.page_token,
            state: filter.state.unwrap_or_default(),
            order_id: filter.order,
        })
        .await
        .answer()?)
}

/// The task `wanted` names, looked up among the tasks the caller's role owns: the orders API reads
/// tasks only as lists, by state and order.
async fn find(session: &Session, wanted: ShowTask) -> anyhow::Result<pb::Task> {
    for state in SEARCHED_STATES {
        let mut page_token = String::new();
        loop {
            let page = session
                .orders()?
                .list_tasks(pb::ListTasksRequest {
                    page_size: MAX_PAGE,
                    page_token,
                    state: *state as i32,
                    order_id: wanted.order.clone(),
                })
                .await
                .answer()?;
            if let Some(task) = page
                .tasks
                .into_iter()
                .find(|task| task.id == wanted.task_id)
            {
                return Ok(task);
            }
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
    }
    // Worded as the server words a missing record, and reported like one (exit code 3): the task
    // does not exist, or another role or tenant owns it.
    Err(RpcError::from(Status::not_found(format!(
        "no task {} among the tasks your role owns{}",
        wanted.task_id,
        if wanted.order.is_empty() {
            String::new()
        } else {
            format!(" in order {}", wanted.order)
        }
    )))
    .into())
}

/// Completes or rejects one task; a survey is completed with its answer.
pub(super) async fn complete(
    session: &Session,
    completion: CompleteTask,
) -> anyhow::Result<pb::Task> {
    let outcome = if completion.reject {
        pb::TaskOutcome::Rejected
    } else {
        pb::TaskOutcome::Completed
    };
    let survey = completion.score.map(|score| pb::SurveyAnswer {
        score,
        comment: completion.comment.unwrap_or_default(),
    });
    let answer = session
        .orders()?
        .complete_task(pb::CompleteTaskRequest {
            idempotency_key: idempotency_key(completion.key.idempotency_key.as_deref()),
            task_id: completion.task_id,
            outcome: outcome as i32,
            note: completion.note.unwrap_or_default(),
            survey,
        })
        .await
        .answer()?;
    present(answer.task, "task")
}
