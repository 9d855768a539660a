//! SIPhon's per-relay callbacks: `request.relay(on_reply=, on_failure=)`.
//!
//! The callables ride with the forwarding decision as the core's opaque
//! [`Hooks`]; the core hands them back with every response of that request
//! and drops them with it. `on_reply(request, reply)` runs for each
//! response after the `@proxy.on_reply` handlers, on the same `reply`
//! object (its edits, `drop()` and `reject()` count); `on_failure(request,
//! code, reason)` runs when every branch ended without a 2xx, before the
//! `@proxy.on_failure` handlers, and a decision it takes (`relay`, `fork`,
//! `reply`) is the request's.

use std::sync::Arc;

use anysip_core::Hooks;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

/// The callables one `relay()` call was given.
#[derive(Debug)]
pub(crate) struct RelayCallbacks {
    pub(crate) on_reply: Option<Py<PyAny>>,
    pub(crate) on_failure: Option<Py<PyAny>>,
}

impl RelayCallbacks {
    /// The callbacks given to `relay()`, or None when neither was; a
    /// value that cannot be called is a `TypeError` naming the argument.
    pub(crate) fn from_args(
        on_reply: Option<&Bound<'_, PyAny>>,
        on_failure: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<Hooks>> {
        let on_reply = callable("on_reply", on_reply)?;
        let on_failure = callable("on_failure", on_failure)?;
        if on_reply.is_none() && on_failure.is_none() {
            return Ok(None);
        }
        let replies = on_reply.is_some();
        let callbacks = RelayCallbacks {
            on_reply,
            on_failure,
        };
        Ok(Some(Hooks::new(Arc::new(callbacks), replies)))
    }

    /// The callbacks a response came back with, if they are ours.
    pub(crate) fn of(hooks: Option<&Hooks>) -> Option<&RelayCallbacks> {
        hooks?.value().downcast_ref::<RelayCallbacks>()
    }
}

fn callable(what: &str, given: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Py<PyAny>>> {
    match given {
        None => Ok(None),
        Some(g) if g.is_none() => Ok(None),
        Some(g) if g.is_callable() => Ok(Some(g.clone().unbind())),
        Some(g) => Err(PyTypeError::new_err(format!(
            "relay({what}=) takes a callable, not {}",
            g.get_type().name()?
        ))),
    }
}
