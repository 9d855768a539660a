//! The registrar's answer to a REGISTER, as plain values: the caller builds
//! the response (`sip::response::response(req, status)`), adding
//! [`Outcome::headers`] in order.

use crate::binding::{self, Binding};
use crate::date::http_date;

/// The response to a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The status code.
    pub status: u16,
    /// A reason phrase to use instead of the standard one.
    pub reason: Option<String>,
    /// Header fields to add, in order (`Contact`, `Date`, `Path`,
    /// `Require`, `Supported`, `Min-Expires`, `Unsupported`).
    pub headers: Vec<(String, String)>,
    /// True when the bindings were changed.
    pub saved: bool,
}

impl Outcome {
    /// A rejection with a reason phrase and no header fields.
    pub fn reject(status: u16, reason: &str) -> Outcome {
        Outcome {
            status,
            reason: Some(reason.to_string()),
            headers: Vec::new(),
            saved: false,
        }
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: &str, value: &str) -> Outcome {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// A 200 OK listing every live binding (`Contact: <uri>;expires=N`, best
    /// first) and the `Date`.
    pub fn ok(bindings: &[Binding], now: u64, saved: bool) -> Outcome {
        let mut live: Vec<Binding> = bindings
            .iter()
            .filter(|b| b.is_live(now))
            .cloned()
            .collect();
        binding::sort(&mut live);
        let mut headers: Vec<(String, String)> = live
            .iter()
            .map(|b| ("Contact".to_string(), b.contact_value(now)))
            .collect();
        headers.push(("Date".to_string(), http_date(now)));
        Outcome {
            status: 200,
            reason: None,
            headers,
            saved,
        }
    }

    /// True for a 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of a header field added (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header field added.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
