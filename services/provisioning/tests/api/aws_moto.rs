//! The engine on the `aws` backend against moto_server: the real gRPC API, the real SDK and an emulated
//! AWS, with every request counted at the HTTP boundary, so that an idempotent replay is shown to send
//! nothing at all. moto finishes asynchronous work at once and lacks handshakes and billing transfers
//! (aws-testing.md); those run on the sandbox in `operations` and on aws-smithy-mocks in the cloud crate.

use tenure_domain::AwsAccountId;
use tenure_proto::provisioning::v1 as pb;
use tenure_provisioning::cloud::Cloud as _;
use tonic::Code;

use crate::support::{OperationAnswer as _, ServedAws, error_info, key};

const ESSENTIALS: &str = "tenure-essentials";
const BOOTSTRAP: &str = "tenure-bootstrap";

fn account(id: &str) -> AwsAccountId {
    AwsAccountId::parse(id).expect("a 12-digit id")
}

/// Sends `call` again (the same key and request) and checks that the stored operation comes back,
/// equal to `first`, without one request crossing the HTTP boundary.
async fn assert_replay_is_silent<F>(served: &ServedAws, first: &pb::Operation, call: F)
where
    F: AsyncFnOnce() -> pb::Operation,
{
    let before = served.injector.total_attempts();
    let replay = call().await;
    assert_eq!(&replay, first, "a replay returns the first result");
    assert_eq!(
        served.injector.total_attempts(),
        before,
        "a replay sent a request to AWS"
    );
}

fn succeeded(operation: &pb::Operation) {
    assert_eq!(
        operation.state,
        pb::OperationState::Succeeded as i32,
        "{operation:?}"
    );
}

#[tokio::test]
async fn accounts_are_created_closed_and_removed_and_replays_send_nothing() {
    let served = ServedAws::start(3).await;
    let management = served.organization().await;
    let create = pb::CreateAccountRequest {
        idempotency_key: key(),
        management_account_id: management.to_string(),
        email: "moto.created@example.com".to_owned(),
        account_name: "Created on moto".to_owned(),
    };
    let started = served
        .orders()
        .create_account(create.clone())
        .await
        .operation();
    assert!(served.injector.attempts("CreateAccount") >= 1);
    let created = served.settle(&started.id).await;
    succeeded(&created);
    let member = account(&created.aws_account_id);
    let Some(pb::operation::Result::CreateAccount(result)) = &created.result else {
        panic!("no create-account result: {created:?}");
    };
    assert_eq!(result.status, "SUCCEEDED");
    assert_eq!(result.aws_account_id, member.as_str());
    let listed = served
        .inspector
        .list_accounts(&management)
        .await
        .expect("list accounts");
    assert_eq!(
        listed
            .iter()
            .filter(|described| described.email == create.email)
            .map(|described| &described.id)
            .collect::<Vec<_>>(),
        [&member],
        "moto holds exactly the created account"
    );
    assert_eq!(
        served.injector.attempts("CreateAccount"),
        1,
        "one CreateAccount request"
    );
    assert_replay_is_silent(&served, &created, async || {
        served
            .orders()
            .create_account(create.clone())
            .await
            .operation()
    })
    .await;

    // CloseAccount: SUCCEEDED once AWS shows the account SUSPENDED.
    let close = pb::CloseAccountRequest {
        idempotency_key: key(),
        aws_account_id: member.to_string(),
    };
    let closing = served
        .orders()
        .close_account(close.clone())
        .await
        .operation();
    let closed = served.settle(&closing.id).await;
    succeeded(&closed);
    let described = served
        .orders()
        .describe_account(pb::DescribeAccountRequest {
            aws_account_id: member.to_string(),
        })
        .await
        .expect("describe")
        .into_inner()
        .account
        .expect("account");
    assert_eq!(described.state, pb::AwsAccountState::Suspended as i32);
    assert_eq!(served.injector.attempts("CloseAccount"), 1);
    assert_replay_is_silent(&served, &closed, async || {
        served
            .orders()
            .close_account(close.clone())
            .await
            .operation()
    })
    .await;

    // RemoveAccount on another member: it leaves the organization.
    let other = served
        .create_account(&management, "moto.removed@example.com")
        .await;
    let remove = pb::RemoveAccountRequest {
        idempotency_key: key(),
        aws_account_id: other.clone(),
    };
    let removing = served
        .orders()
        .remove_account(remove.clone())
        .await
        .operation();
    let removed = served.settle(&removing.id).await;
    succeeded(&removed);
    let remaining = served
        .inspector
        .list_accounts(&management)
        .await
        .expect("list accounts");
    assert!(
        remaining.iter().all(|listed| listed.id.as_str() != other),
        "the removed account is still a member: {remaining:?}"
    );
    assert_eq!(served.injector.attempts("RemoveAccountFromOrganization"), 1);
    assert_replay_is_silent(&served, &removed, async || {
        served
            .orders()
            .remove_account(remove.clone())
            .await
            .operation()
    })
    .await;
    served.host.shutdown().await;
}

#[tokio::test]
async fn stacks_and_stack_sets_follow_the_offboarding_order_on_moto() {
    let served = ServedAws::start(3).await;
    let management = served.organization().await;
    let member = served
        .create_account(&management, "moto.stackset@example.com")
        .await;
    let mut orders = served.orders();

    let deploy = pb::DeployBootstrapStackRequest {
        idempotency_key: key(),
        aws_account_id: management.to_string(),
    };
    let deploying = orders
        .deploy_bootstrap_stack(deploy.clone())
        .await
        .operation();
    let deployed = served.settle(&deploying.id).await;
    succeeded(&deployed);
    assert_eq!(
        served
            .admin
            .live_stack_names(&management)
            .await
            .expect("stacks"),
        [BOOTSTRAP]
    );
    assert_replay_is_silent(&served, &deployed, async || {
        served
            .orders()
            .deploy_bootstrap_stack(deploy.clone())
            .await
            .operation()
    })
    .await;

    let template = pb::StackSetTemplate::Essentials as i32;
    let create_set = pb::CreateStackSetRequest {
        idempotency_key: key(),
        management_account_id: management.to_string(),
        template,
    };
    let creating_set = orders
        .create_stack_set(create_set.clone())
        .await
        .operation();
    let created_set = served.settle(&creating_set.id).await;
    succeeded(&created_set);
    assert_replay_is_silent(&served, &created_set, async || {
        served
            .orders()
            .create_stack_set(create_set.clone())
            .await
            .operation()
    })
    .await;

    let create_instances = pb::CreateStackInstancesRequest {
        idempotency_key: key(),
        management_account_id: management.to_string(),
        template,
        aws_account_ids: vec![member.clone()],
        regions: vec!["us-east-1".to_owned()],
    };
    let creating = orders
        .create_stack_instances(create_instances.clone())
        .await
        .operation();
    let created = served.settle(&creating.id).await;
    succeeded(&created);
    let instances = served
        .inspector
        .list_stack_instances(&management, ESSENTIALS)
        .await
        .expect("instances");
    assert_eq!(
        instances
            .iter()
            .map(|instance| (instance.account.as_str(), instance.region.as_str()))
            .collect::<Vec<_>>(),
        [(member.as_str(), "us-east-1")]
    );
    assert_replay_is_silent(&served, &created, async || {
        served
            .orders()
            .create_stack_instances(create_instances.clone())
            .await
            .operation()
    })
    .await;

    // Offboarding order: the StackSet cannot go while it has instances, and AWS says so verbatim.
    let refused = orders
        .delete_stack_set(pb::DeleteStackSetRequest {
            idempotency_key: key(),
            management_account_id: management.to_string(),
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

    let delete_instances = pb::DeleteStackInstancesRequest {
        idempotency_key: key(),
        management_account_id: management.to_string(),
        template,
        aws_account_ids: vec![member],
        regions: vec!["us-east-1".to_owned()],
        retain_stacks: false,
    };
    let deleting = orders
        .delete_stack_instances(delete_instances.clone())
        .await
        .operation();
    let deleted = served.settle(&deleting.id).await;
    succeeded(&deleted);
    assert_eq!(
        served
            .inspector
            .list_stack_instances(&management, ESSENTIALS)
            .await
            .expect("instances"),
        []
    );
    assert_replay_is_silent(&served, &deleted, async || {
        served
            .orders()
            .delete_stack_instances(delete_instances.clone())
            .await
            .operation()
    })
    .await;

    let delete_set = pb::DeleteStackSetRequest {
        idempotency_key: key(),
        management_account_id: management.to_string(),
        template,
    };
    let deleting_set = orders
        .delete_stack_set(delete_set.clone())
        .await
        .operation();
    let deleted_set = served.settle(&deleting_set.id).await;
    succeeded(&deleted_set);
    let gone = served
        .inspector
        .describe_stack_set(&management, ESSENTIALS)
        .await;
    assert!(
        matches!(&gone, Ok(None))
            || matches!(&gone, Ok(Some(set)) if set.status == tenure_provisioning_cloud::StackSetStatus::Deleted),
        "the StackSet is still there: {gone:?}"
    );
    assert_replay_is_silent(&served, &deleted_set, async || {
        served
            .orders()
            .delete_stack_set(delete_set.clone())
            .await
            .operation()
    })
    .await;

    let delete_stack = pb::DeleteBootstrapStackRequest {
        idempotency_key: key(),
        aws_account_id: management.to_string(),
    };
    let removing = orders
        .delete_bootstrap_stack(delete_stack.clone())
        .await
        .operation();
    let removed = served.settle(&removing.id).await;
    succeeded(&removed);
    assert_eq!(
        served
            .admin
            .live_stack_names(&management)
            .await
            .expect("stacks"),
        Vec::<String>::new()
    );
    assert_replay_is_silent(&served, &removed, async || {
        served
            .orders()
            .delete_bootstrap_stack(delete_stack.clone())
            .await
            .operation()
    })
    .await;
    served.host.shutdown().await;
}
