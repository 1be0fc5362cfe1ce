//! What each saga step means in calls to the peers: the dispatch of every [`Action`], and what a
//! step reads from the order and the saga's state to make its calls.

use tenure_domain::AwsAccountId;
use uuid::Uuid;

use super::PeerPort;
use super::status::broken;
use crate::domain::order::{
    Acknowledgement, InputField, OrderDetails, Relationship, TerminationMode,
};
use crate::domain::saga::advance::StepOutcome;
use crate::domain::saga::node::Action;
use crate::domain::saga::port::{StepCall, StepPort};
use crate::domain::saga::state::{InvitationState, QueryItem, SagaState};

#[async_trait::async_trait]
impl StepPort for PeerPort {
    async fn perform(&self, call: &StepCall) -> StepOutcome {
        let outcome = match call.effect.action {
            Action::FindPlatformOrganization => self.find_platform_organization(call).await,
            Action::ReserveAccounts => self.reserve_accounts(call).await,
            Action::ReleaseAccounts => self.release_accounts(call).await,
            Action::CreateAccount => self.create_account(call).await,
            Action::CloseCreatedAccount => self.close_created_account(call).await,
            Action::AttachAccount => self.attach_account(call).await,
            Action::DeployBaseline => self.deploy_baseline(call).await,
            Action::RemoveBaseline => self.remove_baseline(call, true).await,
            Action::ActivateAccounts => self.activate_accounts(call).await,
            Action::InviteBillingTransfer => {
                self.invite_billing_transfer(call, call.effect.key).await
            }
            Action::WithdrawBillingTransfer => self.withdraw_billing_transfer(call).await,
            Action::CheckBillingTransfer => self.check_billing_transfer(call).await,
            Action::CheckBootstrapRole => self.check_bootstrap_role(call).await,
            Action::InviteAccounts => self.invite_accounts(call).await,
            Action::RetractInvitations => self.retract_invitations(call).await,
            Action::CheckInvitations => self.check_invitations(call).await,
            Action::BeginOffboarding => self.begin_offboarding(call).await,
            Action::AbortOffboarding => self.abort_offboarding(call).await,
            Action::DeleteStackInstances => self.remove_baseline(call, false).await,
            Action::RestoreStackInstances => self.restore_baseline(call, false).await,
            Action::DeleteStackSet => self.delete_stack_set(call).await,
            Action::RestoreStackSet => self.restore_baseline(call, true).await,
            Action::DeletePayerStack => self.delete_payer_stack(call).await,
            Action::CloseAccount => self.close_account(call).await,
            Action::RemoveAccount => self.remove_account(call).await,
            Action::EndBillingTransfer => self.end_billing_transfer(call).await,
            Action::RecordOffboardingOutcome => self.record_offboarding_outcome(call).await,
            Action::CheckClosure => self.check_closure(call).await,
            Action::RecordClosure => self.record_closure(call).await,
            Action::SchedulePurge => self.schedule_purge(call).await,
            Action::Probe(_) => Err(broken("synthetic steps only run against test doubles")),
        };
        outcome.unwrap_or_else(|outcome| outcome)
    }
}

pub(super) fn done(patch: SagaState) -> StepOutcome {
    StepOutcome::Done(patch)
}

/// The customer can correct these fields when AWS refuses the email.
pub(super) fn with_fields(
    outcome: StepOutcome,
    fields: &[InputField],
    items: Vec<QueryItem>,
) -> StepOutcome {
    match outcome {
        StepOutcome::Query { code, .. } => StepOutcome::Query {
            code,
            fields: fields.to_vec(),
            items,
        },
        other => other,
    }
}

pub(super) fn item(
    aws_account_id: &AwsAccountId,
    state: InvitationState,
    detail: &str,
) -> QueryItem {
    QueryItem {
        aws_account_id: aws_account_id.clone(),
        state,
        detail: detail.to_owned(),
    }
}

/// The platform organization a step acts in.
pub(super) fn management_account(call: &StepCall) -> Option<AwsAccountId> {
    call.state
        .management_account_id
        .clone()
        .or_else(|| match &call.input.details {
            OrderDetails::BillingTransfer {
                management_account_id,
                ..
            } => Some(management_account_id.clone()),
            OrderDetails::OrganizationTransfer {
                management_account_id,
                ..
            } => management_account_id.clone(),
            OrderDetails::Terminate { aws_account_id, .. } => {
                match call
                    .input
                    .account
                    .as_ref()
                    .map(|account| account.relationship)
                {
                    Some(Relationship::PlatformMember) => call
                        .input
                        .account
                        .as_ref()
                        .and_then(|account| account.management_account_id.clone()),
                    _ => Some(aws_account_id.clone()),
                }
            }
            _ => None,
        })
}

/// The accounts the Essentials baseline concerns.
pub(super) fn baseline_targets(call: &StepCall) -> Vec<AwsAccountId> {
    match &call.input.details {
        OrderDetails::NewAccount { .. } => call.state.aws_account_id.iter().cloned().collect(),
        OrderDetails::OrganizationTransfer {
            uses_organizations: false,
            linked_account_ids,
            ..
        } => linked_account_ids.clone(),
        details => details.known_accounts(),
    }
}

pub(super) fn linked_accounts(call: &StepCall) -> Vec<AwsAccountId> {
    match &call.input.details {
        OrderDetails::OrganizationTransfer {
            linked_account_ids, ..
        } => linked_account_ids.clone(),
        _ => Vec::new(),
    }
}

pub(super) fn terminate_facts(
    call: &StepCall,
) -> Result<
    (
        &AwsAccountId,
        TerminationMode,
        &[Acknowledgement],
        &str,
        Uuid,
    ),
    StepOutcome,
> {
    let OrderDetails::Terminate {
        aws_account_id,
        mode,
        acknowledgements,
        reason,
        ..
    } = &call.input.details
    else {
        return Err(broken("only terminations offboard"));
    };
    let record = call
        .input
        .account
        .as_ref()
        .map(|account| account.record_id)
        .ok_or_else(|| broken("a termination without its account record"))?;
    Ok((aws_account_id, *mode, acknowledgements, reason, record))
}
