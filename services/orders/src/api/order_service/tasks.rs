//! ListTasks and CompleteTask: the handlers check the request and answer with the tasks the use
//! cases in `app::tasks` read or resolve.

use prost::Message as _;
use tenure_domain::{FreeText, Problems, field_problem, parse_id};
use tenure_grpc::paging::Page;
use tenure_proto::orders::v1 as pb;

use crate::api::context::{Call, Orders, at, checked, finish, finish_keyed, idempotent, reply};
use crate::api::convert;
use crate::api::order_service::reading::{order_id, record_order};
use crate::app::{ResolveTask, owned_by};
use crate::domain::OrdersError;
use crate::domain::order::TaskState;
use crate::domain::records::{SurveyAnswer, TaskRecord};

/// The longest survey comment, in characters.
const SURVEY_COMMENT_MAX: usize = 1000;

/// A survey answer: a score from 1 to 5 and an optional comment of plain text.
fn survey_answer(problems: &mut Problems, raw: &pb::SurveyAnswer) -> Option<SurveyAnswer> {
    let score = u8::try_from(raw.score)
        .ok()
        .filter(|score| (1..=5).contains(score));
    if score.is_none() {
        problems.push(at(
            "survey.score",
            field_problem(
                "SCORE_RANGE",
                "a score is a whole number from 1 (not at all satisfied) to 5 (very satisfied)",
                "TNR004",
            ),
        ));
    }
    let comment_fits = raw.comment.chars().count() <= SURVEY_COMMENT_MAX
        && raw
            .comment
            .chars()
            .all(tenure_domain::is_free_text_character);
    if !comment_fits {
        problems.push(at(
            "survey.comment",
            field_problem(
                "COMMENT_FORMAT",
                "a comment has up to 1,000 characters and no control characters",
                "TNR013",
            ),
        ));
    }
    Some(SurveyAnswer {
        score: score?,
        comment: comment_fits.then(|| raw.comment.clone())?,
    })
}

impl Orders {
    pub(crate) async fn list_tasks(
        &self,
        call: &Call,
        request: pb::ListTasksRequest,
    ) -> Result<pb::ListTasksResponse, OrdersError> {
        let mut problems = Problems::new();
        let state = if request.state == 0 {
            Some(TaskState::Open)
        } else {
            problems.check("state", convert::task_state_from(request.state))
        };
        let order = if request.order_id.is_empty() {
            Some(None)
        } else {
            order_id(&mut problems, &request.order_id).map(Some)
        };
        // The caller's role is refused before its request is checked.
        owned_by(call)?;
        let reach = call.reach()?;
        let scope = format!("{reach:?}|{}|{}", request.state, request.order_id);
        let page = Page::of_request(&mut problems, call.method, &request, scope);
        finish(problems, || ())?;
        let (state, order, page) = (checked(state)?, checked(order)?, checked(page)?);
        let rows = self
            .tasks(call, state, order, page.request.offset, page.fetch_limit())
            .await?;
        let (rows, next_page_token) = page.of(rows);
        Ok(pb::ListTasksResponse {
            tasks: rows.iter().map(convert::task).collect(),
            next_page_token,
        })
    }

    pub(crate) async fn complete_task(
        &self,
        call: &Call,
        request: pb::CompleteTaskRequest,
    ) -> Result<pb::CompleteTaskResponse, OrdersError> {
        let mut problems = Problems::new();
        let task_id = problems.check("task_id", parse_id(&request.task_id));
        let outcome = match pb::TaskOutcome::try_from(request.outcome) {
            Ok(pb::TaskOutcome::Completed) => Some(TaskState::Completed),
            Ok(pb::TaskOutcome::Rejected) => Some(TaskState::Rejected),
            _ => {
                problems.push(at("outcome", tenure_domain::required()));
                None
            }
        };
        let note = problems.check("note", FreeText::reason(&request.note));
        let survey = match &request.survey {
            None => Some(None),
            Some(raw) => survey_answer(&mut problems, raw).map(Some),
        };
        if outcome == Some(TaskState::Rejected) && request.note.is_empty() {
            problems.push(at(
                "note",
                tenure_domain::field_problem("REQUIRED", "say why the task is rejected", "TNR004"),
            ));
        }
        finish_keyed(problems, &request)?;
        let (task_id, outcome, note, survey) = (
            checked(task_id)?,
            checked(outcome)?,
            checked(note)?,
            checked(survey)?,
        );
        let to = |task: &TaskRecord| {
            record_order(task.order_id);
            Ok(pb::CompleteTaskResponse {
                task: Some(convert::task(task)),
            })
        };
        let encode = |task: &TaskRecord| to(task).map(|response| response.encode_to_vec());
        let resolution = ResolveTask {
            task_id,
            outcome,
            note,
            survey,
        };
        let answer = self
            .resolve_task(call, idempotent(&request, &encode)?, resolution)
            .await?;
        reply(answer, to)
    }
}
