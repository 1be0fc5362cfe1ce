//! The customer-facing words of orders: progress keys and messages (domain.md §4.2) and the catalogue
//! messages of queries and failures (§4.4). Messages may name the tenant's own account ids and dates,
//! never an email, a name or another tenant's data.

use chrono::{DateTime, Utc};
use tenure_domain::AwsAccountId;

/// What a message may mention.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub(crate) account_id: Option<AwsAccountId>,
    pub(crate) accounts: Vec<AwsAccountId>,
    pub(crate) start_at: Option<DateTime<Utc>>,
    pub(crate) accept_by: Option<DateTime<Utc>>,
    pub(crate) ends_at: Option<DateTime<Utc>>,
    pub(crate) next_at: Option<DateTime<Utc>>,
    pub(crate) order_id: Option<String>,
    pub(crate) step_title: Option<String>,
    pub(crate) note: Option<String>,
    pub(crate) days: Option<i64>,
    pub(crate) aws_reason: Option<String>,
}

fn date(at: Option<DateTime<Utc>>) -> String {
    at.map(|at| at.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "the date we agreed".to_owned())
}

fn datetime(at: Option<DateTime<Utc>>) -> String {
    at.map(|at| at.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "soon".to_owned())
}

impl Facts {
    fn account(&self) -> &str {
        self.account_id
            .as_ref()
            .map_or("your account", AwsAccountId::as_str)
    }
}

/// The progress message of a status key.
pub(crate) fn progress_message(status_key: &str, facts: &Facts) -> String {
    match status_key {
        "validating" => "Checking your order.".to_owned(),
        "assigning_payer" => "Preparing the management account for your organization.".to_owned(),
        "creating_account" => "Creating your AWS account.".to_owned(),
        "awaiting_aws_account" => "AWS is finishing the setup of your new account.".to_owned(),
        "deploying_baseline" => "Deploying the platform baseline to your account(s).".to_owned(),
        "cta_pending" => {
            "Consent to Assignment has been requested from AWS. This usually takes a few weeks."
                .to_owned()
        }
        "inviting" => "Sending invitations to your AWS account(s).".to_owned(),
        "transfer_invited" => format!(
            "Billing transfer invitation sent. Billing by us starts on {}.",
            date(facts.start_at)
        ),
        "awaiting_bootstrap_role" => format!(
            "Waiting for the bootstrap role in account {}.",
            facts.account()
        ),
        "awaiting_invitations" => "Waiting for your accounts to accept the invitations.".to_owned(),
        "activating" => "Activating your account(s).".to_owned(),
        "offboarding" => format!("Preparing the offboarding of account {}.", facts.account()),
        "removing_platform_resources" => {
            "Removing the CloudFormation resources we deployed.".to_owned()
        }
        "closing_account" => format!("AWS is closing account {}.", facts.account()),
        "unlinking" => format!("Ending the link of account {} with us.", facts.account()),
        "unlink_scheduled" => format!(
            "Your billing relationship ends on {} UTC.",
            datetime(facts.ends_at)
        ),
        "scheduling_purge" => format!(
            "Scheduling the deletion of the data we hold about account {}.",
            facts.account()
        ),
        "deferred_quota" => format!(
            "An AWS limit applies. We will try again automatically on {} UTC.",
            datetime(facts.next_at)
        ),
        "aws_slow" => "AWS is responding slowly. We keep trying.".to_owned(),
        "ops_paused" => {
            "Your order is paused while our team fixes a problem on our side.".to_owned()
        }
        "rolling_back" => "Undoing the changes made for this order.".to_owned(),
        "completed" => "Your order is complete.".to_owned(),
        "failed" => "Your order could not be completed.".to_owned(),
        "cancelled" => "Your order was cancelled.".to_owned(),
        key if key.starts_with("ops_task:") => format!(
            "Our team is working on: {}.",
            facts.step_title.as_deref().unwrap_or("a manual step")
        ),
        key if key.starts_with("customer_task:") => format!(
            "Your action is needed: {}.",
            facts.step_title.as_deref().unwrap_or("a manual step")
        ),
        _ => "Your order is being processed.".to_owned(),
    }
}

/// The message of a catalogue code for a query or a failure.
pub(crate) fn message(code: &str, facts: &Facts) -> String {
    let account = facts.account();
    match code {
        "TNR101" => "An AWS account already uses this email address. Enter a different root email address.".to_owned(),
        "TNR102" => "AWS did not accept this root email address. Enter a different one.".to_owned(),
        "TNR103" => "We could not create the account because the organization reached its AWS account limit. Nothing was created.".to_owned(),
        "TNR104" => format!(
            "AWS could not create the account (reason {}). Nothing was created. Contact support if this persists.",
            facts.aws_reason.as_deref().unwrap_or("unknown")
        ),
        "TNR105" => "AWS did not finish creating the account in time. Our team is checking; contact support before retrying.".to_owned(),
        "TNR201" => format!("We could not invite account {account}. Check that it is the management account of your organization."),
        "TNR202" => format!(
            "Accept the billing transfer invitation in the Billing and Cost Management console of account {account} before {} UTC.",
            datetime(facts.accept_by)
        ),
        "TNR203" => format!("The billing transfer invitation for {account} was declined. Place a new order to try again."),
        "TNR204" => format!("The billing transfer invitation for {account} was cancelled."),
        "TNR205" => format!("The billing transfer invitation for {account} expired before it was accepted."),
        "TNR206" => format!("The billing transfer for {account} was withdrawn."),
        "TNR207" => format!("Account {account} already has a billing transfer with another partner. End it, then resubmit."),
        "TNR208" => "Your AWS pricing agreement does not allow billing transfer. Contact your account manager.".to_owned(),
        "TNR209" => format!("Deploy the bootstrap stack in account {account} using the link provided. We check regularly."),
        "TNR210" => "The bootstrap role was not deployed in time. The billing transfer has been withdrawn.".to_owned(),
        "TNR211" => format!("AWS limits prevent a new billing transfer for {account}. Our team has been notified."),
        "TNR212" => "We could not deploy the platform baseline to your accounts. Contact support.".to_owned(),
        "TNR213" => format!("Account {account} cannot be transferred to your subscription. Contact support."),
        "TNR301" => format!(
            "Accept the invitation to join the organization for: {}. Or remove those accounts from the order.",
            facts
                .accounts
                .iter()
                .map(AwsAccountId::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "TNR302" => format!("The invitation for {account} was declined or withdrawn. Remove the account or contact support."),
        "TNR303" => format!("The invitation for {account} expired. Remove the account or contact support."),
        "TNR304" => format!("Account {account} still belongs to another organization. Have it leave, then confirm here."),
        "TNR305" => format!("Account {account} needs a payment method before it can be invited. Add one, then confirm."),
        "TNR306" => format!("Account {account} is registered with a different AWS seller and cannot join. Remove it from the order."),
        "TNR307" => "AWS did not consent to the assignment of your agreement.".to_owned(),
        "TNR310" => format!(
            "Our team could not complete \"{}\": {}.",
            facts.step_title.as_deref().unwrap_or("a manual step"),
            facts.note.as_deref().unwrap_or("no reason given")
        ),
        "TNR401" => format!("Account {account} needs a payment method, a verified phone number and accepted AWS terms before it can leave. Sign in to it, complete these, then confirm."),
        "TNR402" => format!("AWS lets a newly created account leave only a few days after creation. Next attempt {} UTC.", datetime(facts.next_at)),
        "TNR403" => format!("AWS's limit on account closures has been reached. Next attempt {} UTC.", datetime(facts.next_at)),
        "TNR404" => "The management account still has member accounts. Close or remove them, then confirm.".to_owned(),
        "TNR405" => "AWS refused the end date because your partner agreement commits the billing transfer beyond it.".to_owned(),
        "TNR406" => format!("Account {account} is a delegated administrator. Deregister it, then confirm."),
        "TNR407" => format!("Sign in as the root user of {account}, close the account in its account settings, then confirm here."),
        "TNR408" => format!("We could not remove our CloudFormation resources from {account}. Your account is unchanged and our team has been notified."),
        "TNR409" => format!("AWS has suspended account {account}. Contact AWS Support."),
        "TNR410" => format!("Account {account} has already left the organization and cannot be closed by us."),
        "TNR901" => "AWS is responding slowly. We keep trying.".to_owned(),
        "TNR902" => "Your order is paused while our team fixes a problem on our side.".to_owned(),
        "TNR903" => format!(
            "Something went wrong on our side. Changes made for this order were undone where possible. Contact support with order {}.",
            facts.order_id.as_deref().unwrap_or("")
        ),
        "TNR904" => format!(
            "This order waited longer than {} days for {} and was closed.",
            facts.days.unwrap_or(0),
            facts.step_title.as_deref().unwrap_or("a step")
        ),
        "TNR905" => "Our team closed this order after it had changed your AWS account; what was already done stays in place.".to_owned(),
        _ => "Something went wrong on our side. Contact support.".to_owned(),
    }
}

/// True for codes the customer answers with corrected input, as opposed to codes that resume on
/// their own once the customer acted in AWS.
pub(crate) fn is_customer_input(code: &str) -> bool {
    matches!(
        code,
        "TNR101"
            | "TNR102"
            | "TNR201"
            | "TNR207"
            | "TNR302"
            | "TNR303"
            | "TNR304"
            | "TNR305"
            | "TNR306"
            | "TNR401"
            | "TNR404"
            | "TNR406"
            | "TNR407"
    )
}

/// What a customer task asks, step by step, beyond its title. Seed 001 is the source: the closing
/// precautions before an unlink, and how to close an account as its root user.
pub(crate) fn instructions(step: &str) -> &'static [&'static str] {
    const CLOSE_AS_ROOT: &[&str] = &[
        "Log in to the AWS Management Console with the root user of the account, not an IAM user.",
        "Select the account name in the navigation bar, then select My Account.",
        "Scroll down to the Close Account section.",
        "Read and understand the account closure terms and conditions.",
        "Select all check boxes, then select Close Account.",
        "Select Close Account in the confirmation box.",
        "AWS emails a confirmation within a few minutes; then complete this task.",
        "To close the management account of an organization, delete the organization first. AWS \
         Support cannot close an account on your behalf.",
    ];
    match step {
        "shut_down_resources" => &[
            "Back up the resources and data you want to keep.",
            "Check every region for active resources, services and agreements, and shut down what \
             you no longer need: leaving the platform does not stop them.",
            "Reserved Instances and Savings Plans keep charging until their term ends.",
            "Complete this task when you are done, or reject it to cancel the order.",
        ],
        "confirm_unlink" => &[
            "Check the account and the mode of this order.",
            "Complete this task to confirm that we may end the link to your account; reject it to \
             cancel the order.",
        ],
        "close_account_as_root" | "customer_root_closure" => CLOSE_AS_ROOT,
        "satisfaction_survey" => &[
            "Tell us how satisfied you are with the transfer, from 1 (not at all) to 5 (very), and \
             add a comment if you like.",
        ],
        _ => &[],
    }
}
