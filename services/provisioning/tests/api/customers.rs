//! Accounts customers signed up for directly with AWS (SandboxService/CreateCustomerAccount), and the
//! uniqueness AWS gives root emails across all of AWS: every organization, standalone accounts and
//! closed ones.

use std::collections::BTreeSet;
use std::time::Duration;

use tenure_grpc::{Role, ServiceKind};
use tenure_proto::provisioning::v1 as pb;
use tenure_proto::provisioning::v1::sandbox_service_client::SandboxServiceClient;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::support::{
    OperationAnswer as _, Served, ServedAws, bearer, create_account, error_info, key,
    serve_sandbox, settle, test_settings,
};

const MINUTE: Duration = Duration::from_secs(60);

/// The platform's management account in these tests.
const MANAGEMENT: &str = "210987654321";

async fn served() -> (Served, tenure_testkit::TestDatabase) {
    let database = tenure_testkit::TestDatabase::create().await.expect("db");
    let mut settings = test_settings(&database);
    settings.default_management_account_id = Some(MANAGEMENT.to_owned());
    (
        serve_sandbox(&settings, |counting| counting).await,
        database,
    )
}

fn sign_up(email: &str, account_name: &str) -> pb::CreateCustomerAccountRequest {
    pb::CreateCustomerAccountRequest {
        email: email.to_owned(),
        account_name: account_name.to_owned(),
    }
}

async fn signed_up(served: &Served, email: &str) -> pb::AccountResult {
    served
        .operator()
        .create_customer_account(sign_up(email, "Customer account"))
        .await
        .expect("sign-up")
        .into_inner()
        .account
        .expect("account")
}

async fn describe(served: &Served, aws_account_id: &str) -> pb::AccountResult {
    served
        .orders()
        .describe_account(pb::DescribeAccountRequest {
            aws_account_id: aws_account_id.to_owned(),
        })
        .await
        .expect("describe")
        .into_inner()
        .account
        .expect("account")
}

fn violated_fields(status: &tonic::Status) -> BTreeSet<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|bad| {
            bad.field_violations
                .iter()
                .map(|violation| violation.field.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Starts CreateAccount in `management`'s organization and lets the simulated creation finish.
async fn created(served: &Served, management: &str, email: &str) -> pb::Operation {
    let started = served
        .orders()
        .create_account(pb::CreateAccountRequest {
            idempotency_key: key(),
            management_account_id: management.to_owned(),
            email: email.to_owned(),
            account_name: "Platform account".to_owned(),
        })
        .await
        .operation();
    settle(served, &started.id, MINUTE).await
}

fn assert_email_already_exists(operation: &pb::Operation) {
    assert_eq!(
        operation.state,
        pb::OperationState::CustomerActionRequired as i32,
        "{operation:?}"
    );
    let error = operation.error.as_ref().expect("error");
    assert_eq!(error.code, "TNR101");
    assert_eq!(error.aws_code, "EMAIL_ALREADY_EXISTS");
}

#[tokio::test]
async fn a_customer_account_stands_alone_until_it_accepts_an_invitation() {
    let (served, _database) = served().await;
    let account = signed_up(&served, "founder@example.com").await;
    assert_eq!(account.aws_account_id.len(), 12);
    assert!(
        account
            .aws_account_id
            .bytes()
            .all(|byte| byte.is_ascii_digit())
    );
    assert_eq!(account.state, pb::AwsAccountState::Active as i32);
    assert!(account.joined_method.is_empty() && account.joined_at.is_none());

    // AWS answers DescribeAccount only for members: a standalone account is not one.
    let outside = describe(&served, &account.aws_account_id).await;
    assert_eq!(outside.state, pb::AwsAccountState::NotInOrganization as i32);

    let invited = served
        .orders()
        .invite_account(pb::InviteAccountRequest {
            idempotency_key: key(),
            management_account_id: MANAGEMENT.to_owned(),
            target_account_id: account.aws_account_id.clone(),
            order_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .operation();
    assert_eq!(
        invited.state,
        pb::OperationState::Succeeded as i32,
        "{invited:?}"
    );
    let Some(pb::operation::Result::Handshake(handshake)) = invited.result else {
        panic!("no handshake: {invited:?}");
    };
    assert_eq!(handshake.target_account_id, account.aws_account_id);
    assert_eq!(
        describe(&served, &account.aws_account_id).await.state,
        pb::AwsAccountState::NotInOrganization as i32,
        "an open invitation makes no member"
    );
    served
        .operator()
        .accept_handshake(pb::AcceptHandshakeRequest {
            handshake_id: handshake.id,
        })
        .await
        .expect("accept");
    let member = describe(&served, &account.aws_account_id).await;
    assert_eq!(member.state, pb::AwsAccountState::Active as i32);
    assert_eq!(member.joined_method, "INVITED");

    // Its email came along: the organization cannot create another account with it.
    let duplicate = created(&served, MANAGEMENT, "Founder@Example.com").await;
    assert_email_already_exists(&duplicate);
    served.host.shutdown().await;
}

#[tokio::test]
async fn an_account_the_sandbox_never_saw_still_joins_by_invitation() {
    let (served, _database) = served().await;
    let unknown = "000000004170";
    assert_eq!(
        describe(&served, unknown).await.state,
        pb::AwsAccountState::NotInOrganization as i32
    );
    let invited = served
        .orders()
        .invite_account(pb::InviteAccountRequest {
            idempotency_key: key(),
            management_account_id: MANAGEMENT.to_owned(),
            target_account_id: unknown.to_owned(),
            order_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .operation();
    let Some(pb::operation::Result::Handshake(handshake)) = invited.result else {
        panic!("no handshake: {invited:?}");
    };
    served
        .operator()
        .accept_handshake(pb::AcceptHandshakeRequest {
            handshake_id: handshake.id,
        })
        .await
        .expect("accept");
    let member = describe(&served, unknown).await;
    assert_eq!(member.state, pb::AwsAccountState::Active as i32);
    assert_eq!(member.joined_method, "INVITED");
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_sign_up_is_checked_field_by_field_and_refused_for_a_taken_email() {
    let (served, _database) = served().await;
    let bad = served
        .operator()
        .create_customer_account(sign_up("not an email", ""))
        .await
        .expect_err("invalid");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&bad),
        ["account_name".to_owned(), "email".to_owned()].into()
    );
    let non_ascii = served
        .operator()
        .create_customer_account(sign_up("ok@example.com", "Café"))
        .await
        .expect_err("invalid name");
    assert_eq!(
        violated_fields(&non_ascii),
        ["account_name".to_owned()].into()
    );

    signed_up(&served, "taken@example.com").await;
    let taken = served
        .operator()
        .create_customer_account(sign_up("TAKEN@example.com", "Second account"))
        .await
        .expect_err("the email is taken");
    assert_eq!(taken.code(), Code::AlreadyExists);
    assert_eq!(error_info(&taken).reason, "TNR101");
    assert_eq!(
        taken.message(),
        "An AWS account already uses this root email address. Enter a different root email address."
    );

    // A platform account's email is as taken as a customer's.
    let management = served
        .sandbox
        .create_organization()
        .await
        .expect("organization")
        .to_string();
    create_account(&served, &management, "platform@example.com").await;
    let platform = served
        .operator()
        .create_customer_account(sign_up("platform@example.com", "Mine"))
        .await
        .expect_err("a platform account holds it");
    assert_eq!(platform.code(), Code::AlreadyExists);

    // Operators only, as every SandboxService method.
    for token in [
        served.host.token(Role::Customer, None),
        served
            .host
            .service_token(ServiceKind::Orders, ServiceKind::Provisioning),
    ] {
        let refused =
            SandboxServiceClient::with_interceptor(served.channel.clone(), bearer(&token))
                .create_customer_account(sign_up("someone@example.com", "Someone"))
                .await
                .expect_err("operators only");
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_root_email_is_unique_across_organizations_standalone_and_closed_accounts() {
    let (served, _database) = served().await;
    let first = served
        .sandbox
        .create_organization()
        .await
        .expect("first organization")
        .to_string();
    let second = served
        .sandbox
        .create_organization()
        .await
        .expect("second organization")
        .to_string();

    // Another organization's account.
    create_account(&served, &first, "shared@example.com").await;
    assert_email_already_exists(&created(&served, &second, "Shared@Example.COM").await);

    // A standalone account.
    signed_up(&served, "standalone@example.com").await;
    assert_email_already_exists(&created(&served, &second, "standalone@example.com").await);

    // A closed account, in another organization: its email is never free again (seed 001).
    let closing = create_account(&served, &first, "closed@example.com").await;
    let close = served
        .orders()
        .close_account(pb::CloseAccountRequest {
            idempotency_key: key(),
            aws_account_id: closing.clone(),
        })
        .await
        .operation();
    let closed = settle(&served, &close.id, MINUTE).await;
    assert_eq!(
        closed.state,
        pb::OperationState::Succeeded as i32,
        "{closed:?}"
    );
    assert_email_already_exists(&created(&served, &second, "closed@example.com").await);

    // A fresh email still works.
    let fresh = created(&served, &second, "fresh@example.com").await;
    assert_eq!(
        fresh.state,
        pb::OperationState::Succeeded as i32,
        "{fresh:?}"
    );
    served.host.shutdown().await;
}

#[tokio::test]
async fn on_the_aws_backend_a_customer_sign_up_is_refused() {
    let served = ServedAws::start(1).await;
    let token = served.host.token(Role::Operator, None);
    let refused = SandboxServiceClient::with_interceptor(served.channel.clone(), bearer(&token))
        .create_customer_account(sign_up("founder@example.com", "Founder"))
        .await
        .expect_err("no sandbox");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    served.host.shutdown().await;
}
