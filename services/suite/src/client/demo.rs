//! `tenure demo`: one tenant's whole tenure against a running `tenure up`. An operator registers the
//! tenant; the customer transfers an AWS account in by ECAM invitation, answers the satisfaction
//! survey the transfer ends with, and later closes the account; operations complete their manual
//! steps; the sandbox plays the customer's AWS side; the sandbox clock runs through the 30-day purge
//! grace period and the 90-day reopen window; the purge receipt ends it.
//!
//! The demo acts in each role with tokens it mints from the development key, and every run uses fresh
//! names, account ids and idempotency keys, so it can run again and again against the same stack.

use std::time::Duration;

use anyhow::Context as _;
use tenure_grpc::Role;
use tenure_proto::accounts::v1 as accounts;
use tenure_proto::common::v1 as common;
use tenure_proto::orders::v1 as pb;
use tenure_proto::purge::v1 as purge;
use tokio::time::Instant;
use uuid::Uuid;

use super::connect::{Session, idempotency_key};
use super::errors::{Answer as _, RpcError, present};
use super::proto::Proto as _;
use super::render::Printer;
use super::{accounts as accounts_client, events, orders, purges, sandbox, watch};
use crate::cli::{
    CreateOrder, CreateTenant, DemoArgs, IdempotencyKey, OpenBalanceArgs,
    OrganizationTransferOrder, TerminateOrder,
};
use crate::client::settings::ClientSettings;
use crate::config::SANDBOX_ORGANIZATION;
use crate::dev_key;

/// How long the demo's tokens live; a run takes seconds.
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// How long one stage may take in real time before the demo gives up and shows where it stands.
const STAGE_PATIENCE: Duration = Duration::from_secs(120);

/// How often the demo looks again while the stack works.
const POLL: Duration = Duration::from_millis(200);

/// The furthest the demo moves the clock to reach a step's next check; longer waits are deadlines,
/// not checks, and must not pass.
const LONGEST_CHECK_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Simulated days the demo fast-forwards: past the 30-day purge grace period, then past the 90-day
/// reopen window.
const PURGE_GRACE_DAYS: u64 = 31;
const REOPEN_WINDOW_DAYS: u64 = 91;

const DAY: Duration = Duration::from_secs(86_400);

/// The customer's answer to the satisfaction survey a transfer ends with.
const SURVEY_SCORE: u32 = 5;
const SURVEY_COMMENT: &str = "Smooth transfer, thank you.";

/// Every closing precaution the closure of a member account needs (domain.md §3.4).
const CLOSE_MEMBER_ACKNOWLEDGEMENTS: &[common::Acknowledgement] = &[
    common::Acknowledgement::Backup,
    common::Acknowledgement::OutstandingBill,
    common::Acknowledgement::Commitments,
    common::Acknowledgement::Resources,
    common::Acknowledgement::EmailNotReusable,
    common::Acknowledgement::ReopenWindow,
];

/// The demo's actors and what it prints.
struct Demo {
    operator: Session,
    customer: Option<Session>,
    printer: Printer,
    /// The last event position printed, so each stage prints only what is new.
    events_after: Option<String>,
    /// The orders whose events are shown.
    order_ids: Vec<String>,
}

pub(super) async fn run(
    args: &DemoArgs,
    settings: ClientSettings,
    printer: Printer,
) -> anyhow::Result<()> {
    let authority = dev_key::load(&args.key_file).with_context(|| {
        format!(
            "the demo mints its tokens with the key `tenure up` writes; pass --key-file if it is \
             not {}",
            args.key_file.display()
        )
    })?;
    let operator_token =
        authority.user_token(Role::Operator, "demo-operator", None, &[], TOKEN_LIFETIME)?;
    let mut demo = Demo {
        operator: Session::with_token(settings, &operator_token)?,
        customer: None,
        printer,
        events_after: None,
        order_ids: Vec::new(),
    };
    let unique = Uuid::new_v4().simple().to_string();

    demo.heading("1. An operator registers a tenant (ECAM, commercial)")?;
    let created = accounts_client::create_tenant(
        &demo.operator,
        CreateTenant {
            name: format!("Demo Corp {}", &unique[..8]),
            sector: common::Sector::Commercial as i32,
            resale_model: common::ResaleModel::Ecam as i32,
            marketplace_ref: format!("demo-{}", &unique[..12]),
            admin_email: format!("admin-{}@example.com", &unique[..8]),
            admin_name: "Ada Demo".to_owned(),
            admin_subject: format!("idp|demo-{}", &unique[..12]),
            key: IdempotencyKey::default(),
        },
    )
    .await?;
    let tenant = present(created.tenant, "tenant")?;
    let tenant_id: Uuid = tenant
        .id
        .parse()
        .with_context(|| format!("the tenant id {:?} is not a UUID", tenant.id))?;
    demo.say(&format!("tenant {} ({})", tenant.id, tenant.display_name))?;
    let customer_token = authority.user_token(
        Role::Customer,
        "demo-customer",
        Some(tenant_id),
        &[],
        TOKEN_LIFETIME,
    )?;
    demo.customer = Some(demo.operator.acting_as(&customer_token)?);

    demo.heading("2. The customer transfers a linked account by ECAM invitation")?;
    let account = fresh_account_id();
    let transfer = orders::create(
        demo.customer()?,
        CreateOrder::OrganizationTransfer(OrganizationTransferOrder {
            management_account: None,
            linked_account: vec![account.clone()],
            key: IdempotencyKey::default(),
        }),
    )
    .await?;
    demo.say(&format!("order {} for account {account}", transfer.id))?;
    demo.order_ids.push(transfer.id.clone());
    let transferred = demo.drive(&transfer.id, &account).await?;
    demo.expect_completed(&transferred)?;
    let survey = demo.answer_survey(&transfer.id).await?;
    let record = accounts_client::get_account(&demo.operator, &account).await?;
    demo.say(&format!(
        "account {account} is {}",
        account_state(record.state)
    ))?;

    demo.heading("3. The customer closes the account")?;
    let termination = orders::create(
        demo.customer()?,
        CreateOrder::Terminate(TerminateOrder {
            account: account.clone(),
            mode: common::TerminationMode::Close as i32,
            acknowledgements: CLOSE_MEMBER_ACKNOWLEDGEMENTS
                .iter()
                .map(|ack| *ack as i32)
                .collect(),
            reason: "the demo is over".to_owned(),
            // The demo's billing system reports no balance, so there is none to confirm.
            balance: OpenBalanceArgs::default(),
            key: IdempotencyKey::default(),
        }),
    )
    .await?;
    demo.say(&format!("order {}", termination.id))?;
    demo.order_ids.push(termination.id.clone());
    let terminated = demo.drive(&termination.id, &account).await?;
    demo.expect_completed(&terminated)?;
    // By record id from here on: a lookup by AWS id finds live records only.
    let closed = accounts_client::get_account(&demo.operator, &record.id).await?;
    demo.say(&format!(
        "account {account} is {}, reopenable until {}",
        account_state(closed.state),
        closed
            .reopen_until
            .map_or_else(|| "-".to_owned(), |until| until.to_string())
    ))?;
    let scheduled = demo.account_purge(&tenant.id, &account).await?;
    demo.say(&format!(
        "purge {} is due {}",
        scheduled.id,
        scheduled
            .due_at
            .map_or_else(|| "-".to_owned(), |due| due.to_string())
    ))?;

    demo.heading(&format!(
        "4. {PURGE_GRACE_DAYS} days later: the purge grace period is over"
    ))?;
    demo.advance(DAY * u32::try_from(PURGE_GRACE_DAYS)?).await?;
    let purged = demo.await_purge(&scheduled.id).await?;
    let receipt = purges::receipt(&demo.operator, &purged.id).await?;
    if !demo.printer.is_json() {
        demo.say("the purge receipt:")?;
        demo.printer.show(&receipt)?;
    }

    demo.heading(&format!(
        "5. {REOPEN_WINDOW_DAYS} days after the closure: the reopen window has ended"
    ))?;
    demo.advance(DAY * u32::try_from(REOPEN_WINDOW_DAYS - PURGE_GRACE_DAYS)?)
        .await?;
    let final_account = demo.await_permanent_closure(&record.id, &account).await?;
    let chain = purges::verify(&demo.operator).await?;
    demo.say(&format!(
        "receipt chain: {} receipts checked, {}",
        chain.checked,
        if chain.intact { "intact" } else { "BROKEN" }
    ))?;
    demo.print_new_events().await?;

    let summary = serde_json::json!({
        "demo": {
            "tenant_id": tenant.id,
            "aws_account_id": account,
            "transfer_order_id": transfer.id,
            "survey_state": pb::TaskState::try_from(survey.state)
                .map_or("UNKNOWN", |state| state.as_str_name()),
            "survey_score": survey.answer.as_ref().map(|answer| answer.score),
            "termination_order_id": termination.id,
            "account_state": accounts::AccountState::try_from(final_account.state)
                .map_or("UNKNOWN", |state| state.as_str_name()),
            "purge_id": purged.id,
            "purge_state": purge::PurgeState::try_from(purged.state)
                .map_or("UNKNOWN", |state| state.as_str_name()),
            "receipt_chain_intact": chain.intact,
        },
        "receipt": receipt.to_json()?,
    });
    if demo.printer.is_json() {
        crate::output::json_line(&summary).context("writing the summary")?;
    } else {
        demo.heading("Done")?;
        demo.say(&format!(
            "tenant {}: account {account} transferred (survey answered, {SURVEY_SCORE}/5), closed, \
             purged (receipt #{}) and permanently closed",
            tenant.id, receipt.sequence
        ))?;
    }
    if chain.intact {
        Ok(())
    } else {
        anyhow::bail!("the receipt chain did not verify")
    }
}

/// An account state by its proto name, as every output of the client names enum values.
fn account_state(state: i32) -> &'static str {
    accounts::AccountState::try_from(state).map_or("UNKNOWN", |state| state.as_str_name())
}

/// A random 12-digit AWS account id; the sandbox knows every id it is asked about.
fn fresh_account_id() -> String {
    format!("{:012}", Uuid::new_v4().as_u128() % 1_000_000_000_000)
}

impl Demo {
    fn customer(&self) -> anyhow::Result<&Session> {
        self.customer
            .as_ref()
            .context("the customer acts only once the tenant exists")
    }

    fn heading(&self, text: &str) -> anyhow::Result<()> {
        self.printer.note(&format!("\n== {text}"))
    }

    fn say(&self, text: &str) -> anyhow::Result<()> {
        self.printer.note(&format!("   {text}"))
    }

    /// Prints the events of the demo's orders committed since the last call: JSON lines with
    /// `--json`, else one line each.
    async fn print_new_events(&mut self) -> anyhow::Result<()> {
        if self.order_ids.is_empty() {
            return Ok(());
        }
        let start = match &self.events_after {
            Some(position) => pb::subscribe_request::Start::After(position.clone()),
            None => pb::subscribe_request::Start::FromBeginning(true),
        };
        let mut stream = self
            .operator
            .order_events()?
            .subscribe(pb::SubscribeRequest {
                start: Some(start),
                types: Vec::new(),
                order_ids: self.order_ids.clone(),
                max_batch: 0,
            })
            .await
            .answer()?;
        while let Some(batch) = stream.message().await.map_err(RpcError::from)? {
            for event in &batch.events {
                events::print(self.printer, event)?;
            }
            if !batch.position.is_empty() {
                self.events_after = Some(batch.position.clone());
            }
            if batch.caught_up {
                break;
            }
        }
        Ok(())
    }

    /// Runs an order to its end as its actors would: operations complete each task it opens, the
    /// customer accepts its invitations in AWS and tells the order, and the clock moves to each
    /// step's next check. Prints each change of the order and its events as it goes.
    async fn drive(&mut self, order_id: &str, account: &str) -> anyhow::Result<pb::Order> {
        let deadline = Instant::now() + STAGE_PATIENCE;
        let mut last_line = String::new();
        loop {
            let timeline = self
                .customer()?
                .orders()?
                .get_order_timeline(pb::GetOrderTimelineRequest {
                    order_id: order_id.to_owned(),
                })
                .await
                .answer()?;
            let order = present(timeline.order.clone(), "order")?;
            let update = pb::WatchOrderResponse {
                order: Some(order.clone()),
                steps: timeline.steps.clone(),
            };
            let line = watch::one_line(&update);
            if line != last_line {
                self.print_new_events().await?;
                self.say(&line)?;
                last_line = line;
            }
            if is_terminal(&order) {
                return Ok(order);
            }
            if Instant::now() >= deadline {
                orders::show_timeline(self.printer, &timeline)?;
                anyhow::bail!(
                    "order {order_id} made no progress for {}s; its timeline is above",
                    STAGE_PATIENCE.as_secs()
                );
            }
            if !self.help(&order, &timeline.steps, account).await? {
                tokio::time::sleep(POLL).await;
            }
        }
    }

    /// Does what the order waits for, if anyone but the stack itself can; whether it did anything.
    async fn help(
        &mut self,
        order: &pb::Order,
        steps: &[pb::OrderStep],
        account: &str,
    ) -> anyhow::Result<bool> {
        let tasks = self
            .operator
            .orders()?
            .list_tasks(pb::ListTasksRequest {
                page_size: 100,
                page_token: String::new(),
                state: pb::TaskState::Open as i32,
                order_id: order.id.clone(),
            })
            .await
            .answer()?;
        for task in &tasks.tasks {
            self.say(&format!(
                "operations complete task {} ({})",
                task.step, task.title
            ))?;
            self.operator
                .orders()?
                .complete_task(pb::CompleteTaskRequest {
                    idempotency_key: idempotency_key(None),
                    task_id: task.id.clone(),
                    outcome: pb::TaskOutcome::Completed as i32,
                    note: "done in the demo".to_owned(),
                    survey: None,
                })
                .await
                .answer()?;
        }
        if !tasks.tasks.is_empty() {
            return Ok(true);
        }
        if order.status == pb::OrderStatus::Querying as i32
            && order
                .query
                .as_ref()
                .is_some_and(|query| query.resume == pb::QueryResume::Automatic as i32)
        {
            // The order waits for the customer to act in AWS: here, to accept the invitation.
            match sandbox::answer_invitations(&self.operator, SANDBOX_ORGANIZATION, account, true)
                .await
            {
                Ok(accepted) => {
                    for handshake in accepted {
                        self.say(&format!(
                            "the customer accepts invitation {} in AWS",
                            handshake.id
                        ))?;
                    }
                    orders::signal(self.customer()?, &order.id, None).await?;
                    self.say("and tells the order to look again")?;
                    return Ok(true);
                }
                // Not sent yet, or already answered and not seen: look again shortly.
                Err(_) => return Ok(false),
            }
        }
        self.move_clock_to_next_check(steps).await
    }

    /// When the order waits on a check of AWS (a poll, or a signal it also polls for), a timer or a
    /// retry, moves the sandbox clock to when it is due, instead of waiting for it in real time.
    async fn move_clock_to_next_check(&mut self, steps: &[pb::OrderStep]) -> anyhow::Result<bool> {
        let due = steps.iter().find_map(|step| {
            let checks = matches!(
                step.wait_reason.as_str(),
                "aws_poll" | "timer" | "retry_backoff" | "poll" | "retry" | "signal"
            );
            (step.state == pb::StepState::Waiting as i32 && checks)
                .then_some(step.due_at)
                .flatten()
        });
        let Some(due) = due else {
            return Ok(false);
        };
        let clock = self
            .operator
            .sandbox()?
            .get_clock(tenure_proto::provisioning::v1::GetClockRequest {})
            .await
            .answer()?;
        let now = present(clock.now, "time")?;
        let gap = due.seconds.saturating_sub(now.seconds).saturating_add(1);
        let Ok(gap) = u64::try_from(gap) else {
            return Ok(false);
        };
        if gap <= 1 {
            return Ok(false);
        }
        let by = Duration::from_secs(gap).min(LONGEST_CHECK_WAIT);
        self.say(&format!(
            "the sandbox clock moves {}s to the next check",
            by.as_secs()
        ))?;
        sandbox::advance_clock(&self.operator, by).await?;
        Ok(true)
    }

    /// Answers, as the customer, the satisfaction survey a completed order left open: the survey
    /// never holds the order, so the order completes first and the customer answers afterwards.
    async fn answer_survey(&mut self, order_id: &str) -> anyhow::Result<pb::OrderSurvey> {
        let deadline = Instant::now() + STAGE_PATIENCE;
        let task = loop {
            let open = self
                .customer()?
                .orders()?
                .list_tasks(pb::ListTasksRequest {
                    page_size: 100,
                    page_token: String::new(),
                    state: pb::TaskState::Open as i32,
                    order_id: order_id.to_owned(),
                })
                .await
                .answer()?;
            if let Some(task) = open
                .tasks
                .into_iter()
                .find(|task| task.kind == pb::TaskKind::Survey as i32)
            {
                break task;
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "order {order_id} opened no satisfaction survey in {}s",
                    STAGE_PATIENCE.as_secs()
                );
            }
            tokio::time::sleep(POLL).await;
        };
        self.say(&format!(
            "the customer answers the satisfaction survey (task {}): {SURVEY_SCORE}/5, \"{SURVEY_COMMENT}\"",
            task.id
        ))?;
        self.customer()?
            .orders()?
            .complete_task(pb::CompleteTaskRequest {
                idempotency_key: idempotency_key(None),
                task_id: task.id,
                outcome: pb::TaskOutcome::Completed as i32,
                note: String::new(),
                survey: Some(pb::SurveyAnswer {
                    score: SURVEY_SCORE,
                    comment: SURVEY_COMMENT.to_owned(),
                }),
            })
            .await
            .answer()?;
        let order = orders::get(self.customer()?, order_id).await?;
        let survey = present(order.survey, "survey")?;
        self.print_new_events().await?;
        self.say(&format!(
            "the survey of order {order_id} is {}",
            pb::TaskState::try_from(survey.state).map_or("UNKNOWN", |state| state.as_str_name())
        ))?;
        Ok(survey)
    }

    fn expect_completed(&self, order: &pb::Order) -> anyhow::Result<()> {
        if order.status == pb::OrderStatus::Completed as i32 {
            Ok(())
        } else {
            anyhow::bail!(
                "order {} ended {} ({}): {}",
                order.id,
                pb::OrderStatus::try_from(order.status)
                    .map_or("UNKNOWN", |status| status.as_str_name()),
                order.status_key,
                order
                    .failure
                    .as_ref()
                    .map_or(String::new(), |failure| format!(
                        "{} {}",
                        failure.code, failure.message
                    ))
            )
        }
    }

    async fn advance(&mut self, by: Duration) -> anyhow::Result<()> {
        let moved = sandbox::advance_clock(&self.operator, by).await?;
        self.say(&format!(
            "the sandbox clock moves {} days, to {}",
            by.as_secs() / DAY.as_secs(),
            moved
                .now
                .map_or_else(|| "-".to_owned(), |now| now.to_string())
        ))
    }

    /// The purge the termination scheduled for `account`.
    async fn account_purge(&self, tenant_id: &str, account: &str) -> anyhow::Result<purge::Purge> {
        let listed = self
            .operator
            .purges()?
            .list_purges(purge::ListPurgesRequest {
                page_size: 100,
                page_token: String::new(),
                states: Vec::new(),
                aws_account_id: account.to_owned(),
                tenant_id: tenant_id.to_owned(),
            })
            .await
            .answer()?;
        listed
            .purges
            .into_iter()
            .next()
            .with_context(|| format!("the termination scheduled no purge of account {account}"))
    }

    /// Waits until the purge completed.
    async fn await_purge(&mut self, purge_id: &str) -> anyhow::Result<purge::Purge> {
        let deadline = Instant::now() + STAGE_PATIENCE;
        let mut last_state = 0;
        loop {
            let current = present(
                self.operator
                    .purges()?
                    .get_purge(purge::GetPurgeRequest {
                        purge_id: purge_id.to_owned(),
                    })
                    .await
                    .answer()?
                    .purge,
                "purge",
            )?;
            if current.state != last_state {
                last_state = current.state;
                self.say(&format!(
                    "purge {purge_id} is {}",
                    purge::PurgeState::try_from(current.state)
                        .map_or("UNKNOWN", |state| state.as_str_name())
                ))?;
            }
            match purge::PurgeState::try_from(current.state) {
                Ok(purge::PurgeState::Completed) => return Ok(current),
                Ok(purge::PurgeState::Cancelled | purge::PurgeState::Held) => {
                    anyhow::bail!("purge {purge_id} will not run: it is {}", current.state)
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "purge {purge_id} did not complete in {}s",
                    STAGE_PATIENCE.as_secs()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the account's closure is permanent.
    async fn await_permanent_closure(
        &mut self,
        record_id: &str,
        account: &str,
    ) -> anyhow::Result<accounts::AwsAccount> {
        let deadline = Instant::now() + STAGE_PATIENCE;
        loop {
            let record = accounts_client::get_account(&self.operator, record_id).await?;
            if record.state == accounts::AccountState::PermanentlyClosed as i32 {
                self.say(&format!(
                    "account {account} is {}",
                    account_state(record.state)
                ))?;
                return Ok(record);
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "account {account} is still {} after the reopen window",
                    account_state(record.state)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

fn is_terminal(order: &pb::Order) -> bool {
    matches!(
        pb::OrderStatus::try_from(order.status),
        Ok(pb::OrderStatus::Completed | pb::OrderStatus::Failed | pb::OrderStatus::Cancelled)
    )
}
