//! The arguments of `tenure sagas`: operations staff inspect and steer the sagas that run orders, over
//! the orders service's SagaAdmin API.

use clap::{Args, Subcommand};

use super::stack_commands::{ClientOptions, Justification, Page};
use crate::client::proto::enum_arg;

/// `tenure sagas`.
#[derive(Debug, Args)]
pub struct SagasArgs {
    #[command(flatten)]
    pub client: ClientOptions,
    #[command(subcommand)]
    pub command: SagasCommand,
}

/// The sagas that run orders (operators only). A saga is named by its order's id, or by its own.
#[derive(Debug, Subcommand)]
pub enum SagasCommand {
    /// List sagas, stalest change first.
    List(ListSagas),
    /// Show one saga: its status, the step it is at, why it waits, and its recent attempts.
    Get(SagaRef),
    /// Run a waiting, blocked or stuck saga's current step now, resetting its backoff. Audited: needs
    /// a reason and a ticket.
    RetryNow(SteerSaga),
    /// Stop a saga: before the order's point of no return it undoes what it did and the order ends
    /// cancelled; past it nothing is undone and the order fails. Audited: needs a reason and a ticket.
    Abort(SteerSaga),
}

/// `sagas list`.
#[derive(Debug, Args)]
pub struct ListSagas {
    /// Only the sagas an operator must act on: blocked past their point of no return, or with an
    /// undo that keeps failing (`--status blocked --status compensation-stuck`).
    #[arg(long, conflicts_with = "statuses")]
    pub stuck: bool,
    /// Only this status (repeatable).
    #[arg(long = "status", value_parser = enum_arg("tenure.orders.v1.SagaStatus"))]
    pub statuses: Vec<i32>,
    /// Only sagas of this definition, such as `account_create`.
    #[arg(long, default_value = "")]
    pub definition: String,
    /// Only sagas unchanged for at least this long: `30m`, `2h`, `1d`.
    #[arg(long, value_name = "DURATION", value_parser = crate::client::sandbox::parse_duration)]
    pub unchanged_for: Option<std::time::Duration>,
    #[command(flatten)]
    pub page: Page,
}

/// One saga.
#[derive(Debug, Args)]
pub struct SagaRef {
    /// The order the saga runs (or, with `--saga`, the saga's own id).
    pub id: String,
    /// The id is the saga's own, not its order's.
    #[arg(long)]
    pub saga: bool,
}

/// `sagas retry-now` and `sagas abort`.
#[derive(Debug, Args)]
pub struct SteerSaga {
    #[command(flatten)]
    pub saga: SagaRef,
    #[command(flatten)]
    pub why: Justification,
}
