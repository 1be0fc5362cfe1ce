//! Removing an account from the platform without touching AWS, and restoring it (seed 004).

use tenure_domain::{CallerRole, Problems};
use tenure_proto::Keyed;
use tenure_proto::accounts::v1 as pb;
use uuid::Uuid;

use crate::api::account_service::records::{AccountResponse, record_id};
use crate::api::context::{checked, finish_keyed, keyed};
use crate::app::{Accounts, Call, MembershipChange};
use crate::domain::{AccountsError, FreeText, Ticket};

/// Reads the record id and the reason of a removal or restore. Operators give a reason of 10 or more
/// characters and a support ticket, as for every change they make on a customer's behalf.
fn read_request(
    call: &Call,
    request: &impl Keyed,
    account_id: &str,
    reason: &str,
    ticket: &str,
) -> Result<(Uuid, MembershipChange), AccountsError> {
    let mut problems = Problems::new();
    let id = record_id(&mut problems, "account_id", account_id);
    let operator = call.caller.role == CallerRole::Operator;
    let reason = if operator {
        problems.check("reason", FreeText::operator_reason(reason))
    } else {
        problems.check("reason", FreeText::reason(reason))
    };
    let ticket = if operator || !ticket.is_empty() {
        problems.check("ticket", Ticket::parse(ticket)).map(Some)
    } else {
        Some(None)
    };
    finish_keyed(problems, request)?;
    Ok((
        checked(id)?,
        MembershipChange {
            reason: checked(reason)?,
            ticket: checked(ticket)?,
        },
    ))
}

pub(crate) async fn remove_account_from_platform(
    app: &Accounts,
    call: &Call,
    request: pb::RemoveAccountFromPlatformRequest,
) -> Result<pb::RemoveAccountFromPlatformResponse, AccountsError> {
    let (id, why) = read_request(
        call,
        &request,
        &request.account_id,
        &request.reason,
        &request.ticket,
    )?;
    keyed(
        &request,
        pb::RemoveAccountFromPlatformResponse::of,
        async |idempotent| {
            app.remove_account_from_platform(call, idempotent, id, why)
                .await
        },
    )
    .await
}

pub(crate) async fn restore_account_to_platform(
    app: &Accounts,
    call: &Call,
    request: pb::RestoreAccountToPlatformRequest,
) -> Result<pb::RestoreAccountToPlatformResponse, AccountsError> {
    let (id, why) = read_request(
        call,
        &request,
        &request.account_id,
        &request.reason,
        &request.ticket,
    )?;
    keyed(
        &request,
        pb::RestoreAccountToPlatformResponse::of,
        async |idempotent| {
            app.restore_account_to_platform(call, idempotent, id, why)
                .await
        },
    )
    .await
}
