//! The command line of the `tenure` binary.

mod accounts;
mod sagas;
mod stack_commands;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tenure_grpc::{Role, ServiceKind};
use uuid::Uuid;

pub use accounts::*;
pub use sagas::*;
pub use stack_commands::*;

/// Tenure: sell and manage AWS accounts over their whole tenure.
#[derive(Debug, Parser)]
#[command(name = "tenure", version, propagate_version = true)]
pub struct Cli {
    /// A TOML configuration file, layered under `TENURE_` environment variables.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per process from the command line; boxing buys nothing"
)]
pub enum Command {
    /// Run all four services in one process, on SQLite files and the in-process AWS sandbox.
    Up(UpArgs),
    /// Run one service, configured by file and environment (PostgreSQL in production).
    Serve(ServeArgs),
    /// Apply the database migrations of the configured services.
    Migrate(MigrateArgs),
    /// Mint a development token signed with the key of `tenure up`.
    Token(TokenArgs),
    /// Check a running service's gRPC health; exits non-zero unless it is SERVING.
    Health(HealthArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// The client subcommands.
    #[command(flatten)]
    Client(ClientCommand),
}

/// Arguments of `tenure up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Directory for the SQLite files and the development signing key.
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
    /// Address the listeners bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// Port of orders; accounts, provisioning and data-purge take the next three. 0 picks free ports
    /// for every listener, the metrics listener included.
    #[arg(long, default_value_t = 50051)]
    pub port_base: u16,
    /// Port of the `/metrics` listener (ignored when `--port-base 0`).
    #[arg(long, default_value_t = 9464)]
    pub metrics_port: u16,
}

/// Arguments of `tenure serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The service to run.
    pub service: ServiceArg,
}

/// Arguments of `tenure migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Only these services (repeatable); all four by default.
    #[arg(long = "service", value_name = "SERVICE")]
    pub services: Vec<ServiceArg>,
}

/// Arguments of `tenure token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The role the token grants.
    #[arg(long, value_enum, default_value_t = RoleArg::Operator)]
    pub role: RoleArg,
    /// The tenant of a customer token.
    #[arg(long, required_if_eq("role", "customer"))]
    pub tenant: Option<Uuid>,
    /// The token subject; defaults to `dev-<role>`.
    #[arg(long)]
    pub subject: Option<String>,
    /// An extra permission, such as `legal_hold` (repeatable).
    #[arg(long = "permission", value_name = "PERMISSION")]
    pub permissions: Vec<String>,
    /// Lifetime in minutes (at most 720).
    #[arg(long, default_value_t = 60)]
    pub ttl_minutes: u64,
    /// The development key written by `tenure up`.
    #[arg(long, default_value = "data/dev-signing-key.pem")]
    pub key_file: PathBuf,
    /// Mint the token one Tenure service sends another instead (valid five minutes), to call an
    /// internal RPC by hand, such as provisioning's `CreateAccount`, which only orders may call.
    #[arg(
        long,
        value_enum,
        value_name = "SERVICE",
        requires = "callee",
        conflicts_with_all = ["role", "tenant", "subject", "permissions", "ttl_minutes"]
    )]
    pub as_service: Option<ServiceArg>,
    /// The service an `--as-service` token is for.
    #[arg(
        long = "for",
        value_enum,
        value_name = "SERVICE",
        requires = "as_service"
    )]
    pub callee: Option<ServiceArg>,
}

/// Arguments of `tenure health`.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The listener to ask, e.g. `http://127.0.0.1:50051`.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub endpoint: String,
    /// A service name such as `tenure.orders.v1.OrderService`; empty asks about the whole listener.
    #[arg(long, default_value = "")]
    pub service: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 5)]
    pub timeout_secs: u64,
}

/// Arguments of `tenure completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// A service named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceArg {
    /// The orders service.
    Orders,
    /// The accounts service.
    Accounts,
    /// The provisioning service.
    Provisioning,
    /// The data-purge service.
    DataPurge,
}

impl From<ServiceArg> for ServiceKind {
    fn from(arg: ServiceArg) -> Self {
        match arg {
            ServiceArg::Orders => ServiceKind::Orders,
            ServiceArg::Accounts => ServiceKind::Accounts,
            ServiceArg::Provisioning => ServiceKind::Provisioning,
            ServiceArg::DataPurge => ServiceKind::DataPurge,
        }
    }
}

/// A token role named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// A marketplace user of one tenant.
    Customer,
    /// Operations staff.
    Operator,
    /// An internal billing system.
    Billing,
}

impl From<RoleArg> for Role {
    fn from(arg: RoleArg) -> Self {
        match arg {
            RoleArg::Customer => Role::Customer,
            RoleArg::Operator => Role::Operator,
            RoleArg::Billing => Role::Billing,
        }
    }
}
