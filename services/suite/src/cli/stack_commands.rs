//! The client subcommands, which talk to a running stack over gRPC: `tenure
//! orders|tasks|events|tenants|users|accounts|billing|purges|sandbox|demo`. Those of the accounts
//! service take their arguments from [`super::accounts`].

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::accounts::{AccountsArgs, BillingArgs, SubscriptionsArgs, TenantsArgs, UsersArgs};
use super::sagas::SagasArgs;

use crate::client::proto::{enum_arg, enum_arg_explained};

/// The subcommands that talk to a running stack.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Place, follow, cancel and answer orders.
    Orders(OrdersArgs),
    /// Inspect and steer the sagas that run orders: the stuck ones, retry now, abort (operators).
    Sagas(SagasArgs),
    /// List, show and complete the manual tasks of orders, and answer their surveys.
    Tasks(TasksArgs),
    /// Follow the order event stream.
    Events(EventsArgs),
    /// Register and read tenants; record unsubscribes.
    Tenants(TenantsArgs),
    /// Add and list a tenant's users.
    Users(UsersArgs),
    /// Read AWS account records, check a termination, remove accounts from the platform and restore
    /// them, record a reopening.
    Accounts(AccountsArgs),
    /// Read subscriptions; suspend and resume them (operators).
    Subscriptions(SubscriptionsArgs),
    /// Report what the billing system knows (billing role).
    Billing(BillingArgs),
    /// Plan, expedite, hold and prove data purges.
    Purges(PurgesArgs),
    /// Drive the simulated AWS of `tenure up`: its clock and the customer's side of invitations.
    Sandbox(SandboxArgs),
    /// Tell a tenant's whole tenure against a running `tenure up`: onboarding, a transfer, a
    /// termination, the 30- and 90-day windows on the sandbox clock, and the purge receipt.
    Demo(DemoArgs),
}

/// Where the stack listens and who is calling; each value comes from the flag, else the environment,
/// else the client configuration file, else the default (see `tenure::client::settings`).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Connection")]
pub struct ClientOptions {
    /// The orders endpoint [env: TENURE_ENDPOINT] [default: http://127.0.0.1:50051]. The other
    /// services default to the next three ports of the same host, as `tenure up` assigns them.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// The accounts endpoint [env: TENURE_ACCOUNTS_ENDPOINT].
    #[arg(long, global = true, value_name = "URL")]
    pub accounts_endpoint: Option<String>,
    /// The provisioning endpoint, for the sandbox commands [env: TENURE_PROVISIONING_ENDPOINT].
    #[arg(long, global = true, value_name = "URL")]
    pub provisioning_endpoint: Option<String>,
    /// The data-purge endpoint [env: TENURE_PURGE_ENDPOINT].
    #[arg(long, global = true, value_name = "URL")]
    pub purge_endpoint: Option<String>,
    /// The bearer token [env: TENURE_TOKEN].
    #[arg(long, global = true, value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The client configuration file [env: TENURE_CLIENT_CONFIG] [default:
    /// $XDG_CONFIG_HOME/tenure/client.toml, when it exists].
    #[arg(long, global = true, value_name = "FILE")]
    pub client_config: Option<PathBuf>,
    /// Print JSON (the proto3 JSON mapping, `.proto` field names) instead of tables: one object per
    /// answer, or one per line for streams.
    #[arg(long, global = true)]
    pub json: bool,
}

/// `tenure orders`.
#[derive(Debug, Args)]
pub struct OrdersArgs {
    #[command(flatten)]
    pub client: ClientOptions,
    #[command(subcommand)]
    pub command: OrdersCommand,
}

/// What to do with orders.
#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// Place an order (as a customer).
    #[command(subcommand)]
    Create(CreateOrder),
    /// Show one order.
    Get(OrderId),
    /// List orders, newest first: one page, or every page with `--all`.
    List(ListOrders),
    /// Show an order's steps with their state, attempts, start, finish, duration and waits.
    Timeline(OrderId),
    /// Follow an order until it ends: a live view on a terminal, one line (or JSON object) per change
    /// otherwise. Exits 0 when it completed and 4 when it failed or was cancelled.
    Watch(OrderId),
    /// Cancel an order before its point of no return.
    Cancel(CancelOrder),
    /// Answer a querying order with corrected input or a confirmation.
    Answer(AnswerOrder),
    /// Ask an order to look at AWS again now (after accepting an invitation, say).
    Signal(SignalOrder),
}

/// One order.
#[derive(Debug, Args)]
pub struct OrderId {
    /// The order id.
    pub order_id: String,
}

/// The idempotency key of a change; fresh per run unless given.
#[derive(Debug, Clone, Default, Args)]
pub struct IdempotencyKey {
    /// Reuse this key to retry a request safely (16 to 64 of `[A-Za-z0-9_-]`); a fresh one otherwise.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
}

/// Why an operator makes a change, kept in the audit trail, with the change's idempotency key.
#[derive(Debug, Args)]
pub struct Justification {
    /// Why, 10 to 500 characters.
    #[arg(long)]
    pub reason: String,
    /// The support ticket, e.g. `OPS-1234` or `LEGAL-42`.
    #[arg(long)]
    pub ticket: String,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

/// The order kinds.
#[derive(Debug, Subcommand)]
pub enum CreateOrder {
    /// A new AWS account in the tenant's platform organization.
    NewAccount(NewAccountOrder),
    /// An AWS billing transfer of the customer's management account.
    BillingTransfer(BillingTransferOrder),
    /// An ECAM or SPAM transfer by organization invitation (the tenant's resale model decides).
    OrganizationTransfer(OrganizationTransferOrder),
    /// Close or unlink one account.
    Terminate(TerminateOrder),
}

/// `orders create new-account`.
#[derive(Debug, Args)]
pub struct NewAccountOrder {
    /// The root email (6 to 64 ASCII characters).
    #[arg(long)]
    pub root_email: String,
    /// The account name (1 to 50 printable ASCII characters).
    #[arg(long)]
    pub account_name: String,
    /// A support contact; operations then have a manual step to complete.
    #[arg(long, default_value = "")]
    pub support_contact: String,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

/// `orders create billing-transfer`.
#[derive(Debug, Args)]
pub struct BillingTransferOrder {
    /// The customer's management account (12 digits).
    #[arg(long)]
    pub management_account: String,
    /// The name shown in the invitation; derived from the tenant's name when omitted.
    #[arg(long, default_value = "")]
    pub transfer_name: String,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

/// `orders create organization-transfer`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("estate").required(true).args(["management_account", "linked_account"]))]
pub struct OrganizationTransferOrder {
    /// Hand over the whole organization of this management account.
    #[arg(long)]
    pub management_account: Option<String>,
    /// A linked account to invite (repeatable, 1 to 20).
    #[arg(long = "linked-account", value_name = "ACCOUNT")]
    pub linked_account: Vec<String>,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

/// `orders create terminate`.
#[derive(Debug, Args)]
pub struct TerminateOrder {
    /// The AWS account to terminate.
    #[arg(long)]
    pub account: String,
    /// Close permanently or unlink.
    #[arg(long, value_parser = enum_arg_explained("tenure.common.v1.TerminationMode"))]
    pub mode: i32,
    /// A closing precaution the customer confirms (repeatable), by the name the server's messages
    /// give it, such as `ACKNOWLEDGEMENT_BACKUP`, or by its shorthand, `backup`. The server names any
    /// that are missing (TNR007); `accounts eligibility` lists those the mode requires.
    #[arg(
        long = "ack",
        value_name = "ACKNOWLEDGEMENT",
        value_parser = enum_arg_explained("tenure.common.v1.Acknowledgement")
    )]
    pub acknowledgements: Vec<i32>,
    /// The customer's reason.
    #[arg(long, default_value = "")]
    pub reason: String,
    #[command(flatten)]
    pub balance: OpenBalanceArgs,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

/// The open balance a customer confirms before a termination.
#[derive(Debug, Clone, Default, Args)]
pub struct OpenBalanceArgs {
    /// The open balance the customer confirms, as a decimal with `--currency`: `--open-balance
    /// 123.45 --currency USD`. Required when the billing system reports an open balance (TNR015),
    /// and it must equal, to the last digit and in its currency, the balance `tenure accounts get`
    /// or `tenure accounts eligibility` shows. Negative for a credit.
    #[arg(
        long,
        value_name = "AMOUNT",
        value_parser = crate::client::money::parse_amount,
        allow_negative_numbers = true,
        requires = "currency"
    )]
    pub open_balance: Option<i64>,
    /// The ISO 4217 currency of `--open-balance`, such as `USD`.
    #[arg(
        long,
        value_name = "CODE",
        value_parser = crate::client::money::parse_currency,
        requires = "open_balance"
    )]
    pub currency: Option<String>,
}

/// `orders list`.
#[derive(Debug, Args)]
pub struct ListOrders {
    /// Only this kind (repeatable).
    #[arg(long = "kind", value_parser = enum_arg("tenure.orders.v1.OrderKind"))]
    pub kinds: Vec<i32>,
    /// Only this status (repeatable).
    #[arg(long = "status", value_parser = enum_arg("tenure.orders.v1.OrderStatus"))]
    pub statuses: Vec<i32>,
    /// Only orders on this AWS account.
    #[arg(long, default_value = "")]
    pub account: String,
    /// Operators and billing: only this tenant.
    #[arg(long, default_value = "")]
    pub tenant: String,
    /// Only orders placed at or after this time, in RFC 3339 (`2026-02-28T09:00:00Z`; a bare date is
    /// its midnight in UTC).
    #[arg(long, value_name = "TIME", value_parser = crate::client::billing::parse_time)]
    pub after: Option<prost_types::Timestamp>,
    /// Only orders placed before this time, in RFC 3339.
    #[arg(long, value_name = "TIME", value_parser = crate::client::billing::parse_time)]
    pub before: Option<prost_types::Timestamp>,
    /// Every page, one after the other, as one list (`--page-size` sets how many each call reads).
    #[arg(long, conflicts_with = "page_token")]
    pub all: bool,
    #[command(flatten)]
    pub page: Page,
}

/// One page of a list.
#[derive(Debug, Clone, Default, Args)]
pub struct Page {
    /// Rows per page (at most 100; the server's default when 0).
    #[arg(long, default_value_t = 0)]
    pub page_size: u32,
    /// The token a previous page printed.
    #[arg(long, default_value = "")]
    pub page_token: String,
}

/// `orders cancel`.
#[derive(Debug, Args)]
pub struct CancelOrder {
    /// The order id.
    pub order_id: String,
    /// Why.
    #[arg(long, default_value = "")]
    pub reason: String,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

/// `orders answer`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("answer").required(true).args(["root_email", "management_account", "linked_account", "confirmed"]))]
pub struct AnswerOrder {
    /// The order id.
    pub order_id: String,
    /// The query answered; the order's open query when omitted.
    #[arg(long)]
    pub query: Option<String>,
    /// A new root email (TNR101, TNR102).
    #[arg(long)]
    pub root_email: Option<String>,
    /// A corrected management account (TNR201).
    #[arg(long)]
    pub management_account: Option<String>,
    /// The corrected list of linked accounts (repeatable; TNR302, TNR303, TNR306).
    #[arg(long = "linked-account", value_name = "ACCOUNT")]
    pub linked_account: Vec<String>,
    /// The customer completed the requested action in AWS.
    #[arg(long)]
    pub confirmed: bool,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

/// `orders signal`.
#[derive(Debug, Args)]
pub struct SignalOrder {
    /// The order id.
    pub order_id: String,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

/// `tenure tasks`.
#[derive(Debug, Args)]
pub struct TasksArgs {
    #[command(flatten)]
    pub client: ClientOptions,
    #[command(subcommand)]
    pub command: TasksCommand,
}

/// What to do with manual tasks.
#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// List the tasks the caller's role owns (open ones unless `--state` says otherwise), with their
    /// kind and whether the order waits for them.
    List(ListTasks),
    /// Show one task the caller's role owns, with its numbered instructions.
    Show(ShowTask),
    /// Complete a task, or reject it with `--reject --note WHY`. A survey is answered with `--score`
    /// (and `--comment`), or declined with `--reject --note WHY`.
    Complete(CompleteTask),
}

/// `tasks list`.
#[derive(Debug, Args)]
pub struct ListTasks {
    /// Only tasks of this order.
    #[arg(long, default_value = "")]
    pub order: String,
    /// Only tasks in this state.
    #[arg(long, value_parser = enum_arg("tenure.orders.v1.TaskState"))]
    pub state: Option<i32>,
    #[command(flatten)]
    pub page: Page,
}

/// `tasks show`.
#[derive(Debug, Args)]
pub struct ShowTask {
    /// The task id.
    pub task_id: String,
    /// The task's order: only its tasks are searched, which is quicker.
    #[arg(long, default_value = "")]
    pub order: String,
}

/// `tasks complete`.
#[derive(Debug, Args)]
pub struct CompleteTask {
    /// The task id.
    pub task_id: String,
    /// Reject the task instead: the order fails or compensates, and a survey is declined. Needs
    /// `--note`.
    #[arg(long, requires = "note", conflicts_with = "score")]
    pub reject: bool,
    /// A note for the record.
    #[arg(long)]
    pub note: Option<String>,
    /// Survey tasks: how satisfied the customer is, from 1 (not at all) to 5 (very).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=5))]
    pub score: Option<u32>,
    /// Survey tasks: a comment with the score, up to 1,000 characters.
    #[arg(long, requires = "score")]
    pub comment: Option<String>,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

/// `tenure events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub client: ClientOptions,
    #[command(subcommand)]
    pub command: EventsCommand,
}

/// The order event stream.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print order events in commit order as they are committed. With `--json`, one object per line,
    /// flushed per event, so a pipe sees each at once.
    Tail(TailEvents),
}

/// `events tail`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("start").args(["from_beginning", "after", "from_now", "subscription"]))]
pub struct TailEvents {
    /// From the first retained event (the default).
    #[arg(long)]
    pub from_beginning: bool,
    /// Resume after this position (an event's `position`).
    #[arg(long, value_name = "POSITION")]
    pub after: Option<String>,
    /// Only events committed from now on.
    #[arg(long)]
    pub from_now: bool,
    /// A named server-side subscription: resume from its acknowledged cursor.
    #[arg(long, value_name = "NAME")]
    pub subscription: Option<String>,
    /// With `--subscription`: acknowledge each batch once printed.
    #[arg(long, requires = "subscription")]
    pub ack: bool,
    /// Only this event type, e.g. `order.status_changed` (repeatable).
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Only events of this order (repeatable).
    #[arg(long = "order", value_name = "ORDER_ID")]
    pub order_ids: Vec<String>,
    /// Stop once the stream has delivered everything committed so far, instead of following it.
    #[arg(long)]
    pub until_caught_up: bool,
}

/// `tenure purges`.
#[derive(Debug, Args)]
pub struct PurgesArgs {
    #[command(flatten)]
    pub client: ClientOptions,
    #[command(subcommand)]
    pub command: PurgesCommand,
}

/// Scheduled deletions, legal holds and receipts.
#[derive(Debug, Subcommand)]
pub enum PurgesCommand {
    /// List purges.
    List(ListPurges),
    /// Show one purge.
    Get(PurgeId),
    /// Dry run: per service, class and table, the rows that go and the rows that stay.
    Plan(PurgeId),
    /// Make a purge due now, with a support ticket.
    Expedite(ExpeditePurge),
    /// Cancel a purge before it runs.
    Cancel(CancelPurge),
    /// Place a legal hold on a tenant or one of its accounts (needs the `legal_hold` permission).
    Hold(PlaceHold),
    /// Release a legal hold.
    Release(ReleaseHold),
    /// List legal holds.
    Holds(ListHolds),
    /// Show the receipt of a completed purge.
    Receipt(PurgeId),
    /// List receipts in chain order.
    Receipts(Page),
    /// Check every receipt's hash, link and signature.
    Verify,
}

/// `purges list`.
#[derive(Debug, Args)]
pub struct ListPurges {
    /// Only purges in this state (repeatable).
    #[arg(long = "state", value_parser = enum_arg("tenure.purge.v1.PurgeState"))]
    pub states: Vec<i32>,
    /// Only purges of this AWS account.
    #[arg(long, default_value = "")]
    pub account: String,
    /// Operators: only this tenant.
    #[arg(long, default_value = "")]
    pub tenant: String,
    #[command(flatten)]
    pub page: Page,
}

/// One purge.
#[derive(Debug, Args)]
pub struct PurgeId {
    /// The purge id.
    pub purge_id: String,
}

/// `purges expedite`.
#[derive(Debug, Args)]
pub struct ExpeditePurge {
    /// The purge id.
    pub purge_id: String,
    /// The support ticket, e.g. `OPS-1234`.
    #[arg(long)]
    pub ticket: String,
    /// Why (10 to 500 characters).
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

/// `purges cancel`.
#[derive(Debug, Args)]
pub struct CancelPurge {
    /// The purge id.
    pub purge_id: String,
    /// Why.
    #[arg(long, default_value = "")]
    pub reason: String,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

/// `purges hold`.
#[derive(Debug, Args)]
pub struct PlaceHold {
    /// The tenant whose data to hold.
    #[arg(long)]
    pub tenant: String,
    /// Hold only this AWS account's data instead of the whole tenant's.
    #[arg(long)]
    pub account: Option<String>,
    #[command(flatten)]
    pub why: Justification,
}

/// `purges release`.
#[derive(Debug, Args)]
pub struct ReleaseHold {
    /// The hold id.
    pub hold_id: String,
    #[command(flatten)]
    pub why: Justification,
}

/// `purges holds`.
#[derive(Debug, Args)]
pub struct ListHolds {
    /// Only holds still in force.
    #[arg(long)]
    pub active: bool,
    #[command(flatten)]
    pub page: Page,
}

/// `tenure sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    #[command(flatten)]
    pub client: ClientOptions,
    #[command(subcommand)]
    pub command: SandboxCommand,
}

/// The simulated AWS of `tenure up` (operators).
#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Move the simulated clock forward; under `tenure up` every service follows it.
    Advance(AdvanceClock),
    /// Show the simulated time and how far it runs ahead.
    Clock,
    /// Accept, as the invited customer, the open invitations sent to an account.
    Accept(HandshakeTarget),
    /// Decline, as the invited customer, the open invitations sent to an account.
    Decline(HandshakeTarget),
    /// Deploy, as the customer, the bootstrap stack a billing transfer waits for.
    DeployBootstrap(SandboxAccount),
    /// Create a standalone AWS account, as a customer signing up with AWS directly: an account
    /// outside every organization to transfer in, or to take an email AWS then knows.
    CreateAccount(CreateCustomerAccount),
}

/// `sandbox create-account`.
#[derive(Debug, Args)]
pub struct CreateCustomerAccount {
    /// The root email; unique across the simulation, as in AWS.
    #[arg(long)]
    pub email: String,
    /// The account name (1 to 50 printable ASCII characters).
    #[arg(long)]
    pub name: String,
}

/// `sandbox advance`.
#[derive(Debug, Args)]
pub struct AdvanceClock {
    /// How far: a number and a unit, combinable: `600s`, `10m`, `2h`, `90d`, `1d12h`.
    #[arg(long, value_parser = crate::client::sandbox::parse_duration)]
    pub by: std::time::Duration,
}

/// The invited account of a handshake.
#[derive(Debug, Args)]
pub struct HandshakeTarget {
    /// The invited AWS account.
    #[arg(long)]
    pub account: String,
    /// The inviting organization's management account.
    #[arg(long, default_value = crate::config::SANDBOX_ORGANIZATION)]
    pub organization: String,
}

/// One sandbox account.
#[derive(Debug, Args)]
pub struct SandboxAccount {
    /// The AWS account.
    #[arg(long)]
    pub account: String,
}

/// `tenure demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub client: ClientOptions,
    /// The development key `tenure up` wrote; the demo mints the operator and customer tokens it needs.
    #[arg(long, default_value = "data/dev-signing-key.pem")]
    pub key_file: PathBuf,
}
