//! `tenure serve <service>`: one service per process, configured by file and environment. It does not
//! migrate: it stays NOT_SERVING while migrations are pending. In production it refuses a database role
//! that row-level security does not bind.

use std::path::Path;

use tenure_grpc::ServiceKind;

use super::{auth_settings, bind, shutdown_signal, start_metrics, stop_telemetry};
use crate::cli::ServeArgs;
use crate::cluster::{self, Cluster, ClusterDeps, PeerTokens};
use crate::config::{self, Environment, TenureConfig};

pub(super) async fn run(
    args: &ServeArgs,
    config_file: Option<&Path>,
    env: &[(String, String)],
) -> anyhow::Result<()> {
    let kind = ServiceKind::from(args.service);
    let mut base = TenureConfig::default();
    base.telemetry.service_name = kind.service_name().to_owned();
    let config = config::load(base, config_file, env)?;
    let telemetry = tenure_telemetry::init(&config.telemetry)?;
    let auth = auth_settings(&config)?;
    if config.environment == Environment::Production {
        cluster::check_serving_role(&config, kind).await?;
    }
    let listener = bind(config.listen(kind), kind.name()).await?;
    let deps = ClusterDeps::new(PeerTokens::from_config(&config)?);
    let cluster = Cluster::start(&config, &auth, &deps, vec![(kind, listener)]).await?;
    if let Some(address) = &config.telemetry.metrics_listen {
        start_metrics(cluster.host(), address).await?;
    }
    shutdown_signal().await;
    cluster.shutdown().await;
    stop_telemetry(telemetry).await;
    Ok(())
}
