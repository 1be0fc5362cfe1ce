//! The building blocks of a saga definition (sagas.md §2.2): an immutable list of nodes, each a
//! downstream call, a wait, a timer, the pivot, an emitted event or a manual task, optionally guarded
//! by a pure predicate over the saga's input.

use std::time::Duration;

use crate::domain::order::{InputField, SagaInput, TaskKind, TaskOwner};
use crate::domain::saga::state::EventKind;

/// A pure predicate over the input, evaluated when the saga reaches the node: false skips it.
pub(crate) type Guard = fn(&SagaInput) -> bool;

/// Who owns a step, as the timeline shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepOwner {
    Automation,
    Operations,
    Customer,
}

/// A downstream effect or read the engine asks its port to perform. Each names what the step does,
/// not how: the clients decide which RPCs that takes, all under the step's idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Action {
    /// Finds the tenant's platform organization (its platform payer, else the configured default).
    FindPlatformOrganization,
    /// Reserves the account record(s) of the order in accounts.
    ReserveAccounts,
    /// Compensation: releases the reserved record(s).
    ReleaseAccounts,
    /// Creates the new AWS account and follows its creation until AWS has it.
    CreateAccount,
    /// Compensation: closes an account the order created.
    CloseCreatedAccount,
    /// Attaches the AWS identity to the reserved record.
    AttachAccount,
    /// Deploys the Essentials StackSet (set and instances) to the order's accounts.
    DeployBaseline,
    /// Compensation: removes the Essentials instances and StackSet the order deployed.
    RemoveBaseline,
    /// Activates the reserved record(s) in accounts.
    ActivateAccounts,
    /// Sends the billing-transfer invitation.
    InviteBillingTransfer,
    /// Compensation: withdraws the billing transfer (cancels the invitation or ends the transfer).
    WithdrawBillingTransfer,
    /// Reads whether the customer accepted the billing transfer.
    CheckBillingTransfer,
    /// Reads whether the customer deployed the bootstrap role.
    CheckBootstrapRole,
    /// Invites the linked accounts into the platform organization.
    InviteAccounts,
    /// Compensation: cancels open invitations and removes accounts that already joined.
    RetractInvitations,
    /// Reads the state of every invitation.
    CheckInvitations,
    /// Moves the account to `offboarding` after the termination checks.
    BeginOffboarding,
    /// Compensation: `offboarding` back to `active`.
    AbortOffboarding,
    /// Deletes the Essentials stack instances of the affected accounts.
    DeleteStackInstances,
    /// Compensation: deploys them again.
    RestoreStackInstances,
    /// Deletes the Essentials StackSet of a whole organization.
    DeleteStackSet,
    /// Compensation: creates it again.
    RestoreStackSet,
    /// Deletes the payer stack that holds the bootstrap role, last.
    DeletePayerStack,
    /// Closes a member account (accepted once AWS shows it closing).
    CloseAccount,
    /// Removes a member account from its organization.
    RemoveAccount,
    /// Ends an accepted billing transfer at the end of the month.
    EndBillingTransfer,
    /// Records in accounts what AWS accepted.
    RecordOffboardingOutcome,
    /// Reads whether AWS finished closing the account.
    CheckClosure,
    /// Records the closure, which opens the 90-day reopen window.
    RecordClosure,
    /// Schedules the account-scope data purge.
    SchedulePurge,
    /// A synthetic step that does nothing but answer: engine tests and benchmarks build definitions
    /// of these. The production port refuses it.
    #[cfg_attr(
        not(any(test, feature = "bench")),
        expect(
            dead_code,
            reason = "only engine tests and the benchmark build synthetic steps"
        )
    )]
    Probe(u8),
}

/// How often a wait looks again; the durations come from the engine settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PollEvery {
    /// A provisioning operation in progress.
    AwsOperation,
    /// A billing-transfer invitation (domain.md B5: every 15 minutes).
    BillingTransfer,
    /// The customer's bootstrap role (B6: every 30 minutes).
    BootstrapRole,
    /// Organization invitations (E4: hourly).
    Invitations,
    /// AWS closing an account (T8).
    Closure,
}

/// The latest moment a wait may last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitDeadline {
    /// The customer must accept the billing transfer before it expires or its acceptance cut-off.
    TransferAcceptance,
    /// A fixed time after the wait started.
    After(Duration),
    /// The order's own deadline.
    Order,
}

/// What a manual task's rejection does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnReject {
    /// The order fails with this catalogue code (compensating before the pivot).
    Fail(&'static str),
    /// The order is cancelled (compensating before the pivot).
    Cancel,
}

/// What a node does.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NodeSpec {
    /// A downstream call, repeated under the same key until it answers for good.
    Call {
        action: Action,
        /// Undoes the call's effect before the pivot; `None` for reads and effects the pivot
        /// makes permanent.
        undo: Option<Action>,
        /// The input fields the call reads.
        reads: &'static [InputField],
    },
    /// A read repeated until it reports progress, the deadline passes, or a signal wakes it early.
    Wait {
        poll: Action,
        every: PollEvery,
        deadline: WaitDeadline,
        /// The catalogue code the order fails with when the deadline passes.
        timeout_code: &'static str,
    },
    /// Sleeps until an absolute instant computed once on entry, `after` from then. No shipped order
    /// kind sleeps yet; the engine supports it and its tests and the benchmark measure it.
    #[cfg_attr(
        not(any(test, feature = "bench")),
        expect(dead_code, reason = "no shipped definition has a timer step yet")
    )]
    Timer { after: Duration },
    /// The point of no return.
    Pivot,
    /// Appends an order event in the same commit as the transition.
    Emit { event: EventKind },
    /// A person resolves it.
    ManualTask {
        owner: TaskOwner,
        on_reject: OnReject,
    },
    /// A task for the customer that never holds the order or billing: it is opened when the saga
    /// reaches the node, the saga goes on at once, and the task stays open after the order ended
    /// until the customer resolves it or it expires (the satisfaction survey, seed 003; closing an
    /// unlinked account as root, seed 001).
    FollowUp { kind: TaskKind },
}

/// One step of a definition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    /// Stable step key, e.g. `create_account`.
    pub(crate) name: &'static str,
    /// Title safe to show to the customer.
    pub(crate) title: &'static str,
    /// Who owns it.
    pub(crate) owner: StepOwner,
    /// The progress key while the order stands here (domain.md §4.2).
    pub(crate) status_key: &'static str,
    /// Skips the node when false.
    pub(crate) when: Option<Guard>,
    pub(crate) spec: NodeSpec,
}

impl Node {
    /// An unconditional automation step titled by its name: what engine tests and the benchmark build
    /// their synthetic definitions from.
    #[cfg_attr(
        not(any(test, feature = "bench")),
        expect(
            dead_code,
            reason = "only engine tests and the benchmark build synthetic steps"
        )
    )]
    pub(crate) fn synthetic(name: &'static str, spec: NodeSpec) -> Self {
        Self {
            name,
            title: name,
            owner: StepOwner::Automation,
            status_key: "processing",
            when: None,
            spec,
        }
    }

    /// True when the node applies to this input.
    pub(crate) fn applies(&self, input: &SagaInput) -> bool {
        self.when.is_none_or(|guard| guard(input))
    }

    /// The undo of a call, if it has one.
    pub(crate) fn undo(&self) -> Option<Action> {
        match self.spec {
            NodeSpec::Call { undo, .. } => undo,
            _ => None,
        }
    }

    /// The input fields the node reads.
    pub(crate) fn reads(&self) -> &'static [InputField] {
        match self.spec {
            NodeSpec::Call { reads, .. } => reads,
            _ => &[],
        }
    }

    /// True for the point of no return.
    pub(crate) fn is_pivot(&self) -> bool {
        matches!(self.spec, NodeSpec::Pivot)
    }

    /// True for a step the order never waits for.
    pub(crate) fn is_follow_up(&self) -> bool {
        matches!(self.spec, NodeSpec::FollowUp { .. })
    }
}
