//! The crash test: the host dies after AWS executed CreateAccount but before the engine stored the
//! `car-…` reference. A new app on the same database finds the operation in flight without a reference,
//! reconciles (ListCreateAccountStatus by name) instead of re-sending, and completes it exactly once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tenure_proto::provisioning::v1 as pb;
use tenure_provisioning::cloud::{CallHook, Cloud as _, Hooked};

use crate::support::{MINUTE, assert_succeeded, request, serve_sandbox, settle, test_settings};

/// Holds CreateAccount's answer back forever once the backend has acted: the process is "killed"
/// between the AWS effect and the persisted reference.
#[derive(Debug)]
struct DiesAfterCreateAccount;

#[async_trait]
impl CallHook for DiesAfterCreateAccount {
    async fn after(&self, method: &'static str) {
        if method == "create_account" {
            std::future::pending::<()>().await;
        }
    }
}

#[tokio::test]
async fn an_operation_interrupted_after_aws_acted_completes_exactly_once_after_a_restart() {
    let database = tenure_testkit::TestDatabase::create().await.expect("db");
    let mut settings = test_settings(&database);
    // Claims and leases last in real time; a one-second claim keeps the takeover wait short.
    settings.engine.claim_secs = 1;
    settings.engine.lease_secs = 1;
    // The first life's worker must not take the operation over once its one-second claim lapses:
    // the process dies with its request, worker included, which this keeps from running first.
    let mut first_life = settings.clone();
    first_life.engine.worker_interval_ms = 3_600_000;

    // First life: CreateAccount reaches the sandbox, then the process "dies" before the answer.
    let first = serve_sandbox(&first_life, |counting| {
        Arc::new(Hooked::with_hook(counting, DiesAfterCreateAccount))
    })
    .await;
    let management = first.sandbox.create_organization().await.expect("org");
    let request =
        request::create_account(&management, "crash.survivor@example.com", "Crash survivor");
    let mut client = first.orders();
    let call = tokio::time::timeout(
        Duration::from_secs(2),
        client.create_account(request.clone()),
    )
    .await;
    assert!(
        call.is_err(),
        "the call should hang after AWS acted: {call:?}"
    );
    assert_eq!(first.counting.calls("create_account"), 1);
    first.host.shutdown().await;
    drop(first);

    // Second life on the same database, with a plain sandbox.
    let second = serve_sandbox(&settings, |counting| counting).await;
    // The first life's claim and lease lapse one real second after it took them (well within the
    // two-second hang); should a slow machine lag, `settle` keeps polling until the new engine may
    // take the operation over. Moving the simulated clock does not shorten a claim.
    let in_flight = second
        .operations(pb::ListOperationsRequest::default())
        .await;
    assert_eq!(in_flight.len(), 1);
    assert_eq!(in_flight[0].state, pb::OperationState::InProgress as i32);
    let done = settle(&second, &in_flight[0].id, MINUTE).await;
    assert_succeeded(&done);
    assert_eq!(
        second.counting.calls("create_account"),
        0,
        "the restarted engine re-sent CreateAccount instead of reconciling"
    );
    assert!(second.counting.calls("list_create_account_statuses") >= 1);

    // Exactly one creation request and one new account exist at the backend.
    let requests = second
        .sandbox
        .list_create_account_statuses(&management)
        .await
        .expect("requests");
    assert_eq!(requests.len(), 1);
    let accounts = second
        .sandbox
        .list_accounts(&management)
        .await
        .expect("accounts");
    let created: Vec<_> = accounts
        .iter()
        .filter(|account| account.email == "crash.survivor@example.com")
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].id.as_str(), done.aws_account_id);

    // A retry of the original request replays the completed operation.
    let replay = second.begin(request).await;
    assert_eq!(replay.id, done.id);
    assert_eq!(second.counting.calls("create_account"), 0);
    second.host.shutdown().await;
}
