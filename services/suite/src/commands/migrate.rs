//! `tenure migrate`: applies the migrations of the configured services, each under its own lock, so it
//! is safe to run from a deployment job while replicas start.

use std::path::Path;

use tenure_grpc::ServiceKind;

use crate::cli::MigrateArgs;
use crate::cluster;
use crate::config::{self, TenureConfig};
use crate::{dev_key, output};

pub(super) async fn run(
    args: &MigrateArgs,
    config_file: Option<&Path>,
    env: &[(String, String)],
) -> anyhow::Result<()> {
    let config = config::load(TenureConfig::default(), config_file, env)?;
    let kinds: Vec<ServiceKind> = if args.services.is_empty() {
        ServiceKind::ALL.to_vec()
    } else {
        args.services
            .iter()
            .map(|arg| ServiceKind::from(*arg))
            .collect()
    };
    // The split development stack shares one development key; the one-shot migration creates it before
    // the services start, so they never race to write it.
    if let Some(path) = &config.auth.dev_key_file {
        dev_key::load_or_create(path)?;
    }
    cluster::migrate(&config, &kinds).await?;
    for kind in kinds {
        output::line(format!("migrated {kind}"));
    }
    Ok(())
}
