//! `URI` objects: `request.ruri`, `request.from_uri`, `request.to_uri`.

use pyo3::prelude::*;
use sip::Uri as SipUri;

/// A URI as scripts see it: `str(uri)` is the URI; `user`, `host`, `port`,
/// `scheme` and `param(name)` are parsed on demand.
#[pyclass(module = "anysip", name = "URI", frozen)]
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
    fn py_new(uri: String) -> Self {
        Uri::new(uri)
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
        match SipUri::parse(&self.raw) {
            Ok(SipUri::Sip(s)) => s.user.map(str::to_owned),
            Ok(SipUri::Tel(_)) => {
                let rest = self.raw.split_once(':').map(|(_, r)| r)?;
                Some(rest.split(';').next().unwrap_or(rest).to_owned())
            }
            _ => None,
        }
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
    #[getter]
    fn aor(&self) -> String {
        self.with_sip(|s| {
            let scheme = if s.secure { "sips" } else { "sip" };
            Some(match s.user {
                Some(u) => format!("{scheme}:{u}@{}", s.host_raw.to_ascii_lowercase()),
                None => format!("{scheme}:{}", s.host_raw.to_ascii_lowercase()),
            })
        })
        .unwrap_or_else(|| self.raw.clone())
    }

    fn __str__(&self) -> String {
        self.raw.clone()
    }

    fn __repr__(&self) -> String {
        format!("URI({:?})", self.raw)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        if let Ok(u) = other.cast::<Uri>() {
            return u.get().raw == self.raw;
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
