//! Organization invitations: inviting the customer's linked accounts into the platform organization,
//! following their handshakes, inviting an expired one once more, and retracting them.

use std::collections::BTreeMap;

use tenure_domain::AwsAccountId;
use tenure_proto::provisioning::v1 as prov;
use uuid::Uuid;

use super::super::actions::{done, item, linked_accounts, management_account, with_fields};
use super::super::status::{answered, broken};
use super::super::{PeerPort, Step, request};
use super::Remember;
use crate::domain::order::InputField;
use crate::domain::saga::advance::{StepOutcome, sub_key};
use crate::domain::saga::port::StepCall;
use crate::domain::saga::state::{InvitationState, QueryItem, SagaState};

impl PeerPort {
    pub(in crate::clients) async fn invite_accounts(&self, call: &StepCall) -> Step {
        let management = management_account(call).ok_or_else(|| broken("no organization"))?;
        for account in linked_accounts(call) {
            if call.state.handshakes.contains_key(&account) {
                continue;
            }
            let key = sub_key(call.effect.key, account.as_str());
            return self.invite(call, &management, &account, key).await;
        }
        Ok(done(SagaState::default()))
    }

    /// Invites `account` into `management`'s organization under `key`: progress with its handshake
    /// once AWS sent it.
    async fn invite(
        &self,
        call: &StepCall,
        management: &AwsAccountId,
        account: &AwsAccountId,
        key: Uuid,
    ) -> Step {
        let started = self
            .provisioning()
            .invite_account(request(
                call,
                Some(key),
                prov::InviteAccountRequest {
                    idempotency_key: key.to_string(),
                    management_account_id: management.as_str().to_owned(),
                    target_account_id: account.as_str().to_owned(),
                    order_id: call.order_id.to_string(),
                },
            ))
            .await;
        let items = vec![item(account, InvitationState::NoHandshake, "")];
        let outcome = self
            .run_operation(
                call,
                started,
                Remember::Nothing,
                |operation| match &operation.result {
                    Some(prov::operation::Result::Handshake(handshake)) => {
                        StepOutcome::Progress(SagaState {
                            handshakes: BTreeMap::from([(account.clone(), handshake.id.clone())]),
                            ..SagaState::default()
                        })
                    }
                    _ => broken("an invitation without its handshake"),
                },
            )
            .await
            .unwrap_or_else(|outcome| outcome);
        Ok(with_fields(outcome, &[InputField::LinkedAccountIds], items))
    }

    async fn handshake(&self, call: &StepCall, id: &str) -> Result<prov::Handshake, StepOutcome> {
        answered(
            self.provisioning()
                .describe_handshake(request(
                    call,
                    None,
                    prov::DescribeHandshakeRequest {
                        handshake_id: id.to_owned(),
                    },
                ))
                .await,
        )?
        .handshake
        .ok_or_else(|| broken("provisioning answered no handshake"))
    }

    pub(in crate::clients) async fn retract_invitations(&self, call: &StepCall) -> Step {
        for (account, handshake_id) in &call.state.handshakes {
            let handshake = self.handshake(call, handshake_id).await?;
            use prov::HandshakeState as State;
            let completed = match State::try_from(handshake.state) {
                Ok(State::Accepted) => {
                    let key = sub_key(call.effect.key, &format!("remove-{account}"));
                    let started = self
                        .provisioning()
                        .remove_account(request(
                            call,
                            Some(key),
                            prov::RemoveAccountRequest {
                                idempotency_key: key.to_string(),
                                aws_account_id: account.as_str().to_owned(),
                            },
                        ))
                        .await;
                    self.completion(call, started).await?
                }
                Ok(State::Requested | State::Open) => {
                    let key = sub_key(call.effect.key, &format!("cancel-{account}"));
                    let started = self
                        .provisioning()
                        .cancel_handshake(request(
                            call,
                            Some(key),
                            prov::CancelHandshakeRequest {
                                idempotency_key: key.to_string(),
                                handshake_id: handshake_id.clone(),
                            },
                        ))
                        .await;
                    self.completion(call, started).await?
                }
                _ => continue,
            };
            match completed {
                StepOutcome::Done(_) => {}
                other => return Ok(other),
            }
        }
        Ok(done(SagaState::default()))
    }

    pub(in crate::clients) async fn check_invitations(&self, call: &StepCall) -> Step {
        let mut pending = Vec::new();
        let mut refused = Vec::new();
        let mut expired = Vec::new();
        for account in linked_accounts(call) {
            let Some(id) = call.state.handshakes.get(&account) else {
                return Err(broken("an account was not invited"));
            };
            let handshake = self.handshake(call, id).await?;
            use prov::HandshakeState as State;
            match State::try_from(handshake.state) {
                Ok(State::Accepted) => {}
                Ok(State::Declined | State::Canceled) => {
                    refused.push(item(
                        &account,
                        InvitationState::Declined,
                        "remove the account or contact support",
                    ));
                }
                Ok(State::Expired) if !call.state.reinvited.contains(&account) => {
                    // E4: an expired invitation is sent once more before the customer is asked.
                    let management =
                        management_account(call).ok_or_else(|| broken("no organization"))?;
                    let key = sub_key(call.effect.key, &format!("reinvite-{account}"));
                    return Ok(match self.invite(call, &management, &account, key).await? {
                        StepOutcome::Progress(mut patch) => {
                            patch.reinvited.insert(account);
                            StepOutcome::Progress(patch)
                        }
                        other => other,
                    });
                }
                Ok(State::Expired) => {
                    expired.push(item(
                        &account,
                        InvitationState::Expired,
                        "remove the account or contact support",
                    ));
                }
                _ => pending.push(item(
                    &account,
                    InvitationState::Open,
                    "accept the invitation in AWS Organizations",
                )),
            }
        }
        let query = |code: &str, items: Vec<QueryItem>| StepOutcome::Query {
            code: code.to_owned(),
            fields: vec![InputField::LinkedAccountIds],
            items,
        };
        Ok(if !refused.is_empty() {
            query("TNR302", refused)
        } else if !expired.is_empty() {
            query("TNR303", expired)
        } else if !pending.is_empty() {
            query("TNR301", pending)
        } else {
            done(SagaState::default())
        })
    }
}
