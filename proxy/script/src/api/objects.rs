//! The value objects scripts get from the host: what registrar bindings
//! do in Python, and gateway destinations.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::host::{Binding, GatewayDest};

impl Binding {
    /// The fork target of this binding: its URI, with its Path as the route
    /// set, or, without a Path, its source address as the next hop (the
    /// flow it registered on: over a stream, its connection while it is
    /// open) — unless the contact names another transport than the one
    /// it registered over: the UA is then reached as its contact says.
    pub(crate) fn target(&self) -> anysip_core::Target {
        let next_hop = if self.path.is_empty() {
            self.received
                .as_deref()
                .filter(|r| same_transport(r, &self.uri))
                .and_then(received_uri)
        } else {
            None
        };
        // An RFC 5626 flow: the core tries one flow of an instance at a
        // time, the next when it fails.
        let flow = match (&self.instance, self.reg_id) {
            (Some(instance), Some(reg_id)) => Some(anysip_core::RegisteredFlow {
                aor: self.aor.clone(),
                instance: instance.clone(),
                reg_id,
            }),
            _ => None,
        };
        anysip_core::Target {
            uri: self.uri.clone(),
            route: self.path.clone(),
            next_hop,
            flow,
        }
    }
}

/// True when `received` (`tcp:192.0.2.1:40000`) is over the transport
/// the contact URI names (`;transport=`, else TLS for `sips:`, else UDP).
fn same_transport(received: &str, contact: &str) -> bool {
    let Some((transport, _)) = received.split_once(':') else {
        return false;
    };
    let named = match sip::Uri::parse(contact.trim_matches(|c| c == '<' || c == '>')) {
        Ok(sip::Uri::Sip(u)) => match u.transport() {
            Some(t) => t.to_ascii_lowercase(),
            None if u
                .as_str()
                .get(..5)
                .is_some_and(|s| s.eq_ignore_ascii_case("sips:")) =>
            {
                "tls".to_owned()
            }
            None => "udp".to_owned(),
        },
        _ => return true,
    };
    transport.eq_ignore_ascii_case(&named)
}

/// `udp:192.0.2.1:5060` → `sip:192.0.2.1:5060;transport=udp`.
fn received_uri(received: &str) -> Option<String> {
    let (transport, addr) = received.split_once(':')?;
    let (ip, port) = addr.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    let host = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_owned()
    };
    Some(format!(
        "sip:{host}:{port};transport={}",
        transport.to_ascii_lowercase()
    ))
}

#[pymethods]
impl Binding {
    /// The Contact URI.
    #[getter]
    fn uri(&self) -> &str {
        &self.uri
    }

    /// The stored Path, top first.
    #[getter]
    fn path(&self) -> Vec<String> {
        self.path.clone()
    }

    /// `q` (0.0–1.0); 1.0 when the contact gave none (SIPhon's default).
    #[getter]
    fn q(&self) -> f32 {
        self.q.unwrap_or(1.0)
    }

    /// Seconds until it expires.
    #[getter]
    fn expires(&self) -> u64 {
        self.expires
    }

    /// Seconds since it was created or last refreshed.
    #[getter]
    fn age_secs(&self) -> u64 {
        self.age_secs
    }

    /// Where the REGISTER came from, as SIPhon gives it: a SIP URI
    /// (`sip:192.0.2.1:5060;transport=udp`) that `fork()`/`relay()` take.
    #[getter]
    fn received(&self) -> Option<String> {
        self.received.as_deref().and_then(received_uri)
    }

    /// `+sip.instance` (RFC 5626), if given (anysip).
    #[getter]
    fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }

    /// `reg-id` (RFC 5626), if given (anysip).
    #[getter]
    fn reg_id(&self) -> Option<u32> {
        self.reg_id
    }

    /// The User-Agent of the REGISTER (anysip).
    #[getter]
    fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }

    /// The Contact's other parameters as `(name, value)` pairs, in order,
    /// names lower-cased, `None` for a flag (SIPhon's `Contact.params`).
    #[getter]
    fn params(&self) -> Vec<(String, Option<String>)> {
        self.params.clone()
    }

    /// `server.instance_id` of the core that accepted the REGISTER.
    #[getter]
    fn instance_id(&self) -> Option<&str> {
        self.instance_id.as_deref()
    }

    /// The flow the REGISTER arrived on; `request.relay(flow=)` takes it.
    #[getter]
    fn flow(&self) -> Option<super::flow::Flow> {
        self.flow.map(|flow| super::flow::Flow { flow })
    }

    /// The epoch of the process that accepted the REGISTER.
    #[getter]
    fn instance_epoch(&self) -> Option<&str> {
        self.instance_epoch.as_deref()
    }

    /// Whether this very process accepted the REGISTER (same
    /// `server.instance_id` and epoch): its `flow` is then one of ours.
    #[getter]
    fn is_local(&self) -> PyResult<bool> {
        let here = super::host()?.instance();
        Ok(match (&self.instance_id, &self.instance_epoch, here) {
            (Some(id), Some(epoch), Some((hid, hepoch))) => *id == hid && *epoch == hepoch,
            _ => false,
        })
    }

    /// `ue`: every binding comes from a REGISTER (SIPhon's AS contacts of
    /// `save_as_contact` are not served).
    #[getter]
    fn kind(&self) -> &'static str {
        "ue"
    }

    /// The token of `registrar.save(flow_token=)`, if one was given.
    #[getter]
    fn flow_token(&self) -> Option<&str> {
        self.flow_token.as_deref()
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "Contact", "Contact", name)
    }

    fn __str__(&self) -> String {
        self.uri.clone()
    }

    fn __repr__(&self) -> String {
        format!("Binding({:?}, expires={})", self.uri, self.expires)
    }
}

/// A gateway destination, from `gateway.select` / `gateway.list`. It is
/// true when healthy; `str()` gives its URI.
#[pyclass(module = "anysip", name = "Destination", frozen)]
#[derive(Debug, Clone)]
pub struct Destination {
    pub(crate) dest: GatewayDest,
}

#[pymethods]
impl Destination {
    /// The destination's URI.
    #[getter]
    fn uri(&self) -> String {
        self.dest.uri.clone()
    }

    /// The configured `ip:port` that overrides resolving the URI, if any.
    #[getter]
    fn address(&self) -> Option<String> {
        self.dest.address.clone()
    }

    /// Whether probes say it is up.
    #[getter]
    fn healthy(&self) -> bool {
        self.dest.healthy
    }

    /// Its weight.
    #[getter]
    fn weight(&self) -> u32 {
        self.dest.weight
    }

    /// Its tier: lower first, the next only when none of a tier is up.
    #[getter]
    fn priority(&self) -> u32 {
        self.dest.priority
    }

    /// Its attributes, as a dict.
    #[getter]
    fn attrs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.dest.attrs {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    fn __bool__(&self) -> bool {
        self.dest.healthy
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "Destination", "Destination", name)
    }

    fn __str__(&self) -> String {
        self.dest.uri.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "Destination({:?}, healthy={})",
            self.dest.uri,
            if self.dest.healthy { "True" } else { "False" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{received_uri, same_transport};

    #[test]
    fn received_is_used_over_the_contact_s_transport_only() {
        assert!(same_transport("udp:192.0.2.1:5060", "sip:a@192.0.2.1:5060"));
        assert!(same_transport(
            "tcp:192.0.2.1:40000",
            "<sip:a@h;transport=TCP>"
        ));
        assert!(!same_transport(
            "udp:192.0.2.1:5060",
            "sip:a@h:5070;transport=tcp"
        ));
        assert!(same_transport("tls:192.0.2.1:40000", "sips:a@h"));
        assert!(!same_transport("udp:192.0.2.1:5060", "sips:a@h"));
    }

    #[test]
    fn received_to_uri() {
        assert_eq!(
            received_uri("udp:192.0.2.1:5060").as_deref(),
            Some("sip:192.0.2.1:5060;transport=udp")
        );
        assert_eq!(
            received_uri("tcp:[2001:db8::1]:5070").as_deref(),
            Some("sip:[2001:db8::1]:5070;transport=tcp")
        );
        assert_eq!(received_uri("junk"), None);
    }
}
