//! Claims measure whether a stepper is alive in real time. Jumping the simulated clock, however far,
//! never lets a second engine step an operation another one is stepping, and a settled operation stays
//! settled: no lingering step calls AWS again or writes an older state over it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tenure_proto::provisioning::v1 as pb;
use tenure_provisioning::SandboxCloud;
use tenure_provisioning::cloud::{CallHook, Hooked};

use crate::support::{
    OperationAnswer as _, assert_succeeded, has_ended, request, serve_sandbox, start_with,
    test_settings,
};

/// Far past a claim (`claim_secs`, 60 s here), had claims been measured on the simulated clock.
const JUMP: Duration = Duration::from_secs(10 * 60);

/// Inside a step's AWS calls (before CreateAccount leaves, after a status answer came back), jumps the
/// simulated clock past every claim and holds the step a moment, so that the other steppers (two
/// workers polling every 50 ms, and GetOperation) try to step the operation while it is in flight.
#[derive(Debug)]
struct JumpsMidStep {
    sandbox: SandboxCloud,
}

impl JumpsMidStep {
    async fn jump(&self) {
        let by = chrono::Duration::from_std(JUMP).expect("a small duration");
        self.sandbox.advance_clock(by).await.expect("advance");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[async_trait]
impl CallHook for JumpsMidStep {
    async fn before(&self, method: &'static str) {
        if method == "create_account" {
            self.jump().await;
        }
    }

    async fn after(&self, method: &'static str) {
        if method == "describe_create_account_status" {
            self.jump().await;
        }
    }
}

#[tokio::test]
async fn two_engines_step_an_operation_one_at_a_time_however_far_the_clock_jumps() {
    let database = tenure_testkit::TestDatabase::create().await.expect("db");
    let settings = test_settings(&database);
    assert!(
        JUMP.as_secs() > settings.engine.claim_secs,
        "the jumps must outrun a claim"
    );
    let served = serve_sandbox(&settings, |counting| {
        let sandbox = counting.inner().clone();
        Arc::new(Hooked::with_hook(counting, JumpsMidStep { sandbox }))
    })
    .await;
    let replica = served.replica(&settings).await;
    let mut engines = [served.orders(), replica.orders()];
    let management = served.organization().await;

    let started = start_with(
        &mut engines[0],
        request::create_account(&management, "one.at.a.time@example.com", "One at a time"),
    )
    .await;
    assert_eq!(served.counting.calls("create_account"), 1);

    // GetOperation on each replica in turn, the clock jumped between polls; both workers run too.
    let mut settled = None;
    for poll in 0..100 {
        let operation = engines[poll % 2]
            .get_operation(request::get_operation(&started.id))
            .await
            .operation();
        if has_ended(&operation) {
            settled = Some(operation);
            break;
        }
        served.advance(JUMP).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let settled = settled.expect("the operation settled");
    assert_succeeded(&settled);
    assert_eq!(
        served.counting.calls("create_account"),
        1,
        "a second engine sent CreateAccount again"
    );

    // Read it again and again, from both replicas, while the clock keeps jumping and the workers run:
    // it stays SUCCEEDED as settled, and nothing reaches AWS for it any more.
    let calls_when_settled = served.counting.total();
    for read in 0..6 {
        served.advance(JUMP).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let operation = engines[read % 2]
            .get_operation(request::get_operation(&started.id))
            .await
            .operation();
        assert_eq!(
            operation.state,
            pb::OperationState::Succeeded as i32,
            "read {read}: {operation:?}"
        );
        assert_eq!(operation.aws_calls, settled.aws_calls, "read {read}");
        assert_eq!(operation.aws_account_id, settled.aws_account_id);
    }
    assert_eq!(
        served.counting.total(),
        calls_when_settled,
        "a lingering step called AWS after the operation settled"
    );
    assert_eq!(served.counting.calls("create_account"), 1);
    replica.host.shutdown().await;
    served.host.shutdown().await;
}
