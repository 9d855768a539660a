//! The SIP OPTIONS check: send one OPTIONS over UDP or TCP, wait for a
//! final response with our Call-ID, and compare its code with the healthy set.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::config::{SipCheckConfig, SipTransport};

/// Largest response read (UDP datagram or TCP buffer).
const MAX_MESSAGE: usize = 65_535;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}{:x}{n:x}", t, std::process::id())
}

fn host(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// The OPTIONS request sent from `local` to `target`.
pub fn build_options(
    target: SocketAddr,
    local: SocketAddr,
    transport: SipTransport,
    id: &str,
) -> String {
    let t = match transport {
        SipTransport::Udp => "UDP",
        SipTransport::Tcp => "TCP",
    };
    let (target, local) = (host(target), host(local));
    format!(
        "OPTIONS sip:{target} SIP/2.0\r\n\
         Via: SIP/2.0/{t} {local};branch=z9hG4bK-routerd-{id};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:routerd@{local}>;tag={id}\r\n\
         To: <sip:{target}>\r\n\
         Call-ID: {id}@routerd\r\n\
         CSeq: 1 OPTIONS\r\n\
         Contact: <sip:routerd@{local}>\r\n\
         Accept: application/sdp\r\n\
         User-Agent: anysip-routerd\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// The status code of a response whose Call-ID is `call_id`; `None` for
/// anything else (requests, other dialogs, junk).
pub fn response_code(msg: &[u8], call_id: &str) -> Option<u16> {
    let text = std::str::from_utf8(msg).ok()?;
    let head = text.split("\r\n\r\n").next()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.strip_prefix("SIP/2.0 ")?;
    let code: u16 = status.get(..3)?.parse().ok()?;
    let matches = lines.any(|l| {
        let Some((name, value)) = l.split_once(':') else {
            return false;
        };
        let name = name.trim();
        (name.eq_ignore_ascii_case("call-id") || name == "i") && value.trim() == call_id
    });
    matches.then_some(code)
}

/// Sends the OPTIONS and waits (the caller bounds the time) for a final response.
pub async fn options(c: &SipCheckConfig) -> Result<(), String> {
    let id = unique();
    let call_id = format!("{id}@routerd");
    let code = match c.transport {
        SipTransport::Udp => udp(c.target, &id, &call_id).await,
        SipTransport::Tcp => tcp(c.target, &id, &call_id).await,
    }
    .map_err(|e| format!("OPTIONS {}: {e}", c.target))?;
    if c.healthy_codes.contains(&code) {
        Ok(())
    } else {
        Err(format!("OPTIONS {}: status {code}", c.target))
    }
}

async fn udp(target: SocketAddr, id: &str, call_id: &str) -> std::io::Result<u16> {
    let bind: SocketAddr = if target.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let sock = UdpSocket::bind(bind).await?;
    sock.connect(target).await?;
    let local = sock.local_addr()?;
    sock.send(build_options(target, local, SipTransport::Udp, id).as_bytes())
        .await?;
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let n = sock.recv(&mut buf).await?;
        match response_code(&buf[..n], call_id) {
            Some(code) if code >= 200 => return Ok(code),
            _ => continue,
        }
    }
}

async fn tcp(target: SocketAddr, id: &str, call_id: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(target).await?;
    let local = stream.local_addr()?;
    stream
        .write_all(build_options(target, local, SipTransport::Tcp, id).as_bytes())
        .await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // Take complete messages off the front of the buffer.
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head_len = end + 4;
            let body_len = content_length(&buf[..head_len]);
            if buf.len() < head_len + body_len {
                break;
            }
            if let Some(code) = response_code(&buf[..head_len], call_id) {
                if code >= 200 {
                    return Ok(code);
                }
            }
            buf.drain(..head_len + body_len);
        }
        if buf.len() > MAX_MESSAGE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "response too large",
            ));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before a final response",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn content_length(head: &[u8]) -> usize {
    let text = String::from_utf8_lossy(head);
    text.split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| {
            let n = n.trim();
            n.eq_ignore_ascii_case("content-length") || n == "l"
        })
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Answers each OPTIONS with a 100 then the given final code, echoing Call-ID.
    fn reply_to(req: &[u8], code: &str) -> Vec<Vec<u8>> {
        let text = String::from_utf8_lossy(req);
        let call_id = text
            .split("\r\n")
            .find(|l| l.starts_with("Call-ID:"))
            .unwrap_or("Call-ID: x")
            .to_owned();
        ["100 Trying", code]
            .iter()
            .map(|c| {
                format!("SIP/2.0 {c}\r\n{call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
                    .into_bytes()
            })
            .collect()
    }

    async fn udp_server(code: &'static str) -> SocketAddr {
        let s = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let addr = s.local_addr().expect("addr");
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65535];
            while let Ok((n, from)) = s.recv_from(&mut buf).await {
                // Noise first: a response for another call.
                let _ = s
                    .send_to(b"SIP/2.0 500 Nope\r\nCall-ID: other\r\n\r\n", from)
                    .await;
                for r in reply_to(&buf[..n], code) {
                    let _ = s.send_to(&r, from).await;
                }
            }
        });
        addr
    }

    async fn tcp_server(code: &'static str) -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let mut buf = vec![0u8; 65535];
                let n = s.read(&mut buf).await.unwrap_or(0);
                for r in reply_to(&buf[..n], code) {
                    let _ = s.write_all(&r).await;
                }
            }
        });
        addr
    }

    fn check(target: SocketAddr, transport: SipTransport) -> SipCheckConfig {
        SipCheckConfig {
            target,
            transport,
            healthy_codes: vec![200],
        }
    }

    #[tokio::test]
    async fn udp_and_tcp() {
        let t = Duration::from_secs(2);
        for (code, healthy) in [("200 OK", true), ("503 Service Unavailable", false)] {
            let a = udp_server(code).await;
            let r = tokio::time::timeout(t, options(&check(a, SipTransport::Udp)))
                .await
                .expect("in time");
            assert_eq!(r.is_ok(), healthy, "udp {code}: {r:?}");
            let a = tcp_server(code).await;
            let r = tokio::time::timeout(t, options(&check(a, SipTransport::Tcp)))
                .await
                .expect("in time");
            assert_eq!(r.is_ok(), healthy, "tcp {code}: {r:?}");
        }
    }

    #[test]
    fn request_and_response_parsing() {
        let target: SocketAddr = "[2001:db8::1]:5060".parse().expect("addr");
        let local: SocketAddr = "[2001:db8::2]:40000".parse().expect("addr");
        let req = build_options(target, local, SipTransport::Udp, "abc");
        assert!(req.starts_with("OPTIONS sip:[2001:db8::1]:5060 SIP/2.0\r\n"));
        assert!(req
            .contains("Via: SIP/2.0/UDP [2001:db8::2]:40000;branch=z9hG4bK-routerd-abc;rport\r\n"));
        assert!(req.ends_with("Content-Length: 0\r\n\r\n"));
        let resp = b"SIP/2.0 200 OK\r\ni: abc@routerd\r\nl: 0\r\n\r\n";
        assert_eq!(response_code(resp, "abc@routerd"), Some(200));
        assert_eq!(response_code(resp, "other"), None);
        assert_eq!(
            response_code(
                b"OPTIONS sip:x SIP/2.0\r\nCall-ID: abc@routerd\r\n\r\n",
                "abc@routerd"
            ),
            None
        );
        assert_eq!(response_code(b"\xff\xfe", "x"), None);
        assert_eq!(
            content_length(b"SIP/2.0 200 OK\r\nContent-Length: 12\r\n\r\n"),
            12
        );
    }
}
