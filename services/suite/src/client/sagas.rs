//! `tenure sagas`: operations staff list the sagas that run orders, the stuck ones first of all, read
//! one, run its step again now, or abort it, over the orders service's SagaAdmin API. Every call is
//! for operators only, so a refusal of the caller's role says which token to use.

use tenure_proto::orders::v1 as pb;
use tenure_proto::orders::v1::get_saga_request::Lookup;

use super::connect::{Session, idempotency_key};
use super::errors::{Answer as _, operators_only, present};
use super::render::Printer;
use crate::cli::{ListSagas, SagaRef, SagasCommand, SteerSaga};

/// The columns of `sagas list`: what an operator triages by, the order first since that is what
/// every other command takes.
const SAGA_COLUMNS: &[&str] = &[
    "order_id",
    "definition",
    "status",
    "step",
    "attempt",
    "wait_reason.kind",
    "wait_reason.since",
    "updated_at",
];

/// The statuses `--stuck` selects: the sagas that wait for an operator and for nothing else.
const STUCK: &[pb::SagaStatus] = &[pb::SagaStatus::Blocked, pb::SagaStatus::CompensationStuck];

pub(super) async fn run(
    command: SagasCommand,
    session: Session,
    printer: Printer,
) -> anyhow::Result<()> {
    match command {
        SagasCommand::List(filter) => {
            let answer = session
                .saga_admin()?
                .list_sagas(list_request(filter)?)
                .await
                .answer()
                .map_err(|error| operators_only(error, "sagas list"))?;
            printer.list(&answer, "sagas", SAGA_COLUMNS)
        }
        SagasCommand::Get(saga) => printer.show(&get(&session, &saga, "sagas get").await?),
        SagasCommand::RetryNow(steer) => {
            printer.show(&steer_saga(&session, steer, Steering::RetryNow).await?)
        }
        SagasCommand::Abort(steer) => {
            printer.show(&steer_saga(&session, steer, Steering::Abort).await?)
        }
    }
}

/// The request `sagas list` sends for `filter`.
fn list_request(filter: ListSagas) -> anyhow::Result<pb::ListSagasRequest> {
    let statuses = if filter.stuck {
        STUCK.iter().map(|status| *status as i32).collect()
    } else {
        filter.statuses
    };
    let stuck_for_seconds = match filter.unchanged_for {
        Some(duration) => u32::try_from(duration.as_secs()).map_err(|_| {
            anyhow::anyhow!("--unchanged-for is too long: give at most {}s", u32::MAX)
        })?,
        None => 0,
    };
    Ok(pb::ListSagasRequest {
        page_size: filter.page.page_size,
        page_token: filter.page.page_token,
        statuses,
        definition: filter.definition,
        stuck_for_seconds,
    })
}

/// The saga `saga` names, by its order's id or by its own; `command` names the refused command.
async fn get(session: &Session, saga: &SagaRef, command: &str) -> anyhow::Result<pb::Saga> {
    let lookup = if saga.saga {
        Lookup::SagaId(saga.id.clone())
    } else {
        Lookup::OrderId(saga.id.clone())
    };
    let answer = session
        .saga_admin()?
        .get_saga(pb::GetSagaRequest {
            lookup: Some(lookup),
        })
        .await
        .answer()
        .map_err(|error| operators_only(error, command))?;
    present(answer.saga, "saga")
}

/// What an operator does to a saga.
#[derive(Debug, Clone, Copy)]
enum Steering {
    RetryNow,
    Abort,
}

/// Retries or aborts the saga `steer` names, with its reason and ticket; the saga as it then stands.
async fn steer_saga(
    session: &Session,
    steer: SteerSaga,
    steering: Steering,
) -> anyhow::Result<pb::Saga> {
    let command = match steering {
        Steering::RetryNow => "sagas retry-now",
        Steering::Abort => "sagas abort",
    };
    let saga_id = get(session, &steer.saga, command).await?.id;
    let idempotency_key = idempotency_key(steer.why.key.idempotency_key.as_deref());
    let (reason, ticket) = (steer.why.reason, steer.why.ticket);
    let mut client = session.saga_admin()?;
    let saga = match steering {
        Steering::RetryNow => client
            .retry_now(pb::RetryNowRequest {
                idempotency_key,
                saga_id,
                reason,
                ticket,
            })
            .await
            .answer()
            .map(|answer| answer.saga),
        Steering::Abort => client
            .abort_saga(pb::AbortSagaRequest {
                idempotency_key,
                saga_id,
                reason,
                ticket,
            })
            .await
            .answer()
            .map(|answer| answer.saga),
    };
    present(
        saga.map_err(|error| operators_only(error, command))?,
        "saga",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Page;

    fn filter() -> ListSagas {
        ListSagas {
            stuck: false,
            statuses: vec![pb::SagaStatus::Manual as i32],
            definition: String::new(),
            unchanged_for: None,
            page: Page::default(),
        }
    }

    #[test]
    fn stuck_asks_for_the_sagas_waiting_on_an_operator() {
        let request = list_request(ListSagas {
            stuck: true,
            statuses: Vec::new(),
            ..filter()
        })
        .expect("request");
        assert_eq!(
            request.statuses,
            [
                pb::SagaStatus::Blocked as i32,
                pb::SagaStatus::CompensationStuck as i32
            ]
        );
        assert_eq!(request.stuck_for_seconds, 0);
    }

    #[test]
    fn unchanged_for_is_sent_in_seconds() {
        let request = list_request(ListSagas {
            unchanged_for: Some(std::time::Duration::from_secs(7200)),
            ..filter()
        })
        .expect("request");
        assert_eq!(request.stuck_for_seconds, 7200);
        assert_eq!(request.statuses, [pb::SagaStatus::Manual as i32]);
    }
}
