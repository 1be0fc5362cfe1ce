use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::OperationWorker;

/// Steps due operations until `draining` is cancelled, so every operation reaches its end without a
/// caller polling it, and an operation orphaned by a crashed process is picked up once its claim
/// expires.
pub(crate) async fn run_worker(engine: OperationWorker, draining: CancellationToken) {
    let interval = Duration::from_millis(engine.settings().worker_interval_ms.max(10));
    loop {
        tokio::select! {
            () = draining.cancelled() => break,
            () = tokio::time::sleep(interval) => {}
        }
        if let Err(error) = engine.run_due().await {
            tracing::warn!(error = %error, "stepping due operations failed");
        }
    }
}
