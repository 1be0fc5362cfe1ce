//! CloudFormation steps: the bootstrap stack in a customer's account, the essentials StackSet, and
//! its stack instances with the StackSet operation that creates or deletes them.

use chrono::Duration;
use tenure_domain::AwsAccountId;

use super::{MAX_TURNS, OperationWorker, Outcome, StepResult, counted, error_outcome};
use crate::domain::cloud::{
    CloudError, InstanceTargets, StackDeletion, StackSetOperationStatus, StackStatus,
};
use crate::domain::operation::{Operation, Phase, StackSetSnapshot, StackSnapshot};
use crate::domain::reaction::{Api, LeftInstances, Reaction, judge_left_instances, react};
use crate::operation_worker::templates::{
    BOOTSTRAP_STACK_NAME, ESSENTIALS_STACK_SET_NAME, bootstrap_stack, essentials_stack_set,
    is_tenure_owned,
};

/// The bootstrap stack as the operation knows it: by id once AWS named it, by name until then.
fn bootstrap_stack_ref(operation: &Operation) -> String {
    operation
        .progress
        .stack
        .as_ref()
        .and_then(|stack| stack.stack_id.clone())
        .unwrap_or_else(|| BOOTSTRAP_STACK_NAME.to_owned())
}

pub(super) async fn deploy_bootstrap_stack(
    engine: &OperationWorker,
    operation: &mut Operation,
    holder: &AwsAccountId,
) -> StepResult {
    if operation.progress.phase != Phase::Referenced {
        let token = operation.aws_token("create-stack");
        let answer = counted(
            operation,
            engine
                .cloud()
                .create_stack(holder, &bootstrap_stack(), &token)
                .await,
        );
        let stack_id = match answer {
            Ok(stack_id) => Some(stack_id),
            Err(error) => match react(
                Api::CreateStack,
                &error,
                operation.progress.transient_attempts,
            ) {
                // TokenAlreadyExistsException: our own request; AlreadyExistsException: adopt if Tenure's.
                Reaction::Done | Reaction::Reconcile => {
                    let answer = counted(
                        operation,
                        engine
                            .cloud()
                            .describe_stack(holder, BOOTSTRAP_STACK_NAME)
                            .await,
                    );
                    match answer {
                        Ok(Some(found)) if is_tenure_owned(&found.tags) => Some(found.stack_id),
                        Ok(_) => return Ok(Outcome::React(Reaction::Fail { code: None }, error)),
                        Err(described) => {
                            return Ok(error_outcome(Api::DescribeStack, operation, described));
                        }
                    }
                }
                reaction => return Ok(Outcome::React(reaction, error)),
            },
        };
        operation.progress.stack = Some(StackSnapshot {
            name: BOOTSTRAP_STACK_NAME.to_owned(),
            stack_id,
            status: StackStatus::CreateInProgress,
            account: holder.clone(),
        });
        engine.referenced(operation).await?;
    }
    let name_or_id = bootstrap_stack_ref(operation);
    let answer = counted(
        operation,
        engine.cloud().describe_stack(holder, &name_or_id).await,
    );
    match answer {
        Ok(Some(found)) => {
            let status = found.status;
            if let Some(stack) = &mut operation.progress.stack {
                stack.status = status;
                stack.stack_id = Some(found.stack_id);
            }
            match status {
                _ if status.is_deployed() => Ok(Outcome::Succeeded),
                _ if status.is_in_progress() => Ok(Outcome::Wait(engine.poll())),
                _ => Ok(Outcome::React(
                    Reaction::Fail { code: None },
                    CloudError::service(status.as_str(), None, 200, "the stack did not complete"),
                )),
            }
        }
        // Not visible yet (eventual consistency): send the same token again on the next step.
        Ok(None) => {
            operation.progress.phase = Phase::Fresh;
            Ok(Outcome::Wait(engine.poll()))
        }
        Err(error) => Ok(error_outcome(Api::DescribeStack, operation, error)),
    }
}

pub(super) async fn delete_bootstrap_stack(
    engine: &OperationWorker,
    operation: &mut Operation,
    holder: &AwsAccountId,
) -> StepResult {
    if operation.progress.phase != Phase::Referenced {
        let found = counted(
            operation,
            engine
                .cloud()
                .describe_stack(holder, BOOTSTRAP_STACK_NAME)
                .await,
        );
        let stack_id = match found {
            Ok(Some(found)) => Some(found.stack_id),
            Ok(None) => None,
            Err(error) => return Ok(error_outcome(Api::DescribeStack, operation, error)),
        };
        operation.progress.stack = Some(StackSnapshot {
            name: BOOTSTRAP_STACK_NAME.to_owned(),
            stack_id: stack_id.clone(),
            status: StackStatus::DeleteInProgress,
            account: holder.clone(),
        });
        let Some(stack_id) = stack_id else {
            if let Some(stack) = &mut operation.progress.stack {
                stack.status = StackStatus::DeleteComplete;
            }
            return Ok(Outcome::Succeeded);
        };
        let token = operation.aws_token("delete-stack");
        let answer = counted(
            operation,
            engine
                .cloud()
                .delete_stack(holder, &stack_id, &token, StackDeletion::Standard)
                .await,
        );
        if let Err(error) = answer {
            return Ok(error_outcome(Api::DeleteStack, operation, error));
        }
        engine.referenced(operation).await?;
    }
    let stack_id = bootstrap_stack_ref(operation);
    let answer = counted(
        operation,
        engine.cloud().describe_stack(holder, &stack_id).await,
    );
    let status = match answer {
        Ok(Some(found)) => found.status,
        Ok(None) => StackStatus::DeleteComplete,
        Err(error) => return Ok(error_outcome(Api::DescribeStack, operation, error)),
    };
    if let Some(stack) = &mut operation.progress.stack {
        stack.status = status;
    }
    match status {
        StackStatus::DeleteComplete => Ok(Outcome::Succeeded),
        StackStatus::DeleteInProgress => Ok(Outcome::Wait(engine.poll())),
        // A resource would not go (domain.md §6.3): force once, keeping what cannot be deleted; a
        // forced deletion that fails too is for operations.
        StackStatus::DeleteFailed if !operation.progress.force_deleted => {
            let token = operation.aws_token("force-delete-stack");
            let answer = counted(
                operation,
                engine
                    .cloud()
                    .delete_stack(holder, &stack_id, &token, StackDeletion::Force)
                    .await,
            );
            if let Err(error) = answer {
                return Ok(error_outcome(Api::DeleteStack, operation, error));
            }
            operation.progress.force_deleted = true;
            Ok(Outcome::Wait(engine.poll()))
        }
        _ => Ok(Outcome::React(
            Reaction::Fail { code: None },
            CloudError::service(status.as_str(), None, 200, "the stack was not deleted"),
        )),
    }
}

fn stack_set_snapshot(stack_set_id: Option<String>) -> StackSetSnapshot {
    StackSetSnapshot {
        name: ESSENTIALS_STACK_SET_NAME.to_owned(),
        stack_set_id,
        operation_id: None,
        operation_status: None,
        accounts: Vec::new(),
    }
}

pub(super) async fn create_stack_set(
    engine: &OperationWorker,
    operation: &mut Operation,
    management: &AwsAccountId,
) -> StepResult {
    let token = operation.aws_token("create-stack-set");
    let answer = counted(
        operation,
        engine
            .cloud()
            .create_stack_set(management, &essentials_stack_set(), &token)
            .await,
    );
    let stack_set_id = match answer {
        Ok(id) => id,
        Err(error) => match react(
            Api::CreateStackSet,
            &error,
            operation.progress.transient_attempts,
        ) {
            Reaction::Reconcile => {
                let answer = counted(
                    operation,
                    engine
                        .cloud()
                        .describe_stack_set(management, ESSENTIALS_STACK_SET_NAME)
                        .await,
                );
                match answer {
                    Ok(Some(found)) if is_tenure_owned(&found.tags) => found.stack_set_id,
                    Ok(_) => return Ok(Outcome::React(Reaction::Fail { code: None }, error)),
                    Err(described) => return Ok(error_outcome(Api::List, operation, described)),
                }
            }
            reaction => return Ok(Outcome::React(reaction, error)),
        },
    };
    operation.progress.stack_set = Some(stack_set_snapshot(Some(stack_set_id)));
    Ok(Outcome::Succeeded)
}

pub(super) async fn delete_stack_set(
    engine: &OperationWorker,
    operation: &mut Operation,
    management: &AwsAccountId,
) -> StepResult {
    let answer = counted(
        operation,
        engine
            .cloud()
            .delete_stack_set(management, ESSENTIALS_STACK_SET_NAME)
            .await,
    );
    if let Err(error) = answer {
        match react(
            Api::DeleteStackSet,
            &error,
            operation.progress.transient_attempts,
        ) {
            Reaction::Done => {}
            reaction => return Ok(Outcome::React(reaction, error)),
        }
    }
    operation.progress.stack_set = Some(stack_set_snapshot(None));
    Ok(Outcome::Succeeded)
}

/// CreateStackInstances (`retain` = None) or DeleteStackInstances, then the StackSet operation until it
/// ends. The OperationId derives from the idempotency key, so a repeat names the same operation; the
/// one retaining repeat of a deletion that left instances INOPERABLE derives its own the same way.
pub(super) async fn stack_instances(
    engine: &OperationWorker,
    operation: &mut Operation,
    management: &AwsAccountId,
    targets: &InstanceTargets,
    retain: Option<bool>,
) -> StepResult {
    let api = if retain.is_some() {
        Api::DeleteStackInstances
    } else {
        Api::CreateStackInstances
    };
    for _ in 0..MAX_TURNS {
        let retaining = operation.progress.retained_inoperable;
        let operation_id = operation.aws_token(if retaining {
            "stack-instances-retain"
        } else {
            "stack-instances"
        });
        if operation.progress.phase != Phase::Referenced {
            let answer = match retain {
                None => {
                    engine
                        .cloud()
                        .create_stack_instances(
                            management,
                            ESSENTIALS_STACK_SET_NAME,
                            targets,
                            &operation_id,
                        )
                        .await
                }
                Some(retain_stacks) => {
                    engine
                        .cloud()
                        .delete_stack_instances(
                            management,
                            ESSENTIALS_STACK_SET_NAME,
                            targets,
                            retain_stacks || retaining,
                            &operation_id,
                        )
                        .await
                }
            };
            let answer = counted(operation, answer);
            let aws_operation_id = match answer {
                Ok(id) => id,
                Err(error) => match react(api, &error, operation.progress.transient_attempts) {
                    // OperationIdAlreadyExistsException: ours; poll it.
                    Reaction::Done if error.is("OperationIdAlreadyExistsException") => {
                        operation_id.clone()
                    }
                    // StackSetNotFoundException on a delete: nothing left to delete.
                    Reaction::Done => {
                        operation.progress.stack_set = Some(stack_set_snapshot(None));
                        return Ok(Outcome::Succeeded);
                    }
                    Reaction::Reconcile => {
                        return Ok(Outcome::React(
                            Reaction::Retry {
                                backoff: Duration::seconds(5),
                                ambiguous: false,
                            },
                            error,
                        ));
                    }
                    reaction => return Ok(Outcome::React(reaction, error)),
                },
            };
            let mut snapshot = stack_set_snapshot(None);
            snapshot.operation_id = Some(aws_operation_id);
            snapshot.operation_status = Some(StackSetOperationStatus::Queued);
            snapshot.accounts.clone_from(&targets.accounts);
            operation.progress.stack_set = Some(snapshot);
            engine.referenced(operation).await?;
        }
        // Poll the id AWS answered with: AWS echoes ours, but an emulator may assign its own, and the
        // answer is the authority on which operation runs.
        let polled_id = operation
            .progress
            .stack_set
            .as_ref()
            .and_then(|snapshot| snapshot.operation_id.clone())
            .unwrap_or_else(|| operation_id.clone());
        let answer = counted(
            operation,
            engine
                .cloud()
                .describe_stack_set_operation(management, ESSENTIALS_STACK_SET_NAME, &polled_id)
                .await,
        );
        let status = match answer {
            Ok(status) => status,
            Err(error) => {
                let reaction = react(
                    Api::DescribeStackSetOperation,
                    &error,
                    operation.progress.transient_attempts,
                );
                if reaction == Reaction::Reconcile {
                    // OperationNotFoundException: the call never landed; repeat it with the same id.
                    operation.progress.phase = Phase::Fresh;
                    continue;
                }
                return Ok(Outcome::React(reaction, error));
            }
        };
        if let Some(snapshot) = &mut operation.progress.stack_set {
            snapshot.operation_status = Some(status);
        }
        if retain.is_some() && status.is_terminal() {
            // What the instances were left in, not only the operation's status, decides (domain.md
            // §6.3, T4).
            let left = counted(
                operation,
                engine
                    .cloud()
                    .list_stack_instances(management, ESSENTIALS_STACK_SET_NAME)
                    .await,
            );
            let instances = match left {
                Ok(instances) => instances,
                Err(error) => return Ok(error_outcome(Api::List, operation, error)),
            };
            let failed = matches!(
                status,
                StackSetOperationStatus::Failed | StackSetOperationStatus::Stopped
            );
            let targeted = instances.iter().filter(|instance| {
                targets.accounts.contains(&instance.account)
                    && targets.regions.contains(&instance.region)
            });
            match judge_left_instances(
                failed,
                retaining,
                targeted.map(|instance| instance.detailed_status),
            ) {
                LeftInstances::Settled => {}
                LeftInstances::Retain => {
                    operation.progress.retained_inoperable = true;
                    operation.progress.phase = Phase::Fresh;
                    continue;
                }
                LeftInstances::Operations(left_status) => {
                    return Ok(Outcome::React(
                        Reaction::Fail {
                            code: Some("TNR408"),
                        },
                        CloudError::service(
                            left_status.as_str(),
                            None,
                            200,
                            "stack instances are left that only operations can remove",
                        ),
                    ));
                }
            }
        }
        return Ok(match status {
            StackSetOperationStatus::Succeeded => Outcome::Succeeded,
            StackSetOperationStatus::Failed | StackSetOperationStatus::Stopped => Outcome::React(
                Reaction::Fail { code: None },
                CloudError::service(status.as_str(), None, 200, "the operation ended"),
            ),
            _ => Outcome::Wait(engine.poll()),
        });
    }
    Ok(Outcome::Wait(engine.poll()))
}
