//! `gateway`: the host's gateway (dispatcher) groups for scripts.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use super::objects::Destination;
use super::{host, host_err};
use crate::host::{GatewayDest, HostError};

/// The `gateway` object of the `anysip` module.
#[pyclass(module = "anysip", name = "Gateway", frozen)]
#[derive(Debug)]
pub struct Gateway;

/// A dict of attributes → pairs.
fn attr_pairs(attrs: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, String)>> {
    let Some(attrs) = attrs.filter(|a| !a.is_none()) else {
        return Ok(Vec::new());
    };
    let d = attrs
        .cast::<PyDict>()
        .map_err(|_| PyValueError::new_err("attrs must be a dict"))?;
    d.iter()
        .map(|(k, v)| Ok((k.str()?.to_string(), v.str()?.to_string())))
        .collect()
}

/// A destination given to `add_group`: a URI string or a dict with `uri`
/// and optional `address`, `weight`, `priority` and `attrs`.
fn dest_of(obj: &Bound<'_, PyAny>) -> PyResult<GatewayDest> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(GatewayDest {
            uri: s.to_string(),
            healthy: true,
            weight: 1,
            priority: 1,
            attrs: Vec::new(),
            address: None,
        });
    }
    let d = obj
        .cast::<PyDict>()
        .map_err(|_| PyValueError::new_err("a destination is a URI or a dict with 'uri'"))?;
    let uri: String = d
        .get_item("uri")?
        .ok_or_else(|| PyValueError::new_err("destination without 'uri'"))?
        .extract()?;
    let weight: u32 = match d.get_item("weight")? {
        Some(w) => w.extract()?,
        None => 1,
    };
    let priority: u32 = match d.get_item("priority")? {
        Some(p) => p.extract()?,
        None => 1,
    };
    let attrs = attr_pairs(d.get_item("attrs")?.as_ref())?;
    let address = match d.get_item("address")? {
        Some(a) if !a.is_none() => Some(a.str()?.to_string()),
        _ => None,
    };
    Ok(GatewayDest {
        uri,
        healthy: true,
        weight,
        priority,
        attrs,
        address,
    })
}

fn wrap(list: Vec<GatewayDest>) -> Vec<Destination> {
    list.into_iter().map(|dest| Destination { dest }).collect()
}

/// A host error of a gateway call: an unknown group is SIPhon's "nothing"
/// (`None`), anything else raises.
fn unknown_is_none<T>(r: Result<T, HostError>) -> PyResult<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(HostError::Invalid(_)) => Ok(None),
        Err(e) => Err(host_err(e)),
    }
}

#[pymethods]
impl Gateway {
    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "gateway", "gateway", name)
    }

    /// A healthy destination of `group` (sticky for `key` with the `hash`
    /// algorithm, filtered by `attrs`), or None (also for an unknown
    /// group, as in SIPhon).
    #[pyo3(signature = (group, key=None, attrs=None))]
    fn select(
        &self,
        group: &str,
        key: Option<&Bound<'_, PyAny>>,
        attrs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<Destination>> {
        let host = host()?;
        let key = match key.filter(|k| !k.is_none()) {
            Some(k) => Some(k.str()?.to_string()),
            None => None,
        };
        let attrs = attr_pairs(attrs)?;
        let dest = unknown_is_none(host.gateway_select(group, key.as_deref(), &attrs))?.flatten();
        Ok(dest.map(|dest| Destination { dest }))
    }

    /// Every destination of `group`, with its health ([] for an unknown
    /// group).
    fn list(&self, group: &str) -> PyResult<Vec<Destination>> {
        let list = unknown_is_none(host()?.gateway_list(group))?.unwrap_or_default();
        Ok(wrap(list))
    }

    /// `status(group)`: `[(uri, healthy), ...]` (SIPhon); `status()`:
    /// `{group: [destination, ...]}` for every group (anysip).
    #[pyo3(signature = (group=None))]
    fn status<'py>(&self, py: Python<'py>, group: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        let host = host()?;
        if let Some(g) = group {
            let list = unknown_is_none(host.gateway_list(g))?.unwrap_or_default();
            let pairs: Vec<(String, bool)> = list.into_iter().map(|d| (d.uri, d.healthy)).collect();
            return Ok(pairs.into_pyobject(py)?.into_any());
        }
        let d = PyDict::new(py);
        for (name, list) in host.gateway_status() {
            d.set_item(name, wrap(list))?;
        }
        Ok(d.into_any())
    }

    /// The names of every group.
    fn groups(&self) -> PyResult<Vec<String>> {
        Ok(host()?
            .gateway_status()
            .into_iter()
            .map(|(name, _)| name)
            .collect())
    }

    /// Marks a destination up; False when the group or URI is unknown.
    fn mark_up(&self, group: &str, uri: &str) -> PyResult<bool> {
        Ok(unknown_is_none(host()?.gateway_mark(group, uri, true))?.is_some())
    }

    /// Marks a destination down; False when the group or URI is unknown.
    fn mark_down(&self, group: &str, uri: &str) -> PyResult<bool> {
        Ok(unknown_is_none(host()?.gateway_mark(group, uri, false))?.is_some())
    }

    /// Adds (or replaces) a group: SIPhon's
    /// `add_group(name, destinations, algorithm="weighted", probe=False)`
    /// (anysip's older `add_group(name, algorithm, destinations)` works
    /// too). Destinations are URIs or dicts with `uri` and optional
    /// `address`, `weight`, `priority`, `attrs`; `probe=True` probes them with OPTIONS.
    #[pyo3(signature = (name, destinations, algorithm=None, probe=false))]
    fn add_group(
        &self,
        name: &str,
        destinations: &Bound<'_, PyAny>,
        algorithm: Option<&Bound<'_, PyAny>>,
        probe: bool,
    ) -> PyResult<()> {
        // The older order: add_group(name, "round_robin", [...]).
        let (destinations, algorithm) = match algorithm {
            Some(a)
                if destinations.is_instance_of::<PyString>() && !a.is_instance_of::<PyString>() =>
            {
                (a.clone(), destinations.str()?.to_string())
            }
            Some(a) => (destinations.clone(), a.str()?.to_string()),
            None => (destinations.clone(), "weighted".to_owned()),
        };
        let dests = destinations
            .try_iter()?
            .map(|d| dest_of(&d?))
            .collect::<PyResult<Vec<_>>>()?;
        host()?
            .gateway_add_group(name, &algorithm, dests, probe)
            .map_err(host_err)
    }

    /// Removes a group; False when there was none.
    fn remove_group(&self, name: &str) -> PyResult<bool> {
        Ok(unknown_is_none(host()?.gateway_remove_group(name))?.is_some())
    }
}
