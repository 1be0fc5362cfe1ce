//! `tenure tasks`: the manual steps of orders, for the role that owns them.

use tenure_proto::orders::v1 as pb;

use super::connect::{Session, idempotency_key};
use super::errors::{Answer as _, present};
use super::render::Printer;
use crate::cli::{CompleteTask, ListTasks, TasksCommand};

/// The columns of `tasks list`.
const TASK_COLUMNS: &[&str] = &[
    "id", "order_id", "step", "owner", "state", "title", "deadline",
];

pub(super) async fn run(
    command: TasksCommand,
    session: Session,
    printer: Printer,
) -> anyhow::Result<()> {
    match command {
        TasksCommand::List(filter) => {
            let answer = list(&session, filter).await?;
            printer.list(&answer, "tasks", TASK_COLUMNS)
        }
        TasksCommand::Complete(completion) => printer.show(&complete(&session, completion).await?),
    }
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

/// Completes or rejects one task.
pub(super) async fn complete(
    session: &Session,
    completion: CompleteTask,
) -> anyhow::Result<pb::Task> {
    let outcome = if completion.reject {
        pb::TaskOutcome::Rejected
    } else {
        pb::TaskOutcome::Completed
    };
    let answer = session
        .orders()?
        .complete_task(pb::CompleteTaskRequest {
            idempotency_key: idempotency_key(completion.key.idempotency_key.as_deref()),
            task_id: completion.task_id,
            outcome: outcome as i32,
            note: completion.note.unwrap_or_default(),
        })
        .await
        .answer()?;
    present(answer.task, "task")
}
