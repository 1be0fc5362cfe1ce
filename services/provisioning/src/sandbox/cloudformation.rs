//! CloudFormation in the simulation: stacks, StackSets, and the operations that create and delete
//! stack instances, which run one at a time per StackSet and land when they succeed.

use tenure_domain::AwsAccountId;
use tenure_provisioning_cloud::{
    AccountState, CloudResult, InstanceTargets, StackDeletion, StackDescription, StackInstance,
    StackInstanceStatus, StackSetDescription, StackSetOperationStatus, StackSetSpec,
    StackSetStatus, StackSpec, StackStatus,
};
use uuid::Uuid;

use super::objects::{SimAccount, SimInstance, SimStack, SimStackSet, SimStackSetOperation};
use super::{SandboxCloud, account_id, rejected, stack_key, storage};
use crate::store::SandboxTable;

impl SandboxCloud {
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
            status: StackStatus::CreateComplete,
            tags: Vec::new(),
            token: None,
            changed_at: self.now(),
            undeletable: false,
            forced: false,
        };
        self.put_stack(account, &stack).await?;
        Ok(to_stack(&stack))
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
        self.put_stack(account, &stack).await
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
        let instances = self.instances_in(&scope).await?;
        let mut found = false;
        for mut instance in instances {
            if instance.account == account.as_str() {
                found = true;
                instance.undeletable = true;
                self.put_instance(&scope, &instance).await?;
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

    async fn settle_stack(&self, mut stack: SimStack) -> CloudResult<SimStack> {
        let done_at = stack.changed_at + Self::delay(self.settings.cloudformation_delay_secs);
        let next = match stack.status {
            StackStatus::CreateInProgress => Some(StackStatus::CreateComplete),
            StackStatus::DeleteInProgress if stack.undeletable && !stack.forced => {
                Some(StackStatus::DeleteFailed)
            }
            StackStatus::DeleteInProgress => Some(StackStatus::DeleteComplete),
            _ => None,
        };
        if let Some(next) = next
            && self.now() >= done_at
        {
            stack.status = next;
            self.put_stack(&account_id(&stack.account)?, &stack).await?;
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
            Some(set) if set.status == StackSetStatus::Active => Ok(set),
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
        let scope = &scope;
        let delay = Self::delay(self.settings.cloudformation_delay_secs);
        let now = self.now();
        self.list_settled(
            SandboxTable::StackSetOperation,
            scope,
            |mut operation: SimStackSetOperation| async move {
                let before = operation.status;
                if !is_finished(&operation) {
                    if now >= operation.created_at + delay {
                        let complete = self.apply_operation(scope, &operation).await?;
                        operation.status = if complete {
                            StackSetOperationStatus::Succeeded
                        } else {
                            StackSetOperationStatus::Failed
                        };
                    } else if now >= operation.created_at + delay / 2 {
                        operation.status = StackSetOperationStatus::Running;
                    }
                }
                if operation.status != before {
                    self.put_operation(scope, &operation).await?;
                }
                Ok(Some(operation))
            },
        )
        .await
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
                .is_some_and(|found| {
                    matches!(found.state, AccountState::Suspended | AccountState::Closed)
                });
            for region in &operation.regions {
                let id = format!("{scope}/{account}/{region}");
                if suspended {
                    // Stack instances in suspended accounts are skipped, which is why offboarding
                    // deletes them before closing (domain.md §2).
                    let instance = SimInstance {
                        account: account.clone(),
                        region: region.clone(),
                        detailed_status: StackInstanceStatus::SkippedSuspendedAccount,
                        undeletable: false,
                    };
                    self.put_instance(scope, &instance).await?;
                } else if operation.action == "CREATE" {
                    let instance = SimInstance {
                        account: account.clone(),
                        region: region.clone(),
                        detailed_status: StackInstanceStatus::Succeeded,
                        undeletable: false,
                    };
                    self.put_instance(scope, &instance).await?;
                } else {
                    let existing: Option<SimInstance> = self
                        .store
                        .get(SandboxTable::StackInstance, &id)
                        .await
                        .map_err(storage)?;
                    match existing {
                        Some(mut instance) if instance.undeletable && !operation.retain_stacks => {
                            complete = false;
                            instance.detailed_status = StackInstanceStatus::Inoperable;
                            self.put_instance(scope, &instance).await?;
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
        refuse_while_running(&operations)?;
        let scope = stack_key(acting, stack_set);
        let operation = SimStackSetOperation {
            id: operation_id.to_owned(),
            action: action.to_owned(),
            accounts: targets.accounts.iter().map(ToString::to_string).collect(),
            regions: targets.regions.clone(),
            retain_stacks,
            status: StackSetOperationStatus::Queued,
            created_at: self.now(),
        };
        self.put_operation(&scope, &operation).await?;
        Ok(operation_id.to_owned())
    }

    pub(super) async fn start_stack(
        &self,
        acting: &AwsAccountId,
        stack: &StackSpec,
        token: &str,
    ) -> CloudResult<String> {
        let _serial = self.serial.lock().await;
        if let Some(existing) = self.find_stack(acting, &stack.name).await?
            && existing.status != StackStatus::DeleteComplete
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
            status: StackStatus::CreateInProgress,
            tags: stack.tags.clone(),
            token: Some(token.to_owned()),
            changed_at: self.now(),
            undeletable: false,
            forced: false,
        };
        self.put_stack(acting, &created).await?;
        Ok(created.stack_id)
    }

    pub(super) async fn stack_description(
        &self,
        acting: &AwsAccountId,
        name_or_id: &str,
    ) -> CloudResult<Option<StackDescription>> {
        let _serial = self.serial.lock().await;
        let found = self.find_stack(acting, name_or_id).await?;
        // By name, a deleted stack no longer exists; by id, AWS still reports DELETE_COMPLETE.
        Ok(found
            .filter(|stack| {
                name_or_id.starts_with("arn:") || stack.status != StackStatus::DeleteComplete
            })
            .map(|stack| to_stack(&stack)))
    }

    pub(super) async fn start_stack_deletion(
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
            stack.status,
            StackStatus::DeleteComplete | StackStatus::DeleteInProgress
        ) {
            return Ok(());
        }
        let forced = deletion == StackDeletion::Force;
        if forced && stack.status != StackStatus::DeleteFailed {
            return Err(rejected(
                "ValidationError",
                None,
                "FORCE_DELETE_STACK is only valid for a stack in DELETE_FAILED",
            ));
        }
        stack.status = StackStatus::DeleteInProgress;
        stack.forced = forced;
        stack.changed_at = self.now();
        self.put_stack(acting, &stack).await
    }

    pub(super) async fn create_set(
        &self,
        acting: &AwsAccountId,
        stack_set: &StackSetSpec,
        token: &str,
    ) -> CloudResult<String> {
        let _serial = self.serial.lock().await;
        if let Some(existing) = self.stack_set(acting, &stack_set.name).await?
            && existing.status == StackSetStatus::Active
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
            status: StackSetStatus::Active,
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

    pub(super) async fn describe_set(
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

    pub(super) async fn delete_set(&self, acting: &AwsAccountId, name: &str) -> CloudResult<()> {
        let _serial = self.serial.lock().await;
        let mut set = self.require_stack_set(acting, name).await?;
        let operations = self.settle_operations(acting, name).await?;
        refuse_while_running(&operations)?;
        let instances = self.instances_in(&stack_key(acting, name)).await?;
        if !instances.is_empty() {
            return Err(rejected(
                "StackSetNotEmptyException",
                None,
                "the StackSet still has stack instances",
            ));
        }
        set.status = StackSetStatus::Deleted;
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

    pub(super) async fn create_instances(
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

    pub(super) async fn delete_instances(
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

    pub(super) async fn operation_status(
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
        Ok(operation.status)
    }

    pub(super) async fn instances(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
    ) -> CloudResult<Vec<StackInstance>> {
        let _serial = self.serial.lock().await;
        self.require_stack_set(acting, stack_set).await?;
        self.settle_operations(acting, stack_set).await?;
        self.instances_in(&stack_key(acting, stack_set))
            .await?
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

    async fn put_stack(&self, account: &AwsAccountId, stack: &SimStack) -> CloudResult<()> {
        self.store
            .put(
                SandboxTable::Stack,
                &stack_key(account, &stack.name),
                account.as_str(),
                stack,
            )
            .await
            .map_err(storage)
    }

    /// The stack instances of the StackSet whose key is `scope`, as stored.
    async fn instances_in(&self, scope: &str) -> CloudResult<Vec<SimInstance>> {
        self.store
            .list(SandboxTable::StackInstance, scope)
            .await
            .map_err(storage)
    }

    async fn put_instance(&self, scope: &str, instance: &SimInstance) -> CloudResult<()> {
        let id = format!("{scope}/{}/{}", instance.account, instance.region);
        self.store
            .put(SandboxTable::StackInstance, &id, scope, instance)
            .await
            .map_err(storage)
    }

    async fn put_operation(
        &self,
        scope: &str,
        operation: &SimStackSetOperation,
    ) -> CloudResult<()> {
        self.store
            .put(
                SandboxTable::StackSetOperation,
                &format!("{scope}/{}", operation.id),
                scope,
                operation,
            )
            .await
            .map_err(storage)
    }
}

fn to_stack(stack: &SimStack) -> StackDescription {
    StackDescription {
        stack_id: stack.stack_id.clone(),
        name: stack.name.clone(),
        status: stack.status,
        tags: stack.tags.clone(),
    }
}

fn is_finished(operation: &SimStackSetOperation) -> bool {
    operation.status.is_terminal()
}

/// AWS runs one operation at a time per StackSet and refuses another while one is unfinished.
fn refuse_while_running(operations: &[SimStackSetOperation]) -> CloudResult<()> {
    if operations.iter().any(|operation| !is_finished(operation)) {
        return Err(rejected(
            "OperationInProgressException",
            None,
            "another operation is in progress on this StackSet",
        ));
    }
    Ok(())
}
