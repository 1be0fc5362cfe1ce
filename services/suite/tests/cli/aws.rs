//! `tenure serve provisioning` on its `aws` backend, configured the way a deployment configures it: the
//! backend from `TENURE_` variables, credentials from the standard AWS environment variables, a role
//! assumed in the acting account, and an endpoint override pointing at moto.

use std::time::Duration;

use tenure_domain::AwsAccountId;
use tenure_proto::provisioning::v1 as pb;
use tenure_proto::provisioning::v1::provisioning_service_client::ProvisioningServiceClient;
use tenure_provisioning_cloud::testing::EmulatorAdmin;
use tenure_testkit::TestDatabase;
use tenure_testkit::grpc::wait_until_serving;
use tenure_testkit::moto::{MotoServer, fresh_account_id};
use tokio::process::Command;
use tonic::Request;

use crate::serve::{ORDERS_TOKEN_ARGS, assert_success, connect, free_port, printed, spawn_server};

const TENURE: &str = env!("CARGO_BIN_EXE_tenure");

/// The tenant the orders service acts for in these calls: every service call names one.
const TENANT: &str = "7e570000-0000-4000-8000-000000000002";

fn authorized<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    request.metadata_mut().insert(
        tenure_grpc::TENANT_METADATA_KEY,
        TENANT.parse().expect("header"),
    );
    request
}

#[tokio::test]
async fn provisioning_creates_an_account_through_the_standard_aws_configuration() {
    let moto = MotoServer::start().await.expect("moto_server starts");
    let management = AwsAccountId::parse(&fresh_account_id()).expect("valid id");
    EmulatorAdmin::new(&moto.endpoint())
        .create_organization(&management)
        .await
        .expect("organization");
    let database = TestDatabase::create().await.expect("database");
    let directory = tempfile::tempdir().expect("temp dir");
    let key_file = directory.path().join("dev-key.pem");
    let port = free_port();
    // Nothing of the machine's own AWS setup (profiles, instance metadata) may leak in: the process gets
    // exactly these variables.
    let environment = [
        ("TENURE_ENVIRONMENT", "development".to_owned()),
        ("TENURE_AUTH__DEV_KEY_FILE", key_file.display().to_string()),
        (
            "TENURE_PROVISIONING__DATABASE__URL",
            database.url().expose().to_owned(),
        ),
        ("TENURE_PROVISIONING__LISTEN", format!("127.0.0.1:{port}")),
        ("TENURE_TELEMETRY__METRICS_LISTEN", "127.0.0.1:0".to_owned()),
        ("TENURE_TELEMETRY__LOG_FILTER", "warn".to_owned()),
        ("TENURE_PROVISIONING__BACKEND__KIND", "aws".to_owned()),
        (
            "TENURE_PROVISIONING__BACKEND__AWS__ENDPOINT_URL",
            moto.endpoint(),
        ),
        (
            "TENURE_PROVISIONING__BACKEND__AWS__ROLE_NAME",
            "OrganizationAccountAccessRole".to_owned(),
        ),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        (
            "AWS_CONFIG_FILE",
            directory.path().join("no-config").display().to_string(),
        ),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            directory
                .path()
                .join("no-credentials")
                .display()
                .to_string(),
        ),
    ];
    let tenure = |args: &[&str]| {
        let mut command = Command::new(TENURE);
        command.args(args).env_clear().envs(
            environment
                .iter()
                .map(|(name, value)| (*name, value.as_str())),
        );
        command
    };

    let migrated = tenure(&["migrate", "--service", "provisioning"])
        .output()
        .await
        .expect("tenure migrate");
    assert_success(&migrated);
    let mut server = spawn_server(&mut tenure(&["serve", "provisioning"]));
    let channel = connect(port).await;
    wait_until_serving(&channel, "tenure.provisioning.v1.ProvisioningService")
        .await
        .expect("ready");
    let key_path = key_file.display().to_string();
    let minted = tenure(&[ORDERS_TOKEN_ARGS.as_slice(), &[key_path.as_str()]].concat())
        .output()
        .await
        .expect("tenure token");
    let token = printed(minted);
    let token = token.as_str();

    let mut client = ProvisioningServiceClient::new(channel);
    let started = client
        .create_account(authorized(
            token,
            pb::CreateAccountRequest {
                idempotency_key: "cli-aws-create-0001".to_owned(),
                management_account_id: management.to_string(),
                email: "configured@example.com".to_owned(),
                account_name: "Configured".to_owned(),
            },
        ))
        .await
        .expect("CreateAccount")
        .into_inner()
        .operation
        .expect("operation");
    let mut operation = started;
    for _ in 0..100 {
        if operation.state != pb::OperationState::InProgress as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        operation = client
            .get_operation(authorized(
                token,
                pb::GetOperationRequest {
                    operation_id: operation.id.clone(),
                },
            ))
            .await
            .expect("GetOperation")
            .into_inner()
            .operation
            .expect("operation");
    }
    assert_eq!(
        operation.state,
        pb::OperationState::Succeeded as i32,
        "{operation:?}"
    );
    let created = AwsAccountId::parse(&operation.aws_account_id).expect("a 12-digit account id");

    // The new account is a member of the management account's organization, as AWS reports it.
    let described = client
        .describe_account(authorized(
            token,
            pb::DescribeAccountRequest {
                aws_account_id: created.to_string(),
            },
        ))
        .await
        .expect("DescribeAccount")
        .into_inner()
        .account
        .expect("account");
    assert_eq!(described.state, pb::AwsAccountState::Active as i32);
    assert_eq!(described.joined_method, "CREATED");
    server.start_kill().expect("stop");
}
