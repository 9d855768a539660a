//! `request.rewrite_identities(policy=None, format=None, headers=None,
//! home=None)`: SIPhon's identity normalization on the proxy's request.
//! The `numbers` crate walks the request through [`Identities`]; each
//! change is recorded as the script's other edits are (the Request-URI,
//! a header set or removed), so later reads see it and the relay carries
//! it.

use anysip_core::HeaderEdit;
use pyo3::prelude::*;

use numbers::Identities;

use super::headers;
use super::numbers::value_error;
use super::request::Request;

/// The request as the walk sees it: the message with the edits so far.
struct Walked<'r> {
    request: &'r mut Request,
    /// A Request-URI the script's own checks refused (never expected: the
    /// walk changes only digits of a parsed URI).
    refused: Option<PyErr>,
}

impl Identities for Walked<'_> {
    fn request_uri(&self) -> String {
        self.request.ruri_text()
    }

    fn set_request_uri(&mut self, uri: String) {
        if let Err(e) = self.request.set_ruri_text(uri) {
            self.refused.get_or_insert(e);
        }
    }

    fn header_values(&self, name: &str) -> Vec<String> {
        headers::all_values(&self.request.ctx.message, &self.request.edits.headers, name)
    }

    fn set_header_values(&mut self, name: &str, values: Vec<String>) {
        let edit = if values.is_empty() {
            HeaderEdit::Remove(name.to_owned())
        } else {
            HeaderEdit::Set(name.to_owned(), values.join(", "))
        };
        self.request.push_edit(edit);
    }
}

#[pymethods]
impl Request {
    /// Rewrites the dialable numbers of the identity headers (From, To,
    /// P-Asserted-Identity, P-Preferred-Identity, the Request-URI, and
    /// what a policy adds) into one shape: under the named `policy` of
    /// `number_policies:`, or `format` over `headers` (default: those
    /// five) with the home country code `home`. The number of identities
    /// changed; ValueError for an unknown policy, format or header, or
    /// both `policy` and `format`.
    #[pyo3(signature = (policy = None, format = None, headers = None, home = None))]
    fn rewrite_identities(
        &mut self,
        policy: Option<&str>,
        format: Option<&str>,
        headers: Option<Vec<String>>,
        home: Option<&str>,
    ) -> PyResult<usize> {
        let registry = super::host()?.numbers();
        let policy = registry
            .resolve(policy, format, headers.as_deref(), home)
            .map_err(value_error)?;
        let mut walked = Walked {
            request: self,
            refused: None,
        };
        let report = numbers::apply(&mut walked, &policy);
        match walked.refused {
            Some(e) => Err(e),
            None => Ok(report.changed()),
        }
    }
}
