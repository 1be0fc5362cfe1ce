//! Billing transfers in the simulation: the invitation (a TRANSFER_RESPONSIBILITY handshake), who may
//! see a transfer, and TerminateResponsibilityTransfer, including a transfer ended before it started.

use chrono::{DateTime, Utc};
use tenure_domain::AwsAccountId;
use tenure_provisioning_cloud::{
    BillingTransfer, CloudResult, Handshake, HandshakeAction, HandshakeState, TransferInvitation,
    TransferStatus,
};

use super::handshakes::to_handshake;
use super::objects::{SimHandshake, SimTransfer};
use super::{
    HANDSHAKE_LIFETIME, LATEST_TRANSFER_START, SandboxCloud, account_id, fresh_id, rejected,
    storage, transfer_not_found,
};
use crate::domain::billing;
use crate::store::SandboxTable;

impl SandboxCloud {
    pub(super) async fn put_transfer(&self, transfer: &SimTransfer) -> CloudResult<()> {
        self.store
            .put(
                SandboxTable::Transfer,
                &transfer.id,
                &transfer.management,
                transfer,
            )
            .await
            .map_err(storage)
    }

    /// The transfer as `acting` sees it: as the receiving organization or as its source.
    async fn transfer_seen_by(
        &self,
        acting: &AwsAccountId,
        transfer_id: &str,
    ) -> CloudResult<SimTransfer> {
        let transfer = self.load_transfer(transfer_id).await?;
        if transfer.management == acting.as_str() || transfer.source == acting.as_str() {
            Ok(transfer)
        } else {
            Err(transfer_not_found())
        }
    }

    pub(super) async fn load_transfer(&self, transfer_id: &str) -> CloudResult<SimTransfer> {
        let found: Option<SimTransfer> = self
            .store
            .get(SandboxTable::Transfer, transfer_id)
            .await
            .map_err(storage)?;
        let Some(transfer) = found else {
            return Err(transfer_not_found());
        };
        // The handshake's expiry moves the transfer too. The transfer outlives the 30 days AWS lists
        // a terminal handshake for: a transfer accepted long ago is still described and ended.
        self.settled_handshake(&transfer.handshake_id).await?;
        self.store
            .get(SandboxTable::Transfer, transfer_id)
            .await
            .map_err(storage)?
            .ok_or_else(|| {
                storage(tenure_db::DbError::new(
                    tenure_db::ErrorKind::NotFound,
                    "transfer",
                ))
            })
    }

    pub(super) async fn invite_transfer(
        &self,
        acting: &AwsAccountId,
        invitation: &TransferInvitation,
    ) -> CloudResult<Handshake> {
        let _serial = self.serial.lock().await;
        self.organization(acting).await?;
        let now = self.now();
        let start = invitation.start_at;
        let source = &invitation.source_management_account;
        if source == acting {
            return Err(rejected(
                "HandshakeConstraintViolationException",
                Some("SOURCE_AND_TARGET_CANNOT_MATCH"),
                "an organization cannot transfer its bill to itself",
            ));
        }
        if !billing::is_midnight(start) {
            return Err(rejected(
                "InvalidInputException",
                Some("START_DATE_NOT_BEGINNING_OF_DAY"),
                "the start must be at 00:00:00 UTC",
            ));
        }
        if !billing::is_first_of_month(start) {
            return Err(rejected(
                "InvalidInputException",
                Some("START_DATE_NOT_BEGINNING_OF_MONTH"),
                "the start must be on the 1st of a month",
            ));
        }
        if billing::accept_by(start) <= now {
            return Err(rejected(
                "InvalidInputException",
                Some("START_DATE_TOO_EARLY"),
                "the start leaves no time to accept",
            ));
        }
        if start > now + LATEST_TRANSFER_START {
            return Err(rejected(
                "InvalidInputException",
                Some("START_DATE_TOO_LATE"),
                "the start is too far ahead",
            ));
        }
        let open = self
            .open_handshakes(acting, HandshakeAction::TransferResponsibility)
            .await?;
        if open
            .iter()
            .any(|handshake| handshake.target == source.as_str())
        {
            return Err(rejected(
                "DuplicateHandshakeException",
                None,
                "an open invitation to this account already exists",
            ));
        }
        let transfers: Vec<SimTransfer> = self
            .store
            .list(SandboxTable::Transfer, acting.as_str())
            .await
            .map_err(storage)?;
        if transfers.iter().any(|transfer| {
            transfer.source == source.as_str() && transfer.status == TransferStatus::Accepted
        }) {
            return Err(rejected(
                "HandshakeConstraintViolationException",
                Some("RESPONSIBILITY_TRANSFER_ALREADY_EXISTS"),
                "the account already has a billing transfer",
            ));
        }
        let handshake = SimHandshake {
            id: fresh_id("h-"),
            management: acting.to_string(),
            action: HandshakeAction::TransferResponsibility,
            state: HandshakeState::Requested,
            target: source.to_string(),
            requested_at: now,
            // The invitation is void once the acceptance cut-off of its start has passed.
            expires_at: (now + HANDSHAKE_LIFETIME).min(billing::accept_by(start)),
            transfer_id: Some(fresh_id("rt-")),
            notes: Some(invitation.notes.clone()),
            ended_at: None,
        };
        let transfer = SimTransfer {
            id: handshake.transfer_id.clone().unwrap_or_default(),
            management: acting.to_string(),
            source: source.to_string(),
            status: TransferStatus::Requested,
            start_at: start,
            end_at: None,
            handshake_id: handshake.id.clone(),
        };
        self.put_handshake(&handshake).await?;
        self.put_transfer(&transfer).await?;
        to_handshake(&handshake)
    }

    pub(super) async fn describe_transfer(
        &self,
        acting: &AwsAccountId,
        transfer_id: &str,
    ) -> CloudResult<BillingTransfer> {
        let _serial = self.serial.lock().await;
        to_transfer(&self.transfer_seen_by(acting, transfer_id).await?)
    }

    pub(super) async fn inbound_transfers(
        &self,
        acting: &AwsAccountId,
    ) -> CloudResult<Vec<BillingTransfer>> {
        let _serial = self.serial.lock().await;
        self.list_settled(
            SandboxTable::Transfer,
            acting.as_str(),
            |transfer: SimTransfer| async move {
                to_transfer(&self.load_transfer(&transfer.id).await?).map(Some)
            },
        )
        .await
    }

    /// Ends an accepted transfer at `end_at`, the last millisecond of a month no earlier than the current
    /// one. A transfer whose start lies after that end (accepted in December for 1 January, ended in
    /// December) is withdrawn before it ever moved the bill: it ends at its start, zero length, so
    /// nothing reads an end before the start.
    pub(super) async fn terminate_transfer(
        &self,
        acting: &AwsAccountId,
        transfer_id: &str,
        end_at: DateTime<Utc>,
    ) -> CloudResult<BillingTransfer> {
        let _serial = self.serial.lock().await;
        let mut transfer = self.transfer_seen_by(acting, transfer_id).await?;
        match transfer.status {
            TransferStatus::Withdrawn => {
                return Err(rejected(
                    "ResponsibilityTransferAlreadyInStatusException",
                    None,
                    "the transfer is already withdrawn",
                ));
            }
            TransferStatus::Accepted => {}
            TransferStatus::Requested
            | TransferStatus::Declined
            | TransferStatus::Canceled
            | TransferStatus::Expired => {
                return Err(rejected(
                    "InvalidResponsibilityTransferTransitionException",
                    None,
                    "only an accepted transfer can be terminated",
                ));
            }
        }
        if !billing::is_end_of_month(end_at) {
            return Err(rejected(
                "InvalidInputException",
                Some("END_DATE_NOT_END_OF_MONTH"),
                "the end must be the last millisecond of a month",
            ));
        }
        if end_at < billing::end_of_month(self.now()) {
            return Err(rejected(
                "InvalidInputException",
                Some("END_DATE_TOO_EARLY"),
                "the end is before the end of the current month",
            ));
        }
        transfer.status = TransferStatus::Withdrawn;
        transfer.end_at = Some(billing::reported_end(transfer.start_at, end_at));
        self.put_transfer(&transfer).await?;
        to_transfer(&transfer)
    }
}

fn to_transfer(transfer: &SimTransfer) -> CloudResult<BillingTransfer> {
    let status = transfer.status;
    Ok(BillingTransfer {
        id: transfer.id.clone(),
        status,
        source_management_account: account_id(&transfer.source)?,
        start_at: transfer.start_at,
        end_at: transfer.end_at,
        active_handshake_id: (status == TransferStatus::Requested)
            .then(|| transfer.handshake_id.clone()),
    })
}
