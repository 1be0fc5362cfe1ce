//! The engine on the `aws` backend against moto_server: the real gRPC API, the real SDK and an emulated
//! AWS, with every request counted at the HTTP boundary, so that an idempotent replay is shown to send
//! nothing at all. moto finishes asynchronous work at once and lacks handshakes and billing transfers
//! (aws-testing.md); those run on the sandbox in `operations` and on aws-smithy-mocks in the cloud crate.

use tenure_domain::AwsAccountId;
use tenure_proto::provisioning::v1 as pb;
use tenure_provisioning::cloud::Cloud as _;

use crate::support::{Mutation, ServedAws, assert_aws_rejected, assert_succeeded, request};

const ESSENTIALS: &str = "tenure-essentials";
const BOOTSTRAP: &str = "tenure-bootstrap";

fn account(id: &str) -> AwsAccountId {
    AwsAccountId::parse(id).expect("a 12-digit id")
}

/// Sends `request` again (the same key and request) and checks that the stored operation comes back,
/// equal to `first`, without one request crossing the HTTP boundary.
async fn assert_replay_is_silent(
    served: &ServedAws,
    first: &pb::Operation,
    request: impl Mutation,
) {
    let before = served.injector.total_attempts();
    let replay = served.begin(request).await;
    assert_eq!(&replay, first, "a replay returns the first result");
    assert_eq!(
        served.injector.total_attempts(),
        before,
        "a replay sent a request to AWS"
    );
}

/// Sends `request` and waits for its operation, which must succeed.
async fn succeeds(served: &ServedAws, request: impl Mutation) -> pb::Operation {
    let done = served.run(request).await;
    assert_succeeded(&done);
    done
}

#[tokio::test]
async fn accounts_are_created_closed_and_removed_and_replays_send_nothing() {
    let served = ServedAws::start(3).await;
    let management = served.organization().await;
    let create =
        request::create_account(&management, "moto.created@example.com", "Created on moto");
    let started = served.begin(create.clone()).await;
    assert!(served.injector.attempts("CreateAccount") >= 1);
    let created = served.settle(&started.id).await;
    assert_succeeded(&created);
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
    assert_replay_is_silent(&served, &created, create.clone()).await;

    // CloseAccount: SUCCEEDED once AWS shows the account SUSPENDED.
    let close = request::close_account(&member);
    let closed = succeeds(&served, close.clone()).await;
    let described = served
        .orders()
        .describe_account(request::describe_account(&member))
        .await
        .expect("describe")
        .into_inner()
        .account
        .expect("account");
    assert_eq!(described.state, pb::AwsAccountState::Suspended as i32);
    assert_eq!(served.injector.attempts("CloseAccount"), 1);
    assert_replay_is_silent(&served, &closed, close.clone()).await;

    // RemoveAccount on another member: it leaves the organization.
    let other = served
        .create_account(&management, "moto.removed@example.com")
        .await;
    let remove = request::remove_account(&other);
    let removed = succeeds(&served, remove.clone()).await;
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
    assert_replay_is_silent(&served, &removed, remove.clone()).await;
    served.host.shutdown().await;
}

#[tokio::test]
async fn stacks_and_stack_sets_follow_the_offboarding_order_on_moto() {
    let served = ServedAws::start(3).await;
    let management = served.organization().await;
    let member = served
        .create_account(&management, "moto.stackset@example.com")
        .await;

    let deploy = request::deploy_bootstrap_stack(&management);
    let deployed = succeeds(&served, deploy.clone()).await;
    assert_eq!(served.live_stacks(&management).await, [BOOTSTRAP]);
    assert_replay_is_silent(&served, &deployed, deploy.clone()).await;

    let template = pb::StackSetTemplate::Essentials as i32;
    let create_set = request::create_stack_set(&management, template);
    let created_set = succeeds(&served, create_set.clone()).await;
    assert_replay_is_silent(&served, &created_set, create_set.clone()).await;

    let create_instances =
        request::create_stack_instances(&management, template, &[&member], "us-east-1");
    let created = succeeds(&served, create_instances.clone()).await;
    assert_eq!(
        served.instances(&management, ESSENTIALS).await,
        [(member.clone(), "us-east-1".to_owned())]
    );
    assert_replay_is_silent(&served, &created, create_instances.clone()).await;

    // Offboarding order: the StackSet cannot go while it has instances, and AWS says so verbatim.
    let refused = request::delete_stack_set(&management, template)
        .send(&mut served.orders())
        .await
        .expect_err("not empty");
    assert_aws_rejected(&refused, "StackSetNotEmptyException");

    let delete_instances =
        request::delete_stack_instances(&management, template, &[&member], "us-east-1");
    let deleted = succeeds(&served, delete_instances.clone()).await;
    assert_eq!(served.instances(&management, ESSENTIALS).await, []);
    assert_replay_is_silent(&served, &deleted, delete_instances.clone()).await;

    let delete_set = request::delete_stack_set(&management, template);
    let deleted_set = succeeds(&served, delete_set.clone()).await;
    let gone = served
        .inspector
        .describe_stack_set(&management, ESSENTIALS)
        .await;
    assert!(
        matches!(&gone, Ok(None))
            || matches!(&gone, Ok(Some(set)) if set.status == tenure_provisioning_cloud::StackSetStatus::Deleted),
        "the StackSet is still there: {gone:?}"
    );
    assert_replay_is_silent(&served, &deleted_set, delete_set.clone()).await;

    let delete_stack = request::delete_bootstrap_stack(&management);
    let removed = succeeds(&served, delete_stack.clone()).await;
    assert_eq!(served.live_stacks(&management).await, Vec::<String>::new());
    assert_replay_is_silent(&served, &removed, delete_stack.clone()).await;
    served.host.shutdown().await;
}
