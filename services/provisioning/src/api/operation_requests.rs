//! The mutating requests of ProvisioningService, each converted into the operation it starts while
//! every violation is collected, so that one handler body serves them all.

use tenure_domain::{AccountName, AwsAccountId, FieldProblem, Problems, RootEmail};
use tenure_proto::provisioning::v1 as pb;

use crate::app::Planned;
use crate::domain::operation::{OperationRequest, StackSetTemplate};
use crate::domain::validate;

/// A request message that starts an operation under its idempotency key.
pub(super) trait StartsOperation: prost::Message + Send + 'static {
    /// The reply, which carries the operation.
    type Response;

    /// The idempotency key, which the request hash leaves out.
    fn idempotency_key(&mut self) -> &mut String;

    /// Checks every field but the key into the operation, recording each violation; `None` when a
    /// field the operation needs is invalid.
    fn plan(&self, problems: &mut Problems) -> Option<Planned>;

    /// The reply for the started (or replayed) operation.
    fn respond(operation: Option<pb::Operation>) -> Self::Response;
}

/// Implements [`StartsOperation`] for each `pb::$message`, answered by `pb::$response` and checked
/// by `$plan`.
macro_rules! starts_operation {
    ($($message:ident => $response:ident by $plan:ident,)*) => {$(
        impl StartsOperation for pb::$message {
            type Response = pb::$response;

            fn idempotency_key(&mut self) -> &mut String {
                &mut self.idempotency_key
            }

            fn plan(&self, problems: &mut Problems) -> Option<Planned> {
                $plan(self, problems)
            }

            fn respond(operation: Option<pb::Operation>) -> Self::Response {
                pb::$response { operation }
            }
        }
    )*};
}

/// The account id in `raw`, as `field`.
fn account(problems: &mut Problems, field: &str, raw: &str) -> Option<AwsAccountId> {
    problems.check(field, AwsAccountId::parse(raw))
}

fn template(problems: &mut Problems, raw: i32) -> Option<StackSetTemplate> {
    let template = match pb::StackSetTemplate::try_from(raw) {
        Ok(pb::StackSetTemplate::Essentials) => Ok(StackSetTemplate::Essentials),
        _ => Err(validate::required()),
    };
    problems.check("template", template)
}

/// The 1–20 unique accounts and 1–20 regions of a StackSet instance request.
fn instance_targets(
    problems: &mut Problems,
    accounts: &[String],
    regions: &[String],
) -> (Vec<AwsAccountId>, Vec<String>) {
    let limit = FieldProblem {
        field: String::new(),
        reason: "COUNT",
        description: "give 1 to 20 values",
        catalogue_code: Some("TNR005"),
    };
    if accounts.is_empty() || accounts.len() > 20 {
        problems.check("aws_account_ids", Err::<(), _>(limit.clone()));
    }
    if regions.is_empty() || regions.len() > 20 {
        problems.check("regions", Err::<(), _>(limit));
    }
    // An id that does not parse is left out, but it leaves a problem, so the request is refused
    // before the list is used.
    let mut parsed: Vec<AwsAccountId> = Vec::new();
    for (index, raw) in accounts.iter().enumerate() {
        if let Some(account) = problems.check(
            format!("aws_account_ids[{index}]"),
            AwsAccountId::parse(raw),
        ) {
            if parsed.contains(&account) {
                problems.check(
                    format!("aws_account_ids[{index}]"),
                    Err::<(), _>(FieldProblem {
                        field: String::new(),
                        reason: "DUPLICATE",
                        description: "this account is listed more than once",
                        catalogue_code: Some("TNR006"),
                    }),
                );
            }
            parsed.push(account);
        }
    }
    for (index, raw) in regions.iter().enumerate() {
        problems.check(format!("regions[{index}]"), validate::region(raw));
    }
    (parsed, regions.to_vec())
}

/// The management account and template of a StackSet request.
fn stack_set(
    problems: &mut Problems,
    management: &str,
    raw_template: i32,
) -> (Option<AwsAccountId>, Option<StackSetTemplate>) {
    let management = account(problems, "management_account_id", management);
    (management, template(problems, raw_template))
}

starts_operation! {
    CreateAccountRequest => CreateAccountResponse by create_account,
    RemoveAccountRequest => RemoveAccountResponse by remove_account,
    CloseAccountRequest => CloseAccountResponse by close_account,
    InviteAccountRequest => InviteAccountResponse by invite_account,
    CancelHandshakeRequest => CancelHandshakeResponse by cancel_handshake,
    InviteBillingTransferRequest => InviteBillingTransferResponse by invite_billing_transfer,
    EndBillingTransferRequest => EndBillingTransferResponse by end_billing_transfer,
    WithdrawBillingTransferRequest => WithdrawBillingTransferResponse by withdraw_billing_transfer,
    DeployBootstrapStackRequest => DeployBootstrapStackResponse by deploy_bootstrap_stack,
    DeleteBootstrapStackRequest => DeleteBootstrapStackResponse by delete_bootstrap_stack,
    CreateStackSetRequest => CreateStackSetResponse by create_stack_set,
    DeleteStackSetRequest => DeleteStackSetResponse by delete_stack_set,
    CreateStackInstancesRequest => CreateStackInstancesResponse by create_stack_instances,
    DeleteStackInstancesRequest => DeleteStackInstancesResponse by delete_stack_instances,
}

fn create_account(message: &pb::CreateAccountRequest, problems: &mut Problems) -> Option<Planned> {
    let management = account(
        problems,
        "management_account_id",
        &message.management_account_id,
    );
    problems.check("email", RootEmail::parse(&message.email));
    problems.check("account_name", AccountName::parse(&message.account_name));
    Some(Planned::Ready(OperationRequest::CreateAccount {
        management_account: management?,
        email: message.email.clone(),
        account_name: message.account_name.clone(),
    }))
}

fn remove_account(message: &pb::RemoveAccountRequest, problems: &mut Problems) -> Option<Planned> {
    let account = account(problems, "aws_account_id", &message.aws_account_id)?;
    Some(Planned::owner_of(
        &account.to_string(),
        |management_account| OperationRequest::RemoveAccount {
            management_account,
            account,
        },
    ))
}

fn close_account(message: &pb::CloseAccountRequest, problems: &mut Problems) -> Option<Planned> {
    let account = account(problems, "aws_account_id", &message.aws_account_id)?;
    Some(Planned::owner_of(
        &account.to_string(),
        |management_account| OperationRequest::CloseAccount {
            management_account,
            account,
        },
    ))
}

fn invite_account(message: &pb::InviteAccountRequest, problems: &mut Problems) -> Option<Planned> {
    let management = account(
        problems,
        "management_account_id",
        &message.management_account_id,
    );
    let target = account(problems, "target_account_id", &message.target_account_id);
    problems.check("order_id", tenure_domain::parse_id(&message.order_id));
    Some(Planned::Ready(OperationRequest::InviteAccount {
        management_account: management?,
        target: target?,
        order_id: message.order_id.clone(),
    }))
}

fn cancel_handshake(
    message: &pb::CancelHandshakeRequest,
    problems: &mut Problems,
) -> Option<Planned> {
    problems.check(
        "handshake_id",
        validate::aws_id(&message.handshake_id, "h-"),
    )?;
    let handshake_id = message.handshake_id.clone();
    Some(Planned::owner_of(
        &message.handshake_id,
        |management_account| OperationRequest::CancelHandshake {
            management_account,
            handshake_id,
        },
    ))
}

fn invite_billing_transfer(
    message: &pb::InviteBillingTransferRequest,
    problems: &mut Problems,
) -> Option<Planned> {
    let source = account(
        problems,
        "source_management_account_id",
        &message.source_management_account_id,
    );
    let source_name = problems.check("source_name", validate::source_name(&message.source_name));
    problems.check("order_id", tenure_domain::parse_id(&message.order_id));
    let (source, source_name) = (source?, source_name?);
    let order_id = message.order_id.clone();
    // The receiving organization is the platform's: the one recorded for this customer (a repeat
    // invitation) or the configured default.
    Some(Planned::owner_of(
        &source.to_string(),
        |management_account| OperationRequest::InviteBillingTransfer {
            management_account,
            source,
            source_name,
            order_id,
        },
    ))
}

fn end_billing_transfer(
    message: &pb::EndBillingTransferRequest,
    problems: &mut Problems,
) -> Option<Planned> {
    on_transfer(
        &message.transfer_id,
        problems,
        |management_account, transfer_id| OperationRequest::EndBillingTransfer {
            management_account,
            transfer_id,
        },
    )
}

fn withdraw_billing_transfer(
    message: &pb::WithdrawBillingTransferRequest,
    problems: &mut Problems,
) -> Option<Planned> {
    on_transfer(
        &message.transfer_id,
        problems,
        |management_account, transfer_id| OperationRequest::WithdrawBillingTransfer {
            management_account,
            transfer_id,
        },
    )
}

/// An operation on billing transfer `transfer_id`, acting as the organization that owns it.
fn on_transfer(
    transfer_id: &str,
    problems: &mut Problems,
    request: impl FnOnce(AwsAccountId, String) -> OperationRequest + Send + 'static,
) -> Option<Planned> {
    problems.check("transfer_id", validate::aws_id(transfer_id, "rt-"))?;
    let owned = transfer_id.to_owned();
    Some(Planned::owner_of(transfer_id, move |management_account| {
        request(management_account, owned)
    }))
}

fn deploy_bootstrap_stack(
    message: &pb::DeployBootstrapStackRequest,
    problems: &mut Problems,
) -> Option<Planned> {
    let account = account(problems, "aws_account_id", &message.aws_account_id)?;
    Some(Planned::Ready(OperationRequest::DeployBootstrapStack {
        account,
    }))
}

fn delete_bootstrap_stack(
    message: &pb::DeleteBootstrapStackRequest,
    problems: &mut Problems,
) -> Option<Planned> {
    let account = account(problems, "aws_account_id", &message.aws_account_id)?;
    Some(Planned::Ready(OperationRequest::DeleteBootstrapStack {
        account,
    }))
}

fn create_stack_set(
    message: &pb::CreateStackSetRequest,
    problems: &mut Problems,
) -> Option<Planned> {
    let (management, template) =
        stack_set(problems, &message.management_account_id, message.template);
    Some(Planned::Ready(OperationRequest::CreateStackSet {
        management_account: management?,
        template: template?,
    }))
}

fn delete_stack_set(
    message: &pb::DeleteStackSetRequest,
    problems: &mut Problems,
) -> Option<Planned> {
    let (management, template) =
        stack_set(problems, &message.management_account_id, message.template);
    Some(Planned::Ready(OperationRequest::DeleteStackSet {
        management_account: management?,
        template: template?,
    }))
}

fn create_stack_instances(
    message: &pb::CreateStackInstancesRequest,
    problems: &mut Problems,
) -> Option<Planned> {
    let (management, template) =
        stack_set(problems, &message.management_account_id, message.template);
    let (accounts, regions) =
        instance_targets(problems, &message.aws_account_ids, &message.regions);
    Some(Planned::Ready(OperationRequest::CreateStackInstances {
        management_account: management?,
        template: template?,
        accounts,
        regions,
    }))
}

fn delete_stack_instances(
    message: &pb::DeleteStackInstancesRequest,
    problems: &mut Problems,
) -> Option<Planned> {
    let (management, template) =
        stack_set(problems, &message.management_account_id, message.template);
    let (accounts, regions) =
        instance_targets(problems, &message.aws_account_ids, &message.regions);
    Some(Planned::Ready(OperationRequest::DeleteStackInstances {
        management_account: management?,
        template: template?,
        accounts,
        regions,
        retain_stacks: message.retain_stacks,
    }))
}
