//! A [`ContractFixture`] on moto_server: each fixture runs the `aws` backend with the emulator account
//! header, and each organization is a fresh account of its own, so tests share nothing.

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_organizations::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_organizations::types::OrganizationFeatureSet;
use aws_smithy_runtime_api::client::http::{HttpClient, SharedHttpClient};
use chrono::Duration;
use tenure_domain::AwsAccountId;
use tenure_provisioning_cloud::contract::{ContractFixture, CustomerAnswer};
use tenure_provisioning_cloud::{AwsCloud, AwsSettings, CountingCloud};
use tenure_testkit::moto::{ACCOUNT_ID_HEADER, MotoServer, fresh_account_id};

/// Static test credentials and region, no IMDS or profile lookups, over `http_client`.
pub(crate) fn sdk_config(http_client: impl HttpClient + 'static) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "tenure-tests",
        )))
        .http_client(http_client)
        .build()
}

/// Emulator settings with a short retry budget, so that failures surface fast.
pub(crate) fn moto_settings(moto: &MotoServer) -> AwsSettings {
    AwsSettings {
        endpoint_url: Some(moto.endpoint()),
        emulator_account_header: true,
        max_attempts: 3,
        initial_backoff_ms: 1,
        ..AwsSettings::default()
    }
}

/// A new account id to act as.
pub(crate) fn fresh_account() -> AwsAccountId {
    AwsAccountId::parse(&fresh_account_id()).expect("the testkit makes valid ids")
}

/// A raw Organizations client acting as `account`, for what the `Cloud` trait does not do (create an
/// organization) or to look behind it.
pub(crate) fn raw_organizations(moto: &MotoServer, account: &AwsAccountId) -> RawOrganizations {
    RawOrganizations {
        client: aws_sdk_organizations::Client::from_conf(
            aws_sdk_organizations::config::Builder::from(&sdk_config(
                tenure_provisioning_cloud::https_client(),
            ))
            .endpoint_url(moto.endpoint())
            .build(),
        ),
        account: account.as_str().to_owned(),
    }
}

pub(crate) struct RawOrganizations {
    pub(crate) client: aws_sdk_organizations::Client,
    pub(crate) account: String,
}

impl RawOrganizations {
    pub(crate) async fn create_organization(&self) {
        let account = self.account.clone();
        self.client
            .create_organization()
            .feature_set(OrganizationFeatureSet::All)
            .customize()
            .mutate_request(move |request| {
                request
                    .headers_mut()
                    .insert(ACCOUNT_ID_HEADER, account.clone());
            })
            .send()
            .await
            .expect("moto creates the organization");
    }
}

/// A raw CloudFormation client acting as `account`.
pub(crate) async fn raw_stack_names(moto: &MotoServer, account: &AwsAccountId) -> Vec<String> {
    let client = aws_sdk_cloudformation::Client::from_conf(
        aws_sdk_cloudformation::config::Builder::from(&sdk_config(
            tenure_provisioning_cloud::https_client(),
        ))
        .endpoint_url(moto.endpoint())
        .build(),
    );
    let account = account.as_str().to_owned();
    let output = client
        .list_stacks()
        .customize()
        .mutate_request(move |request| {
            request
                .headers_mut()
                .insert(ACCOUNT_ID_HEADER, account.clone());
        })
        .send()
        .await
        .expect("moto lists the stacks");
    output
        .stack_summaries()
        .iter()
        .filter(|summary| {
            summary
                .stack_status()
                .is_none_or(|status| status.as_str() != "DELETE_COMPLETE")
        })
        .filter_map(|summary| summary.stack_name().map(str::to_owned))
        .collect()
}

pub(crate) struct MotoFixture {
    pub(crate) moto: MotoServer,
    pub(crate) cloud: CountingCloud<AwsCloud>,
}

impl MotoFixture {
    pub(crate) async fn start() -> Self {
        Self::start_with(tenure_provisioning_cloud::https_client()).await
    }

    /// A fixture whose backend reaches moto through `http_client` (e.g. a fault injector).
    pub(crate) async fn start_with_client(
        wrap: impl FnOnce(SharedHttpClient) -> SharedHttpClient,
    ) -> Self {
        Self::start_with(wrap(tenure_provisioning_cloud::https_client())).await
    }

    async fn start_with(http_client: SharedHttpClient) -> Self {
        let moto = MotoServer::start().await.expect("moto_server starts");
        let cloud = AwsCloud::from_sdk_config(&sdk_config(http_client), &moto_settings(&moto));
        Self {
            moto,
            cloud: CountingCloud::new(cloud),
        }
    }
}

#[async_trait]
impl ContractFixture for MotoFixture {
    type Cloud = CountingCloud<AwsCloud>;

    fn cloud(&self) -> &Self::Cloud {
        &self.cloud
    }

    async fn fresh_organization(&self) -> AwsAccountId {
        let management = fresh_account();
        raw_organizations(&self.moto, &management)
            .create_organization()
            .await;
        management
    }

    async fn standalone_account(&self) -> AwsAccountId {
        // moto has no account registry outside organizations: any id it has not seen is standalone.
        fresh_account()
    }

    async fn customer_answers(&self, _handshake_id: &str, _answer: CustomerAnswer) -> Option<()> {
        // moto 5.2.5 does not implement handshakes at all (HTTP 500 with an HTML body).
        None
    }

    async fn advance_clock(&self, _by: Duration) -> bool {
        false
    }

    fn backend_calls(&self) -> u64 {
        self.cloud.total()
    }
}
