//! The Essentials baseline: its StackSet in the platform organization, its instances in the
//! order's accounts, and the payer's bootstrap stack.

use tenure_domain::AwsAccountId;
use tenure_proto::provisioning::v1 as prov;
use uuid::Uuid;

use super::super::actions::{baseline_targets, done, management_account};
use super::super::status::broken;
use super::super::{PeerPort, Step, request};
use crate::domain::saga::advance::{StepOutcome, sub_key};
use crate::domain::saga::port::StepCall;
use crate::domain::saga::state::SagaState;

impl PeerPort {
    /// Creates the Essentials StackSet in the organization (adopting it when it exists), then its
    /// instances in the order's accounts.
    pub(in crate::clients) async fn deploy_baseline(&self, call: &StepCall) -> Step {
        let management = management_account(call).ok_or_else(|| broken("no organization"))?;
        self.create_stack_set(call, &management, sub_key(call.effect.key, "set"))
            .await?;
        self.stack_instances(
            call,
            &management,
            sub_key(call.effect.key, "instances"),
            true,
            false,
        )
        .await
    }

    async fn create_stack_set(
        &self,
        call: &StepCall,
        management: &AwsAccountId,
        key: Uuid,
    ) -> Step {
        let started = self
            .provisioning()
            .create_stack_set(request(
                call,
                Some(key),
                prov::CreateStackSetRequest {
                    idempotency_key: key.to_string(),
                    management_account_id: management.as_str().to_owned(),
                    template: prov::StackSetTemplate::Essentials as i32,
                },
            ))
            .await;
        match self.completion(call, started).await? {
            StepOutcome::Done(patch) => Ok(StepOutcome::Done(patch)),
            other => Err(other),
        }
    }

    async fn stack_instances(
        &self,
        call: &StepCall,
        management: &AwsAccountId,
        key: Uuid,
        create: bool,
        retain: bool,
    ) -> Step {
        let accounts = baseline_targets(call);
        if accounts.is_empty() {
            return Ok(done(SagaState::default()));
        }
        let regions = self.settings.regions.clone();
        if create {
            let started = self
                .provisioning()
                .create_stack_instances(request(
                    call,
                    Some(key),
                    prov::CreateStackInstancesRequest {
                        idempotency_key: key.to_string(),
                        management_account_id: management.as_str().to_owned(),
                        template: prov::StackSetTemplate::Essentials as i32,
                        aws_account_ids: accounts.iter().map(|id| id.as_str().to_owned()).collect(),
                        regions,
                    },
                ))
                .await;
            self.completion(call, started).await
        } else {
            let started = self
                .provisioning()
                .delete_stack_instances(request(
                    call,
                    Some(key),
                    prov::DeleteStackInstancesRequest {
                        idempotency_key: key.to_string(),
                        management_account_id: management.as_str().to_owned(),
                        template: prov::StackSetTemplate::Essentials as i32,
                        aws_account_ids: accounts.iter().map(|id| id.as_str().to_owned()).collect(),
                        regions,
                        retain_stacks: retain,
                    },
                ))
                .await;
            self.completion(call, started).await
        }
    }

    /// Removes the order's Essentials instances, and with `and_set` the StackSet too.
    pub(in crate::clients) async fn remove_baseline(&self, call: &StepCall, and_set: bool) -> Step {
        let management = management_account(call).ok_or_else(|| broken("no organization"))?;
        let removed = self
            .stack_instances(
                call,
                &management,
                sub_key(call.effect.key, "instances"),
                false,
                false,
            )
            .await?;
        if !and_set || !matches!(removed, StepOutcome::Done(_)) {
            return Ok(match removed {
                StepOutcome::Fail { message, .. } if !and_set => StepOutcome::Fail {
                    code: "TNR408".to_owned(),
                    message,
                },
                other => other,
            });
        }
        self.delete_stack_set_with(call, &management, sub_key(call.effect.key, "set"))
            .await
    }

    /// Deploys again what an offboarding removed (its compensation before the pivot).
    pub(in crate::clients) async fn restore_baseline(
        &self,
        call: &StepCall,
        with_set: bool,
    ) -> Step {
        let management = management_account(call).ok_or_else(|| broken("no organization"))?;
        if with_set {
            self.create_stack_set(call, &management, sub_key(call.effect.key, "set"))
                .await?;
        }
        self.stack_instances(
            call,
            &management,
            sub_key(call.effect.key, "instances"),
            true,
            false,
        )
        .await
    }

    pub(in crate::clients) async fn delete_stack_set(&self, call: &StepCall) -> Step {
        let management = management_account(call).ok_or_else(|| broken("no organization"))?;
        self.delete_stack_set_with(call, &management, call.effect.key)
            .await
    }

    async fn delete_stack_set_with(
        &self,
        call: &StepCall,
        management: &AwsAccountId,
        key: Uuid,
    ) -> Step {
        let started = self
            .provisioning()
            .delete_stack_set(request(
                call,
                Some(key),
                prov::DeleteStackSetRequest {
                    idempotency_key: key.to_string(),
                    management_account_id: management.as_str().to_owned(),
                    template: prov::StackSetTemplate::Essentials as i32,
                },
            ))
            .await;
        self.completion(call, started).await
    }

    pub(in crate::clients) async fn delete_payer_stack(&self, call: &StepCall) -> Step {
        let management = management_account(call).ok_or_else(|| broken("no organization"))?;
        let started = self
            .provisioning()
            .delete_bootstrap_stack(request(
                call,
                Some(call.effect.key),
                prov::DeleteBootstrapStackRequest {
                    idempotency_key: call.effect.key.to_string(),
                    aws_account_id: management.as_str().to_owned(),
                },
            ))
            .await;
        self.completion(call, started).await
    }
}
