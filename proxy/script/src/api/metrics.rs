//! `metrics`: counters, gauges and histograms a script defines, exported
//! on the process's `/metrics` ([`collector`]) next to anysip's own.
//!
//! Families live for the process: a reloaded script that defines the same
//! name again gets the same family (its values go on), as long as the kind
//! and label names agree.

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::Counter as PCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge as PGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram as PHistogram};
use prometheus_client::metrics::TypedMetric;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

type Labels = Vec<(String, String)>;
type HistogramMaker = Box<dyn Fn() -> PHistogram + Send + Sync>;

/// The metric of one family.
enum Kind {
    Counter(Family<Labels, PCounter<f64, AtomicU64>>),
    Gauge(Family<Labels, PGauge<f64, AtomicU64>>),
    Histogram(Family<Labels, PHistogram, HistogramMaker>),
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::Counter(_) => "counter",
            Kind::Gauge(_) => "gauge",
            Kind::Histogram(_) => "histogram",
        }
    }
}

/// One script-defined family.
struct Def {
    name: String,
    help: String,
    labels: Vec<String>,
    kind: Kind,
}

/// Every family scripts defined in this process.
static FAMILIES: Mutex<Vec<Arc<Def>>> = Mutex::new(Vec::new());

/// A Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Finds or creates the family `name`.
fn define(
    name: &str,
    help: &str,
    labels: Vec<String>,
    make: impl FnOnce() -> Kind,
) -> PyResult<Arc<Def>> {
    // prometheus-client writes a counter's samples as `<name>_total`.
    let kind = make();
    let name = match kind {
        Kind::Counter(_) => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    };
    if !valid_name(name) || name.starts_with("anysip_") {
        return Err(PyValueError::new_err(format!(
            "invalid metric name {name:?} (letters, digits, '_' and ':'; not 'anysip_')"
        )));
    }
    if let Some(l) = labels.iter().find(|l| !valid_name(l) || l.contains(':')) {
        return Err(PyValueError::new_err(format!("invalid label name {l:?}")));
    }
    let mut all = FAMILIES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(d) = all.iter().find(|d| d.name == name) {
        if d.kind.name() != kind.name() || d.labels != labels {
            return Err(PyValueError::new_err(format!(
                "metric {name:?} is already a {} with labels {:?}",
                d.kind.name(),
                d.labels
            )));
        }
        return Ok(Arc::clone(d));
    }
    let def = Arc::new(Def {
        name: name.to_owned(),
        help: help.replace(['\r', '\n'], " "),
        labels,
        kind,
    });
    all.push(Arc::clone(&def));
    Ok(def)
}

/// The label set of a child: every declared label, by keyword.
fn label_set(def: &Def, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Labels> {
    let mut out = Vec::with_capacity(def.labels.len());
    for l in &def.labels {
        let v = kwargs
            .map(|k| k.get_item(l))
            .transpose()?
            .flatten()
            .ok_or_else(|| PyValueError::new_err(format!("{}: label {l:?} missing", def.name)))?;
        out.push((l.clone(), v.str()?.to_string()));
    }
    if let Some(k) = kwargs {
        if k.len() != def.labels.len() {
            return Err(PyValueError::new_err(format!(
                "{}: labels are {:?}",
                def.name, def.labels
            )));
        }
    }
    Ok(out)
}

/// The collector that adds the script families to a registry.
pub fn collector() -> Box<dyn Collector> {
    Box::new(ScriptMetrics)
}

#[derive(Debug)]
struct ScriptMetrics;

impl Collector for ScriptMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let all: Vec<Arc<Def>> = FAMILIES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for d in all {
            match &d.kind {
                Kind::Counter(f) => {
                    f.encode(encoder.encode_descriptor(&d.name, &d.help, None, f.metric_type())?)?
                }
                Kind::Gauge(f) => {
                    f.encode(encoder.encode_descriptor(&d.name, &d.help, None, f.metric_type())?)?
                }
                Kind::Histogram(f) => f.encode(encoder.encode_descriptor(
                    &d.name,
                    &d.help,
                    None,
                    PHistogram::TYPE,
                )?)?,
            }
        }
        Ok(())
    }
}

/// The `metrics` object of the module.
#[pyclass(module = "anysip", name = "Metrics", frozen)]
#[derive(Debug)]
pub struct Metrics;

/// A script counter (`inc`, `labels`).
#[pyclass(module = "anysip", name = "Counter", frozen)]
pub struct Counter {
    def: Arc<Def>,
    labels: Option<Labels>,
}

/// A script gauge (`inc`, `dec`, `set`, `labels`).
#[pyclass(module = "anysip", name = "Gauge", frozen)]
pub struct Gauge {
    def: Arc<Def>,
    labels: Option<Labels>,
}

/// A script histogram (`observe`, `labels`).
#[pyclass(module = "anysip", name = "Histogram", frozen)]
pub struct Histogram {
    def: Arc<Def>,
    labels: Option<Labels>,
}

/// The label set to update: a child's, or none for a family without labels.
fn target(def: &Def, labels: &Option<Labels>) -> PyResult<Labels> {
    match labels {
        Some(l) => Ok(l.clone()),
        None if def.labels.is_empty() => Ok(Vec::new()),
        None => Err(PyValueError::new_err(format!(
            "{} has labels {:?}: use .labels(...)",
            def.name, def.labels
        ))),
    }
}

#[pymethods]
impl Metrics {
    /// A counter; `labels` names its labels.
    #[pyo3(signature = (name, help, labels=None))]
    fn counter(&self, name: &str, help: &str, labels: Option<Vec<String>>) -> PyResult<Counter> {
        let def = define(name, help, labels.unwrap_or_default(), || {
            Kind::Counter(Family::default())
        })?;
        Ok(Counter { def, labels: None })
    }

    /// A gauge; `labels` names its labels.
    #[pyo3(signature = (name, help, labels=None))]
    fn gauge(&self, name: &str, help: &str, labels: Option<Vec<String>>) -> PyResult<Gauge> {
        let def = define(name, help, labels.unwrap_or_default(), || {
            Kind::Gauge(Family::default())
        })?;
        Ok(Gauge { def, labels: None })
    }

    /// A histogram; `buckets` are its upper bounds (default: 0.005 s to
    /// about 10 s, doubling).
    #[pyo3(signature = (name, help, labels=None, buckets=None))]
    fn histogram(
        &self,
        name: &str,
        help: &str,
        labels: Option<Vec<String>>,
        buckets: Option<Vec<f64>>,
    ) -> PyResult<Histogram> {
        let buckets: Vec<f64> = match buckets {
            Some(b) if !b.is_empty() => b,
            _ => exponential_buckets(0.005, 2.0, 12).collect(),
        };
        if buckets.iter().any(|b| !b.is_finite()) {
            return Err(PyValueError::new_err("buckets must be finite numbers"));
        }
        let def = define(name, help, labels.unwrap_or_default(), move || {
            let maker: HistogramMaker = Box::new(move || PHistogram::new(buckets.clone()));
            Kind::Histogram(Family::new_with_constructor(maker))
        })?;
        Ok(Histogram { def, labels: None })
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "metrics", "metrics", name)
    }
}

#[pymethods]
impl Counter {
    /// Adds `n` (default 1; must not be negative).
    #[pyo3(signature = (n=1.0))]
    fn inc(&self, n: f64) -> PyResult<()> {
        if !(n >= 0.0 && n.is_finite()) {
            return Err(PyValueError::new_err("a counter only goes up"));
        }
        if let Kind::Counter(f) = &self.def.kind {
            f.get_or_create(&target(&self.def, &self.labels)?).inc_by(n);
        }
        Ok(())
    }

    /// The child with these label values.
    #[pyo3(signature = (**kwargs))]
    fn labels(&self, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Counter> {
        Ok(Counter {
            def: Arc::clone(&self.def),
            labels: Some(label_set(&self.def, kwargs)?),
        })
    }
}

impl Gauge {
    fn with(&self, f: impl FnOnce(&PGauge<f64, AtomicU64>)) -> PyResult<()> {
        if let Kind::Gauge(fam) = &self.def.kind {
            f(&fam.get_or_create(&target(&self.def, &self.labels)?));
        }
        Ok(())
    }
}

#[pymethods]
impl Gauge {
    /// Adds `n` (default 1).
    #[pyo3(signature = (n=1.0))]
    fn inc(&self, n: f64) -> PyResult<()> {
        self.with(|g| {
            g.inc_by(n);
        })
    }

    /// Subtracts `n` (default 1).
    #[pyo3(signature = (n=1.0))]
    fn dec(&self, n: f64) -> PyResult<()> {
        self.with(|g| {
            g.dec_by(n);
        })
    }

    /// Sets the value.
    fn set(&self, value: f64) -> PyResult<()> {
        self.with(|g| {
            g.set(value);
        })
    }

    /// The child with these label values.
    #[pyo3(signature = (**kwargs))]
    fn labels(&self, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Gauge> {
        Ok(Gauge {
            def: Arc::clone(&self.def),
            labels: Some(label_set(&self.def, kwargs)?),
        })
    }
}

#[pymethods]
impl Histogram {
    /// Records one observation.
    fn observe(&self, value: f64) -> PyResult<()> {
        if let Kind::Histogram(f) = &self.def.kind {
            f.get_or_create(&target(&self.def, &self.labels)?)
                .observe(value);
        }
        Ok(())
    }

    /// The child with these label values.
    #[pyo3(signature = (**kwargs))]
    fn labels(&self, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Histogram> {
        Ok(Histogram {
            def: Arc::clone(&self.def),
            labels: Some(label_set(&self.def, kwargs)?),
        })
    }
}
