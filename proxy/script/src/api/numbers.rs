//! `numbers`: SIPhon's telephone-number namespace. `numbers.parse(raw,
//! home=None)` reads a number under the home plan of `numbering:` (the
//! country code `home` instead, when given) into a [`Number`], which
//! writes it in any of the four shapes; `numbers.policy_names()` lists
//! `number_policies:`. The work is the `numbers` crate's.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use numbers::NumberFormat;

/// A refused argument as Python's ValueError.
pub(crate) fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// The `numbers` object of the `anysip` module.
#[pyclass(module = "anysip", name = "Numbers", frozen)]
#[derive(Debug)]
pub struct Numbers;

#[pymethods]
impl Numbers {
    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "numbers", "numbers", name)
    }

    /// `raw` as a number; ValueError when it is not a dialable number
    /// (letters, a short code, more than 15 digits).
    #[pyo3(signature = (raw, home = None))]
    fn parse(&self, raw: &str, home: Option<&str>) -> PyResult<Number> {
        let registry = super::host()?.numbers();
        let locale = registry.locale_for(home).map_err(value_error)?;
        numbers::Number::parse(raw, &locale)
            .map(|inner| Number { inner })
            .map_err(value_error)
    }

    /// The names of `number_policies:`, sorted.
    fn policy_names(&self) -> PyResult<Vec<String>> {
        Ok(super::host()?.numbers().names())
    }

    fn __repr__(&self) -> &'static str {
        "<siphon.numbers>"
    }
}

/// A parsed telephone number (`numbers.parse`).
#[pyclass(module = "anysip", name = "Number", frozen)]
#[derive(Debug)]
pub struct Number {
    inner: numbers::Number,
}

#[pymethods]
impl Number {
    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        super::compat::missing(py, "Number", "Number", name)
    }

    /// `+31612345678`.
    #[getter]
    fn e164(&self) -> String {
        self.inner.format(NumberFormat::E164)
    }

    /// `31612345678`.
    #[getter]
    fn plain(&self) -> String {
        self.inner.format(NumberFormat::Plain)
    }

    /// `0031612345678`.
    #[getter]
    fn international(&self) -> String {
        self.inner.format(NumberFormat::International)
    }

    /// `0612345678`; the international form for another country's number.
    #[getter]
    fn national(&self) -> String {
        self.inner.format(NumberFormat::National)
    }

    /// The home country code, or None for another country's number.
    #[getter]
    fn cc(&self) -> Option<&str> {
        self.inner.country_code()
    }

    /// The national significant number (every digit of a foreign number).
    #[getter]
    fn nsn(&self) -> &str {
        self.inner.nsn()
    }

    /// The number in `"e164"`, `"plain"`, `"international"` or
    /// `"national"` (or one of SIPhon's aliases); ValueError otherwise.
    fn format(&self, format: &str) -> PyResult<String> {
        let f: NumberFormat = format.parse().map_err(value_error)?;
        Ok(self.inner.format(f))
    }

    fn __str__(&self) -> String {
        self.e164()
    }

    fn __repr__(&self) -> String {
        format!("<Number {}>", self.e164())
    }
}
