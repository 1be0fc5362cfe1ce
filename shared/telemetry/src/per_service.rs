//! One resource per Tenure service, in one process. `tenure up` runs four services behind one tracer
//! (tracing has one global subscriber, and tracing-opentelemetry one tracer), so the spans of all of
//! them would carry the process's one `service.name` and Jaeger would draw no dependency graph. Each
//! span instead names its service in [`SERVICE_FIELD`](crate::SERVICE_FIELD); this exporter takes the
//! field off and exports the span under a resource whose `service.name` is that service's, every other
//! resource attribute kept. Spans that name no service stay under the process's resource.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::spans::SERVICE_FIELD;

/// Wraps `inner`, exporting each batch once per service it holds spans of.
#[derive(Debug)]
pub(crate) struct PerServiceExporter<E> {
    // The inner exporter carries one resource at a time, so a batch is exported group by group with
    // the resource switched in between; an async lock, because the export is awaited under it.
    inner: tokio::sync::Mutex<E>,
    process: Resource,
    resources: Mutex<HashMap<String, Resource>>,
}

impl<E: SpanExporter> PerServiceExporter<E> {
    pub(crate) fn new(inner: E) -> Self {
        Self {
            inner: tokio::sync::Mutex::new(inner),
            process: Resource::builder_empty().build(),
            resources: Mutex::new(HashMap::new()),
        }
    }

    fn resource_for(&self, service: Option<&str>) -> Resource {
        let Some(service) = service else {
            return self.process.clone();
        };
        let mut resources = self
            .resources
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        resources
            .entry(service.to_owned())
            .or_insert_with(|| {
                let kept = self
                    .process
                    .iter()
                    .map(|(key, value)| KeyValue::new(key.clone(), value.clone()));
                Resource::builder_empty()
                    .with_attributes(kept)
                    .with_service_name(service.to_owned())
                    .build()
            })
            .clone()
    }
}

/// Takes the service field off `span`, returning its value.
fn take_service(span: &mut SpanData) -> Option<String> {
    let index = span
        .attributes
        .iter()
        .position(|attribute| attribute.key.as_str() == SERVICE_FIELD)?;
    Some(span.attributes.remove(index).value.as_str().into_owned())
}

/// The spans of `batch` by the service they name, in the order each service first appears.
fn by_service(batch: Vec<SpanData>) -> Vec<(Option<String>, Vec<SpanData>)> {
    let mut groups: Vec<(Option<String>, Vec<SpanData>)> = Vec::new();
    for mut span in batch {
        let service = take_service(&mut span);
        match groups.iter_mut().find(|(owner, _)| *owner == service) {
            Some((_, spans)) => spans.push(span),
            None => groups.push((service, vec![span])),
        }
    }
    groups
}

impl<E: SpanExporter> SpanExporter for PerServiceExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut inner = self.inner.lock().await;
        let mut outcome = Ok(());
        for (service, spans) in by_service(batch) {
            inner.set_resource(&self.resource_for(service.as_deref()));
            // One service's failed export must not drop the others' spans.
            if let Err(error) = inner.export(spans).await {
                outcome = Err(error);
            }
        }
        outcome
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        // The processor never shuts down during an export, so the lock is free; were it not, the
        // export holding it ends within its own timeout anyway.
        match self.inner.try_lock() {
            Ok(inner) => inner.shutdown_with_timeout(timeout),
            Err(_) => Ok(()),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        match self.inner.try_lock() {
            Ok(inner) => inner.force_flush(),
            Err(_) => Ok(()),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.process = resource.clone();
        self.resources
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.inner.get_mut().set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use opentelemetry::trace::{SpanContext, SpanKind, Status};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    use super::*;

    /// Records which `service.name` each exported span went out under.
    #[derive(Debug)]
    struct Recording {
        resource: Resource,
        sent: Arc<Mutex<Vec<(String, String)>>>,
    }

    impl Default for Recording {
        fn default() -> Self {
            Self {
                resource: Resource::builder_empty().build(),
                sent: Arc::default(),
            }
        }
    }

    impl SpanExporter for Recording {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            let service = self
                .resource
                .get(&opentelemetry::Key::new("service.name"))
                .map(|value| value.as_str().into_owned())
                .unwrap_or_default();
            let mut sent = self.sent.lock().unwrap();
            for span in batch {
                assert!(
                    span.attributes
                        .iter()
                        .all(|a| a.key.as_str() != SERVICE_FIELD)
                );
                sent.push((span.name.into_owned(), service.clone()));
            }
            Ok(())
        }

        fn set_resource(&mut self, resource: &Resource) {
            self.resource = resource.clone();
        }
    }

    fn span(name: &'static str, service: Option<&str>) -> SpanData {
        SpanData {
            span_context: SpanContext::empty_context(),
            parent_span_id: opentelemetry::trace::SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: name.into(),
            start_time: std::time::SystemTime::UNIX_EPOCH,
            end_time: std::time::SystemTime::UNIX_EPOCH,
            attributes: service
                .map(|service| KeyValue::new(SERVICE_FIELD, service.to_owned()))
                .into_iter()
                .collect(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: Default::default(),
        }
    }

    #[tokio::test]
    async fn each_span_goes_out_under_its_own_service() {
        let recording = Recording::default();
        let sent = Arc::clone(&recording.sent);
        let mut exporter = PerServiceExporter::new(recording);
        exporter.set_resource(
            &Resource::builder_empty()
                .with_service_name("tenure")
                .with_attribute(KeyValue::new("service.version", "1"))
                .build(),
        );
        let batch = vec![
            span("a", Some("tenure-orders")),
            span("b", None),
            span("c", Some("tenure-accounts")),
            span("d", Some("tenure-orders")),
        ];
        exporter.export(batch).await.unwrap();
        let mut sent = sent.lock().unwrap().clone();
        sent.sort();
        assert_eq!(
            sent,
            [
                ("a".to_owned(), "tenure-orders".to_owned()),
                ("b".to_owned(), "tenure".to_owned()),
                ("c".to_owned(), "tenure-accounts".to_owned()),
                ("d".to_owned(), "tenure-orders".to_owned()),
            ]
        );
        let resource = exporter.resource_for(Some("tenure-orders"));
        assert_eq!(
            resource.get(&opentelemetry::Key::new("service.version")),
            Some("1".into())
        );
    }
}
