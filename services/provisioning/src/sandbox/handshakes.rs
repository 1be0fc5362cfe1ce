//! Handshakes in the simulation: invitations to join an organization, the customer's answer, expiry
//! and the 30 days AWS keeps showing a handshake that ended.

use tenure_domain::AwsAccountId;
use tenure_provisioning_cloud::{
    CloudResult, Handshake, HandshakeAction, HandshakeState, JoinedMethod, TransferStatus,
};

use super::objects::{SimAccount, SimHandshake, SimTransfer};
use super::{
    HANDSHAKE_LIFETIME, SandboxCloud, TERMINAL_HANDSHAKE_VISIBILITY, account_id, fresh_id,
    handshake_not_found, rejected, storage,
};
use crate::store::SandboxTable;

impl SandboxCloud {
    /// Accepts a handshake as the invited customer would.
    pub async fn accept_handshake(&self, handshake_id: &str) -> CloudResult<Handshake> {
        self.answer_handshake(
            handshake_id,
            HandshakeState::Accepted,
            TransferStatus::Accepted,
        )
        .await
    }

    /// Declines a handshake as the invited customer would.
    pub async fn decline_handshake(&self, handshake_id: &str) -> CloudResult<Handshake> {
        self.answer_handshake(
            handshake_id,
            HandshakeState::Declined,
            TransferStatus::Declined,
        )
        .await
    }

    /// Moves the handshake to `answer` and the transfer it carries, if any, to `transfer_answer`.
    async fn answer_handshake(
        &self,
        handshake_id: &str,
        answer: HandshakeState,
        transfer_answer: TransferStatus,
    ) -> CloudResult<Handshake> {
        let _serial = self.serial.lock().await;
        let mut handshake = self.load_handshake(handshake_id).await?;
        if handshake.state == answer {
            return Err(rejected(
                "HandshakeAlreadyInStateException",
                None,
                "the handshake is already in the requested state",
            ));
        }
        if !matches!(
            handshake.state,
            HandshakeState::Requested | HandshakeState::Open
        ) {
            return Err(rejected(
                "InvalidHandshakeTransitionException",
                None,
                "the handshake cannot make this transition",
            ));
        }
        let now = self.now();
        if answer == HandshakeState::Accepted && handshake.action == HandshakeAction::Invite {
            let existing: Option<SimAccount> = self
                .store
                .get(SandboxTable::Account, &handshake.target)
                .await
                .map_err(storage)?;
            if let Some(account) = &existing
                && account.organization.is_some()
            {
                return Err(rejected(
                    "HandshakeConstraintViolationException",
                    Some("ALREADY_IN_AN_ORGANIZATION"),
                    "the account already belongs to an organization",
                ));
            }
            let mut account = existing.unwrap_or_else(|| {
                SimAccount::active(
                    handshake.target.clone(),
                    format!("Account {}", handshake.target),
                    format!("{}@sandbox.tenure.invalid", handshake.target),
                    None,
                    JoinedMethod::Invited,
                    now,
                )
            });
            account.organization = Some(handshake.management.clone());
            account.joined_method = JoinedMethod::Invited;
            account.joined_at = now;
            self.put_account(&account).await?;
        }
        handshake.state = answer;
        handshake.ended_at = Some(now);
        self.put_handshake(&handshake).await?;
        if let Some(transfer_id) = &handshake.transfer_id {
            let mut transfer = self.load_transfer(transfer_id).await?;
            transfer.status = transfer_answer;
            self.put_transfer(&transfer).await?;
        }
        to_handshake(&handshake)
    }

    pub(super) async fn put_handshake(&self, handshake: &SimHandshake) -> CloudResult<()> {
        self.store
            .put(
                SandboxTable::Handshake,
                &handshake.id,
                &handshake.management,
                handshake,
            )
            .await
            .map_err(storage)
    }

    async fn settle_handshake(&self, mut handshake: SimHandshake) -> CloudResult<SimHandshake> {
        if matches!(
            handshake.state,
            HandshakeState::Requested | HandshakeState::Open
        ) && self.now() >= handshake.expires_at
        {
            handshake.state = HandshakeState::Expired;
            handshake.ended_at = Some(handshake.expires_at);
            self.put_handshake(&handshake).await?;
            if let Some(transfer_id) = &handshake.transfer_id
                && let Some(mut transfer) = self
                    .store
                    .get::<SimTransfer>(SandboxTable::Transfer, transfer_id)
                    .await
                    .map_err(storage)?
                && transfer.status == TransferStatus::Requested
            {
                transfer.status = TransferStatus::Expired;
                self.put_transfer(&transfer).await?;
            }
        }
        Ok(handshake)
    }

    async fn load_handshake(&self, handshake_id: &str) -> CloudResult<SimHandshake> {
        let handshake = self.settled_handshake(handshake_id).await?;
        if self.is_visible(&handshake) {
            Ok(handshake)
        } else {
            Err(handshake_not_found())
        }
    }

    /// The handshake with its expiry applied, whether or not AWS still lists it.
    pub(super) async fn settled_handshake(&self, handshake_id: &str) -> CloudResult<SimHandshake> {
        let found: Option<SimHandshake> = self
            .store
            .get(SandboxTable::Handshake, handshake_id)
            .await
            .map_err(storage)?;
        let Some(handshake) = found else {
            return Err(handshake_not_found());
        };
        self.settle_handshake(handshake).await
    }

    /// The handshake as `acting` sees it: its organization does, and its target too when
    /// `target_sees`.
    async fn handshake_seen_by(
        &self,
        acting: &AwsAccountId,
        handshake_id: &str,
        target_sees: bool,
    ) -> CloudResult<SimHandshake> {
        let handshake = self.load_handshake(handshake_id).await?;
        let party = target_sees && handshake.target == acting.as_str();
        if handshake.management == acting.as_str() || party {
            Ok(handshake)
        } else {
            Err(handshake_not_found())
        }
    }

    /// AWS shows a terminal handshake for 30 days after it ended, then answers as if it never was.
    fn is_visible(&self, handshake: &SimHandshake) -> bool {
        handshake
            .ended_at
            .is_none_or(|ended| self.now() < ended + TERMINAL_HANDSHAKE_VISIBILITY)
    }

    pub(super) async fn open_handshakes(
        &self,
        acting: &AwsAccountId,
        action: HandshakeAction,
    ) -> CloudResult<Vec<SimHandshake>> {
        self.handshakes_of(acting, action, |handshake| {
            Ok(matches!(
                handshake.state,
                HandshakeState::Requested | HandshakeState::Open
            )
            .then_some(handshake))
        })
        .await
    }

    /// The handshakes of `acting`'s organization for `action`, each settled, then kept (and converted)
    /// or dropped by `keep`.
    async fn handshakes_of<U>(
        &self,
        acting: &AwsAccountId,
        action: HandshakeAction,
        keep: impl Fn(SimHandshake) -> CloudResult<Option<U>>,
    ) -> CloudResult<Vec<U>> {
        let keep = &keep;
        self.list_settled(
            SandboxTable::Handshake,
            acting.as_str(),
            |handshake: SimHandshake| async move {
                if handshake.action != action {
                    return Ok(None);
                }
                keep(self.settle_handshake(handshake).await?)
            },
        )
        .await
    }

    pub(super) async fn invite_member(
        &self,
        acting: &AwsAccountId,
        target: &AwsAccountId,
        notes: &str,
    ) -> CloudResult<Handshake> {
        let _serial = self.serial.lock().await;
        self.organization(acting).await?;
        if self.member(acting, target).await.is_ok() {
            return Err(rejected(
                "DuplicateAccountException",
                None,
                "the account is already a member of this organization",
            ));
        }
        let open = self
            .open_handshakes(acting, HandshakeAction::Invite)
            .await?;
        if open
            .iter()
            .any(|handshake| handshake.target == target.as_str())
        {
            return Err(rejected(
                "DuplicateHandshakeException",
                None,
                "an open invitation to this account already exists",
            ));
        }
        let now = self.now();
        let handshake = SimHandshake {
            id: fresh_id("h-"),
            management: acting.to_string(),
            action: HandshakeAction::Invite,
            state: HandshakeState::Requested,
            target: target.to_string(),
            requested_at: now,
            expires_at: now + HANDSHAKE_LIFETIME,
            transfer_id: None,
            notes: Some(notes.to_owned()),
            ended_at: None,
        };
        self.put_handshake(&handshake).await?;
        to_handshake(&handshake)
    }

    pub(super) async fn describe_handshake_as(
        &self,
        acting: &AwsAccountId,
        handshake_id: &str,
    ) -> CloudResult<Handshake> {
        let _serial = self.serial.lock().await;
        to_handshake(&self.handshake_seen_by(acting, handshake_id, true).await?)
    }

    pub(super) async fn visible_handshakes(
        &self,
        acting: &AwsAccountId,
        action: HandshakeAction,
    ) -> CloudResult<Vec<Handshake>> {
        let _serial = self.serial.lock().await;
        self.handshakes_of(acting, action, |handshake| {
            self.is_visible(&handshake)
                .then(|| to_handshake(&handshake))
                .transpose()
        })
        .await
    }

    pub(super) async fn cancel_open_handshake(
        &self,
        acting: &AwsAccountId,
        handshake_id: &str,
    ) -> CloudResult<Handshake> {
        let _serial = self.serial.lock().await;
        let mut handshake = self.handshake_seen_by(acting, handshake_id, false).await?;
        match handshake.state {
            HandshakeState::Canceled => {
                return Err(rejected(
                    "HandshakeAlreadyInStateException",
                    None,
                    "the handshake is already canceled",
                ));
            }
            HandshakeState::Requested | HandshakeState::Open => {}
            HandshakeState::Accepted | HandshakeState::Declined | HandshakeState::Expired => {
                return Err(rejected(
                    "InvalidHandshakeTransitionException",
                    None,
                    "the handshake cannot be canceled in its state",
                ));
            }
        }
        handshake.state = HandshakeState::Canceled;
        handshake.ended_at = Some(self.now());
        self.put_handshake(&handshake).await?;
        if let Some(transfer_id) = &handshake.transfer_id {
            let mut transfer = self.load_transfer(transfer_id).await?;
            transfer.status = TransferStatus::Canceled;
            self.put_transfer(&transfer).await?;
        }
        to_handshake(&handshake)
    }
}

pub(super) fn to_handshake(handshake: &SimHandshake) -> CloudResult<Handshake> {
    Ok(Handshake {
        id: handshake.id.clone(),
        action: handshake.action,
        state: handshake.state,
        target: account_id(&handshake.target)?,
        requested_at: handshake.requested_at,
        expires_at: handshake.expires_at,
        transfer_id: handshake.transfer_id.clone(),
        notes: handshake.notes.clone(),
    })
}
