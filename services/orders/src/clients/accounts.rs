//! The accounts peer: the saga steps that reserve, attach, activate and offboard account records,
//! and the protos they send.

mod placing;

use std::collections::BTreeMap;

use tenure_domain::AwsAccountId;
use tenure_grpc::PeerChannel;
use tenure_proto::accounts::v1 as accounts;
use tenure_proto::accounts::v1::account_service_client::AccountServiceClient;
use tenure_proto::common::v1 as common;
use tonic::Code;
use uuid::Uuid;

use super::actions::{done, terminate_facts, with_fields};
use super::status::{answered, broken, classify};
use super::{PeerPort, Step, instant, request, timestamp};
use crate::domain::order::{
    Acknowledgement, InputField, Money, OrderDetails, Relationship, ResaleModel, TerminationMode,
};
use crate::domain::saga::advance::{StepOutcome, sub_key};
use crate::domain::saga::port::StepCall;
use crate::domain::saga::state::{RecordKey, SagaState};

impl PeerPort {
    fn accounts(&self) -> AccountServiceClient<PeerChannel> {
        AccountServiceClient::new(self.peers.accounts.clone())
    }

    pub(super) async fn find_platform_organization(&self, call: &StepCall) -> Step {
        let listed = answered(
            self.accounts()
                .list_accounts(request(
                    call,
                    None,
                    accounts::ListAccountsRequest {
                        page_size: 1,
                        page_token: String::new(),
                        states: vec![accounts::AccountState::Active as i32],
                        relationship: common::AccountRelationship::PlatformPayer as i32,
                        management_account_id: String::new(),
                        tenant_id: String::new(),
                    },
                ))
                .await,
        )?;
        let listed = listed
            .accounts
            .into_iter()
            .map(|account| account.aws_account_id)
            .find(|id| !id.is_empty())
            .map(|id| AwsAccountId::parse(&id))
            .transpose()
            .map_err(|_| broken("accounts answered a malformed platform organization id"))?;
        let found = listed.or_else(|| self.settings.default_management_account_id.clone());
        Ok(match found {
            Some(management_account_id) => done(SagaState {
                management_account_id: Some(management_account_id),
                ..SagaState::default()
            }),
            // Operations prepare a payer (domain.md N2/E1); look again later.
            None => StepOutcome::Deferred {
                after: self.settings.payer_recheck,
                notice: None,
                detail: "no platform organization yet".to_owned(),
            },
        })
    }

    pub(super) async fn reserve_accounts(&self, call: &StepCall) -> Step {
        for reservation in reservations(call) {
            if call.state.records.contains_key(&reservation.key_part) {
                continue;
            }
            let mut message = reservation.message;
            message.idempotency_key =
                sub_key(call.effect.key, reservation.key_part.as_str()).to_string();
            // Accounts asks for another root email (TNR101) when one of its records, in any
            // tenant, already uses this one: the customer corrects the field.
            let reserved = answered(
                self.accounts()
                    .reserve_account(request(call, Some(call.effect.key), message))
                    .await,
            )
            .map_err(|outcome| with_fields(outcome, &[InputField::RootEmail], Vec::new()))?;
            let record = reserved
                .account
                .and_then(|account| account.id.parse::<Uuid>().ok())
                .ok_or_else(|| broken("accounts answered no record"))?;
            // One reservation at a time, each committed, so an undo releases exactly these.
            return Ok(StepOutcome::Progress(SagaState {
                records: BTreeMap::from([(reservation.key_part, record)]),
                ..SagaState::default()
            }));
        }
        Ok(done(SagaState::default()))
    }

    pub(super) async fn release_accounts(&self, call: &StepCall) -> Step {
        for (part, record) in &call.state.records {
            answered(
                self.accounts()
                    .release_account(request(
                        call,
                        Some(call.effect.key),
                        accounts::ReleaseAccountRequest {
                            idempotency_key: sub_key(call.effect.key, part.as_str()).to_string(),
                            account_id: record.to_string(),
                            reason: "the order did not complete".to_owned(),
                        },
                    ))
                    .await,
            )?;
        }
        Ok(done(SagaState::default()))
    }

    pub(super) async fn attach_account(&self, call: &StepCall) -> Step {
        let (Some(record), Some(aws_account_id)) = (
            call.state.records.get(&RecordKey::NewAccount),
            call.state.aws_account_id.clone(),
        ) else {
            return Err(broken("nothing to attach"));
        };
        answered(
            self.accounts()
                .attach_account(request(
                    call,
                    Some(call.effect.key),
                    accounts::AttachAccountRequest {
                        idempotency_key: call.effect.key.to_string(),
                        account_id: record.to_string(),
                        aws_account_id: aws_account_id.as_str().to_owned(),
                        organization_id: String::new(),
                        parent_id: String::new(),
                        joined_method: accounts::JoinedMethod::Created as i32,
                    },
                ))
                .await,
        )?;
        Ok(done(SagaState::default()))
    }

    pub(super) async fn activate_accounts(&self, call: &StepCall) -> Step {
        let billing_starts_at = call
            .state
            .transfer
            .as_ref()
            .map(|transfer| timestamp(transfer.start_at));
        for (part, record) in &call.state.records {
            answered(
                self.accounts()
                    .activate_account(request(
                        call,
                        Some(call.effect.key),
                        accounts::ActivateAccountRequest {
                            idempotency_key: sub_key(call.effect.key, part.as_str()).to_string(),
                            account_id: record.to_string(),
                            order_id: call.order_id.to_string(),
                            billing_starts_at,
                            subscription_ref: String::new(),
                        },
                    ))
                    .await,
            )?;
        }
        Ok(done(SagaState::default()))
    }

    pub(super) async fn begin_offboarding(&self, call: &StepCall) -> Step {
        let (aws_account_id, mode, acknowledgements, reason, _) = terminate_facts(call)?;
        answered(
            self.accounts()
                .begin_offboarding(request(
                    call,
                    Some(call.effect.key),
                    accounts::BeginOffboardingRequest {
                        idempotency_key: call.effect.key.to_string(),
                        aws_account_id: aws_account_id.as_str().to_owned(),
                        order_id: call.order_id.to_string(),
                        mode: mode_number(mode),
                        acknowledgements: acknowledgements
                            .iter()
                            .copied()
                            .map(acknowledgement_number)
                            .collect(),
                        reason: reason.to_owned(),
                        acknowledged_open_balance: acknowledged_balance(call).map(money_message),
                    },
                ))
                .await,
        )?;
        Ok(done(SagaState::default()))
    }

    pub(super) async fn abort_offboarding(&self, call: &StepCall) -> Step {
        let (_, _, _, _, record) = terminate_facts(call)?;
        let aborted = self
            .accounts()
            .abort_offboarding(request(
                call,
                Some(call.effect.key),
                accounts::AbortOffboardingRequest {
                    idempotency_key: call.effect.key.to_string(),
                    account_id: record.to_string(),
                    reason: "the termination did not go ahead".to_owned(),
                },
            ))
            .await;
        match aborted {
            Ok(_) => Ok(done(SagaState::default())),
            // The account is not offboarding (the forward step never took effect): nothing to undo.
            Err(status) if status.code() == Code::FailedPrecondition => {
                Ok(done(SagaState::default()))
            }
            Err(status) => Err(classify(&status)),
        }
    }

    pub(super) async fn record_offboarding_outcome(&self, call: &StepCall) -> Step {
        let (_, mode, _, _, record) = terminate_facts(call)?;
        let relationship = call
            .input
            .account
            .as_ref()
            .map(|account| account.relationship)
            .ok_or_else(|| broken("no relationship"))?;
        use accounts::OffboardingOutcome as Outcome;
        let outcome = match (relationship, mode) {
            (Relationship::BillingTransferSource, _) if call.state.never_billed => {
                Outcome::WithdrawnBeforeStart
            }
            (Relationship::BillingTransferSource, _) => Outcome::Unlinking,
            (_, TerminationMode::Close) => Outcome::PendingClosure,
            (_, TerminationMode::Unlink) => Outcome::Unlinked,
        };
        answered(
            self.accounts()
                .record_offboarding_outcome(request(
                    call,
                    Some(call.effect.key),
                    accounts::RecordOffboardingOutcomeRequest {
                        idempotency_key: call.effect.key.to_string(),
                        account_id: record.to_string(),
                        order_id: call.order_id.to_string(),
                        outcome: outcome as i32,
                        billing_ends_at: call.state.billing_ends_at.map(timestamp),
                    },
                ))
                .await,
        )?;
        Ok(done(SagaState {
            offboarding: Some(relationship),
            removed_at: call.state.removed_at.or(match outcome {
                Outcome::Unlinked | Outcome::WithdrawnBeforeStart => Some(call.now),
                _ => None,
            }),
            ..SagaState::default()
        }))
    }

    pub(super) async fn record_closure(&self, call: &StepCall) -> Step {
        let (_, _, _, _, record) = terminate_facts(call)?;
        let closed_at = call.state.closed_at.unwrap_or(call.now);
        let recorded = answered(
            self.accounts()
                .record_closure(request(
                    call,
                    Some(call.effect.key),
                    accounts::RecordClosureRequest {
                        idempotency_key: call.effect.key.to_string(),
                        account_id: record.to_string(),
                        closed_at: Some(timestamp(closed_at)),
                        reason: "AWS closed the account".to_owned(),
                    },
                ))
                .await,
        )?;
        let account = recorded
            .account
            .ok_or_else(|| broken("accounts answered no record"))?;
        let closed_at = instant(account.closed_at.as_ref()).unwrap_or(closed_at);
        Ok(done(SagaState {
            closed_at: Some(closed_at),
            reopen_until: instant(account.reopen_until.as_ref()),
            removed_at: Some(closed_at),
            ..SagaState::default()
        }))
    }
}

/// One reservation an order makes in accounts.
struct Reservation {
    key_part: RecordKey,
    message: accounts::ReserveAccountRequest,
}

fn reservations(call: &StepCall) -> Vec<Reservation> {
    let order_id = call.order_id.to_string();
    let root_access = |platform: bool| {
        if platform {
            accounts::RootAccessOwner::Platform as i32
        } else {
            accounts::RootAccessOwner::Customer as i32
        }
    };
    let spam = call.input.tenant.resale_model == ResaleModel::Spam;
    let transfer = |aws_account_id: &AwsAccountId,
                    role: accounts::AccountRole,
                    relationship: common::AccountRelationship,
                    management: Option<&AwsAccountId>,
                    platform_root: bool| Reservation {
        key_part: RecordKey::Account(aws_account_id.clone()),
        message: accounts::ReserveAccountRequest {
            idempotency_key: String::new(),
            order_id: order_id.clone(),
            kind: accounts::ReservationKind::Transfer as i32,
            aws_account_id: aws_account_id.as_str().to_owned(),
            root_email: String::new(),
            account_name: String::new(),
            role: role as i32,
            relationship: relationship as i32,
            management_account_id: management
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default(),
            root_access: root_access(platform_root),
        },
    };
    match &call.input.details {
        OrderDetails::NewAccount {
            root_email,
            account_name,
            ..
        } => vec![Reservation {
            key_part: RecordKey::NewAccount,
            message: accounts::ReserveAccountRequest {
                idempotency_key: String::new(),
                order_id,
                kind: accounts::ReservationKind::NewAccount as i32,
                aws_account_id: String::new(),
                root_email: root_email
                    .as_ref()
                    .map(|email| email.as_str().to_owned())
                    .unwrap_or_default(),
                account_name: account_name.clone(),
                role: accounts::AccountRole::Member as i32,
                relationship: common::AccountRelationship::PlatformMember as i32,
                management_account_id: call
                    .state
                    .management_account_id
                    .as_ref()
                    .map(|id| id.as_str().to_owned())
                    .unwrap_or_default(),
                root_access: root_access(spam),
            },
        }],
        OrderDetails::BillingTransfer {
            management_account_id,
            ..
        } => vec![transfer(
            management_account_id,
            accounts::AccountRole::Management,
            common::AccountRelationship::BillingTransferSource,
            None,
            false,
        )],
        OrderDetails::OrganizationTransfer {
            uses_organizations: true,
            management_account_id: Some(management_account_id),
            ..
        } => vec![transfer(
            management_account_id,
            accounts::AccountRole::Management,
            common::AccountRelationship::PlatformPayer,
            None,
            true,
        )],
        OrderDetails::OrganizationTransfer {
            linked_account_ids, ..
        } => linked_account_ids
            .iter()
            .map(|id| {
                transfer(
                    id,
                    accounts::AccountRole::Member,
                    common::AccountRelationship::PlatformMember,
                    call.state.management_account_id.as_ref(),
                    spam,
                )
            })
            .collect(),
        OrderDetails::Terminate { .. } => Vec::new(),
    }
}

fn acknowledgement_number(acknowledgement: Acknowledgement) -> i32 {
    use common::Acknowledgement as Pb;
    (match acknowledgement {
        Acknowledgement::AckRootUser => Pb::RootUser,
        Acknowledgement::AckNoMembers => Pb::NoMembers,
        Acknowledgement::AckBackup => Pb::Backup,
        Acknowledgement::AckOutstandingBill => Pb::OutstandingBill,
        Acknowledgement::AckCommitments => Pb::Commitments,
        Acknowledgement::AckResources => Pb::Resources,
        Acknowledgement::AckEmailNotReusable => Pb::EmailNotReusable,
        Acknowledgement::AckReopenWindow => Pb::ReopenWindow,
        Acknowledgement::AckStandalone => Pb::Standalone,
    }) as i32
}

/// The open balance a termination's customer confirmed.
fn acknowledged_balance(call: &StepCall) -> Option<&Money> {
    match &call.input.details {
        OrderDetails::Terminate {
            acknowledged_open_balance,
            ..
        } => acknowledged_open_balance.as_ref(),
        _ => None,
    }
}

fn money_message(money: &Money) -> common::Money {
    common::Money {
        currency_code: money.currency.clone(),
        amount_micros: money.amount_micros,
    }
}

fn mode_number(mode: TerminationMode) -> i32 {
    (match mode {
        TerminationMode::Close => common::TerminationMode::Close,
        TerminationMode::Unlink => common::TerminationMode::Unlink,
    }) as i32
}
