//! From the SDK's errors to [`CloudError`], and the SDK retry rules Tenure adds (domain.md §6.1).

use std::error::Error as StdError;
use std::fmt;
use std::marker::PhantomData;

use aws_sdk_cloudformation::operation as cfn;
use aws_sdk_organizations::operation as org;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::CloudError;

/// The `Reason` field that some Organizations exceptions carry (`ConstraintViolationException`,
/// `HandshakeConstraintViolationException`, `InvalidInputException`).
pub(crate) trait ErrorReason {
    fn reason(&self) -> Option<&str> {
        None
    }
}

/// Implements [`ErrorReason`] for an operation's error enum from the variants that carry a reason. The
/// lists follow the SDK models: a variant named here that an operation lacks does not compile.
macro_rules! error_reasons {
    ($($error:ty => [$($variant:ident),*];)*) => {
        $(impl ErrorReason for $error {
            fn reason(&self) -> Option<&str> {
                match self {
                    $(Self::$variant(exception) => exception.reason().map(|reason| reason.as_str()),)*
                    _ => None,
                }
            }
        })*
    };
}

error_reasons! {
    org::create_account::CreateAccountError => [ConstraintViolationException, InvalidInputException];
    org::describe_create_account_status::DescribeCreateAccountStatusError => [InvalidInputException];
    org::list_create_account_status::ListCreateAccountStatusError => [InvalidInputException];
    org::describe_account::DescribeAccountError => [InvalidInputException];
    org::list_accounts::ListAccountsError => [InvalidInputException];
    org::remove_account_from_organization::RemoveAccountFromOrganizationError =>
        [ConstraintViolationException, InvalidInputException];
    org::close_account::CloseAccountError => [ConstraintViolationException, InvalidInputException];
    org::invite_account_to_organization::InviteAccountToOrganizationError =>
        [ConstraintViolationException, HandshakeConstraintViolationException, InvalidInputException];
    org::describe_handshake::DescribeHandshakeError => [InvalidInputException];
    org::list_handshakes_for_organization::ListHandshakesForOrganizationError => [InvalidInputException];
    org::cancel_handshake::CancelHandshakeError => [InvalidInputException];
    org::invite_organization_to_transfer_responsibility::InviteOrganizationToTransferResponsibilityError =>
        [ConstraintViolationException, HandshakeConstraintViolationException, InvalidInputException];
    org::describe_responsibility_transfer::DescribeResponsibilityTransferError => [InvalidInputException];
    org::list_inbound_responsibility_transfers::ListInboundResponsibilityTransfersError =>
        [ConstraintViolationException, InvalidInputException];
    org::terminate_responsibility_transfer::TerminateResponsibilityTransferError =>
        [ConstraintViolationException, InvalidInputException];
}

// CloudFormation exceptions carry no reason.
impl ErrorReason for cfn::create_stack::CreateStackError {}
impl ErrorReason for cfn::describe_stacks::DescribeStacksError {}
impl ErrorReason for cfn::delete_stack::DeleteStackError {}
impl ErrorReason for cfn::create_stack_set::CreateStackSetError {}
impl ErrorReason for cfn::describe_stack_set::DescribeStackSetError {}
impl ErrorReason for cfn::delete_stack_set::DeleteStackSetError {}
impl ErrorReason for cfn::create_stack_instances::CreateStackInstancesError {}
impl ErrorReason for cfn::delete_stack_instances::DeleteStackInstancesError {}
impl ErrorReason for cfn::describe_stack_set_operation::DescribeStackSetOperationError {}
impl ErrorReason for cfn::list_stack_instances::ListStackInstancesError {}

/// Converts an SDK error into AWS's own words: the exception name, its reason, the HTTP status, and
/// whether the request may have taken effect without a usable answer.
pub(crate) fn cloud_error<E>(error: SdkError<E, HttpResponse>) -> CloudError
where
    E: ProvideErrorMetadata + ErrorReason + StdError + Send + Sync + 'static,
{
    match &error {
        SdkError::ServiceError(context) => {
            let exception = context.err();
            let status = context.raw().status().as_u16();
            CloudError {
                code: exception.code().map(str::to_owned),
                reason: exception.reason().map(str::to_owned),
                http_status: Some(status),
                // A server error does not say whether the effect happened before it failed.
                ambiguous: status >= 500,
                message: exception
                    .message()
                    .map_or_else(|| DisplayErrorContext(&error).to_string(), str::to_owned),
            }
        }
        // The request never left: nothing happened.
        SdkError::ConstructionFailure(_) => CloudError {
            code: None,
            reason: None,
            http_status: None,
            ambiguous: false,
            message: DisplayErrorContext(&error).to_string(),
        },
        // An answer arrived but could not be read: the request was executed, its outcome is unknown.
        SdkError::ResponseError(context) => CloudError {
            code: None,
            reason: None,
            http_status: Some(context.raw().status().as_u16()),
            ambiguous: true,
            message: DisplayErrorContext(&error).to_string(),
        },
        // Timeouts, dispatch failures (a connection reset may come after the request was sent) and
        // anything newer the SDK adds: assume the request may have been executed.
        _ => CloudError::no_response(DisplayErrorContext(&error).to_string()),
    }
}

/// The classifiers run after the SDK's own, so that their verdict is the last word.
fn after_standard_classifiers() -> RetryClassifierPriority {
    RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
}

/// Retries `ConcurrentModificationException` like throttling: another writer holds the organization
/// for a moment. The SDK's standard classifiers do not retry it (domain.md §6.1). Generic over the
/// operation's error type because the SDK hands a classifier only the type-erased error.
pub(crate) struct RetryConcurrentModification<E> {
    operation_error: PhantomData<fn() -> E>,
}

impl<E> RetryConcurrentModification<E> {
    pub(crate) fn new() -> Self {
        Self {
            operation_error: PhantomData,
        }
    }
}

impl<E> fmt::Debug for RetryConcurrentModification<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RetryConcurrentModification")
    }
}

/// The exception that [`RetryConcurrentModification`] retries.
pub(crate) const CONCURRENT_MODIFICATION: &str = "ConcurrentModificationException";

impl<E> ClassifyRetry for RetryConcurrentModification<E>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let is_concurrent_modification = ctx
            .output_or_error()
            .and_then(Result::err)
            .and_then(|error| error.as_operation_error())
            .and_then(|error| error.downcast_ref::<E>())
            .is_some_and(|error| error.code() == Some(CONCURRENT_MODIFICATION));
        if is_concurrent_modification {
            RetryAction::throttling_error()
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "RetryConcurrentModification"
    }

    fn priority(&self) -> RetryClassifierPriority {
        after_standard_classifiers()
    }
}

/// For calls AWS gives no idempotency token (CreateAccount, the two invitations): once a request may
/// have been executed (no answer, an unreadable answer, a 5xx), the SDK must not send it again, or it
/// could create a second account or invitation. The error goes up as ambiguous, and the engine
/// reconciles by listing before it decides to re-send (domain.md §6.5). Throttling and
/// `ConcurrentModificationException` are refusals, so those are still retried.
#[derive(Debug)]
pub(crate) struct NoRetryOnceSent;

impl ClassifyRetry for NoRetryOnceSent {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let server_error = ctx
            .response()
            .is_some_and(|response| response.status().is_server_error());
        let maybe_executed = match ctx.output_or_error() {
            Some(Err(error)) => {
                error.is_timeout_error()
                    || error.is_response_error()
                    || error.as_connector_error().is_some()
                    || server_error
            }
            _ => false,
        };
        if maybe_executed {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "NoRetryOnceSent"
    }

    fn priority(&self) -> RetryClassifierPriority {
        after_standard_classifiers()
    }
}
