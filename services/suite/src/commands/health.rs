//! `tenure health`: one gRPC health `Check`, for container health checks and scripts.

use std::time::Duration;

use anyhow::Context as _;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::cli::HealthArgs;
use crate::output;

pub(super) async fn run(args: &HealthArgs) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(args.timeout_secs.max(1));
    let channel = tonic::transport::Endpoint::from_shared(args.endpoint.clone())
        .with_context(|| format!("invalid endpoint {}", args.endpoint))?
        .connect_timeout(timeout)
        .timeout(timeout)
        .connect()
        .await
        .with_context(|| format!("connecting to {}", args.endpoint))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: args.service.clone(),
        })
        .await
        .with_context(|| format!("asking {} for its health", args.endpoint))?;
    let status = response.into_inner().status();
    output::line(status.as_str_name());
    if status == ServingStatus::Serving {
        Ok(())
    } else {
        anyhow::bail!("{} is {}", args.endpoint, status.as_str_name())
    }
}
