//! A WebSocket client by hand, for tests that must send what a correct
//! client never would (unmasked frames, text that is not UTF-8, frames over
//! the limit): the Upgrade request and RFC 6455 frames.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// What the Upgrade request offers.
#[derive(Debug, Clone, Copy)]
pub struct Upgrade<'a> {
    /// `Sec-WebSocket-Protocol`, if any.
    pub protocol: Option<&'a str>,
    /// `Origin`, if any.
    pub origin: Option<&'a str>,
}

impl<'a> Upgrade<'a> {
    /// An Upgrade offering `sip`, from `origin`.
    pub fn sip(origin: Option<&'a str>) -> Self {
        Upgrade {
            protocol: Some("sip"),
            origin,
        }
    }
}

/// Sends the Upgrade to `addr`: the connection once switched (and the
/// answer named the `sip` subprotocol), or the HTTP status of the refusal.
pub fn upgrade(addr: &str, up: &Upgrade<'_>) -> Result<TcpStream, (u16, TcpStream)> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut req = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    );
    if let Some(p) = up.protocol {
        req.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    }
    if let Some(o) = up.origin {
        req.push_str(&format!("Origin: {o}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send the Upgrade");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).expect("the Upgrade's answer");
        assert!(n == 1 && head.len() < 4096, "no complete answer: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let status: u16 = head
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    if status != 101 {
        return Err((status, s));
    }
    assert!(
        head.lines()
            .any(|l| l.eq_ignore_ascii_case("sec-websocket-protocol: sip")),
        "the answer names the sip subprotocol: {head}"
    );
    Ok(s)
}

/// One final frame with `opcode` and `payload`, masked (as a client must)
/// or not.
pub fn frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(mask_bit | n as u8),
        n if n < 65536 => {
            f.push(mask_bit | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(mask_bit | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        let key = [0x12, 0x34, 0x56, 0x78];
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// Reads one (unmasked, server) frame: its opcode and payload.
pub fn read_frame(s: &mut TcpStream) -> std::io::Result<(u8, Vec<u8>)> {
    let mut h = [0u8; 2];
    s.read_exact(&mut h)?;
    let len = match h[1] & 0x7f {
        126 => {
            let mut l = [0u8; 2];
            s.read_exact(&mut l)?;
            u64::from(u16::from_be_bytes(l))
        }
        127 => {
            let mut l = [0u8; 8];
            s.read_exact(&mut l)?;
            u64::from_be_bytes(l)
        }
        n => u64::from(n),
    };
    let mut payload = vec![0u8; usize::try_from(len).unwrap_or(0)];
    s.read_exact(&mut payload)?;
    Ok((h[0] & 0x0f, payload))
}
