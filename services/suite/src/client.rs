//! The command-line client of a running stack: orders, sagas, tasks, the event stream, tenants,
//! accounts, subscriptions, billing, purges, the sandbox and the demo. Every command resolves its settings once
//! ([`settings::ClientSettings`]), calls through one [`connect::Session`], prints through one
//! [`render::Printer`], and reports refusals as [`errors::RpcError`].

mod accounts;
pub mod billing;
mod connect;
mod demo;
pub mod errors;
mod events;
pub mod money;
mod orders;
pub mod proto;
mod purges;
mod render;
mod sagas;
pub mod sandbox;
pub mod settings;
mod subscriptions;
mod tasks;
mod watch;

use std::process::ExitCode;

use crate::cli::{ClientCommand, ClientOptions};
use connect::Session;
use errors::RpcError;
use render::Printer;
use settings::ClientSettings;

/// Exit status of a failure the stack reported (a refused call), as opposed to 1 for a local failure
/// (no token, no listener at the endpoint) and clap's 2 for a usage error.
pub const EXIT_REFUSED: u8 = 3;

/// Exit status of `orders watch` when the order ended failed or cancelled.
pub const EXIT_ORDER_UNSUCCESSFUL: u8 = 4;

/// The order a watch followed ended without completing.
#[derive(Debug)]
pub struct OrderUnsuccessful {
    /// The order.
    pub order_id: String,
    /// Its final status, as shown.
    pub status: String,
}

impl std::fmt::Display for OrderUnsuccessful {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "order {} ended {}", self.order_id, self.status)
    }
}

impl std::error::Error for OrderUnsuccessful {}

/// The exit status that tells a script what kind of failure `error` is.
pub fn exit_code(error: &anyhow::Error) -> ExitCode {
    if error.chain().any(|cause| cause.is::<OrderUnsuccessful>()) {
        ExitCode::from(EXIT_ORDER_UNSUCCESSFUL)
    } else if error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<RpcError>())
        .any(|refusal| !refusal.is_transport())
    {
        ExitCode::from(EXIT_REFUSED)
    } else {
        ExitCode::FAILURE
    }
}

/// Runs a client command with the process environment `env`.
pub async fn run(command: ClientCommand, env: &[(String, String)]) -> anyhow::Result<()> {
    match command {
        ClientCommand::Orders(args) => {
            let sizer = crate::output::TerminalSizer::from_env(env);
            with_session(&args.client, env, |session, printer| {
                orders::run(args.command, session, printer, sizer)
            })
            .await
        }
        ClientCommand::Sagas(args) => {
            with_session(&args.client, env, |session, printer| {
                sagas::run(args.command, session, printer)
            })
            .await
        }
        ClientCommand::Tasks(args) => {
            with_session(&args.client, env, |session, printer| {
                tasks::run(args.command, session, printer)
            })
            .await
        }
        ClientCommand::Events(args) => {
            with_session(&args.client, env, |session, printer| {
                events::run(args.command, session, printer)
            })
            .await
        }
        ClientCommand::Tenants(args) => {
            with_session(&args.client, env, |session, printer| {
                accounts::tenants(args.command, session, printer)
            })
            .await
        }
        ClientCommand::Users(args) => {
            with_session(&args.client, env, |session, printer| {
                accounts::users(args.command, session, printer)
            })
            .await
        }
        ClientCommand::Accounts(args) => {
            with_session(&args.client, env, |session, printer| {
                accounts::accounts(args.command, session, printer)
            })
            .await
        }
        ClientCommand::Subscriptions(args) => {
            with_session(&args.client, env, |session, printer| {
                subscriptions::run(args.command, session, printer)
            })
            .await
        }
        ClientCommand::Billing(args) => {
            with_session(&args.client, env, |session, printer| {
                billing::run(args.command, session, printer)
            })
            .await
        }
        ClientCommand::Purges(args) => {
            with_session(&args.client, env, |session, printer| {
                purges::run(args.command, session, printer)
            })
            .await
        }
        ClientCommand::Sandbox(args) => {
            with_session(&args.client, env, |session, printer| {
                sandbox::run(args.command, session, printer)
            })
            .await
        }
        ClientCommand::Demo(args) => match ClientSettings::resolve(&args.client, env) {
            Ok(settings) => {
                let result =
                    demo::run(&args, settings.clone(), Printer::new(args.client.json)).await;
                result.map_err(|error| explain_unreachable(error, &settings))
            }
            Err(error) => Err(error),
        },
    }
}

/// Resolves the settings, opens the session and runs `command` with it.
async fn with_session<F, Fut>(
    options: &ClientOptions,
    env: &[(String, String)],
    command: F,
) -> anyhow::Result<()>
where
    F: FnOnce(Session, Printer) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let settings = ClientSettings::resolve(options, env)?;
    let session = Session::new(settings.clone())?;
    command(session, Printer::new(options.json))
        .await
        .map_err(|error| explain_unreachable(error, &settings))
}

/// Says where the client looked when no listener answered, the usual cause being a stack that is not
/// running or runs on other ports.
fn explain_unreachable(error: anyhow::Error, settings: &ClientSettings) -> anyhow::Error {
    let unreachable = error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<RpcError>())
        .any(RpcError::is_transport);
    if unreachable {
        error.context(format!(
            "no answer from the stack (orders {}, accounts {}, provisioning {}, data-purge {}); is \
             `tenure up` running there? Set --endpoint or TENURE_ENDPOINT otherwise",
            settings.orders, settings.accounts, settings.provisioning, settings.purge
        ))
    } else {
        error
    }
}
