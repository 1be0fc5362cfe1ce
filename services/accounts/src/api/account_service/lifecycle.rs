//! Termination checks and the offboarding, closure and reopening steps.

use tenure_domain::{AwsAccountId, CallerRole, Problems};
use tenure_proto::accounts::v1 as pb;
use tenure_proto::common::v1 as common;

use crate::api::account_service::records::{AccountRef, change, record_id, unsupported};
use crate::api::context::{at, checked, finish, finish_keyed};
use crate::api::convert::{self, EmailView, non_empty};
use crate::app::{Accounts, Call, Target};
use crate::clients::{Cancelled, derived_key};
use crate::domain::{
    AccountRole, AccountState, AccountsError, Acknowledgement, BillingFacts, Confirmations,
    FreeText, LifecycleEvent, Money, Outcome, Rejection, Relationship, SubscriptionStatus,
    TerminationFacts, Ticket, assess_termination, check_instant, check_reopen, field_problem,
    reopen_until, required, required_acknowledgements, settle,
};
use crate::store;
use crate::store::accounts::set;
use crate::store::entity::aws_account;

fn acknowledgements(problems: &mut Problems, raw: &[i32]) -> Vec<Acknowledgement> {
    let mut given = Vec::new();
    for (index, value) in raw.iter().enumerate() {
        if let Some(ack) = problems.check(
            format!("acknowledgements[{index}]"),
            convert::acknowledgement_from(*value),
        ) {
            given.push(ack);
        }
    }
    given
}

/// Everything the termination checks look at, read in the caller's transaction.
async fn termination_facts(
    tx: &tenure_db::TenantTx,
    account: &aws_account::Model,
    aws_account_id: &AwsAccountId,
) -> Result<TerminationFacts, AccountsError> {
    let subscription = match store::accounts::current_subscription(tx, account.id).await? {
        Some(found) => Some(store::stored(SubscriptionStatus::parse(&found.status))?),
        None => None,
    };
    Ok(TerminationFacts {
        aws_account_id: aws_account_id.clone(),
        state: store::stored(AccountState::parse(&account.state))?,
        role: store::stored(AccountRole::parse(&account.role))?,
        relationship: store::stored(Relationship::parse(&account.relationship))?,
        active_order_id: account.active_order_id,
        subscription,
        live_members: store::accounts::count_live_members(
            tx,
            account.tenant_id,
            aws_account_id.as_str(),
        )
        .await?,
        open_balance: store::balances::of(account)?,
    })
}

/// The open balance a termination request confirms, when it names one.
fn confirmed_balance(
    problems: &mut Problems,
    raw: Option<&common::Money>,
) -> Option<Option<Money>> {
    match raw {
        None => Some(None),
        Some(raw) => {
            convert::money_from(problems, "acknowledged_open_balance", Some(raw)).map(Some)
        }
    }
}

impl Accounts {
    pub(crate) async fn check_termination(
        &self,
        call: &Call,
        request: pb::CheckTerminationRequest,
    ) -> Result<pb::CheckTerminationResponse, AccountsError> {
        let mut problems = Problems::new();
        let aws_account_id = problems.check(
            "aws_account_id",
            AwsAccountId::parse(&request.aws_account_id),
        );
        let mode = problems.check("mode", convert::termination_mode_from(request.mode));
        let given = acknowledgements(&mut problems, &request.acknowledgements);
        let order_id = match non_empty(&request.order_id) {
            None => Some(None),
            Some(raw) => record_id(&mut problems, "order_id", raw).map(Some),
        };
        let balance = confirmed_balance(&mut problems, request.acknowledged_open_balance.as_ref());
        finish(problems, || ())?;
        let (aws_account_id, mode, order_id, balance) = (
            checked(aws_account_id)?,
            checked(mode)?,
            checked(order_id)?,
            checked(balance)?,
        );
        let tenant = call.access.tenant_filter(None)?;
        let record = AccountRef::LiveAwsId(aws_account_id.clone());
        self.read(call, record.target(), async |tx| {
            let account = record.find(tx, tenant).await?;
            let facts = termination_facts(tx, &account, &aws_account_id).await?;
            let confirmed = Confirmations {
                acknowledgements: &given,
                open_balance: balance.as_ref(),
            };
            let problems = assess_termination(&facts, mode, confirmed, order_id);
            Ok(pb::CheckTerminationResponse {
                open_balance: facts.open_balance.as_ref().map(convert::open_balance),
                account: Some(convert::account(&account, EmailView::Full)?),
                eligible: problems.is_empty(),
                problems: problems
                    .into_iter()
                    .map(|problem| pb::TerminationProblem {
                        code: problem.code.to_owned(),
                        message: problem.message,
                    })
                    .collect(),
                required_acknowledgements: required_acknowledgements(
                    mode,
                    facts.role,
                    facts.relationship,
                )
                .into_iter()
                .map(convert::acknowledgement_to)
                .collect(),
            })
        })
        .await
    }

    pub(crate) async fn begin_offboarding(
        &self,
        call: &Call,
        request: pb::BeginOffboardingRequest,
    ) -> Result<pb::BeginOffboardingResponse, AccountsError> {
        let mut problems = Problems::new();
        let aws_account_id = problems.check(
            "aws_account_id",
            AwsAccountId::parse(&request.aws_account_id),
        );
        let order_id = record_id(&mut problems, "order_id", &request.order_id);
        let mode = problems.check("mode", convert::termination_mode_from(request.mode));
        let given = acknowledgements(&mut problems, &request.acknowledgements);
        let reason = problems.check("reason", FreeText::reason(&request.reason));
        let balance = confirmed_balance(&mut problems, request.acknowledged_open_balance.as_ref());
        finish_keyed(problems, &request)?;
        let (aws_account_id, order_id, mode, reason, balance) = (
            checked(aws_account_id)?,
            checked(order_id)?,
            checked(mode)?,
            checked(reason)?,
            checked(balance)?,
        );
        let record = AccountRef::LiveAwsId(aws_account_id.clone());
        let target = record.target().because(reason.as_str(), "");
        self.change_account(call, &request, record, target, async |tx, account, now| {
            let facts = termination_facts(tx, &account, &aws_account_id).await?;
            let confirmed = Confirmations {
                acknowledgements: &given,
                open_balance: balance.as_ref(),
            };
            if let Some(problem) = assess_termination(&facts, mode, confirmed, Some(order_id))
                .into_iter()
                .next()
            {
                return Err(AccountsError::Precondition(problem));
            }
            store::accounts::apply_event(
                tx,
                account,
                LifecycleEvent::BeginOffboarding,
                &change(call, reason.as_str(), Some(order_id), now),
                |active| active.active_order_id = set(Some(order_id)),
            )
            .await
        })
        .await
    }

    pub(crate) async fn abort_offboarding(
        &self,
        call: &Call,
        request: pb::AbortOffboardingRequest,
    ) -> Result<pb::AbortOffboardingResponse, AccountsError> {
        self.end_order_hold(
            call,
            &request,
            &request.account_id,
            &request.reason,
            LifecycleEvent::AbortOffboarding,
        )
        .await
    }

    pub(crate) async fn record_offboarding_outcome(
        &self,
        call: &Call,
        request: pb::RecordOffboardingOutcomeRequest,
    ) -> Result<pb::RecordOffboardingOutcomeResponse, AccountsError> {
        let now = self.now();
        let mut problems = Problems::new();
        let id = record_id(&mut problems, "account_id", &request.account_id);
        let order_id = record_id(&mut problems, "order_id", &request.order_id);
        let outcome = match pb::OffboardingOutcome::try_from(request.outcome) {
            Ok(pb::OffboardingOutcome::PendingClosure) => Some(Outcome::PendingClosure),
            Ok(pb::OffboardingOutcome::Unlinked) => Some(Outcome::Unlinked),
            Ok(pb::OffboardingOutcome::WithdrawnBeforeStart) => Some(Outcome::WithdrawnBeforeStart),
            Ok(pb::OffboardingOutcome::Unlinking) => match &request.billing_ends_at {
                None => {
                    problems.push(at("billing_ends_at", required()));
                    None
                }
                Some(raw) => problems
                    .check(
                        "billing_ends_at",
                        convert::instant(Some(raw)).and_then(|at| check_instant(at, now)),
                    )
                    .map(|billing_ends_at| Outcome::Unlinking { billing_ends_at }),
            },
            _ => {
                problems.push(at("outcome", required()));
                None
            }
        };
        if request.billing_ends_at.is_some()
            && matches!(
                outcome,
                Some(Outcome::PendingClosure | Outcome::Unlinked | Outcome::WithdrawnBeforeStart)
            )
        {
            problems.push(unsupported(
                "billing_ends_at",
                "only an unlinking billing transfer has a billing end",
            ));
        }
        finish_keyed(problems, &request)?;
        let (id, order_id, outcome) = (checked(id)?, checked(order_id)?, checked(outcome)?);
        self.mutate_account(
            call,
            &request,
            AccountRef::Id(id),
            Target::new("account", id),
            async |tx, account, now| {
                if let Some(holder) = account.active_order_id
                    && holder != order_id
                {
                    return Err(AccountsError::Precondition(Rejection {
                        code: "TNR009",
                        message: format!(
                            "Order {holder} for account {} is still in progress.",
                            account.aws_account_id.as_deref().unwrap_or_default()
                        ),
                    }));
                }
                let record = BillingFacts {
                    state: store::stored(AccountState::parse(&account.state))?,
                    relationship: store::stored(Relationship::parse(&account.relationship))?,
                    billing_starts_at: account.billing_starts_at,
                };
                let settlement = settle(outcome, record, now)?;
                // The point of no return is behind: the order's hold on the record ends here.
                let account = store::accounts::apply_event(
                    tx,
                    account,
                    settlement.event,
                    &change(call, settlement.reason, Some(order_id), now),
                    |active| {
                        active.active_order_id = set(None);
                        if let Some(ends_at) = settlement.billing_ends_at {
                            active.billing_ends_at = set(Some(ends_at));
                        }
                    },
                )
                .await?;
                if let Some(subscription) =
                    store::accounts::current_subscription(tx, account.id).await?
                {
                    store::accounts::set_subscription_status(
                        tx,
                        subscription,
                        SubscriptionStatus::Terminated,
                        now,
                    )
                    .await?;
                }
                Ok(pb::RecordOffboardingOutcomeResponse {
                    account: Some(convert::account(&account, EmailView::Full)?),
                })
            },
        )
        .await
    }

    pub(crate) async fn record_closure(
        &self,
        call: &Call,
        request: pb::RecordClosureRequest,
    ) -> Result<pb::RecordClosureResponse, AccountsError> {
        let now = self.now();
        let mut problems = Problems::new();
        let id = record_id(&mut problems, "account_id", &request.account_id);
        let closed_at = problems.check(
            "closed_at",
            convert::instant(request.closed_at.as_ref())
                .and_then(|at| check_instant(at, now))
                .and_then(|at| {
                    if at <= now {
                        Ok(at)
                    } else {
                        Err(field_problem(
                            "TIMESTAMP_IN_FUTURE",
                            "a closure cannot lie in the future",
                            "TNR004",
                        ))
                    }
                }),
        );
        let reason = if call.caller.role == CallerRole::Operator {
            problems.check("reason", FreeText::operator_reason(&request.reason))
        } else {
            problems.check("reason", FreeText::reason(&request.reason))
        };
        finish_keyed(problems, &request)?;
        let (id, closed_at, reason) = (checked(id)?, checked(closed_at)?, checked(reason)?);
        self.change_account(
            call,
            &request,
            AccountRef::Id(id),
            Target::new("account", id).because(reason.as_str(), ""),
            async |tx, account, now| {
                store::accounts::apply_event(
                    tx,
                    account,
                    LifecycleEvent::ConfirmClosure,
                    &change(call, reason.as_str(), None, now),
                    |active| {
                        active.closed_at = set(Some(closed_at));
                        active.reopen_until = set(Some(reopen_until(closed_at)));
                    },
                )
                .await
            },
        )
        .await
    }

    pub(crate) async fn reopen_account(
        &self,
        call: &Call,
        request: pb::ReopenAccountRequest,
    ) -> Result<pb::ReopenAccountResponse, AccountsError> {
        let mut problems = Problems::new();
        let id = record_id(&mut problems, "account_id", &request.account_id);
        let reason = problems.check("reason", FreeText::operator_reason(&request.reason));
        let ticket = problems.check("ticket", Ticket::parse(&request.ticket));
        finish_keyed(problems, &request)?;
        let (id, reason, ticket) = (checked(id)?, checked(reason)?, checked(ticket)?);
        self.change_account(
            call,
            &request,
            AccountRef::Id(id),
            Target::new("account", id).because(reason.as_str(), ticket.as_str()),
            async |tx, account, now| {
                let current = store::stored(AccountState::parse(&account.state))?;
                check_reopen(current, account.reopen_until, now)?;
                // A reopen inside the window cancels the account's pending data purge. One that
                // already began cannot be stopped; the reopen is still a fact in AWS and is recorded,
                // and the account's data is fetched again on re-onboarding (domain.md §8.2).
                let aws_account_id = account
                    .aws_account_id
                    .as_deref()
                    .map(AwsAccountId::parse)
                    .transpose()
                    .map_err(|_| AccountsError::internal("a stored AWS account id is malformed"))?;
                if let Some(aws_account_id) = &aws_account_id {
                    let cancelled = self
                        .purge
                        .cancel_pending(
                            account.tenant_id,
                            Some(aws_account_id),
                            derived_key("reopen", account.id, &request.idempotency_key),
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
                }
                // closed_at and reopen_until stay: they are written once per closure (domain.md §5).
                store::accounts::apply_event(
                    tx,
                    account,
                    LifecycleEvent::Reopen,
                    &change(call, reason.as_str(), None, now),
                    |_| {},
                )
                .await
            },
        )
        .await
    }
}
