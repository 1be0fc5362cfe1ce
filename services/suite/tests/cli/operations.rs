//! What operations staff do from the command line alone: find a saga blocked past its point of no
//! return, retry it and abort it; suspend and resume a subscription; reopen a closed account. Each
//! verb is checked by what it changed, and each refuses a customer's token with what to do instead.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::client::{Client, DRIVING_ROUNDS};
use crate::lifecycle::{customer_account, transfer};
use crate::up::Up;

/// The standard error of a refused command, which must exit with 3 and print nothing else.
fn refused(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(output.stdout.is_empty(), "{stderr}");
    stderr
}

/// A customer's token refused an operators' verb, with the role it needs named.
fn refused_for_role(output: &Output) {
    let stderr = refused(output);
    assert!(stderr.contains("is for operations staff only"), "{stderr}");
    assert!(stderr.contains("tenure token --role operator"), "{stderr}");
    assert!(stderr.contains("permission denied"), "{stderr}");
}

/// The orders `sagas list --json` lists with these extra arguments.
async fn listed_orders(cli: &Client<'_>, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["sagas", "list", "--page-size", "100"];
    args.extend(extra);
    let listed = cli.json(&cli.up.token, &args).await;
    listed["sagas"]
        .as_array()
        .unwrap_or_else(|| panic!("sagas: {listed}"))
        .iter()
        .map(|saga| saga["order_id"].as_str().expect("order id").to_owned())
        .collect()
}

/// Polls the order's saga until `done` holds for it.
async fn await_saga(cli: &Client<'_>, order_id: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..300 {
        let saga = cli.json(&cli.up.token, &["sagas", "get", order_id]).await;
        if done(&saga) {
            return saga;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the saga of order {order_id} did not get there in 30 s");
}

/// Runs `args` as the operator until the orders service is not in the middle of a call on the saga
/// (ABORTED, "retry"), which an action right after another may meet.
async fn steer(cli: &Client<'_>, args: &[&str]) -> Output {
    for _ in 0..50 {
        let output = cli.run(&cli.up.token, args).await;
        if !String::from_utf8_lossy(&output.stderr).starts_with("error: aborted:") {
            return output;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the saga stayed busy: {args:?}");
}

#[tokio::test]
async fn a_saga_blocked_past_its_pivot_is_listed_stuck_retried_and_aborted() {
    let up = Up::start().await;
    let cli = Client { up: &up };
    let operator = up.token.clone();
    let tenant = cli.tenant("ecam").await;
    let customer = cli.token("customer", Some(&tenant)).await;

    // A new account with a support contact ends in operations' support task, past the pivot.
    let placed = cli
        .json(
            &customer,
            &[
                "orders",
                "create",
                "new-account",
                "--root-email",
                &format!("blocked-{}@example.com", &tenant[..8]),
                "--account-name",
                "Blocked workload",
                "--support-contact",
                "ops@example.com",
            ],
        )
        .await;
    let order_id = placed["id"].as_str().expect("id").to_owned();
    let mut task = None;
    for _ in 0..DRIVING_ROUNDS {
        let tasks = cli
            .json(&operator, &["tasks", "list", "--order", &order_id])
            .await;
        if let Some(open) = tasks["tasks"].as_array().and_then(|tasks| tasks.first()) {
            task = Some(open["id"].as_str().expect("task id").to_owned());
            break;
        }
        cli.ok(&operator, &["sandbox", "advance", "--by", "1m"])
            .await;
    }
    let task = task.expect("the support task opened");
    // Rejecting it fails a step past the point of no return: the saga waits for an operator.
    cli.ok(
        &operator,
        &[
            "tasks",
            "complete",
            &task,
            "--reject",
            "--note",
            "no support plan for this customer",
        ],
    )
    .await;
    let blocked = await_saga(&cli, &order_id, |saga| {
        saga["status"] == "SAGA_STATUS_BLOCKED"
    })
    .await;
    assert_eq!(blocked["past_pivot"], true, "{blocked}");
    assert_eq!(blocked["wait_reason"]["kind"], "blocked", "{blocked}");
    assert_eq!(blocked["order_id"], order_id.as_str());

    // `--stuck` finds it; a filter on another status does not.
    assert!(
        listed_orders(&cli, &["--stuck"]).await.contains(&order_id),
        "listed stuck"
    );
    assert!(
        !listed_orders(&cli, &["--status", "completed"])
            .await
            .contains(&order_id)
    );
    let table = cli.ok(&operator, &["sagas", "list", "--stuck"]).await;
    assert!(table.starts_with("ORDER_ID "), "{table}");
    let row = table
        .lines()
        .find(|line| line.starts_with(order_id.as_str()))
        .unwrap_or_else(|| panic!("a row for {order_id}: {table}"));
    assert!(row.contains("SAGA_STATUS_BLOCKED"), "{row}");
    let shown = cli.ok(&operator, &["sagas", "get", &order_id]).await;
    assert!(
        shown
            .lines()
            .any(|line| line.starts_with("status") && line.ends_with("SAGA_STATUS_BLOCKED")),
        "{shown}"
    );

    // Customers are told the verbs are operators', and nothing changes.
    refused_for_role(&cli.run(&customer, &["sagas", "list", "--stuck"]).await);
    refused_for_role(
        &cli.run(
            &customer,
            &[
                "sagas",
                "abort",
                &order_id,
                "--reason",
                "the customer changed their mind",
                "--ticket",
                "OPS-1",
            ],
        )
        .await,
    );
    // An action needs a reason of ten characters or more; the server names the field.
    let stderr = refused(
        &cli.run(
            &operator,
            &[
                "sagas",
                "retry-now",
                &order_id,
                "--reason",
                "again",
                "--ticket",
                "OPS-2",
            ],
        )
        .await,
    );
    assert!(
        stderr.starts_with("error: invalid argument: reason: "),
        "{stderr}"
    );
    assert_eq!(
        cli.json(&operator, &["sagas", "get", &order_id]).await["status"],
        "SAGA_STATUS_BLOCKED"
    );

    // Retry now: the step runs again at once, on the operator's word.
    let retried = steer(
        &cli,
        &[
            "sagas",
            "retry-now",
            &order_id,
            "--reason",
            "the support team can take it now",
            "--ticket",
            "OPS-3",
            "--json",
        ],
    )
    .await;
    assert!(
        retried.status.success(),
        "{}",
        String::from_utf8_lossy(&retried.stderr)
    );
    let retried: Value = serde_json::from_slice(&retried.stdout).expect("json");
    assert_eq!(retried["wait_reason"]["kind"], "operator", "{retried}");
    assert_ne!(retried["status"], "SAGA_STATUS_BLOCKED", "{retried}");

    // Abort: past the pivot nothing is undone and the order fails.
    let abort = [
        "sagas",
        "abort",
        order_id.as_str(),
        "--reason",
        "the customer's contract was withdrawn",
        "--ticket",
        "OPS-4",
    ];
    let aborted = steer(&cli, &[&abort[..], &["--json"]].concat()).await;
    assert!(
        aborted.status.success(),
        "{}",
        String::from_utf8_lossy(&aborted.stderr)
    );
    let aborted: Value = serde_json::from_slice(&aborted.stdout).expect("json");
    assert_eq!(aborted["status"], "SAGA_STATUS_ABORTED", "{aborted}");
    let order = cli.json(&customer, &["orders", "get", &order_id]).await;
    assert_eq!(order["status"], "ORDER_STATUS_FAILED", "{order}");
    assert_eq!(order["failure"]["code"], "TNR905", "{order}");
    assert!(
        !listed_orders(&cli, &["--stuck"]).await.contains(&order_id),
        "an aborted saga is stuck no more"
    );
    // A second abort is refused with the catalogue's reason.
    let stderr = refused(&cli.run(&operator, &abort).await);
    assert!(
        stderr.starts_with("error: failed precondition: "),
        "{stderr}"
    );
    assert!(stderr.contains("[SAGA_ENDED"), "{stderr}");
}

/// Drives an order as its actors would until it ends: operations complete its tasks, else the
/// sandbox clock moves on. The ended order.
async fn drive(cli: &Client<'_>, customer: &str, order_id: &str) -> Value {
    for _ in 0..DRIVING_ROUNDS {
        let order = cli.json(customer, &["orders", "get", order_id]).await;
        if !matches!(
            order["status"].as_str(),
            Some("ORDER_STATUS_PROCESSING" | "ORDER_STATUS_QUERYING")
        ) {
            return order;
        }
        let tasks = cli
            .json(&cli.up.token, &["tasks", "list", "--order", order_id])
            .await;
        let open = tasks["tasks"].as_array().expect("tasks").clone();
        for task in &open {
            let task_id = task["id"].as_str().expect("task id");
            cli.ok(
                &cli.up.token,
                &["tasks", "complete", task_id, "--note", "done"],
            )
            .await;
        }
        if open.is_empty() {
            cli.ok(&cli.up.token, &["sandbox", "advance", "--by", "10m"])
                .await;
        }
    }
    panic!("order {order_id} did not end in {DRIVING_ROUNDS} rounds");
}

#[tokio::test]
async fn an_operator_suspends_and_resumes_a_subscription_and_reopens_a_closed_account() {
    let up = Up::start().await;
    let cli = Client { up: &up };
    let operator = up.token.clone();
    let tenant = cli.tenant("ecam").await;
    let customer = cli.token("customer", Some(&tenant)).await;
    let account = customer_account(&cli).await;
    transfer(&cli, &customer, &account).await;

    // The transfer opened the account's subscription.
    let subscription = cli
        .json(&customer, &["subscriptions", "get", &account])
        .await;
    assert_eq!(
        subscription["status"], "SUBSCRIPTION_STATUS_ACTIVE",
        "{subscription}"
    );
    assert_eq!(subscription["aws_account_id"], account.as_str());
    let subscription_id = subscription["id"].as_str().expect("id").to_owned();

    // Suspend, by the account: the customer sees it, and the account cannot be terminated now.
    refused_for_role(
        &cli.run(&customer, &["subscriptions", "suspend", &account])
            .await,
    );
    let suspended = cli
        .json(
            &operator,
            &[
                "subscriptions",
                "suspend",
                &account,
                "--reason",
                "payment overdue",
            ],
        )
        .await;
    assert_eq!(
        suspended["status"], "SUBSCRIPTION_STATUS_SUSPENDED",
        "{suspended}"
    );
    assert_eq!(suspended["id"], subscription_id.as_str());
    let listed = cli
        .ok(&customer, &["subscriptions", "list", "--account", &account])
        .await;
    let row = listed
        .lines()
        .find(|line| line.starts_with(subscription_id.as_str()))
        .unwrap_or_else(|| panic!("a row: {listed}"));
    assert!(row.contains("SUBSCRIPTION_STATUS_SUSPENDED"), "{row}");
    let close = [
        "accounts",
        "eligibility",
        account.as_str(),
        "--mode",
        "close",
    ];
    let eligibility = cli.json(&customer, &close).await;
    let codes = |answer: &Value| -> Vec<String> {
        answer["problems"]
            .as_array()
            .expect("problems")
            .iter()
            .map(|problem| problem["code"].as_str().expect("code").to_owned())
            .collect()
    };
    assert!(
        codes(&eligibility).contains(&"TNR011".to_owned()),
        "{eligibility}"
    );

    // Resume, by the subscription's id: the account can be terminated again.
    let resumed = cli
        .json(&operator, &["subscriptions", "resume", &subscription_id])
        .await;
    assert_eq!(resumed["status"], "SUBSCRIPTION_STATUS_ACTIVE", "{resumed}");
    let eligibility = cli.json(&customer, &close).await;
    assert!(
        !codes(&eligibility).contains(&"TNR011".to_owned()),
        "{eligibility}"
    );

    // The customer closes the account.
    let required: Vec<String> = eligibility["required_acknowledgements"]
        .as_array()
        .expect("acknowledgements")
        .iter()
        .map(|ack| ack.as_str().expect("name").to_owned())
        .collect();
    let mut args = vec![
        "orders",
        "create",
        "terminate",
        "--account",
        account.as_str(),
        "--mode",
        "close",
    ];
    for ack in &required {
        args.extend(["--ack", ack.as_str()]);
    }
    let placed = cli.json(&customer, &args).await;
    let order_id = placed["id"].as_str().expect("id").to_owned();
    let ended = drive(&cli, &customer, &order_id).await;
    assert_eq!(ended["status"], "ORDER_STATUS_COMPLETED", "{ended}");
    let closed = cli.json(&customer, &["accounts", "get", &account]).await;
    assert_eq!(closed["state"], "ACCOUNT_STATE_CLOSED", "{closed}");
    assert!(closed["reopen_until"].is_string(), "{closed}");

    // AWS Support reopened it: only operations record that, with a reason and a ticket.
    let reopen = [
        "accounts",
        "reopen",
        account.as_str(),
        "--reason",
        "AWS Support reopened it at the customer's request",
        "--ticket",
        "OPS-42",
    ];
    refused_for_role(&cli.run(&customer, &reopen).await);
    let stderr = refused(
        &cli.run(
            &operator,
            &[
                "accounts", "reopen", &account, "--reason", "reopened", "--ticket", "OPS-42",
            ],
        )
        .await,
    );
    assert!(stderr.contains("reason"), "{stderr}");
    let reopened = cli.json(&operator, &reopen).await;
    assert_eq!(reopened["state"], "ACCOUNT_STATE_ACTIVE", "{reopened}");
    assert_eq!(reopened["id"], closed["id"]);
    let record = cli.json(&customer, &["accounts", "get", &account]).await;
    assert_eq!(record["state"], "ACCOUNT_STATE_ACTIVE", "{record}");
    // A second reopen finds nothing closed.
    let stderr = refused(&cli.run(&operator, &reopen).await);
    assert!(
        stderr.starts_with("error: failed precondition: "),
        "{stderr}"
    );
}
