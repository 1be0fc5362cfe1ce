//! Onboarding rows: a new account (seed 002), a billing transfer of a management account (seed
//! 002), and the four ECAM/SPAM transfer scenarios of seed 003, each for a commercial and a public
//! sector tenant, with Consent to Assignment granted or refused.

use chrono::{Datelike as _, Timelike as _};
use tenure_grpc::ServiceKind;
use tenure_proto::accounts::v1 as accounts;
use tenure_proto::common::v1 as common;
use tenure_proto::orders::v1 as pb;
use tenure_proto::orders::v1::answer_order_query_request::Answer;
use tenure_proto::orders::v1::create_order_request::Details;
use tenure_proto::provisioning::v1 as prov;

use crate::orders::fresh_account;
use crate::scenarios::check::{
    Owner, State, account, account_state, answer, answer_survey, assert_steps, email, events,
    events_of, everyone_helps, operations_until, step_state,
};
use crate::stack::{As, Stack};

fn new_account(root_email: &str) -> Details {
    Details::NewAccount(pb::NewAccountOrder {
        root_email: root_email.to_owned(),
        account_name: "Example workload".to_owned(),
        support_contact: String::new(),
    })
}

/// The steps of a completed new-account order of an ECAM tenant without a support contact.
const NEW_ACCOUNT_DONE: &[(&str, Owner, State)] = &[
    ("assign_payer", Owner::Automation, State::Done),
    ("reserve_account", Owner::Automation, State::Done),
    ("create_account", Owner::Automation, State::Done),
    ("attach_account", Owner::Automation, State::Done),
    ("point_of_no_return", Owner::Automation, State::Done),
    ("deploy_baseline", Owner::Automation, State::Done),
    ("activate_account", Owner::Automation, State::Done),
    ("announce_activation", Owner::Automation, State::Done),
];

/// Seed 002, "New AWS account": the account is created in the platform organization, gets the
/// baseline, is activated and announced to billing.
pub(crate) async fn new_account_succeeds(stack: &Stack) {
    let tenant = stack.seed(0).await.tenant;
    let order = stack
        .place(tenant, new_account(&email("prod")))
        .await
        .expect("placed");
    let done = everyone_helps(stack, tenant, &order.id, pb::OrderStatus::Completed).await;
    assert_eq!(done.status_message, "Your order is complete.");
    assert_steps(stack, tenant, &order.id, NEW_ACCOUNT_DONE).await;
    assert_eq!(
        events(stack, &order.id, "account.activated").await,
        ["order.placed", "account.activated"]
    );
    assert_eq!(
        account_state(stack, tenant, &done.aws_account_id).await,
        accounts::AccountState::Active
    );
    assert!(
        crate::scenarios::check::purges_of(stack, tenant, &done.aws_account_id)
            .await
            .is_empty(),
        "nothing to purge for a live account"
    );
}

/// A root email AWS already has for an account the platform never saw (the customer signed up
/// with it directly): AWS refuses the creation, and the customer is asked for another address
/// (TNR101), which then goes through.
pub(crate) async fn new_account_email_aws_already_knows(stack: &Stack) {
    let tenant = stack.seed(0).await.tenant;
    let taken = email("known-to-aws");
    stack
        .sandbox()
        .await
        .create_customer_account(stack.request(
            &As::Operator,
            ServiceKind::Provisioning,
            prov::CreateCustomerAccountRequest {
                email: taken.clone(),
                account_name: "Signed up directly".to_owned(),
            },
        ))
        .await
        .expect("the customer's own AWS account");
    let order = stack
        .place(tenant, new_account(&taken))
        .await
        .expect("placed");
    let querying = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Querying, false)
        .await;
    let query = querying.query.clone().expect("query");
    assert_eq!(query.code, "TNR101");
    assert_eq!(query.editable_fields, ["root_email"]);
    assert_eq!(
        query.message,
        "An AWS account already uses this email address. Enter a different root email address."
    );
    assert_eq!(querying.status_message, query.message);
    answer(
        stack,
        tenant,
        &querying,
        Answer::RootEmail(email("second-try")),
    )
    .await;
    let done = everyone_helps(stack, tenant, &order.id, pb::OrderStatus::Completed).await;
    assert_eq!(
        account_state(stack, tenant, &done.aws_account_id).await,
        accounts::AccountState::Active
    );
    let seen = events(stack, &order.id, "account.activated").await;
    assert_eq!(seen, ["order.placed", "account.activated"]);
}

/// A root email Tenure already holds for an active account of another tenant, asked for in other
/// letter case: the customer is asked for another address with exactly the words AWS's own refusal
/// gets (nothing tells it another tenant is involved), and nothing reaches AWS for the taken one.
/// The same tenant placing the same email twice is told its first order is still running.
pub(crate) async fn new_account_email_tenure_already_knows(stack: &Stack) {
    let owner = stack.seed(0).await.tenant;
    let taken = email("known-to-tenure");
    let first = stack
        .place(owner, new_account(&taken))
        .await
        .expect("placed");
    let second = stack
        .place(owner, new_account(&taken))
        .await
        .expect_err("the same email twice while the first order runs");
    assert_eq!(second.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        second.message(),
        format!(
            "Order {} for root email {taken} is still in progress. Wait until it ends, or cancel it.",
            first.id
        )
    );
    everyone_helps(stack, owner, &first.id, pb::OrderStatus::Completed).await;

    let tenant = stack.seed(0).await.tenant;
    let order = stack
        .place(tenant, new_account(&taken.to_uppercase()))
        .await
        .expect("placed: whether another tenant holds an email is nobody else's business");
    let querying = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Querying, false)
        .await;
    let query = querying.query.clone().expect("query");
    assert_eq!(query.code, "TNR101");
    assert_eq!(query.editable_fields, ["root_email"]);
    assert_eq!(
        query.message,
        "An AWS account already uses this email address. Enter a different root email address."
    );
    let timeline = stack.timeline(tenant, &order.id).await;
    let create = timeline
        .steps
        .iter()
        .find(|step| step.name == "create_account")
        .expect("create_account");
    assert_eq!(create.attempts, 0, "no AWS call for an email Tenure knows");
    answer(
        stack,
        tenant,
        &querying,
        Answer::RootEmail(email("second-try")),
    )
    .await;
    let done = everyone_helps(stack, tenant, &order.id, pb::OrderStatus::Completed).await;
    assert_steps(stack, tenant, &order.id, NEW_ACCOUNT_DONE).await;
    assert_eq!(
        account_state(stack, tenant, &done.aws_account_id).await,
        accounts::AccountState::Active
    );
}

fn billing_transfer(management: &str) -> Details {
    Details::BillingTransfer(pb::BillingTransferOrder {
        management_account_id: management.to_owned(),
        transfer_name: String::new(),
    })
}

/// A billing-transfer tenant (seed 002) with a commercial sector.
async fn billing_tenant(stack: &Stack) -> uuid::Uuid {
    stack
        .seed_tenant(
            0,
            common::Sector::Commercial,
            common::ResaleModel::BillingTransfer,
        )
        .await
        .tenant
}

/// The steps of a completed billing transfer of a commercial tenant.
const BILLING_TRANSFER_DONE: &[(&str, Owner, State)] = &[
    ("reserve_account", Owner::Automation, State::Done),
    ("invite_billing_transfer", Owner::Automation, State::Done),
    ("await_acceptance", Owner::Customer, State::Done),
    ("await_bootstrap_role", Owner::Customer, State::Done),
    ("deploy_baseline", Owner::Automation, State::Done),
    ("support_channel", Owner::Operations, State::Done),
    ("cost_visibility", Owner::Operations, State::Done),
    ("point_of_no_return", Owner::Automation, State::Done),
    ("activate_account", Owner::Automation, State::Done),
    ("announce_activation", Owner::Automation, State::Done),
];

/// Seed 002, "Transfer your existing AWS account": the administrator accepts the invitation and
/// deploys the bootstrap role; billing starts on the first of the month the transfer starts.
pub(crate) async fn billing_transfer_accepted(stack: &Stack) {
    let tenant = billing_tenant(stack).await;
    let management = fresh_account();
    let order = stack
        .place(tenant, billing_transfer(&management))
        .await
        .expect("placed");
    let querying = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Querying, false)
        .await;
    let query = querying.query.expect("query");
    assert_eq!(query.code, "TNR202");
    assert!(query.message.contains(&management), "{}", query.message);
    let handshake = stack.transfer_handshake(tenant, &management).await;
    stack.answer_handshake(&handshake, true).await;
    stack.signal(tenant, &order.id).await;
    // Accepted, but the bootstrap role is missing: the customer is told what to deploy.
    let waiting_for_role = stack
        .await_order(tenant, &order.id, false, |order| {
            order
                .query
                .as_ref()
                .is_some_and(|query| query.code == "TNR209")
        })
        .await;
    assert!(
        waiting_for_role.status_message.contains("bootstrap stack"),
        "{}",
        waiting_for_role.status_message
    );
    stack.deploy_customer_bootstrap(&management).await;
    stack.signal(tenant, &order.id).await;
    everyone_helps(stack, tenant, &order.id, pb::OrderStatus::Completed).await;
    assert_steps(stack, tenant, &order.id, BILLING_TRANSFER_DONE).await;
    let events = events_of(stack, &order.id, "account.activated").await;
    let activated = events
        .iter()
        .find_map(|event| match &event.payload {
            Some(pb::order_event::Payload::AccountActivated(activated)) => Some(activated),
            _ => None,
        })
        .expect("account.activated");
    let starts = activated.billing_starts_at.expect("billing start");
    let start = chrono::DateTime::from_timestamp(starts.seconds, 0).expect("instant");
    assert_eq!((start.day(), start.hour()), (1, 0), "{start}");
    let record = account(stack, tenant, &management).await;
    assert_eq!(record.state, accounts::AccountState::Active as i32);
    assert_eq!(record.billing_starts_at, Some(starts));
    assert_eq!(
        record.joined_method,
        accounts::JoinedMethod::BillingTransfer as i32
    );
}

/// The customer declines the invitation: the order fails with TNR203 after the invitation is
/// withdrawn and the reservation released; the account is abandoned.
pub(crate) async fn billing_transfer_declined(stack: &Stack) {
    let tenant = billing_tenant(stack).await;
    let management = fresh_account();
    let order = stack
        .place(tenant, billing_transfer(&management))
        .await
        .expect("placed");
    let handshake = stack.transfer_handshake(tenant, &management).await;
    stack.answer_handshake(&handshake, false).await;
    stack.signal(tenant, &order.id).await;
    let failed = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Failed, false)
        .await;
    let failure = failed.failure.expect("failure");
    assert_eq!(failure.code, "TNR203");
    assert_eq!(
        failure.message,
        format!(
            "The billing transfer invitation for {management} was declined. Place a new order to try again."
        )
    );
    assert_steps(
        stack,
        tenant,
        &order.id,
        &[
            ("reserve_account", Owner::Automation, State::Compensated),
            (
                "invite_billing_transfer",
                Owner::Automation,
                State::Compensated,
            ),
            ("await_acceptance", Owner::Customer, State::Failed),
            ("await_bootstrap_role", Owner::Customer, State::Pending),
            ("deploy_baseline", Owner::Automation, State::Pending),
            ("support_channel", Owner::Operations, State::Pending),
            ("cost_visibility", Owner::Operations, State::Pending),
            ("point_of_no_return", Owner::Automation, State::Pending),
            ("activate_account", Owner::Automation, State::Pending),
            ("announce_activation", Owner::Automation, State::Pending),
        ],
    )
    .await;
    assert_eq!(
        account_state(stack, tenant, &management).await,
        accounts::AccountState::Abandoned
    );
    let seen = events(stack, &order.id, "order.status_changed").await;
    assert!(!seen.contains(&"account.activated".to_owned()), "{seen:?}");
}

/// Nobody accepts before the cut-off: the order fails with TNR205.
pub(crate) async fn billing_transfer_expired(stack: &Stack) {
    let tenant = billing_tenant(stack).await;
    let management = fresh_account();
    let order = stack
        .place(tenant, billing_transfer(&management))
        .await
        .expect("placed");
    stack.transfer_handshake(tenant, &management).await;
    stack
        .await_status(tenant, &order.id, pb::OrderStatus::Querying, false)
        .await;
    // Past the acceptance cut-off (at most a month and a few days ahead) and the invitation's own
    // expiry, well before the order's 60-day deadline.
    stack.advance_days(40);
    stack.signal(tenant, &order.id).await;
    let failed = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Failed, false)
        .await;
    let failure = failed.failure.expect("failure");
    assert_eq!(failure.code, "TNR205");
    assert_eq!(
        failure.message,
        format!("The billing transfer invitation for {management} expired before it was accepted.")
    );
    assert_eq!(
        account_state(stack, tenant, &management).await,
        accounts::AccountState::Abandoned
    );
}

/// The customer accepts but never deploys the bootstrap role: after 14 days the order fails with
/// TNR210 and the transfer is withdrawn.
pub(crate) async fn billing_transfer_bootstrap_role_missing(stack: &Stack) {
    let tenant = billing_tenant(stack).await;
    let management = fresh_account();
    let order = stack
        .place(tenant, billing_transfer(&management))
        .await
        .expect("placed");
    let handshake = stack.transfer_handshake(tenant, &management).await;
    stack.answer_handshake(&handshake, true).await;
    stack.signal(tenant, &order.id).await;
    stack
        .await_order(tenant, &order.id, false, |order| {
            order
                .query
                .as_ref()
                .is_some_and(|query| query.code == "TNR209")
        })
        .await;
    stack.advance_days(15);
    stack.signal(tenant, &order.id).await;
    let failed = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Failed, false)
        .await;
    let failure = failed.failure.expect("failure");
    assert_eq!(failure.code, "TNR210");
    assert_eq!(
        failure.message,
        "The bootstrap role was not deployed in time. The billing transfer has been withdrawn."
    );
    assert_eq!(
        step_state(stack, tenant, &order.id, "invite_billing_transfer").await,
        State::Compensated
    );
    assert_eq!(
        account_state(stack, tenant, &management).await,
        accounts::AccountState::Abandoned
    );
}

/// Another tenant already holds the management account (quality.md S5): the order is accepted
/// exactly like one for an account nobody holds, ends with a coded message the customer can act on,
/// and never reaches AWS; the holder's account is untouched.
pub(crate) async fn billing_transfer_of_an_account_another_tenant_holds(stack: &Stack) {
    let holder = billing_tenant(stack).await;
    let management = fresh_account();
    stack
        .register_account(
            holder,
            &management,
            accounts::AccountRole::Management,
            common::AccountRelationship::BillingTransferSource,
            "",
        )
        .await;
    let tenant = billing_tenant(stack).await;
    let order = stack
        .place(tenant, billing_transfer(&management))
        .await
        .expect("accepted like any other account");
    let failed = stack
        .await_status(tenant, &order.id, pb::OrderStatus::Failed, false)
        .await;
    let failure = failed.failure.expect("failure");
    assert_eq!(failure.code, "TNR213");
    assert_eq!(
        failure.message,
        format!(
            "Account {management} cannot be transferred to your subscription. Contact support."
        )
    );
    assert_eq!(
        step_state(stack, tenant, &order.id, "invite_billing_transfer").await,
        State::Pending,
        "nothing reached AWS"
    );
    assert!(stack.invitations_to(tenant, &management).await.is_empty());
    assert_eq!(
        account_state(stack, holder, &management).await,
        accounts::AccountState::Active
    );
}

/// How Consent to Assignment goes in a public-sector transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cta {
    /// A commercial tenant: no CTA.
    NotNeeded,
    Granted,
    Refused,
}

/// One of seed 003's four scenarios.
#[derive(Debug, Clone, Copy)]
struct Scenario {
    model: common::ResaleModel,
    uses_organizations: bool,
}

impl Scenario {
    /// The steps of seed 003's table for this scenario, with Tenure's own automation between them
    /// (registering the accounts, the point of no return, activation and its announcement).
    fn steps(self, cta: Cta) -> Vec<(&'static str, Owner, State)> {
        let spam = self.model == common::ResaleModel::Spam;
        let handover = spam || self.uses_organizations;
        let mut steps = Vec::new();
        let mut push = |name, owner, applies: bool| {
            if applies {
                steps.push((name, owner, State::Done));
            }
        };
        push("create_payer", Owner::Operations, !self.uses_organizations);
        push("assign_payer", Owner::Automation, !self.uses_organizations);
        push("cta_request", Owner::Operations, cta != Cta::NotNeeded);
        push("reserve_accounts", Owner::Automation, true);
        push(
            "invite_accounts",
            Owner::Automation,
            !self.uses_organizations,
        );
        push(
            "await_invitations",
            Owner::Customer,
            !self.uses_organizations,
        );
        push("ownership_handover", Owner::Operations, handover);
        push(
            "point_of_no_return_after_handover",
            Owner::Automation,
            handover,
        );
        push("root_access_setup", Owner::Operations, handover);
        push("support_channel", Owner::Operations, true);
        push("deploy_baseline", Owner::Automation, true);
        push("cost_visibility", Owner::Operations, true);
        push("point_of_no_return", Owner::Automation, !handover);
        push("activate_accounts", Owner::Automation, true);
        push("announce_activation", Owner::Automation, true);
        push("satisfaction_survey", Owner::Customer, true);
        steps
    }
}

/// Seed 003: an ECAM or SPAM transfer, with or without AWS Organizations, for a commercial tenant or
/// a public-sector one whose Consent to Assignment AWS grants or refuses. A completed transfer ends
/// with the satisfaction survey, which never holds it; the customer answers it afterwards.
async fn organization_transfer(stack: &Stack, scenario: Scenario, cta: Cta) {
    let sector = match cta {
        Cta::NotNeeded => common::Sector::Commercial,
        Cta::Granted | Cta::Refused => common::Sector::Public,
    };
    let tenant = stack.seed_tenant(0, sector, scenario.model).await.tenant;
    let (management, linked) = if scenario.uses_organizations {
        (fresh_account(), Vec::new())
    } else {
        (String::new(), vec![fresh_account(), fresh_account()])
    };
    let order = stack
        .place(
            tenant,
            Details::OrganizationTransfer(pb::OrganizationTransferOrder {
                uses_organizations: scenario.uses_organizations,
                management_account_id: management.clone(),
                linked_account_ids: linked.clone(),
            }),
        )
        .await
        .expect("placed");
    if cta == Cta::Refused {
        let request = operations_until(stack, &order.id, "cta_request").await;
        stack
            .complete_task(
                &As::Operator,
                &request.id,
                pb::TaskOutcome::Rejected,
                "AWS refused the assignment",
            )
            .await
            .expect("rejected");
        let failed = stack
            .await_status(tenant, &order.id, pb::OrderStatus::Failed, false)
            .await;
        let failure = failed.failure.expect("failure");
        assert_eq!(failure.code, "TNR307");
        assert_eq!(
            failure.message,
            "AWS did not consent to the assignment of your agreement."
        );
        assert_eq!(
            step_state(stack, tenant, &order.id, "cta_request").await,
            State::Failed
        );
        assert!(
            events(stack, &order.id, "order.status_changed")
                .await
                .iter()
                .all(|kind| kind != "account.activated")
        );
        return;
    }
    if !scenario.uses_organizations {
        let querying = stack
            .await_status(tenant, &order.id, pb::OrderStatus::Querying, true)
            .await;
        let query = querying.query.expect("query");
        assert_eq!(query.code, "TNR301");
        assert_eq!(query.items.len(), linked.len(), "{query:?}");
        for handshake in stack.invitations(tenant, &linked).await {
            stack.answer_handshake(&handshake, true).await;
        }
        stack.signal(tenant, &order.id).await;
    }
    let done = everyone_helps(stack, tenant, &order.id, pb::OrderStatus::Completed).await;
    let mut expected = scenario.steps(cta);
    if let Some(survey) = expected.last_mut() {
        survey.2 = State::Waiting;
    }
    assert_steps(stack, tenant, &order.id, &expected).await;
    let survey = done.survey.expect("the survey was sent");
    assert_eq!(survey.state, pb::TaskState::Open as i32);
    answer_survey(stack, tenant, &order.id, 5).await;
    if let Some(survey) = expected.last_mut() {
        survey.2 = State::Done;
    }
    assert_steps(stack, tenant, &order.id, &expected).await;
    let answered = stack
        .order(&As::Customer(tenant), &order.id)
        .await
        .expect("order")
        .survey
        .expect("survey");
    assert_eq!(answered.state, pb::TaskState::Completed as i32);
    assert_eq!(answered.answer.map(|answer| answer.score), Some(5));
    let events = events_of(stack, &order.id, "survey.answered").await;
    let activated: Vec<String> = events
        .iter()
        .filter_map(|event| match &event.payload {
            Some(pb::order_event::Payload::AccountActivated(activated)) => {
                Some(activated.aws_account_id.clone())
            }
            _ => None,
        })
        .collect();
    let accounts_moved = if scenario.uses_organizations {
        vec![management.clone()]
    } else {
        linked.clone()
    };
    assert_eq!(activated, accounts_moved);
    let score = events.iter().find_map(|event| match &event.payload {
        Some(pb::order_event::Payload::SurveyChanged(changed)) => Some(changed.score),
        _ => None,
    });
    assert_eq!(score, Some(5));
    let (joined, relationship) = if scenario.uses_organizations {
        (
            accounts::JoinedMethod::HandedOver,
            common::AccountRelationship::PlatformPayer,
        )
    } else {
        (
            accounts::JoinedMethod::Invited,
            common::AccountRelationship::PlatformMember,
        )
    };
    for moved in &accounts_moved {
        let record = account(stack, tenant, moved).await;
        assert_eq!(record.state, accounts::AccountState::Active as i32);
        assert_eq!(record.joined_method, joined as i32);
        assert_eq!(record.relationship, relationship as i32);
    }
}

const SPAM_NO_ORG: Scenario = Scenario {
    model: common::ResaleModel::Spam,
    uses_organizations: false,
};
const SPAM_WITH_ORG: Scenario = Scenario {
    model: common::ResaleModel::Spam,
    uses_organizations: true,
};
const ECAM_NO_ORG: Scenario = Scenario {
    model: common::ResaleModel::Ecam,
    uses_organizations: false,
};
const ECAM_WITH_ORG: Scenario = Scenario {
    model: common::ResaleModel::Ecam,
    uses_organizations: true,
};

pub(crate) async fn spam_without_organizations(stack: &Stack) {
    organization_transfer(stack, SPAM_NO_ORG, Cta::NotNeeded).await;
}
pub(crate) async fn spam_without_organizations_public_cta_granted(stack: &Stack) {
    organization_transfer(stack, SPAM_NO_ORG, Cta::Granted).await;
}
pub(crate) async fn spam_without_organizations_public_cta_refused(stack: &Stack) {
    organization_transfer(stack, SPAM_NO_ORG, Cta::Refused).await;
}
pub(crate) async fn spam_with_organizations(stack: &Stack) {
    organization_transfer(stack, SPAM_WITH_ORG, Cta::NotNeeded).await;
}
pub(crate) async fn spam_with_organizations_public_cta_granted(stack: &Stack) {
    organization_transfer(stack, SPAM_WITH_ORG, Cta::Granted).await;
}
pub(crate) async fn spam_with_organizations_public_cta_refused(stack: &Stack) {
    organization_transfer(stack, SPAM_WITH_ORG, Cta::Refused).await;
}
pub(crate) async fn ecam_without_organizations(stack: &Stack) {
    organization_transfer(stack, ECAM_NO_ORG, Cta::NotNeeded).await;
}
pub(crate) async fn ecam_without_organizations_public_cta_granted(stack: &Stack) {
    organization_transfer(stack, ECAM_NO_ORG, Cta::Granted).await;
}
pub(crate) async fn ecam_without_organizations_public_cta_refused(stack: &Stack) {
    organization_transfer(stack, ECAM_NO_ORG, Cta::Refused).await;
}
pub(crate) async fn ecam_with_organizations(stack: &Stack) {
    organization_transfer(stack, ECAM_WITH_ORG, Cta::NotNeeded).await;
}
pub(crate) async fn ecam_with_organizations_public_cta_granted(stack: &Stack) {
    organization_transfer(stack, ECAM_WITH_ORG, Cta::Granted).await;
}
pub(crate) async fn ecam_with_organizations_public_cta_refused(stack: &Stack) {
    organization_transfer(stack, ECAM_WITH_ORG, Cta::Refused).await;
}
