//! `tenure events tail`: the order event stream in commit order, for people or, with `--json`, for
//! scripts (one object per line, flushed per event).

use tenure_proto::orders::v1 as pb;
use tenure_proto::orders::v1::subscribe_request::Start;

use super::connect::Session;
use super::errors::{Answer as _, RpcError};
use super::proto::Proto as _;
use super::render::{Flat, Printer};
use crate::cli::{EventsCommand, TailEvents};

/// The fields every event has; the rest of a line is its payload.
const HEADER_FIELDS: &[&str] = &[
    "event_id",
    "order_id",
    "order_seq",
    "type",
    "schema_version",
    "effective_at",
    "recorded_at",
    "position",
    "tenant_id",
];

pub(super) async fn run(
    command: EventsCommand,
    session: Session,
    printer: Printer,
) -> anyhow::Result<()> {
    match command {
        EventsCommand::Tail(tail) => self::tail(&session, printer, tail).await,
    }
}

async fn tail(session: &Session, printer: Printer, tail: TailEvents) -> anyhow::Result<()> {
    let start = if let Some(position) = tail.after {
        Start::After(position)
    } else if tail.from_now {
        Start::FromLatest(true)
    } else if let Some(name) = &tail.subscription {
        Start::Subscription(name.clone())
    } else {
        Start::FromBeginning(true)
    };
    let mut stream = session
        .order_events()?
        .subscribe(pb::SubscribeRequest {
            start: Some(start),
            types: tail.types,
            order_ids: tail.order_ids,
            max_batch: 0,
        })
        .await
        .answer()?;
    while let Some(batch) = stream.message().await.map_err(RpcError::from)? {
        for event in &batch.events {
            print(printer, event)?;
        }
        // Acknowledge only what was printed, so a crash between the two replays rather than loses.
        if let (true, Some(name)) = (tail.ack, &tail.subscription)
            && !batch.events.is_empty()
        {
            session
                .order_events()?
                .ack(pb::AckRequest {
                    subscription: name.clone(),
                    position: batch.position.clone(),
                })
                .await
                .answer()?;
        }
        if tail.until_caught_up && batch.caught_up {
            break;
        }
    }
    Ok(())
}

/// One event: a JSON line, or a line for people.
pub(super) fn print(printer: Printer, event: &pb::OrderEvent) -> anyhow::Result<()> {
    if printer.is_json() {
        printer.json_line(event)
    } else {
        printer.note(&line(event)?)
    }
}

/// `recorded_at  order  #seq  type  payload…  @position`.
fn line(event: &pb::OrderEvent) -> anyhow::Result<String> {
    let flat = Flat::of(&event.dynamic()?);
    let payload: Vec<String> = flat
        .scalars
        .iter()
        .filter(|(key, _)| {
            !HEADER_FIELDS.contains(&key.as_str()) && !key.starts_with("trace_context.")
        })
        .map(|(key, value)| {
            let short = key.split_once('.').map_or(key.as_str(), |(_, field)| field);
            format!("{short}={value}")
        })
        .collect();
    Ok(format!(
        "{}  {}  #{:<3} {:<22} {}  @{}",
        event
            .recorded_at
            .map_or_else(|| "-".to_owned(), |at| at.to_string()),
        event.order_id,
        event.order_seq,
        event.r#type,
        payload.join(" "),
        event.position
    ))
}
