//! `tenure subscriptions`: the billable marketplace item of each account. Anyone of the tenant reads
//! them; operators suspend and resume them. A subscription is named by its id or by its account, as
//! operators usually know the account and not the subscription.

use tenure_proto::accounts::v1 as pb;
use tonic::Code;

use super::accounts::{get_account, is_aws_account_id};
use super::connect::{Session, idempotency_key};
use super::errors::{Answer as _, operators_only, present};
use super::render::Printer;
use crate::cli::{ChangeSubscription, SubscriptionsCommand};

/// The columns of `subscriptions list`.
const SUBSCRIPTION_COLUMNS: &[&str] = &[
    "id",
    "aws_account_id",
    "status",
    "started_at",
    "terminated_at",
    "marketplace_ref",
    "account_id",
];

pub(super) async fn run(
    command: SubscriptionsCommand,
    session: Session,
    printer: Printer,
) -> anyhow::Result<()> {
    match command {
        SubscriptionsCommand::List(filter) => {
            let account_id = if filter.account.is_empty() {
                String::new()
            } else {
                record_id(&session, &filter.account).await?
            };
            let answer = session
                .accounts()?
                .list_subscriptions(pb::ListSubscriptionsRequest {
                    page_size: filter.page.page_size,
                    page_token: filter.page.page_token,
                    account_id,
                    status: filter.status.unwrap_or_default(),
                    tenant_id: filter.tenant,
                })
                .await
                .answer()?;
            printer.list(&answer, "subscriptions", SUBSCRIPTION_COLUMNS)
        }
        SubscriptionsCommand::Get(wanted) => {
            printer.show(&find(&session, &wanted.subscription).await?)
        }
        SubscriptionsCommand::Suspend(change) => printer.show(
            &set_status(
                &session,
                change,
                pb::SubscriptionStatus::Suspended,
                "subscriptions suspend",
            )
            .await?,
        ),
        SubscriptionsCommand::Resume(change) => printer.show(
            &set_status(
                &session,
                change,
                pb::SubscriptionStatus::Active,
                "subscriptions resume",
            )
            .await?,
        ),
    }
}

/// Suspends or resumes the subscription `change` names.
async fn set_status(
    session: &Session,
    change: ChangeSubscription,
    status: pb::SubscriptionStatus,
    command: &str,
) -> anyhow::Result<pb::Subscription> {
    let subscription = find(session, &change.subscription.subscription).await?;
    let answer = session
        .accounts()?
        .set_subscription_status(pb::SetSubscriptionStatusRequest {
            idempotency_key: idempotency_key(change.key.idempotency_key.as_deref()),
            subscription_id: subscription.id,
            status: status as i32,
            reason: change.reason,
        })
        .await
        .answer()
        .map_err(|error| operators_only(error, command))?;
    present(answer.subscription, "subscription")
}

/// The record id of an account named by its AWS id or by its record id.
async fn record_id(session: &Session, account: &str) -> anyhow::Result<String> {
    if is_aws_account_id(account) {
        Ok(get_account(session, account).await?.id)
    } else {
        Ok(account.to_owned())
    }
}

/// The subscription `given` names: a subscription id, else an account's AWS id or record id, whose
/// subscription that has not ended is meant (an account has at most one at a time).
async fn find(session: &Session, given: &str) -> anyhow::Result<pb::Subscription> {
    if !is_aws_account_id(given) {
        let answer = session
            .accounts()?
            .get_subscription(pb::GetSubscriptionRequest {
                subscription_id: given.to_owned(),
            })
            .await
            .answer();
        match answer {
            Ok(answer) => return present(answer.subscription, "subscription"),
            // Not a subscription's id: it may be an account's record id.
            Err(error) if error.code() == Code::NotFound => {}
            Err(error) => return Err(error.into()),
        }
    }
    let account_id = record_id(session, given).await?;
    let answer = session
        .accounts()?
        .list_subscriptions(pb::ListSubscriptionsRequest {
            page_size: 100,
            page_token: String::new(),
            account_id: account_id.clone(),
            status: 0,
            tenant_id: String::new(),
        })
        .await
        .answer()?;
    let terminated = pb::SubscriptionStatus::Terminated as i32;
    // Oldest first: the last one is the newest, when every one has ended.
    let mut subscriptions = answer.subscriptions;
    let current = subscriptions
        .iter()
        .position(|subscription| subscription.status != terminated);
    match current {
        Some(index) => Ok(subscriptions.swap_remove(index)),
        None => subscriptions.pop().ok_or_else(|| {
            anyhow::anyhow!("{given} names no subscription, nor an account with one")
        }),
    }
}
