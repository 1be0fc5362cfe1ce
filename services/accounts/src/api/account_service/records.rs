//! AWS account records: reads, and the saga steps that reserve, attach, activate and release them.

use chrono::{DateTime, Utc};
use tenure_db::TenantTx;
use tenure_domain::{AwsAccountId, CallerRole, FieldProblem, Problems};
use tenure_proto::Keyed;
use tenure_proto::accounts::v1 as pb;
use uuid::Uuid;

use crate::api::account_service::billing::open_subscription;
use crate::api::account_service::tenants::optional_tenant;
use crate::api::context::{at, checked, finish, finish_keyed};
use crate::api::convert::{self, EmailView, non_empty, optional};
use crate::app::{Accounts, Call, Target};
use crate::domain::{
    AccountState, AccountsError, FreeText, LifecycleEvent, MarketplaceRef, OrganizationId,
    PageRequest, ParentId, Rejection, ResponseSubject, check_instant, field_problem, parse_id,
    required, role_name,
};
use crate::store;
use crate::store::accounts::{AccountFilter, ChangeContext, set};
use crate::store::entity::aws_account;
use tenure_grpc::paging::Page;

/// Responses that carry exactly the account record their call changed.
pub(crate) trait AccountResponse: prost::Message + Default {
    fn with_account(account: pb::AwsAccount) -> Self;
}

/// Implements [`AccountResponse`] for responses whose only field is `account`.
macro_rules! account_response {
    ($($response:ty),+ $(,)?) => {
        $(impl AccountResponse for $response {
            fn with_account(account: pb::AwsAccount) -> Self {
                Self { account: Some(account) }
            }
        })+
    };
}

account_response!(
    pb::ReserveAccountResponse,
    pb::AttachAccountResponse,
    pb::ReleaseAccountResponse,
    pb::BeginOffboardingResponse,
    pb::AbortOffboardingResponse,
    pb::RecordOffboardingOutcomeResponse,
    pb::RecordClosureResponse,
    pb::ReopenAccountResponse,
    pb::RemoveAccountFromPlatformResponse,
    pb::RestoreAccountToPlatformResponse,
);

/// How a request names an account record: by its own id, or by the AWS account id of its live
/// record.
pub(crate) enum AccountRef {
    Id(Uuid),
    LiveAwsId(AwsAccountId),
}

impl AccountRef {
    /// The audit trail's name of the record.
    pub(crate) fn target(&self) -> Target {
        match self {
            AccountRef::Id(id) => Target::new("account", id),
            AccountRef::LiveAwsId(id) => Target::new("aws_account", id),
        }
    }

    /// The record within `tenant` (any tenant's for `None`): another tenant's record is not found,
    /// exactly like a random id.
    pub(crate) async fn find(
        &self,
        tx: &TenantTx,
        tenant: Option<Uuid>,
    ) -> Result<aws_account::Model, AccountsError> {
        let found = match self {
            AccountRef::Id(id) => store::accounts::find_account(tx, tenant, *id).await?,
            AccountRef::LiveAwsId(id) => {
                store::accounts::find_live_account(tx, tenant, id.as_str()).await?
            }
        };
        found.ok_or(AccountsError::NotFound("account"))
    }
}

/// An unsupported combination of options (TNR008).
pub(crate) fn unsupported(field: &str, description: &'static str) -> FieldProblem {
    at(
        field,
        field_problem("UNSUPPORTED_COMBINATION", description, "TNR008"),
    )
}

/// The transition history's view of who acts and why.
pub(crate) fn change(
    call: &Call,
    reason: &str,
    order_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> ChangeContext {
    ChangeContext {
        actor_subject: call.caller.subject.clone(),
        actor_role: role_name(call.caller.role),
        reason: reason.to_owned(),
        order_id,
        at: now,
    }
}

/// The view of root emails a caller gets in lists.
pub(crate) fn list_view(call: &Call) -> EmailView {
    if call.caller.role == CallerRole::Customer {
        EmailView::Masked
    } else {
        EmailView::Full
    }
}

/// Parses a record id field.
pub(crate) fn record_id(problems: &mut Problems, field: &str, raw: &str) -> Option<Uuid> {
    problems.check(field, parse_id(raw))
}

impl Accounts {
    /// Runs a keyed change to the record `record` names, in the transaction of the tenant that owns
    /// it and with the record loaded there. The stored response is filed under the record, so the
    /// purge of its data removes the copy too.
    pub(crate) async fn mutate_account<Q, R>(
        &self,
        call: &Call,
        request: &Q,
        record: AccountRef,
        target: Target,
        effect: impl AsyncFnOnce(
            &TenantTx,
            aws_account::Model,
            DateTime<Utc>,
        ) -> Result<R, AccountsError>,
    ) -> Result<R, AccountsError>
    where
        Q: Keyed,
        R: prost::Message + Default,
    {
        let tenant = match &record {
            AccountRef::Id(id) => self.tenant_of_account(call, *id).await?,
            AccountRef::LiveAwsId(id) => self.tenant_of_live_account(call, id.as_str()).await?,
        };
        self.mutate_reply(call, request, tenant, target, async |tx, now| {
            let account = record.find(tx, Some(tenant)).await?;
            let subject = ResponseSubject::Account(account.id);
            Ok((effect(tx, account, now).await?, subject))
        })
        .await
    }

    /// Like [`Accounts::mutate_account`] for a step whose answer is the record as `step` left it.
    pub(crate) async fn change_account<Q, R>(
        &self,
        call: &Call,
        request: &Q,
        record: AccountRef,
        target: Target,
        step: impl AsyncFnOnce(
            &TenantTx,
            aws_account::Model,
            DateTime<Utc>,
        ) -> Result<aws_account::Model, AccountsError>,
    ) -> Result<R, AccountsError>
    where
        Q: Keyed,
        R: AccountResponse,
    {
        self.mutate_account(call, request, record, target, async |tx, account, now| {
            let account = step(tx, account, now).await?;
            Ok(R::with_account(convert::account(
                &account,
                EmailView::Full,
            )?))
        })
        .await
    }

    /// Moves record `account_id` by `event`, which ends the hold of the order working on it (a
    /// release, an aborted offboarding); the history still names that order.
    pub(crate) async fn end_order_hold<Q, R>(
        &self,
        call: &Call,
        request: &Q,
        account_id: &str,
        reason: &str,
        event: LifecycleEvent,
    ) -> Result<R, AccountsError>
    where
        Q: Keyed,
        R: AccountResponse,
    {
        let mut problems = Problems::new();
        let id = record_id(&mut problems, "account_id", account_id);
        let reason = problems.check("reason", FreeText::reason(reason));
        finish_keyed(problems, request)?;
        let (id, reason) = (checked(id)?, checked(reason)?);
        self.change_account(
            call,
            request,
            AccountRef::Id(id),
            Target::new("account", id).because(reason.as_str(), ""),
            async |tx, account, now| {
                let order_id = account.active_order_id;
                store::accounts::apply_event(
                    tx,
                    account,
                    event,
                    &change(call, reason.as_str(), order_id, now),
                    |active| active.active_order_id = set(None),
                )
                .await
            },
        )
        .await
    }

    /// One page of what hangs off record `account_id` (its history, its costs), which must be within
    /// the caller's reach: another tenant's record is not found, like a random id.
    pub(crate) async fn read_account_page<T, R>(
        &self,
        call: &Call,
        account_id: &str,
        page: (u32, &str),
        fetch: impl AsyncFnOnce(&TenantTx, Uuid, PageRequest) -> Result<Vec<T>, AccountsError>,
        respond: impl FnOnce(Vec<T>, String) -> Result<R, AccountsError>,
    ) -> Result<R, AccountsError> {
        let mut problems = Problems::new();
        let id = record_id(&mut problems, "account_id", account_id);
        let page = Page::read(
            &mut problems,
            call.method,
            page,
            format!("{:?}|{account_id}", call.access),
        );
        finish(problems, || ())?;
        let (record, page) = (AccountRef::Id(checked(id)?), checked(page)?);
        let tenant = call.access.tenant_filter(None)?;
        self.read_page(
            call,
            record.target(),
            &page,
            async |tx, page| {
                let account = record.find(tx, tenant).await?;
                fetch(tx, account.id, page).await
            },
            respond,
        )
        .await
    }
}

impl Accounts {
    pub(crate) async fn get_account(
        &self,
        call: &Call,
        request: pb::GetAccountRequest,
    ) -> Result<pb::GetAccountResponse, AccountsError> {
        let record = match request.lookup {
            Some(pb::get_account_request::Lookup::Id(raw)) => AccountRef::Id(
                parse_id(&raw).map_err(|problem| AccountsError::invalid(at("id", problem)))?,
            ),
            Some(pb::get_account_request::Lookup::AwsAccountId(raw)) => AccountRef::LiveAwsId(
                AwsAccountId::parse(&raw)
                    .map_err(|problem| AccountsError::invalid(at("aws_account_id", problem)))?,
            ),
            None => return Err(AccountsError::invalid(at("lookup", required()))),
        };
        let tenant = call.access.tenant_filter(None)?;
        self.read(call, record.target(), async |tx| {
            let account = record.find(tx, tenant).await?;
            Ok(pb::GetAccountResponse {
                account: Some(convert::account(&account, EmailView::Full)?),
            })
        })
        .await
    }

    pub(crate) async fn list_accounts(
        &self,
        call: &Call,
        request: pb::ListAccountsRequest,
    ) -> Result<pb::ListAccountsResponse, AccountsError> {
        let mut problems = Problems::new();
        let mut states = Vec::new();
        for (index, raw) in request.states.iter().enumerate() {
            if let Some(state) = problems.check(
                format!("states[{index}]"),
                convert::account_state_from(*raw),
            ) {
                states.push(state);
            }
        }
        let relationship = problems.check(
            "relationship",
            optional(request.relationship, convert::relationship_from),
        );
        let management = match non_empty(&request.management_account_id) {
            None => Some(None),
            Some(raw) => problems
                .check("management_account_id", AwsAccountId::parse(raw))
                .map(Some),
        };
        let asked = optional_tenant(&mut problems, &request.tenant_id);
        let scope = format!(
            "{:?}|{:?}|{}|{}|{}",
            call.access,
            request.states,
            request.relationship,
            request.management_account_id,
            request.tenant_id
        );
        let page = Page::read(
            &mut problems,
            call.method,
            (request.page_size, &request.page_token),
            scope,
        );
        finish(problems, || ())?;
        let filter = AccountFilter {
            tenant: call.access.tenant_filter(checked(asked)?)?,
            states,
            relationship: checked(relationship)?,
            management_account_id: checked(management)?.map(|id| id.as_str().to_owned()),
        };
        let page = checked(page)?;
        let view = list_view(call);
        self.read_page(
            call,
            Target::new("account", "*"),
            &page,
            async |tx, page| store::accounts::list_accounts(tx, &filter, page).await,
            |rows, next_page_token| {
                Ok(pb::ListAccountsResponse {
                    accounts: rows
                        .iter()
                        .map(|row| convert::account(row, view))
                        .collect::<Result<_, _>>()?,
                    next_page_token,
                })
            },
        )
        .await
    }

    pub(crate) async fn list_account_transitions(
        &self,
        call: &Call,
        request: pb::ListAccountTransitionsRequest,
    ) -> Result<pb::ListAccountTransitionsResponse, AccountsError> {
        self.read_account_page(
            call,
            &request.account_id,
            (request.page_size, &request.page_token),
            async |tx, id, page| store::accounts::list_transitions(tx, id, page).await,
            |rows, next_page_token| {
                Ok(pb::ListAccountTransitionsResponse {
                    transitions: rows
                        .iter()
                        .map(convert::transition)
                        .collect::<Result<_, _>>()?,
                    next_page_token,
                })
            },
        )
        .await
    }

    pub(crate) async fn attach_account(
        &self,
        call: &Call,
        request: pb::AttachAccountRequest,
    ) -> Result<pb::AttachAccountResponse, AccountsError> {
        let mut problems = Problems::new();
        let id = record_id(&mut problems, "account_id", &request.account_id);
        let aws_account_id = problems.check(
            "aws_account_id",
            AwsAccountId::parse(&request.aws_account_id),
        );
        let organization_id = match non_empty(&request.organization_id) {
            None => Some(None),
            Some(raw) => problems
                .check("organization_id", OrganizationId::parse(raw))
                .map(Some),
        };
        let parent_id = match non_empty(&request.parent_id) {
            None => Some(None),
            Some(raw) => problems.check("parent_id", ParentId::parse(raw)).map(Some),
        };
        let joined_method = problems.check(
            "joined_method",
            optional(request.joined_method, convert::joined_method_from),
        );
        finish_keyed(problems, &request)?;
        let (id, aws_account_id, organization_id, parent_id, joined_method) = (
            checked(id)?,
            checked(aws_account_id)?,
            checked(organization_id)?,
            checked(parent_id)?,
            checked(joined_method)?,
        );
        self.change_account(
            call,
            &request,
            AccountRef::Id(id),
            Target::new("account", id),
            async |tx, account, _now| {
                let current = store::stored(AccountState::parse(&account.state))?;
                if !matches!(
                    current,
                    AccountState::PendingCreation | AccountState::TransferPending
                ) {
                    return Err(AccountsError::WrongState { current });
                }
                if account
                    .aws_account_id
                    .as_deref()
                    .is_some_and(|known| known != aws_account_id.as_str())
                {
                    return Err(AccountsError::invalid(unsupported(
                        "aws_account_id",
                        "the record is already attached to another AWS account id",
                    )));
                }
                store::accounts::update_account(tx, account, |active| {
                    active.aws_account_id = set(Some(aws_account_id.as_str().to_owned()));
                    if let Some(organization_id) = organization_id {
                        active.organization_id = set(Some(organization_id.into_inner()));
                    }
                    if let Some(parent_id) = parent_id {
                        active.parent_id = set(Some(parent_id.into_inner()));
                    }
                    if let Some(method) = joined_method {
                        active.joined_method = set(Some(method.as_str().to_owned()));
                    }
                })
                .await
            },
        )
        .await
    }

    pub(crate) async fn activate_account(
        &self,
        call: &Call,
        request: pb::ActivateAccountRequest,
    ) -> Result<pb::ActivateAccountResponse, AccountsError> {
        let now = self.now();
        let mut problems = Problems::new();
        let id = record_id(&mut problems, "account_id", &request.account_id);
        let order_id = record_id(&mut problems, "order_id", &request.order_id);
        let billing_starts_at = match &request.billing_starts_at {
            None => Some(None),
            Some(raw) => problems
                .check(
                    "billing_starts_at",
                    convert::instant(Some(raw)).and_then(|at| check_instant(at, now)),
                )
                .map(Some),
        };
        let subscription_ref = match non_empty(&request.subscription_ref) {
            None => Some(None),
            Some(raw) => problems
                .check("subscription_ref", MarketplaceRef::parse(raw))
                .map(|reference| Some(reference.into_inner())),
        };
        finish_keyed(problems, &request)?;
        let (id, order_id, billing_starts_at, subscription_ref) = (
            checked(id)?,
            checked(order_id)?,
            checked(billing_starts_at)?,
            checked(subscription_ref)?,
        );
        self.mutate_account(
            call,
            &request,
            AccountRef::Id(id),
            Target::new("account", id),
            async |tx, account, now| {
                if account.aws_account_id.is_none() {
                    return Err(AccountsError::Precondition(Rejection {
                        code: "TNR903",
                        message:
                            "The account has no AWS account id yet; attach it before activating."
                                .to_owned(),
                    }));
                }
                let account = store::accounts::apply_event(
                    tx,
                    account,
                    LifecycleEvent::Activate,
                    &change(call, "order completed", Some(order_id), now),
                    |active| {
                        active.billing_starts_at = set(Some(billing_starts_at.unwrap_or(now)));
                        active.active_order_id = set(None);
                    },
                )
                .await?;
                let marketplace_ref =
                    subscription_ref.unwrap_or_else(|| format!("account-{}", account.id));
                Ok(pb::ActivateAccountResponse {
                    subscription: Some(
                        open_subscription(tx, &account, marketplace_ref, now).await?,
                    ),
                    account: Some(convert::account(&account, EmailView::Full)?),
                })
            },
        )
        .await
    }

    pub(crate) async fn release_account(
        &self,
        call: &Call,
        request: pb::ReleaseAccountRequest,
    ) -> Result<pb::ReleaseAccountResponse, AccountsError> {
        self.end_order_hold(
            call,
            &request,
            &request.account_id,
            &request.reason,
            LifecycleEvent::Abandon,
        )
        .await
    }
}
