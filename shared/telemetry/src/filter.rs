//! The per-layer filter shared by the log layer and the tracing layer.

use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Filter};

/// Events pass when `log_filter` selects them; spans at INFO and above always pass.
///
/// Spans are the skeleton of traces and carry the correlation ids and trace context of every log
/// line, so a quieter `log_filter` (say `warn`) must not remove them: the log layer then writes only
/// warnings, but each still carries `trace_id`, `span_id` and the ids of its spans, and traces keep
/// their shape. Directives that ask for more (`tenure_orders=debug`) add debug spans and events.
#[derive(Clone)]
pub(crate) struct TelemetryFilter {
    directives: EnvFilter,
}

impl TelemetryFilter {
    pub(crate) fn new(log_filter: &str) -> anyhow::Result<Self> {
        Ok(Self {
            directives: EnvFilter::try_new(log_filter)?,
        })
    }
}

fn is_always_kept(meta: &Metadata<'_>) -> bool {
    meta.is_span() && *meta.level() <= Level::INFO
}

/// sea-orm warns on every transaction that asks SQLite for an isolation level or access mode, and the
/// only warnings of that module are those two. The order stream's snapshot reads ask for both on
/// every poll (PostgreSQL needs them; SQLite's transactions are serializable anyway), which under
/// `tenure up` buried everything else on the console.
fn is_always_dropped(meta: &Metadata<'_>) -> bool {
    meta.is_event()
        && *meta.level() == Level::WARN
        && meta.target() == "sea_orm::driver::sqlx_sqlite"
}

impl<S: Subscriber> Filter<S> for TelemetryFilter {
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        !is_always_dropped(meta)
            && (is_always_kept(meta) || Filter::<S>::enabled(&self.directives, meta, cx))
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if is_always_dropped(meta) {
            Interest::never()
        } else if is_always_kept(meta) {
            Interest::always()
        } else {
            Filter::<S>::callsite_enabled(&self.directives, meta)
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Filter::<S>::max_level_hint(&self.directives).map(|hint| hint.max(LevelFilter::INFO))
    }

    // The directives may select by span fields (`[span{tenure.order_id=...}]=debug`); they learn of
    // spans through these callbacks.
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        Filter::<S>::on_new_span(&self.directives, attrs, id, ctx);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        Filter::<S>::on_record(&self.directives, id, values, ctx);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        Filter::<S>::on_enter(&self.directives, id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        Filter::<S>::on_exit(&self.directives, id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        Filter::<S>::on_close(&self.directives, id, ctx);
    }
}
