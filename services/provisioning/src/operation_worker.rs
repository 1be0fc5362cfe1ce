//! The operation engine: joins the decisions of `domain`, the journal of `store` and a [`Cloud`]
//! backend. Every mutating RPC persists an operation (its intent) before any AWS call, persists the AWS
//! reference right after the call returns, and is then advanced by GetOperation and by a background
//! worker until it ends, so an operation finishes without a caller and survives a crash: an operation
//! found in flight without a reference is reconciled with AWS, never blindly re-sent (domain.md §6.5).

mod queries;
mod steps;
mod templates;
mod worker;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tenure_domain::{AwsAccountId, SharedClock};
use uuid::Uuid;

pub(crate) use queries::BootstrapCheck;
pub(crate) use steps::handshake_snapshot as handshake_view;
pub(crate) use templates::BOOTSTRAP_STACK_NAME;
pub(crate) use worker::run_worker;

use crate::domain::cloud::{Cloud, CloudError};
use crate::domain::error::ProvisioningError;
use crate::domain::operation::{
    Operation, OperationError, OperationRequest, OperationState, Phase,
};
use crate::domain::reaction::Reaction;
use crate::settings::EngineSettings;
use crate::store::{Intent, OperationFilter, OperationStore, Saved};

/// A mutating request, decoded and validated.
#[derive(Debug, Clone)]
pub(crate) struct StartCommand {
    pub(crate) caller: String,
    pub(crate) tenant_id: Option<Uuid>,
    pub(crate) idempotency_key: String,
    pub(crate) request_hash: Vec<u8>,
    pub(crate) request: OperationRequest,
}

/// What one step of an operation came to.
#[derive(Debug)]
pub(crate) enum Outcome {
    Succeeded,
    /// AWS is still working; look again after this long.
    Wait(Duration),
    /// AWS said no (or not now); the reaction decides the state.
    React(Reaction, CloudError),
}

/// The operation use cases.
#[derive(Debug, Clone)]
pub(crate) struct OperationWorker {
    inner: Arc<EngineInner>,
}

#[derive(Debug)]
struct EngineInner {
    store: OperationStore,
    cloud: Arc<dyn Cloud>,
    /// Business time: when an operation is due, deferrals and polls. In the sandbox it is the
    /// simulated clock, which AdvanceClock moves by minutes or days at once.
    clock: ClockHandle,
    /// Real elapsed time, for claims and leases: they measure whether a stepper is still alive, which
    /// has nothing to do with the simulated date. On the business clock one AdvanceClock would make
    /// every live claim lapse at once and let a second stepper run the same operation.
    liveness: ClockHandle,
    settings: EngineSettings,
    default_management_account: Option<AwsAccountId>,
}

struct ClockHandle(SharedClock);

impl std::fmt::Debug for ClockHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

fn secs(value: u64) -> Duration {
    Duration::seconds(i64::try_from(value).unwrap_or(i64::MAX / 1_000_000))
}

impl OperationWorker {
    /// An engine over `store` calling `cloud`, with `clock` for business time and `liveness` for the
    /// real time its claims and leases last (the system clock outside tests).
    pub(crate) fn new(
        store: OperationStore,
        cloud: Arc<dyn Cloud>,
        clock: SharedClock,
        liveness: SharedClock,
        settings: EngineSettings,
        default_management_account: Option<AwsAccountId>,
    ) -> Self {
        Self {
            inner: Arc::new(EngineInner {
                store,
                cloud,
                clock: ClockHandle(clock),
                liveness: ClockHandle(liveness),
                settings,
                default_management_account,
            }),
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.inner.clock.0.now()
    }

    pub(crate) fn cloud(&self) -> &dyn Cloud {
        self.inner.cloud.as_ref()
    }

    pub(crate) fn store(&self) -> &OperationStore {
        &self.inner.store
    }

    pub(crate) fn settings(&self) -> &EngineSettings {
        &self.inner.settings
    }

    fn real_now(&self) -> DateTime<Utc> {
        self.inner.liveness.0.now()
    }

    /// When a claim taken at `real_now` lapses.
    fn claimed_until(&self, real_now: DateTime<Utc>) -> DateTime<Utc> {
        real_now + secs(self.inner.settings.claim_secs)
    }

    /// The management account that runs calls naming only `reference` (a member account, `h-…` or
    /// `rt-…`). The account that created or invited a member, or sent a handshake, is recorded when that
    /// operation succeeds, which stays right when the platform runs several organizations (one per
    /// tenant); the configured default covers references Tenure did not create, such as accounts
    /// created before Tenure or transfers found by the reconciler.
    pub(crate) async fn management_account_for(
        &self,
        reference: &str,
    ) -> Result<AwsAccountId, ProvisioningError> {
        if let Some(owner) = self.inner.store.reference_owner(reference).await? {
            return AwsAccountId::parse(&owner)
                .map_err(|_| ProvisioningError::internal("stored management account"));
        }
        self.inner
            .default_management_account
            .clone()
            .ok_or(ProvisioningError::NotFound("organization"))
    }

    /// Persists the intent of `command` and runs its first step; a replay returns the stored operation
    /// without calling AWS.
    pub(crate) async fn start(
        &self,
        command: StartCommand,
    ) -> Result<Operation, ProvisioningError> {
        let now = self.now();
        let request_hash = command.request_hash.clone();
        let operation = Operation::intent(
            &command.caller,
            command.tenant_id,
            &command.idempotency_key,
            command.request_hash,
            command.request,
            now,
        );
        match self
            .inner
            .store
            .insert_intent(operation, self.claimed_until(self.real_now()))
            .await?
        {
            Intent::Existing(existing) if existing.request_hash == request_hash => Ok(existing),
            Intent::Existing(_) => Err(ProvisioningError::KeyReused),
            Intent::Created(created) => self.step(created).await,
        }
    }

    /// The operation `id`, stepped first when it is in flight and its next check is due.
    pub(crate) async fn get(&self, id: Uuid) -> Result<Operation, ProvisioningError> {
        let operation = self
            .inner
            .store
            .get(id)
            .await?
            .ok_or(ProvisioningError::NotFound("operation"))?;
        self.refresh(operation).await
    }

    async fn refresh(&self, operation: Operation) -> Result<Operation, ProvisioningError> {
        let due = !operation.state.is_final()
            && operation.next_check_at.is_some_and(|at| at <= self.now());
        if !due {
            return Ok(operation);
        }
        match self.claim(operation.id).await? {
            Some(claimed) => self.step(claimed).await,
            None => Ok(operation),
        }
    }

    /// The operation `id` under a new claim, when it is due and nobody else holds it.
    async fn claim(&self, id: Uuid) -> Result<Option<Operation>, ProvisioningError> {
        let real_now = self.real_now();
        Ok(self
            .inner
            .store
            .claim(id, self.now(), real_now, self.claimed_until(real_now))
            .await?)
    }

    /// One page of operations.
    pub(crate) async fn list(
        &self,
        filter: &OperationFilter,
        limit: u64,
    ) -> Result<Vec<Operation>, ProvisioningError> {
        Ok(self.inner.store.list(filter, limit).await?)
    }

    /// Steps every due operation once; returns how many were stepped.
    pub(crate) async fn run_due(&self) -> Result<usize, ProvisioningError> {
        let due = self
            .inner
            .store
            .due(
                self.now(),
                self.real_now(),
                self.inner.settings.worker_batch,
            )
            .await?;
        let mut stepped = 0;
        for id in due {
            let Some(operation) = self.claim(id).await? else {
                continue;
            };
            self.step(operation).await?;
            stepped += 1;
        }
        Ok(stepped)
    }

    /// Runs one step of a claimed operation under its account's lease and persists the outcome. A step
    /// whose claim was taken over answers with the operation as its new stepper left it.
    async fn step(&self, mut operation: Operation) -> Result<Operation, ProvisioningError> {
        let lock_key = operation.request.lock_key();
        let real_now = self.real_now();
        let leased_until = real_now + secs(self.inner.settings.lease_secs);
        if !self
            .inner
            .store
            .acquire_lease(&lock_key, &operation, real_now, leased_until)
            .await?
        {
            // Another operation on the same account is running: wait for it.
            operation.next_check_at = Some(self.now() + Duration::seconds(1));
            return self.save(operation).await;
        }
        let outcome = steps::advance(self, &mut operation).await;
        let released = self.inner.store.release_lease(&lock_key, &operation).await;
        let outcome = match outcome {
            Err(ProvisioningError::ClaimLost) => return self.stored(operation.id).await,
            outcome => outcome?,
        };
        released?;
        self.settle(&mut operation, outcome);
        let operation = self.save(operation).await?;
        if let Some(handshake) = &operation.progress.handshake {
            self.inner
                .store
                .record_observation(&handshake.id, handshake)
                .await?;
        }
        Ok(operation)
    }

    /// Writes the outcome of a step and gives its claim back. A stepper that lost its claim must not
    /// overwrite what the new one wrote (say IN_PROGRESS over SUCCEEDED): it answers with the stored
    /// operation instead.
    async fn save(&self, operation: Operation) -> Result<Operation, ProvisioningError> {
        match self.inner.store.save(&operation).await? {
            Saved::Written => Ok(operation),
            Saved::Superseded(stored) => stored
                .map(|stored| *stored)
                .ok_or(ProvisioningError::NotFound("operation")),
        }
    }

    /// Writes what a step learned so far and keeps its claim; a stepper that lost the claim stops
    /// with [`ProvisioningError::ClaimLost`] before its next AWS call.
    async fn checkpoint(&self, operation: &Operation) -> Result<(), ProvisioningError> {
        match self.inner.store.checkpoint(operation).await? {
            Saved::Written => Ok(()),
            Saved::Superseded(_) => Err(ProvisioningError::ClaimLost),
        }
    }

    async fn stored(&self, id: Uuid) -> Result<Operation, ProvisioningError> {
        self.inner
            .store
            .get(id)
            .await?
            .ok_or(ProvisioningError::NotFound("operation"))
    }

    /// Applies an outcome to the operation's state.
    fn settle(&self, operation: &mut Operation, outcome: Outcome) {
        let now = self.now();
        operation.updated_at = now;
        match outcome {
            Outcome::Succeeded => {
                operation.state = OperationState::Succeeded;
                operation.error = None;
                operation.next_check_at = None;
                operation.progress.transient_attempts = 0;
            }
            Outcome::Wait(after) => {
                operation.state = OperationState::InProgress;
                operation.error = None;
                operation.next_check_at = Some(now + after);
                operation.progress.transient_attempts = 0;
            }
            Outcome::React(reaction, error) => self.react(operation, reaction, &error, now),
        }
    }

    fn react(
        &self,
        operation: &mut Operation,
        reaction: Reaction,
        error: &CloudError,
        now: DateTime<Utc>,
    ) {
        let aws_code = error
            .reason
            .clone()
            .or_else(|| error.code.clone())
            .or_else(|| error.http_status.map(|status| format!("HTTP {status}")));
        let describe = |code: Option<&str>, message: &str| OperationError {
            code: code.map(str::to_owned),
            aws_code: aws_code.clone(),
            message: message.to_owned(),
        };
        // Only an ambiguous failure leaves a call that may have taken effect; after any other answer
        // the next attempt may send again without reconciling.
        let ambiguous = matches!(
            reaction,
            Reaction::Retry {
                ambiguous: true,
                ..
            }
        );
        if !ambiguous && operation.progress.phase == Phase::Sent {
            operation.progress.phase = Phase::Fresh;
        }
        match reaction {
            Reaction::Retry { backoff, .. } => {
                operation.progress.transient_attempts += 1;
                operation.state = OperationState::InProgress;
                operation.next_check_at = Some(now + backoff);
                operation.error = Some(describe(
                    Some("TNR901"),
                    "AWS is responding slowly; the call is retried",
                ));
            }
            Reaction::Defer { after, code } => {
                operation.state = OperationState::Deferred;
                operation.next_check_at = Some(now + after);
                operation.error = Some(describe(
                    Some(code),
                    "an AWS quota or waiting period applies; the call is retried later",
                ));
            }
            Reaction::CustomerAction { code } => {
                operation.state = OperationState::CustomerActionRequired;
                operation.next_check_at = None;
                operation.error = Some(describe(Some(code), "the customer must act in AWS"));
            }
            Reaction::Fail { code } => {
                operation.state = OperationState::Failed;
                operation.next_check_at = None;
                operation.error = Some(describe(code, "AWS rejected the call"));
            }
            // The steps resolve these themselves; reaching here means AWS contradicted itself.
            Reaction::Done | Reaction::Reconcile | Reaction::MoveDate => {
                operation.state = OperationState::Failed;
                operation.next_check_at = None;
                operation.error = Some(describe(
                    Some("TNR903"),
                    "AWS answered in a way the engine cannot reconcile",
                ));
            }
        }
    }
}
