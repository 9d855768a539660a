//! Trace export with the OpenTelemetry SDK: the per-message `sip` span of
//! the edge dispatch becomes an OpenTelemetry span (`tracing-opentelemetry`),
//! batched by the SDK's `BatchSpanProcessor` on a thread of its own, and
//! sent by `opentelemetry-otlp` over OTLP/HTTP with the JSON encoding
//! (`POST {endpoint}/v1/traces`). A full queue drops spans rather than
//! slowing the SIP path.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing::Subscriber;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::error::Error;

/// Spans waiting for the exporter; more are dropped.
const QUEUE: usize = 8192;
/// Spans per request at most.
const BATCH: usize = 512;
/// How long a span may wait for its batch.
const DELAY: Duration = Duration::from_secs(1);

/// The provider, kept for the life of the process (its batch thread
/// exports until it is shut down).
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The OTLP/HTTP URL of traces for a configured endpoint: the endpoint is a
/// base URL (as `OTEL_EXPORTER_OTLP_ENDPOINT`), unless it already ends with
/// the signal's path.
fn traces_url(endpoint: &str) -> Result<String, Error> {
    if !endpoint.starts_with("http://") {
        return Err(Error::Startup(format!(
            "telemetry.otlp.endpoint: {endpoint:?}: this build exports OTLP/HTTP over http:// only"
        )));
    }
    Ok(if endpoint.ends_with("/v1/traces") {
        endpoint.to_owned()
    } else {
        format!("{}/v1/traces", endpoint.trim_end_matches('/'))
    })
}

/// The layer turning `sip` spans into exported OpenTelemetry spans, and
/// the exporter behind it.
pub(crate) fn layer<S>(endpoint: &str, service: &str) -> Result<impl Layer<S>, Error>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(traces_url(endpoint)?)
        .with_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| Error::Startup(format!("telemetry.otlp: {e}")))?;
    let batch = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(QUEUE)
                .with_max_export_batch_size(BATCH)
                .with_scheduled_delay(DELAY)
                .build(),
        )
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(batch)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build();
    let tracer = provider.tracer("anysip");
    let _ = PROVIDER.set(provider);
    Ok(tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_tracked_inactivity(false))
}

/// Exports what is queued (at exit).
pub(crate) fn flush() {
    if let Some(p) = PROVIDER.get() {
        let _ = p.force_flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_a_base_url() {
        assert_eq!(
            traces_url("http://c:4318").ok().as_deref(),
            Some("http://c:4318/v1/traces")
        );
        assert_eq!(
            traces_url("http://c:4318/").ok().as_deref(),
            Some("http://c:4318/v1/traces")
        );
        assert_eq!(
            traces_url("http://c:4318/v1/traces").ok().as_deref(),
            Some("http://c:4318/v1/traces")
        );
        assert!(traces_url("https://c:4318").is_err());
    }
}
