//! `tenure up`: all four services in one process, each on its own listener, on SQLite files under the
//! data directory. It migrates, starts, prints every endpoint and a ready-made token, and runs until
//! interrupted.

use std::path::Path;
use std::time::Duration;

use tenure_grpc::{Role, ServiceKind};

use super::{bind, shutdown_signal, start_metrics, stop_telemetry};
use crate::cli::UpArgs;
use crate::cluster::{self, Cluster, ClusterDeps, PeerTokens};
use crate::config::{self, DEV_KEY_FILE, PeerUrls, TenureConfig};
use crate::{dev_key, output};

/// How long the printed operator token stays valid.
const PRINTED_TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);

pub(super) async fn run(
    args: &UpArgs,
    config_file: Option<&Path>,
    env: &[(String, String)],
) -> anyhow::Result<()> {
    let mut config = config::load(TenureConfig::development(&args.data_dir), config_file, env)?;
    // Command-line flags come last in the layering.
    let ephemeral = args.port_base == 0;
    config.telemetry.metrics_listen = Some(format!(
        "{}:{}",
        args.bind,
        if ephemeral { 0 } else { args.metrics_port }
    ));
    let telemetry = tenure_telemetry::init_with_writer(&config.telemetry, std::io::stderr)?;

    let key_file = config
        .auth
        .dev_key_file
        .clone()
        .unwrap_or_else(|| args.data_dir.join(DEV_KEY_FILE));
    let authority = dev_key::load_or_create(&key_file)?;
    cluster::migrate(&config, &ServiceKind::ALL).await?;

    let mut listeners = Vec::new();
    for (offset, kind) in (0u16..).zip(ServiceKind::ALL) {
        let port = if ephemeral {
            0
        } else {
            args.port_base.saturating_add(offset)
        };
        let address = format!("{}:{port}", args.bind);
        listeners.push((kind, bind(&address, kind.name()).await?));
    }
    // The services call each other where they really listen: with `--port-base 0` or another base,
    // the default peer URLs would name ports this stack does not have (or another stack's).
    let mut peers = PeerUrls::default();
    for (kind, listener) in &listeners {
        let mut local = listener.local_addr()?;
        if local.ip().is_unspecified() {
            local.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        peers.set(*kind, format!("http://{local}"));
    }
    config.orders.peers = peers.clone();
    config.accounts.peers = peers.clone();
    config.provisioning.peers = peers.clone();
    config.data_purge.peers = peers;
    // One simulated date for the whole stack: `tenure sandbox advance` moves AWS, order timers,
    // reopen windows and purge due dates together, which is what a demo of a 90-day window needs.
    let deps = ClusterDeps::new(PeerTokens::Development(authority.clone()));
    let cluster =
        Cluster::start_on_one_date(&config, &authority.auth_settings(), &deps, listeners).await?;
    let metrics_address = match &config.telemetry.metrics_listen {
        Some(address) => Some(start_metrics(cluster.host(), address).await?),
        None => None,
    };

    let token = authority.user_token(
        Role::Operator,
        "dev-operator",
        None,
        &[],
        PRINTED_TOKEN_LIFETIME,
    )?;
    output::line(format!(
        "Tenure is up: development mode, SQLite files in {}",
        args.data_dir.display()
    ));
    for (kind, address) in cluster.addresses() {
        output::line(format!("  {:<13} http://{address}", kind.name()));
    }
    if let Some(address) = metrics_address {
        output::line(format!("  {:<13} http://{address}/metrics", "metrics"));
    }
    output::line("An operator token, valid 12 hours (mint others with `tenure token --help`):");
    output::line(format!("  export TENURE_TOKEN={token}"));
    output::line("Press Ctrl-C to stop.");

    shutdown_signal().await;
    cluster.shutdown().await;
    stop_telemetry(telemetry).await;
    Ok(())
}
