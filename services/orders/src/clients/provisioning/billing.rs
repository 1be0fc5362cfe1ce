//! Billing transfers: inviting the customer's management account to transfer its billing, following
//! the invitation, withdrawing it, and ending the transfer when the account leaves.

use tenure_proto::provisioning::v1 as prov;
use uuid::Uuid;

use super::super::actions::{done, terminate_facts, with_fields};
use super::super::status::{answered, broken};
use super::super::{PeerPort, Step, instant, request};
use super::Remember;
use crate::domain::order::{InputField, OrderDetails};
use crate::domain::saga::advance::StepOutcome;
use crate::domain::saga::port::StepCall;
use crate::domain::saga::state::{SagaState, TransferFacts};

impl PeerPort {
    fn invite_billing_transfer_request(
        call: &StepCall,
        key: Uuid,
    ) -> Result<prov::InviteBillingTransferRequest, StepOutcome> {
        let OrderDetails::BillingTransfer {
            management_account_id,
            transfer_name,
        } = &call.input.details
        else {
            return Err(broken("only billing transfers invite one"));
        };
        Ok(prov::InviteBillingTransferRequest {
            idempotency_key: key.to_string(),
            source_management_account_id: management_account_id.as_str().to_owned(),
            source_name: transfer_name.clone(),
            order_id: call.order_id.to_string(),
        })
    }

    pub(in crate::clients) async fn invite_billing_transfer(
        &self,
        call: &StepCall,
        key: Uuid,
    ) -> Step {
        let message = Self::invite_billing_transfer_request(call, key)?;
        let started = self
            .provisioning()
            .invite_billing_transfer(request(call, Some(key), message))
            .await;
        let outcome = self
            .run_operation(
                call,
                started,
                Remember::Operation,
                |operation| match &operation.result {
                    Some(prov::operation::Result::BillingTransfer(transfer)) => {
                        match transfer_facts(transfer) {
                            Some(facts) => done(SagaState {
                                transfer: Some(facts),
                                ..SagaState::default()
                            }),
                            None => broken("a billing transfer without its start"),
                        }
                    }
                    _ => broken("an invitation without its transfer"),
                },
            )
            .await
            .unwrap_or_else(|outcome| outcome);
        Ok(with_fields(
            outcome,
            &[InputField::ManagementAccountId],
            Vec::new(),
        ))
    }

    pub(in crate::clients) async fn withdraw_billing_transfer(&self, call: &StepCall) -> Step {
        let transfer = match &call.state.transfer {
            Some(transfer) => transfer.id.clone(),
            None => {
                // The invitation may have been sent without its answer recorded: its forward key
                // replays the operation and says.
                match self.invite_billing_transfer(call, call.effect.do_key).await {
                    Ok(StepOutcome::Done(patch)) => match patch.transfer {
                        Some(transfer) => transfer.id,
                        None => return Ok(done(SagaState::default())),
                    },
                    Ok(StepOutcome::Pending { .. }) | Err(StepOutcome::Retry { .. }) => {
                        return Ok(StepOutcome::Pending {
                            detail: "waiting for the invitation to settle".to_owned(),
                            patch: SagaState::default(),
                        });
                    }
                    // Never sent, or refused: nothing to withdraw.
                    _ => return Ok(done(SagaState::default())),
                }
            }
        };
        let started = self
            .provisioning()
            .withdraw_billing_transfer(request(
                call,
                Some(call.effect.key),
                prov::WithdrawBillingTransferRequest {
                    idempotency_key: call.effect.key.to_string(),
                    transfer_id: transfer,
                },
            ))
            .await;
        self.completion(call, started).await
    }

    pub(in crate::clients) async fn check_billing_transfer(&self, call: &StepCall) -> Step {
        let transfer = call
            .state
            .transfer
            .as_ref()
            .ok_or_else(|| broken("no billing transfer to check"))?;
        let described = answered(
            self.provisioning()
                .describe_billing_transfer(request(
                    call,
                    None,
                    prov::DescribeBillingTransferRequest {
                        transfer_id: transfer.id.clone(),
                    },
                ))
                .await,
        )?
        .billing_transfer
        .ok_or_else(|| broken("provisioning answered no transfer"))?;
        let fail = |code: &str| StepOutcome::Fail {
            code: code.to_owned(),
            message: String::new(),
        };
        use prov::BillingTransferStatus as Status;
        Ok(match Status::try_from(described.status) {
            Ok(Status::Accepted) => done(SagaState::default()),
            Ok(Status::Requested) => StepOutcome::Query {
                code: "TNR202".to_owned(),
                fields: Vec::new(),
                items: Vec::new(),
            },
            Ok(Status::Declined) => fail("TNR203"),
            Ok(Status::Canceled) => fail("TNR204"),
            Ok(Status::Expired) => fail("TNR205"),
            Ok(Status::Withdrawn) => fail("TNR206"),
            _ => broken("an unknown billing transfer status"),
        })
    }

    pub(in crate::clients) async fn end_billing_transfer(&self, call: &StepCall) -> Step {
        let (aws_account_id, ..) = terminate_facts(call)?;
        let invitations = answered(
            self.provisioning()
                .list_operations(request(
                    call,
                    None,
                    prov::ListOperationsRequest {
                        page_size: 100,
                        page_token: String::new(),
                        aws_account_id: aws_account_id.as_str().to_owned(),
                        kind: prov::OperationKind::InviteBillingTransfer as i32,
                        state: prov::OperationState::Succeeded as i32,
                    },
                ))
                .await,
        )?;
        let transfer = invitations
            .operations
            .iter()
            .find_map(|operation| match &operation.result {
                Some(prov::operation::Result::BillingTransfer(transfer)) => {
                    Some(transfer.id.clone())
                }
                _ => None,
            })
            .ok_or_else(|| StepOutcome::Fail {
                code: "TNR903".to_owned(),
                message: "no billing transfer of this account is known".to_owned(),
            })?;
        let started = self
            .provisioning()
            .end_billing_transfer(request(
                call,
                Some(call.effect.key),
                prov::EndBillingTransferRequest {
                    idempotency_key: call.effect.key.to_string(),
                    transfer_id: transfer,
                },
            ))
            .await;
        let now = call.now;
        self.run_operation(call, started, Remember::Nothing, |operation| {
            let (starts_at, ends_at) = match &operation.result {
                Some(prov::operation::Result::BillingTransfer(transfer)) => (
                    instant(transfer.start_at.as_ref()),
                    instant(transfer.end_at.as_ref()),
                ),
                _ => (None, None),
            };
            match ends_at {
                // Withdrawn before it started: the account leaves now, never billed by us.
                Some(ends_at) if starts_at.is_some_and(|starts_at| ends_at <= starts_at) => {
                    done(SagaState {
                        never_billed: true,
                        removed_at: Some(now),
                        ..SagaState::default()
                    })
                }
                Some(ends_at) => done(SagaState {
                    billing_ends_at: Some(ends_at),
                    removed_at: Some(ends_at),
                    ..SagaState::default()
                }),
                None => broken("an ended billing transfer without its end"),
            }
        })
        .await
    }
}

fn transfer_facts(transfer: &prov::BillingTransfer) -> Option<TransferFacts> {
    Some(TransferFacts {
        id: transfer.id.clone(),
        handshake_id: transfer.handshake_id.clone(),
        start_at: instant(transfer.start_at.as_ref())?,
        accept_by: instant(transfer.accept_by.as_ref())?,
        expires_at: instant(transfer.expires_at.as_ref()),
    })
}
