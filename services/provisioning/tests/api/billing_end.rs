//! Ending a billing transfer that has not started yet: accepted for the 1st of a coming month and ended
//! before it. It ends WITHDRAWN at its start (zero length, never billed), on the sandbox and on the
//! engine's `aws` path, where AWS may report an end before the start or refuse one.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenure_domain::AwsAccountId;
use tenure_proto::provisioning::v1 as pb;
use tenure_provisioning::SandboxCloud;
use tenure_provisioning::cloud::{
    AccountDescription, BackendKind, BillingTransfer, Cloud, CloudError, CloudResult,
    CountingCloud, CreateAccountStatus, Handshake, HandshakeAction, InstanceTargets, StackDeletion,
    StackDescription, StackInstance, StackSetDescription, StackSetOperationStatus, StackSetSpec,
    StackSpec, TransferInvitation,
};

use crate::support::{
    Served, assert_succeeded, error_metadata, request, spawn_platform_sandbox, transfer_of,
};

const DAY: Duration = Duration::from_secs(86_400);

/// A transfer invited from a fresh customer organization and accepted: it starts on a coming 1st.
async fn accepted_transfer(served: &Served) -> pb::BillingTransfer {
    let source = served.standalone_account().await;
    let invited = served
        .begin(request::invite_billing_transfer(&source))
        .await;
    let transfer = transfer_of(&invited);
    served.accept_handshake(&transfer.handshake_id).await;
    transfer
}

async fn end(served: &Served, transfer_id: &str) -> pb::Operation {
    served
        .begin(request::end_billing_transfer(transfer_id))
        .await
}

/// The transfer an ending operation reports, once it has succeeded.
fn ended_transfer(operation: &pb::Operation) -> pb::BillingTransfer {
    assert_succeeded(operation);
    transfer_of(operation)
}

#[tokio::test]
async fn a_transfer_ended_before_its_start_is_withdrawn_at_its_start_and_never_billed() {
    let (served, _database) = spawn_platform_sandbox(|counting| counting).await;
    let transfer = accepted_transfer(&served).await;
    let start = transfer.start_at.expect("start");
    assert!(
        served.now().await.seconds < start.seconds,
        "not started yet"
    );

    let ended = ended_transfer(&end(&served, &transfer.id).await);
    assert_eq!(ended.status, pb::BillingTransferStatus::Withdrawn as i32);
    assert_eq!(
        ended.end_at,
        Some(start),
        "zero length: it ends at its start, never before it"
    );
    let described = served.describe_billing_transfer(&transfer.id).await;
    assert_eq!(
        described.status,
        pb::BillingTransferStatus::Withdrawn as i32
    );
    assert_eq!(described.end_at, Some(start), "AWS's view agrees");

    // Ending it again is harmless and reports the same end.
    let again = end(&served, &transfer.id).await;
    assert_eq!(ended_transfer(&again).end_at, Some(start));
    served.host.shutdown().await;
}

#[tokio::test]
async fn withdrawing_an_accepted_transfer_before_its_start_leaves_it_zero_length() {
    let (served, _database) = spawn_platform_sandbox(|counting| counting).await;
    let transfer = accepted_transfer(&served).await;
    let start = transfer.start_at.expect("start");
    let withdrawn = served
        .begin(request::withdraw_billing_transfer(&transfer.id))
        .await;
    let withdrawn = ended_transfer(&withdrawn);
    assert_eq!(
        withdrawn.status,
        pb::BillingTransferStatus::Withdrawn as i32
    );
    assert_eq!(withdrawn.end_at, Some(start));
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_transfer_that_started_ends_at_the_end_of_the_current_month() {
    let (served, _database) = spawn_platform_sandbox(|counting| counting).await;
    let transfer = accepted_transfer(&served).await;
    let start = transfer.start_at.expect("start");
    let ahead = u64::try_from(start.seconds - served.now().await.seconds).expect("ahead");
    served.advance(Duration::from_secs(ahead) + 3 * DAY).await;

    let ended = ended_transfer(&end(&served, &transfer.id).await);
    assert_eq!(ended.status, pb::BillingTransferStatus::Withdrawn as i32);
    let end_at = ended.end_at.expect("end");
    assert!(end_at.seconds > start.seconds, "it billed the month it ran");
    assert_eq!((end_at.seconds + 1) % 86_400, 0);
    assert_eq!(end_at.nanos, 999_000_000);
    assert!(
        end_at.seconds - start.seconds < 31 * 86_400,
        "the end of the month it started in"
    );
    served.host.shutdown().await;
}

/// How the stand-in for AWS answers TerminateResponsibilityTransfer for an end before the start: the
/// two ways AWS could (domain.md marks the transfer date rules "verify at run time").
#[derive(Debug, Clone, Copy)]
enum EndBeforeStart {
    /// Accepted, and reported with the end as asked.
    Reported,
    /// Refused as END_DATE_TOO_EARLY.
    Refused,
}

/// The simulation with AWS's possible answers to an end before the start; every other call passes.
#[derive(Debug)]
struct AwsAnswers {
    inner: Arc<CountingCloud<SandboxCloud>>,
    end_before_start: EndBeforeStart,
    /// Every end the engine asked for.
    asked: Asked,
}

/// Implements `Cloud`: TerminateResponsibilityTransfer as [`AwsAnswers::terminate`], each listed method
/// forwarded to the simulation.
macro_rules! aws_answers_cloud {
    ($(fn $method:ident($($argument:ident: $type:ty),*) -> $answer:ty;)*) => {
        #[async_trait]
        impl Cloud for AwsAnswers {
            fn kind(&self) -> BackendKind {
                BackendKind::Aws
            }

            async fn terminate_billing_transfer(
                &self,
                management: &AwsAccountId,
                transfer: &str,
                end: DateTime<Utc>,
            ) -> CloudResult<BillingTransfer> {
                self.terminate(management, transfer, end).await
            }

            $(
                async fn $method(&self, $($argument: $type),*) -> CloudResult<$answer> {
                    self.inner.$method($($argument),*).await
                }
            )*
        }
    };
}

impl AwsAnswers {
    async fn terminate(
        &self,
        acting: &AwsAccountId,
        transfer_id: &str,
        end_at: DateTime<Utc>,
    ) -> CloudResult<BillingTransfer> {
        self.asked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(end_at);
        let transfer = self
            .inner
            .describe_billing_transfer(acting, transfer_id)
            .await?;
        if end_at >= transfer.start_at {
            return self
                .inner
                .terminate_billing_transfer(acting, transfer_id, end_at)
                .await;
        }
        match self.end_before_start {
            EndBeforeStart::Reported => {
                let mut ended = self
                    .inner
                    .terminate_billing_transfer(acting, transfer_id, end_at)
                    .await?;
                ended.end_at = Some(end_at);
                Ok(ended)
            }
            EndBeforeStart::Refused => Err(CloudError::service(
                "InvalidInputException",
                Some("END_DATE_TOO_EARLY"),
                400,
                "too early for the transfer to end",
            )),
        }
    }
}

aws_answers_cloud! {
    fn create_account(acting: &AwsAccountId, email: &str, account_name: &str) -> CreateAccountStatus;
    fn describe_create_account_status(acting: &AwsAccountId, request_id: &str) -> CreateAccountStatus;
    fn list_create_account_statuses(acting: &AwsAccountId) -> Vec<CreateAccountStatus>;
    fn describe_account(acting: &AwsAccountId, account: &AwsAccountId) -> AccountDescription;
    fn list_accounts(acting: &AwsAccountId) -> Vec<AccountDescription>;
    fn remove_account(acting: &AwsAccountId, account: &AwsAccountId) -> ();
    fn close_account(acting: &AwsAccountId, account: &AwsAccountId) -> ();
    fn invite_account(acting: &AwsAccountId, target: &AwsAccountId, notes: &str) -> Handshake;
    fn describe_handshake(acting: &AwsAccountId, handshake_id: &str) -> Handshake;
    fn list_handshakes(acting: &AwsAccountId, action: HandshakeAction) -> Vec<Handshake>;
    fn cancel_handshake(acting: &AwsAccountId, handshake_id: &str) -> Handshake;
    fn invite_billing_transfer(acting: &AwsAccountId, invitation: &TransferInvitation) -> Handshake;
    fn describe_billing_transfer(acting: &AwsAccountId, transfer_id: &str) -> BillingTransfer;
    fn list_inbound_billing_transfers(acting: &AwsAccountId) -> Vec<BillingTransfer>;
    fn create_stack(acting: &AwsAccountId, stack: &StackSpec, token: &str) -> String;
    fn describe_stack(acting: &AwsAccountId, name_or_id: &str) -> Option<StackDescription>;
    fn delete_stack(acting: &AwsAccountId, name_or_id: &str, token: &str, deletion: StackDeletion) -> ();
    fn create_stack_set(acting: &AwsAccountId, stack_set: &StackSetSpec, token: &str) -> String;
    fn describe_stack_set(acting: &AwsAccountId, name: &str) -> Option<StackSetDescription>;
    fn delete_stack_set(acting: &AwsAccountId, name: &str) -> ();
    fn create_stack_instances(acting: &AwsAccountId, stack_set: &str, targets: &InstanceTargets, operation_id: &str) -> String;
    fn delete_stack_instances(acting: &AwsAccountId, stack_set: &str, targets: &InstanceTargets, retain_stacks: bool, operation_id: &str) -> String;
    fn describe_stack_set_operation(acting: &AwsAccountId, stack_set: &str, operation_id: &str) -> StackSetOperationStatus;
    fn list_stack_instances(acting: &AwsAccountId, stack_set: &str) -> Vec<StackInstance>;
}

/// The ends the stand-in was asked for, shared with the test.
type Asked = Arc<Mutex<Vec<DateTime<Utc>>>>;

/// The service over the simulation behind an [`AwsAnswers`] stand-in, and the ends it will be asked for.
async fn served_answering(
    end_before_start: EndBeforeStart,
) -> (Served, tenure_testkit::TestDatabase, Asked) {
    let asked = Asked::default();
    let kept = asked.clone();
    let (served, database) = spawn_platform_sandbox(move |inner| {
        Arc::new(AwsAnswers {
            inner,
            end_before_start,
            asked: kept,
        }) as Arc<dyn Cloud>
    })
    .await;
    (served, database, asked)
}

fn asked(asked: &Asked) -> Vec<DateTime<Utc>> {
    asked.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

#[tokio::test]
async fn on_the_aws_path_an_end_reported_before_the_start_is_reported_as_the_start() {
    let (served, _database, answers) = served_answering(EndBeforeStart::Reported).await;
    let transfer = accepted_transfer(&served).await;
    let start = transfer.start_at.expect("start");

    let ended = ended_transfer(&end(&served, &transfer.id).await);
    assert_eq!(ended.status, pb::BillingTransferStatus::Withdrawn as i32);
    assert_eq!(ended.end_at, Some(start), "never an end before the start");
    let asked = asked(&answers);
    assert_eq!(
        asked.len(),
        1,
        "the earliest end AWS accepts, once: {asked:?}"
    );
    assert!(asked[0].timestamp() < start.seconds);
    served.host.shutdown().await;
}

#[tokio::test]
async fn on_the_aws_path_a_refused_end_before_the_start_stops_instead_of_billing_a_month() {
    let (served, _database, answers) = served_answering(EndBeforeStart::Refused).await;
    let transfer = accepted_transfer(&served).await;
    let start = transfer.start_at.expect("start");

    let refused = served
        .refused(request::end_billing_transfer(&transfer.id))
        .await;
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        error_metadata(&refused, "code").as_deref(),
        Some("TNR902"),
        "operations settle the end with AWS"
    );
    assert_eq!(
        error_metadata(&refused, "aws_code").as_deref(),
        Some("END_DATE_TOO_EARLY")
    );
    let operations = served
        .operations(request::operations_of(
            pb::OperationKind::EndBillingTransfer,
        ))
        .await;
    assert_eq!(operations.len(), 1);
    assert_eq!(operations[0].state, pb::OperationState::Failed as i32);
    let asked = asked(&answers);
    assert_eq!(
        asked.len(),
        1,
        "the end never moved into the month the transfer starts: {asked:?}"
    );
    assert!(asked[0].timestamp() < start.seconds);
    let described = served.describe_billing_transfer(&transfer.id).await;
    assert_eq!(
        described.status,
        pb::BillingTransferStatus::Accepted as i32,
        "nothing was ended behind the operation's back"
    );
    served.host.shutdown().await;
}
