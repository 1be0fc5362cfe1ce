//! A [`ContractFixture`] on moto_server: each fixture runs the `aws` backend with the emulator account
//! header, and each organization is a fresh account of its own, so tests share nothing. The backend and
//! the raw clients come from `testing`, which the service's engine tests share.

use async_trait::async_trait;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use chrono::Duration;
use tenure_domain::AwsAccountId;
use tenure_provisioning_cloud::contract::{ContractFixture, CustomerAnswer};
use tenure_provisioning_cloud::testing::{EmulatorAdmin, emulator_settings, static_sdk_config};
use tenure_provisioning_cloud::{AwsCloud, CountingCloud};
use tenure_testkit::moto::{MotoServer, fresh_account_id};

/// A new account id to act as.
pub(crate) fn fresh_account() -> AwsAccountId {
    AwsAccountId::parse(&fresh_account_id()).expect("the testkit makes valid ids")
}

pub(crate) struct MotoFixture {
    // The emulator lives as long as the fixture.
    _moto: MotoServer,
    pub(crate) admin: EmulatorAdmin,
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
        // A short retry budget, so that failures surface fast.
        let cloud = AwsCloud::from_sdk_config(
            &static_sdk_config(http_client),
            &emulator_settings(&moto.endpoint(), 3),
        );
        Self {
            admin: EmulatorAdmin::new(&moto.endpoint()),
            _moto: moto,
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
        self.admin
            .create_organization(&management)
            .await
            .expect("moto creates the organization");
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
