//! The backend contract suite: what every [`Cloud`] implementation must answer, in AWS's own words.
//!
//! Each `case_*` function is one contract case, generic over a [`ContractFixture`]; a crate that
//! implements a backend calls every case from a test named after it (`aws` against moto in this crate,
//! `sandbox` in the provisioning service). A case fails by panicking with the broken expectation, like
//! any assertion. Where a fixture cannot play a part the case needs (the customer's side of a
//! handshake, a movable clock), the case returns [`Coverage::Gap`] naming what it could not show, so the
//! calling test reports the gap instead of passing silently.
//!
//! Everything here describes behaviour real AWS has (domain.md §6); where moto 5.2.5 differs, the
//! case accepts only what both AWS and the difference allow, and says so.
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "the contract suite is test code: a broken expectation fails the calling test"
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::Duration;
use tenure_domain::AwsAccountId;

use crate::{
    AccountState, CREATE_ACCOUNT_REQUEST_PREFIX, Cloud, CloudError, CloudResult,
    CreateAccountState, HANDSHAKE_PREFIX, HandshakeAction, HandshakeState, InstanceTargets,
    JoinedMethod, StackDeletion, StackSetOperationStatus, StackSetSpec, StackSetStatus, StackSpec,
    StackStatus, is_valid_aws_id,
};

/// What a backend offers the contract suite. Keep implementations thin: they only create the starting
/// point (an organization, a standalone account) and play the parts AWS plays outside the API.
#[async_trait]
pub trait ContractFixture: Send + Sync {
    /// The backend under test.
    type Cloud: Cloud;

    /// The backend under test, so that cases call it exactly as provisioning does.
    fn cloud(&self) -> &Self::Cloud;

    /// Creates a new organization with all features enabled and returns its management account, which
    /// then acts for every Organizations call and holds the StackSets. Each call gives a new,
    /// independent organization, so cases share nothing.
    async fn fresh_organization(&self) -> AwsAccountId;

    /// An existing account that belongs to no organization (a customer's standalone account), for
    /// invitations.
    async fn standalone_account(&self) -> AwsAccountId;

    /// Plays the customer: answers the handshake `handshake_id` from the invited account's side.
    /// `None` when this backend cannot act as the customer (real AWS; moto lacks handshakes).
    async fn customer_answers(&self, handshake_id: &str, answer: CustomerAnswer) -> Option<()>;

    /// Moves the backend's clock forward by `by`, so that asynchronous processes, waiting periods and
    /// expiries progress. Returns false when the backend runs on real time (AWS, moto); cases then
    /// wait briefly and poll again instead.
    async fn advance_clock(&self, by: Duration) -> bool;

    /// How many [`Cloud`] calls reached the backend so far (see [`crate::CountingCloud`]). Cases check
    /// that it moves by exactly the calls they make, so a fixture cannot count something else.
    fn backend_calls(&self) -> u64;
}

/// The customer's answer to a handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerAnswer {
    Accept,
    Decline,
}

/// How much of a case a backend could show.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// Every expectation of the case was checked.
    Full,
    /// The case stopped early; the text says what the fixture could not do and what was left unshown.
    Gap(&'static str),
}

/// How often a case polls an asynchronous process before giving up. Real-time backends finish at
/// once (moto) or within seconds; simulated ones move their clock by the poll's step each time.
const POLL_ATTEMPTS: u32 = 60;
/// The pause between polls on a real-time backend.
const REAL_TIME_POLL_PAUSE: StdDuration = StdDuration::from_millis(200);

/// Tags that mark a resource as Tenure's (the adoption rule of domain.md §6.3).
const TENURE_TAG: (&str, &str) = ("tenure:managed", "true");

/// A template with one resource that has no effect, so that every backend can deploy it.
const NO_OP_TEMPLATE: &str =
    r#"{"Resources":{"TenureContractMarker":{"Type":"AWS::CloudFormation::WaitConditionHandle"}}}"#;

/// The region StackSet instances are deployed to (Organizations is served from us-east-1 too).
const REGION: &str = "us-east-1";

/// CreateAccount, polled to SUCCEEDED; the account is then described, listed and its creation request
/// listed.
pub async fn case_create_account_to_success<F: ContractFixture>(fixture: &F) -> Coverage {
    let cloud = fixture.cloud();
    let org = fixture.fresh_organization().await;
    let email = unique_email(&org, "create");
    let name = "Tenure contract create";

    let requested = cloud
        .create_account(&org, &email, name)
        .await
        .expect("CreateAccount is accepted");
    assert_matches_pattern(&requested.request_id, CREATE_ACCOUNT_REQUEST_PREFIX);
    assert_eq!(requested.account_name, name);
    assert_ne!(
        requested.state,
        CreateAccountState::Failed,
        "a fresh email and name do not fail: {requested:?}"
    );

    let account = wait_until_created(fixture, &org, &requested.request_id).await;

    let described = cloud
        .describe_account(&org, &account)
        .await
        .expect("the created account is described");
    assert_eq!(described.id, account);
    assert_eq!(described.email, email);
    assert_eq!(described.name, name);
    assert_eq!(described.state, AccountState::Active);
    assert_eq!(described.joined_method, JoinedMethod::Created);

    let listed = cloud
        .list_accounts(&org)
        .await
        .expect("ListAccounts succeeds");
    assert!(
        listed.iter().any(|listed| listed.id == account),
        "ListAccounts includes the new account: {listed:?}"
    );
    assert!(
        listed.iter().any(|listed| listed.id == org),
        "ListAccounts includes the management account: {listed:?}"
    );

    let requests = cloud
        .list_create_account_statuses(&org)
        .await
        .expect("ListCreateAccountStatus succeeds");
    let request = requests
        .iter()
        .find(|status| status.request_id == requested.request_id)
        .expect("ListCreateAccountStatus includes the request (crash reconciliation relies on it)");
    assert_eq!(request.state, CreateAccountState::Succeeded);
    assert_eq!(request.account_id.as_ref(), Some(&account));
    Coverage::Full
}

/// InviteAccountToOrganization, the customer accepts, and the account is then a member that joined by
/// invitation. A second invitation while the first is open is a `DuplicateHandshakeException`.
pub async fn case_invite_and_accept_handshake<F: ContractFixture>(fixture: &F) -> Coverage {
    let cloud = fixture.cloud();
    let org = fixture.fresh_organization().await;
    let target = fixture.standalone_account().await;

    let handshake = invite(fixture, &org, &target).await;
    let duplicate = cloud
        .invite_account(&org, &target, "order-duplicate")
        .await
        .expect_err("a second open invitation for the same account is refused");
    assert_code(&duplicate, "DuplicateHandshakeException", None);

    let listed = cloud
        .list_handshakes(&org, HandshakeAction::Invite)
        .await
        .expect("ListHandshakesForOrganization succeeds");
    assert!(
        listed.iter().any(|listed| listed.id == handshake.id),
        "the open invitation is listed (reconciliation adopts it): {listed:?}"
    );
    assert!(
        cloud
            .list_handshakes(&org, HandshakeAction::TransferResponsibility)
            .await
            .expect("ListHandshakesForOrganization succeeds")
            .iter()
            .all(|listed| listed.id != handshake.id),
        "the action filter excludes invitations"
    );

    if fixture
        .customer_answers(&handshake.id, CustomerAnswer::Accept)
        .await
        .is_none()
    {
        return Coverage::Gap(
            "the fixture cannot accept a handshake as the customer: acceptance and membership unshown",
        );
    }
    let accepted = cloud
        .describe_handshake(&org, &handshake.id)
        .await
        .expect("the accepted handshake is described");
    assert_eq!(accepted.state, HandshakeState::Accepted);

    let member = cloud
        .describe_account(&org, &target)
        .await
        .expect("the invited account is now a member");
    assert_eq!(member.joined_method, JoinedMethod::Invited);
    assert_eq!(member.state, AccountState::Active);
    Coverage::Full
}

/// The customer declines an invitation; cancelling it afterwards does not turn it into CANCELED.
pub async fn case_handshake_declined<F: ContractFixture>(fixture: &F) -> Coverage {
    let cloud = fixture.cloud();
    let org = fixture.fresh_organization().await;
    let target = fixture.standalone_account().await;
    let handshake = invite(fixture, &org, &target).await;

    if fixture
        .customer_answers(&handshake.id, CustomerAnswer::Decline)
        .await
        .is_none()
    {
        return Coverage::Gap("the fixture cannot decline a handshake as the customer");
    }
    let declined = cloud
        .describe_handshake(&org, &handshake.id)
        .await
        .expect("the declined handshake is described");
    assert_eq!(declined.state, HandshakeState::Declined);

    // domain.md §6.3: the engine treats either answer as done for a declined handshake.
    let cancel = cloud
        .cancel_handshake(&org, &handshake.id)
        .await
        .expect_err("a declined handshake cannot be cancelled");
    assert!(
        cancel.is("InvalidHandshakeTransitionException")
            || cancel.is("HandshakeAlreadyInStateException"),
        "cancelling a declined handshake: {cancel}"
    );
    assert!(
        cloud
            .describe_account(&org, &target)
            .await
            .is_err_and(|error| error.is("AccountNotFoundException")),
        "a declined invitation adds no member"
    );
    Coverage::Full
}

/// An unanswered invitation expires at its `ExpirationTimestamp`.
pub async fn case_handshake_expires<F: ContractFixture>(fixture: &F) -> Coverage {
    let cloud = fixture.cloud();
    let org = fixture.fresh_organization().await;
    let target = fixture.standalone_account().await;
    let handshake = invite(fixture, &org, &target).await;

    let until_expiry = handshake.expires_at - handshake.requested_at;
    assert!(
        until_expiry > Duration::days(1),
        "an invitation stays open for days (about 15), not {until_expiry}"
    );
    if !fixture
        .advance_clock(until_expiry + Duration::minutes(1))
        .await
    {
        return Coverage::Gap(
            "the backend runs on real time: a handshake's expiry (about 15 days) cannot be shown",
        );
    }
    let expired = cloud
        .describe_handshake(&org, &handshake.id)
        .await
        .expect("the expired handshake is described");
    assert_eq!(expired.state, HandshakeState::Expired);
    Coverage::Full
}

/// The sender cancels an invitation; cancelling again is `HandshakeAlreadyInStateException`.
pub async fn case_cancel_handshake<F: ContractFixture>(fixture: &F) -> Coverage {
    let cloud = fixture.cloud();
    let org = fixture.fresh_organization().await;
    let target = fixture.standalone_account().await;
    let handshake = invite(fixture, &org, &target).await;

    let canceled = cloud
        .cancel_handshake(&org, &handshake.id)
        .await
        .expect("the sender cancels its invitation");
    assert_eq!(canceled.id, handshake.id);
    assert_eq!(canceled.state, HandshakeState::Canceled);

    let again = cloud
        .cancel_handshake(&org, &handshake.id)
        .await
        .expect_err("a cancelled handshake cannot be cancelled again");
    assert_code(&again, "HandshakeAlreadyInStateException", None);

    // Once the first invitation is over, a new one for the same account is no duplicate.
    let second = invite(fixture, &org, &target).await;
    assert_ne!(second.id, handshake.id);
    Coverage::Full
}

/// RemoveAccountFromOrganization: the account leaves, and DescribeAccount no longer finds it
/// (`AccountNotFoundException`, how the engine confirms a removal).
pub async fn case_remove_account<F: ContractFixture>(fixture: &F) -> Coverage {
    let cloud = fixture.cloud();
    let org = fixture.fresh_organization().await;
    let account = create_member_account(fixture, &org, "remove").await;

    match cloud.remove_account(&org, &account).await {
        Ok(()) => {}
        // Real AWS keeps a created account in its organization for a waiting period (domain.md §6.4).
        Err(error) if error.has_reason("WAIT_PERIOD_ACTIVE") => {
            assert_code(
                &error,
                "ConstraintViolationException",
                Some("WAIT_PERIOD_ACTIVE"),
            );
            if !fixture.advance_clock(Duration::days(8)).await {
                return Coverage::Gap(
                    "the backend enforces the waiting period on real time: the removal itself is unshown",
                );
            }
            cloud
                .remove_account(&org, &account)
                .await
                .expect("the account leaves once the waiting period is over");
        }
        Err(error) => panic!("RemoveAccountFromOrganization failed: {error}"),
    }

    let gone = cloud
        .describe_account(&org, &account)
        .await
        .expect_err("a removed account is no longer in the organization");
    assert_code(&gone, "AccountNotFoundException", None);
    assert!(
        cloud
            .list_accounts(&org)
            .await
            .expect("ListAccounts succeeds")
            .iter()
            .all(|listed| listed.id != account),
        "ListAccounts no longer includes the removed account"
    );
    // Removing twice is not checked: AWS answers AccountNotFoundException, moto 5.2.5
    // AWSOrganizationsNotInUseException, and the engine confirms a removal with DescribeAccount (above).
    Coverage::Full
}

/// CloseAccount: the account goes to SUSPENDED (through PENDING_CLOSURE on real AWS), stays listed in
/// the organization, and closing it again is `AccountAlreadyClosedException` (done for the engine).
pub async fn case_close_account_and_state_afterwards<F: ContractFixture>(fixture: &F) -> Coverage {
    let cloud = fixture.cloud();
    let org = fixture.fresh_organization().await;
    let account = create_member_account(fixture, &org, "close").await;

    cloud
        .close_account(&org, &account)
        .await
        .expect("CloseAccount is accepted");
    let closing = cloud
        .describe_account(&org, &account)
        .await
        .expect("a closing account is still described");
    assert!(
        matches!(
            closing.state,
            AccountState::PendingClosure | AccountState::Suspended
        ),
        "right after CloseAccount: {:?}",
        closing.state
    );

    let suspended = wait_for(
        fixture,
        "the account to be SUSPENDED",
        Duration::hours(1),
        async || {
            let state = cloud
                .describe_account(&org, &account)
                .await
                .expect("DescribeAccount succeeds")
                .state;
            (state == AccountState::Suspended).then_some(state)
        },
    )
    .await;
    assert_eq!(suspended, AccountState::Suspended);

    let again = cloud
        .close_account(&org, &account)
        .await
        .expect_err("closing twice is refused");
    assert_code(&again, "AccountAlreadyClosedException", None);

    let listed = cloud
        .list_accounts(&org)
        .await
        .expect("ListAccounts succeeds");
    let closed = listed
        .iter()
        .find(|listed| listed.id == account)
        .expect("a suspended account remains in its organization for the post-closure period");
    assert_eq!(closed.state, AccountState::Suspended);
    Coverage::Full
}

/// A stack in the management account and a StackSet with an instance in a member account, deployed and
/// then deleted in the offboarding order: instances, then the StackSet (refused while it still has
/// instances), then the stack.
pub async fn case_stack_and_stack_set_offboarding_order<F: ContractFixture>(
    fixture: &F,
) -> Coverage {
    let cloud = fixture.cloud();
    let org = fixture.fresh_organization().await;
    let member = create_member_account(fixture, &org, "stacks").await;
    let suffix = unique_suffix();

    let stack = StackSpec {
        name: format!("tenure-contract-stack-{suffix}"),
        template_body: NO_OP_TEMPLATE.to_owned(),
        tags: vec![(TENURE_TAG.0.to_owned(), TENURE_TAG.1.to_owned())],
    };
    let stack_id = cloud
        .create_stack(&org, &stack, &format!("create-stack-{suffix}"))
        .await
        .expect("CreateStack is accepted");
    let created = wait_for(
        fixture,
        "CREATE_COMPLETE",
        Duration::minutes(1),
        async || {
            let described = cloud
                .describe_stack(&org, &stack_id)
                .await
                .expect("DescribeStacks succeeds")
                .expect("a created stack exists");
            (described.status != StackStatus::CreateInProgress).then_some(described)
        },
    )
    .await;
    assert_eq!(created.status, StackStatus::CreateComplete);
    assert_eq!(created.stack_id, stack_id);
    assert_eq!(created.name, stack.name);
    assert_eq!(created.tags, stack.tags);
    let by_name = cloud
        .describe_stack(&org, &stack.name)
        .await
        .expect("DescribeStacks by name succeeds")
        .expect("the stack is found by its name too");
    assert_eq!(by_name.stack_id, stack_id);

    let stack_set = StackSetSpec {
        name: format!("tenure-contract-set-{suffix}"),
        template_body: NO_OP_TEMPLATE.to_owned(),
        tags: vec![(TENURE_TAG.0.to_owned(), TENURE_TAG.1.to_owned())],
    };
    let stack_set_id = cloud
        .create_stack_set(&org, &stack_set, &format!("create-set-{suffix}"))
        .await
        .expect("CreateStackSet is accepted");
    let described_set = cloud
        .describe_stack_set(&org, &stack_set.name)
        .await
        .expect("DescribeStackSet succeeds")
        .expect("the StackSet exists");
    assert_eq!(described_set.stack_set_id, stack_set_id);
    assert_eq!(described_set.status, StackSetStatus::Active);
    assert_eq!(described_set.tags, stack_set.tags);

    let targets = InstanceTargets {
        accounts: vec![member.clone()],
        regions: vec![REGION.to_owned()],
    };
    // AWS runs the operation under the OperationId it is given; moto 5.2.5 picks its own. Either way the
    // answer names the operation to poll.
    let create_operation = cloud
        .create_stack_instances(
            &org,
            &stack_set.name,
            &targets,
            &format!("create-instances-{suffix}"),
        )
        .await
        .expect("CreateStackInstances is accepted");
    wait_for_operation(fixture, &org, &stack_set.name, &create_operation).await;
    let instances = cloud
        .list_stack_instances(&org, &stack_set.name)
        .await
        .expect("ListStackInstances succeeds");
    assert_eq!(instances.len(), 1, "{instances:?}");
    let instance = instances.first().expect("one instance");
    assert_eq!(instance.account, member);
    assert_eq!(instance.region, REGION);

    // Offboarding order (domain.md §3.4): the StackSet cannot go while it still has instances.
    let not_empty = cloud
        .delete_stack_set(&org, &stack_set.name)
        .await
        .expect_err("a StackSet with instances cannot be deleted");
    assert_code(&not_empty, "StackSetNotEmptyException", None);

    let delete_operation = cloud
        .delete_stack_instances(
            &org,
            &stack_set.name,
            &targets,
            false,
            &format!("delete-instances-{suffix}"),
        )
        .await
        .expect("DeleteStackInstances is accepted");
    wait_for_operation(fixture, &org, &stack_set.name, &delete_operation).await;
    let instances = cloud
        .list_stack_instances(&org, &stack_set.name)
        .await
        .expect("ListStackInstances succeeds");
    assert!(instances.is_empty(), "{instances:?}");

    cloud
        .delete_stack_set(&org, &stack_set.name)
        .await
        .expect("an empty StackSet is deleted");
    let after = cloud
        .describe_stack_set(&org, &stack_set.name)
        .await
        .expect("DescribeStackSet succeeds after the deletion");
    assert!(
        after
            .as_ref()
            .is_none_or(|set| set.status == StackSetStatus::Deleted),
        "a deleted StackSet is gone or DELETED: {after:?}"
    );

    cloud
        .delete_stack(
            &org,
            &stack_id,
            &format!("delete-stack-{suffix}"),
            StackDeletion::Standard,
        )
        .await
        .expect("DeleteStack is accepted");
    let deleted = wait_for(
        fixture,
        "DELETE_COMPLETE",
        Duration::minutes(1),
        async || {
            match cloud
                .describe_stack(&org, &stack_id)
                .await
                .expect("DescribeStacks by id succeeds after the deletion")
            {
                // By id, AWS still describes a deleted stack; by name it no longer finds it.
                Some(described) if described.status == StackStatus::DeleteInProgress => None,
                Some(described) => Some(described.status),
                None => Some(StackStatus::DeleteComplete),
            }
        },
    )
    .await;
    assert_eq!(deleted, StackStatus::DeleteComplete);
    Coverage::Full
}

/// Error answers keep AWS's shape: the exception code, the HTTP status, not ambiguous. "Not found" on
/// CloudFormation describes is an absence, not an error. Checks that the fixture counts exactly the
/// calls made.
pub async fn case_error_shapes<F: ContractFixture>(fixture: &F) -> Coverage {
    let cloud = fixture.cloud();
    let org = fixture.fresh_organization().await;
    let unknown = AwsAccountId::parse("999999999999").expect("a valid account id");
    let suffix = unique_suffix();
    let calls_before = fixture.backend_calls();

    let missing = cloud
        .describe_account(&org, &unknown)
        .await
        .expect_err("an unknown account is not described");
    assert_code(&missing, "AccountNotFoundException", None);
    assert_eq!(missing.http_status, Some(400));

    let close_missing = cloud
        .close_account(&org, &unknown)
        .await
        .expect_err("an unknown account cannot be closed");
    assert_code(&close_missing, "AccountNotFoundException", None);

    assert_eq!(
        cloud
            .describe_stack(&org, &format!("tenure-missing-{suffix}"))
            .await
            .expect("a missing stack is an absence"),
        None
    );
    assert_eq!(
        cloud
            .describe_stack_set(&org, &format!("tenure-missing-{suffix}"))
            .await
            .expect("a missing StackSet is an absence"),
        None
    );

    let stack = StackSpec {
        name: format!("tenure-contract-twice-{suffix}"),
        template_body: NO_OP_TEMPLATE.to_owned(),
        tags: vec![(TENURE_TAG.0.to_owned(), TENURE_TAG.1.to_owned())],
    };
    cloud
        .create_stack(&org, &stack, &format!("first-{suffix}"))
        .await
        .expect("CreateStack is accepted");
    let twice = cloud
        .create_stack(&org, &stack, &format!("second-{suffix}"))
        .await
        .expect_err("a second stack of the same name under another token is refused");
    assert_code(&twice, "AlreadyExistsException", None);

    assert_eq!(
        fixture.backend_calls() - calls_before,
        6,
        "the fixture counts exactly the calls that reached the backend"
    );
    Coverage::Full
}

/// Invites `target` and checks the handshake's shape.
async fn invite<F: ContractFixture>(
    fixture: &F,
    org: &AwsAccountId,
    target: &AwsAccountId,
) -> crate::Handshake {
    let notes = format!("order-{}", unique_suffix());
    let handshake = fixture
        .cloud()
        .invite_account(org, target, &notes)
        .await
        .expect("InviteAccountToOrganization is accepted");
    assert_matches_pattern(&handshake.id, HANDSHAKE_PREFIX);
    assert_eq!(handshake.action, HandshakeAction::Invite);
    assert_eq!(handshake.target, *target);
    assert!(
        matches!(
            handshake.state,
            HandshakeState::Requested | HandshakeState::Open
        ),
        "a new invitation is pending: {:?}",
        handshake.state
    );
    assert!(handshake.expires_at > handshake.requested_at);
    let described = fixture
        .cloud()
        .describe_handshake(org, &handshake.id)
        .await
        .expect("the new handshake is described");
    assert_eq!(described.id, handshake.id);
    assert_eq!(described.target, *target);
    handshake
}

/// Creates a member account and waits until it exists.
async fn create_member_account<F: ContractFixture>(
    fixture: &F,
    org: &AwsAccountId,
    purpose: &str,
) -> AwsAccountId {
    let email = unique_email(org, purpose);
    let requested = fixture
        .cloud()
        .create_account(org, &email, &format!("Tenure contract {purpose}"))
        .await
        .expect("CreateAccount is accepted");
    wait_until_created(fixture, org, &requested.request_id).await
}

async fn wait_until_created<F: ContractFixture>(
    fixture: &F,
    org: &AwsAccountId,
    request_id: &str,
) -> AwsAccountId {
    wait_for(
        fixture,
        "CreateAccount to succeed",
        Duration::minutes(1),
        async || {
            let status = fixture
                .cloud()
                .describe_create_account_status(org, request_id)
                .await
                .expect("DescribeCreateAccountStatus succeeds");
            assert_eq!(status.request_id, request_id);
            match status.state {
                CreateAccountState::InProgress => None,
                CreateAccountState::Failed => panic!("CreateAccount failed: {status:?}"),
                CreateAccountState::Succeeded => Some(
                    status
                        .account_id
                        .expect("a SUCCEEDED creation names its account"),
                ),
            }
        },
    )
    .await
}

async fn wait_for_operation<F: ContractFixture>(
    fixture: &F,
    org: &AwsAccountId,
    stack_set: &str,
    operation_id: &str,
) {
    let status = wait_for(
        fixture,
        "the StackSet operation",
        Duration::minutes(1),
        async || {
            let status: CloudResult<StackSetOperationStatus> = fixture
                .cloud()
                .describe_stack_set_operation(org, stack_set, operation_id)
                .await;
            let status = status.expect("DescribeStackSetOperation succeeds");
            status.is_terminal().then_some(status)
        },
    )
    .await;
    assert_eq!(status, StackSetOperationStatus::Succeeded);
}

/// Polls `check` until it yields a value, moving the fixture's clock by `step` between polls (or
/// pausing briefly on a real-time backend).
async fn wait_for<F: ContractFixture, T>(
    fixture: &F,
    what: &str,
    step: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    for _ in 0..POLL_ATTEMPTS {
        if let Some(value) = check().await {
            return value;
        }
        if !fixture.advance_clock(step).await {
            tokio::time::sleep(REAL_TIME_POLL_PAUSE).await;
        }
    }
    panic!("gave up waiting for {what} after {POLL_ATTEMPTS} polls")
}

fn assert_code(error: &CloudError, code: &str, reason: Option<&str>) {
    assert_eq!(error.code.as_deref(), Some(code), "{error}");
    if let Some(reason) = reason {
        assert_eq!(error.reason.as_deref(), Some(reason), "{error}");
    }
    assert!(
        !error.ambiguous,
        "a 4xx error response is never ambiguous: {error:?}"
    );
}

/// domain.md §6.2.
fn assert_matches_pattern(id: &str, prefix: &str) {
    assert!(
        is_valid_aws_id(id, prefix),
        "{id} does not match {prefix}[0-9a-z]{{8,32}}"
    );
}

/// Unique within the process; combined with the organization's id it is unique across fixtures too.
fn unique_suffix() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn unique_email(org: &AwsAccountId, purpose: &str) -> String {
    format!("tenure+{purpose}-{org}-{}@example.com", unique_suffix())
}
