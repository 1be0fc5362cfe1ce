//! The `aws` backend: every [`Cloud`] call on the official SDK (Organizations and CloudFormation).
//!
//! Each call runs as its acting account: through a role assumed in that account (`role_name`), through
//! an emulator's account header, or with the ambient credentials. The SDK retries throttling, 5xx and
//! transient failures with jittered backoff, plus `ConcurrentModificationException`, which its standard
//! classifiers leave alone; calls without an idempotency token are never re-sent once they may have
//! been executed (see [`errors::NoRetryOnceSent`]).

mod acting;
mod convert;
mod errors;
mod settings;

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudformation::operation as cfn;
use aws_sdk_cloudformation::types::{Capability, DeletionMode, PermissionModels};
use aws_sdk_organizations::operation as org;
use aws_sdk_organizations::types::{
    ActionType, HandshakeFilter, HandshakeParty, HandshakePartyType, ResponsibilityTransferType,
};
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use chrono::{DateTime, Utc};
use tenure_domain::AwsAccountId;

use self::acting::Clients;
use self::errors::{NoRetryOnceSent, RetryConcurrentModification, cloud_error};
pub use self::settings::AwsSettings;
use crate::{
    AccountDescription, BackendKind, BillingTransfer, Cloud, CloudResult, CreateAccountStatus,
    Handshake, HandshakeAction, InstanceTargets, StackDeletion, StackDescription, StackInstance,
    StackSetDescription, StackSetOperationStatus, StackSetSpec, StackSpec, TransferInvitation,
};

/// The header that makes moto act as the account it names.
pub(crate) const EMULATOR_ACCOUNT_HEADER: &str = "x-moto-account-id";

/// The `aws` backend.
#[derive(Debug)]
pub struct AwsCloud {
    sdk_config: SdkConfig,
    settings: AwsSettings,
    interceptors: Vec<SharedInterceptor>,
    /// Clients per acting account: each carries that account's credentials (an assumed role's cache)
    /// or emulator header, so building them once keeps role sessions alive across calls.
    clients: Mutex<HashMap<AwsAccountId, Clients>>,
}

/// Whether AWS makes a repeated request harmless. Decides if the SDK may re-send after a request may
/// already have been executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// A native token, an "already in state"/"not found" outcome, or a read.
    Harmless,
    /// No native protection: a second request could duplicate the effect (domain.md §6.5).
    Duplicates,
}

impl AwsCloud {
    /// Loads the standard AWS configuration chain (environment, profile, web identity, IMDS) with the
    /// region and endpoint of `settings`, over the one rustls/ring HTTPS client the workspace builds.
    pub async fn connect(settings: &AwsSettings) -> anyhow::Result<Self> {
        let problems = settings.problems();
        if !problems.is_empty() {
            anyhow::bail!("invalid AWS settings: {}", problems.join("; "));
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .http_client(https_client());
        if let Some(endpoint) = &settings.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk_config = loader.load().await;
        Ok(Self::from_sdk_config(&sdk_config, settings))
    }

    /// Builds the backend on a configuration the caller assembled (tests: static credentials and their
    /// own HTTP client, e.g. a fault injector). `settings` still decide region, endpoint, retries and how
    /// an account acts.
    pub fn from_sdk_config(sdk_config: &SdkConfig, settings: &AwsSettings) -> Self {
        let mut builder = sdk_config
            .to_builder()
            .region(Region::new(settings.region.clone()))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(settings.max_attempts.max(1))
                    .with_initial_backoff(Duration::from_millis(settings.initial_backoff_ms)),
            );
        if let Some(endpoint) = &settings.endpoint_url {
            builder = builder.endpoint_url(endpoint);
        }
        // The credential providers built from this config (role assumption) need a time source, which
        // the standard loader sets but a hand-built config may lack.
        if sdk_config.time_source().is_none() {
            builder = builder.time_source(SharedTimeSource::default());
        }
        Self {
            sdk_config: builder.build(),
            settings: settings.clone(),
            interceptors: Vec::new(),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Adds an SDK interceptor to the clients of both services, e.g. aws-smithy-mocks'
    /// `MockResponseInterceptor` in tests. Call it before the first call.
    #[must_use]
    pub fn with_interceptor(mut self, interceptor: SharedInterceptor) -> Self {
        self.interceptors.push(interceptor);
        self
    }
}

/// The HTTPS client of both services: hyper 1 with rustls on ring, the only TLS stack the workspace
/// builds (the SDK's default would add aws-lc). Plain-HTTP endpoints such as moto work with it too.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// Tenure's retry rules for one Organizations operation whose error type is `E`.
fn organizations_retries<E>(repeat: Repeat) -> aws_sdk_organizations::config::Builder
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let builder = aws_sdk_organizations::config::Builder::default()
        .retry_classifier(RetryConcurrentModification::<E>::new());
    match repeat {
        Repeat::Harmless => builder,
        Repeat::Duplicates => builder.retry_classifier(NoRetryOnceSent),
    }
}

/// Tenure's retry rules for one CloudFormation operation whose error type is `E`. Every CloudFormation
/// call Tenure makes is harmless to repeat (tokens, operation ids, reads).
fn cloudformation_retries<E>() -> aws_sdk_cloudformation::config::Builder
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    aws_sdk_cloudformation::config::Builder::default()
        .retry_classifier(RetryConcurrentModification::<E>::new())
}

/// Sends a fluent request with Tenure's retry rules and converts its error.
macro_rules! send {
    (organizations $error:ty, $repeat:expr, $request:expr) => {
        $request
            .customize()
            .config_override(organizations_retries::<$error>($repeat))
            .send()
            .await
            .map_err(cloud_error::<$error>)
    };
    (cloudformation $error:ty, $request:expr) => {
        $request
            .customize()
            .config_override(cloudformation_retries::<$error>())
            .send()
            .await
            .map_err(cloud_error::<$error>)
    };
}

/// Every item of a paginated listing, one `send!` per page: `$send` are `send!`'s leading arguments,
/// `$request` the request for one page token, `$items` the output's item list and `$convert` one item's
/// conversion.
macro_rules! every_item {
    ([$($send:tt)*], |$token:ident| $request:expr, $items:ident, $convert:expr $(,)?) => {
        every_page(|$token| {
            let request = $request;
            async {
                let output = send!($($send)*, request)?;
                Ok(Page {
                    items: output
                        .$items()
                        .iter()
                        .map($convert)
                        .collect::<CloudResult<_>>()?,
                    next_token: output.next_token().map(str::to_owned),
                })
            }
        })
        .await
    };
}

fn handshake_party(account: &AwsAccountId) -> CloudResult<HandshakeParty> {
    HandshakeParty::builder()
        .id(account.as_str())
        .r#type(HandshakePartyType::Account)
        .build()
        .map_err(|error| crate::CloudError {
            code: None,
            reason: None,
            http_status: None,
            ambiguous: false,
            message: format!("build the handshake party: {error}"),
        })
}

/// CloudFormation answers `ValidationError` "... does not exist" for a stack it does not know by name.
fn is_missing_stack(error: &crate::CloudError) -> bool {
    error.is("ValidationError") && error.message.contains("does not exist")
}

#[async_trait]
impl Cloud for AwsCloud {
    fn kind(&self) -> BackendKind {
        BackendKind::Aws
    }

    async fn create_account(
        &self,
        acting: &AwsAccountId,
        email: &str,
        account_name: &str,
    ) -> CloudResult<CreateAccountStatus> {
        let client = self.organizations(acting).await?;
        let output = send!(
            organizations org::create_account::CreateAccountError,
            Repeat::Duplicates,
            client.create_account().email(email).account_name(account_name)
        )?;
        convert::create_account_status(output.create_account_status())
    }

    async fn describe_create_account_status(
        &self,
        acting: &AwsAccountId,
        request_id: &str,
    ) -> CloudResult<CreateAccountStatus> {
        let client = self.organizations(acting).await?;
        let output = send!(
            organizations org::describe_create_account_status::DescribeCreateAccountStatusError,
            Repeat::Harmless,
            client
                .describe_create_account_status()
                .create_account_request_id(request_id)
        )?;
        convert::create_account_status(output.create_account_status())
    }

    async fn list_create_account_statuses(
        &self,
        acting: &AwsAccountId,
    ) -> CloudResult<Vec<CreateAccountStatus>> {
        let client = self.organizations(acting).await?;
        every_item!(
            [
                organizations org::list_create_account_status::ListCreateAccountStatusError,
                Repeat::Harmless
            ],
            |next_token| client
                .list_create_account_status()
                .set_next_token(next_token),
            create_account_statuses,
            |status| convert::create_account_status(Some(status)),
        )
    }

    async fn describe_account(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<AccountDescription> {
        let client = self.organizations(acting).await?;
        let output = send!(
            organizations org::describe_account::DescribeAccountError,
            Repeat::Harmless,
            client.describe_account().account_id(account.as_str())
        )?;
        convert::account(output.account())
    }

    async fn list_accounts(&self, acting: &AwsAccountId) -> CloudResult<Vec<AccountDescription>> {
        let client = self.organizations(acting).await?;
        every_item!(
            [organizations org::list_accounts::ListAccountsError, Repeat::Harmless],
            |next_token| client.list_accounts().set_next_token(next_token),
            accounts,
            |account| convert::account(Some(account)),
        )
    }

    async fn remove_account(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<()> {
        let client = self.organizations(acting).await?;
        send!(
            organizations org::remove_account_from_organization::RemoveAccountFromOrganizationError,
            Repeat::Harmless,
            client
                .remove_account_from_organization()
                .account_id(account.as_str())
        )?;
        Ok(())
    }

    async fn close_account(
        &self,
        acting: &AwsAccountId,
        account: &AwsAccountId,
    ) -> CloudResult<()> {
        let client = self.organizations(acting).await?;
        send!(
            organizations org::close_account::CloseAccountError,
            Repeat::Harmless,
            client.close_account().account_id(account.as_str())
        )?;
        Ok(())
    }

    async fn invite_account(
        &self,
        acting: &AwsAccountId,
        target: &AwsAccountId,
        notes: &str,
    ) -> CloudResult<Handshake> {
        let client = self.organizations(acting).await?;
        let output = send!(
            organizations org::invite_account_to_organization::InviteAccountToOrganizationError,
            Repeat::Duplicates,
            client
                .invite_account_to_organization()
                .target(handshake_party(target)?)
                .notes(notes)
        )?;
        convert::handshake(output.handshake(), acting)
    }

    async fn describe_handshake(
        &self,
        acting: &AwsAccountId,
        handshake_id: &str,
    ) -> CloudResult<Handshake> {
        let client = self.organizations(acting).await?;
        let output = send!(
            organizations org::describe_handshake::DescribeHandshakeError,
            Repeat::Harmless,
            client.describe_handshake().handshake_id(handshake_id)
        )?;
        convert::handshake(output.handshake(), acting)
    }

    async fn list_handshakes(
        &self,
        acting: &AwsAccountId,
        action: HandshakeAction,
    ) -> CloudResult<Vec<Handshake>> {
        let client = self.organizations(acting).await?;
        let action_type = match action {
            HandshakeAction::Invite => ActionType::InviteAccountToOrganization,
            HandshakeAction::TransferResponsibility => ActionType::TransferResponsibility,
        };
        let filter = HandshakeFilter::builder().action_type(action_type).build();
        every_item!(
            [
                organizations org::list_handshakes_for_organization::ListHandshakesForOrganizationError,
                Repeat::Harmless
            ],
            |next_token| client
                .list_handshakes_for_organization()
                .filter(filter.clone())
                .set_next_token(next_token),
            handshakes,
            |handshake| convert::handshake(Some(handshake), acting),
        )
    }

    async fn cancel_handshake(
        &self,
        acting: &AwsAccountId,
        handshake_id: &str,
    ) -> CloudResult<Handshake> {
        let client = self.organizations(acting).await?;
        let output = send!(
            organizations org::cancel_handshake::CancelHandshakeError,
            Repeat::Harmless,
            client.cancel_handshake().handshake_id(handshake_id)
        )?;
        convert::handshake(output.handshake(), acting)
    }

    async fn invite_billing_transfer(
        &self,
        acting: &AwsAccountId,
        invitation: &TransferInvitation,
    ) -> CloudResult<Handshake> {
        let client = self.organizations(acting).await?;
        let output = send!(
            organizations org::invite_organization_to_transfer_responsibility::InviteOrganizationToTransferResponsibilityError,
            Repeat::Duplicates,
            client
                .invite_organization_to_transfer_responsibility()
                .r#type(ResponsibilityTransferType::Billing)
                .target(handshake_party(&invitation.source_management_account)?)
                .start_timestamp(convert::to_smithy_time(invitation.start_at))
                .source_name(&invitation.source_name)
                .notes(&invitation.notes)
        )?;
        convert::handshake(output.handshake(), acting)
    }

    async fn describe_billing_transfer(
        &self,
        acting: &AwsAccountId,
        transfer_id: &str,
    ) -> CloudResult<BillingTransfer> {
        let client = self.organizations(acting).await?;
        let output = send!(
            organizations org::describe_responsibility_transfer::DescribeResponsibilityTransferError,
            Repeat::Harmless,
            client.describe_responsibility_transfer().id(transfer_id)
        )?;
        convert::billing_transfer(output.responsibility_transfer())
    }

    async fn list_inbound_billing_transfers(
        &self,
        acting: &AwsAccountId,
    ) -> CloudResult<Vec<BillingTransfer>> {
        let client = self.organizations(acting).await?;
        every_item!(
            [
                organizations org::list_inbound_responsibility_transfers::ListInboundResponsibilityTransfersError,
                Repeat::Harmless
            ],
            |next_token| client
                .list_inbound_responsibility_transfers()
                .r#type(ResponsibilityTransferType::Billing)
                .set_next_token(next_token),
            responsibility_transfers,
            |transfer| convert::billing_transfer(Some(transfer)),
        )
    }

    async fn terminate_billing_transfer(
        &self,
        acting: &AwsAccountId,
        transfer_id: &str,
        end_at: DateTime<Utc>,
    ) -> CloudResult<BillingTransfer> {
        let client = self.organizations(acting).await?;
        let output = send!(
            organizations org::terminate_responsibility_transfer::TerminateResponsibilityTransferError,
            Repeat::Harmless,
            client
                .terminate_responsibility_transfer()
                .id(transfer_id)
                .end_timestamp(convert::to_smithy_time(end_at))
        )?;
        convert::billing_transfer(output.responsibility_transfer())
    }

    async fn create_stack(
        &self,
        acting: &AwsAccountId,
        stack: &StackSpec,
        token: &str,
    ) -> CloudResult<String> {
        let client = self.cloudformation(acting).await?;
        let output = send!(
            cloudformation cfn::create_stack::CreateStackError,
            client
                .create_stack()
                .stack_name(&stack.name)
                .template_body(&stack.template_body)
                .capabilities(Capability::CapabilityNamedIam)
                .set_tags(Some(convert::to_stack_tags(&stack.tags)))
                .client_request_token(token)
        )?;
        returned(output.stack_id(), "CreateStack returned no StackId")
    }

    async fn describe_stack(
        &self,
        acting: &AwsAccountId,
        name_or_id: &str,
    ) -> CloudResult<Option<StackDescription>> {
        let client = self.cloudformation(acting).await?;
        let output = match send!(
            cloudformation cfn::describe_stacks::DescribeStacksError,
            client.describe_stacks().stack_name(name_or_id)
        ) {
            Ok(output) => output,
            Err(error) if is_missing_stack(&error) => return Ok(None),
            Err(error) => return Err(error),
        };
        match output.stacks() {
            [] => Ok(None),
            [stack] => convert::stack(stack).map(Some),
            stacks => Err(convert::invalid_response(format!(
                "DescribeStacks for one stack returned {}",
                stacks.len()
            ))),
        }
    }

    async fn delete_stack(
        &self,
        acting: &AwsAccountId,
        name_or_id: &str,
        token: &str,
        deletion: StackDeletion,
    ) -> CloudResult<()> {
        let client = self.cloudformation(acting).await?;
        let mode = match deletion {
            StackDeletion::Standard => None,
            StackDeletion::Force => Some(DeletionMode::ForceDeleteStack),
        };
        send!(
            cloudformation cfn::delete_stack::DeleteStackError,
            client
                .delete_stack()
                .stack_name(name_or_id)
                .client_request_token(token)
                .set_deletion_mode(mode)
        )?;
        Ok(())
    }

    async fn create_stack_set(
        &self,
        acting: &AwsAccountId,
        stack_set: &StackSetSpec,
        token: &str,
    ) -> CloudResult<String> {
        let client = self.cloudformation(acting).await?;
        let output = send!(
            cloudformation cfn::create_stack_set::CreateStackSetError,
            client
                .create_stack_set()
                .stack_set_name(&stack_set.name)
                .template_body(&stack_set.template_body)
                .capabilities(Capability::CapabilityNamedIam)
                .permission_model(PermissionModels::SelfManaged)
                .set_tags(Some(convert::to_stack_tags(&stack_set.tags)))
                .client_request_token(token)
        )?;
        returned(
            output.stack_set_id(),
            "CreateStackSet returned no StackSetId",
        )
    }

    async fn describe_stack_set(
        &self,
        acting: &AwsAccountId,
        name: &str,
    ) -> CloudResult<Option<StackSetDescription>> {
        let client = self.cloudformation(acting).await?;
        match send!(
            cloudformation cfn::describe_stack_set::DescribeStackSetError,
            client.describe_stack_set().stack_set_name(name)
        ) {
            Ok(output) => convert::stack_set(output.stack_set()).map(Some),
            Err(error) if error.is("StackSetNotFoundException") => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn delete_stack_set(&self, acting: &AwsAccountId, name: &str) -> CloudResult<()> {
        let client = self.cloudformation(acting).await?;
        send!(
            cloudformation cfn::delete_stack_set::DeleteStackSetError,
            client.delete_stack_set().stack_set_name(name)
        )?;
        Ok(())
    }

    async fn create_stack_instances(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
        targets: &InstanceTargets,
        operation_id: &str,
    ) -> CloudResult<String> {
        let client = self.cloudformation(acting).await?;
        let output = send!(
            cloudformation cfn::create_stack_instances::CreateStackInstancesError,
            client
                .create_stack_instances()
                .stack_set_name(stack_set)
                .set_accounts(Some(account_strings(&targets.accounts)))
                .set_regions(Some(targets.regions.clone()))
                .operation_id(operation_id)
        )?;
        returned(
            output.operation_id(),
            "CreateStackInstances returned no OperationId",
        )
    }

    async fn delete_stack_instances(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
        targets: &InstanceTargets,
        retain_stacks: bool,
        operation_id: &str,
    ) -> CloudResult<String> {
        let client = self.cloudformation(acting).await?;
        let output = send!(
            cloudformation cfn::delete_stack_instances::DeleteStackInstancesError,
            client
                .delete_stack_instances()
                .stack_set_name(stack_set)
                .set_accounts(Some(account_strings(&targets.accounts)))
                .set_regions(Some(targets.regions.clone()))
                .retain_stacks(retain_stacks)
                .operation_id(operation_id)
        )?;
        returned(
            output.operation_id(),
            "DeleteStackInstances returned no OperationId",
        )
    }

    async fn describe_stack_set_operation(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
        operation_id: &str,
    ) -> CloudResult<StackSetOperationStatus> {
        let client = self.cloudformation(acting).await?;
        let output = send!(
            cloudformation cfn::describe_stack_set_operation::DescribeStackSetOperationError,
            client
                .describe_stack_set_operation()
                .stack_set_name(stack_set)
                .operation_id(operation_id)
        )?;
        convert::stack_set_operation_status(output.stack_set_operation())
    }

    async fn list_stack_instances(
        &self,
        acting: &AwsAccountId,
        stack_set: &str,
    ) -> CloudResult<Vec<StackInstance>> {
        let client = self.cloudformation(acting).await?;
        every_item!(
            [cloudformation cfn::list_stack_instances::ListStackInstancesError],
            |next_token| client
                .list_stack_instances()
                .stack_set_name(stack_set)
                .set_next_token(next_token),
            summaries,
            convert::stack_instance,
        )
    }
}

/// One page of a listing: its items and the token of the next page.
struct Page<T> {
    items: Vec<T>,
    next_token: Option<String>,
}

/// Every item of a paginated listing; `page` sends the request for one page token.
async fn every_page<T, Sent>(mut page: impl FnMut(Option<String>) -> Sent) -> CloudResult<Vec<T>>
where
    Sent: Future<Output = CloudResult<Page<T>>>,
{
    let mut items = Vec::new();
    let mut next_token = None;
    loop {
        let mut found = page(next_token.take()).await?;
        items.append(&mut found.items);
        // AWS may return empty pages before the end: only a missing token ends the listing.
        match found.next_token {
            Some(token) => next_token = Some(token),
            None => return Ok(items),
        }
    }
}

/// The id an AWS call must return, or the invalid-response error `missing` describes.
fn returned(id: Option<&str>, missing: &str) -> CloudResult<String> {
    id.map(str::to_owned)
        .ok_or_else(|| convert::invalid_response(missing))
}

fn account_strings(accounts: &[AwsAccountId]) -> Vec<String> {
    accounts
        .iter()
        .map(|account| account.as_str().to_owned())
        .collect()
}
