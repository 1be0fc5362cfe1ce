//! ProvisioningService and SandboxService over the sandbox: every operation kind end to end, validation,
//! idempotent replays counted at the backend boundary, and the error mapping of the service comment.

use std::time::Duration;

use tenure_domain::AwsAccountId;
use tenure_proto::provisioning::v1 as pb;
use tenure_provisioning::cloud::Cloud as _;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::support::{
    OperationAnswer as _, Served, create_account, error_info, key, organization_with_member,
    serve_sandbox, settle, spawn_sandbox, test_settings,
};

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

#[tokio::test]
async fn create_account_runs_to_success_and_a_replay_calls_aws_no_more() {
    let (served, _database) = spawn_sandbox().await;
    let management = served
        .sandbox
        .create_organization()
        .await
        .expect("org")
        .to_string();
    let request = pb::CreateAccountRequest {
        idempotency_key: key(),
        management_account_id: management.clone(),
        email: "first.account@example.com".to_owned(),
        account_name: "First".to_owned(),
    };
    let first = served
        .orders()
        .create_account(request.clone())
        .await
        .operation();
    assert_eq!(first.state, pb::OperationState::InProgress as i32);
    assert_eq!(first.kind, pb::OperationKind::CreateAccount as i32);
    let Some(pb::operation::Result::CreateAccount(created)) = &first.result else {
        panic!("no create-account result: {first:?}");
    };
    assert!(created.request_id.starts_with("car-"), "{created:?}");
    assert_eq!(created.status, "IN_PROGRESS");
    assert_eq!(served.counting.calls("create_account"), 1);

    let done = settle(&served, &first.id, MINUTE).await;
    assert_eq!(done.state, pb::OperationState::Succeeded as i32, "{done:?}");
    assert_eq!(done.aws_account_id.len(), 12);

    // The same key and request: the stored operation, without another CreateAccount.
    let calls_before = served.counting.total();
    let replay = served
        .orders()
        .create_account(request.clone())
        .await
        .operation();
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
        .orders()
        .create_account(pb::CreateAccountRequest {
            account_name: "Other".to_owned(),
            ..request
        })
        .await
        .expect_err("key reused");
    assert_eq!(conflicting.code(), Code::FailedPrecondition);
    assert_eq!(error_info(&conflicting).reason, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(served.counting.calls("create_account"), 1);

    // The account is now known to belong to the organization: DescribeAccount needs no default.
    let described = served
        .orders()
        .describe_account(pb::DescribeAccountRequest {
            aws_account_id: done.aws_account_id.clone(),
        })
        .await
        .expect("describe")
        .into_inner()
        .account
        .expect("account");
    assert_eq!(described.state, pb::AwsAccountState::Active as i32);
    assert_eq!(described.joined_method, "CREATED");
    served.host.shutdown().await;
}

#[tokio::test]
async fn bad_requests_list_every_violation_and_store_nothing() {
    let (served, _database) = spawn_sandbox().await;
    let status = served
        .orders()
        .create_account(pb::CreateAccountRequest {
            idempotency_key: "short".to_owned(),
            management_account_id: " 012345678901".to_owned(),
            email: "not-an-email".to_owned(),
            account_name: String::new(),
        })
        .await
        .expect_err("invalid");
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    let fields: Vec<_> = details
        .bad_request()
        .expect("bad request")
        .field_violations
        .iter()
        .map(|violation| violation.field.clone())
        .collect();
    assert_eq!(
        fields,
        [
            "idempotency_key",
            "management_account_id",
            "email",
            "account_name"
        ]
    );
    let stack_instances = served
        .orders()
        .create_stack_instances(pb::CreateStackInstancesRequest {
            idempotency_key: key(),
            management_account_id: "012345678901".to_owned(),
            template: pb::StackSetTemplate::Unspecified as i32,
            aws_account_ids: vec!["111111111111".to_owned(), "111111111111".to_owned()],
            regions: vec!["moon-1".to_owned()],
        })
        .await
        .expect_err("invalid");
    let details = stack_instances.get_error_details();
    let fields: Vec<_> = details
        .bad_request()
        .expect("bad request")
        .field_violations
        .iter()
        .map(|violation| violation.field.clone())
        .collect();
    assert_eq!(fields, ["template", "aws_account_ids[1]", "regions[0]"]);
    let listed = served
        .orders()
        .list_operations(pb::ListOperationsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(
        listed.operations.is_empty(),
        "a bad request stored something"
    );
    assert_eq!(served.counting.total(), 0, "a bad request reached AWS");
    served.host.shutdown().await;
}

#[tokio::test]
async fn an_email_already_in_the_organization_asks_the_customer_for_another() {
    let (served, _database) = spawn_sandbox().await;
    let (management, _member) = organization_with_member(&served).await;
    let taken = served
        .orders()
        .list_operations(pb::ListOperationsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .operations;
    assert_eq!(taken.len(), 1);
    // The member's email is taken; reuse it.
    let member_email = served.sandbox.clone();
    let accounts = tenure_provisioning::cloud::Cloud::list_accounts(
        &member_email,
        &tenure_domain::AwsAccountId::parse(&management).expect("id"),
    )
    .await
    .expect("accounts");
    let email = accounts
        .iter()
        .find(|account| account.id.as_str() != management)
        .map(|account| account.email.clone())
        .expect("member");
    let request = pb::CreateAccountRequest {
        idempotency_key: key(),
        management_account_id: management,
        email,
        account_name: "Duplicate".to_owned(),
    };
    let started = served
        .orders()
        .create_account(request.clone())
        .await
        .operation();
    let ended = settle(&served, &started.id, MINUTE).await;
    assert_eq!(
        ended.state,
        pb::OperationState::CustomerActionRequired as i32
    );
    let error = ended.error.expect("error");
    assert_eq!(error.code, "TNR101");
    assert_eq!(error.aws_code, "EMAIL_ALREADY_EXISTS");
    let replay = served
        .orders()
        .create_account(request)
        .await
        .expect_err("customer action");
    assert_eq!(replay.code(), Code::FailedPrecondition);
    let info = error_info(&replay);
    assert_eq!(info.reason, "CUSTOMER_ACTION_REQUIRED");
    assert_eq!(
        info.metadata.get("code").map(String::as_str),
        Some("TNR101")
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_new_account_waits_out_its_removal_period_then_leaves() {
    let (served, _database) = spawn_sandbox().await;
    let (_management, member) = organization_with_member(&served).await;
    let status = served
        .orders()
        .remove_account(pb::RemoveAccountRequest {
            idempotency_key: key(),
            aws_account_id: member.clone(),
        })
        .await
        .expect_err("waiting period");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(error_info(&status).reason, "TNR402");
    let delay = status
        .get_error_details()
        .retry_info()
        .and_then(|info| info.retry_delay)
        .expect("retry info");
    assert!(delay > Duration::from_secs(3 * 86_400), "{delay:?}");
    let deferred = served
        .orders()
        .list_operations(pb::ListOperationsRequest {
            state: pb::OperationState::Deferred as i32,
            ..pb::ListOperationsRequest::default()
        })
        .await
        .expect("list")
        .into_inner()
        .operations;
    assert_eq!(deferred.len(), 1);
    served.advance(4 * DAY + MINUTE).await;
    let done = settle(&served, &deferred[0].id, MINUTE).await;
    assert_eq!(done.state, pb::OperationState::Succeeded as i32, "{done:?}");
    let Some(pb::operation::Result::Account(account)) = done.result else {
        panic!("no account result");
    };
    assert_eq!(account.state, pb::AwsAccountState::NotInOrganization as i32);
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

    let closing = served
        .orders()
        .close_account(pb::CloseAccountRequest {
            idempotency_key: key(),
            aws_account_id: first.clone(),
        })
        .await
        .operation();
    assert_eq!(closing.state, pb::OperationState::InProgress as i32);
    let closed = settle(&served, &closing.id, MINUTE).await;
    assert_eq!(closed.state, pb::OperationState::Succeeded as i32);
    let Some(pb::operation::Result::Account(account)) = closed.result else {
        panic!("no account result");
    };
    assert_eq!(account.state, pb::AwsAccountState::Suspended as i32);

    let status = served
        .orders()
        .close_account(pb::CloseAccountRequest {
            idempotency_key: key(),
            aws_account_id: second,
        })
        .await
        .expect_err("quota");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(error_info(&status).reason, "TNR403");
    assert!(status.get_error_details().retry_info().is_some());

    // Closing the closed account again is done, not an error (AccountAlreadyClosedException).
    let again = served
        .orders()
        .close_account(pb::CloseAccountRequest {
            idempotency_key: key(),
            aws_account_id: first,
        })
        .await
        .operation();
    assert_eq!(again.state, pb::OperationState::Succeeded as i32);
    served.host.shutdown().await;
}

#[tokio::test]
async fn invitations_expire_by_the_clock_or_are_declined_and_can_be_cancelled() {
    let (served, _database) = spawn_sandbox().await;
    let management = served
        .sandbox
        .create_organization()
        .await
        .expect("org")
        .to_string();
    let invite = |target: String| pb::InviteAccountRequest {
        idempotency_key: key(),
        management_account_id: management.clone(),
        target_account_id: target,
        order_id: uuid::Uuid::new_v4().to_string(),
    };
    let first_target = served
        .sandbox
        .create_standalone_account()
        .await
        .expect("a")
        .to_string();
    let invited = served
        .orders()
        .invite_account(invite(first_target.clone()))
        .await
        .operation();
    assert_eq!(invited.state, pb::OperationState::Succeeded as i32);
    let Some(pb::operation::Result::Handshake(handshake)) = invited.result else {
        panic!("no handshake");
    };
    assert!(handshake.id.starts_with("h-"));
    assert_eq!(handshake.state, pb::HandshakeState::Requested as i32);

    served.advance(16 * DAY).await;
    let expired = served
        .orders()
        .describe_handshake(pb::DescribeHandshakeRequest {
            handshake_id: handshake.id.clone(),
        })
        .await
        .expect("describe")
        .into_inner()
        .handshake
        .expect("handshake");
    assert_eq!(expired.state, pb::HandshakeState::Expired as i32);

    let second_target = served
        .sandbox
        .create_standalone_account()
        .await
        .expect("b")
        .to_string();
    let second = served
        .orders()
        .invite_account(invite(second_target.clone()))
        .await
        .operation();
    let Some(pb::operation::Result::Handshake(second_handshake)) = second.result else {
        panic!("no handshake");
    };
    let declined = served
        .operator()
        .decline_handshake(pb::DeclineHandshakeRequest {
            handshake_id: second_handshake.id.clone(),
        })
        .await
        .expect("decline")
        .into_inner()
        .handshake
        .expect("handshake");
    assert_eq!(declined.state, pb::HandshakeState::Declined as i32);
    // Cancelling a declined invitation is done (the invitation can no longer be accepted).
    let cancelled = served
        .orders()
        .cancel_handshake(pb::CancelHandshakeRequest {
            idempotency_key: key(),
            handshake_id: second_handshake.id.clone(),
        })
        .await
        .operation();
    assert_eq!(cancelled.state, pb::OperationState::Succeeded as i32);

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
    let third_target = served
        .sandbox
        .create_standalone_account()
        .await
        .expect("c")
        .to_string();
    let third = served
        .orders()
        .invite_account(invite(third_target.clone()))
        .await
        .operation();
    let Some(pb::operation::Result::Handshake(third_handshake)) = third.result else {
        panic!("no handshake");
    };
    served
        .operator()
        .accept_handshake(pb::AcceptHandshakeRequest {
            handshake_id: third_handshake.id,
        })
        .await
        .expect("accept");
    let joined = served
        .orders()
        .describe_account(pb::DescribeAccountRequest {
            aws_account_id: third_target,
        })
        .await
        .expect("describe")
        .into_inner()
        .account
        .expect("account");
    assert_eq!(joined.state, pb::AwsAccountState::Active as i32);
    assert_eq!(joined.joined_method, "INVITED");
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_billing_transfer_starts_on_a_first_and_ends_at_a_month_end() {
    let database = tenure_testkit::TestDatabase::create().await.expect("db");
    let mut settings = test_settings(&database);
    let management = "210987654321";
    settings.default_management_account_id = Some(management.to_owned());
    let served = serve_sandbox(&settings, |counting| counting).await;
    let source = served
        .sandbox
        .create_standalone_account()
        .await
        .expect("source")
        .to_string();
    let invited = served
        .orders()
        .invite_billing_transfer(pb::InviteBillingTransferRequest {
            idempotency_key: key(),
            source_management_account_id: source.clone(),
            source_name: "Tenant Ltd".to_owned(),
            order_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .operation();
    assert_eq!(
        invited.state,
        pb::OperationState::Succeeded as i32,
        "{invited:?}"
    );
    let Some(pb::operation::Result::BillingTransfer(transfer)) = invited.result else {
        panic!("no transfer");
    };
    assert!(transfer.id.starts_with("rt-"));
    let start = transfer.start_at.expect("start");
    let accept_by = transfer.accept_by.expect("accept by");
    assert_eq!(start.seconds % 86_400, 0, "the start is at midnight");
    assert_eq!(start.seconds - accept_by.seconds, 86_400);
    let now = served
        .operator()
        .get_clock(pb::GetClockRequest {})
        .await
        .expect("clock")
        .into_inner()
        .now
        .expect("now");
    assert!(
        accept_by.seconds - now.seconds >= 72 * 3_600,
        "the window is left"
    );

    served
        .operator()
        .accept_handshake(pb::AcceptHandshakeRequest {
            handshake_id: transfer.handshake_id.clone(),
        })
        .await
        .expect("accept");
    let described = served
        .orders()
        .describe_billing_transfer(pb::DescribeBillingTransferRequest {
            transfer_id: transfer.id.clone(),
        })
        .await
        .expect("describe")
        .into_inner()
        .billing_transfer
        .expect("transfer");
    assert_eq!(described.status, pb::BillingTransferStatus::Accepted as i32);

    // Once the transfer has started it runs to the end of the current month (one ended before its
    // start is withdrawn at its start: billing_end.rs).
    let ahead = u64::try_from(start.seconds - now.seconds).expect("the start lies ahead");
    served.advance(Duration::from_secs(ahead) + DAY).await;
    let ended = served
        .orders()
        .end_billing_transfer(pb::EndBillingTransferRequest {
            idempotency_key: key(),
            transfer_id: transfer.id.clone(),
        })
        .await
        .operation();
    assert_eq!(
        ended.state,
        pb::OperationState::Succeeded as i32,
        "{ended:?}"
    );
    let Some(pb::operation::Result::BillingTransfer(ended)) = ended.result else {
        panic!("no transfer");
    };
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

#[tokio::test]
async fn stacks_and_stack_sets_deploy_and_are_removed_in_the_offboarding_order() {
    let (served, _database) = spawn_sandbox().await;
    let (management, member) = organization_with_member(&served).await;
    let mut orders = served.orders();
    let deploying = orders
        .deploy_bootstrap_stack(pb::DeployBootstrapStackRequest {
            idempotency_key: key(),
            aws_account_id: management.clone(),
        })
        .await
        .operation();
    let deployed = settle(&served, &deploying.id, MINUTE).await;
    assert_eq!(
        deployed.state,
        pb::OperationState::Succeeded as i32,
        "{deployed:?}"
    );
    let checked = orders
        .check_bootstrap_role(pb::CheckBootstrapRoleRequest {
            aws_account_id: management.clone(),
        })
        .await
        .expect("check")
        .into_inner();
    assert!(checked.deployed);

    let template = pb::StackSetTemplate::Essentials as i32;
    let set = orders
        .create_stack_set(pb::CreateStackSetRequest {
            idempotency_key: key(),
            management_account_id: management.clone(),
            template,
        })
        .await
        .operation();
    assert_eq!(set.state, pb::OperationState::Succeeded as i32, "{set:?}");
    let instances = orders
        .create_stack_instances(pb::CreateStackInstancesRequest {
            idempotency_key: key(),
            management_account_id: management.clone(),
            template,
            aws_account_ids: vec![member.clone()],
            regions: vec!["us-east-1".to_owned()],
        })
        .await
        .operation();
    let created = settle(&served, &instances.id, MINUTE).await;
    assert_eq!(
        created.state,
        pb::OperationState::Succeeded as i32,
        "{created:?}"
    );

    // A StackSet with instances cannot go: AWS's refusal travels verbatim.
    let refused = orders
        .delete_stack_set(pb::DeleteStackSetRequest {
            idempotency_key: key(),
            management_account_id: management.clone(),
            template,
        })
        .await
        .expect_err("not empty");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let info = error_info(&refused);
    assert_eq!(info.reason, "AWS_REJECTED");
    assert_eq!(
        info.metadata.get("aws_code").map(String::as_str),
        Some("StackSetNotEmptyException")
    );

    let removing = orders
        .delete_stack_instances(pb::DeleteStackInstancesRequest {
            idempotency_key: key(),
            management_account_id: management.clone(),
            template,
            aws_account_ids: vec![member],
            regions: vec!["us-east-1".to_owned()],
            retain_stacks: false,
        })
        .await
        .operation();
    let removed = settle(&served, &removing.id, MINUTE).await;
    assert_eq!(removed.state, pb::OperationState::Succeeded as i32);
    let deleted_set = orders
        .delete_stack_set(pb::DeleteStackSetRequest {
            idempotency_key: key(),
            management_account_id: management.clone(),
            template,
        })
        .await
        .operation();
    assert_eq!(deleted_set.state, pb::OperationState::Succeeded as i32);
    let deleting = orders
        .delete_bootstrap_stack(pb::DeleteBootstrapStackRequest {
            idempotency_key: key(),
            aws_account_id: management.clone(),
        })
        .await
        .operation();
    let gone = settle(&served, &deleting.id, MINUTE).await;
    assert_eq!(gone.state, pb::OperationState::Succeeded as i32, "{gone:?}");
    let checked = orders
        .check_bootstrap_role(pb::CheckBootstrapRoleRequest {
            aws_account_id: management,
        })
        .await
        .expect("check")
        .into_inner();
    assert!(!checked.deployed);
    served.host.shutdown().await;
}

#[tokio::test]
async fn the_worker_finishes_operations_without_a_caller() {
    let (served, _database) = spawn_sandbox().await;
    let management = served
        .sandbox
        .create_organization()
        .await
        .expect("org")
        .to_string();
    let started = served
        .orders()
        .create_account(pb::CreateAccountRequest {
            idempotency_key: key(),
            management_account_id: management,
            email: "worker.made@example.com".to_owned(),
            account_name: "Worker".to_owned(),
        })
        .await
        .operation();
    served.advance(2 * MINUTE).await;
    // Only ListOperations (which never steps) is read: the worker alone moves the operation.
    for _ in 0..200 {
        let listed = served
            .orders()
            .list_operations(pb::ListOperationsRequest::default())
            .await
            .expect("list")
            .into_inner()
            .operations;
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
    let before = served
        .operator()
        .get_clock(pb::GetClockRequest {})
        .await
        .expect("clock")
        .into_inner();
    served.advance(30 * DAY).await;
    let after = served
        .operator()
        .get_clock(pb::GetClockRequest {})
        .await
        .expect("clock")
        .into_inner();
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
    let target = served
        .sandbox
        .create_standalone_account()
        .await
        .expect("target");
    let invited = served
        .orders()
        .invite_account(pb::InviteAccountRequest {
            idempotency_key: key(),
            management_account_id: management.to_string(),
            target_account_id: target.to_string(),
            order_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .operation();
    let Some(pb::operation::Result::Handshake(handshake)) = invited.result else {
        panic!("no handshake: {invited:?}");
    };
    served
        .operator()
        .decline_handshake(pb::DeclineHandshakeRequest {
            handshake_id: handshake.id.clone(),
        })
        .await
        .expect("decline");
    let describe = async || {
        served
            .orders()
            .describe_handshake(pb::DescribeHandshakeRequest {
                handshake_id: handshake.id.clone(),
            })
            .await
            .map(|response| response.into_inner().handshake.expect("handshake"))
    };
    let seen = describe().await.expect("describe");
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
    assert_eq!(describe().await.expect("describe"), seen);
    let unknown = served
        .orders()
        .describe_handshake(pb::DescribeHandshakeRequest {
            handshake_id: "h-0123456789abcdef".to_owned(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_stack_that_fails_to_delete_is_forced_once() {
    let (served, _database) = spawn_sandbox().await;
    let management = served.sandbox.create_organization().await.expect("org");
    let mut orders = served.orders();
    let deploying = orders
        .deploy_bootstrap_stack(pb::DeployBootstrapStackRequest {
            idempotency_key: key(),
            aws_account_id: management.to_string(),
        })
        .await
        .operation();
    let deployed = settle(&served, &deploying.id, MINUTE).await;
    assert_eq!(deployed.state, pb::OperationState::Succeeded as i32);
    served
        .sandbox
        .block_stack_deletion(&management, "tenure-bootstrap")
        .await
        .expect("block");

    let deleting = orders
        .delete_bootstrap_stack(pb::DeleteBootstrapStackRequest {
            idempotency_key: key(),
            aws_account_id: management.to_string(),
        })
        .await
        .operation();
    let deleted = settle(&served, &deleting.id, MINUTE).await;
    assert_eq!(
        deleted.state,
        pb::OperationState::Succeeded as i32,
        "{deleted:?}"
    );
    let Some(pb::operation::Result::Stack(stack)) = &deleted.result else {
        panic!("no stack: {deleted:?}");
    };
    assert_eq!(stack.status, "DELETE_COMPLETE");
    // The standard deletion that failed, then the one forced deletion.
    assert_eq!(served.counting.calls("delete_stack"), 2);
    let checked = orders
        .check_bootstrap_role(pb::CheckBootstrapRoleRequest {
            aws_account_id: management.to_string(),
        })
        .await
        .expect("check")
        .into_inner();
    assert!(!checked.deployed);
    served.host.shutdown().await;
}

const ESSENTIALS: i32 = pb::StackSetTemplate::Essentials as i32;
const REGION: &str = "us-east-1";

/// An organization whose Essentials StackSet has an instance in its one member, in `us-east-1`;
/// returns the management account and the member.
async fn essentials_deployed_to_a_member(served: &Served) -> (String, String) {
    let (management, member) = organization_with_member(served).await;
    let mut orders = served.orders();
    let set = orders
        .create_stack_set(pb::CreateStackSetRequest {
            idempotency_key: key(),
            management_account_id: management.clone(),
            template: ESSENTIALS,
        })
        .await
        .operation();
    assert_eq!(set.state, pb::OperationState::Succeeded as i32);
    let creating = orders
        .create_stack_instances(pb::CreateStackInstancesRequest {
            idempotency_key: key(),
            management_account_id: management.clone(),
            template: ESSENTIALS,
            aws_account_ids: vec![member.clone()],
            regions: vec![REGION.to_owned()],
        })
        .await
        .operation();
    let created = settle(served, &creating.id, MINUTE).await;
    assert_eq!(created.state, pb::OperationState::Succeeded as i32);
    (management, member)
}

/// A non-retaining deletion of the member's Essentials instances.
fn delete_member_instances(management: &str, member: &str) -> pb::DeleteStackInstancesRequest {
    pb::DeleteStackInstancesRequest {
        idempotency_key: key(),
        management_account_id: management.to_owned(),
        template: ESSENTIALS,
        aws_account_ids: vec![member.to_owned()],
        regions: vec![REGION.to_owned()],
        retain_stacks: false,
    }
}

#[tokio::test]
async fn stack_instances_left_in_a_suspended_account_fail_the_deletion_for_operations() {
    let (served, _database) = spawn_sandbox().await;
    let (management, member) = essentials_deployed_to_a_member(&served).await;
    let mut orders = served.orders();

    // The wrong order: the account is closed before its instances are deleted.
    let closing = orders
        .close_account(pb::CloseAccountRequest {
            idempotency_key: key(),
            aws_account_id: member.clone(),
        })
        .await
        .operation();
    let closed = settle(&served, &closing.id, MINUTE).await;
    assert_eq!(closed.state, pb::OperationState::Succeeded as i32);

    let deleting = orders
        .delete_stack_instances(delete_member_instances(&management, &member))
        .await
        .operation();
    let failed = settle(&served, &deleting.id, MINUTE).await;
    assert_eq!(
        failed.state,
        pb::OperationState::Failed as i32,
        "{failed:?}"
    );
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
    let deleting = served
        .orders()
        .delete_stack_instances(request.clone())
        .await
        .operation();
    let deleted = settle(&served, &deleting.id, MINUTE).await;
    assert_eq!(
        deleted.state,
        pb::OperationState::Succeeded as i32,
        "{deleted:?}"
    );
    let left = served
        .sandbox
        .list_stack_instances(&management_id, "tenure-essentials")
        .await
        .expect("instances");
    assert!(left.is_empty(), "{left:?}");
    // The standard deletion that failed, then the one retaining deletion.
    assert_eq!(served.counting.calls("delete_stack_instances"), 2);

    let calls_before = served.counting.total();
    let replay = served
        .orders()
        .delete_stack_instances(request)
        .await
        .operation();
    assert_eq!(replay.id, deleting.id);
    assert_eq!(replay.state, pb::OperationState::Succeeded as i32);
    assert_eq!(
        served.counting.total(),
        calls_before,
        "a replay reaches AWS"
    );
    served.host.shutdown().await;
}
