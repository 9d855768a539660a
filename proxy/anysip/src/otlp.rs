//! OpenTelemetry trace export over OTLP/HTTP with JSON encoding (the
//! OTLP 1.x protocol's JSON mapping, `POST {endpoint}/v1/traces`): one span
//! per SIP message (the `sip` span of `dispatch.rs`), with its Call-ID,
//! transport and source as attributes. Spans are batched on a thread of
//! their own; a full queue drops spans (counted) rather than slowing the
//! SIP path.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::run::Error;

/// Spans waiting for the exporter; more are dropped.
const QUEUE: usize = 8192;
/// Spans per request at most.
const BATCH: usize = 512;

/// A finished span.
#[derive(Debug)]
struct Record {
    name: &'static str,
    start: u128,
    end: u128,
    attrs: Vec<(&'static str, String)>,
    trace_id: u128,
    span_id: u64,
}

/// The tracing layer that records `sip` spans for export.
pub(crate) struct OtlpLayer {
    tx: SyncSender<Record>,
    dropped: Arc<AtomicU64>,
}

/// Where to POST: `host:port` and the path.
#[derive(Debug, Clone)]
struct Target {
    authority: String,
    path: String,
}

/// Builds the layer and starts the exporter thread. Only `http://`
/// endpoints are served by this build.
pub(crate) fn layer(endpoint: &str, service: &str) -> Result<OtlpLayer, Error> {
    let rest = endpoint.strip_prefix("http://").ok_or_else(|| {
        Error::Startup(format!(
            "telemetry.otlp.endpoint: {endpoint:?}: this build exports OTLP/HTTP over http:// only"
        ))
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let path = if path.ends_with("/v1/traces") {
        path.to_string()
    } else {
        format!("{}/v1/traces", path.trim_end_matches('/'))
    };
    let target = Target {
        authority: authority.to_string(),
        path,
    };
    let (tx, rx) = sync_channel(QUEUE);
    let dropped = Arc::new(AtomicU64::new(0));
    let service = service.to_string();
    std::thread::Builder::new()
        .name("otlp-export".into())
        .spawn(move || export(rx, target, service))
        .map_err(|e| Error::Startup(format!("telemetry.otlp: cannot start the exporter: {e}")))?;
    Ok(OtlpLayer { tx, dropped })
}

struct Fields(Vec<(&'static str, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name(), value.to_string()));
    }
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// A random 64-bit id (span and trace ids need uniqueness, not secrecy).
fn random_u64() -> u64 {
    static STATE: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = STATE.get_or_init(RandomState::new).build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(unix_nanos());
    h.finish().max(1)
}

impl<S> Layer<S> for OtlpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != "sip" {
            return;
        }
        let mut fields = Fields(Vec::new());
        attrs.record(&mut fields);
        let record = Record {
            name: attrs.metadata().name(),
            start: unix_nanos(),
            end: 0,
            attrs: fields.0,
            trace_id: (u128::from(random_u64()) << 64) | u128::from(random_u64()),
            span_id: random_u64(),
        };
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(record);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(mut record) = span.extensions_mut().remove::<Record>() else {
            return;
        };
        record.end = unix_nanos();
        if self.tx.try_send(record).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The exporter thread: batches spans and POSTs them, until the layer is gone.
fn export(rx: Receiver<Record>, target: Target, service: String) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut last = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(r) => batch.push(r),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if batch.len() >= BATCH || (!batch.is_empty() && last.elapsed() >= Duration::from_secs(1)) {
            if let Err(e) = post(&target, &body(&batch, &service)) {
                tracing::warn!(error = %e, "OTLP export failed; {} spans dropped", batch.len());
            }
            batch.clear();
            last = Instant::now();
        }
    }
    if !batch.is_empty() {
        let _ = post(&target, &body(&batch, &service));
    }
}

/// The OTLP JSON document of a batch.
fn body(batch: &[Record], service: &str) -> String {
    let spans: Vec<serde_json::Value> = batch
        .iter()
        .map(|r| {
            let attrs: Vec<serde_json::Value> = r
                .attrs
                .iter()
                .map(|(k, v)| serde_json::json!({ "key": format!("sip.{k}"), "value": { "stringValue": v } }))
                .collect();
            serde_json::json!({
                "traceId": format!("{:032x}", r.trace_id),
                "spanId": format!("{:016x}", r.span_id),
                "name": r.name,
                "kind": 2,
                "startTimeUnixNano": r.start.to_string(),
                "endTimeUnixNano": r.end.to_string(),
                "attributes": attrs,
            })
        })
        .collect();
    serde_json::json!({
        "resourceSpans": [{
            "resource": { "attributes": [
                { "key": "service.name", "value": { "stringValue": service } }
            ]},
            "scopeSpans": [{ "scope": { "name": "anysip" }, "spans": spans }]
        }]
    })
    .to_string()
}

/// One HTTP/1.1 POST; Ok when the collector answers 2xx.
fn post(target: &Target, body: &str) -> Result<(), String> {
    let addr = target
        .authority
        .to_socket_addrs()
        .map_err(|e| format!("{}: {e}", target.authority))?
        .next()
        .ok_or_else(|| format!("{}: no address", target.authority))?;
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        target.path,
        target.authority,
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).map_err(|e| e.to_string())?;
    match head.get(9) {
        Some(b'2') => Ok(()),
        _ => Err(format!(
            "collector answered {}",
            String::from_utf8_lossy(&head)
        )),
    }
}
