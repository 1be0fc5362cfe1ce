//! An account's life after its transfer, through the CLI alone: the satisfaction survey the transfer
//! ends with, removal from the platform and restore by a tenant administrator, and the open balance
//! the billing system reports and the customer must confirm to terminate. Every enum the customer
//! reads or gives is a proto value name, the server's vocabulary.

use std::process::Output;

use serde_json::Value;

use crate::client::{Client, DRIVING_ROUNDS, json_lines};
use crate::up::Up;

/// A customer's standalone AWS account, made in the sandbox as a sign-up with AWS would make it; its id.
pub(crate) async fn customer_account(cli: &Client<'_>) -> String {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let created = cli
        .json(
            &cli.up.token,
            &[
                "sandbox",
                "create-account",
                "--email",
                &format!("owner-{}@example.com", &unique[..10]),
                "--name",
                "Customer workload",
            ],
        )
        .await;
    let account = created["aws_account_id"].as_str().expect("account id");
    assert_eq!(account.len(), 12, "{created}");
    account.to_owned()
}

/// Transfers `account` into the tenant by ECAM invitation as the customer, and drives the order as
/// its actors would: operations complete their tasks, the customer accepts the invitation in the
/// sandbox and tells the order, and otherwise the sandbox clock moves on. The completed order.
pub(crate) async fn transfer(cli: &Client<'_>, customer: &str, account: &str) -> Value {
    let operator = &cli.up.token;
    let placed = cli
        .json(
            customer,
            &[
                "orders",
                "create",
                "organization-transfer",
                "--linked-account",
                account,
            ],
        )
        .await;
    let order_id = placed["id"].as_str().expect("order id").to_owned();
    let mut accepted = false;
    for _ in 0..DRIVING_ROUNDS {
        let order = cli.json(customer, &["orders", "get", &order_id]).await;
        match order["status"].as_str().expect("status") {
            "ORDER_STATUS_COMPLETED" => return order,
            "ORDER_STATUS_FAILED" | "ORDER_STATUS_CANCELLED" => {
                panic!("the transfer ended: {order}")
            }
            _ => {}
        }
        if !accepted {
            // Fails until the order has sent its invitation.
            let answer = cli
                .run(operator, &["sandbox", "accept", "--account", account])
                .await;
            if answer.status.success() {
                accepted = true;
                cli.ok(customer, &["orders", "signal", &order_id]).await;
                continue;
            }
        }
        let tasks = cli
            .json(operator, &["tasks", "list", "--order", &order_id])
            .await;
        let open = tasks["tasks"].as_array().expect("tasks").clone();
        for task in &open {
            let task_id = task["id"].as_str().expect("task id");
            cli.ok(operator, &["tasks", "complete", task_id, "--note", "done"])
                .await;
        }
        if open.is_empty() {
            cli.ok(operator, &["sandbox", "advance", "--by", "10m"])
                .await;
        }
    }
    panic!("transfer order {order_id} did not complete in {DRIVING_ROUNDS} rounds");
}

/// The standard error of a refused command, which must exit with 3.
fn refused(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(output.stdout.is_empty(), "{stderr}");
    stderr
}

#[tokio::test]
async fn a_transfer_ends_with_a_survey_the_customer_answers_with_a_score() {
    let up = Up::start().await;
    let cli = Client { up: &up };
    let customer = cli.ecam_customer().await;
    let account = customer_account(&cli).await;
    let order = transfer(&cli, &customer, &account).await;
    let order_id = order["id"].as_str().expect("id");

    // The order completed with its survey open: the survey never holds it.
    assert_eq!(order["survey"]["state"], "TASK_STATE_OPEN", "{order}");
    let task_id = order["survey"]["task_id"].as_str().expect("survey task");
    let timeline = cli.ok(&customer, &["orders", "timeline", order_id]).await;
    assert!(
        timeline.contains("survey  TASK_STATE_OPEN  deadline "),
        "{timeline}"
    );
    let survey_step = timeline
        .lines()
        .find(|line| line.starts_with("satisfaction_survey"))
        .unwrap_or_else(|| panic!("a survey step: {timeline}"));
    assert!(survey_step.contains("customer_task"), "{survey_step}");
    assert!(
        survey_step.contains("does not wait"),
        "the wait detail explains the follow-up: {survey_step}"
    );

    // The customer sees it among its tasks: a survey that does not hold the order.
    let tasks = cli
        .json(&customer, &["tasks", "list", "--order", order_id])
        .await;
    let listed = tasks["tasks"].as_array().expect("tasks");
    let survey = listed
        .iter()
        .find(|task| task["id"] == task_id)
        .unwrap_or_else(|| panic!("the survey task: {tasks}"));
    assert_eq!(survey["kind"], "TASK_KIND_SURVEY", "{survey}");
    assert_eq!(survey["blocks_order"], false);
    let table = cli
        .ok(&customer, &["tasks", "list", "--order", order_id])
        .await;
    assert!(table.starts_with("ID "), "{table}");
    assert!(table.contains("HOLDS_ORDER"), "{table}");
    let row = table
        .lines()
        .find(|line| line.starts_with(task_id))
        .unwrap_or_else(|| panic!("a row: {table}"));
    for cell in ["TASK_KIND_SURVEY", "TASK_STATE_OPEN", " no "] {
        assert!(row.contains(cell), "{cell} in {row}");
    }
    let shown = cli.ok(&customer, &["tasks", "show", task_id]).await;
    assert!(shown.contains("TASK_KIND_SURVEY"), "{shown}");
    assert!(
        shown
            .lines()
            .any(|line| line.starts_with("holds_order") && line.ends_with("no")),
        "{shown}"
    );

    // A survey is answered with a score; a score out of range is a usage error.
    let usage = cli
        .run(&customer, &["tasks", "complete", task_id, "--score", "6"])
        .await;
    assert_eq!(usage.status.code(), Some(2));
    let answered = cli
        .json(
            &customer,
            &[
                "tasks",
                "complete",
                task_id,
                "--score",
                "5",
                "--comment",
                "Smooth transfer",
            ],
        )
        .await;
    assert_eq!(answered["state"], "TASK_STATE_COMPLETED", "{answered}");
    assert_eq!(answered["survey"]["score"], 5);
    assert_eq!(answered["survey"]["comment"], "Smooth transfer");

    let order = cli.json(&customer, &["orders", "get", order_id]).await;
    assert_eq!(order["survey"]["state"], "TASK_STATE_COMPLETED", "{order}");
    assert_eq!(order["survey"]["answer"]["score"], 5);
    let shown = cli.ok(&customer, &["orders", "get", order_id]).await;
    assert!(
        shown
            .lines()
            .any(|line| line.starts_with("survey.answer.score") && line.ends_with(" 5")),
        "{shown}"
    );
    let timeline = cli.ok(&customer, &["orders", "timeline", order_id]).await;
    assert!(
        timeline.contains("survey  TASK_STATE_COMPLETED  score 5/5  resolved "),
        "{timeline}"
    );

    // Billing reads the answer's score on the stream.
    let tail = cli.billing_events(&["--order", order_id]).await;
    let answered = json_lines(&tail)
        .into_iter()
        .find(|event| event["type"] == "survey.answered")
        .unwrap_or_else(|| panic!("survey.answered in {tail}"));
    assert_eq!(answered["survey_changed"]["score"], 5, "{answered}");
}

#[tokio::test]
async fn a_termination_takes_the_servers_names_and_confirms_the_open_balance_billing_reported() {
    let up = Up::start().await;
    let cli = Client { up: &up };
    let customer = cli.ecam_customer().await;
    let account = customer_account(&cli).await;
    transfer(&cli, &customer, &account).await;

    // The billing system reports what is still to be paid; an account it does not know is named.
    let billing = cli.token("billing", None).await;
    let report = [
        "billing",
        "report-balance",
        "--account",
        account.as_str(),
        "--amount",
        "123.45",
        "--currency",
        "USD",
    ];
    let recorded = cli.json(&billing, &report).await;
    assert_eq!(recorded["recorded"], 1, "{recorded}");
    assert_eq!(
        recorded["unknown_aws_account_ids"],
        Value::Array(Vec::new())
    );
    let stranger = cli
        .ok(
            &billing,
            &[
                "billing",
                "report-balance",
                "--account",
                "999999999999",
                "--amount",
                "1",
                "--currency",
                "EUR",
            ],
        )
        .await;
    assert!(
        stranger.contains("unknown_aws_account_ids  999999999999"),
        "{stranger}"
    );
    let usage = cli
        .run(
            &billing,
            &[
                "billing",
                "report-balance",
                "--account",
                &account,
                "--amount",
                "12.3456789",
                "--currency",
                "USD",
            ],
        )
        .await;
    assert_eq!(usage.status.code(), Some(2), "more decimals than micros");
    // Customers cannot report balances.
    refused(&cli.run(&customer, &report).await);

    // The customer sees the balance on the account, as the amount to confirm.
    let record = cli.json(&customer, &["accounts", "get", &account]).await;
    assert_eq!(
        record["open_balance"]["amount"]["amount_micros"], 123_450_000,
        "{record}"
    );
    assert_eq!(record["open_balance"]["amount"]["currency_code"], "USD");
    let shown = cli.ok(&customer, &["accounts", "get", &account]).await;
    assert!(
        shown
            .lines()
            .any(|line| line.starts_with("open_balance.amount") && line.ends_with("123.45 USD")),
        "{shown}"
    );
    let eligibility = cli
        .json(
            &customer,
            &["accounts", "eligibility", &account, "--mode", "close"],
        )
        .await;
    assert_eq!(eligibility["eligible"], false, "{eligibility}");
    assert_eq!(
        eligibility["open_balance"]["amount"]["amount_micros"],
        123_450_000
    );
    let required: Vec<String> = eligibility["required_acknowledgements"]
        .as_array()
        .expect("acknowledgements")
        .iter()
        .map(|ack| ack.as_str().expect("name").to_owned())
        .collect();
    assert!(
        required.contains(&"ACKNOWLEDGEMENT_BACKUP".to_owned()),
        "{required:?}"
    );
    let verdict = cli
        .ok(
            &customer,
            &["accounts", "eligibility", &account, "--mode", "close"],
        )
        .await;
    assert!(
        verdict
            .lines()
            .any(|line| line.starts_with("eligible") && line.ends_with("no")),
        "{verdict}"
    );
    assert!(verdict.contains("123.45 USD"), "{verdict}");

    let terminate = |acks: &[String], balance: Option<(&str, &str)>| {
        let mut args: Vec<String> = [
            "orders",
            "create",
            "terminate",
            "--account",
            account.as_str(),
            "--mode",
            "TERMINATION_MODE_CLOSE",
        ]
        .map(str::to_owned)
        .to_vec();
        for ack in acks {
            args.extend(["--ack".to_owned(), ack.clone()]);
        }
        if let Some((amount, currency)) = balance {
            args.extend([
                "--open-balance".to_owned(),
                amount.to_owned(),
                "--currency".to_owned(),
                currency.to_owned(),
            ]);
        }
        args
    };
    let run = |args: Vec<String>| {
        let cli = &cli;
        let customer = customer.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cli.run(&customer, &args).await
        }
    };

    // One acknowledgement missing: the server names it as the CLI takes it (TNR007).
    let (first, rest) = required.split_first().expect("required acknowledgements");
    let stderr = refused(&run(terminate(rest, None)).await);
    assert!(stderr.contains("TNR007"), "{stderr}");
    assert!(
        stderr.contains(first.as_str()),
        "the refusal names {first} by its proto name: {stderr}"
    );

    // Every acknowledgement, by the proto names eligibility printed, and the shorthand of one of them.
    let mut acks = required.clone();
    acks.push("backup".to_owned());
    let stderr = refused(&run(terminate(&acks, None)).await);
    assert!(stderr.contains("TNR015"), "{stderr}");
    assert!(stderr.contains("123.45 USD"), "{stderr}");
    let stderr = refused(&run(terminate(&acks, Some(("123.4", "USD")))).await);
    assert!(
        stderr.contains("TNR015"),
        "a rounded amount is not the balance: {stderr}"
    );
    let mut args = terminate(&acks, Some(("123.45", "usd")));
    args.push("--json".to_owned());
    let placed = run(args).await;
    assert!(
        placed.status.success(),
        "{}",
        String::from_utf8_lossy(&placed.stderr)
    );
    let placed: Value = serde_json::from_slice(&placed.stdout).expect("json");
    assert_eq!(placed["kind"], "ORDER_KIND_TERMINATE", "{placed}");
    let confirmed = &placed["terminate"]["acknowledged_open_balance"];
    assert_eq!(confirmed["amount_micros"], 123_450_000, "{placed}");
    assert_eq!(confirmed["currency_code"], "USD");
    let order_id = placed["id"].as_str().expect("id");
    let shown = cli.ok(&customer, &["orders", "get", order_id]).await;
    assert!(
        shown.contains("ACKNOWLEDGEMENT_BACKUP"),
        "acknowledgements shown by their proto names: {shown}"
    );
    assert!(shown.contains("123.45 USD"), "{shown}");
}

#[tokio::test]
async fn a_tenant_administrator_removes_an_account_from_the_platform_and_restores_it() {
    let up = Up::start().await;
    let cli = Client { up: &up };
    let (tenant, admin_subject) = cli.tenant_with_admin("ecam").await;
    let customer = cli.token("customer", Some(&tenant)).await;
    let admin = cli.user_token(&tenant, &admin_subject).await;
    let account = customer_account(&cli).await;
    transfer(&cli, &customer, &account).await;
    let record = cli.json(&customer, &["accounts", "get", &account]).await;
    assert_eq!(record["state"], "ACCOUNT_STATE_ACTIVE", "{record}");
    let record_id = record["id"].as_str().expect("record id").to_owned();

    // Only the tenant's administrators, and operators with a reason and a ticket.
    let stderr = refused(
        &cli.run(&customer, &["accounts", "remove", &record_id])
            .await,
    );
    assert!(stderr.starts_with("error: permission denied: "), "{stderr}");
    let stderr = refused(
        &cli.run(
            &up.token,
            &[
                "accounts",
                "remove",
                &record_id,
                "--reason",
                "the customer asked by phone",
            ],
        )
        .await,
    );
    assert!(stderr.contains("ticket"), "{stderr}");

    let removed = cli
        .json(
            &admin,
            &[
                "accounts",
                "remove",
                &record_id,
                "--reason",
                "we manage it ourselves now",
            ],
        )
        .await;
    assert_eq!(removed["state"], "ACCOUNT_STATE_REMOVED", "{removed}");
    let purge_id = removed["removal_purge_id"].as_str().expect("purge");
    assert!(!purge_id.is_empty(), "{removed}");
    assert!(removed["removal_purge_due_at"].is_string(), "{removed}");
    let shown = cli.ok(&admin, &["accounts", "get", &record_id]).await;
    assert!(shown.contains("ACCOUNT_STATE_REMOVED"), "{shown}");
    assert!(
        shown
            .lines()
            .any(|line| line.starts_with("removal_purge_id") && line.ends_with(purge_id)),
        "{shown}"
    );
    assert!(shown.contains("removal_purge_due_at"), "{shown}");
    let listed = cli
        .ok(&customer, &["accounts", "list", "--state", "removed"])
        .await;
    let row = listed
        .lines()
        .find(|line| line.starts_with(account.as_str()))
        .unwrap_or_else(|| panic!("a removed row: {listed}"));
    assert!(row.contains("ACCOUNT_STATE_REMOVED"), "{row}");
    assert!(row.contains(purge_id), "{row}");
    // The removal can be undone while its purge has not run.
    let purge = cli.json(&up.token, &["purges", "get", purge_id]).await;
    assert_eq!(purge["id"], purge_id, "{purge}");

    let restored = cli
        .json(
            &admin,
            &[
                "accounts",
                "restore",
                &record_id,
                "--reason",
                "back on the platform",
            ],
        )
        .await;
    assert_eq!(restored["state"], "ACCOUNT_STATE_ACTIVE", "{restored}");
    assert_eq!(restored["removal_purge_id"], "", "{restored}");
    let purge = cli.json(&up.token, &["purges", "get", purge_id]).await;
    assert_eq!(purge["state"], "PURGE_STATE_CANCELLED", "{purge}");
}
