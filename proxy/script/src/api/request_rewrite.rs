//! SIPhon's rewriting calls on the `request` object: From/To/Contact URIs
//! and display names (tags and parameters kept), Path and Route
//! prepending, list edits, NAT fixes, and the predicates on the sender.

use anysip_core::HeaderEdit;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use sip::header::NameAddr;

use super::headers;
use super::request::Request;
use super::uri::{self, Uri};

/// `value` (a name-addr) with a new URI and/or display name; its header
/// parameters (tag, q, expires, ...) are kept.
fn rewrite_name_addr(
    value: &str,
    new_uri: Option<&str>,
    new_display: Option<&str>,
) -> Result<String, String> {
    let na = NameAddr::parse("name-addr", value).map_err(|e| format!("{value:?}: {e}"))?;
    let uri = new_uri.unwrap_or(na.uri_raw);
    if sip::Uri::parse(uri).is_err() || uri.contains(['\r', '\n', '<', '>', ' ']) {
        return Err(format!("invalid URI {uri:?}"));
    }
    let display = match new_display {
        Some(d) => {
            if d.contains(['\r', '\n']) {
                return Err("a display name cannot hold CR or LF".into());
            }
            let escaped = d.replace('\\', "\\\\").replace('"', "\\\"");
            (!d.is_empty()).then(|| format!("\"{escaped}\" "))
        }
        None => na.display.map(|d| format!("{} ", d.trim())),
    };
    Ok(format!(
        "{}<{uri}>{}",
        display.unwrap_or_default(),
        na.params.raw()
    ))
}

/// `<uri;lr>` for a Path or Route entry (`;lr` added when missing).
fn loose_entry(uri: &str) -> PyResult<String> {
    let bare = uri.trim().trim_start_matches('<').trim_end_matches('>');
    match sip::Uri::parse(bare) {
        Ok(sip::Uri::Sip(s)) if !bare.contains(['\r', '\n', ' ', '<', '>']) => {
            if s.params.has("lr") {
                Ok(format!("<{bare}>"))
            } else {
                Ok(format!("<{bare};lr>"))
            }
        }
        _ => Err(PyValueError::new_err(format!("not a SIP URI: {uri:?}"))),
    }
}

impl Request {
    /// Rewrites the first value of the name-addr header `name`; the other
    /// values (a Contact list) stay.
    fn rewrite_first(
        &mut self,
        name: &str,
        new_uri: Option<&str>,
        new_display: Option<&str>,
    ) -> PyResult<()> {
        let values = headers::all_values(&self.ctx.message, &self.edits.headers, name);
        let Some(first) = values.first() else {
            return Ok(());
        };
        let rewritten =
            rewrite_name_addr(first, new_uri, new_display).map_err(PyValueError::new_err)?;
        let mut all = vec![rewritten];
        all.extend(values.into_iter().skip(1));
        self.push_edit(HeaderEdit::Set(name.to_owned(), all.join(", ")));
        Ok(())
    }

    /// The URI of the first value of `name`.
    fn first_uri(&self, name: &str) -> Option<String> {
        let values = headers::all_values(&self.ctx.message, &self.edits.headers, name);
        let na = NameAddr::parse("name-addr", values.first()?).ok()?;
        Some(na.uri_raw.to_owned())
    }

    /// Puts `entry` in front of every value of `name`.
    fn prepend(&mut self, name: &str, entry: String) {
        let mut all = vec![entry];
        all.extend(headers::all_values(
            &self.ctx.message,
            &self.edits.headers,
            name,
        ));
        self.push_edit(HeaderEdit::Set(name.to_owned(), all.join(", ")));
    }
}

#[pymethods]
impl Request {
    /// Replaces the From URI; the display name and tag are kept.
    fn set_from_uri(&mut self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = value.str()?.to_string();
        self.rewrite_first("From", Some(&v), None)
    }

    /// Replaces the To URI; the display name and any tag are kept.
    fn set_to_uri(&mut self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = value.str()?.to_string();
        self.rewrite_first("To", Some(&v), None)
    }

    /// Replaces the From display name (`""` removes it).
    fn set_from_display(&mut self, display_name: &str) -> PyResult<()> {
        self.rewrite_first("From", None, Some(display_name))
    }

    /// Replaces the To display name (`""` removes it).
    fn set_to_display(&mut self, display_name: &str) -> PyResult<()> {
        self.rewrite_first("To", None, Some(display_name))
    }

    /// Replaces the (first) Contact URI; its parameters are kept.
    fn set_contact_uri(&mut self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = value.str()?.to_string();
        self.rewrite_first("Contact", Some(&v), None)
    }

    /// Replaces the user part of the (first) Contact URI (`""` removes it).
    fn set_contact_user(&mut self, value: &str) -> PyResult<()> {
        let Some(current) = self.first_uri("Contact") else {
            return Ok(());
        };
        let user = (!value.is_empty()).then_some(value);
        let new = uri::rebuild(&current, Some(user), None, None).map_err(PyValueError::new_err)?;
        self.rewrite_first("Contact", Some(&new), None)
    }

    /// Rewrites the host and port of the (first) Contact URI to where the
    /// request came from (a UA behind NAT).
    fn fix_nated_contact(&mut self) -> PyResult<()> {
        let Some(current) = self.first_uri("Contact") else {
            return Ok(());
        };
        let ip = match self.ctx.source.ip() {
            std::net::IpAddr::V4(v4) => v4.to_string(),
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        };
        let new = uri::rebuild(
            &current,
            None,
            Some(&ip),
            Some(Some(self.ctx.source.port())),
        )
        .map_err(PyValueError::new_err)?;
        self.rewrite_first("Contact", Some(&new), None)
    }

    /// The registrar always keeps where a REGISTER came from with each
    /// binding (`Contact.received`) and sends to it when the binding has
    /// no Path: a REGISTER needs no further NAT fix.
    fn fix_nated_register(&self) {}

    /// Puts `<uri;lr>` in front of the Path (RFC 3327).
    fn add_path(&mut self, uri: &str) -> PyResult<()> {
        let entry = loose_entry(uri)?;
        self.prepend("Path", entry);
        Ok(())
    }

    /// Puts `<uri;lr>` in front of the Route set: the request goes there
    /// first.
    fn prepend_route(&mut self, uri: &str) -> PyResult<()> {
        let entry = loose_entry(uri)?;
        self.prepend("Route", entry);
        Ok(())
    }

    /// Removes `value` from the comma-separated list of `name` (compared
    /// case-insensitively, trimmed); the header goes when nothing is left.
    fn remove_from_header_list(&mut self, name: &str, value: &str) -> PyResult<()> {
        let full = headers::check_edit(name, None).map_err(PyValueError::new_err)?;
        let all = headers::all_values(&self.ctx.message, &self.edits.headers, &full);
        let kept: Vec<String> = all
            .iter()
            .filter(|v| !v.trim().eq_ignore_ascii_case(value.trim()))
            .cloned()
            .collect();
        if kept.len() == all.len() {
            return Ok(());
        }
        if kept.is_empty() {
            self.push_edit(HeaderEdit::Remove(full));
        } else {
            self.push_edit(HeaderEdit::Set(full, kept.join(", ")));
        }
        Ok(())
    }

    /// The user part of the top Route URI (after the core removed its own
    /// Route), or None.
    #[getter]
    fn route_user(&self) -> Option<String> {
        let uri = self.first_uri("Route")?;
        Uri::new(uri).user_part()
    }

    /// The URIs of the Routes naming this proxy that the core removed
    /// (RFC 3261 §16.4), top first.
    #[getter]
    fn consumed_routes(&self) -> Vec<String> {
        self.ctx.consumed_routes.clone()
    }

    /// The first of `consumed_routes` as a URI, or None.
    #[getter]
    fn consumed_route(&self) -> Option<Uri> {
        self.ctx
            .consumed_routes
            .first()
            .map(|u| Uri::new(u.as_str()))
    }

    /// The user part of the first consumed Route that has one (an IMS
    /// `orig`/`term` mark, a Path token), or None.
    #[getter]
    fn consumed_route_user(&self) -> Option<String> {
        self.ctx
            .consumed_routes
            .iter()
            .find_map(|u| Uri::new(u.as_str()).user_part())
    }

    /// Whether the sender's IP is one of the addresses of the gateway
    /// group `group_name` (the port is ignored); False for an unknown
    /// group.
    #[pyo3(name = "from_gateway")]
    fn sent_by_gateway(&self, py: Python<'_>, group_name: &str) -> PyResult<bool> {
        let host = super::host()?;
        let Ok(list) = py.detach(|| host.gateway_list(group_name)) else {
            return Ok(false);
        };
        let ip = self.ctx.source.ip();
        Ok(list.iter().any(|d| {
            d.address
                .as_deref()
                .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
                .is_some_and(|a| a.ip() == ip)
        }))
    }

    /// A fresh random identifier (a UUID, version 4), e.g. for an
    /// `icid-value`.
    fn generate_icid(&self) -> String {
        let mut b = [0u8; 16];
        // A failing system RNG leaves zeros: still a well-formed UUID.
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addrs() {
        assert_eq!(
            rewrite_name_addr("\"Al\" <sip:a@x>;tag=1", Some("sip:b@y"), None).as_deref(),
            Ok("\"Al\" <sip:b@y>;tag=1")
        );
        assert_eq!(
            rewrite_name_addr("sip:a@x;tag=1", None, Some("Bob \"B\"")).as_deref(),
            Ok("\"Bob \\\"B\\\"\" <sip:a@x>;tag=1")
        );
        assert_eq!(
            rewrite_name_addr("\"Al\" <sip:a@x>", None, Some("")).as_deref(),
            Ok("<sip:a@x>")
        );
        assert!(rewrite_name_addr("<sip:a@x>", Some("not a uri"), None).is_err());
    }

    #[test]
    fn loose_entries() {
        assert_eq!(
            loose_entry("sip:p.example").unwrap_or_default(),
            "<sip:p.example;lr>"
        );
        assert_eq!(
            loose_entry("<sip:p.example;lr>").unwrap_or_default(),
            "<sip:p.example;lr>"
        );
        assert!(loose_entry("tel:+1").is_err());
    }
}
