//! From SDK shapes to the [`Cloud`](crate::Cloud) vocabulary, validating every identifier and required
//! field on the way (domain.md §6.2): a response that breaks a pattern is an error, never passed on.

use aws_sdk_cloudformation::types as cfn;
use aws_sdk_organizations::types as org;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use tenure_domain::AwsAccountId;

use crate::names::UnknownAwsValue;

use crate::{
    AccountDescription, AccountState, BillingTransfer, CREATE_ACCOUNT_REQUEST_PREFIX, CloudError,
    CloudResult, CreateAccountState, CreateAccountStatus, HANDSHAKE_PREFIX, Handshake,
    HandshakeAction, HandshakeState, JoinedMethod, StackDescription, StackInstance,
    StackSetDescription, StackSetOperationStatus, TRANSFER_PREFIX, TransferStatus, is_valid_aws_id,
};

/// A response Tenure cannot use. The call did reach AWS and may have taken effect, so it is ambiguous:
/// the engine reconciles rather than trusting or repeating it.
pub(crate) fn invalid_response(what: impl std::fmt::Display) -> CloudError {
    CloudError {
        code: None,
        reason: None,
        http_status: None,
        ambiguous: true,
        message: format!("AWS answered with an invalid response: {what}"),
    }
}

fn required<'a, T: ?Sized>(value: Option<&'a T>, field: &str) -> CloudResult<&'a T> {
    value.ok_or_else(|| invalid_response(format!("{field} is missing")))
}

pub(crate) fn account_id(raw: &str, field: &str) -> CloudResult<AwsAccountId> {
    AwsAccountId::parse(raw)
        .map_err(|_| invalid_response(format!("{field} {raw:?} is not a 12-digit account id")))
}

fn checked_id(raw: &str, prefix: &str, field: &str) -> CloudResult<String> {
    if is_valid_aws_id(raw, prefix) {
        Ok(raw.to_owned())
    } else {
        Err(invalid_response(format!(
            "{field} {raw:?} does not match {prefix}[0-9a-z]{{8,32}}"
        )))
    }
}

/// AWS timestamps carry milliseconds; awsJson writes them as fractional epoch seconds, whose float
/// parsing leaves noise below the millisecond (…59.999 reads as …59.999000072), so they are rounded to
/// the millisecond AWS meant.
pub(crate) fn timestamp(
    value: &aws_smithy_types::DateTime,
    field: &str,
) -> CloudResult<DateTime<Utc>> {
    let millis = value.secs().checked_mul(1_000).and_then(|millis| {
        millis.checked_add(i64::from(
            value.subsec_nanos().saturating_add(500_000) / 1_000_000,
        ))
    });
    millis
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(|| invalid_response(format!("{field} is out of range")))
}

pub(crate) fn to_smithy_time(value: DateTime<Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs_and_nanos(
        value.timestamp(),
        value.timestamp_subsec_nanos(),
    )
}

fn unknown(field: &str, value: &str) -> CloudError {
    invalid_response(format!("{field} has the unknown value {value:?}"))
}

/// The value of an AWS enumeration `field` from its AWS name, through the one table of names.
fn named<T: FromStr<Err = UnknownAwsValue>>(raw: &str, field: &str) -> CloudResult<T> {
    raw.parse().map_err(|_| unknown(field, raw))
}

/// The required enumeration `field` of a response, read through the one table of names.
fn enumerated<T, V>(value: Option<&V>, field: &str) -> CloudResult<T>
where
    T: FromStr<Err = UnknownAwsValue>,
    V: AsRef<str>,
{
    named(required(value, field)?.as_ref(), field)
}

pub(crate) fn create_account_status(
    status: Option<&org::CreateAccountStatus>,
) -> CloudResult<CreateAccountStatus> {
    let status = required(status, "CreateAccountStatus")?;
    let state: CreateAccountState = enumerated(status.state(), "CreateAccountStatus.State")?;
    let account_id = status
        .account_id()
        .map(|id| account_id(id, "CreateAccountStatus.AccountId"))
        .transpose()?;
    if state == CreateAccountState::Succeeded && account_id.is_none() {
        return Err(invalid_response(
            "a SUCCEEDED CreateAccountStatus names no AccountId",
        ));
    }
    Ok(CreateAccountStatus {
        request_id: checked_id(
            required(status.id(), "CreateAccountStatus.Id")?,
            CREATE_ACCOUNT_REQUEST_PREFIX,
            "CreateAccountStatus.Id",
        )?,
        account_name: required(status.account_name(), "CreateAccountStatus.AccountName")?
            .to_owned(),
        state,
        requested_at: timestamp(
            required(
                status.requested_timestamp(),
                "CreateAccountStatus.RequestedTimestamp",
            )?,
            "CreateAccountStatus.RequestedTimestamp",
        )?,
        account_id,
        failure_reason: status
            .failure_reason()
            .map(|reason| reason.as_str().to_owned()),
    })
}

pub(crate) fn account(account: Option<&org::Account>) -> CloudResult<AccountDescription> {
    let account = required(account, "Account")?;
    let state: AccountState = enumerated(account.state(), "Account.State")?;
    let joined_method: JoinedMethod = enumerated(account.joined_method(), "Account.JoinedMethod")?;
    Ok(AccountDescription {
        id: account_id(required(account.id(), "Account.Id")?, "Account.Id")?,
        // Names of transferred accounts may hold anything up to 128 characters: display data only.
        name: required(account.name(), "Account.Name")?.to_owned(),
        email: required(account.email(), "Account.Email")?.to_owned(),
        state,
        joined_method,
        joined_at: timestamp(
            required(account.joined_timestamp(), "Account.JoinedTimestamp")?,
            "Account.JoinedTimestamp",
        )?,
    })
}

/// A handshake as seen by the organization `acting`, whose counterpart is the `ACCOUNT` party that is
/// not `acting` itself.
pub(crate) fn handshake(
    handshake: Option<&org::Handshake>,
    acting: &AwsAccountId,
) -> CloudResult<Handshake> {
    let handshake = required(handshake, "Handshake")?;
    let action: HandshakeAction = enumerated(handshake.action(), "Handshake.Action")?;
    let state: HandshakeState = enumerated(handshake.state(), "Handshake.State")?;
    let target = handshake
        .parties()
        .iter()
        .filter(|party| party.r#type().as_str() == "ACCOUNT" && party.id() != acting.as_str())
        .map(|party| account_id(party.id(), "Handshake.Parties[ACCOUNT].Id"))
        .next()
        .ok_or_else(|| invalid_response("the handshake names no target account"))??;
    let mut transfer_id = None;
    let mut notes = None;
    let mut pending: Vec<&org::HandshakeResource> = handshake.resources().iter().collect();
    while let Some(resource) = pending.pop() {
        match resource.r#type().map(org::HandshakeResourceType::as_str) {
            Some("RESPONSIBILITY_TRANSFER") => {
                transfer_id = Some(checked_id(
                    required(
                        resource.value(),
                        "Handshake resource RESPONSIBILITY_TRANSFER",
                    )?,
                    TRANSFER_PREFIX,
                    "Handshake resource RESPONSIBILITY_TRANSFER",
                )?);
            }
            Some("NOTES") => notes = resource.value().map(str::to_owned),
            _ => {}
        }
        pending.extend(resource.resources());
    }
    Ok(Handshake {
        id: checked_id(
            required(handshake.id(), "Handshake.Id")?,
            HANDSHAKE_PREFIX,
            "Handshake.Id",
        )?,
        action,
        state,
        target,
        requested_at: timestamp(
            required(
                handshake.requested_timestamp(),
                "Handshake.RequestedTimestamp",
            )?,
            "Handshake.RequestedTimestamp",
        )?,
        expires_at: timestamp(
            required(
                handshake.expiration_timestamp(),
                "Handshake.ExpirationTimestamp",
            )?,
            "Handshake.ExpirationTimestamp",
        )?,
        transfer_id,
        notes,
    })
}

pub(crate) fn billing_transfer(
    transfer: Option<&org::ResponsibilityTransfer>,
) -> CloudResult<BillingTransfer> {
    let transfer = required(transfer, "ResponsibilityTransfer")?;
    let status: TransferStatus = enumerated(transfer.status(), "ResponsibilityTransfer.Status")?;
    let source = required(transfer.source(), "ResponsibilityTransfer.Source")?;
    Ok(BillingTransfer {
        id: checked_id(
            required(transfer.id(), "ResponsibilityTransfer.Id")?,
            TRANSFER_PREFIX,
            "ResponsibilityTransfer.Id",
        )?,
        status,
        source_management_account: account_id(
            required(source.management_account_id(), "Source.ManagementAccountId")?,
            "Source.ManagementAccountId",
        )?,
        start_at: timestamp(
            required(
                transfer.start_timestamp(),
                "ResponsibilityTransfer.StartTimestamp",
            )?,
            "ResponsibilityTransfer.StartTimestamp",
        )?,
        end_at: transfer
            .end_timestamp()
            .map(|end| timestamp(end, "ResponsibilityTransfer.EndTimestamp"))
            .transpose()?,
        active_handshake_id: transfer
            .active_handshake_id()
            .map(|id| {
                checked_id(
                    id,
                    HANDSHAKE_PREFIX,
                    "ResponsibilityTransfer.ActiveHandshakeId",
                )
            })
            .transpose()?,
    })
}

fn stack_tags(tags: &[cfn::Tag]) -> CloudResult<Vec<(String, String)>> {
    tags.iter()
        .map(|tag| {
            Ok((
                required(tag.key(), "Tag.Key")?.to_owned(),
                required(tag.value(), "Tag.Value")?.to_owned(),
            ))
        })
        .collect()
}

pub(crate) fn to_stack_tags(tags: &[(String, String)]) -> Vec<cfn::Tag> {
    tags.iter()
        .map(|(key, value)| cfn::Tag::builder().key(key).value(value).build())
        .collect()
}

pub(crate) fn stack(stack: &cfn::Stack) -> CloudResult<StackDescription> {
    Ok(StackDescription {
        stack_id: required(stack.stack_id(), "Stack.StackId")?.to_owned(),
        name: required(stack.stack_name(), "Stack.StackName")?.to_owned(),
        status: enumerated(stack.stack_status(), "Stack.StackStatus")?,
        tags: stack_tags(stack.tags())?,
    })
}

pub(crate) fn stack_set(stack_set: Option<&cfn::StackSet>) -> CloudResult<StackSetDescription> {
    let stack_set = required(stack_set, "StackSet")?;
    Ok(StackSetDescription {
        stack_set_id: required(stack_set.stack_set_id(), "StackSet.StackSetId")?.to_owned(),
        name: required(stack_set.stack_set_name(), "StackSet.StackSetName")?.to_owned(),
        status: enumerated(stack_set.status(), "StackSet.Status")?,
        tags: stack_tags(stack_set.tags())?,
    })
}

pub(crate) fn stack_set_operation_status(
    operation: Option<&cfn::StackSetOperation>,
) -> CloudResult<StackSetOperationStatus> {
    let operation = required(operation, "StackSetOperation")?;
    enumerated(operation.status(), "StackSetOperation.Status")
}

pub(crate) fn stack_instance(summary: &cfn::StackInstanceSummary) -> CloudResult<StackInstance> {
    Ok(StackInstance {
        account: account_id(
            required(summary.account(), "StackInstanceSummary.Account")?,
            "StackInstanceSummary.Account",
        )?,
        region: required(summary.region(), "StackInstanceSummary.Region")?.to_owned(),
        detailed_status: enumerated(
            summary
                .stack_instance_status()
                .and_then(cfn::StackInstanceComprehensiveStatus::detailed_status),
            "StackInstanceSummary.StackInstanceStatus.DetailedStatus",
        )?,
    })
}
