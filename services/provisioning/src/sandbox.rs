//! The `sandbox` backend: AWS Organizations and CloudFormation simulated in provisioning's own database,
//! with a movable clock. It is the embedded default of `tenure up` and the second backend of the contract
//! suite, so it answers with AWS's own states, exception codes and reasons (domain.md §6.3, §6.4):
//! asynchronous creation, close quota and waiting periods, post-closure states, handshake expiry,
//! billing-transfer date rules and StackSet operation ordering. Time-driven transitions (a creation
//! finishing, a closure reaching SUSPENDED, a handshake expiring) are settled whenever an object is read,
//! from the timestamps it carries, so advancing the clock by 90 days moves every object at once.
//!
//! Every account the platform acts as is the management account of an all-features organization; the
//! simulation creates that organization on first use, as operations staff would have before.

mod clock;
mod customers;
mod objects;
mod transfers;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tenure_domain::{AwsAccountId, Clock, SharedClock};
use tenure_provisioning_cloud::{
    AccountDescription, AccountState, BackendKind, BillingTransfer, Cloud, CloudError, CloudResult,
    CreateAccountState, CreateAccountStatus, Handshake, HandshakeAction, HandshakeState,
    InstanceTargets, JoinedMethod, StackDeletion, StackDescription, StackInstance,
    StackSetDescription, StackSetOperationStatus, StackSetSpec, StackSpec, TransferInvitation,
    TransferStatus,
};
use tokio::sync::Mutex;
use uuid::Uuid;

pub use clock::SandboxClock;
pub(crate) use customers::EMAIL_ALREADY_EXISTS;

use crate::domain::billing;
use crate::store::{SandboxStore, SandboxTable};
use objects::{
    SimAccount, SimCreateRequest, SimHandshake, SimInstance, SimOrganization, SimStack,
    SimStackSet, SimStackSetOperation, SimTransfer,
};

/// AWS facts the simulation reproduces (domain.md §6.4).
const HANDSHAKE_LIFETIME: Duration = Duration::days(15);
const REMOVAL_WAIT_PERIOD: Duration = Duration::days(4);
const POST_CLOSURE_PERIOD: Duration = Duration::days(90);
const CLOSE_QUOTA_WINDOW: Duration = Duration::days(30);
/// How long AWS lists and describes a handshake after it ended (domain.md §6.4).
const TERMINAL_HANDSHAKE_VISIBILITY: Duration = Duration::days(30);
/// AWS refuses transfer starts more than about a year ahead.
const LATEST_TRANSFER_START: Duration = Duration::days(366);

/// How long the simulated AWS takes for its asynchronous processes, in simulated seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxSettings {
    /// CreateAccount: IN_PROGRESS until this long after the request.
    pub create_account_delay_secs: u64,
    /// CloseAccount: PENDING_CLOSURE until this long after the request, then SUSPENDED.
    pub close_account_delay_secs: u64,
    /// Stack creation and deletion, and StackSet operations (QUEUED, RUNNING, then SUCCEEDED).
    pub cloudformation_delay_secs: u64,
    /// Closures allowed per organization in a rolling 30 days; unset means AWS's current rule (the higher
    /// of 250 and 20 % of the members, at most 1,000).
    pub close_quota: Option<u32>,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            create_account_delay_secs: 30,
            close_account_delay_secs: 60,
            cloudformation_delay_secs: 10,
            close_quota: None,
        }
    }
}

/// The simulation; see the module documentation. Clones share the same simulated AWS.
#[derive(Debug, Clone)]
pub struct SandboxCloud {
    store: SandboxStore,
    clock: Arc<SandboxClock>,
    settings: Arc<SandboxSettings>,
    /// One simulated call at a time: each reads and writes several objects, and the simulation runs in
    /// one process (`tenure up`), so a process-wide lock is the whole concurrency story.
    serial: Arc<Mutex<()>>,
}

fn storage(error: tenure_db::DbError) -> CloudError {
    tracing::warn!(error = %error, "sandbox storage failed");
    CloudError::service("ServiceException", None, 500, "sandbox storage unavailable")
}

fn rejected(code: &str, reason: Option<&str>, message: &str) -> CloudError {
    CloudError::service(code, reason, 400, message)
}

fn handshake_not_found() -> CloudError {
    rejected(
        "HandshakeNotFoundException",
        None,
        "no handshake with this id",
    )
}

fn transfer_not_found() -> CloudError {
    rejected(
        "ResponsibilityTransferNotFoundException",
        None,
        "no responsibility transfer with this id",
    )
}

fn fresh_id(prefix: &str) -> String {
    format!("{prefix}{}", Uuid::new_v4().simple())
}

fn fresh_account_id() -> String {
    let mut rng = rand::thread_rng();
    (0..12)
        .map(|_| char::from(b'0' + rng.gen_range(0..10)))
        .collect()
}

fn account_id(raw: &str) -> CloudResult<AwsAccountId> {
    AwsAccountId::parse(raw)
        .map_err(|_| CloudError::service("ServiceException", None, 500, "stored account id"))
}

fn stack_key(acting: &AwsAccountId, name: &str) -> String {
    format!("{acting}/{name}")
}

impl SandboxCloud {
    /// The simulation over `store`, reading its persisted clock offset on top of `base`.
    pub(crate) async fn open(
        store: SandboxStore,
        base: SharedClock,
        settings: SandboxSettings,
    ) -> Result<Self, tenure_db::DbError> {
        let offset_ms = store.clock_offset_ms().await?;
        Ok(Self {
            store,
            clock: Arc::new(SandboxClock::new(base, offset_ms)),
            settings: Arc::new(settings),
            serial: Arc::new(Mutex::new(())),
        })
    }

    /// The simulated clock, which the engine also reads.
    pub fn clock(&self) -> Arc<SandboxClock> {
        Arc::clone(&self.clock)
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn delay(secs: u64) -> Duration {
        Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1_000_000))
    }

    /// Moves the simulated clock forward by `by` and persists it; returns the new time.
    pub async fn advance_clock(&self, by: Duration) -> Result<DateTime<Utc>, tenure_db::DbError> {
        let _serial = self.serial.lock().await;
        let offset_ms = self.clock.offset().num_milliseconds() + by.num_milliseconds().max(0);
        self.store.set_clock_offset_ms(offset_ms).await?;
        self.clock.advance(by);
        Ok(self.now())
    }

    /// Creates an organization whose management account is a fresh account id, as the contract suite's
    /// fixture needs.
    pub async fn create_organization(&self) -> CloudResult<AwsAccountId> {
        let _serial = self.serial.lock().await;
        let management = account_id(&fresh_account_id())?;
        self.organization(&management).await?;
        Ok(management)
    }

    /// Creates an account that belongs to no organization (a customer's standalone account).
    pub async fn create_standalone_account(&self) -> CloudResult<AwsAccountId> {
        let _serial = self.serial.lock().await;
        let id = fresh_account_id();
        self.put_account(&SimAccount {
            id: id.clone(),
            name: format!("Account {id}"),
            email: format!("{id}@sandbox.tenure.invalid"),
            organization: None,
            state: "ACTIVE".to_owned(),
            joined_method: "CREATED".to_owned(),
            joined_at: self.now(),
            close_requested_at: None,
            suspended_at: None,
        })
        .await?;
        account_id(&id)
    }

    /// Accepts a handshake as the invited customer would.
    pub async fn accept_handshake(&self, handshake_id: &str) -> CloudResult<Handshake> {
        self.answer_handshake(handshake_id, "ACCEPTED").await
    }

    /// Declines a handshake as the invited customer would.
    pub async fn decline_handshake(&self, handshake_id: &str) -> CloudResult<Handshake> {
        self.answer_handshake(handshake_id, "DECLINED").await
    }

    /// Deploys the customer-owned bootstrap stack `name` in `account`, complete at once (the customer
    /// clicked the quick-create link and waited).
    pub async fn deploy_customer_stack(
        &self,
        account: &AwsAccountId,
        name: &str,
    ) -> CloudResult<StackDescription> {
        let _serial = self.serial.lock().await;
        let stack = SimStack {
            stack_id: format!(
                "arn:aws:cloudformation:us-east-1:{account}:stack/{name}/{}",
                Uuid::new_v4()
            ),
            name: name.to_owned(),
            account: account.to_string(),
            status: "CREATE_COMPLETE".to_owned(),
            tags: Vec::new(),
            token: None,
            changed_at: self.now(),
            undeletable: false,
            forced: false,
        };
        self.store
            .put(
                SandboxTable::Stack,
                &stack_key(account, name),
                account.as_str(),
                &stack,
            )
            .await
            .map_err(storage)?;
        Ok(describe_stack(&stack))
    }

    /// Makes a resource of stack `name` in `account` impossible to delete, as a customer who filled a
    /// bucket the stack owns would: a standard DeleteStack then ends `DELETE_FAILED`.
    pub async fn block_stack_deletion(
        &self,
        account: &AwsAccountId,
        name: &str,
    ) -> CloudResult<()> {
        let _serial = self.serial.lock().await;
        let Some(mut stack) = self.find_stack(account, name).await? else {
            return Err(rejected(
                "ValidationError",
                None,
                "the stack does not exist",
            ));
        };
        stack.undeletable = true;
        self.store
            .put(
                SandboxTable::Stack,
                &stack_key(account, &stack.name),
                account.as_str(),
                &stack,
            )
            .await
            .map_err(storage)
    }

    /// Makes the stacks of the instances of StackSet `stack_set` (in `acting`) in `account` impossible
    /// to delete: a DeleteStackInstances without `RetainStacks` then ends FAILED and leaves them
    /// `INOPERABLE`; a retaining one removes them from the StackSet.
    pub async fn make_instances_inoperable(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
        account: &AwsAccountId,
    ) -> CloudResult<()> {
        let _serial = self.serial.lock().await;
        self.require_stack_set(acting, stack_set).await?;
        self.settle_operations(acting, stack_set).await?;
        let scope = stack_key(acting, stack_set);
        let instances: Vec<SimInstance> = self
            .store
            .list(SandboxTable::StackInstance, &scope)
            .await
            .map_err(storage)?;
        let mut found = false;
        for mut instance in instances {
            if instance.account == account.as_str() {
                found = true;
                instance.undeletable = true;
                self.store
                    .put(
                        SandboxTable::StackInstance,
                        &format!("{scope}/{}/{}", instance.account, instance.region),
                        &scope,
                        &instance,
                    )
                    .await
                    .map_err(storage)?;
            }
        }
        if found {
            Ok(())
        } else {
            Err(rejected(
                "StackInstanceNotFoundException",
                None,
                "the StackSet has no instance in this account",
            ))
        }
    }

    async fn answer_handshake(&self, handshake_id: &str, answer: &str) -> CloudResult<Handshake> {
        let _serial = self.serial.lock().await;
        let mut handshake = self.load_handshake(handshake_id).await?;
        if handshake.state == answer {
            return Err(rejected(
                "HandshakeAlreadyInStateException",
                None,
                "the handshake is already in the requested state",
            ));
        }
        if !matches!(handshake.state.as_str(), "REQUESTED" | "OPEN") {
            return Err(rejected(
                "InvalidHandshakeTransitionException",
                None,
                "the handshake cannot make this transition",
            ));
        }
        let now = self.now();
        if answer == "ACCEPTED" && handshake.action == "INVITE" {
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
            let mut account = existing.unwrap_or_else(|| SimAccount {
                id: handshake.target.clone(),
                name: format!("Account {}", handshake.target),
                email: format!("{}@sandbox.tenure.invalid", handshake.target),
                organization: None,
                state: "ACTIVE".to_owned(),
                joined_method: "INVITED".to_owned(),
                joined_at: now,
                close_requested_at: None,
                suspended_at: None,
            });
            account.organization = Some(handshake.management.clone());
            account.joined_method = "INVITED".to_owned();
            account.joined_at = now;
            self.put_account(&account).await?;
        }
        handshake.state = answer.to_owned();
        handshake.ended_at = Some(now);
        self.put_handshake(&handshake).await?;
        if let Some(transfer_id) = &handshake.transfer_id {
            let mut transfer = self.load_transfer(transfer_id).await?;
            transfer.status = answer.to_owned();
            self.put_transfer(&transfer).await?;
        }
        to_handshake(&handshake)
    }

    async fn organization(&self, management: &AwsAccountId) -> CloudResult<SimOrganization> {
        if let Some(organization) = self
            .store
            .get::<SimOrganization>(SandboxTable::Organization, management.as_str())
            .await
            .map_err(storage)?
        {
            return Ok(organization);
        }
        let now = self.now();
        let organization = SimOrganization {
            id: format!("o-{}", &Uuid::new_v4().simple().to_string()[..12]),
            management: management.to_string(),
            created_at: now,
        };
        self.store
            .put(
                SandboxTable::Organization,
                management.as_str(),
                management.as_str(),
                &organization,
            )
            .await
            .map_err(storage)?;
        // The management account is a member of its own organization.
        self.put_account(&SimAccount {
            id: management.to_string(),
            name: "Management account".to_owned(),
            email: format!("{management}@sandbox.tenure.invalid"),
            organization: Some(management.to_string()),
            state: "ACTIVE".to_owned(),
            joined_method: "CREATED".to_owned(),
            joined_at: now,
            close_requested_at: None,
            suspended_at: None,
        })
        .await?;
        Ok(organization)
    }

    async fn put_account(&self, account: &SimAccount) -> CloudResult<()> {
        let scope = account.organization.clone().unwrap_or_default();
        self.store
            .put(SandboxTable::Account, &account.id, &scope, account)
            .await
            .map_err(storage)
    }

    async fn put_handshake(&self, handshake: &SimHandshake) -> CloudResult<()> {
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

    async fn put_transfer(&self, transfer: &SimTransfer) -> CloudResult<()> {
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

    /// Settles an account's closure timeline at `now`.
    async fn settle_account(&self, mut account: SimAccount) -> CloudResult<SimAccount> {
        let now = self.now();
        let mut changed = false;
        if account.state == "PENDING_CLOSURE"
            && let Some(requested) = account.close_requested_at
        {
            let suspended_at = requested + Self::delay(self.settings.close_account_delay_secs);
            if now >= suspended_at {
                account.state = "SUSPENDED".to_owned();
                account.suspended_at = Some(suspended_at);
                changed = true;
            }
        }
        if account.state == "SUSPENDED"
            && let Some(suspended_at) = account.suspended_at
            && now >= suspended_at + POST_CLOSURE_PERIOD
        {
            account.state = "CLOSED".to_owned();
            changed = true;
        }
        if changed {
            self.put_account(&account).await?;
        }
        Ok(account)
    }

    async fn members(&self, management: &AwsAccountId) -> CloudResult<Vec<SimAccount>> {
        let accounts: Vec<SimAccount> = self
            .store
            .list(SandboxTable::Account, management.as_str())
            .await
            .map_err(storage)?;
        let mut settled = Vec::with_capacity(accounts.len());
        for account in accounts {
            settled.push(self.settle_account(account).await?);
        }
        Ok(settled)
    }

    async fn member(
        &self,
        management: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<SimAccount> {
        let found: Option<SimAccount> = self
            .store
            .get(SandboxTable::Account, account.as_str())
            .await
            .map_err(storage)?;
        match found {
            Some(found) if found.organization.as_deref() == Some(management.as_str()) => {
                self.settle_account(found).await
            }
            _ => Err(rejected(
                "AccountNotFoundException",
                None,
                "the account is not a member of this organization",
            )),
        }
    }

    /// Settles a creation request: once its delay has passed, the account exists or the request failed.
    async fn settle_request(&self, mut request: SimCreateRequest) -> CloudResult<SimCreateRequest> {
        if request.state != "IN_PROGRESS" {
            return Ok(request);
        }
        let completes_at =
            request.requested_at + Self::delay(self.settings.create_account_delay_secs);
        if self.now() < completes_at {
            return Ok(request);
        }
        if self.email_taken(&request.email).await? {
            request.state = "FAILED".to_owned();
            request.failure_reason = Some("EMAIL_ALREADY_EXISTS".to_owned());
        } else {
            let account = SimAccount {
                id: fresh_account_id(),
                name: request.account_name.clone(),
                email: request.email.clone(),
                organization: Some(request.management.clone()),
                state: "ACTIVE".to_owned(),
                joined_method: "CREATED".to_owned(),
                joined_at: completes_at,
                close_requested_at: None,
                suspended_at: None,
            };
            self.put_account(&account).await?;
            request.state = "SUCCEEDED".to_owned();
            request.account_id = Some(account.id);
        }
        self.store
            .put(
                SandboxTable::CreateAccountRequest,
                &request.id,
                &request.management,
                &request,
            )
            .await
            .map_err(storage)?;
        Ok(request)
    }

    async fn settle_handshake(&self, mut handshake: SimHandshake) -> CloudResult<SimHandshake> {
        if matches!(handshake.state.as_str(), "REQUESTED" | "OPEN")
            && self.now() >= handshake.expires_at
        {
            handshake.state = "EXPIRED".to_owned();
            handshake.ended_at = Some(handshake.expires_at);
            self.put_handshake(&handshake).await?;
            if let Some(transfer_id) = &handshake.transfer_id
                && let Some(mut transfer) = self
                    .store
                    .get::<SimTransfer>(SandboxTable::Transfer, transfer_id)
                    .await
                    .map_err(storage)?
                && transfer.status == "REQUESTED"
            {
                transfer.status = "EXPIRED".to_owned();
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
    async fn settled_handshake(&self, handshake_id: &str) -> CloudResult<SimHandshake> {
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

    /// AWS shows a terminal handshake for 30 days after it ended, then answers as if it never was.
    fn is_visible(&self, handshake: &SimHandshake) -> bool {
        handshake
            .ended_at
            .is_none_or(|ended| self.now() < ended + TERMINAL_HANDSHAKE_VISIBILITY)
    }

    async fn load_transfer(&self, transfer_id: &str) -> CloudResult<SimTransfer> {
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

    async fn settle_stack(&self, mut stack: SimStack) -> CloudResult<SimStack> {
        let done_at = stack.changed_at + Self::delay(self.settings.cloudformation_delay_secs);
        let next = match stack.status.as_str() {
            "CREATE_IN_PROGRESS" => Some("CREATE_COMPLETE"),
            "DELETE_IN_PROGRESS" if stack.undeletable && !stack.forced => Some("DELETE_FAILED"),
            "DELETE_IN_PROGRESS" => Some("DELETE_COMPLETE"),
            _ => None,
        };
        if let Some(next) = next
            && self.now() >= done_at
        {
            stack.status = next.to_owned();
            let account = account_id(&stack.account)?;
            self.store
                .put(
                    SandboxTable::Stack,
                    &stack_key(&account, &stack.name),
                    &stack.account,
                    &stack,
                )
                .await
                .map_err(storage)?;
        }
        Ok(stack)
    }

    async fn find_stack(
        &self,
        acting: &AwsAccountId,
        name_or_id: &str,
    ) -> CloudResult<Option<SimStack>> {
        // A stack id is an ARN ending in `stack/<name>/<uuid>`.
        let name = name_or_id
            .strip_prefix("arn:")
            .and_then(|_| name_or_id.split('/').nth(1))
            .unwrap_or(name_or_id);
        let found: Option<SimStack> = self
            .store
            .get(SandboxTable::Stack, &stack_key(acting, name))
            .await
            .map_err(storage)?;
        let Some(stack) = found else {
            return Ok(None);
        };
        if name_or_id.starts_with("arn:") && stack.stack_id != name_or_id {
            return Ok(None);
        }
        Ok(Some(self.settle_stack(stack).await?))
    }

    async fn stack_set(
        &self,
        acting: &AwsAccountId,
        name: &str,
    ) -> CloudResult<Option<SimStackSet>> {
        self.store
            .get(SandboxTable::StackSet, &stack_key(acting, name))
            .await
            .map_err(storage)
    }

    async fn require_stack_set(
        &self,
        acting: &AwsAccountId,
        name: &str,
    ) -> CloudResult<SimStackSet> {
        match self.stack_set(acting, name).await? {
            Some(set) if set.status == "ACTIVE" => Ok(set),
            _ => Err(rejected(
                "StackSetNotFoundException",
                None,
                "the specified StackSet does not exist",
            )),
        }
    }

    /// Settles every operation of a StackSet; the effect of an operation lands when it succeeds.
    async fn settle_operations(
        &self,
        acting: &AwsAccountId,
        name: &str,
    ) -> CloudResult<Vec<SimStackSetOperation>> {
        let scope = stack_key(acting, name);
        let operations: Vec<SimStackSetOperation> = self
            .store
            .list(SandboxTable::StackSetOperation, &scope)
            .await
            .map_err(storage)?;
        let delay = Self::delay(self.settings.cloudformation_delay_secs);
        let now = self.now();
        let mut settled = Vec::with_capacity(operations.len());
        for mut operation in operations {
            let before = operation.status.clone();
            if !matches!(
                operation.status.as_str(),
                "SUCCEEDED" | "FAILED" | "STOPPED"
            ) {
                if now >= operation.created_at + delay {
                    let complete = self.apply_operation(&scope, &operation).await?;
                    operation.status = if complete { "SUCCEEDED" } else { "FAILED" }.to_owned();
                } else if now >= operation.created_at + delay / 2 {
                    operation.status = "RUNNING".to_owned();
                }
            }
            if operation.status != before {
                self.store
                    .put(
                        SandboxTable::StackSetOperation,
                        &format!("{scope}/{}", operation.id),
                        &scope,
                        &operation,
                    )
                    .await
                    .map_err(storage)?;
            }
            settled.push(operation);
        }
        Ok(settled)
    }

    /// Applies a finished operation to its instances; false when an instance could not be deleted.
    async fn apply_operation(
        &self,
        scope: &str,
        operation: &SimStackSetOperation,
    ) -> CloudResult<bool> {
        let mut complete = true;
        for account in &operation.accounts {
            let suspended = self
                .store
                .get::<SimAccount>(SandboxTable::Account, account)
                .await
                .map_err(storage)?
                .is_some_and(|found| matches!(found.state.as_str(), "SUSPENDED" | "CLOSED"));
            for region in &operation.regions {
                let id = format!("{scope}/{account}/{region}");
                if suspended {
                    // Stack instances in suspended accounts are skipped, which is why offboarding
                    // deletes them before closing (domain.md §2).
                    let instance = SimInstance {
                        account: account.clone(),
                        region: region.clone(),
                        detailed_status: "SKIPPED_SUSPENDED_ACCOUNT".to_owned(),
                        undeletable: false,
                    };
                    self.store
                        .put(SandboxTable::StackInstance, &id, scope, &instance)
                        .await
                        .map_err(storage)?;
                } else if operation.action == "CREATE" {
                    let instance = SimInstance {
                        account: account.clone(),
                        region: region.clone(),
                        detailed_status: "SUCCEEDED".to_owned(),
                        undeletable: false,
                    };
                    self.store
                        .put(SandboxTable::StackInstance, &id, scope, &instance)
                        .await
                        .map_err(storage)?;
                } else {
                    let existing: Option<SimInstance> = self
                        .store
                        .get(SandboxTable::StackInstance, &id)
                        .await
                        .map_err(storage)?;
                    match existing {
                        Some(mut instance) if instance.undeletable && !operation.retain_stacks => {
                            complete = false;
                            instance.detailed_status = "INOPERABLE".to_owned();
                            self.store
                                .put(SandboxTable::StackInstance, &id, scope, &instance)
                                .await
                                .map_err(storage)?;
                        }
                        _ => self
                            .store
                            .delete(SandboxTable::StackInstance, &id)
                            .await
                            .map_err(storage)?,
                    }
                }
            }
        }
        Ok(complete)
    }

    async fn start_operation(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
        action: &str,
        targets: &InstanceTargets,
        retain_stacks: bool,
        operation_id: &str,
    ) -> CloudResult<String> {
        self.require_stack_set(acting, stack_set).await?;
        let operations = self.settle_operations(acting, stack_set).await?;
        if operations
            .iter()
            .any(|operation| operation.id == operation_id)
        {
            return Err(rejected(
                "OperationIdAlreadyExistsException",
                None,
                "an operation with this id already exists",
            ));
        }
        if operations.iter().any(|operation| {
            !matches!(
                operation.status.as_str(),
                "SUCCEEDED" | "FAILED" | "STOPPED"
            )
        }) {
            return Err(rejected(
                "OperationInProgressException",
                None,
                "another operation is in progress on this StackSet",
            ));
        }
        let scope = stack_key(acting, stack_set);
        let operation = SimStackSetOperation {
            id: operation_id.to_owned(),
            action: action.to_owned(),
            accounts: targets.accounts.iter().map(ToString::to_string).collect(),
            regions: targets.regions.clone(),
            retain_stacks,
            status: "QUEUED".to_owned(),
            created_at: self.now(),
        };
        self.store
            .put(
                SandboxTable::StackSetOperation,
                &format!("{scope}/{operation_id}"),
                &scope,
                &operation,
            )
            .await
            .map_err(storage)?;
        Ok(operation_id.to_owned())
    }

    fn close_quota(&self, members: usize) -> usize {
        match self.settings.close_quota {
            Some(quota) => usize::try_from(quota).unwrap_or(usize::MAX),
            None => (members / 5).clamp(250, 1_000),
        }
    }
}

fn to_request(request: &SimCreateRequest) -> CloudResult<CreateAccountStatus> {
    Ok(CreateAccountStatus {
        request_id: request.id.clone(),
        account_name: request.account_name.clone(),
        state: match request.state.as_str() {
            "SUCCEEDED" => CreateAccountState::Succeeded,
            "FAILED" => CreateAccountState::Failed,
            _ => CreateAccountState::InProgress,
        },
        requested_at: request.requested_at,
        account_id: request.account_id.as_deref().map(account_id).transpose()?,
        failure_reason: request.failure_reason.clone(),
    })
}

fn to_account(account: &SimAccount) -> CloudResult<AccountDescription> {
    Ok(AccountDescription {
        id: account_id(&account.id)?,
        name: account.name.clone(),
        email: account.email.clone(),
        state: match account.state.as_str() {
            "PENDING_CLOSURE" => AccountState::PendingClosure,
            "SUSPENDED" => AccountState::Suspended,
            "CLOSED" => AccountState::Closed,
            "PENDING_ACTIVATION" => AccountState::PendingActivation,
            _ => AccountState::Active,
        },
        joined_method: if account.joined_method == "INVITED" {
            JoinedMethod::Invited
        } else {
            JoinedMethod::Created
        },
        joined_at: account.joined_at,
    })
}

fn to_handshake(handshake: &SimHandshake) -> CloudResult<Handshake> {
    Ok(Handshake {
        id: handshake.id.clone(),
        action: if handshake.action == "INVITE" {
            HandshakeAction::Invite
        } else {
            HandshakeAction::TransferResponsibility
        },
        state: match handshake.state.as_str() {
            "OPEN" => HandshakeState::Open,
            "ACCEPTED" => HandshakeState::Accepted,
            "DECLINED" => HandshakeState::Declined,
            "CANCELED" => HandshakeState::Canceled,
            "EXPIRED" => HandshakeState::Expired,
            _ => HandshakeState::Requested,
        },
        target: account_id(&handshake.target)?,
        requested_at: handshake.requested_at,
        expires_at: handshake.expires_at,
        transfer_id: handshake.transfer_id.clone(),
        notes: handshake.notes.clone(),
    })
}

fn to_transfer(transfer: &SimTransfer) -> CloudResult<BillingTransfer> {
    let status = match transfer.status.as_str() {
        "ACCEPTED" => TransferStatus::Accepted,
        "DECLINED" => TransferStatus::Declined,
        "CANCELED" => TransferStatus::Canceled,
        "EXPIRED" => TransferStatus::Expired,
        "WITHDRAWN" => TransferStatus::Withdrawn,
        _ => TransferStatus::Requested,
    };
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

fn describe_stack(stack: &SimStack) -> StackDescription {
    StackDescription {
        stack_id: stack.stack_id.clone(),
        name: stack.name.clone(),
        status: stack.status.clone(),
        tags: stack.tags.clone(),
    }
}

fn handshake_action(action: HandshakeAction) -> &'static str {
    match action {
        HandshakeAction::Invite => "INVITE",
        HandshakeAction::TransferResponsibility => "TRANSFER_RESPONSIBILITY",
    }
}

#[async_trait]
impl Cloud for SandboxCloud {
    fn kind(&self) -> BackendKind {
        BackendKind::Sandbox
    }

    async fn create_account(
        &self,
        acting: &AwsAccountId,
        email: &str,
        account_name: &str,
    ) -> CloudResult<CreateAccountStatus> {
        let _serial = self.serial.lock().await;
        self.organization(acting).await?;
        let request = SimCreateRequest {
            id: fresh_id("car-"),
            management: acting.to_string(),
            account_name: account_name.to_owned(),
            email: email.to_owned(),
            requested_at: self.now(),
            state: "IN_PROGRESS".to_owned(),
            account_id: None,
            failure_reason: None,
        };
        self.store
            .put(
                SandboxTable::CreateAccountRequest,
                &request.id,
                acting.as_str(),
                &request,
            )
            .await
            .map_err(storage)?;
        let request = self.settle_request(request).await?;
        to_request(&request)
    }

    async fn describe_create_account_status(
        &self,
        acting: &AwsAccountId,
        request_id: &str,
    ) -> CloudResult<CreateAccountStatus> {
        let _serial = self.serial.lock().await;
        let found: Option<SimCreateRequest> = self
            .store
            .get(SandboxTable::CreateAccountRequest, request_id)
            .await
            .map_err(storage)?;
        match found {
            Some(request) if request.management == acting.as_str() => {
                to_request(&self.settle_request(request).await?)
            }
            _ => Err(rejected(
                "CreateAccountStatusNotFoundException",
                None,
                "no create-account request with this id",
            )),
        }
    }

    async fn list_create_account_statuses(
        &self,
        acting: &AwsAccountId,
    ) -> CloudResult<Vec<CreateAccountStatus>> {
        let _serial = self.serial.lock().await;
        let requests: Vec<SimCreateRequest> = self
            .store
            .list(SandboxTable::CreateAccountRequest, acting.as_str())
            .await
            .map_err(storage)?;
        let mut statuses = Vec::with_capacity(requests.len());
        for request in requests {
            statuses.push(to_request(&self.settle_request(request).await?)?);
        }
        Ok(statuses)
    }

    async fn describe_account(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<AccountDescription> {
        let _serial = self.serial.lock().await;
        to_account(&self.member(acting, account).await?)
    }

    async fn list_accounts(&self, acting: &AwsAccountId) -> CloudResult<Vec<AccountDescription>> {
        let _serial = self.serial.lock().await;
        self.organization(acting).await?;
        self.members(acting).await?.iter().map(to_account).collect()
    }

    async fn remove_account(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<()> {
        let _serial = self.serial.lock().await;
        let mut member = self.member(acting, account).await?;
        if member.id == acting.as_str() {
            return Err(rejected(
                "MasterCannotLeaveOrganizationException",
                None,
                "the management account cannot leave its organization",
            ));
        }
        if member.joined_method == "CREATED" && self.now() < member.joined_at + REMOVAL_WAIT_PERIOD
        {
            return Err(rejected(
                "ConstraintViolationException",
                Some("WAIT_PERIOD_ACTIVE"),
                "a created account can leave only after its waiting period",
            ));
        }
        member.organization = None;
        self.put_account(&member).await
    }

    async fn close_account(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<()> {
        let _serial = self.serial.lock().await;
        let mut member = self.member(acting, account).await?;
        if member.id == acting.as_str() {
            return Err(rejected(
                "ConstraintViolationException",
                Some("CANNOT_CLOSE_MANAGEMENT_ACCOUNT"),
                "the management account can only be closed by its root user",
            ));
        }
        if member.state != "ACTIVE" {
            return Err(rejected(
                "AccountAlreadyClosedException",
                None,
                "the account is already closed",
            ));
        }
        let now = self.now();
        let members = self.members(acting).await?;
        let recent = members
            .iter()
            .filter(|other| {
                other
                    .close_requested_at
                    .is_some_and(|at| at > now - CLOSE_QUOTA_WINDOW)
            })
            .count();
        if recent >= self.close_quota(members.len()) {
            return Err(rejected(
                "ConstraintViolationException",
                Some("CLOSE_ACCOUNT_QUOTA_EXCEEDED"),
                "the organization closed too many accounts in the last 30 days",
            ));
        }
        member.state = "PENDING_CLOSURE".to_owned();
        member.close_requested_at = Some(now);
        self.put_account(&member).await
    }

    async fn invite_account(
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
        let open = self.open_handshakes(acting, "INVITE").await?;
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
            action: "INVITE".to_owned(),
            state: "REQUESTED".to_owned(),
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

    async fn describe_handshake(
        &self,
        acting: &AwsAccountId,
        handshake_id: &str,
    ) -> CloudResult<Handshake> {
        let _serial = self.serial.lock().await;
        to_handshake(&self.handshake_seen_by(acting, handshake_id, true).await?)
    }

    async fn list_handshakes(
        &self,
        acting: &AwsAccountId,
        action: HandshakeAction,
    ) -> CloudResult<Vec<Handshake>> {
        let _serial = self.serial.lock().await;
        let handshakes: Vec<SimHandshake> = self
            .store
            .list(SandboxTable::Handshake, acting.as_str())
            .await
            .map_err(storage)?;
        let mut listed = Vec::new();
        for handshake in handshakes {
            if handshake.action == handshake_action(action) {
                let handshake = self.settle_handshake(handshake).await?;
                if self.is_visible(&handshake) {
                    listed.push(to_handshake(&handshake)?);
                }
            }
        }
        Ok(listed)
    }

    async fn cancel_handshake(
        &self,
        acting: &AwsAccountId,
        handshake_id: &str,
    ) -> CloudResult<Handshake> {
        let _serial = self.serial.lock().await;
        let mut handshake = self.handshake_seen_by(acting, handshake_id, false).await?;
        match handshake.state.as_str() {
            "CANCELED" => {
                return Err(rejected(
                    "HandshakeAlreadyInStateException",
                    None,
                    "the handshake is already canceled",
                ));
            }
            "REQUESTED" | "OPEN" => {}
            _ => {
                return Err(rejected(
                    "InvalidHandshakeTransitionException",
                    None,
                    "the handshake cannot be canceled in its state",
                ));
            }
        }
        handshake.state = "CANCELED".to_owned();
        handshake.ended_at = Some(self.now());
        self.put_handshake(&handshake).await?;
        if let Some(transfer_id) = &handshake.transfer_id {
            let mut transfer = self.load_transfer(transfer_id).await?;
            transfer.status = "CANCELED".to_owned();
            self.put_transfer(&transfer).await?;
        }
        to_handshake(&handshake)
    }

    async fn invite_billing_transfer(
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
            .open_handshakes(acting, "TRANSFER_RESPONSIBILITY")
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
        if transfers
            .iter()
            .any(|transfer| transfer.source == source.as_str() && transfer.status == "ACCEPTED")
        {
            return Err(rejected(
                "HandshakeConstraintViolationException",
                Some("RESPONSIBILITY_TRANSFER_ALREADY_EXISTS"),
                "the account already has a billing transfer",
            ));
        }
        let handshake = SimHandshake {
            id: fresh_id("h-"),
            management: acting.to_string(),
            action: "TRANSFER_RESPONSIBILITY".to_owned(),
            state: "REQUESTED".to_owned(),
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
            status: "REQUESTED".to_owned(),
            start_at: start,
            end_at: None,
            handshake_id: handshake.id.clone(),
        };
        self.put_handshake(&handshake).await?;
        self.put_transfer(&transfer).await?;
        to_handshake(&handshake)
    }

    async fn describe_billing_transfer(
        &self,
        acting: &AwsAccountId,
        transfer_id: &str,
    ) -> CloudResult<BillingTransfer> {
        let _serial = self.serial.lock().await;
        to_transfer(&self.transfer_seen_by(acting, transfer_id).await?)
    }

    async fn list_inbound_billing_transfers(
        &self,
        acting: &AwsAccountId,
    ) -> CloudResult<Vec<BillingTransfer>> {
        let _serial = self.serial.lock().await;
        let transfers: Vec<SimTransfer> = self
            .store
            .list(SandboxTable::Transfer, acting.as_str())
            .await
            .map_err(storage)?;
        let mut listed = Vec::with_capacity(transfers.len());
        for transfer in transfers {
            listed.push(to_transfer(&self.load_transfer(&transfer.id).await?)?);
        }
        Ok(listed)
    }

    async fn terminate_billing_transfer(
        &self,
        acting: &AwsAccountId,
        transfer_id: &str,
        end_at: DateTime<Utc>,
    ) -> CloudResult<BillingTransfer> {
        self.terminate_transfer(acting, transfer_id, end_at).await
    }

    async fn create_stack(
        &self,
        acting: &AwsAccountId,
        stack: &StackSpec,
        token: &str,
    ) -> CloudResult<String> {
        let _serial = self.serial.lock().await;
        if let Some(existing) = self.find_stack(acting, &stack.name).await?
            && existing.status != "DELETE_COMPLETE"
        {
            if existing.token.as_deref() == Some(token) {
                return Ok(existing.stack_id);
            }
            return Err(rejected(
                "AlreadyExistsException",
                None,
                "a stack with this name already exists",
            ));
        }
        let created = SimStack {
            stack_id: format!(
                "arn:aws:cloudformation:us-east-1:{acting}:stack/{}/{}",
                stack.name,
                Uuid::new_v4()
            ),
            name: stack.name.clone(),
            account: acting.to_string(),
            status: "CREATE_IN_PROGRESS".to_owned(),
            tags: stack.tags.clone(),
            token: Some(token.to_owned()),
            changed_at: self.now(),
            undeletable: false,
            forced: false,
        };
        self.store
            .put(
                SandboxTable::Stack,
                &stack_key(acting, &stack.name),
                acting.as_str(),
                &created,
            )
            .await
            .map_err(storage)?;
        Ok(created.stack_id)
    }

    async fn describe_stack(
        &self,
        acting: &AwsAccountId,
        name_or_id: &str,
    ) -> CloudResult<Option<StackDescription>> {
        let _serial = self.serial.lock().await;
        let found = self.find_stack(acting, name_or_id).await?;
        // By name, a deleted stack no longer exists; by id, AWS still reports DELETE_COMPLETE.
        Ok(found
            .filter(|stack| name_or_id.starts_with("arn:") || stack.status != "DELETE_COMPLETE")
            .map(|stack| describe_stack(&stack)))
    }

    async fn delete_stack(
        &self,
        acting: &AwsAccountId,
        name_or_id: &str,
        _token: &str,
        deletion: StackDeletion,
    ) -> CloudResult<()> {
        let _serial = self.serial.lock().await;
        // Deleting a stack that does not exist succeeds, as in AWS.
        let Some(mut stack) = self.find_stack(acting, name_or_id).await? else {
            return Ok(());
        };
        if matches!(
            stack.status.as_str(),
            "DELETE_COMPLETE" | "DELETE_IN_PROGRESS"
        ) {
            return Ok(());
        }
        let forced = deletion == StackDeletion::Force;
        if forced && stack.status != "DELETE_FAILED" {
            return Err(rejected(
                "ValidationError",
                None,
                "FORCE_DELETE_STACK is only valid for a stack in DELETE_FAILED",
            ));
        }
        stack.status = "DELETE_IN_PROGRESS".to_owned();
        stack.forced = forced;
        stack.changed_at = self.now();
        self.store
            .put(
                SandboxTable::Stack,
                &stack_key(acting, &stack.name),
                acting.as_str(),
                &stack,
            )
            .await
            .map_err(storage)
    }

    async fn create_stack_set(
        &self,
        acting: &AwsAccountId,
        stack_set: &StackSetSpec,
        token: &str,
    ) -> CloudResult<String> {
        let _serial = self.serial.lock().await;
        if let Some(existing) = self.stack_set(acting, &stack_set.name).await?
            && existing.status == "ACTIVE"
        {
            if existing.token == token {
                return Ok(existing.stack_set_id);
            }
            return Err(rejected(
                "NameAlreadyExistsException",
                None,
                "a StackSet with this name already exists",
            ));
        }
        let created = SimStackSet {
            stack_set_id: format!("{}:{}", stack_set.name, Uuid::new_v4()),
            name: stack_set.name.clone(),
            account: acting.to_string(),
            status: "ACTIVE".to_owned(),
            tags: stack_set.tags.clone(),
            token: token.to_owned(),
        };
        self.store
            .put(
                SandboxTable::StackSet,
                &stack_key(acting, &stack_set.name),
                acting.as_str(),
                &created,
            )
            .await
            .map_err(storage)?;
        Ok(created.stack_set_id)
    }

    async fn describe_stack_set(
        &self,
        acting: &AwsAccountId,
        name: &str,
    ) -> CloudResult<Option<StackSetDescription>> {
        let _serial = self.serial.lock().await;
        Ok(self
            .stack_set(acting, name)
            .await?
            .map(|set| StackSetDescription {
                stack_set_id: set.stack_set_id,
                name: set.name,
                status: set.status,
                tags: set.tags,
            }))
    }

    async fn delete_stack_set(&self, acting: &AwsAccountId, name: &str) -> CloudResult<()> {
        let _serial = self.serial.lock().await;
        let mut set = self.require_stack_set(acting, name).await?;
        let operations = self.settle_operations(acting, name).await?;
        if operations.iter().any(|operation| {
            !matches!(
                operation.status.as_str(),
                "SUCCEEDED" | "FAILED" | "STOPPED"
            )
        }) {
            return Err(rejected(
                "OperationInProgressException",
                None,
                "another operation is in progress on this StackSet",
            ));
        }
        let instances: Vec<SimInstance> = self
            .store
            .list(SandboxTable::StackInstance, &stack_key(acting, name))
            .await
            .map_err(storage)?;
        if !instances.is_empty() {
            return Err(rejected(
                "StackSetNotEmptyException",
                None,
                "the StackSet still has stack instances",
            ));
        }
        set.status = "DELETED".to_owned();
        self.store
            .put(
                SandboxTable::StackSet,
                &stack_key(acting, name),
                acting.as_str(),
                &set,
            )
            .await
            .map_err(storage)
    }

    async fn create_stack_instances(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
        targets: &InstanceTargets,
        operation_id: &str,
    ) -> CloudResult<String> {
        let _serial = self.serial.lock().await;
        self.start_operation(acting, stack_set, "CREATE", targets, false, operation_id)
            .await
    }

    async fn delete_stack_instances(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
        targets: &InstanceTargets,
        retain_stacks: bool,
        operation_id: &str,
    ) -> CloudResult<String> {
        let _serial = self.serial.lock().await;
        self.start_operation(
            acting,
            stack_set,
            "DELETE",
            targets,
            retain_stacks,
            operation_id,
        )
        .await
    }

    async fn describe_stack_set_operation(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
        operation_id: &str,
    ) -> CloudResult<StackSetOperationStatus> {
        let _serial = self.serial.lock().await;
        self.require_stack_set(acting, stack_set).await?;
        let operations = self.settle_operations(acting, stack_set).await?;
        let Some(operation) = operations
            .iter()
            .find(|operation| operation.id == operation_id)
        else {
            return Err(rejected(
                "OperationNotFoundException",
                None,
                "no StackSet operation with this id",
            ));
        };
        Ok(match operation.status.as_str() {
            "QUEUED" => StackSetOperationStatus::Queued,
            "RUNNING" => StackSetOperationStatus::Running,
            "STOPPING" => StackSetOperationStatus::Stopping,
            "FAILED" => StackSetOperationStatus::Failed,
            "STOPPED" => StackSetOperationStatus::Stopped,
            _ => StackSetOperationStatus::Succeeded,
        })
    }

    async fn list_stack_instances(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
    ) -> CloudResult<Vec<StackInstance>> {
        let _serial = self.serial.lock().await;
        self.require_stack_set(acting, stack_set).await?;
        self.settle_operations(acting, stack_set).await?;
        let instances: Vec<SimInstance> = self
            .store
            .list(SandboxTable::StackInstance, &stack_key(acting, stack_set))
            .await
            .map_err(storage)?;
        instances
            .into_iter()
            .map(|instance| {
                Ok(StackInstance {
                    account: account_id(&instance.account)?,
                    region: instance.region,
                    detailed_status: instance.detailed_status,
                })
            })
            .collect()
    }
}

impl SandboxCloud {
    async fn open_handshakes(
        &self,
        acting: &AwsAccountId,
        action: &str,
    ) -> CloudResult<Vec<SimHandshake>> {
        let handshakes: Vec<SimHandshake> = self
            .store
            .list(SandboxTable::Handshake, acting.as_str())
            .await
            .map_err(storage)?;
        let mut open = Vec::new();
        for handshake in handshakes {
            if handshake.action != action {
                continue;
            }
            let handshake = self.settle_handshake(handshake).await?;
            if matches!(handshake.state.as_str(), "REQUESTED" | "OPEN") {
                open.push(handshake);
            }
        }
        Ok(open)
    }
}
