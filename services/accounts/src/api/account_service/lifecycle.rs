//! Termination checks and the offboarding, closure and reopening steps.

use tenure_domain::{AwsAccountId, CallerRole, Problems};
use tenure_proto::accounts::v1 as pb;
use tenure_proto::common::v1 as common;

use crate::api::account_service::records::{AccountResponse, held_record, record_id};
use crate::api::context::{at, checked, finish, finish_keyed, keyed};
use crate::api::convert::{self, EmailView, non_empty};
use crate::app::{Accounts, Call, Termination, TerminationCheck};
use crate::domain::{
    AccountsError, Acknowledgement, FreeText, Money, Outcome, TerminationMode, Ticket,
    check_instant, field_problem, required, unsupported,
};

fn acknowledgements(problems: &mut Problems, raw: &[i32]) -> Vec<Acknowledgement> {
    let mut given = Vec::new();
    for (index, value) in raw.iter().enumerate() {
        if let Some(ack) = problems.check(
            format!("acknowledgements[{index}]"),
            convert::acknowledgement_from(*value),
        ) {
            given.push(ack);
        }
    }
    given
}

/// The open balance a termination request confirms, when it names one.
fn confirmed_balance(
    problems: &mut Problems,
    raw: Option<&common::Money>,
) -> Option<Option<Money>> {
    match raw {
        None => Some(None),
        Some(raw) => {
            convert::money_from(problems, "acknowledged_open_balance", Some(raw)).map(Some)
        }
    }
}

/// The termination a request asks for, from its checked fields.
fn termination(
    aws_account_id: Option<AwsAccountId>,
    mode: Option<TerminationMode>,
    acknowledgements: Vec<Acknowledgement>,
    open_balance: Option<Option<Money>>,
) -> Result<Termination, AccountsError> {
    Ok(Termination {
        aws_account_id: checked(aws_account_id)?,
        mode: checked(mode)?,
        acknowledgements,
        open_balance: checked(open_balance)?,
    })
}

fn termination_check(check: &TerminationCheck) -> pb::CheckTerminationResponse {
    pb::CheckTerminationResponse {
        open_balance: check
            .account
            .open_balance
            .as_ref()
            .map(convert::open_balance),
        account: Some(convert::account(&check.account, EmailView::Full)),
        eligible: check.problems.is_empty(),
        problems: check
            .problems
            .iter()
            .map(|problem| pb::TerminationProblem {
                code: problem.code.to_owned(),
                message: problem.message.clone(),
            })
            .collect(),
        required_acknowledgements: check
            .required_acknowledgements
            .iter()
            .map(|ack| convert::acknowledgement_to(*ack))
            .collect(),
    }
}

pub(crate) async fn check_termination(
    app: &Accounts,
    call: &Call,
    request: pb::CheckTerminationRequest,
) -> Result<pb::CheckTerminationResponse, AccountsError> {
    let mut problems = Problems::new();
    let aws_account_id = problems.check(
        "aws_account_id",
        AwsAccountId::parse(&request.aws_account_id),
    );
    let mode = problems.check("mode", convert::termination_mode_from(request.mode));
    let given = acknowledgements(&mut problems, &request.acknowledgements);
    let order_id = match non_empty(&request.order_id) {
        None => Some(None),
        Some(raw) => record_id(&mut problems, "order_id", raw).map(Some),
    };
    let balance = confirmed_balance(&mut problems, request.acknowledged_open_balance.as_ref());
    finish(problems, || ())?;
    let termination = termination(aws_account_id, mode, given, balance)?;
    let order_id = checked(order_id)?;
    let check = app.check_termination(call, termination, order_id).await?;
    Ok(termination_check(&check))
}

pub(crate) async fn begin_offboarding(
    app: &Accounts,
    call: &Call,
    request: pb::BeginOffboardingRequest,
) -> Result<pb::BeginOffboardingResponse, AccountsError> {
    let mut problems = Problems::new();
    let aws_account_id = problems.check(
        "aws_account_id",
        AwsAccountId::parse(&request.aws_account_id),
    );
    let order_id = record_id(&mut problems, "order_id", &request.order_id);
    let mode = problems.check("mode", convert::termination_mode_from(request.mode));
    let given = acknowledgements(&mut problems, &request.acknowledgements);
    let reason = problems.check("reason", FreeText::reason(&request.reason));
    let balance = confirmed_balance(&mut problems, request.acknowledged_open_balance.as_ref());
    finish_keyed(problems, &request)?;
    let termination = termination(aws_account_id, mode, given, balance)?;
    let (order_id, reason) = (checked(order_id)?, checked(reason)?);
    keyed(
        &request,
        pb::BeginOffboardingResponse::of,
        async |idempotent| {
            app.begin_offboarding(call, idempotent, termination, order_id, reason)
                .await
        },
    )
    .await
}

pub(crate) async fn abort_offboarding(
    app: &Accounts,
    call: &Call,
    request: pb::AbortOffboardingRequest,
) -> Result<pb::AbortOffboardingResponse, AccountsError> {
    let (id, reason) = held_record(&request, &request.account_id, &request.reason)?;
    keyed(
        &request,
        pb::AbortOffboardingResponse::of,
        async |idempotent| app.abort_offboarding(call, idempotent, id, reason).await,
    )
    .await
}

pub(crate) async fn record_offboarding_outcome(
    app: &Accounts,
    call: &Call,
    request: pb::RecordOffboardingOutcomeRequest,
) -> Result<pb::RecordOffboardingOutcomeResponse, AccountsError> {
    let now = app.now();
    let mut problems = Problems::new();
    let id = record_id(&mut problems, "account_id", &request.account_id);
    let order_id = record_id(&mut problems, "order_id", &request.order_id);
    let outcome = match pb::OffboardingOutcome::try_from(request.outcome) {
        Ok(pb::OffboardingOutcome::PendingClosure) => Some(Outcome::PendingClosure),
        Ok(pb::OffboardingOutcome::Unlinked) => Some(Outcome::Unlinked),
        Ok(pb::OffboardingOutcome::WithdrawnBeforeStart) => Some(Outcome::WithdrawnBeforeStart),
        Ok(pb::OffboardingOutcome::Unlinking) => match &request.billing_ends_at {
            None => {
                problems.push(at("billing_ends_at", required()));
                None
            }
            Some(raw) => problems
                .check(
                    "billing_ends_at",
                    convert::instant(Some(raw)).and_then(|at| check_instant(at, now)),
                )
                .map(|billing_ends_at| Outcome::Unlinking { billing_ends_at }),
        },
        _ => {
            problems.push(at("outcome", required()));
            None
        }
    };
    if request.billing_ends_at.is_some()
        && matches!(
            outcome,
            Some(Outcome::PendingClosure | Outcome::Unlinked | Outcome::WithdrawnBeforeStart)
        )
    {
        problems.push(unsupported(
            "billing_ends_at",
            "only an unlinking billing transfer has a billing end",
        ));
    }
    finish_keyed(problems, &request)?;
    let (id, order_id, outcome) = (checked(id)?, checked(order_id)?, checked(outcome)?);
    keyed(
        &request,
        pb::RecordOffboardingOutcomeResponse::of,
        async |idempotent| {
            app.record_offboarding_outcome(call, idempotent, id, order_id, outcome)
                .await
        },
    )
    .await
}

pub(crate) async fn record_closure(
    app: &Accounts,
    call: &Call,
    request: pb::RecordClosureRequest,
) -> Result<pb::RecordClosureResponse, AccountsError> {
    let now = app.now();
    let mut problems = Problems::new();
    let id = record_id(&mut problems, "account_id", &request.account_id);
    let closed_at = problems.check(
        "closed_at",
        convert::instant(request.closed_at.as_ref())
            .and_then(|at| check_instant(at, now))
            .and_then(|at| {
                if at <= now {
                    Ok(at)
                } else {
                    Err(field_problem(
                        "TIMESTAMP_IN_FUTURE",
                        "a closure cannot lie in the future",
                        "TNR004",
                    ))
                }
            }),
    );
    let reason = if call.caller.role == CallerRole::Operator {
        problems.check("reason", FreeText::operator_reason(&request.reason))
    } else {
        problems.check("reason", FreeText::reason(&request.reason))
    };
    finish_keyed(problems, &request)?;
    let (id, closed_at, reason) = (checked(id)?, checked(closed_at)?, checked(reason)?);
    keyed(
        &request,
        pb::RecordClosureResponse::of,
        async |idempotent| {
            app.record_closure(call, idempotent, id, closed_at, reason)
                .await
        },
    )
    .await
}

pub(crate) async fn reopen_account(
    app: &Accounts,
    call: &Call,
    request: pb::ReopenAccountRequest,
) -> Result<pb::ReopenAccountResponse, AccountsError> {
    let mut problems = Problems::new();
    let id = record_id(&mut problems, "account_id", &request.account_id);
    let reason = problems.check("reason", FreeText::operator_reason(&request.reason));
    let ticket = problems.check("ticket", Ticket::parse(&request.ticket));
    finish_keyed(problems, &request)?;
    let (id, reason, ticket) = (checked(id)?, checked(reason)?, checked(ticket)?);
    keyed(
        &request,
        pb::ReopenAccountResponse::of,
        async |idempotent| {
            app.reopen_account(call, idempotent, id, reason, ticket)
                .await
        },
    )
    .await
}
