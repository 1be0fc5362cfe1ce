//! `tenure orders watch`: follows an order until it ends. On a terminal the view redraws in place with
//! a progress bar; into a pipe or a file each change is one line, or one JSON object with `--json`.

use std::fmt::Write as _;

use tenure_proto::orders::v1 as pb;

use super::OrderUnsuccessful;
use super::connect::Session;
use super::errors::{Answer as _, RpcError, present};
use super::render::Printer;
use crate::output;

/// Width of the progress bar, in characters.
const BAR_WIDTH: usize = 30;

pub(super) async fn follow(
    session: &Session,
    printer: Printer,
    order_id: &str,
) -> anyhow::Result<()> {
    let mut stream = session
        .orders()?
        .watch_order(pb::WatchOrderRequest {
            order_id: order_id.to_owned(),
        })
        .await
        .answer()?;
    let mode = if printer.is_json() {
        Mode::Json
    } else if output::is_terminal() {
        Mode::Redraw { drawn_lines: 0 }
    } else {
        Mode::Lines {
            last: String::new(),
        }
    };
    let mut view = View { printer, mode };
    let mut last = None;
    while let Some(update) = stream.message().await.map_err(RpcError::from)? {
        view.show(&update)?;
        last = update.order;
    }
    let order = present(last, "order")?;
    match pb::OrderStatus::try_from(order.status) {
        Ok(pb::OrderStatus::Completed) => Ok(()),
        Ok(status @ (pb::OrderStatus::Failed | pb::OrderStatus::Cancelled)) => {
            Err(OrderUnsuccessful {
                order_id: order.id,
                status: status.as_str_name().to_owned(),
            }
            .into())
        }
        _ => anyhow::bail!(
            "the stream of order {} ended before the order did; watch it again",
            order.id
        ),
    }
}

/// How updates are shown.
enum Mode {
    /// A terminal: the previous frame, `drawn_lines` long, is replaced.
    Redraw { drawn_lines: usize },
    /// One line per update that changes it: the stream also sends updates that only touch
    /// what a line leaves out.
    Lines { last: String },
    /// One JSON object per update.
    Json,
}

struct View {
    printer: Printer,
    mode: Mode,
}

impl View {
    fn show(&mut self, update: &pb::WatchOrderResponse) -> anyhow::Result<()> {
        match &mut self.mode {
            Mode::Json => self.printer.json_line(update),
            Mode::Lines { last } => {
                let line = one_line(update);
                if line == *last {
                    return Ok(());
                }
                write(&format!("{line}\n"))?;
                *last = line;
                Ok(())
            }
            Mode::Redraw { drawn_lines } => {
                let frame = frame(update);
                // Up to the first line of the previous frame, and clear from there down.
                let rewind = if *drawn_lines > 0 {
                    format!("\x1b[{drawn_lines}F\x1b[J")
                } else {
                    String::new()
                };
                *drawn_lines = frame.lines().count();
                write(&format!("{rewind}{frame}"))
            }
        }
    }
}

fn write(text: &str) -> anyhow::Result<()> {
    output::write(text).map_err(|error| anyhow::Error::new(error).context("writing the view"))
}

/// A step's state by its proto name, as every output of the client names enum values.
fn state_name(state: i32) -> &'static str {
    pb::StepState::try_from(state).map_or("UNKNOWN", |state| state.as_str_name())
}

/// Steps behind the order (done or skipped), and all of them.
fn progress(steps: &[pb::OrderStep]) -> (usize, usize) {
    let finished = steps
        .iter()
        .filter(|step| {
            matches!(
                pb::StepState::try_from(step.state),
                Ok(pb::StepState::Done | pb::StepState::Skipped | pb::StepState::Compensated)
            )
        })
        .count();
    (finished, steps.len())
}

/// The step the order is at: the first one neither finished nor pending.
fn current(steps: &[pb::OrderStep]) -> Option<&pb::OrderStep> {
    steps.iter().find(|step| {
        !matches!(
            pb::StepState::try_from(step.state),
            Ok(pb::StepState::Done
                | pb::StepState::Skipped
                | pb::StepState::Compensated
                | pb::StepState::Pending)
        )
    })
}

fn status_of(order: &pb::Order) -> &'static str {
    pb::OrderStatus::try_from(order.status).map_or("UNKNOWN", |status| status.as_str_name())
}

/// One update as a line: time, status, progress and the step the order is at.
pub(super) fn one_line(update: &pb::WatchOrderResponse) -> String {
    let Some(order) = &update.order else {
        return "an update without its order".to_owned();
    };
    let (finished, total) = progress(&update.steps);
    let mut line = format!(
        "{} {} {} {finished}/{total}",
        order
            .updated_at
            .map_or_else(|| "-".to_owned(), |at| at.to_string()),
        status_of(order),
        order.status_key,
    );
    if let Some(step) = current(&update.steps) {
        let _ = write!(line, " {}={}", step.name, state_name(step.state));
        if !step.wait_reason.is_empty() {
            let _ = write!(line, " ({})", step.wait_reason);
        }
    }
    line
}

/// The terminal view: the order, a progress bar, and every step with its state.
fn frame(update: &pb::WatchOrderResponse) -> String {
    let mut text = String::new();
    let Some(order) = &update.order else {
        return "an update without its order\n".to_owned();
    };
    let (finished, total) = progress(&update.steps);
    let filled = (finished * BAR_WIDTH).checked_div(total).unwrap_or(0);
    let _ = writeln!(
        text,
        "order {}  {}  {}",
        order.id,
        status_of(order),
        order.status_message
    );
    let _ = writeln!(
        text,
        "[{}{}] {finished}/{total} steps",
        "#".repeat(filled),
        "-".repeat(BAR_WIDTH - filled)
    );
    let width = update
        .steps
        .iter()
        .map(|step| step.name.len())
        .max()
        .unwrap_or(0);
    for step in &update.steps {
        let marker = match pb::StepState::try_from(step.state) {
            Ok(pb::StepState::Done) => "done",
            Ok(pb::StepState::Skipped) => "skip",
            Ok(pb::StepState::Running) => "run ",
            Ok(pb::StepState::Waiting | pb::StepState::Querying) => "wait",
            Ok(pb::StepState::Failed) => "FAIL",
            Ok(pb::StepState::Compensating | pb::StepState::Compensated) => "undo",
            _ => "    ",
        };
        let mut line = format!("  {marker}  {:<width$}", step.name);
        if !step.wait_reason.is_empty() {
            let _ = write!(line, "  {}", step.wait_reason);
            if !step.wait_detail.is_empty() {
                let _ = write!(line, ": {}", step.wait_detail);
            }
        }
        if !step.task_id.is_empty() && step.state != pb::StepState::Done as i32 {
            let _ = write!(line, "  task {}", step.task_id);
        }
        let _ = writeln!(text, "{}", line.trim_end());
    }
    if let Some(query) = &order.query {
        let _ = writeln!(
            text,
            "  asks the customer: {} {}",
            query.code, query.message
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, state: pb::StepState, wait: &str) -> pb::OrderStep {
        pb::OrderStep {
            name: name.to_owned(),
            state: state as i32,
            wait_reason: wait.to_owned(),
            ..pb::OrderStep::default()
        }
    }

    fn update() -> pb::WatchOrderResponse {
        pb::WatchOrderResponse {
            order: Some(pb::Order {
                id: "o-1".to_owned(),
                status: pb::OrderStatus::Processing as i32,
                status_key: "creating_account".to_owned(),
                ..pb::Order::default()
            }),
            steps: vec![
                step("reserve", pb::StepState::Done, ""),
                step("manual", pb::StepState::Skipped, ""),
                step("create_account", pb::StepState::Waiting, "aws_poll"),
                step("activate", pb::StepState::Pending, ""),
            ],
        }
    }

    #[test]
    fn a_line_names_the_status_progress_and_the_waiting_step() {
        assert_eq!(
            one_line(&update()),
            "- ORDER_STATUS_PROCESSING creating_account 2/4 create_account=STEP_STATE_WAITING (aws_poll)"
        );
    }

    #[test]
    fn the_frame_has_a_bar_half_full_and_one_line_per_step() {
        let frame = frame(&update());
        let lines: Vec<&str> = frame.lines().collect();
        assert_eq!(lines.len(), 6, "{frame}");
        assert_eq!(
            lines[1],
            format!("[{}{}] 2/4 steps", "#".repeat(15), "-".repeat(15))
        );
        assert!(
            lines[4].contains("wait  create_account  aws_poll"),
            "{frame}"
        );
    }
}
