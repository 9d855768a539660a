//! The `reply` object handed to `on_reply` and `on_failure` handlers.

use anysip_core::{HeaderEdit, ReplyDecision, ResponseContext};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::headers;

/// A response received on a branch.
#[pyclass(module = "anysip", name = "Reply")]
#[derive(Debug)]
pub struct Response {
    ctx: ResponseContext,
    edits: Vec<HeaderEdit>,
    dropped: bool,
}

impl Response {
    /// Wraps a response for one script call.
    pub(crate) fn new(ctx: ResponseContext) -> Self {
        Response {
            ctx,
            edits: Vec::new(),
            dropped: false,
        }
    }

    /// What the script decided.
    pub(crate) fn decision(&self) -> ReplyDecision {
        if self.dropped {
            ReplyDecision::Drop
        } else if self.edits.is_empty() {
            ReplyDecision::Forward
        } else {
            ReplyDecision::ForwardEdited(self.edits.clone())
        }
    }
}

#[pymethods]
impl Response {
    /// The status code.
    #[getter]
    fn status(&self) -> u16 {
        self.ctx.message.status().unwrap_or(0)
    }

    /// The reason phrase.
    #[getter]
    fn reason(&self) -> &str {
        self.ctx.message.reason().unwrap_or("")
    }

    /// The URI the branch was sent to.
    #[getter]
    fn branch_uri(&self) -> &str {
        &self.ctx.branch_uri
    }

    /// The Call-ID.
    #[getter]
    fn call_id(&self) -> Option<&str> {
        self.ctx.message.call_id().ok()
    }

    /// The body, as bytes.
    #[getter]
    fn body(&self) -> &[u8] {
        self.ctx.message.body()
    }

    /// The first value of a header (case-insensitive, compact forms).
    fn get(&self, name: &str) -> Option<&str> {
        headers::current(&self.ctx.message, &self.edits, name)
    }

    /// Whether the header is present.
    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Replaces every header `name` by one with `value` when forwarded.
    fn set(&mut self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = value.str()?.to_string();
        let name = headers::check_edit(name, Some(&value)).map_err(PyValueError::new_err)?;
        self.edits.push(HeaderEdit::Set(name, value));
        Ok(())
    }

    /// Removes every header `name` when forwarded.
    fn remove(&mut self, name: &str) -> PyResult<()> {
        let name = headers::check_edit(name, None).map_err(PyValueError::new_err)?;
        self.edits.push(HeaderEdit::Remove(name));
        Ok(())
    }

    /// Drops this response: it takes no part in best-response selection.
    fn drop(&mut self) {
        self.dropped = true;
    }

    fn __repr__(&self) -> String {
        format!("Reply({} {})", self.status(), self.reason())
    }
}
