//! `gateway`: the host's gateway (dispatcher) groups for scripts.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use super::objects::Destination;
use super::{host, host_err};
use crate::host::GatewayDest;

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
/// and optional `weight` and `attrs`.
fn dest_of(obj: &Bound<'_, PyAny>) -> PyResult<GatewayDest> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(GatewayDest {
            uri: s.to_string(),
            healthy: true,
            weight: 1,
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
    let attrs = attr_pairs(d.get_item("attrs")?.as_ref())?;
    let address = match d.get_item("address")? {
        Some(a) if !a.is_none() => Some(a.str()?.to_string()),
        _ => None,
    };
    Ok(GatewayDest {
        uri,
        healthy: true,
        weight,
        attrs,
        address,
    })
}

fn wrap(list: Vec<GatewayDest>) -> Vec<Destination> {
    list.into_iter().map(|dest| Destination { dest }).collect()
}

#[pymethods]
impl Gateway {
    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "gateway", "gateway", name)
    }

    /// A healthy destination of `group` (sticky for `key` with the `hash`
    /// algorithm, filtered by `attrs`), or None.
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
        let dest = host
            .gateway_select(group, key.as_deref(), &attrs)
            .map_err(host_err)?;
        Ok(dest.map(|dest| Destination { dest }))
    }

    /// Every destination of `group`, with its health.
    fn list(&self, group: &str) -> PyResult<Vec<Destination>> {
        Ok(wrap(host()?.gateway_list(group).map_err(host_err)?))
    }

    /// `{group: [destination, ...]}` for every group.
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, list) in host()?.gateway_status() {
            d.set_item(name, wrap(list))?;
        }
        Ok(d)
    }

    /// Marks a destination up.
    fn mark_up(&self, group: &str, uri: &str) -> PyResult<()> {
        host()?.gateway_mark(group, uri, true).map_err(host_err)
    }

    /// Marks a destination down.
    fn mark_down(&self, group: &str, uri: &str) -> PyResult<()> {
        host()?.gateway_mark(group, uri, false).map_err(host_err)
    }

    /// Adds (or replaces) a group: `algorithm` is `weighted`,
    /// `round_robin` or `hash`; `destinations` are URIs or dicts.
    fn add_group(
        &self,
        name: &str,
        algorithm: &str,
        destinations: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let dests = destinations
            .try_iter()?
            .map(|d| dest_of(&d?))
            .collect::<PyResult<Vec<_>>>()?;
        host()?
            .gateway_add_group(name, algorithm, dests)
            .map_err(host_err)
    }

    /// Removes a group.
    fn remove_group(&self, name: &str) -> PyResult<()> {
        host()?.gateway_remove_group(name).map_err(host_err)
    }
}
