//! How a call acts as its account: the clients of both services per acting account, carrying that
//! account's credentials (a role assumed in it) or, on an emulator, its account header.

use std::collections::HashMap;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use tenure_domain::AwsAccountId;

use super::{AwsCloud, EMULATOR_ACCOUNT_HEADER};
use crate::CloudResult;

/// Shows in the acting account's CloudTrail who assumed the role.
const ROLE_SESSION_NAME: &str = "tenure-provisioning";

#[derive(Debug, Clone)]
pub(super) struct Clients {
    organizations: aws_sdk_organizations::Client,
    cloudformation: aws_sdk_cloudformation::Client,
}

impl AwsCloud {
    /// The clients that act as `acting`.
    async fn clients(&self, acting: &AwsAccountId) -> CloudResult<Clients> {
        if let Some(clients) = self.cached_clients(|cache| cache.get(acting).cloned()) {
            return Ok(clients);
        }
        let mut organizations = aws_sdk_organizations::config::Builder::from(&self.sdk_config);
        let mut cloudformation = aws_sdk_cloudformation::config::Builder::from(&self.sdk_config);
        for interceptor in &self.interceptors {
            organizations.push_interceptor(interceptor.clone());
            cloudformation.push_interceptor(interceptor.clone());
        }
        if self.settings.emulator_account_header {
            let header = EmulatorAccountHeader {
                account: acting.as_str().to_owned(),
            };
            organizations = organizations.interceptor(header.clone());
            cloudformation = cloudformation.interceptor(header);
        } else if let Some(role) = &self.settings.role_name {
            let role_arn = format!("arn:aws:iam::{acting}:role/{role}");
            let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
                .session_name(ROLE_SESSION_NAME)
                .configure(&self.sdk_config)
                .build()
                .await;
            let provider = aws_sdk_organizations::config::SharedCredentialsProvider::new(provider);
            organizations = organizations.credentials_provider(provider.clone());
            cloudformation = cloudformation.credentials_provider(provider);
        }
        let clients = Clients {
            organizations: aws_sdk_organizations::Client::from_conf(organizations.build()),
            cloudformation: aws_sdk_cloudformation::Client::from_conf(cloudformation.build()),
        };
        // Two first calls for one account may both build clients; either set is as good as the other.
        Ok(self
            .cached_clients(|cache| {
                Some(
                    cache
                        .entry(acting.clone())
                        .or_insert_with(|| clients.clone())
                        .clone(),
                )
            })
            .unwrap_or(clients))
    }

    fn cached_clients<T>(
        &self,
        use_cache: impl FnOnce(&mut HashMap<AwsAccountId, Clients>) -> Option<T>,
    ) -> Option<T> {
        // A poisoned cache still holds whole clients: inserting is the only write.
        let mut cache = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        use_cache(&mut cache)
    }

    pub(super) async fn organizations(
        &self,
        acting: &AwsAccountId,
    ) -> CloudResult<aws_sdk_organizations::Client> {
        Ok(self.clients(acting).await?.organizations)
    }

    pub(super) async fn cloudformation(
        &self,
        acting: &AwsAccountId,
    ) -> CloudResult<aws_sdk_cloudformation::Client> {
        Ok(self.clients(acting).await?.cloudformation)
    }
}

/// Adds the emulator's account header to every request, after signing: moto does not verify
/// signatures, and real AWS never sees this mode (settings refuse it without an endpoint override).
#[derive(Debug, Clone)]
struct EmulatorAccountHeader {
    account: String,
}

impl Intercept for EmulatorAccountHeader {
    fn name(&self) -> &'static str {
        "EmulatorAccountHeader"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        context
            .request_mut()
            .headers_mut()
            .insert(EMULATOR_ACCOUNT_HEADER, self.account.clone());
        Ok(())
    }
}
