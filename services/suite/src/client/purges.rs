//! `tenure purges`: scheduled deletions, their dry runs, legal holds and the receipt chain.

use tenure_proto::purge::v1 as pb;

use super::connect::{Session, idempotency_key};
use super::errors::{Answer as _, present};
use super::render::Printer;
use crate::cli::PurgesCommand;

const PURGE_COLUMNS: &[&str] = &[
    "id",
    "scope.kind",
    "scope.aws_account_id",
    "reason",
    "state",
    "due_at",
    "receipt_id",
];
const HOLD_COLUMNS: &[&str] = &[
    "id",
    "scope.kind",
    "scope.tenant_id",
    "scope.aws_account_id",
    "ticket",
    "placed_at",
    "released_at",
];
const RECEIPT_COLUMNS: &[&str] = &[
    "sequence",
    "purge_id",
    "scope_kind",
    "completed_at",
    "residual_rows",
    "hash",
];

pub(super) async fn run(
    command: PurgesCommand,
    session: Session,
    printer: Printer,
) -> anyhow::Result<()> {
    let mut purges = session.purges()?;
    match command {
        PurgesCommand::List(filter) => {
            let answer = purges
                .list_purges(pb::ListPurgesRequest {
                    page_size: filter.page.page_size,
                    page_token: filter.page.page_token,
                    states: filter.states,
                    aws_account_id: filter.account,
                    tenant_id: filter.tenant,
                })
                .await
                .answer()?;
            printer.list(&answer, "purges", PURGE_COLUMNS)
        }
        PurgesCommand::Get(id) => {
            let answer = purges
                .get_purge(pb::GetPurgeRequest {
                    purge_id: id.purge_id,
                })
                .await
                .answer()?;
            printer.show(&present(answer.purge, "purge")?)
        }
        PurgesCommand::Plan(id) => {
            let answer = purges
                .plan_purge(pb::PlanPurgeRequest {
                    purge_id: id.purge_id,
                })
                .await
                .answer()?;
            printer.show(&present(answer.plan, "plan")?)
        }
        PurgesCommand::Expedite(expedite) => {
            let answer = purges
                .expedite_purge(pb::ExpeditePurgeRequest {
                    idempotency_key: idempotency_key(expedite.key.idempotency_key.as_deref()),
                    purge_id: expedite.purge_id,
                    ticket: expedite.ticket,
                    reason: expedite.reason,
                })
                .await
                .answer()?;
            printer.show(&present(answer.purge, "purge")?)
        }
        PurgesCommand::Cancel(cancel) => {
            let answer = purges
                .cancel_purge(pb::CancelPurgeRequest {
                    idempotency_key: idempotency_key(cancel.key.idempotency_key.as_deref()),
                    target: Some(pb::cancel_purge_request::Target::PurgeId(cancel.purge_id)),
                    reason: cancel.reason,
                })
                .await
                .answer()?;
            printer.show(&present(answer.purge, "purge")?)
        }
        PurgesCommand::Hold(hold) => {
            let scope = pb::PurgeScope {
                kind: if hold.account.is_some() {
                    pb::ScopeKind::Account as i32
                } else {
                    pb::ScopeKind::Tenant as i32
                },
                tenant_id: hold.tenant,
                aws_account_id: hold.account.unwrap_or_default(),
            };
            let answer = purges
                .set_legal_hold(pb::SetLegalHoldRequest {
                    idempotency_key: idempotency_key(hold.why.key.idempotency_key.as_deref()),
                    scope: Some(scope),
                    reason: hold.why.reason,
                    ticket: hold.why.ticket,
                })
                .await
                .answer()?;
            printer.show(&present(answer.hold, "hold")?)
        }
        PurgesCommand::Release(release) => {
            let answer = purges
                .release_legal_hold(pb::ReleaseLegalHoldRequest {
                    idempotency_key: idempotency_key(release.why.key.idempotency_key.as_deref()),
                    hold_id: release.hold_id,
                    reason: release.why.reason,
                    ticket: release.why.ticket,
                })
                .await
                .answer()?;
            printer.show(&present(answer.hold, "hold")?)
        }
        PurgesCommand::Holds(filter) => {
            let answer = purges
                .list_legal_holds(pb::ListLegalHoldsRequest {
                    page_size: filter.page.page_size,
                    page_token: filter.page.page_token,
                    active_only: filter.active,
                })
                .await
                .answer()?;
            printer.list(&answer, "holds", HOLD_COLUMNS)
        }
        PurgesCommand::Receipt(id) => printer.show(&receipt(&session, &id.purge_id).await?),
        PurgesCommand::Receipts(page) => {
            let answer = purges
                .list_receipts(pb::ListReceiptsRequest {
                    page_size: page.page_size,
                    page_token: page.page_token,
                })
                .await
                .answer()?;
            printer.list(&answer, "receipts", RECEIPT_COLUMNS)
        }
        PurgesCommand::Verify => {
            let answer = verify(&session).await?;
            printer.show(&answer)?;
            if answer.intact {
                Ok(())
            } else {
                anyhow::bail!(
                    "the receipt chain is broken at receipt {}",
                    answer.first_broken_receipt_id
                )
            }
        }
    }
}

/// The receipt of a completed purge.
pub(super) async fn receipt(session: &Session, purge_id: &str) -> anyhow::Result<pb::Receipt> {
    let answer = session
        .purges()?
        .get_receipt(pb::GetReceiptRequest {
            purge_id: purge_id.to_owned(),
        })
        .await
        .answer()?;
    present(answer.receipt, "receipt")
}

/// Checks the whole receipt chain.
pub(super) async fn verify(session: &Session) -> anyhow::Result<pb::VerifyReceiptChainResponse> {
    Ok(session
        .purges()?
        .verify_receipt_chain(pb::VerifyReceiptChainRequest {})
        .await
        .answer()?)
}
