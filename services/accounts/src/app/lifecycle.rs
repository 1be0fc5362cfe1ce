//! Termination checks and the offboarding, closure and reopening steps.

use chrono::{DateTime, Utc};
use tenure_db::TenantTx;
use tenure_domain::AwsAccountId;
use uuid::Uuid;

use crate::app::records::{AccountRef, apply_event, change};
use crate::app::{Accounts, Answer, Call, Idempotent, Target};
use crate::clients::{Cancelled, derived_key};
use crate::domain::{
    AccountRecord, AccountsError, Acknowledgement, BillingFacts, Confirmations, FreeText,
    LifecycleEvent, Money, Outcome, Rejection, SubscriptionStatus, TerminationFacts,
    TerminationMode, Ticket, assess_termination, check_reopen, reopen_until,
    required_acknowledgements, settle,
};
use crate::store;

/// A termination as the customer asks for it: the account, how it ends, and what they confirmed.
#[derive(Debug, Clone)]
pub(crate) struct Termination {
    pub(crate) aws_account_id: AwsAccountId,
    pub(crate) mode: TerminationMode,
    pub(crate) acknowledgements: Vec<Acknowledgement>,
    /// The open balance the customer was shown and confirms, if any.
    pub(crate) open_balance: Option<Money>,
}

/// What a termination check found: the record, every problem that stops the termination now (none
/// means eligible) and the precautions the customer must acknowledge.
#[derive(Debug, Clone)]
pub(crate) struct TerminationCheck {
    pub(crate) account: AccountRecord,
    pub(crate) problems: Vec<Rejection>,
    pub(crate) required_acknowledgements: Vec<Acknowledgement>,
}

impl Termination {
    /// Every problem that stops this termination of `account`, asked by `asking_order`.
    async fn problems(
        &self,
        tx: &TenantTx,
        account: &AccountRecord,
        asking_order: Option<Uuid>,
    ) -> Result<Vec<Rejection>, AccountsError> {
        let facts = termination_facts(tx, account, &self.aws_account_id).await?;
        let confirmed = Confirmations {
            acknowledgements: &self.acknowledgements,
            open_balance: self.open_balance.as_ref(),
        };
        Ok(assess_termination(
            &facts,
            self.mode,
            confirmed,
            asking_order,
        ))
    }
}

/// Everything the termination checks look at, read in the caller's transaction.
async fn termination_facts(
    tx: &TenantTx,
    account: &AccountRecord,
    aws_account_id: &AwsAccountId,
) -> Result<TerminationFacts, AccountsError> {
    let subscription = store::accounts::current_subscription(tx, account.id)
        .await?
        .map(|found| found.status);
    Ok(TerminationFacts {
        aws_account_id: aws_account_id.clone(),
        state: account.state,
        role: account.role,
        relationship: account.relationship,
        active_order_id: account.active_order_id,
        subscription,
        live_members: store::accounts::count_live_members(tx, account.tenant_id, aws_account_id)
            .await?,
        open_balance: account.open_balance.clone(),
    })
}

/// Ends the subscription that bills record `account_id`, if one does.
pub(super) async fn end_subscription(
    tx: &TenantTx,
    account_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), AccountsError> {
    if let Some(subscription) = store::accounts::current_subscription(tx, account_id).await? {
        store::accounts::set_subscription_status(
            tx,
            &subscription,
            SubscriptionStatus::Terminated,
            now,
        )
        .await?;
    }
    Ok(())
}

impl Accounts {
    /// Whether `termination` could start now, for the order `order_id` when one asks.
    pub(crate) async fn check_termination(
        &self,
        call: &Call,
        termination: Termination,
        order_id: Option<Uuid>,
    ) -> Result<TerminationCheck, AccountsError> {
        let record = AccountRef::LiveAwsId(termination.aws_account_id.clone());
        self.read_account(call, record, async |tx, account| {
            let problems = termination.problems(tx, &account, order_id).await?;
            let required =
                required_acknowledgements(termination.mode, account.role, account.relationship);
            Ok(TerminationCheck {
                account,
                problems,
                required_acknowledgements: required,
            })
        })
        .await
    }

    /// Starts the offboarding of `termination`'s account for order `order_id`, which then holds it.
    pub(crate) async fn begin_offboarding(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, AccountRecord>,
        termination: Termination,
        order_id: Uuid,
        reason: FreeText,
    ) -> Result<Answer<AccountRecord>, AccountsError> {
        let record = AccountRef::LiveAwsId(termination.aws_account_id.clone());
        let target = record.target().because(reason.as_str(), "");
        self.mutate_account(
            call,
            idempotent,
            record,
            target,
            async |tx, account, now| {
                if let Some(problem) = termination
                    .problems(tx, &account, Some(order_id))
                    .await?
                    .into_iter()
                    .next()
                {
                    return Err(AccountsError::Precondition(problem));
                }
                let change = change(call, reason.as_str(), Some(order_id), now);
                apply_event(
                    tx,
                    account,
                    LifecycleEvent::BeginOffboarding,
                    &change,
                    |next| {
                        next.active_order_id = Some(order_id);
                    },
                )
                .await
            },
        )
        .await
    }

    pub(crate) async fn abort_offboarding(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, AccountRecord>,
        id: Uuid,
        reason: FreeText,
    ) -> Result<Answer<AccountRecord>, AccountsError> {
        self.end_order_hold(
            call,
            idempotent,
            id,
            reason,
            LifecycleEvent::AbortOffboarding,
        )
        .await
    }

    /// Records what AWS answered to the termination order `order_id` ran on record `id`. The point
    /// of no return is behind: the order's hold on the record and its subscription end here.
    pub(crate) async fn record_offboarding_outcome(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, AccountRecord>,
        id: Uuid,
        order_id: Uuid,
        outcome: Outcome,
    ) -> Result<Answer<AccountRecord>, AccountsError> {
        self.mutate_record(call, idempotent, id, async |tx, account, now| {
            if let Some(holder) = account.active_order_id
                && holder != order_id
            {
                return Err(AccountsError::Precondition(Rejection {
                    code: "TNR009",
                    message: format!(
                        "Order {holder} for account {} is still in progress.",
                        account
                            .aws_account_id
                            .as_ref()
                            .map(AwsAccountId::as_str)
                            .unwrap_or_default()
                    ),
                }));
            }
            let facts = BillingFacts {
                state: account.state,
                relationship: account.relationship,
                billing_starts_at: account.billing_starts_at,
            };
            let settlement = settle(outcome, facts, now)?;
            let change = change(call, settlement.reason, Some(order_id), now);
            let account = apply_event(tx, account, settlement.event, &change, |next| {
                next.active_order_id = None;
                if let Some(ends_at) = settlement.billing_ends_at {
                    next.billing_ends_at = Some(ends_at);
                }
            })
            .await?;
            end_subscription(tx, account.id, now).await?;
            Ok(account)
        })
        .await
    }

    /// Records that AWS closed record `id`'s account at `closed_at`, which opens its reopen window.
    pub(crate) async fn record_closure(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, AccountRecord>,
        id: Uuid,
        closed_at: DateTime<Utc>,
        reason: FreeText,
    ) -> Result<Answer<AccountRecord>, AccountsError> {
        let target = Target::new("account", id).because(reason.as_str(), "");
        self.mutate_account(
            call,
            idempotent,
            AccountRef::Id(id),
            target,
            async |tx, account, now| {
                let change = change(call, reason.as_str(), None, now);
                apply_event(
                    tx,
                    account,
                    LifecycleEvent::ConfirmClosure,
                    &change,
                    |next| {
                        next.closed_at = Some(closed_at);
                        next.reopen_until = Some(reopen_until(closed_at));
                    },
                )
                .await
            },
        )
        .await
    }

    /// Records that AWS Support reopened record `id`'s closed account inside its window.
    pub(crate) async fn reopen_account(
        &self,
        call: &Call,
        idempotent: Idempotent<'_, AccountRecord>,
        id: Uuid,
        reason: FreeText,
        ticket: Ticket,
    ) -> Result<Answer<AccountRecord>, AccountsError> {
        let client_key = idempotent.key.as_str().to_owned();
        let target = Target::new("account", id).because(reason.as_str(), ticket.as_str());
        let record = AccountRef::Id(id);
        self.mutate_account(
            call,
            idempotent,
            record,
            target,
            async |tx, account, now| {
                check_reopen(account.state, account.reopen_until, now)?;
                self.cancel_purge_on_reopen(&account, &client_key).await?;
                // closed_at and reopen_until stay: they are written once per closure (domain.md §5).
                let change = change(call, reason.as_str(), None, now);
                apply_event(tx, account, LifecycleEvent::Reopen, &change, |_| {}).await
            },
        )
        .await
    }

    /// A reopen inside the window cancels the account's pending data purge. One that already began
    /// cannot be stopped; the reopen is still a fact in AWS and is recorded, and the account's data is
    /// fetched again on re-onboarding (domain.md §8.2).
    async fn cancel_purge_on_reopen(
        &self,
        account: &AccountRecord,
        client_key: &str,
    ) -> Result<(), AccountsError> {
        let Some(aws_account_id) = &account.aws_account_id else {
            return Ok(());
        };
        let cancelled = self
            .purge
            .cancel_pending(
                account.tenant_id,
                Some(aws_account_id),
                derived_key("reopen", account.id, client_key),
                "the account was reopened inside its post-closure window",
            )
            .await;
        match cancelled {
            Ok(Cancelled::AlreadyStarted) => tracing::warn!(
                account_id = %account.id,
                "reopened after its data purge began; the data is fetched again on re-onboarding"
            ),
            Ok(_) | Err(AccountsError::NeedsPurgeService) => {}
            Err(error) => return Err(error),
        }
        Ok(())
    }
}
