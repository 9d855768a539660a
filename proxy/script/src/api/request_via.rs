//! SIPhon's `request.force_send_via(transport, target)`: the transport the
//! request leaves over and the sent-by of this proxy's Via.

use anysip_core::ViaOverride;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use sip::Transport;

use super::request::Request;

/// The override for `transport` (`udp`, `tcp`, `tls`, any case) and
/// `target` (`host[:port]`; a bare IPv6 address is bracketed).
fn via_override(transport: &str, target: &str) -> Result<ViaOverride, String> {
    let transport = match transport.to_ascii_lowercase().as_str() {
        "udp" => Transport::Udp,
        "tcp" => Transport::Tcp,
        "tls" => Transport::Tls,
        "ws" | "wss" => {
            return Err(format!(
                "force_send_via: the core sends over udp, tcp or tls, not {transport}"
            ))
        }
        _ => return Err(format!("force_send_via: unknown transport {transport:?}")),
    };
    let target = target.trim();
    let sent_by = match target.parse::<std::net::Ipv6Addr>() {
        Ok(v6) => format!("[{v6}]"),
        Err(_) => target.to_owned(),
    };
    let plain = !sent_by.is_empty()
        && !sent_by.contains(['@', ';', '?', ',', ' ', '\t', '\r', '\n', '<', '>']);
    let parsed = plain
        && matches!(sip::Uri::parse(&format!("sip:{sent_by}")), Ok(sip::Uri::Sip(u)) if u.user.is_none());
    if !parsed {
        return Err(format!("force_send_via: {target:?} is not host[:port]"));
    }
    Ok(ViaOverride { transport, sent_by })
}

#[pymethods]
impl Request {
    /// Sends the request over `transport` (`udp`, `tcp`, `tls`) with
    /// `target` (`host[:port]`) as the sent-by of this proxy's Via, where
    /// the responses are to come back (SIPhon's `force_send_via`).
    fn force_send_via(&mut self, transport: &str, target: &str) -> PyResult<()> {
        self.edits.via = Some(via_override(transport, target).map_err(PyValueError::new_err)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides() {
        let v = via_override("TCP", "10.0.0.2:5060").unwrap();
        assert_eq!(
            (v.transport, v.sent_by.as_str()),
            (Transport::Tcp, "10.0.0.2:5060")
        );
        assert_eq!(
            via_override("udp", "2001:db8::1").unwrap().sent_by,
            "[2001:db8::1]"
        );
        assert_eq!(
            via_override("udp", "[2001:db8::1]:5062").unwrap().sent_by,
            "[2001:db8::1]:5062"
        );
        assert_eq!(
            via_override("tls", "edge.example.com").unwrap().sent_by,
            "edge.example.com"
        );
        for (t, target) in [
            ("sctp", "h"),
            ("ws", "h"),
            ("udp", ""),
            ("udp", "a@h"),
            ("udp", "h;lr"),
            ("udp", "h:port"),
            ("udp", "h x"),
        ] {
            assert!(via_override(t, target).is_err(), "{t} {target}");
        }
    }
}
