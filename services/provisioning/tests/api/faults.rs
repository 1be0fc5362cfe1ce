//! HTTP-layer faults between the engine's `aws` backend and moto_server: throttling,
//! `ConcurrentModificationException`, a 5xx and a request that moto executes but whose answer is lost,
//! in that order, on each mutating call. The SDK makes a single attempt here, so every fault reaches the
//! engine's reaction table (the SDK's own retries are shown in the cloud crate). Each operation must end
//! as it would without faults, and moto, read past the injector, must hold exactly one of each resource.

use std::time::Duration;

use tenure_domain::AwsAccountId;
use tenure_proto::provisioning::v1 as pb;
use tenure_provisioning::cloud::Cloud as _;
use tenure_provisioning::cloud::testing::Fault;

use tonic::Code;

use crate::support::{Mutation, ServedAws, assert_succeeded, request};

/// The faults each call meets, in order. `throttled` is the service's own throttling answer.
fn inject_every_fault(served: &ServedAws, api: &str, throttled: Fault) {
    for fault in [
        throttled,
        Fault::concurrent_modification(),
        Fault::server_error(503),
        Fault::ResponseLost,
    ] {
        served.injector.inject(api, fault, 1);
    }
}

/// The operation ended SUCCEEDED, every injected fault fired, and the call reached moto exactly
/// `forwarded` times.
fn assert_recovered(served: &ServedAws, operation: &pb::Operation, api: &str, forwarded: u64) {
    assert_succeeded(operation);
    assert_eq!(served.injector.pending(), 0, "a fault did not fire");
    assert!(
        served.injector.attempts(api) >= 4,
        "{api}: {} attempts",
        served.injector.attempts(api)
    );
    assert_eq!(
        served.injector.forwarded(api),
        forwarded,
        "{api} reached moto"
    );
}

/// Sends a mutating call as orders does: while AWS is failing transiently the API answers UNAVAILABLE
/// ("retry with the same key") and the engine keeps working; a repeat with the same key returns the
/// operation once it has left that state.
async fn accepted(served: &ServedAws, request: impl Mutation) -> pb::Operation {
    for _ in 0..1_200 {
        match request.clone().send(&mut served.orders()).await {
            Ok(operation) => return operation,
            Err(status) if status.code() == Code::Unavailable => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(status) => panic!("the call failed: {status:?}"),
        }
    }
    panic!("the call stayed unavailable");
}

/// [`accepted`], then waits until the operation has ended.
async fn settled(served: &ServedAws, request: impl Mutation) -> pb::Operation {
    let started = accepted(served, request).await;
    served.settle(&started.id).await
}

/// Single SDK attempt: the engine, not the SDK, must ride out each fault.
async fn served() -> ServedAws {
    ServedAws::start(1).await
}

#[tokio::test]
async fn create_account_survives_every_fault_without_a_duplicate_account() {
    let served = served().await;
    let management = served.organization().await;
    inject_every_fault(&served, "CreateAccount", Fault::too_many_requests());
    let email = "faulty.create@example.com";
    let done = settled(
        &served,
        request::create_account(&management, email, "Faulty create"),
    )
    .await;
    // Only the lost request reached moto: the refusals never did, and after the loss the engine found
    // the request instead of sending another.
    assert_recovered(&served, &done, "CreateAccount", 1);
    let with_email: Vec<_> = served
        .inspector
        .list_accounts(&management)
        .await
        .expect("accounts")
        .into_iter()
        .filter(|account| account.email == email)
        .collect();
    assert_eq!(with_email.len(), 1, "{with_email:?}");
    assert_eq!(
        with_email.first().map(|account| account.id.as_str()),
        Some(done.aws_account_id.as_str())
    );
    let requests = served
        .inspector
        .list_create_account_statuses(&management)
        .await
        .expect("requests")
        .into_iter()
        .filter(|status| status.account_name == "Faulty create")
        .count();
    assert_eq!(requests, 1, "one CreateAccount request in AWS");
    served.host.shutdown().await;
}

#[tokio::test]
async fn close_account_survives_every_fault_and_the_account_is_suspended_once() {
    let served = served().await;
    let management = served.organization().await;
    let member = served
        .create_account(&management, "faulty.close@example.com")
        .await;
    inject_every_fault(&served, "CloseAccount", Fault::too_many_requests());
    let closed = settled(&served, request::close_account(&member)).await;
    assert_succeeded(&closed);
    assert_eq!(served.injector.pending(), 0, "a fault did not fire");
    // CloseAccount is safe to repeat (AccountAlreadyClosedException is success), so after the lost
    // answer the engine may send it once more; moto still holds the one account, suspended.
    assert!((1..=2).contains(&served.injector.forwarded("CloseAccount")));
    let member = AwsAccountId::parse(&member).expect("id");
    let listed: Vec<_> = served
        .inspector
        .list_accounts(&management)
        .await
        .expect("accounts")
        .into_iter()
        .filter(|account| account.id == member)
        .map(|account| account.state)
        .collect();
    assert_eq!(
        listed,
        [tenure_provisioning::cloud::AccountState::Suspended]
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn create_stack_survives_every_fault_without_a_duplicate_stack() {
    let served = served().await;
    let management = served.organization().await;
    inject_every_fault(&served, "CreateStack", Fault::throttling());
    let deployed = settled(&served, request::deploy_bootstrap_stack(&management)).await;
    // The lost request reached moto, and so does the repeat with the same token (AWS would answer
    // with the stack; moto refuses the name and the engine adopts the stack it tagged).
    assert_recovered(&served, &deployed, "CreateStack", 2);
    assert_eq!(served.live_stacks(&management).await, ["tenure-bootstrap"]);
    served.host.shutdown().await;
}

#[tokio::test]
async fn stack_set_and_instances_survive_every_fault_without_duplicates() {
    let served = served().await;
    let management = served.organization().await;
    let member = served
        .create_account(&management, "faulty.stackset@example.com")
        .await;
    let template = pb::StackSetTemplate::Essentials as i32;

    inject_every_fault(&served, "CreateStackSet", Fault::throttling());
    let created_set = settled(&served, request::create_stack_set(&management, template)).await;
    // The lost request and the repeat that finds the name taken and adopts the StackSet.
    assert_recovered(&served, &created_set, "CreateStackSet", 2);
    let set = served
        .inspector
        .describe_stack_set(&management, "tenure-essentials")
        .await
        .expect("describe")
        .expect("the StackSet exists");
    assert_eq!(
        set.status,
        tenure_provisioning_cloud::StackSetStatus::Active
    );

    inject_every_fault(&served, "CreateStackInstances", Fault::throttling());
    let created = settled(
        &served,
        request::create_stack_instances(&management, template, &[&member], "us-east-1"),
    )
    .await;
    // The repeat carries the same OperationId, which AWS answers with OperationIdAlreadyExists.
    assert_recovered(&served, &created, "CreateStackInstances", 2);
    assert_eq!(
        served.instances(&management, "tenure-essentials").await,
        [(member.clone(), "us-east-1".to_owned())]
    );
    served.host.shutdown().await;
}
