//! The client where people and pipes read it: `orders list` by time and across every page, the
//! timeline's step times, `orders watch` on an 80×24 terminal (a pseudo-terminal from util-linux's
//! `script`), and a pipe whose reader leaves early.

use std::process::{Output, Stdio};

use serde_json::Value;

use crate::client::{Client, DRIVING_ROUNDS};
use crate::up::Up;

const TENURE: &str = env!("CARGO_BIN_EXE_tenure");

/// Places a new-account order as `customer`; its id.
async fn place(cli: &Client<'_>, customer: &str, name: &str) -> String {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let placed = cli
        .json(
            customer,
            &[
                "orders",
                "create",
                "new-account",
                "--root-email",
                &format!("root-{}@example.com", &unique[..12]),
                "--account-name",
                name,
            ],
        )
        .await;
    placed["id"].as_str().expect("id").to_owned()
}

/// Moves the sandbox clock until every order of `orders` has ended.
async fn drive(cli: &Client<'_>, customer: &str, orders: &[&str]) {
    for _ in 0..DRIVING_ROUNDS {
        let mut open = false;
        for order in orders {
            let order = cli.json(customer, &["orders", "get", order]).await;
            open |= order["status"] == "ORDER_STATUS_PROCESSING";
        }
        if !open {
            return;
        }
        cli.ok(&cli.up.token, &["sandbox", "advance", "--by", "1m"])
            .await;
    }
    panic!("the orders did not end in {DRIVING_ROUNDS} rounds");
}

/// The order ids of a `orders list --json` answer, and its next page token.
fn ids_and_token(answer: &Value) -> (Vec<String>, String) {
    let ids = answer["orders"]
        .as_array()
        .unwrap_or_else(|| panic!("orders: {answer}"))
        .iter()
        .map(|order| order["id"].as_str().expect("id").to_owned())
        .collect();
    let token = answer["next_page_token"]
        .as_str()
        .expect("token")
        .to_owned();
    (ids, token)
}

/// What a terminal shows of `raw`: each row the output drew, escape sequences left out.
fn shown_rows(raw: &str) -> Vec<String> {
    let mut text = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(character) = chars.next() {
        if character == '\x1b' {
            // A CSI sequence: ESC [ parameters, then one final letter.
            if chars.peek() == Some(&'[') {
                for next in chars.by_ref() {
                    if next.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        if character != '\r' {
            text.push(character);
        }
    }
    text.lines().map(str::to_owned).collect()
}

/// The row count each redraw moved up by (`ESC [ n F`), with the rows of the frame drawn before it.
fn rewinds_and_frames(raw: &str) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    let mut frame_start = 0;
    let mut from = 0;
    while let Some(found) = raw[from..].find("\x1b[") {
        let start = from + found;
        let after = &raw[start + 2..];
        let end = after
            .find(|character: char| character.is_ascii_alphabetic())
            .expect("a complete sequence");
        from = start + 2 + end + 1;
        if &after[end..=end] == "F" {
            let rows = after[..end].parse().expect("a row count");
            pairs.push((rows, raw[frame_start..start].matches('\n').count()));
            frame_start = from;
        }
    }
    pairs
}

#[tokio::test]
async fn orders_list_by_time_and_every_page_and_the_timeline_times_each_step() {
    let up = Up::start().await;
    let cli = Client { up: &up };
    let tenant = cli.tenant("ecam").await;
    let customer = cli.token("customer", Some(&tenant)).await;
    let mut placed = Vec::new();
    for name in ["first", "second", "third"] {
        placed.push(place(&cli, &customer, name).await);
    }

    // One page of one, then every page: the three orders, newest first, and no token left.
    let (page, token) = ids_and_token(
        &cli.json(&customer, &["orders", "list", "--page-size", "1"])
            .await,
    );
    assert_eq!(page, [placed[2].clone()]);
    assert!(!token.is_empty());
    let all = cli
        .json(&customer, &["orders", "list", "--page-size", "1", "--all"])
        .await;
    let (ids, token) = ids_and_token(&all);
    assert_eq!(ids, placed.iter().rev().cloned().collect::<Vec<_>>());
    assert_eq!(token, "");
    let table = cli
        .ok(&customer, &["orders", "list", "--page-size", "1", "--all"])
        .await;
    assert_eq!(table.lines().count(), 4, "a header and three rows: {table}");
    assert!(!table.contains("more: "), "{table}");
    let usage = cli
        .run(&customer, &["orders", "list", "--all", "--page-token", "x"])
        .await;
    assert_eq!(usage.status.code(), Some(2));

    // By the time they were placed: from the second on, and before it.
    let second = cli.json(&customer, &["orders", "get", &placed[1]]).await;
    let at = second["created_at"].as_str().expect("created_at");
    let (after, _) = ids_and_token(
        &cli.json(&customer, &["orders", "list", "--all", "--after", at])
            .await,
    );
    assert_eq!(after, [placed[2].clone(), placed[1].clone()]);
    let (before, _) = ids_and_token(
        &cli.json(&customer, &["orders", "list", "--before", at])
            .await,
    );
    assert_eq!(before, [placed[0].clone()]);
    let usage = cli
        .run(&customer, &["orders", "list", "--after", "yesterday"])
        .await;
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("RFC 3339"));

    // Each finished step shows its start, finish and how long it took.
    drive(&cli, &customer, &[&placed[0]]).await;
    let timeline = cli.ok(&customer, &["orders", "timeline", &placed[0]]).await;
    let header = timeline
        .lines()
        .find(|line| line.starts_with("NAME "))
        .unwrap_or_else(|| panic!("a step table: {timeline}"));
    for column in ["STARTED_AT", "FINISHED_AT", "DURATION"] {
        assert!(header.contains(column), "{column} in {header}");
    }
    let column = header.find("DURATION").expect("duration");
    let row = timeline
        .lines()
        .find(|line| line.starts_with("create_account"))
        .unwrap_or_else(|| panic!("create_account: {timeline}"));
    let duration = row[column..].split_whitespace().next().expect("a cell");
    assert!(
        duration.ends_with("ms") || duration.ends_with('s') || duration.ends_with('m'),
        "a duration, not {duration:?}: {row}"
    );
    let json = cli
        .json(&customer, &["orders", "timeline", &placed[0]])
        .await;
    let step = json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|step| step["name"] == "create_account")
        .expect("create_account");
    assert!(
        step["started_at"].is_string() && step["finished_at"].is_string(),
        "{step}"
    );
}

#[tokio::test]
async fn orders_watch_fits_an_80_by_24_terminal_and_redraws_the_rows_it_drew() {
    let up = Up::start().await;
    let cli = Client { up: &up };
    let tenant = cli.tenant("ecam").await;
    let customer = cli.token("customer", Some(&tenant)).await;
    let order = place(
        &cli,
        &customer,
        "A workload whose name is long enough to matter",
    )
    .await;

    // `script` gives the watch a terminal; COLUMNS and LINES give it the size of one.
    let watch = format!("exec '{TENURE}' orders watch {order}");
    let mut script = cli
        .program(
            "script",
            &customer,
            &[
                "--quiet",
                "--return",
                "--flush",
                "--command",
                &watch,
                "/dev/null",
            ],
        )
        .env("COLUMNS", "80")
        .env("LINES", "24")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script from util-linux runs the watch on a terminal");
    let stdout = script.stdout.take().expect("stdout");
    let reading = async {
        let mut raw = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut tokio::io::BufReader::new(stdout), &mut raw)
            .await
            .expect("read the terminal");
        raw
    };
    let watched = [order.as_str()];
    let (raw, ()) = tokio::join!(reading, drive(&cli, &customer, &watched));
    let status = script.wait().await.expect("the watch ends");
    let raw = String::from_utf8(raw).expect("utf-8");
    assert!(status.success(), "{status:?}: {raw}");

    let rows = shown_rows(&raw);
    assert!(
        rows.iter()
            .any(|row| row.contains("ORDER_STATUS_COMPLETED")),
        "{raw}"
    );
    for row in &rows {
        assert!(
            row.chars().count() <= 80,
            "{} columns: {row:?}",
            row.chars().count()
        );
    }
    assert!(raw.contains("\x1b[J"), "the view redraws in place: {raw:?}");
    let redraws = rewinds_and_frames(&raw);
    assert!(!redraws.is_empty(), "{raw:?}");
    for (rewound, drawn) in redraws {
        assert_eq!(
            rewound, drawn,
            "each redraw moves up by the rows drawn: {raw:?}"
        );
        assert!(drawn < 24, "a frame leaves a row for the cursor");
    }
}

/// `tenure <args>` as `token` with standard output into a pipe nobody reads any more.
async fn into_closed_pipe(cli: &Client<'_>, token: &str, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    cli.command(token, args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("run tenure")
}

#[tokio::test]
async fn a_reader_that_leaves_early_ends_the_command_quietly() {
    let up = Up::start().await;
    let cli = Client { up: &up };
    let tenant = cli.tenant("ecam").await;
    let customer = cli.token("customer", Some(&tenant)).await;
    place(&cli, &customer, "piped").await;
    let billing = cli.token("billing", None).await;

    for (token, args) in [
        (&billing, &["events", "tail", "--until-caught-up"][..]),
        (
            &billing,
            &["events", "tail", "--until-caught-up", "--json"][..],
        ),
        (&customer, &["orders", "list"][..]),
        (&customer, &["orders", "list", "--json"][..]),
    ] {
        let output = into_closed_pipe(&cli, token, args).await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // The report: `| head -1` takes one event, and the pipeline succeeds without a word.
    let pipeline = format!("set -o pipefail; '{TENURE}' events tail --until-caught-up | head -1");
    let shell = cli
        .program("bash", &billing, &["-c", &pipeline])
        .output()
        .await
        .expect("bash");
    assert!(
        shell.status.success(),
        "{:?}: {}",
        shell.status,
        String::from_utf8_lossy(&shell.stderr)
    );
    assert!(
        shell.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&shell.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&shell.stdout).lines().count(), 1);
}
