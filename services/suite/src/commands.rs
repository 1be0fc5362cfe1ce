//! The subcommands of `tenure`.

mod health;
mod migrate;
mod serve;
mod token;
mod up;

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::CommandFactory as _;
use tenure_grpc::{AuthSettings, Host};
use tokio::net::TcpListener;

use crate::cli::{Cli, Command};
use crate::config::TenureConfig;
use crate::dev_key;

/// Runs the parsed command with the process environment `env`.
pub async fn run(cli: Cli, env: Vec<(String, String)>) -> anyhow::Result<()> {
    let config_file = cli.config.as_deref();
    match cli.command {
        Command::Up(args) => up::run(&args, config_file, &env).await,
        Command::Serve(args) => serve::run(&args, config_file, &env).await,
        Command::Migrate(args) => migrate::run(&args, config_file, &env).await,
        Command::Token(args) => token::run(&args),
        Command::Health(args) => health::run(&args).await,
        Command::Client(command) => crate::client::run(command, &env).await,
        Command::Completions(args) => {
            // Generated into memory first: clap_complete panics on a write error, and a shell
            // pipe such as `| head` closes stdout early.
            let mut command = Cli::command();
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut command, "tenure", &mut script);
            match std::io::Write::write_all(&mut std::io::stdout().lock(), &script) {
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                written => written.map_err(anyhow::Error::from),
            }
        }
    }
}

/// The verifier settings of a configuration: the development key when one is configured, else the
/// configured issuers.
fn auth_settings(config: &TenureConfig) -> anyhow::Result<AuthSettings> {
    match &config.auth.dev_key_file {
        Some(path) => Ok(dev_key::load(path)?.auth_settings()),
        None => Ok(AuthSettings {
            issuers: config.auth.issuers.clone(),
            leeway_secs: config.auth.leeway_secs,
        }),
    }
}

/// Binds `address`, naming what it is for when that fails (a port in use is the usual cause).
async fn bind(address: &str, purpose: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address} for {purpose}"))
}

/// Serves `/metrics` on the host until it drains; returns the bound address.
async fn start_metrics(host: &Host, address: &str) -> anyhow::Result<SocketAddr> {
    let listener = bind(address, "metrics").await?;
    let local = listener.local_addr()?;
    let draining = host.draining();
    host.spawn("metrics", async move {
        if let Err(error) = tenure_telemetry::serve_metrics(listener, draining).await {
            tracing::error!(error = %error, "metrics listener stopped");
        }
    });
    Ok(local)
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "cannot watch SIGTERM; stopping on Ctrl-C only");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutdown requested");
}

/// Flushes and stops telemetry on a blocking thread, while the runtime is still alive.
async fn stop_telemetry(guard: tenure_telemetry::TelemetryGuard) {
    match tokio::task::spawn_blocking(move || guard.shutdown()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(error = %error, "the last telemetry export failed"),
        Err(error) => tracing::warn!(error = %error, "telemetry did not shut down cleanly"),
    }
}
