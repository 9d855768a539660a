//! Requests scripts originate (`proxy.send_request`): each from a UDP
//! socket of its own on the core's address, in an RFC 3261 §17.1.2
//! non-INVITE client transaction (Timer E retransmissions, Timer F), to
//! the RFC 3263 destination of the next hop, the first Route given or the
//! Request-URI. Only its final response is kept.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use anysip_core::ResponseContext;
use bytes::{Bytes, BytesMut};
use script::{HostError, Originate};
use sip::transaction::{ClientNonInvite, Disposition, Event, Reliability, TimerConfig};
use sip::{Framing, Limits, Message, Transport};

/// Random hex for branches, tags and Call-IDs.
fn token() -> String {
    let mut b = [0u8; 8];
    // A failed draw leaves zeros; the time keeps it unique enough.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{:016x}{t:08x}", u64::from_be_bytes(b))
}

/// The request's bytes, with this socket's Via.
fn build(req: &Originate, local: SocketAddr, branch: &str) -> Bytes {
    let given = |name: &str| {
        req.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    let host = match local.ip() {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    };
    let mut text = format!(
        "{} {} SIP/2.0\r\nVia: SIP/2.0/UDP {host}:{};branch={branch};rport\r\n",
        req.method,
        req.ruri,
        local.port()
    );
    let defaults = [
        ("Max-Forwards", "70".to_owned()),
        ("From", format!("<sip:anysip@{host}>;tag={}", token())),
        ("To", format!("<{}>", req.ruri)),
        ("Call-ID", format!("{}@{host}", token())),
        ("CSeq", format!("1 {}", req.method)),
    ];
    for (name, value) in defaults {
        if !given(name) {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    for (name, value) in &req.headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n", req.body.len()));
    let mut out = BytesMut::from(text.as_bytes());
    out.extend_from_slice(&req.body);
    out.freeze()
}

/// Where it goes: the next hop, else the first Route given, else the
/// Request-URI.
fn target(req: &Originate) -> Result<resolve::Target, HostError> {
    let route = req
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Route"))
        .map(|(_, v)| {
            let first = v.split(',').next().unwrap_or(v).trim();
            first
                .trim_start_matches('<')
                .split('>')
                .next()
                .unwrap_or(first)
                .to_owned()
        });
    let text = req.next_hop.clone().or(route).unwrap_or(req.ruri.clone());
    resolve::Target::from_uri(&text)
        .map_err(|e| HostError::Invalid(format!("send_request: bad destination {text:?}: {e}")))
}

/// Sends `req` from `ip` and gives its final response, or `None` when
/// none came within `req.timeout` (or Timer F).
pub(crate) async fn send(
    req: Originate,
    ip: IpAddr,
    resolver: &resolve::Resolver,
) -> Result<Option<ResponseContext>, HostError> {
    let target = target(&req)?;
    if target.secure || target.transport.is_some_and(|t| t != Transport::Udp) {
        return Err(HostError::Invalid(
            "send_request: anysip sends script requests over UDP only".into(),
        ));
    }
    let dest = resolver
        .resolve(&target)
        .await
        .map_err(|e| HostError::Invalid(format!("send_request: {e}")))?
        .into_iter()
        .find(|d| d.transport == Transport::Udp)
        .ok_or_else(|| HostError::Invalid("send_request: no UDP destination".into()))?;
    let socket = tokio::net::UdpSocket::bind(SocketAddr::new(ip, 0))
        .await
        .map_err(|e| HostError::Unavailable(format!("send_request: {e}")))?;
    let local = socket
        .local_addr()
        .map_err(|e| HostError::Unavailable(format!("send_request: {e}")))?;
    let branch = format!("z9hG4bK{}", token());
    let start = Instant::now();
    let deadline = start + req.timeout;
    let mut tx = ClientNonInvite::new(
        start,
        TimerConfig::DEFAULT,
        Reliability::Unreliable,
        build(&req, local, &branch),
    );
    let mut buf = vec![0u8; 65_535];
    loop {
        while let Some(bytes) = tx.poll_transmit() {
            if let Err(e) = socket.send_to(&bytes, dest.addr).await {
                tracing::debug!(error = %e, "send_request: send failed");
                tx.handle_transport_error();
            }
        }
        while let Some(ev) = tx.poll_event() {
            if matches!(ev, Event::Timeout(_) | Event::TransportError) {
                return Ok(None);
            }
        }
        let wake = tx.poll_timeout().map_or(deadline, |t| t.min(deadline));
        let got = tokio::time::timeout_at(wake.into(), socket.recv_from(&mut buf)).await;
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        match got {
            Err(_) => tx.handle_timeout(now),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "send_request: receive failed");
                return Ok(None);
            }
            Ok(Ok((len, from))) => {
                let bytes = Bytes::copy_from_slice(&buf[..len]);
                let Ok(msg) = Message::parse(bytes, Framing::Datagram, &Limits::default()) else {
                    continue;
                };
                let ours = msg
                    .top_via()
                    .ok()
                    .is_some_and(|v| v.branch() == Some(branch.as_str()));
                let Some(status) = msg.status().filter(|_| ours) else {
                    continue;
                };
                let delivered = matches!(tx.handle_response(now, status), Disposition::Deliver);
                if delivered && status >= 200 {
                    return Ok(Some(ResponseContext {
                        message: msg,
                        branch_uri: req.ruri,
                        source: Some(from),
                        hooks: None,
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn req(headers: &[(&str, &str)]) -> Originate {
        Originate {
            method: "MESSAGE".into(),
            ruri: "sip:bob@192.0.2.1:5070".into(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: Bytes::from_static(b"hi"),
            next_hop: None,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn builds_a_request_that_parses() {
        let r = req(&[
            ("From", "<sip:alice@example.com>;tag=1"),
            ("Content-Type", "text/plain"),
        ]);
        let bytes = build(&r, "127.0.0.1:40000".parse().unwrap(), "z9hG4bKx");
        let m = Message::parse(bytes, Framing::Datagram, &Limits::default()).unwrap();
        assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bKx"));
        assert_eq!(m.from().unwrap().uri_raw, "sip:alice@example.com");
        assert_eq!(m.body(), b"hi");
        assert_eq!(m.cseq().unwrap().method, "MESSAGE");
        assert_eq!(target(&r).unwrap().port, Some(5070));
        let routed = req(&[("Route", "<sip:edge.example.com:5080;lr>")]);
        assert_eq!(target(&routed).unwrap().host, "edge.example.com");
    }
}
