//! The `aws` backend pointed at an emulator (moto_server), shared by the tests of this crate and of the
//! service's engine so that both build the backend, and look behind it, the same way.
//!
//! Each test acts as accounts of its own (moto isolates state per `x-moto-account-id`), so tests on one
//! emulator share nothing. [`EmulatorAdmin`] does what the `Cloud` trait deliberately does not (create an
//! organization) and reads what a test must check independently of the backend under test (the stacks
//! an account holds), with raw SDK clients on a plain HTTP client: faults injected into the backend's
//! client never reach it.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_organizations::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_organizations::types::OrganizationFeatureSet;
use aws_smithy_runtime_api::client::http::HttpClient;
use aws_smithy_types::error::display::DisplayErrorContext;
use tenure_domain::AwsAccountId;

use crate::aws::EMULATOR_ACCOUNT_HEADER;
use crate::{AwsSettings, https_client};

/// Static test credentials and region, no IMDS or profile lookups, over `http_client` (the plain client
/// or a [`FaultInjector`](super::FaultInjector) around it).
pub fn static_sdk_config(http_client: impl HttpClient + 'static) -> SdkConfig {
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

/// Settings for the emulator at `endpoint`: accounts act through moto's account header, and the SDK
/// tries `max_attempts` times with a 1 ms backoff so that retries do not slow the tests.
pub fn emulator_settings(endpoint: &str, max_attempts: u32) -> AwsSettings {
    AwsSettings {
        endpoint_url: Some(endpoint.to_owned()),
        emulator_account_header: true,
        max_attempts,
        initial_backoff_ms: 1,
        ..AwsSettings::default()
    }
}

/// Raw SDK clients on the emulator, for setup and for checks behind the backend's back.
#[derive(Debug, Clone)]
pub struct EmulatorAdmin {
    organizations: aws_sdk_organizations::Client,
    cloudformation: aws_sdk_cloudformation::Client,
}

impl EmulatorAdmin {
    /// Clients on the emulator at `endpoint`.
    pub fn new(endpoint: &str) -> Self {
        let config = static_sdk_config(https_client());
        Self {
            organizations: aws_sdk_organizations::Client::from_conf(
                aws_sdk_organizations::config::Builder::from(&config)
                    .endpoint_url(endpoint)
                    .build(),
            ),
            cloudformation: aws_sdk_cloudformation::Client::from_conf(
                aws_sdk_cloudformation::config::Builder::from(&config)
                    .endpoint_url(endpoint)
                    .build(),
            ),
        }
    }

    /// Makes `management` the management account of a new organization with all features.
    pub async fn create_organization(&self, management: &AwsAccountId) -> anyhow::Result<()> {
        let acting = management.as_str().to_owned();
        self.organizations
            .create_organization()
            .feature_set(OrganizationFeatureSet::All)
            .customize()
            .mutate_request(move |request| {
                request
                    .headers_mut()
                    .insert(EMULATOR_ACCOUNT_HEADER, acting.clone());
            })
            .send()
            .await
            .map_err(|error| {
                anyhow::anyhow!("CreateOrganization: {}", DisplayErrorContext(&error))
            })?;
        Ok(())
    }

    /// The names of every stack of `account` that is not deleted, one entry per stack (a duplicate
    /// shows as two entries).
    pub async fn live_stack_names(&self, account: &AwsAccountId) -> anyhow::Result<Vec<String>> {
        let acting = account.as_str().to_owned();
        let output = self
            .cloudformation
            .list_stacks()
            .customize()
            .mutate_request(move |request| {
                request
                    .headers_mut()
                    .insert(EMULATOR_ACCOUNT_HEADER, acting.clone());
            })
            .send()
            .await
            .map_err(|error| anyhow::anyhow!("ListStacks: {}", DisplayErrorContext(&error)))?;
        Ok(output
            .stack_summaries()
            .iter()
            .filter(|summary| {
                summary
                    .stack_status()
                    .is_none_or(|status| status.as_str() != "DELETE_COMPLETE")
            })
            .filter_map(|summary| summary.stack_name().map(str::to_owned))
            .collect())
    }
}
