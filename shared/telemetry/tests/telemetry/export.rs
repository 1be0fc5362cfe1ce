use tracing::Instrument;

use crate::exported_span;

/// Every `#[tokio::test]` has its own runtime, and the one that installed telemetry may be long gone
/// when a later test exports: the exporter must not depend on it.
#[test]
fn spans_export_after_the_installing_runtime_is_dropped() {
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    first.block_on(async {
        tenure_testkit::global_telemetry();
        drop(tracing::info_span!("export.first-runtime"));
        exported_span("export.first-runtime").await;
    });
    drop(first);

    let second = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    second.block_on(async {
        drop(tracing::info_span!("export.second-runtime"));
        exported_span("export.second-runtime").await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_export_from_a_multi_thread_runtime() {
    tenure_testkit::global_telemetry();
    let span = tracing::info_span!("export.multi-thread");
    async {
        tracing::info!("inside an instrumented future");
    }
    .instrument(span)
    .await;
    exported_span("export.multi-thread").await;
}
