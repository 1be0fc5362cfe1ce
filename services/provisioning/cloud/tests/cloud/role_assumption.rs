//! Role assumption, the production way of acting as an account: the backend asks STS for the role in the
//! acting account and calls Organizations with those credentials. moto attributes calls made with
//! assumed-role credentials to the account in the role's ARN, so the organization the backend sees is
//! the acting account's own, with no emulator header anywhere.

use tenure_provisioning_cloud::testing::{EmulatorAdmin, static_sdk_config};
use tenure_provisioning_cloud::{AwsCloud, AwsSettings, Cloud, https_client};
use tenure_testkit::moto::MotoServer;

use crate::support::fresh_account;

#[tokio::test]
async fn calls_run_as_the_acting_account_through_its_assumed_role() {
    let moto = MotoServer::start().await.expect("moto_server starts");
    let admin = EmulatorAdmin::new(&moto.endpoint());
    let first = fresh_account();
    let second = fresh_account();
    admin
        .create_organization(&first)
        .await
        .expect("first organization");
    admin
        .create_organization(&second)
        .await
        .expect("second organization");
    let settings = AwsSettings {
        endpoint_url: Some(moto.endpoint()),
        emulator_account_header: false,
        role_name: Some("OrganizationAccountAccessRole".to_owned()),
        max_attempts: 1,
        initial_backoff_ms: 1,
        ..AwsSettings::default()
    };
    let cloud = AwsCloud::from_sdk_config(&static_sdk_config(https_client()), &settings);

    let created = cloud
        .create_account(&first, "assumed@example.com", "Assumed")
        .await
        .expect("CreateAccount as the first management account");
    let first_accounts = cloud.list_accounts(&first).await.expect("first org");
    let second_accounts = cloud.list_accounts(&second).await.expect("second org");

    // Each organization lists its own management account, and only the first holds the new account.
    assert!(first_accounts.iter().any(|account| account.id == first));
    assert!(second_accounts.iter().any(|account| account.id == second));
    let new_account = created.account_id.expect("moto creates accounts at once");
    assert!(
        first_accounts
            .iter()
            .any(|account| account.id == new_account)
    );
    assert!(
        !second_accounts
            .iter()
            .any(|account| account.id == new_account || account.id == first),
        "the second organization saw the first one's accounts"
    );
}
