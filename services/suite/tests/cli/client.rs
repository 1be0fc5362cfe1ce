//! The client subcommands and `tenure demo`, run as a user would: the real binary against a
//! `tenure up` on free ports, with the endpoints and tokens in the environment as the tour sets them.
//! Orders progress by the sandbox clock and by completing their tasks through the CLI itself.

use std::process::{Output, Stdio};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

use crate::up::Up;

const TENURE: &str = env!("CARGO_BIN_EXE_tenure");

/// How many rounds of "complete the open tasks, else move the clock a minute" an order may need.
pub(crate) const DRIVING_ROUNDS: usize = 200;

/// The `tenure` command line, pointed at one `tenure up`.
pub(crate) struct Client<'a> {
    pub(crate) up: &'a Up,
}

impl Client<'_> {
    /// `tenure <args>` calling as the holder of `token`, with the stack's endpoints in the
    /// environment and no client configuration file of the machine's user.
    pub(crate) fn command(&self, token: &str, args: &[&str]) -> Command {
        self.program(TENURE, token, args)
    }

    /// `program <args>` with the environment [`Self::command`] gives `tenure`: a shell pipeline or
    /// a pseudo-terminal that runs `tenure` in turn.
    pub(crate) fn program(&self, program: &str, token: &str, args: &[&str]) -> Command {
        let url = |service: &str| format!("http://{}", self.up.endpoints[service]);
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(self.up.data_dir())
            .env("TENURE_ENDPOINT", url("orders"))
            .env("TENURE_ACCOUNTS_ENDPOINT", url("accounts"))
            .env("TENURE_PROVISIONING_ENDPOINT", url("provisioning"))
            .env("TENURE_PURGE_ENDPOINT", url("data-purge"))
            .env("TENURE_TOKEN", token)
            .env("XDG_CONFIG_HOME", self.up.data_dir())
            .env_remove("TENURE_CLIENT_CONFIG")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    pub(crate) async fn run(&self, token: &str, args: &[&str]) -> Output {
        self.command(token, args)
            .output()
            .await
            .expect("run tenure")
    }

    /// The standard output of a command that must succeed.
    pub(crate) async fn ok(&self, token: &str, args: &[&str]) -> String {
        let output = self.run(token, args).await;
        assert!(
            output.status.success(),
            "tenure {args:?} failed with {:?}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    }

    /// The JSON answer of a command run with `--json`.
    pub(crate) async fn json(&self, token: &str, args: &[&str]) -> Value {
        let mut with_json = args.to_vec();
        with_json.push("--json");
        let text = self.ok(token, &with_json).await;
        serde_json::from_str(text.trim()).unwrap_or_else(|error| panic!("{error}: {text}"))
    }

    /// A development token for `role`, minted as the tour does.
    pub(crate) async fn token(&self, role: &str, tenant: Option<&str>) -> String {
        let mut args = vec!["token", "--role", role];
        if let Some(tenant) = tenant {
            args.extend(["--tenant", tenant]);
        }
        self.ok("", &args).await.trim().to_owned()
    }

    /// A customer token of `tenant` whose subject is `subject`, as a signed-in user's would be.
    pub(crate) async fn user_token(&self, tenant: &str, subject: &str) -> String {
        self.ok(
            "",
            &[
                "token",
                "--role",
                "customer",
                "--tenant",
                tenant,
                "--subject",
                subject,
            ],
        )
        .await
        .trim()
        .to_owned()
    }

    /// A customer token of a new ECAM tenant.
    pub(crate) async fn ecam_customer(&self) -> String {
        let tenant = self.tenant("ecam").await;
        self.token("customer", Some(&tenant)).await
    }

    /// Billing's `events tail --until-caught-up --json` with `filter` (which events, from where).
    pub(crate) async fn billing_events(&self, filter: &[&str]) -> String {
        let billing = self.token("billing", None).await;
        let mut args = vec!["events", "tail"];
        args.extend_from_slice(filter);
        args.extend(["--until-caught-up", "--json"]);
        self.ok(&billing, &args).await
    }

    /// A new tenant registered by the operator; its id.
    pub(crate) async fn tenant(&self, resale_model: &str) -> String {
        self.tenant_with_admin(resale_model).await.0
    }

    /// A new tenant registered by the operator; its id and its administrator's identity-provider
    /// subject.
    pub(crate) async fn tenant_with_admin(&self, resale_model: &str) -> (String, String) {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let admin_subject = format!("idp|{}", &unique[..12]);
        let created = self
            .json(
                &self.up.token,
                &[
                    "tenants",
                    "create",
                    "--name",
                    &format!("Cli Corp {}", &unique[..8]),
                    "--sector",
                    "commercial",
                    "--resale-model",
                    resale_model,
                    "--marketplace-ref",
                    &format!("cli-{}", &unique[..12]),
                    "--admin-email",
                    &format!("admin-{}@example.com", &unique[..8]),
                    "--admin-name",
                    "Ada",
                    "--admin-subject",
                    &admin_subject,
                ],
            )
            .await;
        assert_eq!(
            created["tenant"]["status"], "TENANT_STATUS_ACTIVE",
            "{created}"
        );
        (
            created["tenant"]["id"].as_str().expect("id").to_owned(),
            admin_subject,
        )
    }
}

/// Every line of `text` as a JSON value.
pub(crate) fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect()
}

#[tokio::test]
async fn an_order_is_placed_watched_driven_through_its_task_and_streamed() {
    let up = Up::start().await;
    let cli = Client { up: &up };
    let operator = up.token.clone();
    let customer = cli.ecam_customer().await;

    let placed = cli
        .json(
            &customer,
            &[
                "orders",
                "create",
                "new-account",
                "--root-email",
                "prod@example.com",
                "--account-name",
                "Example prod",
                "--support-contact",
                "ops@example.com",
            ],
        )
        .await;
    assert_eq!(placed["status"], "ORDER_STATUS_PROCESSING", "{placed}");
    assert_eq!(placed["kind"], "ORDER_KIND_NEW_ACCOUNT");
    let order_id = placed["id"].as_str().expect("id").to_owned();

    // The watch runs alongside, as in a second terminal; into a pipe it prints one object per change.
    let mut watch = cli
        .command(&customer, &["orders", "watch", &order_id, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch");
    let mut watched = BufReader::new(watch.stdout.take().expect("stdout")).lines();
    let reading = async {
        let mut lines = Vec::new();
        while let Some(line) = watched.next_line().await.expect("read watch") {
            lines.push(line);
        }
        lines
    };

    // Operations see the support step as a task of the order, and complete it; otherwise the
    // simulated AWS needs its clock moved on.
    let driving = async {
        let mut completed_steps = Vec::new();
        for _ in 0..DRIVING_ROUNDS {
            let order = cli.json(&customer, &["orders", "get", &order_id]).await;
            if order["status"] != "ORDER_STATUS_PROCESSING" {
                break;
            }
            let tasks = cli
                .json(&operator, &["tasks", "list", "--order", &order_id])
                .await;
            let open = tasks["tasks"].as_array().expect("tasks").clone();
            if open.is_empty() {
                cli.ok(&operator, &["sandbox", "advance", "--by", "1m"])
                    .await;
                continue;
            }
            for task in open {
                let task_id = task["id"].as_str().expect("task id");
                let done = cli
                    .json(
                        &operator,
                        &[
                            "tasks",
                            "complete",
                            task_id,
                            "--note",
                            "support plan attached",
                        ],
                    )
                    .await;
                assert_eq!(done["state"], "TASK_STATE_COMPLETED", "{done}");
                completed_steps.push(done["step"].as_str().expect("step").to_owned());
            }
        }
        completed_steps
    };
    let (lines, completed_steps) = tokio::join!(reading, driving);
    assert_eq!(completed_steps, ["support_channel"]);

    let status = watch.wait().await.expect("watch ends");
    assert!(
        status.success(),
        "the watch exits 0 on completion: {status:?} {lines:?}"
    );
    let updates = json_lines(&lines.join("\n"));
    let last = updates.last().expect("an update");
    assert_eq!(last["order"]["status"], "ORDER_STATUS_COMPLETED", "{last}");
    assert_eq!(last["order"]["id"], order_id.as_str());
    let account = last["order"]["aws_account_id"].as_str().expect("account");
    assert_eq!(account.len(), 12, "{last}");
    let states: Vec<(&str, &str)> = last["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| {
            (
                step["name"].as_str().expect("name"),
                step["state"].as_str().expect("state"),
            )
        })
        .collect();
    assert!(
        states.contains(&("create_account", "STEP_STATE_DONE")),
        "{states:?}"
    );
    assert!(
        states.contains(&("support_channel", "STEP_STATE_DONE")),
        "{states:?}"
    );

    // The timeline for people names each step with its state.
    let timeline = cli.ok(&customer, &["orders", "timeline", &order_id]).await;
    assert!(timeline.contains("ORDER_STATUS_COMPLETED"), "{timeline}");
    assert!(
        timeline
            .lines()
            .any(|line| line.starts_with("create_account") && line.contains("STEP_STATE_DONE")),
        "{timeline}"
    );

    // Billing reads the order's events from the beginning, one JSON object per line, in order.
    let tail = cli
        .billing_events(&["--from-beginning", "--order", &order_id])
        .await;
    let events = json_lines(&tail);
    assert!(
        events
            .iter()
            .all(|event| event["order_id"] == order_id.as_str())
    );
    let sequence: Vec<u64> = events
        .iter()
        .map(|event| event["order_seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(sequence, (1..=sequence.len() as u64).collect::<Vec<_>>());
    let types: Vec<&str> = events
        .iter()
        .map(|event| event["type"].as_str().expect("type"))
        .collect();
    assert_eq!(types.first(), Some(&"order.placed"), "{types:?}");
    for expected in ["task.opened", "task.resolved", "account.activated"] {
        assert!(types.contains(&expected), "{expected} in {types:?}");
    }
    let activated = events
        .iter()
        .find(|event| event["type"] == "account.activated")
        .expect("activated");
    assert_eq!(activated["account_activated"]["aws_account_id"], account);
    let finished = events.last().expect("events");
    assert_eq!(
        finished["order_status_changed"]["to_status"], "ORDER_STATUS_COMPLETED",
        "{finished}"
    );
    // A position resumes after what was read: nothing of this order is left.
    let position = finished["position"].as_str().expect("position");
    let rest = cli
        .billing_events(&["--after", position, "--order", &order_id])
        .await;
    assert_eq!(rest, "", "nothing after the last event");
}

#[tokio::test]
async fn refusals_name_the_field_at_fault_and_exit_codes_tell_usage_from_server_errors() {
    let up = Up::start().await;
    let cli = Client { up: &up };
    let customer = cli.ecam_customer().await;

    let refused = cli
        .run(
            &customer,
            &[
                "orders",
                "create",
                "new-account",
                "--root-email",
                "not-an-email",
                "--account-name",
                "Example prod",
            ],
        )
        .await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.starts_with("error: invalid argument: new_account.root_email: "),
        "{stderr}"
    );
    assert!(refused.stdout.is_empty());

    // A refusal by policy says which token the call needs and which one it got.
    let refused = cli
        .run(
            &up.token,
            &[
                "orders",
                "create",
                "new-account",
                "--root-email",
                "ops@example.com",
                "--account-name",
                "Example prod",
            ],
        )
        .await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(3), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "error: permission denied: CreateOrder needs a customer token (which acts for its own \
         tenant); this token has role operator.",
    );

    // Every field at fault, each on its line.
    let refused = cli
        .run(
            &up.token,
            &[
                "tenants",
                "create",
                "--name",
                "",
                "--sector",
                "commercial",
                "--resale-model",
                "ecam",
                "--marketplace-ref",
                "ref-1",
                "--admin-email",
                "nope",
                "--admin-name",
                "Ada",
                "--admin-subject",
                "idp|ada",
            ],
        )
        .await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("\n  display_name: "), "{stderr}");
    assert!(stderr.contains("\n  admin.email: "), "{stderr}");

    // Another tenant's or a missing order is the server's NOT_FOUND.
    let missing = cli
        .run(
            &customer,
            &["orders", "get", &uuid::Uuid::new_v4().to_string()],
        )
        .await;
    assert_eq!(missing.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&missing.stderr).starts_with("error: not found: "));

    // Usage errors are clap's 2, before anything is sent.
    let usage = cli
        .run(
            &customer,
            &["orders", "create", "new-account", "--root-email", "a@b.c"],
        )
        .await;
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("--account-name"));
    let bad_enum = cli
        .run(&customer, &["orders", "list", "--status", "finished"])
        .await;
    assert_eq!(bad_enum.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_enum.stderr).contains("completed"));

    // Without a token nothing is sent; a stack that is not there is named.
    let anonymous = cli.run("", &["orders", "list"]).await;
    assert_eq!(anonymous.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&anonymous.stderr).contains("TENURE_TOKEN"));
    let nowhere = cli
        .run(
            &customer,
            &[
                "orders",
                "list",
                "--endpoint",
                "http://127.0.0.1:9",
                "--accounts-endpoint",
                "http://127.0.0.1:9",
            ],
        )
        .await;
    let stderr = String::from_utf8_lossy(&nowhere.stderr);
    assert_eq!(nowhere.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("orders http://127.0.0.1:9"), "{stderr}");
    assert!(stderr.contains("is `tenure up` running"), "{stderr}");
}

#[tokio::test]
async fn the_demo_tells_a_whole_tenure_and_ends_with_a_verified_receipt() {
    let up = Up::start().await;
    let cli = Client { up: &up };
    let key_file = up.data_dir().join("data").join("dev-signing-key.pem");
    let output = cli
        .run(
            "",
            &[
                "demo",
                "--key-file",
                key_file.to_str().expect("utf-8"),
                "--json",
            ],
        )
        .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{:?}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = json_lines(&stdout);
    let (summary, events) = lines.split_last().expect("a summary");
    let demo = &summary["demo"];
    assert_eq!(
        demo["account_state"], "ACCOUNT_STATE_PERMANENTLY_CLOSED",
        "{summary}"
    );
    assert_eq!(demo["purge_state"], "PURGE_STATE_COMPLETED");
    // The transfer ended with the satisfaction survey, which the customer answered.
    assert_eq!(demo["survey_state"], "TASK_STATE_COMPLETED", "{summary}");
    assert_eq!(demo["survey_score"], 5);
    assert_eq!(demo["receipt_chain_intact"], true);
    let receipt = &summary["receipt"];
    assert_eq!(receipt["purge_id"], demo["purge_id"]);
    assert_eq!(receipt["residual_rows"], 0);
    assert!(!receipt["signature"].as_str().expect("signature").is_empty());
    // The events of both orders came as they happened.
    let types_of = |order: &Value| -> Vec<&str> {
        events
            .iter()
            .filter(|event| event["order_id"] == *order)
            .map(|event| event["type"].as_str().expect("type"))
            .collect()
    };
    let transfer = types_of(&demo["transfer_order_id"]);
    assert!(transfer.contains(&"account.activated"), "{transfer:?}");
    assert!(transfer.contains(&"survey.answered"), "{transfer:?}");
    let termination = types_of(&demo["termination_order_id"]);
    for expected in ["account.closed", "purge.scheduled"] {
        assert!(
            termination.contains(&expected),
            "{expected} in {termination:?}"
        );
    }

    // The account's record tells the same story through the CLI.
    let record = cli
        .json(
            &up.token,
            &[
                "purges",
                "receipt",
                demo["purge_id"].as_str().expect("purge"),
            ],
        )
        .await;
    assert_eq!(record["hash"], receipt["hash"]);
    let verified = cli.json(&up.token, &["purges", "verify"]).await;
    assert_eq!(verified["intact"], true);
}

#[tokio::test]
async fn completions_cover_the_client_commands() {
    let output = Command::new(TENURE)
        .args(["completions", "bash"])
        .output()
        .await
        .expect("completions");
    assert!(output.status.success());
    let script = String::from_utf8_lossy(&output.stdout);
    for word in [
        "orders",
        "watch",
        "tail",
        "--from-beginning",
        "demo",
        "advance",
        "--client-config",
    ] {
        assert!(script.contains(word), "{word}");
    }
    // Enum values come from the contracts' descriptors: what a customer confirms by its proto name,
    // filters by their shorthand.
    assert!(
        script.contains("ACKNOWLEDGEMENT_EMAIL_NOT_REUSABLE"),
        "acknowledgements"
    );
    assert!(script.contains("completed"), "order statuses");
}
