//! `tenure orders watch`: follows an order until it ends. On a terminal the view redraws in place with
//! a progress bar, every row cut to the terminal's width and the frame to its height, since a row that
//! wraps or scrolls away cannot be drawn over; into a pipe or a file each change is one whole line, or
//! one JSON object with `--json`.

use std::fmt::Write as _;

use tenure_proto::orders::v1 as pb;

use super::OrderUnsuccessful;
use super::connect::Session;
use super::errors::{Answer as _, RpcError, present};
use super::render::Printer;
use crate::output::{self, TerminalSize, TerminalSizer};

/// Width of the progress bar, in characters.
const BAR_WIDTH: usize = 30;

pub(super) async fn follow(
    session: &Session,
    printer: Printer,
    order_id: &str,
    sizer: TerminalSizer,
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
        Mode::Redraw {
            sizer,
            drawn: Vec::new(),
        }
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
    /// A terminal: the previous frame, whose rows were `drawn` characters wide, is replaced.
    Redraw {
        sizer: TerminalSizer,
        drawn: Vec<usize>,
    },
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
            Mode::Redraw { sizer, drawn } => {
                let size = sizer.size();
                let lines = fit(&frame(update), size);
                // Up to the first row of the previous frame, and clear from there down. The rows are
                // counted at today's width: a terminal made narrower since has wrapped them.
                let rows = rows_taken(drawn, size.columns);
                let rewind = if rows > 0 {
                    format!("\x1b[{rows}F\x1b[J")
                } else {
                    String::new()
                };
                *drawn = lines.iter().map(|line| line.chars().count()).collect();
                let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
                write(&format!("{rewind}{text}"))
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
    // The message has a row of its own: beside the id and the status it overflowed 80 columns.
    let _ = writeln!(text, "order {}  {}", order.id, status_of(order));
    if !order.status_message.is_empty() {
        let _ = writeln!(text, "  {}", order.status_message);
    }
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

/// How many rows lines of these widths take on a terminal `columns` wide: an empty line takes one,
/// a longer one wraps.
fn rows_taken(widths: &[usize], columns: usize) -> usize {
    let columns = columns.max(1);
    widths
        .iter()
        .map(|width| width.div_ceil(columns).max(1))
        .sum()
}

/// `frame` as the rows to draw on a terminal of `size`: control characters (a message is text, never
/// a cursor movement) shown as spaces, each row cut to the width with `…` where it was cut, and the
/// frame cut to one row less than the height, since the cursor rests on the row below it and a frame
/// that scrolled its top off the screen could not be drawn over.
fn fit(frame: &str, size: TerminalSize) -> Vec<String> {
    let width = size.columns.max(1);
    let height = size.rows.saturating_sub(1).max(1);
    let mut lines: Vec<String> = frame.lines().map(|line| cut(line, width)).collect();
    if lines.len() > height {
        let hidden = lines.len() - (height - 1);
        lines.truncate(height - 1);
        lines.push(cut(&format!("  … {hidden} more rows"), width));
    }
    lines
}

/// `line` in at most `width` characters, cut with `…` when longer.
fn cut(line: &str, width: usize) -> String {
    let clean = line.chars().map(|character| {
        if character.is_control() {
            ' '
        } else {
            character
        }
    });
    if line.chars().count() <= width {
        return clean.collect();
    }
    let mut kept: String = clean.take(width.saturating_sub(1)).collect();
    kept.push('…');
    kept
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

    /// An update whose every text is longer than any terminal is wide.
    fn long_update() -> pb::WatchOrderResponse {
        let mut update = update();
        if let Some(order) = update.order.as_mut() {
            order.id = "0196b8f4-5a7e-7c8d-9e0f-1a2b3c4d5e6f".to_owned();
            order.status_message =
                "We are creating your AWS account; AWS usually needs a few minutes for this, \
                 and we will tell you as soon as it is ready."
                    .to_owned();
        }
        update.steps[2].wait_detail = "AWS is creating the account and has not said when it will \
             be done; we look again every ten seconds"
            .to_owned();
        update.steps[2].task_id = "0196b8f4-5a7e-7c8d-9e0f-000000000001".to_owned();
        update
    }

    #[test]
    fn every_row_fits_an_80_by_24_terminal_and_a_cut_row_ends_in_an_ellipsis() {
        let size = TerminalSize {
            columns: 80,
            rows: 24,
        };
        let lines = fit(&frame(&long_update()), size);
        assert!(lines.len() < 24, "{lines:#?}");
        for line in &lines {
            assert!(line.chars().count() <= 80, "{} > 80: {line}", line.len());
        }
        assert!(lines[0].starts_with("order 0196b8f4-"), "{lines:#?}");
        assert!(lines[0].ends_with("ORDER_STATUS_PROCESSING"), "{lines:#?}");
        assert!(lines[1].ends_with('…'), "the message is cut: {lines:#?}");
        assert_eq!(lines[1].chars().count(), 80);
        // Nothing is cut on a terminal wide enough.
        let wide = fit(
            &frame(&long_update()),
            TerminalSize {
                columns: 400,
                rows: 24,
            },
        );
        assert!(wide.iter().all(|line| !line.ends_with('…')), "{wide:#?}");
    }

    #[test]
    fn a_frame_taller_than_the_terminal_says_how_many_rows_it_left_out() {
        let mut update = update();
        update.steps = (0..40)
            .map(|index| step(&format!("step_{index}"), pb::StepState::Pending, ""))
            .collect();
        let lines = fit(
            &frame(&update),
            TerminalSize {
                columns: 80,
                rows: 24,
            },
        );
        assert_eq!(lines.len(), 23, "one row stays free for the cursor");
        assert_eq!(lines[22], "  … 20 more rows");
    }

    #[test]
    fn control_characters_in_server_text_cannot_move_the_cursor() {
        assert_eq!(cut("a\x1b[2Jb", 80), "a [2Jb");
        assert_eq!(cut("abcdef", 4), "abc…");
    }

    #[test]
    fn the_redraw_rewinds_the_rows_drawn_wrapped_rows_included() {
        assert_eq!(rows_taken(&[], 80), 0);
        assert_eq!(rows_taken(&[0, 80, 12], 80), 3);
        // Made narrower after the frame was drawn: the 80-character row now takes two.
        assert_eq!(rows_taken(&[0, 80, 12], 40), 4);
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
