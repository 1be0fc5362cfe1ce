//! Organizations in the simulation: the platform's own organization, account creation and its
//! asynchronous requests, and the member lifecycle (removal, closure and the post-closure timeline).

use tenure_domain::AwsAccountId;
use tenure_provisioning_cloud::{
    AccountDescription, AccountState, CloudResult, CreateAccountState, CreateAccountStatus,
    JoinedMethod,
};
use uuid::Uuid;

use super::objects::{SimAccount, SimCreateRequest, SimOrganization};
use super::{
    CLOSE_QUOTA_WINDOW, POST_CLOSURE_PERIOD, REMOVAL_WAIT_PERIOD, SandboxCloud, account_id,
    fresh_account_id, fresh_id, rejected, storage,
};
use crate::store::SandboxTable;

impl SandboxCloud {
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
        self.put_account(&SimAccount::active(
            id.clone(),
            format!("Account {id}"),
            format!("{id}@sandbox.tenure.invalid"),
            None,
            JoinedMethod::Created,
            self.now(),
        ))
        .await?;
        account_id(&id)
    }

    pub(super) async fn organization(
        &self,
        management: &AwsAccountId,
    ) -> CloudResult<SimOrganization> {
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
        self.put_account(&SimAccount::active(
            management.to_string(),
            "Management account".to_owned(),
            format!("{management}@sandbox.tenure.invalid"),
            Some(management.to_string()),
            JoinedMethod::Created,
            now,
        ))
        .await?;
        Ok(organization)
    }

    pub(super) async fn put_account(&self, account: &SimAccount) -> CloudResult<()> {
        let scope = account.organization.clone().unwrap_or_default();
        self.store
            .put(SandboxTable::Account, &account.id, &scope, account)
            .await
            .map_err(storage)
    }

    /// Settles an account's closure timeline at `now`.
    async fn settle_account(&self, mut account: SimAccount) -> CloudResult<SimAccount> {
        let now = self.now();
        let mut changed = false;
        if account.state == AccountState::PendingClosure
            && let Some(requested) = account.close_requested_at
        {
            let suspended_at = requested + Self::delay(self.settings.close_account_delay_secs);
            if now >= suspended_at {
                account.state = AccountState::Suspended;
                account.suspended_at = Some(suspended_at);
                changed = true;
            }
        }
        if account.state == AccountState::Suspended
            && let Some(suspended_at) = account.suspended_at
            && now >= suspended_at + POST_CLOSURE_PERIOD
        {
            account.state = AccountState::Closed;
            changed = true;
        }
        if changed {
            self.put_account(&account).await?;
        }
        Ok(account)
    }

    async fn members(&self, management: &AwsAccountId) -> CloudResult<Vec<SimAccount>> {
        self.list_settled(
            SandboxTable::Account,
            management.as_str(),
            |account| async move { self.settle_account(account).await.map(Some) },
        )
        .await
    }

    pub(super) async fn member(
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
        if request.state != CreateAccountState::InProgress {
            return Ok(request);
        }
        let completes_at =
            request.requested_at + Self::delay(self.settings.create_account_delay_secs);
        if self.now() < completes_at {
            return Ok(request);
        }
        if self.email_taken(&request.email).await? {
            request.state = CreateAccountState::Failed;
            request.failure_reason = Some("EMAIL_ALREADY_EXISTS".to_owned());
        } else {
            let account = SimAccount::active(
                fresh_account_id(),
                request.account_name.clone(),
                request.email.clone(),
                Some(request.management.clone()),
                JoinedMethod::Created,
                completes_at,
            );
            self.put_account(&account).await?;
            request.state = CreateAccountState::Succeeded;
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

    fn close_quota(&self, members: usize) -> usize {
        match self.settings.close_quota {
            Some(quota) => usize::try_from(quota).unwrap_or(usize::MAX),
            None => (members / 5).clamp(250, 1_000),
        }
    }

    pub(super) async fn request_account(
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
            state: CreateAccountState::InProgress,
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

    pub(super) async fn create_request_status(
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

    pub(super) async fn create_request_statuses(
        &self,
        acting: &AwsAccountId,
    ) -> CloudResult<Vec<CreateAccountStatus>> {
        let _serial = self.serial.lock().await;
        self.list_settled(
            SandboxTable::CreateAccountRequest,
            acting.as_str(),
            |request| async move { to_request(&self.settle_request(request).await?).map(Some) },
        )
        .await
    }

    pub(super) async fn describe_member(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<AccountDescription> {
        let _serial = self.serial.lock().await;
        to_account(&self.member(acting, account).await?)
    }

    pub(super) async fn list_members(
        &self,
        acting: &AwsAccountId,
    ) -> CloudResult<Vec<AccountDescription>> {
        let _serial = self.serial.lock().await;
        self.organization(acting).await?;
        self.members(acting).await?.iter().map(to_account).collect()
    }

    pub(super) async fn remove_member(
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
        if member.joined_method == JoinedMethod::Created
            && self.now() < member.joined_at + REMOVAL_WAIT_PERIOD
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

    pub(super) async fn close_member(
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
        if member.state != AccountState::Active {
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
        member.state = AccountState::PendingClosure;
        member.close_requested_at = Some(now);
        self.put_account(&member).await
    }
}

fn to_request(request: &SimCreateRequest) -> CloudResult<CreateAccountStatus> {
    Ok(CreateAccountStatus {
        request_id: request.id.clone(),
        account_name: request.account_name.clone(),
        state: request.state,
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
        state: account.state,
        joined_method: account.joined_method,
        joined_at: account.joined_at,
    })
}
