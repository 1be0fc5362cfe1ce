//! Accounts customers own outside every platform organization, and the one fact AWS keeps across all
//! accounts: a root email belongs to one account, ever.

use tenure_domain::{AccountName, AwsAccountId, RootEmail};
use tenure_provisioning_cloud::{CloudResult, JoinedMethod};

use super::objects::SimAccount;
use super::{SandboxCloud, account_id, fresh_account_id, rejected, storage};
use crate::store::SandboxTable;

/// The reason the simulation gives, like AWS's CreateAccount, for an email another account holds.
pub(crate) const EMAIL_ALREADY_EXISTS: &str = "EMAIL_ALREADY_EXISTS";

impl SandboxCloud {
    /// True when any simulated account holds `email`, compared case-insensitively: AWS root emails are
    /// unique across AWS, whatever organization the account is in, standalone or closed (seed 001: a
    /// closed account's email can never be used again).
    pub(super) async fn email_taken(&self, email: &str) -> CloudResult<bool> {
        let accounts: Vec<SimAccount> = self
            .store
            .list_all(SandboxTable::Account)
            .await
            .map_err(storage)?;
        Ok(accounts
            .iter()
            .any(|account| account.email.eq_ignore_ascii_case(email)))
    }

    /// Creates the standalone account a customer signed up for directly with AWS, active at once and in
    /// no organization; refused with `EMAIL_ALREADY_EXISTS` when any account holds the email.
    pub async fn create_customer_account(
        &self,
        email: &RootEmail,
        name: &AccountName,
    ) -> CloudResult<AwsAccountId> {
        let _serial = self.serial.lock().await;
        if self.email_taken(email.as_str()).await? {
            return Err(rejected(
                "ConstraintViolationException",
                Some(EMAIL_ALREADY_EXISTS),
                "another AWS account already uses this email address",
            ));
        }
        let id = self.unused_account_id().await?;
        self.put_account(&SimAccount::active(
            id.clone(),
            name.as_str().to_owned(),
            email.as_str().to_owned(),
            None,
            JoinedMethod::Created,
            self.now(),
        ))
        .await?;
        account_id(&id)
    }

    /// A fresh 12-digit id no simulated account has (ids are random, so a clash is only unlikely).
    async fn unused_account_id(&self) -> CloudResult<String> {
        loop {
            let id = fresh_account_id();
            let existing: Option<SimAccount> = self
                .store
                .get(SandboxTable::Account, &id)
                .await
                .map_err(storage)?;
            if existing.is_none() {
                return Ok(id);
            }
        }
    }
}
