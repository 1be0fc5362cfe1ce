//! The shipped definitions, version 1 (domain.md §3, sagas.md §2.3). A change here is a new version
//! in a new module, never an edit: the golden test in `shipped` fails when a fingerprint moves.

use crate::domain::order::{InputField, TaskOwner};
use crate::domain::saga::build::{
    DAY, call, closes_member, closes_payer, closes_transferred_management_account,
    confirms_with_customer, emit, hands_over_ownership, has_support_contact,
    invites_linked_accounts, is_billing_transfer_source, is_public_sector, is_spam, pivot,
    pivots_at_activation, records_closure, returns_payer, support_channel, task, unlinks_member,
    wait, when, whole_organization,
};
use crate::domain::saga::definition::{Definition, DefinitionError, SagaKind};
use crate::domain::saga::node::{Action, OnReject, PollEvery, WaitDeadline};
use crate::domain::saga::state::EventKind;

/// NEW (domain.md §3.1).
pub(crate) fn account_create() -> Result<Definition, DefinitionError> {
    use InputField::{AccountName, RootEmail};
    Definition::new(
        SagaKind::AccountCreate,
        1,
        vec![
            call(
                "assign_payer",
                "Prepare the management account for your organization",
                "assigning_payer",
                Action::FindPlatformOrganization,
                None,
                &[],
            ),
            call(
                "reserve_account",
                "Reserve the account record",
                "validating",
                Action::ReserveAccounts,
                Some(Action::ReleaseAccounts),
                &[RootEmail, AccountName],
            ),
            call(
                "create_account",
                "Create the AWS account",
                "creating_account",
                Action::CreateAccount,
                Some(Action::CloseCreatedAccount),
                &[RootEmail, AccountName],
            ),
            call(
                "attach_account",
                "Record the new account",
                "awaiting_aws_account",
                Action::AttachAccount,
                None,
                &[],
            ),
            pivot(),
            call(
                "deploy_baseline",
                "Deploy the platform baseline",
                "deploying_baseline",
                Action::DeployBaseline,
                None,
                &[],
            ),
            when(
                task(
                    "root_access_setup",
                    "Reset the root password and set up MFA for the operator",
                    TaskOwner::Operations,
                    OnReject::Fail("TNR310"),
                ),
                is_spam,
            ),
            when(support_channel(), has_support_contact),
            call(
                "activate_account",
                "Activate the account",
                "activating",
                Action::ActivateAccounts,
                None,
                &[],
            ),
            emit(
                "announce_activation",
                "Announce the activation",
                EventKind::AccountActivated,
            ),
        ],
        None,
    )
}

/// TRANSFER by billing transfer (domain.md §3.2).
pub(crate) fn account_transfer() -> Result<Definition, DefinitionError> {
    use InputField::ManagementAccountId;
    Definition::new(
        SagaKind::AccountTransfer,
        1,
        vec![
            call(
                "reserve_account",
                "Register the management account",
                "validating",
                Action::ReserveAccounts,
                Some(Action::ReleaseAccounts),
                &[ManagementAccountId],
            ),
            when(
                task(
                    "cta_request",
                    "Request Consent to Assignment from AWS",
                    TaskOwner::Operations,
                    OnReject::Fail("TNR307"),
                ),
                is_public_sector,
            ),
            call(
                "invite_billing_transfer",
                "Send the billing transfer invitation",
                "inviting",
                Action::InviteBillingTransfer,
                Some(Action::WithdrawBillingTransfer),
                &[ManagementAccountId],
            ),
            wait(
                "await_acceptance",
                "Accept the billing transfer invitation",
                "transfer_invited",
                Action::CheckBillingTransfer,
                PollEvery::BillingTransfer,
                WaitDeadline::TransferAcceptance,
                "TNR205",
            ),
            wait(
                "await_bootstrap_role",
                "Deploy the bootstrap role",
                "awaiting_bootstrap_role",
                Action::CheckBootstrapRole,
                PollEvery::BootstrapRole,
                WaitDeadline::After(DAY * 14),
                "TNR210",
            ),
            call(
                "deploy_baseline",
                "Deploy the platform baseline",
                "deploying_baseline",
                Action::DeployBaseline,
                Some(Action::RemoveBaseline),
                &[],
            ),
            support_channel(),
            task(
                "cost_visibility",
                "Give cost visibility through a Billing Conductor billing group",
                TaskOwner::Operations,
                OnReject::Fail("TNR310"),
            ),
            pivot(),
            call(
                "activate_account",
                "Activate the account",
                "activating",
                Action::ActivateAccounts,
                None,
                &[],
            ),
            emit(
                "announce_activation",
                "Announce the activation",
                EventKind::AccountActivated,
            ),
        ],
        None,
    )
}

/// TRANSFER by organization invitation, the four ECAM/SPAM scenarios (domain.md §3.3).
pub(crate) fn organization_transfer() -> Result<Definition, DefinitionError> {
    use InputField::{LinkedAccountIds, ManagementAccountId};
    let mut pivot_after_handover = pivot();
    pivot_after_handover.name = "point_of_no_return_after_handover";
    Definition::new(
        SagaKind::OrganizationTransfer,
        1,
        vec![
            when(
                task(
                    "create_payer",
                    "Create the new payer with MFA and AWS Organizations in all-features mode",
                    TaskOwner::Operations,
                    OnReject::Fail("TNR310"),
                ),
                invites_linked_accounts,
            ),
            when(
                call(
                    "assign_payer",
                    "Verify the platform organization",
                    "assigning_payer",
                    Action::FindPlatformOrganization,
                    None,
                    &[],
                ),
                invites_linked_accounts,
            ),
            when(
                task(
                    "cta_request",
                    "Request Consent to Assignment from AWS",
                    TaskOwner::Operations,
                    OnReject::Fail("TNR307"),
                ),
                is_public_sector,
            ),
            call(
                "reserve_accounts",
                "Register the accounts",
                "validating",
                Action::ReserveAccounts,
                Some(Action::ReleaseAccounts),
                &[ManagementAccountId, LinkedAccountIds],
            ),
            when(
                call(
                    "invite_accounts",
                    "Invite the linked accounts",
                    "inviting",
                    Action::InviteAccounts,
                    Some(Action::RetractInvitations),
                    &[LinkedAccountIds],
                ),
                invites_linked_accounts,
            ),
            when(
                wait(
                    "await_invitations",
                    "Accept the invitations to join the organization",
                    "awaiting_invitations",
                    Action::CheckInvitations,
                    PollEvery::Invitations,
                    WaitDeadline::Order,
                    "TNR303",
                ),
                invites_linked_accounts,
            ),
            when(
                task(
                    "ownership_handover",
                    "Hand over ownership by screen share",
                    TaskOwner::Operations,
                    OnReject::Fail("TNR310"),
                ),
                hands_over_ownership,
            ),
            when(pivot_after_handover, hands_over_ownership),
            when(
                task(
                    "root_access_setup",
                    "Reset the root passwords and set up MFA",
                    TaskOwner::Operations,
                    OnReject::Fail("TNR310"),
                ),
                hands_over_ownership,
            ),
            support_channel(),
            call(
                "deploy_baseline",
                "Deploy the Essentials configuration",
                "deploying_baseline",
                Action::DeployBaseline,
                Some(Action::RemoveBaseline),
                &[],
            ),
            task(
                "cost_visibility",
                "Give cost visibility through a Billing Conductor billing group",
                TaskOwner::Operations,
                OnReject::Fail("TNR310"),
            ),
            when(pivot(), pivots_at_activation),
            call(
                "activate_accounts",
                "Activate the accounts",
                "activating",
                Action::ActivateAccounts,
                None,
                &[],
            ),
            emit(
                "announce_activation",
                "Announce the activation",
                EventKind::AccountActivated,
            ),
        ],
        None,
    )
}

/// TERMINATE (domain.md §3.4): checks, confirmation, platform resources removed before any closure
/// (payer stack last), then unlink or close, record, and schedule the purge. The 90-day reopen window
/// and the end of an unlinking period are timers of accounts, so the order ends here.
pub(crate) fn account_termination() -> Result<Definition, DefinitionError> {
    Definition::new(
        SagaKind::AccountTermination,
        1,
        vec![
            call(
                "begin_offboarding",
                "Start the offboarding",
                "offboarding",
                Action::BeginOffboarding,
                Some(Action::AbortOffboarding),
                &[],
            ),
            when(
                task(
                    "confirm_with_customer",
                    "Confirm the termination with the customer",
                    TaskOwner::Operations,
                    OnReject::Cancel,
                ),
                confirms_with_customer,
            ),
            call(
                "delete_stack_instances",
                "Remove the platform's stack instances",
                "removing_platform_resources",
                Action::DeleteStackInstances,
                Some(Action::RestoreStackInstances),
                &[],
            ),
            when(
                call(
                    "delete_stack_set",
                    "Remove the platform's StackSet",
                    "removing_platform_resources",
                    Action::DeleteStackSet,
                    Some(Action::RestoreStackSet),
                    &[],
                ),
                whole_organization,
            ),
            when(
                call(
                    "delete_payer_stack",
                    "Remove the payer stack with the bootstrap role",
                    "removing_platform_resources",
                    Action::DeletePayerStack,
                    None,
                    &[],
                ),
                whole_organization,
            ),
            pivot(),
            when(
                call(
                    "close_account",
                    "Close the account",
                    "closing_account",
                    Action::CloseAccount,
                    None,
                    &[],
                ),
                closes_member,
            ),
            when(
                call(
                    "remove_account",
                    "Remove the account from the organization",
                    "unlinking",
                    Action::RemoveAccount,
                    None,
                    &[],
                ),
                unlinks_member,
            ),
            when(
                call(
                    "end_billing_transfer",
                    "End the billing transfer",
                    "unlinking",
                    Action::EndBillingTransfer,
                    None,
                    &[],
                ),
                is_billing_transfer_source,
            ),
            when(
                task(
                    "root_closure",
                    "Delete the organization and close the management account as root",
                    TaskOwner::Operations,
                    OnReject::Fail("TNR407"),
                ),
                closes_payer,
            ),
            when(
                task(
                    "ownership_return",
                    "Hand ownership of the management account back to the customer",
                    TaskOwner::Operations,
                    OnReject::Fail("TNR310"),
                ),
                returns_payer,
            ),
            call(
                "record_outcome",
                "Record the outcome",
                "offboarding",
                Action::RecordOffboardingOutcome,
                None,
                &[],
            ),
            when(
                wait(
                    "await_closure",
                    "Wait until AWS closed the account",
                    "closing_account",
                    Action::CheckClosure,
                    PollEvery::Closure,
                    WaitDeadline::After(DAY * 7),
                    "TNR902",
                ),
                closes_member,
            ),
            when(
                call(
                    "record_closure",
                    "Record the closure and open the 90-day reopen window",
                    "closing_account",
                    Action::RecordClosure,
                    None,
                    &[],
                ),
                records_closure,
            ),
            when(
                task(
                    "customer_root_closure",
                    "Close your management account as its root user once the billing transfer ended",
                    TaskOwner::Customer,
                    OnReject::Fail("TNR407"),
                ),
                closes_transferred_management_account,
            ),
            emit(
                "announce_offboarding",
                "Announce the offboarding",
                EventKind::AccountOffboarded,
            ),
            call(
                "schedule_purge",
                "Schedule the data purge",
                "scheduling_purge",
                Action::SchedulePurge,
                None,
                &[],
            ),
            emit(
                "announce_purge",
                "Announce the purge",
                EventKind::PurgeScheduled,
            ),
        ],
        Some("delete_stack_instances"),
    )
}
