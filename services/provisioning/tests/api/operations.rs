//! ProvisioningService and SandboxService over the sandbox: every operation kind end to end, validation,
//! idempotent replays counted at the backend boundary, and the error mapping of the service comment.

use std::time::Duration;

use tenure_domain::AwsAccountId;
use tenure_proto::provisioning::v1 as pb;
use tenure_provisioning::cloud::Cloud as _;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::support::{
    DAY, MINUTE, Served, account_of, assert_aws_rejected, assert_state, assert_succeeded,
    create_account, error_info, error_metadata, handshake_of, organization_with_member, request,
    serve_sandbox, settle, spawn_platform_sandbox, spawn_sandbox, test_settings, transfer_of,
    violated_fields,
};

#[tokio::test]
async fn create_account_runs_to_success_and_a_replay_calls_aws_no_more() {
    let (served, _database) = spawn_sandbox().await;
    let management = served.organization().await;
    let request = request::create_account(&management, "first.account@example.com", "First");
    let first = served.begin(request.clone()).await;
    assert_eq!(first.state, pb::OperationState::InProgress as i32);
    assert_eq!(first.kind, pb::OperationKind::CreateAccount as i32);
    let Some(pb::operation::Result::CreateAccount(created)) = &first.result else {
        panic!("no create-account result: {first:?}");
    };
    assert!(created.request_id.starts_with("car-"), "{created:?}");
    assert_eq!(created.status, "IN_PROGRESS");
    assert_eq!(served.counting.calls("create_account"), 1);

    let done = settle(&served, &first.id, MINUTE).await;
    assert_succeeded(&done);
    assert_eq!(done.aws_account_id.len(), 12);

    // The same key and request: the stored operation, without another CreateAccount.
    let calls_before = served.counting.total();
    let replay = served.begin(request.clone()).await;
    assert_eq!(replay.id, first.id);
    assert_eq!(replay.state, pb::OperationState::Succeeded as i32);
    assert_eq!(
        served.counting.total(),
        calls_before,
        "a replay reaches AWS"
    );
    assert_eq!(served.counting.calls("create_account"), 1);

    // The same key with another request is refused.
    let conflicting = served
        .refused(pb::CreateAccountRequest {
            account_name: "Other".to_owned(),
            ..request
        })
        .await;
    assert_eq!(conflicting.code(), Code::FailedPrecondition);
    assert_eq!(error_info(&conflicting).reason, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(served.counting.calls("create_account"), 1);

    // The account is now known to belong to the organization: DescribeAccount needs no default.
    let described = served.describe_account(&done.aws_account_id).await;
    assert_eq!(described.state, pb::AwsAccountState::Active as i32);
    assert_eq!(described.joined_method, "CREATED");
    served.host.shutdown().await;
}

#[tokio::test]
async fn bad_requests_list_every_violation_and_store_nothing() {
    let (served, _database) = spawn_sandbox().await;
    let status = served
        .refused(pb::CreateAccountRequest {
            idempotency_key: "short".to_owned(),
            management_account_id: " 012345678901".to_owned(),
            email: "not-an-email".to_owned(),
            account_name: String::new(),
        })
        .await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.get_error_details().bad_request().is_some());
    assert_eq!(
        violated_fields(&status),
        [
            "idempotency_key",
            "management_account_id",
            "email",
            "account_name"
        ]
    );
    let stack_instances = served
        .refused(request::create_stack_instances(
            "012345678901",
            pb::StackSetTemplate::Unspecified as i32,
            &["111111111111", "111111111111"],
            "moon-1",
        ))
        .await;
    assert!(stack_instances.get_error_details().bad_request().is_some());
    assert_eq!(
        violated_fields(&stack_instances),
        ["template", "aws_account_ids[1]", "regions[0]"]
    );
    let listed = served
        .operations(pb::ListOperationsRequest::default())
        .await;
    assert!(listed.is_empty(), "a bad request stored something");
    assert_eq!(served.counting.total(), 0, "a bad request reached AWS");
    served.host.shutdown().await;
}

#[tokio::test]
async fn an_email_already_in_the_organization_asks_the_customer_for_another() {
    let (served, _database) = spawn_sandbox().await;
    let (management, _member) = organization_with_member(&served).await;
    let taken = served
        .operations(pb::ListOperationsRequest::default())
        .await;
    assert_eq!(taken.len(), 1);
    // The member's email is taken; reuse it.
    let accounts = served
        .sandbox
        .list_accounts(&AwsAccountId::parse(&management).expect("id"))
        .await
        .expect("accounts");
    let email = accounts
        .iter()
        .find(|account| account.id.as_str() != management)
        .map(|account| account.email.clone())
        .expect("member");
    let request = request::create_account(&management, &email, "Duplicate");
    let ended = served.run(request.clone()).await;
    assert_eq!(
        ended.state,
        pb::OperationState::CustomerActionRequired as i32
    );
    let error = ended.error.expect("error");
    assert_eq!(error.code, "TNR101");
    assert_eq!(error.aws_code, "EMAIL_ALREADY_EXISTS");
    let replay = served.refused(request).await;
    assert_eq!(replay.code(), Code::FailedPrecondition);
    assert_eq!(error_info(&replay).reason, "CUSTOMER_ACTION_REQUIRED");
    assert_eq!(error_metadata(&replay, "code").as_deref(), Some("TNR101"));
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_new_account_waits_out_its_removal_period_then_leaves() {
    let (served, _database) = spawn_sandbox().await;
    let (_management, member) = organization_with_member(&served).await;
    let status = served.refused(request::remove_account(&member)).await;
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(error_info(&status).reason, "TNR402");
    let delay = status
        .get_error_details()
        .retry_info()
        .and_then(|info| info.retry_delay)
        .expect("retry info");
    assert!(delay > Duration::from_secs(3 * 86_400), "{delay:?}");
    let deferred = served
        .operations(request::operations_in(pb::OperationState::Deferred))
        .await;
    assert_eq!(deferred.len(), 1);
    served.advance(4 * DAY + MINUTE).await;
    let done = settle(&served, &deferred[0].id, MINUTE).await;
    assert_succeeded(&done);
    assert_eq!(
        account_of(&done).state,
        pb::AwsAccountState::NotInOrganization as i32
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn closing_past_the_quota_is_deferred_with_retry_info() {
    let database = tenure_testkit::TestDatabase::create().await.expect("db");
    let mut settings = test_settings(&database);
    settings.backend.sandbox.close_quota = Some(1);
    let served = serve_sandbox(&settings, |counting| counting).await;
    let (management, first) = organization_with_member(&served).await;
    let second = create_account(&served, &management, "second.member@example.com").await;

    let closing = served.begin(request::close_account(&first)).await;
    assert_eq!(closing.state, pb::OperationState::InProgress as i32);
    let closed = settle(&served, &closing.id, MINUTE).await;
    assert_succeeded(&closed);
    assert_eq!(
        account_of(&closed).state,
        pb::AwsAccountState::Suspended as i32
    );

    let status = served.refused(request::close_account(&second)).await;
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(error_info(&status).reason, "TNR403");
    assert!(status.get_error_details().retry_info().is_some());

    // Closing the closed account again is done, not an error (AccountAlreadyClosedException).
    let again = served.begin(request::close_account(&first)).await;
    assert_succeeded(&again);
    served.host.shutdown().await;
}

#[tokio::test]
async fn invitations_expire_by_the_clock_or_are_declined_and_can_be_cancelled() {
    let (served, _database) = spawn_sandbox().await;
    let management = served.organization().await;
    let invite = async |target: &str| {
        served
            .begin(request::invite_account(&management, target))
            .await
    };
    let first_target = served.standalone_account().await;
    let invited = invite(&first_target).await;
    assert_succeeded(&invited);
    let handshake = handshake_of(&invited);
    assert!(handshake.id.starts_with("h-"));
    assert_eq!(handshake.state, pb::HandshakeState::Requested as i32);

    served.advance(16 * DAY).await;
    let expired = served
        .orders()
        .describe_handshake(request::describe_handshake(&handshake.id))
        .await
        .expect("describe")
        .into_inner()
        .handshake
        .expect("handshake");
    assert_eq!(expired.state, pb::HandshakeState::Expired as i32);

    let second_target = served.standalone_account().await;
    let second_handshake = handshake_of(&invite(&second_target).await);
    let declined = served.decline_handshake(&second_handshake.id).await;
    assert_eq!(declined.state, pb::HandshakeState::Declined as i32);
    // Cancelling a declined invitation is done (the invitation can no longer be accepted).
    let cancelled = served
        .begin(request::cancel_handshake(&second_handshake.id))
        .await;
    assert_succeeded(&cancelled);

    let listed = served
        .orders()
        .list_handshakes(pb::ListHandshakesRequest {
            management_account_id: management.clone(),
            action: pb::HandshakeAction::Invite as i32,
            target_account_id: second_target,
        })
        .await
        .expect("list")
        .into_inner()
        .handshakes;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, pb::HandshakeState::Declined as i32);

    // An accepted invitation brings the account into the organization.
    let third_target = served.standalone_account().await;
    let third_handshake = handshake_of(&invite(&third_target).await);
    served.accept_handshake(&third_handshake.id).await;
    let joined = served.describe_account(&third_target).await;
    assert_eq!(joined.state, pb::AwsAccountState::Active as i32);
    assert_eq!(joined.joined_method, "INVITED");
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_billing_transfer_starts_on_a_first_and_ends_at_a_month_end() {
    let (served, _database) = spawn_platform_sandbox(|counting| counting).await;
    let source = served.standalone_account().await;
    let invited = served
        .begin(request::invite_billing_transfer(&source))
        .await;
    assert_succeeded(&invited);
    let transfer = transfer_of(&invited);
    assert!(transfer.id.starts_with("rt-"));
    let start = transfer.start_at.expect("start");
    let accept_by = transfer.accept_by.expect("accept by");
    assert_eq!(start.seconds % 86_400, 0, "the start is at midnight");
    assert_eq!(start.seconds - accept_by.seconds, 86_400);
    let now = served.now().await;
    assert!(
        accept_by.seconds - now.seconds >= 72 * 3_600,
        "the window is left"
    );

    served.accept_handshake(&transfer.handshake_id).await;
    let described = served.describe_billing_transfer(&transfer.id).await;
    assert_eq!(described.status, pb::BillingTransferStatus::Accepted as i32);

    // Once the transfer has started it runs to the end of the current month (one ended before its
    // start is withdrawn at its start: billing_end.rs).
    let ahead = u64::try_from(start.seconds - now.seconds).expect("the start lies ahead");
    served.advance(Duration::from_secs(ahead) + DAY).await;
    let ended = served
        .begin(request::end_billing_transfer(&transfer.id))
        .await;
    assert_succeeded(&ended);
    let ended = transfer_of(&ended);
    assert_eq!(ended.status, pb::BillingTransferStatus::Withdrawn as i32);
    let end = ended.end_at.expect("end");
    assert_eq!(
        (end.seconds + 1) % 86_400,
        0,
        "the end is the last moment of a day"
    );
    assert_eq!(end.nanos, 999_000_000);
    assert!(end.seconds > start.seconds);
    served.host.shutdown().await;
}

/// Whether CheckBootstrapRole finds the bootstrap role deployed in `account`.
async fn bootstrap_deployed(served: &Served, account: &str) -> bool {
    served
        .orders()
        .check_bootstrap_role(pb::CheckBootstrapRoleRequest {
            aws_account_id: account.to_owned(),
        })
        .await
        .expect("check")
        .into_inner()
        .deployed
}

#[tokio::test]
async fn stacks_and_stack_sets_deploy_and_are_removed_in_the_offboarding_order() {
    let (served, _database) = spawn_sandbox().await;
    let (management, member) = organization_with_member(&served).await;
    let deployed = served
        .run(request::deploy_bootstrap_stack(&management))
        .await;
    assert_succeeded(&deployed);
    assert!(bootstrap_deployed(&served, &management).await);

    let template = pb::StackSetTemplate::Essentials as i32;
    let set = served
        .begin(request::create_stack_set(&management, template))
        .await;
    assert_succeeded(&set);
    let created = served
        .run(request::create_stack_instances(
            &management,
            template,
            &[&member],
            "us-east-1",
        ))
        .await;
    assert_succeeded(&created);

    // A StackSet with instances cannot go: AWS's refusal travels verbatim.
    let refused = served
        .refused(request::delete_stack_set(&management, template))
        .await;
    assert_aws_rejected(&refused, "StackSetNotEmptyException");

    let removed = served
        .run(request::delete_stack_instances(
            &management,
            template,
            &[&member],
            "us-east-1",
        ))
        .await;
    assert_succeeded(&removed);
    let deleted_set = served
        .begin(request::delete_stack_set(&management, template))
        .await;
    assert_succeeded(&deleted_set);
    let gone = served
        .run(request::delete_bootstrap_stack(&management))
        .await;
    assert_succeeded(&gone);
    assert!(!bootstrap_deployed(&served, &management).await);
    served.host.shutdown().await;
}

#[tokio::test]
async fn the_worker_finishes_operations_without_a_caller() {
    let (served, _database) = spawn_sandbox().await;
    let management = served.organization().await;
    let started = served
        .begin(request::create_account(
            &management,
            "worker.made@example.com",
            "Worker",
        ))
        .await;
    served.advance(2 * MINUTE).await;
    // Only ListOperations (which never steps) is read: the worker alone moves the operation.
    for _ in 0..200 {
        let listed = served
            .operations(pb::ListOperationsRequest::default())
            .await;
        if listed.iter().any(|operation| {
            operation.id == started.id && operation.state == pb::OperationState::Succeeded as i32
        }) {
            served.host.shutdown().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the worker did not finish the operation");
}

#[tokio::test]
async fn the_sandbox_clock_moves_forward_only_within_bounds() {
    let (served, _database) = spawn_sandbox().await;
    let before = served.clock().await;
    served.advance(30 * DAY).await;
    let after = served.clock().await;
    let offset = after.offset.expect("offset");
    assert_eq!(offset.seconds, 30 * 86_400);
    assert!(after.now.expect("now").seconds - before.now.expect("now").seconds >= 30 * 86_400);
    for bad in [Duration::from_millis(10), 401 * DAY] {
        let status = served
            .operator()
            .advance_clock(pb::AdvanceClockRequest {
                by: Some(prost_types::Duration::try_from(bad).expect("duration")),
            })
            .await
            .expect_err("out of bounds");
        assert_eq!(status.code(), Code::InvalidArgument);
    }
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_handshake_aws_no_longer_shows_is_answered_from_its_last_persisted_state() {
    use tenure_provisioning::cloud::{Cloud as _, HandshakeAction};

    let (served, _database) = spawn_sandbox().await;
    let management = served.sandbox.create_organization().await.expect("org");
    let target = served.standalone_account().await;
    let invited = served
        .begin(request::invite_account(&management, &target))
        .await;
    let handshake = handshake_of(&invited);
    served.decline_handshake(&handshake.id).await;
    let describe = async |handshake_id: &str| {
        served
            .orders()
            .describe_handshake(request::describe_handshake(handshake_id))
            .await
            .map(|response| response.into_inner().handshake.expect("handshake"))
    };
    let seen = describe(&handshake.id).await.expect("describe");
    assert_eq!(seen.state, pb::HandshakeState::Declined as i32);

    // Within 30 days of its end AWS still shows it; after that, as AWS does, the sandbox does not.
    served.advance(29 * DAY).await;
    assert!(
        served
            .sandbox
            .describe_handshake(&management, &handshake.id)
            .await
            .is_ok()
    );
    served.advance(2 * DAY).await;
    let gone = served
        .sandbox
        .describe_handshake(&management, &handshake.id)
        .await
        .expect_err("AWS forgets terminal handshakes after 30 days");
    assert!(gone.is("HandshakeNotFoundException"), "{gone}");
    assert!(
        served
            .sandbox
            .list_handshakes(&management, HandshakeAction::Invite)
            .await
            .expect("list")
            .iter()
            .all(|listed| listed.id != handshake.id)
    );

    // The service answers with the state it persisted.
    assert_eq!(describe(&handshake.id).await.expect("describe"), seen);
    let unknown = describe("h-0123456789abcdef").await.expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_stack_that_fails_to_delete_is_forced_once() {
    let (served, _database) = spawn_sandbox().await;
    let management = served.sandbox.create_organization().await.expect("org");
    let deployed = served
        .run(request::deploy_bootstrap_stack(&management))
        .await;
    assert_succeeded(&deployed);
    served
        .sandbox
        .block_stack_deletion(&management, "tenure-bootstrap")
        .await
        .expect("block");

    let deleted = served
        .run(request::delete_bootstrap_stack(&management))
        .await;
    assert_succeeded(&deleted);
    let Some(pb::operation::Result::Stack(stack)) = &deleted.result else {
        panic!("no stack: {deleted:?}");
    };
    assert_eq!(stack.status, "DELETE_COMPLETE");
    // The standard deletion that failed, then the one forced deletion.
    assert_eq!(served.counting.calls("delete_stack"), 2);
    assert!(!bootstrap_deployed(&served, &management.to_string()).await);
    served.host.shutdown().await;
}

const ESSENTIALS: i32 = pb::StackSetTemplate::Essentials as i32;
const REGION: &str = "us-east-1";

/// An organization whose Essentials StackSet has an instance in its one member, in `us-east-1`;
/// returns the management account and the member.
async fn essentials_deployed_to_a_member(served: &Served) -> (String, String) {
    let (management, member) = organization_with_member(served).await;
    let set = served
        .begin(request::create_stack_set(&management, ESSENTIALS))
        .await;
    assert_eq!(set.state, pb::OperationState::Succeeded as i32);
    let created = served
        .run(request::create_stack_instances(
            &management,
            ESSENTIALS,
            &[&member],
            REGION,
        ))
        .await;
    assert_eq!(created.state, pb::OperationState::Succeeded as i32);
    (management, member)
}

/// A non-retaining deletion of the member's Essentials instances.
fn delete_member_instances(management: &str, member: &str) -> pb::DeleteStackInstancesRequest {
    request::delete_stack_instances(management, ESSENTIALS, &[member], REGION)
}

#[tokio::test]
async fn stack_instances_left_in_a_suspended_account_fail_the_deletion_for_operations() {
    let (served, _database) = spawn_sandbox().await;
    let (management, member) = essentials_deployed_to_a_member(&served).await;

    // The wrong order: the account is closed before its instances are deleted.
    let closed = served.run(request::close_account(&member)).await;
    assert_eq!(closed.state, pb::OperationState::Succeeded as i32);

    let failed = served
        .run(delete_member_instances(&management, &member))
        .await;
    assert_state(&failed, pb::OperationState::Failed);
    let error = failed.error.expect("error");
    assert_eq!(error.code, "TNR408");
    assert_eq!(error.aws_code, "SKIPPED_SUSPENDED_ACCOUNT");
    served.host.shutdown().await;
}

#[tokio::test]
async fn inoperable_stack_instances_are_deleted_again_retaining_their_stacks_once() {
    let (served, _database) = spawn_sandbox().await;
    let (management, member) = essentials_deployed_to_a_member(&served).await;
    let management_id = AwsAccountId::parse(&management).expect("management id");
    served
        .sandbox
        .make_instances_inoperable(
            &management_id,
            "tenure-essentials",
            &AwsAccountId::parse(&member).expect("member id"),
        )
        .await
        .expect("inoperable");

    let request = delete_member_instances(&management, &member);
    let deleting = served.begin(request.clone()).await;
    let deleted = settle(&served, &deleting.id, MINUTE).await;
    assert_succeeded(&deleted);
    let left = served
        .sandbox
        .list_stack_instances(&management_id, "tenure-essentials")
        .await
        .expect("instances");
    assert!(left.is_empty(), "{left:?}");
    // The standard deletion that failed, then the one retaining deletion.
    assert_eq!(served.counting.calls("delete_stack_instances"), 2);

    let calls_before = served.counting.total();
    let replay = served.begin(request).await;
    assert_eq!(replay.id, deleting.id);
    assert_eq!(replay.state, pb::OperationState::Succeeded as i32);
    assert_eq!(
        served.counting.total(),
        calls_before,
        "a replay reaches AWS"
    );
    served.host.shutdown().await;
}
