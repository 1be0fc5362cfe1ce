//! The arguments of `tenure tenants|users|accounts|subscriptions|billing`: the accounts service.

use clap::{Args, Subcommand};

use super::stack_commands::{ClientOptions, IdempotencyKey, Justification, OpenBalanceArgs, Page};
use crate::client::proto::{enum_arg, enum_arg_explained};

/// `tenure tenants`.
#[derive(Debug, Args)]
pub struct TenantsArgs {
    #[command(flatten)]
    pub client: ClientOptions,
    #[command(subcommand)]
    pub command: TenantsCommand,
}

/// What to do with tenants.
#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Register a tenant with its first administrator (operators).
    Create(CreateTenant),
    /// Show a tenant; the caller's own without an id.
    Get(TenantId),
    /// List tenants (operators and billing).
    List(ListTenants),
    /// Record a verified unsubscribe; the tenant purge is due 30 days later.
    Unsubscribe(UnsubscribeTenant),
    /// Record a re-subscription; a pending tenant purge is cancelled.
    Resubscribe(TenantChange),
}

/// `tenants create`.
#[derive(Debug, Args)]
pub struct CreateTenant {
    /// The name shown to operations staff.
    #[arg(long)]
    pub name: String,
    /// Commercial or public sector.
    #[arg(long, value_parser = enum_arg("tenure.common.v1.Sector"))]
    pub sector: i32,
    /// How the platform resells AWS to the tenant.
    #[arg(long, value_parser = enum_arg("tenure.common.v1.ResaleModel"))]
    pub resale_model: i32,
    /// The marketplace's own reference for the customer.
    #[arg(long)]
    pub marketplace_ref: String,
    /// The first administrator's login email.
    #[arg(long)]
    pub admin_email: String,
    /// The first administrator's display name.
    #[arg(long)]
    pub admin_name: String,
    /// The identity provider's subject for the administrator.
    #[arg(long)]
    pub admin_subject: String,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

/// One tenant, or the caller's own.
#[derive(Debug, Args)]
pub struct TenantId {
    /// The tenant id.
    pub tenant_id: Option<String>,
}

/// `tenants list`.
#[derive(Debug, Args)]
pub struct ListTenants {
    /// Only tenants in this status.
    #[arg(long, value_parser = enum_arg("tenure.accounts.v1.TenantStatus"))]
    pub status: Option<i32>,
    #[command(flatten)]
    pub page: Page,
}

/// `tenants unsubscribe`.
#[derive(Debug, Args)]
pub struct UnsubscribeTenant {
    /// The tenant id.
    pub tenant_id: String,
    /// The marketplace's event reference, kept for audit.
    #[arg(long, default_value = "")]
    pub event_ref: String,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

/// A change to one tenant.
#[derive(Debug, Args)]
pub struct TenantChange {
    /// The tenant id.
    pub tenant_id: String,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

/// `tenure users`.
#[derive(Debug, Args)]
pub struct UsersArgs {
    #[command(flatten)]
    pub client: ClientOptions,
    #[command(subcommand)]
    pub command: UsersCommand,
}

/// What to do with a tenant's users.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a login identity to a tenant.
    Create(CreateUser),
    /// List a tenant's users.
    List(ListUsers),
}

/// `users create`.
#[derive(Debug, Args)]
pub struct CreateUser {
    /// Operators: the tenant (customers add to their own).
    #[arg(long, default_value = "")]
    pub tenant: String,
    /// Login email.
    #[arg(long)]
    pub email: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// The identity provider's subject.
    #[arg(long)]
    pub subject: String,
    /// What the user may do inside the tenant.
    #[arg(long, value_parser = enum_arg("tenure.accounts.v1.UserRole"))]
    pub role: i32,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

/// `users list`.
#[derive(Debug, Args)]
pub struct ListUsers {
    /// Operators and billing: the tenant.
    #[arg(long, default_value = "")]
    pub tenant: String,
    #[command(flatten)]
    pub page: Page,
}

/// `tenure accounts`.
#[derive(Debug, Args)]
pub struct AccountsArgs {
    #[command(flatten)]
    pub client: ClientOptions,
    #[command(subcommand)]
    pub command: AccountsCommand,
}

/// AWS accounts as the platform knows them.
#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// List account records.
    List(ListAccounts),
    /// Show one account record, by its 12-digit AWS id or by record id.
    Get(GetAccount),
    /// Check whether an account can be terminated now, as a terminate order would: the
    /// acknowledgements its mode needs, the open balance to confirm, and every problem with its code.
    Eligibility(CheckEligibility),
    /// Take an active account off the platform without touching it in AWS (tenant administrators and
    /// operators): its subscription ends, and its data is purged when the account purge period is over
    /// unless it is restored first.
    Remove(ChangeMembership),
    /// Bring a removed account back onto the platform while its purge has not run (tenant
    /// administrators and operators); its subscription starts again.
    Restore(ChangeMembership),
    /// Record that AWS Support reopened a closed account inside its reopen window (operators): the
    /// account is active again and its pending data purge is cancelled.
    Reopen(ReopenAccount),
}

/// `accounts list`.
#[derive(Debug, Args)]
pub struct ListAccounts {
    /// Only records in this state (repeatable).
    #[arg(long = "state", value_parser = enum_arg("tenure.accounts.v1.AccountState"))]
    pub states: Vec<i32>,
    /// Operators and billing: only this tenant.
    #[arg(long, default_value = "")]
    pub tenant: String,
    #[command(flatten)]
    pub page: Page,
}

/// `accounts get`.
#[derive(Debug, Args)]
pub struct GetAccount {
    /// A 12-digit AWS account id, or a record id (UUID).
    pub account: String,
}

/// `accounts eligibility`.
#[derive(Debug, Args)]
pub struct CheckEligibility {
    /// The AWS account to terminate (12 digits).
    pub account: String,
    /// Close permanently or unlink.
    #[arg(long, value_parser = enum_arg_explained("tenure.common.v1.TerminationMode"))]
    pub mode: i32,
    /// A closing precaution the customer would confirm (repeatable); the answer lists those the mode
    /// requires.
    #[arg(
        long = "ack",
        value_name = "ACKNOWLEDGEMENT",
        value_parser = enum_arg_explained("tenure.common.v1.Acknowledgement")
    )]
    pub acknowledgements: Vec<i32>,
    #[command(flatten)]
    pub balance: OpenBalanceArgs,
}

/// `accounts remove` and `accounts restore`.
#[derive(Debug, Args)]
pub struct ChangeMembership {
    /// The account's record id (the ID column of `accounts list`, or `id` in `accounts get`).
    pub account_id: String,
    /// Why, up to 500 characters; operators must give 10 or more.
    #[arg(long, default_value = "")]
    pub reason: String,
    /// Operators: the support ticket, e.g. `OPS-1234`.
    #[arg(long, default_value = "")]
    pub ticket: String,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

/// `accounts reopen`.
#[derive(Debug, Args)]
pub struct ReopenAccount {
    /// The closed account: its 12-digit AWS id, or its record id (UUID).
    pub account: String,
    #[command(flatten)]
    pub why: Justification,
}

/// `tenure subscriptions`.
#[derive(Debug, Args)]
pub struct SubscriptionsArgs {
    #[command(flatten)]
    pub client: ClientOptions,
    #[command(subcommand)]
    pub command: SubscriptionsCommand,
}

/// The billable marketplace item of each account. A subscription is named by its id, by its
/// account's 12-digit AWS id, or by its account's record id.
#[derive(Debug, Subcommand)]
pub enum SubscriptionsCommand {
    /// List subscriptions, oldest first.
    List(ListSubscriptions),
    /// Show one subscription.
    Get(SubscriptionRef),
    /// Pause a subscription, over payment say (operators); it cannot be terminated until resumed.
    Suspend(ChangeSubscription),
    /// Resume a suspended subscription (operators).
    Resume(ChangeSubscription),
}

/// `subscriptions list`.
#[derive(Debug, Args)]
pub struct ListSubscriptions {
    /// Only subscriptions in this status.
    #[arg(long, value_parser = enum_arg("tenure.accounts.v1.SubscriptionStatus"))]
    pub status: Option<i32>,
    /// Only the subscriptions of this account: its 12-digit AWS id or its record id.
    #[arg(long, default_value = "")]
    pub account: String,
    /// Operators and billing: only this tenant.
    #[arg(long, default_value = "")]
    pub tenant: String,
    #[command(flatten)]
    pub page: Page,
}

/// One subscription.
#[derive(Debug, Args)]
pub struct SubscriptionRef {
    /// The subscription id, or its account's 12-digit AWS id or record id; an account names its
    /// subscription that has not ended.
    pub subscription: String,
}

/// `subscriptions suspend` and `subscriptions resume`.
#[derive(Debug, Args)]
pub struct ChangeSubscription {
    #[command(flatten)]
    pub subscription: SubscriptionRef,
    /// Why, up to 500 characters; kept in the audit trail.
    #[arg(long, default_value = "")]
    pub reason: String,
    #[command(flatten)]
    pub key: IdempotencyKey,
}

/// `tenure billing`.
#[derive(Debug, Args)]
pub struct BillingArgs {
    #[command(flatten)]
    pub client: ClientOptions,
    #[command(subcommand)]
    pub command: BillingCommand,
}

/// What the billing system tells the platform. These commands need a billing token (`tenure token
/// --role billing`).
#[derive(Debug, Subcommand)]
pub enum BillingCommand {
    /// Record the open balance the billing system holds for an AWS account. A customer who then
    /// terminates the account must confirm this exact amount (`orders create terminate
    /// --open-balance`); zero means settled. A report older than the one recorded is ignored.
    ReportBalance(ReportBalance),
}

/// `billing report-balance`.
#[derive(Debug, Args)]
pub struct ReportBalance {
    /// The AWS account (12 digits).
    #[arg(long)]
    pub account: String,
    /// What is still to be paid, as a decimal such as `123.45`, exact to a millionth; negative for a
    /// credit, `0` once settled.
    #[arg(
        long,
        value_name = "AMOUNT",
        value_parser = crate::client::money::parse_amount,
        allow_negative_numbers = true
    )]
    pub amount: i64,
    /// The ISO 4217 currency code, such as `USD`.
    #[arg(long, value_name = "CODE", value_parser = crate::client::money::parse_currency)]
    pub currency: String,
    /// When the billing system computed the balance, in RFC 3339 (`2026-02-28T23:59:59Z`); now when
    /// omitted. It may not lie ahead of the server's clock.
    #[arg(long, value_name = "TIME", value_parser = crate::client::billing::parse_time)]
    pub as_of: Option<prost_types::Timestamp>,
    #[command(flatten)]
    pub key: IdempotencyKey,
}
