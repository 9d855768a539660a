//! `SipUri` objects (SIPhon's name; `URI` is an alias): `request.ruri`,
//! `request.from_uri`, `request.to_uri`, `reply.from_uri`, ...

use std::collections::BTreeMap;
use std::net::IpAddr;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use sip::Uri as SipUri;

/// A URI as scripts see it: `str(uri)` is the URI; `user`, `host`, `port`,
/// `scheme`, `params` and `param(name)` are parsed on demand. `user`,
/// `host` and `port` can be set (the object changes, not the message it
/// came from: assign it back, `request.ruri = uri`).
#[pyclass(module = "anysip", name = "SipUri")]
#[derive(Debug, Clone)]
pub struct Uri {
    raw: String,
}

impl Uri {
    /// Wraps the text of a URI.
    pub(crate) fn new(raw: impl Into<String>) -> Self {
        Uri { raw: raw.into() }
    }

    /// The URI's text.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// `scheme:user@host` (no port or parameters); the URI itself when it
    /// is not a SIP URI.
    pub(crate) fn aor_text(&self) -> String {
        self.with_sip(|s| {
            let scheme = if s.secure { "sips" } else { "sip" };
            Some(match s.user {
                Some(u) => format!("{scheme}:{u}@{}", s.host_raw.to_ascii_lowercase()),
                None => format!("{scheme}:{}", s.host_raw.to_ascii_lowercase()),
            })
        })
        .unwrap_or_else(|| self.raw.clone())
    }

    /// The user part, or a `tel:` URI's number.
    pub(crate) fn user_part(&self) -> Option<String> {
        match SipUri::parse(&self.raw) {
            Ok(SipUri::Sip(s)) => s.user.map(str::to_owned),
            Ok(SipUri::Tel(_)) => {
                let rest = self.raw.split_once(':').map(|(_, r)| r)?;
                Some(rest.split(';').next().unwrap_or(rest).to_owned())
            }
            _ => None,
        }
    }

    fn with_sip<T>(&self, f: impl FnOnce(&sip::uri::SipUri<'_>) -> Option<T>) -> Option<T> {
        match SipUri::parse(&self.raw) {
            Ok(SipUri::Sip(s)) => f(&s),
            _ => None,
        }
    }
}

#[pymethods]
impl Uri {
    #[new]
    fn py_new(uri: String) -> PyResult<Self> {
        if SipUri::parse(&uri).is_err() {
            return Err(PyValueError::new_err(format!("invalid URI: {uri:?}")));
        }
        Ok(Uri::new(uri))
    }

    /// Sets the user part (None removes it).
    #[setter(user)]
    fn set_user(&mut self, value: Option<String>) -> PyResult<()> {
        self.raw = rebuild(&self.raw, Some(value.as_deref()), None, None)
            .map_err(PyValueError::new_err)?;
        Ok(())
    }

    /// Sets the host.
    #[setter(host)]
    fn set_host(&mut self, value: String) -> PyResult<()> {
        self.raw = rebuild(&self.raw, None, Some(&value), None).map_err(PyValueError::new_err)?;
        Ok(())
    }

    /// Sets the port (None removes it).
    #[setter(port)]
    fn set_port(&mut self, value: Option<u16>) -> PyResult<()> {
        self.raw = rebuild(&self.raw, None, None, Some(value)).map_err(PyValueError::new_err)?;
        Ok(())
    }

    /// Whether this is a `tel:` URI.
    #[getter]
    fn is_tel(&self) -> bool {
        matches!(SipUri::parse(&self.raw), Ok(SipUri::Tel(_)))
    }

    /// Whether the host is one of this proxy's domains (`domain.local`,
    /// its advertised and listening addresses), case-insensitively.
    #[getter]
    fn is_local(&self) -> bool {
        let Some(host) = self.with_sip(|s| Some(s.host_raw.to_owned())) else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        super::host().is_ok_and(|h| {
            h.local_domains().iter().any(|d| {
                d.trim_start_matches('[')
                    .trim_end_matches(']')
                    .eq_ignore_ascii_case(host)
            })
        })
    }

    /// The URI parameters as a dict; a flag (`;lr`) has the value `""`.
    #[getter]
    fn params(&self) -> BTreeMap<String, String> {
        self.with_sip(|s| {
            Some(
                s.params
                    .iter()
                    .map(|p| (p.name.to_owned(), p.value.unwrap_or("").to_owned()))
                    .collect(),
            )
        })
        .unwrap_or_default()
    }

    /// The scheme (`sip`, `sips`, `tel`, ...), lower case.
    #[getter]
    fn scheme(&self) -> Option<String> {
        SipUri::parse(&self.raw)
            .ok()
            .map(|u| u.scheme().to_ascii_lowercase())
    }

    /// The user part (`None` when absent); the number of a `tel:` URI.
    #[getter]
    fn user(&self) -> Option<String> {
        self.user_part()
    }

    /// The host as written (IPv6 references keep their brackets).
    #[getter]
    fn host(&self) -> Option<String> {
        self.with_sip(|s| Some(s.host_raw.to_owned()))
    }

    /// The port, when written.
    #[getter]
    fn port(&self) -> Option<u16> {
        self.with_sip(|s| s.port)
    }

    /// The `transport` parameter, if any.
    #[getter]
    fn transport(&self) -> Option<String> {
        self.with_sip(|s| s.transport().map(str::to_owned))
    }

    /// The value of a URI parameter: `None` when absent, `""` for a
    /// parameter without value (`;lr`).
    fn param(&self, name: &str) -> Option<String> {
        self.with_sip(|s| s.params.get(name).map(|v| v.unwrap_or("").to_owned()))
    }

    /// The address of record: `scheme:user@host` (no port or parameters).
    #[getter(aor)]
    fn aor_getter(&self) -> String {
        self.aor_text()
    }

    fn __str__(&self) -> String {
        self.raw.clone()
    }

    fn __repr__(&self) -> String {
        format!("URI({:?})", self.raw)
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "SipUri", "SipUri", name)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        if let Ok(u) = other.cast::<Uri>() {
            return u.borrow().raw == self.raw;
        }
        other.extract::<String>().is_ok_and(|s| s == self.raw)
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.raw.hash(&mut h);
        h.finish()
    }
}

/// `raw` with a new user (`Some(None)` removes it), host or port (`Some(None)`
/// removes it); parameters and headers are kept.
pub(crate) fn rebuild(
    raw: &str,
    user: Option<Option<&str>>,
    host: Option<&str>,
    port: Option<Option<u16>>,
) -> Result<String, String> {
    let parsed = SipUri::parse(raw).map_err(|e| format!("invalid URI {raw:?}: {e}"))?;
    let SipUri::Sip(s) = parsed else {
        return Err(format!("{raw:?} is not a sip: or sips: URI"));
    };
    let user = match user {
        Some(u) => u,
        None => s.user,
    };
    let host = host.unwrap_or(s.host_raw);
    let port = match port {
        Some(p) => p,
        None => s.port,
    };
    let mut out = String::from(if s.secure { "sips:" } else { "sip:" });
    if let Some(u) = user.filter(|u| !u.is_empty()) {
        out.push_str(u);
        if let Some(p) = s.password {
            out.push(':');
            out.push_str(p);
        }
        out.push('@');
    }
    out.push_str(host);
    if let Some(p) = port {
        out.push_str(&format!(":{p}"));
    }
    out.push_str(s.params.raw());
    if let Some(h) = s.headers {
        out.push('?');
        out.push_str(h);
    }
    match SipUri::parse(&out) {
        Ok(_) => Ok(out),
        Err(e) => Err(format!("invalid URI {out:?}: {e}")),
    }
}

/// Whether `ip` is in `cidr` (`10.0.0.0/8`, `2001:db8::/32` or one address).
pub(crate) fn ip_in_cidr(ip: IpAddr, cidr: &str) -> bool {
    let (net, len) = match cidr.trim().split_once('/') {
        Some((n, l)) => (n, l.parse::<u32>().ok()),
        None => (cidr.trim(), None),
    };
    let Ok(net) = net.parse::<IpAddr>() else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let len = len.unwrap_or(32).min(32);
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let len = len.unwrap_or(128).min(128);
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuilds() {
        let r = "sip:alice:pw@example.com:5070;transport=tcp;lr?subject=x";
        assert_eq!(
            rebuild(r, Some(Some("bob")), None, None).as_deref(),
            Ok("sip:bob:pw@example.com:5070;transport=tcp;lr?subject=x")
        );
        assert_eq!(
            rebuild(r, Some(None), Some("10.0.0.1"), Some(None)).as_deref(),
            Ok("sip:10.0.0.1;transport=tcp;lr?subject=x")
        );
        assert!(rebuild("tel:+123", Some(Some("x")), None, None).is_err());
        assert!(rebuild(r, None, Some("bad host"), None).is_err());
    }

    #[test]
    fn cidrs() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert!(ip_in_cidr(ip, "10.0.0.0/8"));
        assert!(ip_in_cidr(ip, "10.1.2.3"));
        assert!(ip_in_cidr(ip, "0.0.0.0/0"));
        assert!(!ip_in_cidr(ip, "192.168.0.0/16"));
        assert!(!ip_in_cidr(ip, "::/0"));
        assert!(!ip_in_cidr(ip, "junk"));
    }
}
