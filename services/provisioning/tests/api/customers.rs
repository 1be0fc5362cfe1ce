//! Accounts customers signed up for directly with AWS (SandboxService/CreateCustomerAccount), and the
//! uniqueness AWS gives root emails across all of AWS: every organization, standalone accounts and
//! closed ones.

use std::collections::BTreeSet;

use tenure_grpc::{Role, ServiceKind};
use tenure_proto::provisioning::v1 as pb;
use tenure_proto::provisioning::v1::sandbox_service_client::SandboxServiceClient;
use tonic::Code;

use crate::support::{
    PLATFORM_MANAGEMENT, Served, ServedAws, assert_succeeded, bearer, create_account, error_info,
    handshake_of, request, spawn_platform_sandbox, violated_fields,
};

async fn served() -> (Served, tenure_testkit::TestDatabase) {
    spawn_platform_sandbox(|counting| counting).await
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

/// Starts CreateAccount in `management`'s organization and lets the simulated creation finish.
async fn created(served: &Served, management: &str, email: &str) -> pb::Operation {
    served
        .run(request::create_account(
            management,
            email,
            "Platform account",
        ))
        .await
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
    let outside = served.describe_account(&account.aws_account_id).await;
    assert_eq!(outside.state, pb::AwsAccountState::NotInOrganization as i32);

    let invited = served
        .begin(request::invite_account(
            PLATFORM_MANAGEMENT,
            &account.aws_account_id,
        ))
        .await;
    assert_succeeded(&invited);
    let handshake = handshake_of(&invited);
    assert_eq!(handshake.target_account_id, account.aws_account_id);
    assert_eq!(
        served.describe_account(&account.aws_account_id).await.state,
        pb::AwsAccountState::NotInOrganization as i32,
        "an open invitation makes no member"
    );
    served.accept_handshake(&handshake.id).await;
    let member = served.describe_account(&account.aws_account_id).await;
    assert_eq!(member.state, pb::AwsAccountState::Active as i32);
    assert_eq!(member.joined_method, "INVITED");

    // Its email came along: the organization cannot create another account with it.
    let duplicate = created(&served, PLATFORM_MANAGEMENT, "Founder@Example.com").await;
    assert_email_already_exists(&duplicate);
    served.host.shutdown().await;
}

#[tokio::test]
async fn an_account_the_sandbox_never_saw_still_joins_by_invitation() {
    let (served, _database) = served().await;
    let unknown = "000000004170";
    assert_eq!(
        served.describe_account(unknown).await.state,
        pb::AwsAccountState::NotInOrganization as i32
    );
    let invited = served
        .begin(request::invite_account(PLATFORM_MANAGEMENT, unknown))
        .await;
    served.accept_handshake(&handshake_of(&invited).id).await;
    let member = served.describe_account(unknown).await;
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
        violated_fields(&bad).into_iter().collect::<BTreeSet<_>>(),
        ["account_name".to_owned(), "email".to_owned()].into()
    );
    let non_ascii = served
        .operator()
        .create_customer_account(sign_up("ok@example.com", "Café"))
        .await
        .expect_err("invalid name");
    assert_eq!(violated_fields(&non_ascii), ["account_name"]);

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
    let management = served.organization().await;
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
    let first = served.organization().await;
    let second = served.organization().await;

    // Another organization's account.
    create_account(&served, &first, "shared@example.com").await;
    assert_email_already_exists(&created(&served, &second, "Shared@Example.COM").await);

    // A standalone account.
    signed_up(&served, "standalone@example.com").await;
    assert_email_already_exists(&created(&served, &second, "standalone@example.com").await);

    // A closed account, in another organization: its email is never free again (seed 001).
    let closing = create_account(&served, &first, "closed@example.com").await;
    assert_succeeded(&served.run(request::close_account(&closing)).await);
    assert_email_already_exists(&created(&served, &second, "closed@example.com").await);

    // A fresh email still works.
    assert_succeeded(&created(&served, &second, "fresh@example.com").await);
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
