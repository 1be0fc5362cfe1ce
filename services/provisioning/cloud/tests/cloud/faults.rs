//! HTTP-layer faults between the `aws` backend and moto_server (`FaultInjector`): the SDK retries
//! throttling, `ConcurrentModificationException` and 5xx to success; a lost response surfaces as
//! ambiguous; and when the caller reconciles as domain.md §6.5 says, moto holds no duplicate.

use std::sync::OnceLock;

use tenure_provisioning_cloud::contract::ContractFixture as _;
use tenure_provisioning_cloud::testing::{Fault, FaultInjector};
use tenure_provisioning_cloud::{Cloud, StackSpec};

use crate::support::MotoFixture;

/// Starts a moto fixture whose backend reaches moto through a fault injector.
async fn fixture_with_injector() -> (MotoFixture, FaultInjector) {
    let injector = OnceLock::new();
    let fixture = MotoFixture::start_with_client(|real| {
        let created = FaultInjector::new(real);
        let shared = aws_smithy_runtime_api::client::http::SharedHttpClient::new(created.clone());
        let _ = injector.set(created);
        shared
    })
    .await;
    (
        fixture,
        injector.into_inner().expect("the injector was built"),
    )
}

#[tokio::test]
async fn sdk_retries_throttling_concurrent_modification_and_server_errors_to_success() {
    let (fixture, injector) = fixture_with_injector().await;
    let org = fixture.fresh_organization().await;
    let cloud = fixture.cloud();

    injector.inject("ListAccounts", Fault::too_many_requests(), 1);
    injector.inject("ListAccounts", Fault::concurrent_modification(), 1);
    let accounts = cloud.list_accounts(&org).await.expect("retried to success");
    assert!(accounts.iter().any(|account| account.id == org));
    assert_eq!(injector.attempts("ListAccounts"), 3);
    assert_eq!(injector.forwarded("ListAccounts"), 1);

    injector.inject("DescribeAccount", Fault::server_error(503), 1);
    injector.inject("DescribeAccount", Fault::server_error(500), 1);
    let described = cloud
        .describe_account(&org, &org)
        .await
        .expect("retried to success");
    assert_eq!(described.id, org);
    assert_eq!(injector.attempts("DescribeAccount"), 3);

    // CreateAccount has no idempotency token, but a refusal is safe to repeat: nothing was created.
    injector.inject("CreateAccount", Fault::concurrent_modification(), 1);
    injector.inject("CreateAccount", Fault::too_many_requests(), 1);
    let created = cloud
        .create_account(&org, "tenure+retry@example.com", "Tenure retry")
        .await
        .expect("retried to success");
    assert_eq!(injector.attempts("CreateAccount"), 3);
    assert_eq!(injector.forwarded("CreateAccount"), 1);
    let requests: Vec<_> = cloud
        .list_create_account_statuses(&org)
        .await
        .expect("the requests are listed")
        .into_iter()
        .filter(|status| status.account_name == "Tenure retry")
        .collect();
    assert_eq!(
        requests.len(),
        1,
        "exactly one account was requested: {requests:?}"
    );
    assert_eq!(
        requests.first().map(|status| &status.request_id),
        Some(&created.request_id)
    );

    injector.inject("DescribeStacks", Fault::throttling(), 2);
    assert_eq!(
        cloud
            .describe_stack(&org, "tenure-absent")
            .await
            .expect("retried to an answer"),
        None
    );
    assert_eq!(injector.attempts("DescribeStacks"), 3);
    assert_eq!(injector.pending(), 0, "every fault fired");
}

#[tokio::test]
async fn retries_give_up_after_the_configured_attempts() {
    let (fixture, injector) = fixture_with_injector().await;
    let org = fixture.fresh_organization().await;

    injector.inject("ListAccounts", Fault::concurrent_modification(), 3);
    let error = fixture
        .cloud()
        .list_accounts(&org)
        .await
        .expect_err("three attempts, three refusals");
    assert!(error.is("ConcurrentModificationException"), "{error}");
    assert!(!error.ambiguous);
    assert_eq!(injector.attempts("ListAccounts"), 3);
    assert_eq!(injector.forwarded("ListAccounts"), 0);
}

#[tokio::test]
async fn lost_create_account_response_is_ambiguous_and_reconciled_without_a_duplicate() {
    let (fixture, injector) = fixture_with_injector().await;
    let org = fixture.fresh_organization().await;
    let cloud = fixture.cloud();
    let email = "tenure+lost@example.com";

    injector.inject("CreateAccount", Fault::ResponseLost, 1);
    let error = cloud
        .create_account(&org, email, "Tenure lost")
        .await
        .expect_err("the answer was lost");
    assert!(error.ambiguous, "{error:?}");
    assert_eq!(error.code, None);
    // Without a token, the SDK must not send it again: moto executed it once.
    assert_eq!(injector.attempts("CreateAccount"), 1);
    assert_eq!(injector.forwarded("CreateAccount"), 1);

    // Reconciliation (domain.md §6.5): find the request by its account name, confirm the email.
    let requests = cloud
        .list_create_account_statuses(&org)
        .await
        .expect("the requests are listed");
    let matching: Vec<_> = requests
        .iter()
        .filter(|status| status.account_name == "Tenure lost")
        .collect();
    assert_eq!(matching.len(), 1, "{requests:?}");
    let account = matching
        .first()
        .and_then(|status| status.account_id.clone())
        .expect("moto completes the creation at once");
    let described = cloud
        .describe_account(&org, &account)
        .await
        .expect("the adopted account is described");
    assert_eq!(described.email, email);
    let with_email = cloud
        .list_accounts(&org)
        .await
        .expect("the accounts are listed")
        .into_iter()
        .filter(|listed| listed.email == email)
        .count();
    assert_eq!(with_email, 1, "no second account was created");
}

#[tokio::test]
async fn server_error_on_create_account_is_not_resent_by_the_sdk() {
    let (fixture, injector) = fixture_with_injector().await;
    let org = fixture.fresh_organization().await;

    injector.inject("CreateAccount", Fault::server_error(500), 1);
    let error = fixture
        .cloud()
        .create_account(&org, "tenure+5xx@example.com", "Tenure 5xx")
        .await
        .expect_err("the server error is handed to the engine");
    assert_eq!(error.http_status, Some(500));
    assert!(error.ambiguous, "{error:?}");
    assert_eq!(injector.attempts("CreateAccount"), 1);
}

#[tokio::test]
async fn lost_create_stack_response_is_reconciled_by_its_token_without_a_duplicate() {
    let (fixture, injector) = fixture_with_injector().await;
    let org = fixture.fresh_organization().await;
    let cloud = fixture.cloud();
    let stack = StackSpec {
        name: "tenure-fault-stack".to_owned(),
        template_body:
            r#"{"Resources":{"Marker":{"Type":"AWS::CloudFormation::WaitConditionHandle"}}}"#
                .to_owned(),
        tags: vec![("tenure:managed".to_owned(), "true".to_owned())],
    };
    let token = "tenure-fault-stack-create";

    // Every attempt reaches moto and every answer is lost: CreateStack carries a token, so the SDK
    // re-sends it, and the caller still ends up without an answer.
    injector.inject("CreateStack", Fault::ResponseLost, 3);
    let error = cloud
        .create_stack(&org, &stack, token)
        .await
        .expect_err("every answer was lost");
    assert!(error.ambiguous, "{error:?}");
    assert_eq!(injector.forwarded("CreateStack"), 3);

    // The caller repeats with the same token. AWS would answer with the same stack id; moto ignores
    // tokens and refuses the name, which the engine resolves by adopting the stack it tagged.
    match cloud.create_stack(&org, &stack, token).await {
        Ok(_) => {}
        Err(error) => assert!(error.is("AlreadyExistsException"), "{error}"),
    }
    let adopted = cloud
        .describe_stack(&org, &stack.name)
        .await
        .expect("the stack is described")
        .expect("the stack exists");
    assert_eq!(adopted.tags, stack.tags);
    assert_eq!(
        adopted.status,
        tenure_provisioning_cloud::StackStatus::CreateComplete
    );
    assert_eq!(
        fixture
            .admin
            .live_stack_names(&org)
            .await
            .expect("moto lists the stacks"),
        vec![stack.name.clone()],
        "moto holds exactly one stack"
    );
}
