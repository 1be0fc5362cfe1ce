//! Removing an account from the platform without touching AWS, and restoring it (seed 004).

use tenure_domain::{CallerRole, Problems};
use tenure_proto::Keyed;
use tenure_proto::accounts::v1 as pb;
use uuid::Uuid;

use crate::api::account_service::records::{AccountResponse, record_id};
use crate::api::context::{checked, finish_keyed, keyed};
use crate::app::{Accounts, Answer, Call, Idempotent, MembershipChange};
use crate::domain::{AccountRecord, AccountsError, FreeText, Ticket};

/// The record id, reason and ticket fields of a removal or restore request.
type MembershipFields<'a> = (&'a str, &'a str, &'a str);

/// Reads a removal or restore and runs it under its idempotency key. Operators give a reason of 10
/// or more characters and a support ticket, as for every change they make on a customer's behalf.
async fn change_membership<R: AccountResponse>(
    call: &Call,
    request: &impl Keyed,
    (account_id, reason, ticket): MembershipFields<'_>,
    run: impl AsyncFnOnce(
        Idempotent<'_, AccountRecord>,
        Uuid,
        MembershipChange,
    ) -> Result<Answer<AccountRecord>, AccountsError>,
) -> Result<R, AccountsError> {
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
    let (id, why) = (
        checked(id)?,
        MembershipChange {
            reason: checked(reason)?,
            ticket: checked(ticket)?,
        },
    );
    keyed(request, R::of, async |idempotent| {
        run(idempotent, id, why).await
    })
    .await
}

pub(crate) async fn remove_account_from_platform(
    app: &Accounts,
    call: &Call,
    request: pb::RemoveAccountFromPlatformRequest,
) -> Result<pb::RemoveAccountFromPlatformResponse, AccountsError> {
    let fields = (&*request.account_id, &*request.reason, &*request.ticket);
    change_membership(call, &request, fields, async |idempotent, id, why| {
        app.remove_account_from_platform(call, idempotent, id, why)
            .await
    })
    .await
}

pub(crate) async fn restore_account_to_platform(
    app: &Accounts,
    call: &Call,
    request: pb::RestoreAccountToPlatformRequest,
) -> Result<pb::RestoreAccountToPlatformResponse, AccountsError> {
    let fields = (&*request.account_id, &*request.reason, &*request.ticket);
    change_membership(call, &request, fields, async |idempotent, id, why| {
        app.restore_account_to_platform(call, idempotent, id, why)
            .await
    })
    .await
}
