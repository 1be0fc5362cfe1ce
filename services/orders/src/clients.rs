//! The saga engine's port to its peers: every [`Action`] becomes calls to accounts, provisioning or
//! data-purge, each carrying the step's idempotency key (and sub-keys derived from it for steps that
//! make several calls), the tenant, the order and saga ids, and the trace context through
//! [`PeerChannel`]. Every answer is classified once here into a [`StepOutcome`] (sagas.md §2.5).

#![expect(
    clippy::result_large_err,
    reason = "a step's outcome is built once per peer call and moved once; boxing it would buy nothing"
)]

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use tenure_grpc::PeerChannel;
use tenure_proto::accounts::v1 as accounts;
use tenure_proto::accounts::v1::account_service_client::AccountServiceClient;
use tenure_proto::common::v1 as common;
use tenure_proto::provisioning::v1 as prov;
use tenure_proto::provisioning::v1::provisioning_service_client::ProvisioningServiceClient;
use tenure_proto::purge::v1 as purge;
use tenure_proto::purge::v1::purge_service_client::PurgeServiceClient;
use tonic::Code;
use tonic_types::StatusExt as _;
use uuid::Uuid;

use crate::domain::order::{
    Acknowledgement, InputField, Money, OrderDetails, Relationship, ResaleModel, TerminationMode,
};
use crate::domain::saga::advance::{StepOutcome, sub_key};
use crate::domain::saga::node::Action;
use crate::domain::saga::port::{StepCall, StepPort};
use crate::domain::saga::state::{PurgeFacts, QueryItem, SagaState, TransferFacts};

/// The peers a saga talks to.
#[derive(Debug, Clone)]
pub(crate) struct Peers {
    pub(crate) accounts: PeerChannel,
    pub(crate) provisioning: PeerChannel,
    pub(crate) purge: PeerChannel,
}

/// What the port needs besides the peers.
#[derive(Debug, Clone)]
pub(crate) struct PortSettings {
    /// The platform organization used when a tenant has none of its own.
    pub(crate) default_management_account_id: Option<String>,
    /// Where the Essentials StackSet goes.
    pub(crate) regions: Vec<String>,
    /// How long a wait for operations to prepare a platform organization lasts between checks.
    pub(crate) payer_recheck: Duration,
}

/// [`StepPort`] over gRPC.
#[derive(Debug, Clone)]
pub(crate) struct PeerPort {
    peers: Peers,
    settings: PortSettings,
}

impl PeerPort {
    pub(crate) fn new(peers: Peers, settings: PortSettings) -> Self {
        Self { peers, settings }
    }
}

/// Why a step cannot go on with what it has: a broken invariant of the saga.
fn broken(what: &str) -> StepOutcome {
    StepOutcome::Fail {
        code: "TNR903".to_owned(),
        message: what.to_owned(),
    }
}

fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

fn instant(at: Option<&Timestamp>) -> Option<DateTime<Utc>> {
    let at = at?;
    DateTime::from_timestamp(at.seconds, u32::try_from(at.nanos).unwrap_or(0))
}

/// A request for a peer acting for the saga's tenant, with the key and ids mirrored in metadata for
/// the peer's logs.
fn request<T>(call: &StepCall, key: Option<Uuid>, message: T) -> tonic::Request<T> {
    let mut request = PeerChannel::for_tenant(message, call.tenant_id);
    let metadata = request.metadata_mut();
    let pairs = [
        ("x-order-id", Some(call.order_id.to_string())),
        ("x-saga-id", Some(call.saga_id.to_string())),
        ("idempotency-key", key.map(|key| key.to_string())),
    ];
    for (name, value) in pairs {
        if let Some(value) = value
            && let Ok(value) = value.parse()
        {
            metadata.insert(name, value);
        }
    }
    request
}

/// What a peer's status means for a step (sagas.md §2.5). `DEADLINE_EXCEEDED` is ambiguous, so like
/// every transient answer it is retried under the same key, which the peer deduplicates.
fn classify(status: &tonic::Status) -> StepOutcome {
    let info = status.get_details_error_info();
    let reason = info
        .as_ref()
        .map(|info| info.reason.clone())
        .unwrap_or_default();
    let metadata = |key: &str| {
        info.as_ref()
            .and_then(|info| info.metadata.get(key).cloned())
            .unwrap_or_default()
    };
    match status.code() {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::Unknown
        | Code::Internal
        | Code::Cancelled => StepOutcome::Retry {
            code: tenure_telemetry::grpc_code_name(status.code() as i32).to_owned(),
            message: status.message().chars().take(200).collect(),
        },
        Code::ResourceExhausted => match status
            .get_details_retry_info()
            .and_then(|info| info.retry_delay)
        {
            Some(after) => StepOutcome::Deferred {
                after,
                notice: (!reason.is_empty() && reason.starts_with("TNR")).then_some(reason),
                detail: status.message().chars().take(200).collect(),
            },
            None => StepOutcome::Retry {
                code: "RESOURCE_EXHAUSTED".to_owned(),
                message: status.message().chars().take(200).collect(),
            },
        },
        Code::FailedPrecondition if reason == tenure_grpc::status::CUSTOMER_ACTION_REQUIRED => {
            StepOutcome::Query {
                code: metadata("code"),
                fields: Vec::new(),
                items: Vec::new(),
            }
        }
        _ => {
            let code = if reason.starts_with("TNR") {
                reason
            } else if !metadata("code").is_empty() {
                metadata("code")
            } else {
                tenure_telemetry::grpc_code_name(status.code() as i32).to_owned()
            };
            StepOutcome::Fail {
                code,
                message: status.message().chars().take(300).collect(),
            }
        }
    }
}

/// The outcome of a call that answered a status.
fn answered<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Result<T, StepOutcome> {
    result
        .map(tonic::Response::into_inner)
        .map_err(|status| classify(&status))
}

/// An operation's state as a step outcome; `done` builds the output of a succeeded one.
fn operation_outcome(
    operation: &prov::Operation,
    patch: SagaState,
    done: impl FnOnce(&prov::Operation) -> StepOutcome,
    now: DateTime<Utc>,
) -> StepOutcome {
    let error = operation.error.clone().unwrap_or_default();
    match prov::OperationState::try_from(operation.state) {
        Ok(prov::OperationState::Succeeded) => done(operation),
        Ok(prov::OperationState::InProgress) => StepOutcome::Pending {
            detail: "aws_operation".to_owned(),
            patch,
        },
        // Provisioning tries a deferred call again once its wait is over; until its worker has, the
        // step looks again soon rather than deferring a second time.
        Ok(prov::OperationState::Deferred)
            if instant(operation.next_check_at.as_ref()).is_some_and(|at| at <= now) =>
        {
            StepOutcome::Pending {
                detail: "aws_operation".to_owned(),
                patch,
            }
        }
        // The operation's own next attempt is absolute; its retry delay counts from when it was
        // deferred, which may lie in the past.
        Ok(prov::OperationState::Deferred) => StepOutcome::Deferred {
            after: instant(operation.next_check_at.as_ref())
                .and_then(|at| (at - now).to_std().ok())
                .or_else(|| {
                    error
                        .retry_after
                        .and_then(|delay| Duration::try_from(delay).ok())
                })
                .unwrap_or(Duration::from_secs(60)),
            notice: (!error.code.is_empty()).then_some(error.code),
            detail: error.aws_code,
        },
        Ok(prov::OperationState::CustomerActionRequired) => StepOutcome::Query {
            code: error.code,
            fields: Vec::new(),
            items: Vec::new(),
        },
        _ => StepOutcome::Fail {
            code: if error.code.is_empty() {
                "TNR903".to_owned()
            } else {
                error.code
            },
            message: if error.message.is_empty() {
                error.aws_code
            } else {
                error.message
            },
        },
    }
}

fn done(patch: SagaState) -> StepOutcome {
    StepOutcome::Done(patch)
}

/// The customer can correct these fields when AWS refuses the email.
fn with_fields(outcome: StepOutcome, fields: &[InputField], items: Vec<QueryItem>) -> StepOutcome {
    match outcome {
        StepOutcome::Query { code, .. } => StepOutcome::Query {
            code,
            fields: fields.to_vec(),
            items,
        },
        other => other,
    }
}

fn item(aws_account_id: &str, state: &str, detail: &str) -> QueryItem {
    QueryItem {
        aws_account_id: aws_account_id.to_owned(),
        state: state.to_owned(),
        detail: detail.to_owned(),
    }
}

/// The platform organization a step acts in.
fn management_account(call: &StepCall) -> Option<String> {
    call.state
        .management_account_id
        .clone()
        .or_else(|| match &call.input.details {
            OrderDetails::BillingTransfer {
                management_account_id,
                ..
            }
            | OrderDetails::OrganizationTransfer {
                management_account_id,
                ..
            } if !management_account_id.is_empty() => Some(management_account_id.clone()),
            OrderDetails::Terminate { aws_account_id, .. } => {
                match call
                    .input
                    .account
                    .as_ref()
                    .map(|account| account.relationship)
                {
                    Some(Relationship::PlatformMember) => call
                        .input
                        .account
                        .as_ref()
                        .and_then(|account| account.management_account_id.clone()),
                    _ => Some(aws_account_id.clone()),
                }
            }
            _ => None,
        })
}

/// The accounts the Essentials baseline concerns.
fn baseline_targets(call: &StepCall) -> Vec<String> {
    match &call.input.details {
        OrderDetails::NewAccount { .. } => call.state.aws_account_id.iter().cloned().collect(),
        OrderDetails::OrganizationTransfer {
            uses_organizations: false,
            linked_account_ids,
            ..
        } => linked_account_ids.clone(),
        details => details.known_accounts(),
    }
}

/// One reservation an order makes in accounts.
struct Reservation {
    key_part: String,
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
    let transfer = |aws_account_id: &str,
                    role: accounts::AccountRole,
                    relationship: common::AccountRelationship,
                    management: Option<String>,
                    platform_root: bool| Reservation {
        key_part: aws_account_id.to_owned(),
        message: accounts::ReserveAccountRequest {
            idempotency_key: String::new(),
            order_id: order_id.clone(),
            kind: accounts::ReservationKind::Transfer as i32,
            aws_account_id: aws_account_id.to_owned(),
            root_email: String::new(),
            account_name: String::new(),
            role: role as i32,
            relationship: relationship as i32,
            management_account_id: management.unwrap_or_default(),
            root_access: root_access(platform_root),
        },
    };
    match &call.input.details {
        OrderDetails::NewAccount {
            root_email,
            account_name,
            ..
        } => vec![Reservation {
            key_part: String::new(),
            message: accounts::ReserveAccountRequest {
                idempotency_key: String::new(),
                order_id,
                kind: accounts::ReservationKind::NewAccount as i32,
                aws_account_id: String::new(),
                root_email: root_email.clone(),
                account_name: account_name.clone(),
                role: accounts::AccountRole::Member as i32,
                relationship: common::AccountRelationship::PlatformMember as i32,
                management_account_id: call.state.management_account_id.clone().unwrap_or_default(),
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
            management_account_id,
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
                    call.state.management_account_id.clone(),
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

#[async_trait::async_trait]
impl StepPort for PeerPort {
    async fn perform(&self, call: &StepCall) -> StepOutcome {
        let outcome = match call.effect.action {
            Action::FindPlatformOrganization => self.find_platform_organization(call).await,
            Action::ReserveAccounts => self.reserve_accounts(call).await,
            Action::ReleaseAccounts => self.release_accounts(call).await,
            Action::CreateAccount => self.create_account(call).await,
            Action::CloseCreatedAccount => self.close_created_account(call).await,
            Action::AttachAccount => self.attach_account(call).await,
            Action::DeployBaseline => self.deploy_baseline(call).await,
            Action::RemoveBaseline => self.remove_baseline(call, true).await,
            Action::ActivateAccounts => self.activate_accounts(call).await,
            Action::InviteBillingTransfer => {
                self.invite_billing_transfer(call, call.effect.key).await
            }
            Action::WithdrawBillingTransfer => self.withdraw_billing_transfer(call).await,
            Action::CheckBillingTransfer => self.check_billing_transfer(call).await,
            Action::CheckBootstrapRole => self.check_bootstrap_role(call).await,
            Action::InviteAccounts => self.invite_accounts(call).await,
            Action::RetractInvitations => self.retract_invitations(call).await,
            Action::CheckInvitations => self.check_invitations(call).await,
            Action::BeginOffboarding => self.begin_offboarding(call).await,
            Action::AbortOffboarding => self.abort_offboarding(call).await,
            Action::DeleteStackInstances => self.remove_baseline(call, false).await,
            Action::RestoreStackInstances => self.restore_baseline(call, false).await,
            Action::DeleteStackSet => self.delete_stack_set(call).await,
            Action::RestoreStackSet => self.restore_baseline(call, true).await,
            Action::DeletePayerStack => self.delete_payer_stack(call).await,
            Action::CloseAccount => self.close_account(call).await,
            Action::RemoveAccount => self.remove_account(call).await,
            Action::EndBillingTransfer => self.end_billing_transfer(call).await,
            Action::RecordOffboardingOutcome => self.record_offboarding_outcome(call).await,
            Action::CheckClosure => self.check_closure(call).await,
            Action::RecordClosure => self.record_closure(call).await,
            Action::SchedulePurge => self.schedule_purge(call).await,
            Action::Probe(_) => Err(broken("synthetic steps only run against test doubles")),
        };
        outcome.unwrap_or_else(|outcome| outcome)
    }
}

/// A step's work: `Err` carries an outcome that ends it early (a refusal, a pending operation).
type Step = Result<StepOutcome, StepOutcome>;

impl PeerPort {
    fn accounts(&self) -> AccountServiceClient<PeerChannel> {
        AccountServiceClient::new(self.peers.accounts.clone())
    }

    fn provisioning(&self) -> ProvisioningServiceClient<PeerChannel> {
        ProvisioningServiceClient::new(self.peers.provisioning.clone())
    }

    fn purges(&self) -> PurgeServiceClient<PeerChannel> {
        PurgeServiceClient::new(self.peers.purge.clone())
    }

    /// Starts (or replays) an operation with `start`, then reads it fresh: a replay answers with the
    /// operation as stored, and GetOperation steps it when its next check is due.
    async fn operation(
        &self,
        call: &StepCall,
        started: Result<tonic::Response<Option<prov::Operation>>, tonic::Status>,
    ) -> Result<prov::Operation, StepOutcome> {
        let operation =
            answered(started)?.ok_or_else(|| broken("provisioning answered no operation"))?;
        // A replay answers with the operation as it was; a deferred one is tried again once its
        // wait is over, so it is read fresh like one in progress.
        if operation.state == prov::OperationState::InProgress as i32
            || operation.state == prov::OperationState::Deferred as i32
        {
            let fresh = self
                .provisioning()
                .get_operation(request(
                    call,
                    None,
                    prov::GetOperationRequest {
                        operation_id: operation.id.clone(),
                    },
                ))
                .await;
            if let Ok(fresh) = fresh
                && let Some(fresh) = fresh.into_inner().operation
            {
                return Ok(fresh);
            }
        }
        Ok(operation)
    }

    /// A started operation followed to an outcome whose only output is that it completed.
    async fn completion(
        &self,
        call: &StepCall,
        started: Result<tonic::Response<Option<prov::Operation>>, tonic::Status>,
    ) -> Step {
        let operation = self.operation(call, started).await?;
        Ok(operation_outcome(
            &operation,
            SagaState::default(),
            |_| done(SagaState::default()),
            call.now,
        ))
    }

    /// Reads an operation by id.
    async fn read_operation(
        &self,
        call: &StepCall,
        id: Uuid,
    ) -> Result<prov::Operation, StepOutcome> {
        answered(
            self.provisioning()
                .get_operation(request(
                    call,
                    None,
                    prov::GetOperationRequest {
                        operation_id: id.to_string(),
                    },
                ))
                .await,
        )?
        .operation
        .ok_or_else(|| broken("provisioning answered no operation"))
    }

    /// The operation's id as a patch that remembers it for this node.
    fn remembered(call: &StepCall, operation: &prov::Operation) -> SagaState {
        let mut patch = SagaState::default();
        if let Ok(id) = operation.id.parse::<Uuid>() {
            patch.operations = BTreeMap::from([(call.effect.node.to_string(), id)]);
        }
        patch
    }

    async fn find_platform_organization(&self, call: &StepCall) -> Step {
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
        let found = listed
            .accounts
            .into_iter()
            .map(|account| account.aws_account_id)
            .find(|id| !id.is_empty())
            .or_else(|| self.settings.default_management_account_id.clone());
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

    async fn reserve_accounts(&self, call: &StepCall) -> Step {
        for reservation in reservations(call) {
            if call.state.records.contains_key(&reservation.key_part) {
                continue;
            }
            let mut message = reservation.message;
            message.idempotency_key = sub_key(call.effect.key, &reservation.key_part).to_string();
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

    async fn release_accounts(&self, call: &StepCall) -> Step {
        for (part, record) in &call.state.records {
            answered(
                self.accounts()
                    .release_account(request(
                        call,
                        Some(call.effect.key),
                        accounts::ReleaseAccountRequest {
                            idempotency_key: sub_key(call.effect.key, part).to_string(),
                            account_id: record.to_string(),
                            reason: "the order did not complete".to_owned(),
                        },
                    ))
                    .await,
            )?;
        }
        Ok(done(SagaState::default()))
    }

    fn create_request(
        call: &StepCall,
        key: Uuid,
    ) -> Result<prov::CreateAccountRequest, StepOutcome> {
        let OrderDetails::NewAccount {
            root_email,
            account_name,
            ..
        } = &call.input.details
        else {
            return Err(broken("only new-account orders create accounts"));
        };
        Ok(prov::CreateAccountRequest {
            idempotency_key: key.to_string(),
            management_account_id: call
                .state
                .management_account_id
                .clone()
                .ok_or_else(|| broken("no platform organization was assigned"))?,
            email: root_email.clone(),
            account_name: account_name.clone(),
        })
    }

    async fn create_account(&self, call: &StepCall) -> Step {
        let message = Self::create_request(call, call.effect.key)?;
        let started = self
            .provisioning()
            .create_account(request(call, Some(call.effect.key), message))
            .await
            .map(|response| response.map(|inner| inner.operation));
        let operation = match self.operation(call, started).await {
            Ok(operation) => operation,
            Err(outcome) => return Ok(with_fields(outcome, &[InputField::RootEmail], Vec::new())),
        };
        let patch = Self::remembered(call, &operation);
        let outcome = operation_outcome(
            &operation,
            patch,
            |operation| match &operation.result {
                Some(prov::operation::Result::CreateAccount(created))
                    if !created.aws_account_id.is_empty() =>
                {
                    done(SagaState {
                        aws_account_id: Some(created.aws_account_id.clone()),
                        ..SagaState::default()
                    })
                }
                _ => broken("a created account has no id"),
            },
            call.now,
        );
        Ok(with_fields(outcome, &[InputField::RootEmail], Vec::new()))
    }

    async fn close_created_account(&self, call: &StepCall) -> Step {
        let created = match &call.state.aws_account_id {
            Some(id) => Some(id.clone()),
            None => {
                let Some(operation_id) = call.state.operations.get(&call.effect.node.to_string())
                else {
                    // The creation never started: nothing exists to close.
                    return Ok(done(SagaState::default()));
                };
                let operation = self.read_operation(call, *operation_id).await?;
                match prov::OperationState::try_from(operation.state) {
                    Ok(prov::OperationState::InProgress | prov::OperationState::Deferred) => {
                        return Ok(StepOutcome::Pending {
                            detail: "waiting for the creation to end before closing".to_owned(),
                            patch: SagaState::default(),
                        });
                    }
                    Ok(prov::OperationState::Succeeded) => match operation.result {
                        Some(prov::operation::Result::CreateAccount(created)) => {
                            Some(created.aws_account_id)
                        }
                        _ => None,
                    },
                    _ => None,
                }
            }
        };
        let Some(created) = created.filter(|id| !id.is_empty()) else {
            return Ok(done(SagaState::default()));
        };
        let started = self
            .provisioning()
            .close_account(request(
                call,
                Some(call.effect.key),
                prov::CloseAccountRequest {
                    idempotency_key: call.effect.key.to_string(),
                    aws_account_id: created,
                },
            ))
            .await
            .map(|response| response.map(|inner| inner.operation));
        // AWS accepted the closure once the operation exists; it finishes on its own.
        self.operation(call, started).await?;
        Ok(done(SagaState::default()))
    }

    async fn attach_account(&self, call: &StepCall) -> Step {
        let (Some(record), Some(aws_account_id)) = (
            call.state.records.get(""),
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
                        aws_account_id,
                        organization_id: String::new(),
                        parent_id: String::new(),
                        joined_method: accounts::JoinedMethod::Created as i32,
                    },
                ))
                .await,
        )?;
        Ok(done(SagaState::default()))
    }

    /// Creates the Essentials StackSet in the organization (adopting it when it exists), then its
    /// instances in the order's accounts.
    async fn deploy_baseline(&self, call: &StepCall) -> Step {
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

    async fn create_stack_set(&self, call: &StepCall, management: &str, key: Uuid) -> Step {
        let started = self
            .provisioning()
            .create_stack_set(request(
                call,
                Some(key),
                prov::CreateStackSetRequest {
                    idempotency_key: key.to_string(),
                    management_account_id: management.to_owned(),
                    template: prov::StackSetTemplate::Essentials as i32,
                },
            ))
            .await
            .map(|response| response.map(|inner| inner.operation));
        match self.completion(call, started).await? {
            StepOutcome::Done(patch) => Ok(StepOutcome::Done(patch)),
            other => Err(other),
        }
    }

    async fn stack_instances(
        &self,
        call: &StepCall,
        management: &str,
        key: Uuid,
        create: bool,
        retain: bool,
    ) -> Step {
        let accounts = baseline_targets(call);
        if accounts.is_empty() {
            return Ok(done(SagaState::default()));
        }
        let regions = self.settings.regions.clone();
        let started = if create {
            self.provisioning()
                .create_stack_instances(request(
                    call,
                    Some(key),
                    prov::CreateStackInstancesRequest {
                        idempotency_key: key.to_string(),
                        management_account_id: management.to_owned(),
                        template: prov::StackSetTemplate::Essentials as i32,
                        aws_account_ids: accounts,
                        regions,
                    },
                ))
                .await
                .map(|response| response.map(|inner| inner.operation))
        } else {
            self.provisioning()
                .delete_stack_instances(request(
                    call,
                    Some(key),
                    prov::DeleteStackInstancesRequest {
                        idempotency_key: key.to_string(),
                        management_account_id: management.to_owned(),
                        template: prov::StackSetTemplate::Essentials as i32,
                        aws_account_ids: accounts,
                        regions,
                        retain_stacks: retain,
                    },
                ))
                .await
                .map(|response| response.map(|inner| inner.operation))
        };
        self.completion(call, started).await
    }

    /// Removes the order's Essentials instances, and with `and_set` the StackSet too.
    async fn remove_baseline(&self, call: &StepCall, and_set: bool) -> Step {
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
    async fn restore_baseline(&self, call: &StepCall, with_set: bool) -> Step {
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

    async fn delete_stack_set(&self, call: &StepCall) -> Step {
        let management = management_account(call).ok_or_else(|| broken("no organization"))?;
        self.delete_stack_set_with(call, &management, call.effect.key)
            .await
    }

    async fn delete_stack_set_with(&self, call: &StepCall, management: &str, key: Uuid) -> Step {
        let started = self
            .provisioning()
            .delete_stack_set(request(
                call,
                Some(key),
                prov::DeleteStackSetRequest {
                    idempotency_key: key.to_string(),
                    management_account_id: management.to_owned(),
                    template: prov::StackSetTemplate::Essentials as i32,
                },
            ))
            .await
            .map(|response| response.map(|inner| inner.operation));
        self.completion(call, started).await
    }

    async fn delete_payer_stack(&self, call: &StepCall) -> Step {
        let management = management_account(call).ok_or_else(|| broken("no organization"))?;
        let started = self
            .provisioning()
            .delete_bootstrap_stack(request(
                call,
                Some(call.effect.key),
                prov::DeleteBootstrapStackRequest {
                    idempotency_key: call.effect.key.to_string(),
                    aws_account_id: management,
                },
            ))
            .await
            .map(|response| response.map(|inner| inner.operation));
        self.completion(call, started).await
    }

    async fn activate_accounts(&self, call: &StepCall) -> Step {
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
                            idempotency_key: sub_key(call.effect.key, part).to_string(),
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
            source_management_account_id: management_account_id.clone(),
            source_name: transfer_name.clone(),
            order_id: call.order_id.to_string(),
        })
    }

    async fn invite_billing_transfer(&self, call: &StepCall, key: Uuid) -> Step {
        let message = Self::invite_billing_transfer_request(call, key)?;
        let started = self
            .provisioning()
            .invite_billing_transfer(request(call, Some(key), message))
            .await
            .map(|response| response.map(|inner| inner.operation));
        let operation = match self.operation(call, started).await {
            Ok(operation) => operation,
            Err(outcome) => {
                return Ok(with_fields(
                    outcome,
                    &[InputField::ManagementAccountId],
                    Vec::new(),
                ));
            }
        };
        let patch = Self::remembered(call, &operation);
        Ok(with_fields(
            operation_outcome(
                &operation,
                patch,
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
                call.now,
            ),
            &[InputField::ManagementAccountId],
            Vec::new(),
        ))
    }

    async fn withdraw_billing_transfer(&self, call: &StepCall) -> Step {
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
            .await
            .map(|response| response.map(|inner| inner.operation));
        self.completion(call, started).await
    }

    async fn check_billing_transfer(&self, call: &StepCall) -> Step {
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

    async fn check_bootstrap_role(&self, call: &StepCall) -> Step {
        let management = management_account(call).ok_or_else(|| broken("no management account"))?;
        let checked = answered(
            self.provisioning()
                .check_bootstrap_role(request(
                    call,
                    None,
                    prov::CheckBootstrapRoleRequest {
                        aws_account_id: management,
                    },
                ))
                .await,
        )?;
        Ok(if checked.deployed {
            done(SagaState::default())
        } else {
            StepOutcome::Query {
                code: "TNR209".to_owned(),
                fields: Vec::new(),
                items: Vec::new(),
            }
        })
    }

    fn linked_accounts(call: &StepCall) -> Vec<String> {
        match &call.input.details {
            OrderDetails::OrganizationTransfer {
                linked_account_ids, ..
            } => linked_account_ids.clone(),
            _ => Vec::new(),
        }
    }

    async fn invite_accounts(&self, call: &StepCall) -> Step {
        let management = management_account(call).ok_or_else(|| broken("no organization"))?;
        for account in Self::linked_accounts(call) {
            if call.state.handshakes.contains_key(&account) {
                continue;
            }
            let key = sub_key(call.effect.key, &account);
            return self.invite(call, &management, &account, key).await;
        }
        Ok(done(SagaState::default()))
    }

    /// Invites `account` into `management`'s organization under `key`: progress with its handshake
    /// once AWS sent it.
    async fn invite(&self, call: &StepCall, management: &str, account: &str, key: Uuid) -> Step {
        let started = self
            .provisioning()
            .invite_account(request(
                call,
                Some(key),
                prov::InviteAccountRequest {
                    idempotency_key: key.to_string(),
                    management_account_id: management.to_owned(),
                    target_account_id: account.to_owned(),
                    order_id: call.order_id.to_string(),
                },
            ))
            .await
            .map(|response| response.map(|inner| inner.operation));
        let items = vec![item(account, "", "")];
        let operation = match self.operation(call, started).await {
            Ok(operation) => operation,
            Err(outcome) => {
                return Ok(with_fields(outcome, &[InputField::LinkedAccountIds], items));
            }
        };
        let outcome = operation_outcome(
            &operation,
            SagaState::default(),
            |operation| match &operation.result {
                Some(prov::operation::Result::Handshake(handshake)) => {
                    StepOutcome::Progress(SagaState {
                        handshakes: BTreeMap::from([(account.to_owned(), handshake.id.clone())]),
                        ..SagaState::default()
                    })
                }
                _ => broken("an invitation without its handshake"),
            },
            call.now,
        );
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

    async fn retract_invitations(&self, call: &StepCall) -> Step {
        for (account, handshake_id) in &call.state.handshakes {
            let handshake = self.handshake(call, handshake_id).await?;
            use prov::HandshakeState as State;
            let started = match State::try_from(handshake.state) {
                Ok(State::Accepted) => {
                    let key = sub_key(call.effect.key, &format!("remove-{account}"));
                    self.provisioning()
                        .remove_account(request(
                            call,
                            Some(key),
                            prov::RemoveAccountRequest {
                                idempotency_key: key.to_string(),
                                aws_account_id: account.clone(),
                            },
                        ))
                        .await
                        .map(|response| response.map(|inner| inner.operation))
                }
                Ok(State::Requested | State::Open) => {
                    let key = sub_key(call.effect.key, &format!("cancel-{account}"));
                    self.provisioning()
                        .cancel_handshake(request(
                            call,
                            Some(key),
                            prov::CancelHandshakeRequest {
                                idempotency_key: key.to_string(),
                                handshake_id: handshake_id.clone(),
                            },
                        ))
                        .await
                        .map(|response| response.map(|inner| inner.operation))
                }
                _ => continue,
            };
            match self.completion(call, started).await? {
                StepOutcome::Done(_) => {}
                other => return Ok(other),
            }
        }
        Ok(done(SagaState::default()))
    }

    async fn check_invitations(&self, call: &StepCall) -> Step {
        let mut pending = Vec::new();
        let mut refused = Vec::new();
        let mut expired = Vec::new();
        for account in Self::linked_accounts(call) {
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
                        "DECLINED",
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
                        "EXPIRED",
                        "remove the account or contact support",
                    ));
                }
                _ => pending.push(item(
                    &account,
                    "OPEN",
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

    fn terminate_facts(
        call: &StepCall,
    ) -> Result<(&str, TerminationMode, &[Acknowledgement], &str, Uuid), StepOutcome> {
        let OrderDetails::Terminate {
            aws_account_id,
            mode,
            acknowledgements,
            reason,
            ..
        } = &call.input.details
        else {
            return Err(broken("only terminations offboard"));
        };
        let record = call
            .input
            .account
            .as_ref()
            .map(|account| account.record_id)
            .ok_or_else(|| broken("a termination without its account record"))?;
        Ok((aws_account_id, *mode, acknowledgements, reason, record))
    }

    async fn begin_offboarding(&self, call: &StepCall) -> Step {
        let (aws_account_id, mode, acknowledgements, reason, _) = Self::terminate_facts(call)?;
        answered(
            self.accounts()
                .begin_offboarding(request(
                    call,
                    Some(call.effect.key),
                    accounts::BeginOffboardingRequest {
                        idempotency_key: call.effect.key.to_string(),
                        aws_account_id: aws_account_id.to_owned(),
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

    async fn abort_offboarding(&self, call: &StepCall) -> Step {
        let (_, _, _, _, record) = Self::terminate_facts(call)?;
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

    async fn close_account(&self, call: &StepCall) -> Step {
        let (aws_account_id, ..) = Self::terminate_facts(call)?;
        let started = self
            .provisioning()
            .close_account(request(
                call,
                Some(call.effect.key),
                prov::CloseAccountRequest {
                    idempotency_key: call.effect.key.to_string(),
                    aws_account_id: aws_account_id.to_owned(),
                },
            ))
            .await
            .map(|response| response.map(|inner| inner.operation));
        let operation = self.operation(call, started).await?;
        let accepted = SagaState {
            close_operation_id: operation.id.parse().ok(),
            ..SagaState::default()
        };
        // Accepted as soon as AWS shows the account closing; the wait that follows sees it closed.
        Ok(match prov::OperationState::try_from(operation.state) {
            Ok(prov::OperationState::InProgress | prov::OperationState::Succeeded) => {
                done(accepted)
            }
            _ => operation_outcome(
                &operation,
                SagaState::default(),
                |_| done(SagaState::default()),
                call.now,
            ),
        })
    }

    async fn remove_account(&self, call: &StepCall) -> Step {
        let (aws_account_id, ..) = Self::terminate_facts(call)?;
        let started = self
            .provisioning()
            .remove_account(request(
                call,
                Some(call.effect.key),
                prov::RemoveAccountRequest {
                    idempotency_key: call.effect.key.to_string(),
                    aws_account_id: aws_account_id.to_owned(),
                },
            ))
            .await
            .map(|response| response.map(|inner| inner.operation));
        let operation = self.operation(call, started).await?;
        let now = call.now;
        Ok(operation_outcome(
            &operation,
            SagaState::default(),
            |_| {
                done(SagaState {
                    removed_at: Some(now),
                    ..SagaState::default()
                })
            },
            now,
        ))
    }

    async fn end_billing_transfer(&self, call: &StepCall) -> Step {
        let (aws_account_id, ..) = Self::terminate_facts(call)?;
        let invitations = answered(
            self.provisioning()
                .list_operations(request(
                    call,
                    None,
                    prov::ListOperationsRequest {
                        page_size: 100,
                        page_token: String::new(),
                        aws_account_id: aws_account_id.to_owned(),
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
            .await
            .map(|response| response.map(|inner| inner.operation));
        let operation = self.operation(call, started).await?;
        let now = call.now;
        Ok(operation_outcome(
            &operation,
            SagaState::default(),
            |operation| {
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
            },
            now,
        ))
    }

    async fn record_offboarding_outcome(&self, call: &StepCall) -> Step {
        let (_, mode, _, _, record) = Self::terminate_facts(call)?;
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

    async fn check_closure(&self, call: &StepCall) -> Step {
        let operation_id = call
            .state
            .close_operation_id
            .ok_or_else(|| broken("no closure to follow"))?;
        let operation = self.read_operation(call, operation_id).await?;
        let now = call.now;
        Ok(operation_outcome(
            &operation,
            SagaState::default(),
            |_| {
                done(SagaState {
                    closed_at: Some(now),
                    ..SagaState::default()
                })
            },
            now,
        ))
    }

    async fn record_closure(&self, call: &StepCall) -> Step {
        let (_, _, _, _, record) = Self::terminate_facts(call)?;
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

    async fn schedule_purge(&self, call: &StepCall) -> Step {
        let (aws_account_id, ..) = Self::terminate_facts(call)?;
        let triggered_at = call.state.removed_at.unwrap_or(call.now);
        let scheduled = answered(
            self.purges()
                .schedule_purge(request(
                    call,
                    Some(call.effect.key),
                    purge::SchedulePurgeRequest {
                        idempotency_key: call.effect.key.to_string(),
                        scope: Some(purge::PurgeScope {
                            kind: purge::ScopeKind::Account as i32,
                            tenant_id: call.tenant_id.to_string(),
                            aws_account_id: aws_account_id.to_owned(),
                        }),
                        reason: purge::PurgeReason::AccountRemoved as i32,
                        triggered_at: Some(timestamp(triggered_at)),
                        ticket: String::new(),
                    },
                ))
                .await,
        )?;
        let scheduled = scheduled
            .purge
            .ok_or_else(|| broken("data-purge answered no purge"))?;
        let (Ok(id), Some(due_at)) = (
            scheduled.id.parse::<Uuid>(),
            instant(scheduled.due_at.as_ref()),
        ) else {
            return Err(broken("data-purge answered a malformed purge"));
        };
        Ok(done(SagaState {
            purge: Some(PurgeFacts { id, due_at }),
            ..SagaState::default()
        }))
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

/// What accounts says about a tenant when an order is placed.
#[derive(Debug, Clone)]
pub(crate) struct TenantView {
    pub(crate) active: bool,
    pub(crate) public_sector: bool,
    pub(crate) resale_model: Option<ResaleModel>,
    pub(crate) display_name: String,
}

/// What accounts says about terminating an account.
#[derive(Debug, Clone)]
pub(crate) struct TerminationView {
    pub(crate) problems: Vec<(String, String)>,
    pub(crate) account: Option<crate::domain::order::AccountFacts>,
}

fn unavailable(status: &tonic::Status) -> crate::domain::OrdersError {
    crate::domain::OrdersError::Unavailable(
        format!(
            "accounts answered {}: {}",
            tenure_telemetry::grpc_code_name(status.code() as i32),
            status.message()
        )
        .into(),
    )
}

impl Peers {
    fn accounts_client(&self) -> AccountServiceClient<PeerChannel> {
        AccountServiceClient::new(self.accounts.clone())
    }

    /// The tenant an order is placed for.
    pub(crate) async fn tenant(
        &self,
        tenant: Uuid,
    ) -> Result<TenantView, crate::domain::OrdersError> {
        let found = self
            .accounts_client()
            .get_tenant(PeerChannel::for_tenant(
                accounts::GetTenantRequest {
                    tenant_id: tenant.to_string(),
                },
                tenant,
            ))
            .await
            .map_err(|status| unavailable(&status))?
            .into_inner()
            .tenant
            .ok_or(crate::domain::OrdersError::internal(
                "accounts answered no tenant",
            ))?;
        Ok(TenantView {
            active: found.status == accounts::TenantStatus::Active as i32,
            public_sector: found.sector == common::Sector::Public as i32,
            resale_model: match common::ResaleModel::try_from(found.resale_model) {
                Ok(common::ResaleModel::Ecam) => Some(ResaleModel::Ecam),
                Ok(common::ResaleModel::Spam) => Some(ResaleModel::Spam),
                Ok(common::ResaleModel::BillingTransfer) => Some(ResaleModel::BillingTransfer),
                _ => None,
            },
            display_name: found.display_name,
        })
    }

    /// The tenant's live record of an AWS account, if it has one.
    pub(crate) async fn live_account(
        &self,
        tenant: Uuid,
        aws_account_id: &str,
    ) -> Result<Option<accounts::AwsAccount>, crate::domain::OrdersError> {
        let found = self
            .accounts_client()
            .get_account(PeerChannel::for_tenant(
                accounts::GetAccountRequest {
                    lookup: Some(accounts::get_account_request::Lookup::AwsAccountId(
                        aws_account_id.to_owned(),
                    )),
                },
                tenant,
            ))
            .await;
        match found {
            Ok(found) => Ok(found.into_inner().account),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(unavailable(&status)),
        }
    }

    /// The termination checks of accounts (domain.md §3.4, T1), with the account's facts.
    pub(crate) async fn check_termination(
        &self,
        tenant: Uuid,
        order_id: Uuid,
        aws_account_id: &str,
        mode: TerminationMode,
        acknowledgements: &[Acknowledgement],
        acknowledged_open_balance: Option<&Money>,
    ) -> Result<Option<TerminationView>, crate::domain::OrdersError> {
        let checked = self
            .accounts_client()
            .check_termination(PeerChannel::for_tenant(
                accounts::CheckTerminationRequest {
                    aws_account_id: aws_account_id.to_owned(),
                    mode: mode_number(mode),
                    acknowledgements: acknowledgements
                        .iter()
                        .copied()
                        .map(acknowledgement_number)
                        .collect(),
                    order_id: order_id.to_string(),
                    acknowledged_open_balance: acknowledged_open_balance.map(money_message),
                },
                tenant,
            ))
            .await;
        let checked = match checked {
            Ok(checked) => checked.into_inner(),
            Err(status) if status.code() == Code::NotFound => return Ok(None),
            Err(status) => return Err(unavailable(&status)),
        };
        let account = checked.account.and_then(|account| {
            Some(crate::domain::order::AccountFacts {
                record_id: account.id.parse().ok()?,
                relationship: match common::AccountRelationship::try_from(account.relationship) {
                    Ok(common::AccountRelationship::PlatformMember) => Relationship::PlatformMember,
                    Ok(common::AccountRelationship::PlatformPayer) => Relationship::PlatformPayer,
                    Ok(common::AccountRelationship::BillingTransferSource) => {
                        Relationship::BillingTransferSource
                    }
                    _ => return None,
                },
                role: if account.role == accounts::AccountRole::Management as i32 {
                    crate::domain::order::AccountRole::Management
                } else {
                    crate::domain::order::AccountRole::Member
                },
                management_account_id: (!account.management_account_id.is_empty())
                    .then_some(account.management_account_id),
            })
        });
        Ok(Some(TerminationView {
            problems: checked
                .problems
                .into_iter()
                .map(|problem| (problem.code, problem.message))
                .collect(),
            account,
        }))
    }
}
